//! Retention on PostgreSQL: runs older than their profile's `retention_period` are deleted with
//! everything that hangs off them, one run per transaction.

use super::reports::REFRESH_REPORT_URI;
use super::*;

pub(super) async fn purge_expired(store: &PgStore, now: DateTime<Utc>) -> Result<Purged> {
    // A run some machine is still working on waits until its activities end or time out: no
    // upload ever races its run's deletion.
    let expired: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM runs r JOIN security_profiles p ON p.id = r.profile_id \
         WHERE r.started_at < $1 - make_interval(days => p.retention_period::int) \
         AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.run_id = r.id \
                         AND a.status IN ('undelivered', 'delivered', 'scheduled')) \
         ORDER BY r.id",
    )
    .bind(now)
    .fetch_all(&store.pool)
    .await?;
    let mut purged = Purged::default();
    // Files whose writer stopped without finishing (a server that died mid-write), an hour
    // after they were started: a report takes seconds to minutes. A purge "as of" a later time
    // must not take writes that are running now.
    sqlx::query(
        "DELETE FROM blobs WHERE NOT complete \
         AND creation_time < LEAST($1, now()) - interval '1 hour'",
    )
    .bind(now)
    .execute(&store.pool)
    .await?;
    for run in expired {
        // One transaction per run: a run is deleted whole or not at all.
        let deleted = async {
            let mut tx = store.pool.begin().await?;
            let deleted = purge_run(&mut tx, run).await?;
            tx.commit().await?;
            Ok::<_, StorageError>(deleted)
        }
        .await;
        let (counts, files) = match deleted {
            Ok(deleted) => deleted,
            Err(e) => {
                tracing::warn!(run, error = %e, "expired run left for the next pass");
                purged.failed += 1;
                continue;
            }
        };
        purged.add(&counts);
        // The run is gone: a file that cannot be removed now is logged, not fatal.
        for (account, name) in files {
            match store.delete_blob(account, &name).await {
                Ok(true) => purged.files += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, file = name, "expired file not removed"),
            }
        }
    }
    Ok(purged)
}

/// Deletes one run and everything that hangs off it; answers the counts and the blob files to
/// remove once the transaction has committed.
async fn purge_run(tx: &mut PgConnection, run: i64) -> Result<(Purged, Vec<(i64, String)>)> {
    let mut purged = Purged::default();
    let mut files = Vec::new();
    // The profile, then the run: the order in which every writer of both locks them. Another
    // server may have purged the run meanwhile, or be purging it now.
    let profile: Option<i64> = sqlx::query_scalar("SELECT profile_id FROM runs WHERE id = $1")
        .bind(run)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(profile) = profile else {
        return Ok((purged, files));
    };
    sqlx::query("SELECT id FROM security_profiles WHERE id = $1 FOR UPDATE")
        .bind(profile)
        .execute(&mut *tx)
        .await?;
    let present: Option<i64> =
        sqlx::query_scalar("SELECT id FROM runs WHERE id = $1 FOR UPDATE SKIP LOCKED")
            .bind(run)
            .fetch_optional(&mut *tx)
            .await?;
    if present.is_none() {
        return Ok((purged, files));
    }

    let reports = sqlx::query(
        "SELECT rep.id, rep.account_id, rep.name, rep.activity_id, rep.status \
         FROM report_runs rr JOIN reports rep ON rep.id = rr.report_id WHERE rr.run_id = $1",
    )
    .bind(run)
    .fetch_all(&mut *tx)
    .await?;
    for report in &reports {
        let id: i64 = report.try_get("id")?;
        // The report's other runs stay; their `report_uri` stops naming it.
        sqlx::query("UPDATE reports SET status = 'purged' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(REFRESH_REPORT_URI)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM report_runs WHERE report_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM reports WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        purged.activities += sqlx::query("DELETE FROM activities WHERE id = $1")
            .bind(report.try_get::<i64, _>("activity_id")?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        purged.reports += 1;
        if report.try_get::<String, _>("status")? == "succeeded" {
            files.push((report.try_get("account_id")?, report.try_get("name")?));
        }
    }
    let uploads = sqlx::query(
        "SELECT account_id, upload FROM audits WHERE run_id = $1 AND upload IS NOT NULL",
    )
    .bind(run)
    .fetch_all(&mut *tx)
    .await?;
    for upload in &uploads {
        files.push((upload.try_get("account_id")?, upload.try_get("upload")?));
    }
    purged.rule_results = sqlx::query(
        "DELETE FROM rule_results WHERE audit_id IN (SELECT id FROM audits WHERE run_id = $1)",
    )
    .bind(run)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    purged.audits = sqlx::query("DELETE FROM audits WHERE run_id = $1")
        .bind(run)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM run_instances WHERE run_id = $1")
        .bind(run)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE security_profiles SET last_run_id = NULL WHERE last_run_id = $1")
        .bind(run)
        .execute(&mut *tx)
        .await?;
    let parent: i64 = sqlx::query_scalar("DELETE FROM runs WHERE id = $1 RETURNING activity_id")
        .bind(run)
        .fetch_one(&mut *tx)
        .await?;
    purged.activities += sqlx::query("DELETE FROM activities WHERE run_id = $1 OR id = $2")
        .bind(run)
        .bind(parent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    purged.runs = 1;
    Ok((purged, files))
}
