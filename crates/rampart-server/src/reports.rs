//! The report worker: writes a compliance report's CSV (summary or detailed, as DESIGN.md lays
//! them out) from the database to the blob store, then ends its activity.
//!
//! Memory stays flat however large the report: machines are read a page at a time, with the
//! rule results of the whole page in one ordered read, and the CSV leaves in pieces of
//! `BLOB_CHUNK` bytes, written by a task of their own while the next rows are rendered. Rule
//! texts are read and CSV-escaped once per benchmark version and kept while the report is
//! written, so a detailed row is a few copies ([`cells`]).
//!
//! A report is held by the server writing it through a lease that the worker renews; when a
//! server stops mid-report, the lease runs out and the scheduler of any server takes it over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rampart_domain::csv::CsvWriter;
use rampart_domain::profile::pass_rate;
use rampart_domain::time::format_time;

use crate::storage::{ReportInstance, ReportJob, Store, StoredResult, BLOB_CHUNK};

mod cells;
mod output;

use cells::{push_rows, AuditCells, VersionCells, Words};
use output::Output;

/// How long a report is held by its writer without a renewal.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How often a writer renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(30);
/// Machines read per query.
const PAGE: i64 = 500;
/// Benchmark versions whose rule texts are kept at once, and the bytes they may take.
const VERSIONS_KEPT: usize = 16;
const VERSION_BYTES_KEPT: usize = 32 * 1024 * 1024;
/// The CSV is sent to the blob store in pieces of about this size.
const PIECE: usize = BLOB_CHUNK;

pub const DETAILED_HEADER: [&str; 9] = [
    "Instance ID",
    "Report",
    "Rule ID",
    "Severity",
    "Identifiers and References",
    "Description",
    "Rationale",
    "Pass",
    "Report Time",
];

pub const SUMMARY_HEADER: [&str; 8] = [
    "Instance ID",
    "Hostname",
    "Report Time",
    "Passing Rules",
    "Failing Rules",
    "Other Rules",
    "Pass Rate",
    "Result",
];

/// Reports one server writes at once; more wait for a free writer.
const WRITERS: usize = 2;

/// Writes the report in the background, at most `WRITERS` at a time.
pub fn spawn(store: Arc<dyn Store>, job: ReportJob) {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let slots = SLOTS
        .get_or_init(|| Arc::new(tokio::sync::Semaphore::new(WRITERS)))
        .clone();
    tokio::spawn(async move {
        let _slot = slots.acquire_owned().await;
        // A report that waited for its turn may have been taken over meanwhile.
        let until = Utc::now() + LEASE;
        match store
            .renew_report(job.report_id, job.lease_token, until)
            .await
        {
            Ok(true) => write_report(store.as_ref(), job).await,
            Ok(false) => tracing::info!(report = job.name, "report taken over while queued"),
            Err(e) => tracing::error!(report = job.name, error = %e, "report lease not renewed"),
        }
    });
}

/// Writes the report and ends its activity: `succeeded` with the file's name, or `failed` with
/// the reason. Errors are logged here; the activity tells the user.
pub async fn write_report(store: &dyn Store, job: ReportJob) {
    let started = Instant::now();
    let outcome = match write_csv(store, &job).await {
        Ok(bytes) => {
            tracing::info!(
                report = job.name,
                bytes,
                ms = started.elapsed().as_millis() as u64,
                "report written"
            );
            Ok(bytes)
        }
        Err(e) => {
            tracing::error!(report = job.name, error = format!("{e:#}"), "report failed");
            Err("the report could not be written; the server log says why".to_owned())
        }
    };
    let written = outcome.is_ok();
    let ended = store
        .finish_report(job.report_id, job.lease_token, outcome, Utc::now())
        .await;
    match ended {
        Ok(true) => {}
        // Ended meanwhile: by another server that took it over (its file is this one), or by
        // a retention pass (then the file must not outlive the report).
        Ok(false) if written => match store.named_file(job.account_id, &job.name).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(
                    report = job.name,
                    "report purged while written; file removed"
                );
                if let Err(e) = store.delete_blob(job.account_id, &job.name).await {
                    tracing::error!(report = job.name, error = %e, "file could not be removed");
                }
            }
            Err(e) => tracing::error!(report = job.name, error = %e, "report state unknown"),
        },
        Ok(false) => {}
        Err(e) => tracing::error!(report = job.name, error = %e, "report could not be ended"),
    }
}

/// Benchmark versions' pre-rendered rule cells, read on first use.
struct RuleTexts<'s> {
    store: &'s dyn Store,
    versions: HashMap<i64, Arc<VersionCells>>,
    bytes: usize,
}

impl RuleTexts<'_> {
    async fn version(&mut self, id: i64) -> anyhow::Result<Arc<VersionCells>> {
        if let Some(rules) = self.versions.get(&id) {
            return Ok(rules.clone());
        }
        if self.versions.len() >= VERSIONS_KEPT || self.bytes >= VERSION_BYTES_KEPT {
            self.versions.clear();
            self.bytes = 0;
        }
        let rules = Arc::new(VersionCells::new(self.store.version_rules(id).await?));
        self.bytes += rules.bytes();
        self.versions.insert(id, rules.clone());
        Ok(rules)
    }
}

async fn write_csv(store: &dyn Store, job: &ReportJob) -> anyhow::Result<u64> {
    let blob = store.create_blob(job.account_id, &job.name).await?;
    let mut out = Output::new(blob);
    {
        let mut csv = CsvWriter::new(&mut out.buffer);
        if job.detailed {
            csv.write_row(DETAILED_HEADER)?;
        } else {
            csv.write_row(SUMMARY_HEADER)?;
        }
    }
    let mut texts = RuleTexts {
        store,
        versions: HashMap::new(),
        bytes: 0,
    };
    let words = Words::new();
    let mut renewed = Instant::now();
    for &run in &job.run_ids {
        let mut after = 0;
        loop {
            // The machines and their results from one snapshot: an upload landing meanwhile
            // is in both or in neither.
            let page = store.report_page(run, after, PAGE, job.detailed).await?;
            let Some(last) = page.instances.last() else {
                break;
            };
            after = last.computer_id;
            let mut results = &page.results[..];
            for instance in &page.instances {
                if job.detailed {
                    // This machine's results lead the page's, which follow machine order.
                    let audit_id = instance.audit.as_ref().map(|audit| audit.id);
                    let mine = results
                        .iter()
                        .position(|(audit, _)| Some(*audit) != audit_id)
                        .unwrap_or(results.len());
                    let (own, rest) = results.split_at(mine);
                    results = rest;
                    let rules = match &instance.audit {
                        Some(audit) => Some(texts.version(audit.version_id).await?),
                        None => None,
                    };
                    detailed_rows(&words, &mut out, instance, rules.as_deref(), own).await?;
                } else {
                    summary_row(&mut CsvWriter::new(&mut out.buffer), instance)?;
                }
                out.flush_if_full().await?;
                if renewed.elapsed() >= RENEW_EVERY {
                    let held = store
                        .renew_report(job.report_id, job.lease_token, Utc::now() + LEASE)
                        .await?;
                    // Taken over, ended or purged: the unfinished file is dropped.
                    anyhow::ensure!(held, "the report was taken over or removed while written");
                    renewed = Instant::now();
                }
            }
            anyhow::ensure!(
                results.is_empty(),
                "stored data is corrupt: rule results of run {run} belong to no machine read"
            );
        }
    }
    out.finish().await
}

/// The verdict word of a machine's state in a run.
fn verdict(state: i64) -> &'static str {
    match state {
        0 => "not-started",
        1 => "in-progress",
        2 => "pass",
        _ => "fail",
    }
}

fn summary_row(
    csv: &mut CsvWriter<&mut Vec<u8>>,
    instance: &ReportInstance,
) -> std::io::Result<()> {
    csv.field_display(instance.computer_id)?;
    csv.field(&instance.hostname)?;
    match &instance.audit {
        Some(audit) => {
            csv.field(&format_time(audit.end_time))?;
            csv.field_display(audit.passing_rules)?;
            csv.field_display(audit.failing_rules)?;
            csv.field_display(audit.other_rules)?;
            match pass_rate(audit.passing_rules, audit.failing_rules) {
                Some(rate) => csv.field_display(rate)?,
                None => csv.field("")?,
            }
        }
        None => {
            for _ in 0..5 {
                csv.field("")?;
            }
        }
    }
    csv.field(verdict(instance.state))?;
    csv.end_row()
}

/// The result of a `(audit id, result)` pair (a function, not a closure: a closure here makes
/// the writer's future not `Send`-general enough for `tokio::spawn`).
fn result_of(tagged: &(i64, StoredResult)) -> StoredResult {
    tagged.1
}

/// One row per selected rule of the machine's audit (`rules` are its version's); a machine with
/// no results (not started, still running, or failed without results) gets one row with its
/// verdict and empty rule cells, so that no machine of the run is missing from the report.
async fn detailed_rows(
    words: &Words,
    out: &mut Output,
    instance: &ReportInstance,
    rules: Option<&VersionCells>,
    results: &[(i64, StoredResult)],
) -> anyhow::Result<()> {
    let (Some(audit), Some(rules)) = (&instance.audit, rules) else {
        let mut csv = CsvWriter::new(&mut out.buffer);
        csv.field_display(instance.computer_id)?;
        for _ in 0..6 {
            csv.field("")?;
        }
        csv.field(verdict(instance.state))?;
        csv.field("")?;
        csv.end_row()?;
        return Ok(());
    };
    let cells = AuditCells::new(instance.computer_id, audit);
    // A piece at a time: rows stop once the buffer holds a piece, which is sent before more are
    // rendered, so a buffer is at most a piece and one row (rule texts of 256 KiB each).
    let mut rows = results.iter().map(result_of).peekable();
    while rows.peek().is_some() {
        push_rows(&mut out.buffer, PIECE, &cells, rules, words, &mut rows);
        out.flush_if_full().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
