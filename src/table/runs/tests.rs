//! Unit tests of the free runs.

use super::*;

/// A pool of `capacity` nodes, tags for `pages` pages and the class
/// heads, over vectors the test keeps.
struct Bufs {
    nodes: std::vec::Vec<Node>,
    tags: std::vec::Vec<u32>,
    heads: std::vec::Vec<u32>,
}

fn bufs() -> Bufs {
    Bufs {
        nodes: std::vec::Vec::new(),
        tags: std::vec::Vec::new(),
        heads: std::vec![0; CLASSES],
    }
}

/// A pool over `b`, which must outlive it.
fn runs(b: &mut Bufs, capacity: usize, pages: usize) -> Runs {
    b.nodes.resize(capacity, Node::EMPTY);
    b.tags.resize(pages, 0);
    let mut r = Runs::new();
    fn over<T>(v: &mut std::vec::Vec<T>) -> FixedVec<T>
    where
        T: Copy,
    {
        // SAFETY: the vector is aligned, valid for its length and only
        // reached through the pool until the test ends (the buffers
        // are declared before the pool and dropped after its last use).
        unsafe {
            FixedVec::from_raw_parts(core::ptr::NonNull::new(v.as_mut_ptr()).unwrap(), v.len())
        }
    }
    let _ = r.move_into(over(&mut b.nodes), over(&mut b.tags), over(&mut b.heads));
    r.describe(pages);
    r
}

fn run(start: usize, len: usize) -> Run {
    Run { start, len }
}

fn starts(r: &Runs, len: usize, align: usize) -> Option<usize> {
    r.find(len, align, 0, usize::MAX).map(|(start, _)| start)
}

#[test]
fn classes_cover_every_length_in_order() {
    let mut last = (0, 0);
    for len in 1..100_000u32 {
        let c = class_of(len);
        assert!(c >= last, "{len}");
        assert!(class_min(c.0, c.1) <= len as u64, "{len}");
        last = c;
    }
    assert_eq!(class_of(u32::MAX).0, FL - 1);
    for len in [1u64, 15, 16, 17, 31, 32, 33, 100, 1 << 20, (1 << 20) + 1] {
        let (f, s) = class_at_least(len).unwrap();
        assert!(class_min(f, s) >= len, "{len}");
        let below = class_of(len as u32);
        assert!(class_min(below.0, below.1) <= len);
    }
}

#[test]
fn the_run_at_the_top_is_taken_last() {
    let mut b = bufs();
    let mut r = runs(&mut b, 16, 4096);
    // The shortest fit for 3 pages is the top run (3000 .. 3004), the end
    // of the memory: any other fit comes first, however long.
    for (s, l) in [(0, 100), (200, 40), (3000, 4)] {
        assert!(r.insert(run(s, l)));
    }
    r.check();
    let top = 3004;
    assert_eq!(r.find(3, 1, 0, usize::MAX), Some((3000, 3000)), "no top");
    assert_eq!(r.find(3, 1, 0, top), Some((200, 200)));
    assert_eq!(r.find(41, 1, 0, top), Some((0, 0)));
    assert_eq!(r.find(101, 1, 0, top), None, "no run holds it");
    r.remove(0);
    r.remove(200);
    assert_eq!(r.find(3, 1, 0, top), Some((3000, 3000)), "only the top");
    // Past the tries of the first classes, the classes that fit at any
    // alignment: the top is still passed over while another run fits.
    let mut b = bufs();
    let mut r = runs(&mut b, 64, 1 << 16);
    for i in 0..40 {
        // Runs of 9 pages at odd pages: none holds 8 at a multiple of 8.
        assert!(r.insert(run(17 + 20 * i, 9)));
    }
    assert!(r.insert(run(2000, 64)));
    assert!(r.insert(run(4000, 64)));
    r.check();
    assert_eq!(r.find(8, 8, 0, 4064), Some((2000, 2000)));
    assert_eq!(r.find(8, 8, 0, 2064), Some((4000, 4000)));
    r.remove(2000);
    assert_eq!(r.find(8, 8, 0, 4064), Some((4000, 4000)), "only the top");
}

#[test]
fn shortest_fit_below_32_pages_lowest_address_among_equals() {
    let mut b = bufs();
    let mut r = runs(&mut b, 16, 64);
    for (s, l) in [(0, 8), (10, 3), (20, 3), (30, 5), (40, 12)] {
        assert!(r.insert(run(s, l)));
    }
    r.check();
    assert_eq!(starts(&r, 3, 1), Some(10), "shortest, lowest address");
    assert_eq!(starts(&r, 4, 1), Some(30));
    assert_eq!(
        starts(&r, 4, 4),
        Some(0),
        "5 pages at 30 cannot hold 4 at a multiple of 4"
    );
    assert_eq!(r.find(4, 4, 0, usize::MAX), Some((0, 0)));
    assert_eq!(
        r.find(4, 4, 2, usize::MAX),
        Some((30, 30)),
        "alignment counts from the base"
    );
    assert_eq!(starts(&r, 12, 1), Some(40));
    assert_eq!(starts(&r, 13, 1), None);
    assert_eq!(r.at(10), Some(run(10, 3)));
    assert_eq!(r.at(11), None);
    assert_eq!(r.ending_at(13), Some(run(10, 3)));
    assert_eq!(r.ending_at(12), None);
    assert_eq!(r.longest(), 12);
    r.remove(10);
    r.replace(20, run(19, 4));
    r.check();
    assert_eq!(starts(&r, 3, 1), Some(19));
    assert_eq!(r.at(20), None, "a stale tag names no run");
    assert_eq!(r.len(), 4);
}

#[test]
fn longest_is_an_upper_bound_within_its_class() {
    let mut b = bufs();
    let mut r = runs(&mut b, 4, 300);
    assert_eq!(r.longest(), 0);
    assert!(r.insert(run(0, 100)));
    // Class of 100: 96..104 (4 pages apart from 64 on).
    assert!((100..104).contains(&r.longest()), "{}", r.longest());
    assert!(r.insert(run(200, 31)));
    assert!((100..104).contains(&r.longest()));
    r.remove(0);
    assert_eq!(r.longest(), 31, "exact below 32 pages");
}

#[test]
fn slots_are_reused_and_capacity_is_respected() {
    let mut b = bufs();
    let mut r = runs(&mut b, 2, 8);
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
    let mut b = bufs();
    let mut r = runs(&mut b, 64, 2048);
    // 40 runs of 5 pages at odd addresses: none holds 4 pages aligned to
    // 4; a 12-page run at the end does.
    for i in 0..40 {
        assert!(r.insert(run(8 * i + 1, 5)));
    }
    assert!(r.insert(run(1000, 12)));
    assert_eq!(starts(&r, 4, 4), Some(1000));
    r.check();
}

#[test]
fn a_fit_beyond_many_misaligned_near_fits_is_found_without_a_long_run() {
    // Found by the seeded fuzz replay: 20 runs of 5 pages at odd
    // addresses (none holds 4 pages at a multiple of 4), then one of 6
    // pages that does, and no run of 7 pages or more.
    let mut b = bufs();
    let mut r = runs(&mut b, 64, 2048);
    for i in 0..20 {
        assert!(r.insert(run(8 * i + 1, 5)));
    }
    assert!(r.insert(run(1002, 6)));
    assert_eq!(r.find(4, 4, 0, usize::MAX), Some((1004, 1002)));
}

#[test]
fn agrees_with_a_sorted_vector_on_random_operations() {
    let mut b = bufs();
    let mut r = runs(&mut b, 512, 1700);
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
        let len = 1 + next(40);
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
        assert!(r.longest() >= longest, "the longest run bounded");
        let (want, align) = (1 + next(40), 1 << next(3));
        let fits = |m: &Run| align_up(m.start, align) + want <= m.end();
        let best = model
            .iter()
            .filter(|m| fits(m))
            .min_by_key(|m| (m.len, m.start));
        match (r.find(want, align, 0, usize::MAX), best) {
            (None, None) => {}
            (Some((start, holder)), Some(best)) => {
                let m = model.iter().find(|m| m.start == holder).expect("a run");
                assert!(fits(m) && start == align_up(m.start, align));
                // Good fit: the shortest run's class, unless misaligned
                // near fits sent the search to a sure fit.
                let near = model
                    .iter()
                    .filter(|m| m.len >= want && m.len < want + align - 1)
                    .count();
                assert!(
                    class_of(m.len as u32) == class_of(best.len as u32)
                        || near >= FIT_TRIES / 2
                        || m.len >= want + align - 1,
                    "{m:?} against {best:?}"
                );
            }
            (got, best) => panic!("{got:?} against {best:?}"),
        }
        for m in &model {
            assert_eq!(r.at(m.start), Some(*m));
            assert_eq!(r.ending_at(m.end()), Some(*m));
        }
        assert_eq!(r.len(), model.len());
    }
    r.check();
}
