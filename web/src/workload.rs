//! A GC-like workload with verification, shared by the browser demo and
//! its native test.
//!
//! Every worker (one per rayon thread, plus the main thread as slot 0) keeps
//! a heap of 2 MiB segments whose number follows [`Board::set_heap_target`]
//! (the page ramps it up and down, so linear memory grows in steps and
//! released pages are seen being reused). A collection commits a gen0
//! budget in one segment, checks it reads zero, fills it with a tag, checks
//! the tag, and decommits it. The first page of each segment is a
//! "survivor" that is never decommitted: its tag is checked at every
//! collection, so data of committed pages must survive everybody else's
//! operations. Every few collections the oldest segment is released (in two
//! halves: partial releases) and a new one reserved. Workers run until
//! [`Board::stop`].
//!
//! A reservation refused with [`Error::OutOfMemory`] (`memory.grow` failed:
//! the soak injects such failures, see [`crate::flaky`]) is expected, not a
//! verification failure: the worker counts it, keeps collecting in the
//! segments it has, and tries again after a backoff that doubles with each
//! refusal in a row; a later reservation that succeeds counts as a
//! recovery. A reservation whose grow failed can still succeed: the pool
//! then asks every arena again, and another thread may have released pages
//! in the meantime. Such a reservation is counted as rescued, so that every
//! failed grow is accounted for: refused reservations + rescued ones =
//! failed grows (a reservation meets at most one).

use crate::flaky::{failed_grows_here, GrowCounts};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::fmt::Write;
use wasm_vmem::policy::Policy;
use wasm_vmem::sys::LinearMemory;
use wasm_vmem::{AllocStats, Error, GenericVmem, Limits, Stats, PAGE_SIZE};

/// Slots for workers: slot 0 is the main thread.
pub const MAX_WORKERS: usize = 64;
/// Segment size.
pub const SEGMENT: usize = 2 << 20;
/// The gen0 budget committed per collection.
pub const GEN0: usize = 256 << 10;
/// Gen0 budgets per segment, after its survivor page.
const SLOTS: usize = (SEGMENT - PAGE_SIZE) / GEN0;
/// Collections between segment replacements.
const REPLACE_EVERY: u32 = 16;
/// Bounds of the heap target, in segments per worker.
pub const MIN_SEGMENTS: usize = 1;
/// See [`MIN_SEGMENTS`].
pub const MAX_SEGMENTS: usize = 16;
/// The longest backoff after refused reservations, in collections.
const MAX_BACKOFF: u32 = 64;

/// Figures shared by all workers; read by the page while they run.
pub struct Board {
    run: AtomicU32,
    stop: AtomicBool,
    heap_target: AtomicUsize,
    workers: AtomicUsize,
    finished: AtomicUsize,
    main_finished: AtomicBool,
    failures: AtomicU64,
    errors: AtomicU64,
    /// Reservations refused with `OutOfMemory` (expected when grows fail).
    out_of_memory: AtomicU64,
    /// Reservations that succeeded after a refusal of the same requester.
    recoveries: AtomicU64,
    /// Reservations that succeeded although a grow failed during them.
    rescued: AtomicU64,
    /// The last probe was refused with `OutOfMemory`.
    probe_refused: AtomicBool,
    /// Bit `i` set: rayon thread `i` ran a worker.
    threads: AtomicU64,
    ops: [AtomicU64; MAX_WORKERS],
    collections: [AtomicU64; MAX_WORKERS],
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

impl Board {
    /// An empty board.
    pub const fn new() -> Self {
        Self {
            run: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            heap_target: AtomicUsize::new(2),
            workers: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            main_finished: AtomicBool::new(false),
            failures: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            out_of_memory: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
            rescued: AtomicU64::new(0),
            probe_refused: AtomicBool::new(false),
            threads: AtomicU64::new(0),
            ops: [const { AtomicU64::new(0) }; MAX_WORKERS],
            collections: [const { AtomicU64::new(0) }; MAX_WORKERS],
        }
    }

    /// Prepares a run of `workers` pool workers (plus the main thread).
    /// Call it only when no worker of an earlier run is still running.
    pub fn reset(&self, workers: usize) {
        self.run.fetch_add(1, Relaxed);
        self.stop.store(false, Relaxed);
        self.heap_target.store(2, Relaxed);
        self.workers.store(workers.min(MAX_WORKERS - 1), Relaxed);
        self.finished.store(0, Relaxed);
        self.main_finished.store(false, Relaxed);
        self.failures.store(0, Relaxed);
        self.errors.store(0, Relaxed);
        self.out_of_memory.store(0, Relaxed);
        self.recoveries.store(0, Relaxed);
        self.rescued.store(0, Relaxed);
        self.probe_refused.store(false, Relaxed);
        self.threads.store(0, Relaxed);
        for (ops, collections) in self.ops.iter().zip(&self.collections) {
            ops.store(0, Relaxed);
            collections.store(0, Relaxed);
        }
    }

    /// Sets the number of segments each worker keeps (clamped to
    /// [`MIN_SEGMENTS`]..=[`MAX_SEGMENTS`]).
    pub fn set_heap_target(&self, segments: usize) {
        self.heap_target
            .store(segments.clamp(MIN_SEGMENTS, MAX_SEGMENTS), Relaxed);
    }

    /// Asks every worker to release its heap and finish.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
    }

    /// Verification failures (a page that should read zero or keep its
    /// data did not) so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }

    /// Operations that returned an error so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    /// Reservations refused with `OutOfMemory` so far (workers' and
    /// probes').
    pub fn out_of_memory(&self) -> u64 {
        self.out_of_memory.load(Relaxed)
    }

    /// Reservations that succeeded after their requester's last one was
    /// refused with `OutOfMemory`, so far.
    pub fn recoveries(&self) -> u64 {
        self.recoveries.load(Relaxed)
    }

    /// Reservations that succeeded although a grow failed during them (the
    /// pool found room in an arena afterwards), so far.
    pub fn rescued(&self) -> u64 {
        self.rescued.load(Relaxed)
    }

    /// `vm.reserve(size, align)`, counted as rescued when it succeeds
    /// although a grow failed during it. Every reservation of the workload
    /// and of the probes goes through here.
    pub fn reserve<M: LinearMemory, P: Policy>(
        &self,
        vm: &GenericVmem<M, P>,
        size: usize,
        align: usize,
    ) -> Result<NonNull<u8>, Error> {
        let failed = failed_grows_here();
        let result = vm.reserve(size, align);
        if result.is_ok() && failed_grows_here() != failed {
            self.rescued.fetch_add(1, Relaxed);
        }
        result
    }

    /// Counts the outcome of a one-page probe reservation made outside the
    /// workers (by the page, from JS): `OutOfMemory` is expected, any other
    /// error is an error, and the first success after a refusal a recovery.
    pub fn note_probe(&self, result: Result<(), Error>) {
        match result {
            Ok(()) => {
                if self.probe_refused.swap(false, Relaxed) {
                    self.recoveries.fetch_add(1, Relaxed);
                }
            }
            Err(Error::OutOfMemory { .. }) => {
                self.out_of_memory.fetch_add(1, Relaxed);
                self.probe_refused.store(true, Relaxed);
            }
            Err(_) => {
                self.errors.fetch_add(1, Relaxed);
            }
        }
    }

    /// Collections of all workers so far.
    pub fn collections(&self) -> u64 {
        self.collections.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Collections of worker `slot` so far.
    pub fn collections_of(&self, slot: usize) -> u64 {
        self.collections[slot].load(Relaxed)
    }

    /// Whether every worker, the main thread's included, has finished.
    pub fn done(&self) -> bool {
        self.main_finished.load(Relaxed)
            && self.finished.load(Relaxed) == self.workers.load(Relaxed)
    }

    /// Distinct pool threads that ran a worker.
    pub fn pool_threads_used(&self) -> u32 {
        self.threads.load(Relaxed).count_ones()
    }

    /// The figures as JSON for the page; `g`: the grows of the instance's
    /// memory; `a`: the global allocator's figures, and `shared` whether
    /// the run's instance is the allocator's pool (then the allocator's
    /// blocks are reservations of it: `alloc_held`).
    pub fn to_json(
        &self,
        s: &Stats,
        l: &Limits,
        g: &GrowCounts,
        a: &AllocStats,
        shared: bool,
    ) -> String {
        let workers = self.workers.load(Relaxed) + 1;
        let list = |f: &dyn Fn(usize) -> u64| {
            let items: Vec<String> = (0..workers).map(|i| f(i).to_string()).collect();
            items.join(",")
        };
        let mut out = String::with_capacity(1024);
        let _ = write!(
            out,
            concat!(
                "{{\"done\":{},\"stopping\":{},\"heap_target\":{},\"workers\":{},",
                "\"pool_threads_used\":{},\"failures\":{},\"errors\":{},",
                "\"out_of_memory\":{},\"recoveries\":{},\"rescued\":{},",
                "\"ops\":[{}],\"collections\":[{}],\"segment\":{},\"gen0\":{},",
                "\"stats\":{{\"reserved\":{},\"committed\":{},\"decommitted\":{},",
                "\"free_zero\":{},\"free_dirty\":{},\"metadata\":{},\"owned\":{},\"linear\":{},",
                "\"peak_reserved\":{},\"free_runs\":{},\"grows\":{},\"zeroed\":{},",
                "\"zero_skipped\":{},\"sentinel_violations\":{}}},",
                "\"limits\":{{\"total\":{},\"hard\":{},\"segment\":{},\"load_percent\":{}}},",
                "\"grow\":{{\"rate_ppm\":{},\"calls\":{},\"grown\":{},\"injected\":{},\"refused\":{}}},",
                "\"pool\":\"{}\",\"alloc_held\":{},\"alloc\":{}}}"
            ),
            self.done(),
            self.stop.load(Relaxed),
            self.heap_target.load(Relaxed),
            workers,
            self.pool_threads_used(),
            self.failures(),
            self.errors(),
            self.out_of_memory(),
            self.recoveries(),
            self.rescued(),
            list(&|i| self.ops[i].load(Relaxed)),
            list(&|i| self.collections[i].load(Relaxed)),
            SEGMENT,
            GEN0,
            s.reserved_bytes,
            s.committed_bytes,
            s.decommitted_bytes,
            s.free_zero_bytes,
            s.free_dirty_bytes,
            s.metadata_bytes,
            s.owned_bytes,
            s.linear_memory_bytes,
            s.peak_reserved_bytes,
            s.free_runs,
            s.grows,
            s.bytes_zeroed,
            s.bytes_zero_skipped,
            s.sentinel_violations,
            l.total_physical_bytes,
            l.hard_limit_bytes,
            l.largest_segment_bytes,
            l.memory_load_percent,
            g.rate_ppm,
            g.calls,
            g.grown,
            g.injected,
            g.refused,
            if shared { "global" } else { "own" },
            if shared { a.small_held_bytes + a.large_bytes } else { 0 },
            alloc_json(a),
        );
        out
    }
}

/// An allocator's figures as a JSON object (bytes): `in_use`,
/// `small_in_use`, `small_held`, `small_spans`, `large`,
/// `zeroing_skipped`, `zeroed`.
pub fn alloc_json(a: &AllocStats) -> String {
    format!(
        concat!(
            "{{\"in_use\":{},\"small_in_use\":{},\"small_held\":{},\"small_spans\":{},",
            "\"large\":{},\"zeroing_skipped\":{},\"zeroed\":{}}}"
        ),
        a.in_use_bytes,
        a.small_in_use_bytes,
        a.small_held_bytes,
        a.small_spans,
        a.large_bytes,
        a.zeroing_skipped_bytes,
        a.zeroed_bytes,
    )
}

/// One worker's state, advanced a few collections at a time.
pub struct Worker<'b> {
    board: &'b Board,
    run: u32,
    slot: usize,
    segments: Vec<*mut u8>,
    round: u32,
    finished: bool,
    /// Its last reservation was refused with `OutOfMemory`.
    refused: bool,
    /// Collections to wait before reserving again, and the wait set after
    /// the last refusal (doubled by each refusal in a row).
    wait: u32,
    backoff: u32,
}

/// How a reservation of a new segment went.
enum Reserved {
    Yes,
    /// `OutOfMemory`: expected when grows fail; try again later.
    OutOfMemory,
    /// Any other error: a fault.
    Failed,
}

impl<'b> Worker<'b> {
    /// Worker `slot` (0: the main thread) of the current run, on pool
    /// thread `thread`.
    pub fn new(board: &'b Board, slot: usize, thread: Option<usize>) -> Self {
        if let Some(t) = thread {
            board.threads.fetch_or(1 << (t % 64), Relaxed);
        }
        Self {
            board,
            run: board.run.load(Relaxed),
            slot: slot.min(MAX_WORKERS - 1),
            segments: Vec::new(),
            round: 0,
            finished: false,
            refused: false,
            wait: 0,
            backoff: 0,
        }
    }

    /// Whether this worker belongs to the board's current run.
    pub fn is_current(&self) -> bool {
        self.run == self.board.run.load(Relaxed)
    }

    fn tag(&self) -> u8 {
        (self.slot as u8)
            .wrapping_mul(37)
            .wrapping_add(self.round as u8)
            | 1
    }

    fn survivor_tag(&self) -> u8 {
        0x80 | self.slot as u8
    }

    fn check(&self, ok: bool) {
        if !ok {
            self.board.failures.fetch_add(1, Relaxed);
        }
    }

    fn op<T, E>(&self, result: Result<T, E>) -> Option<T> {
        self.board.ops[self.slot].fetch_add(1, Relaxed);
        if result.is_err() {
            self.board.errors.fetch_add(1, Relaxed);
        }
        result.ok()
    }

    /// Counts a reservation: `OutOfMemory` is expected (counted apart, and
    /// starts a backoff), any other error is an error.
    fn reserve_op(&mut self, result: Result<NonNull<u8>, Error>) -> Result<*mut u8, Reserved> {
        self.board.ops[self.slot].fetch_add(1, Relaxed);
        match result {
            Ok(p) => {
                if core::mem::take(&mut self.refused) {
                    self.board.recoveries.fetch_add(1, Relaxed);
                }
                self.backoff = 0;
                Ok(p.as_ptr())
            }
            Err(Error::OutOfMemory { .. }) => {
                self.board.out_of_memory.fetch_add(1, Relaxed);
                self.refused = true;
                self.backoff = (self.backoff * 2).clamp(1, MAX_BACKOFF);
                self.wait = self.backoff;
                Err(Reserved::OutOfMemory)
            }
            Err(_) => {
                self.board.errors.fetch_add(1, Relaxed);
                Err(Reserved::Failed)
            }
        }
    }

    fn new_segment<M: LinearMemory, P: Policy>(&mut self, vm: &GenericVmem<M, P>) -> Reserved {
        let seg = match self.reserve_op(self.board.reserve(vm, SEGMENT, SEGMENT)) {
            Ok(seg) => seg,
            Err(why) => return why,
        };
        // SAFETY: a segment this worker just reserved: committed, its own.
        unsafe {
            self.check(all(seg, SEGMENT, 0));
            seg.write_bytes(self.survivor_tag(), PAGE_SIZE);
        }
        self.segments.push(seg);
        Reserved::Yes
    }

    /// Releases the oldest segment, in two halves (partial releases).
    fn drop_oldest<M: LinearMemory, P: Policy>(&mut self, vm: &GenericVmem<M, P>) {
        let old = self.segments.remove(0);
        // SAFETY: this worker's segment, not used again.
        unsafe {
            self.check(all(old, PAGE_SIZE, self.survivor_tag()));
            self.op(vm.release(old.wrapping_add(SEGMENT / 2), SEGMENT / 2));
            self.op(vm.release(old, SEGMENT / 2));
        }
    }

    /// Runs up to `collections` collections; returns whether the worker
    /// still has work. After [`Board::stop`] it releases its heap and
    /// returns `false`.
    pub fn step<M: LinearMemory, P: Policy>(
        &mut self,
        vm: &GenericVmem<M, P>,
        collections: u32,
    ) -> bool {
        if self.finished {
            return false;
        }
        for _ in 0..collections {
            if self.board.stop.load(Relaxed) || !self.collect(vm) {
                self.finish(vm);
                return false;
            }
        }
        true
    }

    /// One collection; `false` on a fault (an error other than
    /// `OutOfMemory`). With no segment at all (every reservation refused so
    /// far) it only counts down its backoff.
    fn collect<M: LinearMemory, P: Policy>(&mut self, vm: &GenericVmem<M, P>) -> bool {
        let target = self.board.heap_target.load(Relaxed);
        while self.segments.len() > target {
            self.drop_oldest(vm);
        }
        if self.wait > 0 {
            self.wait -= 1;
        } else {
            while self.segments.len() < target {
                match self.new_segment(vm) {
                    Reserved::Yes => {}
                    Reserved::OutOfMemory => break,
                    Reserved::Failed => return false,
                }
            }
        }
        if self.segments.is_empty() {
            core::hint::spin_loop();
            return true;
        }
        let seg = self.segments[self.round as usize % self.segments.len()];
        let slot = (self.round as usize / self.segments.len()) % SLOTS;
        let gen0 = seg.wrapping_add(PAGE_SIZE + slot * GEN0);
        let tag = self.tag();
        // SAFETY: gen0 and the survivor pages lie in segments this worker
        // reserved and nobody else touches.
        unsafe {
            if self.op(vm.commit(gen0, GEN0)).is_none() {
                return false;
            }
            self.check(all(gen0, GEN0, 0));
            gen0.write_bytes(tag, GEN0);
            self.check(all(gen0, GEN0, tag));
            for &s in &self.segments {
                self.check(all(s, PAGE_SIZE, self.survivor_tag()));
            }
            if self.op(vm.decommit(gen0, GEN0)).is_none() {
                return false;
            }
        }
        self.round = self.round.wrapping_add(1);
        self.board.collections[self.slot].fetch_add(1, Relaxed);
        if self.round.is_multiple_of(REPLACE_EVERY) {
            self.drop_oldest(vm);
            // Refused: the heap is one short until the backoff is over.
            if let Reserved::Failed = self.new_segment(vm) {
                return false;
            }
        }
        true
    }

    fn finish<M: LinearMemory, P: Policy>(&mut self, vm: &GenericVmem<M, P>) {
        for seg in core::mem::take(&mut self.segments) {
            // SAFETY: this worker's segment, not used again.
            unsafe {
                self.check(all(seg, PAGE_SIZE, self.survivor_tag()));
                self.op(vm.release(seg, SEGMENT));
            }
        }
        self.finished = true;
        if self.slot == 0 {
            self.board.main_finished.store(true, Relaxed);
        } else {
            self.board.finished.fetch_add(1, Relaxed);
        }
    }
}

/// Whether all `len` bytes at `p` equal `byte`.
///
/// # Safety
///
/// Callers must guarantee that the range is readable and not written
/// concurrently.
unsafe fn all(p: *const u8, len: usize, byte: u8) -> bool {
    // SAFETY: readable and unshared (caller).
    unsafe { core::slice::from_raw_parts(p, len) }
        .iter()
        .all(|&b| b == byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flaky::FlakyMemory;
    use wasm_vmem::sys::SimMemory;
    use wasm_vmem::{mt, st};

    #[test]
    fn workload_verifies_on_threads() {
        let vm = mt::Vmem::new(SimMemory::new(256 << 20));
        let board = Board::new();
        with_two_pool_workers(&vm, &board, |main| {
            for i in 0..120 {
                board.set_heap_target(2 + i / 20);
                assert!(main.step(&vm, 1));
            }
            // Let the pool workers do some collections of their own.
            while board.collections_of(1) == 0 || board.collections_of(2) == 0 {
                std::thread::yield_now();
            }
        });
        check_end(&board, &vm.stats(), &vm.limits());
        assert_eq!(board.pool_threads_used(), 2);
    }

    /// Runs two pool workers (slots 1 and 2) on threads while `main` drives
    /// the main thread's worker (slot 0); then stops the run and checks the
    /// main worker ends.
    fn with_two_pool_workers<M: wasm_vmem::sys::LinearMemory + Sync>(
        vm: &mt::Vmem<M>,
        board: &Board,
        main: impl FnOnce(&mut Worker<'_>),
    ) {
        board.reset(2);
        std::thread::scope(|s| {
            for slot in 1..=2 {
                s.spawn(move || {
                    let mut w = Worker::new(board, slot, Some(slot));
                    while w.step(vm, 4) {}
                });
            }
            let mut worker = Worker::new(board, 0, None);
            main(&mut worker);
            board.stop();
            assert!(!worker.step(vm, 1));
        });
    }

    #[test]
    fn workload_verifies_single_threaded_and_reruns() {
        let vm = st::Vmem::new(SimMemory::new(256 << 20));
        let board = Board::new();
        for _ in 0..2 {
            board.reset(0);
            let mut main = Worker::new(&board, 0, None);
            for i in 0..200 {
                board.set_heap_target([2, 6, 12, 3][i / 50]);
                assert!(main.step(&vm, 1));
            }
            board.stop();
            assert!(!main.step(&vm, 1));
            assert!(main.is_current());
            check_end(&board, &vm.stats(), &vm.limits());
        }
        board.reset(0);
        let stale = Worker::new(&board, 0, None);
        board.reset(0);
        assert!(!stale.is_current());
    }

    #[test]
    fn workload_recovers_from_failed_grows() {
        let vm = mt::Vmem::new(FlakyMemory::new(SimMemory::new(512 << 20)));
        vm.memory().set_failure_rate(0.3);
        let board = Board::new();
        with_two_pool_workers(&vm, &board, |main| {
            for i in 0..400 {
                board.set_heap_target([2, 8, 16, 4, 12][i / 80]);
                assert!(main.step(&vm, 1));
                if i % 4 == 0 {
                    let probe = board.reserve(&vm, PAGE_SIZE, 1);
                    board.note_probe(probe.map(|_| ()));
                    if let Ok(p) = probe {
                        // SAFETY: the page just reserved, not used again.
                        unsafe { vm.release(p.as_ptr(), PAGE_SIZE).unwrap() };
                    }
                }
            }
        });
        let g = vm.memory().counts();
        assert!(g.injected > 0 && board.recoveries() > 0, "{g:?}");
        assert_eq!(board.out_of_memory() + board.rescued(), g.failed(), "{g:?}");
        assert_eq!(vm.stats().grows, g.grown);
        check_end(&board, &vm.stats(), &vm.limits());
    }

    #[test]
    fn a_worker_without_memory_waits_and_stops() {
        let vm = st::Vmem::new(FlakyMemory::new(SimMemory::new(64 << 20)));
        vm.memory().set_failure_rate(1.0);
        let board = Board::new();
        board.reset(0);
        let mut main = Worker::new(&board, 0, None);
        for _ in 0..100 {
            assert!(main.step(&vm, 4));
        }
        assert_eq!(board.collections(), 0);
        // Backoff: far fewer refusals than collections attempted.
        assert!(
            (1..40).contains(&board.out_of_memory()),
            "{}",
            board.out_of_memory()
        );
        vm.memory().set_failure_rate(0.0);
        while board.collections() == 0 {
            assert!(main.step(&vm, 1));
        }
        assert_eq!(board.recoveries(), 1);
        board.stop();
        assert!(!main.step(&vm, 1));
        check_end(&board, &vm.stats(), &vm.limits());
    }

    fn check_end(board: &Board, s: &Stats, l: &Limits) {
        assert!(board.done());
        assert_eq!((board.failures(), board.errors()), (0, 0));
        assert_eq!(
            (s.reserved_bytes, s.committed_bytes, s.decommitted_bytes),
            (0, 0, 0)
        );
        assert_eq!(
            s.owned_bytes,
            s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
        );
        // Every decommitted gen0 byte is zeroed later, or is still dirty.
        assert!(s.bytes_zeroed + s.free_dirty_bytes >= board.collections() * GEN0 as u64);
        assert!(s.owned_bytes <= s.linear_memory_bytes);
        let json = board.to_json(s, l, &GrowCounts::default(), &AllocStats::default(), false);
        assert!(json.starts_with("{\"done\":true"), "{json}");
        assert!(json.contains("\"failures\":0"), "{json}");
    }
}
