//! Invalid scenarios: every file in `tests/invalid/` has one kind of mistake (some have
//! several); each must be refused with a clear, located diagnostic, snapshotted in
//! `tests/it/snapshots/<file stem>.snap`, and `edasim check` must exit with code 2.

use std::path::Path;

use assert_cmd::Command;
use edasim::scenario::ScenarioError;

/// The invalid scenarios, sorted, as (stem, relative path, text).
fn cases() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 18, "expected at least 18 invalid scenarios");
    files
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (stem, format!("tests/invalid/{name}"), text)
        })
        .collect()
}

/// Loads `text`, which must be refused.
fn refuse(path: &str, text: &str) -> ScenarioError {
    match edasim::scenario::load_str(path, text) {
        Ok(_) => panic!("{path} was accepted but is invalid"),
        Err(e) => e,
    }
}

#[test]
fn every_invalid_scenario_is_refused_with_a_located_diagnostic() {
    for (stem, path, text) in cases() {
        assert!(
            text.starts_with("# what is wrong:"),
            "{path} must start with a `# what is wrong:` comment"
        );
        let err = refuse(&path, &text);
        assert!(
            !err.problems.is_empty(),
            "{path}: refused without a problem"
        );
        for p in &err.problems {
            assert!(
                p.line >= 1 && p.column >= 1,
                "{path}: problem without a place: {}",
                p.problem.message
            );
        }
        insta::with_settings!(
            {
                snapshot_path => "snapshots",
                prepend_module_to_snapshot => false,
                description => text.lines().next().unwrap_or_default(),
            },
            {
                insta::assert_snapshot!(stem.as_str(), err.render(100, false));
            }
        );
    }
}

#[test]
fn check_exits_2_and_names_file_line_and_column() {
    for (_, path, text) in cases() {
        let err = refuse(&path, &text);
        let out = Command::cargo_bin("edasim")
            .expect("binary")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .args(["check", &path])
            .output()
            .expect("running edasim check");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: exit code\n{stderr}");
        assert!(
            out.stdout.is_empty(),
            "{path}: stdout must be empty, got\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "{path}: panic\n{stderr}");
        for p in &err.problems {
            let place = format!("[{path}:{}:{}]", p.line, p.column);
            assert!(
                stderr.contains(&place),
                "{path}: stderr lacks {place} for `{}`\n{stderr}",
                p.problem.message
            );
        }
    }
}

#[test]
fn all_mistakes_of_a_file_are_reported_at_once() {
    let path = "tests/invalid/21-several-mistakes.toml";
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("reading the scenario");
    let err = refuse(path, &text);
    let messages: Vec<&str> = err
        .problems
        .iter()
        .map(|p| p.problem.message.as_str())
        .collect();
    let expected = [
        "unknown key `metrics_intervall`",
        "target `order` is not a topic",
        "a week",
        "failure_rate",
        "unknown value `sometimes`",
        "unknown value `linear`",
        "payment#7",
    ];
    for want in expected {
        assert!(
            messages.iter().any(|m| m.contains(want)),
            "no problem mentions {want:?}; got {messages:#?}"
        );
    }
    assert_eq!(
        err.problems.len(),
        expected.len(),
        "one problem per mistake; got {messages:#?}"
    );
    // In file order, each on its own line.
    let lines: Vec<usize> = err.problems.iter().map(|p| p.line).collect();
    assert!(lines.is_sorted(), "problems not in file order: {lines:?}");
    assert!(
        lines.windows(2).all(|w| w[0] != w[1]),
        "two problems on one line: {lines:?}"
    );
    // The summary counts them.
    assert!(
        err.render(100, false).ends_with(&format!(
            "{path}: {} problems in the scenario\n",
            expected.len()
        )),
        "summary line"
    );
}

#[test]
fn parse_failures_do_not_hide_range_checks() {
    let path = "tests/invalid/27-every-problem-at-once.toml";
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("reading the scenario");
    let err = refuse(path, &text);
    let plain = err.to_plain();
    let expected = [
        // Elements that failed to parse...
        ":4:12: expected a duration",
        ":11:18: expected a duration",
        ":15:14: expected a whole number from 1 to 4294967295, found -1",
        ":17:1: missing required key `processing`",
        // ...and the range checks of those same elements.
        ":5:20: metrics_interval must be longer than 0",
        ":10:23: rate per_second must be above 0 and at most 10000000, found 1e300",
        ":20:16: failure_rate is a probability between 0 and 1, found 2",
        ":22:19: commit_interval must be a whole number of milliseconds from 1ms",
        ":23:26: max_attempts must be between 1 and 1000, found 0",
    ];
    for want in expected {
        assert!(plain.contains(want), "no {want:?} in\n{plain}");
    }
    assert_eq!(err.problems.len(), expected.len(), "{plain}");
}

/// The problems of `text`, one per line.
fn problems(text: &str) -> String {
    match edasim::scenario::load_str("t.toml", text) {
        Ok(_) => String::new(),
        Err(e) => e.to_plain(),
    }
}

const BASE: &str = r#"
[scenario]
name = "words"
duration = "10s"
[[producer]]
name = "api"
target = "orders"
rate = { per_second = 100 }
[[topic]]
name = "orders"
[[consumer]]
name = "billing"
source = "orders"
processing = { dist = "exponential", mean = "2ms" }
"#;

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn messages_use_the_users_words_not_rusts() {
    let cases = [
        (
            "[[topic]]\nname = \"orders\"",
            "[[topic]]\nname = \"orders\"\npartitions = -1",
            "expected a whole number from 1 to 4294967295, found -1",
        ),
        (
            "[[topic]]\nname = \"orders\"",
            "[[topic]]\nname = \"orders\"\npartitions = 99999999999999999999999",
            "expected a whole number from 1 to 4294967295, found 1e23",
        ),
        (
            "[[topic]]\nname = \"orders\"",
            "[[topic]]\nname = \"orders\"\npartitions = \"12\"",
            "expected a whole number from 1 to 4294967295",
        ),
        (
            "name = \"words\"",
            "name = \"words\"\nseed = -5",
            "expected a whole number from 0 to 18446744073709551615, found -5",
        ),
        (
            "mean = \"2ms\" }",
            "mean = \"2ms\" }\nretry = { max_attempts = -1 }",
            "expected a whole number from 1 to 4294967295, found -1",
        ),
        (
            "processing = { dist = \"exponential\", mean = \"2ms\" }",
            "processing = 5",
            "expected a table such as { dist = \"exponential\", mean = \"2ms\" }",
        ),
        (
            "rate = { per_second = 100 }",
            "rate = { per_second = 1e300 }",
            "found 1e300",
        ),
        (
            "mean = \"2ms\" }",
            "mean = \"2ms\" }\nfailure_rate = -1e308",
            "found -1e308",
        ),
    ];
    for (from, to, want) in cases {
        let got = problems(&with(from, to));
        assert!(got.contains(want), "{to}: no {want:?} in\n{got}");
        for leak in [
            "i128",
            "u32",
            "u64",
            "i64",
            "f64",
            "usize",
            "struct ",
            "enum ",
            "ServiceDist",
            "sequence",
        ] {
            assert!(!got.contains(leak), "{to}: Rust's word {leak:?} in\n{got}");
        }
        assert!(got.len() < 300, "{to}: too long\n{got}");
    }
}

#[test]
fn too_many_samples_say_how_many_and_the_limit() {
    let got = problems(&with("duration = \"10s\"", "duration = \"36500d\""));
    assert!(
        got.contains("makes 3,153,600,000 metric samples; the limit is 1,000,000"),
        "{got}"
    );
    assert!(got.contains("t.toml:4:12:"), "blames the duration: {got}");
    let overrides = edasim::scenario::Overrides {
        until: Some("36500d".to_string()),
        ..Default::default()
    };
    let got = match edasim::scenario::load_with("t.toml", BASE, &overrides) {
        Ok(_) => String::new(),
        Err(e) => e.to_plain(),
    };
    assert!(got.contains("--until 36500d"), "{got}");
    assert!(got.contains("3,153,600,000 metric samples"), "{got}");
    assert!(got.contains("limit is 1,000,000"), "{got}");
}

#[test]
fn commit_interval_is_bounded_as_kafka_bounds_it() {
    for (v, ok) in [
        ("1ns", false),
        ("999us", false),
        ("1500us", false),
        ("0s", false),
        ("1ms", true),
        ("5s", true),
        ("25d", false),
    ] {
        let text = with(
            "mean = \"2ms\" }",
            &format!("mean = \"2ms\" }}\ncommit = \"auto\"\ncommit_interval = \"{v}\""),
        );
        let got = problems(&text);
        assert_eq!(got.is_empty(), ok, "{v}: {got}");
        if !ok {
            assert!(
                got.contains("whole number of milliseconds from 1ms to 2147483647ms"),
                "{got}"
            );
            assert!(got.contains("auto.commit.interval.ms"), "{got}");
        }
    }
}
