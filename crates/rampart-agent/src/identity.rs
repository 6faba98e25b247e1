//! The machine's identity with its server: `<state dir>/identity.json`, written once after
//! registration (atomically, mode 0600) and read at every start. A state dir belongs to one
//! server: an identity issued by another server URL is refused rather than silently replaced.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::config::normalize_server;
use crate::fsutil;

/// The file name inside the state dir.
pub const FILE_NAME: &str = "identity.json";

/// What registration gave this machine.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The server URL it was issued by (normalized, without trailing `/`).
    pub server: String,
    pub computer_id: i64,
    /// The agent secret (64 hex digits); never logged.
    pub secret: String,
}

impl Identity {
    /// The `Authorization` header value of every authenticated call.
    pub fn authorization(&self) -> String {
        format!("Agent {}:{}", self.computer_id, self.secret)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("server", &self.server)
            .field("computer_id", &self.computer_id)
            .field("secret", &"****")
            .finish()
    }
}

/// Where the identity lives in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// The identity kept in `state_dir` for `server`, or `None` when the machine has not registered
/// yet. An identity for another server, or a damaged file, is an error saying what to do.
pub fn load(state_dir: &Path, server: &str) -> anyhow::Result<Option<Identity>> {
    let file = path(state_dir);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let identity: Identity = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is damaged; remove it to register this machine again",
            file.display()
        )
    })?;
    let server = normalize_server(server);
    if normalize_server(&identity.server) != server {
        bail!(
            "the state dir {} holds the identity of this machine with the server {}, not {server}: \
             pass another --state-dir, or remove {} to register with {server}",
            state_dir.display(),
            identity.server,
            file.display(),
        );
    }
    Ok(Some(identity))
}

/// Keeps `identity` in `state_dir` (created when missing), readable by its owner only.
pub fn save(state_dir: &Path, identity: &Identity) -> anyhow::Result<()> {
    fsutil::create_private_dir(state_dir)?;
    let json = serde_json::to_vec_pretty(identity)?;
    fsutil::write_atomically(&path(state_dir), &json, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn identity() -> Identity {
        Identity {
            server: "https://rampart.test".into(),
            computer_id: 7,
            secret: "ab".repeat(32),
        }
    }

    #[test]
    fn an_identity_round_trips_through_a_file_only_its_owner_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        save(&state, &identity()).unwrap();
        let mode = std::fs::metadata(path(&state))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o077, 0, "a new state dir is private");
        assert_eq!(
            load(&state, "https://rampart.test/").unwrap(),
            Some(identity())
        );
    }

    #[test]
    fn a_state_dir_without_identity_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "https://rampart.test").unwrap(), None);
    }

    #[test]
    fn an_identity_of_another_server_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &identity()).unwrap();
        let error = load(dir.path(), "https://other.test")
            .unwrap_err()
            .to_string();
        assert!(error.contains("https://rampart.test"), "{error}");
        assert!(error.contains("https://other.test"), "{error}");
        assert!(error.contains("--state-dir"), "{error}");
    }

    #[test]
    fn a_damaged_identity_file_is_an_error_not_a_new_registration() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), b"{not json").unwrap();
        let error = format!(
            "{:#}",
            load(dir.path(), "https://rampart.test").unwrap_err()
        );
        assert!(error.contains("damaged"), "{error}");
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        assert!(!format!("{:?}", identity()).contains("abab"));
        assert_eq!(
            identity().authorization(),
            format!("Agent 7:{}", "ab".repeat(32))
        );
    }
}
