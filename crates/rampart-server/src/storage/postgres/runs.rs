//! Runs, their activities, and the results that come back.

use super::*;

const ACTIVITY_SELECT: &str = "SELECT a.id, a.account_id, a.parent_id, a.computer_id, a.run_id, \
    a.type, a.action, a.summary, a.status, a.creator_id, a.deliver_delay_window, a.deliver_after, \
    a.creation_time, a.delivery_time, a.completion_time, a.result_text, a.result_code, \
    u.email AS creator_email, u.name AS creator_name, r.benchmark AS run_benchmark, \
    sp.tailoring_profile AS run_tailoring_profile \
    FROM activities a LEFT JOIN users u ON u.id = a.creator_id LEFT JOIN runs r ON r.id = a.run_id \
    LEFT JOIN security_profiles sp ON sp.id = r.profile_id";

fn activity(row: &PgRow) -> Result<ActivityRecord> {
    let creator = match row.try_get::<Option<i64>, _>("creator_id")? {
        Some(id) => Some(User {
            id,
            email: row
                .try_get::<Option<String>, _>("creator_email")?
                .unwrap_or_default(),
            name: row
                .try_get::<Option<String>, _>("creator_name")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(ActivityRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        parent_id: row.try_get("parent_id")?,
        computer_id: row.try_get("computer_id")?,
        run_id: row.try_get("run_id")?,
        kind: row.try_get("type")?,
        action: row.try_get("action")?,
        summary: row.try_get("summary")?,
        status: row.try_get("status")?,
        creator,
        deliver_delay_window: row.try_get("deliver_delay_window")?,
        deliver_after: row.try_get("deliver_after")?,
        creation_time: row.try_get("creation_time")?,
        delivery_time: row.try_get("delivery_time")?,
        completion_time: row.try_get("completion_time")?,
        result_text: row.try_get("result_text")?,
        result_code: row.try_get("result_code")?,
        benchmark: row.try_get("run_benchmark")?,
        tailoring_profile: row.try_get("run_tailoring_profile")?,
    })
}

pub(super) async fn activity_in(conn: &mut PgConnection, id: i64) -> Result<ActivityRecord> {
    let sql = format!("{ACTIVITY_SELECT} WHERE a.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_one(&mut *conn).await?;
    activity(&row)
}

/// Starts a run of an active profile; answers the parent activity's id.
pub(super) async fn start_run_in(
    conn: &mut PgConnection,
    account_id: i64,
    profile_id: i64,
    creator_id: Option<i64>,
    now: DateTime<Utc>,
    cap: i64,
) -> Result<i64> {
    // The profile locked and, when it can run, the ids of the run's parent activity and of the
    // run drawn now: the statement below writes both rows, each naming the other, and the parent
    // keeps an id below its children's.
    let profile = sqlx::query(
        "SELECT mode, benchmark, \
         CASE WHEN status = 'active' THEN nextval('activities_id_seq') END AS parent, \
         CASE WHEN status = 'active' THEN nextval('runs_id_seq') END AS run \
         FROM security_profiles WHERE account_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(account_id)
    .bind(profile_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound)?;
    let (Some(parent), Some(run)) = (
        profile.try_get::<Option<i64>, _>("parent")?,
        profile.try_get::<Option<i64>, _>("run")?,
    ) else {
        return Err(StorageError::Archived);
    };
    let mode: String = profile.try_get("mode")?;
    let benchmark: String = profile.try_get("benchmark")?;
    // One statement: the machines the profile covers (`covered_by_profile!`), the parent
    // activity, an activity and an instance per machine, the run with their number, and the
    // profile's last run. Its foreign keys are checked once it has written every row.
    let children: i64 = sqlx::query_scalar(concat!(
        "WITH ",
        covered_by_profile!("$7", "$8"),
        ", \
         parent AS (INSERT INTO activities (id, account_id, run_id, type, summary, status, \
               creator_id, deliver_delay_window, creation_time) \
             VALUES ($2, $1, $3, 'UsgActivity', 'usg audit for instance', 'in-progress', $5, 0, \
               $6)), \
         kids AS (INSERT INTO activities (account_id, parent_id, computer_id, run_id, type, \
               action, summary, status, creator_id, deliver_delay_window, creation_time) \
             SELECT $1, $2, id, $3, 'UsgActivity', $4, 'usg audit for instance', 'undelivered', \
               $5, 0, $6 FROM covered ORDER BY id RETURNING computer_id), \
         instances AS (INSERT INTO run_instances (run_id, computer_id, state) \
             SELECT $3, computer_id, 0 FROM kids), \
         n AS (SELECT count(*) AS n FROM kids), \
         run AS (INSERT INTO runs (id, account_id, profile_id, activity_id, mode, benchmark, \
               started_at, instances, not_started, in_progress, passing, failing) \
             SELECT $3, $1, $7, $2, $9, $10, $6, n, n, 0, 0, 0 FROM n), \
         last AS (UPDATE security_profiles SET last_run_id = $3 WHERE id = $7) \
         SELECT n FROM n"
    ))
    .bind(account_id)
    .bind(parent)
    .bind(run)
    .bind(first_action(&mode))
    .bind(creator_id)
    .bind(now)
    .bind(profile_id)
    .bind(cap)
    .bind(&mode)
    .bind(&benchmark)
    .fetch_one(&mut *conn)
    .await?;
    if children == 0 {
        finish_run_if_done(conn, run, now).await?;
    }
    Ok(parent)
}

/// Moves a machine of a run to `state`, keeping the run's counts in step.
pub(super) async fn set_instance_state(
    conn: &mut PgConnection,
    run: i64,
    computer: i64,
    state: i64,
    audit: Option<i64>,
) -> Result<()> {
    let old: Option<i64> = sqlx::query_scalar(
        "SELECT state FROM run_instances WHERE run_id = $1 AND computer_id = $2 FOR UPDATE",
    )
    .bind(run)
    .bind(computer)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(old) = old else { return Ok(()) };
    if old == state {
        return Ok(());
    }
    sqlx::query(
        "UPDATE run_instances SET state = $1, audit_id = coalesce($2, audit_id) \
         WHERE run_id = $3 AND computer_id = $4",
    )
    .bind(state)
    .bind(audit)
    .bind(run)
    .bind(computer)
    .execute(&mut *conn)
    .await?;
    let (from, to) = (state_column(old), state_column(state));
    sqlx::query(&format!(
        "UPDATE runs SET {from} = {from} - 1, {to} = {to} + 1 WHERE id = $1"
    ))
    .bind(run)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends the run's parent activity once no machine is left to hear from.
pub(super) async fn finish_run_if_done(
    conn: &mut PgConnection,
    run: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT activity_id, not_started, in_progress, passing, failing FROM runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(&mut *conn)
    .await?;
    let open: i64 = row.try_get::<i64, _>("not_started")? + row.try_get::<i64, _>("in_progress")?;
    if open > 0 {
        return Ok(());
    }
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM activities WHERE parent_id = $1 AND status = 'failed'",
    )
    .bind(row.try_get::<i64, _>("activity_id")?)
    .fetch_one(&mut *conn)
    .await?;
    let (passing, failing): (i64, i64) = (row.try_get("passing")?, row.try_get("failing")?);
    sqlx::query(
        "UPDATE activities SET status = $1, completion_time = $2, result_code = $3, result_text = $4 \
         WHERE id = $5 AND status = 'in-progress'",
    )
    .bind(if failed > 0 { "failed" } else { "succeeded" })
    .bind(now)
    .bind(i64::from(failed > 0))
    .bind(format!("{passing} passed, {failing} failed"))
    .bind(row.try_get::<i64, _>("activity_id")?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a child activity ended.
pub(super) async fn end_activity(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    text: &str,
    sha256: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE activities SET status = $1, completion_time = $2, result_text = $3, result_code = $4, \
         answer_sha256 = $5 WHERE id = $6 \
         AND status IN ('undelivered', 'delivered', 'scheduled')",
    )
    .bind(status)
    .bind(now)
    .bind(text)
    .bind(i64::from(status != "succeeded"))
    .bind(sha256)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Runs for PgStore {
    async fn start_run(
        &self,
        account_id: i64,
        profile_id: i64,
        creator_id: Option<i64>,
        now: DateTime<Utc>,
        cap: i64,
    ) -> Result<ActivityRecord> {
        let mut tx = self.pool.begin().await?;
        let parent = start_run_in(&mut tx, account_id, profile_id, creator_id, now, cap).await?;
        let answer = activity_in(&mut tx, parent).await?;
        tx.commit().await?;
        Ok(answer)
    }

    async fn start_due_runs(
        &self,
        now: DateTime<Utc>,
        cap: i64,
        next: &NextRunTime,
    ) -> Result<Vec<i64>> {
        // Due profiles are claimed with row locks; another server skips them, and sees them moved on
        // once this transaction commits: every run starts exactly once.
        let mut tx = self.pool.begin().await?;
        let due: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT account_id, id FROM security_profiles \
             WHERE status = 'active' AND next_run_time <= $1 ORDER BY next_run_time, id LIMIT 100 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut started = Vec::with_capacity(due.len());
        for (account_id, id) in due {
            let Some(profile) = super::profiles::profile_in(&mut tx, account_id, id, false).await?
            else {
                continue;
            };
            started.push(start_run_in(&mut tx, account_id, id, None, now, cap).await?);
            sqlx::query("UPDATE security_profiles SET next_run_time = $1 WHERE id = $2")
                .bind(next(&profile))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(started)
    }

    async fn deliver(&self, computer_id: i64, now: DateTime<Utc>) -> Result<Vec<AgentWork>> {
        // Most polls find nothing: answer those from a read, without taking the write lock.
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM activities WHERE computer_id = $1 \
             AND status IN ('undelivered', 'delivered') LIMIT 1",
        )
        .bind(computer_id)
        .fetch_optional(&self.pool)
        .await?;
        if open.is_none() {
            return Ok(Vec::new());
        }
        // One statement: the machine's open activities locked and read, the undelivered ones
        // delivered, their instances moved to in progress and their runs' counters with them.
        //
        // Every delivery changes its run's counter row, so the deliveries of a run queue on that
        // row, each holding it until its commit. Here it is held only from the counters' update
        // to the commit, with no round trip in between, and that commit does not wait for the
        // WAL flush (`set_config(…, true)`: for this statement's transaction alone): with a
        // flush per commit (3–6 ms on this machine) the 5,000 deliveries of a run queued for
        // longer than the rest of the run took. What a crash can lose is the last fraction of a
        // second of deliveries, as whole transactions in commit order (the next synchronous
        // commit flushes every earlier one): those activities are handed out again, which is
        // safe, since results are accepted for an undelivered activity as well. Uploads,
        // outcomes and everything else stay synchronous.
        let rows = sqlx::query(
            "WITH quiet AS (SELECT set_config('synchronous_commit', 'off', true)), \
             open AS ( \
               SELECT a.id, a.type, a.action, a.status, a.run_id, r.benchmark, \
                 p.tailoring_profile, p.tailoring_file \
               FROM activities a JOIN runs r ON r.id = a.run_id \
               JOIN security_profiles p ON p.id = r.profile_id \
               WHERE a.computer_id = $1 AND a.status IN ('undelivered', 'delivered') \
               ORDER BY a.run_id, a.id FOR UPDATE OF a \
             ), delivered AS ( \
               UPDATE activities SET status = 'delivered', delivery_time = $2 \
               WHERE id IN (SELECT id FROM open WHERE status = 'undelivered') \
                 AND status = 'undelivered' \
               RETURNING run_id \
             ), moved AS ( \
               UPDATE run_instances i SET state = 1 FROM delivered d \
               WHERE i.run_id = d.run_id AND i.computer_id = $1 AND i.state = 0 \
               RETURNING i.run_id \
             ), counted AS ( \
               UPDATE runs SET not_started = not_started - m.n, in_progress = in_progress + m.n \
               FROM (SELECT run_id, count(*) AS n FROM moved GROUP BY run_id) m \
               WHERE runs.id = m.run_id \
             ) \
             SELECT open.* FROM open, quiet ORDER BY open.run_id, open.id",
        )
        .bind(computer_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut work = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            work.push(AgentWork {
                id,
                kind: row.try_get("type")?,
                action: row
                    .try_get::<Option<String>, _>("action")?
                    .unwrap_or_default(),
                benchmark: row.try_get("benchmark")?,
                tailoring: match (
                    row.try_get::<Option<String>, _>("tailoring_profile")?,
                    row.try_get::<Option<String>, _>("tailoring_file")?,
                ) {
                    (Some(profile_id), Some(text)) => Some(TailoringFile { profile_id, text }),
                    _ => None,
                },
            });
        }
        Ok(work)
    }

    async fn record_results_owned(
        &self,
        computer_id: i64,
        activity_id: i64,
        ingest: Ingest,
        now: DateTime<Utc>,
    ) -> Result<AuditOutcome> {
        self.uploads
            .record(computer_id, activity_id, ingest, now)
            .await
    }

    async fn record_outcome(
        &self,
        computer_id: i64,
        activity_id: i64,
        succeeded: bool,
        message: &str,
        now: DateTime<Utc>,
        restart_delay: &RestartDelay,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT a.account_id, a.parent_id, a.status, a.action, a.run_id, \
             p.restart_deliver_delay, p.restart_deliver_delay_window \
             FROM activities a JOIN runs r ON r.id = a.run_id \
             JOIN security_profiles p ON p.id = r.profile_id \
             WHERE a.id = $1 AND a.computer_id = $2 FOR UPDATE OF a",
        )
        .bind(activity_id)
        .bind(computer_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StorageError::NotFound)?;
        let status: String = row.try_get("status")?;
        let wanted = if succeeded { "succeeded" } else { "failed" };
        if status == wanted {
            return Ok(());
        }
        if !["undelivered", "delivered"].contains(&status.as_str()) {
            return Err(StorageError::Conflict(format!(
                "activity {activity_id} was already answered ({status})"
            )));
        }
        let action: Option<String> = row.try_get("action")?;
        if succeeded && matches!(action.as_deref(), Some("audit" | "fix-audit")) {
            return Err(StorageError::Conflict(format!(
                "activity {activity_id} runs an audit: answer it with its results file"
            )));
        }
        let run: i64 = row.try_get("run_id")?;
        end_activity(&mut tx, activity_id, wanted, message, None, now).await?;
        if !succeeded {
            set_instance_state(&mut tx, run, computer_id, 3, None).await?;
            finish_run_if_done(&mut tx, run, now).await?;
        } else {
            let account_id: i64 = row.try_get("account_id")?;
            let parent: Option<i64> = row.try_get("parent_id")?;
            let window: i64 = row.try_get("restart_deliver_delay_window")?;
            let (kind, action, status, after) = match action.as_deref() {
                Some("fix") => {
                    let delay: i64 = row.try_get("restart_deliver_delay")?;
                    let at = now + restart_delay(delay, window);
                    ("RestartRequest", "restart", "scheduled", Some(at))
                }
                _ => ("UsgActivity", "audit", "undelivered", None),
            };
            sqlx::query(
                "INSERT INTO activities (account_id, parent_id, computer_id, run_id, type, \
                 action, summary, status, deliver_delay_window, deliver_after, creation_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(account_id)
            .bind(parent)
            .bind(computer_id)
            .bind(run)
            .bind(kind)
            .bind(action)
            .bind(if kind == "RestartRequest" {
                "restart for instance"
            } else {
                "usg audit for instance"
            })
            .bind(status)
            .bind(if kind == "RestartRequest" { window } else { 0 })
            .bind(after)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_scheduled(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE activities SET status = 'undelivered' \
             WHERE status = 'scheduled' AND deliver_after <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn expire_activities(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let stale: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, run_id, computer_id FROM activities \
             WHERE status IN ('undelivered', 'delivered', 'scheduled') \
             AND computer_id IS NOT NULL \
             AND coalesce(delivery_time, deliver_after, creation_time) < $1 \
             ORDER BY run_id, id LIMIT 10000 FOR UPDATE SKIP LOCKED",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        for (id, run, computer) in &stale {
            let text = "no answer from the machine within the activity timeout";
            end_activity(&mut tx, *id, "failed", text, None, now).await?;
            set_instance_state(&mut tx, *run, *computer, 3, None).await?;
            finish_run_if_done(&mut tx, *run, now).await?;
        }
        tx.commit().await?;
        Ok(stale.len() as u64)
    }

    async fn open_activity(
        &self,
        computer_id: i64,
        activity_id: i64,
    ) -> Result<Option<ActivityRecord>> {
        let sql = format!("{ACTIVITY_SELECT} WHERE a.id = $1 AND a.computer_id = $2");
        sqlx::query(&sql)
            .bind(activity_id)
            .bind(computer_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(activity)
            .transpose()
    }

    async fn activity(&self, account_id: i64, id: i64) -> Result<Option<ActivityRecord>> {
        let sql = format!("{ACTIVITY_SELECT} WHERE a.account_id = $1 AND a.id = $2");
        sqlx::query(&sql)
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(activity)
            .transpose()
    }

    async fn list_activities(
        &self,
        account_id: i64,
        filter: &ActivityFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ActivityRecord>> {
        let push = |qb: &mut QueryBuilder<'_, Postgres>| {
            qb.push(" WHERE a.account_id = ").push_bind(account_id);
            if let Some(parent) = filter.parent_id {
                qb.push(" AND a.parent_id = ").push_bind(parent);
            }
            if let Some(computer) = filter.computer_id {
                qb.push(" AND a.computer_id = ").push_bind(computer);
            }
            if let Some(kind) = &filter.kind {
                qb.push(" AND a.type = ").push_bind(kind.clone());
            }
            if let Some(status) = &filter.status {
                qb.push(" AND a.status = ").push_bind(status.clone());
            }
        };
        let mut count = QueryBuilder::new("SELECT count(*) FROM activities a");
        push(&mut count);
        let mut select = QueryBuilder::new(ACTIVITY_SELECT);
        push(&mut select);
        select.push(" ORDER BY a.id");
        push_page(&mut select, limit, offset);
        // One read transaction: the count and the page see the same data.
        let mut tx = self.pool.begin().await?;
        let count: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows = select.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let results = rows.iter().map(activity).collect::<Result<_>>()?;
        Ok(Page { count, results })
    }

    async fn known_versions(&self, account_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT benchmark_id, version FROM benchmark_versions WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
