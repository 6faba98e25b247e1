//! Starting the server: open storage and keys from the settings, then serve on a bound listener
//! until a shutdown future resolves (tests pass a listener on port 0).

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::{self, Tokens};
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::storage::{self, Store};

/// Uploads in flight per core (see `AppState::upload_slots`): enough to keep the parse and the
/// disk busy while others are received; each holds at most 1 MiB of its body in memory (a whole
/// results file is ~600 KB gzip; a larger body goes to a temporary file) and its connection's
/// read buffer.
const UPLOAD_SLOTS_PER_CORE: usize = 8;

/// Opens the database (creating the data dir and the SQLite file when needed), runs the
/// migrations and loads the signing secret.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let store = open_store(&settings).await?;
    let secret = auth::signing_secret(&settings, store.as_ref()).await?;
    // Computed now, so that the first login of an unknown email takes no longer than others.
    tokio::task::spawn_blocking(auth::decoy_hash).await?;
    let cores = crate::cores();
    Ok(AppState {
        store,
        tokens: Arc::new(Tokens::new(&secret, settings.token_ttl_hours)),
        members: Arc::default(),
        password_checks: Arc::new(tokio::sync::Semaphore::new(cores)),
        parse_slots: Arc::new(tokio::sync::Semaphore::new(cores)),
        upload_slots: Arc::new(tokio::sync::Semaphore::new(UPLOAD_SLOTS_PER_CORE * cores)),
        settings: Arc::new(settings),
        new_work: Arc::new(tokio::sync::Notify::new()),
        version_gates: Arc::default(),
    })
}

/// Opens the configured database (creating the data dir for SQLite) and migrates it.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        create_private_dir(&settings.data_dir)?;
    }
    let store = storage::open(&url)
        .await
        .with_context(|| format!("cannot open database {}", redact(&url)))?;
    if sqlite {
        keep_private(
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:"),
        );
    }
    Ok(store)
}

/// Creates the data dir (and its parents) readable by its owner only; an existing one is left as
/// it is.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))
}

/// The SQLite files hold password hashes and registration keys: owner-only.
fn keep_private(path: &str) {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let file = format!("{}{suffix}", path.split('?').next().unwrap_or(path));
        let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
    }
}

/// Serves the API on `listener`, with the scheduler beside it, until `shutdown` resolves; then
/// finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(crate::scheduler::run(
        state.store.clone(),
        state.settings.clone(),
        state.new_work.clone(),
        {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        },
    ));
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await
        .context("the HTTP server failed");
    let _ = scheduler.await;
    served
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing a SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(
            redact("postgres://u:pw@127.0.0.1/db"),
            "postgres://u:****@127.0.0.1/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("sqlite://./rampart-data/rampart.db"),
            "sqlite://./rampart-data/rampart.db"
        );
    }
}
