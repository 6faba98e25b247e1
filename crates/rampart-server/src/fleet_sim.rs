//! `rampart fleet-sim`: a fleet of simulated machines for load tests and benchmarks. It registers
//! N machines with a server through the agent protocol, then each one polls for its activities
//! and answers them as `rampart-agent` would — audits with a real results file, `fix` and
//! `restart` with a succeeded outcome — using the agent's own protocol code
//! ([`rampart_agent::client::Client`], its messages, its thin-upload cut and its record of the
//! versions the server holds), so the server sees what a fleet of real agents costs it.
//!
//! Machines are named `sim-00001`, `sim-00002`, …; each registers with the `TestResult/target` of
//! its results file as system host name (the server takes results whose target is the machine's)
//! and uploads that file (round-robin over `--results`) with its timestamps moved to the upload
//! time and a share of its `pass`/`fail` results flipped, chosen by the seed and the machine
//! alone ([`files`]). `--concurrency` tasks share the machines: each takes the next machine,
//! polls for it (long-polling `--poll-wait` seconds), answers what it was handed, and puts it back
//! at the end of the queue until it has answered `--runs` audits.
//!
//! Errors: `anyhow` for what stops the simulation (unreadable files, a refused registration);
//! failed calls once it runs are counted and the first few printed ([`stats`]).

mod files;
mod fleet;
mod registration;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use crate::config::Secret;
pub use files::{ResultsFile, Variation};
pub use stats::Summary;

/// What to simulate (`rampart fleet-sim --help`).
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// The server's URL, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The account's registration key (`rampart admin registration-key`).
    #[arg(long, value_name = "KEY", env = "RAMPART_REGISTRATION_KEY")]
    pub registration_key: Secret,
    /// How many machines to simulate.
    #[arg(long, value_name = "N")]
    pub instances: usize,
    /// Real XCCDF results files (or ARF; gzip or not); machine i uploads file i mod their number.
    #[arg(
        long,
        value_name = "FILE[,FILE…]",
        value_delimiter = ',',
        required = true
    )]
    pub results: Vec<PathBuf>,
    /// Tags the machines register with.
    #[arg(long, value_name = "TAG[,TAG…]", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// The access group the machines register in [default: global].
    #[arg(long, value_name = "GROUP")]
    pub access_group: Option<String>,
    /// How many machines are served at once (registrations, polls and uploads in flight).
    #[arg(long, value_name = "C", default_value_t = 64)]
    pub concurrency: usize,
    /// Chooses the results each machine flips: the same seed gives every machine the same
    /// results in every run.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// The share of `pass` and `fail` rule results each machine flips, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 5.0)]
    pub flip: f64,
    /// Stop once every machine has answered this many audits (0: no limit).
    #[arg(long, value_name = "R", default_value_t = 1)]
    pub runs: u32,
    /// Stop after this many seconds [default: when every machine has answered --runs audits,
    /// or on Ctrl-C].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// How long each poll waits for work (0–60), as the agent's --poll-wait.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub poll_wait: u64,
    /// Always upload the whole results file, as agents do whose poll did not list its version
    /// (by default the TestResult alone goes once the server holds the version).
    #[arg(long)]
    pub whole: bool,
    /// Keep the machines' identities in FILE (mode 0600) and reuse them in later runs; without
    /// it every run registers new machines.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long)]
    pub no_progress: bool,
}

impl Options {
    /// The defaults of the command line for `instances` machines of `server` uploading `results`.
    pub fn new(
        server: impl Into<String>,
        registration_key: impl Into<String>,
        instances: usize,
        results: Vec<PathBuf>,
    ) -> Self {
        Self {
            server: server.into(),
            registration_key: Secret::new(registration_key),
            instances,
            results,
            tags: Vec::new(),
            access_group: None,
            concurrency: 64,
            seed: 1,
            flip: 5.0,
            runs: 1,
            duration: None,
            poll_wait: 10,
            whole: false,
            state: None,
            no_progress: false,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.instances == 0 {
            bail!("--instances must be at least 1");
        }
        if self.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if self.results.is_empty() {
            bail!("--results needs at least one file");
        }
        if !(0.0..=100.0).contains(&self.flip) {
            bail!("--flip is a percentage, 0 to 100; got {}", self.flip);
        }
        if self.poll_wait > 60 {
            bail!("--poll-wait is 0 to 60 seconds, as the server takes it");
        }
        Ok(())
    }
}

/// `rampart fleet-sim`: runs until done, the `--duration` is over, or SIGINT/SIGTERM; prints the
/// closing line on stdout. An error when any upload was refused.
pub async fn command(options: Options) -> anyhow::Result<()> {
    let summary = run_until(options, crate::startup::shutdown_signal()).await?;
    println!("{summary}");
    if summary.refused > 0 {
        bail!(
            "the server refused {} uploads (the first errors are printed above)",
            summary.refused
        );
    }
    Ok(())
}

/// Runs the simulation until every machine has answered `runs` audits or `duration` is over.
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    run_until(options, std::future::pending()).await
}

/// [`run`], stopping early (with what was done so far) when `stop` resolves.
pub async fn run_until(
    options: Options,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Summary> {
    options.check()?;
    let stats = Arc::new(stats::Stats::new(!options.no_progress));
    let mut files = Vec::new();
    for path in options.results.clone() {
        let prepared = tokio::task::spawn_blocking(move || ResultsFile::prepare(&path));
        files.push(prepared);
    }
    let mut prepared = Vec::new();
    for file in files {
        prepared.push(Arc::new(file.await.context("preparing a results file")??));
    }
    let audits = options.instances as u64 * u64::from(options.runs);
    let progress =
        (!options.no_progress).then(|| stats.show_progress(options.instances as u64, audits));
    let deadline = async {
        match options.duration {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => std::future::pending().await,
        }
    };
    let simulation = fleet::simulate(&options, prepared, stats.clone());
    let outcome = tokio::select! {
        done = simulation => done,
        () = stop => Ok(()),
        () = deadline => Ok(()),
    };
    if let Some(progress) = progress {
        progress.finish();
    }
    outcome?;
    let machines = stats.registered.load(std::sync::atomic::Ordering::Relaxed);
    Ok(stats.summary(machines))
}
