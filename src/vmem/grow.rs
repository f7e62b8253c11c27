//! Growth of the linear memory for an arena, and of the arena's table
//! storage: grown (or claimed) outside the lock, then adopted under it.

use super::GenericVmem;
use crate::error::Error;
use crate::policy::Policy;
use crate::sys::LinearMemory;
use crate::table::{Adopted, Origin, Run, Storage};
use crate::units::{PAGES_PER_WASM_PAGE, PAGE_SIZE};

impl<M: LinearMemory, P: Policy> GenericVmem<M, P> {
    /// Grows linear memory by at least `pages` pages for `arena` and
    /// records them there; returns the first page grown.
    pub(super) fn grow(&self, arena: usize, pages: usize, size: usize) -> Result<usize, Error> {
        let oom = Error::OutOfMemory { size };
        let wasm_pages = pages.div_ceil(PAGES_PER_WASM_PAGE);
        let len = wasm_pages * PAGES_PER_WASM_PAGE;
        // Room in the table first, so grown pages are not lost for want of
        // metadata (a later foreign grow may still need a second round).
        // The storage's own growth comes first and pushes ours up by its
        // size, which `reserve_table` counts in.
        let expected_end = self.memory.size().saturating_add(wasm_pages);
        self.reserve_table(
            arena,
            expected_end.saturating_mul(PAGES_PER_WASM_PAGE),
            len,
            wasm_pages,
        )
        .ok_or(oom)?;
        let old = self.memory.grow(wasm_pages).ok_or(oom)?;
        let start = old * PAGES_PER_WASM_PAGE;
        self.reserve_table(arena, start + len, len, 0).ok_or(oom)?;
        let zero = self.memory.grown_pages_read_zero();
        if self.in_arena(arena, |t| t.insert_grown(start, len, zero)) {
            Ok(start)
        } else {
            Err(oom)
        }
    }

    /// Makes `arena`'s table able to describe `pages` pages after it grows
    /// by `grown` more pages of its own, growing linear memory for its
    /// storage outside the lock and writing that storage there (first-touch
    /// faults and zeroing are paid here, not under the lock). `then` is the
    /// wasm pages the caller grows next: when the memory's maximum is known
    /// and the storage and those pages together do not fit under it, this
    /// fails before growing anything, so that an out-of-memory reserve
    /// changes nothing.
    ///
    /// A storage region the table cannot use (another thread adopted a
    /// larger one first) becomes free pages of the table. One it cannot
    /// even describe (someone else's growth pushed it above every storage
    /// the table has) is kept here and given back once a larger storage is
    /// in; if growing that one fails, it stays foreign (docs/DESIGN.md §5).
    pub(super) fn reserve_table(
        &self,
        arena: usize,
        pages: usize,
        grown: usize,
        then: usize,
    ) -> Option<()> {
        /// Regions kept at once; more means foreign growth outran four
        /// storage growths in a row.
        const KEPT: usize = 4;
        let mut kept = [Run { start: 0, len: 0 }; KEPT];
        let mut n_kept = 0;
        loop {
            // Read before the lock: no code of the memory runs under it.
            let memory_pages = self.memory.size() * PAGES_PER_WASM_PAGE;
            // Kept regions are to be described, and owned, too.
            let kept_end = kept[..n_kept].iter().map(|r| r.end()).max().unwrap_or(0);
            let kept_len: usize = kept[..n_kept].iter().map(|r| r.len).sum();
            let plan = self.in_arena(arena, |t| {
                let Some((wasm_pages, want)) =
                    t.storage_plan(pages.max(kept_end), grown + kept_len, memory_pages)
                else {
                    for region in &kept[..n_kept] {
                        let taken = t.take_back(*region);
                        debug_assert!(taken, "the storage describes kept regions");
                    }
                    return None;
                };
                // A free run of the table's own first: a region grown at
                // the memory's end would sit between a free run there and
                // the caller's growth, which then no longer join
                // (docs/DESIGN.md §10, entry 27).
                let hole = t.claim_free(wasm_pages * PAGES_PER_WASM_PAGE);
                Some((wasm_pages, want, hole))
            });
            let Some((wasm_pages, want, hole)) = plan else {
                return Some(());
            };
            let (region, origin) = match hole {
                Some(region) => (region, Origin::Claimed),
                None => {
                    if n_kept == KEPT {
                        return None;
                    }
                    let fits = |max: usize| {
                        (memory_pages / PAGES_PER_WASM_PAGE)
                            .checked_add(wasm_pages)
                            .and_then(|n| n.checked_add(then))
                            .is_some_and(|n| n <= max)
                    };
                    if self.memory.maximum().is_some_and(|max| !fits(max)) {
                        return None;
                    }
                    let old = self.memory.grow(wasm_pages)?;
                    let region = Run {
                        start: old * PAGES_PER_WASM_PAGE,
                        len: wasm_pages * PAGES_PER_WASM_PAGE,
                    };
                    (region, Origin::Grown)
                }
            };
            // SAFETY: `memory.grow` returned these pages to this call
            // alone, or the table gave them to it as a claim; they lie
            // inside the memory.
            unsafe { self.zero(Some(region)) };
            let addr = self.memory.base() + region.start * PAGE_SIZE;
            // SAFETY: the region is inside the memory, which keeps it valid
            // and in place (`LinearMemory`), page-aligned (the base is a
            // wasm page), and only this call knows it (grown for it, or
            // claimed and so in no free run): from here on only the table
            // reaches it.
            let spare = unsafe { Storage::from_region(addr, region, want, origin) };
            let kept_now = &kept[..n_kept];
            let (adopted, taken) = self.in_arena(arena, |t| {
                let adopted = t.adopt(spare);
                // Regions kept from earlier rounds, when now described.
                let mut taken = [false; KEPT];
                for (i, region) in kept_now.iter().enumerate() {
                    taken[i] = t.take_back(*region);
                }
                (adopted, taken)
            });
            let mut i = 0;
            for j in 0..n_kept {
                if !taken[j] {
                    kept[i] = kept[j];
                    i += 1;
                }
            }
            n_kept = i;
            if let Adopted::No(region) = adopted {
                kept[n_kept] = region;
                n_kept += 1;
            }
        }
    }

    /// Grows `arena`'s table storage now, if needed, so that it describes
    /// `pages` pages: tests and loom models that want the storage in place
    /// before their scenario starts. Returns whether it could.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn prepare_metadata_in(&self, arena: usize, pages: usize) -> bool {
        self.reserve_table(arena % Self::ARENAS, pages, pages, 0)
            .is_some()
    }

    /// Where each arena's table keeps its metadata now: (address, bytes) of
    /// its storage region, in arena order, empty regions left out. For
    /// tests of this crate.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn metadata_regions(&self) -> alloc::vec::Vec<(usize, usize)> {
        let base = self.memory.base();
        self.arenas[..Self::ARENAS]
            .iter()
            .map(|arena| arena.with(|t| t.storage_pages()))
            .filter(|&(_, len)| len > 0)
            .map(|(start, len)| (base + start * PAGE_SIZE, len * PAGE_SIZE))
            .collect()
    }
}
