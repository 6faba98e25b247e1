//! Group commit for uploads: writer tasks (one on SQLite; on PostgreSQL `UPLOAD_WRITERS`, whose
//! batches overlap: see [`GroupCommit::start`]) take the uploads waiting to be recorded and
//! store several in one transaction. An upload that is refused (see [`is_refusal`]) changes
//! nothing and is answered its refusal; the others commit together, with their rows and the run
//! counts they change. How a refusal changes nothing differs by backend: SQLite writes each
//! upload inside its own savepoint and rolls a refused one back to it. PostgreSQL checks an
//! upload before it writes anything, so it needs no savepoint per upload; only when the upload
//! reads or creates a benchmark version the writer does not know yet (the file's rules are
//! checked against it) are that and the upload's writes kept in a savepoint, so that a refusal
//! then also undoes a version it created. Any other error (a database failure) fails the batch's
//! transaction, as does its commit, a lost connection or a deadlock between replicas: then every
//! upload of the batch is tried again alone, in a transaction of its own, so one bad moment
//! never refuses a good upload that would have been accepted on its own.
//!
//! What this saves is the per-transaction cost: on PostgreSQL a commit's WAL flush and the time
//! the run's counter row stays locked; on SQLite the write lock taken and released per upload
//! (with its busy-wait when several connections want it).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{AuditOutcome, Ingest, Result, StorageError};

/// The most uploads one transaction stores: large enough to amortize a commit, small enough that
/// an upload does not wait long behind the others (each is a few hundred rows).
pub(super) const MAX_BATCH: usize = 32;

/// One upload waiting to be recorded.
pub(super) struct Job {
    pub computer_id: i64,
    pub activity_id: i64,
    pub ingest: Ingest,
    pub now: DateTime<Utc>,
    reply: oneshot::Sender<Result<AuditOutcome>>,
}

impl Job {
    pub fn answer(self, outcome: Result<AuditOutcome>) {
        // The caller may have gone (its request was dropped): what was stored stays stored.
        let _ = self.reply.send(outcome);
    }
}

/// What a batch gave: each job's outcome, in order, once the transaction committed; or the
/// error that stopped the transaction (nothing of it was kept).
pub(super) type BatchResult = std::result::Result<Vec<Result<AuditOutcome>>, StorageError>;

/// How a backend stores jobs: all in one transaction (`batch`), where a refused job changes
/// nothing and is answered its refusal while the others are kept, or one alone in its own
/// transaction (`single`). A backend chooses how a refusal changes nothing (the module's header
/// says how each does).
#[async_trait]
pub(super) trait Writer: Send + Sync + 'static {
    async fn batch(&self, jobs: &[Job]) -> BatchResult;
    async fn single(&self, job: &Job) -> Result<AuditOutcome>;
}

/// Whether an upload's error is its own refusal: no such activity for the machine (`NotFound`),
/// an activity already answered or a benchmark version the server does not know (`Conflict`),
/// a file naming a rule its version lacks (`Invalid`). A refused upload has changed nothing and
/// leaves the batch's transaction sound (the module's header says how each backend sees to
/// that); any other error is the database failing, and fails the whole batch.
pub(super) fn is_refusal(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::NotFound | StorageError::Conflict(_) | StorageError::Invalid(_)
    )
}

/// The handle uploads are sent through; the writer tasks end when it is dropped.
pub(super) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GroupCommit {
    /// Starts `workers` writer tasks (on the current Tokio runtime). Each takes the uploads
    /// waiting when it is free, so with several a batch is written while the next one gathers:
    /// on PostgreSQL a batch spends most of its time waiting for round trips, and two overlap
    /// (their only shared row, a run's counters, is changed at the end of each). SQLite has one
    /// writer at a time whatever the tasks: one is enough there.
    pub fn start(writer: impl Writer, workers: usize) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel::<Job>();
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let writer = Arc::new(writer);
        for _ in 0..workers.max(1) {
            let (queue, writer) = (queue.clone(), writer.clone());
            tokio::spawn(async move {
                loop {
                    let jobs = {
                        let mut queue = queue.lock().await;
                        let Some(first) = queue.recv().await else {
                            return;
                        };
                        let mut jobs = vec![first];
                        while jobs.len() < MAX_BATCH {
                            match queue.try_recv() {
                                Ok(job) => jobs.push(job),
                                Err(_) => break,
                            }
                        }
                        jobs
                    };
                    write(writer.as_ref(), jobs).await;
                }
            });
        }
        Self { jobs }
    }

    /// Records one upload, with whichever others are waiting at the same time.
    pub async fn record(
        &self,
        computer_id: i64,
        activity_id: i64,
        ingest: Ingest,
        now: DateTime<Utc>,
    ) -> Result<AuditOutcome> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            computer_id,
            activity_id,
            ingest,
            now,
            reply,
        };
        self.jobs
            .send(job)
            .map_err(|_| StorageError::Unavailable("the upload writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StorageError::Unavailable("the upload writer stopped mid-batch".into()))?
    }
}

async fn write(writer: &impl Writer, jobs: Vec<Job>) {
    if jobs.len() == 1 {
        let job = jobs.into_iter().next().expect("one job");
        let outcome = writer.single(&job).await;
        job.answer(outcome);
        return;
    }
    match writer.batch(&jobs).await {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                job.answer(outcome);
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, uploads = jobs.len(), "a batch failed; storing its uploads one by one");
            for job in jobs {
                let outcome = writer.single(&job).await;
                job.answer(outcome);
            }
        }
    }
}

/// A benchmark version's rules: their index by rule id.
pub(super) type RuleIndex = std::collections::HashMap<String, i64>;

/// Which account, benchmark id and version.
type VersionKey = (i64, String, String);

/// The stored benchmark versions the writer has seen committed, with their rule indexes, so an
/// upload of a known version reads neither its version row nor its few hundred rule rows again.
/// Sound because a version and its rules are written once, in the transaction that creates the
/// version, and never changed nor deleted afterwards; an entry is added only once the
/// transaction that read (or created) it has committed.
#[derive(Default)]
pub(super) struct RuleIndexes {
    committed: std::sync::Mutex<std::collections::HashMap<VersionKey, (i64, Arc<RuleIndex>)>>,
}

/// A version read during a transaction, to remember once it commits.
pub(super) struct Learned(VersionKey, i64, Arc<RuleIndex>);

impl RuleIndexes {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<VersionKey, (i64, Arc<RuleIndex>)>>
    {
        // The map is only ever inserted into whole entries: a poisoned lock still holds a sound one.
        self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The version's id and rule index, when a committed transaction has seen it.
    pub fn get(&self, account_id: i64, ingest: &Ingest) -> Option<(i64, Arc<RuleIndex>)> {
        let key = (
            account_id,
            ingest.benchmark_id.clone(),
            ingest.version.clone(),
        );
        self.lock().get(&key).cloned()
    }

    /// What to remember of a version read or created in the current transaction.
    pub fn learned(
        account_id: i64,
        ingest: &Ingest,
        version_id: i64,
        index: Arc<RuleIndex>,
    ) -> Learned {
        let key = (
            account_id,
            ingest.benchmark_id.clone(),
            ingest.version.clone(),
        );
        Learned(key, version_id, index)
    }

    /// Remembers what a transaction that has now committed read.
    pub fn commit(&self, learned: Vec<Learned>) {
        if learned.is_empty() {
            return;
        }
        let mut map = self.lock();
        for Learned(key, id, index) in learned {
            map.insert(key, (id, index));
        }
    }
}
