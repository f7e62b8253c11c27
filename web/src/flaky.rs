//! A linear memory that refuses a chosen fraction of its grows: failure
//! injection for the demo's soak (`?failGrow=0.2`), with no test hook in
//! the library.
//!
//! [`FlakyMemory`] wraps any [`LinearMemory`] and forwards every item to
//! it, except that `grow` returns `None` — without growing — for a fraction
//! of the calls. Which calls fail is decided by a counter and a hash
//! (splitmix64), so a run asks the same sequence of "fail or not" whatever
//! the threads do; only which thread gets which answer varies. Injected
//! failures and the inner memory's own refusals are counted apart, and each
//! thread counts the failed grows it saw ([`failed_grows_here`]), so that a
//! caller can tell which of its own calls met one.

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use wasm_vmem::sys::LinearMemory;

/// The failure rate's unit: parts per million.
const PPM: u32 = 1_000_000;

/// A [`LinearMemory`] that refuses a settable fraction of its grows.
#[derive(Debug)]
pub struct FlakyMemory<M> {
    inner: M,
    /// Fraction of grows refused, in parts per million (0 ..= [`PPM`]).
    rate_ppm: AtomicU32,
    /// Grow calls so far; call `n` is refused when `hash(n) % PPM <
    /// rate_ppm`.
    calls: AtomicU64,
    /// Grows the inner memory carried out.
    grown: AtomicU64,
    /// Grows refused here, without asking the inner memory.
    injected: AtomicU64,
    /// Grows the inner memory refused by itself (its maximum, the engine).
    refused: AtomicU64,
}

/// What a [`FlakyMemory`] did with its grow calls since its counts were
/// last reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrowCounts {
    /// The failure rate, in parts per million.
    pub rate_ppm: u32,
    /// `grow` calls: `grown + injected + refused`.
    pub calls: u64,
    /// Grows carried out by the inner memory.
    pub grown: u64,
    /// Grows refused by injection.
    pub injected: u64,
    /// Grows the inner memory refused by itself.
    pub refused: u64,
}

impl GrowCounts {
    /// Grows that failed, injected or not.
    pub fn failed(&self) -> u64 {
        self.injected + self.refused
    }
}

std::thread_local! {
    /// Grows refused on this thread, injected or not, by every
    /// [`FlakyMemory`]. `const` and without a destructor: it never
    /// allocates.
    static FAILED_HERE: Cell<u64> = const { Cell::new(0) };
}

/// How many grows of any [`FlakyMemory`] failed on the calling thread so
/// far (injected or refused by the inner memory). Read before and after a
/// call, the difference is the failed grows that call met.
pub fn failed_grows_here() -> u64 {
    FAILED_HERE.with(Cell::get)
}

impl<M> FlakyMemory<M> {
    /// `inner`, refusing nothing until [`set_failure_rate`](Self::set_failure_rate).
    pub const fn new(inner: M) -> Self {
        Self {
            inner,
            rate_ppm: AtomicU32::new(0),
            calls: AtomicU64::new(0),
            grown: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Makes `rate` (clamped to 0 ..= 1; NaN is 0) of the following grows
    /// fail.
    pub fn set_failure_rate(&self, rate: f64) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.rate_ppm
            .store((rate * f64::from(PPM)).round() as u32, Relaxed);
    }

    /// The counts so far.
    pub fn counts(&self) -> GrowCounts {
        GrowCounts {
            rate_ppm: self.rate_ppm.load(Relaxed),
            calls: self.calls.load(Relaxed),
            grown: self.grown.load(Relaxed),
            injected: self.injected.load(Relaxed),
            refused: self.refused.load(Relaxed),
        }
    }

    /// Sets the counts to zero and restarts the sequence of decisions.
    /// Call it only while nobody grows.
    pub fn reset_counts(&self) {
        for c in [&self.calls, &self.grown, &self.injected, &self.refused] {
            c.store(0, Relaxed);
        }
    }

    /// The wrapped memory.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Whether grow call number `n` is to fail.
    fn refuse(&self, n: u64) -> bool {
        let rate = self.rate_ppm.load(Relaxed);
        rate > 0 && (splitmix64(n) % u64::from(PPM)) < u64::from(rate)
    }
}

/// The splitmix64 finalizer: a well-mixed hash of a counter.
pub(crate) fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// SAFETY: refusing a grow is always allowed: `grow` may return `None`, and
// then the memory is unchanged (its size does not decrease, nothing moves).
// Every other item, and every grow that is not refused, forwards to `M`,
// which upholds the contract: the bytes, `base()`, `size()`, the zeroing
// of grown pages and `fill`/`read_byte` are `M`'s; `Some(old)` is only ever
// `M::grow`'s answer, so its pages belong to this caller alone.
unsafe impl<M: LinearMemory> LinearMemory for FlakyMemory<M> {
    fn size(&self) -> usize {
        self.inner.size()
    }

    fn grow(&self, delta: usize) -> Option<usize> {
        if self.refuse(self.calls.fetch_add(1, Relaxed)) {
            self.injected.fetch_add(1, Relaxed);
            FAILED_HERE.with(|n| n.set(n.get() + 1));
            return None;
        }
        let grown = self.inner.grow(delta);
        match grown {
            Some(_) => &self.grown,
            None => {
                FAILED_HERE.with(|n| n.set(n.get() + 1));
                &self.refused
            }
        }
        .fetch_add(1, Relaxed);
        grown
    }

    fn base(&self) -> usize {
        self.inner.base()
    }

    fn maximum(&self) -> Option<usize> {
        self.inner.maximum()
    }

    fn grown_pages_read_zero(&self) -> bool {
        self.inner.grown_pages_read_zero()
    }

    unsafe fn fill(&self, addr: usize, len: usize, byte: u8) {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.inner.fill(addr, len, byte) }
    }

    unsafe fn read_byte(&self, addr: usize) -> u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.inner.read_byte(addr) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_vmem::sys::SimMemory;
    use wasm_vmem::{st, Error};

    #[test]
    fn refuses_the_fraction_asked_and_counts_it() {
        let m = FlakyMemory::new(SimMemory::new(64 << 20));
        for _ in 0..100 {
            assert!(m.grow(0).is_some(), "rate 0 refuses nothing");
        }
        m.reset_counts();
        m.set_failure_rate(0.25);
        let here = failed_grows_here();
        let refused = (0..10_000).filter(|_| m.grow(0).is_none()).count();
        assert!((2_200..2_800).contains(&refused), "{refused}");
        assert_eq!(failed_grows_here() - here, refused as u64);
        let c = m.counts();
        assert_eq!(
            (c.rate_ppm, c.calls, c.injected),
            (250_000, 10_000, refused as u64)
        );
        assert_eq!((c.grown + c.failed(), c.refused), (c.calls, 0));
        // The same sequence of decisions after a reset.
        m.reset_counts();
        let again = (0..10_000).filter(|_| m.grow(0).is_none()).count();
        assert_eq!(again, refused);
        m.set_failure_rate(1.0);
        assert!((0..100).all(|_| m.grow(1).is_none()));
        // Another thread's failures are not this thread's.
        let here = failed_grows_here();
        std::thread::scope(|s| {
            s.spawn(|| assert!(m.grow(1).is_none() && failed_grows_here() == 1));
        });
        assert_eq!(failed_grows_here(), here);
        m.set_failure_rate(f64::NAN);
        assert_eq!(m.counts().rate_ppm, 0);
    }

    #[test]
    fn the_inner_memorys_refusals_count_as_failed_here() {
        let m = FlakyMemory::new(SimMemory::new(1 << 20));
        let here = failed_grows_here();
        assert!(m.grow(1 << 10).is_none(), "beyond the inner maximum");
        assert_eq!(failed_grows_here() - here, 1);
        assert_eq!((m.counts().refused, m.counts().injected), (1, 0));
    }

    #[test]
    fn an_injected_failure_is_out_of_memory_and_changes_nothing() {
        let vm = st::Vmem::new(FlakyMemory::new(SimMemory::new(64 << 20)));
        let a = vm.reserve(1 << 20, 1 << 20).unwrap();
        let before = vm.stats();
        vm.memory().set_failure_rate(1.0);
        assert_eq!(
            vm.reserve(8 << 20, 1 << 20),
            Err(Error::OutOfMemory { size: 8 << 20 })
        );
        assert_eq!(vm.stats(), before);
        vm.memory().set_failure_rate(0.0);
        let b = vm.reserve(8 << 20, 1 << 20).unwrap();
        let c = vm.memory().counts();
        assert_eq!((c.injected, c.refused, c.grown), (1, 0, vm.stats().grows));
        // SAFETY: reservations of this instance, not used again.
        unsafe {
            vm.release(a.as_ptr(), 1 << 20).unwrap();
            vm.release(b.as_ptr(), 8 << 20).unwrap();
        }
    }
}
