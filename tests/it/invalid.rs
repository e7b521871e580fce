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
