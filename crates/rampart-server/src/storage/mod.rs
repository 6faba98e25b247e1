//! Storage: the `Store` trait the HTTP layer and the admin commands use, its record types, and one
//! implementation per backend (`sqlite`, `postgres`). Errors here are typed (`StorageError`); the
//! HTTP layer maps them to API errors.
//!
//! Every method that changes data runs in one transaction: a failed call changes nothing.

mod encoding;
mod group_commit;
#[macro_use]
mod sql;
mod postgres;
mod records;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_domain::computer_query::ComputerQuery;

pub use encoding::free_name;
pub(crate) use encoding::*;
pub use postgres::PgStore;
pub use records::*;
pub use sqlite::SqliteStore;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the message says which.
    #[error("{0}")]
    Conflict(String),
    /// The account already has `limit` active profiles.
    #[error("the account already has {limit} active security profiles")]
    ActiveProfileLimit { limit: i64 },
    /// The profile is archived and can no longer change.
    #[error("the security profile is archived")]
    Archived,
    /// A named access group does not exist in the account.
    #[error("access group `{0}` does not exist")]
    UnknownAccessGroup(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A file of the blob store (beside a SQLite database) could not be read or written.
    #[error("file storage error: {0}")]
    Files(std::io::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A task the store hands work to has stopped (the upload writer): the call failed, and
    /// says nothing of the stored data.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// The input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The database URL names no supported backend.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything rampart keeps in its database: one implementation per backend.
pub trait Store:
    Accounts + Profiles + Computers + Runs + Reports + Blobs + Send + Sync + 'static
{
    /// The backend's name for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Accounts, users and access groups.
#[async_trait]
pub trait Accounts {
    /// The account named `name`, created with its `global` access group and a fresh
    /// registration key when missing.
    async fn ensure_account(&self, name: &str, now: DateTime<Utc>) -> Result<Account>;
    async fn account_by_name(&self, name: &str) -> Result<Option<Account>>;

    /// Creates a user in the account. `Conflict` when the email is taken.
    async fn create_user(
        &self,
        account_id: i64,
        email: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User>;
    async fn credentials(&self, email: &str) -> Result<Option<Credentials>>;
    /// Whether the user belongs to the account.
    async fn is_member(&self, user_id: i64, account_id: i64) -> Result<bool>;
    /// The accounts of a user, oldest membership first.
    async fn memberships(&self, user_id: i64) -> Result<Vec<Membership>>;
    /// The secret stored under `name`, storing `candidate` first when there is none: every server
    /// sharing the database gets the same value.
    async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String>;

    /// The account's access groups, `global` first, then by creation.
    async fn access_groups(&self, account_id: i64) -> Result<Vec<AccessGroup>>;
    /// `Conflict` when the name is taken, `UnknownAccessGroup` when the parent is missing.
    async fn create_access_group(
        &self,
        account_id: i64,
        name: &str,
        title: &str,
        parent: &str,
    ) -> Result<AccessGroup>;
}

/// Security profiles.
#[async_trait]
pub trait Profiles {
    /// `ActiveProfileLimit` when the account already has `max_active` active profiles,
    /// `UnknownAccessGroup` when the group is missing.
    async fn create_profile(&self, new: &NewProfile, max_active: i64) -> Result<ProfileRecord>;
    async fn profile(&self, account_id: i64, id: i64) -> Result<Option<ProfileRecord>>;
    /// Profiles in creation order.
    async fn list_profiles(
        &self,
        account_id: i64,
        filter: &ProfileFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ProfileRecord>>;
    /// `NotFound`, `Archived` or `UnknownAccessGroup` leave the profile as it was.
    async fn update_profile(
        &self,
        account_id: i64,
        id: i64,
        changes: &ProfileChanges,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord>;
    /// Archives the profile (a no-op when it already is). `NotFound` for a missing profile.
    async fn archive_profile(
        &self,
        account_id: i64,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord>;
    /// Recounts the computers every profile covers and corrects `covered_instances` where it
    /// differs; answers how many profiles were corrected. Every change keeps the count exact, so
    /// this should answer 0: it is the safety net the hourly retention job runs.
    async fn recount_all_coverage(&self) -> Result<u64>;
}

/// Machines and their tags.
#[async_trait]
pub trait Computers {
    async fn account_by_registration_key(&self, key: &str) -> Result<Option<Account>>;
    /// `UnknownAccessGroup` when the group is missing.
    async fn register_computer(&self, new: &NewComputer) -> Result<ComputerRecord>;
    /// A computer that is not deleted, with its secret's hash, for agent authentication.
    async fn agent_identity(&self, id: i64) -> Result<Option<(ComputerRecord, String)>>;
    /// Records that the agent was heard from.
    async fn ping_computer(&self, id: i64, now: DateTime<Utc>) -> Result<()>;
    async fn computer(&self, account_id: i64, id: i64) -> Result<Option<ComputerRecord>>;
    /// Computers matching `query`, by id.
    async fn list_computers(
        &self,
        account_id: i64,
        query: &ComputerQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ComputerRecord>>;
    /// `NotFound` or `UnknownAccessGroup` leave the computer as it was.
    async fn update_computer(
        &self,
        account_id: i64,
        id: i64,
        changes: &ComputerChanges,
    ) -> Result<ComputerRecord>;
    /// Removes the computer from the inventory and from coverage; its history stays.
    async fn delete_computer(&self, account_id: i64, id: i64, now: DateTime<Utc>) -> Result<()>;
    /// The tags the account's computers carry, sorted.
    async fn tags(&self, account_id: i64) -> Result<Vec<String>>;
}

/// Computes a profile's next run time after a run starts.
pub type NextRunTime = dyn Fn(&ProfileRecord) -> Option<DateTime<Utc>> + Send + Sync;

/// Chooses when a restart is delivered, from the profile's delay (hours) and window (minutes).
pub type RestartDelay = dyn Fn(i64, i64) -> chrono::Duration + Send + Sync;

/// Runs, the activities they hand out, and the results that come back. Every change to an
/// instance's state updates its run's counts in the same transaction.
#[async_trait]
pub trait Runs {
    /// Starts a run of the profile now: each covered computer (at most `cap`, lowest ids first)
    /// gets a child activity. Answers the parent. `Archived` or `NotFound` change nothing.
    async fn start_run(
        &self,
        account_id: i64,
        profile_id: i64,
        creator_id: Option<i64>,
        now: DateTime<Utc>,
        cap: i64,
    ) -> Result<ActivityRecord>;
    /// Starts every run that is due (`next_run_time <= now`) exactly once, also with several
    /// servers on one database, and moves each profile's `next_run_time` to `next(profile)`.
    /// Answers the ids of the runs' parent activities.
    async fn start_due_runs(
        &self,
        now: DateTime<Utc>,
        cap: i64,
        next: &NextRunTime,
    ) -> Result<Vec<i64>>;
    /// The computer's open activities; `undelivered` ones become `delivered`.
    async fn deliver(&self, computer_id: i64, now: DateTime<Utc>) -> Result<Vec<AgentWork>>;
    /// Stores a results file for the computer's activity and finishes it. `NotFound` for another
    /// computer's or a missing activity, `Conflict` when it was answered differently. Takes the
    /// parsed file: both backends queue it for their upload writer, which keeps it without a
    /// copy (the rule texts of a new version are megabytes).
    async fn record_results_owned(
        &self,
        computer_id: i64,
        activity_id: i64,
        ingest: Ingest,
        now: DateTime<Utc>,
    ) -> Result<AuditOutcome>;
    /// [`Runs::record_results_owned`] for a caller that keeps the file: records a copy of it.
    async fn record_results(
        &self,
        computer_id: i64,
        activity_id: i64,
        ingest: &Ingest,
        now: DateTime<Utc>,
    ) -> Result<AuditOutcome> {
        self.record_results_owned(computer_id, activity_id, ingest.clone(), now)
            .await
    }
    /// Finishes the computer's activity without results (a fix, a restart, or a failure). A
    /// successful fix in `fix-restart-audit` mode schedules the restart `restart_delay` from now;
    /// a successful restart hands out the audit.
    async fn record_outcome(
        &self,
        computer_id: i64,
        activity_id: i64,
        succeeded: bool,
        message: &str,
        now: DateTime<Utc>,
        restart_delay: &RestartDelay,
    ) -> Result<()>;
    /// Makes `scheduled` activities whose time has come `undelivered`.
    async fn release_scheduled(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Fails open activities that have waited since before `cutoff` for their machine.
    async fn expire_activities(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64>;
    /// The open activity of the computer, for checks before a results file is parsed:
    /// its status and when it was delivered.
    async fn open_activity(
        &self,
        computer_id: i64,
        activity_id: i64,
    ) -> Result<Option<ActivityRecord>>;
    async fn activity(&self, account_id: i64, id: i64) -> Result<Option<ActivityRecord>>;
    async fn list_activities(
        &self,
        account_id: i64,
        filter: &ActivityFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ActivityRecord>>;
    /// The benchmark versions whose rule texts the account holds, as (benchmark id, version).
    async fn known_versions(&self, account_id: i64) -> Result<Vec<(String, String)>>;
}

/// Compliance reports and retention.
#[async_trait]
pub trait Reports {
    /// Answers an existing report of the same runs and kind, or starts a new one (its activity,
    /// its report row, `report_uri` "in-progress" on its runs) in one transaction. `NotFound` for
    /// a missing profile.
    async fn request_report(&self, request: &ReportRequest) -> Result<ReportAnswer>;
    /// Takes over reports whose writer stopped (its lease ran out): each is held until
    /// `lease_until` by the caller, also with several servers on one database.
    async fn claim_stale_reports(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ReportJob>>;
    /// Keeps holding a report being written. False when the holder (`lease_token`) lost it: it
    /// was taken over, ended or purged, and the writer should stop.
    async fn renew_report(
        &self,
        report_id: i64,
        lease_token: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Ends a report: `Ok(bytes)` when its file is in the blob store, `Err(reason)` when it could
    /// not be written. Its activity and its runs' `report_uri` follow. Answers false, changing
    /// nothing, when the holder lost the report (taken over, ended, or purged).
    async fn finish_report(
        &self,
        report_id: i64,
        lease_token: i64,
        outcome: std::result::Result<u64, String>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// A page of what a report shows: up to `limit` machines of the run with an id above
    /// `after`, by id, and when `with_results` the rule results of their audits, by machine then
    /// rule index, each with its audit's id. Both come from one snapshot, so an upload landing
    /// meanwhile shows in both (the machine's audit and its results) or in neither.
    async fn report_page(
        &self,
        run_id: i64,
        after: i64,
        limit: i64,
        with_results: bool,
    ) -> Result<ReportPage>;
    /// The rule results of an audit, by rule index.
    async fn audit_results(&self, audit_id: i64) -> Result<Vec<StoredResult>>;
    /// The rule texts of a benchmark version, by index.
    async fn version_rules(&self, version_id: i64) -> Result<Vec<StoredRule>>;
    /// What `name` is in the account: a tailoring file, a finished report, or nothing.
    async fn named_file(&self, account_id: i64, name: &str) -> Result<Option<NamedFile>>;
    /// Deletes the runs that started before `now` minus their profile's retention period, with
    /// their activities, audits, rule results, reports and files. One transaction per run.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<Purged>;
}

/// The size of the pieces blobs are written and read in.
pub const BLOB_CHUNK: usize = 1024 * 1024;

/// Files too large for a row: reports and raw uploads, per account. In a directory beside the
/// SQLite database; in the database itself on PostgreSQL, so that every server sees every file.
/// Names are chosen by rampart, never by users.
#[async_trait]
pub trait Blobs {
    /// Starts writing a file; it becomes readable, replacing one of the same name, at `finish`.
    async fn create_blob(&self, account_id: i64, name: &str) -> Result<Box<dyn BlobWriter>>;
    /// The size of a readable file.
    async fn blob_size(&self, account_id: i64, name: &str) -> Result<Option<u64>>;
    /// The `index`th piece of `BLOB_CHUNK` bytes (the last may be shorter); `None` past the end.
    async fn blob_chunk(&self, account_id: i64, name: &str, index: u64) -> Result<Option<Vec<u8>>>;
    /// Removes a file; a missing one is not an error. Answers whether one was removed.
    async fn delete_blob(&self, account_id: i64, name: &str) -> Result<bool>;
    /// Writes a whole file held in memory: readable, replacing one of the same name, once this
    /// answers its size. A backend may do it in fewer steps than `create_blob`'s.
    async fn put_blob(&self, account_id: i64, name: &str, bytes: &[u8]) -> Result<u64> {
        let mut writer = self.create_blob(account_id, name).await?;
        writer.write(bytes).await?;
        writer.finish().await
    }
}

/// A file being written to the blob store. Dropped without `finish`, it leaves nothing readable.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> Result<()>;
    /// Makes the file readable; answers its size.
    async fn finish(self: Box<Self>) -> Result<u64>;
}

/// Opens (creating if needed) the database at `url` and brings its schema up to date:
/// `sqlite://PATH` or `postgres://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else {
        Err(StorageError::UnsupportedUrl(crate::startup::redact(url)))
    }
}
