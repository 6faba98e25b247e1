//! The SQLite backend: one file under the data dir, WAL mode. Times are stored as Unix seconds.
//! Write transactions start with `BEGIN IMMEDIATE`, so a check-then-write (the active-profile
//! limit, a free profile name) cannot interleave with another writer. Writers of this process
//! queue on an in-process lock before they take SQLite's: they wait their turn in order instead
//! of sleeping in SQLite's busy handler, and hold no pooled connection while they wait, so reads
//! keep theirs. Uploads are recorded by one writer task, several per transaction
//! ([`super::group_commit`]).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::*;

/// The condition under which profile `p` covers computer `c`: in the profile's access group or
/// below, and carrying one of its tags unless it covers all computers.
macro_rules! covers {
    () => {
        "c.account_id = p.account_id AND c.deleted_time IS NULL AND c.access_group_id IN \
         (SELECT descendant_id FROM access_group_closure WHERE ancestor_id = p.access_group_id) \
         AND (p.all_computers OR EXISTS (SELECT 1 FROM computer_tags t \
         JOIN json_each(p.tags) j ON t.tag = j.value WHERE t.computer_id = c.id))"
    };
}

mod accounts;
mod blob_writer;
mod blobs;
mod computers;
mod profiles;
mod reports;
mod results;
mod retention;
mod runs;

pub struct SqliteStore {
    pool: SqlitePool,
    /// Held for the whole of every write transaction of this process.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    uploads: super::group_commit::GroupCommit,
    /// Where blobs are kept: `blobs/` beside the database file.
    blob_dir: std::path::PathBuf,
    /// Holds the blob directory of an in-memory database until the store is dropped.
    _scratch: Option<tempfile::TempDir>,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (created when missing) and runs the migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let (blob_dir, scratch) = match options.get_filename() {
            name if name.as_os_str().is_empty() || name == std::path::Path::new(":memory:") => {
                let scratch = tempfile::tempdir().map_err(sqlx::Error::Io)?;
                (scratch.path().join("blobs"), Some(scratch))
            }
            name => (
                name.parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("blobs"),
                None,
            ),
        };
        let write_lock = Arc::new(tokio::sync::Mutex::new(()));
        let uploads = super::group_commit::GroupCommit::start(
            results::UploadWriter {
                pool: pool.clone(),
                write_lock: write_lock.clone(),
                versions: Default::default(),
            },
            1,
        );
        Ok(Self {
            pool,
            write_lock,
            uploads,
            blob_dir,
            _scratch: scratch,
        })
    }

    async fn write(&self) -> Result<WriteTx> {
        WriteTx::begin(&self.pool, &self.write_lock).await
    }
}

/// A write transaction, holding the process's write lock until it ends.
pub(super) struct WriteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    async fn begin(pool: &SqlitePool, lock: &Arc<tokio::sync::Mutex<()>>) -> Result<Self> {
        let turn = lock.clone().lock_owned().await;
        let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Self { tx, _turn: turn })
    }

    async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

pub(super) fn secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>> {
    let secs: i64 = row.try_get(column)?;
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| StorageError::Corrupt(format!("{column}: {secs} is out of range")))
}

fn optional_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    let secs: Option<i64> = row.try_get(column)?;
    secs.map(|secs| {
        DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| StorageError::Corrupt(format!("{column}: {secs} is out of range")))
    })
    .transpose()
}

fn account(row: &SqliteRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        registration_key: row.try_get("registration_key")?,
    })
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
