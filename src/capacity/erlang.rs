//! Erlang C: the exact mean wait and time in system of an M/M/c queue, for a service
//! that is one (Poisson arrivals at a constant rate from one producer, exponential
//! processing, one shared queue in front of c servers, no failures), so that the
//! summary can show the theory beside the simulated result.

use crate::model::{Channel, Model, Ordering, ProcessingModel, RateDist, ServiceIdx};

/// What queueing theory predicts for an M/M/c queue in steady state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmcPrediction {
    /// Servers: the messages processed at once.
    pub servers: u32,
    /// Arrival rate λ, messages per second.
    pub arrival_per_second: f64,
    /// Service rate μ of one server, messages per second (1 / mean processing time).
    pub service_per_second: f64,
    /// ρ = λ / (c μ), below 1.
    pub utilisation: f64,
    /// Probability that an arrival waits (Erlang's C formula).
    pub wait_probability: f64,
    /// Mean wait before processing starts, Wq, seconds.
    pub mean_wait_s: f64,
    /// Mean time in system (latency, sojourn), W = Wq + 1/μ, seconds.
    pub mean_latency_s: f64,
    /// Mean number in system, L = λ W (Little's law).
    pub mean_in_system: f64,
}

/// Erlang's C formula: the probability that an arrival waits in an M/M/c queue with
/// offered load `a = λ / μ` Erlangs, for `a < c`; 1 when `a >= c`. Computed through
/// Erlang B's recurrence, which neither overflows nor loses precision for large `c`.
pub fn erlang_c(servers: u32, a: f64) -> f64 {
    let c = f64::from(servers.max(1));
    if !(a.is_finite() && a > 0.0) {
        return 0.0;
    }
    if a >= c {
        return 1.0;
    }
    let mut b = 1.0f64;
    for k in 1..=servers.max(1) {
        b = a * b / (f64::from(k) + a * b);
    }
    c * b / (c - a * (1.0 - b))
}

/// The M/M/c prediction for `servers` servers, arrivals at `lambda` and a service rate
/// of `mu` per server (per second); None unless all are positive and ρ < 1 (without
/// which the queue has no steady state).
pub fn mmc(servers: u32, lambda: f64, mu: f64) -> Option<MmcPrediction> {
    if servers == 0 || !(lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0) {
        return None;
    }
    let c = f64::from(servers);
    let rho = lambda / (c * mu);
    if rho >= 1.0 {
        return None;
    }
    let p_wait = erlang_c(servers, lambda / mu);
    let wq = p_wait / (c * mu - lambda);
    let w = wq + 1.0 / mu;
    Some(MmcPrediction {
        servers,
        arrival_per_second: lambda,
        service_per_second: mu,
        utilisation: rho,
        wait_probability: p_wait,
        mean_wait_s: wq,
        mean_latency_s: w,
        mean_in_system: lambda * w,
    })
}

/// The Erlang C prediction for `service` of `model`, when it is a plain M/M/c queue:
/// one producer with Poisson arrivals at a constant rate (no phases, no resends) writes
/// to the service's source and nothing else does; processing is exponential; no
/// failures, poison messages or faults; and the source is one shared queue: a topic
/// with one partition (c = concurrency with `ordering = "unordered"`, or unkeyed
/// records with `ordering = "key"`; 1 otherwise), or a standard queue read by
/// long-polling receives of one message (c = instances × concurrency) whose visibility
/// timeout no processing outlasts. None otherwise, or when ρ ≥ 1.
pub fn erlang_c_prediction(model: &Model, service: ServiceIdx) -> Option<MmcPrediction> {
    let s = model.services.get(service)?;
    if s.function.is_some()
        || s.failure_rate > 0.0
        || s.poison_rate > 0.0
        || model.faults.iter().any(|f| match f.target {
            // A fault elsewhere (a broker, a link, a producer) may still reach it.
            crate::model::FaultTarget::Service { service: s, .. } => s == service,
            _ => true,
        })
    {
        return None;
    }
    let ProcessingModel::Exponential(mean_ns) = s.processing else {
        return None;
    };
    let mut writers = model.producers.iter().filter(|p| p.target == s.source);
    let p = writers.next()?;
    if writers.next().is_some()
        || p.dist != RateDist::Poisson
        || !p.phases.is_empty()
        || p.ack_loss_rate > 0.0
        || p.duplicate_rate > 0.0
    {
        return None;
    }
    // Nothing else writes to the source: no emits, dead letters or fan-out into it.
    let fed = model
        .services
        .iter()
        .any(|o| o.emits.iter().any(|(_, t)| *t == s.source) || o.dead_letter == Some(s.source));
    if fed || model.pubsubs.iter().any(|ps| {
        ps.subscriptions
            .iter()
            .any(|sub| matches!(sub.target, crate::model::SubTarget::Queue(q) if Channel::Queue(q) == s.source))
    }) {
        return None;
    }
    let mean_s = mean_ns / 1e9;
    let servers = match s.source {
        Channel::Topic(t) => {
            if model.topics.get(t)?.partitions != 1 {
                return None;
            }
            match (s.ordering, p.keys) {
                (Ordering::Unordered, _) | (Ordering::Key, None) => s.concurrency,
                (Ordering::Partition, _) => 1,
                (Ordering::Key, Some(_)) => return None,
            }
        }
        Channel::Queue(q) => {
            let q = model.queues.get(q)?;
            let long_visibility = q.visibility_timeout as f64 >= 50.0 * mean_ns;
            if q.fifo || s.receive.batch_size != 1 || s.receive.wait_time == 0 || !long_visibility {
                return None;
            }
            s.instances.checked_mul(s.concurrency)?
        }
        Channel::Pubsub(_) | Channel::Exchange(_) | Channel::Bus(_) => return None,
    };
    mmc(servers, p.base_rate, 1.0 / mean_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    #[test]
    fn mm1_at_rho_0_8_waits_4_and_stays_5() {
        let p = mmc(1, 0.8, 1.0).expect("stable");
        assert!(close(p.utilisation, 0.8, 1e-12));
        assert!(close(p.wait_probability, 0.8, 1e-12));
        assert!(close(p.mean_wait_s, 4.0, 1e-12), "{p:?}");
        assert!(close(p.mean_latency_s, 5.0, 1e-12), "{p:?}");
        assert!(close(p.mean_in_system, 4.0, 1e-12), "{p:?}");
    }

    #[test]
    fn mm2_and_mm10_match_published_values() {
        // M/M/2 with a = 1 Erlang: C = 1/3; Wq = C / (2μ − λ) = 1/3 with μ = 1.
        let p = mmc(2, 1.0, 1.0).expect("stable");
        assert!(close(p.wait_probability, 1.0 / 3.0, 1e-12), "{p:?}");
        assert!(close(p.mean_wait_s, 1.0 / 3.0, 1e-12), "{p:?}");
        // M/M/10 at ρ = 0.9 (λ = 900/s, μ = 100/s): C = 0.6687, W = 16.69 ms.
        let p = mmc(10, 900.0, 100.0).expect("stable");
        assert!(close(p.wait_probability, 0.6687, 1e-3), "{p:?}");
        assert!(close(p.mean_latency_s, 0.016_687, 1e-3), "{p:?}");
    }

    #[test]
    fn an_unstable_queue_has_no_prediction() {
        assert_eq!(mmc(1, 1.0, 1.0), None);
        assert_eq!(mmc(3, 10.0, 2.0), None);
        assert_eq!(mmc(0, 1.0, 2.0), None);
        assert_eq!(erlang_c(2, 5.0), 1.0);
    }

    #[test]
    fn many_servers_do_not_overflow() {
        // 5000 servers at ρ = 0.99: finite, between 0 and 1.
        let c = erlang_c(5_000, 4_950.0);
        assert!(c.is_finite() && c > 0.0 && c < 1.0, "{c}");
    }

    fn model(text: &str) -> Model {
        match crate::scenario::load_str("t.toml", text) {
            Ok(m) => m,
            Err(e) => panic!("{}", e.to_plain()),
        }
    }

    const MM1: &str = r#"
[scenario]
name = "mm1"
duration = "60s"
[[producer]]
name = "arrivals"
target = "queue"
rate = { per_second = 800 }
[[topic]]
name = "queue"
[[consumer]]
name = "server"
source = "queue"
processing = { dist = "exponential", mean = "1ms" }
"#;

    #[test]
    fn the_bundled_mm1_shape_is_predicted() {
        let p = erlang_c_prediction(&model(MM1), 0).expect("an M/M/1 queue");
        assert_eq!(p.servers, 1);
        assert!(close(p.mean_latency_s, 0.005, 1e-9), "{p:?}");
        assert!(close(p.mean_wait_s, 0.004, 1e-9), "{p:?}");
    }

    #[test]
    fn not_a_plain_queue_has_no_prediction() {
        for (from, to) in [
            (
                "rate = { per_second = 800 }",
                "rate = { dist = \"constant\", per_second = 800 }",
            ),
            ("mean = \"1ms\" }", "mean = \"1ms\" }\nfailure_rate = 0.1"),
            (
                "[[topic]]\nname = \"queue\"",
                "[[topic]]\nname = \"queue\"\npartitions = 2",
            ),
            (
                "processing = { dist = \"exponential\", mean = \"1ms\" }",
                "processing = { dist = \"constant\", value = \"1ms\" }",
            ),
            (
                "rate = { per_second = 800 }",
                "rate = { per_second = 800 }\nphases = [{ at = \"10s\", per_second = 900 }]",
            ),
        ] {
            let text = MM1.replacen(from, to, 1);
            assert!(text != MM1, "{to}");
            assert_eq!(erlang_c_prediction(&model(&text), 0), None, "{to}");
        }
    }
}
