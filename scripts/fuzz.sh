#!/usr/bin/env bash
# Fuzzes wasm-vmem with cargo-fuzz. Two targets:
#
# - `ops` (fuzz/fuzz_targets/ops.rs) drives both builds of the page pool
#   with arbitrary operation sequences over SimMemory, foreign growth and
#   growth failures included, checked after every step against the
#   reference model (tests/common/harness.rs);
# - `alloc` (fuzz/fuzz_targets/alloc.rs) drives both builds of the global
#   allocator with arbitrary alloc / alloc_zeroed / alloc_in / realloc /
#   dealloc sequences, the multithreaded build on 1-3 threads sharing one
#   table of blocks (frees and reallocs by other threads), every block's
#   place, alignment and contents checked against a model of the live
#   blocks (tests/common/alloc_harness.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET]   run TARGET (ops or alloc; default:
#                                        both, one after the other) for
#                                        SECONDS each (default 300), then
#                                        print executions, coverage and
#                                        corpus size
#   nice -n 10 scripts/fuzz.sh 1800 alloc   the same, politely, on a shared
#                                        machine
#
# Needs nightly (libFuzzer's sanitizer coverage) and cargo-fuzz, which it
# installs (pinned) if missing. The corpus grows in fuzz/corpus/TARGET
# (kept between runs, not committed); hand-written inputs and committed
# crash inputs seed every run: fuzz/seeds and fuzz/regressions for `ops`
# (libFuzzer reads them recursively, so the `alloc` files too: extra
# inputs, harmless), fuzz/seeds/alloc and fuzz/regressions/alloc for
# `alloc`. Knobs: FUZZ_RSS_MB (default 512), FUZZ_MAX_LEN (default 1536
# bytes: 256 operations of `ops`, 307 of `alloc`), FUZZ_TIMEOUT (10 s per
# input), FUZZ_ARGS (more libFuzzer flags, e.g. -len_control=0 to try long
# inputs at once). AddressSanitizer's quarantine is kept at 64 MB (its
# default, 256 MB, is mostly freed 32 MiB simulated memories and pushes RSS
# towards the limit).
#
# On a crash libFuzzer writes fuzz/artifacts/TARGET/crash-*; then:
#   cargo +nightly fuzz tmin TARGET fuzz/artifacts/TARGET/crash-...  (minimize)
#   cp fuzz/artifacts/TARGET/minimized-from-... \
#      fuzz/regressions/<what-it-caught>          (ops)
#      fuzz/regressions/alloc/<what-it-caught>    (alloc)
#   cargo test --test fuzz_regressions            (replays it)
#
# The runs made, their figures and the crashes they found:
# fuzz/regressions/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-300}
TARGETS=${2:-ops alloc}
CARGO_FUZZ_VERSION=0.13.1

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

# Runs one target for DURATION seconds; its exit status.
fuzz_one() {
    local target=$1 seeds
    case $target in
    ops) seeds=(fuzz/seeds fuzz/regressions) ;;
    alloc) seeds=(fuzz/seeds/alloc fuzz/regressions/alloc) ;;
    *)
        echo "unknown target $target (ops, alloc)" >&2
        return 2
        ;;
    esac
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    local log=fuzz/artifacts/$target/last-run.log status
    set +e
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$DURATION" \
        -rss_limit_mb="${FUZZ_RSS_MB:-512}" \
        -max_len="${FUZZ_MAX_LEN:-1536}" \
        -timeout="${FUZZ_TIMEOUT:-10}" \
        -print_final_stats=1 \
        ${FUZZ_ARGS:-} 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e

    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    # The last status line, e.g. "#123456 DONE cov: 812 ft: 3101 corp: 402/..."
    local last
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1 || true)
    echo
    echo "::: fuzz summary (target $target, ${DURATION} s asked)"
    echo "    executions:  $(stat number_of_executed_units)"
    echo "    exec/s:      $(stat average_exec_per_sec)"
    echo "    coverage:    cov $(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last") ft $(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    echo "    corpus:      $(find "fuzz/corpus/$target" -type f | wc -l) files, $(du -sh "fuzz/corpus/$target" | cut -f1)"
    echo "    peak rss:    $(stat peak_rss_mb) MB"
    if [[ $status -ne 0 ]]; then
        echo "    CRASH (exit $status): see $log and fuzz/artifacts/$target/" >&2
    fi
    return "$status"
}

status=0
for target in $TARGETS; do
    fuzz_one "$target" || status=$?
done
exit "$status"
