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

use super::fixed_vec::FixedVec;
use super::plan::Run;
use super::runs::{Node, CLASSES};
use super::state::PageState;
use crate::units::PAGE_SIZE;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

/// Bytes of one run node in a storage region.
pub(crate) const NODE_BYTES: usize = size_of::<Node>();

/// Bytes per page a storage region holds: its state and its run tag.
pub(crate) const PAGE_META_BYTES: usize = size_of::<PageState>() + size_of::<u32>();

/// Bytes of the class lists' heads at the start of every storage region.
const HEADS_BYTES: usize = CLASSES * size_of::<u32>();

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
