#!/usr/bin/env bash
# Miri over the library's unit tests and a representative subset of the
# contract tests (those with small memories: Miri interprets every byte of
# zeroing), natively and on a 32-bit target (usize as on wasm32).
# Exposed provenance is by design: on wasm32 linear memory starts at
# address 0, so the seam works with addresses.
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="-Zmiri-permissive-provenance ${MIRIFLAGS:-}"
# Chosen for coverage at a cost Miri can bear (each test scans and zeroes
# its pages byte by byte in the interpreter): commit keeping data, mixed
# ranges, reset, partial release, bad input, double release, exact stats,
# both policies' decommit.
SUBSET=(rule2_commit_keeps rule2_commit_mixed rule4_ rule6_ rule7_double rule10_ policy_decommit)
for target in x86_64-unknown-linux-gnu i686-unknown-linux-gnu; do
    echo "--- miri on $target"
    cargo +nightly miri test -p wasm-vmem --target "$target" --target-dir target/miri --lib
    cargo +nightly miri test -p wasm-vmem --target "$target" --target-dir target/miri \
        --test contract -- "${SUBSET[@]}"
done
