//! The backends: wasm-vmem and the baselines it is measured against.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use wasm_vmem::policy::Policy;
use wasm_vmem::sys::LinearMemory;
use wasm_vmem::{GenericVmem, PAGE_SIZE};

/// What a trace needs from a virtual-memory backend. Ranges are 16 KiB
/// aligned; `release` may free a sub-range of a reservation.
pub trait Backend {
    /// Short name for tables.
    fn name(&self) -> &'static str;
    /// A committed range of `size` bytes reading zero.
    fn reserve(&self, size: usize) -> *mut u8;
    /// # Safety
    /// The range lies in a live reservation of the caller's.
    unsafe fn commit(&self, p: *mut u8, size: usize);
    /// # Safety
    /// As for `commit`.
    unsafe fn decommit(&self, p: *mut u8, size: usize);
    /// # Safety
    /// As for `commit`; the range is not used afterwards.
    unsafe fn release(&self, p: *mut u8, size: usize);
    /// The trace wrote to `p .. p + size` (only the oracle cares).
    fn wrote(&self, _p: *mut u8, _size: usize) {}
    /// Bytes this backend wrote zeros to (or asked its allocator to zero).
    fn bytes_zeroed(&self) -> u64;
    /// Memory the backend holds at its high-water mark, when it can be
    /// known (what a wasm module would have had to grow).
    fn footprint(&self) -> Option<usize>;
    /// Pages (addresses) holding the backend's own metadata now, which it
    /// writes itself: once it leaves them they are dirty (only the oracle
    /// cares).
    fn metadata_pages(&self) -> Vec<usize> {
        Vec::new()
    }
}

/// wasm-vmem over a linear memory: a `SimMemory` natively, the module's
/// own memory in wasm.
pub struct Vmem<M: LinearMemory, P: Policy> {
    vm: GenericVmem<M, P>,
    name: &'static str,
}

impl<M: LinearMemory, P: Policy> Vmem<M, P> {
    /// A new instance over `memory`.
    pub fn new(name: &'static str, memory: M) -> Self {
        Self {
            vm: GenericVmem::new(memory),
            name,
        }
    }

    /// The instance.
    pub fn vmem(&self) -> &GenericVmem<M, P> {
        &self.vm
    }
}

impl<M: LinearMemory, P: Policy> Backend for Vmem<M, P> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn reserve(&self, size: usize) -> *mut u8 {
        self.vm
            .reserve(size, PAGE_SIZE)
            .expect("wasm-vmem reserve")
            .as_ptr()
    }
    unsafe fn commit(&self, p: *mut u8, size: usize) {
        // SAFETY: a live reservation (caller).
        unsafe { self.vm.commit(p, size).expect("commit") }
    }
    unsafe fn decommit(&self, p: *mut u8, size: usize) {
        // SAFETY: a live reservation (caller).
        unsafe { self.vm.decommit(p, size).expect("decommit") }
    }
    unsafe fn release(&self, p: *mut u8, size: usize) {
        // SAFETY: a live reservation, not used again (caller).
        unsafe { self.vm.release(p, size).expect("release") }
    }
    fn bytes_zeroed(&self) -> u64 {
        self.vm.stats().bytes_zeroed
    }
    fn footprint(&self) -> Option<usize> {
        usize::try_from(self.vm.stats().owned_bytes).ok()
    }
    fn metadata_pages(&self) -> Vec<usize> {
        let regions = self.vm.metadata_regions();
        let pages = regions
            .iter()
            .flat_map(|&(a, n)| (a..a + n).step_by(PAGE_SIZE));
        pages.collect()
    }
}

/// Where the allocator-based baselines get memory: the system allocator or
/// talc over an arena.
pub trait Heap: Sync {
    /// # Safety
    /// `GlobalAlloc::alloc`.
    unsafe fn alloc(&self, layout: Layout, zeroed: bool) -> *mut u8;
    /// # Safety
    /// `GlobalAlloc::dealloc`.
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout);
    /// High-water mark of the arena, if the heap has one.
    fn footprint(&self) -> Option<usize>;
}

/// A shared heap: several front ends (one per thread in the thread sweep,
/// each with its own bookkeeping) over one heap.
impl<H: Heap + ?Sized> Heap for &H {
    unsafe fn alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds the contract.
        unsafe { (**self).alloc(layout, zeroed) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded; the caller upholds the contract.
        unsafe { (**self).dealloc(p, layout) }
    }
    fn footprint(&self) -> Option<usize> {
        (**self).footprint()
    }
}

/// The global (system) allocator, configured once like the global
/// allocator of a wasm module (dlmalloc over linear memory): it never hands
/// memory back to the OS — no `mmap` for large blocks, no trimming — so
/// memory it reuses is not zeroed for free by the kernel, as on wasm.
pub struct Global;

impl Global {
    /// The allocator, configured as described above (glibc `mallopt`).
    pub fn wasm_like() -> Self {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            {
                extern "C" {
                    fn mallopt(param: i32, value: i32) -> i32;
                }
                const M_TRIM_THRESHOLD: i32 = -1;
                const M_MMAP_THRESHOLD: i32 = -3;
                // SAFETY: plain glibc tuning calls, made once before the
                // benchmarks allocate.
                unsafe {
                    mallopt(M_MMAP_THRESHOLD, 1 << 30);
                    mallopt(M_TRIM_THRESHOLD, i32::MAX);
                }
            }
        });
        Global
    }
}

impl Heap for Global {
    unsafe fn alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe {
            if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(p, layout) }
    }
    fn footprint(&self) -> Option<usize> {
        None
    }
}

/// talc over an arena of its own (a region from the host allocator), with
/// the high-water mark of what it handed out: what it would have had to
/// grow over wasm memory. A `GlobalAlloc` (the allocator benchmarks use it
/// so) and, through [`Talc`], a trace backend.
pub struct TalcArena {
    talc: talc::TalcLock<wasm_vmem::lock::SpinLock, talc::source::Claim>,
    base: usize,
    layout: Layout,
    high: AtomicUsize,
}

impl TalcArena {
    /// An arena of `size` bytes, untouched until used: alignment 8, so that
    /// `calloc` takes it from the OS without writing it (first-touch
    /// faults land where talc first uses a page, as in a wasm engine).
    pub fn new(size: usize) -> Self {
        Self::with_align(size, 8)
    }

    /// An arena of `size` bytes that the host zeroes up front: a page
    /// alignment makes std write the whole arena, so first-touch faults
    /// stay out of the timed traces (docs/DESIGN.md §10, entry 11).
    pub fn zeroed_up_front(size: usize) -> Self {
        Self::with_align(size, PAGE_SIZE)
    }

    fn with_align(size: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(size, align).expect("arena layout");
        // SAFETY: non-zero size; the arena is freed when `self` drops.
        let arena = unsafe { System.alloc_zeroed(layout) };
        assert!(!arena.is_null(), "arena");
        // SAFETY: the arena is valid, unused by anything else, and outlives
        // every allocation (freed only when `self` drops).
        let source = unsafe { talc::source::Claim::new(arena, size) };
        Self {
            talc: talc::TalcLock::new(source),
            base: arena as usize,
            layout,
            high: AtomicUsize::new(0),
        }
    }

    /// The most bytes of the arena ever handed out (its high-water mark).
    pub fn high(&self) -> usize {
        self.high.load(Relaxed)
    }
}

impl Drop for TalcArena {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_align` with this layout; talc is not
        // used again (it is dropped right after, without touching the
        // arena).
        unsafe { System.dealloc(self.base as *mut u8, self.layout) }
    }
}

// SAFETY: forwarded to talc.
unsafe impl GlobalAlloc for TalcArena {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        let p = unsafe { self.talc.alloc(l) };
        if !p.is_null() {
            self.high
                .fetch_max(p as usize + l.size() - self.base, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.talc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        let q = unsafe { self.talc.realloc(p, l, n) };
        if !q.is_null() {
            self.high.fetch_max(q as usize + n - self.base, Relaxed);
        }
        q
    }
}

/// talc over one arena zeroed up front, as it would run over wasm memory
/// (the arena's high-water mark is what it would have grown).
pub struct Talc(TalcArena);

impl Talc {
    /// An arena of `size` bytes.
    pub fn new(size: usize) -> Self {
        Self(TalcArena::zeroed_up_front(size))
    }
}

impl Heap for Talc {
    unsafe fn alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe {
            if zeroed {
                self.0.alloc_zeroed(layout)
            } else {
                self.0.alloc(layout)
            }
        };
        assert!(!p.is_null(), "talc arena exhausted");
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { self.0.dealloc(p, layout) }
    }
    fn footprint(&self) -> Option<usize> {
        Some(self.0.high())
    }
}

/// Reservations made from an allocator, with partial releases: a block is
/// freed when its last page is released (an allocator cannot free part of
/// a block — the partial `munmap` emscripten cannot do either).
#[derive(Default)]
struct Blocks {
    /// start → (size, bytes still reserved)
    map: Mutex<BTreeMap<usize, (usize, usize)>>,
}

impl Blocks {
    fn insert(&self, p: *mut u8, size: usize) {
        self.map.lock().unwrap().insert(p as usize, (size, size));
    }

    /// Releases `size` bytes at `p`; returns the block to free, if that was
    /// its last part.
    fn release(&self, p: *mut u8, size: usize) -> Option<(*mut u8, usize)> {
        let mut map = self.map.lock().unwrap();
        let (&start, entry) = map
            .range_mut(..=p as usize)
            .next_back()
            .expect("a reserved block");
        entry.1 -= size;
        if entry.1 > 0 {
            return None;
        }
        let (size, _) = map.remove(&start).unwrap();
        Some((start as *mut u8, size))
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, PAGE_SIZE).expect("layout")
}

/// The non-zero byte the seed design writes at each page boundary.
pub const SEED_SENTINEL: u8 = 0xDD;

/// A faithful model of the seed design (the CoreCLR wasm GC PAL):
/// reservations from the global allocator, 16 KiB aligned.
/// Single-threaded: zero on reserve unless the memory is fresh (above the
/// highest address handed out so far: the "sbrk optimization"); decommit
/// writes a sentinel at each page; commit zeroes the whole range when its
/// first byte is non-zero. Multithreaded: zero on reserve always, zero on
/// decommit, commit a no-op.
pub struct Seed {
    threaded: bool,
    blocks: Blocks,
    high_water: AtomicUsize,
    zeroed: AtomicU64,
}

impl Seed {
    /// The single-threaded (`false`) or multithreaded (`true`) design.
    pub fn new(threaded: bool) -> Self {
        Global::wasm_like();
        Self {
            threaded,
            blocks: Blocks::default(),
            high_water: AtomicUsize::new(0),
            zeroed: AtomicU64::new(0),
        }
    }

    fn zero(&self, p: *mut u8, size: usize) {
        // SAFETY: callers pass ranges of their live blocks.
        unsafe { p.write_bytes(0, size) };
        self.zeroed.fetch_add(size as u64, Relaxed);
    }
}

impl Backend for Seed {
    fn name(&self) -> &'static str {
        if self.threaded {
            "seed design (MT)"
        } else {
            "seed design (ST)"
        }
    }
    fn reserve(&self, size: usize) -> *mut u8 {
        // SAFETY: non-zero size.
        let p = unsafe { Global.alloc(layout(size), false) };
        assert!(!p.is_null());
        let fresh = p as usize >= self.high_water.fetch_max(p as usize + size, Relaxed);
        if self.threaded || !fresh {
            self.zero(p, size);
        }
        self.blocks.insert(p, size);
        p
    }
    unsafe fn commit(&self, p: *mut u8, size: usize) {
        // SAFETY: a live block (caller).
        if !self.threaded && unsafe { *p } != 0 {
            self.zero(p, size);
        }
    }
    unsafe fn decommit(&self, p: *mut u8, size: usize) {
        if self.threaded {
            self.zero(p, size);
        } else {
            for page in (0..size).step_by(PAGE_SIZE) {
                // SAFETY: a live block (caller).
                unsafe { *p.add(page) = SEED_SENTINEL };
            }
        }
    }
    unsafe fn release(&self, p: *mut u8, size: usize) {
        if let Some((block, size)) = self.blocks.release(p, size) {
            // SAFETY: allocated in `reserve` with this layout.
            unsafe { Global.dealloc(block, layout(size)) };
        }
    }
    fn bytes_zeroed(&self) -> u64 {
        self.zeroed.load(Relaxed)
    }
    fn footprint(&self) -> Option<usize> {
        None
    }
}

/// The plain Rust approach: `alloc_zeroed` with 16 KiB alignment,
/// `write_bytes` to decommit, `dealloc` to release, over heap `H`.
pub struct Plain<H: Heap> {
    heap: H,
    name: &'static str,
    blocks: Blocks,
    zeroed: AtomicU64,
}

impl<H: Heap> Plain<H> {
    /// Over `heap`.
    pub fn new(name: &'static str, heap: H) -> Self {
        Self {
            heap,
            name,
            blocks: Blocks::default(),
            zeroed: AtomicU64::new(0),
        }
    }
}

impl<H: Heap> Backend for Plain<H> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn reserve(&self, size: usize) -> *mut u8 {
        // SAFETY: non-zero size.
        let p = unsafe { self.heap.alloc(layout(size), true) };
        assert!(!p.is_null());
        self.zeroed.fetch_add(size as u64, Relaxed);
        self.blocks.insert(p, size);
        p
    }
    unsafe fn commit(&self, _: *mut u8, _: usize) {}
    unsafe fn decommit(&self, p: *mut u8, size: usize) {
        // SAFETY: a live block (caller).
        unsafe { p.write_bytes(0, size) };
        self.zeroed.fetch_add(size as u64, Relaxed);
    }
    unsafe fn release(&self, p: *mut u8, size: usize) {
        if let Some((block, size)) = self.blocks.release(p, size) {
            // SAFETY: allocated in `reserve` with this layout.
            unsafe { self.heap.dealloc(block, layout(size)) };
        }
    }
    fn bytes_zeroed(&self) -> u64 {
        self.zeroed.load(Relaxed)
    }
    fn footprint(&self) -> Option<usize> {
        self.heap.footprint()
    }
}
