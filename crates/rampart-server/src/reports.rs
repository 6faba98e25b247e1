//! The report worker: writes a compliance report's CSV (summary or detailed, as DESIGN.md lays
//! them out) from the database to the blob store, then ends its activity.
//!
//! Memory stays flat however large the report: machines are read a page at a time, each
//! machine's rule results one machine at a time, and the CSV leaves in pieces of `BLOB_CHUNK`
//! bytes. Rule texts are read once per benchmark version and kept while the report is written.
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
use rampart_domain::xccdf::{ResultKind, Severity};

use crate::storage::{ReportInstance, ReportJob, Store, StoredRule, BLOB_CHUNK};

/// How long a report is held by its writer without a renewal.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How often a writer renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(30);
/// Machines read per query.
const PAGE: i64 = 500;
/// Benchmark versions whose rule texts are kept at once.
const VERSIONS_KEPT: usize = 16;

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

/// A rule's texts as the detailed report shows them.
struct RuleColumns {
    rule_id: String,
    identifiers_and_references: String,
    description: String,
    rationale: String,
}

impl From<StoredRule> for RuleColumns {
    fn from(rule: StoredRule) -> Self {
        Self {
            identifiers_and_references: identifiers_and_references(&rule.identifiers, &rule.refs),
            rule_id: rule.rule_id,
            description: rule.description,
            rationale: rule.rationale,
        }
    }
}

/// The identifiers' values, then the references' texts, joined with `; `.
fn identifiers_and_references(identifiers: &str, refs: &str) -> String {
    let values = |json: &str, key: &str| -> Vec<String> {
        serde_json::from_str::<Vec<serde_json::Value>>(json)
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get(key)?.as_str().map(str::to_owned))
            .filter(|value| !value.is_empty())
            .collect()
    };
    let mut all = values(identifiers, "value");
    all.extend(values(refs, "text"));
    all.join("; ")
}

/// Rule texts by benchmark version, read on first use.
struct RuleTexts<'s> {
    store: &'s dyn Store,
    versions: HashMap<i64, Arc<HashMap<i64, RuleColumns>>>,
}

impl RuleTexts<'_> {
    async fn version(&mut self, id: i64) -> anyhow::Result<Arc<HashMap<i64, RuleColumns>>> {
        if let Some(rules) = self.versions.get(&id) {
            return Ok(rules.clone());
        }
        if self.versions.len() >= VERSIONS_KEPT {
            self.versions.clear();
        }
        let rules: HashMap<i64, RuleColumns> = self
            .store
            .version_rules(id)
            .await?
            .into_iter()
            .map(|rule| (rule.idx, RuleColumns::from(rule)))
            .collect();
        let rules = Arc::new(rules);
        self.versions.insert(id, rules.clone());
        Ok(rules)
    }
}

/// The CSV on its way to the blob store.
struct Output {
    csv: CsvWriter<Vec<u8>>,
    blob: Box<dyn crate::storage::BlobWriter>,
}

impl Output {
    /// Sends what has piled up once it is a chunk's worth.
    async fn flush_if_full(&mut self) -> anyhow::Result<()> {
        if self.csv.get_mut().len() >= BLOB_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        let buffer = self.csv.get_mut();
        if !buffer.is_empty() {
            self.blob.write(buffer).await?;
            buffer.clear();
        }
        Ok(())
    }
}

async fn write_csv(store: &dyn Store, job: &ReportJob) -> anyhow::Result<u64> {
    let blob = store.create_blob(job.account_id, &job.name).await?;
    let mut out = Output {
        csv: CsvWriter::new(Vec::with_capacity(2 * BLOB_CHUNK)),
        blob,
    };
    if job.detailed {
        out.csv.write_row(DETAILED_HEADER)?;
    } else {
        out.csv.write_row(SUMMARY_HEADER)?;
    }
    let mut texts = RuleTexts {
        store,
        versions: HashMap::new(),
    };
    let mut renewed = Instant::now();
    for &run in &job.run_ids {
        let mut after = 0;
        loop {
            let page = store.report_instances(run, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.computer_id;
            for instance in &page {
                if job.detailed {
                    detailed_rows(store, &mut texts, &mut out, instance).await?;
                } else {
                    summary_row(&mut out.csv, instance)?;
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
        }
    }
    out.flush().await?;
    Ok(out.blob.finish().await?)
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

fn summary_row(csv: &mut CsvWriter<Vec<u8>>, instance: &ReportInstance) -> std::io::Result<()> {
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

/// One row per selected rule of the machine's audit; a machine with no results (not started,
/// still running, or failed without results) gets one row with its verdict and empty rule cells,
/// so that no machine of the run is missing from the report.
async fn detailed_rows(
    store: &dyn Store,
    texts: &mut RuleTexts<'_>,
    out: &mut Output,
    instance: &ReportInstance,
) -> anyhow::Result<()> {
    let Some(audit) = &instance.audit else {
        out.csv.field_display(instance.computer_id)?;
        for _ in 0..6 {
            out.csv.field("")?;
        }
        out.csv.field(verdict(instance.state))?;
        out.csv.field("")?;
        out.csv.end_row()?;
        return Ok(());
    };
    let rules = texts.version(audit.version_id).await?;
    let results = store.audit_results(audit.id).await?;
    let report = audit.xccdf_profile.as_deref().unwrap_or("");
    let time = format_time(audit.end_time);
    for result in results {
        let rule = rules.get(&result.rule_idx);
        out.csv.field_display(instance.computer_id)?;
        out.csv.field(report)?;
        out.csv.field(rule.map_or("", |r| r.rule_id.as_str()))?;
        out.csv
            .field(Severity::from_code(result.severity).map_or("unknown", Severity::as_str))?;
        out.csv
            .field(rule.map_or("", |r| r.identifiers_and_references.as_str()))?;
        out.csv.field(rule.map_or("", |r| r.description.as_str()))?;
        out.csv.field(rule.map_or("", |r| r.rationale.as_str()))?;
        out.csv
            .field(ResultKind::from_code(result.result).map_or("unknown", ResultKind::as_str))?;
        out.csv.field(&time)?;
        out.csv.end_row()?;
        if out.csv.get_mut().len() >= 4 * BLOB_CHUNK {
            out.flush().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_come_before_references_and_empty_ones_are_left_out() {
        let ids = r#"[{"system":"https://ncp.nist.gov/cce","value":"CCE-83484-8"}]"#;
        let refs = r#"[{"href":"https://www.cisecurity.org/","text":"1.1.2"},{"href":"","text":""},{"href":"x","text":"SR 3.1"}]"#;
        assert_eq!(
            identifiers_and_references(ids, refs),
            "CCE-83484-8; 1.1.2; SR 3.1"
        );
        assert_eq!(identifiers_and_references("[]", "[]"), "");
    }
}
