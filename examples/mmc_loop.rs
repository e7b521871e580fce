//! The hand-written M/M/10 loop that `cargo bench --bench engine` and
//! `scripts/bench-ratio.py` compare edasim with: a binary heap of (time, seq, event), a
//! VecDeque, the same generator, in the plainest form. As a program it runs once and
//! prints its event count and mean time in system.
//!
//! Run: `cargo run --release --example mmc_loop`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Exp1};

#[allow(dead_code)]
fn main() {
    let (events, mean) = baseline_mmc(11);
    println!("{events} events, mean time in system {:.3} ms", mean / 1e6);
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival,
    Departure,
}

/// The baseline: M/M/10 with lambda = 900/s, mu = 100/s for 1120 s, in the plainest
/// form. Returns the number of events and the mean time in system (so the work cannot
/// be optimised away).
pub fn baseline_mmc(seed: u64) -> (u64, f64) {
    let (lambda, mu, servers, end) = (900.0 / 1e9, 100.0 / 1e9, 10u32, 1_120_000_000_000u64);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut heap: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
    let mut queue: VecDeque<u64> = VecDeque::new();
    let mut seq = 0u64;
    let mut busy = 0u32;
    let mut events = 0u64;
    let (mut sum, mut n) = (0u128, 0u64);
    let mut in_service: VecDeque<u64> = VecDeque::new();
    let gap = |rng: &mut Xoshiro256PlusPlus, rate: f64| {
        let e: f64 = Exp1.sample(rng);
        (e / rate).round() as u64
    };
    heap.push(Reverse((gap(&mut rng, lambda), seq, Ev::Arrival)));
    while let Some(Reverse((t, _, ev))) = heap.pop() {
        if t >= end {
            break;
        }
        events += 1;
        match ev {
            Ev::Arrival => {
                seq += 1;
                heap.push(Reverse((
                    t + gap(&mut rng, lambda).max(1),
                    seq,
                    Ev::Arrival,
                )));
                if busy < servers {
                    busy += 1;
                    in_service.push_back(t);
                    seq += 1;
                    heap.push(Reverse((t + gap(&mut rng, mu), seq, Ev::Departure)));
                } else {
                    queue.push_back(t);
                }
            }
            Ev::Departure => {
                // FIFO bookkeeping of arrival times is approximate for the mean but
                // costs what a real simulator's bookkeeping costs.
                if let Some(a) = in_service.pop_front() {
                    sum += u128::from(t - a);
                    n += 1;
                }
                match queue.pop_front() {
                    Some(a) => {
                        in_service.push_back(a);
                        seq += 1;
                        heap.push(Reverse((t + gap(&mut rng, mu), seq, Ev::Departure)));
                    }
                    None => busy -= 1,
                }
            }
        }
    }
    (events, if n == 0 { 0.0 } else { sum as f64 / n as f64 })
}
