//! Carrying out activities against a real server: a profile is run through the user API
//! (`POST /api/v2/security-profiles/<id>:execute`), the agent binary fetches the machine's
//! activity, runs a fake `usg` that produces the real results fixture, and answers; the
//! activity's status is read back through `/api/v2/activities`.

mod common;

use std::path::Path;

use common::{
    agent_command, fake_usg, fake_usg_with, finish, identity, names_in, results_fixture,
    results_of_now, run_agent, script, wait_for_file, Server,
};
use serde_json::Value;

/// A registered agent's state dir and the computer's id.
struct Machine {
    dir: tempfile::TempDir,
    computer_id: i64,
}

impl Machine {
    async fn register(server: &Server) -> Self {
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
        let computer_id = identity(&dir.path().join("state")).computer_id;
        Self { dir, computer_id }
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    fn tools(&self) -> std::path::PathBuf {
        let tools = self.dir.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        tools
    }

    /// `--once` arguments, with `extra`.
    fn args<'a>(&'a self, server: &'a str, extra: &[&'a str]) -> Vec<String> {
        let mut args = vec![
            "--server".to_owned(),
            server.to_owned(),
            "--state-dir".into(),
            self.state().display().to_string(),
            "--once".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The machine's only activity of `kind`.
fn only<'a>(activities: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = activities.iter().filter(|a| a["type"] == kind).collect();
    assert_eq!(found.len(), 1, "{activities:#?}");
    found[0]
}

fn recorded_args(usg: &Path) -> Vec<String> {
    std::fs::read_to_string(format!("{}.args", usg.display()))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_is_answered_with_the_results_file() {
    let server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    server.run_profile(&token, "audit").await;
    let usg = fake_usg(&machine.tools(), &results_of_now(machine.dir.path()));

    let url = server.url();
    let args = machine.args(&url, &["--usg", usg.to_str().unwrap()]);
    run_agent(&strs(&args)).await.assert_code(0);

    let args = recorded_args(&usg);
    assert_eq!(args[..2], ["audit", "cis_level1_server"], "{args:?}");
    assert_eq!(args[2], "--results-file");
    let activities = server.activities_of(&token, machine.computer_id).await;
    let audit = only(&activities, "UsgActivity");
    assert_eq!(audit["activity_status"], "succeeded", "{audit:#}");
    assert_eq!(audit["result_code"], 0);
    assert!(names_in(&machine.state().join("spool")).is_empty());

    // The activity is answered: the next run has nothing to do.
    let args = machine.args(&url, &["--usg", usg.to_str().unwrap()]);
    run_agent(&strs(&args)).await.assert_code(0);
    assert_eq!(recorded_args(&usg).len(), 4, "usg ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_wait_in_the_spool_while_the_server_is_down_and_a_later_run_delivers_them() {
    let mut server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    server.run_profile(&token, "audit").await;
    let tools = machine.tools();
    let started = tools.join("usg.started");
    let go = tools.join("usg.go");
    // The audit holds until the test has stopped the server.
    let usg = fake_usg_with(
        &tools,
        &results_of_now(machine.dir.path()),
        &format!(
            "touch '{}'\nwhile [ ! -e '{}' ]; do sleep 0.1; done",
            started.display(),
            go.display()
        ),
    );
    let url = server.url();
    let args = machine.args(&url, &["--usg", usg.to_str().unwrap()]);
    let agent = agent_command(&strs(&args)).spawn().unwrap();
    wait_for_file(&started).await;
    server.stop().await;
    std::fs::write(&go, b"").unwrap();
    let run = finish(agent).await;
    run.assert_code(1);
    assert!(
        run.stderr.contains("could not be delivered"),
        "{}",
        run.stderr
    );
    let spooled = names_in(&machine.state().join("spool"));
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    assert!(spooled[0].ends_with(".xml.gz"), "{spooled:?}");

    // Still down: the file stays.
    run_agent(&strs(
        &machine.args(&url, &["--usg", usg.to_str().unwrap()]),
    ))
    .await
    .assert_code(1);
    assert_eq!(names_in(&machine.state().join("spool")), spooled);

    server.restart().await;
    run_agent(&strs(
        &machine.args(&url, &["--usg", usg.to_str().unwrap()]),
    ))
    .await
    .assert_code(0);
    assert!(names_in(&machine.state().join("spool")).is_empty());
    let activities = server.activities_of(&token, machine.computer_id).await;
    let audit = only(&activities, "UsgActivity");
    assert_eq!(audit["activity_status"], "succeeded", "{audit:#}");
    assert_eq!(recorded_args(&usg).len(), 4, "the audit ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_cannot_be_delivered_does_not_hold_up_the_others() {
    let server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    // A spool entry that can never be read, older than anything the run will add.
    std::fs::create_dir_all(machine.state().join("spool/1.xml.gz")).unwrap();
    server.run_profile(&token, "audit").await;
    let usg = fake_usg(&machine.tools(), &results_of_now(machine.dir.path()));
    let url = server.url();
    let run = run_agent(&strs(
        &machine.args(&url, &["--usg", usg.to_str().unwrap()]),
    ))
    .await;
    run.assert_code(1);
    let activities = server.activities_of(&token, machine.computer_id).await;
    let audit = only(&activities, "UsgActivity");
    assert_eq!(audit["activity_status"], "succeeded", "{audit:#}");
    assert_eq!(
        names_in(&machine.state().join("spool")),
        ["1.xml.gz"],
        "only the unreadable entry is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_with_neither_tool_reports_the_activity_failed() {
    let server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    server.run_profile(&token, "audit").await;
    if Path::new("/usr/sbin/usg").exists() {
        eprintln!("SKIPPED: /usr/sbin/usg exists on this machine");
        return;
    }
    let missing = machine.dir.path().join("no-usg-here");
    let url = server.url();
    let args = machine.args(&url, &["--usg", missing.to_str().unwrap()]);
    run_agent(&strs(&args)).await.assert_code(0);
    let activities = server.activities_of(&token, machine.computer_id).await;
    let audit = only(&activities, "UsgActivity");
    assert_eq!(audit["activity_status"], "failed", "{audit:#}");
    assert_eq!(audit["result_code"], 1);
    let text = audit["result_text"].as_str().unwrap_or_default();
    assert!(
        text.contains("neither usg nor oscap with a data stream is available on this machine"),
        "{audit:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_the_server_refuses_are_reported_as_a_failure_with_its_message() {
    let server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    server.run_profile(&token, "audit").await;
    // The fixture as it is: an audit of earlier today, before this activity was handed out.
    let usg = fake_usg(&machine.tools(), &results_fixture());
    let url = server.url();
    let args = machine.args(&url, &["--usg", usg.to_str().unwrap()]);
    let run = run_agent(&strs(&args)).await;
    run.assert_code(0);
    assert!(names_in(&machine.state().join("spool")).is_empty());
    let activities = server.activities_of(&token, machine.computer_id).await;
    let audit = only(&activities, "UsgActivity");
    assert_eq!(audit["activity_status"], "failed", "{audit:#}");
    let text = audit["result_text"].as_str().unwrap_or_default();
    assert!(
        !text.is_empty(),
        "the server's message is the outcome's: {audit:#}"
    );
    assert!(run.stderr.contains(text), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_then_restart_then_audit_goes_through_a_restart_of_the_agent() {
    let server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    server.run_profile(&token, "fix-restart-audit").await;
    let tools = machine.tools();
    let usg = fake_usg(&tools, &results_of_now(machine.dir.path()));
    let restarted = tools.join("restarted");
    let restart = script(
        &tools,
        "restart",
        &format!("touch '{}'", restarted.display()),
    );
    let url = server.url();
    let args = machine.args(
        &url,
        &[
            "--usg",
            usg.to_str().unwrap(),
            "--restart-command",
            restart.to_str().unwrap(),
        ],
    );

    // The fix; its success schedules the restart (after a delay of 0 hours).
    run_agent(&strs(&args)).await.assert_code(0);
    assert_eq!(recorded_args(&usg), ["fix", "cis_level1_server"]);
    server
        .store
        .release_scheduled(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();

    // The restart: the command runs, and the marker waits for the next start.
    run_agent(&strs(&args)).await.assert_code(0);
    assert!(restarted.exists(), "the restart command ran");
    let markers: Vec<String> = names_in(&machine.state())
        .into_iter()
        .filter(|n| n.starts_with("restart-"))
        .collect();
    assert_eq!(markers.len(), 1, "{markers:?}");
    let activities = server.activities_of(&token, machine.computer_id).await;
    let request = only(&activities, "RestartRequest");
    assert_eq!(request["activity_status"], "delivered", "{request:#}");

    // The agent starts again: it reports the restart, then runs the audit that follows it.
    run_agent(&strs(&args)).await.assert_code(0);
    assert!(!machine.state().join(&markers[0]).exists());
    let activities = server.activities_of(&token, machine.computer_id).await;
    let request = only(&activities, "RestartRequest");
    assert_eq!(request["activity_status"], "succeeded", "{request:#}");
    let statuses: Vec<&Value> = activities
        .iter()
        .filter(|a| a["type"] == "UsgActivity")
        .map(|a| &a["activity_status"])
        .collect();
    assert_eq!(statuses, ["succeeded", "succeeded"], "{activities:#?}");
    let ran = recorded_args(&usg);
    assert_eq!(ran[2..4], ["audit", "cis_level1_server"], "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_the_server_will_never_take_are_dropped_from_the_spool() {
    let server = Server::start().await;
    let token = server.token().await;
    let machine = Machine::register(&server).await;
    server.run_profile(&token, "audit").await;
    let missing = machine.dir.path().join("no-usg-here");
    let url = server.url();
    let args = machine.args(&url, &["--usg", missing.to_str().unwrap()]);
    run_agent(&strs(&args)).await.assert_code(0);
    let activities = server.activities_of(&token, machine.computer_id).await;
    let audit = only(&activities, "UsgActivity");
    assert_eq!(audit["activity_status"], "failed", "{audit:#}");
    let id = audit["id"].as_i64().unwrap();

    // Results for the activity answered already (409), and for one that does not exist (404).
    let spool = rampart_agent::spool::Spool::open(&machine.state()).unwrap();
    let results = std::fs::read(results_of_now(machine.dir.path())).unwrap();
    spool.put_results(id, &results).unwrap();
    spool.put_results(id + 1000, &results).unwrap();
    let run = run_agent(&strs(&args)).await;
    run.assert_code(0);
    assert!(spool.is_empty().unwrap());
    assert!(run.stderr.contains("results not taken"), "{}", run.stderr);
    let activities = server.activities_of(&token, machine.computer_id).await;
    assert_eq!(
        only(&activities, "UsgActivity")["activity_status"],
        "failed"
    );
}
