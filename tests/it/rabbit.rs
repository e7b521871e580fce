//! RabbitMQ-like exchanges in a run: a producer's routing keys and headers decide which
//! queues get a copy, one per queue however many bindings match, through
//! exchange-to-exchange bindings and alternate exchanges; what reaches no queue is
//! counted and traced `unroutable`; a service's event is routed by its name. The routing
//! rules themselves are tested against rabbitmq-server's own tables in
//! `src/broker/rabbit/routing.rs`.

use edasim::sim::trace::{TraceKind, TraceRec};
use edasim::sim::{Engine, Summary};

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("inline.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

fn sent(s: &Summary, queue: &str) -> u64 {
    s.queues
        .iter()
        .find(|q| q.name == queue)
        .unwrap_or_else(|| panic!("no queue {queue}"))
        .sent
}

fn exchange<'a>(s: &'a Summary, name: &str) -> &'a edasim::sim::ExchangeSummary {
    s.exchanges
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no exchange {name}"))
}

fn comp(e: &Engine, name: &str) -> u32 {
    e.component_names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no component {name}")) as u32
}

/// `n` messages, one per second from t = 1 s, from producer `p` (with `producer`
/// lines) to exchange `x`, and a consumer per queue listed.
fn scenario(n: u32, producer: &str, exchanges: &str, queues: &[&str]) -> String {
    let mut text = format!(
        r##"
[scenario]
name = "t"
seed = 3
duration = "{}s"

[[producer]]
name = "p"
target = "x"
rate = {{ dist = "constant", per_second = 1 }}
phases = [{{ at = "{n}s", per_second = 0 }}]
{producer}

{exchanges}
"##,
        n + 5
    );
    for q in queues {
        text.push_str(&format!(
            r##"
[[queue]]
name = "{q}"

[[consumer]]
name = "{q}-reader"
source = "{q}"
wait_time = "20s"
processing = {{ dist = "constant", value = "1ms" }}
"##
        ));
    }
    text
}

#[test]
fn a_topic_exchange_sends_each_queue_one_copy_of_what_its_bindings_match() {
    // Six keys in turn, 60 messages: each key 10 times.
    let text = scenario(
        60,
        r##"routing_key = { cycle = ["a.b.c", "a.b", "", "b.c.c", "a..b", "x"] }"##,
        r##"
[[exchange]]
name = "x"
kind = "topic"

[[exchange.binding]]
queue = "star"
key = "a.*.c"

[[exchange.binding]]
queue = "hash"
key = "a.#"

[[exchange.binding]]
queue = "hash"
key = "#.c"

[[exchange.binding]]
queue = "empty"
key = ""

[[exchange.binding]]
queue = "middle"
key = "a.*.b"
"##,
        &["star", "hash", "empty", "middle"],
    );
    let (e, trace) = crate::run_traced(load(&text));
    let s = e.summary();
    // "a.b.c": star, hash (twice bound, one copy); "a.b": hash; "": empty;
    // "b.c.c": hash (#.c); "a..b": hash, middle (the empty word is a word); "x": none.
    assert_eq!(sent(&s, "star"), 10);
    assert_eq!(sent(&s, "hash"), 40);
    assert_eq!(sent(&s, "empty"), 10);
    assert_eq!(sent(&s, "middle"), 10);
    let x = exchange(&s, "x");
    assert_eq!(x.published, 60);
    assert_eq!(x.counters.routed, 70);
    assert_eq!(x.counters.unroutable, 10);
    let xc = comp(&e, "x");
    let routes = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Route && r.component == xc)
        .count();
    let unroutable: Vec<&TraceRec> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Unroutable)
        .collect();
    assert_eq!(routes, 70, "one route record per copy");
    assert_eq!(unroutable.len(), 10);
    assert!(unroutable.iter().all(|r| r.component == xc));
}

#[test]
fn an_alternate_exchange_takes_only_what_its_exchange_routed_nowhere() {
    // "k.apac" matches only the binding to exchange `audit`, which counts as routed:
    // the alternate exchange is not used for it (rabbit_exchange:route/3). "typo"
    // matches nothing and goes to the alternate.
    let text = scenario(
        30,
        r##"routing_key = { cycle = ["k.eu", "k.apac", "typo"] }"##,
        r##"
[[exchange]]
name = "x"
kind = "topic"
alternate_exchange = "ae"

[[exchange.binding]]
queue = "eu"
key = "k.eu"

[[exchange.binding]]
exchange = "audit"
key = "k.#"

[[exchange]]
name = "audit"
kind = "fanout"

[[exchange.binding]]
queue = "log"

[[exchange]]
name = "ae"
kind = "fanout"

[[exchange.binding]]
queue = "unrouted"
"##,
        &["eu", "log", "unrouted"],
    );
    let (e, _) = crate::run_traced(load(&text));
    let s = e.summary();
    assert_eq!(sent(&s, "eu"), 10);
    assert_eq!(
        sent(&s, "log"),
        20,
        "k.eu and k.apac reach the audit fanout"
    );
    assert_eq!(sent(&s, "unrouted"), 10, "only the typo");
    let x = exchange(&s, "x");
    assert_eq!(x.counters.unroutable, 0);
    assert_eq!(x.counters.via_alternate, 10);
    assert_eq!(x.counters.routed, 40);
    // What reached the downstream exchanges: k.eu and k.apac through the binding, the
    // typo as the alternate.
    assert_eq!(exchange(&s, "audit").counters.received, 20);
    assert_eq!(exchange(&s, "ae").counters.received, 10);
    assert_eq!(exchange(&s, "audit").published, 0);
}

#[test]
fn a_headers_exchange_matches_all_or_any_of_the_arguments() {
    // format cycles pdf, zip; region cycles eu, us, apac: message n has
    // (format, region) = (n mod 2, n mod 3), so 60 messages give each pair 10 times.
    let text = scenario(
        60,
        r##"headers = { format = { cycle = ["pdf", "zip"] }, region = { cycle = ["eu", "us", "apac"] }, size = 7 }"##,
        r##"
[[exchange]]
name = "x"
kind = "headers"

[[exchange.binding]]
queue = "all-pdf-eu"
arguments = { "x-match" = "all", format = "pdf", region = "eu" }

[[exchange.binding]]
queue = "any-pdf-eu"
arguments = { "x-match" = "any", format = "pdf", region = "eu" }

[[exchange.binding]]
queue = "sized"
arguments = { size = 7, "x-ignored" = "by all" }

[[exchange.binding]]
queue = "string-seven"
arguments = { size = "7" }

[[exchange.binding]]
queue = "has-region"
arguments = { region = { present = true } }
"##,
        &[
            "all-pdf-eu",
            "any-pdf-eu",
            "sized",
            "string-seven",
            "has-region",
        ],
    );
    let (e, _) = crate::run_traced(load(&text));
    let s = e.summary();
    assert_eq!(sent(&s, "all-pdf-eu"), 10);
    // pdf (30) or eu (20), both (10): 40.
    assert_eq!(sent(&s, "any-pdf-eu"), 40);
    assert_eq!(
        sent(&s, "sized"),
        60,
        "x- arguments are ignored under x-match all"
    );
    assert_eq!(
        sent(&s, "string-seven"),
        0,
        "the integer 7 is not the string \"7\""
    );
    assert_eq!(sent(&s, "has-region"), 60);
}

#[test]
fn a_routing_key_format_routes_by_the_message_key_and_a_choice_follows_its_weights() {
    let text = scenario(
        40,
        r##"keys = { format = "user-{}", count = 4, dist = "sequential" }
routing_key = { format = "orders.{}" }"##,
        r##"
[[exchange]]
name = "x"
kind = "direct"

[[exchange.binding]]
queue = "one"
key = "orders.user-1"

[[exchange.binding]]
queue = "two"
key = "orders.user-2"
"##,
        &["one", "two"],
    );
    let (e, _) = crate::run_traced(load(&text));
    let s = e.summary();
    assert_eq!(sent(&s, "one"), 10);
    assert_eq!(sent(&s, "two"), 10);
    assert_eq!(exchange(&s, "x").counters.unroutable, 20);

    let text = scenario(
        4000,
        r##"routing_key = { choose = ["hot", "cold"], weights = [3, 1] }"##,
        r##"
[[exchange]]
name = "x"
kind = "direct"

[[exchange.binding]]
queue = "hot"
key = "hot"
"##,
        &["hot"],
    );
    let (e, _) = crate::run_traced(load(&text));
    let hot = sent(&e.summary(), "hot") as f64 / 4000.0;
    assert!((hot - 0.75).abs() < 0.03, "share of hot {hot}");
}

#[test]
fn a_service_event_is_routed_by_its_name_and_conservation_holds_downstream() {
    let text = scenario(
        20,
        r##"routing_key = "order.placed""##,
        r##"
[[exchange]]
name = "x"
kind = "direct"

[[exchange.binding]]
queue = "orders"
key = "order.placed"

[[exchange.binding]]
queue = "shipped"
key = "OrderShipped"
"##,
        &["shipped"],
    );
    let text = text.replace(
        "[[queue]]\nname = \"shipped\"",
        r##"[[queue]]
name = "orders"

[[consumer]]
name = "shipping"
source = "orders"
wait_time = "20s"
processing = { dist = "constant", value = "1ms" }
emits = [{ event = "OrderShipped", target = "x" }]

[[queue]]
name = "shipped""##,
    );
    let (e, _) = crate::run_traced(load(&text));
    let s = e.summary();
    assert_eq!(sent(&s, "orders"), 20);
    assert_eq!(
        sent(&s, "shipped"),
        20,
        "the emitted event's name is its routing key"
    );
    let x = exchange(&s, "x");
    assert_eq!(x.published, 40);
    assert_eq!(x.counters.unroutable, 0);
}

#[test]
fn check_estimates_each_queue_share_of_a_topic_exchange() {
    let m = crate::bundled("rabbit-topic-routing.toml");
    let a = edasim::capacity::analyse(&m);
    let offered = |name: &str| {
        let g = m
            .services
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(usize::MAX);
        a.services[g].offered.iter().copied().fold(0.0, f64::max)
    };
    // 200/s: eu 40% + eu cancelled 10%, us 30% + 5%, cancellations 15%, everything
    // but the typo (95%) to the audit log, the typo (5%) to the alternate.
    for (name, want) in [
        ("eu-warehouse", 100.0),
        ("us-warehouse", 70.0),
        ("refunds", 30.0),
        ("auditor", 190.0),
        ("support", 10.0),
    ] {
        let got = offered(name);
        assert!(
            (got - want).abs() <= 0.08 * want,
            "{name}: offered {got}, expected about {want}"
        );
    }
}
