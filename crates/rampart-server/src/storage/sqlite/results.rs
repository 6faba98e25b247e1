//! Audit results: a machine's uploaded file becomes an audit row, one narrow row per selected
//! rule, and the rule texts of a benchmark version the server did not know yet.

use std::collections::HashMap;

use rampart_domain::xccdf::Class;

use super::runs::{end_activity, finish_run_if_done, set_instance_state};
use super::*;
use crate::storage::group_commit::{is_refusal, BatchResult, Job, Learned, RuleIndexes, Writer};

/// The stored version of a benchmark, created with its rule texts when new. Answers its id and
/// its rules' indexes by rule id.
async fn benchmark_version(
    conn: &mut SqliteConnection,
    account_id: i64,
    ingest: &Ingest,
) -> Result<(i64, HashMap<String, i64>)> {
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM benchmark_versions WHERE account_id = ? AND benchmark_id = ? AND version = ?",
    )
    .bind(account_id)
    .bind(&ingest.benchmark_id)
    .bind(&ingest.version)
    .fetch_optional(&mut *conn)
    .await?;
    let id = match existing {
        Some(id) => id,
        None => {
            let Some(texts) = &ingest.rule_texts else {
                return Err(StorageError::Conflict(format!(
                    "the server does not know benchmark {} version {} yet: send the whole \
                     results file, with its Benchmark",
                    ingest.benchmark_id, ingest.version
                )));
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO benchmark_versions (account_id, benchmark_id, version) VALUES (?, ?, ?) \
                 RETURNING id",
            )
            .bind(account_id)
            .bind(&ingest.benchmark_id)
            .bind(&ingest.version)
            .fetch_one(&mut *conn)
            .await?;
            for (idx, rule) in texts.iter().enumerate() {
                insert_rule(conn, id, idx as i64, rule).await?;
            }
            id
        }
    };
    let rows = sqlx::query("SELECT rule_id, idx FROM rules WHERE version_id = ?")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let map = rows
        .iter()
        .map(|row| Ok((row.try_get("rule_id")?, row.try_get("idx")?)))
        .collect::<Result<_>>()?;
    Ok((id, map))
}

async fn insert_rule(
    conn: &mut SqliteConnection,
    version: i64,
    idx: i64,
    rule: &rampart_domain::xccdf::RuleText,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO rules (version_id, idx, rule_id, severity, title, description, rationale, \
         identifiers, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(version)
    .bind(idx)
    .bind(&rule.id)
    .bind(i64::from(rule.severity.code()))
    .bind(&rule.title)
    .bind(&rule.description)
    .bind(&rule.rationale)
    .bind(encode_identifiers(&rule.identifiers))
    .bind(encode_references(&rule.references))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores a results file for the computer's activity and ends it, in the caller's transaction.
/// A version missing from `versions` is read (or created) and added to `learned`, for the caller
/// to remember once the transaction commits.
async fn record_results_in(
    conn: &mut SqliteConnection,
    job: &Job,
    versions: &RuleIndexes,
    learned: &mut Vec<Learned>,
) -> Result<AuditOutcome> {
    let (computer_id, activity_id, ingest, now) =
        (job.computer_id, job.activity_id, &job.ingest, job.now);
    let row = sqlx::query(
        "SELECT account_id, status, action, run_id, answer_sha256 FROM activities \
         WHERE id = ? AND computer_id = ?",
    )
    .bind(activity_id)
    .bind(computer_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound)?;
    let status: String = row.try_get("status")?;
    let answered: Option<String> = row.try_get("answer_sha256")?;
    if status == "succeeded" && answered.as_deref() == Some(ingest.sha256.as_str()) {
        let row = sqlx::query(
            "SELECT passing_rules, failing_rules, other_rules FROM audits WHERE activity_id = ?",
        )
        .bind(activity_id)
        .fetch_one(&mut *conn)
        .await?;
        let failing: i64 = row.try_get("failing_rules")?;
        return Ok(AuditOutcome {
            activity_id,
            passing_rules: row.try_get("passing_rules")?,
            failing_rules: failing,
            other_rules: row.try_get("other_rules")?,
            passed: failing == 0,
        });
    }
    if !["undelivered", "delivered"].contains(&status.as_str()) {
        return Err(StorageError::Conflict(format!(
            "activity {activity_id} was already answered ({status})"
        )));
    }
    let action: Option<String> = row.try_get("action")?;
    if !matches!(action.as_deref(), Some("audit" | "fix-audit")) {
        return Err(StorageError::Conflict(format!(
            "activity {activity_id} runs no audit: answer it with an outcome, not results"
        )));
    }
    let (account_id, run): (i64, i64) = (row.try_get("account_id")?, row.try_get("run_id")?);
    let (version, index) = match versions.get(account_id, ingest) {
        Some(known) => known,
        None => {
            let (id, index) = benchmark_version(conn, account_id, ingest).await?;
            let index = std::sync::Arc::new(index);
            learned.push(RuleIndexes::learned(account_id, ingest, id, index.clone()));
            (id, index)
        }
    };
    // (rule index, result code, severity code, seconds after start, rank: 0 failing first)
    let row = |idx: i64, result: &IngestResult| {
        let rank = match result.result.class() {
            Class::Failing => 0,
            Class::Other => 1,
            _ => 2,
        };
        let seconds = match (ingest.start_time, result.time) {
            (Some(start), Some(at)) => Some((at - start).num_seconds()),
            _ => None,
        };
        (
            idx,
            i64::from(result.result.code()),
            i64::from(result.severity.code()),
            seconds,
            rank,
        )
    };
    let mut rows: Vec<(i64, i64, i64, Option<i64>, u8)> = Vec::with_capacity(ingest.results.len());
    for result in &ingest.results {
        if result.result.class() == Class::NotSelected {
            continue;
        }
        // Every result must name a rule of its version: a file cannot add rules (that would
        // let one upload bloat a version every later upload reads).
        let Some(idx) = index.get(&result.rule_id).copied() else {
            return Err(StorageError::Invalid(format!(
                "rule `{}` is not in benchmark {} version {}",
                rampart_domain::profile::shorten(&result.rule_id),
                ingest.benchmark_id,
                ingest.version
            )));
        };
        rows.push(row(idx, result));
    }
    // A rule reported twice (multi-check) counts once, by its worst result.
    rows.sort_by_key(|r| (r.0, r.4));
    rows.dedup_by_key(|r| r.0);
    let count = |rank: u8| rows.iter().filter(|r| r.4 == rank).count() as i64;
    let (failing, other, passing) = (count(0), count(1), count(2));
    let audit: i64 = sqlx::query_scalar(
        "INSERT INTO audits (account_id, run_id, computer_id, activity_id, version_id, \
         xccdf_profile, target, start_time, end_time, score, passing_rules, failing_rules, \
         other_rules, upload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(account_id)
    .bind(run)
    .bind(computer_id)
    .bind(activity_id)
    .bind(version)
    .bind(&ingest.xccdf_profile)
    .bind(&ingest.target)
    .bind(ingest.start_time.map(secs))
    .bind(secs(ingest.end_time))
    .bind(ingest.score)
    .bind(passing)
    .bind(failing)
    .bind(other)
    .bind(&ingest.upload)
    .fetch_one(&mut *conn)
    .await?;
    for chunk in rows.chunks(1000) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO rule_results (audit_id, rule_idx, result, severity, seconds) ",
        );
        insert.push_values(chunk, |mut b, (idx, result, severity, seconds, _)| {
            b.push_bind(audit)
                .push_bind(*idx)
                .push_bind(*result)
                .push_bind(*severity)
                .push_bind(*seconds);
        });
        insert.build().execute(&mut *conn).await?;
    }
    let passed = failing == 0;
    set_instance_state(
        conn,
        run,
        computer_id,
        if passed { 2 } else { 3 },
        Some(audit),
    )
    .await?;
    let text = format!("{passing} rules passed, {failing} failed, {other} other");
    end_activity(
        conn,
        activity_id,
        "succeeded",
        &text,
        Some(&ingest.sha256),
        now,
    )
    .await?;
    finish_run_if_done(conn, run, now).await?;
    Ok(AuditOutcome {
        activity_id,
        passing_rules: passing,
        failing_rules: failing,
        other_rules: other,
        passed,
    })
}

/// Records uploads for [`super::super::group_commit`]: a batch in one write transaction, each
/// upload in a savepoint, rolled back when it is refused (an upload may be refused after it
/// wrote: a file naming a rule its new version lacks is found once the version is stored).
pub(super) struct UploadWriter {
    pub pool: SqlitePool,
    pub write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    pub versions: RuleIndexes,
}

#[async_trait]
impl Writer for UploadWriter {
    async fn batch(&self, jobs: &[Job]) -> BatchResult {
        let mut tx = WriteTx::begin(&self.pool, &self.write_lock).await?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut learned = Vec::new();
        for job in jobs {
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            let mut seen = Vec::new();
            let outcome = record_results_in(&mut savepoint, job, &self.versions, &mut seen).await;
            match outcome {
                Ok(outcome) => {
                    savepoint.commit().await?;
                    learned.append(&mut seen);
                    outcomes.push(Ok(outcome));
                }
                Err(e) if is_refusal(&e) => {
                    savepoint.rollback().await?;
                    outcomes.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        self.versions.commit(learned);
        Ok(outcomes)
    }

    async fn single(&self, job: &Job) -> Result<AuditOutcome> {
        let mut tx = WriteTx::begin(&self.pool, &self.write_lock).await?;
        let mut learned = Vec::new();
        let outcome = record_results_in(&mut tx, job, &self.versions, &mut learned).await?;
        tx.commit().await?;
        self.versions.commit(learned);
        Ok(outcome)
    }
}
