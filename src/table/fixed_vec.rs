//! A vector of `Copy` values over memory it does not allocate: the table's
//! page states, run tags, run nodes and class heads live in [`FixedVec`]s
//! carved from a storage region of the linear memory (`storage.rs`).

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// A vector of `Copy` values over memory it does not allocate: a pointer,
/// a length and a fixed capacity. It never grows past its capacity, never
/// frees anything, and has no destructor: its memory belongs to whoever
/// gave it (here, a [`Storage`](super::storage::Storage) region of the
/// linear memory).
pub(crate) struct FixedVec<T> {
    /// The first slot; `None` (a null pointer) without capacity, so that
    /// an empty vector is all zero bytes and an instance in a `static`
    /// lies in `.bss`, not in the module's data (a `.wasm` carries every
    /// byte of `.data`).
    ptr: Option<NonNull<T>>,
    len: usize,
    cap: usize,
    _owns: PhantomData<T>,
}

impl<T> core::fmt::Debug for FixedVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FixedVec")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .finish()
    }
}

// SAFETY: a `FixedVec` is the only handle to its `cap` slots (the
// `from_raw_parts` contract), like a `Vec`'s buffer, so moving it to another
// thread moves sole access to `T` values.
unsafe impl<T: Send> Send for FixedVec<T> {}
// SAFETY: `&FixedVec` only gives `&[T]`, so sharing it shares `&T`.
unsafe impl<T: Sync> Sync for FixedVec<T> {}

impl<T> FixedVec<T> {
    /// The first slot: aligned and non-null, dangling without capacity.
    fn base(&self) -> NonNull<T> {
        self.ptr.unwrap_or(NonNull::dangling())
    }
}

impl<T: Copy> FixedVec<T> {
    /// An empty vector with no capacity.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: None,
            len: 0,
            cap: 0,
            _owns: PhantomData,
        }
    }

    /// An empty vector over `cap` slots at `ptr`.
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `ptr` is aligned for `T` and valid for
    /// reads and writes of `cap` values of `T` for as long as the vector
    /// (and any vector its contents are later copied from) lives, and that
    /// nothing else accesses that memory meanwhile.
    pub(crate) unsafe fn from_raw_parts(ptr: NonNull<T>, cap: usize) -> Self {
        Self {
            ptr: Some(ptr),
            len: 0,
            cap,
            _owns: PhantomData,
        }
    }

    /// Values the vector holds without more memory.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Appends `value`; gives it back when the vector is full.
    pub(crate) fn push(&mut self, value: T) -> Result<(), T> {
        if self.len == self.cap {
            return Err(value);
        }
        // SAFETY: `len < cap`, so the slot is inside the memory the vector
        // was given (`from_raw_parts`), which only it accesses.
        unsafe { self.base().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Sets the length to `new_len`, filling new slots with `value`.
    ///
    /// # Panics
    ///
    /// If `new_len` exceeds the capacity.
    pub(crate) fn resize(&mut self, new_len: usize, value: T) {
        assert!(new_len <= self.cap, "FixedVec over capacity");
        for i in self.len..new_len {
            // SAFETY: `i < new_len <= cap`: inside the vector's memory.
            unsafe { self.base().add(i).write(value) };
        }
        self.len = new_len;
    }

    /// Lengthens the vector to `new_len` values (nothing if it is longer)
    /// without writing: the new slots hold what the memory holds. For a
    /// storage region, zeros: its grower wrote it whole before it was
    /// carved ([`Storage::from_region`](super::storage::Storage::from_region)).
    ///
    /// # Safety
    ///
    /// Callers must guarantee that `new_len` is at most the capacity and
    /// that slots `len .. new_len` hold valid values of `T` (memory written
    /// since the vector was made over it, and not written since through a
    /// vector shorter than that).
    pub(crate) unsafe fn extend_unwritten(&mut self, new_len: usize) {
        debug_assert!(new_len <= self.cap, "FixedVec over capacity");
        self.len = self.len.max(new_len);
    }

    /// Shortens the vector to `len` values (nothing if it is shorter).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Removes every value.
    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    /// Appends the values of `values`.
    ///
    /// # Panics
    ///
    /// If they do not fit in the capacity.
    pub(crate) fn extend_from_slice(&mut self, values: &[T]) {
        assert!(
            values.len() <= self.cap - self.len,
            "FixedVec over capacity"
        );
        // SAFETY: the destination `len .. len + values.len()` is inside the
        // vector's memory (checked above); the source is a live slice,
        // which cannot overlap the unused slots of this vector (only this
        // vector reaches them).
        unsafe {
            core::ptr::copy_nonoverlapping(
                values.as_ptr(),
                self.base().add(self.len).as_ptr(),
                values.len(),
            )
        };
        self.len += values.len();
    }
}

impl<T> Deref for FixedVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` slots were written (`push`, `resize`,
        // `extend_from_slice`), lie inside the vector's memory and are
        // reached only through it; `base()` is aligned and non-null.
        unsafe { core::slice::from_raw_parts(self.base().as_ptr(), self.len) }
    }
}

impl<T> DerefMut for FixedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { core::slice::from_raw_parts_mut(self.base().as_ptr(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vector over a slice of `buf`.
    fn over(buf: &mut [u32]) -> FixedVec<u32> {
        // SAFETY: the slice is aligned, valid and unshared while the vector
        // is used (the tests drop the vector before the buffer).
        unsafe { FixedVec::from_raw_parts(NonNull::new(buf.as_mut_ptr()).unwrap(), buf.len()) }
    }

    #[test]
    fn fixed_vec_pushes_within_capacity_only() {
        let mut buf = [0u32; 3];
        let mut v = over(&mut buf);
        assert_eq!((v.len(), v.capacity()), (0, 3));
        assert_eq!(v.push(1), Ok(()));
        assert_eq!(v.push(2), Ok(()));
        assert_eq!(v.push(3), Ok(()));
        assert_eq!(v.push(4), Err(4), "full: the value comes back");
        assert_eq!(&v[..], [1, 2, 3]);
        v[1] = 20;
        assert_eq!(&v[..], [1, 20, 3]);
        v.truncate(1);
        assert_eq!(&v[..], [1]);
        v.truncate(5);
        assert_eq!(v.len(), 1, "truncate never lengthens");
        v.clear();
        assert!(v.is_empty());
    }

    #[test]
    fn fixed_vec_resizes_and_extends() {
        let mut buf = [0u32; 8];
        let mut v = over(&mut buf);
        v.resize(3, 7);
        assert_eq!(&v[..], [7, 7, 7]);
        v.resize(1, 9);
        assert_eq!(&v[..], [7], "shrinking keeps the first values");
        v.extend_from_slice(&[1, 2]);
        v.resize(5, 0);
        assert_eq!(&v[..], [7, 1, 2, 0, 0]);
        let mut w_buf = [0u32; 8];
        let mut w = over(&mut w_buf);
        w.extend_from_slice(&v);
        assert_eq!(&w[..], &v[..]);
        // The vectors are not used past here: the values live in `buf`.
        assert_eq!(buf[..5], [7, 1, 2, 0, 0], "the values live in the buffer");
    }

    #[test]
    #[should_panic(expected = "over capacity")]
    fn fixed_vec_resize_past_capacity_panics() {
        let mut buf = [0u32; 2];
        over(&mut buf).resize(3, 0);
    }

    #[test]
    #[should_panic(expected = "over capacity")]
    fn fixed_vec_extend_past_capacity_panics() {
        let mut buf = [0u32; 2];
        over(&mut buf).extend_from_slice(&[1, 2, 3]);
    }

    #[test]
    fn empty_fixed_vec_has_no_room() {
        let mut v = FixedVec::<u8>::new();
        assert_eq!(v.push(1), Err(1));
        assert!(v.is_empty());
        v.resize(0, 0);
    }
}
