//! The allocator as this test binary's own `#[global_allocator]`: every
//! allocation of the test harness, std, rayon and the workloads below goes
//! through `mt::Alloc` over a lazily mapped `SimMemory`, whose pool the
//! tests also use through the page API.

#![cfg(all(not(target_arch = "wasm32"), feature = "std"))]

use std::collections::HashMap;
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use wasm_vmem::mt;
use wasm_vmem::sys::SimMemory;

#[global_allocator]
static ALLOC: mt::Alloc<SimMemory> = mt::Alloc::new(SimMemory::lazy(64 << 30));

/// The tests run one at a time: the last one reads the pool's figures.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn rayon_collects_and_sorts() {
    let _serial = serial();
    use rayon::prelude::*;
    let n = 2_000_000u64;
    let mut v: Vec<u64> = (0..n)
        .into_par_iter()
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7)
        .collect();
    v.par_sort_unstable();
    assert!(v.windows(2).all(|w| w[0] <= w[1]));
    let strings: Vec<String> = v.par_iter().take(200_000).map(|x| x.to_string()).collect();
    let total: usize = strings.par_iter().map(String::len).sum();
    assert!(total > 200_000);
    let mut sorted = strings.clone();
    sorted.par_sort();
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn hash_map_churn_across_threads() {
    let _serial = serial();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                let mut m: HashMap<String, Vec<u8>> = HashMap::new();
                for i in 0..100_000u32 {
                    let key = format!("t{t}-k{}", i % 5_000);
                    if i % 3 == 0 {
                        m.remove(&key);
                    } else {
                        m.insert(key, vec![(i % 251) as u8; (i % 300) as usize + 1]);
                    }
                }
                for (k, v) in &m {
                    assert!(k.starts_with(&format!("t{t}-")));
                    assert!(v.iter().all(|&b| b == v[0]));
                }
                m.len()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap() > 0);
    }
}

#[test]
fn blocks_freed_by_another_thread() {
    let _serial = serial();
    let (tx, rx) = mpsc::channel::<Vec<Box<[u8]>>>();
    let consumer = thread::spawn(move || {
        let mut freed = 0usize;
        for batch in rx {
            for b in batch {
                assert!(b.iter().all(|&x| x == b.len() as u8));
                freed += b.len();
            }
        }
        freed
    });
    let mut sent = 0usize;
    for round in 0..200 {
        let batch: Vec<Box<[u8]>> = (0..200)
            .map(|i| {
                let len = 1 + (i * 7 + round) % 250;
                sent += len;
                vec![len as u8; len].into_boxed_slice()
            })
            .collect();
        tx.send(batch).unwrap();
    }
    drop(tx);
    assert_eq!(consumer.join().unwrap(), sent);
}

#[test]
fn strings_and_large_vectors_share_the_pool_with_the_page_api() {
    let _serial = serial();
    let vm = ALLOC.vmem();
    // The page API and the allocator take pages from one pool: pages the
    // page API releases serve a large Vec without growing the memory.
    let p = vm.reserve(64 << 20, 1).unwrap().as_ptr();
    // SAFETY: reserved above, not used after.
    unsafe { vm.release(p, 64 << 20).unwrap() };
    let grown = vm.stats().linear_memory_bytes;
    let before = ALLOC.stats();
    let v = vec![0u8; 48 << 20];
    assert!(v.iter().step_by(4096).all(|&b| b == 0));
    let after = ALLOC.stats();
    // Every page of it was either zeroed or known zero, never both.
    assert_eq!(
        (after.zeroed_bytes - before.zeroed_bytes)
            + (after.zeroing_skipped_bytes - before.zeroing_skipped_bytes),
        48 << 20
    );
    let s: String = (0..100_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(s.len(), 100_000);
    assert!(
        vm.stats().linear_memory_bytes <= grown + (4 << 20),
        "the Vec reused the released pages"
    );
    drop(v);
}
