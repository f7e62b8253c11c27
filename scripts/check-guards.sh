#!/usr/bin/env bash
# The wrong build combinations of docs/DESIGN.md §3 must not compile, and must say
# why. Each check expects cargo to fail with wasm-vmem's own message.
set -euo pipefail
cd "$(dirname "$0")/.."

expect_refusal() {
    local what=$1 needle=$2; shift 2
    local out
    if out=$("$@" 2>&1); then
        echo "guard missing: $what compiled" >&2
        exit 1
    fi
    if ! grep -q "$needle" <<<"$out"; then
        echo "guard for $what failed for another reason:" >&2
        echo "$out" | tail -20 >&2
        exit 1
    fi
    echo "ok: $what is refused"
}

# `threads` on a wasm target without atomics.
expect_refusal "threads without +atomics" "the \`threads\` feature needs a wasm32 build with shared memory" \
    cargo check --target wasm32-unknown-unknown --lib --features threads \
    --target-dir target/guards

# +atomics (shared memory) without `threads`: the single-threaded variant.
expect_refusal "+atomics without threads" "has \`+atomics\` (shared memory) but not the \`threads\` feature" \
    env RUSTFLAGS="-C target-feature=+atomics,+bulk-memory" \
    cargo +nightly check --target wasm32-unknown-unknown -Z build-std=core,alloc --lib \
    --target-dir target/guards-atomics

# The single-threaded allocator as a native program's global allocator: it
# has no lock, so it is not `Sync`, and a program with threads must not be
# able to install it (on wasm32, `wasm_vmem::Global` is the way, and the ST
# build cannot share its memory).
dir=target/guards-st-alloc
mkdir -p "$dir/src"
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "guard-st-alloc"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
wasm-vmem = { path = "$PWD" }

[workspace]
TOML
cat >"$dir/src/main.rs" <<'RS'
use wasm_vmem::{st, sys::SimMemory};
#[global_allocator]
static A: st::Alloc<SimMemory> = st::Alloc::new(SimMemory::lazy(1 << 30));
fn main() {}
RS
expect_refusal "st::Alloc as a native global allocator" "cannot be shared between threads safely" \
    cargo check --manifest-path "$dir/Cargo.toml" --target-dir target/guards-st-alloc/target
