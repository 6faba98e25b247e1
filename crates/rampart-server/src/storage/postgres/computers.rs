//! Computers and their tags.

use rampart_domain::computer_query::{ComputerQuery, Term};

use super::accounts::{access_group_id, lock_account};
use super::profiles::count_computer;
use super::*;

const COMPUTER_SELECT: &str = "SELECT c.id, c.account_id, c.hostname, c.system_hostname, \
    c.title, g.name AS access_group, c.registration_time, c.last_ping_time, \
    (SELECT string_agg(tag, ',' ORDER BY tag) FROM computer_tags t WHERE t.computer_id = c.id) AS tags \
    FROM computers c JOIN access_groups g ON g.id = c.access_group_id";

fn computer(row: &PgRow) -> Result<ComputerRecord> {
    Ok(ComputerRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        hostname: row.try_get("hostname")?,
        system_hostname: row.try_get("system_hostname")?,
        title: row.try_get("title")?,
        access_group: row.try_get("access_group")?,
        tags: split_tags(row.try_get("tags")?),
        registration_time: row.try_get("registration_time")?,
        last_ping_time: row.try_get("last_ping_time")?,
    })
}

async fn computer_in(
    conn: &mut sqlx::PgConnection,
    account_id: i64,
    id: i64,
) -> Result<Option<ComputerRecord>> {
    let sql = format!(
        "{COMPUTER_SELECT} WHERE c.account_id = $1 AND c.id = $2 AND c.deleted_time IS NULL"
    );
    sqlx::query(&sql)
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(computer)
        .transpose()
}

async fn set_tags(conn: &mut sqlx::PgConnection, id: i64, tags: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM computer_tags WHERE computer_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        sqlx::query("INSERT INTO computer_tags (computer_id, tag) VALUES ($1, $2)")
            .bind(id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn push_query(qb: &mut QueryBuilder<'_, Postgres>, account_id: i64, query: &ComputerQuery) {
    qb.push(" WHERE c.account_id = ")
        .push_bind(account_id)
        .push(" AND c.deleted_time IS NULL");
    if query.is_empty() {
        return;
    }
    qb.push(" AND (");
    for (i, terms) in query.alternatives.iter().enumerate() {
        qb.push(if i == 0 { "(" } else { " OR (" });
        for (j, term) in terms.iter().enumerate() {
            if j > 0 {
                qb.push(" AND ");
            }
            match term {
                Term::Tag(tag) => {
                    qb.push("EXISTS (SELECT 1 FROM computer_tags t WHERE t.computer_id = c.id AND t.tag = ")
                        .push_bind(tag.clone())
                        .push(")");
                }
                Term::AccessGroup(name) => {
                    qb.push(
                        "c.access_group_id IN (SELECT cl.descendant_id FROM access_group_closure cl \
                         JOIN access_groups g ON g.id = cl.ancestor_id WHERE g.account_id = ",
                    )
                    .push_bind(account_id)
                    .push(" AND g.name = ")
                    .push_bind(name.clone())
                    .push(")");
                }
                Term::Id(id) => {
                    qb.push("c.id = ").push_bind(*id);
                }
                Term::Text(text) => {
                    qb.push("(strpos(lower(c.hostname), ")
                        .push_bind(text.clone())
                        .push(") > 0 OR strpos(lower(c.title), ")
                        .push_bind(text.clone())
                        .push(") > 0)");
                }
            }
        }
        qb.push(")");
    }
    qb.push(")");
}

#[async_trait]
impl Computers for PgStore {
    async fn account_by_registration_key(&self, key: &str) -> Result<Option<Account>> {
        sqlx::query("SELECT * FROM accounts WHERE registration_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    async fn register_computer(&self, new: &NewComputer) -> Result<ComputerRecord> {
        let mut tx = self.pool.begin().await?;
        lock_account(&mut tx, new.account_id).await?;
        let group_id = access_group_id(&mut tx, new.account_id, &new.access_group).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO computers (account_id, hostname, system_hostname, title, \
             access_group_id, secret_hash, registration_time, last_ping_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.account_id)
        .bind(&new.hostname)
        .bind(&new.system_hostname)
        .bind(&new.title)
        .bind(group_id)
        .bind(&new.secret_hash)
        .bind(new.now)
        .bind(new.now)
        .fetch_one(&mut *tx)
        .await?;
        set_tags(&mut tx, id, &new.tags).await?;
        count_computer(&mut tx, new.account_id, id, 1).await?;
        let created = computer_in(&mut tx, new.account_id, id)
            .await?
            .ok_or(StorageError::NotFound)?;
        tx.commit().await?;
        Ok(created)
    }

    async fn agent_identity(&self, id: i64) -> Result<Option<(ComputerRecord, String)>> {
        let sql =
            COMPUTER_SELECT.replacen(" FROM computers c", ", c.secret_hash FROM computers c", 1)
                + " WHERE c.id = $1 AND c.deleted_time IS NULL";
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((computer(&row)?, row.try_get("secret_hash")?)))
            .transpose()
    }

    async fn ping_computer(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE computers SET last_ping_time = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn computer(&self, account_id: i64, id: i64) -> Result<Option<ComputerRecord>> {
        let mut conn = self.pool.acquire().await?;
        computer_in(&mut conn, account_id, id).await
    }

    async fn list_computers(
        &self,
        account_id: i64,
        query: &ComputerQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ComputerRecord>> {
        // One statement, so the count and the page come from the same snapshot.
        let mut select = QueryBuilder::new(COMPUTER_SELECT.replacen(
            " FROM computers c JOIN",
            ", count(*) OVER () AS total_count FROM computers c JOIN",
            1,
        ));
        push_query(&mut select, account_id, query);
        select.push(" ORDER BY c.id");
        push_page(&mut select, limit, offset);
        let rows = select.build().fetch_all(&self.pool).await?;
        let count: i64 = match rows.first() {
            Some(row) => row.try_get("total_count")?,
            None if offset == 0 => 0,
            None => {
                let mut count = QueryBuilder::new("SELECT count(*) FROM computers c");
                push_query(&mut count, account_id, query);
                count.build_query_scalar().fetch_one(&self.pool).await?
            }
        };
        let results = rows.iter().map(computer).collect::<Result<_>>()?;
        Ok(Page { count, results })
    }

    async fn update_computer(
        &self,
        account_id: i64,
        id: i64,
        changes: &ComputerChanges,
    ) -> Result<ComputerRecord> {
        let mut tx = self.pool.begin().await?;
        // Its old coverage is uncounted, its new one counted once it has changed.
        let moves = changes.access_group.is_some() || changes.tags.is_some();
        if moves {
            lock_account(&mut tx, account_id).await?;
        }
        computer_in(&mut tx, account_id, id)
            .await?
            .ok_or(StorageError::NotFound)?;
        if moves {
            count_computer(&mut tx, account_id, id, -1).await?;
        }
        if let Some(title) = &changes.title {
            sqlx::query("UPDATE computers SET title = $1 WHERE id = $2")
                .bind(title)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(group) = &changes.access_group {
            let group_id = access_group_id(&mut tx, account_id, group).await?;
            sqlx::query("UPDATE computers SET access_group_id = $1 WHERE id = $2")
                .bind(group_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(tags) = &changes.tags {
            set_tags(&mut tx, id, tags).await?;
        }
        if moves {
            count_computer(&mut tx, account_id, id, 1).await?;
        }
        let updated = computer_in(&mut tx, account_id, id)
            .await?
            .ok_or(StorageError::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn delete_computer(&self, account_id: i64, id: i64, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_account(&mut tx, account_id).await?;
        // Uncounted while still there to be seen; a missing one counts for nothing.
        count_computer(&mut tx, account_id, id, -1).await?;
        let deleted = sqlx::query("UPDATE computers SET deleted_time = $1 WHERE account_id = $2 AND id = $3 AND deleted_time IS NULL")
            .bind(now)
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        // Its open work is canceled, and it leaves the runs still waiting for it: they end
        // without it instead of waiting for a machine that is gone.
        let open: Vec<(i64, i64)> = sqlx::query_as("SELECT id, run_id FROM activities WHERE computer_id = $1 \
             AND status IN ('undelivered', 'delivered', 'scheduled') ORDER BY run_id, id FOR UPDATE")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        let mut runs: Vec<i64> = Vec::new();
        for (activity, run) in &open {
            sqlx::query("UPDATE activities SET status = 'canceled', completion_time = $1, result_code = 1, \
                 result_text = 'the computer was removed' WHERE id = $2")
                .bind(now)
                .bind(activity)
                .execute(&mut *tx)
                .await?;
            if !runs.contains(run) {
                runs.push(*run);
            }
        }
        for run in runs {
            let state: Option<i64> = sqlx::query_scalar(
                "SELECT state FROM run_instances WHERE run_id = $1 AND computer_id = $2 FOR UPDATE",
            )
            .bind(run)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(state @ (0 | 1)) = state else {
                continue;
            };
            sqlx::query("DELETE FROM run_instances WHERE run_id = $1 AND computer_id = $2")
                .bind(run)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let column = state_column(state);
            sqlx::query(&format!(
                "UPDATE runs SET instances = instances - 1, {column} = {column} - 1 WHERE id = $1"
            ))
            .bind(run)
            .execute(&mut *tx)
            .await?;
            super::runs::finish_run_if_done(&mut tx, run, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn tags(&self, account_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT t.tag FROM computer_tags t JOIN computers c ON c.id = t.computer_id \
             WHERE c.account_id = $1 AND c.deleted_time IS NULL ORDER BY t.tag",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
