//! Security profiles.

use super::accounts::{access_group_id, lock_account};
use super::*;

const PROFILE_SELECT: &str =
    "SELECT p.id, p.account_id, p.name, p.title, p.benchmark, p.mode, p.schedule, p.start_date, \
     g.name AS access_group, p.all_computers, p.tags, p.restart_deliver_delay, \
     p.restart_deliver_delay_window, p.retention_period, p.status, p.next_run_time, \
     p.tailoring_file_uri, p.creation_time, p.modification_time, r.id AS run_id, \
     r.started_at AS run_started_at, r.not_started, r.in_progress, r.passing, r.failing, \
     r.report_uri, p.covered_instances AS associated_instances \
     FROM security_profiles p JOIN access_groups g ON g.id = p.access_group_id \
     LEFT JOIN runs r ON r.id = p.last_run_id";

/// Recounts the computers profile `id` covers, after a change to its tags, `all_computers` or
/// access group.
pub(super) async fn recount_coverage(conn: &mut sqlx::PgConnection, id: i64) -> Result<()> {
    sqlx::query(recount_coverage_sql!("p.id = $1"))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Adds `delta` to the count of every profile that covers computer `computer_id` as it stands
/// now: +1 once it is registered or changed, -1 before it is changed or deleted.
pub(super) async fn count_computer(
    conn: &mut sqlx::PgConnection,
    account_id: i64,
    computer_id: i64,
    delta: i64,
) -> Result<()> {
    sqlx::query(count_computer_sql!("$1", "$2", "$3"))
        .bind(delta)
        .bind(account_id)
        .bind(computer_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The latest run's pass rate: round-half-up(100 × passing / (passing + failing)), NULL when
/// nothing finished.
const PASS_RATE: &str = "(CASE WHEN r.passing + r.failing > 0 THEN \
    (200 * r.passing + r.passing + r.failing) / (2 * (r.passing + r.failing)) END)";

fn profile(row: &PgRow) -> Result<ProfileRecord> {
    Ok(ProfileRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        benchmark: row.try_get("benchmark")?,
        mode: row.try_get("mode")?,
        schedule: row.try_get("schedule")?,
        start_date: row.try_get("start_date")?,
        access_group: row.try_get("access_group")?,
        all_computers: row.try_get("all_computers")?,
        tags: decode_tags(row.try_get("tags")?)?,
        restart_deliver_delay: row.try_get("restart_deliver_delay")?,
        restart_deliver_delay_window: row.try_get("restart_deliver_delay_window")?,
        retention_period: row.try_get("retention_period")?,
        status: row.try_get("status")?,
        next_run_time: row.try_get("next_run_time")?,
        tailoring_file_uri: row.try_get("tailoring_file_uri")?,
        creation_time: row.try_get("creation_time")?,
        associated_instances: row.try_get("associated_instances")?,
        last_run: match row.try_get::<Option<i64>, _>("run_id")? {
            Some(run_id) => Some(RunCounts {
                run_id,
                started_at: row.try_get("run_started_at")?,
                not_started: row.try_get("not_started")?,
                in_progress: row.try_get("in_progress")?,
                passing: row.try_get("passing")?,
                failing: row.try_get("failing")?,
                report_uri: row.try_get("report_uri")?,
            }),
            None => None,
        },
        modification_time: row.try_get("modification_time")?,
    })
}

pub(super) async fn profile_in(
    conn: &mut sqlx::PgConnection,
    account_id: i64,
    id: i64,
    lock: bool,
) -> Result<Option<ProfileRecord>> {
    let lock = if lock { " FOR UPDATE OF p" } else { "" };
    let sql = format!("{PROFILE_SELECT} WHERE p.account_id = $1 AND p.id = $2{lock}");
    sqlx::query(&sql)
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(profile)
        .transpose()
}

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, account_id: i64, filter: &ProfileFilter) {
    qb.push(" WHERE p.account_id = ").push_bind(account_id);
    if let Some(search) = &filter.search {
        qb.push(" AND strpos(p.title_folded, ")
            .push_bind(search.clone())
            .push(") > 0");
    }
    match filter.status {
        Some(StatusFilter::Active) => {
            qb.push(" AND p.status = 'active'");
        }
        Some(StatusFilter::Archived) => {
            qb.push(" AND p.status = 'archived'");
        }
        Some(StatusFilter::OverLimit { cap }) => {
            qb.push(" AND p.status = 'active' AND p.covered_instances > ")
                .push_bind(cap);
        }
        None => {}
    }
    // A profile whose pass rate is null is left out as soon as either bound is given.
    if let Some(from) = filter.pass_rate_from {
        qb.push(" AND ")
            .push(PASS_RATE)
            .push(" >= ")
            .push_bind(from);
    }
    if let Some(to) = filter.pass_rate_to {
        qb.push(" AND ").push(PASS_RATE).push(" <= ").push_bind(to);
    }
}

#[async_trait]
impl Profiles for PgStore {
    async fn create_profile(&self, new: &NewProfile, max_active: i64) -> Result<ProfileRecord> {
        let mut tx = self.pool.begin().await?;
        // The account's lock serializes profile creation (the active limit, a free name) and
        // the new profile's count with the computers' changes.
        lock_account(&mut tx, new.account_id).await?;
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM security_profiles WHERE account_id = $1 AND status = 'active'",
        )
        .bind(new.account_id)
        .fetch_one(&mut *tx)
        .await?;
        if active >= max_active {
            return Err(StorageError::ActiveProfileLimit { limit: max_active });
        }
        let group_id = access_group_id(&mut tx, new.account_id, &new.access_group).await?;
        let taken: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM security_profiles WHERE account_id = $1 \
             AND (name = $2 OR starts_with(name, $3))",
        )
        .bind(new.account_id)
        .bind(&new.name)
        .bind(format!("{}-", new.name))
        .fetch_all(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO security_profiles (account_id, name, title, title_folded, benchmark, \
             mode, schedule, start_date, access_group_id, all_computers, tags, \
             restart_deliver_delay, restart_deliver_delay_window, retention_period, status, \
             next_run_time, tailoring_file_uri, creation_time, modification_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'active', \
             $15, $16, $17, $17) RETURNING id",
        )
        .bind(new.account_id)
        .bind(free_name(&new.name, &taken))
        .bind(&new.title)
        .bind(new.title.to_lowercase())
        .bind(&new.benchmark)
        .bind(&new.mode)
        .bind(&new.schedule)
        .bind(new.start_date)
        .bind(group_id)
        .bind(new.all_computers)
        .bind(encode_tags(&new.tags))
        .bind(new.restart_deliver_delay)
        .bind(new.restart_deliver_delay_window)
        .bind(new.retention_period)
        .bind(new.next_run_time)
        .bind(None::<String>)
        .bind(new.now)
        .fetch_one(&mut *tx)
        .await?;
        recount_coverage(&mut tx, id).await?;
        if let Some(tailoring) = &new.tailoring {
            sqlx::query(
                "UPDATE security_profiles SET tailoring_file = $1, tailoring_profile = $2, \
                 tailoring_file_uri = $3 WHERE id = $4",
            )
            .bind(&tailoring.text)
            .bind(&tailoring.profile_id)
            .bind(tailoring_file_name(id, new.now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        if new.start_now {
            super::runs::start_run_in(
                &mut tx,
                new.account_id,
                id,
                new.creator_id,
                new.now,
                new.run_cap,
            )
            .await?;
        }
        let created = profile_in(&mut tx, new.account_id, id, false)
            .await?
            .ok_or(StorageError::NotFound)?;
        tx.commit().await?;
        Ok(created)
    }

    async fn profile(&self, account_id: i64, id: i64) -> Result<Option<ProfileRecord>> {
        let mut conn = self.pool.acquire().await?;
        profile_in(&mut conn, account_id, id, false).await
    }

    async fn list_profiles(
        &self,
        account_id: i64,
        filter: &ProfileFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ProfileRecord>> {
        // One statement, so the count and the page come from the same snapshot.
        let mut select = QueryBuilder::new(PROFILE_SELECT.replacen(
            " FROM security_profiles p JOIN",
            ", count(*) OVER () AS total_count FROM security_profiles p JOIN",
            1,
        ));
        push_filter(&mut select, account_id, filter);
        select.push(" ORDER BY p.id");
        push_page(&mut select, limit, offset);
        let rows = select.build().fetch_all(&self.pool).await?;
        let count: i64 = match rows.first() {
            Some(row) => row.try_get("total_count")?,
            None if offset == 0 => 0,
            None => {
                let mut count = QueryBuilder::new(
                    "SELECT count(*) FROM security_profiles p LEFT JOIN runs r ON r.id = p.last_run_id",
                );
                push_filter(&mut count, account_id, filter);
                count.build_query_scalar().fetch_one(&self.pool).await?
            }
        };
        let results = rows.iter().map(profile).collect::<Result<_>>()?;
        Ok(Page { count, results })
    }

    async fn update_profile(
        &self,
        account_id: i64,
        id: i64,
        changes: &ProfileChanges,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord> {
        let recount = changes.tags.is_some()
            || changes.all_computers.is_some()
            || changes.access_group.is_some();
        let mut tx = self.pool.begin().await?;
        if recount {
            lock_account(&mut tx, account_id).await?;
        }
        let current = profile_in(&mut tx, account_id, id, true)
            .await?
            .ok_or(StorageError::NotFound)?;
        if current.status != "active" {
            return Err(StorageError::Archived);
        }
        if changes.is_empty() {
            return Ok(current);
        }
        let mut update =
            QueryBuilder::<Postgres>::new("UPDATE security_profiles SET modification_time = ");
        update.push_bind(now);
        if let Some(title) = &changes.title {
            update.push(", title = ").push_bind(title.clone());
            update
                .push(", title_folded = ")
                .push_bind(title.to_lowercase());
        }
        if let Some((schedule, next_run_time)) = &changes.schedule {
            update.push(", schedule = ").push_bind(schedule.clone());
            update.push(", next_run_time = ").push_bind(*next_run_time);
        }
        if let Some(tags) = &changes.tags {
            update.push(", tags = ").push_bind(encode_tags(tags));
        }
        if let Some(all_computers) = changes.all_computers {
            update.push(", all_computers = ").push_bind(all_computers);
        }
        if let Some(group) = &changes.access_group {
            let group_id = access_group_id(&mut tx, account_id, group).await?;
            update.push(", access_group_id = ").push_bind(group_id);
        }
        if let Some(delay) = changes.restart_deliver_delay {
            update.push(", restart_deliver_delay = ").push_bind(delay);
        }
        if let Some(window) = changes.restart_deliver_delay_window {
            update
                .push(", restart_deliver_delay_window = ")
                .push_bind(window);
        }
        update.push(" WHERE id = ").push_bind(id);
        update.build().execute(&mut *tx).await?;
        if recount {
            recount_coverage(&mut tx, id).await?;
        }
        let updated = profile_in(&mut tx, account_id, id, false)
            .await?
            .ok_or(StorageError::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn archive_profile(
        &self,
        account_id: i64,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<ProfileRecord> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE security_profiles SET status = 'archived', next_run_time = NULL, \
             modification_time = $1 WHERE account_id = $2 AND id = $3 AND status = 'active'",
        )
        .bind(now)
        .bind(account_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let archived = profile_in(&mut tx, account_id, id, false)
            .await?
            .ok_or(StorageError::NotFound)?;
        tx.commit().await?;
        Ok(archived)
    }

    async fn recount_all_coverage(&self) -> Result<u64> {
        let accounts: Vec<i64> = sqlx::query_scalar("SELECT id FROM accounts ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let sql = recount_coverage_sql!(
            "p.account_id = $1 AND p.covered_instances <> ",
            covered_sql!()
        );
        let mut corrected = 0;
        // One account at a time, under its lock, so no change is counted while it is recounted.
        for account in accounts {
            let mut tx = self.pool.begin().await?;
            lock_account(&mut tx, account).await?;
            corrected += sqlx::query(sql)
                .bind(account)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
        }
        Ok(corrected)
    }
}
