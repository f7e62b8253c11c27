//! The API: one instance over one linear memory, generic over the policy.

use crate::policy::lock::{lock_init, Locked};
use crate::policy::Policy;
use crate::stats::{Limits, Stats};
use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use crate::sync::{const_fn, per_arena};
use crate::sys::LinearMemory;
use crate::table::{align_up, Action, Adopted, Fill, Origin, Plan, Run, Storage, Table};
use crate::{Error, BATCH_PAGES, PAGES_PER_WASM_PAGE, PAGE_SIZE, WASM_PAGE_SIZE};
use core::marker::PhantomData;
use core::ptr::NonNull;

/// The byte written at each page boundary by a lazy decommit.
pub const SENTINEL: u8 = 0xDC;

/// Arenas an instance holds room for; a policy uses
/// [`Policy::ARENAS`](crate::policy::Policy::ARENAS) of them.
pub const MAX_ARENAS: usize = 8;

/// Growth attempts that plan to extend the free tail before falling back to
/// a growth that fits on its own (another thread or foreign code may grow
/// in between and break contiguity).
const STITCHING_ATTEMPTS: usize = 2;

/// Virtual memory over a linear memory `M` with threading policy `P`.
///
/// Use it through [`st::Vmem`](crate::st::Vmem),
/// [`mt::Vmem`](crate::mt::Vmem) or [`Vmem`](crate::Vmem) (the one the
/// `threads` feature selects).
///
/// What a reader of a range sees after each operation is stated on the
/// operation. Pages are 16 KiB ([`PAGE_SIZE`]); sizes are rounded up to whole
/// pages; addresses must be page-aligned. Every error leaves every
/// reservation unchanged (see [`Error`] for the one case where pages grown
/// before an out-of-memory error are kept, as free pages).
#[derive(Debug)]
pub struct GenericVmem<M, P: Policy> {
    memory: M,
    /// Most bytes reserved at once, or `None` for the memory maximum.
    limit: Option<u64>,
    /// The arenas: each a page table over the pages it grew, behind its own
    /// lock ([`Policy::ARENAS`], docs/DESIGN.md §8). Only the first
    /// `Self::ARENAS` are used.
    arenas: [Locked<P::Lock, Table>; MAX_ARENAS],
    /// Pages reserved in all arenas together, and the most ever: the limit
    /// and the peak. On lines of their own, away from every arena's.
    counts: Counts,
    /// Each arena's longest free run in pages, published under its lock
    /// after every change: a reserve that must look beyond its own arena
    /// skips, without locking them, arenas that cannot fit it.
    longest: [OwnLine; MAX_ARENAS],
    policy: PhantomData<P>,
}

impl<M, P: Policy> GenericVmem<M, P> {
    const_fn! {
        /// An instance over `memory`. It owns nothing yet: all memory that
        /// exists now is foreign and will never be touched.
        pub const fn new(memory: M) -> Self {
            Self {
                memory,
                limit: None,
                arenas: per_arena!(Locked::new(lock_init!(P::Lock), Table::new())),
                longest: per_arena!(OwnLine(AtomicUsize::new(0))),
                counts: Counts {
                    reserved: AtomicUsize::new(0),
                    peak: OwnLine(AtomicUsize::new(0)),
                },
                policy: PhantomData,
            }
        }
    }

    const_fn! {
        /// An instance that lets at most `limit_bytes` be reserved at once.
        pub const fn with_limit(memory: M, limit_bytes: u64) -> Self {
            let mut vmem = Self::new(memory);
            vmem.limit = Some(limit_bytes);
            vmem
        }
    }

    /// The linear memory.
    pub fn memory(&self) -> &M {
        &self.memory
    }
}

impl<M: LinearMemory, P: Policy> GenericVmem<M, P> {
    /// Arenas in use: `P::ARENAS`, within 1 ..= [`MAX_ARENAS`].
    pub(crate) const ARENAS: usize = if P::ARENAS == 0 {
        1
    } else if P::ARENAS > MAX_ARENAS {
        MAX_ARENAS
    } else {
        P::ARENAS
    };

    /// Reserves `size` bytes (rounded up to whole pages) aligned to
    /// `max(align, PAGE_SIZE)`. The range is committed and **reads zero**.
    ///
    /// Zeroing: pages fresh from `memory.grow` (zero by the wasm spec, and
    /// this caller's alone) and free pages already zeroed are not written;
    /// only free pages holding old data are zeroed, by this thread, after it
    /// has claimed them and outside any lock.
    ///
    /// The range never overlaps another live reservation nor foreign memory.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroSize`], [`Error::SizeOverflow`], [`Error::BadAlignment`],
    /// [`Error::TooLarge`] for bad requests; [`Error::LimitExceeded`] and
    /// [`Error::OutOfMemory`] when it cannot be granted now.
    pub fn reserve(&self, size: usize, align: usize) -> Result<NonNull<u8>, Error> {
        self.reserve_from(self.home(), size, align, Fill::Zero)
            .map(|(p, _)| p)
    }

    /// [`reserve`](Self::reserve) for the global allocator: with
    /// [`Fill::Any`] nothing is written (`alloc` need not initialise);
    /// returns the address and how many bytes this call zeroed.
    pub(crate) fn reserve_filled(
        &self,
        size: usize,
        align: usize,
        fill: Fill,
    ) -> Result<(NonNull<u8>, usize), Error> {
        self.reserve_from(self.home(), size, align, fill)
            .map(|(p, zeroed)| (p, zeroed * PAGE_SIZE))
    }

    /// [`reserve`](Self::reserve) as if arena `arena` were this thread's:
    /// tests and loom models place reservations in chosen arenas with it.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn reserve_in(
        &self,
        arena: usize,
        size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, Error> {
        self.reserve_from(arena, size, align, Fill::Zero)
            .map(|(p, _)| p)
    }

    /// Runs `f` while holding arena `arena`'s lock, as a thread of that
    /// arena at work would: tests show that other arenas do not wait for
    /// it. `f` must not operate on that arena (it would wait for itself).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn holding_arena<R>(&self, arena: usize, f: impl FnOnce() -> R) -> R {
        self.arenas[arena % Self::ARENAS].with(|_| f())
    }

    /// Reserves for `home`'s thread; returns the address and the pages this
    /// call zeroed.
    fn reserve_from(
        &self,
        home: usize,
        size: usize,
        align: usize,
        fill: Fill,
    ) -> Result<(NonNull<u8>, usize), Error> {
        let (len, align) = self.check_request(size, align)?;
        let home = home % Self::ARENAS;
        self.counted(len, size, || {
            self.reserve_pages(home, len, align, size, fill)
        })
    }

    /// Runs `take`, which takes `pages` more pages into reservations
    /// (`size` bytes asked for), with them counted: first, in pages (in
    /// bytes, `reserved + pages` overflows `usize` on wasm32 at the 4 GiB
    /// edge), refused with [`Error::LimitExceeded`] over the limit, taken
    /// back if `take` fails, and the peak raised if it succeeds. The limit
    /// holds across arenas at every moment.
    fn counted<T>(
        &self,
        pages: usize,
        size: usize,
        take: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let before = self.counts.reserved.fetch_add(pages, SeqCst);
        if let Some(limit) = self.limit {
            if (before + pages) as u64 > limit / PAGE_SIZE as u64 {
                self.counts.reserved.fetch_sub(pages, SeqCst);
                return Err(Error::LimitExceeded {
                    size,
                    reserved: before as u64 * PAGE_SIZE as u64,
                    limit,
                });
            }
        }
        match take() {
            Ok(t) => {
                // Read first: the peak's line is written only when it
                // rises, not by every reserve of every thread.
                if before + pages > self.counts.peak.0.load(SeqCst) {
                    self.counts.peak.0.fetch_max(before + pages, SeqCst);
                }
                Ok(t)
            }
            Err(e) => {
                self.counts.reserved.fetch_sub(pages, SeqCst);
                Err(e)
            }
        }
    }

    /// Claims `len` pages aligned to `align` pages: in arena `home`, else
    /// in any other arena that has room and whose lock is free (free pages
    /// never wait in an idle arena while the memory grows), else in pages
    /// grown for `home`, and if the memory refuses to grow, in any arena.
    /// Returns the address and the pages zeroed.
    fn reserve_pages(
        &self,
        home: usize,
        len: usize,
        align: usize,
        size: usize,
        fill: Fill,
    ) -> Result<(NonNull<u8>, usize), Error> {
        let base = self.base_page();
        let mut attempt = 0;
        // After growing: where the pages this call planned for start.
        let mut planned = None;
        loop {
            // Read before the lock: no code of the memory runs under it.
            let memory_pages = self.memory.size() * PAGES_PER_WASM_PAGE;
            let mut plan = Plan::new();
            let found = self.in_arena(home, |t| {
                let fit = planned
                    .filter(|&start| t.fits_at(start, len))
                    .or_else(|| t.find(len, align, base));
                match fit {
                    Some(start) => Found::Claimed {
                        start,
                        next: t.claim_and_plan(start, len, fill, &mut plan),
                    },
                    None if attempt < STITCHING_ATTEMPTS => {
                        // Another thread may have grown since the read.
                        let memory_pages = memory_pages.max(t.pages_len());
                        let (pages, start) = t.growth_needed(len, align, base, memory_pages);
                        Found::Grow {
                            pages,
                            expect: Some(Expected {
                                memory_pages,
                                start,
                            }),
                        }
                    }
                    // Grown memory starts on a wasm page, so this much holds
                    // an aligned run by itself.
                    None => Found::Grow {
                        pages: len + align.saturating_sub(PAGES_PER_WASM_PAGE),
                        expect: None,
                    },
                }
            });
            match found {
                Found::Claimed { start, next } => {
                    // SAFETY: claimed by this call under `home`'s lock.
                    return Ok(unsafe { self.finish_claim(home, start, len, next, fill, plan) });
                }
                Found::Grow { pages, expect } => {
                    if planned.is_none() {
                        if let Some(p) = self.steal(home, len, align, base, fill, false) {
                            return Ok(p);
                        }
                    }
                    let grown = match self.grow(home, pages, size) {
                        Ok(grown) => grown,
                        // Out of memory: every other arena is asked, hints
                        // or not, before the reserve fails.
                        Err(e) => return self.steal(home, len, align, base, fill, true).ok_or(e),
                    };
                    // The plan holds if the growth landed where it was
                    // expected; otherwise use the growth's own aligned start.
                    planned = Some(match expect {
                        Some(e) if e.memory_pages == grown => e.start,
                        _ => align_up(base + grown, align) - base,
                    });
                }
            }
            attempt += 1;
        }
    }

    /// Claims `len` pages from an arena other than `home`, if one has a
    /// fit: pages released into an arena whose threads went idle are used
    /// before the memory grows. Arenas whose published longest run is
    /// shorter than `len` are skipped without locking them, and arenas
    /// whose lock is taken are passed over, unless `every_arena` (the
    /// memory refused to grow; a hint read without the lock may be a moment
    /// old).
    fn steal(
        &self,
        home: usize,
        len: usize,
        align: usize,
        base: usize,
        fill: Fill,
        every_arena: bool,
    ) -> Option<(NonNull<u8>, usize)> {
        for arena in self.others(home) {
            if !every_arena && self.longest[arena].0.load(Relaxed) < len {
                continue;
            }
            let mut plan = Plan::new();
            let claim = |t: &mut Table| {
                let start = t.find(len, align, base)?;
                Some((start, t.claim_and_plan(start, len, fill, &mut plan)))
            };
            // Unless memory is short, an arena whose lock is taken is passed
            // over: its threads are at work (so its pages are not stranded),
            // and a thread whose own arena is empty would otherwise keep
            // taking pages from the same busy arena, whose pages go back
            // there on release, and share its lock for good; growing its
            // own arena instead gives it pages of its own.
            let claimed = if every_arena {
                self.in_arena(arena, claim)
            } else {
                self.try_in_arena(arena, claim).flatten()
            };
            if let Some((start, next)) = claimed {
                // SAFETY: claimed by this call under `arena`'s lock.
                return Some(unsafe { self.finish_claim(arena, start, len, next, fill, plan) });
            }
        }
        None
    }

    /// Commits the reserved range `ptr .. ptr + size`, page by page: pages
    /// that were decommitted **read zero** afterwards; pages that were
    /// committed **keep their contents**.
    ///
    /// Single-threaded build: decommitted pages are zeroed here (their
    /// sentinel is checked first, see [`Stats::sentinel_violations`]).
    /// Multithreaded build: they were zeroed at decommit, so nothing is
    /// written.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroSize`], [`Error::Unaligned`], [`Error::SizeOverflow`],
    /// or [`Error::NotReserved`] if any page is not reserved by this
    /// instance; nothing changes then.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread accesses or operates on
    /// the range during the call.
    pub unsafe fn commit(&self, ptr: *mut u8, size: usize) -> Result<(), Error> {
        // SAFETY: the caller guarantees no concurrent access to the range.
        unsafe { self.batched(ptr, size, Table::commit_batch) }.map(|_| ())
    }

    /// Decommits the reserved range: its contents are no longer needed and
    /// must not be accessed until [`commit`](Self::commit), after which it
    /// reads zero. The pages stay reserved.
    ///
    /// Single-threaded build: writes a sentinel byte at each page boundary
    /// (zeroing is deferred to commit, or to reuse after release).
    /// Multithreaded build: zeroes the committed pages now, outside the
    /// lock; pages already decommitted are not zeroed twice.
    ///
    /// # Errors
    ///
    /// As for [`commit`](Self::commit); nothing changes then.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread accesses or operates on
    /// the range during the call.
    pub unsafe fn decommit(&self, ptr: *mut u8, size: usize) -> Result<(), Error> {
        // SAFETY: the caller guarantees no concurrent access to the range.
        unsafe {
            self.batched(ptr, size, |t, from, end, plan| {
                t.decommit_batch(from, end, P::EAGER_DECOMMIT, plan)
            })
        }
        .map(|_| ())
    }

    /// Says the contents of the reserved range are no longer needed but the
    /// range stays committed. Returns `Ok(true)` only if the contents were
    /// really dropped; wasm linear memory cannot drop contents (there is no
    /// `madvise`, and `memory.discard` has not shipped), so this validates
    /// the range and returns `Ok(false)`: fall back to
    /// [`decommit`](Self::decommit) + [`commit`](Self::commit).
    ///
    /// # Errors
    ///
    /// As for [`commit`](Self::commit).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread operates on the range
    /// during the call.
    pub unsafe fn reset(&self, ptr: *mut u8, size: usize) -> Result<bool, Error> {
        let (start, len) = self.range(ptr, size)?;
        let arena = self.owner(start).ok_or(not_reserved(ptr, len))?;
        self.check_reserved(arena, ptr, start, len)?;
        Ok(false)
    }

    /// Releases the reserved range for reuse by later reservations. Any
    /// page-aligned sub-range of a reservation may be released (a partial
    /// `munmap`); the rest stays reserved. Released pages are not zeroed
    /// now: whoever reserves them next zeroes those that hold old data.
    ///
    /// # Errors
    ///
    /// As for [`commit`](Self::commit); releasing twice is
    /// [`Error::NotReserved`]. Nothing changes on error.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that nothing accesses the range after the
    /// call, and that no other thread operates on it during the call.
    pub unsafe fn release(&self, ptr: *mut u8, size: usize) -> Result<(), Error> {
        // SAFETY: the caller guarantees that nothing accesses the range
        // from now on and no other thread operates on it.
        let pages = unsafe { self.batched(ptr, size, Table::release_batch) }?;
        self.counts.reserved.fetch_sub(pages, SeqCst);
        Ok(())
    }

    /// Grows the reservation `ptr .. ptr + size` in place to `new_size`
    /// bytes (both rounded up to whole pages): the pages that follow it
    /// become part of it, committed, and **read zero**; its own pages keep
    /// their contents and states. `realloc` of the global allocator grows
    /// large blocks with it instead of copying them.
    ///
    /// It succeeds when the pages after the reservation are free in the
    /// arena that owns it, or when the reservation (or a free run after
    /// it) ends where the memory ends: then the memory grows right behind
    /// it. Zeroing is as for [`reserve`](Self::reserve): fresh and zeroed
    /// pages are not written, dirty ones are zeroed once, outside any lock.
    /// A `new_size` that rounds to no more pages than `size` changes
    /// nothing (shrink with [`release`](Self::release) of the tail).
    ///
    /// # Errors
    ///
    /// As for [`commit`](Self::commit) for the range; [`Error::SizeOverflow`]
    /// and [`Error::TooLarge`] for `new_size`; [`Error::LimitExceeded`];
    /// [`Error::NotFree`] when the following pages are not free and the
    /// memory cannot grow behind the reservation; [`Error::OutOfMemory`]
    /// when it could but `memory.grow` failed. Nothing changes on error,
    /// except as [`Error`] says for a growth that landed elsewhere (someone
    /// else grew in between): its pages are kept as free pages.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread operates on the range
    /// during the call.
    pub unsafe fn extend(&self, ptr: *mut u8, size: usize, new_size: usize) -> Result<(), Error> {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.extend_filled(ptr, size, new_size, Fill::Zero) }
    }

    /// [`extend`](Self::extend) for the global allocator: with
    /// [`Fill::Any`] the pages grown into are not zeroed (`realloc` need
    /// not initialise them).
    ///
    /// # Safety
    ///
    /// As for [`extend`](Self::extend).
    pub(crate) unsafe fn extend_filled(
        &self,
        ptr: *mut u8,
        size: usize,
        new_size: usize,
        fill: Fill,
    ) -> Result<(), Error> {
        let (start, len) = self.range(ptr, size)?;
        let new_bytes = round_to_pages(new_size)
            .filter(|&b| ptr.addr().checked_add(b).is_some())
            .ok_or(Error::SizeOverflow { size: new_size })?;
        let limit = self.limits().reserve_limit_bytes;
        if new_bytes as u64 > limit {
            return Err(Error::TooLarge {
                size: new_size,
                limit,
            });
        }
        let new_len = new_bytes / PAGE_SIZE;
        let arena = self.owner(start).ok_or(not_reserved(ptr, len))?;
        self.check_reserved(arena, ptr, start, len)?;
        if new_len <= len {
            return Ok(());
        }
        let (end, extra) = (start + len, new_len - len);
        self.counted(extra, extra * PAGE_SIZE, || {
            let not_free = Error::NotFree {
                addr: self.pointer(end).as_ptr().addr(),
                size: extra * PAGE_SIZE,
            };
            let mut grown = false;
            loop {
                // Read before the lock: no code of the memory runs under it.
                let memory_pages = self.memory.size() * PAGES_PER_WASM_PAGE;
                let mut plan = Plan::new();
                let found = self.in_arena(arena, |t| {
                    if t.fits_at(end, extra) {
                        Ok(t.claim_and_plan(end, extra, fill, &mut plan))
                    } else {
                        Err(t.tail_growth_for(end, end + extra, memory_pages))
                    }
                });
                match found {
                    Ok(next) => {
                        // SAFETY: claimed by this call under `arena`'s lock.
                        unsafe { self.finish_claim(arena, end, extra, next, fill, plan) };
                        return Ok(());
                    }
                    Err(Some(pages)) if !grown => {
                        self.grow(arena, pages, extra * PAGE_SIZE)?;
                        grown = true;
                    }
                    Err(_) => return Err(not_free),
                }
            }
        })
    }

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
    fn with_all_arenas<R>(
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

    /// Validates a reservation request; returns its length and alignment in
    /// pages.
    fn check_request(&self, size: usize, align: usize) -> Result<(usize, usize), Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment { align });
        }
        let bytes = round_to_pages(size).ok_or(Error::SizeOverflow { size })?;
        let limit = self.limits().reserve_limit_bytes;
        if bytes as u64 > limit || align as u64 > limit {
            return Err(Error::TooLarge { size, limit });
        }
        Ok((bytes / PAGE_SIZE, align.max(PAGE_SIZE) / PAGE_SIZE))
    }

    /// Validates an address range; returns its first page and length in
    /// pages.
    fn range(&self, ptr: *mut u8, size: usize) -> Result<(usize, usize), Error> {
        let addr = ptr.addr();
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Unaligned { addr });
        }
        let bytes = round_to_pages(size).ok_or(Error::SizeOverflow { size })?;
        let offset = addr
            .checked_sub(self.memory.base())
            .ok_or(Error::NotReserved { addr, size: bytes })?;
        Ok((offset / PAGE_SIZE, bytes / PAGE_SIZE))
    }

    /// Checks that `start .. start + len` is reserved, [`BATCH_PAGES`] per
    /// lock acquisition. The caller owns the range (a safety obligation of
    /// every range operation), so no valid call changes it meanwhile.
    fn check_reserved(
        &self,
        arena: usize,
        ptr: *mut u8,
        start: usize,
        len: usize,
    ) -> Result<(), Error> {
        for from in (start..start + len).step_by(BATCH_PAGES) {
            let n = BATCH_PAGES.min(start + len - from);
            if !self.arenas[arena].with(|t| t.is_reserved(from, n)) {
                return Err(not_reserved(ptr, len));
            }
        }
        Ok(())
    }

    /// Validates the range, then applies `step` batch by batch (commit,
    /// decommit, release): the one batched path. A range of one batch is
    /// validated and processed in one lock acquisition.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread accesses or operates on
    /// the range during the call.
    unsafe fn batched(
        &self,
        ptr: *mut u8,
        size: usize,
        step: impl Fn(&mut Table, usize, usize, &mut Plan) -> usize,
    ) -> Result<usize, Error> {
        let (start, len) = self.range(ptr, size)?;
        let end = start + len;
        // The owner is the arena in which the first page is reserved.
        for arena in self.search_order() {
            let mut plan = Plan::new();
            let owned = self.in_arena(arena, |t| {
                if !t.is_reserved(start, 1) {
                    return None;
                }
                if len > BATCH_PAGES {
                    return Some(Ok(start));
                }
                if !t.is_reserved(start, len) {
                    return Some(Err(not_reserved(ptr, len)));
                }
                Some(Ok(step(t, start, end, &mut plan)))
            });
            let Some(next) = owned else { continue };
            let next = next?;
            if len > BATCH_PAGES {
                // Long ranges: validated whole first, nothing changes on
                // error.
                self.check_reserved(arena, ptr, start, len)?;
            }
            // SAFETY: the range is reserved by the caller, who guarantees no
            // concurrent access to it.
            let _zeroed = unsafe { self.finish(arena, next, end, plan, step) };
            return Ok(len);
        }
        Err(not_reserved(ptr, len))
    }

    /// Runs `f` on `arena`'s table under its lock, then publishes the
    /// arena's longest free run (`longest`) before unlocking: every locked
    /// section that may change the free runs goes through here (pure
    /// lookups lock the arena directly).
    fn in_arena<R>(&self, arena: usize, f: impl FnOnce(&mut Table) -> R) -> R {
        self.arenas[arena].with(|t| self.publishing(arena, t, f))
    }

    /// [`in_arena`](Self::in_arena) if `arena`'s lock is free now, `None`
    /// otherwise.
    fn try_in_arena<R>(&self, arena: usize, f: impl FnOnce(&mut Table) -> R) -> Option<R> {
        self.arenas[arena].try_with(|t| self.publishing(arena, t, f))
    }

    /// Runs `f` on `arena`'s table `t`, whose lock the caller holds, then
    /// publishes the arena's longest free run.
    #[inline]
    fn publishing<R>(&self, arena: usize, t: &mut Table, f: impl FnOnce(&mut Table) -> R) -> R {
        let r = f(t);
        self.longest[arena].0.store(t.longest_free(), Relaxed);
        r
    }

    /// The arena in which page `start` is reserved, if any.
    fn owner(&self, start: usize) -> Option<usize> {
        self.search_order()
            .find(|&a| self.arenas[a].with(|t| t.is_reserved(start, 1)))
    }

    /// This thread's arena: its number (`policy::thread`: a counter kept
    /// in a thread-local, or a hash of its stack address where none can be
    /// used), modulo the arenas; 0 with one arena. Only a preference: any
    /// thread may use any arena, so a collision costs contention, never
    /// correctness. Under loom it is 0 (models choose arenas with
    /// `reserve_in`), so executions replay exactly; under Miri too, so that
    /// its runs stay those of one arena per test thread as before.
    #[inline]
    pub(crate) fn home(&self) -> usize {
        if Self::ARENAS == 1 || cfg!(loom) || cfg!(miri) {
            return 0;
        }
        crate::policy::thread::number() % Self::ARENAS
    }

    /// The arenas other than `home`, in order after it.
    fn others(&self, home: usize) -> impl Iterator<Item = usize> {
        (1..Self::ARENAS).map(move |i| (home + i) % Self::ARENAS)
    }

    /// Where to look for the arena that owns a page: this thread's first
    /// (a thread working on its own reservations takes one lock), then the
    /// others.
    fn search_order(&self) -> impl Iterator<Item = usize> {
        let home = self.home();
        core::iter::once(home).chain(self.others(home))
    }

    /// Grows linear memory by at least `pages` pages for `arena` and
    /// records them there; returns the first page grown.
    fn grow(&self, arena: usize, pages: usize, size: usize) -> Result<usize, Error> {
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
    fn reserve_table(&self, arena: usize, pages: usize, grown: usize, then: usize) -> Option<()> {
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

    /// Carries out `plan`, then the batches `step` plans for `from .. end`,
    /// each planned under the lock and carried out outside it.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the pages of `from .. end` and of `plan`
    /// are owned by this call: claimed by it, or reserved by a caller who
    /// guarantees no concurrent access.
    unsafe fn finish(
        &self,
        arena: usize,
        mut from: usize,
        end: usize,
        mut plan: Plan,
        step: impl Fn(&mut Table, usize, usize, &mut Plan) -> usize,
    ) -> usize {
        let mut zeroed = 0;
        // Zeroing is carried over from batch to batch while it stays
        // contiguous, so that a long range is zeroed with one `fill` (one
        // `memory.fill`, one large `memset`), not one per batch.
        let mut pending = None;
        loop {
            // SAFETY: the plan's pages are owned by this call (caller).
            let (violations, pages) = unsafe { self.carry_out(&plan, &mut pending) };
            zeroed += pages;
            if violations > 0 {
                self.arenas[arena].with(|t| t.add_sentinel_violations(violations));
            }
            if from == end {
                // SAFETY: pages of the plans above, owned by this call.
                unsafe { self.zero(pending) };
                return zeroed;
            }
            plan.clear();
            from = self.in_arena(arena, |t| step(t, from, end, &mut plan));
        }
    }

    /// Finishes a reservation of `start .. start + len` claimed in `arena`,
    /// whose batch before `next` is planned in `plan`: zeroes what must be,
    /// commits the rest batch by batch, and returns its address and the
    /// pages zeroed.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that they claimed the pages in `arena` (so no
    /// other thread can reach them before this returns).
    unsafe fn finish_claim(
        &self,
        arena: usize,
        start: usize,
        len: usize,
        next: usize,
        fill: Fill,
        plan: Plan,
    ) -> (NonNull<u8>, usize) {
        let step = |t: &mut Table, from, end, plan: &mut Plan| t.claim_batch(from, end, fill, plan);
        // SAFETY: the pages are this call's alone (caller).
        let zeroed = unsafe { self.finish(arena, next, start + len, plan, step) };
        (self.pointer(start), zeroed)
    }

    /// Writes what `plan` says into page contents; returns the number of
    /// overwritten sentinels found and of pages zeroed (or to be zeroed).
    /// Zeroing joins `pending`, a run to zero that earlier plans of the same
    /// call left, when contiguous with it; otherwise `pending` is zeroed
    /// and replaced. The caller zeroes what is pending at the end.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread accesses the plan's pages
    /// (nor `pending`'s) until the call that owns them returns.
    unsafe fn carry_out(&self, plan: &Plan, pending: &mut Option<Run>) -> (u64, usize) {
        let base = self.memory.base();
        let mut violations = 0;
        let mut zeroed = 0;
        for step in plan.steps() {
            let addr = base + step.run.start * PAGE_SIZE;
            let pages = (0..step.run.len).map(|i| addr + i * PAGE_SIZE);
            // Every access below is to a run of pages this instance grew, so
            // inside the memory, and that no other thread accesses (caller).
            match step.action {
                Action::Zero | Action::CheckSentinelThenZero => {
                    if step.action == Action::CheckSentinelThenZero {
                        for page in pages {
                            // SAFETY: in bounds and unshared, as said above.
                            if unsafe { self.memory.read_byte(page) } != SENTINEL {
                                violations += 1;
                            }
                        }
                    }
                    zeroed += step.run.len;
                    match pending {
                        Some(run) if run.end() == step.run.start => run.len += step.run.len,
                        _ => {
                            // SAFETY: pages of this call's plans, as above.
                            unsafe { self.zero(pending.replace(step.run)) }
                        }
                    }
                }
                Action::WriteSentinel => {
                    for page in pages {
                        // SAFETY: in bounds and unshared, as said above.
                        unsafe { self.memory.fill(page, 1, SENTINEL) }
                    }
                }
            }
        }
        (violations, zeroed)
    }

    /// Zeroes the pages of `run`, if any.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the run's pages are this instance's and
    /// that no other thread accesses them.
    unsafe fn zero(&self, run: Option<Run>) {
        if let Some(run) = run {
            let addr = self.memory.base() + run.start * PAGE_SIZE;
            // SAFETY: in bounds (pages this instance grew) and unshared
            // (caller).
            unsafe { self.memory.fill(addr, run.len * PAGE_SIZE, 0) }
        }
    }

    fn base_page(&self) -> usize {
        self.memory.base() / PAGE_SIZE
    }

    /// The address of an owned page.
    ///
    /// # Panics
    ///
    /// If that address is 0, which cannot happen: page 0 of a wasm32
    /// memory holds the module's data and stack and is foreign, and a
    /// native memory is a host allocation, never at address 0. Reaching
    /// this would mean the table is corrupt; a pointer that was not
    /// reserved is never returned as a success.
    fn pointer(&self, page: usize) -> NonNull<u8> {
        let addr = self.memory.base() + page * PAGE_SIZE;
        match NonNull::new(core::ptr::with_exposed_provenance_mut(addr)) {
            Some(p) => p,
            None => panic!("wasm-vmem: an owned page at address 0 (corrupt page table)"),
        }
    }
}

/// The instance's counts across arenas, on cache lines of their own.
#[derive(Debug)]
#[repr(align(128))]
struct Counts {
    /// Pages reserved (counted before a claim, uncounted after a release).
    reserved: AtomicUsize,
    /// The most pages `reserved` ever held, on a line of its own: read by
    /// every reserve, written only when it rises.
    peak: OwnLine,
}

/// A count on a cache line of its own (an arena's published longest free
/// run, the peak), so that writing it moves no other count's line.
#[derive(Debug)]
#[repr(align(128))]
struct OwnLine(AtomicUsize);

/// What a reserve found under the lock.
enum Found {
    /// It claimed `start .. start + len`; the batch before `next` is
    /// planned.
    Claimed { start: usize, next: usize },
    /// Nothing fits: grow by `pages` pages, expecting the growth where
    /// `expect` says, if anywhere.
    Grow {
        pages: usize,
        expect: Option<Expected>,
    },
}

/// Where a reserve that grows expects its pages.
struct Expected {
    /// The memory's size in pages that the plan assumed.
    memory_pages: usize,
    /// The reservation's first page if the growth starts there.
    start: usize,
}

fn not_reserved(ptr: *mut u8, pages: usize) -> Error {
    Error::NotReserved {
        addr: ptr.addr(),
        size: pages * PAGE_SIZE,
    }
}

/// `size` rounded up to whole pages, or `None` on overflow.
fn round_to_pages(size: usize) -> Option<usize> {
    size.checked_next_multiple_of(PAGE_SIZE)
}
