//! Thin uploads end to end: the agent binary against a real server. Once the server holds a
//! benchmark version's rule texts (a first machine uploaded the whole file), the poll says so and
//! the next machine sends only the `TestResult`; what is stored — the detailed and summary
//! reports, the run's counts — is the same either way. A thin file the server refuses is followed
//! by the whole file.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use common::{fake_usg, identity, results_of_now, run_agent, Run, Server};
use rampart_agent::spool;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A registered agent's state dir and the computer's id.
struct Machine {
    dir: tempfile::TempDir,
    computer_id: i64,
}

impl Machine {
    async fn register(server: &Server) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        run_agent(&[
            "--server",
            &server.url(),
            "--registration-key",
            &server.registration_key,
            "--state-dir",
            state.to_str().unwrap(),
            "--once",
        ])
        .await
        .assert_code(0);
        let computer_id = identity(&state).computer_id;
        Self { dir, computer_id }
    }

    /// Runs the agent once, its `usg` producing `results`.
    async fn audit(&self, server: &Server, results: &Path) -> Run {
        let tools = self.dir.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        let usg = fake_usg(&tools, results);
        let run = run_agent(&[
            "--server",
            &server.url(),
            "--state-dir",
            self.dir.path().join("state").to_str().unwrap(),
            "--once",
            "--usg",
            usg.to_str().unwrap(),
        ])
        .await;
        run.assert_code(0);
        run
    }

    /// Its audit activity in the run (the only one it has).
    async fn audit_activity(&self, server: &Server, token: &str) -> Value {
        let activities = server.activities_of(token, self.computer_id).await;
        let audits: Vec<&Value> = activities
            .iter()
            .filter(|a| a["type"] == "UsgActivity")
            .collect();
        assert_eq!(audits.len(), 1, "{activities:#?}");
        audits[0].clone()
    }
}

/// Creates an audit profile covering every computer and runs it now; answers the profile's id.
async fn run_audit_profile(server: &Server, token: &str) -> i64 {
    let start = (Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let profile = server
        .api(
            reqwest::Method::POST,
            "/api/v2/security-profiles",
            Some(token),
            Some(json!({
                "benchmark": "cis_level1_server",
                "mode": "audit",
                "schedule": "RRULE:FREQ=WEEKLY",
                "title": "Thin uploads",
                "start_date": start,
                "all_computers": true,
            })),
        )
        .await;
    let id = profile["id"].as_i64().expect("a profile id");
    server
        .api(
            reqwest::Method::POST,
            &format!("/api/v2/security-profiles/{id}:execute"),
            Some(token),
            None,
        )
        .await;
    id
}

/// The name the server keeps a raw upload under (`uploads/<activity>-<SHA-256 prefix>.xml.gz`),
/// and its stored size.
async fn stored_upload(server: &Server, activity: i64, body: &[u8]) -> Option<u64> {
    let hash: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("uploads/{activity}-{}.xml.gz", &hash[..16]);
    server
        .store
        .blob_size(server.account_id, &name)
        .await
        .unwrap()
}

/// What the agent sends for a thin upload of `results`: its TestResult, gzip-compressed.
fn thin_body(results: &Path) -> Vec<u8> {
    let thin = rampart_agent::thin::cut(&std::fs::read(results).unwrap()).unwrap();
    spool::gzip(&thin.document).unwrap()
}

/// Asks for today's report of `profile` (detailed or summary), waits for it, and answers its
/// rows.
async fn report(server: &Server, token: &str, profile: i64, detailed: bool) -> Vec<Vec<String>> {
    let today = Utc::now().format("%Y-%m-%d");
    let path = format!(
        "/api/v2/security-profiles/{profile}/report?start_date={today}&detailed={detailed}"
    );
    let first = server
        .api(reqwest::Method::GET, &path, Some(token), None)
        .await;
    let name = match first["id"].as_i64() {
        None => first["result_text"].as_str().unwrap().to_owned(),
        Some(activity) => {
            let mut done = Value::Null;
            for _ in 0..300 {
                done = server
                    .api(
                        reqwest::Method::GET,
                        &format!("/api/v2/activities/{activity}"),
                        Some(token),
                        None,
                    )
                    .await;
                if done["activity_status"] != "in-progress" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(done["activity_status"], "succeeded", "{done:#}");
            done["result_text"].as_str().unwrap().to_owned()
        }
    };
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/v2/security-profiles/blob?path={name}",
            server.url()
        ))
        .bearer_auth(token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    parse_csv(&response.text().await.unwrap())
}

/// RFC 4180 CSV with `\r\n` line ends.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "rows end with CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(row.is_empty() && field.is_empty(), "the last row ends");
    rows
}

/// The rows of one machine, without their first column (`Instance ID`).
fn rows_of(rows: &[Vec<String>], computer_id: i64) -> Vec<Vec<String>> {
    rows.iter()
        .skip(1)
        .filter(|row| row[0] == computer_id.to_string())
        .map(|row| row[1..].to_vec())
        .collect()
}

/// The `passing=… failing=…` the server answered, from the agent's log line.
fn delivered_counts(run: &Run) -> String {
    let line = run
        .stderr
        .lines()
        .find(|line| line.contains("results delivered"))
        .unwrap_or_else(|| panic!("no delivery in:\n{}", run.stderr));
    let from = line.find("verdict=").unwrap();
    let to = line.find(" file=").unwrap();
    line[from..to].to_owned()
}

fn state_spool(machine: &Machine) -> PathBuf {
    machine.dir.path().join("state/spool")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_version_is_uploaded_thin_and_stores_exactly_what_the_whole_file_does() {
    let server = Server::start().await;
    let token = server.token().await;
    let whole_machine = Machine::register(&server).await;
    let thin_machine = Machine::register(&server).await;
    let profile = run_audit_profile(&server, &token).await;
    let results = results_of_now(whole_machine.dir.path());

    // The server holds no rule texts yet: the first machine sends the whole file.
    let first = whole_machine.audit(&server, &results).await;
    assert!(first.stderr.contains("file=\"whole\""), "{}", first.stderr);
    let whole_activity = whole_machine.audit_activity(&server, &token).await;
    assert_eq!(whole_activity["activity_status"], "succeeded");
    let whole_size = stored_upload(
        &server,
        whole_activity["id"].as_i64().unwrap(),
        &std::fs::read(&results).unwrap(),
    )
    .await
    .expect("the whole file is kept");
    assert!(whole_size > 300 * 1024, "{whole_size} bytes");

    // Now it does, and its poll says so: the second machine sends the TestResult alone.
    let second = thin_machine.audit(&server, &results).await;
    assert!(second.stderr.contains("file=\"thin\""), "{}", second.stderr);
    let thin_activity = thin_machine.audit_activity(&server, &token).await;
    assert_eq!(thin_activity["activity_status"], "succeeded");
    let thin_size = stored_upload(
        &server,
        thin_activity["id"].as_i64().unwrap(),
        &thin_body(&results),
    )
    .await
    .expect("the thin file is what was kept");
    assert!(thin_size < 300 * 1024, "{thin_size} bytes");
    assert!(state_spool(&thin_machine)
        .read_dir()
        .unwrap()
        .next()
        .is_none());

    // The same counts, the same rows.
    assert_eq!(delivered_counts(&first), delivered_counts(&second));
    let detailed = report(&server, &token, profile, true).await;
    let whole_rows = rows_of(&detailed, whole_machine.computer_id);
    let thin_rows = rows_of(&detailed, thin_machine.computer_id);
    assert!(whole_rows.len() > 100, "{} rows", whole_rows.len());
    assert_eq!(thin_rows, whole_rows);
    let summary = report(&server, &token, profile, false).await;
    let whole_summary = rows_of(&summary, whole_machine.computer_id);
    assert_eq!(whole_summary.len(), 1, "{summary:?}");
    assert_eq!(rows_of(&summary, thin_machine.computer_id), whole_summary);
    let counts = server
        .api(
            reqwest::Method::GET,
            &format!("/api/v2/security-profiles/{profile}"),
            Some(&token),
            None,
        )
        .await["last_run_results"]
        .clone();
    let verdict = whole_summary[0].last().unwrap().clone();
    let (passing, failing) = if verdict == "pass" { (2, 0) } else { (0, 2) };
    assert_eq!(
        (
            &counts["passing"],
            &counts["failing"],
            &counts["in_progress"],
            &counts["not_started"]
        ),
        (&json!(passing), &json!(failing), &json!(0), &json!(0)),
        "{counts:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thin_file_the_server_refuses_is_followed_by_the_whole_file() {
    let server = Server::start().await;
    let token = server.token().await;
    let first = Machine::register(&server).await;
    let second = Machine::register(&server).await;
    run_audit_profile(&server, &token).await;
    first
        .audit(&server, &results_of_now(first.dir.path()))
        .await;

    // The second file's TestResult names its benchmark by `href` only: the agent takes the
    // enclosing Benchmark's id (a known version), the server reads the href (an unknown one)
    // and refuses the TestResult alone; the whole file, with its Benchmark, is taken.
    let results = results_of_now(second.dir.path());
    let text = String::from_utf8(spool::gunzip(&std::fs::read(&results).unwrap()).unwrap())
        .unwrap()
        .replacen(
            " id=\"xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04\"/>",
            "/>",
            1,
        );
    let href_only = second.dir.path().join("href-only.xml.gz");
    std::fs::write(&href_only, spool::gzip(text.as_bytes()).unwrap()).unwrap();
    let thin = rampart_agent::thin::cut(&std::fs::read(&href_only).unwrap()).unwrap();
    assert_eq!(
        thin.benchmark_id,
        "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04"
    );
    let thin_text = String::from_utf8(thin.document).unwrap();
    assert!(!thin_text.contains("content_benchmark_UBUNTU_22-04"));

    let run = second.audit(&server, &href_only).await;
    assert!(
        run.stderr.contains("did not take the TestResult alone"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("file=\"whole\""), "{}", run.stderr);
    let activity = second.audit_activity(&server, &token).await;
    assert_eq!(activity["activity_status"], "succeeded", "{activity:#}");
    let id = activity["id"].as_i64().unwrap();
    let whole = std::fs::read(&href_only).unwrap();
    assert!(stored_upload(&server, id, &whole).await.is_some());
    assert!(stored_upload(&server, id, &thin_body(&href_only))
        .await
        .is_none());
}
