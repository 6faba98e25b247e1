//! Audit results: a machine's uploaded file becomes an audit row, one narrow row per selected
//! rule, and the rule texts of a benchmark version the server did not know yet. The upload
//! writer that calls this, a batch per transaction, is `upload_writer.rs`.

use std::collections::HashMap;

use rampart_domain::xccdf::Class;

use super::*;
use crate::storage::group_commit::{is_refusal, Job, Learned, RuleIndexes};

/// The stored version of a benchmark, created with its rule texts when new. Answers its id and
/// its rules' indexes by rule id.
async fn benchmark_version(
    conn: &mut PgConnection,
    account_id: i64,
    ingest: &Ingest,
) -> Result<(i64, HashMap<String, i64>)> {
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM benchmark_versions WHERE account_id = $1 AND benchmark_id = $2 AND version = $3",
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
            // Two first uploads of a version may race: the second waits on the unique key, then
            // finds the version (and its rules) the first stored.
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO benchmark_versions (account_id, benchmark_id, version) \
                 VALUES ($1, $2, $3) ON CONFLICT (account_id, benchmark_id, version) DO NOTHING \
                 RETURNING id",
            )
            .bind(account_id)
            .bind(&ingest.benchmark_id)
            .bind(&ingest.version)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(id) = inserted else {
                let id: i64 = sqlx::query_scalar(
                    "SELECT id FROM benchmark_versions \
                     WHERE account_id = $1 AND benchmark_id = $2 AND version = $3",
                )
                .bind(account_id)
                .bind(&ingest.benchmark_id)
                .bind(&ingest.version)
                .fetch_one(&mut *conn)
                .await?;
                return Ok((id, rule_index(conn, id).await?));
            };
            for (idx, rule) in texts.iter().enumerate() {
                insert_rule(conn, id, idx as i64, rule).await?;
            }
            id
        }
    };
    Ok((id, rule_index(conn, id).await?))
}

/// The rules of a version: their index by rule id.
async fn rule_index(conn: &mut PgConnection, version: i64) -> Result<HashMap<String, i64>> {
    let rows = sqlx::query("SELECT rule_id, idx FROM rules WHERE version_id = $1")
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("rule_id")?, row.try_get("idx")?)))
        .collect()
}

async fn insert_rule(
    conn: &mut PgConnection,
    version: i64,
    idx: i64,
    rule: &rampart_domain::xccdf::RuleText,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO rules (version_id, idx, rule_id, severity, title, description, rationale, \
         identifiers, refs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
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

/// A machine's instance of a run moved from one state to another: the run's counters to change
/// (applied once per transaction and run, see `upload_writer::RunMoves`).
pub(super) struct Moved {
    pub run: i64,
    pub from: i64,
    pub to: i64,
}

/// What storing an upload gave, and the counter move it made.
pub(super) struct Recorded {
    pub outcome: AuditOutcome,
    pub moved: Option<Moved>,
}

/// The activity an upload answers, read and locked: refused when it cannot take results; an
/// upload of the same file again answers what was stored.
enum Checked {
    Open { account_id: i64, run: i64 },
    Again(AuditOutcome),
}

async fn check_activity(conn: &mut PgConnection, job: &Job) -> Result<Checked> {
    let (computer_id, activity_id, ingest) = (job.computer_id, job.activity_id, &job.ingest);
    let row = sqlx::query(
        "SELECT a.account_id, a.status, a.action, a.run_id, a.answer_sha256, \
         u.passing_rules, u.failing_rules, u.other_rules \
         FROM activities a LEFT JOIN audits u ON u.activity_id = a.id \
         WHERE a.id = $1 AND a.computer_id = $2 FOR UPDATE OF a",
    )
    .bind(activity_id)
    .bind(computer_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound)?;
    let status: String = row.try_get("status")?;
    let answered: Option<String> = row.try_get("answer_sha256")?;
    if status == "succeeded" && answered.as_deref() == Some(ingest.sha256.as_str()) {
        let failing: i64 = row.try_get("failing_rules")?;
        return Ok(Checked::Again(AuditOutcome {
            activity_id,
            passing_rules: row.try_get("passing_rules")?,
            failing_rules: failing,
            other_rules: row.try_get("other_rules")?,
            passed: failing == 0,
        }));
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
    Ok(Checked::Open {
        account_id: row.try_get("account_id")?,
        run: row.try_get("run_id")?,
    })
}

/// Stores a results file for the computer's activity and ends it, in the caller's transaction,
/// but for the run's counters: the caller applies [`Recorded::moved`]. A refused upload
/// ([`is_refusal`]) leaves nothing written, with no savepoint of the caller's: every check comes
/// before the first write but one, whether the file's rules are in its version, which needs the
/// version read (or created, when new). So when the version is not in `versions`, reading or
/// creating it and the upload's writes are kept in a savepoint of their own, rolled back on a
/// refusal, and a refused upload also undoes a version it created. A version missing from
/// `versions` is added to `learned`, for the caller to remember once the transaction commits.
pub(super) async fn record_results_in(
    conn: &mut PgConnection,
    job: &Job,
    versions: &RuleIndexes,
    learned: &mut Vec<Learned>,
) -> Result<Recorded> {
    let (account_id, run) = match check_activity(conn, job).await? {
        Checked::Open { account_id, run } => (account_id, run),
        Checked::Again(outcome) => {
            return Ok(Recorded {
                outcome,
                moved: None,
            })
        }
    };
    if let Some((version, index)) = versions.get(account_id, &job.ingest) {
        return store_audit(conn, job, account_id, run, version, &index).await;
    }
    let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
    let (version, index) = benchmark_version(&mut savepoint, account_id, &job.ingest).await?;
    let index = std::sync::Arc::new(index);
    match store_audit(&mut savepoint, job, account_id, run, version, &index).await {
        Ok(recorded) => {
            savepoint.commit().await?;
            learned.push(RuleIndexes::learned(
                account_id,
                &job.ingest,
                version,
                index,
            ));
            Ok(recorded)
        }
        Err(e) => {
            if is_refusal(&e) {
                savepoint.rollback().await?;
            }
            Err(e)
        }
    }
}

/// A rule result as stored: (rule index, result code, severity code, seconds after the start,
/// rank: 0 failing, 1 other, 2 passing).
type ResultRow = (i64, i64, i64, Option<i64>, u8);

/// The audit, its rule results, the machine's instance and its activity, in one statement
/// (PostgreSQL runs a `WITH` of several writes as one, on one snapshot): one round trip instead
/// of one per write. The rule results go as five arrays (`unnest`), so the statement is the same
/// prepared one whatever the number of rules, with 23 parameters instead of five per rule.
async fn store_audit(
    conn: &mut PgConnection,
    job: &Job,
    account_id: i64,
    run: i64,
    version: i64,
    index: &HashMap<String, i64>,
) -> Result<Recorded> {
    let (computer_id, activity_id, ingest, now) =
        (job.computer_id, job.activity_id, &job.ingest, job.now);
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
    let mut rows: Vec<ResultRow> = Vec::with_capacity(ingest.results.len());
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
    let passed = failing == 0;
    let state: i64 = if passed { 2 } else { 3 };
    let column =
        |pick: fn(&ResultRow) -> Option<i64>| rows.iter().map(pick).collect::<Vec<Option<i64>>>();
    let text = format!("{passing} rules passed, {failing} failed, {other} other");
    // The instance's old state is read in the same statement: its row cannot change under it,
    // since every writer of an instance first locks its activity row, as `check_activity` did.
    let old: Option<i64> = sqlx::query_scalar(
        "WITH audit AS ( \
           INSERT INTO audits (account_id, run_id, computer_id, activity_id, version_id, \
             xccdf_profile, target, start_time, end_time, score, passing_rules, failing_rules, \
             other_rules, upload) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id \
         ), results AS ( \
           INSERT INTO rule_results (audit_id, rule_idx, result, severity, seconds) \
           SELECT audit.id, r.idx, r.result, r.severity, r.seconds FROM audit, \
             unnest($15::int8[], $16::int8[], $17::int8[], $18::int8[]) \
             AS r (idx, result, severity, seconds) \
         ), old AS ( \
           SELECT state FROM run_instances WHERE run_id = $2 AND computer_id = $3 \
         ), instance AS ( \
           UPDATE run_instances SET state = $19, audit_id = audit.id FROM audit \
           WHERE run_id = $2 AND computer_id = $3 AND state <> $19 \
         ), ended AS ( \
           UPDATE activities SET status = 'succeeded', completion_time = $20, \
             result_text = $21, result_code = 0, answer_sha256 = $22 \
           WHERE id = $4 AND status IN ('undelivered', 'delivered', 'scheduled') \
         ) \
         SELECT (SELECT state FROM old) FROM audit",
    )
    .bind(account_id)
    .bind(run)
    .bind(computer_id)
    .bind(activity_id)
    .bind(version)
    .bind(&ingest.xccdf_profile)
    .bind(&ingest.target)
    .bind(ingest.start_time)
    .bind(ingest.end_time)
    .bind(ingest.score)
    .bind(passing)
    .bind(failing)
    .bind(other)
    .bind(&ingest.upload)
    .bind(column(|r| Some(r.0)))
    .bind(column(|r| Some(r.1)))
    .bind(column(|r| Some(r.2)))
    .bind(column(|r| r.3))
    .bind(state)
    .bind(now)
    .bind(&text)
    .bind(&ingest.sha256)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Recorded {
        outcome: AuditOutcome {
            activity_id,
            passing_rules: passing,
            failing_rules: failing,
            other_rules: other,
            passed,
        },
        moved: old.filter(|&from| from != state).map(|from| Moved {
            run,
            from,
            to: state,
        }),
    })
}
