//! The two builds as types: `st` and `mt` name the instance and the
//! allocator of each policy (docs/DESIGN.md §3). At the API level, above
//! the policies, the page pool and the allocator it names.

pub mod st {
    //! The single-threaded variant.
    //!
    //! No lock; the instance is `!Sync`. Decommit writes a sentinel byte at
    //! each page boundary and marks the pages decommitted; commit zeroes
    //! exactly the pages the table says were decommitted (checking the
    //! sentinel first, as a use-after-decommit guard). Fresh pages are known
    //! zero from the table.

    /// Single-threaded virtual memory over `M`: see the [module](self) docs
    /// and [`GenericVmem`](crate::GenericVmem) for the operations.
    pub type Vmem<M> = crate::GenericVmem<M, crate::policy::SingleThreaded>;

    /// The single-threaded global allocator over `M`: no lock, one
    /// small-object heap; see [`GenericAlloc`](crate::GenericAlloc).
    pub type Alloc<M> = crate::GenericAlloc<M, crate::policy::SingleThreaded>;
}

pub mod mt {
    //! The multithreaded variant, for shared memory.
    //!
    //! The pages are spread over arenas, each a page table guarded by its own
    //! [`SpinLock`](crate::policy::lock::SpinLock) (see
    //! [`Policy::ARENAS`](crate::policy::Policy::ARENAS)); a lock guards its table
    //! only and never waits, so the browser main thread may call everything.
    //! Decommit zeroes eagerly, outside the lock; commit writes nothing.
    //! Fresh pages are known zero because `memory.grow` returned exactly
    //! those pages to this caller — never by comparing with a shared break,
    //! which another thread may move. Zeroing and `memory.grow` always happen
    //! outside the lock, by the thread that owns the pages at that moment.

    /// Thread-safe virtual memory over `M` (`Sync` when `M` is): see the
    /// [module](self) docs and [`GenericVmem`](crate::GenericVmem) for the
    /// operations.
    pub type Vmem<M> = crate::GenericVmem<M, crate::policy::MultiThreaded>;

    /// The multithreaded global allocator over `M`: a small-object heap per
    /// arena, each behind its own spinlock (the main thread may allocate);
    /// see [`GenericAlloc`](crate::GenericAlloc).
    pub type Alloc<M> = crate::GenericAlloc<M, crate::policy::MultiThreaded>;

    /// The multithreaded variant with a parking lock (feature `parking`):
    /// never for the browser main thread; see
    /// [`MultiThreadedParking`](crate::policy::MultiThreadedParking).
    #[cfg(all(feature = "parking", not(loom)))]
    #[cfg_attr(docsrs, doc(cfg(feature = "parking")))]
    pub type ParkingVmem<M> = crate::GenericVmem<M, crate::policy::MultiThreadedParking>;
}
