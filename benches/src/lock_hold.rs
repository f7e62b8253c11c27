//! Lock hold time against range size (native only: it needs a clock inside
//! the lock): the multithreaded policy with an instrumented spinlock,
//! plugged in through the crate's `Policy`.

use crate::figures::{memory, native_clock, Mem};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use wasm_vmem::lock::{SpinLock, TableLock};
use wasm_vmem::policy::Policy;
use wasm_vmem::{GenericVmem, PAGE_SIZE};

/// A spinlock that measures how long it is held: the multithreaded policy
/// with instrumentation, through the crate's pluggable `Policy`.
pub struct TimedSpinLock {
    lock: SpinLock,
    since: AtomicU64,
}

/// Every hold, in nanoseconds, up to its capacity: all the figures come
/// from these.
static SAMPLES: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());
/// Most holds kept per measurement (far more than any measurement makes).
const MAX_SAMPLES: usize = 1 << 20;

fn now_ns() -> u64 {
    (native_clock() * 1e9) as u64
}

// SAFETY: mutual exclusion, acquire and release come from `SpinLock`.
unsafe impl TableLock for TimedSpinLock {
    const INIT: Self = Self {
        lock: SpinLock::new(),
        since: AtomicU64::new(0),
    };
    fn lock(&self) {
        self.lock.lock();
        self.since.store(now_ns(), Relaxed);
    }
    unsafe fn unlock(&self) {
        let held = now_ns() - self.since.load(Relaxed);
        // The vector's capacity is reserved before measuring, so this
        // neither allocates nor waits (one thread measures).
        let mut samples = SAMPLES.lock().unwrap();
        if samples.len() < samples.capacity() {
            samples.push(held);
        }
        drop(samples);
        // SAFETY: held by this thread (caller).
        unsafe { self.lock.unlock() }
    }
}

/// The multithreaded policy with a timed lock.
pub struct TimedMt;

impl Policy for TimedMt {
    type Lock = TimedSpinLock;
    const EAGER_DECOMMIT: bool = true;
}

/// Lock hold times for ranges of `pages` pages, over `reps` reserve /
/// decommit / commit / release cycles.
pub struct Holds {
    /// Mean nanoseconds per acquisition.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// The longest hold (on a shared VM, often an interrupt or a
    /// descheduled core while the lock was held, not the crate's work).
    pub max_ns: u64,
}

/// Clears the samples before a measurement, with room for all of them.
fn start_sampling() {
    let mut samples = SAMPLES.lock().unwrap();
    samples.clear();
    samples.reserve_exact(MAX_SAMPLES);
}

/// The figures of the samples taken since [`start_sampling`].
fn holds() -> Holds {
    let mut samples = std::mem::take(&mut *SAMPLES.lock().unwrap());
    samples.sort_unstable();
    let percentile = |p: usize| samples.get(samples.len() * p / 100).copied().unwrap_or(0);
    Holds {
        mean_ns: samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64,
        p50_ns: percentile(50),
        p99_ns: percentile(99),
        max_ns: samples.last().copied().unwrap_or(0),
    }
}

/// Lock hold times of a reserve of 2 pages and its release while `runs`
/// free runs of 1 page each lie below (none fits: a search that looked at
/// every run would grow with `runs`), over `reps` cycles.
pub fn lock_hold_free_runs(runs: usize, reps: usize) -> Holds {
    let vm = GenericVmem::<Mem, TimedMt>::new(memory());
    // 2 × runs single pages, then every other one in address order
    // released: `runs` runs (the pool fills holes below the memory's end
    // before its end, so the order of the reservations is not theirs).
    let mut pages: Vec<_> = (0..2 * runs)
        .map(|_| vm.reserve(PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr())
        .collect();
    pages.sort_unstable();
    for p in pages.iter().step_by(2) {
        // SAFETY: ours, not used again.
        unsafe { vm.release(*p, PAGE_SIZE).unwrap() };
    }
    // Warm up: the 2-page reservations come from the tail (grown once).
    let p = vm.reserve(2 * PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { vm.release(p, 2 * PAGE_SIZE).unwrap() };
    assert!(vm.stats().free_runs > runs, "{runs} runs below the tail");
    start_sampling();
    for _ in 0..reps {
        let p = vm.reserve(2 * PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
        // SAFETY: ours.
        unsafe { vm.release(p, 2 * PAGE_SIZE).unwrap() };
    }
    holds()
}

/// Lock hold times of reserves that each must grow the memory after
/// someone else grew `gap_wasm_pages` wasm pages (a foreign gap the table
/// records), over `reps` reserves. Table storage that doubles on the way
/// (copied under the lock) is part of the figures.
pub fn lock_hold_foreign_gap(gap_wasm_pages: usize, reps: usize) -> Holds {
    let vm = GenericVmem::<Mem, TimedMt>::new(memory());
    start_sampling();
    for _ in 0..reps {
        vm.memory()
            .grow_foreign(gap_wasm_pages)
            .expect("memory for the gaps");
        // One whole wasm page: never fits in what is left, always grows.
        vm.reserve(4 * PAGE_SIZE, PAGE_SIZE).unwrap();
    }
    holds()
}

/// Lock hold times while one instance grows to `total` bytes in
/// reservations of `step` bytes: every growth, and every doubling of the
/// table's storage, which is copied under the lock (O(pages)).
pub fn lock_hold_growth(total: usize, step: usize) -> Holds {
    let vm = GenericVmem::<_, TimedMt>::new(wasm_vmem::sys::SimMemory::new(total + step));
    start_sampling();
    for _ in 0..total / step {
        vm.reserve(step, PAGE_SIZE).unwrap();
    }
    holds()
}

/// Measures [`Holds`] for ranges of `pages` pages.
pub fn lock_hold(pages: usize, reps: usize) -> Holds {
    let vm = GenericVmem::<Mem, TimedMt>::new(memory());
    let size = pages * PAGE_SIZE;
    // Warm up: grow once, so growth is not measured.
    let p = vm.reserve(size, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { vm.release(p, size).unwrap() };
    start_sampling();
    for _ in 0..reps {
        let p = vm.reserve(size, PAGE_SIZE).unwrap().as_ptr();
        // SAFETY: ours.
        unsafe {
            vm.decommit(p, size).unwrap();
            vm.commit(p, size).unwrap();
            vm.release(p, size).unwrap();
        }
    }
    holds()
}
