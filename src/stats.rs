//! Statistics and GC-facing limits.

use crate::units::{PAGE_SIZE, WASM_PAGE_SIZE};

/// Exact figures of one instance, taken under its lock.
///
/// Byte figures are `u64`: a wasm32 memory reaches 4 GiB, which `usize`
/// cannot hold there.
///
/// Every byte this instance grew is in exactly one of reserved
/// (`committed_bytes + decommitted_bytes`), `free_zero_bytes`,
/// `free_dirty_bytes` and `metadata_bytes`; their sum is `owned_bytes`. A
/// reservation that another thread is still carrying out counts as
/// reserved page by page, as its pages are zeroed and committed; the rest
/// of it still counts as free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes in live reservations (committed or decommitted).
    pub reserved_bytes: u64,
    /// Reserved bytes that are committed.
    pub committed_bytes: u64,
    /// Reserved bytes that are decommitted.
    pub decommitted_bytes: u64,
    /// Free bytes known to read zero.
    pub free_zero_bytes: u64,
    /// Free bytes that may hold old data (zeroed when handed out again).
    pub free_dirty_bytes: u64,
    /// Bytes holding the instance's own metadata (its page tables and free
    /// run indexes, in pages it grew for them): owned, never free, never
    /// handed out. When a table moves to a larger storage, the old one's
    /// pages become free (dirty) pages.
    pub metadata_bytes: u64,
    /// Bytes of linear memory this instance grew itself: reserved + free
    /// (zero and dirty) + metadata.
    pub owned_bytes: u64,
    /// The linear memory's current size, ours and foreign.
    pub linear_memory_bytes: u64,
    /// The most bytes ever reserved at once.
    pub peak_reserved_bytes: u64,
    /// Maximal runs of free pages (a measure of fragmentation).
    pub free_runs: usize,
    /// Successful `memory.grow` calls by this instance, those for its
    /// metadata included.
    pub grows: u64,
    /// Bytes written with zeros.
    pub bytes_zeroed: u64,
    /// Bytes promised to read zero that were not written because the table
    /// knew they were zero (fresh, or zeroed already).
    pub bytes_zero_skipped: u64,
    /// Decommitted pages whose sentinel was overwritten before they were
    /// committed again: writes after decommit (single-threaded build).
    pub sentinel_violations: u64,
}

impl Stats {
    /// Adds the figures of another arena's table (the linear memory size
    /// and the peak are the instance's, set by the caller).
    pub(crate) fn add(&mut self, o: &Stats) {
        self.reserved_bytes += o.reserved_bytes;
        self.committed_bytes += o.committed_bytes;
        self.decommitted_bytes += o.decommitted_bytes;
        self.free_zero_bytes += o.free_zero_bytes;
        self.free_dirty_bytes += o.free_dirty_bytes;
        self.metadata_bytes += o.metadata_bytes;
        self.owned_bytes += o.owned_bytes;
        self.free_runs += o.free_runs;
        self.grows += o.grows;
        self.bytes_zeroed += o.bytes_zeroed;
        self.bytes_zero_skipped += o.bytes_zero_skipped;
        self.sentinel_violations += o.sentinel_violations;
    }
}

/// Limits for a garbage collector, computed as the CoreCLR wasm port does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The page size of every operation: 16 KiB.
    pub page_size: usize,
    /// "Physical" memory: the linear memory maximum.
    pub total_physical_bytes: u64,
    /// The heap hard limit: 75 % of the physical memory.
    pub hard_limit_bytes: u64,
    /// The largest segment: `round_down_pow2(hard_limit / 6)`, at least
    /// 1 MiB, so that three initial segments fit.
    pub largest_segment_bytes: u64,
    /// The most bytes this instance lets be reserved at once.
    pub reserve_limit_bytes: u64,
    /// Memory load: linear memory size ÷ maximum, in percent.
    pub memory_load_percent: u32,
}

/// 4 GiB: the wasm32 address space, the maximum when none is known.
pub(crate) const WASM32_ADDRESS_SPACE: u64 = 1 << 32;

impl Limits {
    /// Computes the limits from the memory maximum and current size.
    pub(crate) fn compute(
        maximum_wasm_pages: Option<usize>,
        current_wasm_pages: usize,
        reserve_limit: Option<u64>,
    ) -> Self {
        let page = WASM_PAGE_SIZE as u64;
        let total = maximum_wasm_pages.map_or(WASM32_ADDRESS_SPACE, |p| p as u64 * page);
        let hard = total / 4 * 3;
        let segment = round_down_pow2(hard / 6).max(1 << 20);
        let current = current_wasm_pages as u64 * page;
        Limits {
            page_size: PAGE_SIZE,
            total_physical_bytes: total,
            hard_limit_bytes: hard,
            largest_segment_bytes: segment,
            reserve_limit_bytes: reserve_limit.map_or(total, |l| l.min(total)),
            memory_load_percent: (current * 100).checked_div(total).unwrap_or(100) as u32,
        }
    }
}

fn round_down_pow2(x: u64) -> u64 {
    match x {
        0 => 0,
        x => 1 << (63 - x.leading_zeros()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coreclr_limits_for_one_gib() {
        let l = Limits::compute(Some(16384), 4096, None);
        assert_eq!(l.total_physical_bytes, 1 << 30);
        assert_eq!(l.hard_limit_bytes, 768 << 20);
        assert_eq!(l.largest_segment_bytes, 128 << 20); // 128 MiB ≤ 768/6
        assert!(3 * l.largest_segment_bytes <= l.hard_limit_bytes);
        assert_eq!(l.memory_load_percent, 25);
        assert_eq!(l.reserve_limit_bytes, 1 << 30);
    }

    #[test]
    fn segment_floor_is_one_mib() {
        let l = Limits::compute(Some(16), 0, Some(1 << 20));
        assert_eq!(l.total_physical_bytes, 1 << 20);
        assert_eq!(l.largest_segment_bytes, 1 << 20);
        assert_eq!(l.reserve_limit_bytes, 1 << 20);
    }

    #[test]
    fn unknown_maximum_is_the_address_space() {
        let l = Limits::compute(None, 65536, None);
        assert_eq!(l.total_physical_bytes, 4 << 30);
        assert_eq!(l.hard_limit_bytes, 3 << 30);
        assert_eq!(l.largest_segment_bytes, 512 << 20);
        assert_eq!(l.memory_load_percent, 100);
    }
}
