//! The agent as a daemon against a real server: it picks up new activities as they come, rides
//! out a server outage, and stops cleanly on SIGTERM.

mod common;

use std::time::Duration;

use common::{agent_command, fake_usg, finish, identity, results_of_now, run_agent, Server};

/// Registers a machine in a new temporary folder; returns the folder and the computer's id.
async fn register(server: &Server) -> (tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().unwrap();
    run_agent(&[
        "--server",
        &server.url(),
        "--registration-key",
        &server.registration_key,
        "--state-dir",
        dir.path().join("state").to_str().unwrap(),
        "--once",
    ])
    .await
    .assert_code(0);
    let id = identity(&dir.path().join("state")).computer_id;
    (dir, id)
}

/// Starts the daemon (long polls of one second) with a fake usg.
fn daemon(server_url: &str, dir: &std::path::Path) -> tokio::process::Child {
    let tools = dir.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let usg = fake_usg(&tools, &results_of_now(dir));
    agent_command(&[
        "--server",
        server_url,
        "--state-dir",
        dir.join("state").to_str().unwrap(),
        "--usg",
        usg.to_str().unwrap(),
        "--poll-wait",
        "1",
    ])
    .spawn()
    .unwrap()
}

/// Waits until the machine's audit has `status` (at most a minute).
async fn wait_for_audit(server: &Server, token: &str, computer_id: i64, status: &str) {
    for _ in 0..120 {
        let activities = server.activities_of(token, computer_id).await;
        if activities
            .iter()
            .any(|a| a["type"] == "UsgActivity" && a["activity_status"] == status)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the audit of computer {computer_id} never became {status}");
}

fn terminate(child: &tokio::process::Child) {
    let pid = child.id().expect("the agent is running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_carries_out_new_activities_and_stops_on_sigterm() {
    let server = Server::start().await;
    let token = server.token().await;
    let (dir, computer_id) = register(&server).await;
    let agent = daemon(&server.url(), dir.path());
    // The activity comes while the daemon is already polling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.run_profile(&token, "audit").await;
    wait_for_audit(&server, &token, computer_id, "succeeded").await;

    terminate(&agent);
    let run = tokio::time::timeout(Duration::from_secs(10), finish(agent))
        .await
        .expect("the daemon stops promptly on SIGTERM");
    run.assert_code(0);
    assert!(run.stderr.contains("SIGTERM: stopping"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_rides_out_a_server_outage() {
    let mut server = Server::start().await;
    let token = server.token().await;
    let (dir, computer_id) = register(&server).await;
    server.stop().await;
    let mut agent = daemon(&server.url(), dir.path());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        agent.try_wait().unwrap().is_none(),
        "the daemon keeps running while the server is away"
    );

    server.restart().await;
    server.run_profile(&token, "audit").await;
    wait_for_audit(&server, &token, computer_id, "succeeded").await;
    terminate(&agent);
    let run = finish(agent).await;
    run.assert_code(0);
    assert!(run.stderr.contains("trying again in"), "{}", run.stderr);
}
