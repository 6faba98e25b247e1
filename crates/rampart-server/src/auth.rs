//! Who is calling: argon2id password hashes, and the HS256 JSON Web Tokens that `POST
//! /api/v2/login` hands out and every other endpoint checks.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{Secret, Settings};
use crate::storage::Store;

mod members;
mod passwords;
pub use members::RecentMembers;
pub use passwords::{decoy_hash, hash_password, verify_password};

/// The claims of a login token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user's id.
    sub: String,
    /// The account the token acts in.
    account: i64,
    iat: i64,
    exp: i64,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Caller {
    pub user_id: i64,
    pub account_id: i64,
}

/// Signs and checks login tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: chrono::Duration,
}

impl Tokens {
    pub fn new(secret: &Secret, ttl_hours: u32) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            ttl: chrono::Duration::hours(i64::from(ttl_hours)),
        }
    }

    pub fn issue(&self, caller: Caller, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: caller.user_id.to_string(),
            account: caller.account_id,
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .context("cannot sign token")
    }

    /// The caller a token speaks for; `None` when it is malformed, forged or expired.
    pub fn check(&self, token: &str) -> Option<Caller> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        Some(Caller {
            user_id: data.claims.sub.parse().ok()?,
            account_id: data.claims.account,
        })
    }
}

/// The signing secret: the configured one; else, on SQLite, the one kept in
/// `<data_dir>/jwt-secret` (generated with mode 0600 on first start); else, on PostgreSQL, one
/// stored in the database, so that every replica signs and checks with the same key.
pub async fn signing_secret(settings: &Settings, store: &dyn Store) -> anyhow::Result<Secret> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    if store.backend() == "sqlite" {
        return secret_file(&settings.data_dir.join("jwt-secret"));
    }
    let secret = store.shared_secret("jwt", &generate_secret()).await?;
    Ok(Secret::new(secret))
}

/// Reads the secret file, creating it first when missing. The file appears whole or not at all
/// (written aside, then linked into place), so a crash or a second process starting at the same
/// moment never leaves a short secret.
fn secret_file(path: &Path) -> anyhow::Result<Secret> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(Secret::new(text.trim())),
        Ok(_) => anyhow::bail!(
            "{} is shorter than 32 characters; delete it to have a new one generated",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let aside = path.with_extension(format!("new-{}", std::process::id()));
    write_private(&aside, &generate_secret())?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
    secret_file(path)
}

/// 256 random bits from the OS, as 64 lower-case hex digits.
pub fn generate_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Bytes as lower-case hex digits.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> Tokens {
        Tokens::new(&Secret::new(secret), 24)
    }

    #[test]
    fn a_token_names_its_caller_until_it_expires() {
        let caller = Caller {
            user_id: 7,
            account_id: 3,
        };
        let keys = tokens("0123456789abcdef0123456789abcdef");
        let token = keys.issue(caller, Utc::now()).unwrap();
        assert_eq!(keys.check(&token), Some(caller));
        let old = keys
            .issue(caller, Utc::now() - chrono::Duration::hours(25))
            .unwrap();
        assert_eq!(keys.check(&old), None);
    }

    #[test]
    fn forged_or_malformed_tokens_are_refused() {
        let caller = Caller {
            user_id: 7,
            account_id: 3,
        };
        let forged = tokens("another secret of at least 32 chars!!")
            .issue(caller, Utc::now())
            .unwrap();
        let keys = tokens("0123456789abcdef0123456789abcdef");
        assert_eq!(keys.check(&forged), None);
        assert_eq!(keys.check("not.a.token"), None);
        assert_eq!(keys.check(""), None);
    }

    #[test]
    fn the_secret_is_generated_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt-secret");
        let first = secret_file(&path).unwrap();
        assert_eq!(secret_file(&path).unwrap(), first);
        assert_eq!(first.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt-secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
