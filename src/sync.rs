//! The one place where the library touches synchronisation primitives.
//!
//! Everything that can race goes through this module: atomics, the spin
//! hint, and the cell that holds the page table. Under `cfg(loom)` each item
//! is loom's model-checked twin, so the `loom-tests/` crate explores every
//! interleaving of the real code rather than of a copy.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic;
#[cfg(loom)]
pub(crate) use loom::sync::atomic;

/// Tells the CPU (or, under loom, the scheduler) that this thread is
/// spinning. Every spin loop in the crate calls this and nothing else.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    core::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Spins before a spinning thread gives up its time slice (natively).
#[cfg(all(feature = "std", not(loom), not(target_arch = "wasm32")))]
const SPINS_BEFORE_YIELD: u32 = 128;

/// One round of waiting for a lock held by another thread: the spin hint
/// ([`spin_loop`]), and natively with `std`, every 128 rounds,
/// `std::thread::yield_now()`, so that a waiter does not burn the time
/// slice a descheduled holder needs (more threads than cores). Never a
/// wait: the thread stays runnable, and on wasm32 — where the browser main
/// thread may be the one spinning, and there is no scheduler to yield to —
/// it only spins. `spins` counts the rounds of this wait.
#[inline]
pub(crate) fn backoff(spins: &mut u32) {
    spin_loop();
    *spins = spins.wrapping_add(1);
    #[cfg(all(feature = "std", not(loom), not(target_arch = "wasm32")))]
    if spins.is_multiple_of(SPINS_BEFORE_YIELD) {
        std::thread::yield_now();
    }
}

/// `UnsafeCell` with loom's closure-based access API, so that loom can check
/// every access to the page table for a missing happens-before edge.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a raw pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Declares a function `const` except under loom, whose primitives cannot be
/// built in constant context (crossbeam's `const_fn!`).
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])* $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$attr])* $vis fn $($rest)*
    };
}
pub(crate) use const_fn;

/// `[value; N]` of a value that is not `Copy`, in constant context: one
/// per arena or heap of an instance. Under loom, whose primitives cannot be
/// built in constant context, it is built at run time.
macro_rules! array_of {
    ($n:expr, $value:expr) => {{
        #[cfg(not(loom))]
        let array = [const { $value }; $n];
        #[cfg(loom)]
        let array = core::array::from_fn(|_| $value);
        array
    }};
}
pub(crate) use array_of;
