//! The state of one page, as the table records it.

/// The state of one page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum PageState {
    /// Not grown by this instance: never handed out, touched or zeroed.
    Foreign = 0,
    /// Free and known to read zero (fresh from `memory.grow`, or zeroed).
    FreeZero,
    /// Free and may hold old data.
    FreeDirty,
    /// Reserved and committed: the owner's data.
    Committed,
    /// Reserved, decommitted, and reads zero (the eager policy).
    DecommittedZero,
    /// Reserved, decommitted, holds a sentinel at its first byte and maybe
    /// old data (the lazy policy).
    DecommittedDirty,
    /// Grown by this instance to hold the table's own storage: owned, never
    /// free, never handed out, never zeroed.
    Metadata,
}

pub(super) const STATES: usize = 7;

impl PageState {
    pub(super) fn is_reserved(self) -> bool {
        matches!(
            self,
            PageState::Committed | PageState::DecommittedZero | PageState::DecommittedDirty
        )
    }
}
