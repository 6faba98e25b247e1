//! `rampart-agent`: registers this machine with a rampart server, then carries out the audits,
//! fixes and restarts the server asks for and reports their results (`docs/agent-protocol.md`).
//!
//! Errors: `anyhow` with context for everything the operator reads; the HTTP layer's
//! [`client::CallError`] tells transient failures (retried) from final refusals.
#![forbid(unsafe_code)]

pub mod agent;
pub mod backoff;
pub mod client;
pub mod config;
pub mod delivery;
pub mod fsutil;
pub mod host;
pub mod identity;
pub mod protocol;
pub mod registration;
pub mod runner;
pub mod spool;
pub mod thin;

use std::process::ExitCode;

pub use agent::Agent;
pub use config::Config;

/// Logs to stderr, `info` and up unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Runs the agent as `config` says until it is done (`--once`) or stopped by SIGINT/SIGTERM.
/// Exit code 0 when all is delivered (or the daemon was stopped), 1 when `--once` leaves answers
/// in the spool; an error for what stops the agent (no identity and no key, a refused
/// registration, a state dir of another server, a server that cannot be polled with `--once`).
pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let once = config.once;
    let spool_dir = config.state_dir.join("spool");
    let work = async move {
        let agent = Agent::start(config).await?;
        if !once {
            agent.run_daemon().await;
            return Ok(ExitCode::SUCCESS);
        }
        let left = agent.run_once().await?;
        if left == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "rampart-agent: {left} answer(s) could not be delivered and wait in {}; \
             they are sent at the next run",
            spool_dir.display()
        );
        Ok(ExitCode::FAILURE)
    };
    tokio::select! {
        result = work => result,
        signal = shutdown_signal() => {
            tracing::info!("{signal}: stopping");
            // An interrupted `--once` has not done its pass.
            Ok(if once { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}

/// Resolves on SIGINT or SIGTERM, naming it.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for SIGINT/SIGTERM");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}
