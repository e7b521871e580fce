//! The command line: exit codes, output files, formats.

use assert_cmd::Command;

fn edasim() -> Command {
    let mut c = Command::cargo_bin("edasim").expect("binary");
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// The binary as a std Command, whose stdout can be any file.
fn plain_edasim() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("edasim"));
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
fn check_counts_in_words_singular_and_plural() {
    let (code, s, err) = run_args(&["check", "scenarios/bench-mmc.toml"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(s.contains("topic queue (1 partition, "), "{s}");
    assert!(
        s.contains("(group servers, 1 instance × concurrency 10)"),
        "{s}"
    );
    assert!(s.contains("0 phases, unkeyed)"), "{s}");
    let (_, s, _) = run_args(&["check", "scenarios/flash-sale.toml"]);
    assert!(s.contains("4 instances × concurrency 3"), "{s}");
    assert!(s.contains("topic orders (12 partitions, "), "{s}");
    assert!(s.contains(" phases, ") && s.contains(" keys)"), "{s}");
    assert!(!s.contains(" x "), "{s}");
    let (_, s, _) = run_args(&["check", "scenarios/dlq-redrive.toml"]);
    assert!(s.contains("after 2 receives)"), "{s}");
    let (_, s, _) = run_args(&["check", "scenarios/sns-fanout.toml"]);
    assert!(s.contains("fault crash billing at 1m for 3m"), "{s}");
    assert!(s.contains("fault errors notifier at 1m for 5m"), "{s}");
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

/// The names of the files in `dir`, hidden ones included.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The bundled scenario `name` by its absolute path, for runs in another directory.
fn scenario_path(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn output_paths_are_checked_before_the_run() {
    let d = tmpdir("outputs");
    std::fs::create_dir(d.join("sub")).expect("sub");
    let mm1 = scenario_path("mm1.toml");
    let dir = d.to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--csv", "."], "--csv .: names a directory"),
        (vec!["--csv", "sub"], "--csv sub: names a directory"),
        (vec!["--trace", &dir], "names a directory"),
        (vec!["--csv", "sub/"], "--csv sub/: names a directory"),
        (
            vec!["--csv", "missing/m.csv"],
            "--csv missing/m.csv: there is no directory missing",
        ),
        (
            vec!["--csv", "same.out", "--trace", "same.out"],
            "--csv same.out and --trace same.out name the same file",
        ),
        (
            vec!["--csv", "same.out", "--trace", "./same.out"],
            "name the same file",
        ),
        (
            vec!["--csv", "sub/../same.out", "--trace", "same.out"],
            "name the same file",
        ),
        (vec!["--trace", &mm1], "is the scenario file"),
    ];
    for (flags, needle) in cases {
        let out = edasim()
            .current_dir(&*d)
            .args(["run", &mm1, "--quiet"])
            .args(&flags)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(
            err.contains(needle),
            "{flags:?}: stderr lacks {needle:?}: {err}"
        );
        assert_eq!(files_in(&d), ["sub"], "{flags:?} left a file");
        assert!(files_in(&d.join("sub")).is_empty(), "{flags:?} left a file");
    }
}

#[test]
#[cfg(unix)]
fn an_unwritable_output_is_refused_before_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("unwritable");
    let ro = d.join("ro");
    std::fs::create_dir(&ro).expect("ro");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    // root writes anywhere on a normal file system; sysfs refuses even root.
    let target = if std::fs::write(ro.join("probe"), "").is_err() {
        ro.join("m.csv")
    } else if std::path::Path::new("/sys/kernel").is_dir() {
        std::path::PathBuf::from("/sys/m.csv")
    } else {
        return;
    };
    let _ = std::fs::remove_file(ro.join("probe"));
    let out = edasim()
        .args(["run", "scenarios/mm1.toml", "--quiet", "--csv"])
        .arg(&target)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write --csv"), "{err}");
    assert!(files_in(&ro).is_empty());
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn each_output_gets_its_own_file() {
    let d = tmpdir("two-outputs");
    let out = edasim()
        .current_dir(&*d)
        .args([
            "run",
            &scenario_path("mm1.toml"),
            "--quiet",
            "--until",
            "20s",
        ])
        .args(["--csv", "m.out", "--trace", "sub/../t.out"])
        .output()
        .expect("run");
    // sub does not exist: the path is refused rather than resolved by text.
    assert_eq!(out.status.code(), Some(2));
    assert!(files_in(&d).is_empty());
    let out = edasim()
        .current_dir(&*d)
        .args([
            "run",
            &scenario_path("mm1.toml"),
            "--quiet",
            "--until",
            "20s",
        ])
        .args(["--csv", "m.out", "--trace", "./t.out"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(files_in(&d), ["m.out", "t.out"]);
    let csv = std::fs::read_to_string(d.join("m.out")).expect("csv");
    let trace = std::fs::read_to_string(d.join("t.out")).expect("trace");
    assert!(csv.starts_with("time_s,component,metric,value\n"));
    assert!(!csv.contains("\"event\""));
    assert!(trace.lines().all(|l| l.starts_with("{\"t\":")));
}

#[test]
#[cfg(target_os = "linux")]
fn a_write_failure_mid_run_leaves_no_file() {
    // A file size limit makes the trace fail part way, as a full disk would.
    let d = tmpdir("mid-run");
    let out = std::process::Command::new("sh")
        .current_dir(&*d)
        .args(["-c", "trap '' XFSZ; ulimit -f 20; exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin("edasim"))
        .args(["run", &scenario_path("mm1.toml"), "--quiet"])
        .args(["--csv", "m.csv", "--trace", "t.jsonl"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    // Which file passes the limit first depends on when the shell drains its buffers
    // (wall-clock pacing), not on the bytes: either one may.
    assert!(
        err.contains("writing t.jsonl: File too large")
            || err.contains("writing m.csv: File too large"),
        "{err}"
    );
    assert!(files_in(&d).is_empty(), "{:?}", files_in(&d));
}

#[test]
fn a_mistyped_command_is_named() {
    for (args, meant) in [
        (vec!["chek", "scenarios/mm1.toml"], "check"),
        (vec!["chekc"], "check"),
        (vec!["rn", "scenarios/mm1.toml", "--headless"], "run"),
        (vec!["schema2"], "schema"),
        (vec!["shcema"], "schema"),
    ] {
        let (code, out, err) = run_args(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(
            err.contains(&format!(
                "unknown command '{}'; did you mean '{meant}'?",
                args[0]
            )),
            "{args:?}: {err}"
        );
    }
    // A missing file far from any command is a missing file.
    let (code, _, err) = run_args(&["scenarios/nope.toml"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read scenarios/nope.toml"), "{err}");
}

#[test]
fn quiet_silences_the_text_summary_but_not_the_json() {
    let (code, out, err) = run_args(&[
        "run",
        "scenarios/mm1.toml",
        "--until",
        "20s",
        "--quiet",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["conservation_holds"], serde_json::Value::Bool(true));
    assert!(err.is_empty(), "{err}");
    let (code, out, _) = run_args(&["run", "scenarios/mm1.toml", "--until", "20s", "-q"]);
    assert_eq!(code, Some(0));
    assert!(out.is_empty(), "{out}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        vec!["run", "scenarios/flash-sale.toml", "--headless"],
        vec!["check", "scenarios/flash-sale.toml"],
        vec!["schema"],
    ] {
        // `edasim ... | true`: the reader is gone before edasim writes.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = plain_edasim()
            .args(&args)
            .stdout(writer)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_full_stdout_is_an_io_error() {
    for args in [
        vec!["schema"],
        vec!["check", "scenarios/flash-sale.toml"],
        vec!["run", "scenarios/mm1.toml", "--until", "20s"],
        vec![
            "run",
            "scenarios/mm1.toml",
            "--until",
            "20s",
            "-q",
            "--format",
            "json",
        ],
        vec!["--help"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = plain_edasim()
            .args(&args)
            .stdout(full)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to stdout: No space left on device"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Starts `edasim run` on `scenario` in `dir` with `flags`, and waits until its
/// temporary output file exists.
#[cfg(unix)]
fn start_run(dir: &std::path::Path, scenario: &str, flags: &[&str]) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("edasim"))
        .current_dir(dir)
        .args(["run", scenario, "--quiet"])
        .args(flags)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    for _ in 0..200 {
        if files_in(dir).iter().any(|n| n.contains(".tmp-")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child
}

/// Sends `signal` to `child` and waits for it to end; returns its output and how long
/// it took to end. Kills it if it is not gone within 30 s.
#[cfg(unix)]
#[allow(clippy::disallowed_methods)] // a test of the shell's wall-clock behaviour
fn signal_and_wait(
    mut child: std::process::Child,
    signal: &str,
) -> (std::process::Output, std::time::Duration) {
    let sent = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    while child.try_wait().expect("wait").is_none() {
        if sent.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let took = sent.elapsed();
    (child.wait_with_output().expect("output"), took)
}

#[test]
#[cfg(unix)]
fn sigterm_and_sighup_remove_the_temporary_files() {
    let d = tmpdir("terminate");
    let mm1 = scenario_path("mm1.toml");
    for signal in ["-TERM", "-HUP", "-INT"] {
        let child = start_run(
            &d,
            &mm1,
            &[
                "--until", "1000000s", "--trace", "t.jsonl", "--csv", "m.csv",
            ],
        );
        assert_eq!(files_in(&d).len(), 2, "{signal}: {:?}", files_in(&d));
        // Let it write part of the trace.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (out, _) = signal_and_wait(child, signal);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{signal}: {err}");
        assert!(
            err.contains("no output file was written"),
            "{signal}: {err}"
        );
        assert!(files_in(&d).is_empty(), "{signal}: {:?}", files_in(&d));
    }
}

#[test]
#[cfg(unix)]
fn an_interrupt_is_answered_at_once_on_a_heavy_scenario() {
    // 10,000 partitions at 200,000 records/s: events that cost tens of microseconds
    // (200,000 of them took 11 s when the flag was looked at once per batch).
    let d = tmpdir("heavy");
    let scenario = d.join("heavy.toml");
    std::fs::write(
        &scenario,
        r#"
[scenario]
name = "heavy"
duration = "1h"

[[producer]]
name = "p"
target = "t"
rate = { dist = "poisson", per_second = 200000 }
keys = { format = "k-{}", count = 100000, dist = "uniform" }

[[topic]]
name = "t"
partitions = 10000

[[consumer]]
name = "c"
source = "t"
instances = 2
processing = { dist = "constant", value = "1us" }
"#,
    )
    .expect("write");
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).expect("out");
    let scenario = scenario.to_string_lossy().into_owned();
    let child = start_run(&out_dir, &scenario, &["--trace", "t.jsonl"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (out, took) = signal_and_wait(child, "-INT");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    // The aim is 100 ms; the bound leaves room for a loaded test machine.
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    assert!(files_in(&out_dir).is_empty(), "{:?}", files_in(&out_dir));
}

#[test]
fn the_summary_fits_long_names_and_long_latencies() {
    let d = tmpdir("long-names");
    let scenario = d.join("long.toml");
    std::fs::write(
        &scenario,
        r#"
[scenario]
name = "long"
duration = "30s"

[[producer]]
name = "checkout-web-frontend"
target = "orders-from-the-web-shop"
rate = { dist = "constant", per_second = 1 }

[[topic]]
name = "orders-from-the-web-shop"

[[consumer]]
name = "payment-authorisation-service"
source = "orders-from-the-web-shop"
processing = { dist = "constant", value = "1500ms" }
"#,
    )
    .expect("write");
    let out = edasim()
        .arg("run")
        .arg(&scenario)
        .arg("--headless")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Each table: every line as long as its header (right-aligned columns end together),
    // and a name is never glued to the number after it.
    for table in text.split("\n\n").skip(1).take(4) {
        let lines: Vec<&str> = table.lines().collect();
        let width = lines[0].chars().count();
        for l in &lines {
            assert_eq!(l.chars().count(), width, "{table}");
        }
    }
    let row = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start} line in {text}"))
            .to_string()
    };
    assert!(
        row("payment-authorisation-service ").contains(" - "),
        "{text}"
    );
    let header = row("consumer ");
    assert!(
        header.contains("dead-lettered") && header.contains("dlq depth"),
        "{text}"
    );
    assert!(!header.contains(" dlq retries"), "{text}");
    // Work arrives every second and takes 1.5 s: latencies grow past 10 s.
    let latencies = text
        .lines()
        .skip_while(|l| !l.starts_with("latency "))
        .nth(1)
        .unwrap_or("");
    assert!(latencies.ends_with(char::is_numeric), "{text}");
    assert!(latencies.contains(" s "), "{text}");
    assert!(latencies.contains(" ms "), "{text}");
    assert!(text.contains("produced = processed once + dead-lettered + pending"));
}

#[test]
fn a_run_past_the_backlog_limit_stops_with_exit_1_and_says_how_to_go_on() {
    // M/M/1 at ρ = 0.8 often holds a few messages: a limit of 1 is passed at once.
    let out = edasim()
        .args([
            "run",
            "scenarios/mm1.toml",
            "--headless",
            "--max-backlog",
            "1",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the backlog passed 1 records"), "{err}");
    assert!(err.contains("raise --max-backlog"), "{err}");
    // The summary of what ran is still printed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("scenario mm1"));
}
