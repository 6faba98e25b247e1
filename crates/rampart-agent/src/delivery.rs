//! Delivering the spool: each waiting answer is sent, oldest first, and removed once the server
//! has answered 200 or refused it for good. A refused results file becomes a `failed` outcome
//! carrying the server's message; 404 and 409 (not this machine's, or answered already) end
//! the matter; a refusal of the credentials (401, 403) says nothing about the answer, so it is
//! kept like after a transient failure.
//!
//! A results file whose benchmark version the server holds (its last poll said so) is sent as
//! its `TestResult` alone ([`crate::thin`]); should the server refuse that with 400 (it may have
//! lost the version since), the whole file follows at once. The spool always keeps the whole
//! file, so what is sent can change from one try to the next without anything being lost.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::backoff::{Backoff, SHORT_ATTEMPTS};
use crate::client::{CallError, Client};
use crate::protocol::{KnownVersion, Outcome, Poll, Status, UploadAnswer};
use crate::spool::{self, Entry, Kind, Spool};
use crate::thin;

/// The spool and the client that empties it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub client: Client,
    pub spool: Spool,
    /// What the server last said it holds.
    pub known: KnownVersions,
}

/// The benchmark versions whose rule texts the server holds, as its last poll with activities
/// told them; shared by the poll and the deliveries. Empty until a poll tells (after a start, the
/// first uploads are whole files).
#[derive(Debug, Clone, Default)]
pub struct KnownVersions(Arc<Mutex<HashSet<KnownVersion>>>);

impl KnownVersions {
    /// Takes in what a poll told: a poll with activities carries the server's whole list; an
    /// idle one carries none, which says nothing.
    pub fn learn(&self, poll: &Poll) {
        if !poll.activities.is_empty() {
            *self.lock() = poll.known_versions.iter().cloned().collect();
        }
    }

    pub fn contains(&self, version: &KnownVersion) -> bool {
        self.lock().contains(version)
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The server refused a thin file of `version`: whole files until a poll says otherwise.
    pub fn forget(&self, version: &KnownVersion) {
        self.lock().remove(version);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<KnownVersion>> {
        // A set of names cannot be left half-changed: a poisoned lock still holds a valid one.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What an upload sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// The `TestResult` alone.
    Thin,
    Whole,
}

impl Sent {
    fn as_str(self) -> &'static str {
        match self {
            Sent::Thin => "thin",
            Sent::Whole => "whole",
        }
    }
}

impl Delivery {
    /// Puts an outcome in the spool for delivery.
    pub fn answer(&self, activity_id: i64, outcome: &Outcome) -> anyhow::Result<()> {
        match outcome.status {
            Status::Succeeded => tracing::info!(activity = activity_id, "{}", outcome.message),
            Status::Failed => {
                tracing::warn!(activity = activity_id, "failed: {}", outcome.message)
            }
        }
        self.spool.put_outcome(activity_id, outcome)
    }

    /// Delivers the spool, oldest first. An entry whose delivery fails (transiently, by a refusal
    /// of the credentials, or because it cannot be read) stays for the next try without holding
    /// up the entries after it; the first such failure is returned once every entry was tried.
    pub async fn flush(&self) -> anyhow::Result<()> {
        loop {
            let mut delivered = false;
            let mut failed = None;
            for entry in self.spool.entries()? {
                match self.deliver(&entry).await {
                    Ok(()) => delivered = true,
                    Err(e) => {
                        tracing::warn!(
                            activity = entry.activity_id,
                            "{e:#}; it stays in the spool"
                        );
                        failed.get_or_insert(e);
                    }
                }
            }
            match failed {
                Some(e) => return Err(e),
                // A delivery may have spooled a new answer (a refused file becomes an outcome):
                // go round until a pass finds nothing to do.
                None if delivered => continue,
                None => return Ok(()),
            }
        }
    }

    /// [`Delivery::flush`] tried a few times, a short wait apart (`--once`); failures are logged.
    pub async fn flush_with_retries(&self) {
        let mut backoff = Backoff::short();
        for attempt in 1..=SHORT_ATTEMPTS {
            match self.flush().await {
                Ok(()) => return,
                Err(e) if attempt == SHORT_ATTEMPTS => {
                    tracing::warn!("{e:#}; giving up for this run");
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!("{e:#}; trying again in {:.1} s", delay.as_secs_f64());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Sends one spooled answer; removes it once the server has answered 200 or refused it for
    /// good. A refused results file becomes a `failed` outcome carrying the server's message.
    async fn deliver(&self, entry: &Entry) -> anyhow::Result<()> {
        let id = entry.activity_id;
        match entry.kind {
            Kind::Results => {
                let bytes = self.spool.read(entry)?;
                match self.upload(id, bytes).await {
                    Ok((answer, sent)) => tracing::info!(
                        activity = id,
                        verdict = answer.verdict.as_deref().unwrap_or("-"),
                        passing = answer.passing_rules,
                        failing = answer.failing_rules,
                        file = sent.as_str(),
                        "results delivered"
                    ),
                    Err(e) => match final_refusal(e)? {
                        // Already answered, or not this machine's: nothing more to say.
                        (404 | 409, message) => {
                            tracing::warn!(activity = id, "results not taken: {message}")
                        }
                        (_, message) => self.answer(id, &Outcome::failed(message))?,
                    },
                }
            }
            Kind::Outcome => {
                let outcome = match self.spool.read_outcome(entry) {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        tracing::error!("{e:#}; dropping it");
                        return self.spool.remove(entry);
                    }
                };
                match self.client.post_outcome(id, &outcome).await {
                    Ok(()) => tracing::info!(activity = id, "outcome delivered"),
                    Err(e) => {
                        let (_, message) = final_refusal(e)?;
                        tracing::warn!(activity = id, "outcome not taken: {message}");
                    }
                }
            }
        }
        self.spool.remove(entry)
    }

    /// Uploads a spooled results file (`whole`, gzip): its `TestResult` alone when the server
    /// holds the rule texts of its benchmark version, else — or when the server refuses the thin
    /// file with 400 — the whole file.
    async fn upload(&self, id: i64, whole: Vec<u8>) -> Result<(UploadAnswer, Sent), CallError> {
        if let Some((version, body)) = self.thin(&whole).await {
            match self.client.upload_results(id, body).await {
                Err(CallError::Refused {
                    status: 400,
                    message,
                    ..
                }) => {
                    tracing::info!(
                        activity = id,
                        "the server did not take the TestResult alone ({message}); sending the \
                         whole results file"
                    );
                    self.known.forget(&version);
                }
                answer => return answer.map(|answer| (answer, Sent::Thin)),
            }
        }
        let answer = self.client.upload_results(id, whole).await?;
        Ok((answer, Sent::Whole))
    }

    /// The thin version of `whole` (gzip-compressed) when the server holds the rule texts of its
    /// benchmark version. Cutting is CPU work on a few MB: it runs off the async threads.
    async fn thin(&self, whole: &[u8]) -> Option<(KnownVersion, Vec<u8>)> {
        if self.known.is_empty() {
            return None;
        }
        let known = self.known.clone();
        let whole = whole.to_vec();
        let cutting = tokio::task::spawn_blocking(move || {
            let thin = thin::cut(&whole)
                .map_err(|e| tracing::debug!("{e:#}; sending the whole results file"))
                .ok()?;
            let version = KnownVersion {
                benchmark_id: thin.benchmark_id,
                version: thin.version,
            };
            if !known.contains(&version) {
                return None;
            }
            Some((version, spool::gzip(&thin.document).ok()?))
        });
        cutting.await.ok().flatten()
    }
}

/// A final refusal as (status, message); a transient failure, or a refusal of the credentials
/// (which says nothing about the answer, so the answer is kept), as an error.
fn final_refusal(error: CallError) -> anyhow::Result<(u16, String)> {
    match error {
        CallError::Refused {
            status, message, ..
        } if status != 401 && status != 403 => Ok((status, message)),
        other => Err(other.into()),
    }
}
