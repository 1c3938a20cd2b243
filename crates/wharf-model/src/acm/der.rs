//! A DER reader: just enough of ASN.1's distinguished encoding to read
//! X.509 certificates and private keys. Every length is checked against
//! what is left; nothing is trusted.

/// Input that is not DER, or not the structure expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerError;

/// ASN.1 universal tags Wharf reads.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub const SET: u8 = 0x31;
}

/// A cursor over DER elements.
#[derive(Debug, Clone, Copy)]
pub struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    /// Reads `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element's tag, without reading it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: its tag, its content, and the whole element (tag
    /// and length included).
    pub fn any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), DerError> {
        let whole = self.rest;
        let (&t, rest) = whole.split_first().ok_or(DerError)?;
        if t & 0x1f == 0x1f {
            return Err(DerError); // multi-byte tags appear in nothing read here
        }
        let (&first, rest) = rest.split_first().ok_or(DerError)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(DerError); // indefinite or absurd lengths
            }
            let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(DerError);
        }
        let header = whole.len() - rest.len();
        self.rest = &rest[len..];
        Ok((t, &rest[..len], &whole[..header + len]))
    }

    /// The next element, which must have tag `t`: its content.
    pub fn expect(&mut self, t: u8) -> Result<&'a [u8], DerError> {
        match self.any()? {
            (got, content, _) if got == t => Ok(content),
            _ => Err(DerError),
        }
    }

    /// The next element if it has tag `t` (else nothing is read).
    pub fn optional(&mut self, t: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(t) {
            self.expect(t).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A SEQUENCE's content, as a cursor.
    pub fn sequence(&mut self) -> Result<Der<'a>, DerError> {
        self.expect(tag::SEQUENCE).map(Der::new)
    }
}

/// An INTEGER's magnitude: its content without the sign-padding zero bytes.
pub fn unsigned(content: &[u8]) -> &[u8] {
    let skip = content.iter().take_while(|&&b| b == 0).count();
    &content[skip.min(content.len().saturating_sub(1))..]
}

/// A BIT STRING's bits (its first content byte counts unused bits, which
/// the keys and signatures read here never have).
pub fn bits(content: &[u8]) -> Result<&[u8], DerError> {
    match content.split_first() {
        Some((0, rest)) => Ok(rest),
        _ => Err(DerError),
    }
}

/// An OBJECT IDENTIFIER's dotted form (`1.2.840.113549.1.1.11`).
pub fn oid_text(content: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in content {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (value / 40).min(2);
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
        if value > u64::MAX >> 8 {
            break;
        }
    }
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths_and_refuses_what_overruns() {
        let mut d = Der::new(&[0x02, 0x01, 0x05, 0x04, 0x81, 0x02, 0xaa, 0xbb]);
        assert_eq!(d.expect(tag::INTEGER), Ok(&[5u8][..]));
        assert_eq!(d.expect(tag::OCTET_STRING), Ok(&[0xaa, 0xbb][..]));
        assert!(d.is_empty());
        assert_eq!(Der::new(&[0x30, 0x05, 0x00]).any(), Err(DerError));
        assert_eq!(Der::new(&[0x30, 0x80]).any(), Err(DerError));
        assert_eq!(Der::new(&[0x30]).any(), Err(DerError));
        assert_eq!(Der::new(&[0x02, 0x01, 0x05]).expect(tag::SEQUENCE), Err(DerError));
    }

    #[test]
    fn oids_and_integers_read_as_written() {
        let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
        assert_eq!(oid_text(&sha256_rsa), "1.2.840.113549.1.1.11");
        assert_eq!(oid_text(&[0x55, 0x1d, 0x11]), "2.5.29.17");
        assert_eq!(unsigned(&[0x00, 0x80, 0x01]), &[0x80, 0x01]);
        assert_eq!(unsigned(&[0x00]), &[0x00]);
        assert_eq!(bits(&[0x00, 0x04, 0x01]), Ok(&[0x04, 0x01][..]));
        assert_eq!(bits(&[0x03, 0x04]), Err(DerError));
    }
}
