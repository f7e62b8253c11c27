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
    /// Storage able to describe `pages` pages without reallocating. Its
    /// memory is written once here, outside the lock, so that the first
    /// touch of each of its pages (a page fault natively, and in browsers,
    /// whose memory is committed lazily too) is not paid while the table
    /// is locked.
    pub(crate) fn try_with_capacity(pages: usize) -> Result<Self, TryReserveError> {
        let mut storage = Storage::default();
        storage.pages.try_reserve_exact(pages)?;
        storage.free.try_reserve_exact(free_runs_bound(pages))?;
        storage.pages.resize(pages, PageState::Foreign);
        storage.pages.clear();
        storage.free.resize(free_runs_bound(pages), Node::EMPTY);
        storage.free.clear();
        Ok(storage)
    }
}

/// The most free runs `pages` pages can hold: runs are separated by at
/// least one page that is not free.
pub(super) fn free_runs_bound(pages: usize) -> usize {
    pages / 2 + 1
}
