//! Accounts, users and access groups.

use super::*;

pub(super) async fn access_group_id(
    conn: &mut sqlx::PgConnection,
    account_id: i64,
    name: &str,
) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM access_groups WHERE account_id = $1 AND name = $2")
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StorageError::UnknownAccessGroup(name.to_owned()))
}

/// Takes the account's lock (its row, `FOR NO KEY UPDATE`), which serializes every transaction
/// that changes which computers the account's profiles cover, so each one counts from what the
/// one before it committed. Taken first: see the lock order in `mod.rs`. `NotFound` for a
/// missing account.
pub(super) async fn lock_account(conn: &mut sqlx::PgConnection, account_id: i64) -> Result<()> {
    sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StorageError::NotFound)?;
    Ok(())
}

/// Records a new group in the closure table: its own ancestor, and below its parent's ancestors.
async fn add_to_closure(
    conn: &mut sqlx::PgConnection,
    id: i64,
    parent_id: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_group_closure (ancestor_id, descendant_id) \
         SELECT ancestor_id, $1 FROM access_group_closure WHERE descendant_id = $2 \
         UNION ALL SELECT $1, $1",
    )
    .bind(id)
    .bind(parent_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Accounts for PgStore {
    async fn ensure_account(&self, name: &str, now: DateTime<Utc>) -> Result<Account> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (name, title, registration_key, created_at) \
             VALUES ($1, $1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING *",
        )
        .bind(name)
        .bind(new_registration_key())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            tx.rollback().await?;
            let row = sqlx::query("SELECT * FROM accounts WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
            return account(&row);
        };
        let created = account(&row)?;
        let global: i64 = sqlx::query_scalar(
            "INSERT INTO access_groups (account_id, name, title, parent_id) \
             VALUES ($1, 'global', 'Global access', NULL) \
             RETURNING id",
        )
        .bind(created.id)
        .fetch_one(&mut *tx)
        .await?;
        add_to_closure(&mut tx, global, None).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        sqlx::query("SELECT * FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    async fn create_user(
        &self,
        account_id: i64,
        email: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict(e, || format!("a user with email {email} already exists")))?;
        sqlx::query(
            "INSERT INTO account_members (account_id, user_id, is_default) VALUES ($1, $2, TRUE)",
        )
        .bind(account_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(User {
            id,
            email: email.to_owned(),
            name: name.to_owned(),
        })
    }

    async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Credentials {
                user: User {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                },
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn memberships(&self, user_id: i64) -> Result<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT a.*, m.is_default FROM account_members m \
             JOIN accounts a ON a.id = m.account_id WHERE m.user_id = $1 ORDER BY a.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Membership {
                    account: account(row)?,
                    is_default: row.try_get("is_default")?,
                })
            })
            .collect()
    }

    async fn access_groups(&self, account_id: i64) -> Result<Vec<AccessGroup>> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, g.title, p.name AS parent FROM access_groups g \
             LEFT JOIN access_groups p ON p.id = g.parent_id \
             WHERE g.account_id = $1 ORDER BY g.parent_id IS NOT NULL, g.id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AccessGroup {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    title: row.try_get("title")?,
                    parent: row.try_get("parent")?,
                })
            })
            .collect()
    }

    async fn create_access_group(
        &self,
        account_id: i64,
        name: &str,
        title: &str,
        parent: &str,
    ) -> Result<AccessGroup> {
        let mut tx = self.pool.begin().await?;
        let parent_id = access_group_id(&mut tx, account_id, parent).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO access_groups (account_id, name, title, parent_id) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(account_id)
        .bind(name)
        .bind(title)
        .bind(parent_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict(e, || format!("access group `{name}` already exists")))?;
        add_to_closure(&mut tx, id, Some(parent_id)).await?;
        tx.commit().await?;
        Ok(AccessGroup {
            id,
            name: name.to_owned(),
            title: title.to_owned(),
            parent: Some(parent.to_owned()),
        })
    }

    async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String> {
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn is_member(&self, user_id: i64, account_id: i64) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM account_members WHERE user_id = $1 AND account_id = $2",
        )
        .bind(user_id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}
