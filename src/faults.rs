//! Deliberate faults for the loom models' broken variants (feature
//! `loom-faults`, and only under `--cfg loom`): each switch makes the real
//! code skip one piece of synchronisation, so that a model shows it fails
//! without it. Nothing here exists in any other build.
//!
//! The switch is a plain (not loom) atomic, set by a test outside
//! `loom::model`; the loom tests run one at a time
//! (`scripts/test-loom.sh`), and [`inject`]'s guard switches it off again.

use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// None: the real code.
    None = 0,
    /// A small block's free updates its owner arena's heap without taking
    /// that arena's lock (`GenericAlloc::dealloc`).
    FreeWithoutOwnerLock = 1,
    /// An arena's locked operations never take the spans waiting on its
    /// pending stack (`GenericAlloc`'s heap operations).
    PendingNeverTaken = 2,
    /// A new table storage found in a free run is taken out of the free
    /// runs only when adopted, after it was zeroed outside the lock
    /// (`Table::claim_free`, `Table::adopt`).
    StorageClaimedLate = 3,
    /// A block freed by another thread into a full span does not notify
    /// the span's owner (`Span::free_remote`).
    FullNeverNotified = 4,
    /// The owner gives a span back while a remote free that notified it
    /// may still be pushing it on the pending stack (`Heap::settle`,
    /// `Heap::trim`).
    RetireWhileNotified = 5,
}

static ACTIVE: AtomicU8 = AtomicU8::new(Fault::None as u8);

/// Switches `fault` on until the returned guard drops.
#[must_use = "the fault is switched off when the guard drops"]
pub fn inject(fault: Fault) -> Injected {
    ACTIVE.store(fault as u8, Relaxed);
    Injected(())
}

/// Switches the injected fault off when dropped.
#[derive(Debug)]
pub struct Injected(());

impl Drop for Injected {
    fn drop(&mut self) {
        ACTIVE.store(Fault::None as u8, Relaxed);
    }
}

/// Whether `fault` is switched on.
pub(crate) fn active(fault: Fault) -> bool {
    ACTIVE.load(Relaxed) == fault as u8
}
