//! Random bytes from the operating system, for what must not be guessed
//! (session key ids, the STS key).

/// `N` random bytes. Falls back to the standard library's per-process hash keys
/// only if the operating system refuses, which it does not on Linux.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if getrandom::fill(&mut out).is_err() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let v = state.hash_one((i, std::time::SystemTime::now())).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    out
}

/// Ten random bytes: the part of a temporary access key id that is not `ASIA`.
pub fn nonce() -> [u8; 10] {
    bytes()
}
