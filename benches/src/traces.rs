//! The workloads of docs/DESIGN.md §7 and the oracle of bytes that had to be
//! zeroed.

use crate::Backend;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use wasm_vmem::PAGE_SIZE;

/// GC-like trace: segment size.
pub const SEGMENT: usize = 4 << 20;
/// GC-like trace: gen0 budget committed, filled and decommitted per
/// collection.
pub const GEN0: usize = 512 << 10;
const SLOTS: usize = SEGMENT / GEN0;

/// Writes `len` bytes of "objects" at `p`.
///
/// # Safety
/// Committed memory of the caller's.
unsafe fn fill(p: *mut u8, len: usize, byte: u8) {
    // SAFETY: the caller's committed memory.
    unsafe { p.write_bytes(byte, len) }
}

/// The GC-like trace: three segments reserved once; each collection commits
/// a gen0 budget, fills it, decommits it (recommitting it later); every 64
/// collections a segment is released (in two halves) and a new one
/// reserved. Returns the operations done.
pub fn gc<B: Backend + ?Sized>(b: &B, collections: usize) -> u64 {
    let mut segments: Vec<*mut u8> = (0..3).map(|_| b.reserve(SEGMENT)).collect();
    let mut ops = 3;
    for c in 0..collections {
        let seg = segments[c % 3];
        let gen0 = seg.wrapping_add((c / 3 % SLOTS) * GEN0);
        // SAFETY: inside a live segment.
        unsafe {
            b.commit(gen0, GEN0);
            fill(gen0, GEN0, c as u8 | 1);
            b.wrote(gen0, GEN0);
            b.decommit(gen0, GEN0);
        }
        ops += 2;
        if c % 64 == 63 {
            let old = segments.remove(0);
            // SAFETY: a live segment, not used again.
            unsafe {
                b.release(old.wrapping_add(SEGMENT / 2), SEGMENT / 2);
                b.release(old, SEGMENT / 2);
            }
            segments.push(b.reserve(SEGMENT));
            ops += 3;
        }
    }
    for seg in segments {
        // SAFETY: live, not used again.
        unsafe { b.release(seg, SEGMENT) };
        ops += 1;
    }
    ops
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The churn trace's fixed seed: the figures of every run are comparable.
pub const CHURN_SEED: u64 = 0x5EED_CAFE;

/// The churn trace: random reserve and release of 16 KiB–4 MiB (log
/// uniform), a third of releases partial (the upper half), a byte written
/// per page, with [`CHURN_SEED`]. Returns the peak of live reserved bytes.
pub fn churn<B: Backend + ?Sized>(b: &B, steps: usize) -> usize {
    churn_seeded(b, steps, CHURN_SEED)
}

/// [`churn`] with another seed: peak memory ÷ peak live of one seed moves
/// with any change of placement (from 1.07 to 1.43 over seeds), so the
/// figures give its mean over many seeds too.
pub fn churn_seeded<B: Backend + ?Sized>(b: &B, steps: usize, seed: u64) -> usize {
    let mut rng = Rng::new(seed);
    let mut live: Vec<(*mut u8, usize)> = Vec::new();
    let (mut bytes, mut peak) = (0, 0);
    for _ in 0..steps {
        let r = rng.next_u64();
        if live.len() < 8 || (r % 10 < 5 && live.len() < 64) {
            let size = PAGE_SIZE << ((r >> 8) % 9);
            let p = b.reserve(size);
            for page in (0..size).step_by(PAGE_SIZE) {
                // SAFETY: just reserved.
                unsafe { *p.add(page) = 1 };
            }
            b.wrote(p, size);
            live.push((p, size));
            bytes += size;
            peak = peak.max(bytes);
        } else {
            let i = (r >> 16) as usize % live.len();
            let (p, size) = live[i];
            if size > PAGE_SIZE && (r >> 40).is_multiple_of(3) {
                // SAFETY: the upper half of a live reservation.
                unsafe { b.release(p.add(size / 2), size / 2) };
                live[i].1 = size / 2;
                bytes -= size / 2;
            } else {
                // SAFETY: a live reservation, not used again.
                unsafe { b.release(p, size) };
                live.swap_remove(i);
                bytes -= size;
            }
        }
    }
    for (p, size) in live {
        // SAFETY: live, not used again.
        unsafe { b.release(p, size) };
    }
    peak
}

/// The contention trace: `threads` threads each doing `rounds` of reserve
/// 64 KiB, write a byte per page, decommit and commit half, release — small
/// enough that the operations, not memory bandwidth, are what is measured.
/// Returns operations. Not in wasm (no `std::thread` there; the browser
/// demo runs threads through rayon instead).
#[cfg(not(target_arch = "wasm32"))]
pub fn contention<B: Backend + Sync + ?Sized>(b: &B, threads: usize, rounds: usize) -> u64 {
    contention_on(&vec![b; threads], rounds)
}

/// The contention trace with thread `t` on backend `backends[t]`: the same
/// backend everywhere is [`contention`]; one backend per thread shares
/// nothing, which measures how well the machine runs the threads at all.
#[cfg(not(target_arch = "wasm32"))]
pub fn contention_on<B: Backend + Sync + ?Sized>(backends: &[&B], rounds: usize) -> u64 {
    std::thread::scope(|s| {
        for (t, &b) in backends.iter().enumerate() {
            s.spawn(move || contention_rounds(b, t, rounds));
        }
    });
    (backends.len() * rounds * 4) as u64
}

/// One thread's part of the contention trace: `rounds` of reserve 64 KiB,
/// write a byte per page (`t` picks the bytes), decommit and commit half,
/// release. Returns operations (4 a round). The thread sweep and the
/// browser's rayon threads call this directly.
pub fn contention_rounds<B: Backend + ?Sized>(b: &B, t: usize, rounds: usize) -> u64 {
    const SIZE: usize = 64 << 10;
    for r in 0..rounds {
        let p = b.reserve(SIZE);
        // SAFETY: this thread's reservation.
        unsafe {
            for page in (0..SIZE).step_by(PAGE_SIZE) {
                *p.add(page) = (t + r) as u8 | 1;
            }
            b.wrote(p, SIZE);
            b.decommit(p, SIZE / 2);
            b.commit(p, SIZE / 2);
            b.release(p, SIZE);
        }
    }
    (rounds * 4) as u64
}

/// Wraps a backend and counts, by address, the bytes that had to be zeroed:
/// pages the trace wrote that were later promised to read zero (reserved
/// again after release, or committed again after decommit).
pub struct Oracle<'b, B: Backend + ?Sized> {
    inner: &'b B,
    dirty: RefCell<HashSet<usize>>,
    decommitted: RefCell<HashSet<usize>>,
    had_to_zero: Cell<u64>,
}

impl<'b, B: Backend + ?Sized> Oracle<'b, B> {
    /// Around `inner`.
    pub fn new(inner: &'b B) -> Self {
        Self {
            inner,
            dirty: RefCell::default(),
            decommitted: RefCell::default(),
            had_to_zero: Cell::new(0),
        }
    }

    /// Bytes that had to be zeroed so far.
    pub fn had_to_zero(&self) -> u64 {
        self.had_to_zero.get()
    }

    fn pages(p: *mut u8, size: usize) -> impl Iterator<Item = usize> {
        (p as usize..p as usize + size).step_by(PAGE_SIZE)
    }

    fn promise_zero(&self, page: usize) {
        if self.dirty.borrow_mut().remove(&page) {
            self.had_to_zero
                .set(self.had_to_zero.get() + PAGE_SIZE as u64);
        }
    }
}

impl<B: Backend + ?Sized> Backend for Oracle<'_, B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn reserve(&self, size: usize) -> *mut u8 {
        // Pages the backend wrote its metadata to are dirty when it leaves
        // them (wasm-vmem: a table that moved to a larger storage).
        self.dirty.borrow_mut().extend(self.inner.metadata_pages());
        let p = self.inner.reserve(size);
        for page in Self::pages(p, size) {
            self.promise_zero(page);
            self.decommitted.borrow_mut().remove(&page);
        }
        p
    }
    unsafe fn commit(&self, p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.inner.commit(p, size) };
        for page in Self::pages(p, size) {
            if self.decommitted.borrow_mut().remove(&page) {
                self.promise_zero(page);
            }
        }
    }
    fn wrote(&self, p: *mut u8, size: usize) {
        self.dirty.borrow_mut().extend(Self::pages(p, size));
    }
    unsafe fn decommit(&self, p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.inner.decommit(p, size) };
        self.decommitted.borrow_mut().extend(Self::pages(p, size));
    }
    unsafe fn release(&self, p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.inner.release(p, size) };
        let mut decommitted = self.decommitted.borrow_mut();
        for page in Self::pages(p, size) {
            decommitted.remove(&page);
        }
    }
    fn bytes_zeroed(&self) -> u64 {
        self.inner.bytes_zeroed()
    }
    fn footprint(&self) -> Option<usize> {
        self.inner.footprint()
    }
    fn metadata_pages(&self) -> Vec<usize> {
        self.inner.metadata_pages()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::{Global, Plain, Seed, Vmem};
    use wasm_vmem::policy::{MultiThreaded, SingleThreaded};
    use wasm_vmem::sys::SimMemory;

    #[test]
    fn oracle_counts_what_had_to_be_zeroed() {
        // wasm-vmem zeroes exactly what the oracle says, in both traces.
        let b = Vmem::<_, SingleThreaded>::new("st", SimMemory::new(256 << 20));
        let o = Oracle::new(&b);
        gc(&o, 100);
        assert!(o.had_to_zero() > 0);
        assert_eq!(b.bytes_zeroed(), o.had_to_zero());
        let b = Vmem::<_, MultiThreaded>::new("mt", SimMemory::new(256 << 20));
        let o = Oracle::new(&b);
        let peak = churn(&o, 1000);
        assert_eq!(b.bytes_zeroed(), o.had_to_zero());
        let ratio = b.footprint().unwrap() as f64 / peak as f64;
        println!("churn: peak memory ÷ peak live = {ratio:.3}");
        assert!(ratio >= 1.0);
        // The baselines zero at least as much.
        for base in [
            &Seed::new(false) as &dyn Backend,
            &Plain::new("std", Global::wasm_like()),
        ] {
            let o = Oracle::new(base);
            gc(&o, 100);
            assert!(base.bytes_zeroed() >= o.had_to_zero(), "{}", base.name());
        }
    }
}
