//! The arenas of the multithreaded build (docs/DESIGN.md §8): reservations
//! placed in chosen arenas with the `testing` hook `reserve_in`, then every
//! operation from any arena, pages taken from another arena before the
//! memory grows, or after it refused to grow, and statistics and the limit
//! across arenas. Both multithreaded policies (spinlock, parking lock).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use std::sync::Mutex;
use wasm_vmem::policy::MultiThreadedParking;

macro_rules! both_locks {
    ($($name:ident),* $(,)?) => {
        mod spin {
            $(#[test] fn $name() { super::$name::<super::MultiThreaded>() })*
        }
        mod parking {
            $(#[test] fn $name() { super::$name::<super::MultiThreadedParking>() })*
        }
    };
}

both_locks!(
    operations_find_the_arena_that_owns_the_pages,
    free_pages_of_another_arena_are_taken_before_growing,
    a_reserve_grows_its_own_arena_rather_than_wait_for_a_busy_one,
    pages_released_while_the_memory_refuses_to_grow_are_taken,
    a_range_over_two_arenas_is_not_one_reservation,
    stats_and_limit_count_every_arena,
);

fn operations_find_the_arena_that_owns_the_pages<P: Policy>() {
    assert!(P::ARENAS > 1);
    let vm = vmem::<P>(16 * MIB);
    let ps: Vec<_> = (0..P::ARENAS)
        .map(|a| vm.reserve_in(a, pages(4), PAGE_SIZE).unwrap().as_ptr())
        .collect();
    for (i, &p) in ps.iter().enumerate() {
        // SAFETY: each reservation is ours.
        unsafe {
            fill(p, pages(4), i as u8 + 1);
            vm.decommit(p.add(PAGE_SIZE), PAGE_SIZE).unwrap();
            vm.commit(p, pages(4)).unwrap();
            assert!(
                all(p.add(PAGE_SIZE), PAGE_SIZE, 0),
                "decommitted page reads zero"
            );
            assert!(all(p, PAGE_SIZE, i as u8 + 1), "committed page kept");
            assert_eq!(vm.reset(p, pages(4)), Ok(false));
        }
    }
    vm.check_invariants();
    for &p in &ps {
        // SAFETY: ours, not used again.
        unsafe { vm.release(p, pages(4)).unwrap() };
        // SAFETY: released just now.
        assert!(matches!(
            unsafe { vm.release(p, pages(4)) },
            Err(Error::NotReserved { .. })
        ));
    }
    let s = vm.stats();
    assert_eq!((s.reserved_bytes, s.committed_bytes), (0, 0));
    vm.check_invariants();
}

fn free_pages_of_another_arena_are_taken_before_growing<P: Policy>() {
    let vm = vmem::<P>(16 * MIB);
    let p = vm.reserve_in(0, MIB, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours, then released.
    unsafe {
        fill(p, MIB, 0xAB);
        vm.release(p, MIB).unwrap();
    }
    let grows = vm.stats().grows;
    // Arena 1 has nothing: it takes arena 0's idle pages, not new memory.
    let q = vm.reserve_in(1, MIB, PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(q, p, "the same pages");
    assert_eq!(vm.stats().grows, grows, "no growth");
    // SAFETY: just reserved.
    assert!(
        unsafe { all(q, MIB, 0) },
        "dirty pages zeroed for the new owner"
    );
    assert_eq!(vm.stats().bytes_zeroed, MIB as u64);
    vm.check_invariants();
}

/// Arena 0 holds a free MiB but its lock is taken (a thread of arena 0 at
/// work): a reserve of arena 1 does not wait for it, and grows arena 1
/// instead. Otherwise a thread whose arena is empty would take pages from
/// the busy arena on every reserve (they go back there on release) and
/// share its lock for good. The holder lets go after 5 s at the latest, so
/// that a reserve that waits fails the test rather than hanging it.
fn a_reserve_grows_its_own_arena_rather_than_wait_for_a_busy_one<P: Policy>()
where
    GenericVmem<SimMemory, P>: Sync,
{
    use std::sync::mpsc::channel;
    use std::time::Duration;
    let vm = &vmem::<P>(16 * MIB);
    let p = vm.reserve_in(0, MIB, PAGE_SIZE).unwrap().as_ptr() as usize;
    // SAFETY: ours, not used again.
    unsafe { vm.release(p as *mut u8, MIB).unwrap() };
    let grows = vm.stats().grows;
    let (held_tx, held) = channel();
    let (done, done_rx) = channel::<()>();
    let q = std::thread::scope(|s| {
        s.spawn(move || {
            vm.holding_arena(0, || {
                held_tx.send(()).unwrap();
                // Until the reserve is done, or 5 s.
                let _ = done_rx.recv_timeout(Duration::from_secs(5));
            });
        });
        held.recv().unwrap();
        let q = vm.reserve_in(1, MIB, PAGE_SIZE).unwrap().as_ptr() as usize;
        // The holder may have let go already (after its 5 s).
        let _ = done.send(());
        q
    });
    assert_ne!(
        q, p,
        "arena 0's pages were taken: the reserve waited for its lock"
    );
    assert!(vm.stats().grows > grows, "arena 1 grew");
    // Once the arena's lock is free, its idle pages are taken again before
    // the memory grows.
    let grows = vm.stats().grows;
    let r = vm
        .reserve_in(2 % P::ARENAS, MIB, PAGE_SIZE)
        .unwrap()
        .as_ptr() as usize;
    assert_eq!(r, p, "arena 0's idle pages");
    assert_eq!(vm.stats().grows, grows, "no growth");
    vm.check_invariants();
}

/// A simulated memory whose next grow first runs a chosen action (another
/// thread's call, as it were) and then fails.
struct RefusingAfter {
    inner: SimMemory,
    action: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

// SAFETY: forwards to the `SimMemory`, which upholds the contract (the
// provided items, `fill` and `read_byte`, write and read the host memory as
// its own do), except that a grow with an action pending returns `None`
// without growing (the memory unchanged), which `grow` may always do.
unsafe impl LinearMemory for RefusingAfter {
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn grow(&self, delta: usize) -> Option<usize> {
        let action = self.action.lock().unwrap().take();
        match action {
            Some(action) => {
                action();
                None
            }
            None => self.inner.grow(delta),
        }
    }
    fn base(&self) -> usize {
        self.inner.base()
    }
    fn maximum(&self) -> Option<usize> {
        self.inner.maximum()
    }
}

fn pages_released_while_the_memory_refuses_to_grow_are_taken<P: Policy + 'static>()
where
    GenericVmem<RefusingAfter, P>: Sync,
{
    let memory = RefusingAfter {
        inner: SimMemory::new(16 * MIB),
        action: Mutex::new(None),
    };
    // 'static, so that the action can call it.
    let vm: &'static GenericVmem<RefusingAfter, P> = Box::leak(Box::new(GenericVmem::new(memory)));
    // Arena 0 holds exactly what it grew (its storage and a wasm page);
    // arena 1 a MiB.
    vm.reserve_in(0, WASM_PAGE_SIZE, PAGE_SIZE).unwrap();
    let b = vm.reserve_in(1, MIB, PAGE_SIZE).unwrap().as_ptr() as usize;
    let grows = vm.stats().grows;
    // Arena 0 finds nothing, and arena 1 publishes no free run, so the
    // reserve grows; while it does, arena 1's MiB is released, and the grow
    // fails. The reserve asks every arena again instead of failing.
    *vm.memory().action.lock().unwrap() = Some(Box::new(move || {
        // SAFETY: arena 1's reservation, not used again.
        unsafe { vm.release(b as *mut u8, MIB).unwrap() };
    }));
    let q = vm.reserve_in(0, MIB, PAGE_SIZE);
    assert!(
        vm.memory().action.lock().unwrap().is_none(),
        "the memory was asked to grow"
    );
    assert_eq!(q.map(|q| q.as_ptr() as usize), Ok(b), "arena 1's pages");
    assert_eq!(vm.stats().grows, grows, "no growth");
    let s = vm.stats();
    assert_eq!(s.reserved_bytes, (WASM_PAGE_SIZE + MIB) as u64);
    assert!(balanced(&s), "{s:?}");
    vm.check_invariants();
}

fn a_range_over_two_arenas_is_not_one_reservation<P: Policy>() {
    let vm = vmem::<P>(16 * MIB);
    // Each arena's first growth comes after a wasm page of its table's
    // storage: make those first (whole wasm pages, nothing left free).
    for arena in 0..2 {
        vm.reserve_in(arena, WASM_PAGE_SIZE, PAGE_SIZE).unwrap();
    }
    // Two adjacent reservations from different arenas: arena 0 grows one
    // wasm page, arena 1 the next.
    let (a, _) = adjacent_in_arenas_0_and_1(&vm);
    let before = vm.stats();
    // SAFETY: both reservations are ours; the call is refused.
    let r = unsafe { vm.decommit(a, 2 * WASM_PAGE_SIZE) };
    assert!(matches!(r, Err(Error::NotReserved { .. })), "{r:?}");
    assert_eq!(vm.stats(), before, "nothing changed");
    vm.check_invariants();
}

fn stats_and_limit_count_every_arena<P: Policy>() {
    let vm = GenericVmem::<_, P>::with_limit(SimMemory::new(16 * MIB), MIB as u64);
    for a in 0..4 {
        vm.reserve_in(a, MIB / 4, PAGE_SIZE).unwrap();
    }
    let s = vm.stats();
    assert_eq!(s.reserved_bytes, MIB as u64);
    assert_eq!(s.peak_reserved_bytes, MIB as u64);
    assert!(balanced(&s), "{s:?}");
    assert_eq!(s.metadata_bytes, 4 * FIRST_STORAGE, "one storage per arena");
    assert_eq!(
        vm.reserve_in(5, PAGE_SIZE, PAGE_SIZE),
        Err(Error::LimitExceeded {
            size: PAGE_SIZE,
            reserved: MIB as u64,
            limit: MIB as u64
        }),
        "the limit holds across arenas"
    );
    assert_eq!(vm.stats(), s, "nothing changed");
    vm.check_invariants();
}
