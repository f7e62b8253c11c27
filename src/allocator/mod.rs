//! The global allocator on the page pool (docs/DESIGN.md §9).
//!
//! Large requests are page reservations of the instance's own
//! [`GenericVmem`]; small ones come from per-arena talc heaps
//! ([`small`]) whose segments are reserved from the same instance. One
//! instance, one pool: a page released by the page API serves a `Vec`, and
//! the other way round.

mod small;

use crate::policy::lock::{lock_init, Locked};
use crate::policy::Policy;
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::sync::{const_fn, per_arena};
use crate::sys::LinearMemory;
use crate::table::Fill;
use crate::{GenericVmem, MAX_ARENAS, PAGE_SIZE};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use small::{Released, Remote, SmallArena, HANDOVER_BATCH, SEGMENT};

/// Requests of this many bytes or more are page reservations; smaller ones
/// come from the small-object heaps. 64 KiB: from there a reservation
/// rounds up by at most a quarter, and a freed block is whole pages that go
/// back to the pool at once. Speed does not decide it (BENCHMARKS.md,
/// "`LARGE_MIN` threshold"): on reused memory a talc block is faster at
/// every size from 16 to 256 KiB (its `alloc` costs ~22 ns against ~110 ns
/// for a reservation; `alloc_zeroed` 8–13 % faster from 64 KiB), on fresh
/// memory a reservation is faster at every size (it skips zeroing).
pub const LARGE_MIN: usize = 64 * 1024;

/// Segments a small allocation adds to its heap before it looks elsewhere.
const SEGMENT_ROUNDS: usize = 4;

/// A `GlobalAlloc` over a linear memory `M` with threading policy `P`: use
/// it as [`st::Alloc`](crate::st::Alloc), [`mt::Alloc`](crate::mt::Alloc) or
/// [`Alloc`](crate::Alloc).
///
/// - Requests of [`LARGE_MIN`] bytes or more, or aligned to a page or more,
///   are reservations of the page pool ([`vmem`](Self::vmem)):
///   `alloc_zeroed` writes nothing where the pages are known zero, `alloc`
///   writes nothing at all, `realloc` grows in place with
///   [`GenericVmem::extend`] when the following pages are free and shrinks
///   by releasing the tail, and `dealloc` releases the pages to the pool.
/// - Smaller requests come from one talc heap per arena (the thread's
///   arena, as for the pool's reservations), fed with 256 KiB segments
///   reserved from the pool; a block freed by another thread goes back to
///   the heap it came from, and a segment that holds no block goes back to
///   the pool (each heap keeps its first segment, which holds talc's
///   metadata, and one empty one).
///
/// Out of memory gives a null pointer, never a panic or a trap. No lock is
/// held while the pool grows the memory or zeroes pages, and the
/// instance's own metadata never comes from the global allocator, so this
/// may be the global allocator itself. The multithreaded variant only
/// spins: the browser main thread may allocate.
#[derive(Debug)]
pub struct GenericAlloc<M, P: Policy> {
    vmem: GenericVmem<M, P>,
    small: [Locked<P::Lock, SmallArena>; MAX_ARENAS],
    /// Blocks freed into each arena by other threads while it was locked.
    remote: [Remote; MAX_ARENAS],
    large: [LargeCounts; MAX_ARENAS],
}

/// Counts of large blocks kept by the arena of the thread that made the
/// change (summed by [`GenericAlloc::stats`]), so that threads do not share
/// a counter's line. Wrapping: a block freed by another thread is
/// subtracted from that thread's arena.
#[derive(Debug)]
#[repr(align(128))]
struct LargeCounts {
    /// Bytes of live large blocks, as their layouts say.
    in_use: AtomicUsize,
    /// Bytes of pages in live large blocks.
    pages: AtomicUsize,
    /// Bytes that `alloc_zeroed` did not write, known zero.
    zero_skipped: AtomicU64,
    /// Bytes that `alloc_zeroed` wrote with zeros (large and small).
    zeroed: AtomicU64,
}

/// Figures of a [`GenericAlloc`]: sums over the arenas, each read at a
/// different moment while other threads allocate, exact when none does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes in live allocations, as their layouts say.
    pub in_use_bytes: u64,
    /// Of them, in small blocks.
    pub small_in_use_bytes: u64,
    /// Bytes of segments held by the small-object heaps.
    pub small_held_bytes: u64,
    /// Segments held by the small-object heaps.
    pub small_segments: usize,
    /// Bytes of pages in large blocks.
    pub large_bytes: u64,
    /// Bytes `alloc_zeroed` promised zero without writing them: pages the
    /// pool knew were zero.
    pub zeroing_skipped_bytes: u64,
    /// Bytes `alloc_zeroed` wrote with zeros.
    pub zeroed_bytes: u64,
}

impl<M, P: Policy> GenericAlloc<M, P> {
    const_fn! {
        /// An allocator over `memory`, owning nothing yet.
        pub const fn new(memory: M) -> Self {
            Self {
                vmem: GenericVmem::new(memory),
                small: per_arena!(Locked::new(lock_init!(P::Lock), SmallArena::new())),
                remote: per_arena!(Remote::new()),
                large: per_arena!(LargeCounts::new()),
            }
        }
    }

    /// The page pool: reservations made here and the allocator's blocks
    /// share its pages.
    pub fn vmem(&self) -> &GenericVmem<M, P> {
        &self.vmem
    }
}

impl LargeCounts {
    const_fn! {
        const fn new() -> Self {
            Self {
                in_use: AtomicUsize::new(0),
                pages: AtomicUsize::new(0),
                zero_skipped: AtomicU64::new(0),
                zeroed: AtomicU64::new(0),
            }
        }
    }
}

/// Whether `layout` is served by pages rather than a small heap. A function
/// of the layout alone, so that `dealloc` and `realloc` agree with `alloc`.
///
/// `size >= LARGE_MIN || align >= PAGE_SIZE` in one comparison (on every
/// allocation and free): both bounds are powers of two and `LARGE_MIN` is
/// `4 * PAGE_SIZE`, so `size / 4` or `align` reaches `PAGE_SIZE` exactly
/// when their bitwise or does.
#[inline]
fn is_large(layout: Layout) -> bool {
    ((layout.size() / (LARGE_MIN / PAGE_SIZE)) | layout.align()) >= PAGE_SIZE
}

const _: () = assert!(
    PAGE_SIZE.is_power_of_two() && LARGE_MIN == 4 * PAGE_SIZE,
    "is_large relies on both"
);

/// Whether heap operations free the blocks handed over to them: always,
/// except under the loom models' fault `HandOverNeverFreed`.
#[inline]
fn drains() -> bool {
    #[cfg(all(loom, feature = "loom-faults"))]
    if crate::faults::active(crate::faults::Fault::HandOverNeverFreed) {
        return false;
    }
    true
}

/// Bytes of pages a large block of `size` bytes takes.
fn pages_of(size: usize) -> usize {
    size.next_multiple_of(PAGE_SIZE)
}

impl<M: LinearMemory, P: Policy> GenericAlloc<M, P> {
    /// Whether the policy has one arena (the single-threaded build): then
    /// every block is the calling thread's arena's, and a free need not
    /// read its segment's owner.
    const ONE_ARENA: bool = GenericVmem::<M, P>::ARENAS == 1;

    /// Figures of the allocator (see [`AllocStats`]); the pool's own are in
    /// [`vmem().stats()`](GenericVmem::stats).
    pub fn stats(&self) -> AllocStats {
        let mut s = AllocStats::default();
        let arenas = GenericVmem::<M, P>::ARENAS;
        let (mut in_use, mut pages) = (0usize, 0usize);
        for (arena, large) in self.large[..arenas].iter().enumerate() {
            // Blocks other threads handed over are freed first, so that
            // the figures are exact when no thread allocates.
            self.with_heap(arena, |a| {
                s.small_in_use_bytes += a.in_use() as u64;
                s.small_segments += a.segments;
            });
            in_use = in_use.wrapping_add(large.in_use.load(Relaxed));
            pages = pages.wrapping_add(large.pages.load(Relaxed));
            s.zeroing_skipped_bytes += large.zero_skipped.load(Relaxed);
            s.zeroed_bytes += large.zeroed.load(Relaxed);
        }
        s.small_held_bytes = (s.small_segments * SEGMENT) as u64;
        s.large_bytes = pages as u64;
        s.in_use_bytes = in_use as u64 + s.small_in_use_bytes;
        s
    }

    /// Runs `f` on `arena`'s heap under its lock, after freeing the blocks
    /// other threads handed over; releases the segments it gave up after
    /// unlocking.
    #[inline]
    fn with_heap<R>(&self, arena: usize, f: impl FnOnce(&mut SmallArena) -> R) -> R {
        let (r, released) = self.small[arena].with(|h| Self::heap_op(h, &self.remote[arena], f));
        self.release_segments(released);
        r
    }

    /// [`with_heap`](Self::with_heap) if `arena`'s lock is free now.
    fn try_with_heap<R>(&self, arena: usize, f: impl FnOnce(&mut SmallArena) -> R) -> Option<R> {
        let (r, released) =
            self.small[arena].try_with(|h| Self::heap_op(h, &self.remote[arena], f))?;
        self.release_segments(released);
        Some(r)
    }

    /// The locked part of [`with_heap`](Self::with_heap).
    fn heap_op<R>(
        heap: &mut SmallArena,
        remote: &Remote,
        f: impl FnOnce(&mut SmallArena) -> R,
    ) -> (R, Released) {
        if drains() {
            // SAFETY: `remote` is this heap's stack (same index).
            unsafe { heap.drain(remote) };
        }
        let r = f(heap);
        (r, heap.take_released())
    }

    /// Releases segments a heap gave up to the pool.
    #[inline]
    fn release_segments(&self, released: Released) {
        if !released.is_empty() {
            self.release_segments_now(released);
        }
    }

    /// [`release_segments`](Self::release_segments) when there are some.
    #[cold]
    #[inline(never)]
    fn release_segments_now(&self, released: Released) {
        for seg in released {
            // SAFETY: the heap gave the segment up and no block of it is
            // live: nothing accesses it any more.
            unsafe { self.release_pages(seg.as_ptr(), SEGMENT) };
        }
    }

    fn counts(&self) -> &LargeCounts {
        &self.large[self.vmem.home()]
    }

    /// A small block from this thread's heap, adding a segment when it is
    /// full; null when the pool cannot give one. `#[inline]`: `alloc` and
    /// `alloc_zeroed` both carry this fast path (see `alloc_zeroed`).
    #[inline]
    fn alloc_small(&self, layout: Layout) -> *mut u8 {
        self.alloc_small_in(self.vmem.home(), layout)
    }

    /// A small block from the heap of `arena` (tests and loom models place
    /// blocks in chosen arenas with it); null for a large layout or when
    /// the pool cannot give a segment.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn alloc_in(&self, arena: usize, layout: Layout) -> *mut u8 {
        if is_large(layout) || layout.size() == 0 {
            return ptr::null_mut();
        }
        self.alloc_small_in(arena % GenericVmem::<M, P>::ARENAS, layout)
    }

    /// Whether blocks freed by other threads wait on `arena`'s stack (for
    /// tests and loom models).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn handed_over(&self, arena: usize) -> bool {
        self.remote[arena % GenericVmem::<M, P>::ARENAS].waiting()
    }

    /// [`alloc_small`](Self::alloc_small) in `arena`'s heap.
    #[inline(always)]
    fn alloc_small_in(&self, arena: usize, layout: Layout) -> *mut u8 {
        // Blocks handed over are freed by the arena's next allocation: it
        // looks (one load) before it takes the lock, and only then leaves
        // the fast path, which thus neither frees them nor releases the
        // segments that frees empty (docs/DESIGN.md §10, entry 31).
        if !Self::ONE_ARENA && self.remote[arena].waiting() {
            return self.alloc_small_slow(arena, layout);
        }
        // SAFETY: `layout` has a non-zero size (GlobalAlloc callers).
        match self.small[arena].with(|h| unsafe { h.alloc(layout) }) {
            Some(p) => p.as_ptr(),
            None => self.alloc_small_slow(arena, layout),
        }
    }

    /// [`alloc_small_in`](Self::alloc_small_in) when blocks wait on the
    /// arena's hand-over stack or its heap is full: frees them (they may
    /// make room) and allocates, else adds segments.
    #[cold]
    #[inline(never)]
    fn alloc_small_slow(&self, arena: usize, layout: Layout) -> *mut u8 {
        // SAFETY: `layout` has a non-zero size (GlobalAlloc callers).
        match self.with_heap(arena, |a| unsafe { a.alloc(layout) }) {
            Some(p) => p.as_ptr(),
            None => self.alloc_small_growing(arena, layout),
        }
    }

    /// [`alloc_small_in`](Self::alloc_small_in) when the heap is full: adds
    /// segments.
    #[cold]
    #[inline(never)]
    fn alloc_small_growing(&self, arena: usize, layout: Layout) -> *mut u8 {
        // A fresh segment always fits a small block, but other threads of
        // the arena may fill it before this one retries: a few rounds, then
        // the other heaps.
        for _ in 0..SEGMENT_ROUNDS {
            // Outside the lock: the pool may grow the memory.
            let Ok((seg, _)) = self.reserve_or_reclaim(SEGMENT, SEGMENT, Fill::Any) else {
                // No segment to be had: room left in another arena's heap
                // (its threads idle, say) is used rather than refused.
                return self.alloc_small_elsewhere(arena, layout);
            };
            // SAFETY: just reserved, this call's alone; it stays reserved
            // until the heap gives it back.
            if !self.with_heap(arena, |a| unsafe { a.add_segment(seg, arena) }) {
                // SAFETY: reserved above and not handed out.
                unsafe { self.release_pages(seg.as_ptr(), SEGMENT) };
                return ptr::null_mut();
            }
            // SAFETY: `layout` has a non-zero size (GlobalAlloc callers).
            if let Some(p) = self.with_heap(arena, |a| unsafe { a.alloc(layout) }) {
                return p.as_ptr();
            }
        }
        self.alloc_small_elsewhere(arena, layout)
    }

    /// A small block from any arena's heap but `home`'s, without adding
    /// segments; null if none has room. The block belongs to that arena,
    /// as its segment's header says, and is freed there.
    fn alloc_small_elsewhere(&self, home: usize, layout: Layout) -> *mut u8 {
        let arenas = GenericVmem::<M, P>::ARENAS;
        (1..arenas)
            .map(|i| (home + i) % arenas)
            // SAFETY: `layout` has a non-zero size (GlobalAlloc callers).
            .find_map(|a| self.with_heap(a, |h| unsafe { h.alloc(layout) }))
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    /// Frees a small block into the heap it came from.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live small block allocated
    /// with `layout`.
    #[inline]
    unsafe fn dealloc_small(&self, ptr: NonNull<u8>, layout: Layout) {
        let owner = if Self::ONE_ARENA {
            0
        } else {
            // SAFETY: a live small block (caller).
            unsafe { small::owner(ptr) }
        };
        let free = |h: &mut SmallArena| {
            // SAFETY: a live block of `owner`'s heap with that layout
            // (caller).
            unsafe { h.dealloc(ptr, layout) }
        };
        #[cfg(all(loom, feature = "loom-faults"))]
        if crate::faults::active(crate::faults::Fault::FreeWithoutOwnerLock) {
            let (_, released) =
                self.small[owner].with_unlocked(|h| Self::heap_op(h, &self.remote[owner], free));
            self.release_segments(released);
            return;
        }
        if owner == self.vmem.home() {
            // Without freeing the blocks handed over: the arena's next
            // allocation does (docs/DESIGN.md §10, entry 31).
            let released = self.small[owner].with(|h| {
                free(h);
                h.take_released()
            });
            self.release_segments(released);
            return;
        }
        // SAFETY: as the caller guarantees.
        unsafe { self.hand_over(owner, ptr, layout) };
    }

    /// Frees a small block of another arena, `owner`: hands it over
    /// without touching that arena's lock or heap, whose lines its own
    /// threads are using (docs/DESIGN.md §10, decision 21). Out of line,
    /// so that the free of a thread's own block stays small enough to be
    /// inlined into its callers (entry 31).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live small block of
    /// `owner`'s heap allocated with `layout`.
    #[inline(never)]
    unsafe fn hand_over(&self, owner: usize, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: a live block of `owner`'s heap with that layout, not
        // accessed after (caller).
        let waiting = unsafe { self.remote[owner].push(ptr, layout) };
        if waiting >= HANDOVER_BATCH {
            // Enough wait there to be worth freeing now, in case that
            // arena's threads went idle: if its lock is free, the blocks
            // are freed (and emptied segments released) at once.
            self.try_with_heap(owner, |_| ());
        }
    }

    /// Frees the blocks handed over to every arena (locking those that
    /// have some), so that segments they empty go back to the pool; whether
    /// any had. The out-of-memory paths call it before they give up.
    fn reclaim(&self) -> bool {
        let arenas = GenericVmem::<M, P>::ARENAS;
        let mut any = false;
        for arena in 0..arenas {
            if self.remote[arena].waiting() {
                self.with_heap(arena, |_| ());
                any = true;
            }
        }
        any
    }

    /// A large block: pages of the pool, zero if `fill` says so. Out of
    /// line, as every large path: a small allocation or free stays small
    /// enough to be inlined into its callers (entry 31).
    #[inline(never)]
    fn alloc_large(&self, layout: Layout, fill: Fill) -> *mut u8 {
        match self.reserve_or_reclaim(layout.size(), layout.align(), fill) {
            Ok((p, zeroed)) => {
                let counts = self.counts();
                let pages = pages_of(layout.size());
                counts.in_use.fetch_add(layout.size(), Relaxed);
                counts.pages.fetch_add(pages, Relaxed);
                if fill == Fill::Zero {
                    counts.zeroed.fetch_add(zeroed as u64, Relaxed);
                    counts
                        .zero_skipped
                        .fetch_add((pages - zeroed) as u64, Relaxed);
                }
                p.as_ptr()
            }
            Err(_) => ptr::null_mut(),
        }
    }

    /// Pages from the pool; when it has none, the blocks handed over to
    /// idle arenas are freed first ([`reclaim`](Self::reclaim)) and the
    /// pool is asked again.
    fn reserve_or_reclaim(
        &self,
        size: usize,
        align: usize,
        fill: Fill,
    ) -> Result<(NonNull<u8>, usize), crate::Error> {
        match self.vmem.reserve_filled(size, align, fill) {
            Err(crate::Error::OutOfMemory { .. } | crate::Error::LimitExceeded { .. })
                if self.reclaim() =>
            {
                self.vmem.reserve_filled(size, align, fill)
            }
            r => r,
        }
    }

    /// Releases `ptr .. ptr + size` (a large block, its tail, or a
    /// segment) to the pool.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the range is reserved by this allocator
    /// (a large block, its page-aligned tail, or a segment) and that nothing
    /// accesses it any more.
    unsafe fn release_pages(&self, ptr: *mut u8, size: usize) {
        // SAFETY: as the caller guarantees.
        let released = unsafe { self.vmem.release(ptr, size) };
        debug_assert!(released.is_ok(), "{released:?}");
    }

    /// Frees a large block: its pages go back to the pool.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live large block allocated
    /// with `layout`.
    #[inline(never)]
    unsafe fn dealloc_large(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: a live large block of that layout (caller).
        unsafe { self.release_pages(ptr.as_ptr(), layout.size()) };
        let counts = self.counts();
        counts.in_use.fetch_sub(layout.size(), Relaxed);
        counts.pages.fetch_sub(pages_of(layout.size()), Relaxed);
    }

    /// Reallocates a large block, in place when the pool can.
    ///
    /// # Safety
    ///
    /// As for [`GlobalAlloc::realloc`], with both layouts large.
    unsafe fn realloc_large(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
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
    unsafe fn realloc_by_copy(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
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

// SAFETY: every block is either pages reserved for it alone in the pool
// (aligned as asked: the pool aligns reservations to `max(align, page)`)
// or a talc block of at least the layout's size and alignment inside a
// segment reserved for that heap alone; blocks never overlap, and a block
// is only handed back to the heap or pool it came from. Null on failure.
unsafe impl<M: LinearMemory, P: Policy> GlobalAlloc for GenericAlloc<M, P> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            self.alloc_large(layout, Fill::Any)
        } else {
            self.alloc_small(layout)
        }
    }

    // `#[inline]` as `alloc`, with the same fast path inlined: the
    // program's `__rust_alloc_zeroed` must never be much smaller than its
    // `__rust_alloc`. A two-instruction `__rust_alloc_zeroed` beside a
    // `__rust_alloc` that carries the fast path made rustc 1.95 (LLVM 22)
    // crash while it built a user's release build: ThinLTO imported the
    // small one into a codegen unit where the large one stayed a call, the
    // inliner left the imported copy dead, and dead-store elimination
    // turned an allocation followed by zeroing into a call to that dead
    // copy (docs/DESIGN.md §9, docs/llvm-crash.md; `regress/` checks it).
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            return self.alloc_large(layout, Fill::Zero);
        }
        let p = self.alloc_small(layout);
        if !p.is_null() {
            // SAFETY: a fresh block of `layout.size()` bytes.
            unsafe { ptr::write_bytes(p, 0, layout.size()) };
            self.counts()
                .zeroed
                .fetch_add(layout.size() as u64, Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        if is_large(layout) {
            // SAFETY: a live large block of that layout (caller).
            unsafe { self.dealloc_large(p, layout) };
        } else {
            // SAFETY: a live small block of that layout (caller).
            unsafe { self.dealloc_small(p, layout) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid size for the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (is_large(layout), is_large(new_layout)) {
            // SAFETY: realloc's contract, both large.
            (true, true) => unsafe { self.realloc_large(ptr, layout, new_size) },
            (false, false) => {
                let Some(p) = NonNull::new(ptr) else {
                    return ptr::null_mut();
                };
                // SAFETY: a live small block (caller).
                let owner = unsafe { small::owner(p) };
                // SAFETY: a live block of `owner`'s heap with `layout`,
                // `new_size` non-zero (caller).
                let in_place = self.with_heap(owner, |a| unsafe {
                    a.realloc_in_place(p, layout, new_size)
                });
                if in_place {
                    ptr
                } else {
                    // SAFETY: realloc's contract (caller).
                    unsafe { self.realloc_by_copy(ptr, layout, new_size) }
                }
            }
            // SAFETY: realloc's contract (caller).
            _ => unsafe { self.realloc_by_copy(ptr, layout, new_size) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_large_is_its_two_bounds() {
        let sizes = [0, 1, 24, PAGE_SIZE - 1, PAGE_SIZE, LARGE_MIN - 1, LARGE_MIN];
        let sizes = sizes
            .into_iter()
            .chain([LARGE_MIN + 1, isize::MAX as usize / 2]);
        for size in sizes {
            for align in (0..usize::BITS).map(|b| 1usize << b) {
                let Ok(l) = Layout::from_size_align(size, align) else {
                    continue;
                };
                let two = size >= LARGE_MIN || align >= PAGE_SIZE;
                assert_eq!(is_large(l), two, "size {size} align {align}");
            }
        }
    }
}
