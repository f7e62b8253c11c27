//! The global allocator on the page pool (docs/DESIGN.md §9).
//!
//! Large requests are page reservations of the instance's own
//! [`GenericVmem`]; small ones come from heaps of size-class
//! spans ([`heap`], [`span`], [`class`]) reserved from the same instance.
//! One instance, one pool: a page released by the page API serves a
//! `Vec`, and the other way round.

mod class;
mod heap;
mod large;
mod span;

use crate::policy::lock::{lock_init, Locked};
use crate::policy::Policy;
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::sync::{array_of, const_fn};
use crate::sys::LinearMemory;
use crate::table::Fill;
use crate::units::{slots_in_use, MAX_HEAPS, PAGE_SIZE};
use crate::vmem::GenericVmem;
use class::{class_of, INFO};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use heap::{Heap, Released};
use span::{Pending, Span};

/// Requests of this many bytes or more are page reservations; smaller ones
/// come from the small-object heaps. 32 KiB, two pages: a freed block is
/// whole pages that serve any later reservation, where a block in a span
/// of three or more would keep the span's other blocks' room from it; a
/// reservation rounds up by less than half (decision 0041).
pub const LARGE_MIN: usize = 32 * 1024;

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
/// - Smaller requests come from the thread's heap (one of
///   [`Policy::HEAPS`], chosen by the thread's number as arenas are):
///   spans of the pool, each holding blocks of one size class, with a
///   free list for allocation, one for frees by the heap's threads and an
///   atomic one for frees by other threads, which take no lock (mimalloc's free-list sharding). A span whose
///   blocks are all free goes back to the pool, except a few kept for
///   reuse.
///
/// Out of memory gives a null pointer, never a panic or a trap. No lock is
/// held while the pool grows the memory or zeroes pages, and the
/// instance's own metadata never comes from the global allocator, so this
/// may be the global allocator itself. The multithreaded variant only
/// spins: the browser main thread may allocate.
#[derive(Debug)]
pub struct GenericAlloc<M, P: Policy> {
    vmem: GenericVmem<M, P>,
    small: [Locked<P::Lock, Heap>; MAX_HEAPS],
    /// Spans of each heap that left their queue full and had a block
    /// freed since by a thread of another heap.
    pending: [Pending; MAX_HEAPS],
    counts: [Counts; MAX_HEAPS],
}

/// Counts kept by the heap of the thread that made the change (summed by
/// [`GenericAlloc::stats`]), so that threads do not share a counter's
/// line. Wrapping: a block freed by another heap's thread is subtracted
/// from that thread's heap.
#[derive(Debug)]
#[repr(align(128))]
struct Counts {
    /// Bytes of live large blocks, as their layouts say.
    in_use: AtomicUsize,
    /// Bytes of pages in live large blocks.
    pages: AtomicUsize,
    /// Bytes of small blocks of other heaps freed by this heap's threads.
    small_freed: AtomicUsize,
    /// Bytes that `alloc_zeroed` did not write, known zero.
    zero_skipped: AtomicU64,
    /// Bytes that `alloc_zeroed` wrote with zeros (large and small).
    zeroed: AtomicU64,
}

/// Figures of a [`GenericAlloc`]: sums over the heaps, each read at a
/// different moment while other threads allocate, exact when none does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes in live allocations, as their layouts say.
    pub in_use_bytes: u64,
    /// Of them, in small blocks.
    pub small_in_use_bytes: u64,
    /// Bytes the small-object heaps hold: their spans, and the freed large
    /// blocks of a few pages they keep for reuse (at most a reserve each).
    pub small_held_bytes: u64,
    /// Spans held by the small-object heaps.
    pub small_spans: usize,
    /// Bytes of pages in large blocks.
    pub large_bytes: u64,
    /// Bytes `alloc_zeroed` promised zero without writing them: pages the
    /// pool knew were zero, and small blocks never written since their
    /// span came zero from the pool.
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
                small: array_of!(MAX_HEAPS, Locked::new(lock_init!(P::Lock), Heap::new())),
                pending: array_of!(MAX_HEAPS, Pending::new()),
                counts: array_of!(MAX_HEAPS, Counts::new()),
            }
        }
    }

    /// The page pool: reservations made here and the allocator's blocks
    /// share its pages.
    pub fn vmem(&self) -> &GenericVmem<M, P> {
        &self.vmem
    }
}

impl Counts {
    const_fn! {
        const fn new() -> Self {
            Self {
                in_use: AtomicUsize::new(0),
                pages: AtomicUsize::new(0),
                small_freed: AtomicUsize::new(0),
                zero_skipped: AtomicU64::new(0),
                zeroed: AtomicU64::new(0),
            }
        }
    }

    /// A large block of `size` bytes in `pages` bytes of pages handed out.
    fn large_out(&self, size: usize, pages: usize) {
        self.in_use.fetch_add(size, Relaxed);
        self.pages.fetch_add(pages, Relaxed);
    }

    /// A large block of `size` bytes in `pages` bytes of pages freed.
    fn large_back(&self, size: usize, pages: usize) {
        self.in_use.fetch_sub(size, Relaxed);
        self.pages.fetch_sub(pages, Relaxed);
    }
}

/// Whether `layout` is served by pages rather than a small heap. A function
/// of the layout alone, so that `dealloc` and `realloc` agree with `alloc`.
///
/// `size >= LARGE_MIN || align >= PAGE_SIZE` in one comparison (on every
/// allocation and free): both bounds are powers of two and `LARGE_MIN` is
/// a power of two times `PAGE_SIZE` (twice), so `size / 2` or `align`
/// reaches `PAGE_SIZE` exactly when their bitwise or does.
#[inline]
fn is_large(layout: Layout) -> bool {
    ((layout.size() / (LARGE_MIN / PAGE_SIZE)) | layout.align()) >= PAGE_SIZE
}

const _: () = assert!(
    PAGE_SIZE.is_power_of_two()
        && LARGE_MIN >= PAGE_SIZE
        && (LARGE_MIN / PAGE_SIZE).is_power_of_two(),
    "is_large relies on both"
);

/// Whether heap operations take the spans waiting on their heap's
/// pending stack: always, except under the loom models' fault
/// `PendingNeverTaken`.
#[inline]
fn takes_pending() -> bool {
    #[cfg(all(loom, feature = "loom-faults"))]
    if crate::faults::active(crate::faults::Fault::PendingNeverTaken) {
        return false;
    }
    true
}

/// A sum of per-heap wrapping counts, as [`GenericAlloc::stats`] reports
/// it. Exact when no thread allocates; while threads do, the heaps are
/// read at different moments, and a block freed by a thread of another
/// heap may be subtracted there before its allocation is seen: the sum is
/// then below zero and wraps. Natively (64-bit) such a sum is far above
/// any memory and reads zero; on wasm32 it cannot be told from a large
/// count and is reported as it is.
fn settled(sum: usize) -> u64 {
    if usize::BITS == 64 && sum > isize::MAX as usize {
        0
    } else {
        sum as u64
    }
}

impl<M: LinearMemory, P: Policy> GenericAlloc<M, P> {
    /// Small-object heaps in use: `P::HEAPS`, within 1 ..= [`MAX_HEAPS`].
    const HEAPS: usize = slots_in_use(P::HEAPS, MAX_HEAPS);

    /// Whether the policy has one heap (the single-threaded build): then
    /// every block is the calling thread's heap's, no block is ever freed
    /// by another heap's thread, and the heap makes no atomic
    /// read-modify-write.
    const ONE_HEAP: bool = Self::HEAPS == 1;

    /// Whether blocks may be freed by threads of other heaps.
    const REMOTE: bool = !Self::ONE_HEAP;

    /// The calling thread's heap: its number modulo the heaps, as its
    /// arena is modulo the arenas (`policy::thread::slot`).
    #[inline]
    fn home(&self) -> usize {
        crate::policy::thread::slot(Self::HEAPS)
    }

    /// Figures of the allocator (see [`AllocStats`]); the pool's own are in
    /// [`vmem().stats()`](GenericVmem::stats).
    pub fn stats(&self) -> AllocStats {
        let mut s = AllocStats::default();
        let (mut in_use, mut pages, mut small) = (0usize, 0usize, 0usize);
        for (heap, counts) in self.counts[..Self::HEAPS].iter().enumerate() {
            self.with_heap(heap, |h| {
                small = small.wrapping_add(h.in_use);
                s.small_spans += h.spans;
                s.small_held_bytes += h.held as u64;
            });
            small = small.wrapping_sub(counts.small_freed.load(Relaxed));
            in_use = in_use.wrapping_add(counts.in_use.load(Relaxed));
            pages = pages.wrapping_add(counts.pages.load(Relaxed));
            s.zeroing_skipped_bytes += counts.zero_skipped.load(Relaxed);
            s.zeroed_bytes += counts.zeroed.load(Relaxed);
        }
        s.small_in_use_bytes = settled(small);
        s.large_bytes = settled(pages);
        s.in_use_bytes = settled(in_use.wrapping_add(small));
        s
    }

    /// Runs `f` on heap `heap` under its lock, after taking the spans
    /// waiting on its pending stack; releases the spans it gave up after
    /// unlocking.
    #[inline]
    fn with_heap<R>(&self, heap: usize, f: impl FnOnce(&mut Heap) -> R) -> R {
        let (r, released) = self.small[heap].with(|h| Self::heap_op(h, &self.pending[heap], f));
        self.release_spans(released);
        r
    }

    /// The locked part of [`with_heap`](Self::with_heap).
    fn heap_op<R>(
        heap: &mut Heap,
        pending: &Pending,
        f: impl FnOnce(&mut Heap) -> R,
    ) -> (R, Released) {
        if Self::REMOTE && takes_pending() {
            // SAFETY: `pending` is this heap's stack (same index).
            unsafe { heap.take_pending(pending) };
        }
        let r = f(heap);
        (r, heap.take_released())
    }

    /// Releases spans a heap gave up to the pool.
    #[inline]
    fn release_spans(&self, released: Released) {
        if !released.is_empty() {
            self.release_spans_now(released);
        }
    }

    /// [`release_spans`](Self::release_spans) when there are some.
    #[cold]
    #[inline(never)]
    fn release_spans_now(&self, released: Released) {
        for (span, bytes) in released {
            // SAFETY: the heap gave the span up and no block of it is
            // live: nothing accesses it any more.
            unsafe { self.release_pages(span.as_ptr(), bytes) };
        }
    }

    fn counts(&self) -> &Counts {
        &self.counts[self.home()]
    }

    /// A small block from heap `heap` (tests and loom models place
    /// blocks in chosen heaps with it); null for a large layout or when
    /// the pool cannot give a span.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn alloc_in(&self, heap: usize, layout: Layout) -> *mut u8 {
        if is_large(layout) || layout.size() == 0 {
            return ptr::null_mut();
        }
        self.alloc_small_in(heap % Self::HEAPS, layout).0
    }

    /// Frees a small block as a thread of heap `home` does: into its
    /// span's local list under the owner's lock if the block is `home`'s,
    /// else onto its span's list of blocks freed by other threads (tests
    /// and loom models, where every thread's own heap is 0, free as the
    /// owner or as another heap with it). Large layouts are freed as
    /// [`dealloc`](GlobalAlloc::dealloc) does.
    ///
    /// # Safety
    ///
    /// As for [`GlobalAlloc::dealloc`].
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub unsafe fn dealloc_from(&self, home: usize, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        let home = home % Self::HEAPS;
        // SAFETY: a live block of that layout (caller).
        unsafe {
            if is_large(layout) {
                self.dealloc_large(p, layout);
            } else {
                self.dealloc_small_from(home, p, layout);
            }
        }
    }

    /// Bytes each heap keeps for reuse, at most: empty spans for any class
    /// of the same span size, and freed large blocks of up to four pages
    /// (besides one empty span per class, see
    /// [`KEPT_EMPTY_BYTES`](Self::KEPT_EMPTY_BYTES)).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub const SPAN_RESERVE_BYTES: usize = heap::RESERVE;

    /// Bytes a heap holds with no live block, at most: one empty span per
    /// size class, and [`SPAN_RESERVE_BYTES`](Self::SPAN_RESERVE_BYTES).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub const KEPT_EMPTY_BYTES: usize = heap::KEPT_EMPTY;

    /// Checks the small-object heaps (each under its lock) and the page
    /// pool, panicking if an invariant is broken: every span a heap holds
    /// in a queue, in its cache or on its pending stack is reserved in the
    /// pool, is that heap's and is where its header says (a span given
    /// back while a remote free still pushes it on the stack fails here).
    /// For tests and loom models; walks every queue.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn check_invariants(&self) {
        for heap in 0..Self::HEAPS {
            self.small[heap].with(|h| {
                h.check(heap, &self.pending[heap], |p, n| {
                    self.vmem.is_reserved(p, n)
                })
            });
        }
        self.vmem.check_invariants();
    }

    /// Whether spans of `heap` wait on its pending stack: a block was
    /// freed by another thread into a span that was full (for tests and
    /// loom models).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn handed_over(&self, heap: usize) -> bool {
        self.pending[heap % Self::HEAPS].waiting()
    }

    /// A small block from this thread's heap, and whether it reads zero
    /// but for its first word; null when the pool cannot give a span.
    #[inline]
    fn alloc_small(&self, layout: Layout) -> (*mut u8, bool) {
        let heap = self.home();
        self.alloc_small_in(heap, layout)
    }

    /// [`alloc_small`](Self::alloc_small) in heap `heap`.
    #[inline]
    fn alloc_small_in(&self, heap: usize, layout: Layout) -> (*mut u8, bool) {
        let class = class_of(layout);
        // Spans on the pending stack are taken by the heap's next
        // allocation: it looks (one load) before it takes the lock, and
        // only then leaves the fast path.
        if Self::REMOTE && self.pending[heap].waiting() {
            return self.alloc_small_slow(heap, class, layout.size());
        }
        match self.small[heap].with(|h| h.alloc(class, layout.size(), Self::REMOTE)) {
            Some((p, zero)) => (p.as_ptr(), zero),
            None => self.alloc_small_slow(heap, class, layout.size()),
        }
    }

    /// [`alloc_small_in`](Self::alloc_small_in) when spans wait on the
    /// heap's pending stack or it has no room: takes them (they
    /// may make room) and allocates, else adds a span.
    #[cold]
    #[inline(never)]
    fn alloc_small_slow(&self, heap: usize, class: usize, size: usize) -> (*mut u8, bool) {
        if let Some((p, zero)) = self.with_heap(heap, |h| h.alloc(class, size, Self::REMOTE)) {
            return (p.as_ptr(), zero);
        }
        let bytes = INFO[class].span as usize;
        // Outside the lock: the pool may grow the memory. Taken as the
        // pages are, nothing zeroed: if none held data (fresh memory, pages
        // known zero), blocks never written read zero and `alloc_zeroed`
        // skips them; otherwise it zeroes each block it hands out.
        let Ok((span, held_data)) =
            self.reserve_or_reclaim(bytes, bytes, Fill::Any, Self::reclaim_reserves)
        else {
            // No span to be had: room left in another heap (its
            // threads idle, say) is used rather than refused.
            return self.alloc_small_elsewhere(heap, class, size);
        };
        let got = self.with_heap(heap, |h| {
            // SAFETY: just reserved, this call's alone, zero if no page
            // held data; it stays reserved until the heap gives it back.
            unsafe { h.add_span(span, class, heap, held_data == 0, Self::REMOTE) };
            h.alloc(class, size, Self::REMOTE)
        });
        // A span just added has a free block, and the lock was held from
        // adding it to allocating.
        got.map_or((ptr::null_mut(), false), |(p, zero)| (p.as_ptr(), zero))
    }

    /// A small block from any heap but `home`'s, without adding
    /// spans; null if none has room. The block belongs to that heap, as
    /// its span's header says, and is freed there.
    fn alloc_small_elsewhere(&self, home: usize, class: usize, size: usize) -> (*mut u8, bool) {
        let heaps = Self::HEAPS;
        (1..heaps)
            .map(|i| (home + i) % heaps)
            .find_map(|a| self.with_heap(a, |h| h.alloc(class, size, Self::REMOTE)))
            .map_or((ptr::null_mut(), false), |(p, zero)| (p.as_ptr(), zero))
    }

    /// Frees a small block into the heap it came from.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live small block allocated
    /// with `layout`.
    #[inline]
    unsafe fn dealloc_small(&self, ptr: NonNull<u8>, layout: Layout) {
        let home = self.home();
        // SAFETY: as the caller guarantees.
        unsafe { self.dealloc_small_from(home, ptr, layout) }
    }

    /// [`dealloc_small`](Self::dealloc_small) by a thread of heap `home`.
    ///
    /// # Safety
    ///
    /// As for [`dealloc_small`](Self::dealloc_small); `home` is a heap
    /// of the instance.
    #[inline]
    unsafe fn dealloc_small_from(&self, home: usize, ptr: NonNull<u8>, layout: Layout) {
        let class = class_of(layout);
        let free = |h: &mut Heap| {
            // SAFETY: a live block of that heap with that layout (caller).
            unsafe { h.dealloc(ptr, class, layout.size(), Self::REMOTE) };
            h.take_released()
        };
        if Self::ONE_HEAP {
            let released = self.small[0].with(free);
            self.release_spans(released);
            return;
        }
        let span = Span::of(ptr, class);
        // SAFETY: a live block's span has a header written before the
        // block was handed out; `heap` never changes while it is held.
        let owner = unsafe { (*span).heap } as usize;
        #[cfg(all(loom, feature = "loom-faults"))]
        if crate::faults::active(crate::faults::Fault::FreeWithoutOwnerLock) {
            let released = self.small[owner].with_unlocked(free);
            self.release_spans(released);
            return;
        }
        if owner == home {
            // Without taking the pending spans: the heap's next
            // allocation does.
            let released = self.small[owner].with(free);
            self.release_spans(released);
            return;
        }
        // SAFETY: as the caller guarantees.
        unsafe { self.free_remote(span, owner, home, ptr, layout.size()) };
    }

    /// Frees a small block of another heap, `owner`: pushes it on its
    /// span's list of blocks freed by other threads, without touching that
    /// heap's lock or heap, whose lines its own threads are using. Out of
    /// line, so that the free of a thread's own block stays small enough
    /// to be inlined into its callers.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live block of `span`, of
    /// `owner`'s heap, of `size` bytes.
    #[inline(never)]
    unsafe fn free_remote(
        &self,
        span: *mut Span,
        owner: usize,
        home: usize,
        ptr: NonNull<u8>,
        size: usize,
    ) {
        // SAFETY: as the caller guarantees; `pending` is the owner's.
        unsafe { Span::free_remote(span, ptr, &self.pending[owner]) };
        self.counts[home].small_freed.fetch_add(size, Relaxed);
    }

    /// Gives every small-object span that holds no live block, and every
    /// freed large block a heap keeps, back to the pool (`malloc_trim`),
    /// after collecting the blocks other threads freed into the spans,
    /// locking each heap in turn; whether anything went back. Heaps
    /// otherwise keep empty spans and freed large blocks up to a reserve
    /// for reuse, and spans whose blocks other threads freed while their
    /// heap allocated nothing more. The allocator calls it itself before
    /// it reports out of memory, and before the memory grows for a large
    /// block; before it grows for a span, the heaps give back their
    /// reserves only.
    pub fn trim(&self) -> bool {
        self.reclaim()
    }

    /// [`trim`](Self::trim): the out-of-memory paths call it before they
    /// give up, and a large block's before the memory grows.
    fn reclaim(&self) -> bool {
        self.give_back(true)
    }

    /// What every heap keeps in reserve, cached empty spans and kept
    /// large blocks, given back before the memory grows for a span: a few
    /// chains a heap, where [`reclaim`](Self::reclaim) walks every span.
    fn reclaim_reserves(&self) -> bool {
        self.give_back(false)
    }

    /// Locks each heap in turn and gives back its reserve, and with
    /// `spans` its empty spans too ([`Heap::trim`]); whether anything went
    /// back.
    fn give_back(&self, spans: bool) -> bool {
        let mut any = false;
        for heap in 0..Self::HEAPS {
            let released = self.small[heap].with(|h| {
                if spans {
                    // SAFETY: the heap's own stack.
                    unsafe { h.trim(&self.pending[heap], Self::REMOTE) };
                } else {
                    h.give_back_reserve();
                }
                h.take_released()
            });
            any |= !released.is_empty();
            self.release_spans(released);
        }
        any
    }

    /// Pages from the pool; before the pool grows the memory, which never
    /// shrinks, the heaps give back what `before_grow` takes from them
    /// ([`reclaim`](Self::reclaim) or
    /// [`reclaim_reserves`](Self::reclaim_reserves)) and the pool is
    /// searched again; when it has none, they give back their empty spans
    /// too and the pool is asked again.
    fn reserve_or_reclaim(
        &self,
        size: usize,
        align: usize,
        fill: Fill,
        before_grow: fn(&Self) -> bool,
    ) -> Result<(NonNull<u8>, usize), crate::Error> {
        let mut before_grow = || before_grow(self);
        match self
            .vmem
            .reserve_filled(size, align, fill, &mut before_grow)
        {
            Err(crate::Error::OutOfMemory { .. } | crate::Error::LimitExceeded { .. })
                if self.reclaim() =>
            {
                self.vmem.reserve_filled(size, align, fill, &mut || false)
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
}

// SAFETY: every block is either pages reserved for it alone in the pool
// (aligned as asked: the pool aligns reservations to `max(align, page)`)
// or a block of a size class of at least the layout's size and alignment
// (`class_of`) inside a span reserved for that heap alone; blocks never
// overlap, and a block is only handed back to the heap or pool it came
// from. Null on failure.
unsafe impl<M: LinearMemory, P: Policy> GlobalAlloc for GenericAlloc<M, P> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            self.alloc_large(layout, Fill::Any)
        } else {
            self.alloc_small(layout).0
        }
    }

    // `#[inline]` as `alloc`, with the same fast path inlined: the
    // program's `__rust_alloc_zeroed` must never be much smaller than its
    // `__rust_alloc` (docs/DESIGN.md §9, "A shape LLVM must not see";
    // docs/llvm-crash.md; `regress/` checks it).
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            return self.alloc_large(layout, Fill::Zero);
        }
        let (p, zero) = self.alloc_small(layout);
        if !p.is_null() {
            // A block never written since its span came zero from the pool
            // holds only its free-list link.
            let write = if zero {
                layout.size().min(size_of::<span::Block>())
            } else {
                layout.size()
            };
            // SAFETY: a fresh block of at least `layout.size()` bytes.
            unsafe { ptr::write_bytes(p, 0, write) };
            let counts = self.counts();
            counts.zeroed.fetch_add(write as u64, Relaxed);
            if zero {
                counts
                    .zero_skipped
                    .fetch_add((layout.size() - write) as u64, Relaxed);
            }
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
            (false, false) if class_of(layout) == class_of(new_layout) => {
                // The block already has room: only the count changes, in
                // the heap that counted the allocation.
                let Some(p) = NonNull::new(ptr) else {
                    return ptr::null_mut();
                };
                let owner = if Self::ONE_HEAP {
                    0
                } else {
                    // SAFETY: a live small block: its span's header was
                    // written before it was handed out.
                    unsafe { (*Span::of(p, class_of(layout))).heap as usize }
                };
                self.with_heap(owner, |h| {
                    h.in_use = h.in_use.wrapping_add(new_size).wrapping_sub(layout.size());
                });
                ptr
            }
            // SAFETY: realloc's contract (caller).
            _ => unsafe { self.realloc_by_copy(ptr, layout, new_size) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `stats` while other threads free: a block of heap 0 freed by a
    /// thread of heap 1, the free counted and the allocation not yet
    /// (heap 0 read before the allocation, heap 1 after the free; found
    /// by the `alloc` fuzz target). The sums wrap below zero: reported as
    /// zero, not a panic on overflow nor 2^64 bytes.
    #[cfg(all(feature = "std", not(loom), not(miri)))]
    #[test]
    fn stats_of_a_free_seen_before_its_allocation_read_zero() {
        let a = crate::mt::Alloc::new(crate::sys::SimMemory::new(1 << 20));
        a.counts[1].small_freed.fetch_add(24, Relaxed);
        a.counts[1].in_use.fetch_sub(LARGE_MIN, Relaxed);
        a.counts[1].pages.fetch_sub(LARGE_MIN, Relaxed);
        let s = a.stats();
        assert_eq!(
            (s.in_use_bytes, s.small_in_use_bytes, s.large_bytes),
            (0, 0, 0)
        );
        // Once the allocations are seen, exact again.
        a.counts[0].in_use.fetch_add(LARGE_MIN, Relaxed);
        a.counts[0].pages.fetch_add(LARGE_MIN, Relaxed);
        a.with_heap(0, |h| h.in_use += 24);
        let s = a.stats();
        assert_eq!(
            (s.in_use_bytes, s.small_in_use_bytes, s.large_bytes),
            (0, 0, 0)
        );
        a.counts[0].in_use.fetch_add(8, Relaxed);
        assert_eq!(a.stats().in_use_bytes, 8);
    }

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
