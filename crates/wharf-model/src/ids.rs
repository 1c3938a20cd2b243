//! Randomness for identifiers: ids in the UUID version 4 text form, unique
//! within the process and unpredictable across processes, without a system
//! call each (request ids, service event ids), and the [`Entropy`] that the
//! API draws other ids' random parts from (tests fix it).

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The process's random seed (from the OS, through `RandomState`).
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| RandomState::new().hash_one(0x5741_5246_u64))
}

/// A fresh 64-bit number: distinct for each call within the process (a
/// bijection of a counter) and unpredictable across processes.
fn next_random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    splitmix64(seed() ^ COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Where the random parts of new identifiers come from. The server uses
/// [`SystemEntropy`]; a test that must make two draws coincide uses
/// [`FixedEntropy`].
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// A random 64-bit number.
    fn next_u64(&self) -> u64;
}

/// Random numbers seeded by the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn next_u64(&self) -> u64 {
        next_random()
    }
}

/// The same number every time; for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedEntropy(pub u64);

impl Entropy for FixedEntropy {
    fn next_u64(&self) -> u64 {
        self.0
    }
}

/// 128 fresh random bits, distinct for each call within the process.
pub fn random_u128() -> u128 {
    let hi = next_random();
    let lo = splitmix64(hi ^ seed().rotate_left(41));
    (u128::from(hi) << 64) | u128::from(lo)
}

/// A fresh task ID: 32 lowercase hex digits, as ECS's. Distinct for each
/// call within the process (the high half is a bijection of a counter) and
/// unpredictable across processes.
pub fn task_id() -> String {
    let hi = next_random();
    let lo = splitmix64(hi ^ seed().rotate_left(29));
    format!("{hi:016x}{lo:016x}")
}

/// A fresh id in the UUID version 4 text form.
pub fn uuid_v4() -> String {
    let seed = seed();
    // Distinct draws give distinct values of `hi` before masking, and `lo`
    // is derived from all of `hi`.
    let hi = next_random();
    let lo = splitmix64(hi ^ seed.rotate_left(17));
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn task_ids_are_32_hex_digits_and_distinct() {
        let ids: HashSet<String> = (0..10_000).map(|_| super::task_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn ids_are_uuid_shaped_and_distinct() {
        let ids: HashSet<String> = (0..10_000).map(|_| super::uuid_v4()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
    }
}
