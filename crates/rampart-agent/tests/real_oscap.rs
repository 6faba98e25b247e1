//! End to end on this very machine: a real `rampart serve` and the real `rampart-agent` binary
//! audit it with OpenSCAP and the SCAP Security Guide's Ubuntu 22.04 content (Debian's
//! `openscap-scanner` and `ssg-debderived`). The profile's `last_run_results` must then say what
//! a real results file of this machine says. Skipped, saying so, where OpenSCAP or the content is
//! missing; `RAMPART_REQUIRE_OSCAP=1` (set by CI) turns the skip into a failure.

mod common;

use std::path::Path;

use common::{run_agent, Server};
use rampart_domain::xccdf::{self, Class, RuleResult, RuleText, TestResultInfo};

const DATASTREAM: &str = "/usr/share/xml/scap/ssg/content/ssg-ubuntu2204-ds.xml";
const PROFILE: &str = "xccdf_org.ssgproject.content_profile_cis_level1_server";

fn oscap_available() -> bool {
    Path::new(DATASTREAM).exists()
        && std::process::Command::new("oscap")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Counts a results file's selected rules by class.
#[derive(Default)]
struct Tally {
    passing: i64,
    failing: i64,
    other: i64,
    target: String,
}

impl xccdf::Visitor for Tally {
    fn benchmark(&mut self, _id: &str, _version: &str) -> bool {
        false
    }
    fn rule(&mut self, _rule: RuleText) {}
    fn test_result(&mut self, info: &TestResultInfo) {
        self.target = info.target.clone();
    }
    fn rule_result(&mut self, result: RuleResult) {
        match result.result.class() {
            Class::Passing => self.passing += 1,
            Class::Failing => self.failing += 1,
            Class::Other => self.other += 1,
            Class::NotSelected => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_audits_this_machine_with_openscap_and_the_counts_match_the_real_results() {
    if !oscap_available() {
        assert!(
            std::env::var_os("RAMPART_REQUIRE_OSCAP").is_none(),
            "RAMPART_REQUIRE_OSCAP is set but oscap or {DATASTREAM} is missing"
        );
        eprintln!("SKIPPED: install openscap-scanner and ssg-debderived to audit this machine");
        return;
    }
    let server = Server::start().await;
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap();
    let url = server.url();
    let agent = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--server",
            url.as_str(),
            "--registration-key",
            server.registration_key.as_str(),
            "--state-dir",
            state_dir,
            "--oscap-datastream",
            DATASTREAM,
            "--once",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let register = agent(&[]);
    let refs: Vec<&str> = register.iter().map(String::as_str).collect();
    run_agent(&refs).await.assert_code(0);
    assert_eq!(server.computers().await.len(), 1, "the machine registered");

    let token = server.token().await;
    let run = server.run_profile(&token, "audit").await;
    let audit = run_agent(&refs).await;
    audit.assert_code(0);

    // What a real results file of this machine says, from OpenSCAP itself, now.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.xml");
    let status = std::process::Command::new("oscap")
        .args(["xccdf", "eval", "--profile", PROFILE, "--results"])
        .arg(&results)
        .arg(DATASTREAM)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        matches!(status.code(), Some(0 | 2)),
        "oscap ran: {status:?}"
    );
    let mut tally = Tally::default();
    let file = std::io::BufReader::new(std::fs::File::open(&results).unwrap());
    xccdf::parse(file, &mut tally).expect("OpenSCAP's own file parses");

    let profiles = server
        .api(
            reqwest::Method::GET,
            "/api/v2/security-profiles",
            Some(&token),
            None,
        )
        .await;
    let counts = &profiles["results"][0]["last_run_results"];
    let machine_fails = tally.failing > 0;
    assert_eq!(counts["failing"], i64::from(machine_fails), "{counts}");
    assert_eq!(counts["passing"], i64::from(!machine_fails), "{counts}");
    assert_eq!(counts["in_progress"], 0);
    assert_eq!(counts["not_started"], 0);
    assert_eq!(counts["pass_rate"], if machine_fails { 0 } else { 100 });

    let children = server
        .api(
            reqwest::Method::GET,
            &format!("/api/v2/activities?parent_id={run}"),
            Some(&token),
            None,
        )
        .await;
    let child = &children["results"][0];
    assert_eq!(child["activity_status"], "succeeded", "{child}");
    assert_eq!(
        child["result_text"],
        format!(
            "{} rules passed, {} failed, {} other",
            tally.passing, tally.failing, tally.other
        ),
        "the stored counts are the real file's (target {})",
        tally.target
    );
    let parent = server
        .api(
            reqwest::Method::GET,
            &format!("/api/v2/activities/{run}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(parent["activity_status"], "succeeded");
}
