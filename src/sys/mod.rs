//! The platform seam: what wasm-vmem needs from a linear memory.
//!
//! The core is generic over [`LinearMemory`] and contains no
//! `cfg(target_arch)`: the real wasm memory (`Wasm32Memory`, on wasm32)
//! and the native simulation ([`SimMemory`]) are two implementations of the
//! same trait, one file each.

pub mod sim;
pub use sim::SimMemory;

#[cfg(target_arch = "wasm32")]
mod wasm32;
#[cfg(target_arch = "wasm32")]
#[cfg_attr(docsrs, doc(cfg(target_arch = "wasm32")))]
pub use wasm32::Wasm32Memory;

/// A linear memory that only grows, in 64 KiB wasm pages.
///
/// Addresses are plain `usize` values: on wasm32 linear memory starts at
/// address 0, where a pointer cannot be offset from null, so pointers are
/// made from addresses with exposed provenance instead.
///
/// # Safety
///
/// Implementors must guarantee:
/// - the bytes `base() .. base() + size() * WASM_PAGE_SIZE` are valid for
///   reads and writes and never move; `base()` is a multiple of
///   [`WASM_PAGE_SIZE`](crate::WASM_PAGE_SIZE);
/// - `size()` never decreases;
/// - when `grow(delta)` returns `Some(old)`, the pages `old .. old + delta`
///   belong to the caller alone: no other `grow` call (by this or any other
///   thread) returned any of them;
/// - if `grown_pages_read_zero()` is `true`, those pages read zero when
///   `grow` returns (the wasm spec guarantees this for `memory.grow`);
/// - `fill` and `read_byte` behave like `ptr::write_bytes` and `ptr::read`
///   on the addresses given.
///
/// wasm-vmem keeps its own metadata (page tables, run indexes) in pages it
/// grew for them, and reads and writes it directly through pointers made
/// from their addresses, not through [`fill`](Self::fill) and
/// [`read_byte`](Self::read_byte); the first requirement above is what
/// makes that valid.
///
/// Re-entrancy: wasm-vmem never calls a method of this trait while it holds
/// an instance's table lock — it reads `size()`, grows and writes page
/// contents before taking the lock or after releasing it — so an
/// implementation may allocate, log, or call into any wasm-vmem instance,
/// the one it serves included, without deadlocking or breaking the lock's
/// exclusion. Implementors must still guarantee that such a call does not
/// operate on the range the caller is operating on (the callers' own
/// obligation of every range operation).
pub unsafe trait LinearMemory {
    /// Current size in wasm pages (64 KiB).
    fn size(&self) -> usize;

    /// Grows by `delta` wasm pages; returns the previous size in wasm pages,
    /// or `None` if the memory cannot grow that far.
    fn grow(&self, delta: usize) -> Option<usize>;

    /// Address of byte 0 of the memory.
    fn base(&self) -> usize;

    /// The maximum size in wasm pages, when one is known.
    fn maximum(&self) -> Option<usize>;

    /// Whether pages returned by `grow` read zero. When `false`, the table
    /// treats fresh pages as dirty and zeroes them before handing them out.
    fn grown_pages_read_zero(&self) -> bool {
        true
    }

    /// Sets `len` bytes from `addr` to `byte`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee:
    /// - `addr .. addr + len` lies inside the memory;
    /// - no other thread accesses those bytes concurrently.
    unsafe fn fill(&self, addr: usize, len: usize, byte: u8) {
        // SAFETY: the range is inside the memory and unshared (caller); the
        // memory is valid for writes and its provenance exposed (trait).
        unsafe { write_raw(addr, len, byte) }
    }

    /// Reads the byte at `addr`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee:
    /// - `addr` lies inside the memory;
    /// - no other thread writes that byte concurrently.
    unsafe fn read_byte(&self, addr: usize) -> u8 {
        // SAFETY: `addr` is inside the memory, not written concurrently
        // (caller); the memory is valid for reads (trait).
        unsafe { read_raw(addr) }
    }
}

/// Sets `len` bytes from the exposed address `addr` to `byte`: the one
/// place where page contents are written.
///
/// # Safety
///
/// Callers must guarantee that `addr .. addr + len` is valid for writes
/// through a pointer made from the address (its allocation's provenance
/// exposed, as the memory's is), and not accessed by another thread
/// meanwhile.
pub(crate) unsafe fn write_raw(addr: usize, len: usize, byte: u8) {
    // SAFETY: valid, exposed and unshared (caller).
    unsafe {
        core::ptr::write_bytes(
            core::ptr::with_exposed_provenance_mut::<u8>(addr),
            byte,
            len,
        )
    }
}

/// Reads the byte at the exposed address `addr`: the one place where page
/// contents are read.
///
/// # Safety
///
/// Callers must guarantee that `addr` is valid for reads through a pointer
/// made from the address (provenance exposed), and not written by another
/// thread meanwhile.
pub(crate) unsafe fn read_raw(addr: usize) -> u8 {
    // SAFETY: valid, exposed and not written concurrently (caller).
    unsafe { core::ptr::with_exposed_provenance::<u8>(addr).read() }
}

// SAFETY: forwards every item to `T`, which upholds the contract.
unsafe impl<T: LinearMemory + ?Sized> LinearMemory for &T {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn grow(&self, delta: usize) -> Option<usize> {
        (**self).grow(delta)
    }
    fn base(&self) -> usize {
        (**self).base()
    }
    fn maximum(&self) -> Option<usize> {
        (**self).maximum()
    }
    fn grown_pages_read_zero(&self) -> bool {
        (**self).grown_pages_read_zero()
    }
    unsafe fn fill(&self, addr: usize, len: usize, byte: u8) {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { (**self).fill(addr, len, byte) }
    }
    unsafe fn read_byte(&self, addr: usize) -> u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { (**self).read_byte(addr) }
    }
}
