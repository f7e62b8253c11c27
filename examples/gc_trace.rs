//! A GC-like workload on a simulated linear memory, in both builds, with the
//! statistics a user would look at. `cargo run --release --example gc_trace`
//!
//! Segments are reserved once; each "collection" commits a gen0 budget,
//! fills it, decommits it and commits it again; now and then a segment is
//! released and another reserved, as a GC that gives memory back would.

use wasm_vmem::policy::{MultiThreaded, Policy, SingleThreaded};
use wasm_vmem::sys::SimMemory;
use wasm_vmem::{GenericVmem, PAGE_SIZE};

const MIB: usize = 1 << 20;
const SEGMENT: usize = 4 * MIB;
const GEN0_BUDGET: usize = MIB;
const COLLECTIONS: usize = 200;

fn run<P: Policy>(name: &str) {
    let memory = SimMemory::new(256 * MIB);
    // Someone else's data before us: never touched.
    memory.grow_foreign(16);
    let vm = GenericVmem::<_, P>::new(memory);
    let mut segments: Vec<*mut u8> = (0..3)
        .map(|_| vm.reserve(SEGMENT, SEGMENT).expect("reserve").as_ptr())
        .collect();
    let mut failures = 0;
    for gc in 0..COLLECTIONS {
        let seg = segments[gc % segments.len()];
        let gen0 = seg.wrapping_add((gc / segments.len() % 4) * GEN0_BUDGET);
        // SAFETY: gen0 lies inside a segment this thread reserved.
        unsafe {
            vm.commit(gen0, GEN0_BUDGET).expect("commit");
            let bytes = core::slice::from_raw_parts_mut(gen0, GEN0_BUDGET);
            failures += bytes.iter().filter(|&&b| b != 0).count().min(1);
            bytes.fill(gc as u8 | 1); // allocate objects
            vm.decommit(gen0, GEN0_BUDGET).expect("decommit"); // collect
        }
        if gc % 50 == 49 {
            // Give a segment back (a partial release first) and take a new one.
            let old = segments.remove(0);
            // SAFETY: our segment, not used again.
            unsafe {
                vm.release(old.wrapping_add(SEGMENT / 2), SEGMENT / 2)
                    .expect("release");
                vm.release(old, SEGMENT / 2).expect("release");
            }
            segments.push(vm.reserve(SEGMENT, SEGMENT).expect("reserve").as_ptr());
        }
    }
    let s = vm.stats();
    let l = vm.limits();
    let mib = |b: u64| b as f64 / MIB as f64;
    println!(
        "{name}: {COLLECTIONS} collections over 3 segments of {} MiB",
        SEGMENT / MIB
    );
    println!(
        "  reserved {:.1} MiB (committed {:.1}, decommitted {:.1}), free {:.1} MiB zero + {:.1} MiB dirty, metadata {:.2} MiB",
        mib(s.reserved_bytes),
        mib(s.committed_bytes),
        mib(s.decommitted_bytes),
        mib(s.free_zero_bytes),
        mib(s.free_dirty_bytes),
        mib(s.metadata_bytes)
    );
    println!(
        "  linear memory {:.1} MiB ({:.1} ours, {} grows), peak reserved {:.1} MiB",
        mib(s.linear_memory_bytes),
        mib(s.owned_bytes),
        s.grows,
        mib(s.peak_reserved_bytes)
    );
    println!(
        "  zeroed {:.1} MiB, zeroing skipped {:.1} MiB (known zero), recommits not reading zero: {failures}",
        mib(s.bytes_zeroed),
        mib(s.bytes_zero_skipped)
    );
    println!(
        "  limits: hard {} MiB, largest segment {} MiB, load {} %, page {} KiB",
        l.hard_limit_bytes >> 20,
        l.largest_segment_bytes >> 20,
        l.memory_load_percent,
        PAGE_SIZE / 1024
    );
}

fn main() {
    run::<SingleThreaded>("single-threaded (sentinel on decommit, zero on commit)");
    run::<MultiThreaded>("multithreaded (zero on decommit, commit writes nothing)");
}
