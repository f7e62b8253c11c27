//! The threading policy: what varies between the two builds, and nothing
//! else. All the logic (table, validation, batching) is shared; a policy
//! only picks the lock and when decommitted pages are zeroed.

use crate::lock::{NoLock, SpinLock, TableLock};

/// A threading policy for [`GenericVmem`](crate::GenericVmem).
///
/// Every combination is correct: commit zeroes whatever the table says was
/// decommitted without being zeroed. The two policies below are the
/// designed pair; another lock (say, one with statistics) can be plugged in
/// by implementing this trait.
pub trait Policy {
    /// The lock around the page table.
    type Lock: TableLock;

    /// `true`: decommit zeroes at once (outside the lock) and commit zeroes
    /// nothing. `false`: decommit writes a sentinel and commit zeroes.
    const EAGER_DECOMMIT: bool;
}

/// The single-threaded build: no lock, lazy zeroing (sentinel on decommit,
/// zeroing on commit), the instance is `!Sync`.
#[derive(Debug, Clone, Copy)]
pub struct SingleThreaded;

impl Policy for SingleThreaded {
    type Lock = NoLock;
    const EAGER_DECOMMIT: bool = false;
}

/// The multithreaded build: a [`SpinLock`] around the table, eager zeroing
/// on decommit outside the lock, commit a no-op for zeroing.
#[derive(Debug, Clone, Copy)]
pub struct MultiThreaded;

impl Policy for MultiThreaded {
    type Lock = SpinLock;
    const EAGER_DECOMMIT: bool = true;
}
