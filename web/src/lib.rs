//! The browser demo of wasm-vmem: a GC-like workload on every rayon thread
//! and on the main thread, over the module's own linear memory, with live
//! figures for the page.
//!
//! The workload lives in [`workload`] and runs natively too (`cargo test -p
//! wasm-vmem-web`), over any `LinearMemory`; this file only binds it to the
//! page.

pub mod workload;

#[cfg(target_arch = "wasm32")]
pub use bindings::*;

#[cfg(target_arch = "wasm32")]
mod bindings {
    use crate::workload::{Board, Worker};
    use wasm_bindgen::prelude::*;
    use wasm_vmem::sys::Wasm32Memory;

    #[cfg(feature = "threads")]
    pub use wasm_bindgen_rayon::init_thread_pool;

    static BOARD: Board = Board::new();

    fn vmem() -> &'static wasm_vmem::Vmem<Wasm32Memory> {
        wasm_vmem::global()
    }

    /// "multithreaded" or "single-threaded": the build this module is.
    #[wasm_bindgen]
    pub fn build_kind() -> String {
        if cfg!(feature = "threads") {
            "multithreaded"
        } else {
            "single-threaded"
        }
        .into()
    }

    /// Starts `workers` workers of `rounds` collections each on the rayon
    /// pool (multithreaded build). Returns at once: the main thread never
    /// waits for them. In the single-threaded build this does nothing; the
    /// main thread drives its worker with [`step_main`].
    #[wasm_bindgen]
    pub fn start(workers: usize, rounds: u32) {
        BOARD.reset(workers, rounds);
        #[cfg(feature = "threads")]
        for slot in 1..=workers {
            rayon::spawn(move || {
                let mut worker = Worker::new(&BOARD, slot, rayon::current_thread_index());
                while worker.step(vmem(), 4) {}
            });
        }
    }

    thread_local! {
        static MAIN: core::cell::RefCell<Option<Worker<'static>>> = const { core::cell::RefCell::new(None) };
    }

    /// Runs up to `collections` collections of the main thread's own worker
    /// (slot 0) and returns: the main thread calls the crate too, between
    /// frames, and never blocks (the crate's lock only spins).
    #[wasm_bindgen]
    pub fn step_main(collections: u32) -> bool {
        MAIN.with(|main| {
            let mut main = main.borrow_mut();
            let worker = main.get_or_insert_with(|| Worker::new(&BOARD, 0, None));
            worker.step(vmem(), collections)
        })
    }

    /// The figures so far, as JSON: statistics, limits, per-worker
    /// operations, verification failures, threads used, and `done`.
    #[wasm_bindgen]
    pub fn snapshot() -> String {
        BOARD.to_json(&vmem().stats(), &vmem().limits())
    }

    /// Reserves one page, fills it with `byte` and returns its address, for
    /// the page to read back through a view of the (possibly grown) shared
    /// memory.
    #[wasm_bindgen]
    pub fn probe(byte: u8) -> usize {
        match vmem().reserve(wasm_vmem::PAGE_SIZE, 1) {
            Ok(p) => {
                // SAFETY: a page just reserved by this call, committed.
                unsafe { p.as_ptr().write_bytes(byte, wasm_vmem::PAGE_SIZE) };
                p.as_ptr() as usize
            }
            Err(_) => 0,
        }
    }

    /// Releases a page returned by [`probe`].
    #[wasm_bindgen]
    pub fn unprobe(addr: usize) -> bool {
        // SAFETY: `addr` came from `probe` and the page is not used again;
        // a wrong address is refused by the crate.
        unsafe {
            vmem()
                .release(addr as *mut u8, wasm_vmem::PAGE_SIZE)
                .is_ok()
        }
    }
}
