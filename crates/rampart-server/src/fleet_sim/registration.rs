//! Registering the simulated machines through the agent protocol, `--concurrency` at a time, or
//! reading them from the `--state` file of an earlier simulation (and keeping the new ones there).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use rampart_agent::client::{CallError, Client};
use rampart_agent::protocol::Registration;
use serde::{Deserialize, Serialize};

use super::files::ResultsFile;
use super::stats::Stats;
use super::Options;

/// Tries of a registration that fails transiently.
const REGISTRATION_TRIES: u32 = 5;
/// How long a registration waits before it is tried again.
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// A machine's identity, as `--state` keeps it.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Saved {
    pub hostname: String,
    pub system_hostname: String,
    pub computer_id: i64,
    pub secret: String,
}

/// The `--state` file.
#[derive(Serialize, Deserialize)]
struct StateFile {
    server: String,
    machines: Vec<Saved>,
}

/// Machine `index`'s results file: round-robin over the files.
pub(super) fn file_of(files: &[Arc<ResultsFile>], index: u64) -> Arc<ResultsFile> {
    files[((index - 1) % files.len() as u64) as usize].clone()
}

fn hostname(index: u64) -> String {
    format!("sim-{index:05}")
}

/// The machines 1 to `--instances`: those the `--state` file holds, and new ones registered
/// (then added to it).
pub(super) async fn enlist(
    options: &Options,
    base: &Client,
    server: &str,
    files: &[Arc<ResultsFile>],
    stats: &Arc<Stats>,
) -> anyhow::Result<Vec<Saved>> {
    let mut saved = match &options.state {
        Some(path) => load_state(path, server)?,
        None => Vec::new(),
    };
    let reused = saved.len().min(options.instances);
    for (i, machine) in saved.iter().take(reused).enumerate() {
        let file = file_of(files, i as u64 + 1);
        if machine.system_hostname != file.target {
            bail!(
                "{} was registered with system host name `{}`, but its results file {} names \
                 `{}`: use the same --results as when the state file was made, or another --state",
                machine.hostname,
                machine.system_hostname,
                file.path.display(),
                file.target
            );
        }
    }
    stats.registered.fetch_add(reused as u64, Relaxed);
    let fresh = register(options, base, files, reused, stats).await?;
    if fresh.iter().any(Option::is_none) {
        bail!("registration stopped before every machine was registered");
    }
    saved.splice(reused..reused, fresh.into_iter().flatten());
    if let Some(path) = &options.state {
        if saved.len() > reused {
            save_state(path, server, &saved)?;
        }
    }
    saved.truncate(options.instances);
    Ok(saved)
}

/// Registers machines `skip + 1` to `--instances`, `--concurrency` at a time. A refusal (a wrong
/// key, an unknown access group) ends it all.
async fn register(
    options: &Options,
    base: &Client,
    files: &[Arc<ResultsFile>],
    skip: usize,
    stats: &Arc<Stats>,
) -> anyhow::Result<Vec<Option<Saved>>> {
    let count = options.instances.saturating_sub(skip);
    let registered = Arc::new(Mutex::new(vec![None; count]));
    let next = Arc::new(AtomicUsize::new(0));
    // The requests are built once (they hold the key); each task takes the next one.
    let plan: Arc<Vec<Registration>> = Arc::new(
        (0..count)
            .map(|slot| {
                let index = (skip + slot + 1) as u64;
                Registration {
                    registration_key: options.registration_key.expose().to_owned(),
                    account: None,
                    hostname: hostname(index),
                    system_hostname: file_of(files, index).target.clone(),
                    tags: options.tags.clone(),
                    access_group: options.access_group.clone(),
                }
            })
            .collect(),
    );
    let mut tasks: tokio::task::JoinSet<anyhow::Result<()>> = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.min(count) {
        let (next, registered, stats, base, plan) = (
            next.clone(),
            registered.clone(),
            stats.clone(),
            base.clone(),
            plan.clone(),
        );
        tasks.spawn(async move {
            loop {
                let slot = next.fetch_add(1, Relaxed);
                let Some(request) = plan.get(slot) else {
                    return Ok(());
                };
                let answer = register_one(&base, request, &stats).await?;
                registered.lock().unwrap_or_else(|p| p.into_inner())[slot] = Some(Saved {
                    hostname: request.hostname.clone(),
                    system_hostname: request.system_hostname.clone(),
                    computer_id: answer.0,
                    secret: answer.1,
                });
                stats.registered.fetch_add(1, Relaxed);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a registration task panicked")??;
    }
    let registered = std::mem::take(&mut *registered.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(registered)
}

/// One registration, tried again a few times when the server is not available.
async fn register_one(
    base: &Client,
    request: &Registration,
    stats: &Stats,
) -> anyhow::Result<(i64, String)> {
    let mut tries = 0;
    loop {
        tries += 1;
        match base.register(request).await {
            Ok(registered) => return Ok((registered.computer_id, registered.secret)),
            Err(e @ CallError::Refused { .. }) => {
                return Err(e).with_context(|| format!("cannot register {}", request.hostname))
            }
            Err(e) if tries >= REGISTRATION_TRIES => {
                return Err(e).with_context(|| format!("cannot register {}", request.hostname))
            }
            Err(e) => {
                stats.error(format!("registering {}: {e}", request.hostname));
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

fn load_state(path: &Path, server: &str) -> anyhow::Result<Vec<Saved>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let state: StateFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a fleet-sim state file", path.display()))?;
    if state.server != server {
        bail!(
            "{} holds machines of the server {}, not {server}: pass another --state",
            path.display(),
            state.server
        );
    }
    Ok(state.machines)
}

fn save_state(path: &Path, server: &str, machines: &[Saved]) -> anyhow::Result<()> {
    let state = StateFile {
        server: server.to_owned(),
        machines: machines.to_vec(),
    };
    rampart_agent::fsutil::write_atomically(path, &serde_json::to_vec(&state)?, 0o600)
}
