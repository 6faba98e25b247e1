//! Password hashes: argon2id with a random salt, as PHC strings, and their checks.

use std::sync::Mutex;

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block, Params, Version};

/// Checks' memory kept for the next checks, at most this many per core (the server runs one
/// check per core at a time; `admin` commands and tests may run a few more).
const MEMORY_KEPT_PER_CORE: usize = 2;
/// A check's memory is kept only up to this size (the default parameters take 19 MiB).
const MEMORY_KEPT_BYTES: usize = 64 << 20;

/// The memory of finished password checks, for the next ones. Each check of the default
/// parameters fills 19 MiB; allocated afresh every time, as `argon2` does, a burst of failed
/// logins left the server at 465 MB resident (glibc raises its mmap threshold after the first
/// such block is freed and serves the next ones from heaps it does not give back). Taken from
/// here, the memory stays at one block per check running at once.
static MEMORY: Pool = Pool::new();

/// Memory blocks kept for reuse.
struct Pool {
    kept: Mutex<Vec<Vec<Block>>>,
}

impl Pool {
    const fn new() -> Self {
        Self {
            kept: Mutex::new(Vec::new()),
        }
    }

    /// Memory for a check of `blocks` blocks: a kept one when there is one (its old contents
    /// are overwritten by the check), else new.
    fn take(&self, blocks: usize) -> Vec<Block> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut memory = kept.unwrap_or_default();
        if memory.len() < blocks {
            memory.reserve_exact(blocks - memory.len());
            memory.resize(blocks, Block::default());
        }
        memory
    }

    /// Keeps `memory` for the next check, unless `most` are kept already or it is larger than
    /// `MEMORY_KEPT_BYTES`.
    fn give_back(&self, memory: Vec<Block>, most: usize) {
        if memory.capacity() * Block::SIZE > MEMORY_KEPT_BYTES {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < most {
            kept.push(memory);
        }
    }
}

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
    let mut memory = MEMORY.take(blocks);
    let hashed = hasher.hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..blocks],
    );
    MEMORY.give_back(memory, MEMORY_KEPT_PER_CORE * crate::cores());
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// A hash of no one's password, checked when the email is unknown so that a failed login takes
/// as long whether or not the user exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").expect("argon2 hashes a constant"))
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
    fn a_check_reuses_the_memory_of_a_finished_one_and_the_pool_stays_bounded() {
        let pool = Pool::new();
        let first = pool.take(100);
        let address = first.as_ptr();
        pool.give_back(first, 2);
        let again = pool.take(100);
        assert_eq!(again.as_ptr(), address, "the kept memory was not reused");
        assert_eq!(again.len(), 100);
        // Smaller checks take it too; a larger one grows it to exactly its size.
        pool.give_back(again, 2);
        let grown = pool.take(150);
        assert_eq!((grown.len(), grown.capacity()), (150, 150));
        // At most `most` are kept, and none larger than the bound.
        for memory in [grown, pool.take(10), pool.take(10), pool.take(10)] {
            pool.give_back(memory, 2);
        }
        assert_eq!(pool.kept.lock().unwrap().len(), 2);
        let huge = pool.take(MEMORY_KEPT_BYTES / Block::SIZE + 1);
        let before = pool.kept.lock().unwrap().len();
        pool.give_back(huge, 10);
        let after = pool.kept.lock().unwrap().len();
        assert_eq!(after, before, "memory over the bound was kept");
    }
}
