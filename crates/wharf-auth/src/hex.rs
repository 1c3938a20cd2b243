//! Lower-case hexadecimal, as SigV4 writes hashes and signatures.

/// The lower-case hex form of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// The lower-case hex form of a 32-byte digest, on the stack (no allocation
/// on the verification path). Read it with [`as_str`].
pub fn encode32(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}

/// The text of an [`encode32`] result.
pub fn as_str(hex: &[u8; 64]) -> &str {
    // Only hex digits are ever written there.
    std::str::from_utf8(hex).unwrap_or_default()
}

/// The 32 bytes a 64-digit hex string (either case) stands for.
pub fn decode32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let (h, l) = (NIBBLES[usize::from(pair[0])], NIBBLES[usize::from(pair[1])]);
        bad |= (h | l) & 0x10;
        out[i] = (h << 4) | (l & 0x0f);
    }
    (bad == 0).then_some(out)
}

/// Each byte's value as a hex digit, or 0x10 when it is none.
const NIBBLES: [u8; 256] = {
    let mut t = [0x10u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(super::decode32(&super::encode(&bytes)), Some(bytes));
        assert_eq!(super::as_str(&super::encode32(&bytes)), super::encode(&bytes));
        assert_eq!(super::decode32("zz"), None);
        assert_eq!(super::decode32(&"g".repeat(64)), None);
        assert_eq!(super::decode32(&format!("{}G", "A".repeat(63))), None);
        assert_eq!(super::decode32(&"aF".repeat(32)), Some([0xaf; 32]));
    }
}
