//! The arenas: which one a thread works in, the locked sections that
//! publish each arena's longest free run, and the steals of free pages
//! from another arena before the memory grows.

use super::GenericVmem;
use crate::policy::Policy;
use crate::sync::atomic::Ordering::Relaxed;
use crate::sys::LinearMemory;
use crate::table::{Fill, Plan, Table};
use core::ptr::NonNull;

impl<M: LinearMemory, P: Policy> GenericVmem<M, P> {
    /// Claims `len` pages from an arena other than `home`, if one has a
    /// fit: pages released into an arena whose threads went idle are used
    /// before the memory grows. Arenas whose published longest run is
    /// shorter than `len` are skipped without locking them, and arenas
    /// whose lock is taken are passed over, unless `every_arena` (the
    /// memory refused to grow; a hint read without the lock may be a moment
    /// old).
    pub(super) fn steal(
        &self,
        home: usize,
        len: usize,
        align: usize,
        base: usize,
        fill: Fill,
        every_arena: bool,
    ) -> Option<(NonNull<u8>, usize)> {
        for arena in self.others(home) {
            if !every_arena && self.longest[arena].0.load(Relaxed) < len {
                continue;
            }
            let mut plan = Plan::new();
            let claim = |t: &mut Table| {
                let start = t.find(len, align, base)?;
                Some((start, t.claim_and_plan(start, len, fill, &mut plan)))
            };
            // Unless memory is short, an arena whose lock is taken is passed
            // over: its threads are at work (so its pages are not stranded),
            // and a thread whose own arena is empty would otherwise keep
            // taking pages from the same busy arena, whose pages go back
            // there on release, and share its lock for good; growing its
            // own arena instead gives it pages of its own.
            let claimed = if every_arena {
                self.in_arena(arena, claim)
            } else {
                self.try_in_arena(arena, claim).flatten()
            };
            if let Some((start, next)) = claimed {
                // SAFETY: claimed by this call under `arena`'s lock.
                return Some(unsafe { self.finish_claim(arena, start, len, next, fill, plan) });
            }
        }
        None
    }

    /// Runs `f` on `arena`'s table under its lock, then publishes the
    /// arena's longest free run (`longest`) before unlocking: every locked
    /// section that may change the free runs goes through here (pure
    /// lookups lock the arena directly).
    pub(super) fn in_arena<R>(&self, arena: usize, f: impl FnOnce(&mut Table) -> R) -> R {
        self.arenas[arena].with(|t| self.publishing(arena, t, f))
    }

    /// [`in_arena`](Self::in_arena) if `arena`'s lock is free now, `None`
    /// otherwise.
    pub(super) fn try_in_arena<R>(
        &self,
        arena: usize,
        f: impl FnOnce(&mut Table) -> R,
    ) -> Option<R> {
        self.arenas[arena].try_with(|t| self.publishing(arena, t, f))
    }

    /// Runs `f` on `arena`'s table `t`, whose lock the caller holds, then
    /// publishes the arena's longest free run.
    #[inline]
    pub(super) fn publishing<R>(
        &self,
        arena: usize,
        t: &mut Table,
        f: impl FnOnce(&mut Table) -> R,
    ) -> R {
        let r = f(t);
        self.longest[arena].0.store(t.longest_free(), Relaxed);
        r
    }

    /// The arena in which page `start` is reserved, if any.
    pub(super) fn owner(&self, start: usize) -> Option<usize> {
        self.search_order()
            .find(|&a| self.arenas[a].with(|t| t.is_reserved(start, 1)))
    }

    /// This thread's arena: its number (`policy::thread`: a counter kept
    /// in a thread-local, or a hash of its stack address where none can be
    /// used), modulo the arenas; 0 with one arena. Only a preference: any
    /// thread may use any arena, so a collision costs contention, never
    /// correctness. Under loom and Miri it is 0 (`policy::thread::slot`).
    #[inline]
    pub(crate) fn home(&self) -> usize {
        crate::policy::thread::slot(Self::ARENAS)
    }

    /// The arenas other than `home`, in order after it.
    pub(super) fn others(&self, home: usize) -> impl Iterator<Item = usize> {
        (1..Self::ARENAS).map(move |i| (home + i) % Self::ARENAS)
    }

    /// Where to look for the arena that owns a page: this thread's first
    /// (a thread working on its own reservations takes one lock), then the
    /// others.
    pub(super) fn search_order(&self) -> impl Iterator<Item = usize> {
        let home = self.home();
        core::iter::once(home).chain(self.others(home))
    }
}
