//! edasim simulates event-driven systems (producers, Kafka-like topics and
//! partitions, consumer groups, retries, dead-letter topics) from a TOML scenario,
//! deterministically, with numbers faithful to how Kafka behaves and to queueing theory.
//!
//! ```text
//!  producer ──key──▶ murmur2(key) % N ──▶ topic partition 0..N-1 (append-only logs)
//!                                               │ each partition owned by one instance
//!                                               ▼ of every consumer group (assignor)
//!                             service: instance#1..#k × concurrency slots
//!                                 │ process (sampled time)
//!                    ┌────────────┼───────────────┐
//!                    ▼            ▼               ▼
//!               ack + commit   fail → retry    last attempt → DLQ topic
//!               emit follow-up  with backoff
//! ```
//!
//! The pipeline is TOML → [`scenario`] (validation, every problem with file, line and
//! column) → [`model::Model`] → [`sim::Engine`] (a sans-IO discrete-event kernel) →
//! [`metrics`] and [`output`] (CSV, trace, summary) → the [`cli`] shell.
//!
//! A ten-line scenario, run to the end:
//!
//! ```
//! let text = r#"
//! [scenario]
//! name = "tiny"
//! duration = "10s"
//! [[producer]]
//! name = "api"
//! target = "orders"
//! rate = { per_second = 100 }
//! [[topic]]
//! name = "orders"
//! [[consumer]]
//! name = "billing"
//! source = "orders"
//! processing = { dist = "exponential", mean = "2ms" }
//! "#;
//! let model = edasim::scenario::load_str("tiny.toml", text).expect("valid scenario");
//! let mut engine = edasim::sim::Engine::new(model, edasim::sim::Options::default());
//! engine.run_to_end();
//! let summary = engine.summary();
//! assert!(summary.services[0].counters.processed > 900);
//! assert!(summary.conservation.iter().all(|c| c.holds()));
//! ```

pub mod broker;
pub mod capacity;
pub mod cli;
pub mod metrics;
pub mod model;
pub mod output;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod time;
pub mod tui;

/// Kafka's algorithms (partitioner, assignors) at their former path.
pub use broker::kafka;
