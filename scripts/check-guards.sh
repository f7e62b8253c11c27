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

# The library must never use the global allocator (docs/DESIGN.md §5, "Where
# metadata lives"): it is to be the global allocator itself.
# 1. Built without test hooks and with `std` (the default), the library
#    does not even declare the `alloc` crate (src/lib.rs): any `alloc::`
#    use outside test code fails to compile here, natively and for wasm32.
cargo check -p wasm-vmem --lib --target-dir target/guards-noalloc
cargo check -p wasm-vmem --lib --target wasm32-unknown-unknown --target-dir target/guards-noalloc
echo "ok: the library builds without the alloc crate"
# 2. `std` is there for `System` (SimMemory's region), one `const`,
#    destructor-free `thread_local!` (a thread's number: src/policy/thread.rs)
#    and `thread::yield_now` (a spinning waiter natively: src/sync.rs) only:
#    no other use of `std::` outside the unit test modules and comments
#    (a `tests.rs` file is a unit test module of its own).
uses=$(for f in $(find src -name '*.rs' ! -name tests.rs); do
    awk '/^#\[cfg\(test\)\]$/ { getline next_line; if (next_line ~ /^mod tests/) exit }
         { print FILENAME ":" FNR ": " $0 }' "$f"
done | grep -E 'std::' | grep -vE '^[^:]+:[0-9]+: *//' |
    grep -vE 'std::alloc::(System|GlobalAlloc|handle_alloc_error)|std::thread_local!|std::thread::yield_now' || true)
if [[ -n $uses ]]; then
    echo "the library uses std beyond System, thread_local! and yield_now:" >&2
    echo "$uses" >&2
    exit 1
fi
echo "ok: std is used for System only"
# 3. At run time: every operation of both builds counts zero global
#    allocations, and an instance serves as a #[global_allocator] without
#    re-entering it.
cargo test -p wasm-vmem --test no_global_alloc --test vmem_as_global --test global_alloc -q
echo "ok: no global allocation at run time"

# The single-threaded build makes no atomic read-modify-write in its
# small-object heaps: only a span of a heap among several (`remote`, which
# the allocator's `REMOTE` constant passes down) may see one on its
# `thread_free` word, and debug builds assert that at each of them
# (`Span::rmw_word`, src/allocator/span.rs). The single-threaded build's
# allocator tests (every rule of tests/alloc.rs, and the property test
# against a model) run in debug here, so a path that reaches one without
# the `remote` guard fails them. (On wasm32 without +atomics, the only
# single-threaded wasm build, the module has no atomic instruction at all.)
cargo test -p wasm-vmem --test alloc --test alloc_model -q -- st:: single_threaded
echo "ok: the single-threaded heaps make no atomic read-modify-write"

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

# The web crate's module has one global allocator: a second alloc-*
# feature beside the default alloc-vmem is refused.
expect_refusal "two global allocators in the web module" "pick one global allocator" \
    cargo check --target wasm32-unknown-unknown -p wasm-vmem-web --features alloc-talc \
    --target-dir target/guards
