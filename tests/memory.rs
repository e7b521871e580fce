//! Memory is bounded by what is in flight and in queues, not by simulated duration:
//! the peak heap of a run 10 times longer stays within 1.2 times that of the shorter
//! one. Measured with a counting allocator, so the result is exact and repeatable
//! (this is its own test binary, so no other test allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn peak_of(name: &str, until_s: u64) -> usize {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario");
    let mut model = edasim::scenario::load_str(&path, &text).expect("valid");
    model.duration = edasim::time::SimDuration::from_secs(until_s);
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut e = edasim::sim::Engine::new(model, edasim::sim::Options::default());
    e.run_to_end();
    assert!(e.conservation().iter().all(|c| c.holds()));
    let peak = PEAK.load(Ordering::Relaxed) - base;
    drop(e);
    peak
}

#[test]
fn a_ten_times_longer_run_needs_about_the_same_memory() {
    for (name, short) in [
        ("bench-mmc.toml", 200),
        ("commit-auto.toml", 90),
        ("flash-sale.toml", 300),
    ] {
        let a = peak_of(name, short);
        let b = peak_of(name, short * 10);
        let ratio = b as f64 / a as f64;
        println!(
            "{name}: peak heap {a} bytes for {short} s, {b} bytes for {} s: ratio {ratio:.3}",
            short * 10
        );
        assert!(
            ratio <= 1.2,
            "{name}: peak heap grew {ratio:.2}x ({a} -> {b} bytes)"
        );
    }
}
