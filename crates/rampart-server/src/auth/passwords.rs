//! Password hashes: argon2id with a random salt, as PHC strings, and their checks.

use std::sync::Mutex;

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block, Params, Version};

/// Checks' memory kept for the next checks, at most this many (more than the checks the server
/// runs at once, one per core).
const MEMORY_KEPT: usize = 16;
/// A check's memory is kept only up to this size (the default parameters take 19 MiB).
const MEMORY_KEPT_BYTES: usize = 64 << 20;

/// The memory of finished password checks, for the next ones. Each check of the default
/// parameters fills 19 MiB; allocated afresh every time, as `argon2` does, a burst of failed
/// logins left the server at 465 MB resident (glibc raises its mmap threshold after the first
/// such block is freed and serves the next ones from heaps it does not give back). Taken from
/// here, the memory stays at one block per check running at once.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Hashes a password for storage (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Checks a password against a stored hash; a malformed hash never matches. The same check as
/// `argon2`'s `PasswordVerifier` (the hash's own algorithm, version and parameters, the outputs
/// compared in constant time), in memory reused from check to check.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let mut memory = take_memory(blocks);
    let hashed = hasher.hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..blocks],
    );
    give_back(memory);
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// A hash of no one's password, checked when the email is unknown so that a failed login takes
/// as long whether or not the user exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").expect("argon2 hashes a constant"))
}

/// Memory for a check of `blocks` blocks: a kept one when there is one (its old contents are
/// overwritten by the check), else new.
fn take_memory(blocks: usize) -> Vec<Block> {
    let kept = MEMORY.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut memory = kept.unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    memory
}

fn give_back(memory: Vec<Block>) {
    if memory.len() * Block::SIZE > MEMORY_KEPT_BYTES {
        return;
    }
    let mut kept = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() < MEMORY_KEPT {
        kept.push(memory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_and_nothing_else() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse ", &hash));
        assert!(!verify_password("", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        // The same hash with one character of its output changed: the output is compared.
        let at = hash.len() - 10;
        let changed = if &hash[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{changed}{}", &hash[..at], &hash[at + 1..]);
        assert!(
            PasswordHash::new(&forged).is_ok(),
            "still a well-formed hash"
        );
        assert!(!verify_password("correct horse", &forged));
    }

    #[test]
    fn hashes_of_other_argon2_variants_and_parameters_are_checked_by_their_own() {
        // Made by the argon2 crate itself with other parameters, as an older rampart or another
        // tool might have stored them.
        for (algorithm, version, params) in [
            (
                argon2::Algorithm::Argon2i,
                Version::V0x13,
                Params::new(8, 1, 1, None),
            ),
            (
                argon2::Algorithm::Argon2d,
                Version::V0x10,
                Params::new(16, 3, 2, Some(16)),
            ),
            (
                argon2::Algorithm::Argon2id,
                Version::V0x13,
                Params::new(32, 2, 1, Some(64)),
            ),
        ] {
            let hasher = Argon2::new(algorithm, version, params.unwrap());
            let salt = SaltString::generate(&mut OsRng);
            let hash = hasher.hash_password(b"pw", &salt).unwrap().to_string();
            assert!(verify_password("pw", &hash), "{hash}");
            assert!(!verify_password("pW", &hash), "{hash}");
        }
    }

    #[test]
    fn checks_reuse_their_memory_instead_of_taking_more() {
        let hash = hash_password("pw").unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..3 {
                        assert!(!verify_password("wrong", &hash));
                    }
                });
            }
        });
        let kept = MEMORY.lock().unwrap();
        assert!(!kept.is_empty(), "finished checks give their memory back");
        assert!(kept.len() <= MEMORY_KEPT);
    }
}
