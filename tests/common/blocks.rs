//! Live blocks of the allocator tests that change hands between threads:
//! each carries a pattern derived from its seed, stamped when it is made
//! and checked whenever it moves, is reallocated or is freed.

use core::alloc::{GlobalAlloc, Layout};

/// A live block: where, its layout, its pattern's seed. Sent between
/// threads as plain data.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub addr: usize,
    pub layout: Layout,
    pub seed: usize,
}

/// Byte `i` of the pattern of seed `seed`.
pub fn pattern(seed: usize, i: usize) -> u8 {
    (seed.wrapping_mul(31).wrapping_add(i) % 251) as u8
}

/// The bytes of a block of `size` that carry its pattern: all of a block
/// up to 4 KiB; the first and last 64 and one every 4 KiB of a larger one
/// (so that a realloc's copy and every neighbour show, without making the
/// tests about `memset`).
pub fn marks(size: usize) -> impl Iterator<Item = usize> {
    let head = if size <= 4096 { size } else { 64 };
    let tail = size.saturating_sub(64).max(head);
    (0..head)
        .chain((4096..tail).step_by(4096))
        .chain(tail..size)
}

impl Block {
    pub fn ptr(&self) -> *mut u8 {
        self.addr as *mut u8
    }

    /// Writes the pattern into the block from byte `from` on.
    pub fn stamp_from(&self, from: usize) {
        for i in marks(self.layout.size()).filter(|&i| i >= from) {
            // SAFETY: inside the live block, owned by this thread.
            unsafe { self.ptr().add(i).write(pattern(self.seed, i)) };
        }
    }

    /// Writes the whole pattern.
    pub fn stamp(&self) {
        self.stamp_from(0);
    }

    /// Checks the pattern below byte `upto`.
    pub fn check_upto(&self, upto: usize, what: &str) {
        for i in marks(self.layout.size()).filter(|&i| i < upto) {
            // SAFETY: inside the live block, owned by this thread.
            let b = unsafe { self.ptr().add(i).read() };
            assert_eq!(b, pattern(self.seed, i), "{what}: byte {i} of {self:?}");
        }
    }

    /// Checks the whole pattern.
    pub fn check(&self, what: &str) {
        self.check_upto(self.layout.size(), what);
    }

    /// Checks the block and frees it into `a`, where it was allocated.
    pub fn free(self, a: &impl GlobalAlloc, what: &str) {
        self.check(what);
        // SAFETY: a live block of `a` with that layout, given up by the
        // caller (the block is consumed).
        unsafe { a.dealloc(self.ptr(), self.layout) };
    }
}
