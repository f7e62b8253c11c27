//! Shared helpers of the contract tests: one test body, both builds.
#![allow(dead_code, unused_imports)]

#[cfg(not(target_arch = "wasm32"))]
pub mod alloc_harness;
pub mod blocks;
#[cfg(not(target_arch = "wasm32"))]
pub mod harness;

pub use wasm_vmem::policy::{MultiThreaded, Policy, SingleThreaded};
pub use wasm_vmem::sys::{LinearMemory, SimMemory};
pub use wasm_vmem::{Error, GenericVmem, Stats, PAGE_SIZE, WASM_PAGE_SIZE};

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

pub type Vm<P> = GenericVmem<SimMemory, P>;

/// An instance over a fresh simulated memory of `max` bytes.
pub fn vmem<P: Policy>(max: usize) -> Vm<P> {
    GenericVmem::new(SimMemory::new(max))
}

/// A small deterministic generator (xorshift64*) for the stress tests:
/// each thread seeds its own.
pub struct Rng(pub u64);

impl Rng {
    /// The next 32 random bits.
    pub fn next(&mut self) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize
    }

    /// Uniform below `n` (near enough for a test).
    pub fn below(&mut self, n: usize) -> usize {
        self.next() % n
    }
}

/// Two reservations of a wasm page each, adjacent in memory, the first in
/// arena 0 and the second in arena 1 (grown for each in turn); with one
/// arena both come from it.
pub fn adjacent_in_arenas_0_and_1<P: Policy>(vm: &Vm<P>) -> (*mut u8, *mut u8) {
    let a = vm
        .reserve_in(0, WASM_PAGE_SIZE, PAGE_SIZE)
        .unwrap()
        .as_ptr();
    let b = vm
        .reserve_in(1, WASM_PAGE_SIZE, PAGE_SIZE)
        .unwrap()
        .as_ptr();
    assert_eq!(
        b,
        a.wrapping_add(WASM_PAGE_SIZE),
        "adjacent, grown for arena 1"
    );
    (a, b)
}

/// `n` pages in bytes.
pub const fn pages(n: usize) -> usize {
    n * PAGE_SIZE
}

/// The metadata of an arena's first storage, grown with its first growth:
/// one wasm page (page states and run nodes for about 5,000 pages, more
/// than any memory of these tests but the 4 GiB ones).
pub const FIRST_STORAGE: u64 = WASM_PAGE_SIZE as u64;

/// Whether `s` adds up: owned = reserved + free + metadata.
pub fn balanced(s: &Stats) -> bool {
    s.owned_bytes == s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
}

/// A byte count as `Stats` holds it.
pub fn u64b(bytes: usize) -> u64 {
    bytes as u64
}

/// Whether this is the multithreaded policy (eager zeroing on decommit).
pub fn eager<P: Policy>() -> bool {
    P::EAGER_DECOMMIT
}

/// Fills `len` bytes at `ptr` with `byte`.
///
/// # Safety
/// The range must be committed memory owned by the test.
pub unsafe fn fill(ptr: *mut u8, len: usize, byte: u8) {
    unsafe { core::ptr::write_bytes(ptr, byte, len) }
}

/// Whether all `len` bytes at `ptr` equal `byte`.
///
/// # Safety
/// The range must be readable memory owned by the test.
pub unsafe fn all(ptr: *const u8, len: usize, byte: u8) -> bool {
    unsafe { core::slice::from_raw_parts(ptr, len) }
        .iter()
        .all(|&b| b == byte)
}

/// Address of `p` as an integer.
pub fn addr(p: *const u8) -> usize {
    p as usize
}

/// Runs each named generic test body once per policy, as `st::name` and
/// `mt::name`, natively with `#[test]` and on wasm32 with
/// `wasm_bindgen_test`, and natively also as `mt_parking::name` (the
/// parking policy of the `parking` feature).
#[macro_export]
macro_rules! both_builds {
    ($($name:ident),* $(,)?) => {
        mod st {
            $(
                #[cfg_attr(not(target_arch = "wasm32"), test)]
                #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
                fn $name() {
                    super::$name::<$crate::common::SingleThreaded>()
                }
            )*
        }
        mod mt {
            $(
                #[cfg_attr(not(target_arch = "wasm32"), test)]
                #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
                fn $name() {
                    super::$name::<$crate::common::MultiThreaded>()
                }
            )*
        }
        /// Natively, the multithreaded build with the parking lock too.
        #[cfg(not(target_arch = "wasm32"))]
        mod mt_parking {
            $(
                #[test]
                fn $name() {
                    super::$name::<wasm_vmem::policy::MultiThreadedParking>()
                }
            )*
        }
    };
}
