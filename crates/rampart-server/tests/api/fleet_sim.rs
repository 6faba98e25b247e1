//! `rampart fleet-sim` in-process against a real server: simulated machines register through the
//! agent protocol, a run over their tag ends with every one of them answered, and what each
//! stores depends on the seed alone.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_server::fleet_sim::{self, Options, Summary};
use serde_json::{json, Value};

use crate::helpers::{fixtures, spawn_app, spawn_app_with, Backend, TestApp};
use crate::on_both_backends;

const MACHINES: usize = 20;
/// No test may hang: the simulation stops by itself after this.
const LIMIT: Duration = Duration::from_secs(120);

async fn registration_key(app: &TestApp) -> String {
    let account = app.store.account_by_name("standalone").await.unwrap();
    account.unwrap().registration_key
}

/// The simulator's options for `app`: the two CIS level 1 results files, tag `sim`.
async fn options(app: &TestApp, machines: usize, seed: u64) -> Options {
    let xccdf = fixtures().join("xccdf");
    let mut options = Options::new(
        format!("http://{}", app.address),
        registration_key(app).await,
        machines,
        vec![
            xccdf.join("u2204-cis_l1_server.results.xml.gz"),
            xccdf.join("u2404-0.1.76-cis_l1_server.results.xml.gz"),
        ],
    );
    options.tags = vec!["sim".into()];
    options.seed = seed;
    // Two tasks: the first uploads of each version go whole, most later ones thin (and a test's
    // server, built for debugging, parses whole files slowly).
    options.concurrency = 2;
    options.poll_wait = 1;
    options.duration = Some(LIMIT.as_secs());
    options.no_progress = true;
    options
}

async fn computers(app: &TestApp) -> Vec<Value> {
    let answer = app.get("/api/v2/computers?limit=1000").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["results"].as_array().unwrap().clone()
}

/// Waits until `count` machines are registered.
async fn registered(app: &TestApp, count: usize) {
    let started = std::time::Instant::now();
    while computers(app).await.len() < count {
        assert!(started.elapsed() < LIMIT, "the machines never registered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one simulation over a fresh app stored: each machine's result text by host name.
struct Simulated {
    summary: Summary,
    stored: BTreeMap<String, String>,
}

/// Starts the simulator on a fresh app, runs a profile over its machines once, and waits for the
/// simulator to end.
async fn simulate(backend: Backend, seed: u64) -> Simulated {
    let app = spawn_app(backend).await;
    let simulator = tokio::spawn(fleet_sim::run(options(&app, MACHINES, seed).await));
    registered(&app, MACHINES).await;
    let profile = app
        .create_profile("Simulated", json!({"tags": ["sim"]}))
        .await;
    assert_eq!(profile["associated_instances"], MACHINES);
    let run = app
        .post_empty(&format!(
            "/api/v2/security-profiles/{}:execute",
            profile["id"]
        ))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    let summary = tokio::time::timeout(LIMIT, simulator)
        .await
        .expect("the simulation ends by itself")
        .unwrap()
        .expect("the simulation runs");

    let counts = app
        .get(&format!("/api/v2/security-profiles/{}", profile["id"]))
        .await
        .body["last_run_results"]
        .clone();
    assert_eq!(counts["not_started"], 0, "{counts}");
    assert_eq!(counts["in_progress"], 0, "{counts}");
    assert_eq!(
        counts["passing"].as_i64().unwrap() + counts["failing"].as_i64().unwrap(),
        MACHINES as i64,
        "{counts}"
    );

    let hostnames: BTreeMap<i64, String> = computers(&app)
        .await
        .iter()
        .map(|c| {
            let name = c["hostname"].as_str().unwrap().to_owned();
            (c["id"].as_i64().unwrap(), name)
        })
        .collect();
    let children = app
        .get(&format!(
            "/api/v2/activities?parent_id={}&limit=1000",
            run.body["id"]
        ))
        .await
        .body["results"]
        .as_array()
        .unwrap()
        .clone();
    let stored: BTreeMap<String, String> = children
        .iter()
        .map(|a| {
            assert_eq!(a["activity_status"], "succeeded", "{a}");
            let host = hostnames[&a["computer_id"].as_i64().unwrap()].clone();
            (host, a["result_text"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(stored.len(), MACHINES);
    assert!(stored.contains_key("sim-00001") && stored.contains_key("sim-00020"));
    Simulated { summary, stored }
}

async fn a_simulated_fleet_answers_a_run_and_stores_what_its_seed_chooses(backend: Backend) {
    // Three fleets on three servers at once: two with one seed, one with another.
    let (first, again, other) = tokio::join!(
        simulate(backend.clone(), 7),
        simulate(backend.clone(), 7),
        simulate(backend, 8)
    );
    let summary = &first.summary;
    assert_eq!(summary.machines, MACHINES as u64);
    assert_eq!(summary.uploads(), MACHINES as u64, "{summary}");
    assert_eq!((summary.errors, summary.refused), (0, 0), "{summary:?}");
    assert!(
        summary.whole_uploads >= 2,
        "a fresh server knows neither version: {summary}"
    );
    assert!(summary.thin_uploads >= 1, "{summary}");
    // A whole upload is about 0.5 MB compressed, a thin one about 17 KB.
    let all_whole = summary.uploads() * 400_000;
    assert!(summary.bytes_sent < all_whole, "{summary}");
    assert!(summary.latency_p50 > Duration::ZERO && summary.latency_p99 >= summary.latency_p50);
    let line = summary.to_string();
    assert!(
        line.contains("20 machines") && line.contains("uploads/s"),
        "{line}"
    );

    assert_eq!(
        again.stored, first.stored,
        "the same seed stores the same results"
    );
    let differing = first
        .stored
        .iter()
        .filter(|(host, text)| other.stored[*host] != **text)
        .count();
    assert!(differing >= 1, "{:?} vs {:?}", first.stored, other.stored);
    // Machines uploading the same file differ from one another too.
    let texts: std::collections::BTreeSet<&String> = first.stored.values().collect();
    assert!(texts.len() > 2, "{:?}", first.stored);
}

async fn a_simulated_fleet_carries_fix_restart_audit_runs_to_the_end(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.scheduler_interval_seconds = 1).await;
    let simulator = tokio::spawn(fleet_sim::run(options(&app, 4, 1).await));
    registered(&app, 4).await;
    let profile = app
        .create_profile(
            "Fix, restart, audit",
            json!({"tags": ["sim"], "mode": "fix-restart-audit", "restart_deliver_delay": 0}),
        )
        .await;
    let run = app
        .post_empty(&format!(
            "/api/v2/security-profiles/{}:execute",
            profile["id"]
        ))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    let summary = tokio::time::timeout(LIMIT, simulator)
        .await
        .expect("the simulation ends by itself")
        .unwrap()
        .unwrap();
    assert_eq!(summary.outcomes, 8, "a fix and a restart each: {summary}");
    assert_eq!(summary.uploads(), 4, "{summary}");
    assert_eq!(summary.errors, 0, "{summary:?}");
    let counts = app
        .get(&format!("/api/v2/security-profiles/{}", profile["id"]))
        .await
        .body["last_run_results"]
        .clone();
    assert_eq!(
        counts["passing"].as_i64().unwrap() + counts["failing"].as_i64().unwrap(),
        4,
        "{counts}"
    );
}

async fn a_wrong_registration_key_stops_the_simulation(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut options = options(&app, 3, 1).await;
    options.registration_key = rampart_server::config::Secret::new("not-the-key-of-any-account");
    let error = fleet_sim::run(options).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("InvalidRegistrationKey"), "{text}");
    assert!(computers(&app).await.is_empty());
}

async fn a_state_file_brings_the_same_machines_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fleet.json");
    let mut options = options(&app, 2, 1).await;
    options.state = Some(state.clone());
    // No run is due: each simulation just registers (or reads) its machines and polls a while.
    options.duration = Some(1);
    fleet_sim::run(options.clone()).await.unwrap();
    let first: Vec<i64> = computers(&app)
        .await
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(first.len(), 2);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&state).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the file holds the machines' secrets");

    options.instances = 3;
    let summary = fleet_sim::run(options).await.unwrap();
    assert_eq!(summary.machines, 3);
    assert_eq!((summary.errors, summary.refused), (0, 0), "{summary:?}");
    let hosts: Vec<String> = computers(&app)
        .await
        .iter()
        .map(|c| c["hostname"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hosts.len(), 3, "one more machine, the two kept: {hosts:?}");
    for host in ["sim-00001", "sim-00002", "sim-00003"] {
        assert!(hosts.iter().any(|h| h == host), "{hosts:?}");
    }
}

on_both_backends!(
    a_simulated_fleet_answers_a_run_and_stores_what_its_seed_chooses,
    a_simulated_fleet_carries_fix_restart_audit_runs_to_the_end,
    a_wrong_registration_key_stops_the_simulation,
    a_state_file_brings_the_same_machines_back,
);
