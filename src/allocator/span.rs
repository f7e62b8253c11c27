//! A span: pages of the pool holding blocks of one size class, with
//! mimalloc's three free lists (docs/DESIGN.md §9).
//!
//! - `free`: the blocks allocation pops, the owner's alone;
//! - `local_free`: blocks freed by threads of the owning heap, under its
//!   lock; moved to `free` when `free` runs dry;
//! - `thread_free`: blocks freed by threads of other heaps, pushed with
//!   one compare-and-swap and no lock; the owner takes the whole list when
//!   its own lists run dry. The word counts its list ([`OFFSET_BITS`]), so
//!   taking it reads no block.
//!
//! Blocks are formatted lazily: a fresh span's free list is extended a
//! few blocks at a time ([`EXTEND_BYTES`]) as they are handed out, so the
//! pages of a span are written only as far as its blocks are used.
//!
//! **A full span and remote frees** (mimalloc's delayed free). A span with
//! no free block leaves its class queue, so that allocation does not walk
//! over it; its owner would then never look at its `thread_free`. So the
//! owner marks it [`FULL`] in the same word, and the first remote free
//! that finds the mark swaps it for [`NOTIFIED`] and pushes the span on its
//! heap's [`Pending`] stack, which the owner takes at its next
//! allocation. A span is given back to the pool only when none of its
//! blocks is live (`used == 0`, remote frees counted as live until
//! collected) and it is not `NOTIFIED`: the only thread that touches a
//! span after its compare-and-swap is the one that notified, and the
//! owner waits for that push to land on the stack (it takes the span from
//! there) before it can give the span back.

use super::class::{ClassInfo, GRANULE, INFO, MAX_SPAN, SPAN_HEADER};
use crate::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use core::ptr::{self, NonNull};

/// Flag in `thread_free`: the span left its class queue as full; the next
/// remote free must notify the owner.
pub(super) const FULL: usize = 1;
/// Flag in `thread_free`: a remote free pushed the span on its heap's
/// [`Pending`] stack; cleared only by the owner, when it takes the span
/// from there.
pub(super) const NOTIFIED: usize = 2;
const FLAGS: usize = FULL | NOTIFIED;

/// `thread_free` holds its list without a walk: the offset in the span of
/// the list's first block in its low [`OFFSET_BITS`] (a multiple of
/// [`GRANULE`], clear of the flags; 0, where the header lies, for an empty
/// list) and the list's length above, so that the owner takes the list
/// and learns how many blocks it holds in one exchange, without reading
/// the blocks, which the freeing threads wrote last.
const OFFSET_BITS: u32 = MAX_SPAN.trailing_zeros();
/// The offset of the list's first block in `thread_free`.
const OFFSET: usize = (1 << OFFSET_BITS) - 1 - FLAGS;
/// One block more on the list, in `thread_free`.
const ONE: usize = 1 << OFFSET_BITS;

const _: () = {
    assert!(MAX_SPAN.is_power_of_two() && FLAGS < GRANULE);
    // Every class's span fits the offset, and its blocks the count.
    let mut c = 0;
    while c < INFO.len() {
        assert!(INFO[c].span <= MAX_SPAN && INFO[c].first >= SPAN_HEADER as u32);
        assert!((INFO[c].blocks as u64) < 1u64 << (usize::BITS - OFFSET_BITS));
        c += 1;
    }
};

/// How many bytes of blocks a span's free list is extended by at a time
/// (at least one block): a fresh span is written only as far as it is
/// used.
const EXTEND_BYTES: usize = 4096;

/// A free block: its first word links the list it is on.
#[repr(C)]
pub(super) struct Block {
    pub(super) next: *mut Block,
}

/// The header at the start of every span.
#[repr(C)]
pub(super) struct Span {
    /// Blocks to allocate from (owner only).
    pub(super) free: *mut Block,
    /// Blocks freed by the owning heap's threads (owner only).
    pub(super) local_free: *mut Block,
    /// Blocks freed by other heaps' threads (see [`OFFSET_BITS`]), and the
    /// flags [`FULL`] and [`NOTIFIED`] in the low bits.
    pub(super) thread_free: AtomicUsize,
    /// Neighbours in the heap's queue of its class (owner only), or in the
    /// chain of spans to release.
    pub(super) next: *mut Span,
    pub(super) prev: *mut Span,
    /// The next span on the heap's [`Pending`] stack: written by the
    /// notifying thread before its push.
    pub(super) pending_next: *mut Span,
    /// Blocks handed out and not on `free` or `local_free` (those on
    /// `thread_free` included: they are still live until collected).
    pub(super) used: u32,
    /// Blocks formatted so far (handed out, or on a list).
    pub(super) formatted: u32,
    /// The size class.
    pub(super) class: u8,
    /// The heap that owns the span: written before any block exists,
    /// never changed while the span is held.
    pub(super) heap: u8,
    /// Whether the span is in its class queue (owner only).
    pub(super) in_queue: bool,
    /// Whether every block on `free` reads zero but for its link word.
    pub(super) free_is_zero: bool,
    /// Whether the bytes of the blocks not formatted yet read zero.
    pub(super) tail_is_zero: bool,
    /// Whether the span's heap is one of several (`remote` of its heap's
    /// calls): only then may `thread_free` see a read-modify-write. Debug
    /// builds assert it at each, so that the single-threaded build's
    /// tests show it makes none.
    pub(super) remote: bool,
}

const _: () = assert!(size_of::<Span>() <= super::class::SPAN_HEADER);
const _: () = assert!(
    crate::units::MAX_HEAPS <= u8::MAX as usize + 1,
    "a span header names its heap in a byte"
);

impl Span {
    /// The span holding the block at `ptr` of class `class`.
    #[inline]
    pub(super) fn of(ptr: NonNull<u8>, class: usize) -> *mut Span {
        let span = INFO[class].span as usize;
        ptr.as_ptr().map_addr(|a| a & !(span - 1)).cast()
    }

    /// Writes a fresh header for class `class` and heap number `index`
    /// (whose blocks other heaps' threads may free if `remote`) into the
    /// span at `at`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `at` is the start of a span of the
    /// class's size, aligned to it, theirs alone; `zero` that its bytes
    /// past the header read zero.
    pub(super) unsafe fn format(
        at: NonNull<u8>,
        class: usize,
        index: usize,
        zero: bool,
        remote: bool,
    ) -> *mut Span {
        let s = at.cast::<Span>();
        // SAFETY: the first bytes of the caller's span, aligned, with room
        // for a header (`SPAN_HEADER`).
        unsafe {
            s.write(Span {
                free: ptr::null_mut(),
                local_free: ptr::null_mut(),
                thread_free: AtomicUsize::new(0),
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
                pending_next: ptr::null_mut(),
                used: 0,
                formatted: 0,
                class: class as u8,
                heap: index as u8,
                in_queue: false,
                free_is_zero: zero,
                tail_is_zero: zero,
                remote,
            })
        };
        s.as_ptr()
    }

    /// The span's `thread_free` word, for a read-modify-write: debug
    /// builds check that the span's heap is one of several (the
    /// single-threaded build makes none).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the span is held (its header lives
    /// until their last access through the reference).
    #[inline]
    unsafe fn rmw_word<'a>(s: *mut Span) -> &'a AtomicUsize {
        // SAFETY: written once with the header, before any block exists
        // (read through the raw pointer: other threads may hold other
        // fields' places); the header lives (caller).
        unsafe {
            debug_assert!(
                (*s).remote,
                "an atomic read-modify-write on a span of a lone heap"
            );
            &(*s).thread_free
        }
    }

    /// The class's figures.
    #[inline]
    pub(super) fn info(s: *mut Span) -> ClassInfo {
        // SAFETY: `class` is written once with the header (read through
        // the raw pointer: other threads may hold other fields' places).
        INFO[unsafe { (*s).class } as usize]
    }

    /// Bytes of the span.
    #[inline]
    pub(super) fn bytes(s: *mut Span) -> usize {
        Self::info(s).span as usize
    }

    /// Moves the blocks freed locally, and if `remote` and there are none,
    /// those freed by other threads, onto `free`, else formats more blocks
    /// onto it. Returns whether `free` has a block now.
    ///
    /// # Safety
    ///
    /// Callers must own the span (hold its heap's lock) and find `free`
    /// empty.
    pub(super) unsafe fn refill(s: *mut Span, remote: bool) -> bool {
        // SAFETY: the owner's fields (caller).
        unsafe {
            if !(*s).local_free.is_null() {
                (*s).free = core::mem::replace(&mut (*s).local_free, ptr::null_mut());
                (*s).free_is_zero = false;
                return true;
            }
            if remote && Self::collect(s) > 0 {
                return true;
            }
            Self::extend(s)
        }
    }

    /// Takes the blocks other threads freed onto `free` (flags kept);
    /// returns how many.
    ///
    /// # Safety
    ///
    /// Callers must own the span and find `free` empty.
    pub(super) unsafe fn collect(s: *mut Span) -> u32 {
        // SAFETY: the header lives while the span is held (caller).
        let word = unsafe { Self::rmw_word(s) };
        let mut w = word.load(Ordering::Relaxed);
        loop {
            if w & !FLAGS == 0 {
                return 0;
            }
            // Acquire: the blocks' links were written before their pushes'
            // release.
            match word.compare_exchange_weak(w, w & FLAGS, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => w = seen,
            }
        }
        // SAFETY: the list just taken is this thread's alone.
        unsafe { Self::take_list(s, w) }
    }

    /// The first block and the length of the list in the `thread_free`
    /// word `w` of span `s`.
    #[inline]
    fn list_of(s: *mut Span, w: usize) -> (*mut Block, u32) {
        let head = match w & OFFSET {
            0 => ptr::null_mut(),
            offset => s.cast::<u8>().wrapping_add(offset).cast(),
        };
        (head, (w >> OFFSET_BITS) as u32)
    }

    /// Takes the blocks other threads freed onto `local_free` (flags
    /// kept), whatever `free` holds.
    ///
    /// # Safety
    ///
    /// Callers must own the span.
    pub(super) unsafe fn collect_to_local(s: *mut Span) {
        // SAFETY: the header lives while the span is held (caller).
        let word = unsafe { Self::rmw_word(s) };
        let mut w = word.load(Ordering::Relaxed);
        loop {
            if w & !FLAGS == 0 {
                return;
            }
            // Acquire: as in `collect`.
            match word.compare_exchange_weak(w, w & FLAGS, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => w = seen,
            }
        }
        let (head, n) = Self::list_of(s, w);
        let mut tail = head;
        // SAFETY: the list just taken is this thread's alone; the owner's
        // fields (caller).
        unsafe {
            while !(*tail).next.is_null() {
                tail = (*tail).next;
            }
            (*tail).next = (*s).local_free;
            (*s).local_free = head;
            (*s).used -= n;
        }
    }

    /// Puts the list of the `thread_free` word `w` (blocks freed by other
    /// threads, just taken) on `free`, and counts them no longer live;
    /// returns how many. The blocks are not read: the word holds their
    /// number.
    ///
    /// # Safety
    ///
    /// Callers must own the span, find `free` empty, and own the list.
    pub(super) unsafe fn take_list(s: *mut Span, w: usize) -> u32 {
        let (head, n) = Self::list_of(s, w);
        #[cfg(debug_assertions)]
        {
            let (mut b, mut walked) = (head, 0);
            while !b.is_null() {
                walked += 1;
                // SAFETY: a block of the list, linked by its freeing thread.
                b = unsafe { (*b).next };
            }
            debug_assert_eq!(walked, n, "thread_free counts its list");
        }
        // SAFETY: the owner's fields (caller).
        unsafe {
            debug_assert!((*s).free.is_null());
            (*s).free = head;
            (*s).free_is_zero = false;
            (*s).used -= n;
        }
        n
    }

    /// Formats up to [`EXTEND_BYTES`] of blocks not handed out yet onto
    /// `free`; whether any was left.
    ///
    /// # Safety
    ///
    /// Callers must own the span and find `free` empty.
    unsafe fn extend(s: *mut Span) -> bool {
        let info = Self::info(s);
        // SAFETY: the owner's fields (caller).
        let formatted = unsafe { (*s).formatted };
        let left = info.blocks - formatted;
        if left == 0 {
            return false;
        }
        let block = info.block as usize;
        let n = (EXTEND_BYTES / block).clamp(1, left as usize);
        let base = s.cast::<u8>();
        // SAFETY: blocks `formatted .. formatted + n` lie inside the span,
        // past its header, and are not handed out yet: the owner's to
        // write (caller).
        unsafe {
            let first = base.add(info.first as usize + formatted as usize * block);
            for i in 0..n {
                let b = first.add(i * block).cast::<Block>();
                let next = if i + 1 < n {
                    first.add((i + 1) * block).cast()
                } else {
                    ptr::null_mut()
                };
                b.write(Block { next });
            }
            (*s).free = first.cast();
            (*s).free_is_zero = (*s).tail_is_zero;
            (*s).formatted += n as u32;
        }
        true
    }

    /// Marks the span [`FULL`] as it leaves its class queue with no free
    /// block, unless blocks were freed by other threads meanwhile: then
    /// they are taken onto `free` and it returns `false` (the span has
    /// blocks again). A span already [`NOTIFIED`] is not marked: it is on
    /// the pending stack, and its owner looks at it there.
    ///
    /// # Safety
    ///
    /// Callers must own the span and find every list of it empty and
    /// nothing left to format.
    pub(super) unsafe fn mark_full(s: *mut Span) -> bool {
        // SAFETY: the header lives while the span is held (caller).
        let word = unsafe { Self::rmw_word(s) };
        let mut w = word.load(Ordering::Relaxed);
        loop {
            if w & !FLAGS != 0 {
                // SAFETY: as the caller guarantees.
                return unsafe { Self::collect(s) } == 0;
            }
            if w & NOTIFIED != 0 {
                return true;
            }
            // Release: the remote free that finds the mark (acquire) and
            // then writes the header's `pending_next` comes after every
            // access of the owner's to that header, its read of the link
            // when it last took the span from the pending stack included.
            match word.compare_exchange_weak(w, w | FULL, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => w = seen,
            }
        }
    }

    /// Clears [`FULL`] as the span goes back into its queue (the owner
    /// freed a block of it): remote frees no longer notify.
    ///
    /// # Safety
    ///
    /// Callers must own the span.
    pub(super) unsafe fn clear_full(s: *mut Span) {
        // SAFETY: the header lives while the span is held (caller).
        let word = unsafe { Self::rmw_word(s) };
        word.fetch_and(!FULL, Ordering::Relaxed);
    }

    /// Whether a remote free has notified the owner and the span waits on
    /// the pending stack (then it must not be given back).
    ///
    /// # Safety
    ///
    /// Callers must own the span.
    #[inline]
    pub(super) unsafe fn notified(s: *mut Span) -> bool {
        // SAFETY: the header lives while the span is held (caller).
        unsafe { (*s).thread_free.load(Ordering::Relaxed) & NOTIFIED != 0 }
    }

    /// Takes the span from the pending stack's care: clears [`NOTIFIED`]
    /// and takes the blocks other threads freed onto `free` if `free` is
    /// empty, else leaves them for later. Returns how many were taken.
    ///
    /// # Safety
    ///
    /// Callers must own the span and have taken it from the pending stack.
    pub(super) unsafe fn unnotify(s: *mut Span) -> u32 {
        // SAFETY: the header lives while the span is held (caller).
        let word = unsafe { Self::rmw_word(s) };
        // SAFETY: the owner's field.
        if unsafe { (*s).free.is_null() } {
            // Acquire: the blocks' links (as in `collect`).
            let w = word.swap(0, Ordering::Acquire);
            debug_assert!(w & FULL == 0, "a notified span is not full");
            // SAFETY: the list just taken is this thread's alone.
            unsafe { Self::take_list(s, w) }
        } else {
            word.fetch_and(!NOTIFIED, Ordering::Relaxed);
            0
        }
    }

    /// Frees the block at `b`, a live block of the span `s`, from a thread
    /// of another heap: pushes it on `thread_free`, and if the span is
    /// [`FULL`], notifies its owner through `pending` (its heap's stack).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `b` is a live block of `s`, given up
    /// (nothing accesses it after), and that `pending` is the stack of the
    /// heap owning `s`.
    pub(super) unsafe fn free_remote(s: *mut Span, b: NonNull<u8>, pending: &Pending) {
        let b = b.cast::<Block>();
        // SAFETY: a live block keeps its span held (caller), so the header
        // lives until this thread's last access below.
        let word = unsafe { Self::rmw_word(s) };
        let offset = b.as_ptr().addr() - s.addr();
        debug_assert!(offset & !OFFSET == 0 && offset >= SPAN_HEADER);
        let mut w = word.load(Ordering::Relaxed);
        loop {
            // SAFETY: the block is the caller's to give up; nobody reads
            // it until the exchange publishes it.
            unsafe {
                b.write(Block {
                    next: Self::list_of(s, w).0,
                })
            };
            let flags = if w & FULL != 0 && !no_notify() {
                (w & !FULL) | NOTIFIED
            } else {
                w
            } & FLAGS;
            // Release: the owner that takes the list sees the link.
            // Acquire: a thread that finds FULL and notifies writes the
            // header's `pending_next` after the owner's last access to it
            // (`mark_full`'s release).
            match word.compare_exchange_weak(
                w,
                offset | ((w & !OFFSET & !FLAGS) + ONE) | flags,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => w = seen,
            }
        }
        if w & FULL != 0 && !no_notify() {
            // This thread swapped FULL for NOTIFIED: the owner cannot give
            // the span back until it takes it from the stack, so the
            // header is still there.
            // SAFETY: as said.
            unsafe { pending.push(s) };
        }
    }
}

/// Whether a remote free skips notifying the owner of a full span: never,
/// except under the loom models' fault `FullNeverNotified`.
#[inline]
fn no_notify() -> bool {
    #[cfg(all(loom, feature = "loom-faults"))]
    if crate::faults::active(crate::faults::Fault::FullNeverNotified) {
        return true;
    }
    false
}

/// A heap's stack of spans that left their queue full and had a block
/// freed since by another thread: pushed by that thread, taken whole by
/// the owner. On a line of its own.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Pending {
    head: AtomicPtr<Span>,
}

impl Pending {
    crate::sync::const_fn! {
        pub(crate) const fn new() -> Self {
            Self { head: AtomicPtr::new(ptr::null_mut()) }
        }
    }

    /// Whether spans wait.
    #[inline]
    pub(super) fn waiting(&self) -> bool {
        !self.head.load(Ordering::Relaxed).is_null()
    }

    /// Pushes `s`.
    ///
    /// # Safety
    ///
    /// Callers must have swapped `s`'s [`FULL`] for [`NOTIFIED`].
    unsafe fn push(&self, s: *mut Span) {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the notifying thread alone writes this link until
            // the owner takes the span from the stack (caller).
            unsafe { (*s).pending_next = head };
            // Release: the owner sees the link.
            match self
                .head
                .compare_exchange_weak(head, s, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => head = seen,
            }
        }
    }

    /// The span on top of the stack, left there (for the invariant check).
    #[cfg(any(test, feature = "testing"))]
    pub(super) fn peek(&self) -> *mut Span {
        // Acquire: the links of the spans pushed (as in `take`).
        self.head.load(Ordering::Acquire)
    }

    /// Takes every span on the stack (a chain through `pending_next`).
    #[inline]
    pub(super) fn take(&self) -> *mut Span {
        if self.head.load(Ordering::Relaxed).is_null() {
            return ptr::null_mut();
        }
        // Acquire: pairs with the pushes' release.
        self.head.swap(ptr::null_mut(), Ordering::Acquire)
    }
}
