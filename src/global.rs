//! The instance over the running module's own memory (wasm32 only).

use crate::sys::Wasm32Memory;
use crate::Vmem;

/// Holds the global instance. The multithreaded instance is `Sync` by
/// itself; the single-threaded one is not, and gets its `Sync` below.
struct Global(Vmem<Wasm32Memory>);

// SAFETY: without the `threads` feature this build has no `+atomics`
// (lib.rs refuses that combination at compile time), so the module cannot
// share its memory and runs on exactly one thread.
#[cfg(not(feature = "threads"))]
unsafe impl Sync for Global {}

static GLOBAL: Global = Global(Vmem::new(Wasm32Memory::BUILD));

/// The instance over memory 0 of this wasm module: single-threaded by
/// default, multithreaded with the `threads` feature. Its maximum comes from
/// `WASM_VMEM_MAX_MEMORY` at build time (see [`Wasm32Memory`]).
///
/// ```ignore
/// let vm = wasm_vmem::global();
/// let p = vm.reserve(1 << 20, 1 << 20)?; // 1 MiB, reads zero
/// ```
pub fn global() -> &'static Vmem<Wasm32Memory> {
    &GLOBAL.0
}
