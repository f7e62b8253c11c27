//! The bounded list of content actions that a critical section records and
//! the caller carries out after the lock is released, on pages it owns at
//! that moment: zeroing, sentinel checks and sentinel writes. A plan holds at
//! most [`PLAN_STEPS`] steps, so a critical section stays bounded however
//! scattered the pages are; a longer operation takes the lock again.

/// A run of pages `start .. start + len`, in page indices.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Run {
    pub(crate) start: usize,
    pub(crate) len: usize,
}

impl Run {
    pub(crate) fn end(self) -> usize {
        self.start + self.len
    }
}

/// What to do with the contents of a run of pages, outside the lock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Action {
    /// Fill with zeros.
    Zero,
    /// Check that each page's first byte is still the sentinel (a
    /// use-after-decommit guard), then fill with zeros.
    CheckSentinelThenZero,
    /// Write the sentinel at each page's first byte.
    WriteSentinel,
}

/// One content action over a run of pages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Step {
    pub(crate) run: Run,
    pub(crate) action: Action,
}

/// Steps recorded per lock acquisition; a longer operation takes the lock
/// again for the next batch.
pub(crate) const PLAN_STEPS: usize = 16;

/// A bounded list of content actions, recorded under the lock.
#[derive(Debug)]
pub(crate) struct Plan {
    steps: [Step; PLAN_STEPS],
    len: usize,
    /// Pages that held data, taken as they are (no step: nothing to do).
    dirty: usize,
}

impl Plan {
    pub(crate) const fn new() -> Self {
        const EMPTY: Step = Step {
            run: Run { start: 0, len: 0 },
            action: Action::Zero,
        };
        Self {
            steps: [EMPTY; PLAN_STEPS],
            len: 0,
            dirty: 0,
        }
    }

    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps[..self.len]
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.dirty = 0;
    }

    /// Counts a page that held data, taken as it is.
    pub(crate) fn take_dirty(&mut self) {
        self.dirty += 1;
    }

    /// Pages counted by [`take_dirty`](Self::take_dirty).
    pub(crate) fn dirty(&self) -> usize {
        self.dirty
    }

    /// Adds `page` with `action`, extending the last step when contiguous.
    /// Returns `false`, recording nothing, when a new step is needed and
    /// the plan is full.
    pub(crate) fn push(&mut self, page: usize, action: Action) -> bool {
        if let Some(last) = self.steps[..self.len].last_mut() {
            if last.action == action && last.run.end() == page {
                last.run.len += 1;
                return true;
            }
        }
        if self.len == PLAN_STEPS {
            return false;
        }
        self.steps[self.len] = Step {
            run: Run {
                start: page,
                len: 1,
            },
            action,
        };
        self.len += 1;
        true
    }
}
