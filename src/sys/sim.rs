//! A simulated linear memory for native builds, tests and benchmarks.

use super::LinearMemory;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::WASM_PAGE_SIZE;
use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;

/// Byte written into pages grown by [`SimMemory::grow_foreign`], so that a
/// foreign page handed out by mistake does not read zero.
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub const FOREIGN_FILL: u8 = 0xF0;

#[repr(align(65536))]
struct WasmPageAligned;

/// A linear memory simulated in one host allocation.
///
/// The whole capacity is allocated (zeroed, lazily by the host) once, so
/// addresses never move, exactly as on wasm. It grows in 64 KiB wasm pages
/// up to that capacity; fresh pages read zero. With the `testing` feature it
/// can also grow "behind the back" of a [`Vmem`](crate::Vmem) on behalf of
/// someone else (`grow_foreign`), and be told to fail the next grows
/// (`fail_next_grows`). All of it works from several threads at once.
#[derive(Debug)]
pub struct SimMemory {
    /// The allocation, as returned by the allocator (freed on drop).
    allocation: NonNull<u8>,
    /// Its first wasm-page-aligned address: the memory's base.
    region: NonNull<u8>,
    capacity: usize,
    size: AtomicUsize,
    failures: AtomicUsize,
    #[cfg(any(test, feature = "testing"))]
    foreign_grows: AtomicUsize,
    /// Under loom, one cell per 16 KiB page: every access to page contents
    /// through the seam touches it, so loom reports two threads touching a
    /// page without a happens-before edge between them.
    #[cfg(loom)]
    pages: alloc::vec::Vec<crate::sync::UnsafeCell<()>>,
}

// SAFETY: the region is a plain heap allocation owned by the value; the
// counters are atomics. Concurrent access to page contents is the users'
// business, as for any linear memory.
unsafe impl Send for SimMemory {}
// SAFETY: see `Send`: `&SimMemory` only exposes atomics and raw addresses;
// under loom, the page cells hold no data and are only touched through
// `with`/`with_mut`, whose concurrent use loom checks (that is their job).
unsafe impl Sync for SimMemory {}

impl SimMemory {
    /// A memory that can grow to `max_bytes`, rounded down to whole wasm
    /// pages, and starts empty.
    ///
    /// # Panics
    ///
    /// If the host cannot allocate `max_bytes` of address space.
    pub fn new(max_bytes: usize) -> Self {
        let capacity = max_bytes / WASM_PAGE_SIZE;
        let (allocation, region) = if capacity == 0 {
            // Nothing is ever read or written; only the address matters,
            // and it must be wasm-page aligned like every base.
            let p = NonNull::<WasmPageAligned>::dangling().cast();
            (p, p)
        } else {
            let layout = Self::layout(capacity);
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { alloc_zeroed(layout) };
            let Some(allocation) = NonNull::new(ptr) else {
                alloc::alloc::handle_alloc_error(layout)
            };
            let offset = allocation.as_ptr().align_offset(WASM_PAGE_SIZE);
            // SAFETY: `offset < WASM_PAGE_SIZE`, and the layout has a wasm
            // page to spare, so the region stays inside the allocation.
            let region = unsafe { allocation.add(offset) };
            (allocation, region)
        };
        // Expose the region's provenance once: addresses handed out by the
        // seam are turned back into pointers with exposed provenance.
        let _ = region.as_ptr().expose_provenance();
        Self {
            allocation,
            region,
            capacity,
            size: AtomicUsize::new(0),
            failures: AtomicUsize::new(0),
            #[cfg(any(test, feature = "testing"))]
            foreign_grows: AtomicUsize::new(0),
            #[cfg(loom)]
            pages: (0..capacity * crate::PAGES_PER_WASM_PAGE)
                .map(|_| crate::sync::UnsafeCell::new(()))
                .collect(),
        }
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

    /// Capacity (the maximum) in wasm pages.
    pub fn capacity(&self) -> usize {
        self.capacity
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
        let mut current = self.size.load(Ordering::SeqCst);
        loop {
            let new = current.checked_add(delta).filter(|&n| n <= self.capacity)?;
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
            let first = (addr - self.base()) / crate::PAGE_SIZE;
            let last = (addr - self.base() + len - 1) / crate::PAGE_SIZE;
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
        if self.capacity > 0 {
            // SAFETY: allocated in `new` with this very layout.
            unsafe { dealloc(self.allocation.as_ptr(), Self::layout(self.capacity)) }
        }
    }
}

// SAFETY:
// - the region is allocated once and freed only on drop, so `base .. base +
//   size` stays valid and never moves; it is aligned to the wasm page size;
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
        self.region.as_ptr().addr()
    }

    fn maximum(&self) -> Option<usize> {
        Some(self.capacity)
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
