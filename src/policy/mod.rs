//! The threading policy: what varies between the two builds, and nothing
//! else. All the logic (table, validation, batching) is shared; a policy
//! only picks the lock, how many arenas, and when decommitted pages are
//! zeroed.
//!
//! The two designed policies and the locks they use live here together:
//! [`SingleThreaded`] ([`st`](crate::st): no lock, lazy zeroing) and [`MultiThreaded`]
//! ([`mt`](crate::mt): arenas with a spinlock each, eager zeroing), with the locks in
//! [`lock`].

pub mod lock;
pub(crate) mod thread;

use crate::units::{MAX_ARENAS, MAX_HEAPS};
use lock::{NoLock, SpinLock, TableLock};

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

    /// Arenas: page tables with a lock each, over the pages each grew
    /// (1 to [`MAX_ARENAS`]). A thread reserves from its
    /// own arena (by its number: `policy::thread`), takes pages from another
    /// arena before the memory grows, and may operate on any reservation:
    /// the arena that owns its pages is found by asking. One arena is one
    /// lock over one pool.
    const ARENAS: usize = 1;

    /// Small-object heaps of the global allocator, each behind its own
    /// lock (1 to [`MAX_HEAPS`]; by default one per arena). A thread
    /// allocates from its own heap (by its number, as for arenas) and
    /// frees another heap's blocks without its lock. With one heap there
    /// is no other to free into, and the heap makes no atomic
    /// read-modify-write.
    const HEAPS: usize = Self::ARENAS;
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
    /// Under loom, two: every cross-arena path (a steal, an operation on
    /// another arena's pages, a snapshot of several) is there with two,
    /// and each more arena multiplies the branches loom explores.
    const ARENAS: usize = if cfg!(loom) { 2 } else { MAX_ARENAS };
    /// Under loom, two, as for arenas.
    const HEAPS: usize = if cfg!(loom) { 2 } else { MAX_HEAPS };
}

/// The multithreaded build with a lock that parks instead of spinning
/// (feature `parking`): eager zeroing on decommit, as [`MultiThreaded`].
///
/// When to pick it: for an instance used only by workers and native
/// threads — never by the browser main thread, where waiting traps — when
/// there are more threads than cores, or critical sections may wait behind a
/// descheduled holder; measured on 2 cores with 4 threads, the parking lock
/// kept 0.98× of one thread's throughput where the spinlock fell to 0.81×
/// (BENCHMARKS.md, "Throughput against threads"); since a spinning waiter
/// yields its time slice natively (docs/DESIGN.md §10, entry 26) the gap
/// is within noise there too (1.72–1.78× one thread against 1.69–1.94×).
/// With no more threads than cores the two are within noise. The main
/// thread, and anything it may call, keeps [`MultiThreaded`].
#[cfg(all(feature = "parking", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "parking")))]
#[derive(Debug, Clone, Copy)]
pub struct MultiThreadedParking;

#[cfg(all(feature = "parking", not(loom)))]
impl Policy for MultiThreadedParking {
    type Lock = lock::ParkingLock;
    const EAGER_DECOMMIT: bool = true;
    const ARENAS: usize = MAX_ARENAS;
    const HEAPS: usize = MAX_HEAPS;
}
