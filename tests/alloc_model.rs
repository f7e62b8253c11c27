//! Property test of the global allocator (`GenericAlloc`, docs/DESIGN.md
//! §9) against a model: random sequences of `alloc`, `alloc_zeroed`,
//! `realloc` and `dealloc` over sizes from 1 byte to 4 MiB (small blocks,
//! the `LARGE_MIN` edge, large blocks) and alignments from 1 byte to
//! 64 KiB, in the single-threaded and multithreaded builds.
//!
//! The model is the set of live blocks (address, layout, pattern seed).
//! After every step: each block is aligned and inside the memory, no two
//! overlap, each holds its pattern (a block fresh from `alloc_zeroed`
//! reads zero first; `realloc` keeps the common prefix), `AllocStats`
//! agrees with the model (bytes in use, small and large, pages of large
//! blocks), the pool holds exactly the allocator's pages
//! (`reserved_bytes == large_bytes + small_held_bytes`) and its invariants
//! hold. At the end every block is freed and the allocator gives back all
//! but at most two segments.
//!
//! Under Miri: smaller sizes, fewer and shorter cases
//! (`scripts/test-miri.sh`), and blocks carry their pattern every 509
//! bytes rather than in every byte.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use core::alloc::{GlobalAlloc, Layout};
use proptest::prelude::*;
use proptest::test_runner::Config as PtConfig;
use wasm_vmem::{GenericAlloc, LARGE_MIN};

type A<P> = GenericAlloc<SimMemory, P>;

/// Largest request and memory size: natively 4 MiB blocks in 256 MiB
/// (SimMemory's pages are only touched when used); under Miri, which
/// interprets every byte access, 128 KiB in 8 MiB.
#[cfg(not(miri))]
const MAX_SIZE: usize = 4 * MIB;
#[cfg(miri)]
const MAX_SIZE: usize = 2 * LARGE_MIN;
#[cfg(not(miri))]
const MEMORY: usize = 256 * MIB;
#[cfg(miri)]
const MEMORY: usize = 8 * MIB;
/// Cases per build, and operations per case at most.
#[cfg(not(miri))]
const CASES: u32 = 32;
#[cfg(miri)]
const CASES: u32 = 2;
#[cfg(not(miri))]
const MAX_OPS: usize = 64;
#[cfg(miri)]
const MAX_OPS: usize = 12;

/// Live bytes the test keeps at most: a request past it is skipped, so
/// that a null result always means a bug, never a full memory.
const LIVE_MAX: usize = MEMORY / 4;

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        size: usize,
        align: usize,
        zeroed: bool,
    },
    Realloc {
        which: usize,
        size: usize,
    },
    Dealloc {
        which: usize,
    },
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 1..=64usize,
        4 => 65..=4096usize,
        3 => 4097..LARGE_MIN,
        2 => (LARGE_MIN - 16)..=(LARGE_MIN + 16),
        2 => LARGE_MIN..=(4 * LARGE_MIN).min(MAX_SIZE),
        1 => (4 * LARGE_MIN).min(MAX_SIZE)..=MAX_SIZE,
    ]
}

fn align() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => (0..=4u32).prop_map(|s| 1usize << s),
        2 => (5..=13u32).prop_map(|s| 1usize << s),
        1 => (14..=16u32).prop_map(|s| 1usize << s),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (size(), align(), any::<bool>()).prop_map(|(size, align, zeroed)| Op::Alloc { size, align, zeroed }),
        3 => (any::<usize>(), size()).prop_map(|(which, size)| Op::Realloc { which, size }),
        3 => any::<usize>().prop_map(|which| Op::Dealloc { which }),
    ]
}

/// The byte at `i` of a block stamped with `seed`.
fn pattern(seed: usize, i: usize) -> u8 {
    (seed.wrapping_mul(31).wrapping_add(i) % 251) as u8
}

/// Every how many bytes a block carries its pattern (besides its first 64):
/// every byte natively; under Miri, which interprets each access, every
/// 509th (an odd stride, so the marks fall at every offset in a page).
#[cfg(not(miri))]
const STRIDE: usize = 1;
#[cfg(miri)]
const STRIDE: usize = 509;

/// The positions of `from .. to` that carry the pattern: the same ones
/// whichever range asks, so that a block stamped in parts checks whole.
fn marks(from: usize, to: usize) -> impl Iterator<Item = usize> {
    let start = from.max(64).next_multiple_of(STRIDE);
    (from..to.min(64)).chain((start..to).step_by(STRIDE))
}

/// Writes the pattern over `from .. to` of the block at `p`.
///
/// # Safety
/// `p .. p + to` must be a live block of the test.
unsafe fn stamp(p: *mut u8, from: usize, to: usize, seed: usize) {
    for i in marks(from, to) {
        // SAFETY: inside the block (caller).
        unsafe { p.add(i).write(pattern(seed, i)) };
    }
}

/// Whether `from .. to` of the block at `p` holds its pattern.
///
/// # Safety
/// As for [`stamp`].
unsafe fn stamped(p: *const u8, from: usize, to: usize, seed: usize) -> bool {
    // SAFETY: inside the block (caller).
    marks(from, to).all(|i| unsafe { p.add(i).read() } == pattern(seed, i))
}

#[derive(Debug)]
struct Block {
    ptr: *mut u8,
    layout: Layout,
    seed: usize,
}

fn is_large(l: Layout) -> bool {
    l.size() >= LARGE_MIN || l.align() >= PAGE_SIZE
}

struct Model<'a, P: Policy> {
    a: &'a A<P>,
    live: Vec<Block>,
    next_seed: usize,
}

impl<P: Policy> Model<'_, P> {
    fn live_bytes(&self) -> usize {
        self.live.iter().map(|b| b.layout.size()).sum()
    }

    /// A block's address range is aligned, in the memory, and apart from
    /// every other live block's.
    fn check_place(&self, ptr: *mut u8, layout: Layout, skip: Option<usize>) {
        let (p, n) = (ptr as usize, layout.size());
        assert_eq!(p % layout.align(), 0, "{layout:?} at {p:#x}: misaligned");
        assert!(self.a.vmem().memory().contains(p, n), "outside the memory");
        for (i, b) in self.live.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let (q, m) = (b.ptr as usize, b.layout.size());
            assert!(
                p + n <= q || q + m <= p,
                "{layout:?} at {p:#x} overlaps {b:?}"
            );
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Alloc {
                size,
                align,
                zeroed,
            } => {
                if self.live_bytes() + size > LIVE_MAX {
                    return;
                }
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero size.
                let ptr = unsafe {
                    if zeroed {
                        self.a.alloc_zeroed(layout)
                    } else {
                        self.a.alloc(layout)
                    }
                };
                assert!(!ptr.is_null(), "{layout:?}: null with room left");
                self.check_place(ptr, layout, None);
                if zeroed {
                    // SAFETY: a fresh block of `size` bytes.
                    let zero = marks(0, size).all(|i| unsafe { ptr.add(i).read() } == 0);
                    assert!(zero, "{layout:?}: zeroed");
                }
                let seed = self.next_seed;
                self.next_seed += 1;
                // SAFETY: as above.
                unsafe { stamp(ptr, 0, size, seed) };
                self.live.push(Block { ptr, layout, seed });
            }
            Op::Realloc { which, size } => {
                if self.live.is_empty() {
                    return;
                }
                let i = which % self.live.len();
                let b = &self.live[i];
                let (old, seed) = (b.layout, b.seed);
                if self.live_bytes() - old.size() + size > LIVE_MAX {
                    return;
                }
                // SAFETY: a live block of `old`; a non-zero size that
                // rounds to a valid layout (at most 4 MiB).
                let ptr = unsafe { self.a.realloc(b.ptr, old, size) };
                assert!(!ptr.is_null(), "realloc {old:?} to {size}: null");
                let layout = Layout::from_size_align(size, old.align()).unwrap();
                self.check_place(ptr, layout, Some(i));
                let kept = old.size().min(size);
                // SAFETY: the block is live with at least `size` bytes.
                unsafe {
                    assert!(
                        stamped(ptr, 0, kept, seed),
                        "realloc {old:?} to {size}: contents"
                    );
                    stamp(ptr, kept, size, seed);
                }
                self.live[i] = Block { ptr, layout, seed };
            }
            Op::Dealloc { which } => {
                if self.live.is_empty() {
                    return;
                }
                let b = self.live.swap_remove(which % self.live.len());
                // SAFETY: a live block of that layout, not used again.
                unsafe { self.a.dealloc(b.ptr, b.layout) };
            }
        }
    }

    /// The checks after every step: contents (whole blocks when `full`,
    /// else their ends), statistics and the pool's invariants.
    fn check(&self, full: bool) {
        for b in &self.live {
            let n = b.layout.size();
            // SAFETY: live blocks of `n` bytes.
            let ok = unsafe {
                if full {
                    stamped(b.ptr, 0, n, b.seed)
                } else {
                    stamped(b.ptr, 0, n.min(32), b.seed)
                        && stamped(b.ptr, n.saturating_sub(32), n, b.seed)
                }
            };
            assert!(ok, "{b:?}: contents changed");
        }
        let s = self.a.stats();
        let (small, large): (Vec<&Block>, Vec<&Block>) =
            self.live.iter().partition(|b| !is_large(b.layout));
        let sum = |v: &[&Block]| v.iter().map(|b| b.layout.size() as u64).sum::<u64>();
        assert_eq!(s.in_use_bytes, sum(&small) + sum(&large), "{s:?}");
        assert_eq!(s.small_in_use_bytes, sum(&small), "{s:?}");
        let pages: u64 = large
            .iter()
            .map(|b| b.layout.size().next_multiple_of(PAGE_SIZE) as u64)
            .sum();
        assert_eq!(s.large_bytes, pages, "{s:?}");
        // Spans are 16 to 128 KiB; the heap may also keep freed large
        // blocks, up to its reserve.
        let spans = s.small_spans as u64;
        let most = spans * 128 * KIB as u64 + A::<P>::SPAN_RESERVE_BYTES as u64;
        assert!((spans * 16 * KIB as u64..=most).contains(&s.small_held_bytes));
        let v = self.a.vmem().stats();
        assert_eq!(
            v.reserved_bytes,
            s.large_bytes + s.small_held_bytes,
            "the pool holds exactly the allocator's pages"
        );
        self.a.vmem().check_invariants();
    }
}

fn run<P: Policy>(ops: &[Op]) {
    let a = A::<P>::new(SimMemory::new(MEMORY));
    let mut m = Model {
        a: &a,
        live: Vec::new(),
        next_seed: 1,
    };
    for (i, op) in ops.iter().enumerate() {
        m.step(op);
        m.check(i % 16 == 15);
    }
    m.check(true);
    for b in core::mem::take(&mut m.live) {
        // SAFETY: a live block of that layout.
        unsafe { a.dealloc(b.ptr, b.layout) };
    }
    m.check(true);
    let s = a.stats();
    assert_eq!((s.in_use_bytes, s.large_bytes), (0, 0), "{s:?}");
    // One thread, one heap: at most one empty span per class and the
    // heap's reserve.
    assert!(
        s.small_held_bytes <= A::<P>::KEPT_EMPTY_BYTES as u64,
        "{s:?}"
    );
    assert_eq!(a.vmem().stats().reserved_bytes, s.small_held_bytes);
}

fn config() -> PtConfig {
    PtConfig {
        cases: CASES,
        // No files under Miri's isolation; regressions are kept as tests.
        failure_persistence: None,
        ..PtConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn single_threaded_alloc_matches_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run::<SingleThreaded>(&ops);
    }

    #[test]
    fn multithreaded_alloc_matches_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run::<MultiThreaded>(&ops);
    }
}

/// A fixed sequence over the edges, also run under Miri: small and large
/// blocks, the `LARGE_MIN` edge both ways, page alignment, in-place growth
/// and shrinking of large blocks, moves between small and large.
fn edges<P: Policy>() {
    let l = LARGE_MIN;
    let ops = [
        Op::Alloc {
            size: 24,
            align: 8,
            zeroed: false,
        },
        Op::Alloc {
            size: l - 1,
            align: 1,
            zeroed: true,
        },
        Op::Alloc {
            size: l,
            align: 16,
            zeroed: true,
        },
        Op::Alloc {
            size: 100,
            align: PAGE_SIZE,
            zeroed: true,
        },
        Op::Realloc {
            which: 2,
            size: 3 * l,
        },
        Op::Realloc {
            which: 2,
            size: l + 1,
        },
        Op::Realloc {
            which: 1,
            size: l + 1,
        },
        Op::Realloc { which: 1, size: 7 },
        Op::Realloc {
            which: 0,
            size: 5000,
        },
        Op::Alloc {
            size: 3,
            align: 64 * KIB,
            zeroed: false,
        },
        Op::Dealloc { which: 3 },
        Op::Realloc { which: 0, size: 1 },
        Op::Dealloc { which: 0 },
        Op::Alloc {
            size: 2 * l,
            align: 8,
            zeroed: true,
        },
    ];
    run::<P>(&ops);
}

#[test]
fn single_threaded_edges() {
    edges::<SingleThreaded>();
}

#[test]
fn multithreaded_edges() {
    edges::<MultiThreaded>();
}
