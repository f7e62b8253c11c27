//! The units every layer counts in: page sizes, the batch of a range
//! operation, the arenas an instance holds room for, and rounding to an
//! alignment. The bottom of the
//! crate: it imports nothing, and every module may import it; `lib.rs`
//! re-exports the public ones.

/// The unit of every operation: 16 KiB, as in the CoreCLR wasm port.
pub const PAGE_SIZE: usize = 16 * 1024;

/// The unit of `memory.grow`: 64 KiB.
pub const WASM_PAGE_SIZE: usize = 64 * 1024;

/// 16 KiB pages per 64 KiB wasm page.
pub const PAGES_PER_WASM_PAGE: usize = WASM_PAGE_SIZE / PAGE_SIZE;

/// Pages processed per lock acquisition by the operations on ranges
/// (reserve, commit, decommit, release), so that a critical section is
/// bounded by a constant, not by the range size: a longer range takes the
/// lock once per batch.
pub const BATCH_PAGES: usize = 64;

/// Arenas an instance holds room for; a policy uses
/// [`Policy::ARENAS`](crate::policy::Policy::ARENAS) of them.
pub const MAX_ARENAS: usize = 8;

/// Small-object heaps an instance's allocator holds room for; a policy
/// uses [`Policy::HEAPS`](crate::policy::Policy::HEAPS) of them. More than
/// arenas: a heap's lock is taken on every small allocation and free, an
/// arena's only when a heap needs a span, so threads sharing a heap
/// contend where threads sharing an arena rarely do.
pub const MAX_HEAPS: usize = 16;

/// The arenas or heaps a policy's count `asked` gives, within 1 ..= `max`.
pub(crate) const fn slots_in_use(asked: usize, max: usize) -> usize {
    if asked == 0 {
        1
    } else if asked > max {
        max
    } else {
        asked
    }
}

/// Rounds `x` up to a multiple of `align`, a power of two.
pub(crate) fn align_up(x: usize, align: usize) -> usize {
    (x + align - 1) & !(align - 1)
}
