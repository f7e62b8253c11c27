//! The API: one instance over one linear memory, generic over the policy.

use crate::policy::lock::{lock_init, Locked};
use crate::policy::Policy;
use crate::stats::{Limits, Stats};
use crate::sync::const_fn;
use crate::sys::LinearMemory;
use crate::table::{align_up, Action, Plan, Storage, Table};
use crate::{Error, BATCH_PAGES, PAGES_PER_WASM_PAGE, PAGE_SIZE, WASM_PAGE_SIZE};
use core::marker::PhantomData;
use core::ptr::NonNull;

/// The byte written at each page boundary by a lazy decommit.
pub const SENTINEL: u8 = 0xDC;

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
    /// The page table, behind the policy's lock.
    table: Locked<P::Lock, Table>,
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
                table: Locked::new(lock_init!(P::Lock), Table::new()),
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
        let (len, align) = self.check_request(size, align)?;
        let base = self.base_page();
        // Compared in pages: in bytes, `reserved + len` overflows `usize` on
        // wasm32 at the 4 GiB edge.
        let limit_pages = self.limit.map(|l| l / PAGE_SIZE as u64);
        let mut attempt = 0;
        // After growing: where the pages this call planned for start.
        let mut planned = None;
        loop {
            // Read before the lock: no code of the memory runs under it.
            let memory_pages = self.memory.size() * PAGES_PER_WASM_PAGE;
            let mut plan = Plan::new();
            let found = self.table.with(|t| {
                let reserved = t.reserved_pages();
                if limit_pages.is_some_and(|l| (reserved + len) as u64 > l) {
                    return Err(Error::LimitExceeded {
                        size,
                        reserved: reserved as u64 * PAGE_SIZE as u64,
                        limit: self.limit.unwrap_or(0),
                    });
                }
                let fit = planned
                    .filter(|&start| t.fits_at(start, len))
                    .or_else(|| t.find(len, align, base));
                Ok(match fit {
                    Some(start) => {
                        t.claim(start, len);
                        let next = t.claim_batch(start, start + len, &mut plan);
                        Found::Claimed { start, next }
                    }
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
                })
            })?;
            match found {
                Found::Claimed { start, next } => {
                    // SAFETY: the pages were claimed by this call under the
                    // lock; nobody else can reach them before we return.
                    unsafe { self.finish(next, start + len, plan, Table::claim_batch) };
                    return Ok(self.pointer(start));
                }
                Found::Grow { pages, expect } => {
                    let grown = self.grow(pages, size)?;
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
        unsafe { self.batched(ptr, size, Table::commit_batch) }
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
        self.check_reserved(ptr, start, len)?;
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
        unsafe { self.batched(ptr, size, Table::release_batch) }
    }

    /// Exact statistics (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        // In `u64`: a wasm32 memory at its maximum holds 2^32 bytes.
        let linear = self.memory.size() as u64 * WASM_PAGE_SIZE as u64;
        self.table.with(|t| t.stats(linear))
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
        self.table.with(|t| t.check_invariants());
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
    fn check_reserved(&self, ptr: *mut u8, start: usize, len: usize) -> Result<(), Error> {
        for from in (start..start + len).step_by(BATCH_PAGES) {
            let n = BATCH_PAGES.min(start + len - from);
            if !self.table.with(|t| t.is_reserved(from, n)) {
                return Err(not_reserved(ptr, len));
            }
        }
        Ok(())
    }

    /// Validates the range, then applies `step` batch by batch (commit,
    /// decommit, release): the one batched path. A range of one batch is validated and processed in one
    /// lock acquisition.
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
    ) -> Result<(), Error> {
        let (start, len) = self.range(ptr, size)?;
        let end = start + len;
        let mut plan = Plan::new();
        let next = if len <= BATCH_PAGES {
            self.table.with(|t| {
                if !t.is_reserved(start, len) {
                    return Err(not_reserved(ptr, len));
                }
                Ok(step(t, start, end, &mut plan))
            })?
        } else {
            self.check_reserved(ptr, start, len)?;
            start
        };
        // SAFETY: the range is reserved by the caller, who guarantees no
        // concurrent access to it.
        unsafe { self.finish(next, end, plan, step) };
        Ok(())
    }

    /// Grows linear memory by at least `pages` pages and records them;
    /// returns the first page grown.
    fn grow(&self, pages: usize, size: usize) -> Result<usize, Error> {
        let oom = Error::OutOfMemory { size };
        let wasm_pages = pages.div_ceil(PAGES_PER_WASM_PAGE);
        // Room in the table first, so grown pages are not lost for want of
        // metadata (a later foreign grow may still need a second round).
        let expected_end = self.memory.size().saturating_add(wasm_pages);
        self.reserve_table(expected_end.saturating_mul(PAGES_PER_WASM_PAGE))
            .map_err(|_| oom)?;
        let old = self.memory.grow(wasm_pages).ok_or(oom)?;
        let (start, len) = (old * PAGES_PER_WASM_PAGE, wasm_pages * PAGES_PER_WASM_PAGE);
        self.reserve_table(start + len).map_err(|_| oom)?;
        let zero = self.memory.grown_pages_read_zero();
        if self.table.with(|t| t.insert_grown(start, len, zero)) {
            Ok(start)
        } else {
            Err(oom)
        }
    }

    /// Makes the table able to describe `pages` pages, allocating outside
    /// the lock.
    fn reserve_table(&self, pages: usize) -> Result<(), alloc::collections::TryReserveError> {
        loop {
            let capacity = self.table.with(|t| t.capacity());
            if capacity >= pages {
                return Ok(());
            }
            let target = pages.max(capacity.saturating_mul(2)).max(64);
            let mut spare = Storage::try_with_capacity(target)?;
            self.table.with(|t| {
                if t.capacity() < pages {
                    t.adopt(&mut spare);
                }
            });
            // `spare` now holds the old storage: freed here, unlocked.
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
        mut from: usize,
        end: usize,
        mut plan: Plan,
        step: impl Fn(&mut Table, usize, usize, &mut Plan) -> usize,
    ) {
        loop {
            // SAFETY: the plan's pages are owned by this call (caller).
            let violations = unsafe { self.carry_out(&plan) };
            if violations > 0 {
                self.table.with(|t| t.add_sentinel_violations(violations));
            }
            if from == end {
                return;
            }
            plan.clear();
            from = self.table.with(|t| step(t, from, end, &mut plan));
        }
    }

    /// Writes what `plan` says into page contents; returns the number of
    /// overwritten sentinels found.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread accesses the plan's pages.
    unsafe fn carry_out(&self, plan: &Plan) -> u64 {
        let base = self.memory.base();
        let mut violations = 0;
        for step in plan.steps() {
            let addr = base + step.run.start * PAGE_SIZE;
            let len = step.run.len * PAGE_SIZE;
            let pages = (0..step.run.len).map(|i| addr + i * PAGE_SIZE);
            // Every access below is to a run of pages this instance grew, so
            // inside the memory, and that no other thread accesses (caller).
            match step.action {
                // SAFETY: in bounds and unshared, as said above.
                Action::Zero => unsafe { self.memory.fill(addr, len, 0) },
                Action::CheckSentinelThenZero => {
                    for page in pages {
                        // SAFETY: in bounds and unshared, as said above.
                        if unsafe { self.memory.read_byte(page) } != SENTINEL {
                            violations += 1;
                        }
                    }
                    // SAFETY: in bounds and unshared, as said above.
                    unsafe { self.memory.fill(addr, len, 0) }
                }
                Action::WriteSentinel => {
                    for page in pages {
                        // SAFETY: in bounds and unshared, as said above.
                        unsafe { self.memory.fill(page, 1, SENTINEL) }
                    }
                }
            }
        }
        violations
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
