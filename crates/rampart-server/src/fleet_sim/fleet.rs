//! Serving the simulated machines: `--concurrency` tasks share a queue; each takes the next
//! machine, polls for it, answers what it was handed as the agent would, and puts it back until
//! the machine has answered its audits.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use rampart_agent::client::{CallError, Client};
use rampart_agent::delivery::KnownVersions;
use rampart_agent::identity::Identity;
use rampart_agent::protocol::{Action, Outcome, Polled};

use super::files::{ResultsFile, Variation};
use super::registration;
use super::stats::Stats;
use super::Options;

/// How long a machine waits before polling again after a transient failure.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// What the outcome of a simulated `fix` or `restart` says.
const SIMULATED: &str = "simulated by rampart fleet-sim";

/// One simulated machine.
struct Machine {
    /// 1-based: `sim-00001` is machine 1.
    index: u64,
    hostname: String,
    client: Client,
    /// What the server last said it holds, as each real agent keeps it.
    known: KnownVersions,
    file: Arc<ResultsFile>,
    /// Audits answered.
    runs: u32,
}

/// What every task reads.
struct Shared {
    stats: Arc<Stats>,
    poll_wait: u64,
    runs: u32,
    whole: bool,
    seed: u64,
    share: f64,
}

/// Registers the machines (or reads them from `--state`), then serves them until each has
/// answered `--runs` audits (for ever with `--runs 0`).
pub(super) async fn simulate(
    options: &Options,
    files: Vec<Arc<ResultsFile>>,
    stats: Arc<Stats>,
) -> anyhow::Result<()> {
    let base = Client::new(&options.server)?;
    let server = rampart_agent::config::normalize_server(&options.server);
    let saved = registration::enlist(options, &base, &server, &files, &stats).await?;
    let machines: VecDeque<Machine> = saved
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let identity = Identity {
                server: server.clone(),
                computer_id: s.computer_id,
                secret: s.secret,
            };
            Machine {
                index: i as u64 + 1,
                hostname: s.hostname,
                client: base.clone().authenticated(&identity),
                known: KnownVersions::default(),
                file: registration::file_of(&files, i as u64 + 1),
                runs: 0,
            }
        })
        .collect();
    let shared = Arc::new(Shared {
        stats,
        poll_wait: options.poll_wait,
        runs: options.runs,
        whole: options.whole,
        seed: options.seed,
        share: options.flip / 100.0,
    });
    let workers = options.concurrency.min(machines.len());
    let queue = Arc::new(Mutex::new(machines));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(serve(queue.clone(), shared.clone()));
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a simulation task panicked")?;
    }
    Ok(())
}
/// What to do with a machine after a poll.
enum Next {
    /// It has answered its audits.
    Done,
    Again,
    /// Something failed on the way: poll again after a pause.
    Later,
}

/// One task: takes the next machine, polls for it, puts it back. A task that finds the queue
/// empty ends: every machine left is held by a task that keeps cycling it.
async fn serve(queue: Arc<Mutex<VecDeque<Machine>>>, shared: Arc<Shared>) {
    let lock = || queue.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let Some(mut machine) = lock().pop_front() else {
            return;
        };
        match serve_once(&mut machine, &shared).await {
            Next::Done => {}
            Next::Again => lock().push_back(machine),
            Next::Later => {
                tokio::time::sleep(RETRY_DELAY).await;
                lock().push_back(machine);
            }
        }
    }
}

/// Polls for `machine` and answers what it was handed.
async fn serve_once(machine: &mut Machine, shared: &Shared) -> Next {
    let stats = &shared.stats;
    let poll = match machine.client.activities(shared.poll_wait).await {
        Ok(poll) => poll,
        Err(e) => {
            stats.error(format!("{}: poll: {e}", machine.hostname));
            return Next::Later;
        }
    };
    machine.known.learn(&poll);
    if !poll.activities.is_empty() {
        stats.activity_seen();
    }
    for item in poll.activities {
        let answered = match item {
            Polled::Activity(activity) => match activity.action {
                Action::Audit | Action::FixAudit => audit(machine, shared, activity.id).await,
                Action::Fix | Action::Restart => {
                    outcome(machine, stats, activity.id, Outcome::succeeded(SIMULATED)).await
                }
                Action::Unknown(word) => {
                    stats.error(format!(
                        "{}: activity {}: unknown action `{word}`",
                        machine.hostname, activity.id
                    ));
                    let message = format!("rampart fleet-sim does not know the action `{word}`");
                    outcome(machine, stats, activity.id, Outcome::failed(message)).await
                }
            },
            Polled::Unreadable { id, reason } => {
                stats.error(format!("{}: activity {id}: {reason}", machine.hostname));
                let message = format!("the activity cannot be read: {reason}");
                outcome(machine, stats, id, Outcome::failed(message)).await
            }
        };
        if !answered {
            return Next::Later;
        }
    }
    if shared.runs > 0 && machine.runs >= shared.runs {
        Next::Done
    } else {
        Next::Again
    }
}

/// Posts an outcome; false when it should be tried again (the activity will be listed again).
async fn outcome(machine: &Machine, stats: &Stats, id: i64, outcome: Outcome) -> bool {
    match machine.client.post_outcome(id, &outcome).await {
        Ok(()) => {
            stats.outcomes.fetch_add(1, Relaxed);
            true
        }
        Err(e) => {
            stats.error(format!("{}: activity {id}: outcome: {e}", machine.hostname));
            !e.is_transient()
        }
    }
}

/// Which form of the file went.
enum Sent {
    Thin,
    Whole,
}

/// Uploads the machine's results for audit `id`; false when it should be tried again. A refused
/// file is answered `failed` with the server's message, as the agent does.
async fn audit(machine: &mut Machine, shared: &Shared, id: i64) -> bool {
    let stats = &shared.stats;
    match upload(machine, shared, id).await {
        Ok((sent, latency)) => {
            match sent {
                Sent::Thin => stats.thin.fetch_add(1, Relaxed),
                Sent::Whole => stats.whole.fetch_add(1, Relaxed),
            };
            stats.answered(Some(latency));
            machine.runs += 1;
            true
        }
        Err(e) => {
            let refusal = match e.downcast_ref::<CallError>() {
                Some(CallError::Transient(_)) => {
                    stats.error(format!("{}: activity {id}: {e:#}", machine.hostname));
                    return false;
                }
                Some(CallError::Refused {
                    status, message, ..
                }) => Some((*status, message.clone())),
                None => None,
            };
            stats.error(format!("{}: activity {id}: {e:#}", machine.hostname));
            stats.answered(None);
            machine.runs += 1;
            match refusal {
                Some((status, message)) => {
                    stats.refused.fetch_add(1, Relaxed);
                    if matches!(status, 401 | 403) {
                        // The machine's credentials are refused: it cannot do anything more.
                        machine.runs = u32::MAX;
                    }
                    // 404 and 409: not this machine's, or answered already; nothing to say.
                    if matches!(status, 400 | 413) {
                        outcome(machine, stats, id, Outcome::failed(message)).await;
                    }
                }
                None => {
                    let message = format!("rampart fleet-sim: {e:#}");
                    outcome(machine, stats, id, Outcome::failed(message)).await;
                }
            }
            true
        }
    }
}

/// Sends the results as the agent's delivery does (`rampart_agent::delivery`, whose upload is
/// tied to its spool): the `TestResult` alone when the last poll listed the file's version, the
/// whole file otherwise or when the server refuses the thin one with 400. Gives the form that
/// was taken and the time spent on the wire.
async fn upload(machine: &Machine, shared: &Shared, id: i64) -> anyhow::Result<(Sent, Duration)> {
    let variation = Variation {
        seed: shared.seed,
        machine: machine.index,
        share: shared.share,
    };
    let mut wire = Duration::ZERO;
    let version = &machine.file.version;
    if !shared.whole && machine.known.contains(version) {
        let body = render(&machine.file, true, variation).await?;
        shared.stats.bytes.fetch_add(body.len() as u64, Relaxed);
        let sending = Instant::now();
        let answer = machine.client.upload_results(id, body).await;
        wire += sending.elapsed();
        match answer {
            Err(CallError::Refused { status: 400, .. }) => machine.known.forget(version),
            Ok(_) => return Ok((Sent::Thin, wire)),
            Err(e) => return Err(e.into()),
        }
    }
    let body = render(&machine.file, false, variation).await?;
    shared.stats.bytes.fetch_add(body.len() as u64, Relaxed);
    let sending = Instant::now();
    machine.client.upload_results(id, body).await?;
    Ok((Sent::Whole, wire + sending.elapsed()))
}

/// The file as this upload sends it: CPU work (patching and compressing up to a few hundred KB),
/// run off the async threads.
async fn render(
    file: &Arc<ResultsFile>,
    thin: bool,
    variation: Variation,
) -> anyhow::Result<Vec<u8>> {
    let file = file.clone();
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        if thin {
            file.thin(now, &variation)
        } else {
            file.whole(now, &variation)
        }
    })
    .await
    .context("rendering an upload panicked")?
}
