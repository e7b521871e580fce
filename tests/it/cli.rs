//! The command line: exit codes, output files, formats.

use assert_cmd::Command;

fn edasim() -> Command {
    let mut c = Command::cargo_bin("edasim").expect("binary");
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// A scratch directory, removed when the test ends.
struct TmpDir(std::path::PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("edasim-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    TmpDir(d)
}

#[test]
fn headless_run_writes_csv_and_trace_atomically() {
    let d = tmpdir("run");
    let csv = d.join("m.csv");
    let trace = d.join("t.jsonl");
    let out = edasim()
        .args([
            "run",
            "scenarios/commit-before.toml",
            "--headless",
            "--until",
            "20s",
            "--csv",
        ])
        .arg(&csv)
        .arg("--trace")
        .arg(&trace)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with("time_s,component,metric,value\n"));
    assert!(text.contains("20.000,total,processed,"));
    let first = std::fs::read_to_string(&trace).expect("trace");
    let line: serde_json::Value =
        serde_json::from_str(first.lines().next().expect("a line")).expect("json");
    for field in [
        "t",
        "seq",
        "event",
        "component",
        "instance",
        "msg",
        "key",
        "partition",
        "offset",
        "attempt",
    ] {
        assert!(line.get(field).is_some(), "trace lacks {field}");
    }
    // Only the final files remain: no temporary leftovers.
    let names: Vec<String> = std::fs::read_dir(&*d)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("conservation"), "{stdout}");
}

#[test]
fn json_summary_is_one_object() {
    let out = edasim()
        .args(["run", "scenarios/commit-auto.toml", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["conservation_holds"], serde_json::Value::Bool(true));
    assert!(v["groups"][0]["duplicates"].as_u64().unwrap_or(0) > 0);
    assert!(v["conservation"][0]["produced"].as_u64().is_some());
}

#[test]
fn file_without_subcommand_runs_headless_when_not_a_terminal() {
    let out = edasim()
        .args(["scenarios/commit-after.toml", "--quiet"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_exits_2_without_output_files() {
    let d = tmpdir("bad");
    let csv = d.join("m.csv");
    for args in [
        vec!["run", "scenarios/does-not-exist.toml"],
        vec!["run", "scenarios/mm1.toml", "--until", "soon"],
        vec!["run", "scenarios/mm1.toml", "--interval", "0s"],
        vec!["run", "scenarios/mm1.toml", "--format", "xml"],
        vec!["run", "scenarios/mm1.toml", "--bogus"],
        vec!["check", "Cargo.toml"],
        vec![],
    ] {
        let out = edasim()
            .args(&args)
            .arg("--csv")
            .arg(&csv)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!csv.exists(), "{args:?} left a file");
    }
    let out = edasim()
        .args([
            "run",
            "scenarios/mm1.toml",
            "--csv",
            "/nonexistent-dir/x.csv",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_prints_the_topology() {
    let out = edasim()
        .args(["check", "scenarios/flash-sale.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("topic orders (12 partitions"), "{s}");
    assert!(s.contains("fault crash payment#2"), "{s}");
}

#[test]
fn schema_prints_json_schema() {
    let out = edasim().arg("schema").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn a_trace_past_its_limit_says_so_in_the_file() {
    let d = tmpdir("trace-limit");
    let trace = d.join("t.jsonl");
    let out = edasim()
        .args([
            "run",
            "scenarios/mm1.toml",
            "--until",
            "10s",
            "--trace-limit",
            "1000",
            "--trace",
        ])
        .arg(&trace)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&trace).expect("trace");
    assert_eq!(text.lines().count(), 1001);
    assert!(
        text.lines()
            .last()
            .unwrap_or("")
            .contains("\"event\":\"trace_truncated\"")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("limit of 1000 lines"));
}

#[test]
fn ctrl_c_leaves_no_output_file() {
    let d = tmpdir("interrupt");
    let csv = d.join("m.csv");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("edasim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "scenarios/mm1.toml",
            "--until",
            "1000000s",
            "--interval",
            "10s",
            "--quiet",
            "--csv",
        ])
        .arg(&csv)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Let it start and write part of the CSV, then interrupt it as Ctrl-C would.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&*d).expect("dir").collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

/// Runs edasim with `args`; returns (exit code, stdout, stderr).
fn run_args(args: &[&str]) -> (Option<i32>, String, String) {
    let out = edasim().args(args).output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that `args` are refused as bad input, with a message that contains every
/// one of `needles`.
fn refused(args: &[&str], needles: &[&str]) {
    let (code, _, err) = run_args(args);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: stderr lacks {n:?}:\n{err}");
    }
}

/// The last `time_s` of a CSV.
fn last_time(csv: &str) -> &str {
    csv.lines()
        .last()
        .and_then(|l| l.split(',').next())
        .unwrap_or("")
}

#[test]
fn a_bad_interval_names_the_flag() {
    refused(
        &["run", "scenarios/mm1.toml", "--interval", "soon"],
        &["--interval soon: ", "expected a duration"],
    );
    refused(
        &["run", "scenarios/mm1.toml", "--interval", "0s"],
        &["--interval 0s: metrics_interval must be longer than 0"],
    );
    refused(
        &["run", "scenarios/mm1.toml", "--until", "soon"],
        &["--until soon: ", "expected a duration"],
    );
    refused(
        &["run", "scenarios/mm1.toml", "--until", "0s"],
        &["--until 0s: the run must be longer than 0"],
    );
}

#[test]
fn too_many_samples_are_refused_whichever_flag_makes_them() {
    // mm1 runs 1260 s: 1.26e9 samples of 1us.
    refused(
        &["run", "scenarios/mm1.toml", "--interval", "1us"],
        &["--interval 1us: ", "1,000,000"],
    );
    // 1e8 s in samples of the file's 10 s.
    refused(
        &["run", "scenarios/mm1.toml", "--until", "100000000s"],
        &["--until 100000000s: ", "1,000,000"],
    );
    refused(
        &[
            "run",
            "scenarios/mm1.toml",
            "--set",
            "scenario.metrics_interval=1us",
        ],
        &["--set scenario.metrics_interval=1us: ", "1,000,000"],
    );
}

#[test]
fn until_runs_past_or_short_of_the_scenario_duration() {
    let d = tmpdir("until");
    let csv = d.join("m.csv");
    let csv_arg = csv.to_string_lossy().into_owned();
    // commit-before declares 90 s and a fault at 30 s.
    for (until, last) in [("120s", "120.000"), ("20s", "20.000")] {
        let (code, _, err) = run_args(&[
            "run",
            "scenarios/commit-before.toml",
            "--quiet",
            "--until",
            until,
            "--interval",
            "10s",
            "--csv",
            &csv_arg,
        ]);
        assert_eq!(code, Some(0), "--until {until}: {err}");
        let text = std::fs::read_to_string(&csv).expect("csv");
        assert_eq!(last_time(&text), last, "--until {until}");
        assert!(text.contains(&format!("\n{last},total,processed,")));
    }
}

#[test]
fn set_overrides_a_value_as_if_the_file_said_so() {
    let d = tmpdir("set");
    let csv = |name: &str| d.join(name).to_string_lossy().into_owned();
    let (a, b, c) = (csv("a.csv"), csv("b.csv"), csv("c.csv"));
    let base = ["run", "scenarios/mm1.toml", "--quiet", "--until", "100s"];
    for (extra, out) in [
        (vec!["--interval", "5s"], &a),
        (vec!["--set", "scenario.metrics_interval=5s"], &b),
        (
            vec![
                "--set",
                "scenario.metrics_interval=\"5s\"",
                "--set",
                "consumer.server.instances=1",
            ],
            &c,
        ),
    ] {
        let mut args = base.to_vec();
        args.extend(extra);
        args.extend(["--csv", out]);
        let (code, _, err) = run_args(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    let read = |p: &str| std::fs::read_to_string(p).expect("csv");
    let first = read(&a);
    assert!(first.contains("\n5.000,"), "sampled every 5 s");
    assert_eq!(first, read(&b));
    assert_eq!(first, read(&c));
    // A slower server: the same arrivals, served later.
    let (code, out, err) = run_args(&[
        "run",
        "scenarios/mm1.toml",
        "--until",
        "100s",
        "--format",
        "json",
        "--set",
        "consumer.server.processing.mean=2ms",
        "--set",
        "scenario.seed=7",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (_, same_seed, _) = run_args(&[
        "run",
        "scenarios/mm1.toml",
        "--until",
        "100s",
        "--format",
        "json",
        "--set",
        "consumer.server.processing.mean=2ms",
        "--seed",
        "7",
    ]);
    assert_eq!(out, same_seed, "--set scenario.seed is --seed");
    let (_, as_written, _) = run_args(&[
        "run",
        "scenarios/mm1.toml",
        "--until",
        "100s",
        "--format",
        "json",
        "--seed",
        "7",
    ]);
    assert_ne!(out, as_written, "processing.mean=2ms changes the run");
}

#[test]
fn a_bad_set_is_refused_naming_the_flag() {
    let mm1 = |set: &'static str| ["run", "scenarios/mm1.toml", "--set", set];
    refused(
        &mm1("consumer.nobody.instances=2"),
        &[
            "--set consumer.nobody.instances=2: ",
            "`consumer` has no element `nobody`",
            "`server`",
        ],
    );
    refused(
        &mm1("consumr.server.instances=2"),
        &["--set consumr.server.instances=2: there is no section `consumr`"],
    );
    refused(
        &mm1("consumer.server.instancez=2"),
        &[
            "--set consumer.server.instancez=2: unknown key `instancez`",
            "did you mean `instances`?",
        ],
    );
    refused(
        &mm1("consumer.server.instances=many"),
        &["--set consumer.server.instances=many: invalid type: string \"many\""],
    );
    refused(
        &mm1("consumer.server.instances=0"),
        &["--set consumer.server.instances=0: instances must be between 1 and"],
    );
    refused(
        &mm1("scenario.duration.unit=s"),
        &["--set scenario.duration.unit=s: `scenario.duration` is a string"],
    );
    refused(
        &mm1("producer.arrivals.target=nowhere"),
        &["--set producer.arrivals.target=nowhere: target `nowhere` is not a topic"],
    );
    refused(&mm1("consumer.server"), &["--set", "PATH=VALUE"]);
}
