//! Officials' passwords: Argon2id (RFC 9106, the `argon2` crate's defaults: 19 MiB, 2 passes,
//! one lane) in bounded memory.
//!
//! Each check needs 19 MiB of working memory. Allocated per check, that memory is freed to
//! the C allocator, which keeps it in per-thread arenas rather than returning it: 100 checks
//! on a few threads left a gigabyte resident. So checks run on memory from a small pool of
//! buffers, allocated once and reused, and at most `concurrency` run at once (callers wait
//! for a permit from [`PasswordChecker::permits`]). Resident memory for passwords is then
//! `concurrency × 19 MiB`, whatever the load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Largest Argon2 memory cost accepted in a stored hash, in KiB (64 MiB): a hash asking for
/// more is refused rather than allowed to grow the pool.
const MAX_MEMORY_KIB: u32 = 64 * 1024;

/// Hashes and checks passwords with pooled Argon2id memory; see the module documentation.
pub struct PasswordChecker {
    permits: Arc<tokio::sync::Semaphore>,
    pool: Mutex<Vec<Vec<Block>>>,
    concurrency: usize,
    work: AtomicU64,
}

impl PasswordChecker {
    /// A checker letting `concurrency` checks (at least one) run at once.
    #[must_use]
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            pool: Mutex::new(Vec::new()),
            concurrency,
            work: AtomicU64::new(0),
        }
    }

    /// The permits a caller holds while a check runs.
    #[must_use]
    pub fn permits(&self) -> Arc<tokio::sync::Semaphore> {
        self.permits.clone()
    }

    /// The Argon2 work run so far, in KiB of memory × passes: what a check costs, counted
    /// rather than timed (a login for an unknown name must cost what a real one does).
    #[must_use]
    pub fn work_done(&self) -> u64 {
        self.work.load(Ordering::Relaxed)
    }

    /// Runs Argon2 with `params` on a pooled buffer.
    fn run(
        &self,
        params: Params,
        version: Version,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), String> {
        if params.m_cost() > MAX_MEMORY_KIB {
            return Err(format!(
                "a stored password hash asks for {} KiB of memory (at most {MAX_MEMORY_KIB})",
                params.m_cost()
            ));
        }
        let blocks = params.block_count();
        let taken = self.pool.lock().map_err(|e| e.to_string())?.pop();
        let mut memory = taken.unwrap_or_default();
        memory.resize(blocks, Block::new());
        self.work.fetch_add(
            u64::from(params.m_cost()) * u64::from(params.t_cost()),
            Ordering::Relaxed,
        );
        let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
        let result = argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|e| e.to_string());
        // The working memory is derived from the password: wipe it before reuse.
        memory.fill(Block::new());
        let mut pool = self.pool.lock().map_err(|e| e.to_string())?;
        if pool.len() < self.concurrency {
            pool.push(memory);
        }
        result
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) for `password` with `salt`.
    ///
    /// # Errors
    /// A message if the salt is unusable (fewer than 8 bytes).
    pub fn hash(&self, password: &[u8], salt: &[u8]) -> Result<String, String> {
        let params = Params::default();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.run(params.clone(), Version::V0x13, password, salt, &mut out)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: (&params).try_into().map_err(|e| format!("{e}"))?,
            salt: Some(Salt::new(salt).map_err(|e| e.to_string())?),
            hash: Some(out[..].try_into().map_err(|e| format!("{e}"))?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` matches the stored PHC string (compared in constant time).
    ///
    /// # Errors
    /// A message for a stored string that is not an Argon2id hash this checker accepts.
    pub fn verify(&self, password: &[u8], stored: &str) -> Result<bool, String> {
        let parsed = PasswordHash::new(stored).map_err(|e| e.to_string())?;
        if Algorithm::try_from(parsed.algorithm.as_str()).ok() != Some(Algorithm::Argon2id) {
            return Err("stored password hash is not Argon2id".into());
        }
        let version = parsed
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)
            .map_err(|e| e.to_string())?;
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err("stored password hash has no salt or output".into());
        };
        let expected: &[u8] = expected.as_ref();
        let mut out = vec![0u8; expected.len()];
        self.run(params, version, password, salt, &mut out)?;
        Ok(out
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use argon2::password_hash::PasswordVerifier;

    use super::*;

    #[test]
    fn hashes_verify_here_and_with_the_argon2_crate() {
        let checker = PasswordChecker::new(2);
        let stored = checker.hash(b"correct horse", &[7; 16]).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(checker.verify(b"correct horse", &stored).unwrap());
        assert!(!checker.verify(b"correct horsf", &stored).unwrap());
        // The crate's own verifier agrees: the format is standard.
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // And hashes made by the crate (as stored before this checker) verify here.
        use argon2::password_hash::PasswordHasher;
        let theirs = Argon2::default()
            .hash_password_with_salt(b"twelve chars!", &[9; 16])
            .unwrap()
            .to_string();
        assert!(checker.verify(b"twelve chars!", &theirs).unwrap());
        assert!(!checker.verify(b"twelve chars?", &theirs).unwrap());
    }

    #[test]
    fn the_pool_never_holds_more_buffers_than_checks_may_run() {
        let checker = Arc::new(PasswordChecker::new(2));
        let stored = checker.hash(b"pw", &[1; 16]).unwrap();
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (checker, stored) = (checker.clone(), stored.clone());
                std::thread::spawn(move || checker.verify(b"pw", &stored).unwrap())
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
        assert!(checker.pool.lock().unwrap().len() <= 2);
    }

    #[test]
    fn foreign_or_greedy_hashes_are_refused() {
        let checker = PasswordChecker::new(1);
        assert!(checker.verify(b"x", "not a hash").is_err());
        assert!(
            checker
                .verify(b"x", "$argon2i$v=19$m=19456,t=2,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
                .is_err()
        );
        assert!(
            checker
                .verify(b"x", "$argon2id$v=19$m=1048576,t=2,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
                .unwrap_err()
                .contains("memory")
        );
    }
}
