//! The JSON shapes of the security-profile endpoints, field for field as the reference page
//! shows them, and their conversion from and to domain and storage types.

use chrono::{DateTime, Utc};
use rampart_domain::profile::{
    self, pass_rate, Benchmark, Mode, ProfileName, Tags, Title, RESTART_DELAY_HOURS,
    RESTART_WINDOW_MINUTES, RETENTION_DAYS,
};
use rampart_domain::schedule::Schedule;
use rampart_domain::time::{parse_input_time, serde_time};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::present;
use crate::storage::{NewProfile, ProfileChanges, ProfileRecord, TailoringFile};
use rampart_domain::tailoring::{Tailoring, TailoringError};

/// A new security profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProfile {
    /// The benchmark to enforce: `cis_level1_server`, `cis_level1_workstation`,
    /// `cis_level2_server`, `cis_level2_workstation`, `disa_stig` or `stig`, optionally
    /// versioned (`cis_level1_server-v2.0.0`, `stig-v1r3`).
    /// Required unless `tailoring_file` is given: then it is taken from the tailoring file's
    /// `extends`, and a `benchmark` given as well must name the same one.
    #[serde(default, deserialize_with = "present")]
    #[schema(example = "disa_stig", nullable = false)]
    pub benchmark: Option<String>,
    /// `audit`, `fix-audit` or `fix-restart-audit` (`audit-fix` and `audit-fix-restart` are
    /// accepted too).
    #[schema(example = "audit")]
    pub mode: String,
    /// An RFC 5545 recurrence rule, no more frequent than weekly, with or without the
    /// `RRULE:` prefix. BYHOUR, BYMINUTE and BYSECOND are refused: the time of day comes from
    /// `start_date`.
    #[schema(example = "RRULE:FREQ=WEEKLY")]
    pub schedule: String,
    /// The display name; the profile's `name` is a slug of it.
    #[schema(example = "Macrodata Refinement Terminals")]
    pub title: String,
    /// The first run time (ISO 8601: `2025-03-29T12:00:00Z`, `2025-03-29T12:00Z`, `2025-03-29`).
    /// Now or in the past: the first run starts at once.
    #[schema(example = "2025-03-29T12:00:00Z")]
    pub start_date: String,
    /// The access group whose instances (and its descendants') the profile covers.
    #[serde(default)]
    #[schema(default = "global", example = "global")]
    pub access_group: Option<String>,
    /// Cover every instance of `access_group`, whatever its tags.
    #[serde(default)]
    #[schema(default = false)]
    pub all_computers: Option<bool>,
    /// In `fix-restart-audit` mode, hours between the fix and the restart (0–720).
    #[serde(default)]
    #[schema(default = 1, minimum = 0, maximum = 720)]
    pub restart_deliver_delay: Option<i64>,
    /// In `fix-restart-audit` mode, minutes over which restarts are spread at random (0–10080).
    #[serde(default)]
    #[schema(default = 0, minimum = 0, maximum = 10080)]
    pub restart_deliver_delay_window: Option<i64>,
    /// Cover only instances carrying at least one of these tags (letters, digits, `-`, `_`, `.`).
    #[serde(default)]
    #[schema(example = json!(["mdr"]))]
    pub tags: Option<Vec<String>>,
    /// Days each run's results are kept (1–36500); the server's setting when absent.
    #[serde(default)]
    #[schema(default = 730, minimum = 1, maximum = 36500)]
    pub retention_period: Option<i64>,
    /// An XCCDF 1.2 (or 1.1) tailoring file, as XML text (at most 5 MiB): one `Profile` with `id`
    /// and `extends`, no DTD. It is stored byte for byte, handed to the agents with every audit,
    /// and served back through `blob` under `tailoring_file_uri`.
    #[serde(default)]
    pub tailoring_file: Option<String>,
}

/// The fields of a profile that can change; every one is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// The display name (the `name` does not change).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    /// A new rule; `next_run_time` is recomputed from it and the original `start_date`.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub schedule: Option<String>,
    /// Replaces the profile's tags.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub tags: Option<Vec<String>>,
    /// Cover every instance of `access_group`, whatever its tags.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub all_computers: Option<bool>,
    /// The access group whose instances (and its descendants') the profile covers.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub access_group: Option<String>,
    /// Hours between the fix and the restart (0–720).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 0, maximum = 720)]
    pub restart_deliver_delay: Option<i64>,
    /// Minutes over which restarts are spread at random (0–10080).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 0, maximum = 10080)]
    pub restart_deliver_delay_window: Option<i64>,
}

/// The fields PATCH can change, for the message that refuses the others.
pub const EDITABLE: [&str; 7] = [
    "title",
    "schedule",
    "tags",
    "all_computers",
    "access_group",
    "restart_deliver_delay",
    "restart_deliver_delay_window",
];

/// Fields a profile has that PATCH must refuse by name (rather than as unknown).
pub const NOT_EDITABLE: [&str; 15] = [
    "id",
    "associated_instances",
    "account_id",
    "name",
    "benchmark",
    "mode",
    "start_date",
    "status",
    "retention_period",
    "tailoring_file",
    "tailoring_file_uri",
    "creation_time",
    "modification_time",
    "next_run_time",
    "last_run_results",
];

/// The latest run's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastRunResults {
    /// Instances that finished with a failing rule, or whose audit failed.
    pub failing: i64,
    /// Instances whose audit has not finished.
    pub in_progress: i64,
    /// Instances not yet reached; before any run, every covered instance.
    pub not_started: i64,
    /// Instances that finished with no failing rule.
    pub passing: i64,
    /// round-half-up(100 × passing / (passing + failing)); null until an instance finishes.
    pub pass_rate: Option<i64>,
    /// The run's report file name, `"in-progress"` while it is written, or null.
    pub report_uri: Option<String>,
    /// When the run started; null before the first run.
    #[serde(serialize_with = "serde_time::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2025-03-18T17:00:00Z")]
    pub timestamp: Option<DateTime<Utc>>,
}

/// A security profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityProfile {
    #[schema(example = "global")]
    pub access_group: String,
    /// The account the profile belongs to.
    pub account_id: i64,
    /// Whether the profile covers every instance of its access group, whatever its tags.
    pub all_computers: bool,
    /// Instances the profile covers now.
    pub associated_instances: i64,
    #[schema(example = "cis_level1_server")]
    pub benchmark: String,
    #[serde(serialize_with = "serde_time::serialize")]
    #[schema(value_type = String, format = DateTime, example = "2025-03-18T16:34:51Z")]
    pub creation_time: DateTime<Utc>,
    pub id: i64,
    /// The counts of the most recent run.
    pub last_run_results: LastRunResults,
    #[schema(example = "audit")]
    pub mode: String,
    #[serde(serialize_with = "serde_time::serialize")]
    #[schema(value_type = String, format = DateTime, example = "2025-03-18T17:50:12Z")]
    pub modification_time: DateTime<Utc>,
    /// A slug of the title at creation; never changes.
    #[schema(example = "macrodata-refinement-terminals")]
    pub name: String,
    /// The next scheduled run; null when archived or when the rule has no occurrence left.
    #[serde(serialize_with = "serde_time::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2025-03-19T12:00:00Z")]
    pub next_run_time: Option<DateTime<Utc>>,
    /// Hours between the fix and the restart in `fix-restart-audit` mode.
    pub restart_deliver_delay: i64,
    /// Minutes over which restarts are spread at random.
    pub restart_deliver_delay_window: i64,
    /// Days each run's results are kept.
    pub retention_period: i64,
    /// The RFC 5545 rule, as given.
    #[schema(example = "RRULE:FREQ=WEEKLY")]
    pub schedule: String,
    /// `active` or `archived`.
    #[schema(example = "active")]
    pub status: String,
    /// The profile covers instances carrying at least one of these.
    pub tags: Vec<String>,
    /// The tailoring file's name for `/security-profiles/blob`, or null.
    pub tailoring_file_uri: Option<String>,
    /// The display name.
    pub title: String,
}

impl From<ProfileRecord> for SecurityProfile {
    fn from(r: ProfileRecord) -> Self {
        let last_run_results = match &r.last_run {
            Some(run) => LastRunResults {
                failing: run.failing,
                in_progress: run.in_progress,
                not_started: run.not_started,
                passing: run.passing,
                pass_rate: pass_rate(run.passing, run.failing),
                report_uri: run.report_uri.clone(),
                timestamp: Some(run.started_at),
            },
            // Before the first run every covered instance is "not started".
            None => LastRunResults {
                failing: 0,
                in_progress: 0,
                not_started: r.associated_instances,
                passing: 0,
                pass_rate: None,
                report_uri: None,
                timestamp: None,
            },
        };
        Self {
            access_group: r.access_group,
            account_id: r.account_id,
            all_computers: r.all_computers,
            associated_instances: r.associated_instances,
            benchmark: r.benchmark,
            creation_time: r.creation_time,
            id: r.id,
            last_run_results,
            mode: r.mode,
            modification_time: r.modification_time,
            name: r.name,
            next_run_time: r.next_run_time,
            restart_deliver_delay: r.restart_deliver_delay,
            restart_deliver_delay_window: r.restart_deliver_delay_window,
            retention_period: r.retention_period,
            schedule: r.schedule,
            status: r.status,
            tags: r.tags,
            tailoring_file_uri: r.tailoring_file_uri,
            title: r.title,
        }
    }
}

/// A page of profiles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileList {
    /// How many profiles match, over all pages.
    pub count: i64,
    pub results: Vec<SecurityProfile>,
    /// The next page's URL, or null on the last page.
    pub next: Option<String>,
    /// The previous page's URL, or null on the first page.
    pub previous: Option<String>,
}

fn parse_schedule(text: &str) -> Result<Schedule, ApiError> {
    Schedule::parse(text).map_err(|e| ApiError::invalid(format!("`schedule`: {e}")))
}

fn parse_tags(tags: &[String]) -> Result<Vec<String>, ApiError> {
    Tags::parse(tags)
        .map(Tags::into_vec)
        .map_err(|e| ApiError::invalid(format!("`tags`: {e}")))
}

fn parse_group(name: &str) -> Result<String, ApiError> {
    if name.is_empty() || name.len() > 255 {
        return Err(ApiError::invalid(
            "`access_group` must be 1 to 255 characters",
        ));
    }
    Ok(name.to_owned())
}

fn ranged(field: &str, value: i64, range: &std::ops::RangeInclusive<i64>) -> Result<i64, ApiError> {
    profile::in_range(field, value, range).map_err(ApiError::invalid)
}

/// The profile's benchmark: `benchmark`, or with a tailoring file the one its `extends` names.
/// As the reference says, `benchmark` is then ignored — unless it is a versioned name of that same
/// benchmark (`cis_level1_server-v2.0.0`), which is kept because `usg` understands it.
fn benchmark_and_tailoring(
    given: Option<&str>,
    tailoring_file: Option<String>,
) -> Result<(Benchmark, Option<TailoringFile>), ApiError> {
    let Some(text) = tailoring_file else {
        let given = given.ok_or_else(|| ApiError::BadRequest {
            code: "MissingField",
            message: "`benchmark` is required (unless `tailoring_file` is given)".into(),
        })?;
        return Ok((Benchmark::parse(given).map_err(ApiError::invalid)?, None));
    };
    let tailoring = Tailoring::parse(&text).map_err(|e| match e {
        TailoringError::TooLarge { .. } => {
            ApiError::PayloadTooLarge(format!("`tailoring_file`: {e}"))
        }
        e => ApiError::invalid(format!("`tailoring_file`: {e}")),
    })?;
    let derived = tailoring.benchmark().clone();
    let benchmark = match given.and_then(|b| Benchmark::parse(b).ok()) {
        Some(given) if given.ssg_name() == derived.ssg_name() => given,
        _ => derived,
    };
    let tailoring = TailoringFile {
        profile_id: tailoring.profile_id().to_owned(),
        text,
    };
    Ok((benchmark, Some(tailoring)))
}

impl CreateProfile {
    /// Checks every field and computes `next_run_time`; `now` is the creation time.
    pub fn into_new(
        self,
        caller: crate::auth::Caller,
        default_retention: i64,
        run_cap: i64,
        now: DateTime<Utc>,
    ) -> Result<NewProfile, ApiError> {
        let account_id = caller.account_id;
        let title = Title::parse(&self.title).map_err(ApiError::invalid)?;
        let (benchmark, tailoring) =
            benchmark_and_tailoring(self.benchmark.as_deref(), self.tailoring_file)?;
        let mode = Mode::parse(&self.mode).map_err(ApiError::invalid)?;
        let schedule = parse_schedule(&self.schedule)?;
        let start_date = parse_input_time(&self.start_date)
            .map_err(|e| ApiError::invalid(format!("`start_date`: {e}")))?
            .at;
        schedule
            .check_start(start_date)
            .map_err(|e| ApiError::invalid(format!("`schedule`: {e}")))?;
        Ok(NewProfile {
            account_id,
            name: ProfileName::from_title(&title).as_str().to_owned(),
            title: title.as_str().to_owned(),
            benchmark: benchmark.as_str().to_owned(),
            mode: mode.as_str().to_owned(),
            next_run_time: schedule.next_run_time(start_date, now),
            schedule: schedule.as_str().to_owned(),
            start_date,
            access_group: parse_group(self.access_group.as_deref().unwrap_or("global"))?,
            all_computers: self.all_computers.unwrap_or(false),
            tags: parse_tags(self.tags.as_deref().unwrap_or_default())?,
            restart_deliver_delay: ranged(
                "restart_deliver_delay",
                self.restart_deliver_delay.unwrap_or(1),
                &RESTART_DELAY_HOURS,
            )?,
            restart_deliver_delay_window: ranged(
                "restart_deliver_delay_window",
                self.restart_deliver_delay_window.unwrap_or(0),
                &RESTART_WINDOW_MINUTES,
            )?,
            retention_period: ranged(
                "retention_period",
                self.retention_period.unwrap_or(default_retention),
                &RETENTION_DAYS,
            )?,
            tailoring,
            now,
            start_now: start_date <= now,
            creator_id: Some(caller.user_id),
            run_cap,
        })
    }
}

impl UpdateProfile {
    /// Checks every given field; a new schedule is checked against the profile's `start_date`
    /// and gives a new `next_run_time`.
    pub fn into_changes(
        self,
        start_date: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ProfileChanges, ApiError> {
        let schedule = match self.schedule {
            Some(text) => {
                let schedule = parse_schedule(&text)?;
                schedule
                    .check_start(start_date)
                    .map_err(|e| ApiError::invalid(format!("`schedule`: {e}")))?;
                let next = schedule.next_run_time(start_date, now);
                Some((schedule.as_str().to_owned(), next))
            }
            None => None,
        };
        Ok(ProfileChanges {
            title: self
                .title
                .map(|t| Title::parse(&t).map(|t| t.as_str().to_owned()))
                .transpose()
                .map_err(ApiError::invalid)?,
            schedule,
            tags: self.tags.as_deref().map(parse_tags).transpose()?,
            all_computers: self.all_computers,
            access_group: self.access_group.as_deref().map(parse_group).transpose()?,
            restart_deliver_delay: self
                .restart_deliver_delay
                .map(|v| ranged("restart_deliver_delay", v, &RESTART_DELAY_HOURS))
                .transpose()?,
            restart_deliver_delay_window: self
                .restart_deliver_delay_window
                .map(|v| ranged("restart_deliver_delay_window", v, &RESTART_WINDOW_MINUTES))
                .transpose()?,
        })
    }
}
