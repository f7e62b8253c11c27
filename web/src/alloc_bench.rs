//! LOCAL STAND-INS for the allocator benchmarks of issue 11, until the
//! `wasm-vmem-bench` crate has them (its branch had not landed when the
//! bench page needed them): plain functions over any `GlobalAlloc`
//! instance, which the bench page runs for wasm-vmem, dlmalloc, talc and
//! lol_alloc (`crate::allocators`).
//!
//! - (a) [`SmallRing`]: small-object alloc/free on 1 … N threads, each
//!   thread handing the blocks it allocated to its neighbour, which frees
//!   them (cross-thread frees);
//! - (b) [`large_zeroed`]: repeated zeroed allocations of 64 KiB – 64 MiB,
//!   touched once per 4 KiB and freed, as `vec![0u8; n]` does;
//! - (c) [`phases`]: a workload in phases (many small objects, then large
//!   buffers, then small again), run on the module's *global* allocator,
//!   whose peak linear memory the page reads per build.

use core::alloc::{GlobalAlloc, Layout};
use wasm_vmem::lock::SpinLock;
use wasm_vmem::lock_api::Mutex;

/// Blocks per thread and round in (a).
pub const SMALL_PER_ROUND: usize = 256;

/// (a): per thread a slot of blocks handed to the next thread.
pub struct SmallRing {
    slots: Vec<Mutex<SpinLock, Vec<(usize, usize)>>>,
}

impl SmallRing {
    /// A ring of `threads` slots.
    pub fn new(threads: usize) -> Self {
        Self {
            slots: (0..threads.max(1))
                .map(|_| Mutex::new(Vec::with_capacity(SMALL_PER_ROUND)))
                .collect(),
        }
    }

    /// `rounds` rounds of thread `t` over allocator `a`: allocate
    /// [`SMALL_PER_ROUND`] blocks of 16–512 bytes (writing to each), hand
    /// them to slot `t` if the neighbour took the last batch (else free them
    /// here), then free the batch that thread `t - 1` left in its slot.
    /// Returns the allocations and frees done (its operations).
    pub fn run(&self, a: &dyn GlobalAlloc, t: usize, rounds: usize) -> u64 {
        let n = self.slots.len();
        let mut mine: Vec<(usize, usize)> = Vec::with_capacity(SMALL_PER_ROUND);
        let mut theirs: Vec<(usize, usize)> = Vec::with_capacity(SMALL_PER_ROUND);
        let mut rng = 0x2545_F491_4F6C_DD1D_u64 ^ t as u64;
        let mut ops = 0;
        for _ in 0..rounds {
            for _ in 0..SMALL_PER_ROUND {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let size = 16 + (rng % 497) as usize;
                // SAFETY: a non-zero size, align 8.
                let p = unsafe { a.alloc(Layout::from_size_align_unchecked(size, 8)) };
                assert!(!p.is_null(), "out of memory");
                // SAFETY: a fresh block of `size` bytes.
                unsafe { p.write_bytes(t as u8, size.min(64)) };
                mine.push((p as usize, size));
            }
            ops += SMALL_PER_ROUND as u64;
            {
                let mut slot = self.slots[t].lock();
                if slot.is_empty() {
                    core::mem::swap(&mut *slot, &mut mine);
                }
            }
            ops += free_all(a, &mut mine);
            core::mem::swap(&mut *self.slots[(t + n - 1) % n].lock(), &mut theirs);
            ops += free_all(a, &mut theirs);
        }
        ops
    }

    /// Frees what the slots still hold (after every thread's `run`).
    pub fn drain(&self, a: &dyn GlobalAlloc) {
        for slot in &self.slots {
            free_all(a, &mut slot.lock());
        }
    }
}

/// Frees the blocks listed (align 8); returns how many.
fn free_all(a: &dyn GlobalAlloc, blocks: &mut Vec<(usize, usize)>) -> u64 {
    let n = blocks.len() as u64;
    for (p, size) in blocks.drain(..) {
        // SAFETY: allocated by `a` in `SmallRing::run` with this layout,
        // freed once (the list is drained).
        unsafe { a.dealloc(p as *mut u8, Layout::from_size_align_unchecked(size, 8)) };
    }
    n
}

/// The sizes of (b).
pub const LARGE_SIZES: [usize; 4] = [64 << 10, 1 << 20, 16 << 20, 64 << 20];

/// (b): `reps` times, a zeroed block of `size` bytes from `a`, checked at
/// its ends, written once per 4 KiB (so that a reused block is dirty), and
/// freed. Returns false if a block did not read zero.
pub fn large_zeroed(a: &dyn GlobalAlloc, size: usize, reps: usize) -> bool {
    let layout = Layout::from_size_align(size, 16).expect("layout");
    let mut ok = true;
    for _ in 0..reps {
        // SAFETY: a non-zero size.
        let p = unsafe { a.alloc_zeroed(layout) };
        assert!(!p.is_null(), "out of memory");
        // SAFETY: a live block of `size` bytes, freed once below.
        unsafe {
            ok &= *p == 0 && *p.add(size / 2) == 0 && *p.add(size - 1) == 0;
            for off in (0..size).step_by(4096) {
                *p.add(off) = 1;
            }
            a.dealloc(p, layout);
        }
    }
    ok
}

/// What (c) did: the most bytes it held live at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    /// The peak of the bytes the workload held live (its own count).
    pub peak_live: usize,
    /// Whether every check held.
    pub ok: bool,
}

/// (c) on the global allocator: `scale` MiB of small objects (strings and
/// boxes in a map), half of them dropped; then `scale` MiB of 1 MiB
/// buffers; the rest of the small objects dropped; then `scale` MiB of
/// small objects again; then one `scale` MiB zeroed buffer. What linear
/// memory grew to is the allocator's footprint for it.
pub fn phases(scale_mib: usize) -> Phases {
    use std::collections::BTreeMap;
    let scale = scale_mib << 20;
    let mut live = 0usize;
    let mut peak = 0usize;
    let mut note = |delta: isize| {
        live = live.wrapping_add_signed(delta);
        peak = peak.max(live);
    };
    let mut ok = true;
    // Small objects: strings of 24–216 bytes keyed by number.
    let mut small: BTreeMap<u32, String> = BTreeMap::new();
    let mut bytes = 0usize;
    let mut i = 0u32;
    while bytes < scale {
        let len = 24 + (i as usize * 37) % 193;
        small.insert(i, "x".repeat(len));
        bytes += len;
        note(len as isize);
        i += 1;
    }
    small.retain(|k, s| {
        let keep = k % 2 == 0;
        if !keep {
            note(-(s.len() as isize));
        }
        keep
    });
    // Large buffers while half of the small objects live.
    let buffers: Vec<Vec<u8>> = (0..scale_mib)
        .map(|k| {
            note(1 << 20);
            vec![k as u8; 1 << 20]
        })
        .collect();
    ok &= buffers
        .iter()
        .enumerate()
        .all(|(k, b)| b[b.len() - 1] == k as u8);
    ok &= small.values().all(|s| s.bytes().all(|b| b == b'x'));
    for s in small.values() {
        note(-(s.len() as isize));
    }
    drop(small);
    // Small objects again, while the buffers live.
    let mut again: Vec<Box<[u64; 8]>> = Vec::new();
    while again.len() * 64 < scale {
        again.push(Box::new([again.len() as u64; 8]));
        note(64);
    }
    ok &= again.iter().enumerate().all(|(k, b)| b[7] == k as u64);
    note(-((again.len() * 64) as isize));
    drop(again);
    note(-((scale_mib << 20) as isize));
    drop(buffers);
    // One large zeroed buffer at the end.
    let big = vec![0u8; scale];
    note(scale as isize);
    ok &= big.iter().step_by(4096).all(|&b| b == 0);
    drop(big);
    Phases {
        peak_live: peak,
        ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn the_benchmarks_run_natively() {
        let ring = SmallRing::new(2);
        std::thread::scope(|s| {
            for t in 0..2 {
                let ring = &ring;
                s.spawn(move || assert!(ring.run(&System, t, 20) >= 20 * SMALL_PER_ROUND as u64));
            }
        });
        ring.drain(&System);
        assert!(large_zeroed(&System, 1 << 20, 3));
        let p = phases(4);
        assert!(p.ok && p.peak_live >= 4 << 20, "{p:?}");
    }
}
