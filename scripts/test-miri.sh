#!/usr/bin/env bash
# Miri over the library's unit tests, a representative subset of the
# contract tests (tests/contract.rs), in both builds (st:: and mt::), and
# the global allocator's tests (tests/alloc_model.rs on the 32-bit target,
# tests/alloc.rs, one test of tests/alloc_threads.rs, the last under Tree
# Borrows too),
# natively and on a 32-bit target (usize as on wasm32).
#
# The subset: every rule of docs/DESIGN.md §4 except those whose tests read
# megabytes byte by byte (Miri interprets each read; rule1 zero checks,
# rule3 every-subrange, rule5, rule7 bad ranges, rule8 grow failure and
# maximum, rule9 foreign take 40-300 s each under Miri). MIRI_SUBSET=all
# runs the whole file (about half an hour per target).
#
# Exposed provenance is by design: on wasm32 linear memory starts at
# address 0, so the seam turns addresses into pointers with
# `with_exposed_provenance`; hence -Zmiri-permissive-provenance.
#
# Cost on 2 cores (nightly 1.97 Miri), after a ~30 s first build of each
# target's sysroot and crate: the contract subset about 5 minutes on the
# first target (313 s for its 42 tests, the slowest rule12_extend_is_one_
# reservation at 21 s a build) and about two thirds of that on the second
# (without mt_parking::), plus about two minutes per target for the
# allocator's tests when the cores are free (the test binaries report
# 27 s, 52-67 s and 2 x 14 s; with other builds sharing the cores, 4-6
# minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    rustup component add miri --toolchain nightly
fi

export MIRIFLAGS="-Zmiri-permissive-provenance ${MIRIFLAGS:-}"
# Bound each run: a test that suddenly gets slow under Miri fails the
# stage instead of hanging CI.
LIMIT=${MIRI_TIMEOUT:-600}
TARGETS=(${MIRI_TARGETS:-x86_64-unknown-linux-gnu i686-unknown-linux-gnu})
if [[ ${MIRI_SUBSET:-} == all ]]; then
    SUBSET=()
else
    SUBSET=(
        rule1_reservations_never_overlap
        rule2_
        rule3_decommit_twice_zeroes_once
        rule4_
        rule6_
        rule7_double_release_is_an_error
        rule8_limit_is_enforced
        rule9_contiguous_growth_is_stitched
        rule10_
        rule11_
        policy_decommit_zeroing
        rule12_extend_is_one_reservation
        rule12_extend_limit_and_bad_ranges
    )
fi

for target in "${TARGETS[@]}"; do
    echo "--- miri on $target"
    start=$SECONDS
    timeout "$LIMIT" cargo +nightly miri test -p wasm-vmem --target "$target" \
        --target-dir target/miri --lib
    # The parking policy (mt_parking::) on the first target only: it
    # differs from mt:: in how a waiter waits, which these single-threaded
    # tests never reach, and not in the pool's arithmetic, whose 32-bit
    # `usize` is what the second target is for (about 100 s a target).
    skip=()
    [[ $target != "${TARGETS[0]}" && ${MIRI_SUBSET:-} != all ]] && skip=(--skip mt_parking::)
    timeout "$LIMIT" cargo +nightly miri test -p wasm-vmem --target "$target" \
        --target-dir target/miri --test contract -- "${SUBSET[@]}" "${skip[@]}"
    # The global allocator (src/allocator: size-class spans, their headers
    # reached through raw pointers only, shared with other threads): the
    # property test (2 short cases per build, the edge sequence) on the
    # 32-bit target (on both with MIRI_SUBSET=all); the rules of tests/alloc.rs (megabytes scaled down under
    # cfg(miri)) in one build per target: single-threaded on the first,
    # multithreaded on the others (both are the same code but for the lock,
    # the zeroing policy and the remote-free paths, which the
    # multithreaded rules reach by placing blocks in other arenas); and an
    # owner racing remote frees and a trimming thread with real threads
    # (tests/alloc_threads.rs), for Miri's data-race detector.
    if [[ $target == "${TARGETS[0]}" ]]; then alloc_build=st::; else alloc_build=mt::; fi
    [[ ${MIRI_SUBSET:-} == all ]] && alloc_build=::
    if [[ $target != "${TARGETS[0]}" || ${MIRI_SUBSET:-} == all ]]; then
        timeout "$LIMIT" cargo +nightly miri test -p wasm-vmem --target "$target" \
            --target-dir target/miri --test alloc_model
    fi
    timeout "$LIMIT" cargo +nightly miri test -p wasm-vmem --target "$target" \
        --target-dir target/miri --test alloc -- "$alloc_build"
    threads=(--test alloc_threads -- remote_frees_race_the_owner_and_a_trim)
    timeout "$LIMIT" cargo +nightly miri test -p wasm-vmem --target "$target" \
        --target-dir target/miri "${threads[@]}"
    # Tree Borrows too, on the threaded test (about 15 s). Not on the
    # others: they write and read megabytes through exposed-provenance
    # pointers into one large region, and Tree Borrows is far slower there
    # (the edge sequence of tests/alloc_model.rs alone ran past 20 minutes;
    # mt::a_full_span_freed_by_other_threads_is_taken_back passes).
    MIRIFLAGS="$MIRIFLAGS -Zmiri-tree-borrows" timeout "$LIMIT" cargo +nightly miri test \
        -p wasm-vmem --target "$target" --target-dir target/miri "${threads[@]}"
    echo "--- miri on $target passed in $((SECONDS - start)) s"
done
