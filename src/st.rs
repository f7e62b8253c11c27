//! The single-threaded variant.
//!
//! No lock; the instance is `!Sync`. Decommit writes a sentinel byte at each
//! page boundary and marks the pages decommitted; commit zeroes exactly the
//! pages the table says were decommitted (checking the sentinel first, as a
//! use-after-decommit guard). Fresh pages are known zero from the table.

use crate::policy::SingleThreaded;

/// Single-threaded virtual memory over `M`: see the [module](self) docs and
/// [`GenericVmem`](crate::GenericVmem) for the operations.
pub type Vmem<M> = crate::GenericVmem<M, SingleThreaded>;
