//! Compliance reports and retention on PostgreSQL.

use super::runs::activity_in;
use super::*;

const REPORT_SUMMARY: &str = "Generate security profile compliance report.";

/// Sets `report_uri` of the runs a report covers: "in-progress" while any report of the run is
/// being written, else the newest finished report's name (or null).
pub(super) const REFRESH_REPORT_URI: &str = "UPDATE runs SET report_uri = CASE \
    WHEN EXISTS (SELECT 1 FROM report_runs rr JOIN reports rep ON rep.id = rr.report_id \
                 WHERE rr.run_id = runs.id AND rep.status = 'in-progress') THEN 'in-progress' \
    ELSE (SELECT rep.name FROM report_runs rr JOIN reports rep ON rep.id = rr.report_id \
          WHERE rr.run_id = runs.id AND rep.status = 'succeeded' ORDER BY rep.id DESC LIMIT 1) \
    END WHERE id IN (SELECT run_id FROM report_runs WHERE report_id = $1)";

async fn job_in(conn: &mut PgConnection, report_id: i64) -> Result<ReportJob> {
    let row =
        sqlx::query("SELECT account_id, name, detailed, lease_token FROM reports WHERE id = $1")
            .bind(report_id)
            .fetch_one(&mut *conn)
            .await?;
    let run_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM report_runs rr JOIN runs r ON r.id = rr.run_id \
         WHERE rr.report_id = $1 ORDER BY r.started_at, r.id",
    )
    .bind(report_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ReportJob {
        report_id,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        detailed: row.try_get("detailed")?,
        run_ids,
        lease_token: row.try_get("lease_token")?,
    })
}

/// Up to `limit` machines of the run with an id above `after`, by id.
async fn report_instances(
    conn: &mut PgConnection,
    run_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<ReportInstance>> {
    let rows = sqlx::query(report_instances_sql!("$1", "$2", "$3"))
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let audit = match row.try_get::<Option<i64>, _>("audit_id")? {
                Some(id) => Some(ReportAudit {
                    id,
                    version_id: row.try_get("version_id")?,
                    xccdf_profile: row.try_get("xccdf_profile")?,
                    end_time: row.try_get("end_time")?,
                    passing_rules: row.try_get("passing_rules")?,
                    failing_rules: row.try_get("failing_rules")?,
                    other_rules: row.try_get("other_rules")?,
                }),
                None => None,
            };
            Ok(ReportInstance {
                computer_id: row.try_get("computer_id")?,
                hostname: row.try_get("hostname")?,
                state: row.try_get("state")?,
                audit,
            })
        })
        .collect()
}

/// The rule results of the run's machines with an id in (`after`, `through`], by machine id
/// then rule index, each with the id of its audit.
async fn report_results(
    conn: &mut PgConnection,
    run_id: i64,
    after: i64,
    through: i64,
) -> Result<Vec<(i64, StoredResult)>> {
    // A machine's results as an array.
    let rows: Vec<(i64, Vec<i64>)> = sqlx::query_as(report_results_sql!(
        "array_agg((rr.rule_idx::bigint << 16) | ((rr.result::bigint & 255) << 8) \
         | (rr.severity::bigint & 255) ORDER BY rr.rule_idx)",
        "$1",
        "$2",
        "$3"
    ))
    .bind(run_id)
    .bind(after)
    .bind(through)
    .fetch_all(&mut *conn)
    .await?;
    let mut results = Vec::new();
    for (audit_id, packed) in rows {
        unpack_results(
            audit_id,
            packed.into_iter().map(Ok::<i64, std::convert::Infallible>),
            &mut results,
        )?;
    }
    Ok(results)
}

#[async_trait]
impl Reports for PgStore {
    async fn request_report(&self, request: &ReportRequest) -> Result<ReportAnswer> {
        let mut tx = self.pool.begin().await?;
        let profile: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM security_profiles WHERE account_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(request.account_id)
        .bind(request.profile_id)
        .fetch_optional(&mut *tx)
        .await?;
        if profile.is_none() {
            return Err(StorageError::NotFound);
        }
        let runs = sqlx::query(
            "SELECT id, started_at, not_started, in_progress, passing, failing FROM runs \
             WHERE profile_id = $1 AND started_at BETWEEN $2 AND $3 ORDER BY started_at, id LIMIT $4",
        )
        .bind(request.profile_id)
        .bind(request.from)
        .bind(request.to)
        .bind(if request.earliest_only { 1 } else { i64::MAX })
        .fetch_all(&mut *tx)
        .await?;
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            return Ok(ReportAnswer::NoRuns);
        };
        let mut key = Vec::with_capacity(runs.len());
        let mut run_ids = Vec::with_capacity(runs.len());
        for run in &runs {
            let id: i64 = run.try_get("id")?;
            run_ids.push(id);
            key.push(run_key_part(
                id,
                [
                    run.try_get("not_started")?,
                    run.try_get("in_progress")?,
                    run.try_get("passing")?,
                    run.try_get("failing")?,
                ],
            ));
        }
        let key = key.join(",");
        let existing = sqlx::query(
            "SELECT name, status, activity_id FROM reports WHERE profile_id = $1 AND detailed = $2 \
             AND run_key = $3 AND status IN ('in-progress', 'succeeded') ORDER BY id DESC LIMIT 1",
        )
        .bind(request.profile_id)
        .bind(request.detailed)
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = existing {
            if existing.try_get::<String, _>("status")? == "succeeded" {
                return Ok(ReportAnswer::Ready(existing.try_get("name")?));
            }
            let activity = activity_in(&mut tx, existing.try_get("activity_id")?).await?;
            return Ok(ReportAnswer::Pending(activity));
        }

        let base = report_base_name(
            request.profile_id,
            first.try_get("started_at")?,
            last.try_get("started_at")?,
            request.detailed,
        );
        let taken: Vec<String> = sqlx::query_scalar(
            "SELECT substr(name, 1, length(name) - 4) FROM reports \
             WHERE account_id = $1 AND substr(name, 1, $2::int) = $3",
        )
        .bind(request.account_id)
        .bind(base.len() as i64)
        .bind(&base)
        .fetch_all(&mut *tx)
        .await?;
        let name = format!("{}.csv", free_name(&base, &taken));
        let activity: i64 = sqlx::query_scalar(
            "INSERT INTO activities (account_id, type, summary, status, creator_id, \
             deliver_delay_window, creation_time) \
             VALUES ($1, 'GenerateUsgReportActivity', $2, 'in-progress', $3, 0, $4) RETURNING id",
        )
        .bind(request.account_id)
        .bind(REPORT_SUMMARY)
        .bind(request.creator_id)
        .bind(request.now)
        .fetch_one(&mut *tx)
        .await?;
        let report_id: i64 = sqlx::query_scalar(
            "INSERT INTO reports (account_id, profile_id, activity_id, name, detailed, run_key, \
             status, lease_until, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, 'in-progress', $7, $8) RETURNING id",
        )
        .bind(request.account_id)
        .bind(request.profile_id)
        .bind(activity)
        .bind(&name)
        .bind(request.detailed)
        .bind(&key)
        .bind(request.lease_until)
        .bind(request.now)
        .fetch_one(&mut *tx)
        .await?;
        for run in &run_ids {
            sqlx::query("INSERT INTO report_runs (run_id, report_id) VALUES ($1, $2)")
                .bind(run)
                .bind(report_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(REFRESH_REPORT_URI)
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
        let answer = activity_in(&mut tx, activity).await?;
        tx.commit().await?;
        Ok(ReportAnswer::Started(
            answer,
            ReportJob {
                report_id,
                account_id: request.account_id,
                name,
                detailed: request.detailed,
                run_ids,
                lease_token: 0,
            },
        ))
    }

    async fn claim_stale_reports(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ReportJob>> {
        let stale: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM reports WHERE status = 'in-progress' AND lease_until < $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if stale.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE reports SET lease_until = $1, lease_token = lease_token + 1 \
             WHERE id IN (SELECT id FROM reports \
             WHERE status = 'in-progress' AND lease_until < $2 FOR UPDATE SKIP LOCKED) \
             RETURNING id",
        )
        .bind(lease_until)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            jobs.push(job_in(&mut tx, id).await?);
        }
        tx.commit().await?;
        Ok(jobs)
    }

    async fn renew_report(
        &self,
        report_id: i64,
        lease_token: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let renewed = sqlx::query(
            "UPDATE reports SET lease_until = $1 WHERE id = $2 AND lease_token = $3 \
             AND status = 'in-progress'",
        )
        .bind(lease_until)
        .bind(report_id)
        .bind(lease_token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(renewed == 1)
    }

    async fn finish_report(
        &self,
        report_id: i64,
        lease_token: i64,
        outcome: std::result::Result<u64, String>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Runs before reports, the order every writer of both follows.
        sqlx::query(
            "SELECT r.id FROM runs r JOIN report_runs rr ON rr.run_id = r.id \
             WHERE rr.report_id = $1 ORDER BY r.id FOR UPDATE OF r",
        )
        .bind(report_id)
        .fetch_all(&mut *tx)
        .await?;
        let (status, bytes) = match &outcome {
            Ok(bytes) => ("succeeded", Some(*bytes as i64)),
            Err(_) => ("failed", None),
        };
        let row = sqlx::query(
            "UPDATE reports SET status = $1, bytes = $2, completion_time = $3 \
             WHERE id = $4 AND lease_token = $5 AND status = 'in-progress' \
             RETURNING activity_id, name",
        )
        .bind(status)
        .bind(bytes)
        .bind(now)
        .bind(report_id)
        .bind(lease_token)
        .fetch_optional(&mut *tx)
        .await?;
        // Ended by a writer that took it over, or purged: nothing to do here.
        let Some(row) = row else { return Ok(false) };
        let (text, code) = match outcome {
            Ok(_) => (row.try_get::<String, _>("name")?, 0),
            Err(reason) => (reason, 1),
        };
        sqlx::query(
            "UPDATE activities SET status = $1, result_text = $2, result_code = $3, \
             completion_time = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(text)
        .bind(code)
        .bind(now)
        .bind(row.try_get::<i64, _>("activity_id")?)
        .execute(&mut *tx)
        .await?;
        sqlx::query(REFRESH_REPORT_URI)
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn report_page(
        &self,
        run_id: i64,
        after: i64,
        limit: i64,
        with_results: bool,
    ) -> Result<ReportPage> {
        let mut tx = self.pool.begin().await?;
        // One snapshot for both reads: REPEATABLE READ takes it at the first one.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let instances = report_instances(&mut tx, run_id, after, limit).await?;
        let results = match instances.last() {
            Some(last) if with_results => {
                report_results(&mut tx, run_id, after, last.computer_id).await?
            }
            _ => Vec::new(),
        };
        tx.commit().await?;
        Ok(ReportPage { instances, results })
    }

    async fn audit_results(&self, audit_id: i64) -> Result<Vec<StoredResult>> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT rule_idx::bigint, result::bigint, severity::bigint FROM rule_results WHERE audit_id = $1 \
             ORDER BY rule_idx",
        )
        .bind(audit_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(stored_result).collect())
    }

    async fn version_rules(&self, version_id: i64) -> Result<Vec<StoredRule>> {
        let rows = sqlx::query(
            "SELECT idx, rule_id, description, rationale, identifiers, refs FROM rules \
             WHERE version_id = $1 ORDER BY idx",
        )
        .bind(version_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRule {
                    idx: row.try_get("idx")?,
                    rule_id: row.try_get("rule_id")?,
                    description: row.try_get("description")?,
                    rationale: row.try_get("rationale")?,
                    identifiers: row.try_get("identifiers")?,
                    refs: row.try_get("refs")?,
                })
            })
            .collect()
    }

    async fn named_file(&self, account_id: i64, name: &str) -> Result<Option<NamedFile>> {
        let tailoring: Option<Option<String>> = sqlx::query_scalar(
            "SELECT tailoring_file FROM security_profiles \
             WHERE account_id = $1 AND tailoring_file_uri = $2",
        )
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(Some(text)) = tailoring {
            return Ok(Some(NamedFile::Tailoring(text)));
        }
        let report: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM reports WHERE account_id = $1 AND name = $2 AND status = 'succeeded'",
        )
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(report.map(|_| NamedFile::Report))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<Purged> {
        super::retention::purge_expired(self, now).await
    }
}
