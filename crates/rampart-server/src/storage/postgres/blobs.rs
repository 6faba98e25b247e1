//! The blob store in PostgreSQL: a `blobs` row per file and its bytes in `blob_chunks` of
//! `BLOB_CHUNK` bytes, so that every server sharing the database reads every file and no file is
//! ever held whole in memory. A file becomes readable when its row is marked `complete`, in the
//! same transaction that removes the file it replaces.

use super::*;

struct ChunkWriter {
    pool: PgPool,
    blob_id: i64,
    account_id: i64,
    name: String,
    pending: Vec<u8>,
    next_seq: i32,
    bytes: u64,
    finished: bool,
}

impl ChunkWriter {
    async fn flush_chunk(&mut self, len: usize) -> Result<()> {
        let rest = self.pending.split_off(len);
        let chunk = std::mem::replace(&mut self.pending, rest);
        sqlx::query("INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)")
            .bind(self.blob_id)
            .bind(self.next_seq)
            .bind(chunk)
            .execute(&self.pool)
            .await?;
        self.next_seq += 1;
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for ChunkWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        self.bytes += bytes.len() as u64;
        while self.pending.len() >= BLOB_CHUNK {
            self.flush_chunk(BLOB_CHUNK).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        if !self.pending.is_empty() {
            let len = self.pending.len();
            self.flush_chunk(len).await?;
        }
        let mut tx = self.pool.begin().await?;
        // Two writers of one name (the same upload twice at once) finish one after the other.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
            .bind(&self.name)
            .bind(self.account_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blobs WHERE account_id = $1 AND name = $2 AND complete")
            .bind(self.account_id)
            .bind(&self.name)
            .execute(&mut *tx)
            .await?;
        let marked = sqlx::query("UPDATE blobs SET complete = TRUE, bytes = $1 WHERE id = $2")
            .bind(self.bytes as i64)
            .bind(self.blob_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if marked != 1 {
            return Err(StorageError::Conflict(format!(
                "the file `{}` was removed while it was being written",
                self.name
            )));
        }
        tx.commit().await?;
        self.finished = true;
        Ok(self.bytes)
    }
}

impl Drop for ChunkWriter {
    /// A file abandoned half-written is removed in the background; if that cannot run, the
    /// retention pass removes it once it is an hour old.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (pool, id) = (self.pool.clone(), self.blob_id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = sqlx::query("DELETE FROM blobs WHERE id = $1 AND NOT complete")
                    .bind(id)
                    .execute(&pool)
                    .await;
            });
        }
    }
}

#[async_trait]
impl Blobs for PgStore {
    async fn create_blob(&self, account_id: i64, name: &str) -> Result<Box<dyn BlobWriter>> {
        let blob_id: i64 = sqlx::query_scalar(
            "INSERT INTO blobs (account_id, name, bytes, complete, creation_time) \
             VALUES ($1, $2, 0, FALSE, now()) RETURNING id",
        )
        .bind(account_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok(Box::new(ChunkWriter {
            pool: self.pool.clone(),
            blob_id,
            account_id,
            name: name.to_owned(),
            pending: Vec::new(),
            next_seq: 0,
            bytes: 0,
            finished: false,
        }))
    }

    async fn blob_size(&self, account_id: i64, name: &str) -> Result<Option<u64>> {
        let bytes: Option<i64> = sqlx::query_scalar(
            "SELECT bytes FROM blobs WHERE account_id = $1 AND name = $2 AND complete",
        )
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(bytes.map(|b| b as u64))
    }

    async fn blob_chunk(&self, account_id: i64, name: &str, index: u64) -> Result<Option<Vec<u8>>> {
        let Ok(seq) = i32::try_from(index) else {
            return Ok(None);
        };
        Ok(sqlx::query_scalar(
            "SELECT c.data FROM blobs b JOIN blob_chunks c ON c.blob_id = b.id \
             WHERE b.account_id = $1 AND b.name = $2 AND b.complete AND c.seq = $3",
        )
        .bind(account_id)
        .bind(name)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// One transaction (`create_blob`'s way takes three, each with its WAL flush): the file's
    /// row, complete, and its chunks in one statement, after the one it replaces is removed.
    async fn put_blob(&self, account_id: i64, name: &str, bytes: &[u8]) -> Result<u64> {
        let chunks: Vec<&[u8]> = bytes.chunks(BLOB_CHUNK).collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
            .bind(name)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blobs WHERE account_id = $1 AND name = $2 AND complete")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "WITH b AS (INSERT INTO blobs (account_id, name, bytes, complete, creation_time) \
             VALUES ($1, $2, $3, TRUE, now()) RETURNING id) \
             INSERT INTO blob_chunks (blob_id, seq, data) \
             SELECT b.id, (c.n - 1)::int4, c.data FROM b, unnest($4::bytea[]) WITH ORDINALITY AS c (data, n)",
        )
        .bind(account_id)
        .bind(name)
        .bind(bytes.len() as i64)
        .bind(chunks)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(bytes.len() as u64)
    }

    async fn delete_blob(&self, account_id: i64, name: &str) -> Result<bool> {
        // A write in progress is not a file yet: it is left to finish.
        let deleted =
            sqlx::query("DELETE FROM blobs WHERE account_id = $1 AND name = $2 AND complete")
                .bind(account_id)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(deleted > 0)
    }
}
