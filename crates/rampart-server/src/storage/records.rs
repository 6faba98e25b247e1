//! The records storage reads and writes: plain data, already validated by the caller.

use chrono::{DateTime, Utc};

/// A tenant: every object belongs to one.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub title: String,
    /// Agents present it to register machines in this account.
    pub registration_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// A user with the password hash to check a login against.
#[derive(Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("title", &self.title)
            .field("registration_key", &"****")
            .finish()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password_hash", &"****")
            .finish()
    }
}

/// An account a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub account: Account,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGroup {
    pub id: i64,
    pub name: String,
    pub title: String,
    /// The parent group's name; `None` only for `global`.
    pub parent: Option<String>,
}

/// A profile to create; the values are already validated.
#[derive(Debug, Clone)]
pub struct NewProfile {
    pub account_id: i64,
    /// The slug of the title; a numeric suffix is added if the account already has it.
    pub name: String,
    pub title: String,
    pub benchmark: String,
    pub mode: String,
    pub schedule: String,
    pub start_date: DateTime<Utc>,
    pub access_group: String,
    pub all_computers: bool,
    pub tags: Vec<String>,
    pub restart_deliver_delay: i64,
    pub restart_deliver_delay_window: i64,
    pub retention_period: i64,
    pub next_run_time: Option<DateTime<Utc>>,
    /// The validated tailoring file; the profile's `tailoring_file_uri` is named after its id.
    pub tailoring: Option<TailoringFile>,
    pub now: DateTime<Utc>,
    /// Start the first run in the same transaction (`start_date` is now or past).
    pub start_now: bool,
    /// Who creates it (the first run's creator).
    pub creator_id: Option<i64>,
    /// The most instances a run audits.
    pub run_cap: i64,
}

/// A stored security profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub title: String,
    pub benchmark: String,
    pub mode: String,
    pub schedule: String,
    pub start_date: DateTime<Utc>,
    pub access_group: String,
    pub all_computers: bool,
    pub tags: Vec<String>,
    pub restart_deliver_delay: i64,
    pub restart_deliver_delay_window: i64,
    pub retention_period: i64,
    pub status: String,
    pub next_run_time: Option<DateTime<Utc>>,
    pub tailoring_file_uri: Option<String>,
    pub creation_time: DateTime<Utc>,
    pub modification_time: DateTime<Utc>,
    /// Computers the profile covers now (its access group or below, and a tag unless
    /// `all_computers`), not capped.
    pub associated_instances: i64,
    /// The most recent run's counts; `None` before the first run.
    pub last_run: Option<RunCounts>,
}

/// Which profiles a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFilter {
    /// Lower-cased substring of the title.
    pub search: Option<String>,
    pub status: Option<StatusFilter>,
    pub pass_rate_from: Option<i64>,
    pub pass_rate_to: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Active,
    Archived,
    /// Profiles covering more instances than the per-profile cap.
    OverLimit {
        cap: i64,
    },
}

/// The editable fields of a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    pub title: Option<String>,
    /// The new rule and the `next_run_time` computed from it.
    pub schedule: Option<(String, Option<DateTime<Utc>>)>,
    pub tags: Option<Vec<String>>,
    pub all_computers: Option<bool>,
    pub access_group: Option<String>,
    pub restart_deliver_delay: Option<i64>,
    pub restart_deliver_delay_window: Option<i64>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One page of a listing and the total it was cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub count: i64,
    pub results: Vec<T>,
}

/// A machine registering through the agent protocol.
#[derive(Debug, Clone)]
pub struct NewComputer {
    pub account_id: i64,
    pub hostname: String,
    /// The OS's own host name, which its audit results carry as their target.
    pub system_hostname: String,
    pub title: String,
    pub access_group: String,
    pub tags: Vec<String>,
    /// SHA-256 (hex) of the secret the agent authenticates with.
    pub secret_hash: String,
    pub now: DateTime<Utc>,
}

/// A registered machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputerRecord {
    pub id: i64,
    pub account_id: i64,
    pub hostname: String,
    pub system_hostname: String,
    pub title: String,
    pub access_group: String,
    /// Sorted.
    pub tags: Vec<String>,
    pub registration_time: DateTime<Utc>,
    pub last_ping_time: Option<DateTime<Utc>>,
}

/// The fields of a computer users may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComputerChanges {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    pub access_group: Option<String>,
}

/// An activity: a parent (a run, a report) or a child (one machine's work in a run).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub id: i64,
    pub account_id: i64,
    pub parent_id: Option<i64>,
    pub computer_id: Option<i64>,
    pub run_id: Option<i64>,
    /// `UsgActivity`, `RestartRequest` or `GenerateUsgReportActivity`.
    pub kind: String,
    /// For children: `audit`, `fix`, `fix-audit` or `restart`.
    pub action: Option<String>,
    pub summary: String,
    pub status: String,
    pub creator: Option<User>,
    pub deliver_delay_window: i64,
    pub deliver_after: Option<DateTime<Utc>>,
    pub creation_time: DateTime<Utc>,
    pub delivery_time: Option<DateTime<Utc>>,
    pub completion_time: Option<DateTime<Utc>>,
    pub result_text: Option<String>,
    pub result_code: Option<i64>,
    /// The benchmark of the run it belongs to.
    pub benchmark: Option<String>,
    /// The tailored XCCDF profile the run audits, when its profile has a tailoring file.
    pub tailoring_profile: Option<String>,
}

/// Which activities a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub parent_id: Option<i64>,
    pub computer_id: Option<i64>,
    pub kind: Option<String>,
    pub status: Option<String>,
}

/// The latest run's counts, as a profile shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCounts {
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
    pub not_started: i64,
    pub in_progress: i64,
    pub passing: i64,
    pub failing: i64,
    pub report_uri: Option<String>,
}

/// An activity handed to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentWork {
    pub id: i64,
    pub kind: String,
    pub action: String,
    pub benchmark: String,
    /// The tailoring file and the id of its Profile, when the run's profile has one.
    pub tailoring: Option<TailoringFile>,
}

/// A parsed results file, ready to store.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub benchmark_id: String,
    pub version: String,
    /// The rule texts when the upload carried the Benchmark; stored only for a version the
    /// server does not know yet.
    pub rule_texts: Option<Vec<rampart_domain::xccdf::RuleText>>,
    pub xccdf_profile: Option<String>,
    pub target: String,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: DateTime<Utc>,
    pub score: Option<f64>,
    /// Selected rules only (`notselected` dropped), in file order.
    pub results: Vec<IngestResult>,
    /// SHA-256 of the uploaded bytes: a repeat of the same upload is harmless.
    pub sha256: String,
    /// The raw upload's name in the blob store, when it was kept.
    pub upload: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IngestResult {
    pub rule_id: String,
    pub result: rampart_domain::xccdf::ResultKind,
    pub severity: rampart_domain::xccdf::Severity,
    pub time: Option<DateTime<Utc>>,
}

/// What storing a results file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOutcome {
    pub activity_id: i64,
    pub passing_rules: i64,
    pub failing_rules: i64,
    pub other_rules: i64,
    pub passed: bool,
}

/// A validated tailoring file given with a new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailoringFile {
    /// The id of its `Profile`: what agents audit and results name.
    pub profile_id: String,
    /// The file as given, byte for byte.
    pub text: String,
}

/// A compliance report asked for.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub account_id: i64,
    pub profile_id: i64,
    /// Runs that started in `[from, to]` are covered…
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// …or only the earliest of them.
    pub earliest_only: bool,
    pub detailed: bool,
    pub creator_id: Option<i64>,
    pub now: DateTime<Utc>,
    /// A new report is held by the asking server until then.
    pub lease_until: DateTime<Utc>,
}

/// The answer to a report request.
#[derive(Debug, Clone)]
pub enum ReportAnswer {
    /// The profile has no run in the range.
    NoRuns,
    /// A report of the same runs and kind exists: its name.
    Ready(String),
    /// The same report is being written: its activity.
    Pending(ActivityRecord),
    /// A new report was started: its activity, and the job to write it.
    Started(ActivityRecord, ReportJob),
}

/// A report to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportJob {
    pub report_id: i64,
    pub account_id: i64,
    pub name: String,
    pub detailed: bool,
    /// Oldest first.
    pub run_ids: Vec<i64>,
    /// Which holder of the report this is: a server that took the report over has another one,
    /// and the first writer's renewals and ending then fail.
    pub lease_token: i64,
}

/// One machine of a run, as a report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInstance {
    pub computer_id: i64,
    pub hostname: String,
    /// 0 not started, 1 in progress, 2 passed, 3 failed.
    pub state: i64,
    pub audit: Option<ReportAudit>,
}

/// A page of a report's machines and their rule results, read at once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportPage {
    pub instances: Vec<ReportInstance>,
    /// By machine then rule index, each with the id of the audit it belongs to.
    pub results: Vec<(i64, StoredResult)>,
}

/// A machine's stored audit, as a report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportAudit {
    pub id: i64,
    pub version_id: i64,
    pub xccdf_profile: Option<String>,
    pub end_time: DateTime<Utc>,
    pub passing_rules: i64,
    pub failing_rules: i64,
    pub other_rules: i64,
}

/// One stored rule result: codes as in `rampart_domain::xccdf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredResult {
    pub rule_idx: i64,
    pub result: u8,
    pub severity: u8,
}

/// A rule's stored texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    pub idx: i64,
    pub rule_id: String,
    pub description: String,
    pub rationale: String,
    /// JSON `[{"system", "value"}]`.
    pub identifiers: String,
    /// JSON `[{"href", "text"}]`.
    pub refs: String,
}

/// What a name given to `blob` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedFile {
    /// A profile's tailoring file, with its text.
    Tailoring(String),
    /// A finished report, in the blob store under that name.
    Report,
}

/// What a retention pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    pub runs: u64,
    pub activities: u64,
    pub audits: u64,
    pub rule_results: u64,
    pub reports: u64,
    /// Report files and raw uploads removed from the blob store.
    pub files: u64,
    /// Expired runs that could not be deleted this time (logged); the next pass tries again.
    pub failed: u64,
}

impl Purged {
    pub fn add(&mut self, other: &Purged) {
        self.runs += other.runs;
        self.activities += other.activities;
        self.audits += other.audits;
        self.rule_results += other.rule_results;
        self.reports += other.reports;
        self.files += other.files;
        self.failed += other.failed;
    }
}
