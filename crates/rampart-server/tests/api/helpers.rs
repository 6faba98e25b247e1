//! `spawn_app()`: a real `rampart serve` on a random port with a fresh database (a temporary
//! SQLite file, or a new PostgreSQL database when `RAMPART_TEST_POSTGRES_URL` is set), a user
//! logged in, and a client.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use rampart_server::auth;
use rampart_server::config::{Secret, Settings};
use rampart_server::storage::{ProfileFilter, Store};
use serde_json::{json, Value};

pub use crate::common::{Backend, FreshDatabase};

/// Runs each named `async fn name(backend: Backend)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::common::Backend::postgres(stringify!($name)) {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub token: String,
    pub store: Arc<dyn Store>,
    pub account_id: i64,
    pub settings: Arc<Settings>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _database: FreshDatabase,
}

pub const PASSWORD: &str = "correct horse battery";

/// An email address for tests (`name` at an example domain).
pub fn email(name: &str) -> String {
    format!("{name}{}lumon.example", '@')
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the server with settings changed by `tune`.
pub async fn spawn_app_with(backend: Backend, tune: impl FnOnce(&mut Settings)) -> TestApp {
    // The server's log, shown for failing tests: `RAMPART_LOG=debug cargo test …`.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let database = FreshDatabase::new(&backend).await;
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: database.dir.path().to_owned(),
        database_url: Some(Secret::new(database.url.clone())),
        jwt_secret: Some(Secret::new("test-secret-test-secret-test-secret-0123")),
        ..Settings::default()
    };
    tune(&mut settings);
    let state = rampart_server::startup::prepare(settings)
        .await
        .expect("server prepares");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let store = state.store.clone();
    let settings = state.settings.clone();
    tokio::spawn(rampart_server::startup::serve(listener, state, async {
        let _ = rx.await;
    }));
    let account = store
        .ensure_account("standalone", Utc::now())
        .await
        .unwrap();
    let mut app = TestApp {
        address,
        client: reqwest::Client::new(),
        token: String::new(),
        store,
        account_id: account.id,
        settings,
        shutdown: Some(tx),
        _database: database,
    };
    app.add_user(&email("mark"), "Mark S", "standalone").await;
    app.token = app.login(&email("mark"), PASSWORD).await;
    app
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts the documented error body with `status` and `code`, and returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "status of {:?}", self.body);
        assert_eq!(self.body["error"], code, "code of {:?}", self.body);
        let message = self.body["message"].as_str().expect("message is a string");
        assert!(!message.is_empty());
        assert_eq!(
            self.body.as_object().unwrap().len(),
            2,
            "only error and message: {:?}",
            self.body
        );
        message.to_owned()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Creates a user in `account` (created when missing) with the test password.
    pub async fn add_user(&self, email: &str, name: &str, account: &str) -> i64 {
        let account = self
            .store
            .ensure_account(account, Utc::now())
            .await
            .unwrap();
        let hash = auth::hash_password(PASSWORD).unwrap();
        self.store
            .create_user(account.id, email, name, &hash, Utc::now())
            .await
            .unwrap()
            .id
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let answer = self
            .send(
                reqwest::Method::POST,
                "/api/v2/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body["token"].as_str().unwrap().to_owned()
    }

    /// Sends a request with `token` (or none) and a JSON body (or none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request reaches the server")).await
    }

    /// Sends raw bytes as the body, with the given content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body);
        answer(request.send().await.expect("request reaches the server")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, Some(&self.token), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(&self.token), Some(body))
            .await
    }

    pub async fn post_empty(&self, path: &str) -> Answer {
        self.send(reqwest::Method::POST, path, Some(&self.token), None)
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(&self.token), Some(body))
            .await
    }

    /// Creates a profile from `valid_profile(title)` merged with `overrides`; asserts 200.
    pub async fn create_profile(&self, title: &str, overrides: Value) -> Value {
        let mut body = valid_profile(title);
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = self.post("/api/v2/security-profiles", body).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body
    }

    /// Everything the profile endpoints can change in this app's account: its profiles (any
    /// status) and access groups.
    pub async fn snapshot(&self) -> String {
        let profiles = self
            .store
            .list_profiles(self.account_id, &ProfileFilter::default(), 10_000, 0)
            .await
            .unwrap();
        let groups = self.store.access_groups(self.account_id).await.unwrap();
        format!("{profiles:?}\n{groups:?}")
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A valid create body with a start date a year ahead.
pub fn valid_profile(title: &str) -> Value {
    json!({
        "benchmark": "cis_level1_server",
        "mode": "audit",
        "schedule": "RRULE:FREQ=WEEKLY",
        "title": title,
        "start_date": future_start(),
    })
}

/// A whole-hour start date about a year from now, as the API prints it.
pub fn future_start() -> String {
    let at = Utc::now() + chrono::Duration::days(365);
    at.format("%Y-%m-%dT%H:00:00Z").to_string()
}

/// A second server on the same database (and data dir) as an app: a replica.
pub struct Replica {
    /// Where the replica listens (tests talk to the first server; the replica competes for work).
    #[allow(dead_code)]
    pub address: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn spawn_replica(app: &TestApp) -> Replica {
    let settings = Settings::clone(&app.settings);
    let state = rampart_server::startup::prepare(settings)
        .await
        .expect("replica prepares");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(rampart_server::startup::serve(listener, state, async {
        let _ = rx.await;
    }));
    Replica {
        address,
        shutdown: Some(tx),
    }
}

/// An agent's identity, as registration answers it.
#[derive(Debug, Clone)]
pub struct AgentId {
    pub id: i64,
    pub secret: String,
}

impl TestApp {
    /// Registers a machine through the agent protocol. `system_hostname` is `vm`, the target the
    /// fixtures name.
    pub async fn register(&self, hostname: &str, tags: &[&str], group: &str) -> AgentId {
        let account = self
            .store
            .account_by_name("standalone")
            .await
            .unwrap()
            .unwrap();
        let answer = self
            .send(
                reqwest::Method::POST,
                "/agent/v1/register",
                None,
                Some(
                    json!({"registration_key": account.registration_key, "hostname": hostname,
                            "system_hostname": "vm", "tags": tags, "access_group": group}),
                ),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        AgentId {
            id: answer.body["computer_id"].as_i64().unwrap(),
            secret: answer.body["secret"].as_str().unwrap().to_owned(),
        }
    }

    /// A request with an agent's credentials.
    pub async fn as_agent(
        &self,
        agent: &AgentId,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path)).header(
            "authorization",
            format!("Agent {}:{}", agent.id, agent.secret),
        );
        if let Some(body) = body {
            request = request.body(body);
        }
        answer(request.send().await.expect("request reaches the server")).await
    }

    /// The agent's open activities (delivering them).
    pub async fn poll(&self, agent: &AgentId) -> Vec<Value> {
        let answer = self
            .as_agent(agent, reqwest::Method::GET, "/agent/v1/activities", None)
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body["activities"].as_array().unwrap().clone()
    }

    pub async fn upload(&self, agent: &AgentId, activity: i64, file: Vec<u8>) -> Answer {
        self.as_agent(
            agent,
            reqwest::Method::POST,
            &format!("/agent/v1/activities/{activity}/results"),
            Some(file),
        )
        .await
    }

    pub async fn outcome(
        &self,
        agent: &AgentId,
        activity: i64,
        status: &str,
        message: &str,
    ) -> Answer {
        let body = serde_json::to_vec(&json!({"status": status, "message": message})).unwrap();
        self.as_agent(
            agent,
            reqwest::Method::POST,
            &format!("/agent/v1/activities/{activity}/outcome"),
            Some(body),
        )
        .await
    }
}

pub use crate::common::fixtures;

/// A real results file from the fixtures, decompressed, with its dates moved to tomorrow so that
/// it is younger than any activity a test hands out.
pub fn fresh_results(name: &str) -> Vec<u8> {
    use std::io::Read;
    let raw = std::fs::read(fixtures().join("xccdf").join(name)).expect("fixture exists");
    let mut text = String::new();
    rampart_domain::xccdf::open_maybe_gzip(&raw[..], 1 << 30)
        .read_to_string(&mut text)
        .expect("fixture decompresses");
    let tomorrow = (Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT")
        .to_string();
    text.replace("2026-12-03T", &tomorrow).into_bytes()
}

impl TestApp {
    /// Waits (at most 20 s) for an activity to leave `in-progress`; answers it.
    pub async fn finished(&self, activity: i64) -> Value {
        for _ in 0..200 {
            let answer = self.get(&format!("/api/v2/activities/{activity}")).await;
            if answer.body["activity_status"] != "in-progress" {
                return answer.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("activity {activity} did not finish");
    }
}
