//! PEM: `-----BEGIN LABEL-----`, base64 lines, `-----END LABEL-----`.
//! Text outside the blocks is ignored, as OpenSSL ignores it.

/// One PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The label (`CERTIFICATE`, `PRIVATE KEY`, `RSA PRIVATE KEY`, ...).
    pub label: String,
    /// Whether the block carries RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`):
    /// a legacy encrypted key.
    pub has_headers: bool,
    /// The decoded bytes.
    pub der: Vec<u8>,
}

/// Why a text is not PEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemError {
    /// A block without its END line, or with another label there.
    Unterminated,
    /// A body that is not base64.
    BadBase64,
}

/// Every block of `text`, in order.
pub fn blocks(text: &str) -> Result<Vec<Block>, PemError> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut has_headers = false;
        let mut ended = false;
        for line in lines.by_ref() {
            if line == end {
                ended = true;
                break;
            }
            if line.starts_with("-----") {
                return Err(PemError::Unterminated);
            }
            if line.contains(':') {
                has_headers = true;
                continue;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(PemError::Unterminated);
        }
        let der = base64(&body).ok_or(PemError::BadBase64)?;
        out.push(Block { label: label.to_owned(), has_headers, der });
    }
    Ok(out)
}

/// Standard base64 (with `=` padding, which may be left out), as PEM and
/// the AWS JSON protocol's blobs use it.
pub fn base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let bytes: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let data = match bytes.iter().position(|&b| b == b'=') {
        Some(p) if bytes[p..].iter().all(|&b| b == b'=') && bytes.len() - p <= 2 => &bytes[..p],
        Some(_) => return None,
        None => &bytes[..],
    };
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * (4 - chunk.len() as u32);
        let produced = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&produced[..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64("aGVs\nbG8h").as_deref(), Some(&b"hello!"[..]));
        assert_eq!(base64("").as_deref(), Some(&b""[..]));
        assert_eq!(base64("a"), None);
        assert_eq!(base64("aG=Vs"), None);
        assert_eq!(base64("aGV*"), None);
    }

    #[test]
    fn blocks_are_read_in_order_with_their_labels() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n\
                    -----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\naGk=\n-----END RSA PRIVATE KEY-----\n";
        let b = blocks(text).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].label.as_str(), b[0].der.as_slice(), b[0].has_headers),
            ("CERTIFICATE", &b"hello"[..], false)
        );
        assert_eq!((b[1].label.as_str(), b[1].has_headers), ("RSA PRIVATE KEY", true));
        assert_eq!(blocks("-----BEGIN X-----\naGk=\n"), Err(PemError::Unterminated));
        assert_eq!(blocks("-----BEGIN X-----\n!!\n-----END X-----"), Err(PemError::BadBase64));
        assert_eq!(blocks("no pem here").unwrap(), vec![]);
    }
}
