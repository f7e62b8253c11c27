//! A small-object heap: a queue of spans per size class
//! (docs/DESIGN.md §9).
//!
//! Everything here runs under the owning heap's lock (none in the
//! single-threaded build) and calls nothing outside this module and
//! [`span`](super::span): no page-pool call, no `memory.grow`, no global
//! allocator. New spans are reserved by the caller outside the lock
//! ([`Heap::add_span`]); spans the heap gives up wait on a chain
//! ([`Heap::take_released`]) to be released after the lock is. Large
//! blocks of a few pages that a thread of the heap frees may be kept here
//! too, for the next large block of as many pages ([`Heap::keep_large`]).
//!
//! `remote` (a constant of the policy: whether there are other heaps)
//! says whether blocks can be freed by other threads; without, no atomic
//! read-modify-write is made.

use super::class::{ClassInfo, CLASSES, INFO, MAX_SPAN, MIN_SPAN};
use super::span::{Block, Pending, Span};
use crate::units::PAGE_SIZE;
use core::ptr::{self, NonNull};

/// Bytes of empty spans a heap keeps for reuse by any class of the same
/// span size, besides one empty span per class queue, and of freed large
/// blocks of up to [`KEPT_PAGES`] pages kept for the next of as many pages:
/// blocks of the larger classes, and large blocks of a few pages,
/// allocated and freed in batches take few spans and pages from the pool
/// (decision 0041).
pub(crate) const RESERVE: usize = 1 << 20;

/// Large blocks of up to this many pages may be kept ([`RESERVE`]).
pub(crate) const KEPT_PAGES: usize = 4;

/// Bytes of spans a heap holds with no live block, at most: one per class
/// queue, and [`RESERVE`] (tests read it).
#[cfg(any(test, feature = "testing"))]
pub(crate) const KEPT_EMPTY: usize = {
    let mut bytes = RESERVE;
    let mut c = 0;
    while c < CLASSES {
        bytes += INFO[c].span as usize;
        c += 1;
    }
    bytes
};

/// The span sizes, as an index into [`Heap::cache`]: 16 KiB is 0, each
/// doubling one more.
#[inline]
fn kind(info: ClassInfo) -> usize {
    (info.span.trailing_zeros() - MIN_SPAN.trailing_zeros()) as usize
}

/// Span sizes: powers of two from [`MIN_SPAN`].
const KINDS: usize = (MAX_SPAN.trailing_zeros() - MIN_SPAN.trailing_zeros() + 1) as usize;

/// Whether `s`, holding no live block, may be given up: unless a remote
/// free notified its owner and the span waits on the pending stack (the
/// notifying thread may still be pushing it there). Always, under the
/// loom models' fault `RetireWhileNotified`.
///
/// # Safety
///
/// Callers must own `s`.
#[inline]
unsafe fn may_give_up(s: *mut Span, remote: bool) -> bool {
    #[cfg(all(loom, feature = "loom-faults"))]
    if crate::faults::active(crate::faults::Fault::RetireWhileNotified) {
        return true;
    }
    // SAFETY: as the caller guarantees.
    !(remote && unsafe { Span::notified(s) })
}

/// The spans of one class that have (or may have) free blocks: a doubly
/// linked list through the span headers, allocation from the first.
#[derive(Clone, Copy, Debug)]
struct Queue {
    first: *mut Span,
    last: *mut Span,
}

/// A small-object heap.
#[derive(Debug)]
pub(crate) struct Heap {
    queues: [Queue; CLASSES],
    /// Empty spans kept for reuse, per span size ([`kind`]): chains
    /// through `next`, the last one given first.
    cache: [*mut Span; KINDS],
    /// Freed large blocks kept for reuse, by pages less one: chains
    /// through their first bytes ([`Gone`]), the last one given first.
    kept: [*mut Gone; KEPT_PAGES],
    /// Bytes of the spans in `cache` and of the blocks in `kept`, at most
    /// [`RESERVE`].
    cached: usize,
    /// Spans held (in queues, full, cached).
    pub(super) spans: usize,
    /// Bytes of those spans, and of the large blocks in `kept`.
    pub(super) held: usize,
    /// Bytes of blocks allocated here, as their layouts say, less those
    /// freed here (blocks freed by other threads are counted by them).
    pub(super) in_use: usize,
    /// Spans and blocks given up and not yet taken by
    /// [`take_released`](Self::take_released).
    released: *mut Gone,
}

// SAFETY: the pointers all point into spans this heap owns; the heap is
// only reached under its heap's lock (`Locked`), from whichever thread
// holds it.
unsafe impl Send for Heap {}

/// What a heap gave up, a span or a large block it kept, to be released to
/// the pool once its lock is: written over the first bytes of it (nothing
/// reads them any more), linking a chain.
#[repr(C)]
pub(crate) struct Gone {
    next: *mut Gone,
    bytes: usize,
}

/// Spans and blocks a heap gave up, to be released to the pool after its
/// lock is released: a chain of [`Gone`].
#[must_use]
pub(crate) struct Released(*mut Gone);

impl Released {
    /// Whether nothing was given up.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_null()
    }
}

impl Iterator for Released {
    /// A span's or block's start and size.
    type Item = (NonNull<u8>, usize);

    fn next(&mut self) -> Option<(NonNull<u8>, usize)> {
        let g = NonNull::new(self.0)?;
        // SAFETY: what is on the chain was given up by its heap under its
        // lock and is reached only through this chain now.
        let (next, bytes) = unsafe { ((*g.as_ptr()).next, (*g.as_ptr()).bytes) };
        self.0 = next;
        Some((g.cast(), bytes))
    }
}

impl Heap {
    pub(crate) const fn new() -> Self {
        Self {
            queues: [Queue {
                first: ptr::null_mut(),
                last: ptr::null_mut(),
            }; CLASSES],
            cache: [ptr::null_mut(); KINDS],
            kept: [ptr::null_mut(); KEPT_PAGES],
            cached: 0,
            spans: 0,
            held: 0,
            in_use: 0,
            released: ptr::null_mut(),
        }
    }

    /// A block of class `class` for a request of `size` bytes, and whether
    /// it reads zero but for its first word; `None` when no span of the
    /// heap has room (the caller reserves one outside the lock and calls
    /// [`add_span`](Self::add_span)).
    #[inline]
    pub(crate) fn alloc(
        &mut self,
        class: usize,
        size: usize,
        remote: bool,
    ) -> Option<(NonNull<u8>, bool)> {
        let s = self.queues[class].first;
        if !s.is_null() {
            // SAFETY: a span of this heap's queue, its header the owner's
            // (the lock is held).
            unsafe {
                let b = (*s).free;
                if !b.is_null() {
                    (*s).free = (*b).next;
                    (*s).used += 1;
                    self.in_use += size;
                    return Some((NonNull::new_unchecked(b.cast()), (*s).free_is_zero));
                }
            }
        }
        self.alloc_slow(class, size, remote)
    }

    /// [`alloc`](Self::alloc) when the first span of the queue has nothing
    /// on `free`: refills it, or leaves it full and tries the next, then a
    /// cached span.
    #[cold]
    #[inline(never)]
    fn alloc_slow(
        &mut self,
        class: usize,
        size: usize,
        remote: bool,
    ) -> Option<(NonNull<u8>, bool)> {
        loop {
            let s = self.queues[class].first;
            if s.is_null() {
                break;
            }
            // SAFETY: a span of this queue, the owner's; `free` is empty
            // (the fast path found it so, or a span that was not first).
            unsafe {
                if !(*s).free.is_null() || Span::refill(s, remote) {
                    return Some(self.pop(s, size));
                }
                // Nothing left: out of the queue, marked full so that the
                // next remote free tells the owner.
                self.unqueue(s);
                if remote && !Span::mark_full(s) {
                    // Blocks came back meanwhile.
                    self.enqueue(s);
                    return Some(self.pop(s, size));
                }
            }
        }
        let info = INFO[class];
        let at = self.cache[kind(info)];
        if at.is_null() {
            return None;
        }
        // SAFETY: a cached span, this heap's: its `next` links the chain.
        self.cache[kind(info)] = unsafe { (*at).next };
        self.cached -= info.span as usize;
        self.spans -= 1;
        self.held -= info.span as usize;
        // SAFETY: a cached span is this heap's, empty, of the class's span
        // size; it held blocks, so its bytes are not known zero.
        unsafe {
            self.add_span(
                NonNull::new_unchecked(at.cast()),
                class,
                (*at).heap as usize,
                false,
                remote,
            )
        };
        let s = self.queues[class].first;
        // SAFETY: the span just formatted, first in its queue.
        unsafe {
            Span::refill(s, false);
            Some(self.pop(s, size))
        }
    }

    /// Pops the first block of `s`'s non-empty `free`.
    ///
    /// # Safety
    ///
    /// Callers must own `s` and find its `free` non-empty.
    #[inline]
    unsafe fn pop(&mut self, s: *mut Span, size: usize) -> (NonNull<u8>, bool) {
        // SAFETY: as the caller guarantees.
        unsafe {
            let b = (*s).free;
            (*s).free = (*b).next;
            (*s).used += 1;
            self.in_use += size;
            (NonNull::new_unchecked(b.cast()), (*s).free_is_zero)
        }
    }

    /// Adds the span at `at` (reserved by the caller at the class's span
    /// size and alignment) to the queue of `class`, first, for heap
    /// number `index` (this one); `zero` says whether its bytes read zero,
    /// `remote` whether other threads may free its blocks.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the span is theirs alone and stays
    /// reserved until this heap gives it back.
    pub(crate) unsafe fn add_span(
        &mut self,
        at: NonNull<u8>,
        class: usize,
        index: usize,
        zero: bool,
        remote: bool,
    ) {
        // SAFETY: as the caller guarantees.
        let s = unsafe { Span::format(at, class, index, zero, remote) };
        self.spans += 1;
        self.held += INFO[class].span as usize;
        // SAFETY: just formatted, this heap's.
        unsafe { self.enqueue(s) };
    }

    /// Frees the block at `ptr` of class `class` (a request of `size`
    /// bytes) by a thread of this heap.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live block of this heap of
    /// that class and size.
    #[inline]
    pub(crate) unsafe fn dealloc(
        &mut self,
        ptr: NonNull<u8>,
        class: usize,
        size: usize,
        remote: bool,
    ) {
        let s = Span::of(ptr, class);
        let b = ptr.cast::<Block>().as_ptr();
        self.in_use -= size;
        // SAFETY: the block's span, this heap's (caller), the owner's
        // fields; the block is given up.
        unsafe {
            (*b).next = (*s).local_free;
            (*s).local_free = b;
            (*s).used -= 1;
            if (*s).used == 0 || !(*s).in_queue {
                self.settle(s, remote);
            }
        }
    }

    /// Puts `s` where its state says after a free or a collection: back in
    /// its queue if it left it full, given up (or kept) if it holds no
    /// live block. Out of line: a free reaches it once per span filled or
    /// emptied, and the free's fast path stays small enough to be inlined
    /// into its callers.
    ///
    /// # Safety
    ///
    /// Callers must own `s`.
    #[cold]
    #[inline(never)]
    unsafe fn settle(&mut self, s: *mut Span, remote: bool) {
        // SAFETY: the owner's fields (caller).
        unsafe {
            if !(*s).in_queue {
                if remote {
                    Span::clear_full(s);
                }
                self.enqueue(s);
            }
            if (*s).used == 0 && may_give_up(s, remote) {
                self.retire(s);
            }
        }
    }

    /// Gives up `s`, which holds no live block and is not waiting on the
    /// pending stack: it stays in its queue if it is the only span there,
    /// so that blocks allocated and freed in a loop, one or a batch, take
    /// no span from the pool each time; any other is cached for any class
    /// of its span size while the cache holds at most [`RESERVE`] bytes,
    /// else released. A heap thus keeps at most `KEPT_EMPTY` bytes of
    /// empty spans and kept large blocks (2.45 MiB).
    ///
    /// # Safety
    ///
    /// Callers must own `s`, in its queue, with no live block.
    unsafe fn retire(&mut self, s: *mut Span) {
        let info = Span::info(s);
        // SAFETY: the owner's fields (caller).
        let q = self.queues[unsafe { (*s).class } as usize];
        if q.first == s && q.last == s {
            return;
        }
        // SAFETY: in its queue (caller).
        unsafe { self.unqueue(s) };
        let bytes = info.span as usize;
        if self.cached + bytes <= RESERVE {
            let k = kind(info);
            // SAFETY: out of its queue, the owner's: `next` is free.
            unsafe { (*s).next = self.cache[k] };
            self.cache[k] = s;
            self.cached += bytes;
            return;
        }
        self.give_up(s);
    }

    /// Puts `s` on the chain to release.
    fn give_up(&mut self, s: *mut Span) {
        let bytes = Span::bytes(s);
        self.spans -= 1;
        self.held -= bytes;
        // SAFETY: out of every queue and no block of it live: its header
        // is the owner's, and nothing reads it any more.
        unsafe { self.release(s.cast(), bytes) };
    }

    /// Puts `bytes` at `at` on the chain to release.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `at` starts that many bytes the heap
    /// gave up, page-aligned, that nothing accesses any more.
    unsafe fn release(&mut self, at: *mut u8, bytes: usize) {
        let g = at.cast::<Gone>();
        // SAFETY: as the caller guarantees (aligned, room for two words).
        unsafe {
            g.write(Gone {
                next: self.released,
                bytes,
            })
        };
        self.released = g;
    }

    /// Keeps the large block at `at`, `pages` pages freed by a thread of
    /// this heap, for a later large block of as many pages, if the reserve
    /// has room; whether it does (else the caller releases it).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `at` is a large block of `pages` pages
    /// (at most [`KEPT_PAGES`]), reserved for the allocator, that nothing
    /// accesses any more.
    pub(crate) unsafe fn keep_large(&mut self, at: NonNull<u8>, pages: usize) -> bool {
        let bytes = pages * PAGE_SIZE;
        if self.cached + bytes > RESERVE {
            return false;
        }
        let g = at.cast::<Gone>().as_ptr();
        // SAFETY: as the caller guarantees (page-aligned, unshared).
        unsafe {
            g.write(Gone {
                next: self.kept[pages - 1],
                bytes,
            })
        };
        self.kept[pages - 1] = g;
        self.cached += bytes;
        self.held += bytes;
        true
    }

    /// A large block of `pages` pages (at most [`KEPT_PAGES`]) kept by
    /// [`keep_large`](Self::keep_large), if there is one: the caller's
    /// now. Its bytes are as its last user left them.
    pub(crate) fn take_large(&mut self, pages: usize) -> Option<NonNull<u8>> {
        let g = NonNull::new(self.kept[pages - 1])?;
        // SAFETY: a block kept by this heap: its first bytes link the chain.
        self.kept[pages - 1] = unsafe { (*g.as_ptr()).next };
        let bytes = pages * PAGE_SIZE;
        self.cached -= bytes;
        self.held -= bytes;
        Some(g.cast())
    }

    /// Takes the spans on `pending` (this heap's stack): each is given
    /// back its blocks freed by other threads, and goes back into its
    /// queue, or is given up if it holds no live block.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `pending` is this heap's stack.
    #[inline]
    pub(crate) unsafe fn take_pending(&mut self, pending: &Pending) {
        let s = pending.take();
        if !s.is_null() {
            // SAFETY: as the caller guarantees.
            unsafe { self.settle_pending(s) };
        }
    }

    /// The slow path of [`take_pending`](Self::take_pending).
    ///
    /// # Safety
    ///
    /// Callers must pass a chain taken from this heap's stack.
    #[cold]
    #[inline(never)]
    unsafe fn settle_pending(&mut self, mut s: *mut Span) {
        while !s.is_null() {
            // SAFETY: a span of this heap, pushed by the thread that
            // notified (its link published with release, taken with
            // acquire); the owner's now.
            unsafe {
                let next = (*s).pending_next;
                Span::unnotify(s);
                if (*s).free.is_null() && (*s).local_free.is_null() && !(*s).in_queue {
                    // No block came back after all (taken earlier by a
                    // refill): full again.
                    if !Span::mark_full(s) {
                        self.settle(s, true);
                    }
                } else {
                    self.settle(s, true);
                }
                s = next;
            }
        }
    }

    /// Gives every empty span back (the out-of-memory path): takes the
    /// pending spans and every span's blocks freed by other threads first.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `pending` is this heap's stack.
    pub(crate) unsafe fn trim(&mut self, pending: &Pending, remote: bool) {
        if remote {
            // SAFETY: as the caller guarantees.
            unsafe { self.take_pending(pending) };
        }
        for class in 0..CLASSES {
            let mut s = self.queues[class].first;
            while !s.is_null() {
                // SAFETY: spans of this queue, the owner's.
                unsafe {
                    let next = (*s).next;
                    if remote {
                        Span::collect_to_local(s);
                    }
                    if (*s).used == 0 && may_give_up(s, remote) {
                        self.unqueue(s);
                        self.give_up(s);
                    }
                    s = next;
                }
            }
        }
        self.give_back_reserve();
    }

    /// Gives back the reserve (the cached empty spans and the kept large
    /// blocks), not the spans of the class queues: what the heap may give
    /// back without walking its spans, before the memory grows.
    pub(crate) fn give_back_reserve(&mut self) {
        for k in 0..KINDS {
            let mut c = core::mem::replace(&mut self.cache[k], ptr::null_mut());
            while !c.is_null() {
                // SAFETY: a cached span, this heap's: `next` links the
                // chain until `give_up` reuses it.
                let next = unsafe { (*c).next };
                self.cached -= Span::bytes(c);
                self.give_up(c);
                c = next;
            }
        }
        for pages in 1..=KEPT_PAGES {
            while let Some(b) = self.take_large(pages) {
                // SAFETY: a kept block, now this heap's to give up.
                unsafe { self.release(b.as_ptr(), pages * PAGE_SIZE) };
            }
        }
        debug_assert_eq!(self.cached, 0);
    }

    /// Checks this heap, number `index` (its lock held), panicking if an
    /// invariant is broken: every span on `pending` (this heap's stack),
    /// in a queue or cached is reserved in the pool (`reserved` says
    /// whether a range is), is this heap's, and is where its header says.
    /// A span on the stack is checked reserved before its header is read:
    /// one given back while it waited may have been reused since. For
    /// tests and loom models.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn check(
        &self,
        index: usize,
        pending: &Pending,
        reserved: impl Fn(*mut u8, usize) -> bool,
    ) {
        let held = |s: *mut Span, what: &str| {
            assert!(
                reserved(s.cast(), 1),
                "span {s:p} {what} was given back to the pool"
            );
            // SAFETY: reserved, so readable; a header of this heap's if the
            // checks below pass (read as plain bytes first).
            let (class, owner) = unsafe { ((*s).class as usize, (*s).heap as usize) };
            assert!(
                class < CLASSES && owner == index,
                "span {s:p} {what} was given back and reused (class {class}, heap {owner})"
            );
            assert!(
                reserved(s.cast(), Span::bytes(s)),
                "span {s:p} {what}: not all reserved"
            );
        };
        let mut s = pending.peek();
        while !s.is_null() {
            held(s, "on the pending stack");
            // SAFETY: a header of this heap (checked above); pushed spans
            // keep their links until the owner takes them, under the lock
            // held here.
            unsafe {
                assert!(Span::notified(s), "span {s:p} pending but not notified");
                s = (*s).pending_next;
            }
        }
        for (class, q) in self.queues.iter().enumerate() {
            let mut s = q.first;
            while !s.is_null() {
                held(s, "in a queue");
                // SAFETY: a header of this heap's queue (checked above).
                unsafe {
                    assert!((*s).in_queue && (*s).class as usize == class);
                    assert!((*s).used <= (*s).formatted, "span {s:p}: used > formatted");
                    s = (*s).next;
                }
            }
        }
        let mut cached = 0;
        for (k, &first) in self.cache.iter().enumerate() {
            let mut c = first;
            while !c.is_null() {
                held(c, "cached");
                // SAFETY: a header of this heap's cache (checked above).
                let (queued, used, next) = unsafe { ((*c).in_queue, (*c).used, (*c).next) };
                assert!(!queued && used == 0, "cached span {c:p} in use");
                assert_eq!(
                    kind(Span::info(c)),
                    k,
                    "span {c:p} cached with another size"
                );
                cached += Span::bytes(c);
                c = next;
            }
        }
        for (i, &first) in self.kept.iter().enumerate() {
            let bytes = (i + 1) * PAGE_SIZE;
            let mut g = first;
            while !g.is_null() {
                assert!(reserved(g.cast(), bytes), "kept block {g:p} not reserved");
                // SAFETY: a block of this heap's chain, reserved (above).
                let (next, b) = unsafe { ((*g).next, (*g).bytes) };
                assert_eq!(b, bytes, "kept block {g:p} on the wrong chain");
                cached += bytes;
                g = next;
            }
        }
        assert_eq!(cached, self.cached, "bytes of cached spans and kept blocks");
    }

    /// The spans given up since the last call, to release to the pool once
    /// the lock is released.
    #[inline]
    pub(crate) fn take_released(&mut self) -> Released {
        if self.released.is_null() {
            return Released(ptr::null_mut());
        }
        Released(core::mem::replace(&mut self.released, ptr::null_mut()))
    }

    /// Puts `s` first in its class queue.
    ///
    /// # Safety
    ///
    /// Callers must own `s`, not in its queue.
    unsafe fn enqueue(&mut self, s: *mut Span) {
        // SAFETY: the owner's fields of `s` and of the queue's first span.
        unsafe {
            let q = &mut self.queues[(*s).class as usize];
            (*s).prev = ptr::null_mut();
            (*s).next = q.first;
            if q.first.is_null() {
                q.last = s;
            } else {
                (*q.first).prev = s;
            }
            q.first = s;
            (*s).in_queue = true;
        }
    }

    /// Takes `s` out of its class queue.
    ///
    /// # Safety
    ///
    /// Callers must own `s`, in its queue.
    unsafe fn unqueue(&mut self, s: *mut Span) {
        // SAFETY: the owner's fields of `s` and its neighbours.
        unsafe {
            let q = &mut self.queues[(*s).class as usize];
            let (prev, next) = ((*s).prev, (*s).next);
            if prev.is_null() {
                q.first = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                q.last = prev;
            } else {
                (*next).prev = prev;
            }
            (*s).in_queue = false;
            (*s).next = ptr::null_mut();
            (*s).prev = ptr::null_mut();
        }
    }
}
