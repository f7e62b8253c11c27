//! The table's side of its metadata storage: how much storage it needs,
//! a free run of its own to hold a new one, and the adoption of a region
//! grown or claimed for it outside the lock (the region itself is
//! `storage.rs`; the caller's side is `vmem/grow.rs`).

use super::state::PageState;
use super::storage::{self, bytes_for, runs_bound, Origin, Storage};
use super::{Run, Table};
use crate::units::{PAGES_PER_WASM_PAGE, WASM_PAGE_SIZE};

/// What [`Table::adopt`] did with a storage region.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Adopted {
    /// The table moved into it; the old storage's pages are free (dirty).
    Yes,
    /// Not needed or too small (another thread adopted a larger one first):
    /// its pages are free pages of the table now.
    TakenBack,
    /// The table can neither use it nor describe its pages yet (it landed
    /// above what any storage the table has covers): the caller keeps it
    /// and offers it again with [`Table::take_back`] once the table has
    /// grown.
    No(Run),
}

impl Table {
    /// The storage (page states, run nodes) to provide so that the table
    /// can describe `pages` pages after growing by `grown` more pages of
    /// its own; `None` when it can already. Capacities at least double.
    pub(crate) fn storage_needed(&self, pages: usize, grown: usize) -> Option<(usize, usize)> {
        let nodes = runs_bound(pages, self.counters.grown_pages.saturating_add(grown));
        let (have_pages, have_nodes) = (self.pages.capacity(), self.free.capacity());
        (have_pages < pages || have_nodes < nodes).then(|| {
            (
                pages.max(have_pages.saturating_mul(2)).max(64),
                nodes.max(have_nodes.saturating_mul(2)).max(16),
            )
        })
    }

    /// The storage region to grow, in wasm pages, and the capacities it is
    /// for, so that the table can describe `pages` pages after growing by
    /// `grown` more pages of its own, the region included: the region is
    /// grown at the memory's end (`memory_pages` now), before any growth
    /// the caller plans, so it pushes that growth up by its own size.
    /// `None` when the storage is large enough already.
    pub(crate) fn storage_plan(
        &self,
        pages: usize,
        grown: usize,
        memory_pages: usize,
    ) -> Option<(usize, (usize, usize))> {
        let end = pages.max(memory_pages);
        let mut wasm_pages = 0usize;
        loop {
            let own = wasm_pages.saturating_mul(PAGES_PER_WASM_PAGE);
            let want = self.storage_needed(end.saturating_add(own), grown.saturating_add(own));
            let (states, nodes) = match want {
                Some(want) => want,
                None if wasm_pages == 0 => return None,
                // Unreachable: needs only grow with the region.
                None => return Some((wasm_pages, (0, 0))),
            };
            let bytes = bytes_for(states, nodes).unwrap_or(usize::MAX);
            let need = bytes.div_ceil(WASM_PAGE_SIZE);
            if need <= wasm_pages {
                return Some((wasm_pages, (states, nodes)));
            }
            wasm_pages = need;
        }
    }

    /// Claims a free run of `len` pages (a reserve's fit, any page) for a storage
    /// region, so that a new storage takes a hole among the table's pages
    /// instead of growing the memory (docs/DESIGN.md §10, entry 27). The
    /// pages count as free (claimed, like a reserve's in flight) until
    /// [`adopt`](Self::adopt) makes them metadata or gives them back.
    pub(crate) fn claim_free(&mut self, len: usize) -> Option<Run> {
        // Any page will do: no alignment, so the memory's base is moot.
        let start = self.find(len, 1, 0)?;
        if !claims_late() {
            self.claim(start, len);
        }
        Some(Run { start, len })
    }

    /// Moves the table into `spare` if that region can hold at least what
    /// the current storage holds (capacities never shrink: another thread
    /// may have made room for its own growth) and describe its own pages;
    /// the old storage's pages then become free and dirty. Otherwise the
    /// region's pages are taken back as free pages when the table can
    /// describe them, or handed back to the caller ([`Adopted::No`]; never
    /// for a region of [`Origin::Claimed`], which the table describes).
    /// `spare` was written whole outside the lock (it reads zero).
    pub(crate) fn adopt(&mut self, spare: Storage) -> Adopted {
        let region = spare.pages();
        let claimed = spare.origin() == Origin::Claimed;
        if claimed && claims_late() {
            let free = self.free.at(region.start);
            let still_free = free.is_some_and(|r| region.end() <= r.end());
            assert!(still_free, "the storage's pages were reserved meanwhile");
            self.claim(region.start, region.len);
        }
        if claimed {
            debug_assert!(region.len > 0 && region.end() <= self.pages.len());
            debug_assert!(self.claiming >= region.len);
        }
        let end = self.pages.len().max(region.end());
        let grown = self.counters.grown_pages + if claimed { 0 } else { region.len };
        let least = (
            self.pages.capacity().max(end),
            self.free.capacity().max(runs_bound(end, grown)),
        );
        let (want_states, want_nodes) = spare.want();
        let served = self.pages.capacity() >= want_states && self.free.capacity() >= want_nodes;
        // Another thread made room already: no copy, the pages are free.
        if served && region.len > 0 && self.give_back(region, claimed) {
            return Adopted::TakenBack;
        }
        let wanted = (least.0.max(want_states), least.1.max(want_nodes));
        let bytes = spare.bytes();
        let fits = |(s, n)| bytes_for(s, n).is_some_and(|b| b <= bytes);
        let chosen = [wanted, least].into_iter().find(|&c| fits(c));
        let Some((states, nodes)) = chosen.filter(|_| end <= u32::MAX as usize) else {
            return match self.give_back(region, claimed) {
                true => Adopted::TakenBack,
                false => Adopted::No(region),
            };
        };
        // What is left over goes to both, two page states per node (the
        // worst case of runs).
        let extra = (bytes - bytes_for(states, nodes).unwrap_or(bytes))
            / (2 * storage::PAGE_META_BYTES + storage::NODE_BYTES);
        let mut new = spare.carve(states + 2 * extra, nodes + extra);
        new.states.extend_from_slice(&self.pages);
        self.pages = new.states;
        let _old = self.free.move_into(new.nodes, new.tags, new.heads);
        // The old vectors are dropped above; their pages are free below.
        let old = core::mem::replace(&mut self.storage, region);
        if claimed {
            self.settle_claim(region, PageState::Metadata);
        } else if region.len > 0 {
            let recorded = self.record(region, PageState::Metadata);
            debug_assert!(recorded, "the new storage describes itself");
        }
        for page in old.start..old.end() {
            self.set(page, PageState::FreeDirty);
        }
        if old.len > 0 {
            self.insert_run(old);
        }
        Adopted::Yes
    }

    /// Records `region`, which this instance grew and wrote zeros to, as
    /// free pages that read zero, when the table can describe it; returns
    /// whether it did.
    pub(crate) fn take_back(&mut self, region: Run) -> bool {
        region.len > 0 && self.record(region, PageState::FreeZero)
    }

    /// A storage region the table does not adopt, back as free pages that
    /// read zero (it was written whole): claimed pages return to the free
    /// runs; grown ones are [taken back](Self::take_back). Returns whether
    /// the table took it.
    fn give_back(&mut self, region: Run, claimed: bool) -> bool {
        if !claimed {
            return self.take_back(region);
        }
        self.settle_claim(region, PageState::FreeZero);
        self.insert_run(region);
        true
    }

    /// Ends the claim of `region` (a storage's, [`claim_free`](Self::claim_free)),
    /// its pages now in `state`.
    fn settle_claim(&mut self, region: Run, state: PageState) {
        for page in region.start..region.end() {
            self.set(page, state);
        }
        self.claiming -= region.len;
    }
}

/// Whether [`Table::claim_free`] leaves its run free until
/// [`Table::adopt`]: never, except under the loom models' fault
/// `StorageClaimedLate`.
#[inline]
fn claims_late() -> bool {
    #[cfg(all(loom, feature = "loom-faults"))]
    if crate::faults::active(crate::faults::Fault::StorageClaimedLate) {
        return true;
    }
    false
}
