//! Delivering the spool: each waiting answer is sent, oldest first, and removed once the server
//! has answered 200 or refused it for good. A refused results file becomes a `failed` outcome
//! carrying the server's message; 404 and 409 (not this machine's, or answered already) end
//! the matter; a refusal of the credentials (401, 403) says nothing about the answer, so it is
//! kept like after a transient failure.

use crate::backoff::{Backoff, SHORT_ATTEMPTS};
use crate::client::{CallError, Client};
use crate::protocol::{Outcome, Status};
use crate::spool::{Entry, Kind, Spool};

/// The spool and the client that empties it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub client: Client,
    pub spool: Spool,
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
                match self.client.upload_results(id, bytes).await {
                    Ok(answer) => tracing::info!(
                        activity = id,
                        verdict = answer.verdict.as_deref().unwrap_or("-"),
                        passing = answer.passing_rules,
                        failing = answer.failing_rules,
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
