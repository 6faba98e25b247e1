//! Registering this machine: the first start (no identity in the state dir) presents the
//! account's registration key and keeps the computer id and secret the server answers.

use anyhow::{bail, Context};

use crate::backoff::{Backoff, SHORT_ATTEMPTS};
use crate::client::{CallError, Client};
use crate::config::Config;
use crate::identity::{self, Identity};
use crate::protocol::Registration;
use crate::{fsutil, host};

/// Registers this machine with the key and keeps the identity. Transient failures are retried:
/// three times with `--once`, with backoff without end otherwise; a refusal is final.
pub async fn register(config: &Config, client: &Client) -> anyhow::Result<Identity> {
    let state_dir = &config.state_dir;
    let Some(key) = &config.registration_key else {
        bail!(
            "this machine is not registered yet ({} does not exist): pass --registration-key \
             or set RAMPART_REGISTRATION_KEY",
            identity::path(state_dir).display()
        );
    };
    // A secret the server issues but the agent cannot keep would leave a computer nobody can
    // use: make sure the identity can be written before asking for one.
    let probe = state_dir.join(".write-test");
    fsutil::write_atomically(&probe, b"", 0o600)?;
    let _ = std::fs::remove_file(&probe);

    let system_hostname = host::os_hostname()?;
    let registration = Registration {
        registration_key: key.expose().to_owned(),
        account: config.account.clone(),
        hostname: config
            .hostname
            .clone()
            .unwrap_or_else(|| system_hostname.clone()),
        system_hostname,
        tags: config
            .tags
            .iter()
            .map(|tag| tag.trim().to_owned())
            .filter(|tag| !tag.is_empty())
            .collect(),
        access_group: config.access_group.clone(),
    };
    let mut backoff = if config.once {
        Backoff::short()
    } else {
        Backoff::default()
    };
    let mut attempt = 0;
    let registered = loop {
        attempt += 1;
        match client.register(&registration).await {
            Ok(registered) => break registered,
            Err(CallError::Refused {
                status,
                code,
                message,
            }) => bail!("the server refused to register this machine ({status} {code}): {message}"),
            Err(e) if config.once && attempt >= SHORT_ATTEMPTS => {
                return Err(e).context("cannot register this machine");
            }
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    "cannot register yet: {e}; trying again in {:.1} s",
                    delay.as_secs_f64()
                );
                tokio::time::sleep(delay).await;
            }
        }
    };
    let identity = Identity {
        server: config.server_url(),
        computer_id: registered.computer_id,
        secret: registered.secret,
    };
    identity::save(state_dir, &identity)?;
    tracing::info!(
        computer = identity.computer_id,
        hostname = %registration.hostname,
        "registered"
    );
    Ok(identity)
}
