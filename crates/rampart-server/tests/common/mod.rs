//! What every test binary shares: which database a test runs on, and a fresh database per test
//! (a temporary SQLite file, or a new PostgreSQL database dropped when the test ends).

#![allow(dead_code)] // each test binary uses a different part

/// The variable naming the PostgreSQL server tests create their databases on.
pub const POSTGRES_VAR: &str = "RAMPART_TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a server where the user may create databases.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `RAMPART_TEST_POSTGRES_URL` is set; otherwise says the test is skipped
    /// (and fails when `RAMPART_REQUIRE_POSTGRES` is set, as CI does).
    pub fn postgres(test: &str) -> Option<Self> {
        match std::env::var(POSTGRES_VAR) {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ => {
                assert!(
                    std::env::var_os("RAMPART_REQUIRE_POSTGRES").is_none(),
                    "RAMPART_REQUIRE_POSTGRES is set, so the PostgreSQL tests must run: set {POSTGRES_VAR}"
                );
                eprintln!(
                    "SKIPPED {test} on PostgreSQL: set {POSTGRES_VAR} \
                     (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run it"
                );
                None
            }
        }
    }
}

/// A database that exists for one test.
pub struct FreshDatabase {
    pub url: String,
    /// Holds the SQLite file (and serves as the data dir).
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl FreshDatabase {
    pub async fn new(backend: &Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.path().join("rampart.db").display()),
                dir,
                postgres: None,
            },
            Backend::Postgres(admin_url) => {
                use sqlx::Connection;
                let name = format!("rampart_test_{:016x}", rand::random::<u64>());
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("RAMPART_TEST_POSTGRES_URL must reach a PostgreSQL server");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let (base, _) = admin_url
                    .rsplit_once('/')
                    .expect("RAMPART_TEST_POSTGRES_URL ends with /DATABASE");
                Self {
                    url: format!("{base}/{name}"),
                    dir,
                    postgres: Some((admin_url.clone(), name)),
                }
            }
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop cannot await, and may run inside a runtime: drop the database from a thread of
        // its own, closing the test's remaining connections.
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

/// Runs one statement on the test database behind the store, as the tests that must reach past
/// the store do (to make a fault by hand).
pub async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

/// The shared fixtures folder (`shared/` beside the repository).
pub fn fixtures() -> std::path::PathBuf {
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    if beside.is_dir() {
        beside
    } else {
        std::path::PathBuf::from("/work/shared/fixtures")
    }
}
