#!/usr/bin/env bash
# Fuzzes wasm-vmem: the cargo-fuzz target `ops` (fuzz/fuzz_targets/ops.rs)
# drives both builds with arbitrary operation sequences over SimMemory,
# foreign growth and growth failures included, checked after every step
# against the reference model (tests/common/harness.rs).
#
#   scripts/fuzz.sh [SECONDS]        run for SECONDS (default 300), then print
#                                    executions, coverage and corpus size
#   nice -n 10 scripts/fuzz.sh 1800  the same, politely, on a shared machine
#
# Needs nightly (libFuzzer's sanitizer coverage) and cargo-fuzz, which it
# installs (pinned) if missing. The corpus grows in fuzz/corpus/ops (kept
# between runs, not committed); hand-written inputs in fuzz/seeds/ (paths
# random bytes rarely reach) and committed crash inputs in
# fuzz/regressions/ seed every run. Knobs: FUZZ_RSS_MB (default 512), FUZZ_MAX_LEN (1536
# bytes: 256 operations), FUZZ_TIMEOUT (10 s per input), FUZZ_ARGS (more
# libFuzzer flags, e.g. -len_control=0 to try long inputs at once).
# AddressSanitizer's quarantine is kept at 64 MB (its default, 256 MB, is
# mostly freed 32 MiB simulated memories and pushes RSS towards the limit).
#
# On a crash libFuzzer writes fuzz/artifacts/ops/crash-*; then:
#   cargo +nightly fuzz tmin ops fuzz/artifacts/ops/crash-...   (minimize)
#   cp fuzz/artifacts/ops/minimized-from-... fuzz/regressions/<what-it-caught>
#   cargo test --test fuzz_regressions                           (replays it)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-300}
CARGO_FUZZ_VERSION=0.13.1

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
mkdir -p fuzz/corpus/ops fuzz/artifacts/ops
log=fuzz/artifacts/ops/last-run.log
set +e
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
cargo +nightly fuzz run ops fuzz/corpus/ops fuzz/seeds fuzz/regressions -- \
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
last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1 || true)
echo
echo "::: fuzz summary (target ops, ${DURATION} s asked)"
echo "    executions:  $(stat number_of_executed_units)"
echo "    exec/s:      $(stat average_exec_per_sec)"
echo "    coverage:    cov $(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last") ft $(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
echo "    corpus:      $(find fuzz/corpus/ops -type f | wc -l) files, $(du -sh fuzz/corpus/ops | cut -f1)"
echo "    peak rss:    $(stat peak_rss_mb) MB"
if [[ $status -ne 0 ]]; then
    echo "    CRASH (exit $status): see $log and fuzz/artifacts/ops/" >&2
fi
exit "$status"
