//! A workload of ordinary Rust code for the global allocator: collecting
//! and sorting a million `u64`, `HashMap` churn over `String` keys, string
//! building and large zeroed vectors (allocated by the calling thread,
//! read and written by the workers) — on rayon's threads in the
//! multithreaded build (blocks allocated on one worker and freed on
//! another), in sequence in the single-threaded one. Every part checks its
//! result. It knows nothing of the allocator: the demo runs it with
//! `wasm_vmem::Global` as the module's global allocator and checks the
//! allocator's figures around it; natively its test runs it on the system
//! allocator.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[cfg(feature = "threads")]
use rayon::prelude::*;

/// The sizes of the large zeroed vectors, each allocated once in each of two
/// rounds (the second round over pages the first one dirtied, if the
/// allocator reuses them).
pub const LARGE_SIZES: [usize; 4] = [64 << 10, 1 << 20, 8 << 20, 32 << 20];

/// What a run did and found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Items collected and sorted.
    pub items: usize,
    /// Bit `i`: rayon thread `i` ran part of the work (0 without rayon).
    pub threads: u64,
    /// The parts whose check failed (empty: all good).
    pub failed: Vec<&'static str>,
    /// Milliseconds per part: collect and sort, map churn, strings, large
    /// zeroed vectors.
    pub ms: [f64; 4],
    /// Keys inserted into (and removed from) maps.
    pub map_ops: usize,
    /// Bytes of the strings built.
    pub string_bytes: usize,
    /// Bytes of large zeroed vectors allocated.
    pub zeroed_bytes: usize,
}

impl Report {
    /// The report as JSON.
    pub fn to_json(&self) -> String {
        let failed: Vec<String> = self.failed.iter().map(|f| format!("\"{f}\"")).collect();
        format!(
            concat!(
                "{{\"items\":{},\"threads_used\":{},\"failed\":[{}],\"map_ops\":{},",
                "\"string_bytes\":{},\"zeroed_bytes\":{},\"ms\":{{\"sort\":{:.1},",
                "\"map\":{:.1},\"strings\":{:.1},\"large\":{:.1}}}}}"
            ),
            self.items,
            self.threads.count_ones(),
            failed.join(","),
            self.map_ops,
            self.string_bytes,
            self.zeroed_bytes,
            self.ms[0],
            self.ms[1],
            self.ms[2],
            self.ms[3],
        )
    }
}

/// Values in no order.
use crate::flaky::splitmix64 as mix;

/// Which rayon threads took part.
static THREADS: AtomicU64 = AtomicU64::new(0);

#[cfg(feature = "threads")]
fn mark() {
    if let Some(i) = rayon::current_thread_index() {
        THREADS.fetch_or(1 << (i % 64), Relaxed);
    }
}

/// `f(0) .. f(n)` collected: in parallel on rayon's pool when there is one.
fn map_collect<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(feature = "threads")]
    return (0..n)
        .into_par_iter()
        .map(|i| {
            mark();
            f(i)
        })
        .collect();
    #[cfg(not(feature = "threads"))]
    (0..n).map(f).collect()
}

/// `f` of each item: in parallel on rayon's pool when there is one.
fn map_each<T: Send, R: Send>(items: &mut [T], f: impl Fn(&mut T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "threads")]
    return items
        .par_iter_mut()
        .map(|x| {
            mark();
            f(x)
        })
        .collect();
    #[cfg(not(feature = "threads"))]
    items.iter_mut().map(f).collect()
}

fn sort(v: &mut [u64]) {
    #[cfg(feature = "threads")]
    v.par_sort();
    #[cfg(not(feature = "threads"))]
    v.sort();
}

/// Runs the workload over `items` numbers (a million in the demo) and
/// checks every part; `clock` gives milliseconds.
pub fn run(items: usize, clock: &dyn Fn() -> f64) -> Report {
    THREADS.store(0, Relaxed);
    let mut r = Report {
        items,
        ..Report::default()
    };
    let mut check = |ok: bool, what: &'static str| {
        if !ok {
            r.failed.push(what);
        }
    };

    // Collect and sort: one large block per worker's part, the merge
    // buffer of the sort, and the final vector.
    let t = clock();
    let mut v: Vec<u64> = map_collect(items, |i| mix(i as u64));
    let expected = (0..items as u64).fold(0u64, |s, i| s.wrapping_add(mix(i)));
    sort(&mut v);
    check(v.windows(2).all(|w| w[0] <= w[1]), "sorted");
    check(
        v.len() == items && v.iter().fold(0u64, |s, &x| s.wrapping_add(x)) == expected,
        "sum",
    );
    drop(v);
    let t_sort = clock() - t;

    // Map churn: maps built on the workers, checked and dropped here (frees
    // from another thread than the one that allocated).
    let t = clock();
    const MAPS: usize = 16;
    let keys = (items / 50).max(64) & !1;
    let maps = map_collect(MAPS, |m| {
        let mut map: HashMap<String, u64> = HashMap::new();
        for i in 0..keys {
            map.insert(format!("key-{m}-{i}"), mix(i as u64));
        }
        for i in (0..keys).step_by(2) {
            map.remove(&format!("key-{m}-{i}"));
        }
        map.shrink_to_fit();
        for i in 0..keys / 2 {
            map.insert(format!("new-{m}-{i:08}"), i as u64);
        }
        map
    });
    let maps_ok = maps.iter().enumerate().all(|(m, map)| {
        map.len() == keys
            && (1..keys)
                .step_by(2)
                .all(|i| map.get(&format!("key-{m}-{i}")) == Some(&mix(i as u64)))
            && (0..keys)
                .step_by(2)
                .all(|i| !map.contains_key(&format!("key-{m}-{i}")))
            && (0..keys / 2).all(|i| map.get(&format!("new-{m}-{i:08}")) == Some(&(i as u64)))
    });
    check(maps_ok, "map contents");
    r.map_ops = MAPS * keys * 2;
    drop(maps);
    let t_map = clock() - t;

    // Strings: many small ones built on the workers, joined into one large
    // one that grows by reallocation.
    let t = clock();
    let parts = map_collect(items / 20, |i| {
        let mut s = String::new();
        for j in 0..i % 40 {
            let _ = write!(s, "{j},");
        }
        s
    });
    let total: usize = parts.iter().map(String::len).sum();
    let mut joined = String::new();
    for p in &parts {
        joined.push_str(p);
    }
    let digits = |s: &str| s.bytes().filter(u8::is_ascii_digit).count();
    check(
        joined.len() == total && digits(&joined) == parts.iter().map(|p| digits(p)).sum(),
        "strings",
    );
    r.string_bytes = total;
    drop((parts, joined));
    let t_strings = clock() - t;

    // Large zeroed vectors in two rounds, each size once a round, the
    // second round over the pages the first one dirtied. A round's vectors
    // are allocated here, largest first, and live until the round ends:
    // neither its peak nor where its blocks go depends on how the workers
    // interleave, so a second run of the workload needs no more memory
    // than the first. The workers check that they read zero, and write
    // them.
    let t = clock();
    let mut ok = true;
    for _ in 0..2 {
        let mut round: Vec<Vec<u8>> = LARGE_SIZES.iter().rev().map(|&n| vec![0u8; n]).collect();
        ok &= map_each(&mut round, |v| {
            let zero = v.iter().all(|&b| b == 0);
            v.fill(0xA5);
            zero && v[v.len() - 1] == 0xA5
        })
        .iter()
        .all(|&z| z);
    }
    check(ok, "large zeroed");
    r.zeroed_bytes = 2 * LARGE_SIZES.iter().sum::<usize>();
    let t_large = clock() - t;

    r.ms = [t_sort, t_map, t_strings, t_large];
    r.threads = THREADS.load(Relaxed);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_checks_out() {
        let start = std::time::Instant::now();
        let r = run(100_000, &|| start.elapsed().as_secs_f64() * 1e3);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!(r.map_ops, 16 * 2000 * 2);
        let json = r.to_json();
        assert!(
            json.starts_with("{\"items\":100000,") && json.contains("\"failed\":[]"),
            "{json}"
        );
    }
}
