//! The agent's work loop. At start: register when the state dir has no identity, and turn the
//! `restart-<id>` markers a restart left behind into `succeeded` outcomes. Then, over and over:
//! deliver what waits in the spool, poll for activities, carry out each one not already handled
//! (its answer goes to the spool first, then to the server). As a daemon, transient failures are
//! retried with backoff and never end the agent; with `--once`, one pass is made and the caller
//! learns how many answers are left undelivered.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::backoff::Backoff;
use crate::client::{CallError, Client};
use crate::config::Config;
use crate::delivery::{Delivery, KnownVersions};
use crate::fsutil;
use crate::identity;
use crate::protocol::{Action, Activity, Outcome, Polled};
use crate::registration::register;
use crate::runner::{self, CommandLine, Runner, Tools};
use crate::spool::Spool;

/// An idle daemon polls at most this often, even with `--poll-wait 0` or a server that answers
/// at once.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(5);

const RESTART_MARKER_PREFIX: &str = "restart-";

/// A registered agent with its state dir open.
#[derive(Debug)]
pub struct Agent {
    config: Config,
    state_dir: PathBuf,
    /// Authenticated as this machine.
    client: Client,
    spool: Spool,
    delivery: Delivery,
    runner: Runner,
}

impl Agent {
    /// Opens the state dir, registers this machine when it has no identity yet, and spools the
    /// outcome of any restart that happened since the last run.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let state_dir = config.state_dir.clone();
        fsutil::create_private_dir(&state_dir)?;
        let anonymous = Client::new(&config.server_url())?;
        let identity = match identity::load(&state_dir, &config.server_url())? {
            Some(identity) => identity,
            None => register(&config, &anonymous).await?,
        };
        let client = anonymous.authenticated(&identity);
        let spool = Spool::open(&state_dir)?;
        tracing::debug!(computer = identity.computer_id, "identity loaded");
        let work_root = state_dir.join("work");
        // Work folders of a run that was interrupted.
        let _ = std::fs::remove_dir_all(&work_root);
        let agent = Self {
            runner: Runner {
                tools: Tools {
                    usg: config.usg.clone(),
                    oscap: config.oscap.clone(),
                    datastream: config.oscap_datastream.clone(),
                },
                work_root,
            },
            delivery: Delivery {
                client: client.clone(),
                spool: spool.clone(),
                known: KnownVersions::default(),
            },
            client,
            spool,
            state_dir,
            config,
        };
        agent.spool_restarts()?;
        Ok(agent)
    }

    /// One pass, as `--once` does it: deliver what is spooled, poll without waiting, carry out
    /// every activity, deliver again, each delivery tried a few times. Returns how many answers
    /// are still in the spool; an error when the activities could not be fetched.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.delivery.flush_with_retries().await;
        let poll = self
            .client
            .activities(0)
            .await
            .map_err(|e| self.poll_error(e))?;
        self.delivery.known.learn(&poll);
        for item in &poll.activities {
            self.take(item).await?;
        }
        self.delivery.flush_with_retries().await;
        Ok(self.spool.entries()?.len())
    }

    /// Runs until the future is dropped (on SIGINT or SIGTERM): errors are logged and retried
    /// with backoff, never fatal.
    pub async fn run_daemon(&self) {
        match self.client.me().await {
            Ok(me) => tracing::info!(
                server = %self.config.server_url(),
                computer = me.computer_id,
                hostname = %me.hostname,
                "connected"
            ),
            Err(e) => tracing::warn!("cannot check this machine's identity yet: {e}"),
        }
        let mut backoff = Backoff::default();
        loop {
            let started = Instant::now();
            match self.cycle().await {
                Ok(handled) => {
                    backoff.reset();
                    if handled == 0 {
                        let interval =
                            MIN_POLL_INTERVAL.max(Duration::from_secs(self.config.poll_wait));
                        tokio::time::sleep_until((started + interval).into()).await;
                    }
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!("{e:#}; trying again in {:.1} s", delay.as_secs_f64());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One daemon round: deliver, long-poll, carry out. Returns how many activities ran; an
    /// error when the server could not be polled or the spool could not be delivered (after the
    /// activities ran: one answer the server keeps failing on does not hold up new work).
    async fn cycle(&self) -> anyhow::Result<usize> {
        let flushed = self.delivery.flush().await;
        let poll = self
            .client
            .activities(self.config.poll_wait)
            .await
            .map_err(|e| self.poll_error(e))?;
        self.delivery.known.learn(&poll);
        let mut handled = 0;
        for item in &poll.activities {
            if self.take(item).await? {
                handled += 1;
                // Answer at once rather than after the next activity; a failure here is
                // retried by the next round.
                if let Err(e) = self.delivery.flush().await {
                    tracing::warn!("{e:#}; the answer waits in the spool");
                }
            }
        }
        flushed.map(|()| handled)
    }

    /// A failed poll, with what to do when the server no longer knows this machine.
    fn poll_error(&self, error: CallError) -> anyhow::Error {
        let unknown = matches!(error, CallError::Refused { status: 401, .. });
        let error = anyhow::Error::new(error).context("cannot fetch this machine's activities");
        if unknown {
            error.context(format!(
                "the server does not accept this machine's identity (was the computer deleted?): \
                 to register it again, remove {} and start with --registration-key",
                identity::path(&self.state_dir).display()
            ))
        } else {
            error
        }
    }

    /// Carries out one polled item; one this agent cannot read is answered `failed`.
    async fn take(&self, item: &Polled) -> anyhow::Result<bool> {
        match item {
            Polled::Activity(activity) => self.carry_out(activity).await,
            Polled::Unreadable { id, .. } if self.spool.holds(*id) => Ok(false),
            Polled::Unreadable { id, reason } => {
                let message = format!(
                    "rampart-agent {} cannot read activity {id}: {reason}",
                    env!("CARGO_PKG_VERSION")
                );
                self.delivery.answer(*id, &Outcome::failed(message))?;
                Ok(true)
            }
        }
    }

    /// Carries out `activity` unless its answer is already waiting (or a restart for it is in
    /// progress), leaving the answer in the spool. Whether it ran.
    async fn carry_out(&self, activity: &Activity) -> anyhow::Result<bool> {
        if self.spool.holds(activity.id) || self.restart_marker(activity.id).exists() {
            tracing::debug!(activity = activity.id, "already handled; its answer waits");
            return Ok(false);
        }
        tracing::info!(
            activity = activity.id,
            action = %activity.action,
            benchmark = activity.benchmark.as_deref().unwrap_or("-"),
            "carrying out"
        );
        let id = activity.id;
        match &activity.action {
            Action::Audit => self.audit(activity).await?,
            Action::Fix => {
                let outcome = match self.runner.fix(activity).await {
                    Ok(message) => Outcome::succeeded(message),
                    Err(message) => Outcome::failed(message),
                };
                self.delivery.answer(id, &outcome)?;
            }
            Action::FixAudit => match self.runner.fix(activity).await {
                Ok(_) => self.audit(activity).await?,
                Err(message) => self
                    .delivery
                    .answer(id, &Outcome::failed(format!("the fix failed: {message}")))?,
            },
            Action::Restart => self.restart(id).await?,
            Action::Unknown(word) => self.delivery.answer(
                id,
                &Outcome::failed(format!(
                    "rampart-agent {} does not know the action `{word}` (activity type {})",
                    env!("CARGO_PKG_VERSION"),
                    activity.kind
                )),
            )?,
        }
        Ok(true)
    }

    async fn audit(&self, activity: &Activity) -> anyhow::Result<()> {
        match self.runner.audit(activity).await {
            Ok(results) => {
                self.spool.put_results(activity.id, &results)?;
                tracing::info!(activity = activity.id, "audit done; results spooled");
                Ok(())
            }
            Err(message) => self.delivery.answer(activity.id, &Outcome::failed(message)),
        }
    }

    /// Marks the restart, then runs the restart command. Its success is reported by the agent
    /// that starts after the restart; a command that fails is reported at once.
    async fn restart(&self, activity_id: i64) -> anyhow::Result<()> {
        let marker = self.restart_marker(activity_id);
        fsutil::write_atomically(&marker, b"", 0o600)?;
        let line = CommandLine {
            program: "sh".into(),
            args: vec!["-c".into(), self.config.restart_command.clone().into()],
            success: &[0],
        };
        tracing::info!(activity = activity_id, "restarting: {line}");
        match runner::run(&line).await {
            Ok(()) => Ok(()),
            Err(message) => {
                self.delivery.answer(
                    activity_id,
                    &Outcome::failed(format!("the restart command failed: {message}")),
                )?;
                std::fs::remove_file(&marker)
                    .with_context(|| format!("cannot remove {}", marker.display()))
            }
        }
    }

    fn restart_marker(&self, activity_id: i64) -> PathBuf {
        self.state_dir
            .join(format!("{RESTART_MARKER_PREFIX}{activity_id}"))
    }

    /// Restart markers found at start belong to restarts that happened: their `succeeded`
    /// outcome goes to the spool and the marker is removed.
    fn spool_restarts(&self) -> anyhow::Result<()> {
        for id in restart_markers(&self.state_dir)? {
            self.delivery.answer(
                id,
                &Outcome::succeeded("the machine restarted and its agent started again"),
            )?;
            let marker = self.restart_marker(id);
            std::fs::remove_file(&marker)
                .with_context(|| format!("cannot remove {}", marker.display()))?;
        }
        Ok(())
    }
}

/// The activity ids of the `restart-<id>` files in `state_dir`.
fn restart_markers(state_dir: &Path) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    let entries = std::fs::read_dir(state_dir)
        .with_context(|| format!("cannot list {}", state_dir.display()))?;
    for entry in entries {
        let name = entry?.file_name();
        let id = name
            .to_str()
            .and_then(|n| n.strip_prefix(RESTART_MARKER_PREFIX))
            .and_then(|id| id.parse::<i64>().ok());
        ids.extend(id);
    }
    ids.sort_unstable();
    Ok(ids)
}
