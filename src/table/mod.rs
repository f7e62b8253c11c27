//! The page-state table: the exact state of every page an instance owns.
//!
//! # Encoding
//!
//! `pages[i]` is the [`PageState`] of the 16 KiB page at linear-memory
//! offset `i * PAGE_SIZE`, for every page below `pages.len()`, which is the
//! end of the last growth this instance has seen. Pages the instance did not
//! grow itself (data, stack, the global allocator's heap, anything grown by
//! other code) are `Foreign` and stay so. Metadata is five bytes per page of
//! linear memory (its state and the free-run tag, `runs.rs`) plus the run
//! nodes, so it grows with the memory managed.
//! It lives in pages the instance grew for it ([`Storage`]), which are
//! `Metadata` here: owned, never free, never handed out. When the table
//! moves to a larger storage, the old one's pages become `FreeDirty`.
//!
//! `free` lists the maximal runs of free pages (`FreeZero` or `FreeDirty`):
//! sorted by start, disjoint and never adjacent, i.e. always coalesced.
//! `count[s]` is the number of pages in state `s`.
//!
//! `claiming` counts pages that a `reserve` in flight has taken out of the
//! free runs but not yet processed: they still read `FreeZero` or
//! `FreeDirty` here, belong to no run, and become `Committed` batch by batch
//! ([`Table::claim_batch`]). Only the claimer knows them. Statistics count
//! them by their state (free) until then: which of them are zero is only
//! known page by page, and this keeps the sums of [`Stats`] exact at every
//! moment another thread can look.
//!
//! # Locking and allocation
//!
//! A `Table` is plain data with no unsafe code of its own (its vectors'
//! is in `storage.rs`). The single-threaded build owns it outright; the
//! multithreaded build keeps it behind its spinlock, and every method here
//! runs under that lock. Nothing here allocates, ever: capacity comes from
//! outside the lock as a [`Storage`] region of linear memory, grown and
//! written by the caller before it takes the lock.
//!
//! Contents are never touched here either. Operations that need zeroing or a
//! sentinel record steps in a bounded [`Plan`], which the caller carries
//! out after releasing the lock, on pages it owns at that moment.

mod plan;
mod runs;
mod storage;

pub(crate) use plan::{Action, Plan, Run};
pub(crate) use storage::{Origin, Storage};

use crate::stats::Stats;
use crate::{BATCH_PAGES, PAGES_PER_WASM_PAGE, PAGE_SIZE, WASM_PAGE_SIZE};
use core::cell::Cell;
use runs::Runs;
use storage::{bytes_for, runs_bound, FixedVec};

/// What a claimer needs its pages to hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fill {
    /// Zero: dirty pages are zeroed, zero pages are not written.
    Zero,
    /// Anything: nothing is written (the global allocator's `alloc`, whose
    /// memory need not be initialised).
    Any,
}

/// The state of one page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum PageState {
    /// Not grown by this instance: never handed out, touched or zeroed.
    Foreign = 0,
    /// Free and known to read zero (fresh from `memory.grow`, or zeroed).
    FreeZero,
    /// Free and may hold old data.
    FreeDirty,
    /// Reserved and committed: the owner's data.
    Committed,
    /// Reserved, decommitted, and reads zero (the eager policy).
    DecommittedZero,
    /// Reserved, decommitted, holds a sentinel at its first byte and maybe
    /// old data (the lazy policy).
    DecommittedDirty,
    /// Grown by this instance to hold the table's own storage: owned, never
    /// free, never handed out, never zeroed.
    Metadata,
}

const STATES: usize = 7;

impl PageState {
    fn is_reserved(self) -> bool {
        matches!(
            self,
            PageState::Committed | PageState::DecommittedZero | PageState::DecommittedDirty
        )
    }
}

/// Counters that are not derived from page states.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    grows: u64,
    grown_pages: usize,
    bytes_zeroed: u64,
    bytes_zero_skipped: u64,
    sentinel_violations: u64,
}

/// The page-state table. See the module documentation for its invariants.
#[derive(Debug)]
pub(crate) struct Table {
    /// State of each page of linear memory below the end of our last growth.
    pages: FixedVec<PageState>,
    /// Maximal free runs, disjoint, never adjacent, indexed by address and
    /// by length.
    free: Runs,
    /// Pages per state, indexed by `PageState as usize`.
    count: [usize; STATES],
    /// Pages claimed by reserves in flight, not yet committed.
    claiming: usize,
    /// The pages holding `pages` and `free` (`Metadata`; empty before the
    /// first storage, or for storage outside the memory in unit tests).
    storage: Run,
    counters: Counters,
    /// The last fit [`find`](Self::find) or [`fits_at`](Self::fits_at)
    /// vouched for, (first page, start of the run that holds it), so that
    /// [`claim`](Self::claim) finds that run without a search.
    fit: Cell<(usize, usize)>,
}

/// How far back [`Table::fits_at`] looks for the run that holds a planned
/// start, in pages.
const HOLDER_REACH: usize = 256;

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

const PAGE_BYTES: u64 = PAGE_SIZE as u64;

impl Table {
    pub(crate) const fn new() -> Self {
        Self {
            pages: FixedVec::new(),
            free: Runs::new(),
            count: [0; STATES],
            claiming: 0,
            storage: Run { start: 0, len: 0 },
            counters: Counters {
                grows: 0,
                grown_pages: 0,
                bytes_zeroed: 0,
                bytes_zero_skipped: 0,
                sentinel_violations: 0,
            },
            fit: Cell::new((usize::MAX, 0)),
        }
    }

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

    /// Marks the pages this table owns (it grew them), for checks:
    /// `owned[p]` for every page `p` below `owned.len()`. Allocates nothing:
    /// the caller sized `owned` outside the lock (pages grown since are left
    /// out).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn mark_owned(&self, owned: &mut [bool]) {
        for (p, mark) in owned.iter_mut().enumerate().take(self.pages.len()) {
            *mark = self.pages[p] != PageState::Foreign;
        }
    }

    /// The longest free run, in pages (0 if none).
    pub(crate) fn longest_free(&self) -> usize {
        self.free.longest()
    }

    /// Pages the table describes: the end of the last growth it recorded.
    pub(crate) fn pages_len(&self) -> usize {
        self.pages.len()
    }

    /// Pages currently reserved (committed, decommitted or being claimed).
    pub(crate) fn reserved_pages(&self) -> usize {
        self.n(PageState::Committed)
            + self.claiming
            + self.n(PageState::DecommittedZero)
            + self.n(PageState::DecommittedDirty)
    }

    fn n(&self, state: PageState) -> usize {
        self.count[state as usize]
    }

    fn set(&mut self, page: usize, state: PageState) {
        let old = core::mem::replace(&mut self.pages[page], state);
        self.count[old as usize] -= 1;
        self.count[state as usize] += 1;
    }

    /// Whether every page of `start .. start + len` is reserved by a caller
    /// (committed or decommitted; not free, foreign, being claimed or out of
    /// bounds).
    pub(crate) fn is_reserved(&self, start: usize, len: usize) -> bool {
        match start.checked_add(len) {
            Some(end) if end <= self.pages.len() => {
                self.pages[start..end].iter().all(|s| s.is_reserved())
            }
            _ => false,
        }
    }

    /// A free run for `len` pages whose address is a multiple of `align`
    /// pages, `base` being the page number of offset 0: the shortest run
    /// that fits below 32 pages, a run of the shortest fitting size class
    /// above (`runs.rs`). Returns the first page of the fit, and remembers
    /// the run that holds it for [`claim`](Self::claim).
    pub(crate) fn find(&self, len: usize, align: usize, base: usize) -> Option<usize> {
        let (start, holder) = self.free.find(len, align, base)?;
        self.fit.set((start, holder));
        Some(start)
    }

    /// Whether `start .. start + len` is free, so that a caller that just
    /// grew the memory can take the pages it planned for: its fresh pages
    /// (and a free tail it planned to stitch), rather than whatever fit a
    /// concurrent release may have made adjacent meanwhile. The run that
    /// holds `start` is looked for at most [`HOLDER_REACH`] pages back: a
    /// plan whose run grew further back since (a rare race) says `false`,
    /// and the caller takes a fit elsewhere.
    pub(crate) fn fits_at(&self, start: usize, len: usize) -> bool {
        match self.holder(start, HOLDER_REACH) {
            Some(run) if start + len <= run.end() => {
                self.fit.set((start, run.start));
                true
            }
            _ => false,
        }
    }

    /// The free run that holds page `page`, looked for at most `reach`
    /// pages back (through the tags at run starts; a page that is not free
    /// ends the search).
    fn holder(&self, page: usize, reach: usize) -> Option<Run> {
        for p in (page.saturating_sub(reach)..=page).rev() {
            if !matches!(
                self.pages.get(p),
                Some(PageState::FreeZero | PageState::FreeDirty)
            ) {
                return None;
            }
            if let Some(run) = self.free.at(p) {
                return (page < run.end()).then_some(run);
            }
        }
        None
    }

    /// How many pages past `memory_pages` (the memory's current end) must be
    /// grown for `len` pages aligned to `align` pages to fit, if nobody else
    /// grows first. A free run ending at our end, when that is also the
    /// memory's end, is extended rather than wasted (stitching).
    /// Returns that count and the planned first page of the reservation.
    pub(crate) fn growth_needed(
        &self,
        len: usize,
        align: usize,
        base: usize,
        memory_pages: usize,
    ) -> (usize, usize) {
        let start = match self.free.ending_at(self.pages.len()) {
            Some(run) if self.pages.len() == memory_pages => run.start,
            _ => memory_pages,
        };
        let start = align_up(base + start, align) - base;
        ((start + len).saturating_sub(memory_pages).max(1), start)
    }

    /// How many pages past `memory_pages` (the memory's current end) must be
    /// grown so that the pages `end .. new_end` become free here, the
    /// reservation before `end` growing in place into them: `Some` only when
    /// this table's pages reach the memory's end and everything from `end`
    /// to there is free (or nothing). A growth that lands there is appended
    /// to that free tail.
    pub(crate) fn tail_growth_for(
        &self,
        end: usize,
        new_end: usize,
        memory_pages: usize,
    ) -> Option<usize> {
        if self.pages.len() != memory_pages || new_end <= memory_pages {
            return None;
        }
        let free_to_end = end == memory_pages
            || self
                .free
                .at(end)
                .is_some_and(|run| run.end() == memory_pages);
        free_to_end.then(|| new_end - memory_pages)
    }

    /// Takes `start .. start + len`, which [`find`](Self::find) or
    /// [`fits_at`](Self::fits_at) vouched for, out of the free runs: O(1),
    /// whatever the length or the number of runs (the holding run is the
    /// one they remembered). The pages are committed by
    /// [`claim_batch`](Self::claim_batch).
    pub(crate) fn claim(&mut self, start: usize, len: usize) {
        let run = match self.fit.get() {
            (at, holder) if at == start => self.free.at(holder),
            _ => self.holder(start, usize::MAX),
        };
        let run = run.expect("a free run holds the claim");
        debug_assert!(run.start <= start && start + len <= run.end());
        let left = Run {
            start: run.start,
            len: start - run.start,
        };
        let right = Run {
            start: start + len,
            len: run.end() - (start + len),
        };
        match (left.len > 0, right.len > 0) {
            (true, true) => {
                self.free.replace(run.start, left);
                self.insert_run_at(right);
            }
            (true, false) => self.free.replace(run.start, left),
            (false, true) => self.free.replace(run.start, right),
            (false, false) => self.free.remove(run.start),
        }
        self.claiming += len;
    }

    /// [`claim`](Self::claim)s `start .. start + len` and plans its first
    /// batch ([`claim_batch`](Self::claim_batch)); returns where that
    /// stopped.
    pub(crate) fn claim_and_plan(
        &mut self,
        start: usize,
        len: usize,
        fill: Fill,
        plan: &mut Plan,
    ) -> usize {
        self.claim(start, len);
        self.claim_batch(start, start + len, fill, plan)
    }

    /// Commits claimed pages `from .. end`, at most [`BATCH_PAGES`] and until
    /// the plan is full; returns where it stopped. Pages that read zero are
    /// committed as they are; dirty ones are planned for zeroing, unless
    /// the claimer takes them as they are ([`Fill::Any`]).
    pub(crate) fn claim_batch(
        &mut self,
        from: usize,
        end: usize,
        fill: Fill,
        plan: &mut Plan,
    ) -> usize {
        for page in from..end.min(from + BATCH_PAGES) {
            if fill == Fill::Any {
                // Nothing to write, nothing skipped: no zero was asked for.
            } else if self.pages[page] == PageState::FreeZero {
                self.counters.bytes_zero_skipped += PAGE_BYTES;
            } else {
                debug_assert_eq!(self.pages[page], PageState::FreeDirty);
                if !plan.push(page, Action::Zero) {
                    return page;
                }
                self.counters.bytes_zeroed += PAGE_BYTES;
            }
            self.set(page, PageState::Committed);
            self.claiming -= 1;
        }
        end.min(from + BATCH_PAGES)
    }

    /// Commits reserved pages `from .. end`, at most [`BATCH_PAGES`] and
    /// until the plan is full; returns where it stopped (`end` when done).
    /// Decommitted pages that read zero are committed as they are; dirty
    /// ones are planned for zeroing; committed pages keep their contents.
    pub(crate) fn commit_batch(&mut self, from: usize, end: usize, plan: &mut Plan) -> usize {
        let end = end.min(from + BATCH_PAGES);
        for page in from..end {
            let action = match self.pages[page] {
                PageState::DecommittedZero => {
                    self.counters.bytes_zero_skipped += PAGE_BYTES;
                    self.set(page, PageState::Committed);
                    continue;
                }
                PageState::DecommittedDirty => Action::CheckSentinelThenZero,
                _ => continue,
            };
            if !plan.push(page, action) {
                return page;
            }
            self.counters.bytes_zeroed += PAGE_BYTES;
            self.set(page, PageState::Committed);
        }
        end
    }

    /// Decommits reserved pages `from .. end`, at most [`BATCH_PAGES`] and
    /// until the plan is full; returns where it stopped. Eager: committed pages are planned for
    /// zeroing and become `DecommittedZero`. Lazy: they get a sentinel and
    /// become `DecommittedDirty`. Decommitted pages are left alone.
    pub(crate) fn decommit_batch(
        &mut self,
        from: usize,
        end: usize,
        eager: bool,
        plan: &mut Plan,
    ) -> usize {
        let (action, state) = if eager {
            (Action::Zero, PageState::DecommittedZero)
        } else {
            (Action::WriteSentinel, PageState::DecommittedDirty)
        };
        let end = end.min(from + BATCH_PAGES);
        for page in from..end {
            if self.pages[page] != PageState::Committed {
                continue;
            }
            if !plan.push(page, action) {
                return page;
            }
            if eager {
                self.counters.bytes_zeroed += PAGE_BYTES;
            }
            self.set(page, state);
        }
        end
    }

    /// Frees reserved pages `from .. end`, at most [`BATCH_PAGES`], and
    /// coalesces them with their free neighbours; returns where it stopped.
    /// Pages that read zero stay known zero. Nothing is written to page
    /// contents, so `_plan` stays empty: the parameter gives release the
    /// shape of the other batched operations.
    pub(crate) fn release_batch(&mut self, from: usize, end: usize, _plan: &mut Plan) -> usize {
        let end = end.min(from + BATCH_PAGES);
        for page in from..end {
            let state = match self.pages[page] {
                PageState::DecommittedZero => PageState::FreeZero,
                _ => PageState::FreeDirty,
            };
            self.set(page, state);
        }
        self.insert_run(Run {
            start: from,
            len: end - from,
        });
        end
    }

    /// Records that `memory.grow` gave this instance the pages `start ..
    /// start + len`, reading zero if `zero`. Pages between the previous end
    /// and `start` were grown by someone else and become `Foreign`; pages
    /// another of our threads marked foreign that way but that this growth
    /// owns are taken back. Returns `false`, changing nothing, when the
    /// capacity is too small.
    pub(crate) fn insert_grown(&mut self, start: usize, len: usize, zero: bool) -> bool {
        let state = if zero {
            PageState::FreeZero
        } else {
            PageState::FreeDirty
        };
        self.record(Run { start, len }, state)
    }

    /// Records pages this instance grew, in `state` (free, or `Metadata`),
    /// as [`insert_grown`](Self::insert_grown) says; counts one growth.
    /// Returns `false`, changing nothing, when the capacity is too small.
    fn record(&mut self, run: Run, state: PageState) -> bool {
        let Run { start, len } = run;
        let end = start + len;
        if end > self.pages.capacity()
            || runs_bound(end.max(self.pages.len()), self.counters.grown_pages + len)
                > self.free.capacity()
            || end > u32::MAX as usize
        {
            return false;
        }
        // New pages are appended with one fill each for the foreign gap and
        // the growth (capacity was checked above, so nothing allocates);
        // only pages another thread recorded as foreign are set one by one.
        let old_len = self.pages.len();
        if old_len < start {
            self.pages.resize(start, PageState::Foreign);
            self.count[PageState::Foreign as usize] += start - old_len;
        }
        for page in start..end.min(old_len) {
            debug_assert_eq!(self.pages[page], PageState::Foreign);
            self.set(page, state);
        }
        if self.pages.len() < end {
            let from = self.pages.len();
            self.pages.resize(end, state);
            self.count[state as usize] += end - from;
        }
        self.free.describe(self.pages.len());
        if state != PageState::Metadata {
            self.insert_run(Run { start, len });
        }
        self.counters.grows += 1;
        self.counters.grown_pages += len;
        true
    }

    pub(crate) fn add_sentinel_violations(&mut self, count: u64) {
        self.counters.sentinel_violations += count;
    }

    /// Inserts a run of newly free pages, merging it with adjacent runs.
    fn insert_run(&mut self, run: Run) {
        let prev = self.free.ending_at(run.start);
        let next = self.free.at(run.end());
        match (prev, next) {
            (Some(p), Some(n)) => {
                self.free.remove(n.start);
                let merged = Run {
                    start: p.start,
                    len: p.len + run.len + n.len,
                };
                self.free.replace(p.start, merged);
            }
            (Some(p), None) => self.free.replace(
                p.start,
                Run {
                    start: p.start,
                    len: p.len + run.len,
                },
            ),
            (None, Some(n)) => self.free.replace(
                n.start,
                Run {
                    start: run.start,
                    len: run.len + n.len,
                },
            ),
            (None, None) => self.insert_run_at(run),
        }
    }

    fn insert_run_at(&mut self, run: Run) {
        let inserted = self.free.insert(run);
        debug_assert!(inserted, "table allocates");
    }

    /// This table's figures, to be summed over the arenas; the linear
    /// memory size and the peak are the instance's, set by the caller
    /// (0 here). Byte figures are `u64`: on wasm32 they reach 4 GiB, one more than
    /// `usize` holds.
    pub(crate) fn stats(&self) -> Stats {
        let bytes = |pages: usize| pages as u64 * PAGE_BYTES;
        let state = |state| bytes(self.n(state));
        let c = &self.counters;
        Stats {
            // Pages of a reserve in flight count as free until processed
            // (module docs); `reserved_pages` includes them.
            reserved_bytes: bytes(self.reserved_pages() - self.claiming),
            committed_bytes: state(PageState::Committed),
            decommitted_bytes: state(PageState::DecommittedZero)
                + state(PageState::DecommittedDirty),
            free_zero_bytes: state(PageState::FreeZero),
            free_dirty_bytes: state(PageState::FreeDirty),
            metadata_bytes: state(PageState::Metadata),
            owned_bytes: bytes(self.pages.len() - self.n(PageState::Foreign)),
            linear_memory_bytes: 0,
            peak_reserved_bytes: 0,
            free_runs: self.free.len(),
            grows: c.grows,
            bytes_zeroed: c.bytes_zeroed,
            bytes_zero_skipped: c.bytes_zero_skipped,
            sentinel_violations: c.sentinel_violations,
        }
    }

    /// Checks every invariant of the module documentation; panics on a
    /// broken one (tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn check_invariants(&self) {
        let mut count = [0; STATES];
        for &s in self.pages.iter() {
            count[s as usize] += 1;
        }
        assert_eq!(count, self.count, "per-state counts");
        self.free.check();
        let mut free_pages = 0;
        let mut last_end = None;
        self.free.for_each(|run| {
            assert!(run.len > 0 && run.end() <= self.pages.len(), "run {run:?}");
            assert!(last_end.is_none_or(|e| e < run.start), "runs apart");
            last_end = Some(run.end());
            for &s in &self.pages[run.start..run.end()] {
                assert!(matches!(s, PageState::FreeZero | PageState::FreeDirty));
            }
            free_pages += run.len;
        });
        let free_states =
            count[PageState::FreeZero as usize] + count[PageState::FreeDirty as usize];
        assert_eq!(
            free_pages + self.claiming,
            free_states,
            "every free page is in a run or claimed by a reserve in flight"
        );
        assert!(self.free.len() <= runs_bound(self.pages.len(), self.counters.grown_pages));
        assert_eq!(
            self.counters.grown_pages,
            self.pages.len() - count[PageState::Foreign as usize],
            "owned pages are exactly the grown ones"
        );
        assert_eq!(
            count[PageState::Metadata as usize],
            self.storage.len,
            "metadata pages are exactly the storage's"
        );
        for &s in &self.pages[self.storage.start..self.storage.end()] {
            assert_eq!(s, PageState::Metadata, "storage pages are metadata");
        }
        assert!(self.free.slots_used() <= self.free.capacity());
    }

    /// The pages holding this table's storage (tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn storage_pages(&self) -> (usize, usize) {
        (self.storage.start, self.storage.len)
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

/// Rounds `x` up to a multiple of `align`, a power of two.
pub(crate) fn align_up(x: usize, align: usize) -> usize {
    (x + align - 1) & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::plan::{Step, PLAN_STEPS};
    use super::*;

    /// A table that can describe `capacity` pages, its storage in a host
    /// buffer (returned: keep it alive as long as the table).
    fn table(capacity: usize) -> (Table, std::vec::Vec<u64>) {
        let want = (capacity, capacity / 2 + 1);
        let bytes = storage::bytes_for(want.0, want.1).unwrap();
        let mut buf = std::vec![0u64; bytes.div_ceil(8) + PAGE_SIZE / 8];
        let addr = buf
            .as_mut_ptr()
            .expose_provenance()
            .next_multiple_of(PAGE_SIZE);
        let mut t = Table::new();
        // SAFETY: `bytes` from a page-aligned address inside `buf`, which
        // the caller keeps alive and does not touch while the table lives.
        let spare = unsafe { Storage::from_raw(addr, bytes, want) };
        assert_eq!(t.adopt(spare), Adopted::Yes);
        (t, buf)
    }

    /// Releases `start .. start + len` batch by batch.
    fn release(t: &mut Table, start: usize, len: usize) {
        let mut from = start;
        while from < start + len {
            from = t.release_batch(from, start + len, &mut Plan::new());
        }
    }

    fn free(t: &Table) -> std::vec::Vec<Run> {
        let mut runs = std::vec::Vec::new();
        t.free.for_each(|r| runs.push(r));
        runs
    }

    fn run(start: usize, len: usize) -> Run {
        Run { start, len }
    }

    /// Claims and commits `start .. start + len`; returns the content steps.
    fn take(t: &mut Table, start: usize, len: usize) -> std::vec::Vec<Step> {
        t.claim(start, len);
        let mut steps = std::vec::Vec::new();
        let mut from = start;
        while from < start + len {
            let mut plan = Plan::new();
            from = t.claim_batch(from, start + len, Fill::Zero, &mut plan);
            steps.extend_from_slice(plan.steps());
        }
        steps
    }

    #[test]
    fn storage_plans_describe_their_own_pages() {
        let t = Table::new();
        assert_eq!(t.storage_plan(8, 4, 4), Some((1, (64, 16))));
        for pages in [1000, 1 << 16, 1 << 18] {
            let (wasm, (states, nodes)) = t.storage_plan(pages, pages, pages).unwrap();
            let own = wasm * PAGES_PER_WASM_PAGE;
            assert!(states >= pages + own, "the region's own pages too");
            assert!(nodes >= runs_bound(pages + own, pages + own));
            let bytes = storage::bytes_for(states, nodes).unwrap();
            assert!(bytes <= wasm * WASM_PAGE_SIZE && bytes > (wasm - 1) * WASM_PAGE_SIZE);
        }
    }

    #[test]
    fn adopting_retires_the_old_storage_and_takes_back_what_is_not_needed() {
        let mut mem = std::vec![0u64; 41 * PAGE_SIZE / 8];
        let base = mem
            .as_mut_ptr()
            .expose_provenance()
            .next_multiple_of(PAGE_SIZE);
        let region = |start: usize, len: usize, want| {
            let run = Run { start, len };
            // SAFETY: pages of `mem` (40 of them from `base`), which
            // outlives the table; each region is given once.
            unsafe { Storage::from_region(base + start * PAGE_SIZE, run, want, Origin::Grown) }
        };
        let mut t = Table::new();
        // The first storage: pages 0 .. 4, metadata.
        assert_eq!(t.adopt(region(0, 4, (64, 16))), Adopted::Yes);
        assert_eq!((t.pages.len(), t.n(PageState::Metadata)), (4, 4));
        assert!(t.insert_grown(4, 4, true));
        // One more sized like it (another thread's, say): not needed, its
        // pages are free pages that read zero.
        assert_eq!(t.adopt(region(8, 4, (64, 16))), Adopted::TakenBack);
        assert_eq!(free(&t), [run(4, 8)]);
        t.check_invariants();
        // A larger one: the table moves, the old pages are free and dirty.
        take(&mut t, 4, 2);
        assert_eq!(t.adopt(region(12, 8, (8000, 3000))), Adopted::Yes);
        assert_eq!(t.storage_pages(), (12, 8));
        assert_eq!(free(&t), [run(0, 4), run(6, 6)]);
        assert_eq!(t.n(PageState::FreeDirty), 4);
        assert!(t.pages.capacity() >= 8000 && t.free.capacity() >= 3000);
        assert_eq!(t.counters.grows, 4, "every region counts as a growth");
        let s = t.stats();
        assert_eq!(s.metadata_bytes, 8 * PAGE_BYTES);
        assert_eq!(
            s.owned_bytes,
            s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
        );
        t.check_invariants();
        // A region too small to describe itself so high up, and that the
        // table cannot describe either: handed back, nothing changes.
        let far = Run {
            start: 20_000,
            len: 1,
        };
        // SAFETY: a page of `mem`, never carved (the table cannot use it).
        let spare =
            unsafe { Storage::from_region(base + 36 * PAGE_SIZE, far, (0, 0), Origin::Grown) };
        let before = t.stats();
        assert_eq!(t.adopt(spare), Adopted::No(far));
        assert_eq!(t.stats(), before);
        assert!(!t.take_back(far));
        t.check_invariants();
        // `mem` outlives the table, which is not used past here.
        drop(mem);
    }

    #[test]
    fn a_storage_in_a_claimed_free_run_becomes_metadata_or_free_again() {
        let mut mem = std::vec![0u64; 41 * PAGE_SIZE / 8];
        let base = mem
            .as_mut_ptr()
            .expose_provenance()
            .next_multiple_of(PAGE_SIZE);
        let region = |run: Run, want, origin| {
            // SAFETY: pages of `mem` (40 of them from `base`), which
            // outlives the table; each region is given once.
            unsafe { Storage::from_region(base + run.start * PAGE_SIZE, run, want, origin) }
        };
        let mut t = Table::new();
        assert_eq!(
            t.adopt(region(run(0, 4), (64, 16), Origin::Grown)),
            Adopted::Yes
        );
        assert!(t.insert_grown(4, 36, false));
        take(&mut t, 4, 10);
        take(&mut t, 22, 18);
        assert_eq!(free(&t), [run(14, 8)]);
        let grows = t.counters.grows;
        // Best fit among the free runs; claimed, the pages are in no run
        // and still count as free.
        assert_eq!(t.claim_free(9), None, "no run fits");
        let hole = t.claim_free(6).unwrap();
        assert_eq!(hole, run(14, 6));
        assert_eq!((free(&t), t.claiming), (std::vec![run(20, 2)], 6));
        t.check_invariants();
        assert_eq!(
            t.adopt(region(hole, (8000, 3000), Origin::Claimed)),
            Adopted::Yes
        );
        assert_eq!(t.storage_pages(), (14, 6));
        assert_eq!(t.claiming, 0);
        assert_eq!(free(&t), [run(0, 4), run(20, 2)], "the old storage is free");
        assert_eq!(t.counters.grows, grows, "no growth counted");
        t.check_invariants();
        // One that is not needed (the table can describe what it was for)
        // returns to the free runs, reading zero (it was written whole).
        let hole = t.claim_free(2).unwrap();
        assert_eq!(hole, run(20, 2));
        assert_eq!(
            t.adopt(region(hole, (64, 16), Origin::Claimed)),
            Adopted::TakenBack
        );
        assert_eq!(t.claiming, 0);
        assert_eq!(free(&t), [run(0, 4), run(20, 2)]);
        assert!(t.pages[20..22].iter().all(|&s| s == PageState::FreeZero));
        let s = t.stats();
        assert_eq!(
            s.owned_bytes,
            s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
        );
        t.check_invariants();
        // `mem` outlives the table, which is not used past here.
        drop(mem);
    }

    #[test]
    fn growth_marks_gap_foreign_and_stitches_contiguous_growth() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(4, 4, true));
        assert_eq!(t.pages[..4], [PageState::Foreign; 4]);
        assert!(t.insert_grown(8, 4, true));
        assert_eq!(free(&t), [run(4, 8)], "contiguous growth is one run");
        assert!(t.insert_grown(16, 4, true));
        assert_eq!(free(&t), [run(4, 8), run(16, 4)], "foreign gap splits runs");
        assert_eq!(t.n(PageState::Foreign), 8);
        t.check_invariants();
    }

    #[test]
    fn growth_reclaims_pages_another_thread_marked_foreign() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(8, 4, true)); // a later grow was recorded first
        assert!(t.insert_grown(4, 4, true)); // the earlier one arrives
        assert_eq!(free(&t), [run(4, 8)]);
        assert_eq!(t.n(PageState::Foreign), 4);
        t.check_invariants();
    }

    #[test]
    fn growth_refused_without_capacity() {
        let (mut t, _m) = table(8);
        assert!(!t.insert_grown(8, 4, true));
        assert!(t.pages.is_empty());
        t.check_invariants();
    }

    #[test]
    fn find_is_best_fit_and_aligned() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(0, 40, true));
        take(&mut t, 0, 40);
        release(&mut t, 2, 10); // run 2..12
        release(&mut t, 20, 3); // run 20..23
        assert_eq!(t.find(3, 1, 0), Some(20), "smallest run that fits");
        assert_eq!(t.find(4, 1, 0), Some(2));
        assert_eq!(t.find(4, 4, 0), Some(4), "aligned to 4 pages");
        assert_eq!(t.find(4, 4, 1), Some(3), "alignment counts from the base");
        assert_eq!(t.find(9, 4, 0), None);
        assert_eq!(t.find(11, 1, 0), None);
        t.check_invariants();
    }

    #[test]
    fn claim_splits_and_release_coalesces() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(0, 16, true));
        take(&mut t, 4, 4);
        assert_eq!(free(&t), [run(0, 4), run(8, 8)]);
        take(&mut t, 0, 4);
        assert_eq!(free(&t), [run(8, 8)]);
        release(&mut t, 4, 2);
        assert_eq!(free(&t), [run(4, 2), run(8, 8)]);
        release(&mut t, 6, 2);
        assert_eq!(free(&t), [run(4, 12)], "merged both ways");
        release(&mut t, 0, 4);
        assert_eq!(free(&t), [run(0, 16)]);
        t.check_invariants();
    }

    #[test]
    fn dirty_pages_are_zeroed_once_and_zero_pages_skipped() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(0, 8, true));
        take(&mut t, 0, 8);
        assert_eq!(t.counters.bytes_zero_skipped, 8 * PAGE_BYTES);
        release(&mut t, 2, 3);
        assert_eq!(t.n(PageState::FreeDirty), 3);
        let start = t.find(3, 1, 0).unwrap();
        assert_eq!(
            take(&mut t, start, 3),
            [Step {
                run: run(2, 3),
                action: Action::Zero
            }]
        );
        assert_eq!(t.counters.bytes_zeroed, 3 * PAGE_BYTES);
        t.check_invariants();
    }

    #[test]
    fn batches_are_bounded() {
        let (mut t, _m) = table(1024);
        assert!(t.insert_grown(0, 512, true));
        take(&mut t, 0, 512);
        let mut plan = Plan::new();
        assert_eq!(t.decommit_batch(0, 512, true, &mut plan), BATCH_PAGES);
        assert_eq!(plan.steps().len(), 1, "one contiguous step");
        plan.clear();
        assert_eq!(t.commit_batch(0, 512, &mut plan), BATCH_PAGES);
        plan.clear();
        release(&mut t, 0, 512);
        t.claim(0, 512);
        assert_eq!(t.claim_batch(0, 512, Fill::Zero, &mut plan), BATCH_PAGES);
        assert_eq!(t.reserved_pages(), 512, "claimed pages count as reserved");
    }

    #[test]
    fn commit_is_page_by_page() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(0, 8, true));
        take(&mut t, 0, 8);
        let mut plan = Plan::new();
        t.decommit_batch(2, 4, false, &mut plan);
        assert_eq!(plan.steps()[0].action, Action::WriteSentinel);
        plan.clear();
        t.decommit_batch(6, 7, true, &mut plan);
        plan.clear();
        assert_eq!(t.commit_batch(0, 8, &mut plan), 8);
        assert_eq!(
            plan.steps(),
            [Step {
                run: run(2, 2),
                action: Action::CheckSentinelThenZero
            }],
            "only the lazily decommitted pages are zeroed"
        );
        assert_eq!(t.n(PageState::Committed), 8);
        t.check_invariants();
    }

    #[test]
    fn full_plan_stops_and_resumes() {
        let (mut t, _m) = table(256);
        assert!(t.insert_grown(0, 100, true));
        take(&mut t, 0, 100);
        let mut plan = Plan::new();
        // Decommit every other page: 50 separate steps.
        for p in (0..100).step_by(2) {
            assert_eq!(t.decommit_batch(p, p + 1, true, &mut plan), p + 1);
            if plan.steps().len() == PLAN_STEPS {
                plan.clear();
            }
        }
        plan.clear();
        release(&mut t, 0, 100);
        let start = t.find(100, 1, 0).unwrap();
        t.claim(start, 100);
        let mut from = start;
        let mut batches = 0;
        let mut zeroed = 0;
        while from < 100 {
            plan.clear();
            from = t.claim_batch(from, 100, Fill::Zero, &mut plan);
            zeroed += plan.steps().iter().map(|s| s.run.len).sum::<usize>();
            batches += 1;
        }
        assert_eq!(zeroed, 50, "exactly the dirty pages, across batches");
        assert_eq!(batches, 50usize.div_ceil(PLAN_STEPS));
        t.check_invariants();
    }

    #[test]
    fn reserved_check_rejects_free_foreign_claimed_and_out_of_bounds() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(4, 8, false));
        t.claim(4, 4);
        assert!(!t.is_reserved(4, 1), "pages being claimed");
        let mut plan = Plan::new();
        t.claim_batch(4, 8, Fill::Zero, &mut plan);
        assert!(t.is_reserved(4, 4));
        assert!(!t.is_reserved(3, 2), "foreign");
        assert!(!t.is_reserved(7, 2), "free");
        assert!(!t.is_reserved(11, 2), "out of bounds");
        assert!(!t.is_reserved(usize::MAX, 2), "overflow");
    }

    #[test]
    fn growth_is_used_before_older_free_pages() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(0, 4, true));
        take(&mut t, 0, 4);
        release(&mut t, 0, 4); // dirty, then coalesced with the growth below
        assert!(t.insert_grown(4, 4, true));
        assert_eq!(free(&t), [run(0, 8)]);
        assert_eq!(
            t.find(4, 1, 0),
            Some(0),
            "plain best fit takes the dirty pages"
        );
        assert!(t.fits_at(4, 4), "the grower can take its fresh pages");
        assert!(!t.fits_at(5, 4));
        take(&mut t, 6, 2);
        assert!(!t.fits_at(4, 4), "no longer free");
    }

    #[test]
    fn growth_needed_extends_tail_only_at_memory_end() {
        let (mut t, _m) = table(64);
        assert!(t.insert_grown(0, 8, true));
        take(&mut t, 0, 6);
        assert_eq!(t.growth_needed(4, 1, 0, 8), (2, 6), "tail of 2 reused");
        assert_eq!(
            t.growth_needed(4, 1, 0, 12),
            (4, 12),
            "foreign growth after us"
        );
        assert_eq!(t.growth_needed(4, 4, 0, 8), (4, 8), "aligned start at 8");
    }
}
