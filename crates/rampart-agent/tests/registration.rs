//! Registration against a real server: the agent binary registers once, keeps its identity in
//! the state dir, and says clearly why it cannot when it cannot.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{identity, run_agent, Server};
use rampart_agent::client::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_creates_the_identity_file_and_the_computer() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let url = server.url();
    run_agent(&[
        "--server",
        &url,
        "--registration-key",
        &server.registration_key,
        "--account",
        "standalone",
        "--hostname",
        "web-01",
        "--tags",
        "web,db",
        "--state-dir",
        state.to_str().unwrap(),
        "--once",
    ])
    .await
    .assert_code(0);

    let file = state.join("identity.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "identity.json is readable by its owner only"
    );
    let identity = identity(&state);
    assert_eq!(identity.server, url);
    assert_eq!(identity.secret.len(), 64);

    let me = Client::new(&url)
        .unwrap()
        .authenticated(&identity)
        .me()
        .await
        .expect("the credentials are accepted");
    assert_eq!(me.computer_id, identity.computer_id);
    assert_eq!(me.hostname, "web-01");
    assert_eq!(me.account_id, server.account_id);

    let computers = server.computers().await;
    assert_eq!(computers.len(), 1);
    assert_eq!(computers[0].id, identity.computer_id);
    assert_eq!(computers[0].tags, ["db", "web"]);
    assert_eq!(
        computers[0].system_hostname,
        rampart_agent::host::os_hostname().unwrap(),
        "system_hostname is the OS host name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_reuses_the_identity_and_registers_no_second_computer() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap().to_owned();
    let url = server.url();
    let key = server.registration_key.clone();
    let args = ["--server", &url, "--state-dir", &state, "--once"];
    run_agent(&[&args[..], &["--registration-key", &key]].concat())
        .await
        .assert_code(0);
    let first = identity(dir.path());
    // Later starts need no key: the identity is enough.
    run_agent(&args).await.assert_code(0);
    run_agent(&[&args[..], &["--registration-key", &key]].concat())
        .await
        .assert_code(0);
    assert_eq!(identity(dir.path()), first);
    let computers = server.computers().await;
    assert_eq!(computers.len(), 1, "{computers:?}");
    assert!(
        computers[0].last_ping_time.is_some(),
        "the later starts authenticated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_registration_key_fails_clearly_and_leaves_no_identity() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = run_agent(&[
        "--server",
        &server.url(),
        "--registration-key",
        "not-the-key-of-any-account",
        "--state-dir",
        dir.path().to_str().unwrap(),
        "--once",
    ])
    .await;
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("the server refused to register this machine (401 InvalidRegistrationKey)"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("identity.json").exists());
    assert!(server.computers().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_without_a_key_says_how_to_register() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_agent(&[
        "--server",
        "http://127.0.0.1:9",
        "--state-dir",
        dir.path().to_str().unwrap(),
        "--once",
    ])
    .await;
    run.assert_code(1);
    assert!(run.stderr.contains("--registration-key"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_dir_registered_with_another_server_is_refused() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    run_agent(&[
        "--server",
        &server.url(),
        "--registration-key",
        &server.registration_key,
        "--state-dir",
        state,
        "--once",
    ])
    .await
    .assert_code(0);
    let before = identity(dir.path());
    let run = run_agent(&[
        "--server",
        "http://rampart.invalid",
        "--registration-key",
        &server.registration_key,
        "--state-dir",
        state,
        "--once",
    ])
    .await;
    run.assert_code(1);
    assert!(run.stderr.contains(&server.url()), "{}", run.stderr);
    assert!(run.stderr.contains("--state-dir"), "{}", run.stderr);
    assert_eq!(
        identity(dir.path()),
        before,
        "the identity is left as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_can_stand_in_for_the_flags() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let child = common::agent_command(&["--once"])
        .env("RAMPART_SERVER", server.url())
        .env("RAMPART_REGISTRATION_KEY", &server.registration_key)
        .env("RAMPART_STATE_DIR", dir.path())
        .spawn()
        .unwrap();
    common::finish(child).await.assert_code(0);
    assert_eq!(identity(dir.path()).server, server.url());
    assert_eq!(server.computers().await.len(), 1);
}

#[tokio::test]
async fn help_documents_every_flag_and_version_answers() {
    let help = common::run_stdout(&["--help"]).await;
    for flag in [
        "--server",
        "--registration-key",
        "--account",
        "--hostname",
        "--tags",
        "--access-group",
        "--state-dir",
        "--usg",
        "--oscap",
        "--oscap-datastream",
        "--restart-command",
        "--poll-wait",
        "--once",
        "RAMPART_SERVER",
        "RAMPART_REGISTRATION_KEY",
        "RAMPART_STATE_DIR",
        "/var/lib/rampart-agent",
        "systemctl reboot",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let version = common::run_stdout(&["--version"]).await;
    assert_eq!(
        version.trim(),
        format!("rampart-agent {}", env!("CARGO_PKG_VERSION"))
    );
}
