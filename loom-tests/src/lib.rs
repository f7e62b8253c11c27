//! Loom models of wasm-vmem's multithreaded build live in `tests/`; they
//! only exist under `--cfg loom` (see `scripts/test-loom.sh`).
