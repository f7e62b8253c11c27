//! Thread identity: which arena a thread prefers (docs/DESIGN.md §8).
//!
//! Natively with `std`, each thread takes the next number of a global
//! counter the first time it asks and keeps it in a thread-local: the first
//! [`MAX_ARENAS`](crate::MAX_ARENAS) threads get distinct arenas, later ones
//! share them round-robin. The thread-local is `const`-initialised and has
//! no destructor, so reading it never allocates (this may run inside the
//! global allocator) and never fails while the thread lives.
//!
//! On wasm32, and without `std`, a thread is told apart by where its stack
//! lies (1 MiB blocks, hashed): threads' stacks are apart, but two may hash
//! alike. Not a thread-local on wasm32: a new worker calls the global
//! allocator twice before its thread-locals exist — wasm-bindgen's start
//! function `malloc`s the worker's stack and then its TLS block, and only
//! then sets `__tls_base` (wasm-bindgen 0.2.130,
//! `cli-support/src/transforms/threads/mod.rs`) — so a thread-local read
//! there would read, and its first write would write, bytes near address 0
//! of the shared memory.
//!
//! Either way the number is only a preference: any thread may use any
//! arena, so a collision costs contention, never correctness.

/// The calling thread's number, `0, 1, 2, …` in the order threads first
/// asked (natively with `std`), or a hash of its stack address.
#[inline]
pub(crate) fn number() -> usize {
    #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
    if let Some(n) = counted() {
        return n;
    }
    stack_hash()
}

/// The thread's number from the global counter, or `None` if the
/// thread-local cannot be read (never for a `const` one without a
/// destructor, but `try_with` says so rather than panicking).
#[cfg(all(feature = "std", not(target_arch = "wasm32")))]
#[inline]
fn counted() -> Option<usize> {
    use core::cell::Cell;
    // Not loom's atomics: the counter only spreads threads over arenas and
    // is no part of any modelled race (under loom every thread is arena 0).
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    const UNSET: usize = usize::MAX;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static NUMBER: Cell<usize> = const { Cell::new(UNSET) };
    }
    NUMBER
        .try_with(|n| match n.get() {
            UNSET => {
                // Wraps after usize::MAX threads; UNSET is skipped.
                let v = NEXT.fetch_add(1, Relaxed) % UNSET;
                n.set(v);
                v
            }
            v => v,
        })
        .ok()
}

/// A hash of where the calling thread's stack lies, in 1 MiB blocks (a
/// thread's stack moves within one as calls nest).
#[inline]
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
