//! The table's metadata storage: page states and run nodes in a region of
//! the linear memory that the instance grew for them (docs/DESIGN.md §5,
//! "Where metadata lives"). No global allocator is involved, so wasm-vmem
//! can itself be the global allocator.
//!
//! A [`Storage`] is a region of whole pages that the instance grew and
//! initialised outside the lock; under the lock the table carves it into
//! four [`FixedVec`]s (the heads of the free-run class lists, run nodes,
//! page tags, page states) and adopts it, or takes it back as free pages
//! when it is not needed after all.

use super::runs::{Node, CLASSES};
use super::{PageState, Run};
use crate::PAGE_SIZE;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Bytes of one run node in a storage region.
pub(crate) const NODE_BYTES: usize = size_of::<Node>();

/// Bytes per page a storage region holds: its state and its run tag.
pub(crate) const PAGE_META_BYTES: usize = size_of::<PageState>() + size_of::<u32>();

/// Bytes of the class lists' heads at the start of every storage region.
const HEADS_BYTES: usize = CLASSES * size_of::<u32>();

/// A vector of `Copy` values over memory it does not allocate: a pointer,
/// a length and a fixed capacity. It never grows past its capacity, never
/// frees anything, and has no destructor: its memory belongs to whoever
/// gave it (here, a [`Storage`] region of the linear memory).
pub(crate) struct FixedVec<T> {
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
    _owns: PhantomData<T>,
}

impl<T> core::fmt::Debug for FixedVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FixedVec")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .finish()
    }
}

// SAFETY: a `FixedVec` is the only handle to its `cap` slots (the
// `from_raw_parts` contract), like a `Vec`'s buffer, so moving it to another
// thread moves sole access to `T` values.
unsafe impl<T: Send> Send for FixedVec<T> {}
// SAFETY: `&FixedVec` only gives `&[T]`, so sharing it shares `&T`.
unsafe impl<T: Sync> Sync for FixedVec<T> {}

impl<T: Copy> FixedVec<T> {
    /// An empty vector with no capacity.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
            _owns: PhantomData,
        }
    }

    /// An empty vector over `cap` slots at `ptr`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is aligned for `T` and valid for
    /// reads and writes of `cap` values of `T` for as long as the vector
    /// (and any vector its contents are later copied from) lives, and that
    /// nothing else accesses that memory meanwhile.
    pub(crate) unsafe fn from_raw_parts(ptr: NonNull<T>, cap: usize) -> Self {
        Self {
            ptr,
            len: 0,
            cap,
            _owns: PhantomData,
        }
    }

    /// Values the vector holds without more memory.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Appends `value`; gives it back when the vector is full.
    pub(crate) fn push(&mut self, value: T) -> Result<(), T> {
        if self.len == self.cap {
            return Err(value);
        }
        // SAFETY: `len < cap`, so the slot is inside the memory the vector
        // was given (`from_raw_parts`), which only it accesses.
        unsafe { self.ptr.add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Sets the length to `new_len`, filling new slots with `value`.
    ///
    /// # Panics
    ///
    /// If `new_len` exceeds the capacity.
    pub(crate) fn resize(&mut self, new_len: usize, value: T) {
        assert!(new_len <= self.cap, "FixedVec over capacity");
        for i in self.len..new_len {
            // SAFETY: `i < new_len <= cap`: inside the vector's memory.
            unsafe { self.ptr.add(i).write(value) };
        }
        self.len = new_len;
    }

    /// Lengthens the vector to `new_len` values (nothing if it is longer)
    /// without writing: the new slots hold what the memory holds. For a
    /// storage region, zeros: its grower wrote it whole before it was
    /// carved ([`Storage::from_region`]).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `new_len` is at most the capacity and
    /// that slots `len .. new_len` hold valid values of `T` (memory written
    /// since the vector was made over it, and not written since through a
    /// vector shorter than that).
    pub(crate) unsafe fn extend_unwritten(&mut self, new_len: usize) {
        debug_assert!(new_len <= self.cap, "FixedVec over capacity");
        self.len = self.len.max(new_len);
    }

    /// Shortens the vector to `len` values (nothing if it is shorter).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Removes every value.
    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    /// Appends the values of `values`.
    ///
    /// # Panics
    ///
    /// If they do not fit in the capacity.
    pub(crate) fn extend_from_slice(&mut self, values: &[T]) {
        assert!(
            values.len() <= self.cap - self.len,
            "FixedVec over capacity"
        );
        // SAFETY: the destination `len .. len + values.len()` is inside the
        // vector's memory (checked above); the source is a live slice,
        // which cannot overlap the unused slots of this vector (only this
        // vector reaches them).
        unsafe {
            core::ptr::copy_nonoverlapping(
                values.as_ptr(),
                self.ptr.add(self.len).as_ptr(),
                values.len(),
            )
        };
        self.len += values.len();
    }
}

impl<T> Deref for FixedVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` slots were written (`push`, `resize`,
        // `extend_from_slice`), lie inside the vector's memory and are
        // reached only through it; `ptr` is aligned and non-null.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for FixedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// A region of linear memory for a table's metadata: `pages` (page
/// numbers from the memory's base), at address `addr`, initialised outside
/// the lock. Under the lock the table either carves it into its vectors
/// ([`carve`](Self::carve)) or takes the pages back as free ones.
#[derive(Debug)]
pub(crate) struct Storage {
    addr: usize,
    bytes: usize,
    pages: Run,
    /// The capacities the grower sized it for: (page states, run nodes).
    want: (usize, usize),
    origin: Origin,
}

/// Where a [`Storage`] region's pages come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Grown by the instance for it: new to the table (or foreign there).
    Grown,
    /// A free run of the table itself, claimed for it
    /// ([`Table::claim_free`](super::Table::claim_free)).
    Claimed,
}

impl Storage {
    /// The region `pages` at address `addr`, sized for `want` (page states,
    /// run nodes), its pages from `origin`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `addr .. addr + pages.len * PAGE_SIZE`
    /// is aligned to [`PAGE_SIZE`], reads zero (written whole: the run
    /// tags are taken as they are, [`FixedVec::extend_unwritten`]), valid
    /// for reads and writes through
    /// pointers made from the address (provenance exposed) for as long as
    /// the memory lives, never moves, and is accessed by nothing else from
    /// now on except through the table that adopts it or takes it back.
    pub(crate) unsafe fn from_region(
        addr: usize,
        pages: Run,
        want: (usize, usize),
        origin: Origin,
    ) -> Self {
        Self {
            addr,
            bytes: pages.len * PAGE_SIZE,
            pages,
            want,
            origin,
        }
    }

    /// `bytes` at `addr` that are no pages of the memory (unit tests): the
    /// table records no pages for them.
    ///
    /// # Safety
    ///
    /// As for [`from_region`](Self::from_region), for `addr .. addr +
    /// bytes`, which must outlive the table that adopts it.
    #[cfg(test)]
    pub(crate) unsafe fn from_raw(addr: usize, bytes: usize, want: (usize, usize)) -> Self {
        Self {
            addr,
            bytes,
            pages: Run { start: 0, len: 0 },
            want,
            origin: Origin::Grown,
        }
    }

    /// The pages of the region.
    pub(crate) fn pages(&self) -> Run {
        self.pages
    }

    /// What the grower asked for: (page states, run nodes).
    pub(crate) fn want(&self) -> (usize, usize) {
        self.want
    }

    /// Where its pages come from.
    pub(crate) fn origin(&self) -> Origin {
        self.origin
    }

    /// Bytes in the region.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The region as the class lists' heads, `nodes` run nodes, `states`
    /// page tags and `states` page states (`bytes_for(states, nodes) <=
    /// self.bytes()`), consuming it.
    pub(crate) fn carve(self, states: usize, nodes: usize) -> Carved {
        assert!(bytes_for(states, nodes).is_some_and(|b| b <= self.bytes()));
        const {
            assert!(align_of::<Node>() <= size_of::<u32>() && align_of::<u32>() <= PAGE_SIZE);
            assert!(HEADS_BYTES.is_multiple_of(align_of::<Node>()));
            assert!(NODE_BYTES.is_multiple_of(align_of::<u32>()));
            assert!(align_of::<PageState>() == 1);
        };
        let node_addr = self.addr + HEADS_BYTES;
        let tag_addr = node_addr + nodes * NODE_BYTES;
        let state_addr = tag_addr + states * size_of::<u32>();
        let ptr = core::ptr::with_exposed_provenance_mut::<u8>;
        match (
            NonNull::new(ptr(self.addr).cast::<u32>()),
            NonNull::new(ptr(node_addr).cast::<Node>()),
            NonNull::new(ptr(tag_addr).cast::<u32>()),
            NonNull::new(ptr(state_addr).cast::<PageState>()),
        ) {
            // SAFETY: the four parts are disjoint and inside the region
            // (checked above), which is valid, unshared and never moves
            // (`from_region`); it starts on a page, and each part ends on a
            // multiple of the next one's alignment (checked above). `self`
            // is consumed, so nothing else carves the region again.
            (Some(h), Some(n), Some(t), Some(s)) => unsafe {
                Carved {
                    heads: FixedVec::from_raw_parts(h, CLASSES),
                    nodes: FixedVec::from_raw_parts(n, nodes),
                    tags: FixedVec::from_raw_parts(t, states),
                    states: FixedVec::from_raw_parts(s, states),
                }
            },
            _ => unreachable!("a storage region at address 0"),
        }
    }
}

/// A storage region carved into the table's vectors.
pub(crate) struct Carved {
    pub(crate) heads: FixedVec<u32>,
    pub(crate) nodes: FixedVec<Node>,
    pub(crate) tags: FixedVec<u32>,
    pub(crate) states: FixedVec<PageState>,
}

/// Bytes of a storage holding `states` page states (and their tags) and
/// `nodes` run nodes, after the class lists' heads.
pub(crate) fn bytes_for(states: usize, nodes: usize) -> Option<usize> {
    nodes
        .checked_mul(NODE_BYTES)?
        .checked_add(states.checked_mul(PAGE_META_BYTES)?)?
        .checked_add(HEADS_BYTES)
}

/// The most free runs a table of `pages` pages that grew `owned` of them
/// can hold: runs are separated by at least one page that is not free, and
/// each holds at least one page the table owns. The second bound keeps the
/// node pools of several arenas, which all describe pages up to their own
/// end, about as large together as one.
pub(super) fn runs_bound(pages: usize, owned: usize) -> usize {
    (pages / 2 + 1).min(owned + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A vector over a slice of `buf`.
    fn over(buf: &mut [u32]) -> FixedVec<u32> {
        // SAFETY: the slice is aligned, valid and unshared while the vector
        // is used (the tests drop the vector before the buffer).
        unsafe { FixedVec::from_raw_parts(NonNull::new(buf.as_mut_ptr()).unwrap(), buf.len()) }
    }

    #[test]
    fn fixed_vec_pushes_within_capacity_only() {
        let mut buf = [0u32; 3];
        let mut v = over(&mut buf);
        assert_eq!((v.len(), v.capacity()), (0, 3));
        assert_eq!(v.push(1), Ok(()));
        assert_eq!(v.push(2), Ok(()));
        assert_eq!(v.push(3), Ok(()));
        assert_eq!(v.push(4), Err(4), "full: the value comes back");
        assert_eq!(&v[..], [1, 2, 3]);
        v[1] = 20;
        assert_eq!(&v[..], [1, 20, 3]);
        v.truncate(1);
        assert_eq!(&v[..], [1]);
        v.truncate(5);
        assert_eq!(v.len(), 1, "truncate never lengthens");
        v.clear();
        assert!(v.is_empty());
    }

    #[test]
    fn fixed_vec_resizes_and_extends() {
        let mut buf = [0u32; 8];
        let mut v = over(&mut buf);
        v.resize(3, 7);
        assert_eq!(&v[..], [7, 7, 7]);
        v.resize(1, 9);
        assert_eq!(&v[..], [7], "shrinking keeps the first values");
        v.extend_from_slice(&[1, 2]);
        v.resize(5, 0);
        assert_eq!(&v[..], [7, 1, 2, 0, 0]);
        let mut w_buf = [0u32; 8];
        let mut w = over(&mut w_buf);
        w.extend_from_slice(&v);
        assert_eq!(&w[..], &v[..]);
        // The vectors are not used past here: the values live in `buf`.
        assert_eq!(buf[..5], [7, 1, 2, 0, 0], "the values live in the buffer");
    }

    #[test]
    #[should_panic(expected = "over capacity")]
    fn fixed_vec_resize_past_capacity_panics() {
        let mut buf = [0u32; 2];
        over(&mut buf).resize(3, 0);
    }

    #[test]
    #[should_panic(expected = "over capacity")]
    fn fixed_vec_extend_past_capacity_panics() {
        let mut buf = [0u32; 2];
        over(&mut buf).extend_from_slice(&[1, 2, 3]);
    }

    #[test]
    fn empty_fixed_vec_has_no_room() {
        let mut v = FixedVec::<u8>::new();
        assert_eq!(v.push(1), Err(1));
        assert!(v.is_empty());
        v.resize(0, 0);
    }

    #[test]
    fn carving_splits_a_region_into_heads_nodes_tags_and_states() {
        let mut buf: Vec<u64> = std::vec![0; 4 * PAGE_SIZE / 8];
        let addr = buf.as_mut_ptr().expose_provenance();
        let addr = addr.next_multiple_of(PAGE_SIZE);
        assert!(addr + PAGE_SIZE <= buf.as_ptr().addr() + buf.len() * 8);
        // SAFETY: one page inside `buf`, aligned, unshared, alive below.
        let s =
            unsafe { Storage::from_region(addr, Run { start: 0, len: 1 }, (8, 4), Origin::Grown) };
        assert_eq!((s.bytes(), s.want()), (PAGE_SIZE, (8, 4)));
        let states = (PAGE_SIZE - HEADS_BYTES - 100 * NODE_BYTES) / PAGE_META_BYTES;
        let Carved {
            heads,
            mut nodes,
            mut tags,
            states: mut p,
        } = s.carve(states, 100);
        assert_eq!(
            (
                heads.capacity(),
                p.capacity(),
                nodes.capacity(),
                tags.capacity()
            ),
            (CLASSES, states, 100, states)
        );
        p.resize(states, PageState::Metadata);
        nodes.resize(100, Node::EMPTY);
        tags.resize(states, 7);
        assert!(p.iter().all(|&s| s == PageState::Metadata));
        assert!(tags.iter().all(|&t| t == 7));
        assert!(bytes_for(states, 100).is_some_and(|b| b <= PAGE_SIZE));
        // `buf` outlives the vectors, which are not used past here.
        drop(buf);
    }

    #[test]
    #[should_panic]
    fn carving_more_than_the_region_panics() {
        let mut buf: Vec<u64> = std::vec![0; 2 * PAGE_SIZE / 8];
        let addr = buf
            .as_mut_ptr()
            .expose_provenance()
            .next_multiple_of(PAGE_SIZE);
        // SAFETY: as above; `carve` refuses before touching anything.
        let s =
            unsafe { Storage::from_region(addr, Run { start: 0, len: 1 }, (0, 0), Origin::Grown) };
        let _ = s.carve(PAGE_SIZE, 1);
    }
}
