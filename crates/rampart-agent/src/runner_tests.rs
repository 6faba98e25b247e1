//! Tests of the runner: the exact command lines, finding the tools, and running fake `usg` and
//! `oscap` executables (shell scripts) that copy a real results file or fail.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::protocol::Action;

/// The shared fixtures folder (`shared/fixtures` beside the repository).
pub fn fixtures() -> PathBuf {
    let beside = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures"
    ));
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("/work/shared/fixtures")
    }
}

fn results_fixture() -> PathBuf {
    fixtures().join("xccdf/u2204-cis_l1_server.results.xml.gz")
}

fn activity(action: Action, benchmark: &str, tailoring: Option<&str>) -> Activity {
    Activity {
        id: 12,
        kind: "UsgActivity".into(),
        action,
        benchmark: Some(benchmark.into()),
        xccdf_profile: Some(format!(
            "xccdf_org.ssgproject.content_profile_{}",
            strip_version(benchmark)
        )),
        tailoring_file: tailoring.map(str::to_owned),
    }
}

fn words(line: &CommandLine) -> Vec<String> {
    std::iter::once(line.program.to_string_lossy().into_owned())
        .chain(line.args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect()
}

fn usg() -> Tool {
    Tool::Usg("/usr/sbin/usg".into())
}

fn oscap() -> Tool {
    Tool::Oscap {
        oscap: "/usr/bin/oscap".into(),
        datastream: "/ds.xml".into(),
    }
}

fn no_tailoring() -> Files<'static> {
    Files {
        tailoring: None,
        results: Path::new("/w/results.xml"),
    }
}

fn tailored() -> Files<'static> {
    Files {
        tailoring: Some(Path::new("/w/tailoring.xml")),
        results: Path::new("/w/results.xml"),
    }
}

#[test]
fn a_usg_audit_names_the_benchmark_and_the_results_file() {
    let a = activity(Action::Audit, "cis_level1_server", None);
    let line = command_line(&usg(), Step::Audit, &a, &no_tailoring()).unwrap();
    assert_eq!(
        words(&line),
        [
            "/usr/sbin/usg",
            "audit",
            "cis_level1_server",
            "--results-file",
            "/w/results.xml"
        ]
    );
    assert_eq!(line.success, [0]);
}

#[test]
fn a_usg_audit_passes_the_tailoring_file_and_keeps_the_benchmark_version() {
    let a = activity(
        Action::Audit,
        "cis_level1_server-v2.0.0",
        Some("<Tailoring/>"),
    );
    let line = command_line(&usg(), Step::Audit, &a, &tailored()).unwrap();
    assert_eq!(
        line.to_string(),
        "/usr/sbin/usg audit cis_level1_server-v2.0.0 --tailoring-file /w/tailoring.xml \
         --results-file /w/results.xml"
    );
}

#[test]
fn a_usg_fix_takes_the_benchmark_and_tailoring_file_but_no_results_file() {
    let a = activity(Action::Fix, "cis_level1_server", Some("<Tailoring/>"));
    let line = command_line(&usg(), Step::Fix, &a, &tailored()).unwrap();
    assert_eq!(
        line.to_string(),
        "/usr/sbin/usg fix cis_level1_server --tailoring-file /w/tailoring.xml"
    );
}

#[test]
fn an_oscap_audit_evaluates_the_profile_against_the_data_stream() {
    let a = activity(Action::Audit, "cis_level1_server", None);
    let line = command_line(&oscap(), Step::Audit, &a, &no_tailoring()).unwrap();
    assert_eq!(
        words(&line),
        [
            "/usr/bin/oscap",
            "xccdf",
            "eval",
            "--profile",
            "xccdf_org.ssgproject.content_profile_cis_level1_server",
            "--results",
            "/w/results.xml",
            "/ds.xml"
        ]
    );
    assert_eq!(line.success, [0, 2]);
}

#[test]
fn an_oscap_audit_passes_the_tailoring_file_before_the_results() {
    let a = activity(Action::Audit, "cis_level1_server", Some("<Tailoring/>"));
    let line = command_line(&oscap(), Step::Audit, &a, &tailored()).unwrap();
    assert_eq!(
        line.to_string(),
        "/usr/bin/oscap xccdf eval --profile xccdf_org.ssgproject.content_profile_cis_level1_server \
         --tailoring-file /w/tailoring.xml --results /w/results.xml /ds.xml"
    );
}

#[test]
fn an_oscap_fix_remediates() {
    let a = activity(Action::Fix, "cis_level1_server", None);
    let line = command_line(&oscap(), Step::Fix, &a, &no_tailoring()).unwrap();
    assert_eq!(
        line.to_string(),
        "/usr/bin/oscap xccdf eval --remediate --profile \
         xccdf_org.ssgproject.content_profile_cis_level1_server --results /w/results.xml /ds.xml"
    );
}

#[test]
fn oscap_gets_the_profile_without_its_version() {
    // Without `xccdf_profile`, the profile comes from the benchmark, stripped of its version.
    let mut a = activity(Action::Audit, "cis_level1_server-v2.0.0", None);
    a.xccdf_profile = None;
    let line = command_line(&oscap(), Step::Audit, &a, &no_tailoring()).unwrap();
    assert_eq!(
        line.args[3],
        "xccdf_org.ssgproject.content_profile_cis_level1_server"
    );
    a.benchmark = Some("disa_stig-v1r3".into());
    let line = command_line(&oscap(), Step::Audit, &a, &no_tailoring()).unwrap();
    assert_eq!(line.args[3], "xccdf_org.ssgproject.content_profile_stig");
    // A versioned profile id is stripped too.
    a.xccdf_profile = Some("xccdf_org.ssgproject.content_profile_stig-v1r3".into());
    let line = command_line(&oscap(), Step::Audit, &a, &no_tailoring()).unwrap();
    assert_eq!(line.args[3], "xccdf_org.ssgproject.content_profile_stig");
}

#[test]
fn oscap_gets_a_tailored_profile_id_exactly_as_the_tailoring_file_names_it() {
    let mut a = activity(Action::Audit, "cis_level1_server", Some("<Tailoring/>"));
    a.xccdf_profile = Some("xccdf_com.example_profile_web-v2".into());
    let line = command_line(&oscap(), Step::Audit, &a, &tailored()).unwrap();
    assert_eq!(line.args[3], "xccdf_com.example_profile_web-v2");
}

#[test]
fn versions_are_stripped_only_where_a_version_starts() {
    assert_eq!(
        strip_version("cis_level1_server-v2.0.0"),
        "cis_level1_server"
    );
    assert_eq!(strip_version("stig-v1r3"), "stig");
    assert_eq!(strip_version("cis_level1_server"), "cis_level1_server");
    assert_eq!(strip_version("disa_stig"), "disa_stig");
    // `-v` not followed by a digit is part of the name.
    assert_eq!(strip_version("my-very-own"), "my-very-own");
    assert_eq!(strip_version("-v1"), "-v1");
}

#[test]
fn an_activity_without_benchmark_is_refused_with_a_message() {
    let mut a = activity(Action::Audit, "", None);
    a.benchmark = None;
    let error = command_line(&usg(), Step::Audit, &a, &no_tailoring()).unwrap_err();
    assert!(error.contains("no benchmark"), "{error}");
    a.xccdf_profile = None;
    let error = command_line(&oscap(), Step::Audit, &a, &no_tailoring()).unwrap_err();
    assert!(error.contains("no XCCDF profile"), "{error}");
}

/// A folder holding fake tools and a data stream.
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fake tool that records its arguments in `<name>.args`, copies the real results fixture
    /// to the path after `--results-file`/`--results` when `copy`, prints `stderr` and exits with
    /// `code`.
    fn tool(&self, name: &str, copy: bool, stderr: &str, code: i32) -> PathBuf {
        let path = self.path(name);
        let script = fake_tool_script(&results_fixture(), copy, stderr, code);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn datastream(&self) -> PathBuf {
        let path = self.path("ssg-ubuntu2204-ds.xml");
        std::fs::write(&path, "<ds:data-stream-collection/>").unwrap();
        path
    }

    fn runner(&self, tools: Tools) -> Runner {
        Runner {
            tools,
            work_root: self.path("state/work"),
        }
    }

    fn recorded_args(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{name}.args")))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The text of a fake `usg`/`oscap` (shared with the integration tests' idea of one).
pub fn fake_tool_script(fixture: &Path, copy: bool, stderr: &str, code: i32) -> String {
    let copy = if copy {
        format!("[ -n \"$out\" ] && cp '{}' \"$out\"\n", fixture.display())
    } else {
        String::new()
    };
    format!(
        "#!/bin/sh\n\
         printf '%s\\n' \"$@\" > \"$0.args\"\n\
         out=\n\
         prev=\n\
         for arg in \"$@\"; do\n\
         \x20 if [ \"$prev\" = --results-file ] || [ \"$prev\" = --results ]; then out=$arg; fi\n\
         \x20 prev=$arg\n\
         done\n\
         {copy}\
         printf '%s' '{stderr}' >&2\n\
         exit {code}\n"
    )
}

#[tokio::test]
async fn a_usg_audit_returns_the_results_file_the_tool_wrote() {
    let bench = Bench::new();
    let usg = bench.tool("usg", true, "", 0);
    let runner = bench.runner(Tools {
        usg: Some(usg),
        ..Tools::default()
    });
    let a = activity(Action::Audit, "cis_level1_server", Some("<Tailoring/>"));
    let bytes = runner.audit(&a).await.unwrap();
    assert_eq!(bytes, std::fs::read(results_fixture()).unwrap());
    let work = bench.path("state/work/12");
    assert_eq!(
        bench.recorded_args("usg"),
        [
            "audit".to_owned(),
            "cis_level1_server".into(),
            "--tailoring-file".into(),
            work.join("tailoring.xml").display().to_string(),
            "--results-file".into(),
            work.join("results.xml").display().to_string(),
        ]
    );
    assert!(!work.exists(), "the work folder is removed afterwards");
}

#[tokio::test]
async fn oscap_exit_code_2_means_the_scan_ran() {
    let bench = Bench::new();
    let oscap = bench.tool("oscap", true, "", 2);
    let runner = bench.runner(Tools {
        usg: Some(bench.path("no-usg-here")),
        oscap: Some(oscap),
        datastream: Some(bench.datastream()),
    });
    let a = activity(Action::Audit, "cis_level1_server-v2.0.0", None);
    let bytes = runner.audit(&a).await.unwrap();
    assert_eq!(bytes, std::fs::read(results_fixture()).unwrap());
    let args = bench.recorded_args("oscap");
    assert_eq!(
        args[..4],
        [
            "xccdf",
            "eval",
            "--profile",
            "xccdf_org.ssgproject.content_profile_cis_level1_server"
        ]
    );
    assert_eq!(
        args.last().unwrap(),
        &bench.datastream().display().to_string()
    );
}

#[tokio::test]
async fn another_oscap_exit_code_fails_with_the_end_of_its_error_output() {
    let bench = Bench::new();
    let oscap = bench.tool("oscap", true, "OpenSCAP Error: no such profile", 1);
    let runner = bench.runner(Tools {
        usg: Some(bench.path("no-usg-here")),
        oscap: Some(oscap),
        datastream: Some(bench.datastream()),
    });
    let error = runner
        .audit(&activity(Action::Audit, "cis_level1_server", None))
        .await
        .unwrap_err();
    assert!(error.contains("exited with code 1"), "{error}");
    assert!(
        error.ends_with("OpenSCAP Error: no such profile"),
        "{error}"
    );
    assert!(error.contains("xccdf eval --profile"), "{error}");
}

#[tokio::test]
async fn a_usg_that_fails_is_reported_with_its_code_and_message() {
    let bench = Bench::new();
    let usg = bench.tool("usg", false, "Error: profile not found", 3);
    let runner = bench.runner(Tools {
        usg: Some(usg),
        ..Tools::default()
    });
    let error = runner
        .audit(&activity(Action::Audit, "nonsense", None))
        .await
        .unwrap_err();
    assert!(
        error.contains("exited with code 3: Error: profile not found"),
        "{error}"
    );
    // usg knows no exit code 2 as success.
    let usg = bench.tool("usg", true, "", 2);
    let runner = bench.runner(Tools {
        usg: Some(usg),
        ..Tools::default()
    });
    let a = activity(Action::Audit, "cis_level1_server", None);
    assert!(runner.audit(&a).await.unwrap_err().contains("code 2"));
}

#[tokio::test]
async fn a_tool_that_succeeds_without_writing_results_fails_the_audit() {
    let bench = Bench::new();
    let usg = bench.tool("usg", false, "", 0);
    let runner = bench.runner(Tools {
        usg: Some(usg),
        ..Tools::default()
    });
    let error = runner
        .audit(&activity(Action::Audit, "cis_level1_server", None))
        .await
        .unwrap_err();
    assert!(error.contains("results file could not be read"), "{error}");
}

#[tokio::test]
async fn a_fix_runs_usg_fix_and_describes_what_ran() {
    let bench = Bench::new();
    let usg = bench.tool("usg", false, "", 0);
    let runner = bench.runner(Tools {
        usg: Some(usg),
        ..Tools::default()
    });
    let message = runner
        .fix(&activity(Action::Fix, "cis_level1_server", None))
        .await
        .unwrap();
    assert!(
        message.contains("fix cis_level1_server` completed"),
        "{message}"
    );
    assert_eq!(bench.recorded_args("usg"), ["fix", "cis_level1_server"]);
}

#[tokio::test]
async fn a_machine_with_neither_tool_refuses_to_run() {
    if Path::new(USG_FALLBACK).exists() {
        eprintln!("SKIPPED: {USG_FALLBACK} exists on this machine");
        return;
    }
    let bench = Bench::new();
    let runner = bench.runner(Tools {
        usg: Some(bench.path("no-usg-here")),
        oscap: Some(bench.path("no-oscap-here")),
        datastream: None,
    });
    let error = runner
        .audit(&activity(Action::Audit, "cis_level1_server", None))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        "neither usg nor oscap with a data stream is available on this machine: \
         install usg or pass --oscap-datastream"
    );
    assert_eq!(
        runner
            .fix(&activity(Action::Fix, "x", None))
            .await
            .unwrap_err(),
        NO_TOOL
    );
}

#[test]
fn usg_is_taken_from_the_given_path_then_from_path() {
    let bench = Bench::new();
    let bin = bench.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let on_path = bench.tool("bin/usg", false, "", 0);
    let given = bench.tool("my-usg", false, "", 0);
    let path_var = bin.as_os_str();
    let found = Tools {
        usg: Some(given.clone()),
        ..Tools::default()
    }
    .find_with_path(path_var);
    assert_eq!(found, Ok(Tool::Usg(given)));
    let found = Tools::default().find_with_path(path_var);
    assert_eq!(found, Ok(Tool::Usg(on_path)));
}

#[test]
fn oscap_is_used_only_without_usg_and_with_a_data_stream() {
    if Path::new(USG_FALLBACK).exists() {
        eprintln!("SKIPPED: {USG_FALLBACK} exists on this machine");
        return;
    }
    let bench = Bench::new();
    let bin = bench.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let oscap = bench.tool("bin/oscap", false, "", 0);
    let datastream = bench.datastream();
    let path_var = bin.as_os_str();
    let with_ds = Tools {
        datastream: Some(datastream.clone()),
        ..Tools::default()
    };
    assert_eq!(
        with_ds.find_with_path(path_var),
        Ok(Tool::Oscap {
            oscap,
            datastream: datastream.clone()
        })
    );
    assert_eq!(
        Tools::default().find_with_path(path_var),
        Err(NO_TOOL.to_owned()),
        "oscap without a data stream is not used"
    );
    assert_eq!(
        with_ds.find_with_path(OsStr::new("")),
        Err(NO_TOOL.to_owned()),
        "a data stream without oscap is not enough"
    );
    let missing_ds = Tools {
        datastream: Some(bench.path("missing-ds.xml")),
        ..Tools::default()
    };
    let error = missing_ds.find_with_path(path_var).unwrap_err();
    assert!(error.contains("missing-ds.xml"), "{error}");
}

#[test]
fn the_tail_of_long_output_keeps_the_last_lines() {
    let output: String = (1..=100).map(|i| format!("line {i}\n\n")).collect();
    let tail = tail(output.as_bytes());
    assert!(tail.starts_with("line 86\n"), "{tail}");
    assert!(tail.ends_with("line 100"), "{tail}");
    let long = "é".repeat(3000);
    let tail = super::tail(long.as_bytes());
    assert!(tail.len() <= TAIL_BYTES + "…".len());
}
