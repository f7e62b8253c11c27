//! Loom models of the multithreaded build: every interleaving of small
//! scenarios, up to `LOOM_MAX_PREEMPTIONS` preemptions. Page contents are
//! routed through loom cells by `SimMemory`, so a thread touching a page
//! without a happens-before edge from its previous owner is reported.
//!
//! Run with `scripts/test-loom.sh`.
//!
//! At most two threads per model take the table lock; others (foreign
//! growth) do not. With three threads contending for the lock, loom 0.7
//! cannot finish: after a spinning thread yields, picking the next thread
//! costs no preemption, so two spinners can hand the processor back and
//! forth forever while the holder waits ("Model exceeded maximum number of
//! branches", even with `LOOM_MAX_BRANCHES=10000`). The lock's exclusion
//! does not depend on the number of threads, and the table operations are
//! the same for each.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use wasm_vmem::lock::SpinLock;
use wasm_vmem::mt::Vmem;
use wasm_vmem::sys::{LinearMemory, SimMemory};
use wasm_vmem::{Stats, BATCH_PAGES as BATCH, PAGE_SIZE, WASM_PAGE_SIZE};

use loom_tests::{model, outcomes, seen};

/// Metadata of a model's instance: the storage of both arenas, one wasm
/// page each, grown before the scenario (`vmem`).
const META: u64 = 2 * WASM_PAGE_SIZE as u64;

/// An instance over a memory of `wasm_pages` for the scenario, plus the
/// two wasm pages (0 and 1) of its arenas' table storage, grown first, so
/// that the scenario is about the pages it names. (The storage growth
/// itself is modelled in `storage_growths_racing_in_one_arena`.)
fn vmem(wasm_pages: usize) -> Arc<Vmem<SimMemory>> {
    let vm = vmem_bare(wasm_pages + 2);
    for arena in 0..2 {
        assert!(vm.prepare_metadata_in(arena, 64));
    }
    vm
}

/// An instance over a memory of `wasm_pages`, nothing grown.
fn vmem_bare(wasm_pages: usize) -> Arc<Vmem<SimMemory>> {
    Arc::new(Vmem::new(SimMemory::new(wasm_pages * WASM_PAGE_SIZE)))
}

fn reads(vm: &Vmem<SimMemory>, addr: usize, len: usize, byte: u8) -> bool {
    // SAFETY: callers pass committed pages their thread owns.
    unsafe { vm.memory().reads(addr, len, byte) }
}

fn write(vm: &Vmem<SimMemory>, addr: usize, len: usize, byte: u8) {
    // SAFETY: callers pass committed pages their thread owns.
    unsafe { vm.memory().fill(addr, len, byte) }
}

fn consistent(s: &Stats) {
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    assert_eq!(s.reserved_bytes, s.committed_bytes + s.decommitted_bytes);
}

#[test]
fn concurrent_reserves_are_disjoint_and_zero() {
    model("concurrent_reserves_are_disjoint_and_zero", || {
        let vm = vmem(1);
        // Leave dirty free pages behind, so both claimers must zero.
        let warm = vm.reserve(4 * PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, warm, 4 * PAGE_SIZE, 0xFF);
        // SAFETY: ours, not used again.
        unsafe { vm.release(warm as *mut u8, 4 * PAGE_SIZE).unwrap() };

        let handles: Vec<_> = (1..=2u8)
            .map(|tag| {
                let vm = vm.clone();
                thread::spawn(move || {
                    let p = vm.reserve(2 * PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
                    assert!(reads(&vm, p, 2 * PAGE_SIZE, 0), "reserve reads zero");
                    write(&vm, p, 2 * PAGE_SIZE, tag);
                    (p, tag)
                })
            })
            .collect();
        let got: Vec<(usize, u8)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(got[0].0.abs_diff(got[1].0) >= 2 * PAGE_SIZE, "disjoint");
        for &(p, tag) in &got {
            assert!(reads(&vm, p, 2 * PAGE_SIZE, tag), "nobody else wrote");
        }
        let s = vm.stats();
        assert_eq!(s.reserved_bytes, 4 * PAGE_SIZE as u64);
        assert_eq!(
            (s.bytes_zeroed, s.bytes_zero_skipped),
            (4 * PAGE_SIZE as u64, 4 * PAGE_SIZE as u64),
            "each dirty page zeroed once; the fresh ones skipped"
        );
        consistent(&s);
        vm.check_invariants();
    });
}

#[test]
fn release_racing_a_reserve_that_reuses_the_pages() {
    model("release_racing_a_reserve_that_reuses_the_pages", || {
        // The first wasm page is reserved; a second reservation reuses it if
        // the release came first, and grows the second wasm page otherwise.
        let vm = vmem(2);
        let old = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        let owner = {
            let vm = vm.clone();
            thread::spawn(move || {
                write(&vm, old, WASM_PAGE_SIZE, 0xAA);
                // SAFETY: this thread's reservation, not used again.
                unsafe { vm.release(old as *mut u8, WASM_PAGE_SIZE).unwrap() };
            })
        };
        let next = {
            let vm = vm.clone();
            thread::spawn(move || {
                let p = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
                assert!(reads(&vm, p, WASM_PAGE_SIZE, 0), "new owner sees zero");
                write(&vm, p, WASM_PAGE_SIZE, 0xBB);
                p
            })
        };
        owner.join().unwrap();
        let p = next.join().unwrap();
        assert!(
            reads(&vm, p, WASM_PAGE_SIZE, 0xBB),
            "no write of the old owner reached it"
        );
        let s = vm.stats();
        let w = WASM_PAGE_SIZE as u64;
        let (owned, zeroed, skipped) = if p == old {
            (w + META, w, w) // reused: dirty, zeroed once
        } else {
            (2 * w + META, 0, 2 * w) // grew: fresh, nothing zeroed
        };
        assert_eq!(
            (
                s.reserved_bytes,
                s.owned_bytes,
                s.bytes_zeroed,
                s.bytes_zero_skipped
            ),
            (w, owned, zeroed, skipped)
        );
        consistent(&s);
        vm.check_invariants();
    });
}

#[test]
fn decommit_and_commit_beside_neighbours() {
    model("decommit_and_commit_beside_neighbours", || {
        // One wasm page: pages 0-1 stay ours, pages 2-3 are released dirty,
        // so the neighbour must zero one of them while the owner zeroes
        // page 1 (eager decommit): two fills outside the lock, side by side.
        let vm = vmem(1);
        let mine = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, mine, WASM_PAGE_SIZE, 0x11);
        // SAFETY: the upper half of our reservation, not used again.
        unsafe {
            vm.release((mine + 2 * PAGE_SIZE) as *mut u8, 2 * PAGE_SIZE)
                .unwrap()
        };
        let owner = {
            let vm = vm.clone();
            thread::spawn(move || {
                let p = mine as *mut u8;
                // SAFETY: this thread's reservation.
                unsafe {
                    vm.decommit(p.add(PAGE_SIZE), PAGE_SIZE).unwrap();
                    vm.commit(p, 2 * PAGE_SIZE).unwrap();
                }
                assert!(reads(&vm, mine, PAGE_SIZE, 0x11), "committed page kept");
                assert!(
                    reads(&vm, mine + PAGE_SIZE, PAGE_SIZE, 0),
                    "recommitted page zero"
                );
                write(&vm, mine + PAGE_SIZE, PAGE_SIZE, 0x22);
            })
        };
        let neighbour = {
            let vm = vm.clone();
            thread::spawn(move || {
                let q = vm.reserve(PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
                assert!(q as usize >= mine + 2 * PAGE_SIZE, "not the owner's pages");
                assert!(reads(&vm, q as usize, PAGE_SIZE, 0), "dirty page zeroed");
                write(&vm, q as usize, PAGE_SIZE, 0x33);
                // SAFETY: this thread's reservation, not used again.
                unsafe { vm.release(q, PAGE_SIZE).unwrap() };
            })
        };
        owner.join().unwrap();
        neighbour.join().unwrap();
        assert!(reads(&vm, mine, PAGE_SIZE, 0x11) && reads(&vm, mine + PAGE_SIZE, PAGE_SIZE, 0x22));
        let s = vm.stats();
        assert_eq!(
            (s.reserved_bytes, s.committed_bytes, s.free_dirty_bytes),
            (
                2 * PAGE_SIZE as u64,
                2 * PAGE_SIZE as u64,
                2 * PAGE_SIZE as u64
            )
        );
        assert_eq!(
            s.bytes_zeroed,
            2 * PAGE_SIZE as u64,
            "eager decommit zeroed page 1 once, the neighbour one dirty page"
        );
        assert_eq!(
            s.bytes_zero_skipped,
            5 * PAGE_SIZE as u64,
            "4 fresh pages, and page 1 at commit (zeroed at decommit)"
        );
        consistent(&s);
        vm.check_invariants();
    });
}

#[test]
fn concurrent_growth_with_foreign_growth_between() {
    model("concurrent_growth_with_foreign_growth_between", || {
        let vm = vmem(3);
        let growers: Vec<_> = (1..=2u8)
            .map(|tag| {
                let vm = vm.clone();
                thread::spawn(move || {
                    // A whole wasm page each: both must grow.
                    let p = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
                    assert!(reads(&vm, p, WASM_PAGE_SIZE, 0));
                    write(&vm, p, WASM_PAGE_SIZE, tag);
                    p
                })
            })
            .collect();
        // Someone else grows in between.
        let foreign = vm
            .memory()
            .grow_foreign(1)
            .expect("room for foreign growth");
        let foreign = vm.memory().base() + foreign * WASM_PAGE_SIZE;
        let got: Vec<usize> = growers.into_iter().map(|h| h.join().unwrap()).collect();
        assert_ne!(got[0], got[1], "no page handed out twice");
        for (i, &p) in got.iter().enumerate() {
            assert_ne!(p, foreign, "foreign memory never handed out");
            assert!(reads(&vm, p, WASM_PAGE_SIZE, i as u8 + 1));
        }
        assert!(reads(
            &vm,
            foreign,
            WASM_PAGE_SIZE,
            wasm_vmem::sys::sim::FOREIGN_FILL
        ));
        let s = vm.stats();
        assert_eq!(
            s.owned_bytes,
            2 * WASM_PAGE_SIZE as u64 + META,
            "no page lost"
        );
        assert_eq!(s.grows, 2 + 2, "the two storages, then ours");
        assert_eq!(
            (s.bytes_zeroed, s.bytes_zero_skipped),
            (0, 2 * WASM_PAGE_SIZE as u64),
            "fresh pages are never zeroed"
        );
        assert_eq!(s.linear_memory_bytes, 3 * WASM_PAGE_SIZE as u64 + META);
        consistent(&s);
        vm.check_invariants();
    });
}

#[test]
fn spinlock_excludes_and_progresses() {
    model("spinlock_excludes_and_progresses", || {
        let shared = Arc::new((SpinLock::new(), loom::cell::UnsafeCell::new(0usize)));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    shared.0.lock();
                    // SAFETY: the lock is held: no other access.
                    shared.1.with_mut(|n| unsafe { *n += 1 });
                    // SAFETY: this thread holds the lock.
                    unsafe { shared.0.unlock() };
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(!shared.0.is_locked());
        // SAFETY: all threads joined.
        assert_eq!(shared.1.with(|n| unsafe { *n }), 2);
    });
}

/// The harness works: two threads writing one page of a `SimMemory` with no
/// synchronisation between them are reported by loom.
#[test]
#[should_panic(expected = "Causality violation")]
fn unsynchronised_page_access_is_caught() {
    loom::model(|| {
        let memory = Arc::new(SimMemory::new(WASM_PAGE_SIZE));
        let old = memory.grow(1).unwrap();
        let addr = memory.base() + old * WASM_PAGE_SIZE;
        let other = {
            let memory = memory.clone();
            // SAFETY: deliberately racy: this is what loom must catch.
            thread::spawn(move || unsafe { memory.fill(addr, 8, 1) })
        };
        // SAFETY: deliberately racy, as above.
        unsafe { memory.fill(addr + 8, 8, 2) };
        other.join().unwrap();
    });
}

/// The harness sees through the library: a user who writes to pages after
/// releasing them races with the thread that reserves them next (and zeroes
/// them); the lock orders the release before the reserve, but nothing orders
/// the late write, and loom reports it.
#[test]
#[should_panic(expected = "Causality violation")]
fn write_after_release_is_caught() {
    loom::model(|| {
        let vm = vmem(2);
        let old = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, old, WASM_PAGE_SIZE, 0xAA);
        let owner = {
            let vm = vm.clone();
            thread::spawn(move || {
                // SAFETY: deliberately broken: the range is used after
                // release. This is what loom must catch.
                unsafe { vm.release(old as *mut u8, WASM_PAGE_SIZE).unwrap() };
                write(&vm, old, PAGE_SIZE, 0xAB);
            })
        };
        let p = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, p, WASM_PAGE_SIZE, 0xBB);
        owner.join().unwrap();
    });
}

#[test]
fn stats_during_a_batched_reserve() {
    model("stats_during_a_batched_reserve", || {
        // 68 dirty free pages; a reservation of 65 is claimed at once and
        // zeroed in two batches (BATCH + 1), taking the lock between them.
        let vm = vmem(17);
        let all = 17 * WASM_PAGE_SIZE;
        let warm = vm.reserve(all, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, warm, all, 0xFF);
        // SAFETY: ours, not used again.
        unsafe { vm.release(warm as *mut u8, all).unwrap() };
        let len = (BATCH + 1) * PAGE_SIZE;
        let big = {
            let vm = vm.clone();
            thread::spawn(move || {
                let p = vm.reserve(len, PAGE_SIZE).unwrap().as_ptr() as usize;
                assert!(reads(&vm, p, len, 0), "reserve reads zero");
                p
            })
        };
        // Another thread looks at the statistics meanwhile.
        let s = vm.stats();
        consistent(&s);
        assert_eq!(s.owned_bytes, all as u64 + META);
        vm.check_invariants();
        big.join().unwrap();
        let s = vm.stats();
        assert_eq!(
            (s.reserved_bytes, s.free_dirty_bytes),
            (len as u64, (all - len) as u64)
        );
        consistent(&s);
        vm.check_invariants();
    });
}

#[test]
fn batched_release_racing_a_reserve() {
    model("batched_release_racing_a_reserve", || {
        // A release of 65 pages is validated and applied in two batches
        // (BATCH + 1), each under the lock: a reserve in between sees the
        // first batch free and the last page still reserved.
        let vm = vmem(18);
        let len = (BATCH + 1) * PAGE_SIZE;
        let old = vm.reserve(len, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, old, len, 0xAA);
        let owner = {
            let vm = vm.clone();
            thread::spawn(move || {
                // SAFETY: this thread's reservation, not used again.
                unsafe { vm.release(old as *mut u8, len).unwrap() };
            })
        };
        let p = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        assert!(reads(&vm, p, WASM_PAGE_SIZE, 0), "new owner sees zero");
        write(&vm, p, WASM_PAGE_SIZE, 0xBB);
        owner.join().unwrap();
        assert!(
            reads(&vm, p, WASM_PAGE_SIZE, 0xBB),
            "old owner's data never reached it"
        );
        let s = vm.stats();
        let w = WASM_PAGE_SIZE as u64;
        let reused = s.owned_bytes == 17 * w + META;
        assert_eq!(
            (s.reserved_bytes, s.owned_bytes, s.bytes_zeroed),
            if reused {
                (w, 17 * w + META, w)
            } else {
                (w, 18 * w + META, 0)
            },
            "dirty pages reused and zeroed, or fresh pages grown"
        );
        consistent(&s);
        vm.check_invariants();
    });
}

/// Arenas: one thread releases a reservation of arena 0 while another
/// reserves from arena 1, which has nothing and so takes arena 0's pages if
/// they are free by then (a steal), or grows. Either way the pages are
/// disjoint, read zero, and the old owner's writes never reach the new one.
#[test]
fn release_in_one_arena_racing_a_steal_from_another() {
    model("release_in_one_arena_racing_a_steal_from_another", || {
        let vm = vmem(2);
        let old = vm
            .reserve_in(0, WASM_PAGE_SIZE, PAGE_SIZE)
            .unwrap()
            .as_ptr() as usize;
        let owner = {
            let vm = vm.clone();
            thread::spawn(move || {
                write(&vm, old, WASM_PAGE_SIZE, 0xAA);
                // SAFETY: ours, not used again.
                unsafe { vm.release(old as *mut u8, WASM_PAGE_SIZE).unwrap() };
            })
        };
        let p = vm
            .reserve_in(1, WASM_PAGE_SIZE, PAGE_SIZE)
            .unwrap()
            .as_ptr() as usize;
        assert!(reads(&vm, p, WASM_PAGE_SIZE, 0), "the new owner sees zero");
        write(&vm, p, WASM_PAGE_SIZE, 0xBB);
        owner.join().unwrap();
        assert!(
            reads(&vm, p, WASM_PAGE_SIZE, 0xBB),
            "no old write reached it"
        );
        let s = vm.stats();
        consistent(&s);
        let w = WASM_PAGE_SIZE as u64;
        assert_eq!(s.reserved_bytes, w);
        // Stolen (no growth, zeroed once) or grown (fresh, nothing zeroed).
        let expect = if p == old {
            (w + META, 2 + 1, w)
        } else {
            (2 * w + META, 2 + 2, 0)
        };
        assert_eq!((s.owned_bytes, s.grows, s.bytes_zeroed), expect);
        vm.check_invariants();
    });
}

/// Arenas: a reservation made in arena 1 is decommitted and released by
/// another thread (whose own arena is 0), while the main thread reserves
/// in arena 0: the operation finds the owning arena, and the pages it
/// zeroes are its alone.
#[test]
fn cross_thread_free_into_another_arena() {
    model("cross_thread_free_into_another_arena", || {
        let vm = vmem(2);
        let theirs = vm.reserve_in(1, 2 * PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        write(&vm, theirs, 2 * PAGE_SIZE, 0xCC);
        let freer = {
            let vm = vm.clone();
            thread::spawn(move || {
                // SAFETY: handed over to this thread, not used again.
                unsafe {
                    vm.decommit(theirs as *mut u8, PAGE_SIZE).unwrap();
                    vm.release(theirs as *mut u8, 2 * PAGE_SIZE).unwrap();
                }
            })
        };
        let mine = vm.reserve_in(0, PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        assert!(reads(&vm, mine, PAGE_SIZE, 0));
        freer.join().unwrap();
        let s = vm.stats();
        consistent(&s);
        assert_eq!(s.reserved_bytes, PAGE_SIZE as u64);
        vm.check_invariants();
    });
}

/// Arenas: statistics taken while reservations go on in two arenas are one
/// consistent snapshot (every arena locked at once).
#[test]
fn stats_while_two_arenas_reserve() {
    model("stats_while_two_arenas_reserve", || {
        let vm = vmem(2);
        let other = {
            let vm = vm.clone();
            thread::spawn(move || {
                vm.reserve_in(1, PAGE_SIZE, PAGE_SIZE).unwrap();
            })
        };
        vm.reserve_in(0, PAGE_SIZE, PAGE_SIZE).unwrap();
        let s = vm.stats();
        consistent(&s);
        assert!(s.owned_bytes <= s.linear_memory_bytes);
        other.join().unwrap();
        let s = vm.stats();
        consistent(&s);
        assert_eq!(s.reserved_bytes, 2 * PAGE_SIZE as u64);
        vm.check_invariants();
    });
}

/// Two threads reserve at once in one arena whose table has no storage yet:
/// both may grow a storage region outside the lock. The first to lock
/// adopts its region; the other's is not needed and becomes free pages
/// (read zero) of the arena. No page is lost (everything grown is owned),
/// the reservations are disjoint and read zero, the sums stay exact.
#[test]
fn storage_growths_racing_in_one_arena() {
    model("storage_growths_racing_in_one_arena", || {
        let vm = vmem_bare(4);
        let other = {
            let vm = vm.clone();
            thread::spawn(move || {
                let p = vm.reserve_in(0, PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
                assert!(reads(&vm, p, PAGE_SIZE, 0));
                write(&vm, p, PAGE_SIZE, 1);
                p
            })
        };
        let mine = vm.reserve_in(0, PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
        assert!(reads(&vm, mine, PAGE_SIZE, 0));
        write(&vm, mine, PAGE_SIZE, 2);
        let theirs = other.join().unwrap();
        assert_ne!(mine, theirs, "disjoint");
        assert!(reads(&vm, theirs, PAGE_SIZE, 1) && reads(&vm, mine, PAGE_SIZE, 2));
        let s = vm.stats();
        consistent(&s);
        assert_eq!(
            s.metadata_bytes, WASM_PAGE_SIZE as u64,
            "one storage adopted"
        );
        assert_eq!(s.owned_bytes, s.linear_memory_bytes, "no region lost");
        assert_eq!(s.reserved_bytes, 2 * PAGE_SIZE as u64);
        vm.check_invariants();
    });
}

/// A storage growth that takes a free run of its own table (the new
/// region claimed under the lock, zeroed outside it, adopted under it)
/// racing another thread's reserve that wants the same run. The storage
/// takes the hole and the reserve grows; or the reserve takes it and the
/// storage is grown; or the reserve, finding the hole claimed, grows a
/// storage of its own, adopts it first, and the hole goes back to the free
/// runs. Never a page shared, the reservations read zero, the sums stay
/// exact.
fn storage_in_a_free_run_racing_a_reserve() {
    // The first storage (wasm page 0) describes 5,038 pages: a foreign
    // gap of 1,260 wasm pages pushes the memory past that.
    let vm = vmem_bare(1_280);
    assert!(vm.prepare_metadata_in(0, 64));
    // An 8-page hole (wasm pages 1 and 2, released) below a page held.
    let hole = vm
        .reserve_in(0, 2 * WASM_PAGE_SIZE, PAGE_SIZE)
        .unwrap()
        .as_ptr() as usize;
    let held = vm.reserve_in(0, PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr() as usize;
    // SAFETY: ours, not used again.
    unsafe { vm.release(hole as *mut u8, 2 * WASM_PAGE_SIZE).unwrap() };
    // Grown by someone else, left untouched (`grow_foreign` would write
    // its 80 MiB in every interleaving).
    vm.memory().grow(1_260).unwrap();
    let other = {
        let vm = vm.clone();
        thread::spawn(move || {
            // Best fit: the hole, unless the storage took it.
            let p = vm
                .reserve_in(0, 2 * WASM_PAGE_SIZE, PAGE_SIZE)
                .unwrap()
                .as_ptr() as usize;
            assert!(reads(&vm, p, 2 * WASM_PAGE_SIZE, 0));
            write(&vm, p, 2 * WASM_PAGE_SIZE, 1);
            p
        })
    };
    // Nothing of this arena fits 4 wasm pages: it grows, past the gap,
    // and first needs a larger storage.
    let mine = vm
        .reserve_in(0, 4 * WASM_PAGE_SIZE, PAGE_SIZE)
        .unwrap()
        .as_ptr() as usize;
    assert!(reads(&vm, mine, 4 * WASM_PAGE_SIZE, 0));
    let theirs = other.join().unwrap();
    assert!(reads(&vm, theirs, 2 * WASM_PAGE_SIZE, 1), "kept");
    let regions = vm.metadata_regions();
    assert_eq!(regions.len(), 1, "{regions:?}");
    let (m, n) = regions[0];
    for (p, len) in [(theirs, 2 * WASM_PAGE_SIZE), (mine, 4 * WASM_PAGE_SIZE)] {
        assert!(
            p + len <= m || m + n <= p,
            "no page shared with the storage"
        );
    }
    let s = vm.stats();
    if theirs == hole {
        seen(0);
    } else if m == hole {
        seen(1);
    } else {
        // The reserve, finding the hole claimed, grew a storage of its own
        // and adopted it first; the hole went back to the free runs.
        // The first storage (wasm page 0, below the hole) is free too: the
        // two are one free run.
        seen(2);
        let len = 3 * WASM_PAGE_SIZE;
        let again = vm.reserve_in(0, len, PAGE_SIZE).unwrap();
        assert_eq!(again.as_ptr() as usize + WASM_PAGE_SIZE, hole, "free");
        assert!(reads(&vm, again.as_ptr() as usize, len, 0));
        // SAFETY: ours, not used again.
        unsafe { vm.release(again.as_ptr(), len).unwrap() };
    }
    consistent(&s);
    assert_eq!(
        s.reserved_bytes,
        (PAGE_SIZE + 6 * WASM_PAGE_SIZE) as u64,
        "{s:?}"
    );
    let _ = held;
    vm.check_invariants();
}

#[test]
fn storage_taken_from_a_free_run_racing_a_reserve() {
    model(
        "storage_taken_from_a_free_run_racing_a_reserve",
        storage_in_a_free_run_racing_a_reserve,
    );
    assert_eq!(outcomes(), 0b111, "every fate of the hole");
}

/// The broken variant: the storage's run is found under the lock but taken
/// out of the free runs only when adopted, so the reserve can take the same
/// pages while the storage is being zeroed.
#[test]
#[should_panic]
fn storage_claimed_late_is_caught() {
    let _fault = wasm_vmem::faults::inject(wasm_vmem::faults::Fault::StorageClaimedLate);
    loom::model(storage_in_a_free_run_racing_a_reserve);
}
