//! The operations on reserved ranges: commit, decommit, reset, release
//! and extend, validated and carried out batch by batch.

use super::{not_reserved, round_to_pages, GenericVmem, Step};
use crate::error::Error;
use crate::policy::Policy;
use crate::sync::atomic::Ordering::SeqCst;
use crate::sys::LinearMemory;
use crate::table::{Fill, Plan, Table};
use crate::units::{BATCH_PAGES, PAGES_PER_WASM_PAGE, PAGE_SIZE};

impl<M: LinearMemory, P: Policy> GenericVmem<M, P> {
    /// Commits the reserved range `ptr .. ptr + size`, page by page: pages
    /// that were decommitted **read zero** afterwards; pages that were
    /// committed **keep their contents**.
    ///
    /// Single-threaded build: decommitted pages are zeroed here (their
    /// sentinel is checked first, see [`Stats::sentinel_violations`](crate::Stats::sentinel_violations)).
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
        unsafe { self.batched(ptr, size, &Table::commit_batch) }.map(|_| ())
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
            self.batched(ptr, size, &|t, from, end, plan| {
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
        let pages = unsafe { self.batched(ptr, size, &Table::release_batch) }?;
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

    /// Validates an address range; returns its first page and length in
    /// pages.
    pub(super) fn range(&self, ptr: *mut u8, size: usize) -> Result<(usize, usize), Error> {
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
    pub(super) fn check_reserved(
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
    pub(super) unsafe fn batched(
        &self,
        ptr: *mut u8,
        size: usize,
        step: Step<'_>,
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
}
