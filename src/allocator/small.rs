//! Small objects: one [talc](https://docs.rs/talc) heap per arena, fed with
//! segments reserved from the page pool.
//!
//! A segment is [`SEGMENT`] bytes reserved at an address that is a multiple
//! of [`SEGMENT`], so the segment of any small block is found by masking its
//! address: its [`Header`] says which arena owns it (a free from another
//! thread goes back there) and how many bytes of live blocks it holds (at
//! zero it goes back to the pool; [`SmallArena::in_use`] sums them).
//! Everything here but [`Remote::push`] runs under the owning arena's lock
//! and calls nothing outside talc and this file: no page-pool call, no
//! `memory.grow`, no global allocator.
//!
//! A thread that frees a block of another arena does not take that arena's
//! lock: it pushes the block on the arena's [`Remote`] stack (one
//! compare-and-swap; the block's own bytes hold the link). The arena frees
//! the whole stack at its next allocation (which looks at the stack before
//! it takes the lock), or at any other operation on its heap but a free —
//! or the pushing thread does, once [`HANDOVER_BATCH`] blocks wait and the
//! lock is free (docs/DESIGN.md §10, entry 31).

use crate::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use core::alloc::Layout;
use core::ptr::{self, NonNull};
use talc::base::Talc;
use talc::source::Manual;

#[cfg(target_arch = "wasm32")]
type Bins = talc::wasm::WasmBinning;
#[cfg(not(target_arch = "wasm32"))]
type Bins = talc::DefaultBinning;

/// Bytes per segment, and its alignment: 256 KiB (16 pages). Four times
/// the largest small block ([`LARGE_MIN`](super::LARGE_MIN)), so that a
/// segment holds several; small enough that an arena that goes idle holds
/// little (at most one empty segment besides its first).
pub(crate) const SEGMENT: usize = 256 * 1024;

/// Room at the start of each segment for its [`Header`].
const HEADER: usize = 64;

/// Blocks handed over to an arena after which the thread that hands one
/// over frees the whole stack itself if the arena's lock is free: an arena
/// whose threads went idle holds fewer than this many handed-over blocks.
/// Under loom, 1: every hand-over then races the owner for its lock, so
/// the models explore both who frees the block and when.
pub(super) const HANDOVER_BATCH: usize = if cfg!(loom) { 1 } else { 32 };

/// The bookkeeping at the start of every segment.
#[repr(C)]
struct Header {
    /// The arena whose heap the segment belongs to. Written once, under that
    /// arena's lock, before any block of it is handed out; read without the
    /// lock by whoever frees a block of it (the block came to that thread
    /// after it was allocated, so after this was written).
    arena: usize,
    /// Bytes of the blocks allocated from this segment and not yet freed,
    /// as their layouts say, plus [`PIN`] if the segment holds talc's own
    /// metadata (the arena's first segment, never given back). Every block
    /// has at least one byte, so the segment is empty at zero. One count
    /// for both what `stats` reports and when the segment goes back: an
    /// allocation and a free each update one word (docs/DESIGN.md §10,
    /// entry 32).
    live: usize,
    /// The end of talc's heap in it, to take the heap back from talc.
    heap_end: *mut u8,
    /// The segment of the arena's heap added before this one (null for
    /// the first): the list [`SmallArena::in_use`] walks, from the newest.
    prev: *mut Header,
    /// The segment added after this one (null for the newest), so that a
    /// segment given up leaves the list in one step.
    next: *mut Header,
    /// The next segment to give back, while it waits on the arena's chain
    /// of released segments.
    released: *mut Header,
}

/// What the segment holding talc's metadata counts in [`Header::live`]
/// besides its blocks: it never reaches zero, so it is never given back.
const PIN: usize = 1;

/// A freed block on a [`Remote`] stack, written into the block itself.
#[repr(C)]
struct Node {
    next: *mut Node,
    /// The block's layout, as the caller gave it.
    size: usize,
    align: usize,
}

/// The talc layout of a small block: at least a [`Node`] large, so that any
/// block can wait on a [`Remote`] stack (nodes are written and read
/// unaligned, so the alignment stays the caller's). A function of the
/// caller's layout alone, so that allocation and free agree.
#[inline]
fn heap_layout(layout: Layout) -> Layout {
    let size = layout.size().max(size_of::<Node>());
    // SAFETY: the alignment is the caller's layout's; `size` rounded up to
    // it cannot overflow `isize` for a small block (< `LARGE_MIN`).
    unsafe { Layout::from_size_align_unchecked(size, layout.align()) }
}

/// Blocks freed by other threads while the owning arena's lock was taken:
/// a lock-free stack (pushes only; the owner takes the whole stack at once,
/// so a node is never popped while another thread reads it). On a line of
/// its own.
#[derive(Debug)]
#[repr(align(128))]
pub(super) struct Remote {
    head: AtomicPtr<Node>,
    /// Blocks pushed since the stack was last taken: a hint for when to
    /// free them (pushes counted after they land, reset when the stack is
    /// taken), never used to find them.
    pushed: AtomicUsize,
}

impl Remote {
    crate::sync::const_fn! {
        pub(super) const fn new() -> Self {
            Self { head: AtomicPtr::new(ptr::null_mut()), pushed: AtomicUsize::new(0) }
        }
    }

    /// Hands the block at `ptr` over to its arena, to be freed by whoever
    /// takes the stack next (module docs). Returns about how many blocks
    /// wait now.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live block of this stack's
    /// arena, allocated with `layout`, and that nothing accesses it after.
    pub(super) unsafe fn push(&self, ptr: NonNull<u8>, layout: Layout) -> usize {
        let node = ptr.cast::<Node>();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let value = Node {
                next: head,
                size: layout.size(),
                align: layout.align(),
            };
            // SAFETY: the block is the caller's to give up and at least a
            // `Node` large (`heap_layout`), written unaligned; nobody else
            // reads it until the exchange below publishes it.
            unsafe { node.write_unaligned(value) };
            // Release: the owner that takes the stack sees the node written.
            match self.head.compare_exchange_weak(
                head,
                node.as_ptr(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return self.pushed.fetch_add(1, Ordering::Relaxed) + 1,
                Err(seen) => head = seen,
            }
        }
    }

    /// Whether blocks wait on the stack.
    #[inline]
    pub(super) fn waiting(&self) -> bool {
        !self.head.load(Ordering::Relaxed).is_null()
    }

    /// Takes every block on the stack.
    #[inline]
    fn take(&self) -> *mut Node {
        if self.head.load(Ordering::Relaxed).is_null() {
            return ptr::null_mut();
        }
        self.pushed.store(0, Ordering::Relaxed);
        // Acquire: pairs with the pushes' release.
        self.head.swap(ptr::null_mut(), Ordering::Acquire)
    }
}

/// Segments a heap gave up, to be released to the pool after its lock is
/// released: a chain through their headers.
#[must_use]
pub(super) struct Released(*mut Header);

impl Released {
    /// Whether no segment was given up.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_null()
    }
}

impl Iterator for Released {
    type Item = NonNull<u8>;

    fn next(&mut self) -> Option<NonNull<u8>> {
        let h = NonNull::new(self.0)?;
        // SAFETY: a segment on the chain was given up by its heap under its
        // lock and is reached only through this chain now; its header was
        // written then.
        self.0 = unsafe { (*h.as_ptr()).released };
        Some(h.cast())
    }
}

/// The header of the segment that holds `ptr`, a block of some arena.
#[inline]
fn header(ptr: NonNull<u8>) -> NonNull<Header> {
    let start = ptr.as_ptr().map_addr(|a| a & !(SEGMENT - 1));
    // SAFETY: a block lies past its segment's header, so `start` is the
    // segment's first byte: a page the pool handed out, never at address 0
    // (`GenericVmem::pointer`).
    unsafe { NonNull::new_unchecked(start) }.cast()
}

/// The arena that owns the small block at `ptr`.
///
/// # Safety
///
/// Callers must guarantee that `ptr` is a live block of a small arena
/// handed to (or passed on to) this thread.
#[inline]
pub(super) unsafe fn owner(ptr: NonNull<u8>) -> usize {
    // SAFETY: a live block's segment has a header written before the block
    // was handed out (module docs); `arena` never changes afterwards. Read
    // through the raw pointer, field alone: the owner may be updating the
    // header's other fields under its lock meanwhile.
    unsafe { (*header(ptr).as_ptr()).arena }
}

/// One arena's small-object heap and its segments.
#[derive(Debug)]
pub(super) struct SmallArena {
    talc: Talc<Manual, Bins>,
    /// Segments in the heap.
    pub(super) segments: usize,
    /// The segment added last, head of the list of the heap's segments
    /// (through [`Header::prev`]); null while the heap has none.
    last: *mut Header,
    /// The segment kept when it last became empty, if any: blocks may have
    /// been allocated in it since (so allocation never looks at it). Never
    /// given up while it is here; never the first segment, whose count
    /// never reaches zero.
    spare: *mut Header,
    /// Segments given up and not yet taken by
    /// [`take_released`](Self::take_released).
    released: *mut Header,
}

// SAFETY: talc's pointers all point into segments this arena owns; the
// arena is only reached under its lock (`Locked`), from whichever thread
// holds it.
unsafe impl Send for SmallArena {}

impl SmallArena {
    pub(super) const fn new() -> Self {
        Self {
            talc: Talc::new(Manual),
            segments: 0,
            last: ptr::null_mut(),
            spare: ptr::null_mut(),
            released: ptr::null_mut(),
        }
    }

    /// A block for `layout` from the segments held, or `None` when none has
    /// room (the caller adds a segment, outside the lock, and retries).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `layout` has a non-zero size.
    #[inline]
    pub(super) unsafe fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: non-zero size (caller). `try_allocate` does not call the
        // source (which could not give memory anyway: `Manual`).
        let ptr = unsafe { self.talc.try_allocate(heap_layout(layout)) }?;
        // SAFETY: the block lies in a segment of this arena, whose header
        // this arena's lock (held) guards.
        unsafe { (*header(ptr).as_ptr()).live += layout.size() };
        Some(ptr)
    }

    /// Bytes of live blocks in the heap, as their layouts say: a walk over
    /// its segments (for `stats`, not on any allocation path).
    pub(super) fn in_use(&self) -> usize {
        let mut bytes = 0;
        let mut seg = self.last;
        // As many steps as the heap has segments: a list that does not end
        // there is a bug, caught below rather than walked forever.
        for _ in 0..self.segments {
            if seg.is_null() {
                break;
            }
            // SAFETY: the list holds the heap's segments, each reserved
            // until it is given up, when it leaves the list; their headers
            // are guarded by this arena's lock (held: `&self` is under it).
            unsafe { (bytes, seg) = (bytes + (*seg).live, (*seg).prev) };
        }
        debug_assert!(seg.is_null(), "the segment list is longer than its count");
        // The first segment's pin, which no block accounts for.
        bytes - if self.segments > 0 { PIN } else { 0 }
    }

    /// Frees the block at `ptr`. When its segment becomes empty and this
    /// arena holds another empty one already, talc gives the segment up and
    /// it waits for [`take_released`](Self::take_released).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live block of this arena,
    /// allocated with `layout`.
    #[inline]
    pub(super) unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: a live block of this arena's talc with that layout
        // (caller; `heap_layout` as at allocation).
        unsafe { self.talc.deallocate(ptr.as_ptr(), heap_layout(layout)) };
        // Headers are reached through raw pointers only, never references:
        // the heap keeps pointers to them (its list, the spare), which a
        // reference to a header would invalidate (Miri's aliasing models).
        let h = header(ptr).as_ptr();
        // SAFETY: the segment's header, guarded by this arena's lock.
        let live = unsafe {
            (*h).live -= layout.size();
            (*h).live
        };
        if live == 0 {
            // SAFETY: a segment of this heap that just became empty.
            unsafe { self.segment_emptied(h) };
        }
    }

    /// Keeps the segment `h`, which just became empty, as the heap's spare,
    /// or gives it up (to wait for [`take_released`](Self::take_released))
    /// when the spare is empty too. Out of line: a free reaches it once per
    /// segment emptied, and the free's fast path stays small enough to be
    /// inlined into its callers (docs/DESIGN.md §10, entry 32).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `h` is the header of a segment of this
    /// heap that holds no live block.
    #[cold]
    #[inline(never)]
    unsafe fn segment_emptied(&mut self, h: *mut Header) {
        let spare = self.spare;
        // SAFETY: the spare is a segment of this heap (never given up while
        // it is the spare), its header guarded by this arena's lock.
        if spare.is_null() || spare == h || unsafe { (*spare).live } > 0 {
            // Kept, so that one block allocated and freed over and over
            // does not take and give back a segment each time: the heap
            // holds at most one empty segment besides its first.
            self.spare = h;
            return;
        }
        // SAFETY: `heap_end` is the heap's current end (only `add_segment`
        // sets it, and nothing resizes the heap); no block is live in it, so
        // talc takes the whole heap back and no longer touches it.
        let end = unsafe { NonNull::new_unchecked((*h).heap_end) };
        // SAFETY: as said above.
        let kept = unsafe { self.talc.truncate(end, ptr::null_mut()) };
        debug_assert!(kept.is_none(), "an empty heap is deleted whole");
        self.segments -= 1;
        // SAFETY: this segment's header and those of its neighbours on
        // the list (segments of this heap; it has one before it, as it is
        // not the first, pinned), guarded by this arena's lock.
        unsafe {
            let (prev, next) = ((*h).prev, (*h).next);
            if next.is_null() {
                self.last = prev;
            } else {
                (*next).prev = prev;
            }
            if !prev.is_null() {
                (*prev).next = next;
            }
            (*h).released = self.released;
        }
        self.released = h;
    }

    /// Frees every block other threads pushed on `remote`, this arena's
    /// stack.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `remote` is this arena's stack (so every
    /// block on it is a live block of this arena, given up by its owner).
    #[inline]
    pub(super) unsafe fn drain(&mut self, remote: &Remote) {
        let node = remote.take();
        if !node.is_null() {
            // SAFETY: taken from this arena's stack (caller).
            unsafe { self.free_handed_over(node) };
        }
    }

    /// The slow path of [`drain`](Self::drain): frees the blocks of a taken
    /// stack.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `node` heads a stack taken from this
    /// arena's [`Remote`].
    #[cold]
    #[inline(never)]
    unsafe fn free_handed_over(&mut self, mut node: *mut Node) {
        while let Some(n) = NonNull::new(node) {
            // SAFETY: a node pushed by `Remote::push`, published with
            // release and taken with acquire; no one else reaches it now.
            let Node { next, size, align } = unsafe { n.read_unaligned() };
            // SAFETY: the layout the block was allocated with (pushed with
            // it by a caller who guaranteed that).
            let layout = unsafe { Layout::from_size_align_unchecked(size, align) };
            // SAFETY: a live block of this arena with that layout (caller).
            unsafe { self.dealloc(n.cast(), layout) };
            node = next;
        }
    }

    /// The segments given up since the last call, to release to the pool
    /// once the lock is released.
    #[inline]
    pub(super) fn take_released(&mut self) -> Released {
        if self.released.is_null() {
            // Nothing written: the usual case, on every operation.
            return Released(ptr::null_mut());
        }
        Released(core::mem::replace(&mut self.released, ptr::null_mut()))
    }

    /// Grows or shrinks the block at `ptr` to `new_size` without moving it,
    /// if talc can.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is a live block of this arena,
    /// allocated with `layout`, and `new_size` is non-zero.
    pub(super) unsafe fn realloc_in_place(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> bool {
        // SAFETY: the caller guarantees a valid size for the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (old, new) = (heap_layout(layout), heap_layout(new_layout).size());
        // SAFETY: a live block of this talc with `old` (`heap_layout` as at
        // allocation), `new` non-zero (caller).
        let done = unsafe { self.talc.try_realloc_in_place(ptr.as_ptr(), old, new) };
        if done {
            // SAFETY: the block's segment, this arena's, whose header its
            // lock (held) guards; the block keeps at least one byte.
            unsafe {
                let h = header(ptr).as_ptr();
                (*h).live = (*h).live - layout.size() + new_size;
            }
        }
        done
    }

    /// Adds the segment at `seg` (reserved by the caller, [`SEGMENT`] bytes
    /// aligned to [`SEGMENT`]) to the heap of arena `arena` (this one).
    /// Returns `false` if talc refused it (then the caller releases it).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the segment is theirs alone and stays
    /// reserved until this arena gives it back.
    pub(super) unsafe fn add_segment(&mut self, seg: NonNull<u8>, arena: usize) -> bool {
        let pinned = !self.talc.is_metadata_established();
        // SAFETY: the segment's bytes after the header are the caller's
        // alone and stay so until talc gives them back (`dealloc`).
        let end = unsafe { self.talc.claim(seg.as_ptr().add(HEADER), SEGMENT - HEADER) };
        let Some(end) = end else { return false };
        let header = Header {
            arena,
            live: if pinned { PIN } else { 0 },
            heap_end: end.as_ptr(),
            prev: self.last,
            next: ptr::null_mut(),
            released: ptr::null_mut(),
        };
        let h = seg.cast::<Header>();
        // SAFETY: the first `HEADER` bytes of the caller's segment, aligned
        // (a segment start), large enough for a `Header`.
        unsafe { h.write(header) };
        if !self.last.is_null() {
            // SAFETY: the segment added before this one, still in the heap,
            // its header guarded by this arena's lock.
            unsafe { (*self.last).next = h.as_ptr() };
        }
        self.last = h.as_ptr();
        self.segments += 1;
        true
    }
}

const _: () = assert!(core::mem::size_of::<Header>() <= HEADER);
