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
//! is in `fixed_vec.rs` and `storage.rs`). The single-threaded build owns it outright; the
//! multithreaded build keeps it behind its spinlock, and every method here
//! runs under that lock. Nothing here allocates, ever: capacity comes from
//! outside the lock as a [`Storage`] region of linear memory, grown and
//! written by the caller before it takes the lock.
//!
//! Contents are never touched here either. Operations that need zeroing or a
//! sentinel record steps in a bounded [`Plan`], which the caller carries
//! out after releasing the lock, on pages it owns at that moment.
//!
//! # Files
//!
//! The leaves depend on one another one way only, and never on this file:
//! `fixed_vec.rs` (the one container), `plan.rs` (runs of pages, content
//! actions) and `state.rs` (page states) at the bottom; `runs.rs` (the free
//! runs) over `fixed_vec` and `plan`; `storage.rs` (metadata regions carved
//! into vectors) over all four. This file holds the [`Table`] and its
//! operations; `adopt.rs` the adoption of a new storage (an `impl Table`),
//! `tests.rs` the unit tests.

mod adopt;
mod fixed_vec;
mod plan;
mod runs;
mod state;
mod storage;

pub(crate) use adopt::Adopted;
pub(crate) use plan::{Action, Plan, Run};
pub(crate) use storage::{Origin, Storage};

use crate::stats::Stats;
use crate::units::{align_up, BATCH_PAGES, PAGE_SIZE};
use core::cell::Cell;
use fixed_vec::FixedVec;
use runs::Runs;
use state::{PageState, STATES};
use storage::runs_bound;

/// What a claimer needs its pages to hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fill {
    /// Zero: dirty pages are zeroed, zero pages are not written.
    Zero,
    /// Anything: nothing is written (the global allocator's `alloc`, whose
    /// memory need not be initialised).
    Any,
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
    /// [`claim`](Self::claim) finds that run without a search; (0, 0)
    /// before the first, which `claim` checks like any other.
    fit: Cell<(usize, usize)>,
}

/// How far back [`Table::fits_at`] looks for the run that holds a planned
/// start, in pages.
const HOLDER_REACH: usize = 256;

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
            fit: Cell::new((0, 0)),
        }
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
    /// above (`runs.rs`), and the run at the end of the pages described
    /// only when no other holds a fit. Returns the first page of the fit,
    /// and remembers the run that holds it for [`claim`](Self::claim).
    pub(crate) fn find(&self, len: usize, align: usize, base: usize) -> Option<usize> {
        let (start, holder) = self.free.find(len, align, base, self.pages.len())?;
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
            (at, holder) if at == start => self
                .free
                .at(holder)
                .filter(|r| r.start <= start && start + len <= r.end()),
            _ => None,
        };
        let run = run
            .or_else(|| self.holder(start, usize::MAX))
            .expect("a free run holds the claim");
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
    /// the claimer takes them as they are ([`Fill::Any`]): then the plan
    /// counts them, so that the claimer learns whether its pages read zero.
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
                if self.pages[page] == PageState::FreeDirty {
                    plan.take_dirty();
                }
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

#[cfg(test)]
mod tests;
