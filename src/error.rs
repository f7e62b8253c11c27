//! The one error type of the crate.

use core::fmt;

/// Why an operation was refused. Every error leaves every reservation as it
/// was before the call: no reserved page changes state and nothing reserved
/// or committed is counted differently. One error can leave more behind
/// than it found: an [`OutOfMemory`](Error::OutOfMemory) from a reserve
/// whose first `memory.grow` succeeded but landed elsewhere than planned
/// (someone else grew in between, or the table's own storage grew first
/// and pushed it up) and whose second failed keeps the pages it grew, as
/// free pages of the instance (`owned_bytes`, `grows`), since wasm memory
/// cannot shrink; on a memory whose maximum is unknown, the table storage
/// grown before a failed growth stays too (`metadata_bytes`). Every other
/// error changes nothing at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A size of zero bytes was requested.
    ZeroSize,
    /// Rounding the size up to whole pages, or adding it to the address,
    /// overflows `usize`.
    SizeOverflow {
        /// The size that was asked for.
        size: usize,
    },
    /// The alignment is not a power of two.
    BadAlignment {
        /// The alignment that was asked for.
        align: usize,
    },
    /// The request can never succeed: it is larger than the reservation
    /// limit (or than the linear memory maximum).
    TooLarge {
        /// The size that was asked for, in bytes.
        size: usize,
        /// The limit it exceeds, in bytes.
        limit: u64,
    },
    /// `memory.grow` failed (the linear memory maximum or the engine's own
    /// limit was reached), or the page table could not grow.
    OutOfMemory {
        /// The size that was asked for, in bytes.
        size: usize,
    },
    /// Granting the request would take the reserved bytes over the
    /// configured reservation limit.
    LimitExceeded {
        /// The size that was asked for, in bytes.
        size: usize,
        /// The bytes reserved at the time of the request.
        reserved: u64,
        /// The configured limit, in bytes.
        limit: u64,
    },
    /// The address is not a multiple of [`PAGE_SIZE`](crate::PAGE_SIZE).
    Unaligned {
        /// The address that was passed.
        addr: usize,
    },
    /// Some page of the range is not reserved by this instance: never
    /// handed out, already released, foreign memory, or out of bounds.
    NotReserved {
        /// The start of the range.
        addr: usize,
        /// The length of the range in bytes, rounded up to whole pages.
        size: usize,
    },
    /// A reservation cannot grow in place
    /// ([`extend`](crate::GenericVmem::extend)): some page after it is not
    /// free in the arena that owns it (reserved, foreign, or another
    /// arena's), and the memory could not grow right behind it.
    NotFree {
        /// The first page the reservation would have grown into.
        addr: usize,
        /// How many bytes it would have grown by, in whole pages.
        size: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ZeroSize => f.write_str("size of zero bytes"),
            Error::SizeOverflow { size } => {
                write!(f, "size {size} overflows when rounded to whole pages")
            }
            Error::BadAlignment { align } => {
                write!(f, "alignment {align} is not a power of two")
            }
            Error::TooLarge { size, limit } => {
                write!(
                    f,
                    "request of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            Error::OutOfMemory { size } => {
                write!(
                    f,
                    "out of memory: linear memory cannot grow for {size} bytes"
                )
            }
            Error::LimitExceeded {
                size,
                reserved,
                limit,
            } => write!(
                f,
                "reserving {size} bytes with {reserved} reserved exceeds the limit of {limit} bytes"
            ),
            Error::Unaligned { addr } => {
                write!(
                    f,
                    "address {addr:#x} is not aligned to the 16 KiB page size"
                )
            }
            Error::NotReserved { addr, size } => write!(
                f,
                "range {addr:#x}+{size:#x} is not wholly reserved by this instance"
            ),
            Error::NotFree { addr, size } => write!(
                f,
                "cannot grow in place: range {addr:#x}+{size:#x} is not free"
            ),
        }
    }
}

impl core::error::Error for Error {}
