//! The free runs, indexed twice over one pool of nodes: by address (to
//! coalesce a released run with its neighbours and to find the run holding
//! a page) and by length, then address (best fit). Both indexes are treaps
//! whose priorities come from a hash of the node's slot, so every operation
//! under the lock is O(log runs) expected, whatever the number of runs —
//! no shifting of a sorted vector, no scan of every run.
//!
//! The pool never allocates: its capacity comes from [`Storage`] (a region
//! of linear memory grown outside the lock) and freed nodes are kept on a
//! free list. Page indices
//! and lengths are stored as `u32` (the table refuses memories of 2^32
//! pages or more, 64 TiB).
//!
//! [`Storage`]: super::Storage

use super::storage::FixedVec;
use super::Run;

/// No node.
const NIL: u32 = u32::MAX;

/// Runs of a length in `len .. len + align - 1` that do not fit aligned are
/// skipped at most this many times before the search jumps to the shortest
/// run long enough to fit at any alignment (if there is one): best fit
/// stays exact unless more than this many near-fits are misaligned, and a
/// search stays O(log runs) unless there is no such long run, when it goes
/// on through the near fits so that an existing fit is always found.
const FIT_TRIES: usize = 16;

/// The two orders.
#[derive(Clone, Copy)]
enum Order {
    /// By first page.
    Addr = 0,
    /// By length, then first page.
    Size = 1,
}

/// One free run in both trees. Children are `[left, right]` per order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    start: u32,
    len: u32,
    child: [[u32; 2]; 2],
}

impl Node {
    pub(crate) const EMPTY: Node = Node {
        start: 0,
        len: 0,
        child: [[NIL; 2]; 2],
    };

    fn run(&self) -> Run {
        Run {
            start: self.start as usize,
            len: self.len as usize,
        }
    }
}

/// The free runs of a table: see the module docs.
#[derive(Debug)]
pub(crate) struct Runs {
    /// Node slots; `len()` of them have been used at some point.
    nodes: FixedVec<Node>,
    /// Head of the list of freed slots (linked through `child[0][0]`).
    free_slot: u32,
    root: [u32; 2],
    count: usize,
}

/// The key of a node in an order.
type Key = (u32, u32);

impl Runs {
    pub(crate) const fn new() -> Self {
        Self {
            nodes: FixedVec::new(),
            free_slot: NIL,
            root: [NIL; 2],
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

    /// Moves the runs into `spare` (whose capacity is at least as large)
    /// and returns the old pool: slot numbers stay valid.
    pub(crate) fn move_into(&mut self, mut spare: FixedVec<Node>) -> FixedVec<Node> {
        spare.clear();
        spare.extend_from_slice(&self.nodes);
        core::mem::replace(&mut self.nodes, spare)
    }

    /// Slots used at some point (the pool's high-water mark).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn slots_used(&self) -> usize {
        self.nodes.len()
    }

    fn key(&self, n: u32, order: Order) -> Key {
        let node = &self.nodes[n as usize];
        match order {
            Order::Addr => (node.start, 0),
            Order::Size => (node.len, node.start),
        }
    }

    fn child(&self, n: u32, order: Order, side: usize) -> u32 {
        self.nodes[n as usize].child[order as usize][side]
    }

    fn set_child(&mut self, n: u32, order: Order, side: usize, to: u32) {
        self.nodes[n as usize].child[order as usize][side] = to;
    }

    /// The treap priority of slot `n`: a fixed mix of its number.
    fn priority(n: u32) -> u32 {
        n.wrapping_add(1).wrapping_mul(0x9E37_79B9).rotate_left(13) ^ 0x5bd1_e995
    }

    /// Splits tree `t` into keys `< k` and keys `>= k`.
    fn split(&mut self, t: u32, k: Key, o: Order) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.key(t, o) < k {
            let (l, r) = self.split(self.child(t, o, 1), k, o);
            self.set_child(t, o, 1, l);
            (t, r)
        } else {
            let (l, r) = self.split(self.child(t, o, 0), k, o);
            self.set_child(t, o, 0, r);
            (l, t)
        }
    }

    /// Joins trees `a` and `b`, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32, o: Order) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if Self::priority(a) > Self::priority(b) {
            let r = self.merge(self.child(a, o, 1), b, o);
            self.set_child(a, o, 1, r);
            a
        } else {
            let l = self.merge(a, self.child(b, o, 0), o);
            self.set_child(b, o, 0, l);
            b
        }
    }

    fn link(&mut self, n: u32, o: Order) {
        let k = self.key(n, o);
        let (l, r) = self.split(self.root[o as usize], k, o);
        let l = self.merge(l, n, o);
        self.root[o as usize] = self.merge(l, r, o);
    }

    fn unlink(&mut self, n: u32, o: Order) {
        let (a, b) = self.key(n, o);
        let (l, rest) = self.split(self.root[o as usize], (a, b), o);
        let (mid, r) = self.split(rest, (a, b + 1), o);
        debug_assert_eq!(mid, n, "the node is in its tree");
        self.root[o as usize] = self.merge(l, r, o);
    }

    /// Adds `run`, which overlaps and touches no other run (the caller
    /// coalesces). Returns `false`, changing nothing, when the pool is full.
    #[must_use]
    pub(crate) fn insert(&mut self, run: Run) -> bool {
        let n = if self.free_slot != NIL {
            let n = self.free_slot;
            self.free_slot = self.nodes[n as usize].child[0][0];
            n
        } else if self.nodes.push(Node::EMPTY).is_ok() {
            (self.nodes.len() - 1) as u32
        } else {
            return false;
        };
        self.nodes[n as usize] = Node {
            start: run.start as u32,
            len: run.len as u32,
            child: [[NIL; 2]; 2],
        };
        self.link(n, Order::Addr);
        self.link(n, Order::Size);
        self.count += 1;
        true
    }

    /// Removes the run that starts at `start`, which must exist.
    pub(crate) fn remove(&mut self, start: usize) {
        let n = self.at_or_before(start);
        debug_assert!(n != NIL && self.nodes[n as usize].start as usize == start);
        self.unlink(n, Order::Addr);
        self.unlink(n, Order::Size);
        self.nodes[n as usize].child[0][0] = self.free_slot;
        self.free_slot = n;
        self.count -= 1;
    }

    /// Changes the run starting at `start` to `to` (coalescing or
    /// splitting), keeping its slot. `to` must lie between the run's
    /// neighbours without touching them — as it does when a run shrinks, or
    /// grows into the free pages beside it that were no run — so the
    /// address order holds as it is and only the length order is relinked.
    pub(crate) fn replace(&mut self, start: usize, to: Run) {
        let n = self.at_or_before(start);
        debug_assert!(n != NIL && self.nodes[n as usize].start as usize == start);
        debug_assert!(
            start
                .checked_sub(1)
                .and_then(|p| self.before(p))
                .is_none_or(|prev| prev.end() < to.start)
                && self
                    .after(start + 1)
                    .is_none_or(|next| to.end() < next.start),
            "the address order holds"
        );
        self.unlink(n, Order::Size);
        let node = &mut self.nodes[n as usize];
        node.start = to.start as u32;
        node.len = to.len as u32;
        node.child[Order::Size as usize] = [NIL; 2];
        self.link(n, Order::Size);
    }

    /// The node of the last run starting at or before `page`.
    fn at_or_before(&self, page: usize) -> u32 {
        let mut t = self.root[Order::Addr as usize];
        let mut best = NIL;
        while t != NIL {
            if self.nodes[t as usize].start as usize <= page {
                best = t;
                t = self.child(t, Order::Addr, 1);
            } else {
                t = self.child(t, Order::Addr, 0);
            }
        }
        best
    }

    /// The last run starting at or before `page` (it holds `page` if it
    /// ends after it).
    pub(crate) fn before(&self, page: usize) -> Option<Run> {
        self.run_of(self.at_or_before(page))
    }

    /// The first run starting at or after `page`.
    pub(crate) fn after(&self, page: usize) -> Option<Run> {
        let mut t = self.root[Order::Addr as usize];
        let mut best = NIL;
        while t != NIL {
            if self.nodes[t as usize].start as usize >= page {
                best = t;
                t = self.child(t, Order::Addr, 0);
            } else {
                t = self.child(t, Order::Addr, 1);
            }
        }
        self.run_of(best)
    }

    /// The run with the highest address.
    pub(crate) fn last(&self) -> Option<Run> {
        self.before(usize::MAX)
    }

    /// The length of the longest run, 0 if there is none: O(log runs).
    pub(crate) fn longest(&self) -> usize {
        let mut t = self.root[Order::Size as usize];
        let mut len = 0;
        while t != NIL {
            len = self.nodes[t as usize].len as usize;
            t = self.child(t, Order::Size, 1);
        }
        len
    }

    /// The first run, in (length, address) order, whose key is at least
    /// `k`.
    fn size_at_least(&self, k: Key) -> u32 {
        let mut t = self.root[Order::Size as usize];
        let mut best = NIL;
        while t != NIL {
            if self.key(t, Order::Size) >= k {
                best = t;
                t = self.child(t, Order::Size, 0);
            } else {
                t = self.child(t, Order::Size, 1);
            }
        }
        best
    }

    /// Best fit for `len` pages at a multiple of `align` pages (`base` being
    /// the page number of offset 0): the shortest run that fits, the lowest
    /// address among equals; see [`FIT_TRIES`]. Returns the first page of
    /// the fit.
    pub(crate) fn find(&self, len: usize, align: usize, base: usize) -> Option<usize> {
        let Ok(len32) = u32::try_from(len) else {
            return None;
        };
        let mut n = self.size_at_least((len32, 0));
        let mut tries = 0;
        while n != NIL {
            let run = self.nodes[n as usize].run();
            let start = super::align_up(base + run.start, align) - base;
            if start + len <= run.end() {
                return Some(start);
            }
            tries += 1;
            if tries == FIT_TRIES {
                // A run of `len + align - 1` pages fits at any alignment;
                // if there is none, go on with the near fits: a fit that
                // exists is always found.
                let sure = u32::try_from(len + align - 1).unwrap_or(u32::MAX);
                let sure = self.size_at_least((sure, 0));
                if sure != NIL {
                    n = sure;
                    continue;
                }
            }
            let (l, s) = self.key(n, Order::Size);
            n = self.size_at_least((l, s + 1));
        }
        None
    }

    fn run_of(&self, n: u32) -> Option<Run> {
        (n != NIL).then(|| self.nodes[n as usize].run())
    }

    /// Calls `f` on every run in address order (checks and tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn for_each(&self, mut f: impl FnMut(Run)) {
        let mut page = 0;
        while let Some(run) = self.after(page) {
            f(run);
            page = run.start + 1;
        }
    }

    /// Checks that both trees hold the same `count` runs in order and obey
    /// the heap order of priorities (tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn check(&self) {
        for o in [Order::Addr, Order::Size] {
            let mut seen = 0;
            let mut last: Option<Key> = None;
            self.walk(self.root[o as usize], o, &mut |runs, n| {
                let k = runs.key(n, o);
                assert!(last.is_none_or(|l| l < k), "tree in order");
                last = Some(k);
                for side in 0..2 {
                    let c = runs.child(n, o, side);
                    assert!(c == NIL || Self::priority(c) <= Self::priority(n), "heap");
                }
                seen += 1;
            });
            assert_eq!(seen, self.count, "every run in both trees");
        }
    }

    #[cfg(any(test, feature = "testing"))]
    fn walk(&self, t: u32, o: Order, f: &mut impl FnMut(&Self, u32)) {
        if t != NIL {
            self.walk(self.child(t, o, 0), o, f);
            f(self, t);
            self.walk(self.child(t, o, 1), o, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of `capacity` nodes over `buf`, which must outlive it.
    fn runs(buf: &mut std::vec::Vec<Node>, capacity: usize) -> Runs {
        buf.resize(capacity, Node::EMPTY);
        let mut r = Runs::new();
        // SAFETY: `buf` is aligned, valid for `capacity` nodes and only
        // reached through the pool until the test ends (it is declared
        // before the pool and dropped after its last use).
        let spare = unsafe {
            FixedVec::from_raw_parts(core::ptr::NonNull::new(buf.as_mut_ptr()).unwrap(), capacity)
        };
        let _ = r.move_into(spare);
        r
    }

    fn run(start: usize, len: usize) -> Run {
        Run { start, len }
    }

    #[test]
    fn best_fit_in_length_then_address_order() {
        let mut buf = std::vec::Vec::new();
        let mut r = runs(&mut buf, 16);
        for (s, l) in [(0, 8), (10, 3), (20, 3), (30, 5), (40, 12)] {
            assert!(r.insert(run(s, l)));
        }
        r.check();
        assert_eq!(r.find(3, 1, 0), Some(10), "shortest, lowest address");
        assert_eq!(r.find(4, 1, 0), Some(30));
        assert_eq!(
            r.find(4, 4, 0),
            Some(0),
            "5 pages at 30 cannot hold 4 at a multiple of 4"
        );
        assert_eq!(r.find(12, 1, 0), Some(40));
        assert_eq!(r.find(13, 1, 0), None);
        assert_eq!(r.before(12), Some(run(10, 3)));
        assert_eq!(r.after(11), Some(run(20, 3)));
        assert_eq!(r.last(), Some(run(40, 12)));
        r.remove(10);
        r.replace(20, run(19, 4));
        r.check();
        assert_eq!(r.find(3, 1, 0), Some(19));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn slots_are_reused_and_capacity_is_respected() {
        let mut buf = std::vec::Vec::new();
        let mut r = runs(&mut buf, 2);
        assert!(r.insert(run(0, 1)));
        assert!(r.insert(run(2, 1)));
        assert!(!r.insert(run(4, 1)), "full: nothing changes");
        assert_eq!(r.len(), 2);
        r.remove(0);
        assert!(r.insert(run(4, 1)), "the freed slot");
        r.check();
        let mut all = std::vec::Vec::new();
        r.for_each(|run| all.push(run));
        assert_eq!(all, [run(2, 1), run(4, 1)]);
    }

    #[test]
    fn many_misaligned_near_fits_still_find_a_sure_fit() {
        let mut buf = std::vec::Vec::new();
        let mut r = runs(&mut buf, 64);
        // 40 runs of 5 pages at odd addresses: none holds 4 pages aligned to
        // 4; a 12-page run at the end does.
        for i in 0..40 {
            assert!(r.insert(run(8 * i + 1, 5)));
        }
        assert!(r.insert(run(1000, 12)));
        assert_eq!(r.find(4, 4, 0), Some(1000));
        r.check();
    }

    #[test]
    fn a_fit_beyond_many_misaligned_near_fits_is_found_without_a_long_run() {
        // Found by the seeded fuzz replay: 20 runs of 5 pages at odd
        // addresses (none holds 4 pages at a multiple of 4), then one of 6
        // pages that does, and no run of 7 pages or more.
        let mut buf = std::vec::Vec::new();
        let mut r = runs(&mut buf, 64);
        for i in 0..20 {
            assert!(r.insert(run(8 * i + 1, 5)));
        }
        assert!(r.insert(run(1002, 6)));
        assert_eq!(r.find(4, 4, 0), Some(1004));
    }

    #[test]
    fn agrees_with_a_sorted_vector_on_random_operations() {
        let mut buf = std::vec::Vec::new();
        let mut r = runs(&mut buf, 512);
        let mut model: std::vec::Vec<Run> = std::vec::Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        // Fewer under Miri, which runs this about a thousand times slower.
        for _ in 0..if cfg!(miri) { 300 } else { 4000 } {
            let start = next(400) * 4;
            let len = 1 + next(3);
            let clear = |model: &[Run], s: usize, l: usize| {
                model.iter().all(|m| m.end() < s || s + l < m.start)
            };
            if next(2) == 0 && clear(&model, start, len) {
                assert!(r.insert(run(start, len)));
                let i = model.partition_point(|m| m.start < start);
                model.insert(i, run(start, len));
            } else if !model.is_empty() && next(3) == 0 {
                // A run shrinks (a claim at either end) or grows by a page
                // into a gap that stays open: `replace`.
                let i = next(model.len());
                let m = model[i];
                let to = match next(3) {
                    0 if m.len > 1 => run(m.start + 1, m.len - 1),
                    1 if m.len > 1 => run(m.start, m.len - 1),
                    _ if clear(&model[i + 1..], m.end(), 1) => run(m.start, m.len + 1),
                    _ => m,
                };
                r.replace(m.start, to);
                model[i] = to;
            } else if !model.is_empty() {
                let m = model.remove(next(model.len()));
                r.remove(m.start);
            }
            let longest = model.iter().map(|m| m.len).max().unwrap_or(0);
            assert_eq!(r.longest(), longest, "the longest run");
            let (want, align) = (1 + next(3), 1 << next(3));
            let expect = model
                .iter()
                .filter(|m| super::super::align_up(m.start, align) + want <= m.end())
                .min_by_key(|m| (m.len, m.start))
                .map(|m| super::super::align_up(m.start, align));
            let got = r.find(want, align, 0);
            let near = model
                .iter()
                .filter(|m| m.len >= want && m.len < want + align - 1)
                .count();
            if got != expect {
                // Only past FIT_TRIES misaligned near fits may the search
                // take a run long enough to fit at any alignment instead.
                assert!(near >= FIT_TRIES, "{got:?} {expect:?}");
                let g = got.unwrap();
                assert!(model.iter().any(|m| m.start <= g && g + want <= m.end()));
            }
            assert_eq!(r.len(), model.len());
        }
        r.check();
    }
}
