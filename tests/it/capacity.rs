//! Capacity warnings before running: `edasim check` reports offered load, capacity,
//! utilisation at the peak, idle instances and backlogs from the model alone, warns
//! without changing the exit code, and gives the same as JSON.

use assert_cmd::Command;
use edasim::capacity::{self, WarningKind};
use edasim::model::Model;

fn model(text: &str) -> Model {
    edasim::scenario::load_str("t.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

/// Runs `edasim check` on `text` with `args`; returns (exit code, stdout).
fn check(text: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("edasim-capacity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // One file per call: tests run in parallel and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = dir.join(format!("{n}.toml"));
    std::fs::write(&path, text).expect("writing the scenario");
    let out = Command::cargo_bin("edasim")
        .expect("binary")
        .env("NO_COLOR", "1")
        .arg("check")
        .arg(&path)
        .args(args)
        .output()
        .expect("running edasim check");
    let _ = std::fs::remove_file(&path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const FLOOD: &str = r#"
[scenario]
name = "flood"
duration = "60s"
[[producer]]
name = "api"
target = "orders"
rate = { per_second = 10000000 }
[[topic]]
name = "orders"
[[consumer]]
name = "billing"
source = "orders"
processing = { dist = "constant", value = "1ms" }
"#;

const IDLE: &str = r#"
[scenario]
name = "idle"
duration = "60s"
[[producer]]
name = "api"
target = "orders"
rate = { per_second = 100 }
[[topic]]
name = "orders"
partitions = 1
[[consumer]]
name = "billing"
source = "orders"
instances = 3
processing = { dist = "exponential", mean = "1ms" }
"#;

const WELL_SIZED: &str = r#"
[scenario]
name = "fine"
duration = "300s"
[[producer]]
name = "checkout"
target = "orders"
rate = { per_second = 200 }
phases = [{ at = "60s", per_second = 1000 }, { at = "120s", per_second = 200 }]
keys = { format = "user-{}", count = 10000 }
[[topic]]
name = "orders"
partitions = 12
[[consumer]]
name = "payment"
source = "orders"
instances = 6
processing = { dist = "lognormal", median = "2ms", p99 = "20ms" }
emits = [{ event = "Paid", target = "payments" }]
[[topic]]
name = "payments"
partitions = 6
[[consumer]]
name = "shipping"
source = "payments"
instances = 3
processing = { dist = "exponential", mean = "1ms" }
"#;

#[test]
fn ten_million_a_second_into_one_instance_at_1ms_is_over_capacity() {
    let m = model(FLOOD);
    let a = capacity::analyse(&m);
    let s = &a.services[0];
    assert!((s.capacity_per_second - 1000.0).abs() < 1e-6, "{s:?}");
    assert!((s.peak_offered() - 1e7).abs() < 1e-3, "{s:?}");
    assert!((s.peak_utilisation - 1e4).abs() < 1e-6, "{s:?}");
    assert_eq!(s.backlogs.len(), 1);
    assert_eq!(s.backlogs[0].drain_s, None, "the load never drops");
    assert!(
        a.warnings
            .iter()
            .any(|w| w.kind == WarningKind::OverCapacity)
    );
    let (code, out) = check(FLOOD, &[]);
    assert_eq!(code, Some(0), "warnings do not change the exit code\n{out}");
    assert!(
        out.contains("warning: `billing` cannot keep up at its peak"),
        "{out}"
    );
    assert!(out.contains("10M msg/s offered"), "{out}");
    assert!(out.contains("utilisation 10k"), "{out}");
    assert!(out.contains("never drains"), "{out}");
}

#[test]
fn three_instances_on_one_partition_leave_two_idle() {
    let a = capacity::analyse(&model(IDLE));
    let s = &a.services[0];
    assert_eq!((s.usable_instances, s.idle_instances), (1, 2), "{s:?}");
    assert!((s.capacity_per_second - 1000.0).abs() < 1e-6, "{s:?}");
    let (code, out) = check(IDLE, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("`billing` has 3 instances and `orders` has 1 partition: 2 instances get no partition and stay idle"),
        "{out}"
    );
    // The inspector's lines for the service and for the topic.
    let m = model(IDLE);
    let lines = capacity::node_lines(&m, &a, "billing");
    assert!(lines.iter().any(|l| l.contains("stay idle")), "{lines:?}");
    let lines = capacity::node_lines(&m, &a, "orders");
    assert!(lines.iter().any(|l| l.contains("stay idle")), "{lines:?}");
    assert!(capacity::node_lines(&m, &a, "api").is_empty());
}

#[test]
fn a_well_sized_scenario_has_no_warnings() {
    let m = model(WELL_SIZED);
    let a = capacity::analyse(&m);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    // The spike reaches the next service through the emitted events.
    let ship = &a.services[1];
    assert!((ship.peak_offered() - 1000.0).abs() < 1e-6, "{ship:?}");
    assert!(
        (ship.peak_utilisation - 1000.0 / 3000.0).abs() < 1e-9,
        "{ship:?}"
    );
    let (code, out) = check(WELL_SIZED, &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("no capacity warnings"), "{out}");
    assert!(out.contains("1000 from 1m"), "phases are shown: {out}");
}

#[test]
fn a_spike_over_capacity_drains_afterwards() {
    // 1000/s for 60 s into 500/s: 30,000 behind; then 200/s: drained in 100 s.
    let text = WELL_SIZED
        .replace("instances = 6\n", "instances = 1\n")
        .replace(
            "processing = { dist = \"lognormal\", median = \"2ms\", p99 = \"20ms\" }",
            "processing = { dist = \"constant\", value = \"2ms\" }",
        );
    let a = capacity::analyse(&model(&text));
    let s = &a.services[0];
    assert_eq!(s.backlogs.len(), 1, "{s:?}");
    let b = s.backlogs[0];
    assert!((b.peak_messages - 30_000.0).abs() < 1e-6, "{b:?}");
    assert_eq!((b.from_ns, b.peak_ns), (60_000_000_000, 120_000_000_000));
    assert!((b.drain_s.unwrap_or(0.0) - 100.0).abs() < 1e-6, "{b:?}");
    // Downstream sees at most what payment passes on.
    assert!((a.services[1].peak_offered() - 500.0).abs() < 1e-6);
}

#[test]
fn an_infinite_mean_and_a_loop_are_warned_of() {
    let text = WELL_SIZED
        .replace(
            "processing = { dist = \"exponential\", mean = \"1ms\" }",
            "processing = { dist = \"pareto\", scale = \"1ms\", shape = 0.9 }",
        )
        .replace("target = \"payments\" }]", "target = \"orders\" }]");
    let m = model(&text);
    let a = capacity::analyse(&m);
    let msgs: Vec<&str> = a.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        msgs.iter().any(
            |w| w.contains("`payment` emits `Paid` into `orders`, its own source")
                && w.contains("unbounded loop")
        ),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|w| w.contains("shape 0.9 (at most 1): its mean is infinite")),
        "{msgs:#?}"
    );
    let (code, out) = check(&text, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("unbounded loop"), "{out}");
}

#[test]
fn check_json_has_topology_capacity_and_warnings() {
    let (code, out) = check(IDLE, &["--format", "json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["scenario"]["name"], "idle");
    assert_eq!(v["topology"]["topics"][0]["partitions"], 1);
    assert_eq!(v["topology"]["services"][0]["instances"], 3);
    assert_eq!(v["topology"]["producers"][0]["target"], "orders");
    let c = &v["capacity"][0];
    assert_eq!(c["service"], "billing");
    assert_eq!(c["usable_instances"], 1);
    assert_eq!(c["idle_instances"], 2);
    assert_eq!(c["capacity_per_second"], 1000.0);
    assert_eq!(c["peak"]["offered_per_second"], 100.0);
    assert_eq!(c["peak"]["utilisation"], 0.1);
    assert_eq!(c["offered"][0]["per_second"], 100.0);
    // A plain M/M/1 queue: Erlang C's prediction is in the data too.
    assert!((c["erlang_c"]["mean_latency_ms"].as_f64().unwrap_or(0.0) - 1.0 / 0.9).abs() < 1e-9);
    assert_eq!(v["warnings"][0]["kind"], "idle_instances");
    assert_eq!(v["warnings"][0]["service"], "billing");
    assert_eq!(v["warnings"][0]["channel"], "orders");
    // Infinite values are null, not invalid JSON.
    let (_, out) = check(FLOOD, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(
        v["capacity"][0]["backlogs"][0]["drain_s"],
        serde_json::Value::Null
    );
    assert_eq!(v["warnings"][0]["kind"], "over_capacity");
}

#[test]
fn every_bundled_scenario_is_analysed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    for name in names {
        let m = crate::bundled(&name);
        let a = capacity::analyse(&m);
        assert_eq!(a.services.len(), m.services.len(), "{name}");
        let text = capacity::text(&m, &a);
        assert!(text.contains("capacity"), "{name}: {text}");
        let _ = capacity::check_json(&m, &a);
    }
    // The bundled M/M/1 and M/M/10 queues are predicted as their comments say.
    let p = capacity::erlang_c_prediction(&crate::bundled("mm1.toml"), 0).expect("M/M/1");
    assert!((p.mean_latency_s - 0.005).abs() < 1e-12);
    let p = capacity::erlang_c_prediction(&crate::bundled("bench-mmc.toml"), 0).expect("M/M/10");
    assert_eq!(p.servers, 10);
    assert!((p.mean_latency_s * 1e3 - 16.68).abs() < 0.01, "{p:?}");
    let p = capacity::erlang_c_prediction(&crate::bundled("bench-sqs.toml"), 0).expect("M/M/10");
    assert_eq!(p.servers, 10);
    assert!(capacity::erlang_c_prediction(&crate::bundled("flash-sale.toml"), 0).is_none());
}

#[test]
fn the_summary_shows_erlang_c_beside_the_simulated_mean() {
    let e = crate::run(crate::bundled("mm1.toml"), edasim::sim::Options::default());
    let theory = edasim::output::summary::theory(&e);
    assert_eq!(theory.len(), 1, "{theory:?}");
    let t = &theory[0];
    assert_eq!(t.servers, 1);
    assert!((t.predicted_mean_ms - 5.0).abs() < 1e-9, "{t:?}");
    assert!(t.relative_error.abs() < 0.03, "{t:?}");
    let text = edasim::output::summary::text(&e);
    assert!(
        text.contains("Erlang C predicts a mean latency of 5.00 ms"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&edasim::output::summary::json(&e)).unwrap_or_default();
    assert_eq!(json["theory"][0]["servers"], 1);
    // Not a plain queue (phases, failures, a crash): no prediction.
    let e = crate::run(
        crate::bundled("order-chain.toml"),
        edasim::sim::Options::default(),
    );
    assert!(edasim::output::summary::theory(&e).is_empty());
    assert!(!edasim::output::summary::json(&e).contains("\"theory\""));
}

/// An orchestrated and a choreographed saga over topics, with declined steps and
/// transient failures, no timeouts.
const SAGAS: &str = r#"
[scenario]
name = "sagas"
seed = 9
duration = "60s"
[[producer]]
name = "web"
target = "orders"
rate = { per_second = 300 }
keys = { format = "o{}", count = 5000 }
event = "OrderPlaced"
[[producer]]
name = "shop"
target = "stock-in"
rate = { per_second = 200 }
keys = { format = "s{}", count = 5000 }
event = "BasketPaid"
[[topic]]
name = "orders"
partitions = 4
[[topic]]
name = "stock-in"
partitions = 4
[[topic]]
name = "pay-in"
partitions = 4
[[topic]]
name = "ship-in"
partitions = 4
[[topic]]
name = "pack-in"
partitions = 4
[[topic]]
name = "post-in"
partitions = 4
[[consumer]]
name = "coord"
source = "orders"
instances = 2
processing = { dist = "exponential", mean = "1ms" }
[[consumer]]
name = "payment"
source = "pay-in"
instances = 2
concurrency = 4
processing = { dist = "exponential", mean = "2ms" }
[[consumer]]
name = "shipping"
source = "ship-in"
instances = 2
processing = { dist = "exponential", mean = "1ms" }
failure_rate = 0.05
retry = { max_attempts = 1 }
[[consumer]]
name = "stock"
source = "stock-in"
instances = 2
processing = { dist = "exponential", mean = "1ms" }
[[consumer]]
name = "packing"
source = "pack-in"
instances = 2
processing = { dist = "exponential", mean = "1ms" }
[[consumer]]
name = "post"
source = "post-in"
instances = 2
processing = { dist = "exponential", mean = "1ms" }
[[saga]]
name = "order"
kind = "orchestrated"
coordinator = "coord"
[[saga.step]]
name = "charge"
service = "payment"
compensation = "Refund"
reject = 0.1
timeout = "30s"
[[saga.step]]
name = "ship"
service = "shipping"
timeout = "30s"
[[saga]]
name = "basket"
kind = "choreographed"
[[saga.step]]
name = "reserve"
service = "stock"
compensation = "Release"
[[saga.step]]
name = "pack"
service = "packing"
compensation = "Unpack"
reject = 0.2
[[saga.step]]
name = "send"
service = "post"
reject = 0.1
"#;

#[test]
fn saga_messages_are_offered_to_every_member_as_the_run_sees_them() {
    let m = model(SAGAS);
    let a = capacity::analyse(&m);
    let total = |g: usize| -> f64 {
        a.services[g]
            .offered
            .iter()
            .zip(&a.segments)
            .map(|(r, (s, e))| r * (e - s) as f64 / 1e9)
            .sum()
    };
    let mut e = edasim::sim::Engine::new(m.clone(), Default::default());
    e.run_to_end();
    let s = e.summary();
    for (g, svc) in m.services.iter().enumerate() {
        let predicted = total(g);
        let ran = s.services[g].counters.delivered as f64;
        // Every member gets saga messages: none is offered nothing.
        assert!(predicted > 1000.0, "{}: {predicted}", svc.name);
        assert!(
            (predicted - ran).abs() / ran < 0.03,
            "{}: predicted {predicted:.0}, the run delivered {ran}",
            svc.name
        );
    }
}

#[test]
fn a_bus_offers_each_target_the_share_its_rules_match() {
    // What each consumer behind the bus is offered, from the rules' patterns on a
    // sample of the events, against what the run delivered before the outage (0 to
    // 2 minutes), within 5%.
    let m = crate::bundled("eventbridge-rules-and-replay.toml");
    let a = capacity::analyse(&m);
    let mut e = edasim::sim::Engine::new(m.clone(), edasim::sim::Options::default());
    e.run_until(120_000_000_000, u64::MAX);
    let s = e.summary();
    for name in ["fraud", "notify", "fulfilment", "returns-desk", "analyst"] {
        let g = m.services.iter().position(|x| x.name == name).unwrap();
        let predicted = a
            .services
            .iter()
            .find(|x| x.service == g)
            .unwrap()
            .peak_offered();
        let c = e
            .conservation()
            .into_iter()
            .find(|c| c.service == name)
            .unwrap();
        let measured = c.produced as f64 / 120.0;
        assert!(
            (predicted - measured).abs() <= 0.05 * measured,
            "{name}: predicted {predicted}/s, ran {measured}/s ({:?})",
            s.buses
        );
    }
}
