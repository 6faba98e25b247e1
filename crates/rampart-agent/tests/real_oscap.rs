//! End to end on this very machine: a real `rampart serve` and the real `rampart-agent` binary
//! audit it with OpenSCAP and the SCAP Security Guide's Ubuntu 22.04 content (Debian's
//! `openscap-scanner` and `ssg-debderived`). The profile's `last_run_results` must then say what
//! a real results file of this machine says. Skipped, saying so, where OpenSCAP or the content is
//! missing; `RAMPART_REQUIRE_OSCAP=1` (set by CI) turns the skip into a failure. A second test
//! does the same with a profile made from a real tailoring file.

mod common;

use std::collections::BTreeSet;
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

/// Whether to skip, saying so, because OpenSCAP or its content is missing; fails instead when
/// `RAMPART_REQUIRE_OSCAP` is set.
fn skip_without_oscap() -> bool {
    if oscap_available() {
        return false;
    }
    assert!(
        std::env::var_os("RAMPART_REQUIRE_OSCAP").is_none(),
        "RAMPART_REQUIRE_OSCAP is set but oscap or {DATASTREAM} is missing"
    );
    eprintln!("SKIPPED: install openscap-scanner and ssg-debderived to audit this machine");
    true
}

/// Counts a results file's selected rules by class.
#[derive(Default)]
struct Tally {
    passing: i64,
    failing: i64,
    other: i64,
    target: String,
    /// The XCCDF profile the file says it evaluated.
    profile: Option<String>,
    /// The ids of the selected rules.
    selected: BTreeSet<String>,
}

impl xccdf::Visitor for Tally {
    fn benchmark(&mut self, _id: &str, _version: &str) -> bool {
        false
    }
    fn rule(&mut self, _rule: RuleText) {}
    fn test_result(&mut self, info: &TestResultInfo) {
        self.target = info.target.clone();
        self.profile = info.profile_id.clone();
    }
    fn rule_result(&mut self, result: RuleResult) {
        if result.result.class() != Class::NotSelected {
            self.selected.insert(result.rule_id.clone());
        }
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
    if skip_without_oscap() {
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

/// The tailored profile of the tailoring fixture: CIS level 1 server without two rules
/// (`sudo_custom_logfile`, `file_permissions_home_directories`) and with two values changed.
const TAILORED: &str = "xccdf_org.ssgproject.content_profile_acme_cis_level1_server";
const UNSELECTED: [&str; 2] = [
    "xccdf_org.ssgproject.content_rule_sudo_custom_logfile",
    "xccdf_org.ssgproject.content_rule_file_permissions_home_directories",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tailored_profile_audits_this_machine_and_the_counts_match_the_real_results() {
    if skip_without_oscap() {
        return;
    }
    let tailoring =
        common::fixtures().join("tailoring/tailoring-ubuntu2204-cis_l1_server.pretty.xml");
    let tailoring_text = std::fs::read_to_string(&tailoring).expect("the tailoring fixture");
    assert!(tailoring_text.contains(&format!("id=\"{TAILORED}\"")));
    let server = Server::start().await;
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap();
    let url = server.url();
    let args = [
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
    run_agent(&args).await.assert_code(0);
    assert_eq!(server.computers().await.len(), 1, "the machine registered");

    // A tailored profile: the tailoring file's text, no benchmark.
    let token = server.token().await;
    let start = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let profile = server
        .api(
            reqwest::Method::POST,
            "/api/v2/security-profiles",
            Some(&token),
            Some(serde_json::json!({
                "tailoring_file": tailoring_text,
                "mode": "audit",
                "schedule": "RRULE:FREQ=WEEKLY",
                "title": "Agent test tailored",
                "start_date": start,
                "all_computers": true,
                "restart_deliver_delay": 0,
            })),
        )
        .await;
    assert_eq!(profile["benchmark"], "cis_level1_server", "from `extends`");
    assert!(profile["tailoring_file_uri"].is_string(), "{profile}");
    let id = profile["id"].as_i64().unwrap();
    let run = server
        .api(
            reqwest::Method::POST,
            &format!("/api/v2/security-profiles/{id}:execute"),
            Some(&token),
            None,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let audit = run_agent(&args).await;
    audit.assert_code(0);
    assert!(
        audit
            .stderr
            .contains(&format!("--profile {TAILORED} --tailoring-file ")),
        "the agent runs oscap with the tailored profile and its file:\n{}",
        audit.stderr
    );

    // What OpenSCAP itself says of this machine with the same tailoring, now.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.xml");
    let output = std::process::Command::new("oscap")
        .args(["xccdf", "eval", "--profile", TAILORED, "--tailoring-file"])
        .arg(&tailoring)
        .arg("--results")
        .arg(&results)
        .arg(DATASTREAM)
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 2)),
        "oscap took the tailoring file: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut tally = Tally::default();
    let file = std::io::BufReader::new(std::fs::File::open(&results).unwrap());
    xccdf::parse(file, &mut tally).expect("OpenSCAP's own file parses");
    assert_eq!(tally.profile.as_deref(), Some(TAILORED));
    for rule in UNSELECTED {
        assert!(
            !tally.selected.contains(rule),
            "the tailoring unselects {rule}"
        );
    }

    let counts = &server
        .api(
            reqwest::Method::GET,
            &format!("/api/v2/security-profiles/{id}"),
            Some(&token),
            None,
        )
        .await["last_run_results"];
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

    // The stored audit names the tailored profile and holds exactly its selected rules.
    let run_id = server
        .store
        .activity(server.account_id, run)
        .await
        .unwrap()
        .expect("the run's activity")
        .run_id
        .expect("a run");
    let instances = server
        .store
        .report_page(run_id, 0, 10, false)
        .await
        .unwrap()
        .instances;
    assert_eq!(instances.len(), 1);
    let stored = instances[0].audit.clone().expect("an audit is stored");
    assert_eq!(stored.xccdf_profile.as_deref(), Some(TAILORED));
    assert_eq!(
        (
            stored.passing_rules,
            stored.failing_rules,
            stored.other_rules
        ),
        (tally.passing, tally.failing, tally.other)
    );
    let names: std::collections::HashMap<i64, String> = server
        .store
        .version_rules(stored.version_id)
        .await
        .unwrap()
        .into_iter()
        .map(|rule| (rule.idx, rule.rule_id))
        .collect();
    let stored_rules: BTreeSet<String> = server
        .store
        .audit_results(stored.id)
        .await
        .unwrap()
        .iter()
        .map(|result| names[&result.rule_idx].clone())
        .collect();
    assert_eq!(stored_rules, tally.selected, "the tailored profile's rules");
}
