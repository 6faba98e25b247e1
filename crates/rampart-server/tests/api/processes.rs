//! Real `rampart serve` processes (the built binary), not servers inside the test process.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{email, Backend, FreshDatabase, PASSWORD};
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
    let created = rampart(&database)
        .args([
            "admin",
            "create-user",
            "--email",
            &email("mark"),
            "--password",
            PASSWORD,
        ])
        .status()
        .await
        .unwrap();
    assert!(created.success());
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
