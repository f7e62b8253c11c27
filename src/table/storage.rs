//! The table's metadata storage, allocated outside the lock and swapped in,
//! so that no critical section calls the global allocator (which may itself
//! `memory.grow`) or pays first-touch page faults.

use super::runs::Node;
use super::PageState;
use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// The table's two vectors, allocated outside the lock and swapped in.
#[derive(Debug, Default)]
pub(crate) struct Storage {
    pub(super) pages: Vec<PageState>,
    pub(super) free: Vec<Node>,
}

impl Storage {
    /// Storage for `pages` page states and `nodes` run nodes, without
    /// reallocating. Its memory is written once here, outside the lock, so
    /// that the first touch of each of its pages (a page fault natively,
    /// and in browsers, whose memory is committed lazily too) is not paid
    /// while the table is locked.
    pub(crate) fn try_with_capacity(
        (pages, nodes): (usize, usize),
    ) -> Result<Self, TryReserveError> {
        let mut storage = Storage::default();
        storage.pages.try_reserve_exact(pages)?;
        storage.free.try_reserve_exact(nodes)?;
        storage.pages.resize(pages, PageState::Foreign);
        storage.pages.clear();
        storage.free.resize(nodes, Node::EMPTY);
        storage.free.clear();
        Ok(storage)
    }
}

/// The most free runs a table of `pages` pages that grew `owned` of them
/// can hold: runs are separated by at least one page that is not free, and
/// each holds at least one page the table owns. The second bound keeps the
/// node pools of several arenas, which all describe pages up to their own
/// end, about as large together as one.
pub(super) fn runs_bound(pages: usize, owned: usize) -> usize {
    (pages / 2 + 1).min(owned + 1)
}
