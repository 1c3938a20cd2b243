//! SigV4's URI encoding: every byte but the unreserved characters
//! (`A-Z a-z 0-9 - . _ ~`) as `%XX` in upper-case hex.

use std::borrow::Cow;

use super::Sink;

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends the SigV4 encoding of `text` to `out`; `/` is kept unless
/// `encode_slash`.
pub fn uri_encode(text: &[u8], encode_slash: bool, out: &mut String) {
    encode_to(text, encode_slash, out);
}

/// [`uri_encode`] into any [`Sink`]: runs of bytes that stay as they are go
/// in whole, so a hash is fed in few calls.
pub(crate) fn encode_to<S: Sink + ?Sized>(text: &[u8], encode_slash: bool, out: &mut S) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let kept = |b: u8| unreserved(b) || (b == b'/' && !encode_slash);
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if kept(b) {
            continue;
        }
        if start < i {
            // Kept bytes are ASCII.
            out.put_ascii(&text[start..i]);
        }
        let escaped = [b'%', DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]];
        out.put_ascii(&escaped);
        start = i + 1;
    }
    if start < text.len() {
        out.put_ascii(&text[start..]);
    }
}

/// `%XX` sequences decoded (a `%` not followed by two hex digits stays as
/// it is; `+` stays a plus, as SigV4 clients encode a space as `%20`).
pub fn percent_decode(text: &str) -> Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'%') {
        return Cow::Borrowed(bytes);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_but_unreserved() {
        let mut out = String::new();
        uri_encode("a b/ሴ~%".as_bytes(), false, &mut out);
        assert_eq!(out, "a%20b/%E1%88%B4~%25");
        out.clear();
        uri_encode(b"a/b", true, &mut out);
        assert_eq!(out, "a%2Fb");
        out.clear();
        uri_encode(b"%%", true, &mut out);
        assert_eq!(out, "%25%25");
        out.clear();
        uri_encode(b"", true, &mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn decodes_percent_sequences() {
        assert_eq!(&*percent_decode("a%2Fb%zz%4"), b"a/b%zz%4");
        assert_eq!(&*percent_decode("a+b"), b"a+b");
        assert_eq!(&*percent_decode("%"), b"%");
        assert_eq!(&*percent_decode("%41"), b"A");
    }
}
