//! The real thing: memory 0 of the running wasm module.

use super::LinearMemory;
use crate::units::WASM_PAGE_SIZE;
use core::arch::wasm32;

/// Memory 0 of the current wasm instance, grown with `memory.grow`.
///
/// Wasm has no instruction that reads a memory's declared maximum, so it is
/// given here: [`Wasm32Memory::BUILD`] takes it from the environment
/// variable `WASM_VMEM_MAX_MEMORY` (bytes) at compile time — set it to the
/// value passed to the linker's `--max-memory` — and otherwise assumes the
/// whole 4 GiB wasm32 address space.
#[derive(Debug, Clone, Copy)]
pub struct Wasm32Memory {
    /// Wasm pages the maximum lies below the 4 GiB address space: zero for
    /// the whole space, so that the memory, and an instance over it in a
    /// `static`, is all zero bytes and lies in `.bss` rather than in the
    /// module's data.
    pages_short: usize,
}

impl Wasm32Memory {
    /// The memory with the maximum configured at build time.
    pub const BUILD: Self = Self::with_maximum(build_max_bytes());

    /// The memory with a maximum of `max_bytes` (rounded down to wasm
    /// pages, at most 4 GiB).
    pub const fn with_maximum(max_bytes: u64) -> Self {
        let pages = max_bytes / WASM_PAGE_SIZE as u64;
        let pages = if pages > 65536 { 65536 } else { pages };
        Self {
            pages_short: (65536 - pages) as usize,
        }
    }
}

const fn build_max_bytes() -> u64 {
    const FOUR_GIB: u64 = 1 << 32;
    let Some(text) = option_env!("WASM_VMEM_MAX_MEMORY") else {
        return FOUR_GIB;
    };
    let bytes = text.as_bytes();
    let mut value: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i];
        assert!(
            digit.is_ascii_digit(),
            "WASM_VMEM_MAX_MEMORY must be a number of bytes"
        );
        value = value * 10 + (digit - b'0') as u64;
        i += 1;
    }
    value
}

// SAFETY:
// - linear memory starts at address 0 (a multiple of the wasm page size),
//   never moves and never shrinks;
// - `memory.grow` is sequentially consistent: each successful call returns a
//   distinct old size, so the new pages belong to that caller alone;
// - the wasm spec zero-fills grown pages.
unsafe impl LinearMemory for Wasm32Memory {
    fn size(&self) -> usize {
        wasm32::memory_size::<0>()
    }

    fn grow(&self, delta: usize) -> Option<usize> {
        match wasm32::memory_grow::<0>(delta) {
            usize::MAX => None,
            old => Some(old),
        }
    }

    fn base(&self) -> usize {
        0
    }

    fn maximum(&self) -> Option<usize> {
        Some(65536 - self.pages_short)
    }
}
