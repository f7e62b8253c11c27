//! The API: one instance over one linear memory, generic over the policy.
//!
//! This file holds the type, its construction and the reserve path; the
//! other concerns are rooms of their own, each an `impl` block of
//! [`GenericVmem`]: `arenas.rs` (arena choice, locked sections, steals),
//! `ranges.rs` (commit, decommit, reset, release, extend), `grow.rs`
//! (growth, and the table storage grown and adopted for it), `contents.rs`
//! (plans carried out outside the lock: zeroing, sentinels) and `stats.rs`
//! (statistics, limits, invariant checks).

mod arenas;
mod contents;
mod grow;
mod ranges;
mod stats;

use crate::error::Error;
use crate::policy::lock::{lock_init, Locked};
use crate::policy::Policy;
use crate::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::sync::{array_of, const_fn};
use crate::sys::LinearMemory;
use crate::table::{Fill, Plan, Table};
use crate::units::{align_up, slots_in_use, MAX_ARENAS, PAGES_PER_WASM_PAGE, PAGE_SIZE};
use core::marker::PhantomData;
use core::ptr::NonNull;

/// The byte written at each page boundary by a lazy decommit.
pub const SENTINEL: u8 = 0xDC;

/// One batch of a range operation (commit, decommit, release, claim) on an
/// arena's table under its lock: plans the batch from the first page to
/// at most the end, and says where the next starts. Passed by reference,
/// not as a generic parameter, so that the batching loop is compiled once
/// per instance type rather than once per operation (every kilobyte counts
/// in a `.wasm`; the call is once per batch of 64 pages).
pub(super) type Step<'a> = &'a dyn Fn(&mut Table, usize, usize, &mut Plan) -> usize;

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
                arenas: array_of!(MAX_ARENAS, Locked::new(lock_init!(P::Lock), Table::new())),
                longest: array_of!(MAX_ARENAS, OwnLine(AtomicUsize::new(0))),
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
    pub(crate) const ARENAS: usize = slots_in_use(P::ARENAS, MAX_ARENAS);

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
        self.reserve_from(self.home(), size, align, Fill::Zero, &mut || false)
            .map(|(p, _)| p)
    }

    /// [`reserve`](Self::reserve) for the global allocator: with
    /// [`Fill::Any`] nothing is written (`alloc` need not initialise);
    /// returns the address and how many of its bytes held data: this call
    /// zeroed them, or with [`Fill::Any`] left them as they were (none: the
    /// reservation reads zero). Before the
    /// first growth of the memory it calls `before_grow`, with no lock
    /// held; if that gave pages back to the pool (it returns `true`), the
    /// pool looks again before it grows.
    pub(crate) fn reserve_filled(
        &self,
        size: usize,
        align: usize,
        fill: Fill,
        before_grow: &mut dyn FnMut() -> bool,
    ) -> Result<(NonNull<u8>, usize), Error> {
        self.reserve_from(self.home(), size, align, fill, before_grow)
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
        self.reserve_from(arena, size, align, Fill::Zero, &mut || false)
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

    /// Reserves for `home`'s thread; returns the address and the pages that
    /// held data (zeroed unless `fill` is [`Fill::Any`]).
    fn reserve_from(
        &self,
        home: usize,
        size: usize,
        align: usize,
        fill: Fill,
        before_grow: &mut dyn FnMut() -> bool,
    ) -> Result<(NonNull<u8>, usize), Error> {
        let (len, align) = self.check_request(size, align)?;
        let home = home % Self::ARENAS;
        self.counted(len, size, || {
            self.reserve_pages(home, len, align, size, fill, before_grow)
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
    /// Returns the address and the pages that held data (zeroed unless
    /// `fill` is [`Fill::Any`]).
    fn reserve_pages(
        &self,
        home: usize,
        len: usize,
        align: usize,
        size: usize,
        fill: Fill,
        before_grow: &mut dyn FnMut() -> bool,
    ) -> Result<(NonNull<u8>, usize), Error> {
        let base = self.base_page();
        let mut attempt = 0;
        // Whether `before_grow` was asked already (once per call).
        let mut asked = false;
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
                    if !asked {
                        asked = true;
                        // No lock held here: the caller may give pages
                        // back to the pool, and then it is searched again.
                        if before_grow() {
                            continue;
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
