//! Size classes of small blocks, and the span each class is carved from.
//!
//! A small request (below [`LARGE_MIN`](super::LARGE_MIN), aligned to less
//! than a page) is served from a block of its class: 8-byte steps up to
//! 64 bytes, then four classes per doubling (mimalloc's bins), so a block
//! is at most 25 % larger than the request it serves (about 12 % on
//! average over uniformly spread sizes). The class is a function of the
//! layout alone, so a free and a `realloc` find it again without a header
//! per block; up to 2 KiB it is read from a table, without a branch on the
//! size.
//!
//! Each class is carved from spans of one size, reserved from the page
//! pool at their own alignment, so that the span of a block is its address
//! masked: 16 KiB (one pool page) up to 1 KiB blocks, 64 KiB up to 2 KiB,
//! and above, the smallest power of two from 16 KiB that holds three
//! blocks (16 to 128 KiB). A span holds at least three blocks.

use core::alloc::Layout;

/// Number of size classes: eight to 64 bytes, then four per doubling to
/// [`LARGE_MIN`](super::LARGE_MIN) (a power of two).
pub(crate) const CLASSES: usize = 8 + 4 * (super::LARGE_MIN.trailing_zeros() as usize - 6);

/// Blocks are multiples of this, and every block is aligned to it.
pub(crate) const GRANULE: usize = 8;

/// Room at the start of each span for its header, before any block (a
/// block is placed further if its class asks: `first_of_size`).
pub(crate) const SPAN_HEADER: usize = 128;

/// The smallest span: one pool page.
pub(crate) const MIN_SPAN: u32 = 16 * 1024;

/// The largest span, that of the last class.
pub(crate) const MAX_SPAN: u32 = INFO[CLASSES - 1].span;

/// Block size of class `c`.
const fn size_of_class(c: usize) -> usize {
    if c < 8 {
        (c + 1) * GRANULE
    } else {
        let b = 6 + (c - 8) / 4;
        let q = (c - 8) % 4;
        (1 << b) + (q + 1) * (1 << (b - 2))
    }
}

/// Span size (a power of two) for blocks of `size` bytes: 16 KiB up to
/// 1 KiB blocks, 64 KiB up to 2 KiB (so that a batch of a few dozen blocks
/// of one class fits one span), and above, the smallest from 16 KiB that
/// holds three blocks: a class used for a few large blocks holds little
/// more than they need (the (c) phase workload; decision 0041).
const fn span_for(size: usize) -> usize {
    if size <= 1024 {
        MIN_SPAN as usize
    } else if size <= 2048 {
        64 * 1024
    } else {
        let first = first_of_size(size);
        let mut span = MIN_SPAN as usize;
        while span < first + 3 * size {
            span *= 2;
        }
        span
    }
}

/// Where the first block of a span of blocks of `size` bytes starts: past
/// the header, at a multiple of the largest power of two dividing `size`,
/// so that every block is aligned to that power of two (spans are aligned
/// to their size).
const fn first_of_size(size: usize) -> usize {
    let low = 1 << size.trailing_zeros();
    if SPAN_HEADER > low {
        SPAN_HEADER.div_ceil(low) * low
    } else {
        low
    }
}

/// One entry per class: its block size, span size, first block's offset
/// and how many blocks a span holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClassInfo {
    pub(crate) block: u32,
    pub(crate) span: u32,
    pub(crate) first: u32,
    pub(crate) blocks: u32,
}

/// The classes, computed at compile time.
pub(crate) const INFO: [ClassInfo; CLASSES] = {
    let mut t = [ClassInfo {
        block: 0,
        span: 0,
        first: 0,
        blocks: 0,
    }; CLASSES];
    let mut c = 0;
    while c < CLASSES {
        let block = size_of_class(c);
        let span = span_for(block);
        let first = first_of_size(block);
        t[c] = ClassInfo {
            block: block as u32,
            span: span as u32,
            first: first as u32,
            blocks: ((span - first) / block) as u32,
        };
        c += 1;
    }
    t
};

const _: () = {
    assert!(CLASSES <= u8::MAX as usize, "a class fits BY_GRANULES");
    assert!(
        size_of_class(CLASSES - 1) == super::LARGE_MIN,
        "the last class fits every small block"
    );
    let mut c = 0;
    while c < CLASSES {
        assert!(INFO[c].blocks >= 3, "a span holds at least three blocks");
        assert!((INFO[c].block as usize).is_multiple_of(GRANULE));
        if c > 0 {
            assert!(INFO[c].block > INFO[c - 1].block);
        }
        c += 1;
    }
};

/// Sizes up to this many bytes find their class in [`BY_GRANULES`]: the
/// requests of most programs, whose sizes vary from one call to the next,
/// so that a branch on the size would often be mispredicted.
const TABLE_MAX: usize = 2048;

/// The class of each size up to [`TABLE_MAX`], by its granules (`size`
/// rounded up to [`GRANULE`], divided by it; entry 0 unused).
static BY_GRANULES: [u8; TABLE_MAX / GRANULE + 1] = {
    let mut t = [0u8; TABLE_MAX / GRANULE + 1];
    let mut g = 1;
    while g < t.len() {
        t[g] = class_computed(g * GRANULE) as u8;
        g += 1;
    }
    t
};

/// The class of blocks of `size` bytes (`0 < size <= LARGE_MIN`) aligned
/// to [`GRANULE`].
#[inline]
pub(crate) fn class_of_size(size: usize) -> usize {
    if size <= TABLE_MAX {
        BY_GRANULES[size.div_ceil(GRANULE)] as usize
    } else {
        class_computed(size)
    }
}

/// [`class_of_size`], computed: 8-byte steps to 64 bytes, then four
/// classes per doubling.
const fn class_computed(size: usize) -> usize {
    if size <= 64 {
        size.div_ceil(GRANULE) - 1
    } else {
        let w = size - 1;
        let b = (usize::BITS - 1 - w.leading_zeros()) as usize;
        8 + (b - 6) * 4 + ((w >> (b - 2)) & 3)
    }
}

/// The class serving `layout`, a small layout (non-zero size below
/// `LARGE_MIN`, alignment below a page).
#[inline]
pub(crate) fn class_of(layout: Layout) -> usize {
    if layout.align() <= GRANULE {
        class_of_size(layout.size())
    } else {
        class_aligned(layout.size(), layout.align())
    }
}

/// [`class_of`] for alignments above [`GRANULE`]: the first class from the
/// size's (or the alignment's, if larger) whose block size is a multiple
/// of the alignment; at most three steps up, to the next power of two.
#[cold]
#[inline(never)]
fn class_aligned(size: usize, align: usize) -> usize {
    let mut c = class_of_size(size.max(align));
    while !(INFO[c].block as usize).is_multiple_of(align) {
        c += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::LARGE_MIN;

    #[test]
    fn every_size_gets_the_smallest_class_that_fits() {
        for size in 1..LARGE_MIN {
            let c = class_of_size(size);
            assert!(INFO[c].block as usize >= size, "size {size} class {c}");
            assert!(
                c == 0 || (INFO[c - 1].block as usize) < size,
                "size {size} class {c}"
            );
        }
    }

    #[test]
    fn the_table_agrees_with_the_computed_classes() {
        for size in 1..=TABLE_MAX {
            assert_eq!(class_of_size(size), class_computed(size), "size {size}");
        }
        assert_eq!(class_of_size(TABLE_MAX + 1), class_computed(TABLE_MAX + 1));
    }

    #[test]
    fn waste_is_bounded() {
        for size in 65..LARGE_MIN {
            let block = INFO[class_of_size(size)].block as usize;
            assert!(block * 4 < size * 5, "size {size} block {block}");
        }
    }

    #[test]
    fn aligned_layouts_get_aligned_blocks() {
        for align in (0..14).map(|b| 1usize << b) {
            for size in (1..LARGE_MIN).step_by(61).chain([align, LARGE_MIN - 1]) {
                let l = Layout::from_size_align(size, align).unwrap();
                let c = class_of(l);
                let i = INFO[c];
                assert!(i.block as usize >= size);
                assert_eq!(i.block as usize % align.max(GRANULE), 0, "{l:?}");
                assert_eq!(i.first as usize % align.max(GRANULE), 0, "{l:?}");
                assert!(i.first as usize >= SPAN_HEADER);
            }
        }
    }
}
