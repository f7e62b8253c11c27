//! A simulated linear memory for native builds, tests and benchmarks.

use super::LinearMemory;
use crate::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use crate::units::WASM_PAGE_SIZE;
use core::alloc::Layout;
use core::ptr::NonNull;

/// Byte written into pages grown by [`SimMemory::grow_foreign`], so that a
/// foreign page handed out by mistake does not read zero.
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub const FOREIGN_FILL: u8 = 0xF0;

#[repr(align(65536))]
struct WasmPageAligned;

/// The region does not exist yet ([`SimMemory::lazy`]).
const UNINIT: u8 = 0;
/// One thread is taking the region from the host; the others wait.
const BUSY: u8 = 1;
/// The region exists (or the host gave none: capacity 0), for good.
const READY: u8 = 2;

/// A linear memory simulated in one host allocation.
///
/// The whole capacity is taken from the host at once (zeroed, and lazily
/// committed by the host), so addresses never move, exactly as on wasm. It
/// grows in 64 KiB wasm pages up to that capacity; fresh pages read zero.
/// With the `testing` feature it can also grow "behind the back" of a
/// [`Vmem`](crate::Vmem) on behalf of someone else (`grow_foreign`), and be
/// told to fail the next grows (`fail_next_grows`). All of it works from
/// several threads at once.
///
/// With the `std` feature (the default) the region never comes from the
/// global allocator, so a `SimMemory` can sit under a `#[global_allocator]`
/// ([`lazy`](Self::lazy)): [`new`](Self::new) takes it from the host
/// allocator [`std::alloc::System`] (`calloc`), like the host heap that the
/// benchmarks' baselines allocate from, so that neither side pays
/// first-touch faults the other does not; a lazy memory, which may ask for
/// more address space than the machine has memory, takes it on Linux as an
/// anonymous mapping with `MAP_NORESERVE` (elsewhere from `System` too).
/// Without `std`, from the global allocator.
#[derive(Debug)]
pub struct SimMemory {
    /// [`UNINIT`], [`BUSY`] or [`READY`]; `allocation`, `region` and
    /// `capacity` are final once it reads `READY` (acquire).
    state: AtomicU8,
    /// The allocation, as returned by the host (null: none), freed on drop.
    allocation: AtomicPtr<u8>,
    /// Its first wasm-page-aligned address: the memory's base.
    region: AtomicUsize,
    /// The maximum in wasm pages: asked for, then granted.
    capacity: AtomicUsize,
    size: AtomicUsize,
    failures: AtomicUsize,
    #[cfg(any(test, feature = "testing"))]
    foreign_grows: AtomicUsize,
    /// Made by [`lazy`](Self::lazy): where the region comes from (see
    /// `host`).
    lazy: bool,
    /// Under loom, one cell per 16 KiB page: every access to page contents
    /// through the seam touches it, so loom reports two threads touching a
    /// page without a happens-before edge between them.
    #[cfg(loom)]
    pages: alloc::vec::Vec<crate::sync::UnsafeCell<()>>,
}

// SAFETY: the region is a host allocation owned by the value, reached only
// through atomics that publish it (`state`); the counters are atomics.
// Concurrent access to page contents is the users' business, as for any
// linear memory.
unsafe impl Send for SimMemory {}
// SAFETY: see `Send`: `&SimMemory` only exposes atomics and raw addresses;
// the region is created once, by the one thread that moves `state` from
// `UNINIT` to `BUSY`, and published with release ordering; under loom, the
// page cells hold no data and are only touched through `with`/`with_mut`,
// whose concurrent use loom checks (that is their job).
unsafe impl Sync for SimMemory {}

/// Where a memory's region comes from: with `std`, `System` (`calloc`),
/// except a lazy memory's on Linux (not under Miri and loom): an anonymous
/// private mapping with `MAP_NORESERVE` (address space only: Linux's
/// default heuristic overcommit refuses one ordinary mapping larger than
/// RAM + swap, but not one that reserves no swap); without `std`, the
/// global allocator. Each module has `alloc_zeroed(layout, lazy)` and
/// `dealloc(ptr, layout, lazy)`.
#[cfg(all(feature = "std", target_os = "linux", not(miri), not(loom)))]
mod host {
    use core::alloc::{GlobalAlloc, Layout};
    use std::alloc::System;

    /// A zeroed region of `layout.size()` bytes, or null: untouched and
    /// mapped for the purpose if `lazy`.
    ///
    /// # Safety
    ///
    /// `layout` must have a non-zero size.
    pub(super) unsafe fn alloc_zeroed(layout: Layout, lazy: bool) -> *mut u8 {
        if !lazy {
            // SAFETY: non-zero size (caller).
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is named.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return core::ptr::null_mut();
        }
        // Page-aligned, so aligned to `layout.align()` (at most 8).
        p.cast()
    }

    /// Frees what [`alloc_zeroed`] returned.
    ///
    /// # Safety
    ///
    /// `ptr` must come from `alloc_zeroed(layout, lazy)` and not be freed
    /// yet.
    pub(super) unsafe fn dealloc(ptr: *mut u8, layout: Layout, lazy: bool) {
        if !lazy {
            // SAFETY: allocated by `System` with this layout (caller).
            return unsafe { System.dealloc(ptr, layout) };
        }
        // SAFETY: the whole mapping made by `alloc_zeroed` with this size
        // (caller); nothing uses it any more.
        let unmapped = unsafe { libc::munmap(ptr.cast(), layout.size()) };
        debug_assert_eq!(unmapped, 0);
    }
}

/// See the Linux `host` above: `System` elsewhere with `std`.
#[cfg(all(feature = "std", not(all(target_os = "linux", not(miri), not(loom)))))]
mod host {
    use core::alloc::{GlobalAlloc, Layout};
    use std::alloc::System;

    /// `System`'s zeroed allocation, lazy or not.
    ///
    /// # Safety
    ///
    /// `layout` must have a non-zero size.
    pub(super) unsafe fn alloc_zeroed(layout: Layout, _lazy: bool) -> *mut u8 {
        // SAFETY: non-zero size (caller).
        unsafe { System.alloc_zeroed(layout) }
    }

    /// Frees what [`alloc_zeroed`] returned.
    ///
    /// # Safety
    ///
    /// `ptr` must come from `alloc_zeroed(layout, lazy)` and not be freed
    /// yet.
    pub(super) unsafe fn dealloc(ptr: *mut u8, layout: Layout, _lazy: bool) {
        // SAFETY: allocated by `System` with this layout (caller).
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// See the Linux `host` above: the global allocator without `std`.
#[cfg(not(feature = "std"))]
mod host {
    use core::alloc::Layout;

    /// The global allocator's zeroed allocation, lazy or not.
    ///
    /// # Safety
    ///
    /// `layout` must have a non-zero size.
    pub(super) unsafe fn alloc_zeroed(layout: Layout, _lazy: bool) -> *mut u8 {
        // SAFETY: non-zero size (caller).
        unsafe { alloc::alloc::alloc_zeroed(layout) }
    }

    /// Frees what [`alloc_zeroed`] returned.
    ///
    /// # Safety
    ///
    /// `ptr` must come from `alloc_zeroed(layout, lazy)` and not be freed
    /// yet.
    pub(super) unsafe fn dealloc(ptr: *mut u8, layout: Layout, _lazy: bool) {
        // SAFETY: allocated by the global allocator with this layout
        // (caller).
        unsafe { alloc::alloc::dealloc(ptr, layout) }
    }
}

impl SimMemory {
    crate::sync::const_fn! {
        /// The fields of a memory of `capacity` wasm pages with no region
        /// yet, made by [`lazy`](Self::lazy) or not.
        const fn empty(capacity: usize, lazy: bool) -> Self {
            Self {
                state: AtomicU8::new(UNINIT),
                allocation: AtomicPtr::new(core::ptr::null_mut()),
                region: AtomicUsize::new(0),
                capacity: AtomicUsize::new(capacity),
                size: AtomicUsize::new(0),
                failures: AtomicUsize::new(0),
                #[cfg(any(test, feature = "testing"))]
                foreign_grows: AtomicUsize::new(0),
                lazy,
                // Under loom (never `const`), one cell per page of the
                // capacity asked for, which the region never exceeds.
                #[cfg(loom)]
                pages: (0..capacity * crate::units::PAGES_PER_WASM_PAGE)
                    .map(|_| crate::sync::UnsafeCell::new(()))
                    .collect(),
            }
        }
    }

    /// A memory that can grow to `max_bytes`, rounded down to whole wasm
    /// pages, and starts empty. Its region is taken from the host now.
    ///
    /// # Panics
    ///
    /// If the host cannot allocate `max_bytes` of address space.
    pub fn new(max_bytes: usize) -> Self {
        let memory = Self::empty(max_bytes / WASM_PAGE_SIZE, false);
        memory.init(false);
        memory
    }

    crate::sync::const_fn! {
        /// A memory that can grow to `max_bytes`, rounded down to whole wasm
        /// pages, that takes nothing at construction: its region is taken
        /// from the OS (never the global allocator) on first use — the
        /// first call of [`base`](LinearMemory::base),
        /// [`grow`](LinearMemory::grow),
        /// [`maximum`](LinearMemory::maximum) or
        /// [`capacity`](Self::capacity), from whichever thread comes first;
        /// the others wait for it. So it can be built in a `static`, under
        /// a `#[global_allocator]`:
        ///
        /// ```ignore
        /// #[global_allocator]
        /// static A: SomeAlloc<SimMemory> = SomeAlloc::new(SimMemory::lazy(64 << 30));
        /// ```
        ///
        /// A 64 GiB lazy memory reserves 64 GiB of address space on first
        /// use, not memory: the host maps it zeroed and commits a page when
        /// it is first touched (on Linux with `MAP_NORESERVE`, which the
        /// default heuristic overcommit grants beyond RAM + swap). If the
        /// host refuses that much address space at once (strict
        /// overcommit, or `calloc` on other hosts), the request is halved
        /// until it is granted, and [`maximum`](LinearMemory::maximum) and
        /// [`capacity`](Self::capacity) report what was; a memory the host
        /// gives nothing cannot grow. Dropping the memory frees the region.
        #[cfg(feature = "std")]
        #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
        pub const fn lazy(max_bytes: usize) -> Self {
            Self::empty(max_bytes / WASM_PAGE_SIZE, true)
        }
    }

    /// The region's base, taking the region from the host first if it does
    /// not exist yet.
    #[inline]
    fn region(&self) -> usize {
        if self.state.load(Ordering::Acquire) != READY {
            self.init(true);
        }
        self.region.load(Ordering::Relaxed)
    }

    /// Takes the region from the host, once: the thread that moves `state`
    /// from `UNINIT` to `BUSY` allocates and publishes; the others spin
    /// until it is `READY` (they allocate nothing, so nothing can leak).
    /// `shrink`: halve the request until the host grants it (lazy
    /// memories), rather than panicking.
    #[cold]
    fn init(&self, shrink: bool) {
        if self
            .state
            .compare_exchange(UNINIT, BUSY, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            while self.state.load(Ordering::Acquire) != READY {
                crate::sync::spin_loop();
            }
            return;
        }
        let mut capacity = self.capacity.load(Ordering::Relaxed);
        let mut allocation = core::ptr::null_mut();
        let mut region = NonNull::<WasmPageAligned>::dangling().as_ptr().addr();
        while capacity > 0 {
            let layout = Self::layout(capacity);
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { host::alloc_zeroed(layout, self.lazy) };
            if !ptr.is_null() {
                let offset = ptr.align_offset(WASM_PAGE_SIZE);
                // Expose the region's provenance once: addresses handed out
                // by the seam are turned back into pointers with exposed
                // provenance. `offset < WASM_PAGE_SIZE`, and the layout
                // has a wasm page to spare, so the region stays inside.
                region = ptr.wrapping_add(offset).expose_provenance();
                allocation = ptr;
                break;
            }
            if !shrink {
                handle_alloc_error(layout);
            }
            capacity /= 2;
        }
        self.allocation.store(allocation, Ordering::Relaxed);
        self.region.store(region, Ordering::Relaxed);
        self.capacity.store(capacity, Ordering::Relaxed);
        self.state.store(READY, Ordering::Release);
    }

    /// The allocation for `capacity` wasm pages: one wasm page more, so that
    /// an aligned region fits, at a small alignment, so that the allocator
    /// can take it from the OS zeroed and untouched (`calloc`, `mmap`): a
    /// fresh page costs its first-touch fault when used, as in a wasm
    /// engine, rather than a `memset` of the whole maximum up front.
    fn layout(capacity: usize) -> Layout {
        let size = capacity
            .checked_add(1)
            .and_then(|pages| pages.checked_mul(WASM_PAGE_SIZE));
        match size.map(|size| Layout::from_size_align(size, 8)) {
            Some(Ok(l)) => l,
            _ => panic!("SimMemory capacity too large for the host"),
        }
    }

    /// Capacity (the maximum) in wasm pages. For a [`lazy`](Self::lazy)
    /// memory this takes the region from the host if it does not exist yet.
    pub fn capacity(&self) -> usize {
        self.region();
        self.capacity.load(Ordering::Relaxed)
    }

    /// Grows the memory by `wasm_pages` on behalf of someone else (the
    /// global allocator, another module), as `memory.grow` from other code
    /// would. The new pages are filled with [`FOREIGN_FILL`] to stand for
    /// that code's data. Returns the old size, or `None` if it cannot grow.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn grow_foreign(&self, wasm_pages: usize) -> Option<usize> {
        let old = self.try_grow(wasm_pages)?;
        self.foreign_grows.fetch_add(1, Ordering::Relaxed);
        let addr = self.base() + old * WASM_PAGE_SIZE;
        // SAFETY: the pages `old .. old + wasm_pages` were just granted to
        // this call alone, inside the region.
        unsafe { self.fill(addr, wasm_pages * WASM_PAGE_SIZE, FOREIGN_FILL) };
        Some(old)
    }

    /// Makes the next `count` calls to [`grow`](LinearMemory::grow) (not
    /// [`grow_foreign`](Self::grow_foreign)) fail as if the engine refused.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn fail_next_grows(&self, count: usize) {
        self.failures.store(count, Ordering::SeqCst);
    }

    /// How many of the next calls to [`grow`](LinearMemory::grow) will still
    /// fail ([`fail_next_grows`](Self::fail_next_grows)).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn pending_grow_failures(&self) -> usize {
        self.failures.load(Ordering::SeqCst)
    }

    /// How many foreign grows succeeded.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn foreign_grows(&self) -> usize {
        self.foreign_grows.load(Ordering::Relaxed)
    }

    /// Whether `addr .. addr + len` lies inside the memory's current size.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn contains(&self, addr: usize, len: usize) -> bool {
        let end = self.base() + self.size() * WASM_PAGE_SIZE;
        addr >= self.base() && addr.checked_add(len).is_some_and(|e| e <= end)
    }

    fn try_grow(&self, delta: usize) -> Option<usize> {
        let capacity = self.capacity();
        let mut current = self.size.load(Ordering::SeqCst);
        loop {
            let new = current.checked_add(delta).filter(|&n| n <= capacity)?;
            match self
                .size
                .compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(old) => return Some(old),
                Err(seen) => current = seen,
            }
        }
    }

    /// Whether all `len` bytes from `addr` equal `byte`, read through the
    /// seam (so loom sees the reads).
    ///
    /// # Safety
    ///
    /// Callers must guarantee:
    /// - `addr .. addr + len` lies inside the memory's current size;
    /// - no other thread writes those bytes concurrently.
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub unsafe fn reads(&self, addr: usize, len: usize, byte: u8) -> bool {
        self.track(addr, len, false);
        // SAFETY: inside the region (caller), which is valid for reads; no
        // concurrent writes (caller).
        let bytes = unsafe {
            core::slice::from_raw_parts(core::ptr::with_exposed_provenance::<u8>(addr), len)
        };
        bytes.iter().all(|&b| b == byte)
    }

    /// Records an access to the pages of `addr .. addr + len` for loom;
    /// nothing otherwise.
    #[inline]
    fn track(&self, addr: usize, len: usize, write: bool) {
        #[cfg(loom)]
        if len > 0 {
            let first = (addr - self.base()) / crate::units::PAGE_SIZE;
            let last = (addr - self.base() + len - 1) / crate::units::PAGE_SIZE;
            for cell in &self.pages[first..=last] {
                if write {
                    cell.with_mut(|_| ());
                } else {
                    cell.with(|_| ());
                }
            }
        }
        #[cfg(not(loom))]
        let _ = (addr, len, write);
    }

    fn take_failure(&self) -> bool {
        self.failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

impl Drop for SimMemory {
    fn drop(&mut self) {
        // `&mut self`: no thread is initialising; what it published is seen.
        let allocation = self.allocation.load(Ordering::Acquire);
        if !allocation.is_null() {
            let layout = Self::layout(self.capacity.load(Ordering::Relaxed));
            // SAFETY: allocated by `init` with this very layout (the
            // capacity it stored), freed only here.
            unsafe { host::dealloc(allocation, layout, self.lazy) }
        }
    }
}

/// The host's out-of-memory handler.
fn handle_alloc_error(layout: Layout) -> ! {
    #[cfg(feature = "std")]
    std::alloc::handle_alloc_error(layout);
    #[cfg(not(feature = "std"))]
    alloc::alloc::handle_alloc_error(layout);
}

// SAFETY:
// - the region is allocated once (before any growth: `try_grow` and `base`
//   create it first) and freed only on drop, so `base .. base + size` stays
//   valid and never moves; it is aligned to the wasm page size;
// - `size` only increases, through a compare-exchange, so each successful
//   grow owns the distinct pages `old .. old + delta`;
// - the region was zero-allocated and nothing in this type writes to pages
//   beyond `size` before they are granted, so fresh pages read zero.
unsafe impl LinearMemory for SimMemory {
    fn size(&self) -> usize {
        self.size.load(Ordering::SeqCst)
    }

    fn grow(&self, delta: usize) -> Option<usize> {
        if self.take_failure() {
            return None;
        }
        self.try_grow(delta)
    }

    fn base(&self) -> usize {
        self.region()
    }

    fn maximum(&self) -> Option<usize> {
        Some(self.capacity())
    }

    unsafe fn fill(&self, addr: usize, len: usize, byte: u8) {
        self.track(addr, len, true);
        // SAFETY: the range is inside the region (caller), which is valid
        // and exposed (`new`), and unshared (caller).
        unsafe { super::write_raw(addr, len, byte) }
    }

    unsafe fn read_byte(&self, addr: usize) -> u8 {
        self.track(addr, 1, false);
        // SAFETY: `addr` is inside the region, valid and exposed (`new`),
        // not written concurrently (caller).
        unsafe { super::read_raw(addr) }
    }
}
