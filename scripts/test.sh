#!/usr/bin/env bash
# The project's test command (README, CI). Installs what it needs, then runs
# every stage; a failing stage stops the run. Stages can be picked:
#   scripts/test.sh              all stages
#   scripts/test.sh native loom  only those
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

ALL=(setup native loom miri bench wasm)
STAGES=("${@:-${ALL[@]}}")
declare -A TOOK

stage_setup() { bash scripts/setup.sh; }

stage_native() {
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --target wasm32-unknown-unknown -p wasm-vmem --lib --tests -- -D warnings
    cargo clippy --target wasm32-unknown-unknown -p wasm-vmem-web -p wasm-vmem-bench -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p wasm-vmem
    # As docs.rs builds them (Cargo.toml metadata): wasm32 first, the
    # `testing` and `parking` features, `doc(cfg)` badges on target- and
    # feature-only items.
    RUSTDOCFLAGS="-D warnings --cfg docsrs" cargo +nightly doc --no-deps -p wasm-vmem \
        --features testing,parking --target wasm32-unknown-unknown \
        -Z build-std=std,panic_abort --target-dir target/docsrs
    cargo test --workspace
    bash scripts/check-guards.sh
    # A user's release build with the allocator as its global allocator
    # (docs/llvm-crash.md): rustc once crashed compiling it.
    bash scripts/check-regress.sh
}

stage_loom() { bash scripts/test-loom.sh; }
stage_miri() { bash scripts/test-miri.sh; }
stage_bench() { bash scripts/bench-smoke.sh; }
stage_wasm() { bash scripts/test-wasm.sh; }

for s in "${STAGES[@]}"; do
    echo "::: stage $s"
    start=$SECONDS
    "stage_$s"
    TOOK[$s]=$((SECONDS - start))
    echo "::: stage $s passed in ${TOOK[$s]} s"
done

echo
echo "::: stage times (s):"
for s in "${STAGES[@]}"; do printf '    %-8s %5d\n' "$s" "${TOOK[$s]}"; done
echo "stages: ${#STAGES[@]} passed, 0 failed"
