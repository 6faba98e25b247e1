//! The `rampart` command line: `serve` and the `admin` commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::auth;
use crate::config::{Overrides, Secret, Settings};
use crate::startup;
use crate::storage::StorageError;

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Compliance audits for a fleet of Ubuntu machines"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API server.
    Serve {
        #[command(flatten)]
        options: ServerOptions,
        /// Address to listen on [env: RAMPART_LISTEN] [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Administer accounts and users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Simulate a fleet of agents, for load tests and benchmarks.
    ///
    /// Registers N machines through the agent protocol and answers their activities by uploading
    /// real results files (each machine's a little different); shows progress on stderr and ends
    /// with the throughput on stdout (docs/fleet.md).
    FleetSim(crate::fleet_sim::Options),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (and its account, when missing).
    CreateUser {
        #[command(flatten)]
        options: ServerOptions,
        /// The user's email; logins use it (case does not matter).
        #[arg(long)]
        email: String,
        /// At least 8 characters; `-` reads it from the first line of standard input.
        #[arg(long)]
        password: Secret,
        /// The user's display name [default: the part of the email before `@`].
        #[arg(long)]
        name: Option<String>,
        /// The account to create the user in.
        #[arg(long, value_name = "NAME", default_value = "standalone")]
        account: String,
    },
    /// Delete, once, every run older than its profile's retention period, with its results,
    /// reports and raw uploads (`rampart serve` does this every hour), and print what went.
    PurgeExpired {
        #[command(flatten)]
        options: ServerOptions,
        /// Purge as if it were this time (ISO 8601, e.g. 2027-01-01T00:00:00Z) [default: now].
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
    },
    /// Print the key agents register with.
    RegistrationKey {
        #[command(flatten)]
        options: ServerOptions,
        #[arg(long, value_name = "NAME", default_value = "standalone")]
        account: String,
    },
}

/// Where the database and data live; shared by every command.
#[derive(Debug, Args)]
pub struct ServerOptions {
    /// `sqlite://PATH` or `postgres://…` [env: RAMPART_DATABASE_URL] [default: sqlite://<data-dir>/rampart.db].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Folder for the SQLite database (report files and raw uploads go to `blobs/` beside it) and the token secret [env: RAMPART_DATA_DIR] [default: ./rampart-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A TOML file of settings [env: RAMPART_CONFIG].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ServerOptions {
    fn settings(&self, listen: Option<SocketAddr>) -> anyhow::Result<Settings> {
        let overrides = Overrides {
            config: self.config.clone(),
            listen,
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
        };
        Settings::load(&overrides, |name| std::env::var(name).ok())
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { options, listen } => serve(options.settings(listen)?).await,
        Command::Admin { command } => admin(command).await,
        Command::FleetSim(options) => crate::fleet_sim::command(options).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let state = startup::prepare(settings).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        "rampart listening on http://{} with {} database {}",
        listener.local_addr()?,
        state.store.backend(),
        startup::redact(&state.settings.database_url())
    );
    startup::serve(listener, state, startup::shutdown_signal()).await?;
    tracing::info!("rampart stopped");
    Ok(())
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser {
            options,
            email,
            password,
            name,
            account,
        } => {
            let email = email.trim().to_lowercase();
            if email.len() > 254
                || email.chars().any(char::is_whitespace)
                || !email
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
            {
                bail!("`{email}` is not an email address");
            }
            let password = if password.expose() == "-" {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                password.expose().to_owned()
            };
            if password.chars().count() < 8 {
                bail!("the password must be at least 8 characters");
            }
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
            let settings = options.settings(None)?;
            let store = startup::open_store(&settings).await?;
            if store.credentials(&email).await?.is_some() {
                bail!("a user with email {email} already exists; nothing was changed");
            }
            let account = store.ensure_account(account.trim(), Utc::now()).await?;
            let hash = auth::hash_password(&password)?;
            match store
                .create_user(account.id, &email, &name, &hash, Utc::now())
                .await
            {
                Ok(user) => {
                    println!(
                        "created user {} ({}) in account {} of database {}",
                        user.email,
                        user.name,
                        account.name,
                        startup::redact(&settings.database_url())
                    );
                    Ok(())
                }
                Err(StorageError::Conflict(message)) => bail!("{message}; nothing was changed"),
                Err(e) => Err(e.into()),
            }
        }
        AdminCommand::PurgeExpired { options, as_of } => {
            let as_of = match as_of {
                Some(text) => {
                    rampart_domain::time::parse_input_time(&text)
                        .map_err(|e| anyhow::anyhow!("--as-of: {e}"))?
                        .at
                }
                None => rampart_domain::time::whole_seconds(Utc::now()),
            };
            let settings = options.settings(None)?;
            let store = startup::open_store(&settings).await?;
            let purged = store.purge_expired(as_of).await?;
            println!(
                "purged as of {}: {} runs, {} activities, {} audits, {} rule results, {} reports, \
                 {} files",
                rampart_domain::time::format_time(as_of),
                purged.runs,
                purged.activities,
                purged.audits,
                purged.rule_results,
                purged.reports,
                purged.files
            );
            if purged.failed > 0 {
                bail!(
                    "{} expired runs could not be deleted (the log says why); run it again",
                    purged.failed
                );
            }
            Ok(())
        }
        AdminCommand::RegistrationKey { options, account } => {
            let settings = options.settings(None)?;
            let store = startup::open_store(&settings).await?;
            match store.account_by_name(&account).await? {
                Some(account) => {
                    println!("{}", account.registration_key);
                    Ok(())
                }
                None => {
                    bail!("there is no account `{account}`; `rampart admin create-user` creates it")
                }
            }
        }
    }
}
