//! Global-allocator benchmarks (issue 11; BENCHMARKS.md, "Global
//! allocator"): wasm-vmem's `GenericAlloc` against dlmalloc (the wasm
//! default), talc and, natively, the system allocator.
//!
//! Every workload is a plain function, generic over the allocator (any
//! `GlobalAlloc`, `dyn` included), so that the browser bench page runs the
//! same code over the module's memory; [`Instance`] adds what the figures
//! need (a name, the memory grown, the bytes `alloc_zeroed` wrote). The
//! native drivers (threads, interleaving, JSON) are in [`native`]; the
//! `alloc` binary runs them.
//!
//! - (a) [`small_single`], [`small_worker`]: mixed 16–2048 B objects, one
//!   thread, or several threads handing half of each batch to the next
//!   thread, which frees it ([`Ring`]).
//! - (b) [`large_zeroed`]: `vec![0u8; n]` over and over, a byte written
//!   per 4 KiB, freed; [`DirtyOracle`] counts the bytes that held old data.
//! - (c) [`gc_phase`] then [`app_phase`]: a GC heap of segments on a page
//!   pool grows and shrinks, then the app allocates its `Vec`s.
//! - [`realloc_growth`]: a buffer doubled up to 64 MiB, twice.
//! - the `LARGE_MIN` threshold: [`threshold`].
//! - small-object churn, peak memory ÷ peak live: [`small_churn`].

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::collections::HashSet;
use wasm_vmem::lock::SpinLock;
use wasm_vmem::policy::Policy;
use wasm_vmem::sys::LinearMemory;
use wasm_vmem::{GenericAlloc, GenericVmem, PAGE_SIZE};

pub use crate::figures::Clock;

/// An allocator under test, with what the figures read from it.
pub trait Instance: GlobalAlloc {
    /// Name in tables and in the JSON.
    fn name(&self) -> &str;
    /// Bytes of memory it grew (its linear memory, or its OS footprint):
    /// memory never shrinks, so this is its high-water mark. `None` when
    /// it cannot be known (the system allocator).
    fn footprint(&self) -> Option<u64>;
    /// Bytes `alloc_zeroed` wrote with zeros, when known.
    fn zeroed_bytes(&self) -> Option<u64>;

    /// [`small_single`] on this backend. Called through `dyn Instance`,
    /// the loop is still compiled for each backend alone, as a program's
    /// calls to its one global allocator are: through one shared call
    /// site, the engine's inlining (V8's speculative inlining of indirect
    /// calls in the browser) would favour some backends over others
    /// (docs/DESIGN.md §10, entry 31).
    fn run_small_single(&self, rounds: usize, batch: usize) -> u64 {
        small_single(self, rounds, batch)
    }

    /// [`small_worker`] on this backend, compiled for it alone (see
    /// [`run_small_single`](Self::run_small_single)).
    fn run_small_worker(
        &self,
        ring: &Ring,
        t: usize,
        rounds: usize,
        batch: usize,
        cross: bool,
    ) -> u64 {
        small_worker(self, ring, t, rounds, batch, cross)
    }
}

// ---------------------------------------------------------------- backends

/// An allocator instance that its constructor's caller declares `Sync`:
/// one only ever driven from one thread (the single-threaded wasm-vmem, any
/// instance in a module without atomics), or one whose every access goes
/// through its own lock although its type is `!Sync` (talc's wasm source
/// and lol_alloc's free list hold raw pointers). Forwards everything.
pub struct AssertSync<A>(A);

impl<A> AssertSync<A> {
    /// Wraps `a`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that sharing `a` between threads is sound:
    /// no two threads use it at once, or it locks every access itself.
    pub unsafe fn new(a: A) -> Self {
        Self(a)
    }
}

// SAFETY: the constructor's contract.
unsafe impl<A> Sync for AssertSync<A> {}

// SAFETY: forwarded.
unsafe impl<A: GlobalAlloc> GlobalAlloc for AssertSync<A> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.0.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.realloc(p, l, n) }
    }
}

impl<A: Instance> Instance for AssertSync<A> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn footprint(&self) -> Option<u64> {
        self.0.footprint()
    }
    fn zeroed_bytes(&self) -> Option<u64> {
        self.0.zeroed_bytes()
    }
}

/// wasm-vmem's allocator over a linear memory `M`.
pub struct Vmem<M, P: Policy> {
    name: &'static str,
    /// The allocator (its pool is `alloc.vmem()`).
    pub alloc: GenericAlloc<M, P>,
}

impl<M, P: Policy> Vmem<M, P> {
    /// A fresh allocator over `memory`.
    pub fn new(name: &'static str, memory: M) -> Self {
        Self {
            name,
            alloc: GenericAlloc::new(memory),
        }
    }
}

// SAFETY: forwarded to `GenericAlloc`.
unsafe impl<M: LinearMemory, P: Policy> GlobalAlloc for Vmem<M, P> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.alloc.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.alloc.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.alloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.alloc.realloc(p, l, n) }
    }
}

impl<M: LinearMemory, P: Policy> Instance for Vmem<M, P> {
    fn name(&self) -> &str {
        self.name
    }
    fn footprint(&self) -> Option<u64> {
        // Memory it grew itself (foreign growth is not its own).
        Some(self.alloc.vmem().stats().owned_bytes)
    }
    fn zeroed_bytes(&self) -> Option<u64> {
        Some(self.alloc.stats().zeroed_bytes)
    }
}

/// Any `GlobalAlloc` whose `alloc_zeroed` always writes the whole block
/// (dlmalloc, talc, lol_alloc: checked in their sources), counted; or one
/// whose zeroing cannot be seen (`zeroes_always = false`: the system
/// allocator's `calloc` skips fresh pages).
pub struct Counted<A> {
    name: &'static str,
    /// The allocator.
    pub inner: A,
    zeroes_always: bool,
    zeroed: AtomicU64,
    footprint: Option<fn(&A) -> u64>,
}

impl<A> Counted<A> {
    /// `inner` under `name`; `footprint` reads the memory it grew.
    pub fn new(
        name: &'static str,
        inner: A,
        zeroes_always: bool,
        footprint: Option<fn(&A) -> u64>,
    ) -> Self {
        Self {
            name,
            inner,
            zeroes_always,
            zeroed: AtomicU64::new(0),
            footprint,
        }
    }
}

// SAFETY: forwarded to `inner`.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counted<A> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.inner.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        self.zeroed.fetch_add(l.size() as u64, Relaxed);
        // SAFETY: forwarded (caller).
        unsafe { self.inner.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.inner.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.inner.realloc(p, l, n) }
    }
}

impl<A: GlobalAlloc> Instance for Counted<A> {
    fn name(&self) -> &str {
        self.name
    }
    fn footprint(&self) -> Option<u64> {
        self.footprint.map(|f| f(&self.inner))
    }
    fn zeroed_bytes(&self) -> Option<u64> {
        self.zeroes_always.then(|| self.zeroed.load(Relaxed))
    }
}

/// dlmalloc (the allocator of Rust's std on wasm) as an instance: one heap
/// behind a spinlock, as std does with its lock in the threaded build.
pub struct Dlmalloc<S: dlmalloc::Allocator> {
    heap: lock_api::Mutex<SpinLock, dlmalloc::Dlmalloc<CountingSys<S>>>,
    zeroed: AtomicU64,
}

impl<S: dlmalloc::Allocator> Dlmalloc<S> {
    /// dlmalloc getting its memory from `sys`.
    pub fn new(sys: S) -> Self {
        Self {
            heap: lock_api::Mutex::new(dlmalloc::Dlmalloc::new_with_allocator(CountingSys {
                inner: sys,
                bytes: AtomicUsize::new(0),
            })),
            zeroed: AtomicU64::new(0),
        }
    }

    /// Bytes dlmalloc got from its system allocator (on wasm: grew).
    pub fn footprint(&self) -> u64 {
        self.heap.lock().allocator().bytes.load(Relaxed) as u64
    }
}

// SAFETY: forwarded to dlmalloc, one call at a time under the lock.
unsafe impl<S: dlmalloc::Allocator> GlobalAlloc for Dlmalloc<S> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.heap.lock().malloc(l.size(), l.align()) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // dlmalloc 0.2's `calloc` writes the block unless it is an mmapped
        // chunk, which it never makes (it has no mmap path).
        self.zeroed.fetch_add(l.size() as u64, Relaxed);
        // SAFETY: forwarded (caller).
        unsafe { self.heap.lock().calloc(l.size(), l.align()) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.heap.lock().free(p, l.size(), l.align()) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.heap.lock().realloc(p, l.size(), l.align(), n) }
    }
}

/// A dlmalloc system allocator that counts the bytes it handed out.
pub struct CountingSys<S> {
    inner: S,
    bytes: AtomicUsize,
}

// SAFETY: forwarded to `inner`.
unsafe impl<S: dlmalloc::Allocator> dlmalloc::Allocator for CountingSys<S> {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let r = self.inner.alloc(size);
        if !r.0.is_null() {
            self.bytes.fetch_add(r.1, Relaxed);
        }
        r
    }
    fn remap(&self, ptr: *mut u8, old: usize, new: usize, can_move: bool) -> *mut u8 {
        self.inner.remap(ptr, old, new, can_move)
    }
    fn free_part(&self, ptr: *mut u8, old: usize, new: usize) -> bool {
        let freed = self.inner.free_part(ptr, old, new);
        if freed {
            self.bytes.fetch_sub(old - new, Relaxed);
        }
        freed
    }
    fn free(&self, ptr: *mut u8, size: usize) -> bool {
        let freed = self.inner.free(ptr, size);
        if freed {
            self.bytes.fetch_sub(size, Relaxed);
        }
        freed
    }
    fn can_release_part(&self, flags: u32) -> bool {
        self.inner.can_release_part(flags)
    }
    fn allocates_zeros(&self) -> bool {
        self.inner.allocates_zeros()
    }
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }
}

/// dlmalloc's wasm system allocator over any linear memory: `memory.grow`
/// for every request, nothing ever given back (dlmalloc's `wasm.rs`).
/// Natively over a `SimMemory`, this is dlmalloc exactly as in a wasm
/// module.
pub struct GrowSys<M>(pub M);

// SAFETY: regions come from `grow`, whole wasm pages never handed out
// twice; nothing is freed.
unsafe impl<M: LinearMemory + Send> dlmalloc::Allocator for GrowSys<M> {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let pages = size.div_ceil(wasm_vmem::WASM_PAGE_SIZE);
        match self.0.grow(pages) {
            Some(prev) => (
                (self.0.base() + prev * wasm_vmem::WASM_PAGE_SIZE) as *mut u8,
                pages * wasm_vmem::WASM_PAGE_SIZE,
                0,
            ),
            None => (core::ptr::null_mut(), 0, 0),
        }
    }
    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        core::ptr::null_mut()
    }
    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }
    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }
    fn can_release_part(&self, _: u32) -> bool {
        false
    }
    fn allocates_zeros(&self) -> bool {
        true
    }
    fn page_size(&self) -> usize {
        wasm_vmem::WASM_PAGE_SIZE
    }
}

impl<S: dlmalloc::Allocator> Instance for Dlmalloc<S> {
    fn name(&self) -> &str {
        "dlmalloc"
    }
    fn footprint(&self) -> Option<u64> {
        Some(Dlmalloc::footprint(self))
    }
    fn zeroed_bytes(&self) -> Option<u64> {
        Some(self.zeroed.load(Relaxed))
    }
}

// ----------------------------------------------------------- random sizes

/// A small xorshift generator (fixed seeds: every backend sees the same
/// sequence).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded (never 0).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Log-uniform in `lo ..= hi` (powers of two between, then uniform
    /// inside the octave).
    pub fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        let (a, b) = (lo.ilog2(), hi.ilog2());
        let e = a + (self.next_u64() % u64::from(b - a + 1)) as u32;
        let base = 1usize << e;
        (base + (self.next_u64() as usize % base)).clamp(lo, hi)
    }
}

/// A live block: address and layout.
pub type Block = (usize, Layout);

/// Allocates `size` bytes (align 8) and writes its first and last byte.
///
/// # Panics
///
/// If the allocator returns null.
pub fn alloc_touch<A: GlobalAlloc + ?Sized>(a: &A, size: usize) -> Block {
    let l = Layout::from_size_align(size, 8).expect("layout");
    // SAFETY: non-zero size.
    let p = unsafe { a.alloc(l) };
    assert!(!p.is_null(), "out of memory ({size} B)");
    // SAFETY: inside the fresh block.
    unsafe {
        p.write(size as u8);
        p.add(size - 1).write(1);
    }
    (p as usize, l)
}

/// Frees a block of `alloc_touch`.
///
/// # Safety
///
/// `b` is a live block of `a`.
pub unsafe fn free<A: GlobalAlloc + ?Sized>(a: &A, b: Block) {
    // SAFETY: as the caller guarantees.
    unsafe { a.dealloc(b.0 as *mut u8, b.1) }
}

// --------------------------------------------------------- (a) small objects

/// Smallest and largest object of the small-object workloads.
pub const SMALL: (usize, usize) = (16, 2048);

/// Single-thread small objects: `rounds` rounds of a batch of `batch` mixed
/// 16–2048 B objects allocated, every other one freed, half a batch more
/// allocated, then all freed. Returns the operations (allocations plus
/// frees).
pub fn small_single<A: GlobalAlloc + ?Sized>(a: &A, rounds: usize, batch: usize) -> u64 {
    let mut rng = Rng::new(1);
    let mut live: Vec<Block> = Vec::with_capacity(batch * 2);
    let mut ops = 0u64;
    for _ in 0..rounds {
        for _ in 0..batch {
            live.push(alloc_touch(a, rng.log_uniform(SMALL.0, SMALL.1)));
        }
        let mut i = 0;
        live.retain(|&b| {
            i += 1;
            if i % 2 == 0 {
                // SAFETY: a live block of `a`, dropped from the list.
                unsafe { free(a, b) };
                false
            } else {
                true
            }
        });
        for _ in 0..batch / 2 {
            live.push(alloc_touch(a, rng.log_uniform(SMALL.0, SMALL.1)));
        }
        ops += (batch + batch / 2) as u64 * 2;
        for b in live.drain(..) {
            // SAFETY: live blocks of `a`.
            unsafe { free(a, b) };
        }
    }
    ops
}

/// Mailboxes of the cross-thread workload: thread `t` posts blocks to
/// `t + 1` (mod threads). Spinlocks: never waits, safe on the browser main
/// thread.
pub struct Ring {
    slots: Vec<lock_api::Mutex<SpinLock, Vec<Block>>>,
}

impl Ring {
    /// Mailboxes for `threads` threads.
    pub fn new(threads: usize) -> Self {
        Self {
            slots: (0..threads)
                .map(|_| lock_api::Mutex::new(Vec::new()))
                .collect(),
        }
    }

    /// Frees what is left in the mailboxes (after every worker finished).
    ///
    /// # Safety
    ///
    /// The blocks posted are live blocks of `a`.
    pub unsafe fn drain<A: GlobalAlloc + ?Sized>(&self, a: &A) {
        for s in &self.slots {
            for b in s.lock().drain(..) {
                // SAFETY: as the caller guarantees.
                unsafe { free(a, b) };
            }
        }
    }
}

/// Thread `t`'s part of the multithreaded workload: `rounds` rounds of a
/// batch of mixed 16–2048 B objects, of which it frees one half itself and,
/// if `cross`, posts the other half to the next thread (else frees it too);
/// then it frees what the previous thread posted to it. Returns the
/// operations. Call [`Ring::drain`] once all threads are done.
pub fn small_worker<A: GlobalAlloc + ?Sized>(
    a: &A,
    ring: &Ring,
    t: usize,
    rounds: usize,
    batch: usize,
    cross: bool,
) -> u64 {
    let n = ring.slots.len();
    let mut rng = Rng::new(t as u64 + 7);
    let mut mine: Vec<Block> = Vec::with_capacity(batch);
    let mut post: Vec<Block> = Vec::with_capacity(batch);
    let mut got: Vec<Block> = Vec::with_capacity(batch * 2);
    let mut ops = 0u64;
    for _ in 0..rounds {
        for i in 0..batch {
            let b = alloc_touch(a, rng.log_uniform(SMALL.0, SMALL.1));
            if i % 2 == 0 || n == 1 || !cross {
                mine.push(b);
            } else {
                post.push(b);
            }
        }
        for b in mine.drain(..) {
            // SAFETY: a live block of `a`.
            unsafe { free(a, b) };
        }
        if !post.is_empty() {
            ring.slots[(t + 1) % n].lock().append(&mut post);
        }
        core::mem::swap(&mut got, &mut *ring.slots[t].lock());
        for b in got.drain(..) {
            // SAFETY: a live block of `a`, posted by the previous thread.
            unsafe { free(a, b) };
        }
        ops += 2 * batch as u64;
    }
    ops
}

/// Single-thread small-object speed in the steady state, million
/// operations per second of each backend: (mixed trace, batches).
///
/// Each backend is warmed up first (100 rounds of each trace: its segments
/// or regions taken, and in wasm its code tiered up), then `reps`
/// repetitions of `rounds` rounds of [`small_single`] and of batches
/// allocated then freed ([`small_worker`] on one thread), interleaved over
/// the backends; each figure is the median. The (a) tables time fresh
/// instances for a few milliseconds, where first-touch faults, the JIT and
/// the machine's noise weigh as much as the allocator: this is the figure
/// for "single-thread speed", natively (`--example small_steady`) and in
/// the browser (the bench page).
pub fn small_steady(
    backends: &[&(dyn Instance + Sync)],
    rounds: usize,
    batch: usize,
    reps: usize,
    clock: crate::figures::Clock,
) -> Vec<(f64, f64)> {
    let ring = Ring::new(1);
    for a in backends {
        a.run_small_single(100, batch);
        a.run_small_worker(&ring, 0, 100, batch, true);
    }
    let n = backends.len();
    let (mut mixed, mut batches) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    for _ in 0..reps.max(1) {
        for (i, a) in backends.iter().enumerate() {
            let t = clock();
            let ops = a.run_small_single(rounds, batch);
            mixed[i].push(ops as f64 / (clock() - t).max(1e-9) / 1e6);
            let t = clock();
            let ops = a.run_small_worker(&ring, 0, rounds, batch, true);
            batches[i].push(ops as f64 / (clock() - t).max(1e-9) / 1e6);
        }
    }
    mixed
        .iter_mut()
        .zip(&mut batches)
        .map(|(m, b)| (median(m), median(b)))
        .collect()
}

// ------------------------------------------------- blocks of a few KiB

/// Sizes of [`mid_batches`]: log-uniform from 2 KiB (past the small
/// traces) to 64 KiB, across wasm-vmem's `LARGE_MIN`.
pub const MID: (usize, usize) = (2 * 1024, 64 * 1024);

/// Blocks of a few KiB (buffers, strings, nodes of wide trees): `rounds`
/// rounds of a batch of `batch` blocks of [`MID`] sizes, each written at
/// its first and last byte, then all freed. Returns the operations.
pub fn mid_batches<A: GlobalAlloc + ?Sized>(a: &A, rounds: usize, batch: usize) -> u64 {
    let mut rng = Rng::new(23);
    let mut live: Vec<Block> = Vec::with_capacity(batch);
    for _ in 0..rounds {
        for _ in 0..batch {
            live.push(alloc_touch(a, rng.log_uniform(MID.0, MID.1)));
        }
        for b in live.drain(..) {
            // SAFETY: a live block of `a`.
            unsafe { free(a, b) };
        }
    }
    (rounds * batch * 2) as u64
}

/// [`mid_batches`] in the steady state, million operations per second of
/// each backend for each batch size in `batches`: each backend warmed up
/// (a round of each batch size), then `reps` repetitions of about
/// `blocks` blocks per batch size, interleaved over the backends; each
/// figure is the median.
pub fn mid_steady(
    backends: &[&(dyn Instance + Sync)],
    batches: &[usize],
    blocks: usize,
    reps: usize,
    clock: crate::figures::Clock,
) -> Vec<Vec<f64>> {
    for a in backends {
        for &b in batches {
            mid_batches(*a, 1, b);
        }
    }
    let mut runs = vec![vec![Vec::new(); batches.len()]; backends.len()];
    for _ in 0..reps.max(1) {
        for (i, a) in backends.iter().enumerate() {
            for (j, &b) in batches.iter().enumerate() {
                let t = clock();
                let ops = mid_batches(*a, (blocks / b).max(1), b);
                runs[i][j].push(ops as f64 / (clock() - t).max(1e-9) / 1e6);
            }
        }
    }
    runs.iter_mut()
        .map(|r| r.iter_mut().map(|v| median(v)).collect())
        .collect()
}

// ------------------------------------------------------- small-object churn

/// Parameters of [`small_churn`].
#[derive(Clone, Copy, Debug)]
pub struct ChurnConfig {
    /// Bound of the live bytes' highs (each cycle's high is half of it to
    /// all of it).
    pub max_live: usize,
    /// Grow-then-shrink cycles.
    pub cycles: usize,
    /// Seed of the sizes and the decisions.
    pub seed: u64,
}

/// What [`small_churn`] did.
#[derive(Clone, Copy, Debug)]
pub struct ChurnRun {
    /// Allocations plus frees.
    pub ops: u64,
    /// Peak of the live bytes (sizes asked for).
    pub peak_live: usize,
    /// Peak number of live blocks.
    pub peak_blocks: usize,
}

/// Small-object churn with a live set that varies: `cycles` times, the
/// live bytes grow to a random high (half of `max_live` to all of it; three
/// steps in four allocate, one frees) and then shrink to a random low (a
/// tenth to half of that high; three steps in four free), then everything
/// is freed. Objects are 16–2048 B, log-uniform, their first and last byte
/// written; a free takes a random live block. The decisions depend on the
/// seed and the sizes asked for only, so `a = None` (a dry run: nothing
/// allocated) gives the same peaks as every backend: call it first to
/// reserve `live`'s capacity (`peak_blocks`), so that the trace allocates
/// nothing but its blocks. `live` is empty on return.
pub fn small_churn<A: GlobalAlloc + ?Sized>(
    a: Option<&A>,
    cfg: ChurnConfig,
    live: &mut Vec<Block>,
) -> ChurnRun {
    let mut rng = Rng::new(cfg.seed);
    let (mut bytes, mut ops) = (0usize, 0u64);
    let mut run = ChurnRun {
        ops: 0,
        peak_live: 0,
        peak_blocks: 0,
    };
    for _ in 0..cfg.cycles {
        let high = cfg.max_live / 2 + (rng.next_u64() as usize % (cfg.max_live / 2 + 1));
        let low = high / 10 + (rng.next_u64() as usize % (high * 4 / 10 + 1));
        for (grow, target) in [(true, high), (false, low)] {
            while (grow && bytes < target) || (!grow && bytes > target) {
                let allocate = live.is_empty() || (rng.next_u64() % 4 < 3) == grow;
                if allocate {
                    let size = rng.log_uniform(SMALL.0, SMALL.1);
                    live.push(match a {
                        Some(a) => alloc_touch(a, size),
                        None => (0, Layout::from_size_align(size, 8).expect("layout")),
                    });
                    bytes += size;
                    run.peak_live = run.peak_live.max(bytes);
                    run.peak_blocks = run.peak_blocks.max(live.len());
                } else {
                    let b = live.swap_remove(rng.next_u64() as usize % live.len());
                    bytes -= b.1.size();
                    if let Some(a) = a {
                        // SAFETY: a live block of `a`, dropped from the list.
                        unsafe { free(a, b) };
                    }
                }
                ops += 1;
            }
        }
    }
    for b in live.drain(..) {
        if let Some(a) = a {
            // SAFETY: live blocks of `a`.
            unsafe { free(a, b) };
        }
        ops += 1;
    }
    run.ops = ops;
    run
}

// --------------------------------------------------------- (b) large zeroed

/// Which bytes hold old data, by 4 KiB granule and address: what a block
/// needed zeroed when `alloc_zeroed` handed it out.
#[derive(Default)]
pub struct DirtyOracle {
    dirty: HashSet<usize>,
}

/// The oracle's granule, and the stride of the writes of [`large_zeroed`].
pub const GRANULE: usize = 4096;

impl DirtyOracle {
    /// Bytes of `p .. p + n` that held old data (whole granules, clipped).
    pub fn needed(&self, p: usize, n: usize) -> u64 {
        let mut bytes = 0;
        for g in p / GRANULE..(p + n).div_ceil(GRANULE) {
            if self.dirty.contains(&g) {
                let lo = (g * GRANULE).max(p);
                let hi = ((g + 1) * GRANULE).min(p + n);
                bytes += (hi - lo) as u64;
            }
        }
        bytes
    }
    /// The byte at `p` was written.
    pub fn wrote(&mut self, p: usize) {
        self.dirty.insert(p / GRANULE);
    }
}

/// `vec![0u8; n]` `1 + iters` times: `alloc_zeroed`, one byte written per
/// 4 KiB, freed. Returns the seconds of the first (which takes the memory
/// from the OS or the engine: first-touch faults) and of the last `iters`
/// together (the oracle's bookkeeping not counted), and the bytes that had
/// to be zeroed in all of them, by `oracle`, which follows this
/// allocator's addresses across calls.
pub fn large_zeroed<A: GlobalAlloc + ?Sized>(
    a: &A,
    n: usize,
    iters: usize,
    oracle: &mut DirtyOracle,
    clock: Clock,
) -> (f64, f64, u64) {
    let l = Layout::from_size_align(n, 1).expect("layout");
    let (mut first, mut secs, mut needed) = (0.0, 0.0, 0u64);
    for i in 0..=iters {
        let t0 = clock();
        // SAFETY: non-zero size.
        let p = unsafe { a.alloc_zeroed(l) };
        assert!(!p.is_null(), "out of memory ({n} B)");
        for off in (0..n).step_by(GRANULE) {
            // SAFETY: inside the block.
            unsafe { p.add(off).write(1) };
        }
        // SAFETY: the block just allocated.
        unsafe { a.dealloc(p, l) };
        if i > 0 {
            secs += clock() - t0;
        } else {
            first = clock() - t0;
        }
        needed += oracle.needed(p as usize, n);
        for off in (0..n).step_by(GRANULE) {
            oracle.wrote(p as usize + off);
        }
    }
    (first, secs, needed)
}

// -------------------------------------------------------- (c) phase workload

/// The GC phase: a heap of `seg`-byte segments reserved from `pool` up to
/// `total` bytes, a byte written per 4 KiB (the GC fills its heap), then
/// every segment released (the heap shrinks). Returns the segments.
pub fn gc_phase<M: LinearMemory, P: Policy>(
    pool: &GenericVmem<M, P>,
    total: usize,
    seg: usize,
) -> usize {
    let mut segs = Vec::with_capacity(total / seg);
    while segs.len() * seg < total {
        let p = pool.reserve(seg, PAGE_SIZE).expect("GC segment").as_ptr();
        for off in (0..seg).step_by(GRANULE) {
            // SAFETY: inside the fresh reservation.
            unsafe { p.add(off).write(1) };
        }
        segs.push(p);
    }
    let n = segs.len();
    for p in segs {
        // SAFETY: reserved above, not used any more.
        unsafe { pool.release(p, seg).expect("release segment") };
    }
    n
}

/// The app phase: `Vec`s of log-uniform sizes (16 B – 4 MiB, fixed seed)
/// until `total` bytes are live, a byte written per 4 KiB of each; then
/// `after` is called (to read the peak) and all are freed. Returns the live
/// bytes at the peak.
pub fn app_phase<A: GlobalAlloc + ?Sized>(a: &A, total: usize, after: &mut dyn FnMut()) -> usize {
    let mut rng = Rng::new(3);
    let mut live = Vec::new();
    let mut bytes = 0;
    while bytes < total {
        let n = rng.log_uniform(16, 4 << 20);
        let b = alloc_touch(a, n);
        for off in (0..n).step_by(GRANULE) {
            // SAFETY: inside the block.
            unsafe { (b.0 as *mut u8).add(off).write(2) };
        }
        bytes += n;
        live.push(b);
    }
    after();
    for b in live {
        // SAFETY: live blocks of `a`.
        unsafe { free(a, b) };
    }
    bytes
}

/// Peak memory of the phase workload in one configuration.
#[derive(Clone, Copy, Debug)]
pub struct PhasePeak {
    /// Bytes the GC's pool grew.
    pub gc_peak: u64,
    /// Bytes the app's allocator grew (the same pool: its total).
    pub app_peak: u64,
    /// The configuration's peak memory.
    pub peak: u64,
    /// Live bytes of the app at its peak.
    pub app_live: usize,
}

/// The phase workload on one pool: [`gc_phase`] on the allocator's own
/// page pool, then [`app_phase`] on the allocator. The peak is what the
/// pool grew (memory never shrinks).
pub fn phase_one_pool<M: LinearMemory, P: Policy>(
    a: &Vmem<M, P>,
    total: usize,
    seg: usize,
) -> PhasePeak {
    gc_phase(a.alloc.vmem(), total, seg);
    let gc_peak = a.alloc.vmem().stats().owned_bytes;
    let app_live = app_phase(a, total, &mut || {});
    let peak = a.alloc.vmem().stats().owned_bytes;
    PhasePeak {
        gc_peak,
        app_peak: peak,
        peak,
        app_live,
    }
}

/// The phase workload with the GC on its own pool `gc` and the app on
/// `app` beside it: the peak is the sum of what both grew. `None` when the
/// app allocator's footprint cannot be known.
pub fn phase_beside<M: LinearMemory, P: Policy, A: Instance + ?Sized>(
    gc: &GenericVmem<M, P>,
    app: &A,
    total: usize,
    seg: usize,
) -> Option<PhasePeak> {
    gc_phase(gc, total, seg);
    let app_live = app_phase(app, total, &mut || {});
    let gc_peak = gc.stats().owned_bytes;
    let app_peak = app.footprint()?;
    Some(PhasePeak {
        gc_peak,
        app_peak,
        peak: gc_peak + app_peak,
        app_live,
    })
}

// ------------------------------------------------------------ realloc growth

/// A buffer grown by doubling from 1 KiB to `top` bytes with `realloc` (as
/// a `Vec` or `String` grows), a byte written per 4 KiB of each new part,
/// then freed. Returns the seconds and how many times the block moved.
pub fn realloc_growth<A: GlobalAlloc + ?Sized>(a: &A, top: usize, clock: Clock) -> (f64, usize) {
    let t0 = clock();
    let mut size = 1024;
    let mut l = Layout::from_size_align(size, 1).expect("layout");
    // SAFETY: non-zero size.
    let mut p = unsafe { a.alloc(l) };
    assert!(!p.is_null(), "out of memory");
    let mut moves = 0;
    while size < top {
        let new = size * 2;
        // SAFETY: `p` is live with `l`; non-zero size.
        let q = unsafe { a.realloc(p, l, new) };
        assert!(!q.is_null(), "out of memory ({new} B)");
        moves += usize::from(q != p);
        for off in (size..new).step_by(GRANULE) {
            // SAFETY: inside the grown block.
            unsafe { q.add(off).write(1) };
        }
        p = q;
        size = new;
        l = Layout::from_size_align(size, 1).expect("layout");
    }
    // SAFETY: live with `l`.
    unsafe { a.dealloc(p, l) };
    (clock() - t0, moves)
}

// ------------------------------------------------------- LARGE_MIN threshold

/// One threshold case: `iters` times, with a window of `window` live blocks
/// of `size` bytes at `align`: allocate (zeroed or not), write the first
/// byte, free the oldest. Returns seconds per allocate+free pair.
pub fn threshold<A: GlobalAlloc + ?Sized>(
    a: &A,
    size: usize,
    align: usize,
    zeroed: bool,
    iters: usize,
    window: usize,
    clock: Clock,
) -> f64 {
    let l = Layout::from_size_align(size, align).expect("layout");
    let ring: Vec<Cell<*mut u8>> = (0..window)
        .map(|_| Cell::new(core::ptr::null_mut()))
        .collect();
    let t0 = clock();
    for i in 0..iters + window {
        let slot = &ring[i % window];
        let old = slot.get();
        if !old.is_null() {
            // SAFETY: allocated below with `l`, freed once.
            unsafe { a.dealloc(old, l) };
        }
        if i < iters {
            // SAFETY: non-zero size.
            let p = unsafe {
                if zeroed {
                    a.alloc_zeroed(l)
                } else {
                    a.alloc(l)
                }
            };
            assert!(!p.is_null(), "out of memory ({size} B)");
            // SAFETY: inside the block.
            unsafe { p.write(1) };
            slot.set(p);
        } else {
            slot.set(core::ptr::null_mut());
        }
    }
    (clock() - t0) / iters as f64
}

/// The threshold on fresh memory: `count` blocks of `size` bytes at
/// `align` allocated zeroed one after the other (none freed meanwhile), a
/// byte written per 4 KiB of each as a user of `vec![0u8; size]` would;
/// then all freed (not timed). Returns seconds per block. On a fresh
/// instance every byte is fresh memory, which needs no zeroing.
pub fn threshold_fresh<A: GlobalAlloc + ?Sized>(
    a: &A,
    size: usize,
    align: usize,
    count: usize,
    clock: Clock,
) -> f64 {
    let l = Layout::from_size_align(size, align).expect("layout");
    let mut blocks = Vec::with_capacity(count);
    let t0 = clock();
    for _ in 0..count {
        // SAFETY: non-zero size.
        let p = unsafe { a.alloc_zeroed(l) };
        assert!(!p.is_null(), "out of memory ({size} B)");
        for off in (0..size).step_by(GRANULE) {
            // SAFETY: inside the block.
            unsafe { p.add(off).write(1) };
        }
        blocks.push(p);
    }
    let secs = clock() - t0;
    for p in blocks {
        // SAFETY: allocated above with `l`.
        unsafe { a.dealloc(p, l) };
    }
    secs / count as f64
}

/// The median of `v` (sorted in place); 0 when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
