//! Lock hold time against range size (native only: it needs a clock inside
//! the lock): the multithreaded policy with an instrumented spinlock,
//! plugged in through the crate's `Policy`.

use crate::figures::{memory, Mem};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;
use wasm_vmem::lock::{SpinLock, TableLock};
use wasm_vmem::policy::Policy;
use wasm_vmem::{GenericVmem, PAGE_SIZE};

/// A spinlock that measures how long it is held: the multithreaded policy
/// with instrumentation, through the crate's pluggable `Policy`.
pub struct TimedSpinLock {
    lock: SpinLock,
    since: AtomicU64,
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
static HOLD_NS: AtomicU64 = AtomicU64::new(0);
static HOLD_MAX_NS: AtomicU64 = AtomicU64::new(0);
static HOLDS: AtomicU64 = AtomicU64::new(0);

fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
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
        HOLD_NS.fetch_add(held, Relaxed);
        HOLD_MAX_NS.fetch_max(held, Relaxed);
        HOLDS.fetch_add(1, Relaxed);
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

/// Lock hold time for each operation on ranges of `pages` pages: mean and
/// max nanoseconds per acquisition, over `reps` reserve / decommit /
/// commit / release cycles.
pub fn lock_hold(pages: usize, reps: usize) -> (f64, u64) {
    let vm = GenericVmem::<Mem, TimedMt>::new(memory());
    let size = pages * PAGE_SIZE;
    // Warm up: grow once, so growth is not measured.
    let p = vm.reserve(size, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { vm.release(p, size).unwrap() };
    HOLD_NS.store(0, Relaxed);
    HOLD_MAX_NS.store(0, Relaxed);
    HOLDS.store(0, Relaxed);
    for _ in 0..reps {
        let p = vm.reserve(size, PAGE_SIZE).unwrap().as_ptr();
        // SAFETY: ours.
        unsafe {
            vm.decommit(p, size).unwrap();
            vm.commit(p, size).unwrap();
            vm.release(p, size).unwrap();
        }
    }
    let holds = HOLDS.load(Relaxed).max(1);
    (
        HOLD_NS.load(Relaxed) as f64 / holds as f64,
        HOLD_MAX_NS.load(Relaxed),
    )
}
