//! Loom models of wasm-vmem's multithreaded build live in `tests/`; they
//! only exist under `--cfg loom` (see `scripts/test-loom.sh`). This library
//! holds what the model files share.

/// Runs `f` under loom and prints how many interleavings it explored.
#[cfg(loom)]
pub fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let runs = Arc::new(AtomicUsize::new(0));
    let start = std::time::Instant::now();
    let counted = runs.clone();
    loom::model(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        f();
    });
    println!(
        "loom model {name}: {} interleavings in {:.2} s",
        runs.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}
