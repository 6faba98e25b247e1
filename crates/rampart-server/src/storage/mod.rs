//! Storage: the `Store` trait the HTTP layer and the admin commands use, its record types, and one
//! implementation per backend (`sqlite`, `postgres`). Errors here are typed (`StorageError`); the
//! HTTP layer maps them to API errors.
//!
//! Every method that changes data runs in one transaction: a failed call changes nothing.

mod postgres;
mod records;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_domain::computer_query::ComputerQuery;

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
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The database URL names no supported backend.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything rampart keeps in its database: one implementation per backend.
pub trait Store: Accounts + Profiles + Computers + Runs + Send + Sync + 'static {
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
    /// computer's or a missing activity, `Conflict` when it was answered differently.
    async fn record_results(
        &self,
        computer_id: i64,
        activity_id: i64,
        ingest: &Ingest,
        now: DateTime<Utc>,
    ) -> Result<AuditOutcome>;
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

/// A random registration key: 32 lower-case letters and digits.
pub(crate) fn new_registration_key() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The smallest free name among `base`, `base-2`, `base-3`, … given the names already taken
/// that start with `base`.
pub fn free_name(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("an unbounded range always has a free suffix")
}

/// Decodes the JSON tag list stored in a profile row.
pub(crate) fn decode_tags(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| StorageError::Corrupt(format!("tags: {e}")))
}

pub(crate) fn encode_tags(tags: &[String]) -> String {
    serde_json::to_string(tags).expect("a list of strings always serializes")
}

/// The children a profile's mode gives each machine first.
pub(crate) fn first_action(mode: &str) -> &'static str {
    match mode {
        "fix-audit" => "fix-audit",
        "fix-restart-audit" => "fix",
        _ => "audit",
    }
}

/// The run-count column of an instance state.
pub(crate) fn state_column(state: i64) -> &'static str {
    match state {
        0 => "not_started",
        1 => "in_progress",
        2 => "passing",
        _ => "failing",
    }
}

/// Rule identifiers as stored: a JSON list of `{"system", "value"}`.
pub(crate) fn encode_identifiers(ids: &[rampart_domain::xccdf::Ident]) -> String {
    let list: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({"system": i.system, "value": i.value}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Rule references as stored: a JSON list of `{"href", "text"}`.
pub(crate) fn encode_references(refs: &[rampart_domain::xccdf::Reference]) -> String {
    let list: Vec<serde_json::Value> = refs
        .iter()
        .map(|r| serde_json::json!({"href": r.href, "text": r.text}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Splits a comma-joined tag list read from the database (tags never contain commas).
pub(crate) fn split_tags(joined: Option<String>) -> Vec<String> {
    let mut tags: Vec<String> = joined
        .unwrap_or_default()
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_the_smallest_free_suffix() {
        let taken = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(free_name("web", &taken(&[])), "web");
        assert_eq!(free_name("web", &taken(&["web-servers"])), "web");
        assert_eq!(free_name("web", &taken(&["web"])), "web-2");
        assert_eq!(
            free_name("web", &taken(&["web", "web-2", "web-4"])),
            "web-3"
        );
    }

    #[test]
    fn registration_keys_are_long_and_distinct() {
        let (a, b) = (new_registration_key(), new_registration_key());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
