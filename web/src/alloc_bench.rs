//! LOCAL STAND-INS for the allocator benchmarks of issue 11, until the
//! `wasm-vmem-bench` crate's `alloc` module reaches main (it is written on
//! another branch): minimal versions with the same names and signatures,
//! so that the bench page switches by changing one `use`. Plain functions
//! over any `GlobalAlloc`, which the bench page runs for wasm-vmem,
//! dlmalloc, talc and lol_alloc (`crate::allocators`).
//!
//! - (a) [`small_worker`] over a [`Ring`]: mixed small objects on 1 … N
//!   threads, half of each batch handed to the next thread, which frees it;
//! - (b) [`large_zeroed`]: `vec![0u8; n]` over and over, a byte written per
//!   4 KiB, freed; [`DirtyOracle`] counts the bytes that held old data;
//! - (c) [`gc_phase`] then [`app_phase`]: a GC heap of segments on the page
//!   pool grows and shrinks, then the app allocates its blocks; the bench
//!   page reads linear memory's peak in one module per global allocator.

use core::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;
use wasm_vmem::lock::SpinLock;
use wasm_vmem::lock_api::Mutex;
use wasm_vmem::policy::Policy;
use wasm_vmem::sys::LinearMemory;
use wasm_vmem::{GenericVmem, PAGE_SIZE};

/// Seconds, from any origin.
pub type Clock = fn() -> f64;

/// A live block: address and layout.
pub type Block = (usize, Layout);

/// Smallest and largest object of (a).
pub const SMALL: (usize, usize) = (16, 2048);

/// The stride of the writes of (b) and (c), and the oracle's granule.
pub const GRANULE: usize = 4096;

/// A xorshift generator: every allocator sees the same sizes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Log-uniform in `lo ..= hi`.
    fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        let (a, b) = (lo.ilog2(), hi.ilog2());
        let base = 1usize << (a + (self.next() % u64::from(b - a + 1)) as u32);
        (base + self.next() as usize % base).clamp(lo, hi)
    }
}

/// Allocates `size` bytes (align 8) and writes its first and last byte.
fn alloc_touch<A: GlobalAlloc + ?Sized>(a: &A, size: usize) -> Block {
    let l = Layout::from_size_align(size, 8).expect("layout");
    // SAFETY: a non-zero size.
    let p = unsafe { a.alloc(l) };
    assert!(!p.is_null(), "out of memory ({size} B)");
    // SAFETY: inside the fresh block.
    unsafe {
        p.write(size as u8);
        p.add(size - 1).write(1);
    }
    (p as usize, l)
}

/// Frees a block of `alloc_touch`.
///
/// # Safety
///
/// Callers must guarantee that `b` is a live block of `a`.
unsafe fn free<A: GlobalAlloc + ?Sized>(a: &A, b: Block) {
    // SAFETY: as the caller guarantees.
    unsafe { a.dealloc(b.0 as *mut u8, b.1) }
}

/// (a): a mailbox per thread; thread `t` posts to `t + 1`. Spinlocks: the
/// browser main thread may take them.
pub struct Ring {
    slots: Vec<Mutex<SpinLock, Vec<Block>>>,
}

impl Ring {
    /// Mailboxes for `threads` threads.
    pub fn new(threads: usize) -> Self {
        Self {
            slots: (0..threads.max(1))
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
        }
    }

    /// Frees what the mailboxes still hold (after every worker finished).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the blocks posted are live blocks of `a`.
    pub unsafe fn drain<A: GlobalAlloc + ?Sized>(&self, a: &A) {
        for slot in &self.slots {
            for b in slot.lock().drain(..) {
                // SAFETY: as the caller guarantees.
                unsafe { free(a, b) };
            }
        }
    }
}

/// (a), thread `t`: `rounds` rounds of `batch` objects of 16–2048 B; it
/// frees half of each batch itself and, if `cross`, posts the other half to
/// the next thread (else frees it too), then frees what the previous thread
/// posted to it. Returns the operations (allocations and frees). Call
/// [`Ring::drain`] once every thread is done.
pub fn small_worker<A: GlobalAlloc + Sync + ?Sized>(
    a: &A,
    ring: &Ring,
    t: usize,
    rounds: usize,
    batch: usize,
    cross: bool,
) -> u64 {
    let n = ring.slots.len();
    let mut rng = Rng::new(t as u64 + 7);
    let (mut post, mut got) = (Vec::with_capacity(batch), Vec::with_capacity(batch));
    let mut ops = 0;
    for _ in 0..rounds {
        for i in 0..batch {
            let b = alloc_touch(a, rng.log_uniform(SMALL.0, SMALL.1));
            if i % 2 == 1 && n > 1 && cross {
                post.push(b);
            } else {
                // SAFETY: the block just allocated.
                unsafe { free(a, b) };
            }
        }
        if !post.is_empty() {
            ring.slots[(t + 1) % n].lock().append(&mut post);
        }
        core::mem::swap(&mut got, &mut *ring.slots[t].lock());
        for b in got.drain(..) {
            // SAFETY: a live block of `a`, posted by the previous thread.
            unsafe { free(a, b) };
        }
        ops += 2 * batch as u64;
    }
    ops
}

/// (b): which 4 KiB granules hold old data, across calls.
#[derive(Default)]
pub struct DirtyOracle {
    dirty: HashSet<usize>,
}

impl DirtyOracle {
    /// Bytes of `p .. p + n` that held old data.
    pub fn needed(&self, p: usize, n: usize) -> u64 {
        (p / GRANULE..(p + n).div_ceil(GRANULE))
            .filter(|g| self.dirty.contains(g))
            .map(|g| ((g + 1) * GRANULE).min(p + n) - (g * GRANULE).max(p))
            .sum::<usize>() as u64
    }
    /// The byte at `p` was written.
    pub fn wrote(&mut self, p: usize) {
        self.dirty.insert(p / GRANULE);
    }
}

/// (b): `vec![0u8; n]` `1 + iters` times (`alloc_zeroed`, a byte written
/// per 4 KiB, freed). Returns the seconds of the first and of the other
/// `iters` together, and the bytes that had to be zeroed in all, by
/// `oracle`, which follows this allocator's addresses across calls.
///
/// # Panics
///
/// If a block does not read zero where the oracle says it was written.
pub fn large_zeroed<A: GlobalAlloc + ?Sized>(
    a: &A,
    n: usize,
    iters: usize,
    oracle: &mut DirtyOracle,
    clock: Clock,
) -> (f64, f64, u64) {
    let l = Layout::from_size_align(n, 1).expect("layout");
    let (mut first, mut secs, mut needed) = (0.0, 0.0, 0);
    for i in 0..=iters {
        let t0 = clock();
        // SAFETY: a non-zero size.
        let p = unsafe { a.alloc_zeroed(l) };
        assert!(!p.is_null(), "out of memory ({n} B)");
        for off in (0..n).step_by(GRANULE) {
            // SAFETY: inside the block.
            unsafe {
                assert_eq!(*p.add(off), 0, "alloc_zeroed: not zero");
                p.add(off).write(1);
            }
        }
        // SAFETY: the block just allocated.
        unsafe { a.dealloc(p, l) };
        let t = clock() - t0;
        if i == 0 {
            first = t;
        } else {
            secs += t;
        }
        needed += oracle.needed(p as usize, n);
        for off in (0..n).step_by(GRANULE) {
            oracle.wrote(p as usize + off);
        }
    }
    (first, secs, needed)
}

/// (c), the GC phase: segments of `seg` bytes reserved from `pool` up to
/// `total` bytes, a byte written per 4 KiB, then all released. Returns the
/// segments.
pub fn gc_phase<M: LinearMemory, P: Policy>(
    pool: &GenericVmem<M, P>,
    total: usize,
    seg: usize,
) -> usize {
    let mut segs = Vec::with_capacity(total / seg);
    while segs.len() * seg < total {
        let p = pool.reserve(seg, PAGE_SIZE).expect("GC segment").as_ptr();
        for off in (0..seg).step_by(GRANULE) {
            // SAFETY: inside the fresh reservation.
            unsafe { p.add(off).write(1) };
        }
        segs.push(p);
    }
    let n = segs.len();
    for p in segs {
        // SAFETY: reserved above, not used any more.
        unsafe { pool.release(p, seg).expect("release segment") };
    }
    n
}

/// (c), the app phase: blocks of 16 B – 4 MiB (log-uniform, fixed seed)
/// until `total` bytes are live, a byte written per 4 KiB of each; then
/// `after` is called (to read the peak) and all are freed. Returns the live
/// bytes at the peak.
pub fn app_phase<A: GlobalAlloc + ?Sized>(a: &A, total: usize, after: &mut dyn FnMut()) -> usize {
    let mut rng = Rng::new(3);
    let (mut live, mut bytes) = (Vec::new(), 0);
    while bytes < total {
        let n = rng.log_uniform(16, 4 << 20);
        let b = alloc_touch(a, n);
        for off in (0..n).step_by(GRANULE) {
            // SAFETY: inside the block.
            unsafe { (b.0 as *mut u8).add(off).write(2) };
        }
        bytes += n;
        live.push(b);
    }
    after();
    for b in live {
        // SAFETY: live blocks of `a`.
        unsafe { free(a, b) };
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn the_benchmarks_run_natively() {
        let ring = Ring::new(2);
        std::thread::scope(|s| {
            for t in 0..2 {
                let ring = &ring;
                s.spawn(move || assert_eq!(small_worker(&System, ring, t, 20, 64, true), 20 * 128));
            }
        });
        // SAFETY: the blocks posted are System's.
        unsafe { ring.drain(&System) };
        let clock: Clock = || 0.0;
        let (_, _, needed) = large_zeroed(&System, 1 << 20, 3, &mut DirtyOracle::default(), clock);
        assert!(needed <= 3 << 20);
        let vm = wasm_vmem::mt::Vmem::new(wasm_vmem::sys::SimMemory::new(64 << 20));
        assert_eq!(gc_phase(&vm, 8 << 20, 2 << 20), 4);
        assert_eq!(vm.stats().reserved_bytes, 0);
        let mut called = false;
        assert!(app_phase(&System, 8 << 20, &mut || called = true) >= 8 << 20 && called);
    }
}
