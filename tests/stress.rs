//! Multithreaded stress test of the `mt` build: several threads reserve,
//! write their own pattern, decommit, commit, partially release and check,
//! while one of them grows the memory behind the instance's back. Bounded
//! in time; the loom models in `loom-tests/` prove what this samples.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const ITERATIONS: usize = 3000;
const TIME: Duration = Duration::from_secs(3);

#[test]
fn threads_never_see_each_others_data() {
    threads_never_see_each_others_data_with::<MultiThreaded>();
}

#[test]
fn threads_never_see_each_others_data_with_the_parking_lock() {
    threads_never_see_each_others_data_with::<wasm_vmem::policy::MultiThreadedParking>();
}

fn threads_never_see_each_others_data_with<P: Policy>()
where
    GenericVmem<SimMemory, P>: Sync,
{
    let vm = GenericVmem::<_, P>::new(SimMemory::new(256 * MIB));
    let deadline = Instant::now() + TIME;
    let ops: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let vm = &vm;
                s.spawn(move || worker(vm, t, deadline))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let s = vm.stats();
    assert_eq!(s.reserved_bytes, 0, "everything released");
    assert_eq!(
        s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes,
        s.owned_bytes
    );
    assert!(
        ops.iter().all(|&n| n > 0),
        "every thread made progress: {ops:?}"
    );
    vm.check_invariants();
}

/// One thread's loop; returns the number of iterations it did.
fn worker<P: Policy>(vm: &GenericVmem<SimMemory, P>, t: usize, deadline: Instant) -> usize {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1234_5678));
    let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
    let mut done = 0;
    while done < ITERATIONS && Instant::now() < deadline {
        done += 1;
        let tag = (t * 64 + done % 64) as u8 | 1;
        match rng.next() % 8 {
            0..=2 if live.len() < 6 => {
                let n = 1 + rng.next() % 16;
                let align = PAGE_SIZE << (rng.next() % 3);
                let p = vm.reserve(pages(n), align).unwrap().as_ptr();
                assert_eq!(p as usize % align, 0);
                // SAFETY: just reserved by this thread.
                unsafe {
                    assert!(
                        all(p, pages(n), 0),
                        "thread {t}: fresh reservation not zero"
                    );
                    fill(p, pages(n), tag);
                }
                live.push((p, n, tag));
            }
            3 | 4 if !live.is_empty() => {
                // Decommit then recommit a sub-range; the rest keeps its data.
                let (p, n, tag) = live[rng.next() % live.len()];
                let from = rng.next() % n;
                let len = 1 + rng.next() % (n - from);
                // SAFETY: this thread's reservation.
                unsafe {
                    let q = p.add(pages(from));
                    vm.decommit(q, pages(len)).unwrap();
                    vm.commit(q, pages(len)).unwrap();
                    assert!(all(q, pages(len), 0), "thread {t}: recommit not zero");
                    assert!(all(p, pages(from), tag), "thread {t}: data lost before");
                    let rest = n - from - len;
                    assert!(
                        all(q.add(pages(len)), pages(rest), tag),
                        "thread {t}: data lost after"
                    );
                    fill(q, pages(len), tag);
                }
            }
            5 if !live.is_empty() => {
                // Release the tail part, keep the head.
                let i = rng.next() % live.len();
                let (p, n, tag) = live[i];
                let keep = rng.next() % n;
                // SAFETY: this thread's reservation; the tail is not used again.
                unsafe {
                    assert!(all(p, pages(n), tag), "thread {t}: data changed");
                    vm.release(p.add(pages(keep)), pages(n - keep)).unwrap();
                }
                if keep == 0 {
                    live.swap_remove(i);
                } else {
                    live[i].1 = keep;
                }
            }
            6 if t == 0 => {
                vm.memory().grow_foreign(1);
            }
            _ => {
                if let Some((p, n, tag)) = live.pop() {
                    // SAFETY: this thread's reservation, not used again.
                    unsafe {
                        assert!(all(p, pages(n), tag), "thread {t}: data changed");
                        vm.release(p, pages(n)).unwrap();
                    }
                }
            }
        }
    }
    for (p, n, tag) in live {
        // SAFETY: this thread's reservations, not used again.
        unsafe {
            assert!(all(p, pages(n), tag), "thread {t}: data changed");
            vm.release(p, pages(n)).unwrap();
        }
    }
    done
}

#[test]
fn spinlock_is_a_mutex_for_lock_api() {
    let counter = lock_api::Mutex::<wasm_vmem::lock::SpinLock, u64>::new(0);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..10_000 {
                    *counter.lock() += 1;
                }
            });
        }
    });
    assert_eq!(*counter.lock(), THREADS as u64 * 10_000);
}
