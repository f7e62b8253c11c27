//! Property test: long random sequences of operations, both builds, checked
//! after every step against a simple reference model of DESIGN.md §4.
//!
//! After each step: no live reservation overlaps another or foreign memory;
//! every page the contract says reads zero does; data in committed pages is
//! preserved; the statistics, including bytes zeroed and skipped, equal the
//! model's; the table's own invariants hold.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use wasm_vmem::sys::sim::FOREIGN_FILL;

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        pages: usize,
        align_shift: u32,
    },
    Commit {
        which: usize,
        from: usize,
        len: usize,
    },
    Decommit {
        which: usize,
        from: usize,
        len: usize,
    },
    Reset {
        which: usize,
        from: usize,
        len: usize,
    },
    Release {
        which: usize,
        from: usize,
        len: usize,
    },
    Write {
        which: usize,
        page: usize,
        byte: u8,
    },
    Foreign {
        wasm_pages: usize,
    },
    FailGrow,
    BadRange {
        which: usize,
        kind: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let idx = 0..64usize;
    prop_oneof![
        6 => (1..=12usize, 0..=4u32).prop_map(|(pages, align_shift)| Op::Reserve { pages, align_shift }),
        3 => (idx.clone(), 0..16usize, 1..8usize).prop_map(|(which, from, len)| Op::Commit { which, from, len }),
        3 => (idx.clone(), 0..16usize, 1..8usize).prop_map(|(which, from, len)| Op::Decommit { which, from, len }),
        1 => (idx.clone(), 0..16usize, 1..8usize).prop_map(|(which, from, len)| Op::Reset { which, from, len }),
        4 => (idx.clone(), 0..16usize, 1..12usize).prop_map(|(which, from, len)| Op::Release { which, from, len }),
        4 => (idx.clone(), 0..16usize, 1..=255u8).prop_map(|(which, page, byte)| Op::Write { which, page, byte }),
        1 => (1..=2usize).prop_map(|wasm_pages| Op::Foreign { wasm_pages }),
        1 => Just(Op::FailGrow),
        2 => (idx, 0..4u8).prop_map(|(which, kind)| Op::BadRange { which, kind }),
    ]
}

/// What the model knows of a page it has seen handed out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Page {
    Committed(u8),
    Decommitted { zero: bool },
    Free { zero: bool },
}

struct Model<'m, P: Policy> {
    vm: GenericVmem<&'m SimMemory, P>,
    /// Live reservations (or what is left of them): address, pages.
    live: Vec<(usize, usize)>,
    /// Every page ever handed out, by address.
    pages: BTreeMap<usize, Page>,
    foreign: Vec<(usize, usize)>,
    zeroed: u64,
    skipped: u64,
    /// Pages whose contents changed in this step: checked in full.
    touched: Vec<usize>,
}

const MAX: usize = 8 * MIB;

impl<'m, P: Policy> Model<'m, P> {
    fn new(mem: &'m SimMemory) -> Self {
        Self {
            vm: GenericVmem::new(mem),
            live: Vec::new(),
            pages: BTreeMap::new(),
            foreign: Vec::new(),
            zeroed: 0,
            skipped: 0,
            touched: Vec::new(),
        }
    }

    /// A sub-range of a live reservation: address and pages.
    fn pick(&self, which: usize, from: usize, len: usize) -> Option<(usize, usize)> {
        if self.live.is_empty() {
            return None;
        }
        let (a, n) = self.live[which % self.live.len()];
        let from = from % n;
        let len = len.min(n - from).max(1);
        Some((a + pages(from), len))
    }

    fn step(&mut self, op: &Op) {
        self.touched.clear();
        let before = self.vm.stats();
        match *op {
            Op::Reserve {
                pages: n,
                align_shift,
            } => {
                let align = PAGE_SIZE << align_shift;
                match self.vm.reserve(pages(n), align) {
                    Ok(p) => self.reserved(addr(p.as_ptr()), n, align),
                    Err(Error::OutOfMemory { .. }) => {
                        assert_eq!(self.vm.stats(), before, "OOM leaves the table intact")
                    }
                    Err(e) => panic!("reserve({n} pages, {align}): {e}"),
                }
            }
            Op::Commit { which, from, len } => {
                let Some((a, n)) = self.pick(which, from, len) else {
                    return;
                };
                // SAFETY: a live reservation of ours.
                unsafe { self.vm.commit(a as *mut u8, pages(n)).unwrap() };
                for pa in (0..n).map(|i| a + pages(i)) {
                    if let Page::Decommitted { zero } = self.pages[&pa] {
                        if zero {
                            self.skipped += PAGE_SIZE as u64;
                        } else {
                            self.zeroed += PAGE_SIZE as u64;
                        }
                        self.pages.insert(pa, Page::Committed(0));
                        self.touched.push(pa);
                    }
                }
            }
            Op::Decommit { which, from, len } => {
                let Some((a, n)) = self.pick(which, from, len) else {
                    return;
                };
                // SAFETY: a live reservation of ours.
                unsafe { self.vm.decommit(a as *mut u8, pages(n)).unwrap() };
                for pa in (0..n).map(|i| a + pages(i)) {
                    if let Page::Committed(_) = self.pages[&pa] {
                        let zero = eager::<P>();
                        if zero {
                            self.zeroed += PAGE_SIZE as u64;
                        }
                        self.pages.insert(pa, Page::Decommitted { zero });
                    }
                }
            }
            Op::Reset { which, from, len } => {
                let Some((a, n)) = self.pick(which, from, len) else {
                    return;
                };
                // SAFETY: a live reservation of ours.
                assert_eq!(unsafe { self.vm.reset(a as *mut u8, pages(n)) }, Ok(false));
                assert_eq!(self.vm.stats(), before);
            }
            Op::Release { which, from, len } => {
                let Some((a, n)) = self.pick(which, from, len) else {
                    return;
                };
                // SAFETY: a live reservation of ours, not used again.
                unsafe { self.vm.release(a as *mut u8, pages(n)).unwrap() };
                for pa in (0..n).map(|i| a + pages(i)) {
                    let zero = self.pages[&pa] == Page::Decommitted { zero: true };
                    self.pages.insert(pa, Page::Free { zero });
                }
                let i = self
                    .live
                    .iter()
                    .position(|&(s, m)| s <= a && a < s + pages(m))
                    .unwrap();
                let (s, m) = self.live.swap_remove(i);
                if a > s {
                    self.live.push((s, (a - s) / PAGE_SIZE));
                }
                let end = a + pages(n);
                if end < s + pages(m) {
                    self.live.push((end, (s + pages(m) - end) / PAGE_SIZE));
                }
            }
            Op::Write { which, page, byte } => {
                let Some((a, _)) = self.pick(which, page, 1) else {
                    return;
                };
                if let Page::Committed(_) = self.pages[&a] {
                    // SAFETY: a committed page of ours.
                    unsafe { fill(a as *mut u8, PAGE_SIZE, byte) };
                    self.pages.insert(a, Page::Committed(byte));
                    self.touched.push(a);
                }
            }
            Op::Foreign { wasm_pages } => {
                if let Some(old) = self.vm.memory().grow_foreign(wasm_pages) {
                    let base = self.vm.memory().base();
                    self.foreign
                        .push((base + old * WASM_PAGE_SIZE, wasm_pages * WASM_PAGE_SIZE));
                }
            }
            Op::FailGrow => self.vm.memory().fail_next_grows(1),
            Op::BadRange { which, kind } => self.bad_range(which, kind),
        }
        self.check(matches!(op, Op::Reserve { .. }) || self.touched.len() > 8);
    }

    fn reserved(&mut self, a: usize, n: usize, align: usize) {
        assert_eq!(a % align, 0, "aligned");
        assert!(self.vm.memory().contains(a, pages(n)), "inside memory");
        for &(f, flen) in &self.foreign {
            assert!(
                a + pages(n) <= f || f + flen <= a,
                "overlaps foreign memory"
            );
        }
        for pa in (0..n).map(|i| a + pages(i)) {
            match self.pages.get(&pa) {
                None | Some(Page::Free { zero: true }) => self.skipped += PAGE_SIZE as u64,
                Some(Page::Free { zero: false }) => self.zeroed += PAGE_SIZE as u64,
                Some(p) => panic!("page {pa:#x} handed out while live: {p:?}"),
            }
            self.pages.insert(pa, Page::Committed(0));
            self.touched.push(pa);
        }
        self.live.push((a, n));
    }

    fn bad_range(&mut self, which: usize, kind: u8) {
        let before = self.vm.stats();
        let (ptr, size) = match (kind, self.live.is_empty()) {
            (0, false) => {
                let (a, n) = self.live[which % self.live.len()];
                (a + 512, pages(n))
            }
            (1, false) => {
                // Past the end of a reservation, when the next page is not
                // reserved.
                let (a, n) = self.live[which % self.live.len()];
                let next = a + pages(n);
                if matches!(
                    self.pages.get(&next),
                    Some(Page::Committed(_) | Page::Decommitted { .. })
                ) {
                    return;
                }
                (a, pages(n + 1))
            }
            (2, _) => match self
                .pages
                .iter()
                .find(|(_, p)| matches!(p, Page::Free { .. }))
            {
                Some((&a, _)) => (a, PAGE_SIZE),
                None => return,
            },
            _ => match self.foreign.first() {
                Some(&(f, _)) => (f, PAGE_SIZE),
                None => return,
            },
        };
        // SAFETY: every call must refuse the range.
        unsafe {
            let p = ptr as *mut u8;
            assert!(self.vm.commit(p, size).is_err());
            assert!(self.vm.decommit(p, size).is_err());
            assert!(self.vm.reset(p, size).is_err());
            assert!(self.vm.release(p, size).is_err());
        }
        assert_eq!(self.vm.stats(), before, "bad range {kind} changed state");
    }

    fn check(&self, full: bool) {
        let s = self.vm.stats();
        let count = |f: &dyn Fn(&Page) -> bool| {
            u64b(self.pages.values().filter(|p| f(p)).count() * PAGE_SIZE)
        };
        let committed = count(&|p| matches!(p, Page::Committed(_)));
        let decommitted = count(&|p| matches!(p, Page::Decommitted { .. }));
        let dirty = count(&|p| *p == Page::Free { zero: false });
        assert_eq!(s.committed_bytes, committed, "committed");
        assert_eq!(s.decommitted_bytes, decommitted, "decommitted");
        assert_eq!(s.reserved_bytes, committed + decommitted, "reserved");
        assert_eq!(s.free_dirty_bytes, dirty, "free dirty");
        assert_eq!(
            s.owned_bytes,
            s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes
        );
        assert!(s.owned_bytes >= u64b(self.pages.len() * PAGE_SIZE));
        assert_eq!(s.bytes_zeroed, self.zeroed, "bytes zeroed");
        assert_eq!(s.bytes_zero_skipped, self.skipped, "bytes skipped");
        assert_eq!(s.sentinel_violations, 0);
        let memory = self.vm.memory();
        assert_eq!(s.linear_memory_bytes, u64b(memory.size() * WASM_PAGE_SIZE));
        let foreign: usize = self.foreign.iter().map(|f| f.1).sum();
        assert_eq!(
            s.linear_memory_bytes,
            s.owned_bytes + u64b(foreign),
            "ours + foreign"
        );
        self.vm.check_invariants();

        // Contents: pages this step changed in full, the rest sampled (in
        // full every few steps) to keep the test fast.
        for (&pa, page) in &self.pages {
            let Page::Committed(byte) = *page else {
                continue;
            };
            let p = pa as *const u8;
            // SAFETY: committed pages of ours.
            let ok = unsafe {
                if full || self.touched.contains(&pa) {
                    all(p, PAGE_SIZE, byte)
                } else {
                    *p == byte && *p.add(PAGE_SIZE / 2) == byte && *p.add(PAGE_SIZE - 1) == byte
                }
            };
            assert!(ok, "page {pa:#x} should read {byte:#x}");
        }
        for &(f, flen) in &self.foreign {
            // SAFETY: foreign memory: read only.
            assert!(
                unsafe { all(f as *const u8, flen, FOREIGN_FILL) },
                "foreign touched"
            );
        }
    }
}

fn run<P: Policy>(ops: &[Op]) {
    let mem = SimMemory::new(MAX);
    mem.grow_foreign(1).unwrap(); // the module's own data
    let mut model = Model::<P>::new(&mem);
    model.foreign.push((mem.base(), WASM_PAGE_SIZE));
    for op in ops {
        model.step(op);
    }
    // Release everything: all owned memory is free again.
    for (a, n) in std::mem::take(&mut model.live) {
        // SAFETY: live reservations of ours.
        unsafe { model.vm.release(a as *mut u8, pages(n)).unwrap() };
    }
    let s = model.vm.stats();
    assert_eq!(s.reserved_bytes, 0);
    assert_eq!(s.free_zero_bytes + s.free_dirty_bytes, s.owned_bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn single_threaded_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        run::<SingleThreaded>(&ops);
    }

    #[test]
    fn multithreaded_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        run::<MultiThreaded>(&ops);
    }
}
