//! Queueing theory: edasim's M/M/1 and M/M/c runs against the exact formulas, and
//! Little's law on the same runs.

use crate::{bundled, run};
use edasim::sim::Options;

/// Erlang C: probability that an arrival waits in an M/M/c queue with offered load
/// `a = lambda / mu` (in Erlangs).
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / k as f64;
        }
        sum += term;
    }
    let top = term * a / c as f64 * (c as f64 / (c as f64 - a)); // a^c/c! * c/(c-a)
    top / (sum + top)
}

/// Mean time in system of M/M/c, seconds.
fn mmc_sojourn(c: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(c, lambda / mu) / (c as f64 * mu - lambda) + 1.0 / mu
}

#[test]
fn erlang_c_matches_published_values() {
    // M/M/1: P(wait) = rho.
    assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
    // M/M/2 with a = 1: P(wait) = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // M/M/10 at rho = 0.9 (a = 9): 0.6687 (standard tables).
    assert!(
        (erlang_c(10, 9.0) - 0.6687).abs() < 5e-4,
        "{}",
        erlang_c(10, 9.0)
    );
}

fn check(name: &str, c: u32, lambda: f64, mu: f64) {
    let e = run(bundled(name), Options::default());
    let s = e.summary();
    let g = &s.services[0];
    assert!(
        g.counters.processed >= 1_000_000,
        "{name}: only {} messages",
        g.counters.processed
    );
    let exact_ms = mmc_sojourn(c, lambda, mu) * 1e3;
    let err = (g.latency_mean_ms - exact_ms).abs() / exact_ms;
    println!(
        "{name}: mean latency {:.4} ms, Erlang C {:.4} ms, error {:.2}%",
        g.latency_mean_ms,
        exact_ms,
        err * 100.0
    );
    assert!(
        err < 0.03,
        "{name}: mean latency {} ms vs exact {} ms ({:.2}% off)",
        g.latency_mean_ms,
        exact_ms,
        err * 100.0
    );

    // Little's law on the same run: L = lambda W, with lambda measured.
    let lambda_hat = g.counters.produced as f64 / s.time_s;
    let l = g.in_system_mean;
    let lw = lambda_hat * g.latency_mean_ms / 1e3;
    let lerr = (l - lw).abs() / lw;
    println!(
        "{name}: L = {l:.4}, lambda W = {lw:.4}, error {:.2}%",
        lerr * 100.0
    );
    assert!(
        lerr < 0.02,
        "{name}: Little's law L = {l} vs lambda W = {lw}"
    );
    // And against theory: L = lambda W_exact.
    let l_exact = lambda * mmc_sojourn(c, lambda, mu);
    assert!(
        (l - l_exact).abs() / l_exact < 0.05,
        "{name}: L = {l}, theory {l_exact}"
    );
}

#[test]
fn mm1_at_rho_0_8_matches_the_formula() {
    check("mm1.toml", 1, 800.0, 1000.0);
}

#[test]
fn mm10_at_rho_0_9_matches_erlang_c() {
    check("bench-mmc.toml", 10, 900.0, 100.0);
}

#[test]
fn a_standard_queue_with_ten_consumers_matches_erlang_c() {
    check("bench-sqs.toml", 10, 900.0, 100.0);
}

#[test]
fn competing_consumers_of_a_queue_are_the_same_m_m_10_as_one_partition() {
    // Renamed so that both draw the same random streams: the arrivals are the same,
    // and the processing times are drawn in the same order (the order processings
    // start), so the queue and the partition serve every message alike.
    let mut sqs = bundled("bench-sqs.toml");
    sqs.services[0].name = "servers".to_string();
    sqs.duration = edasim::time::SimDuration::from_secs(200);
    let mut kafka = bundled("bench-mmc.toml");
    kafka.duration = sqs.duration;
    let a = run(sqs, Options::default()).summary();
    let b = run(kafka, Options::default()).summary();
    let (a, b) = (&a.services[0], &b.services[0]);
    assert_eq!(a.counters.processed, b.counters.processed);
    assert_eq!(a.latency_mean_ms, b.latency_mean_ms);
    assert_eq!(a.latency_p99_ms, b.latency_p99_ms);
}

#[test]
fn poisson_arrivals_have_the_configured_rate() {
    let e = run(bundled("mm1.toml"), Options::default());
    let s = e.summary();
    let rate = s.producers[0].produced as f64 / s.time_s;
    assert!((rate - 800.0).abs() / 800.0 < 0.005, "rate {rate}");
}

#[test]
fn mm1_sojourn_percentiles_follow_the_exponential_law() {
    // In M/M/1 (FIFO) the time in system is exponential with rate mu - lambda, so its
    // q-quantile is -ln(1 - q) / (mu - lambda).
    let e = run(bundled("mm1.toml"), Options::default());
    let g = &e.summary().services[0];
    for (q, got) in [
        (0.50, g.latency_p50_ms),
        (0.95, g.latency_p95_ms),
        (0.99, g.latency_p99_ms),
    ] {
        let exact = -(1.0f64 - q).ln() / 200.0 * 1e3;
        let err = (got - exact).abs() / exact;
        println!(
            "mm1 p{}: {got:.3} ms, exact {exact:.3} ms, error {:.2}%",
            (q * 100.0) as u32,
            err * 100.0
        );
        assert!(err < 0.03, "p{q}: {got} ms vs {exact} ms");
    }
}
