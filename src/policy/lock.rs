//! Locks around the page table: the threading policy's half of the seam.
//!
//! [`SpinLock`] is the multithreaded build's lock. It only ever spins —
//! never `memory.atomic.wait` — so the browser main thread, where waiting
//! traps, may call every function of the crate. Its critical sections are
//! table work only (no zeroing, no `memory.grow`, no allocation), which keeps
//! a spinning main thread's wait short.
//!
//! [`NoLock`] is the single-threaded build's: it does nothing and makes the
//! instance `!Sync`, so the compiler refuses to share it between threads.

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{backoff, const_fn, UnsafeCell};
use core::cell::Cell;
use core::marker::PhantomData;

/// A lock that can guard the page table.
///
/// # Safety
///
/// Implementors must guarantee, if `Self: Sync`: between a `lock` that
/// returns and the matching `unlock`, no other `lock` on the same value
/// returns, in any thread; `lock` has acquire and `unlock` release ordering,
/// so what one holder wrote is seen by the next. A type that is not `Sync`
/// may do nothing: it is confined to one thread, and the crate never nests
/// `lock` calls on one value.
pub unsafe trait TableLock {
    /// An unlocked lock.
    #[cfg(not(loom))]
    const INIT: Self;

    /// An unlocked lock (loom's primitives cannot be built in a constant).
    #[cfg(loom)]
    fn init() -> Self;

    /// Takes the lock, spinning as long as needed.
    fn lock(&self);

    /// Takes the lock if it is free now; `false` (not holding it) if not.
    /// The default takes it however long that takes: correct, but a lock
    /// that can refuse lets a thread that frees another thread's block hand
    /// it over instead of waiting (docs/DESIGN.md §9).
    fn try_lock(&self) -> bool {
        self.lock();
        true
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that they hold the lock.
    unsafe fn unlock(&self);
}

/// An unlocked `L`, in constant context where possible.
macro_rules! lock_init {
    ($l:ty) => {{
        #[cfg(not(loom))]
        let lock = <$l as $crate::policy::lock::TableLock>::INIT;
        #[cfg(loom)]
        let lock = <$l as $crate::policy::lock::TableLock>::init();
        lock
    }};
}
pub(crate) use lock_init;

/// A test-and-test-and-set spinlock that never waits, safe on the browser
/// main thread. It implements [`lock_api::RawMutex`], so
/// `lock_api::Mutex<SpinLock, T>` is a main-thread-safe mutex.
#[derive(Debug)]
pub struct SpinLock {
    /// `true` while held. A byte: with a 32-bit word the allocator's
    /// multithreaded build ran 15 % slower in V8, for a cause not found
    /// (decision 0045).
    locked: AtomicBool,
}

impl SpinLock {
    const_fn! {
        /// An unlocked spinlock.
        pub const fn new() -> Self {
            Self { locked: AtomicBool::new(false) }
        }
    }

    /// Takes the lock, spinning (never blocking) until it is free; natively
    /// a waiter gives up its time slice now and then (`sync::backoff`).
    #[inline]
    pub fn lock(&self) {
        // The uncontended case, one compare-and-swap, is inlined into every
        // caller; the waiting loop lives apart so that it does not keep
        // this one from being inlined.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    /// The waiting part of [`lock`](Self::lock): the lock was taken.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            // Spin on a plain load so waiting cores do not fight over the
            // cache line, and let the shim yield under loom.
            while self.locked.load(Ordering::Relaxed) {
                backoff(&mut spins);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Takes the lock if it is free.
    #[inline]
    pub fn try_lock(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that they hold the lock.
    #[inline]
    pub unsafe fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// Whether some thread holds the lock right now.
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

impl Default for SpinLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `lock` returns only after swapping `locked` from false to true
// with acquire ordering, and only `unlock` (release) sets it back, so at most
// one holder exists at a time and each sees its predecessor's writes.
unsafe impl TableLock for SpinLock {
    #[cfg(not(loom))]
    const INIT: Self = Self::new();

    #[cfg(loom)]
    fn init() -> Self {
        Self::new()
    }

    #[inline]
    fn lock(&self) {
        SpinLock::lock(self)
    }

    #[inline]
    fn try_lock(&self) -> bool {
        SpinLock::try_lock(self)
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (trait contract).
        unsafe { SpinLock::unlock(self) }
    }
}

// SAFETY: as for `TableLock` above; the guard marker is `GuardSend` because
// nothing ties the lock to the thread that took it.
#[cfg(not(loom))]
unsafe impl lock_api::RawMutex for SpinLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self::new();
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        SpinLock::lock(self)
    }

    fn try_lock(&self) -> bool {
        SpinLock::try_lock(self)
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (`RawMutex` contract).
        unsafe { SpinLock::unlock(self) }
    }

    fn is_locked(&self) -> bool {
        SpinLock::is_locked(self)
    }
}

/// A table lock that parks waiting threads (a futex natively,
/// `memory.atomic.wait` on wasm32 with atomics) instead of spinning:
/// `parking_lot`'s raw mutex. Never for an instance the browser main thread
/// may call, where waiting traps; see
/// [`MultiThreadedParking`](super::MultiThreadedParking).
#[cfg(all(feature = "parking", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "parking")))]
pub struct ParkingLock(parking_lot::RawMutex);

#[cfg(all(feature = "parking", not(loom)))]
impl core::fmt::Debug for ParkingLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ParkingLock")
    }
}

// SAFETY: `parking_lot::RawMutex` is a mutual-exclusion lock (the
// `lock_api::RawMutex` contract): once `lock` returns, no other `lock`
// returns until `unlock`; `lock` acquires and `unlock` releases. It is
// `Sync`, and `unlock` is only called by the holder (the caller's promise,
// passed on below).
#[cfg(all(feature = "parking", not(loom)))]
unsafe impl TableLock for ParkingLock {
    const INIT: Self = Self(<parking_lot::RawMutex as lock_api::RawMutex>::INIT);

    fn lock(&self) {
        lock_api::RawMutex::lock(&self.0)
    }

    fn try_lock(&self) -> bool {
        lock_api::RawMutex::try_lock(&self.0)
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (`TableLock::unlock`).
        unsafe { lock_api::RawMutex::unlock(&self.0) }
    }
}

/// The single-threaded build's lock: no lock at all. Being `!Sync`, it makes
/// the instance `!Sync`, so only one thread can ever reach the table.
#[derive(Debug, Default)]
pub struct NoLock {
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: `NoLock` is not `Sync`, so the contract only asks that the crate
// never nests `lock` calls, which `Locked::with` ensures.
unsafe impl TableLock for NoLock {
    #[cfg(not(loom))]
    const INIT: Self = Self {
        _not_sync: PhantomData,
    };

    #[cfg(loom)]
    fn init() -> Self {
        Self::default()
    }

    #[inline]
    fn lock(&self) {}

    #[inline]
    fn try_lock(&self) -> bool {
        true
    }

    #[inline]
    unsafe fn unlock(&self) {}
}

/// Data that is only reached with its lock held. Aligned to 128 bytes (two
/// cache lines, as adjacent-line prefetchers pair them) so that the arenas
/// of an instance, side by side in an array, never share a line: a thread
/// working in its own arena does not slow down the others.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Locked<L, T> {
    lock: L,
    /// Accessed only inside `with`, between `lock` and `unlock`.
    data: UnsafeCell<T>,
}

// SAFETY: `data` is only accessed in `with`, with `lock` held; a `Sync` lock
// excludes other threads for that span (`TableLock` contract), and `T: Send`
// lets the data be used from whichever thread holds the lock.
unsafe impl<L: TableLock + Sync, T: Send> Sync for Locked<L, T> {}

impl<L: TableLock, T> Locked<L, T> {
    const_fn! {
        pub(crate) const fn new(lock: L, data: T) -> Self {
            Self { lock, data: UnsafeCell::new(data) }
        }
    }

    /// Runs `f` on the data **without** taking the lock: the broken variant
    /// of [`with`](Self::with) for the loom models' fault injection
    /// ([`faults`](crate::faults)). Loom reports the unsynchronised access.
    #[cfg(all(loom, feature = "loom-faults"))]
    pub(crate) fn with_unlocked<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: deliberately none: a fault injected for loom, which
        // checks every access to the cell and reports this one.
        self.data.with_mut(|data| f(unsafe { &mut *data }))
    }

    /// Runs `f` on the data with the lock held. `f` must not call `with` on
    /// the same value (it may on another, in one fixed order): the crate's
    /// closures are table code only, and never
    /// call the `LinearMemory` implementation (whose methods may call into
    /// wasm-vmem: see its re-entrancy note).
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.lock();
        // SAFETY: just locked.
        unsafe { self.locked(f) }
    }

    /// [`with`](Self::with) if the lock is free now, `None` otherwise.
    #[inline]
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        // SAFETY: locked when `try_lock` says so.
        self.lock.try_lock().then(|| unsafe { self.locked(f) })
    }

    /// Runs `f` on the data, then unlocks.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that they have just taken the lock.
    #[inline]
    unsafe fn locked<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        struct Unlock<'a, L: TableLock>(&'a L);
        impl<L: TableLock> Drop for Unlock<'_, L> {
            fn drop(&mut self) {
                // SAFETY: created right after the caller's `lock` or
                // successful `try_lock`, dropped once.
                unsafe { self.0.unlock() }
            }
        }
        let _unlock = Unlock(&self.lock);
        self.data.with_mut(|data| {
            // SAFETY:
            // - the lock is held until `_unlock` drops, after `f` returns;
            // - for a `Sync` lock no other thread holds it (`TableLock`);
            //   for a non-`Sync` one the value never left this thread;
            // - `with` is not re-entered from `f` on this value: every
            //   closure the crate passes is table code only (`table/`: no
            //   calls into the memory seam or out of the crate, nor back
            //   into `with`),
            //   or small-object heap code (`allocator/heap.rs` and
            //   `span.rs`: lists and counters of spans already owned, no
            //   calls into the pool, the seam or the global allocator), or, in
            //   `GenericVmem::with_all_arenas`, takes the lock of a later
            //   arena, never this one; so this is the only reference to the
            //   data.
            f(unsafe { &mut *data })
        })
    }
}
