#!/usr/bin/env bash
# The regression check for a compiler crash (docs/llvm-crash.md): a crate
# that uses wasm-vmem's allocator as its global allocator, built in the
# release profile as a user would build it, in the shapes that once made
# rustc 1.95 (LLVM 22) crash: rayon 1.12.0's par_bridge_recursion test with
# `mt::Alloc`, and the same workload on one thread with `st::Alloc`
# (regress/). That both compile is the check; the tests then run.
# Its own lock file and target directory (target/regress), so that reruns
# are incremental and the main workspace's builds are not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
cargo fmt --manifest-path regress/Cargo.toml --check
cargo clippy --release --locked --manifest-path regress/Cargo.toml --all-targets \
    --target-dir target/regress -- -D warnings
cargo test --release --locked --manifest-path regress/Cargo.toml --target-dir target/regress
echo "ok: the release build with wasm-vmem as the global allocator compiles and runs ($((SECONDS - start)) s)"
