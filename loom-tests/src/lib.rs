//! Loom models of wasm-vmem's multithreaded build live in `tests/`; they
//! only exist under `--cfg loom` (see `scripts/test-loom.sh`). This library
//! holds what the model files share.

#[cfg(loom)]
use std::sync::atomic::{AtomicUsize, Ordering};

/// Outcomes seen across a model's interleavings (see [`seen`]). A plain
/// atomic, outside loom: the models run one at a time.
#[cfg(loom)]
static OUTCOMES: AtomicUsize = AtomicUsize::new(0);

/// Records outcome `bit` of this interleaving; a model then asserts with
/// [`outcomes`] that every outcome it expects was explored.
#[cfg(loom)]
pub fn seen(bit: usize) {
    OUTCOMES.fetch_or(1 << bit, Ordering::Relaxed);
}

/// The outcomes [`seen`] since the last [`model`] started, one bit each.
#[cfg(loom)]
pub fn outcomes() -> usize {
    OUTCOMES.load(Ordering::Relaxed)
}

/// Runs `f` under loom, outcomes cleared first, and prints how many
/// interleavings it explored.
#[cfg(loom)]
pub fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::Arc;
    OUTCOMES.store(0, Ordering::Relaxed);
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

/// Stack of the thread [`on_big_stack`] runs a scenario on.
#[cfg(loom)]
const BIG_STACK: usize = 1 << 20;

/// Runs `f` on a loom thread with a 1 MiB stack and joins it: loom's own
/// model thread has a 32 KiB stack, too small for building an allocator
/// instance (its arrays of per-arena state) there.
#[cfg(loom)]
pub fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    loom::thread::Builder::new()
        .stack_size(BIG_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the scenario's thread");
}
