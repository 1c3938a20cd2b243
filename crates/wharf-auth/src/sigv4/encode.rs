//! SigV4's URI encoding: every byte but the unreserved characters
//! (`A-Z a-z 0-9 - . _ ~`) as `%XX` in upper-case hex.

use std::borrow::Cow;

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends the SigV4 encoding of `text` to `out`; `/` is kept unless
/// `encode_slash`.
pub fn uri_encode(text: &[u8], encode_slash: bool, out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text {
        if unreserved(b) || (b == b'/' && !encode_slash) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(DIGITS[usize::from(b >> 4)] as char);
            out.push(DIGITS[usize::from(b & 0x0f)] as char);
        }
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
    }

    #[test]
    fn decodes_percent_sequences() {
        assert_eq!(&*percent_decode("a%2Fb%zz%4"), b"a/b%zz%4");
        assert_eq!(&*percent_decode("a+b"), b"a+b");
        assert_eq!(&*percent_decode("%"), b"%");
        assert_eq!(&*percent_decode("%41"), b"A");
    }
}
