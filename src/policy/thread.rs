//! Thread identity: which arena a thread prefers (docs/DESIGN.md §8).
//!
//! With `std`, each thread takes the next number of a global counter the
//! first time it asks and keeps it in a thread-local: the first
//! [`MAX_ARENAS`](crate::MAX_ARENAS) threads get distinct arenas, later
//! ones share them round-robin, and a thread keeps its number however deep
//! its stack grows. The thread-local is `const`-initialised and has no
//! destructor, so reading it never allocates (this may run inside the
//! global allocator) and never fails while the thread lives.
//!
//! On wasm32 a new worker calls the global allocator twice before its
//! thread-locals exist: wasm-bindgen's start function `malloc`s the
//! worker's stack and then its TLS block, and only then sets `__tls_base`
//! (wasm-bindgen 0.2.130, `cli-support/src/transforms/threads/mod.rs`).
//! Until then a thread-local's address is its offset from a base that is
//! not the thread's — below `__heap_base`, where no TLS block (allocated
//! from the heap) can lie — so the thread-local is used only at an address
//! at or above `__heap_base`; before, and without `std`, a thread is told
//! apart by where its stack lies (1 MiB blocks, hashed): threads' stacks
//! are apart, but two may hash alike, and a thread whose stack crosses a
//! block changes arena.
//!
//! Either way the number is only a preference: any thread may use any
//! arena, so a collision costs contention, never correctness.

/// The calling thread's slot among `slots` (arenas of the pool, heaps of
/// the allocator): its number modulo `slots`; 0 with one slot, and 0 under
/// loom and Miri, whose tests place work in chosen slots themselves (loom
/// models with `reserve_in` and `alloc_in`), so that executions replay
/// exactly.
#[inline]
pub(crate) fn slot(slots: usize) -> usize {
    if slots == 1 || cfg!(loom) || cfg!(miri) {
        return 0;
    }
    number() % slots
}

/// The calling thread's number, `0, 1, 2, …` in the order threads first
/// asked (with `std`, once the thread's TLS exists), or a hash of its
/// stack address. The number already kept is read inline; taking one, and
/// the stack's hash, are out of line.
#[inline]
pub(crate) fn number() -> usize {
    #[cfg(feature = "std")]
    if let Some(n) = counted::kept() {
        return n;
    }
    number_first()
}

/// [`number`] when the thread has none kept yet: takes one (with `std`,
/// once the thread's TLS exists), else hashes the stack's address.
#[cold]
#[inline(never)]
fn number_first() -> usize {
    #[cfg(feature = "std")]
    if let Some(n) = counted::take() {
        return n;
    }
    stack_hash()
}

/// The thread's number from the global counter, kept in a thread-local,
/// which is used only where it can be: on wasm32 not before the thread's
/// TLS block exists, and nowhere if `try_with` refuses (never for a
/// `const` one without a destructor, but it says so rather than
/// panicking).
#[cfg(feature = "std")]
mod counted {
    use super::tls_ready;
    use core::cell::Cell;
    // Not loom's atomics: the counter only spreads threads over arenas and
    // is no part of any modelled race (under loom every thread is arena 0).
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    const UNSET: usize = usize::MAX;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static NUMBER: Cell<usize> = const { Cell::new(UNSET) };
    }

    /// `f` on the thread-local, if it can be used: in the thread's own
    /// block (before it exists, the address is not the thread's) and
    /// while `try_with` accepts.
    #[inline]
    fn local(f: impl FnOnce(&Cell<usize>) -> Option<usize>) -> Option<usize> {
        NUMBER
            .try_with(|n| if tls_ready(n) { f(n) } else { None })
            .ok()
            .flatten()
    }

    /// The number this thread took, if it took one.
    #[inline]
    pub(super) fn kept() -> Option<usize> {
        local(|n| Some(n.get()).filter(|&v| v != UNSET))
    }

    /// The number this thread took, taking the next one if it has none;
    /// `None` if the thread-local cannot be used yet.
    pub(super) fn take() -> Option<usize> {
        local(|n| {
            if n.get() == UNSET {
                // Wraps after usize::MAX threads; UNSET is skipped.
                n.set(NEXT.fetch_add(1, Relaxed) % UNSET);
            }
            Some(n.get())
        })
    }
}

/// Whether `local`, a thread-local, lies in the thread's own TLS block: on
/// wasm32, at or above `__heap_base` (module docs).
#[cfg(all(feature = "std", target_arch = "wasm32"))]
#[inline]
fn tls_ready<T>(local: &T) -> bool {
    extern "C" {
        /// Where the heap starts, after the module's data and the main
        /// thread's stack (a symbol wasm-ld defines).
        static __heap_base: u8;
    }
    // Only the symbol's address is taken (safe), nothing is read.
    let heap_base = (&raw const __heap_base).addr();
    core::ptr::from_ref(local).addr() >= heap_base
}

/// Natively a thread-local is always in the thread's own block.
#[cfg(all(feature = "std", not(target_arch = "wasm32")))]
#[inline]
fn tls_ready<T>(_: &T) -> bool {
    true
}

/// A hash of where the calling thread's stack lies, in 1 MiB blocks (a
/// thread's stack moves within one as calls nest). Out of line and cold:
/// the address of a local gives its caller a stack frame (on wasm32, in
/// linear memory), which the allocator's every call would pay otherwise.
#[cold]
#[inline(never)]
fn stack_hash() -> usize {
    let marker = 0u8;
    let stack = core::ptr::addr_of!(marker).addr() as u64;
    ((stack >> 20).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "std")]
    fn a_thread_keeps_its_number_and_threads_differ() {
        let here = number();
        assert_eq!(number(), here);
        let there = std::thread::spawn(|| (number(), number())).join().unwrap();
        assert_eq!(there.0, there.1);
        assert_ne!(there.0, here, "two live threads got the same number");
    }
}
