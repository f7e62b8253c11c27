//! Large blocks: page reservations of the pool (docs/DESIGN.md §9, "Large
//! blocks"). A request of `LARGE_MIN` bytes or more, or aligned to a page
//! or more, is reserved; `realloc` grows it in place when the pages behind
//! it are free, shrinks it by releasing its tail, and moves it otherwise.
//! A freed block of up to [`KEPT_PAGES`] pages is kept by the freeing
//! thread's heap while its reserve has room, and serves that heap's next
//! `alloc` of as many pages without a call to the pool.

use super::heap::KEPT_PAGES;
use super::GenericAlloc;
use crate::policy::Policy;
use crate::sync::atomic::Ordering::Relaxed;
use crate::sys::LinearMemory;
use crate::table::Fill;
use crate::units::PAGE_SIZE;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

/// Bytes of pages a large block of `size` bytes takes.
fn pages_of(size: usize) -> usize {
    size.next_multiple_of(PAGE_SIZE)
}

/// Whether a heap may keep a freed large block of `bytes` bytes of pages
/// (none for a zero-size layout, which the pool refuses).
fn kept_size(bytes: usize) -> bool {
    (PAGE_SIZE..=KEPT_PAGES * PAGE_SIZE).contains(&bytes)
}

impl<M: LinearMemory, P: Policy> GenericAlloc<M, P> {
    /// A large block: pages of the pool, zero if `fill` says so. Out of
    /// line, as every large path: a small allocation or free stays small
    /// enough to be inlined into its callers (entry 31).
    #[inline(never)]
    pub(super) fn alloc_large(&self, layout: Layout, fill: Fill) -> *mut u8 {
        let pages = pages_of(layout.size());
        let home = self.home();
        let counts = &self.counts[home];
        // A kept block holds old data: it serves `alloc` only, and
        // `alloc_zeroed` asks the pool, which writes only pages that held
        // data.
        let kept = (fill == Fill::Any && kept_size(pages) && layout.align() <= PAGE_SIZE)
            .then(|| self.with_heap(home, |h| h.take_large(pages / PAGE_SIZE)))
            .flatten();
        let p = match kept {
            Some(p) => p,
            None => {
                let Ok((p, zeroed)) =
                    self.reserve_or_reclaim(layout.size(), layout.align(), fill, Self::reclaim)
                else {
                    return ptr::null_mut();
                };
                if fill == Fill::Zero {
                    counts.zeroed.fetch_add(zeroed as u64, Relaxed);
                    counts
                        .zero_skipped
                        .fetch_add((pages - zeroed) as u64, Relaxed);
                }
                p
            }
        };
        counts.large_out(layout.size(), pages);
        p.as_ptr()
    }

    /// Frees a large block: its pages go back to the pool, or are kept by
    /// this thread's heap if few and its reserve has room.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live large block allocated
    /// with `layout`.
    #[inline(never)]
    pub(super) unsafe fn dealloc_large(&self, ptr: NonNull<u8>, layout: Layout) {
        let pages = pages_of(layout.size());
        let home = self.home();
        let kept = kept_size(pages)
            && self.with_heap(home, |h| {
                // SAFETY: a live large block of that many pages (caller),
                // given up.
                unsafe { h.keep_large(ptr, pages / PAGE_SIZE) }
            });
        if !kept {
            // SAFETY: a live large block of that layout (caller).
            unsafe { self.release_pages(ptr.as_ptr(), layout.size()) };
        }
        self.counts[home].large_back(layout.size(), pages);
    }

    /// Reallocates a large block, in place when the pool can.
    ///
    /// # Safety
    ///
    /// As for [`GlobalAlloc::realloc`], with both layouts large.
    pub(super) unsafe fn realloc_large(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        let (old_pages, new_pages) = (pages_of(layout.size()), pages_of(new_size));
        let counts = self.counts();
        if new_pages <= old_pages {
            if new_pages < old_pages {
                // SAFETY: the tail is page-aligned, part of this block,
                // and no longer used (realloc's contract).
                unsafe { self.release_pages(ptr.add(new_pages), old_pages - new_pages) };
                counts.pages.fetch_sub(old_pages - new_pages, Relaxed);
            }
            counts
                .in_use
                .fetch_add(new_size.wrapping_sub(layout.size()), Relaxed);
            return ptr;
        }
        // Grown into as it is: realloc leaves the new bytes uninitialised.
        // SAFETY: the block is reserved and this call's (realloc's
        // contract).
        let grown = unsafe {
            self.vmem
                .extend_filled(ptr, layout.size(), new_size, Fill::Any)
        };
        if grown.is_ok() {
            counts.pages.fetch_add(new_pages - old_pages, Relaxed);
            counts.in_use.fetch_add(new_size - layout.size(), Relaxed);
            return ptr;
        }
        // SAFETY: as for `realloc` (caller).
        unsafe { self.realloc_by_copy(ptr, layout, new_size) }
    }

    /// Allocates a new block, copies, and frees the old one.
    ///
    /// # Safety
    ///
    /// As for [`GlobalAlloc::realloc`].
    pub(super) unsafe fn realloc_by_copy(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: the caller guarantees a valid size for the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: non-zero size (realloc's contract).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct; the copy stays
            // inside both.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
