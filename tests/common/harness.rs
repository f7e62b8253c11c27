//! The one reference model of docs/DESIGN.md §4, and the decoding of operation
//! sequences from bytes, shared by the property test (`tests/model.rs`),
//! the fuzz target (`fuzz/fuzz_targets/ops.rs`, which includes this file by
//! `#[path]`) and the replay of fuzz inputs (`tests/fuzz_regressions.rs`).
//!
//! The model knows the state of every page of the simulated linear memory:
//! foreign, free (zero or dirty), committed (with the byte the test wrote),
//! decommitted. Each [`Op`] is applied to an instance of either build
//! ([`SingleThreaded`], [`MultiThreaded`]) and to the model, which predicts
//! the exact outcome: `Ok` or which `Err`, and for a reservation whether it
//! reuses free pages or grows (and by how much). After every step:
//!
//! - the statistics equal the model's, field by field;
//! - an operation that failed changed no statistic;
//! - a reservation lies on pages the model has free, aligned, inside the
//!   memory: never over another live reservation nor foreign memory;
//! - pages promised to read zero do, pages the test wrote keep their byte,
//!   foreign memory keeps [`FOREIGN_FILL`] (pages this step changed are read
//!   in full, the rest sampled, everything in full every few steps);
//! - the table's own invariants hold (`check_invariants`);
//! - the instance's metadata lies in pages it grew, which are never handed
//!   out; pages of a storage it left are free (dirty) pages.
//!
//! Where the metadata lives is the instance's business: the model learns
//! it after each step (`GenericVmem::metadata_regions`) and checks it
//! against the rest. A growth of the metadata, which comes before the
//! growth a reserve plans, may push that growth up and make it land
//! elsewhere than planned: the least growth is then checked as a bound.
//!
//! Foreign growth comes both between operations ([`Op::Foreign`]) and
//! inside our own growth, between our look at the memory size and our
//! `memory.grow` ([`Op::ForeignOnGrow`], through [`HookedMemory`]); growth
//! failures come from [`SimMemory::fail_next_grows`].
//!
//! Needs the `testing` feature of wasm-vmem (`check_invariants` and the
//! `SimMemory` hooks).
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use wasm_vmem::policy::{MultiThreaded, Policy, SingleThreaded};
use wasm_vmem::sys::sim::FOREIGN_FILL;
use wasm_vmem::sys::{LinearMemory, SimMemory};
use wasm_vmem::{Error, GenericVmem, PAGE_SIZE, SENTINEL, WASM_PAGE_SIZE};

/// 16 KiB pages per 64 KiB wasm page.
pub const PAGES_PER_WASM_PAGE: usize = WASM_PAGE_SIZE / PAGE_SIZE;

/// Most operations decoded from one input.
pub const MAX_OPS: usize = 256;

/// What one run is made of: the memory, the instance, the checks.
#[derive(Debug, Clone)]
pub struct Config {
    /// The memory maximum, in wasm pages.
    pub capacity: usize,
    /// The instance's reservation limit ([`GenericVmem::with_limit`]).
    pub limit: Option<usize>,
    /// Wasm pages grown by someone else before the instance exists.
    pub initial_foreign: usize,
    /// Every how many steps all contents are read in full (0: only at the
    /// end).
    pub full_every: usize,
    /// The memory says grown pages may not read zero
    /// ([`LinearMemory::grown_pages_read_zero`] `false`): the instance must
    /// zero fresh pages before handing them out.
    pub dirty_growth: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            capacity: 128,
            limit: None,
            initial_foreign: 1,
            full_every: 16,
            dirty_growth: false,
        }
    }
}

/// The four range operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    /// [`GenericVmem::commit`].
    Commit,
    /// [`GenericVmem::decommit`].
    Decommit,
    /// [`GenericVmem::reset`].
    Reset,
    /// [`GenericVmem::release`].
    Release,
}

/// Which range a range operation is given.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Pages `from .. from + len` of live reservation `which` (`which` and
    /// `from` wrap, `len` is clamped to the reservation): a valid range.
    Live {
        /// Index into the live reservations, wrapping.
        which: usize,
        /// First page within the reservation, wrapping.
        from: usize,
        /// Pages, at least one, clamped to the reservation's end.
        len: usize,
    },
    /// `len` pages from page `page` of linear memory (`page` wraps over the
    /// memory's pages and a few beyond): reserved, free, foreign, past the
    /// end, or a mix; valid only where every page is reserved.
    Pages {
        /// Page index from the memory's base, wrapping.
        page: usize,
        /// Pages, at least one.
        len: usize,
    },
    /// `size` bytes from the memory's base plus `offset` bytes: anything
    /// (unaligned, below the base, past the end, zero or overflowing size).
    Raw {
        /// Byte offset from the base.
        offset: isize,
        /// Size in bytes, as given.
        size: usize,
    },
}

/// One step of a run.
#[derive(Debug, Clone)]
pub enum Op {
    /// `reserve(size, align)`, with any values: the model predicts the
    /// outcome (bad requests included).
    Reserve {
        /// Bytes.
        size: usize,
        /// Bytes.
        align: usize,
    },
    /// A range operation. `slack` bytes (less than a page) are taken off
    /// the size of a `Live` or `Pages` target: sizes round up to pages.
    Range {
        /// Which operation.
        op: RangeOp,
        /// Which range.
        target: Target,
        /// Bytes off the size.
        slack: usize,
    },
    /// Fills page `page` (wrapping) of live reservation `which` with
    /// `byte`, if that page is committed.
    Write {
        /// Reservation, wrapping.
        which: usize,
        /// Page within it, wrapping.
        page: usize,
        /// The byte.
        byte: u8,
    },
    /// Writes `byte` at the first byte of a decommitted page: a use after
    /// decommit, which the single-threaded build's sentinel catches. Skipped
    /// in the multithreaded build, where commit writes nothing and the byte
    /// would stay (the caller broke the contract).
    WriteDecommitted {
        /// Reservation, wrapping.
        which: usize,
        /// Page within it, wrapping.
        page: usize,
        /// The byte.
        byte: u8,
    },
    /// Someone else grows the memory by `wasm_pages` now.
    Foreign {
        /// Wasm pages.
        wasm_pages: usize,
    },
    /// Someone else grows the memory by `wasm_pages` inside each of our
    /// next `grows` calls to `memory.grow`, just before it.
    ForeignOnGrow {
        /// Wasm pages.
        wasm_pages: usize,
        /// How many of our grows.
        grows: usize,
    },
    /// The next `count` of our grows fail (0 disarms).
    FailGrows {
        /// How many.
        count: usize,
    },
    /// `op` on every `every`-th page of live reservation `which`
    /// (wrapping) from page `from`, one page at a time: reservations that
    /// alternate states page by page, so that a later operation over them
    /// needs more content steps than one plan of the library holds.
    Stripe {
        /// Which operation.
        op: RangeOp,
        /// Reservation, wrapping.
        which: usize,
        /// First page, wrapping.
        from: usize,
        /// Stride in pages, at least 2.
        every: usize,
    },
    /// Releases live reservation `which` (wrapping) whole, then again: the
    /// second must fail and change nothing.
    DoubleRelease {
        /// Reservation, wrapping.
        which: usize,
    },
}

// ---------------------------------------------------------------------
// Decoding

/// Reads bytes from a fuzz input; zeros once it is exhausted.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn usize(&mut self) -> usize {
        self.u8() as usize
    }

    /// Sometimes a sub-page slack, mostly none.
    fn slack(&mut self) -> usize {
        match self.u8() {
            b @ 192.. => (b as usize * 97) % PAGE_SIZE,
            _ => 0,
        }
    }

    fn range_op(&mut self) -> RangeOp {
        match self.u8() % 8 {
            0 | 1 => RangeOp::Commit,
            2..=4 => RangeOp::Decommit,
            5 => RangeOp::Reset,
            _ => RangeOp::Release,
        }
    }

    /// Mostly short ranges; sometimes longer than a batch of the library
    /// (64 pages), or everything to the end.
    fn len(&mut self) -> usize {
        match self.u8() {
            b @ 0..=199 => 1 + (b as usize % 12),
            b @ 200..=247 => 1 + (b as usize - 200) * 4,
            _ => usize::MAX / PAGE_SIZE,
        }
    }
}

/// Alignments for reservations: sub-page ones (which mean a page), page
/// multiples, and a few that are not powers of two.
fn align(b: u8) -> usize {
    match b % 16 {
        0..=5 => PAGE_SIZE,
        6 => 1,
        7 => 1 << (b / 16), // 1 .. 32 KiB
        8..=11 => PAGE_SIZE << (b / 16 % 8),
        12 => PAGE_SIZE << (8 + b / 16 % 8), // 4 MiB .. 512 MiB
        13 => [0, 3, PAGE_SIZE + 1, 3 * PAGE_SIZE][b as usize / 16 % 4],
        14 => huge(40 + u32::from(b) / 16 % 20),
        _ => WASM_PAGE_SIZE,
    }
}

/// `1 << shift`, or the largest power of two a `usize` holds where that
/// overflows (32-bit targets: Miri on i686, wasm32).
fn huge(shift: u32) -> usize {
    1usize.checked_shl(shift).unwrap_or(1 << (usize::BITS - 1))
}

/// Sizes that are bad or borderline.
fn odd_size(b: u8) -> usize {
    match b % 10 {
        0 => 0,
        1 => usize::MAX,
        2 => usize::MAX - PAGE_SIZE + 2, // overflows when rounded up
        3 => usize::MAX / 2 + 1,
        4 => huge(40),
        5 => 1,
        6 => PAGE_SIZE + 1,
        7 => 64 << 20,
        8 => 16 << 20,
        _ => (b as usize) << 16,
    }
}

/// Byte offsets from the base for raw ranges.
fn odd_offset(b: u8, c: u8) -> isize {
    let page = PAGE_SIZE as isize;
    match b % 8 {
        0 => -page * (1 + c as isize % 4),
        1 => c as isize,
        2 => page * (c as isize) + 1 + c as isize,
        3 => page * (c as isize) + page / 2,
        4 => page * (c as isize),
        5 => page * 1024 * (1 + c as isize),
        6 => isize::MAX - page + 1,
        _ => isize::MIN,
    }
}

/// Decodes a run from bytes: a header (memory, limit, foreign memory),
/// then up to [`MAX_OPS`] operations. Every input decodes to something.
pub fn decode(data: &[u8]) -> (Config, Vec<Op>) {
    let mut b = Bytes { data };
    let h = b.u8();
    let l = b.usize();
    let capacity = [8, 32, 128, 512][h as usize & 3];
    let limit = match (h >> 2) & 7 {
        0 => Some(l * PAGE_SIZE),
        1 => Some(l * 10_000 + 1),
        2 => Some(usize::MAX),
        _ => None,
    };
    let config = Config {
        capacity,
        limit,
        initial_foreign: (h >> 5) as usize % 4,
        full_every: 32,
        dirty_growth: h >> 5 == 7,
    };
    let mut ops = Vec::new();
    while !b.is_empty() && ops.len() < MAX_OPS {
        let tag = b.u8();
        let op = match tag {
            0..=49 => {
                let n = b.u8();
                let pages = match n {
                    0..=223 => 1 + n as usize % 16,
                    _ => 17 + (n as usize - 224) * 8,
                };
                let align = align(b.u8());
                let slack = b.slack();
                Op::Reserve {
                    size: pages * PAGE_SIZE - slack,
                    align,
                }
            }
            50..=59 => {
                let size = odd_size(b.u8());
                Op::Reserve {
                    size,
                    align: align(b.u8()),
                }
            }
            60..=129 => Op::Range {
                op: b.range_op(),
                target: Target::Live {
                    which: b.usize(),
                    from: b.usize(),
                    len: b.len(),
                },
                slack: b.slack(),
            },
            130..=139 => Op::Stripe {
                op: b.range_op(),
                which: b.usize(),
                from: b.usize(),
                every: 2 + b.usize() % 3,
            },
            140..=159 => Op::Range {
                op: b.range_op(),
                target: Target::Pages {
                    page: b.u16() as usize,
                    len: b.len(),
                },
                slack: b.slack(),
            },
            160..=169 => {
                let op = b.range_op();
                let (o, c) = (b.u8(), b.u8());
                let size = odd_size(b.u8());
                Op::Range {
                    op,
                    target: Target::Raw {
                        offset: odd_offset(o, c),
                        size,
                    },
                    slack: 0,
                }
            }
            170..=199 => Op::Write {
                which: b.usize(),
                page: b.usize(),
                byte: b.u8(),
            },
            200..=209 => Op::WriteDecommitted {
                which: b.usize(),
                page: b.usize(),
                byte: b.u8(),
            },
            210..=219 => Op::Foreign {
                wasm_pages: 1 + b.usize() % 3,
            },
            220..=229 => {
                let g = b.usize();
                Op::ForeignOnGrow {
                    wasm_pages: 1 + g % 2,
                    grows: 1 + g / 2 % 3,
                }
            }
            230..=239 => Op::FailGrows {
                count: b.usize() % 4,
            },
            240..=249 => Op::DoubleRelease { which: b.usize() },
            _ => Op::Reserve {
                size: (32 + b.usize() * 4) * PAGE_SIZE,
                align: align(b.u8()),
            },
        };
        ops.push(op);
    }
    (config, ops)
}

/// Decodes `data` and runs it over both builds: what the fuzz target and
/// the replay test call.
pub fn run_bytes(data: &[u8]) {
    let (config, ops) = decode(data);
    run::<SingleThreaded>(&config, &ops);
    run::<MultiThreaded>(&config, &ops);
}

// ---------------------------------------------------------------------
// The memory

/// A [`SimMemory`] whose growth can be preceded by someone else's, as when
/// another thread or module calls `memory.grow` between our look at the
/// memory size and our own `memory.grow`. It records every foreign growth
/// (its own and [`grow_foreign`](Self::grow_foreign)'s) and counts our
/// successful grows.
#[derive(Debug)]
pub struct HookedMemory<'m> {
    sim: &'m SimMemory,
    /// Wasm pages someone else grows inside our grows, and in how many.
    foreign_on_grow: Cell<(usize, usize)>,
    dirty_growth: bool,
    /// Foreign growths as (first wasm page, wasm pages).
    foreign: RefCell<Vec<(usize, usize)>>,
    grows: Cell<u64>,
}

impl<'m> HookedMemory<'m> {
    /// Over `sim`, nothing armed; `dirty_growth`: says grown pages may not
    /// read zero.
    pub fn new(sim: &'m SimMemory, dirty_growth: bool) -> Self {
        Self {
            sim,
            foreign_on_grow: Cell::new((0, 0)),
            dirty_growth,
            foreign: RefCell::new(Vec::new()),
            grows: Cell::new(0),
        }
    }

    /// The simulated memory.
    pub fn sim(&self) -> &'m SimMemory {
        self.sim
    }

    /// Grows by `wasm_pages` for someone else now; records it.
    pub fn grow_foreign(&self, wasm_pages: usize) -> Option<usize> {
        let old = self.sim.grow_foreign(wasm_pages)?;
        self.foreign.borrow_mut().push((old, wasm_pages));
        Some(old)
    }

    /// Someone else grows by `wasm_pages` inside each of our next `grows`
    /// grows.
    pub fn foreign_on_next_grows(&self, wasm_pages: usize, grows: usize) {
        self.foreign_on_grow.set((wasm_pages, grows));
    }

    /// Whether someone else will grow inside our next grow.
    pub fn foreign_armed(&self) -> bool {
        self.foreign_on_grow.get().1 > 0
    }

    /// Whether wasm page `page` was grown by someone else.
    pub fn is_foreign(&self, page: usize) -> bool {
        self.foreign
            .borrow()
            .iter()
            .any(|&(start, n)| (start..start + n).contains(&page))
    }
}

// SAFETY: every item forwards to the `SimMemory`, which upholds the
// contract; the only additions are a foreign growth before some of our
// grows, which is itself a `SimMemory` growth (`size` still only increases,
// and the pages our `grow` returns are still this caller's alone and read
// zero), and maybe saying grown pages may not read zero, which promises
// less.
unsafe impl LinearMemory for HookedMemory<'_> {
    fn size(&self) -> usize {
        self.sim.size()
    }

    fn grow(&self, delta: usize) -> Option<usize> {
        let (foreign, times) = self.foreign_on_grow.get();
        if times > 0 {
            self.foreign_on_grow.set((foreign, times - 1));
            let _ = self.grow_foreign(foreign);
        }
        let old = self.sim.grow(delta)?;
        self.grows.set(self.grows.get() + 1);
        Some(old)
    }

    fn base(&self) -> usize {
        self.sim.base()
    }

    fn maximum(&self) -> Option<usize> {
        self.sim.maximum()
    }

    fn grown_pages_read_zero(&self) -> bool {
        self.sim.grown_pages_read_zero() && !self.dirty_growth
    }

    unsafe fn fill(&self, addr: usize, len: usize, byte: u8) {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.sim.fill(addr, len, byte) }
    }

    unsafe fn read_byte(&self, addr: usize) -> u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.sim.read_byte(addr) }
    }
}

// ---------------------------------------------------------------------
// The model

/// What the model knows of one page of linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Grown by someone else: reads [`FOREIGN_FILL`], never ours.
    Foreign,
    /// Ours, free; `zero`: known to read zero.
    Free {
        /// Reads zero.
        zero: bool,
    },
    /// Reserved and committed, every byte reading the given one.
    Committed(u8),
    /// Reserved and decommitted. `zero`: zeroed at decommit (the
    /// multithreaded build). `sentinel`: its sentinel is intact (the
    /// single-threaded build).
    Decommitted {
        /// Reads zero.
        zero: bool,
        /// Sentinel intact.
        sentinel: bool,
    },
    /// Ours, holding the instance's metadata: never handed out.
    Metadata,
}

impl Page {
    fn is_reserved(self) -> bool {
        matches!(self, Page::Committed(_) | Page::Decommitted { .. })
    }

    fn is_free(self) -> bool {
        matches!(self, Page::Free { .. })
    }
}

/// One build under test and the model of it.
pub struct Model<'m, P: Policy> {
    vm: GenericVmem<HookedMemory<'m>, P>,
    config: Config,
    /// Every page of linear memory, by index from the base.
    pages: Vec<Page>,
    /// Live reservations (or what is left of them): first page, pages.
    live: Vec<(usize, usize)>,
    /// Expected counters.
    zeroed: u64,
    skipped: u64,
    violations: u64,
    peak: usize,
    /// Our grows still to fail.
    armed: usize,
    /// Pages whose contents this step changed: read in full.
    touched: Vec<usize>,
    step: usize,
    /// A page of each byte, for comparisons.
    patterns: Vec<Option<Box<[u8]>>>,
}

impl<'m, P: Policy> Model<'m, P> {
    /// An instance over `mem` as `config` says, and its model.
    pub fn new(mem: HookedMemory<'m>, config: &Config) -> Self {
        let vm = match config.limit {
            Some(limit) => GenericVmem::with_limit(mem, limit as u64),
            None => GenericVmem::new(mem),
        };
        let mut model = Self {
            vm,
            config: config.clone(),
            pages: Vec::new(),
            live: Vec::new(),
            zeroed: 0,
            skipped: 0,
            violations: 0,
            peak: 0,
            armed: 0,
            touched: Vec::new(),
            step: 0,
            patterns: vec![None; 256],
        };
        let _ = model.absorb_growth();
        model
    }

    fn mem(&self) -> &HookedMemory<'m> {
        self.vm.memory()
    }

    fn base(&self) -> usize {
        self.mem().base()
    }

    fn addr(&self, page: usize) -> usize {
        self.base() + page * PAGE_SIZE
    }

    fn ptr(&self, page: usize) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(self.addr(page))
    }

    /// Records growth since the last look (foreign pages as such, the rest
    /// as ours, fresh), then where the metadata is now: its pages were free
    /// pages of ours; pages it left are free and dirty. Returns the wasm
    /// pages of metadata that appeared.
    fn absorb_growth(&mut self) -> usize {
        self.absorb_memory();
        let mut metadata = vec![false; self.pages.len()];
        for (addr, bytes) in self.vm.metadata_regions() {
            assert_eq!(addr % WASM_PAGE_SIZE, 0, "metadata in whole wasm pages");
            let first = (addr - self.base()) / PAGE_SIZE;
            for flag in &mut metadata[first..first + bytes / PAGE_SIZE] {
                *flag = true;
            }
        }
        let mut appeared = 0;
        for (i, &is_metadata) in metadata.iter().enumerate() {
            match (self.pages[i], is_metadata) {
                (Page::Metadata, false) => self.pages[i] = Page::Free { zero: false },
                (Page::Free { .. }, true) => {
                    assert!(
                        !self.live.iter().any(|&(s, n)| (s..s + n).contains(&i)),
                        "metadata on a reserved page {i}"
                    );
                    self.pages[i] = Page::Metadata;
                    appeared += 1;
                }
                (Page::Metadata, true) => {}
                (page, true) => panic!("metadata on page {i}, which is {page:?}"),
                (_, false) => {}
            }
        }
        appeared / PAGES_PER_WASM_PAGE
    }

    /// Records growth since the last look: foreign pages as such, the rest
    /// as ours, fresh (reading zero).
    fn absorb_memory(&mut self) {
        let size = self.mem().size();
        let known = self.pages.len() / PAGES_PER_WASM_PAGE;
        for w in known..size {
            let page = if self.mem().is_foreign(w) {
                Page::Foreign
            } else {
                Page::Free {
                    zero: !self.config.dirty_growth,
                }
            };
            self.pages
                .extend(core::iter::repeat_n(page, PAGES_PER_WASM_PAGE));
        }
    }

    fn reserved_pages(&self) -> usize {
        self.pages.iter().filter(|p| p.is_reserved()).count()
    }

    /// A sub-range of a live reservation: first page, pages.
    fn pick(&self, which: usize, from: usize, len: usize) -> Option<(usize, usize)> {
        if self.live.is_empty() {
            return None;
        }
        let (a, n) = self.live[which % self.live.len()];
        let from = from % n;
        Some((a + from, len.clamp(1, n - from)))
    }

    /// The wasm pages to grow for an aligned run of `len` pages above
    /// `extra` more wasm pages that are not free (no free tail to extend).
    fn growth_above(&self, len: usize, align: usize, extra: usize) -> usize {
        let base = self.base() / PAGE_SIZE;
        let end = self.pages.len() + extra * PAGES_PER_WASM_PAGE;
        let start = (base + end).next_multiple_of(align) - base;
        (start + len - end).max(1).div_ceil(PAGES_PER_WASM_PAGE)
    }

    /// The first page of an aligned run of `len` free pages, if any.
    fn free_fit(&self, len: usize, align: usize) -> Option<usize> {
        let base = self.base() / PAGE_SIZE;
        let mut i = 0;
        while i < self.pages.len() {
            if !self.pages[i].is_free() {
                i += 1;
                continue;
            }
            let end = (i..self.pages.len())
                .find(|&j| !self.pages[j].is_free())
                .unwrap_or(self.pages.len());
            let start = (base + i).next_multiple_of(align) - base;
            if start + len <= end {
                return Some(start);
            }
            i = end;
        }
        None
    }

    /// The fewest wasm pages to grow for an aligned run of `len` pages,
    /// extending a free run at the memory's end.
    fn min_growth(&self, len: usize, align: usize) -> usize {
        let base = self.base() / PAGE_SIZE;
        let end = self.pages.len();
        let tail = (0..end)
            .rev()
            .take_while(|&i| self.pages[i].is_free())
            .last()
            .unwrap_or(end);
        let start = (base + tail).next_multiple_of(align) - base;
        (start + len)
            .saturating_sub(end)
            .max(1)
            .div_ceil(PAGES_PER_WASM_PAGE)
    }

    /// Applies `op` to the instance and the model, then checks everything.
    pub fn step(&mut self, op: &Op) {
        self.touched.clear();
        self.step += 1;
        match *op {
            Op::Reserve { size, align } => self.reserve(size, align),
            Op::Range { op, target, slack } => {
                let Some((addr, size)) = self.resolve(target, slack) else {
                    return;
                };
                self.range(op, addr, size);
            }
            Op::Write { which, page, byte } => {
                let Some((p, _)) = self.pick(which, page, 1) else {
                    return;
                };
                if let Page::Committed(_) = self.pages[p] {
                    // SAFETY: a committed page of a live reservation of
                    // ours; nothing else accesses it.
                    unsafe { core::ptr::write_bytes(self.ptr(p), byte, PAGE_SIZE) };
                    self.pages[p] = Page::Committed(byte);
                    self.touched.push(p);
                }
            }
            Op::WriteDecommitted { which, page, byte } => {
                if P::EAGER_DECOMMIT {
                    return;
                }
                let Some((p, _)) = self.pick(which, page, 1) else {
                    return;
                };
                if let Page::Decommitted { zero, .. } = self.pages[p] {
                    // SAFETY: a page of a live reservation of ours, inside
                    // the memory; nothing else accesses it.
                    unsafe { self.ptr(p).write(byte) };
                    self.pages[p] = Page::Decommitted {
                        zero: zero && byte == 0,
                        // The sentinel is the page's first byte, the one
                        // written: a write of the sentinel's value
                        // restores it, whatever was there.
                        sentinel: byte == SENTINEL,
                    };
                }
            }
            Op::Foreign { wasm_pages } => {
                let _ = self.mem().grow_foreign(wasm_pages);
            }
            Op::ForeignOnGrow { wasm_pages, grows } => {
                self.mem().foreign_on_next_grows(wasm_pages, grows);
            }
            Op::FailGrows { count } => {
                self.mem().sim().fail_next_grows(count);
                self.armed = count;
            }
            Op::Stripe {
                op,
                which,
                from,
                every,
            } => {
                let Some((p, n)) = self.pick(which, from, usize::MAX) else {
                    return;
                };
                for page in (p..p + n).step_by(every) {
                    self.range(op, self.addr(page), PAGE_SIZE);
                }
            }
            Op::DoubleRelease { which } => {
                let Some((p, n)) = self.pick(which, 0, usize::MAX) else {
                    return;
                };
                self.range(RangeOp::Release, self.addr(p), n * PAGE_SIZE);
                self.range(RangeOp::Release, self.addr(p), n * PAGE_SIZE);
            }
        }
        let _ = self.absorb_growth();
        let full = self.config.full_every > 0 && self.step.is_multiple_of(self.config.full_every);
        self.check(full);
    }

    /// The address and size of a target, `None` when there is no live
    /// reservation to pick from.
    fn resolve(&self, target: Target, slack: usize) -> Option<(usize, usize)> {
        let (page, len) = match target {
            Target::Live { which, from, len } => self.pick(which, from, len)?,
            Target::Pages { page, len } => (page % (self.pages.len() + 8), len),
            Target::Raw { offset, size } => {
                return Some((self.base().wrapping_add_signed(offset), size))
            }
        };
        let size = len.saturating_mul(PAGE_SIZE).saturating_sub(slack).max(1);
        Some((self.addr(page), size))
    }

    /// The outcome the contract gives a range operation: its pages, or the
    /// error.
    fn expect_range(&self, addr: usize, size: usize) -> Result<(usize, usize), Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Error::Unaligned { addr });
        }
        let bytes = size
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(Error::SizeOverflow { size })?;
        let not_reserved = Error::NotReserved { addr, size: bytes };
        let first = addr.checked_sub(self.base()).ok_or(not_reserved)? / PAGE_SIZE;
        let len = bytes / PAGE_SIZE;
        match first.checked_add(len) {
            Some(end) if end <= self.pages.len() => {
                if self.pages[first..end].iter().all(|p| p.is_reserved()) {
                    Ok((first, len))
                } else {
                    Err(not_reserved)
                }
            }
            _ => Err(not_reserved),
        }
    }

    fn range(&mut self, op: RangeOp, addr: usize, size: usize) {
        let before = self.vm.stats();
        let expected = self.expect_range(addr, size);
        let ptr = core::ptr::with_exposed_provenance_mut::<u8>(addr);
        // SAFETY: single-threaded: nothing else accesses or operates on the
        // range. A range the model has reserved is a live reservation of
        // ours, not used after release; any other range must be refused,
        // which the assertions below check.
        let got = unsafe {
            match op {
                RangeOp::Commit => self.vm.commit(ptr, size).map(|()| None),
                RangeOp::Decommit => self.vm.decommit(ptr, size).map(|()| None),
                // Wasm cannot drop contents: always `false` (rule 4).
                RangeOp::Reset => self.vm.reset(ptr, size).map(Some),
                RangeOp::Release => self.vm.release(ptr, size).map(|()| None),
            }
        };
        let what = format!("{op:?}({addr:#x}, {size:#x})");
        let (first, len) = match expected {
            Err(e) => {
                assert_eq!(got, Err(e), "{what}");
                assert_eq!(self.vm.stats(), before, "{what} failed but changed state");
                return;
            }
            Ok(range) => {
                let reset = (op == RangeOp::Reset).then_some(false);
                assert_eq!(got, Ok(reset), "{what}");
                range
            }
        };
        let eager = P::EAGER_DECOMMIT;
        for p in first..first + len {
            match (op, self.pages[p]) {
                (RangeOp::Commit, Page::Decommitted { zero, sentinel }) => {
                    if zero {
                        self.skipped += PAGE_SIZE as u64;
                    } else {
                        self.zeroed += PAGE_SIZE as u64;
                        self.violations += u64::from(!sentinel);
                    }
                    self.pages[p] = Page::Committed(0);
                    self.touched.push(p);
                }
                (RangeOp::Decommit, Page::Committed(_)) => {
                    if eager {
                        self.zeroed += PAGE_SIZE as u64;
                    }
                    self.pages[p] = Page::Decommitted {
                        zero: eager,
                        sentinel: !eager,
                    };
                    self.touched.push(p);
                }
                (RangeOp::Release, page) => {
                    let zero = matches!(page, Page::Decommitted { zero: true, .. });
                    self.pages[p] = Page::Free { zero };
                }
                _ => {}
            }
        }
        if op == RangeOp::Reset {
            assert_eq!(self.vm.stats(), before, "{what} changed state");
        }
        if op == RangeOp::Release {
            // What is left of the reservations the range cut.
            let end = first + len;
            let mut left = Vec::new();
            for &(s, n) in &self.live {
                if s < first {
                    left.push((s, n.min(first - s)));
                }
                if s + n > end {
                    let from = s.max(end);
                    left.push((from, s + n - from));
                }
            }
            self.live = left;
        }
    }

    fn reserve(&mut self, size: usize, align: usize) {
        let what = format!("reserve({size:#x}, {align:#x})");
        let before = self.vm.stats();
        let expected = self.expect_reserve(size, align);
        // What the model knows before the call: a free fit, the least
        // growth otherwise, whether someone else grows inside ours.
        let (len, align_pages) = expected.unwrap_or((1, 1));
        let fit = self.free_fit(len, align_pages);
        let growth = self.min_growth(len, align_pages);
        let size_before = self.mem().size();
        // The first growth also grows a wasm page of metadata first (the
        // harness's memories are too small for the storage to double). It
        // breaks the stitching and moves the alignment: the growth then
        // lands one wasm page up, where it may need more; what it grew
        // stays, and a second round grows the rest (stitched).
        let metadata = usize::from(self.vm.metadata_regions().is_empty());
        let growth = match metadata {
            0 => growth,
            _ => growth.max(self.growth_above(len, align_pages, metadata)),
        };
        let room = size_before + growth + metadata <= self.config.capacity;
        let hooked = self.mem().foreign_armed();
        let grows_before = self.mem().grows.get();

        let got = self.vm.reserve(size, align);
        let metadata_grown = self.absorb_growth();

        if let Err(e) = expected {
            assert_eq!(got, Err(e), "{what}");
            assert_eq!(self.vm.stats(), before, "{what} failed but changed state");
            return;
        }
        let p = match got {
            Ok(p) => p.as_ptr().addr(),
            Err(e) => {
                assert_eq!(e, Error::OutOfMemory { size }, "{what}");
                assert!(
                    fit.is_none(),
                    "{what}: out of memory with free pages at {fit:?}"
                );
                // A growth the memory's maximum cannot take is refused
                // before `memory.grow` is called, so it consumes no failure.
                let armed = self.armed;
                self.armed = self.mem().sim().pending_grow_failures();
                assert!(armed - self.armed <= 1, "{what}: one failure consumed");
                if armed == self.armed && !hooked {
                    assert!(!room, "{what}: out of memory with room to grow");
                }
                if hooked || metadata_grown > 0 {
                    // Someone else's growth, or the metadata's, may have
                    // made ours land elsewhere, too small; those pages stay
                    // ours, free. Nothing reserved changed.
                    let after = self.vm.stats();
                    assert_eq!(after.reserved_bytes, before.reserved_bytes, "{what}");
                    assert_eq!(after.committed_bytes, before.committed_bytes, "{what}");
                } else {
                    assert_eq!(self.vm.stats(), before, "{what} failed but changed state");
                }
                return;
            }
        };
        if fit.is_some() {
            assert_eq!(
                self.mem().grows.get(),
                grows_before,
                "{what}: grew with a fit"
            );
            assert_eq!(self.mem().size(), size_before, "{what}: grew with a fit");
        } else {
            assert_eq!(self.armed, 0, "{what}: grew while a failure was armed");
            if !hooked {
                assert!(room, "{what}: grew past the maximum");
                assert_eq!(metadata_grown, metadata, "{what}: metadata grown");
                assert_eq!(
                    self.mem().size(),
                    size_before + growth + metadata_grown,
                    "{what}: not the least growth"
                );
            }
        }
        let align_bytes = align_pages * PAGE_SIZE;
        assert_eq!(p % align_bytes, 0, "{what} at {p:#x}: unaligned");
        assert!(p >= self.base(), "{what} at {p:#x}: below the memory");
        assert!(
            self.mem().sim().contains(p, len * PAGE_SIZE),
            "{what} at {p:#x}: outside the memory"
        );
        let first = (p - self.base()) / PAGE_SIZE;
        for i in first..first + len {
            match self.pages[i] {
                Page::Free { zero: true } => self.skipped += PAGE_SIZE as u64,
                Page::Free { zero: false } => self.zeroed += PAGE_SIZE as u64,
                page => panic!("{what} at {p:#x}: page {i} handed out while {page:?}"),
            }
            self.pages[i] = Page::Committed(0);
            self.touched.push(i);
        }
        self.live.push((first, len));
    }

    /// The outcome the contract gives a reservation: its pages and
    /// alignment in pages, or the error (out of memory aside).
    fn expect_reserve(&self, size: usize, align: usize) -> Result<(usize, usize), Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment { align });
        }
        let bytes = size
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(Error::SizeOverflow { size })?;
        let total = (self.config.capacity * WASM_PAGE_SIZE) as u64;
        let limit = self.config.limit.map_or(total, |l| (l as u64).min(total));
        if bytes as u64 > limit || align as u64 > limit {
            return Err(Error::TooLarge { size, limit });
        }
        let len = bytes / PAGE_SIZE;
        if let Some(limit) = self.config.limit {
            let reserved = self.reserved_pages();
            if ((reserved + len) * PAGE_SIZE) as u64 > limit as u64 {
                return Err(Error::LimitExceeded {
                    size,
                    reserved: (reserved * PAGE_SIZE) as u64,
                    limit: limit as u64,
                });
            }
        }
        Ok((len, align.max(PAGE_SIZE) / PAGE_SIZE))
    }

    /// Whether the page reads `byte` throughout (`full`) or at its first,
    /// middle and last bytes.
    fn reads(&mut self, page: usize, byte: u8, full: bool) -> bool {
        let ptr = self.ptr(page) as *const u8;
        if full {
            let pattern = self.patterns[byte as usize]
                .get_or_insert_with(|| vec![byte; PAGE_SIZE].into_boxed_slice());
            // SAFETY: a page inside the memory (the model covers exactly
            // the memory's pages); nothing writes it meanwhile.
            let bytes = unsafe { core::slice::from_raw_parts(ptr, PAGE_SIZE) };
            bytes == &pattern[..]
        } else {
            // SAFETY: as above.
            unsafe {
                *ptr == byte && *ptr.add(PAGE_SIZE / 2) == byte && *ptr.add(PAGE_SIZE - 1) == byte
            }
        }
    }

    /// Every check of the module documentation.
    pub fn check(&mut self, full: bool) {
        let s = self.vm.stats();
        assert_eq!(
            s.linear_memory_bytes,
            (self.mem().size() * WASM_PAGE_SIZE) as u64,
            "memory size"
        );
        self.vm.check_invariants();

        // Live reservations: disjoint and reserved (the model's own
        // consistency; the instance's is checked by the outcomes above).
        let mut live = self.live.clone();
        live.sort_unstable();
        for w in live.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "live reservations overlap");
        }
        for &(s, n) in &live {
            assert!(self.pages[s..s + n].iter().all(|p| p.is_reserved()));
        }

        // Statistics and contents, in one pass: pages this step changed
        // are read in full, the others sampled unless `full`.
        let mut read_fully = vec![full; self.pages.len()];
        for &i in &self.touched {
            read_fully[i] = true;
        }
        self.touched.clear();
        let (mut committed, mut decommitted, mut free_zero, mut free_dirty) = (0, 0, 0, 0);
        let mut metadata = 0;
        let mut runs = 0;
        let mut previous_free = false;
        for (i, &full) in read_fully.iter().enumerate() {
            let page = self.pages[i];
            runs += usize::from(page.is_free() && !previous_free);
            previous_free = page.is_free();
            let ok = match page {
                Page::Foreign => self.reads(i, FOREIGN_FILL, full),
                Page::Committed(byte) => {
                    committed += 1;
                    self.reads(i, byte, full)
                }
                Page::Decommitted { zero, sentinel } => {
                    decommitted += 1;
                    if zero {
                        self.reads(i, 0, full)
                    } else if sentinel {
                        // SAFETY: a page of ours inside the memory, not
                        // written meanwhile.
                        unsafe { *(self.ptr(i) as *const u8) == SENTINEL }
                    } else {
                        true
                    }
                }
                Page::Free { zero: true } => {
                    free_zero += 1;
                    self.reads(i, 0, full)
                }
                Page::Free { zero: false } => {
                    free_dirty += 1;
                    true
                }
                Page::Metadata => {
                    metadata += 1;
                    true
                }
            };
            assert!(
                ok,
                "page {i} at {:#x} ({page:?}) has the wrong contents after step {}",
                self.addr(i),
                self.step
            );
        }

        self.peak = self.peak.max(committed + decommitted);
        let mut expected = s;
        let bytes = |pages: usize| (pages * PAGE_SIZE) as u64;
        expected.reserved_bytes = bytes(committed + decommitted);
        expected.committed_bytes = bytes(committed);
        expected.decommitted_bytes = bytes(decommitted);
        expected.free_zero_bytes = bytes(free_zero);
        expected.free_dirty_bytes = bytes(free_dirty);
        expected.metadata_bytes = bytes(metadata);
        expected.owned_bytes = bytes(committed + decommitted + free_zero + free_dirty + metadata);
        expected.linear_memory_bytes = bytes(self.pages.len());
        expected.peak_reserved_bytes = bytes(self.peak);
        expected.free_runs = runs;
        expected.grows = self.mem().grows.get();
        expected.bytes_zeroed = self.zeroed;
        expected.bytes_zero_skipped = self.skipped;
        expected.sentinel_violations = self.violations;
        assert_eq!(s, expected, "statistics after step {}", self.step);
    }

    /// Releases every live reservation; all owned memory is free again.
    pub fn finish(&mut self) {
        for (p, n) in std::mem::take(&mut self.live) {
            self.range(RangeOp::Release, self.addr(p), n * PAGE_SIZE);
        }
        self.check(true);
        let s = self.vm.stats();
        assert_eq!(s.reserved_bytes, 0);
        assert_eq!(
            s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes,
            s.owned_bytes
        );
    }
}

/// Runs `ops` over a fresh memory and instance of build `P`, checking after
/// every step.
pub fn run<P: Policy>(config: &Config, ops: &[Op]) {
    let sim = SimMemory::new(config.capacity * WASM_PAGE_SIZE);
    let mem = HookedMemory::new(&sim, config.dirty_growth);
    if config.initial_foreign > 0 {
        mem.grow_foreign(config.initial_foreign)
            .expect("initial foreign memory fits");
    }
    let mut model = Model::<P>::new(mem, config);
    for op in ops {
        model.step(op);
    }
    model.finish();
}
