//! What the agent's integration tests share: a real `rampart serve` started in-process on
//! 127.0.0.1:0 with a fresh SQLite file (as the server's own API tests do), the agent binary run
//! as a child process, fake `usg` executables, and the real results fixture made to fit the test
//! machine.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rampart_server::config::{Secret, Settings};
use rampart_server::storage::Store;
use serde_json::{json, Value};

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

/// The real `oscap` results of a CIS level 1 server audit of Ubuntu 22.04 (target `vm`).
pub fn results_fixture() -> PathBuf {
    fixtures().join("xccdf/u2204-cis_l1_server.results.xml.gz")
}

/// The results fixture as this machine would produce it now: its target renamed to this
/// machine's host name and its times moved to now (the server refuses results of another
/// machine, or from before the activity was handed out). Written gzip-compressed into `dir`.
pub fn results_of_now(dir: &Path) -> PathBuf {
    use std::io::{Read, Write};
    let mut xml = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(results_fixture()).unwrap())
        .read_to_string(&mut xml)
        .unwrap();
    let start = xml
        .find("<TestResult ")
        .expect("the fixture has a TestResult");
    let end = start + xml[start..].find('>').unwrap();
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let mut tag = xml[start..end].to_owned();
    for attribute in ["start-time=\"", "end-time=\""] {
        let at = tag.find(attribute).unwrap() + attribute.len();
        let close = at + tag[at..].find('"').unwrap();
        tag.replace_range(at..close, &now);
    }
    xml.replace_range(start..end, &tag);
    let hostname = rampart_agent::host::os_hostname().unwrap();
    let xml = xml.replacen(
        "<target>vm</target>",
        &format!("<target>{hostname}</target>"),
        1,
    );
    let path = dir.join("results-of-now.xml.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(xml.as_bytes()).unwrap();
    encoder.finish().unwrap();
    path
}

/// Writes an executable shell script `dir/name` with `body` after the shebang.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A fake `usg` that records its arguments in `<path>.args`, copies `results` to the path after
/// `--results-file` (when there is one) and exits 0.
pub fn fake_usg(dir: &Path, results: &Path) -> PathBuf {
    fake_usg_with(dir, results, "")
}

/// [`fake_usg`] running `before_copy` (shell) first.
pub fn fake_usg_with(dir: &Path, results: &Path, before_copy: &str) -> PathBuf {
    script(
        dir,
        "usg",
        &format!(
            "printf '%s\\n' \"$@\" >> \"$0.args\"\n\
             out=\n\
             prev=\n\
             for arg in \"$@\"; do\n\
             \x20 [ \"$prev\" = --results-file ] && out=$arg\n\
             \x20 prev=$arg\n\
             done\n\
             {before_copy}\n\
             [ -n \"$out\" ] && cp '{}' \"$out\"\n\
             exit 0\n",
            results.display()
        ),
    )
}

/// A real server on 127.0.0.1 with a fresh SQLite database and the `standalone` account.
pub struct Server {
    pub address: SocketAddr,
    pub store: Arc<dyn Store>,
    pub registration_key: String,
    pub account_id: i64,
    settings: Settings,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

struct Running {
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            database_url: Some(Secret::new(format!(
                "sqlite://{}",
                dir.path().join("rampart.db").display()
            ))),
            jwt_secret: Some(Secret::new("test-secret-test-secret-test-secret-0123")),
            ..Settings::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (store, running) = serve(settings.clone(), listener).await;
        let account = store
            .ensure_account("standalone", Utc::now())
            .await
            .unwrap();
        Self {
            address,
            store,
            registration_key: account.registration_key,
            account_id: account.id,
            settings,
            running: Some(running),
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the server: from now on, connections are refused.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
            tokio::time::timeout(Duration::from_secs(30), running.task)
                .await
                .expect("the server stops")
                .unwrap()
                .unwrap();
        }
    }

    /// Starts the server again on the same address and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
        let (store, running) = serve(self.settings.clone(), listener).await;
        self.store = store;
        self.running = Some(running);
    }

    /// The account's computers, by id.
    pub async fn computers(&self) -> Vec<rampart_server::storage::ComputerRecord> {
        let query = rampart_domain::computer_query::ComputerQuery::parse("").unwrap();
        self.store
            .list_computers(self.account_id, &query, 1000, 0)
            .await
            .unwrap()
            .results
    }

    /// A user's token in the account, for the `/api/v2` calls.
    pub async fn token(&self) -> String {
        let email = format!("helly{}lumon.example", '@');
        let password = "correct horse battery";
        let hash = rampart_server::auth::hash_password(password).unwrap();
        let _ = self
            .store
            .create_user(self.account_id, &email, "Helly R", &hash, Utc::now())
            .await;
        let answer = self
            .api(
                reqwest::Method::POST,
                "/api/v2/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// Calls the user API; panics unless the answer is 200.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// Creates a profile covering every computer in `mode` and runs it now; returns the run's
    /// parent activity id.
    pub async fn run_profile(&self, token: &str, mode: &str) -> i64 {
        let start = (Utc::now() + chrono::Duration::days(365))
            .format("%Y-%m-%dT%H:00:00Z")
            .to_string();
        let profile = self
            .api(
                reqwest::Method::POST,
                "/api/v2/security-profiles",
                Some(token),
                Some(json!({
                    "benchmark": "cis_level1_server",
                    "mode": mode,
                    "schedule": "RRULE:FREQ=WEEKLY",
                    "title": format!("Agent test {mode}"),
                    "start_date": start,
                    "all_computers": true,
                    "restart_deliver_delay": 0,
                })),
            )
            .await;
        let id = profile["id"].as_i64().expect("a profile id");
        let run = self
            .api(
                reqwest::Method::POST,
                &format!("/api/v2/security-profiles/{id}:execute"),
                Some(token),
                None,
            )
            .await;
        run["id"].as_i64().expect("the run's activity id")
    }

    /// The machine activities of `computer_id`, oldest first.
    pub async fn activities_of(&self, token: &str, computer_id: i64) -> Vec<Value> {
        let list = self
            .api(
                reqwest::Method::GET,
                &format!("/api/v2/activities?computer_id={computer_id}"),
                Some(token),
                None,
            )
            .await;
        list["results"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
        }
    }
}

async fn serve(settings: Settings, listener: tokio::net::TcpListener) -> (Arc<dyn Store>, Running) {
    let state = rampart_server::startup::prepare(settings)
        .await
        .expect("the server prepares");
    let store = state.store.clone();
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(rampart_server::startup::serve(listener, state, async {
        let _ = rx.await;
    }));
    (store, Running { shutdown, task })
}

/// How one run of the agent binary ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "agent stderr:\n{}", self.stderr);
        self
    }
}

/// The agent binary with `args`, its environment free of `RAMPART_*` variables.
pub fn agent_command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rampart-agent"));
    command
        .args(args)
        .env_remove("RAMPART_SERVER")
        .env_remove("RAMPART_REGISTRATION_KEY")
        .env_remove("RAMPART_STATE_DIR")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs the agent binary with `args` to its end (at most two minutes).
pub async fn run_agent(args: &[&str]) -> Run {
    let child = agent_command(args).spawn().expect("the agent starts");
    finish(child).await
}

/// Waits for an agent started with [`agent_command`] to end (at most two minutes).
pub async fn finish(child: tokio::process::Child) -> Run {
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the agent ends within two minutes")
        .unwrap();
    Run {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits until `path` exists (at most a minute).
pub async fn wait_for_file(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not appear", path.display());
}

/// The identity the agent keeps in `state_dir`.
pub fn identity(state_dir: &Path) -> rampart_agent::identity::Identity {
    let bytes = std::fs::read(state_dir.join("identity.json")).expect("identity.json exists");
    serde_json::from_slice(&bytes).unwrap()
}

/// The names in `dir`, sorted (empty when it does not exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What the agent binary prints on stdout with `args` (for `--help` and `--version`).
pub async fn run_stdout(args: &[&str]) -> String {
    let output = agent_command(args).output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}
