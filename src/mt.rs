//! The multithreaded variant, for shared memory.
//!
//! A [`SpinLock`](crate::lock::SpinLock) guards the page table only; it never
//! waits, so the browser main thread may call everything. Decommit zeroes
//! eagerly, outside the lock; commit writes nothing. Fresh pages are known
//! zero because `memory.grow` returned exactly those pages to this caller —
//! never by comparing with a shared break, which another thread may move.
//! Zeroing and `memory.grow` always happen outside the lock, by the thread
//! that owns the pages at that moment.

use crate::policy::MultiThreaded;

/// Thread-safe virtual memory over `M` (`Sync` when `M` is): see the
/// [module](self) docs and [`GenericVmem`](crate::GenericVmem) for the
/// operations.
pub type Vmem<M> = crate::GenericVmem<M, MultiThreaded>;
