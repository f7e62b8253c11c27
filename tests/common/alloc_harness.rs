//! The driver of the `alloc` fuzz target: arbitrary sequences of
//! `alloc`, `alloc_zeroed`, `alloc_in`, `realloc` and `dealloc` over a
//! [`GenericAlloc`] on a simulated linear memory, run by several threads
//! that share one table of live blocks, so that blocks are freed and
//! reallocated by threads other than the one that allocated them (the
//! span's atomic `thread_free` list, the pending stack of full spans).
//! Shared by the fuzz target (`fuzz/fuzz_targets/alloc.rs`, which includes
//! this file by `#[path]`) and the replay of fuzz inputs
//! (`tests/fuzz_regressions.rs`).
//!
//! Threads interleave as the scheduler likes; every check holds in any
//! interleaving:
//!
//! - a block is aligned as asked and inside the memory;
//! - a block from `alloc_zeroed` reads zero;
//! - no two live blocks overlap (a model of the live ranges: a range
//!   leaves it before its block is freed, and enters it after its block is
//!   allocated);
//! - every block keeps the pattern written at its allocation until it is
//!   freed or reallocated (checked then), and `realloc` keeps the common
//!   prefix;
//! - a null result comes only when the memory cannot grow by what the
//!   request needs (its size only grows, so reading it after the failure
//!   bounds what it was); the block table then stays as it was, and a
//!   failed `realloc` leaves its block intact;
//! - between rounds (no thread runs) and at the end, [`AllocStats`] equals
//!   the model (bytes in use, small and large, pages of large blocks), the
//!   pool holds exactly the allocator's pages and its invariants hold;
//!   after every block is freed and [`GenericAlloc::trim`], nothing is in
//!   use and the pool holds no reservation.
//!
//! The multithreaded build runs each round's streams on their own threads
//! (fresh threads each round: other arenas, and blocks of exited threads
//! freed by later ones); the single-threaded build, which is `!Sync`,
//! interleaves them op by op on the calling thread.
//!
//! Input format ([`decode`]): one header byte, then five bytes per
//! operation.
//!
//! - header: bit 0 the build (0 `mt`, 1 `st`); bits 1-2 the threads
//!   (`[2, 3, 3, 1]`); bits 3-4 the memory (`[64, 64, 16, 4]` MiB).
//! - operation `[a, b, c, d, e]`: `a & 3` the thread (modulo the
//!   threads), `(a >> 2) & 7` the kind (0-2 allocate, 3-4 reallocate, 5-6
//!   free, 7 trim if `b` is even, else the end of a round), `a >> 5` the
//!   size range ([`size`]), `b` the slot, `c, d` the size within its range,
//!   `e & 7` the alignment ([`ALIGNS`]), `e & 8` zeroed, `e & 16` into
//!   arena `e >> 5` with `alloc_in` (small layouts, not zeroed).
//!
//! Needs the `testing` feature of wasm-vmem (`alloc_in`,
//! `check_invariants`, `SimMemory::contains`).
#![allow(dead_code)]

use core::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use wasm_vmem::policy::{MultiThreaded, Policy, SingleThreaded};
use wasm_vmem::sys::{LinearMemory, SimMemory};
use wasm_vmem::{GenericAlloc, LARGE_MIN, PAGE_SIZE, WASM_PAGE_SIZE};

const MIB: usize = 1024 * 1024;

/// Slots of the shared block table.
pub const SLOTS: usize = 32;

/// Most operations decoded from one input.
pub const MAX_OPS: usize = 320;

/// Most rounds: further round ends are ignored.
pub const MAX_ROUNDS: usize = 8;

/// Bytes per operation.
pub const OP_BYTES: usize = 5;

/// Alignments, by `e & 7`: up to four pages.
pub const ALIGNS: [usize; 8] = [8, 1, 16, 64, 512, 4096, PAGE_SIZE, 4 * PAGE_SIZE];

/// Blocks up to this size carry their pattern (and are checked zero) in
/// every byte; larger ones in their first and last 4 KiB and 64 bytes of
/// every KiB between (every page sixteen times).
const FULL: usize = 64 * 1024;

/// What a null result may need beyond the request's own size and
/// alignment: a span (at most 256 KiB at its own alignment) and the
/// pool's metadata.
const SLACK: usize = MIB;

/// Which build an input runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// `mt::Alloc`, on threads.
    Mt,
    /// `st::Alloc`, streams interleaved on one thread.
    St,
}

/// What one run is made of.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub build: Build,
    pub threads: usize,
    /// The memory maximum, in bytes.
    pub memory: usize,
}

/// One operation of one thread.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Frees the slot's block if any, then allocates into the slot.
    Alloc {
        slot: usize,
        size: usize,
        align: usize,
        zeroed: bool,
        /// `alloc_in` this arena (small layouts only).
        arena: Option<usize>,
    },
    /// Reallocates the slot's block, if any.
    Realloc { slot: usize, size: usize },
    /// Frees the slot's block, if any.
    Free { slot: usize },
    /// `trim`, and the statistics read while other threads run (none
    /// wrapped below zero).
    Trim,
    /// The end of a round: every thread stops, the quiescent checks run,
    /// fresh threads start the next.
    Round,
}

/// The size of an operation from its range `r` (3 bits) and value `v`.
pub fn size(r: u8, v: u16) -> usize {
    let v = usize::from(v);
    match r {
        2 => 1 + v % 1024,
        3 => 1 + v % 8192,
        // 1 B to 64 KiB: the whole small range, and the large blocks of
        // up to four pages that a heap may keep.
        4 => 1 + v,
        // Around `LARGE_MIN`.
        5 => LARGE_MIN - 256 + v % 512,
        // Large, up to about 1 MiB.
        6 => LARGE_MIN + v * 16,
        // The classes of 8-byte steps.
        _ => 1 + v % 64,
    }
}

/// Decodes an input (see the module docs); never fails.
pub fn decode(data: &[u8]) -> (Config, Vec<(usize, Op)>) {
    let h = data.first().copied().unwrap_or(0);
    let config = Config {
        build: if h & 1 == 0 { Build::Mt } else { Build::St },
        threads: [2, 3, 3, 1][usize::from((h >> 1) & 3)],
        memory: [64, 64, 16, 4][usize::from((h >> 3) & 3)] * MIB,
    };
    let ops = data
        .get(1..)
        .unwrap_or_default()
        .chunks_exact(OP_BYTES)
        .take(MAX_OPS)
        .map(|c| {
            let thread = usize::from(c[0] & 3) % config.threads;
            let slot = usize::from(c[1]) % SLOTS;
            let size = size(c[0] >> 5, u16::from_le_bytes([c[2], c[3]]));
            let op = match (c[0] >> 2) & 7 {
                0..=2 => Op::Alloc {
                    slot,
                    size,
                    align: ALIGNS[usize::from(c[4] & 7)],
                    zeroed: c[4] & 8 != 0,
                    arena: (c[4] & 16 != 0).then_some(usize::from(c[4] >> 5)),
                },
                3 | 4 => Op::Realloc { slot, size },
                5 | 6 => Op::Free { slot },
                _ if c[1] & 1 == 0 => Op::Trim,
                _ => Op::Round,
            };
            (thread, op)
        })
        .collect();
    (config, ops)
}

/// Decodes and runs an input (the fuzz target's body).
pub fn run_bytes(data: &[u8]) {
    let (config, ops) = decode(data);
    match config.build {
        Build::Mt => run_mt(&config, &ops),
        Build::St => run_st(&config, &ops),
    }
}

/// The operations split into rounds, each into one stream per thread.
fn rounds(config: &Config, ops: &[(usize, Op)]) -> Vec<Vec<Vec<Op>>> {
    let fresh = || vec![Vec::new(); config.threads];
    let mut rounds = vec![fresh()];
    for &(thread, op) in ops {
        match op {
            Op::Round if rounds.len() < MAX_ROUNDS => rounds.push(fresh()),
            Op::Round => {}
            op => rounds.last_mut().expect("a round")[thread].push(op),
        }
    }
    rounds
}

/// Runs `ops` over `mt::Alloc`, each round's streams on threads of their
/// own.
pub fn run_mt(config: &Config, ops: &[(usize, Op)]) {
    let a = GenericAlloc::<SimMemory, MultiThreaded>::new(SimMemory::new(config.memory));
    let m = Model::new(&a);
    for round in rounds(config, ops) {
        let streams: Vec<_> = round.into_iter().filter(|s| !s.is_empty()).collect();
        let start = Barrier::new(streams.len());
        std::thread::scope(|s| {
            let threads: Vec<_> = streams
                .iter()
                .map(|stream| {
                    let (m, start) = (&m, &start);
                    s.spawn(move || {
                        start.wait();
                        for op in stream {
                            m.step(op);
                        }
                    })
                })
                .collect();
            // Joined one by one rather than by the end of the scope, which
            // returns before the threads have run their thread-local
            // destructors: the fuzzer's leak check would then count them.
            for t in threads {
                if let Err(panic) = t.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
        m.check_quiescent();
    }
    m.finish();
}

/// Runs `ops` over `st::Alloc`, each round's streams interleaved op by op
/// on this thread.
pub fn run_st(config: &Config, ops: &[(usize, Op)]) {
    let a = GenericAlloc::<SimMemory, SingleThreaded>::new(SimMemory::new(config.memory));
    let m = Model::new(&a);
    for round in rounds(config, ops) {
        let longest = round.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for op in round.iter().filter_map(|s| s.get(i)) {
                m.step(op);
            }
        }
        m.check_quiescent();
    }
    m.finish();
}

/// A live block: where, its layout, the seed of its pattern.
#[derive(Clone, Copy, Debug)]
struct Block {
    addr: usize,
    layout: Layout,
    seed: usize,
}

/// Whether the allocator serves `layout` with pages (as `GenericAlloc`
/// decides).
fn is_large(layout: Layout) -> bool {
    layout.size() >= LARGE_MIN || layout.align() >= PAGE_SIZE
}

/// The parts of a block of `size` bytes that carry its pattern, as
/// (offset, length): all of it up to [`FULL`] bytes, else its first and
/// last 4 KiB and 64 bytes of every KiB between.
fn marks(size: usize) -> impl Iterator<Item = (usize, usize)> {
    let (head, tail) = if size <= FULL {
        (size, size)
    } else {
        (4096, size - 4096)
    };
    let middle = (head..tail)
        .step_by(1024)
        .map(move |o| (o, 64.min(tail - o)));
    core::iter::once((0, head))
        .chain(middle)
        .chain(core::iter::once((tail, size - tail)))
        .filter(|&(_, len)| len > 0)
}

/// Bytes the patterns are cut from: pseudo-random, computed once.
fn table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..3 * FULL)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    })
}

/// The bytes `offset .. offset + len` (a part of [`marks`]) of the
/// pattern of seed `seed`: the table from an offset of the seed's, so that
/// blocks of different seeds differ at most bytes. Compared and copied
/// whole (`memcmp`, `memcpy`): per-byte loops would spend the fuzzer's
/// time in its comparison hooks.
fn pattern(seed: usize, offset: usize, len: usize) -> &'static [u8] {
    let start = seed.wrapping_mul(40_503) % FULL + offset % FULL;
    &table()[start..start + len]
}

/// [`FULL`] zero bytes.
static ZEROS: [u8; FULL] = [0; FULL];

impl Block {
    fn ptr(&self) -> *mut u8 {
        self.addr as *mut u8
    }

    /// The bytes `offset .. offset + len` of the block.
    fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        // SAFETY: inside the live block (callers pass parts of `marks`,
        // clipped), which this thread holds alone (out of the table).
        unsafe { core::slice::from_raw_parts(self.ptr().add(offset), len) }
    }

    /// Writes the pattern.
    fn stamp(&self) {
        for (offset, len) in marks(self.layout.size()) {
            let p = pattern(self.seed, offset, len);
            // SAFETY: inside the live block, which this thread holds alone
            // (out of the table); the table is not in it.
            unsafe { core::ptr::copy_nonoverlapping(p.as_ptr(), self.ptr().add(offset), len) };
        }
    }

    /// Checks the pattern at the marked bytes below `end`.
    fn check(&self, end: usize, what: &str) {
        for (offset, len) in marks(self.layout.size()).take_while(|&(o, _)| o < end) {
            let len = len.min(end - offset);
            let (got, want) = (self.bytes(offset, len), pattern(self.seed, offset, len));
            if got != want {
                let i = (0..len).find(|&i| got[i] != want[i]).unwrap_or(0);
                panic!(
                    "{what}: byte {} of {self:?} is {:#04x}, not {:#04x}",
                    offset + i,
                    got[i],
                    want[i]
                );
            }
        }
    }

    /// Checks that the marked bytes read zero.
    fn check_zero(&self) {
        for (offset, len) in marks(self.layout.size()) {
            let got = self.bytes(offset, len);
            if *got != ZEROS[..len] {
                let i = got.iter().position(|&b| b != 0).unwrap_or(0);
                panic!("byte {} of zeroed {self:?} is {:#04x}", offset + i, got[i]);
            }
        }
    }
}

/// The instance, the table of live blocks and the model of live ranges.
struct Model<'a, P: Policy> {
    a: &'a GenericAlloc<SimMemory, P>,
    slots: Mutex<[Option<Block>; SLOTS]>,
    /// Live ranges, start to end.
    live: Mutex<BTreeMap<usize, usize>>,
    seeds: AtomicUsize,
}

impl<'a, P: Policy> Model<'a, P> {
    fn new(a: &'a GenericAlloc<SimMemory, P>) -> Self {
        Self {
            a,
            slots: Mutex::new([None; SLOTS]),
            live: Mutex::new(BTreeMap::new()),
            seeds: AtomicUsize::new(1),
        }
    }

    fn step(&self, op: &Op) {
        match *op {
            Op::Alloc {
                slot,
                size,
                align,
                zeroed,
                arena,
            } => {
                if let Some(b) = self.take(slot) {
                    self.free(b);
                }
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                if let Some(b) = self.alloc(layout, zeroed, arena) {
                    self.put(slot, b);
                }
            }
            Op::Realloc { slot, size } => {
                if let Some(b) = self.take(slot) {
                    let b = self.realloc(b, size);
                    self.put(slot, b);
                }
            }
            Op::Free { slot } => {
                if let Some(b) = self.take(slot) {
                    self.free(b);
                }
            }
            Op::Trim => {
                self.a.trim();
                let _ = self.a.vmem().stats();
                // Read while other threads allocate and free: no figure
                // exact, none wrapped below zero either.
                for _ in 0..16 {
                    let s = self.a.stats();
                    let figures = [s.in_use_bytes, s.small_in_use_bytes, s.large_bytes];
                    assert!(figures.iter().all(|&f| f < 1 << 48), "{s:?}");
                }
            }
            Op::Round => {}
        }
    }

    /// Takes the slot's block out of the table: this thread's alone now.
    fn take(&self, slot: usize) -> Option<Block> {
        self.slots.lock().unwrap()[slot].take()
    }

    /// Puts `b` into the slot; a block another thread put there meanwhile
    /// is freed.
    fn put(&self, slot: usize, b: Block) {
        let displaced = self.slots.lock().unwrap()[slot].replace(b);
        if let Some(d) = displaced {
            self.free(d);
        }
    }

    /// A new block of `layout`, checked, in the live model and stamped;
    /// `None` if the allocator had no memory (checked: it had none).
    fn alloc(&self, layout: Layout, zeroed: bool, arena: Option<usize>) -> Option<Block> {
        let in_arena = arena.filter(|_| !is_large(layout));
        let p = match in_arena {
            Some(arena) => self.a.alloc_in(arena, layout),
            // SAFETY: a layout of non-zero size.
            None if zeroed => unsafe { self.a.alloc_zeroed(layout) },
            // SAFETY: as above.
            None => unsafe { self.a.alloc(layout) },
        };
        if p.is_null() {
            self.out_of_memory(layout, "alloc");
            return None;
        }
        let b = Block {
            addr: p as usize,
            layout,
            seed: self.seeds.fetch_add(1, Relaxed),
        };
        self.check_placed(&b);
        if zeroed && in_arena.is_none() {
            b.check_zero();
        }
        self.enter(&b);
        b.stamp();
        Some(b)
    }

    /// Reallocates `b` to `size` bytes: the new block, or `b` itself,
    /// intact, if the allocator had no memory.
    fn realloc(&self, b: Block, size: usize) -> Block {
        b.check(usize::MAX, "before realloc");
        let layout = Layout::from_size_align(size, b.layout.align()).expect("a valid layout");
        // Out of the model before the allocator may hand any of it out.
        self.leave(&b);
        // SAFETY: a live block of this allocator with that layout, held by
        // this thread alone; a non-zero size that stays valid at that
        // alignment.
        let p = unsafe { self.a.realloc(b.ptr(), b.layout, size) };
        if p.is_null() {
            self.out_of_memory(layout, "realloc");
            self.enter(&b);
            b.check(usize::MAX, "after a failed realloc");
            return b;
        }
        let new = Block {
            addr: p as usize,
            layout,
            seed: self.seeds.fetch_add(1, Relaxed),
        };
        self.check_placed(&new);
        // The old pattern (at the old size's marks) at the new place.
        let moved = Block {
            addr: new.addr,
            ..b
        };
        moved.check(b.layout.size().min(size), "the prefix realloc keeps");
        self.enter(&new);
        new.stamp();
        new
    }

    /// Checks and frees `b`.
    fn free(&self, b: Block) {
        b.check(usize::MAX, "before free");
        self.leave(&b);
        // SAFETY: a live block of this allocator with that layout, held by
        // this thread alone, out of the model.
        unsafe { self.a.dealloc(b.ptr(), b.layout) };
    }

    /// Checks that a null result for `layout` came with the memory unable
    /// to grow by what it needs.
    fn out_of_memory(&self, layout: Layout, what: &str) {
        let mem = self.a.vmem().memory();
        let size = mem.size() * WASM_PAGE_SIZE;
        let max = mem.maximum().expect("a maximum") * WASM_PAGE_SIZE;
        let need = layout.size().max(PAGE_SIZE) + layout.align().max(PAGE_SIZE) + SLACK;
        assert!(
            size + need > max,
            "{what} {layout:?} gave null with {size} of {max} bytes grown"
        );
    }

    /// Checks where a block lies: aligned and inside the memory.
    fn check_placed(&self, b: &Block) {
        assert_eq!(b.addr % b.layout.align(), 0, "misaligned {b:?}");
        assert!(
            self.a.vmem().memory().contains(b.addr, b.layout.size()),
            "{b:?} outside the memory"
        );
    }

    /// Puts `b`'s range into the model, checking it overlaps none.
    fn enter(&self, b: &Block) {
        let (start, end) = (b.addr, b.addr + b.layout.size());
        let mut live = self.live.lock().unwrap();
        if let Some((&s, &e)) = live.range(..=start).next_back() {
            assert!(e <= start, "{b:?} overlaps the live {s:#x}..{e:#x}");
        }
        if let Some((&s, &e)) = live.range(start..).next() {
            assert!(end <= s, "{b:?} overlaps the live {s:#x}..{e:#x}");
        }
        live.insert(start, end);
    }

    /// Takes `b`'s range out of the model.
    fn leave(&self, b: &Block) {
        let end = self.live.lock().unwrap().remove(&b.addr);
        assert_eq!(end, Some(b.addr + b.layout.size()), "{b:?} not live");
    }

    /// With no thread running: the statistics equal the model, the pool
    /// holds exactly the allocator's pages, its invariants hold.
    fn check_quiescent(&self) {
        let slots = self.slots.lock().unwrap();
        let blocks: Vec<Block> = slots.iter().flatten().copied().collect();
        assert_eq!(
            self.live.lock().unwrap().len(),
            blocks.len(),
            "every live range is a block of the table"
        );
        let (mut small, mut large, mut pages) = (0u64, 0u64, 0u64);
        for b in &blocks {
            let size = b.layout.size() as u64;
            if is_large(b.layout) {
                large += size;
                pages += b.layout.size().next_multiple_of(PAGE_SIZE) as u64;
            } else {
                small += size;
            }
        }
        let s = self.a.stats();
        assert_eq!(s.in_use_bytes, small + large, "in use: {s:?}");
        assert_eq!(s.small_in_use_bytes, small, "small in use: {s:?}");
        assert_eq!(s.large_bytes, pages, "large pages: {s:?}");
        let v = self.a.vmem().stats();
        assert_eq!(
            v.reserved_bytes,
            s.large_bytes + s.small_held_bytes,
            "the pool holds the allocator's pages: {s:?} {v:?}"
        );
        self.a.vmem().check_invariants();
    }

    /// Frees every block (from this thread), then checks that nothing is
    /// in use and, after `trim`, that the pool holds no reservation.
    fn finish(&self) {
        self.check_quiescent();
        let blocks: Vec<Block> = self
            .slots
            .lock()
            .unwrap()
            .iter_mut()
            .flat_map(Option::take)
            .collect();
        for b in blocks {
            self.free(b);
        }
        let s = self.a.stats();
        assert_eq!(s.in_use_bytes, 0, "{s:?}");
        assert_eq!(s.small_in_use_bytes, 0, "{s:?}");
        assert_eq!(s.large_bytes, 0, "{s:?}");
        self.a.trim();
        let s = self.a.stats();
        assert_eq!((s.small_spans, s.small_held_bytes), (0, 0), "{s:?}");
        let v = self.a.vmem().stats();
        assert_eq!(v.reserved_bytes, 0, "after trim: {s:?} {v:?}");
        self.a.vmem().check_invariants();
    }
}
