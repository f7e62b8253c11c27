//! A buffer grown by doubling from 1 KiB to 64 MiB with `realloc` (as a
//! `Vec` or `String` grows), a byte written per 4 KiB of each new part,
//! twice on one instance; wasm-vmem grows large blocks in place when the
//! following pages are free, dlmalloc and talc where they can.
//!
//! Found with it (BENCHMARKS.md, "Global allocator"): the second growth,
//! over pages the first one dirtied, was about 10× slower through
//! wasm-vmem than through dlmalloc or talc (4.0 ms against 0.4 ms), because
//! `realloc` grew in place with `GenericVmem::extend`, which zeroes dirty
//! pages as `reserve` does, although `realloc` promises nothing about the
//! new bytes. Fixed on main by 88c426b (`extend_filled` with `Fill::Any`):
//! the pool's `bytes_zeroed` printed below is now 0.
//!
//! `cargo run --release -p wasm-vmem-bench --example realloc_growth`

use wasm_vmem_bench::alloc::native::backend;
use wasm_vmem_bench::alloc::realloc_growth;
use wasm_vmem_bench::figures::native_clock;

fn grow(a: &dyn std::alloc::GlobalAlloc, top: usize) -> (f64, usize) {
    let (s, m) = realloc_growth(a, top, native_clock);
    (s * 1e3, m)
}

fn main() {
    let vm = wasm_vmem::mt::Alloc::new(wasm_vmem::sys::SimMemory::new(1 << 30));
    let (first, _) = grow(&vm, 64 << 20);
    let zeroed = vm.vmem().stats().bytes_zeroed;
    let (again, _) = grow(&vm, 64 << 20);
    println!(
        "mt::Alloc: first {first:.2} ms, again {again:.2} ms; pool bytes zeroed by the second growth: {} MiB (alloc_zeroed: {} B)",
        (vm.vmem().stats().bytes_zeroed - zeroed) >> 20,
        vm.stats().zeroed_bytes
    );
    for _ in 0..2 {
        for name in [
            "wasm-vmem (MT)",
            "wasm-vmem (ST)",
            "dlmalloc",
            "talc",
            "system",
        ] {
            let a = backend(name);
            let (cold, cold_moves) = grow(&*a, 64 << 20);
            let (warm, warm_moves) = grow(&*a, 64 << 20);
            println!("{name:16} first {cold:7.2} ms ({cold_moves:2} moves), again {warm:7.2} ms ({warm_moves:2} moves)");
        }
    }
}
