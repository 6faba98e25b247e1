//! Real `rampart serve` processes (the built binary), not servers inside the test process.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{email, fixtures, Backend, FreshDatabase, PASSWORD};
use crate::on_both_backends;

/// A `rampart` process, killed when dropped (the child is only held for that).
struct Process(#[allow(dead_code)] tokio::process::Child);

fn rampart(database: &FreshDatabase) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rampart"));
    command
        .env("RAMPART_DATABASE_URL", &database.url)
        .env("RAMPART_DATA_DIR", database.dir.path())
        .env(
            "RAMPART_JWT_SECRET",
            "process-test-secret-process-test-secret",
        )
        .env("RAMPART_SCHEDULER_INTERVAL_SECONDS", "1")
        .env("RAMPART_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Creates the user `name` (at the tests' domain, with the tests' password) through
/// `rampart admin create-user`.
async fn create_user(database: &FreshDatabase, name: &str) {
    let created = rampart(database)
        .args(["admin", "create-user", "--email", &email(name)])
        .args(["--password", PASSWORD])
        .status()
        .await
        .unwrap();
    assert!(created.success(), "rampart admin create-user failed");
}

async fn serve(database: &FreshDatabase) -> (Process, String) {
    let port = free_port();
    let child = rampart(database)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .spawn()
        .expect("rampart starts");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/api/v2/openapi.json"))
            .await
            .is_ok()
        {
            return (Process(child), base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rampart serve did not answer on {base}");
}

async fn a_scheduled_run_fires_once_with_two_server_processes_on_one_database(backend: Backend) {
    let database = FreshDatabase::new(&backend).await;
    create_user(&database, "mark").await;
    let (_one, first) = serve(&database).await;
    let (_two, second) = serve(&database).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{second}/api/v2/login"))
        .json(&json!({"email": email("mark"), "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"]
        .as_str()
        .expect("a token from the second process")
        .to_owned();
    let start = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let profile: Value = client
        .post(format!("{first}/api/v2/security-profiles"))
        .bearer_auth(&token)
        .json(&json!({"benchmark": "cis_level1_server", "mode": "audit",
                      "schedule": "RRULE:FREQ=WEEKLY", "title": "Two processes",
                      "start_date": start, "all_computers": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["next_run_time"], start.as_str(), "{profile}");
    // Both processes look for due runs every second; wait well past the start.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let runs: Value = client
        .get(format!("{second}/api/v2/activities?type=UsgActivity"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parents = runs["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["parent_id"].is_null())
        .count();
    assert_eq!(parents, 1, "exactly one run: {runs}");
}

on_both_backends!(a_scheduled_run_fires_once_with_two_server_processes_on_one_database);

/// Machines per server in the test below: enough for several uploads to share a batch on each
/// server at once, few enough for CI.
const PER_SERVER: i64 = 24;

/// Two `rampart serve` processes on one PostgreSQL database, each taking the uploads of half the
/// machines of one run (a `rampart fleet-sim` per server, concurrent, so that each server's
/// writer batches them and both write the same run's counters): every upload is stored once,
/// the counts are the machines', and no agent sees an error (a deadlock between the servers'
/// batches would reach it as a 500).
#[tokio::test]
async fn two_server_processes_store_every_upload_of_a_shared_run_once() {
    let Some(backend) =
        Backend::postgres("two_server_processes_store_every_upload_of_a_shared_run_once")
    else {
        return;
    };
    let database = FreshDatabase::new(&backend).await;
    create_user(&database, "helly").await;
    let key = rampart(&database)
        .args(["admin", "registration-key"])
        .stdout(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(key.status.success());
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    assert!(!key.is_empty());
    let (_one, first) = serve(&database).await;
    let (_two, second) = serve(&database).await;

    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{first}/api/v2/login"))
        .json(&json!({"email": email("helly"), "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("a token").to_owned();
    let profile: Value = client
        .post(format!("{first}/api/v2/security-profiles"))
        .bearer_auth(&token)
        .json(&json!({"benchmark": "cis_level1_server", "mode": "audit",
                      "schedule": "RRULE:FREQ=WEEKLY", "title": "Shared run",
                      "start_date": "2099-01-05T02:00:00Z", "tags": ["shared"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = profile["id"].as_i64().expect("a profile id");

    let results = fixtures().join("xccdf/u2204-cis_l1_server.results.xml.gz");
    let sims: Vec<_> = [(&first, "1"), (&second, "2")]
        .into_iter()
        .map(|(server, seed)| {
            rampart(&database)
                .args(["fleet-sim", "--server", server, "--registration-key", &key])
                .args(["--instances", &PER_SERVER.to_string(), "--results"])
                .arg(&results)
                .args(["--tags", "shared", "--concurrency", "12", "--seed", seed])
                .args([
                    "--runs",
                    "1",
                    "--duration",
                    "120",
                    "--poll-wait",
                    "2",
                    "--no-progress",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("fleet-sim starts")
        })
        .collect();
    let get = |path: String| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let answer = client.get(path).bearer_auth(token).send().await.unwrap();
            assert_eq!(answer.status(), 200);
            answer.json::<Value>().await.unwrap()
        }
    };
    let mut registered = false;
    for _ in 0..300 {
        let p = get(format!("{second}/api/v2/security-profiles/{id}")).await;
        if p["associated_instances"] == 2 * PER_SERVER {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(registered, "every simulated machine registered");
    let started = client
        .post(format!("{first}/api/v2/security-profiles/{id}:execute"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);

    for sim in sims {
        let out = tokio::time::timeout(Duration::from_secs(150), sim.wait_with_output())
            .await
            .expect("fleet-sim ends within its duration")
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stdout}\n{stderr}");
        let closing = stdout.lines().last().unwrap_or_default();
        assert!(
            closing.contains(&format!("· {PER_SERVER} uploads "))
                && closing.contains("· 0 errors (0 refused)"),
            "every machine uploaded once and no agent saw an error: {closing}\n{stderr}"
        );
    }

    let p = get(format!("{second}/api/v2/security-profiles/{id}")).await;
    let last = &p["last_run_results"];
    assert_eq!(
        last["passing"].as_i64().unwrap() + last["failing"].as_i64().unwrap(),
        2 * PER_SERVER,
        "{p}"
    );
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let one = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(one("SELECT count(*) FROM runs").await, 1);
    assert_eq!(one("SELECT count(*) FROM audits").await, 2 * PER_SERVER);
    assert_eq!(
        one("SELECT count(DISTINCT computer_id) FROM audits").await,
        2 * PER_SERVER
    );
    assert_eq!(
        one(
            "SELECT count(*) FROM runs WHERE instances = passing + failing \
             AND not_started = 0 AND in_progress = 0"
        )
        .await,
        1,
        "the run's counters are its machines'"
    );
    assert_eq!(
        one("SELECT count(*) FROM run_instances WHERE state IN (2, 3) AND audit_id IS NOT NULL")
            .await,
        2 * PER_SERVER
    );
    // Each audit's rule rows are its own counts, none stored twice nor missing.
    assert_eq!(
        one("SELECT count(*) FROM rule_results").await,
        one("SELECT sum(passing_rules + failing_rules + other_rules)::int8 FROM audits").await
    );
    assert_eq!(one("SELECT count(*) FROM benchmark_versions").await, 1);
    assert_eq!(
        one("SELECT count(*) FROM activities WHERE parent_id IS NOT NULL AND status = 'succeeded'")
            .await,
        2 * PER_SERVER
    );
    assert_eq!(
        one("SELECT count(*) FROM activities WHERE parent_id IS NULL AND status = 'succeeded'")
            .await,
        1,
        "the run ended once"
    );
    pool.close().await;
}

/// A burst of failed logins — no token needed — must not leave the server holding memory: each
/// password check fills 19 MiB, and when every check allocated its own, 1,400 failed logins left
/// a server at 465 MB resident. What must not happen: a peak past 100 MB and 40 MB a core
/// (one check per core at a time, two checks' memory kept per core); what must: every login
/// refused, the right password still let in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failed_logins_leaves_the_servers_memory_bounded() {
    let database = FreshDatabase::new(&Backend::Sqlite).await;
    create_user(&database, "mark").await;
    let (server, base) = serve(&database).await;
    let pid = server.0.id().expect("the server runs");
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        let request = client
            .post(format!("{base}/api/v2/login"))
            .json(&json!({"email": email("mark"), "password": password}));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..64 {
        burst.spawn(login("a wrong password"));
    }
    while let Some(status) = burst.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    assert_eq!(login(PASSWORD).await, 200);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    // The server runs one check per core and keeps up to two checks' memory per core.
    let cores = rampart_server::cores() as u64;
    let bound_kb = (100 + 2 * 20 * cores) * 1024;
    assert!(
        peak_kb < bound_kb,
        "the server peaked at {} MB after 64 failed logins (bound {} MB)",
        peak_kb / 1024,
        bound_kb / 1024
    );
}
