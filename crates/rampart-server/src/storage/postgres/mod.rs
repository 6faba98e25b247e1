//! The PostgreSQL backend, for fleets larger than one machine's disk and for several `rampart
//! serve` replicas. Check-then-write steps lock the row they depend on (`FOR UPDATE`), so
//! replicas cannot both pass a limit.
//!
//! Lock order. Every transaction takes its locks in this order, so none waits in a cycle:
//! 1. the account row (`accounts::lock_account`, `FOR NO KEY UPDATE`, which leaves the
//!    `FOR KEY SHARE` locks of inserts referencing the account free): taken first by every
//!    transaction that changes which computers a profile covers (registering, moving, retagging
//!    or deleting a computer; creating a profile or changing its tags, `all_computers` or access
//!    group; the coverage recount), so `covered_instances` is counted from committed data under
//!    READ COMMITTED. The ingest path (`results.rs`, `runs.rs`) never takes it;
//! 2. security profile rows;
//! 3. activities, by run then id;
//! 4. run instances;
//! 5. runs.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use super::*;

/// The condition under which profile `p` covers computer `c`: in the profile's access group or
/// below, and carrying one of its tags unless it covers all computers. `covered_by_profile!`
/// says the same for one profile, for a run's start: change both together.
macro_rules! covers {
    () => {
        "c.account_id = p.account_id AND c.deleted_time IS NULL AND c.access_group_id IN \
         (SELECT descendant_id FROM access_group_closure WHERE ancestor_id = p.access_group_id) \
         AND (p.all_computers OR EXISTS (SELECT 1 FROM computer_tags t WHERE t.computer_id = c.id \
         AND t.tag IN (SELECT jsonb_array_elements_text(p.tags::jsonb))))"
    };
}

/// `covers!` written for one profile, as common table expressions for a `WITH`: `p` (profile
/// `$profile`, its tags as an array), `groups` (its access group and those below) and `covered`
/// (the ids of the computers it covers, lowest first, at most `$limit`). The profile's groups
/// and tags are read once instead of once per computer, which is what a run's start needs
/// (`runs::start_run_in`: 8 → 2.4 ms at 1,000 machines). The two must say the same: `covers!`
/// counts a profile's `associated_instances`, this picks the machines of its runs
/// (`tests/storage.rs`, `a_run_gets_every_machine_its_profile_counts_and_no_other`, checks
/// they agree). Change one, change the other.
macro_rules! covered_by_profile {
    ($profile:literal, $limit:literal) => {
        concat!(
            "p AS (SELECT account_id, access_group_id, all_computers, \
               ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)) AS tags \
             FROM security_profiles WHERE id = ",
            $profile,
            "), \
             groups AS (SELECT g.descendant_id FROM access_group_closure g, p \
               WHERE g.ancestor_id = p.access_group_id), \
             covered AS (SELECT c.id FROM computers c, p \
               WHERE c.account_id = p.account_id AND c.deleted_time IS NULL \
               AND c.access_group_id IN (SELECT descendant_id FROM groups) \
               AND (p.all_computers OR c.id IN (SELECT t.computer_id FROM computer_tags t, p \
                 WHERE t.tag = ANY (p.tags))) \
               ORDER BY c.id LIMIT ",
            $limit,
            ")"
        )
    };
}

mod accounts;
mod blobs;
mod computers;
mod profiles;
mod reports;
mod results;
mod retention;
mod runs;
mod upload_writer;

/// Upload writer tasks ([`super::group_commit`]), each with a connection while it writes.
const UPLOAD_WRITERS: usize = 3;

pub struct PgStore {
    pool: PgPool,
    /// Uploads are recorded by `UPLOAD_WRITERS` writer tasks, several per transaction
    /// ([`super::group_commit`]).
    uploads: super::group_commit::GroupCommit,
}

impl PgStore {
    /// Connects to `postgres://…` and runs the migrations (replicas starting together are
    /// serialized by sqlx's migration lock).
    pub async fn open(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let uploads = super::group_commit::GroupCommit::start(
            upload_writer::UploadWriter {
                pool: pool.clone(),
                versions: Default::default(),
            },
            UPLOAD_WRITERS,
        );
        Ok(Self { pool, uploads })
    }
}

/// Ends a list query with its page. `OFFSET` is written only past the first page: with an
/// offset parameter PostgreSQL never settles on a generic plan for a prepared statement and
/// plans it again on every execution, which halved the profile list's requests per second under
/// load (BENCHMARKS.md, "API under load").
fn push_page(qb: &mut QueryBuilder<'_, Postgres>, limit: i64, offset: i64) {
    qb.push(" LIMIT ").push_bind(limit);
    if offset > 0 {
        qb.push(" OFFSET ").push_bind(offset);
    }
}

fn account(row: &PgRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        registration_key: row.try_get("registration_key")?,
    })
}

/// Turns a unique-constraint violation into `Conflict(message)`.
fn conflict(error: sqlx::Error, message: impl FnOnce() -> String) -> StorageError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(message()),
        _ => StorageError::Database(error),
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}
