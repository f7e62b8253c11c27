//! Statistics, limits and the invariant check, over every arena at once.

use super::GenericVmem;
use crate::policy::Policy;
use crate::stats::{Limits, Stats};
use crate::sync::atomic::Ordering::SeqCst;
use crate::sys::LinearMemory;
use crate::table::Table;
use crate::units::{PAGE_SIZE, WASM_PAGE_SIZE};

impl<M: LinearMemory, P: Policy> GenericVmem<M, P> {
    /// Exact statistics (see [`Stats`]).
    ///
    /// With several arenas, every arena is locked at once (in order) for
    /// the figures, so they are one consistent snapshot; the linear memory
    /// size is read after, outside the locks (it only grows, so it never
    /// falls below what the arenas own).
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        self.with_all_arenas(0, &mut |t| stats.add(&t.stats()), || ());
        stats.peak_reserved_bytes = self.counts.peak.0.load(SeqCst) as u64 * PAGE_SIZE as u64;
        // In `u64`: a wasm32 memory at its maximum holds 2^32 bytes.
        stats.linear_memory_bytes = self.memory.size() as u64 * WASM_PAGE_SIZE as u64;
        stats
    }

    /// Runs `visit` on the tables of arenas `i ..`, taking their locks in
    /// order and holding each until all are visited, then `then` with all
    /// of them still held: one snapshot. No deadlock: every other path
    /// holds one arena's lock at a time.
    pub(super) fn with_all_arenas<R>(
        &self,
        i: usize,
        visit: &mut impl FnMut(&Table),
        then: impl FnOnce() -> R,
    ) -> R {
        if i == Self::ARENAS {
            return then();
        }
        self.arenas[i].with(|t| {
            visit(t);
            self.with_all_arenas(i + 1, visit, then)
        })
    }

    /// GC-facing limits (see [`Limits`]).
    pub fn limits(&self) -> Limits {
        Limits::compute(self.memory.maximum(), self.memory.size(), self.limit)
    }

    /// Whether every page of `ptr .. ptr + size` is reserved, in one
    /// arena. For tests of this crate (the allocator's invariant check).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn is_reserved(&self, ptr: *mut u8, size: usize) -> bool {
        let Ok((start, len)) = self.range(ptr, size) else {
            return false;
        };
        self.search_order()
            .any(|a| self.arenas[a].with(|t| t.is_reserved(start, len)))
    }

    /// Checks the page table's invariants, panicking if one is broken. For
    /// tests of this crate; costs a walk over the whole table.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn check_invariants(&self) {
        // A reserve counts its pages before it claims them and a release
        // uncounts them after freeing them, so the tables never hold more
        // than the count, and as many when no call is in flight.
        let mut reserved = 0;
        let visit = &mut |t: &Table| {
            t.check_invariants();
            reserved += t.reserved_pages();
        };
        let counted = self.with_all_arenas(0, visit, || self.counts.reserved.load(SeqCst));
        assert!(reserved <= counted, "reserved pages {reserved} > {counted}");
        // Every page is owned by one arena at most. Ownership never changes
        // once a page is grown, so each arena is read under its lock once.
        let mut owner: alloc::vec::Vec<Option<usize>> = alloc::vec::Vec::new();
        for (a, arena) in self.arenas[..Self::ARENAS].iter().enumerate() {
            // Sized outside the lock: no allocation under it, even with
            // this instance as the global allocator.
            let mut owned = alloc::vec![false; arena.with(|t| t.pages_len())];
            arena.with(|t| t.mark_owned(&mut owned));
            for page in (0..owned.len()).filter(|&p| owned[p]) {
                if owner.len() <= page {
                    owner.resize(page + 1, None);
                }
                assert_eq!(owner[page], None, "page {page} owned by two arenas");
                owner[page] = Some(a);
            }
        }
    }
}
