//! Carrying out plans outside the lock: zeroing, sentinel checks and
//! writes on pages the calling operation owns, batch after batch.

use super::{GenericVmem, Step, SENTINEL};
use crate::policy::Policy;
use crate::sys::LinearMemory;
use crate::table::{Action, Fill, Plan, Run, Table};
use crate::units::PAGE_SIZE;
use core::ptr::NonNull;

impl<M: LinearMemory, P: Policy> GenericVmem<M, P> {
    /// Carries out `plan`, then the batches `step` plans for `from .. end`,
    /// each planned under the lock and carried out outside it. Returns the
    /// pages that held data: zeroed, or counted as taken as they were
    /// ([`Plan::take_dirty`], a claim with [`Fill::Any`]).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the pages of `from .. end` and of `plan`
    /// are owned by this call: claimed by it, or reserved by a caller who
    /// guarantees no concurrent access.
    pub(super) unsafe fn finish(
        &self,
        arena: usize,
        mut from: usize,
        end: usize,
        mut plan: Plan,
        step: Step<'_>,
    ) -> usize {
        let mut held_data = 0;
        // Zeroing is carried over from batch to batch while it stays
        // contiguous, so that a long range is zeroed with one `fill` (one
        // `memory.fill`, one large `memset`), not one per batch.
        let mut pending = None;
        loop {
            // SAFETY: the plan's pages are owned by this call (caller).
            let (violations, pages) = unsafe { self.carry_out(&plan, &mut pending) };
            held_data += pages + plan.dirty();
            if violations > 0 {
                self.arenas[arena].with(|t| t.add_sentinel_violations(violations));
            }
            if from == end {
                // SAFETY: pages of the plans above, owned by this call.
                unsafe { self.zero(pending) };
                return held_data;
            }
            plan.clear();
            from = self.in_arena(arena, |t| step(t, from, end, &mut plan));
        }
    }

    /// Finishes a reservation of `start .. start + len` claimed in `arena`,
    /// whose batch before `next` is planned in `plan`: zeroes what must be,
    /// commits the rest batch by batch, and returns its address and the
    /// pages that held data (zeroed, unless `fill` is [`Fill::Any`]).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that they claimed the pages in `arena` (so no
    /// other thread can reach them before this returns).
    pub(super) unsafe fn finish_claim(
        &self,
        arena: usize,
        start: usize,
        len: usize,
        next: usize,
        fill: Fill,
        plan: Plan,
    ) -> (NonNull<u8>, usize) {
        let step = |t: &mut Table, from, end, plan: &mut Plan| t.claim_batch(from, end, fill, plan);
        // SAFETY: the pages are this call's alone (caller).
        let zeroed = unsafe { self.finish(arena, next, start + len, plan, &step) };
        (self.pointer(start), zeroed)
    }

    /// Writes what `plan` says into page contents; returns the number of
    /// overwritten sentinels found and of pages zeroed (or to be zeroed).
    /// Zeroing joins `pending`, a run to zero that earlier plans of the same
    /// call left, when contiguous with it; otherwise `pending` is zeroed
    /// and replaced. The caller zeroes what is pending at the end.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that no other thread accesses the plan's pages
    /// (nor `pending`'s) until the call that owns them returns.
    pub(super) unsafe fn carry_out(&self, plan: &Plan, pending: &mut Option<Run>) -> (u64, usize) {
        let base = self.memory.base();
        let mut violations = 0;
        let mut zeroed = 0;
        for step in plan.steps() {
            let addr = base + step.run.start * PAGE_SIZE;
            let pages = (0..step.run.len).map(|i| addr + i * PAGE_SIZE);
            // Every access below is to a run of pages this instance grew, so
            // inside the memory, and that no other thread accesses (caller).
            match step.action {
                Action::Zero | Action::CheckSentinelThenZero => {
                    if step.action == Action::CheckSentinelThenZero {
                        for page in pages {
                            // SAFETY: in bounds and unshared, as said above.
                            if unsafe { self.memory.read_byte(page) } != SENTINEL {
                                violations += 1;
                            }
                        }
                    }
                    zeroed += step.run.len;
                    match pending {
                        Some(run) if run.end() == step.run.start => run.len += step.run.len,
                        _ => {
                            // SAFETY: pages of this call's plans, as above.
                            unsafe { self.zero(pending.replace(step.run)) }
                        }
                    }
                }
                Action::WriteSentinel => {
                    for page in pages {
                        // SAFETY: in bounds and unshared, as said above.
                        unsafe { self.memory.fill(page, 1, SENTINEL) }
                    }
                }
            }
        }
        (violations, zeroed)
    }

    /// Zeroes the pages of `run`, if any.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that the run's pages are this instance's and
    /// that no other thread accesses them.
    pub(super) unsafe fn zero(&self, run: Option<Run>) {
        if let Some(run) = run {
            let addr = self.memory.base() + run.start * PAGE_SIZE;
            // SAFETY: in bounds (pages this instance grew) and unshared
            // (caller).
            unsafe { self.memory.fill(addr, run.len * PAGE_SIZE, 0) }
        }
    }
}
