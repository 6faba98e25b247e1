//! The upload writer of [`super::super::group_commit`] on PostgreSQL: a batch of uploads in one
//! transaction (each stored by `results::record_results_in`), and each run's counters changed
//! once per transaction, just before its commit.

use super::results::{record_results_in, Moved};
use super::runs::finish_run_if_done;
use super::*;
use crate::storage::group_commit::{is_refusal, BatchResult, Job, RuleIndexes, Writer};

/// The counter moves of a transaction's uploads, by run: applied once per run just before the
/// commit, so a batch changes (and locks) a run's counter row once, at its end, instead of once
/// per upload from its first upload on.
#[derive(Default)]
struct RunMoves(std::collections::BTreeMap<i64, [i64; 4]>);

impl RunMoves {
    fn extend(&mut self, moved: Option<Moved>) {
        let Some(moved) = moved else { return };
        let counts = self.0.entry(moved.run).or_default();
        counts[moved.from.clamp(0, 3) as usize] -= 1;
        counts[moved.to.clamp(0, 3) as usize] += 1;
    }

    /// Changes each run's counters (in run id order: two servers' batches queue on them in the
    /// same order) and ends the runs no machine is left in.
    async fn apply(self, conn: &mut PgConnection, now: DateTime<Utc>) -> Result<()> {
        for (run, [not_started, in_progress, passing, failing]) in self.0 {
            sqlx::query(
                "UPDATE runs SET not_started = not_started + $2, in_progress = in_progress + $3, \
                 passing = passing + $4, failing = failing + $5 WHERE id = $1",
            )
            .bind(run)
            .bind(not_started)
            .bind(in_progress)
            .bind(passing)
            .bind(failing)
            .execute(&mut *conn)
            .await?;
            finish_run_if_done(conn, run, now).await?;
        }
        Ok(())
    }
}

/// Records uploads for [`super::super::group_commit`]: a batch in one transaction, with no
/// savepoint per upload (a refusal has written nothing, see `results::record_results_in`), and
/// each run's counters changed once, just before the commit ([`RunMoves`]).
pub(super) struct UploadWriter {
    pub pool: PgPool,
    pub versions: RuleIndexes,
}

#[async_trait]
impl Writer for UploadWriter {
    async fn batch(&self, jobs: &[Job]) -> BatchResult {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut learned = Vec::new();
        let mut moves = RunMoves::default();
        for job in jobs {
            let mut seen = Vec::new();
            // A refusal has written nothing (see `results::record_results_in`): no savepoint
            // per upload.
            match record_results_in(&mut tx, job, &self.versions, &mut seen).await {
                Ok(recorded) => {
                    learned.append(&mut seen);
                    moves.extend(recorded.moved);
                    outcomes.push(Ok(recorded.outcome));
                }
                Err(e) if is_refusal(&e) => outcomes.push(Err(e)),
                Err(e) => return Err(e),
            }
        }
        let now = jobs.iter().map(|j| j.now).max().unwrap_or_else(Utc::now);
        moves.apply(&mut tx, now).await?;
        tx.commit().await?;
        self.versions.commit(learned);
        Ok(outcomes)
    }

    async fn single(&self, job: &Job) -> Result<AuditOutcome> {
        let mut tx = self.pool.begin().await?;
        let mut learned = Vec::new();
        let recorded = record_results_in(&mut tx, job, &self.versions, &mut learned).await?;
        let mut moves = RunMoves::default();
        moves.extend(recorded.moved);
        moves.apply(&mut tx, job.now).await?;
        tx.commit().await?;
        self.versions.commit(learned);
        Ok(recorded.outcome)
    }
}
