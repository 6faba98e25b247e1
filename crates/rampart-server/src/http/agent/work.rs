//! The agent's work: fetching its activities, uploading audit results, reporting outcomes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use rampart_domain::xccdf::{self, ResultKind, RuleResult, RuleText, TestResultInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::uploads::{drain, keep_upload, receive, Received};
use super::version_gate::{Entry, GateGuard, VersionGates};
use super::Agent;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{from_object, path_id, JsonObject, QueryParams};
use crate::http::AppState;
use crate::storage::{ActivityRecord, AgentWork, Ingest, IngestResult, StorageError};

/// A piece of work for the agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Work {
    pub id: i64,
    /// `UsgActivity` or `RestartRequest`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `audit`, `fix`, `fix-audit` or `restart`.
    pub action: String,
    /// The benchmark as `usg` names it.
    pub benchmark: String,
    /// The XCCDF profile id `oscap` takes.
    pub xccdf_profile: String,
    /// The profile's tailoring file (XML text), to pass with `--tailoring-file`; null when it
    /// has none. With one, `xccdf_profile` is the tailored profile's id.
    pub tailoring_file: Option<String>,
}

/// The agent's pending work.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkList {
    pub activities: Vec<Work>,
    /// The benchmark versions whose rule texts the server already holds for this machine's
    /// account. For results of one of these, the agent may upload the `TestResult` element alone
    /// (a "thin" upload, a few percent of the whole file). Empty when there are no activities.
    pub known_versions: Vec<KnownVersion>,
}

/// A benchmark version whose rule texts the server holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct KnownVersion {
    /// The XCCDF Benchmark id, e.g. `xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04`.
    pub benchmark_id: String,
    /// The Benchmark's version, as `TestResult@version` names it, e.g. `0.1.65`.
    pub version: String,
}

/// The XCCDF profile id of a `usg` benchmark name (`disa_stig` is SSG's `stig`; a version suffix
/// is not part of the profile id).
pub fn xccdf_profile(benchmark: &str) -> String {
    match rampart_domain::profile::Benchmark::parse(benchmark) {
        Ok(benchmark) => benchmark.xccdf_profile_id(),
        Err(_) => format!("xccdf_org.ssgproject.content_profile_{benchmark}"),
    }
}

/// The XCCDF profile an activity's results must name: the tailored one when its profile has a
/// tailoring file.
fn expected_profile(activity: &ActivityRecord) -> Option<String> {
    activity
        .tailoring_profile
        .clone()
        .or_else(|| activity.benchmark.as_deref().map(xccdf_profile))
}

fn work(w: AgentWork) -> Work {
    let (xccdf_profile, tailoring_file) = match w.tailoring {
        Some(t) => (t.profile_id, Some(t.text)),
        None => (xccdf_profile(&w.benchmark), None),
    };
    Work {
        xccdf_profile,
        id: w.id,
        kind: w.kind,
        action: w.action,
        benchmark: w.benchmark,
        tailoring_file,
    }
}

/// Fetch this machine's activities (long-poll with `wait`).
#[utoipa::path(
    get, path = "/agent/v1/activities", tag = "agent", operation_id = "agentActivities",
    params(("wait" = Option<i64>, Query, description = "Seconds (0–60) to wait for work when there is none")),
    responses(
        (status = 200, description = "Open activities; undelivered ones are now delivered", body = WorkList),
        (status = 400, description = "A parameter is not acceptable", body = ErrorBody),
        (status = 401, description = "Bad credentials", body = ErrorBody),
    )
)]
pub async fn activities(
    State(state): State<AppState>,
    Agent(computer): Agent,
    query: QueryParams,
) -> Result<Json<WorkList>, ApiError> {
    let wait = query
        .integer("wait", 0..=60, "an integer from 0 to 60")?
        .unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
    loop {
        // Registered before the database is read: work created in between still wakes it.
        let woken = state.new_work.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let found = state.store.deliver(computer.id, Utc::now()).await?;
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            // Only a poll that hands out work needs them: one query, and none for idle polls.
            let known_versions = if found.is_empty() {
                Vec::new()
            } else {
                state
                    .store
                    .known_versions(computer.account_id)
                    .await?
                    .into_iter()
                    .map(|(benchmark_id, version)| KnownVersion {
                        benchmark_id,
                        version,
                    })
                    .collect()
            };
            return Ok(Json(WorkList {
                activities: found.into_iter().map(work).collect(),
                known_versions,
            }));
        }
        // Woken by this process; the database is read again every few seconds all the same,
        // for work another server sharing it created.
        let recheck = deadline.min(tokio::time::Instant::now() + RECHECK);
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep_until(recheck) => {}
        }
    }
}

/// How often a long poll reads the database again when nothing woke it: work created by another
/// server on the same database reaches its waiting agents within this time.
const RECHECK: Duration = Duration::from_secs(3);

/// What storing an upload gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsAccepted {
    pub activity_id: i64,
    pub status: String,
    pub passing_rules: i64,
    pub failing_rules: i64,
    pub other_rules: i64,
    /// `pass` or `fail`: the machine fails when any selected rule is `fail` or `error`.
    pub verdict: String,
}

/// The most rules (and rule results) a results file may hold: real benchmarks have a few
/// thousand at most, and what a file holds is kept in memory while it is stored.
const MAX_RULES: usize = 20_000;

/// How long the first upload of a version may take to be stored before the others of it,
/// waiting at the gate, keep the rule texts themselves.
const GATE_WAIT: Duration = Duration::from_secs(30);

/// Collects what the server stores from a results file.
struct Collect<'a> {
    too_many: bool,
    known: &'a HashSet<(String, String)>,
    account_id: i64,
    gates: &'a Arc<VersionGates>,
    /// Held when this upload keeps the rule texts of a version it is the one to store.
    guard: Option<GateGuard>,
    rules: Vec<RuleText>,
    wants_rules: bool,
    info: Option<TestResultInfo>,
    results: Vec<RuleResult>,
}

impl xccdf::Visitor for Collect<'_> {
    fn benchmark(&mut self, id: &str, version: &str) -> bool {
        self.wants_rules = !self.known.contains(&(id.to_owned(), version.to_owned()))
            && match self.gates.enter(self.account_id, id, version, GATE_WAIT) {
                Entry::Keep(guard) => {
                    self.guard = Some(guard);
                    true
                }
                Entry::Skip => false,
                Entry::KeepUnguarded => true,
            };
        self.wants_rules
    }

    fn rule(&mut self, rule: RuleText) {
        if self.rules.len() < MAX_RULES {
            self.rules.push(rule);
        } else {
            self.too_many = true;
        }
    }

    fn test_result(&mut self, info: &TestResultInfo) {
        self.info = Some(info.clone());
    }

    fn rule_result(&mut self, result: RuleResult) {
        if result.result == ResultKind::NotSelected {
            return;
        }
        if self.results.len() < MAX_RULES {
            self.results.push(result);
        } else {
            self.too_many = true;
        }
    }
}

/// How far a machine's clock may be behind the server's.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(15);

pub(super) fn refused(message: String) -> ApiError {
    // Parser messages may quote names of any length: at most 300 characters reach the answer.
    let message = if message.chars().count() > 300 {
        message.chars().take(300).collect::<String>() + "…"
    } else {
        message
    };
    ApiError::BadRequest {
        code: "InvalidResults",
        message,
    }
}

/// The longest id (rule, benchmark, version, target) a results file may carry.
const MAX_ID: usize = 1000;

/// Refuses what no database should be asked to store: NUL characters, ids longer than
/// `MAX_ID`, times outside 1970–9999.
fn check_stored_text(
    benchmark: &str,
    version: &str,
    info: &TestResultInfo,
    rules: &[RuleText],
    results: &[RuleResult],
) -> Result<(), ApiError> {
    let ids = [benchmark, version, info.target.as_str()]
        .into_iter()
        .chain(info.profile_id.as_deref())
        .chain(rules.iter().map(|r| r.id.as_str()))
        .chain(results.iter().map(|r| r.rule_id.as_str()));
    for id in ids {
        if id.len() > MAX_ID || id.contains('\0') {
            return Err(refused(format!(
                "the results file holds an id longer than {MAX_ID} bytes or with a NUL character: `{}`",
                rampart_domain::profile::shorten(id)
            )));
        }
    }
    let texts = rules.iter().flat_map(|r| {
        [
            r.title.as_str(),
            r.description.as_str(),
            r.rationale.as_str(),
        ]
        .into_iter()
        .chain(
            r.identifiers
                .iter()
                .flat_map(|i| [i.system.as_str(), i.value.as_str()]),
        )
        .chain(
            r.references
                .iter()
                .flat_map(|x| [x.href.as_str(), x.text.as_str()]),
        )
    });
    if texts.into_iter().any(|t| t.contains('\0')) {
        return Err(refused(
            "the results file holds a NUL character in a rule text".into(),
        ));
    }
    let times = [info.start_time, Some(info.end_time)]
        .into_iter()
        .chain(results.iter().map(|r| r.time))
        .flatten();
    for at in times {
        if !(1970..=9999).contains(&chrono::Datelike::year(&at)) {
            return Err(refused(format!(
                "the results file holds a time outside 1970–9999: {at}"
            )));
        }
    }
    Ok(())
}

/// The most a results file may hold once decompressed: four times the largest real file (an
/// ARF of the Ubuntu 22.04 content, 15 MB).
const MAX_RESULTS_XML_BYTES: u64 = 64 * 1024 * 1024;

/// What a parse gave: the upload as storage keeps it, the machine it audits, and the gate of its
/// version when this upload is the one to store its rule texts.
type Parsed = (Ingest, String, Option<GateGuard>);

/// Parses an upload into what storage keeps; CPU work, run off the request threads (it may
/// wait at its version's gate).
fn parse_upload(
    upload: &Received,
    sha256: String,
    (account_id, known, gates): (i64, &HashSet<(String, String)>, &Arc<VersionGates>),
    max_bytes: u64,
) -> Result<Parsed, ApiError> {
    let mut collect = Collect {
        too_many: false,
        known,
        account_id,
        gates,
        guard: None,
        rules: Vec::new(),
        wants_rules: false,
        info: None,
        results: Vec::new(),
    };
    // In memory, the parse borrows its events from the bytes; a file is streamed.
    let parsed = match upload {
        Received::Memory(bytes) => xccdf::parse_bytes_limited(bytes, max_bytes, &mut collect),
        Received::File(file) => {
            let input = super::uploads::file_reader(file)
                .map_err(|e| anyhow::anyhow!("cannot read the upload back: {e}"))?;
            xccdf::parse(xccdf::open_maybe_gzip(input, max_bytes), &mut collect)
        }
    };
    let summary =
        parsed.map_err(|e| refused(format!("the results file is not acceptable: {e}")))?;
    if collect.too_many {
        return Err(refused(format!(
            "the results file holds more than {MAX_RULES} rules or rule results; no benchmark has that many"
        )));
    }
    let info = collect
        .info
        .ok_or_else(|| refused("the results file holds no TestResult".into()))?;
    let version = summary
        .benchmark_version
        .clone()
        .or(info.version.clone())
        .ok_or_else(|| refused("the results file does not say its benchmark's version".into()))?;
    if !summary.had_benchmark && !known.contains(&(summary.benchmark_id.clone(), version.clone())) {
        return Err(refused(format!(
            "the server does not know benchmark {} version {} yet: send the whole results file, \
             with its Benchmark",
            summary.benchmark_id, version
        )));
    }
    if collect.results.is_empty() {
        return Err(refused(
            "the results file evaluates no rule (every rule is notselected): was the right \
             profile audited?"
                .into(),
        ));
    }
    check_stored_text(
        &summary.benchmark_id,
        &version,
        &info,
        &collect.rules,
        &collect.results,
    )?;
    let target = info.target.clone();
    let ingest = Ingest {
        benchmark_id: summary.benchmark_id.clone(),
        version,
        rule_texts: (summary.had_benchmark && collect.wants_rules).then_some(collect.rules),
        xccdf_profile: info.profile_id.clone(),
        target: target.clone(),
        start_time: info.start_time,
        end_time: info.end_time,
        score: summary.score,
        results: collect
            .results
            .into_iter()
            .map(|r| IngestResult {
                rule_id: r.rule_id,
                result: r.result,
                severity: r.severity,
                time: r.time,
            })
            .collect(),
        sha256,
        upload: None,
    };
    Ok((ingest, target, collect.guard))
}

/// Upload the results file of an audit activity.
#[utoipa::path(
    post, path = "/agent/v1/activities/{id}/results", tag = "agent", operation_id = "agentResults",
    params(("id" = i64, Path, description = "The activity's id")),
    request_body(content = Vec<u8>, description = "The XCCDF 1.2 results or ARF file, gzip or not", content_type = "application/xml"),
    responses(
        (status = 200, description = "Stored; the activity succeeded", body = ResultsAccepted),
        (status = 400, description = "Not XCCDF, malformed, a DTD, another machine's, or older than the activity", body = ErrorBody),
        (status = 401, description = "Bad credentials", body = ErrorBody),
        (status = 404, description = "No such activity for this machine", body = ErrorBody),
        (status = 409, description = "The activity was answered differently, or expects an outcome", body = ErrorBody),
        (status = 408, description = "The file arrived too slowly; send it again", body = ErrorBody),
        (status = 413, description = "The file is too large", body = ErrorBody),
    )
)]
pub async fn results(
    State(state): State<AppState>,
    agent: Result<Agent, ApiError>,
    Path(target): Path<String>,
    body: axum::body::Body,
) -> Result<Json<ResultsAccepted>, ApiError> {
    // The body is read before any refusal: answering while an agent is still sending a large
    // file would break its connection instead of telling it why. It streams to a temporary
    // file, so memory stays flat however large the upload.
    let limit = state.settings.max_upload_bytes;
    let Agent(computer) = match agent {
        Ok(agent) => agent,
        Err(refusal) => {
            drain(body, limit).await;
            return Err(refusal);
        }
    };
    let slot = state
        .upload_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| anyhow::anyhow!("the upload slots are closed: {e}"))?;
    let (upload, sha256) = receive(body, limit).await?;
    let upload = std::sync::Arc::new(upload);
    let id = path_id(&target, "activity")?;
    let activity = state
        .store
        .open_activity(computer.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("activity {id} is not this machine's")))?;
    let known: HashSet<(String, String)> = state
        .store
        .known_versions(computer.account_id)
        .await?
        .into_iter()
        .collect();
    // Real results files are 6–15 MB decompressed; a larger one is a bomb, refused before it
    // costs much parsing.
    let max = MAX_RESULTS_XML_BYTES;
    let parsed = upload.clone();
    let (gates, account_id) = (state.version_gates.clone(), computer.account_id);
    let parsing = state
        .parse_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| anyhow::anyhow!("the parse slots are closed: {e}"))?;
    let (ingest, target, gate) = tokio::task::spawn_blocking(move || {
        let _parsing = parsing;
        parse_upload(&parsed, sha256, (account_id, &known, &gates), max)
    })
    .await
    .map_err(|e| anyhow::anyhow!("parsing panicked: {e}"))??;
    if let (Some(audited), Some(expected)) = (&ingest.xccdf_profile, expected_profile(&activity)) {
        if *audited != expected {
            return Err(refused(format!(
                "the results file audits profile `{}`, but this activity asked for `{expected}`",
                rampart_domain::profile::shorten(audited)
            )));
        }
    }
    let names = [&computer.hostname, &computer.system_hostname];
    if !names.iter().any(|n| n.eq_ignore_ascii_case(&target)) {
        return Err(refused(format!(
            "the results file is for machine `{}`, not this one (`{}`)",
            rampart_domain::profile::shorten(&target),
            computer.system_hostname
        )));
    }
    let ran_at: DateTime<Utc> = ingest.start_time.unwrap_or(ingest.end_time);
    let handed_out = activity.delivery_time.unwrap_or(activity.creation_time);
    if ran_at < handed_out - CLOCK_SKEW {
        return Err(refused(format!(
            "the results file is from {}, before this activity was handed out ({}): it belongs to another run",
            rampart_domain::time::format_time(ran_at),
            rampart_domain::time::format_time(handed_out)
        )));
    }
    let mut ingest = ingest;
    let open = matches!(
        activity.status.as_str(),
        "undelivered" | "delivered" | "scheduled"
    );
    if open {
        ingest.upload =
            Some(keep_upload(&state, computer.account_id, id, &ingest.sha256, &upload).await?);
    }
    // The bytes are kept (or not needed): only the parsed upload waits for the writer, and the
    // next upload may be received.
    drop(upload);
    drop(slot);
    let kept = ingest.upload.clone();
    let recorded = state
        .store
        .record_results_owned(computer.id, id, ingest, Utc::now())
        .await;
    if let (Err(_), Some(upload)) = (&recorded, &kept) {
        if let Err(e) = state.store.delete_blob(computer.account_id, upload).await {
            tracing::warn!(error = %e, upload, "a refused upload's copy could not be removed");
        }
    }
    let outcome = recorded.map_err(answer_error)?;
    // Committed: uploads of the version waiting at its gate read it as known. (A refusal
    // above dropped the guard instead, and the next of them keeps the texts.)
    if let Some(gate) = gate {
        gate.stored();
    }
    Ok(Json(ResultsAccepted {
        activity_id: outcome.activity_id,
        status: "succeeded".into(),
        passing_rules: outcome.passing_rules,
        failing_rules: outcome.failing_rules,
        other_rules: outcome.other_rules,
        verdict: if outcome.passed { "pass" } else { "fail" }.into(),
    }))
}

fn answer_error(e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => ApiError::not_found("no such activity for this machine"),
        StorageError::Conflict(message) => ApiError::Conflict {
            code: "ActivityAnswered",
            message,
        },
        StorageError::Invalid(message) => refused(message),
        other => other.into(),
    }
}

/// How an activity ended, without a results file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// `succeeded` or `failed`.
    pub status: String,
    /// What happened, in words (shown as the activity's `result_text`).
    #[serde(default)]
    pub message: String,
}

/// Report how an activity ended (a fix, a restart, or a failure).
#[utoipa::path(
    post, path = "/agent/v1/activities/{id}/outcome", tag = "agent", operation_id = "agentOutcome",
    params(("id" = i64, Path, description = "The activity's id")),
    request_body = Outcome,
    responses(
        (status = 200, description = "Recorded"),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 401, description = "Bad credentials", body = ErrorBody),
        (status = 404, description = "No such activity for this machine", body = ErrorBody),
        (status = 409, description = "Answered differently already, or an audit (answer it with results)", body = ErrorBody),
    )
)]
pub async fn outcome(
    State(state): State<AppState>,
    Agent(computer): Agent,
    Path(target): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = path_id(&target, "activity")?;
    let outcome: Outcome = from_object(body)?;
    let succeeded = match outcome.status.as_str() {
        "succeeded" => true,
        "failed" => false,
        other => {
            return Err(ApiError::invalid(format!(
                "`status` must be succeeded or failed; got `{}`",
                rampart_domain::profile::shorten(other)
            )))
        }
    };
    let message: String = outcome.message.chars().take(4000).collect();
    let delay = |hours: i64, window_minutes: i64| {
        use rand::Rng;
        let spread = if window_minutes > 0 {
            rand::thread_rng().gen_range(0..=window_minutes * 60)
        } else {
            0
        };
        chrono::Duration::hours(hours) + chrono::Duration::seconds(spread)
    };
    state
        .store
        .record_outcome(computer.id, id, succeeded, &message, Utc::now(), &delay)
        .await
        .map_err(answer_error)?;
    // A fix or restart that succeeded queues the run's next step for the machine.
    if succeeded {
        state.new_work.notify_waiters();
    }
    Ok(Json(
        serde_json::json!({"activity_id": id, "status": outcome.status}),
    ))
}
