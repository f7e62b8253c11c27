//! The free runs, indexed for constant-time work under the lock: by length
//! in size classes (two-level bitmaps over lists, as in TLSF: exact classes
//! below 32 pages, then 16 per power of two) to find a fit, and by address
//! through tags in a per-page array (the run's node at its first and its
//! last page) to find the runs beside a released range. Reserve and
//! release do O(1) work here whatever the number of runs; no tree, no scan
//! of every run, no shifting of a sorted vector.
//!
//! The fit is good, not best: a run of the first non-empty class that
//! holds a fit — of the first fit found there and the next [`PICK`] of its
//! class, the shortest, then the lowest address. Below 32 pages classes are
//! exact, so the fit is the shortest run; above, it is within a sixteenth
//! of the shortest (docs/DESIGN.md §10, entry 15, for what that costs in
//! memory: within the noise of exact best fit on the churn trace).
//!
//! Tags are hints: a page's tag may be stale (the run it named shrank,
//! moved or went), so every lookup checks the node it finds. Only the
//! pages at a live run's ends are guaranteed to name it.
//!
//! The pool never allocates: its capacity comes from [`Storage`] (a region
//! of linear memory grown outside the lock) and freed nodes are kept on a
//! free list. Page indices and lengths are stored as `u32` (the table
//! refuses memories of 2^32 pages or more, 64 TiB).
//!
//! [`Storage`]: super::Storage

use super::fixed_vec::FixedVec;
use super::plan::Run;
use crate::units::align_up;

/// No node.
const NIL: u32 = u32::MAX;

/// Runs that are too short or misaligned are skipped at most this many
/// times, in class order, before the search jumps to the first class whose
/// every run fits at any alignment (if there is one): a search stays O(1)
/// unless there is no such class, when it goes on through every class that
/// may hold a fit, so that a fit that exists is always found.
const FIT_TRIES: usize = 16;

/// Runs of its class compared with the first fit found, for the shortest
/// and then the lowest address among them (docs/DESIGN.md §10, entry 15).
const PICK: usize = 8;

/// Second-level classes per first-level class.
const SL: usize = 16;
/// First-level classes: lengths below 16 pages in the first (exact), then
/// one per power of two up to 2^31 pages.
const FL: usize = 29;

const _: () = assert!(FL < 32, "the first level is one u32 bitmap");

/// Class lists: their heads live in the table's storage, next to the
/// nodes, so that a table (and an instance in a `static`) stays small.
pub(crate) const CLASSES: usize = FL * SL;

/// One free run, and its links in its class list. A slot on the free list
/// has `len == 0` and links through `next`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    start: u32,
    len: u32,
    prev: u32,
    next: u32,
}

impl Node {
    pub(crate) const EMPTY: Node = Node {
        start: 0,
        len: 0,
        prev: NIL,
        next: NIL,
    };

    fn run(&self) -> Run {
        Run {
            start: self.start as usize,
            len: self.len as usize,
        }
    }

    fn end(&self) -> usize {
        self.start as usize + self.len as usize
    }
}

/// The class a run of `len` pages (at least 1) is listed in.
fn class_of(len: u32) -> (usize, usize) {
    if len < SL as u32 {
        return (0, len as usize);
    }
    let top = 31 - len.leading_zeros(); // at least 4
    ((top - 3) as usize, ((len >> (top - 4)) as usize) & (SL - 1))
}

/// The shortest length listed in class `(f, s)`.
fn class_min(f: usize, s: usize) -> u64 {
    if f == 0 {
        s as u64
    } else {
        ((SL + s) as u64) << (f - 1)
    }
}

/// The class after `(f, s)`, if any.
fn next_class(f: usize, s: usize) -> Option<(usize, usize)> {
    match s + 1 {
        SL if f + 1 < FL => Some((f + 1, 0)),
        SL => None,
        s => Some((f, s)),
    }
}

/// The first class whose every run is at least `len` pages long, if any.
fn class_at_least(len: u64) -> Option<(usize, usize)> {
    let (f, s) = class_of(u32::try_from(len.max(1)).ok()?);
    if class_min(f, s) >= len {
        return Some((f, s));
    }
    next_class(f, s)
}

/// The free runs of a table: see the module docs.
#[derive(Debug)]
pub(crate) struct Runs {
    /// Node slots; `len()` of them have been used at some point.
    nodes: FixedVec<Node>,
    /// Per page the table describes: the node of the run that starts or
    /// ends there, when one does (else anything).
    tags: FixedVec<u32>,
    /// Head of the list of freed slots (linked through `next`), as its
    /// index plus one: 0 when there is none, so that a new table is all
    /// zero bytes (`FixedVec::ptr`).
    free_slot: u32,
    /// Bit `f`: some class `(f, _)` holds a run.
    first: u32,
    /// Bit `s` of `second[f]`: class `(f, s)` holds a run.
    second: [u16; FL],
    /// Head of each class list `(f, s)` at `f * SL + s`, plus one (0:
    /// empty, so that fresh storage reads as empty lists); no slots before
    /// the first storage, when there is no run either.
    heads: FixedVec<u32>,
    count: usize,
}

impl Runs {
    pub(crate) const fn new() -> Self {
        Self {
            nodes: FixedVec::new(),
            tags: FixedVec::new(),
            free_slot: 0,
            first: 0,
            second: [0; FL],
            heads: FixedVec::new(),
            count: 0,
        }
    }

    /// Number of runs.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Slots the pool holds without allocating.
    pub(crate) fn capacity(&self) -> usize {
        self.nodes.capacity()
    }

    /// Moves the runs into `nodes`, their tags into `tags` and the class
    /// lists' heads into `heads` (whose capacities are at least as large;
    /// `heads` holds [`CLASSES`]) and returns the old vectors: slot numbers
    /// stay valid.
    pub(crate) fn move_into(
        &mut self,
        mut nodes: FixedVec<Node>,
        mut tags: FixedVec<u32>,
        mut heads: FixedVec<u32>,
    ) -> (FixedVec<Node>, FixedVec<u32>, FixedVec<u32>) {
        nodes.clear();
        nodes.extend_from_slice(&self.nodes);
        // Not a copy of every page's tag: the live runs' ends, O(runs)
        // rather than O(pages) under the lock.
        tags.clear();
        assert!(self.tags.len() <= tags.capacity(), "tags over capacity");
        // SAFETY: within the capacity (checked); a fresh storage region,
        // written whole by its grower (`Storage::from_region`): zeros,
        // valid tags (hints, checked on use).
        unsafe { tags.extend_unwritten(self.tags.len()) };
        for (n, node) in nodes.iter().enumerate() {
            if node.len > 0 {
                tags[node.start as usize] = n as u32;
                tags[node.end() - 1] = n as u32;
            }
        }
        heads.clear();
        if self.heads.is_empty() {
            heads.resize(CLASSES, 0);
        } else {
            heads.extend_from_slice(&self.heads);
        }
        (
            core::mem::replace(&mut self.nodes, nodes),
            core::mem::replace(&mut self.tags, tags),
            core::mem::replace(&mut self.heads, heads),
        )
    }

    /// Makes the tags describe `pages` pages (the table's length; it never
    /// shrinks).
    ///
    /// # Panics
    ///
    /// If that exceeds the tags' capacity (carved with the page states',
    /// so the table's capacity check covers it).
    pub(crate) fn describe(&mut self, pages: usize) {
        assert!(pages <= self.tags.capacity(), "tags over capacity");
        // SAFETY: within the capacity (checked); the tags' slots are a
        // storage region its grower wrote whole (`Storage::from_region`),
        // and only slots below the length are ever written, so the new
        // ones still hold zeros — valid tags: hints, checked on use. Not
        // writing them keeps a growth after a large foreign gap from
        // writing four bytes per page of the gap under the lock.
        unsafe { self.tags.extend_unwritten(pages) };
    }

    /// Slots used at some point (the pool's high-water mark).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn slots_used(&self) -> usize {
        self.nodes.len()
    }

    fn head(&self, f: usize, s: usize) -> u32 {
        self.heads[f * SL + s].wrapping_sub(1)
    }

    fn set_head(&mut self, f: usize, s: usize, n: u32) {
        self.heads[f * SL + s] = n.wrapping_add(1);
    }

    /// Puts node `n` at the head of its class list and tags its ends.
    fn link(&mut self, n: u32) {
        let node = self.nodes[n as usize];
        let (f, s) = class_of(node.len);
        let old = self.head(f, s);
        self.nodes[n as usize].prev = NIL;
        self.nodes[n as usize].next = old;
        if old != NIL {
            self.nodes[old as usize].prev = n;
        }
        self.set_head(f, s, n);
        self.first |= 1 << f;
        self.second[f] |= 1 << s;
        self.tags[node.start as usize] = n;
        self.tags[node.end() - 1] = n;
    }

    /// Takes node `n` out of its class list (its tags go stale).
    fn unlink(&mut self, n: u32) {
        let Node {
            len, prev, next, ..
        } = self.nodes[n as usize];
        let (f, s) = class_of(len);
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            debug_assert_eq!(self.head(f, s), n, "the node heads its list");
            self.set_head(f, s, next);
            if next == NIL {
                self.second[f] &= !(1 << s);
                if self.second[f] == 0 {
                    self.first &= !(1 << f);
                }
            }
        }
    }

    /// Adds `run`, which overlaps and touches no other run (the caller
    /// coalesces). Returns `false`, changing nothing, when the pool is full.
    #[must_use]
    pub(crate) fn insert(&mut self, run: Run) -> bool {
        debug_assert!(run.len > 0 && run.end() <= self.tags.len());
        let n = if self.free_slot != 0 {
            let n = self.free_slot - 1;
            self.free_slot = self.nodes[n as usize].next;
            n
        } else if self.nodes.push(Node::EMPTY).is_ok() {
            (self.nodes.len() - 1) as u32
        } else {
            return false;
        };
        self.nodes[n as usize] = Node {
            start: run.start as u32,
            len: run.len as u32,
            prev: NIL,
            next: NIL,
        };
        self.link(n);
        self.count += 1;
        true
    }

    /// Removes the run that starts at `start`, which must exist.
    pub(crate) fn remove(&mut self, start: usize) {
        let n = self.node_at(start);
        debug_assert!(n != NIL, "a run starts at {start}");
        self.unlink(n);
        self.nodes[n as usize] = Node {
            next: self.free_slot,
            ..Node::EMPTY
        };
        self.free_slot = n + 1;
        self.count -= 1;
    }

    /// Changes the run starting at `start` to `to` (coalescing or
    /// splitting), keeping its slot. `to` must not overlap or touch any
    /// other run — as when a run shrinks, or grows into the free pages
    /// beside it that were no run.
    pub(crate) fn replace(&mut self, start: usize, to: Run) {
        let n = self.node_at(start);
        debug_assert!(n != NIL, "a run starts at {start}");
        debug_assert!(
            to.len > 0
                && self.ending_at(to.start).is_none_or(|r| r.start == start)
                && self.at(to.end()).is_none(),
            "the runs stay apart"
        );
        self.unlink(n);
        let node = &mut self.nodes[n as usize];
        node.start = to.start as u32;
        node.len = to.len as u32;
        self.link(n);
    }

    /// The node of the run starting at `page`, or `NIL`.
    fn node_at(&self, page: usize) -> u32 {
        let Some(&n) = self.tags.get(page) else {
            return NIL;
        };
        match self.nodes.get(n as usize) {
            Some(node) if node.len > 0 && node.start as usize == page => n,
            _ => NIL,
        }
    }

    /// The run starting at `page`, if any.
    pub(crate) fn at(&self, page: usize) -> Option<Run> {
        let n = self.node_at(page);
        (n != NIL).then(|| self.nodes[n as usize].run())
    }

    /// The run ending at `end` (its last page `end - 1`), if any.
    pub(crate) fn ending_at(&self, end: usize) -> Option<Run> {
        self.node_ending_at(end)
            .map(|n| self.nodes[n as usize].run())
    }

    /// The node of the run ending at `end`, if any.
    fn node_ending_at(&self, end: usize) -> Option<u32> {
        let n = *self.tags.get(end.checked_sub(1)?)?;
        let node = self.nodes.get(n as usize)?;
        (node.len > 0 && node.end() == end).then_some(n)
    }

    /// An upper bound of the longest run's length (0 if there is none):
    /// the longest its class may hold, exact below 32 pages. O(1).
    pub(crate) fn longest(&self) -> usize {
        if self.first == 0 {
            return 0;
        }
        let f = 31 - self.first.leading_zeros() as usize;
        let s = 15 - self.second[f].leading_zeros() as usize;
        let next = if s + 1 < SL {
            class_min(f, s + 1)
        } else {
            class_min(f + 1, 0)
        };
        usize::try_from(next - 1).unwrap_or(usize::MAX)
    }

    /// The first non-empty class at or after `(f, s)`.
    fn class_from(&self, f: usize, s: usize) -> Option<(usize, usize)> {
        let here = u32::from(self.second[f]) & (u32::MAX << s);
        if here != 0 {
            return Some((f, here.trailing_zeros() as usize));
        }
        // `f + 1 <= FL < 32`: the shift stays inside the word.
        let later = self.first & (u32::MAX << (f + 1));
        if later == 0 {
            return None;
        }
        let f = later.trailing_zeros() as usize;
        Some((f, self.second[f].trailing_zeros() as usize))
    }

    /// The first non-empty class after `(f, s)`.
    fn class_after(&self, f: usize, s: usize) -> Option<(usize, usize)> {
        next_class(f, s).and_then(|(f, s)| self.class_from(f, s))
    }

    /// The nodes of class `from` and every later class: class by class,
    /// each in list order.
    fn in_class_order(&self, from: (usize, usize)) -> impl Iterator<Item = u32> + '_ {
        let mut class = self.class_from(from.0, from.1);
        let mut n = class.map_or(NIL, |(f, s)| self.head(f, s));
        core::iter::from_fn(move || {
            while n == NIL {
                let (f, s) = class?;
                class = self.class_after(f, s);
                n = class.map_or(NIL, |(f, s)| self.head(f, s));
            }
            let here = n;
            n = self.nodes[here as usize].next;
            Some(here)
        })
    }

    /// A fit for `len` pages at a multiple of `align` pages (`base` being
    /// the page number of offset 0): the first run, in class order, that
    /// holds them, or a shorter or lower one of its class ([`PICK`]); see
    /// [`FIT_TRIES`]. The run ending at page `top` (the end of the pages
    /// the table describes: the memory's end, if it grew last) is taken
    /// last, only when no other run holds a fit, as dlmalloc takes
    /// its top chunk last: what stays free at the end is stitched to the
    /// next growth, where a hole lower down is not. Returns the first page
    /// of the fit and the start of the run that holds it.
    pub(crate) fn find(
        &self,
        len: usize,
        align: usize,
        base: usize,
        top: usize,
    ) -> Option<(usize, usize)> {
        let fit_in = |n: u32| {
            let node = &self.nodes[n as usize];
            let start = align_up(base + node.start as usize, align) - base;
            (start + len <= node.end()).then_some((start, node.start as usize))
        };
        let below_top = |n: u32| {
            if self.nodes[n as usize].end() == top {
                None
            } else {
                fit_in(n)
            }
        };
        self.find_by(len, align, below_top)
            .or_else(|| self.node_ending_at(top).and_then(fit_in))
    }

    /// [`find`](Self::find) over the runs that `fits` accepts: it refuses
    /// the top whatever its length, and any other run only if the fit
    /// does not lie in it.
    fn find_by(
        &self,
        len: usize,
        align: usize,
        fits: impl Fn(u32) -> Option<(usize, usize)>,
    ) -> Option<(usize, usize)> {
        let len32 = u32::try_from(len.max(1)).ok()?;
        let from = class_of(len32);
        for (tried, n) in self.in_class_order(from).enumerate() {
            if let Some(fit) = fits(n) {
                return Some(self.pick(n, fit, fits));
            }
            if tried + 1 == FIT_TRIES {
                // A run of `len + align - 1` pages fits at any alignment:
                // the first of the classes of such runs that `fits` takes
                // (every one but the top).
                let sure = class_at_least(len as u64 + align as u64 - 1)
                    .and_then(|(f, s)| self.class_from(f, s));
                if let Some(sure) = sure {
                    return self.in_class_order(sure).find_map(&fits);
                }
                // None: every run that may fit is tried (the slow path),
                // so that a fit that exists is always found.
                return self.in_class_order(from).find_map(fits);
            }
        }
        None
    }

    /// The best of the first fit `fit` (node `n`) and the next [`PICK`]
    /// runs of its class that fit: the shortest, then the lowest address.
    fn pick(
        &self,
        n: u32,
        fit: (usize, usize),
        fits: impl Fn(u32) -> Option<(usize, usize)>,
    ) -> (usize, usize) {
        let key = |n: u32| (self.nodes[n as usize].len, self.nodes[n as usize].start);
        let (mut best, mut best_fit) = (n, fit);
        let mut m = self.nodes[n as usize].next;
        for _ in 0..PICK {
            if m == NIL {
                break;
            }
            if let Some(f) = fits(m) {
                if key(m) < key(best) {
                    (best, best_fit) = (m, f);
                }
            }
            m = self.nodes[m as usize].next;
        }
        best_fit
    }

    /// Calls `f` on every run in address order (checks and tests): O(pages).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn for_each(&self, mut f: impl FnMut(Run)) {
        let mut page = 0;
        while page < self.tags.len() {
            match self.at(page) {
                Some(run) => {
                    f(run);
                    page = run.end();
                }
                None => page += 1,
            }
        }
    }

    /// Checks that every run is listed once, in its class, with bitmaps
    /// that say which lists hold runs, and tagged at both ends (tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn check(&self) {
        let mut seen = 0;
        if self.heads.is_empty() {
            assert_eq!((self.count, self.first), (0, 0), "no storage, no runs");
            return;
        }
        for f in 0..FL {
            for s in 0..SL {
                let mut n = self.head(f, s);
                let mut prev = NIL;
                assert_eq!(
                    n != NIL,
                    self.second[f] & (1 << s) != 0,
                    "bitmap of class ({f}, {s})"
                );
                while n != NIL {
                    let node = self.nodes[n as usize];
                    assert!(node.len > 0, "a live node");
                    assert_eq!(class_of(node.len), (f, s), "its class");
                    assert_eq!(node.prev, prev, "linked both ways");
                    assert_eq!(self.tags[node.start as usize], n, "tagged at its start");
                    assert_eq!(self.tags[node.end() - 1], n, "tagged at its end");
                    seen += 1;
                    prev = n;
                    n = node.next;
                }
            }
            assert_eq!(
                self.first & (1 << f) != 0,
                self.second[f] != 0,
                "first level"
            );
        }
        assert_eq!(seen, self.count, "every run listed once");
        let mut in_order = 0;
        let mut last_end = None;
        self.for_each(|run| {
            assert!(last_end.is_none_or(|e| e < run.start), "runs apart");
            last_end = Some(run.end());
            in_order += 1;
        });
        assert_eq!(in_order, self.count, "every run found by address");
    }
}

#[cfg(test)]
mod tests;
