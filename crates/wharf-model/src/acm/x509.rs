//! What ACM reads from an imported certificate and its private key: names,
//! validity, serial, algorithms, key usages, and whether the key is the
//! certificate's. X.509 v3 in DER (RFC 5280), private keys in PKCS#8,
//! PKCS#1 (RSA) or SEC1 (EC).

use super::der::{self, tag, Der, DerError};

/// The public key algorithms ACM imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with a modulus of this many bits.
    Rsa(usize),
    /// ECDSA on P-256.
    P256,
    /// ECDSA on P-384.
    P384,
    /// ECDSA on P-521.
    P521,
}

impl KeyKind {
    /// ACM's name for the key algorithm, as DescribeCertificate writes it
    /// (`RSA-2048`, `EC-prime256v1`; the filters of ListCertificates use
    /// underscores, see [`KeyKind::filter_name`]).
    pub fn describe_name(self) -> String {
        match self {
            Self::Rsa(bits) => format!("RSA-{bits}"),
            Self::P256 => "EC-prime256v1".into(),
            Self::P384 => "EC-secp384r1".into(),
            Self::P521 => "EC-secp521r1".into(),
        }
    }

    /// The `KeyAlgorithm` value ListCertificates filters by (`RSA_2048`).
    pub fn filter_name(self) -> String {
        self.describe_name().replace('-', "_")
    }

    /// Whether ACM imports keys of this kind: RSA 1024, 2048, 3072 or 4096
    /// bits, or one of the three NIST curves.
    pub fn importable(self) -> bool {
        !matches!(self, Self::Rsa(bits) if ![1024, 2048, 3072, 4096].contains(&bits))
    }

    /// Whether this is an elliptic curve key.
    pub fn is_ec(self) -> bool {
        !matches!(self, Self::Rsa(_))
    }
}

/// A public key, comparable whatever file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: modulus and exponent, without leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// EC: the curve and the encoded point.
    Ec {
        /// Which curve.
        curve: KeyKind,
        /// The point as SEC1 encodes it.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// The key's algorithm and size.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Rsa { n, .. } => {
                let lead = n.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
                KeyKind::Rsa((n.len().saturating_sub(1)) * 8 + lead)
            }
            Self::Ec { curve, .. } => *curve,
        }
    }
}

/// What an X.509 certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The serial number, as ACM shows it (`0a:1b:...`).
    pub serial: String,
    /// The issuer's distinguished name (`CN=Example CA,O=Example`).
    pub issuer: String,
    /// The issuer name's DER, to match it with a chain certificate's subject.
    pub issuer_der: Vec<u8>,
    /// The subject's distinguished name.
    pub subject: String,
    /// The subject name's DER.
    pub subject_der: Vec<u8>,
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// `notBefore`, Unix seconds.
    pub not_before: i64,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
    /// The DNS names of the subject alternative name extension.
    pub dns_names: Vec<String>,
    /// The public key.
    pub public_key: PublicKey,
    /// ACM's name for the signature algorithm (`SHA256WITHRSA`).
    pub signature_algorithm: String,
    /// The key usage extension's names (ACM's `KeyUsageName`s).
    pub key_usages: Vec<&'static str>,
    /// The extended key usages: ACM's name and the OID.
    pub extended_key_usages: Vec<(&'static str, String)>,
    /// X.509 version (1 to 3).
    pub version: u8,
}

impl Certificate {
    /// The names the certificate is for: its DNS names, else its common name.
    pub fn names(&self) -> Vec<String> {
        if !self.dns_names.is_empty() {
            return self.dns_names.clone();
        }
        self.common_name.iter().cloned().collect()
    }

    /// ACM's `DomainName`: the common name, else the first DNS name.
    pub fn domain_name(&self) -> Option<String> {
        self.common_name.clone().or_else(|| self.dns_names.first().cloned())
    }
}

const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

/// Reads a DER certificate.
pub fn certificate(data: &[u8]) -> Result<Certificate, DerError> {
    let mut outer = Der::new(data);
    let mut cert = outer.sequence()?;
    if !outer.is_empty() {
        return Err(DerError);
    }
    let mut tbs = cert.sequence()?;
    let sig_alg = algorithm(&mut cert)?;
    der::bits(cert.expect(tag::BIT_STRING)?)?;
    let version = match tbs.optional(0xa0)? {
        Some(v) => {
            let v = Der::new(v).expect(tag::INTEGER)?;
            match v {
                [n @ 0..=2] => n + 1,
                _ => return Err(DerError),
            }
        }
        None => 1,
    };
    let serial = tbs.expect(tag::INTEGER)?;
    algorithm(&mut tbs)?;
    let (_, _, issuer_der) = tbs.any()?;
    let mut validity = tbs.sequence()?;
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    let (_, _, subject_der) = tbs.any()?;
    let public_key = spki(tbs.expect(tag::SEQUENCE)?)?;
    let mut out = Certificate {
        serial: der::unsigned(serial)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        issuer: name(issuer_der)?.0,
        issuer_der: issuer_der.to_vec(),
        subject: String::new(),
        subject_der: subject_der.to_vec(),
        common_name: None,
        not_before,
        not_after,
        dns_names: Vec::new(),
        public_key,
        signature_algorithm: signature_name(sig_alg),
        key_usages: Vec::new(),
        extended_key_usages: Vec::new(),
        version,
    };
    (out.subject, out.common_name) = name(subject_der)?;
    while let Some(t) = tbs.peek_tag() {
        let (_, content, _) = tbs.any()?;
        if t == 0xa3 {
            extensions(content, &mut out)?;
        }
    }
    Ok(out)
}

/// An AlgorithmIdentifier's OID.
fn algorithm<'a>(d: &mut Der<'a>) -> Result<&'a [u8], DerError> {
    let mut a = d.sequence()?;
    a.expect(tag::OID)
}

fn signature_name(oid: &[u8]) -> String {
    const PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let known = match oid {
        [p @ .., 0x04] if p == PKCS1 => "MD5WITHRSA",
        [p @ .., 0x05] if p == PKCS1 => "SHA1WITHRSA",
        [p @ .., 0x0a] if p == PKCS1 => "SHA256WITHRSAANDMGF1",
        [p @ .., 0x0b] if p == PKCS1 => "SHA256WITHRSA",
        [p @ .., 0x0c] if p == PKCS1 => "SHA384WITHRSA",
        [p @ .., 0x0d] if p == PKCS1 => "SHA512WITHRSA",
        [p @ .., 0x01] if p == ECDSA => "SHA1WITHECDSA",
        [p @ .., 0x03, 0x02] if p == ECDSA => "SHA256WITHECDSA",
        [p @ .., 0x03, 0x03] if p == ECDSA => "SHA384WITHECDSA",
        [p @ .., 0x03, 0x04] if p == ECDSA => "SHA512WITHECDSA",
        _ => return der::oid_text(oid),
    };
    known.to_owned()
}

/// A Time (UTCTime or GeneralizedTime, in UTC) as Unix seconds.
fn time(d: &mut Der<'_>) -> Result<i64, DerError> {
    let (t, content, _) = d.any()?;
    let text = std::str::from_utf8(content).map_err(|_| DerError)?;
    let digits = text.strip_suffix('Z').ok_or(DerError)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DerError);
    }
    let n = |r: std::ops::Range<usize>| -> Result<i64, DerError> {
        digits.get(r).and_then(|s| s.parse().ok()).ok_or(DerError)
    };
    let (year, rest) = match (t, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy = n(0..2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (tag::GENERALIZED_TIME, 14) => (n(0..4)?, 4),
        _ => return Err(DerError),
    };
    let (mo, day) = (n(rest..rest + 2)?, n(rest + 2..rest + 4)?);
    let (h, mi, s) = (n(rest + 4..rest + 6)?, n(rest + 6..rest + 8)?, n(rest + 8..rest + 10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return Err(DerError);
    }
    Ok(days_from_civil(year, mo, day) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A Name as ACM writes it (`C=US,O=Example,CN=example.com`), and its CN.
fn name(element: &[u8]) -> Result<(String, Option<String>), DerError> {
    let mut outer = Der::new(element);
    let mut rdns = outer.sequence()?;
    let mut parts = Vec::new();
    let mut cn = None;
    while !rdns.is_empty() {
        let mut set = Der::new(rdns.expect(tag::SET)?);
        while !set.is_empty() {
            let mut atv = set.sequence()?;
            let oid = atv.expect(tag::OID)?;
            let (_, value, _) = atv.any()?;
            let value = String::from_utf8_lossy(value).into_owned();
            let short = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x06] => "C",
                [0x55, 0x04, 0x07] => "L",
                [0x55, 0x04, 0x08] => "ST",
                [0x55, 0x04, 0x09] => "STREET",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                [0x55, 0x04, 0x05] => "SERIALNUMBER",
                [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "EMAILADDRESS",
                [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
                _ => "",
            };
            if short == "CN" && cn.is_none() {
                cn = Some(value.clone());
            }
            let key = if short.is_empty() { der::oid_text(oid) } else { short.to_owned() };
            parts.push(format!("{key}={value}"));
        }
    }
    Ok((parts.join(","), cn))
}

/// A SubjectPublicKeyInfo's content.
fn spki(content: &[u8]) -> Result<PublicKey, DerError> {
    let mut d = Der::new(content);
    let mut alg = d.sequence()?;
    let oid = alg.expect(tag::OID)?;
    let key = der::bits(d.expect(tag::BIT_STRING)?)?;
    match oid {
        RSA => rsa_public(key),
        EC => {
            let curve = curve(alg.expect(tag::OID)?)?;
            Ok(PublicKey::Ec { curve, point: key.to_vec() })
        }
        _ => Err(DerError),
    }
}

fn curve(oid: &[u8]) -> Result<KeyKind, DerError> {
    match oid {
        P256 => Ok(KeyKind::P256),
        P384 => Ok(KeyKind::P384),
        P521 => Ok(KeyKind::P521),
        _ => Err(DerError),
    }
}

/// An RSAPublicKey (`SEQUENCE { n, e }`).
fn rsa_public(data: &[u8]) -> Result<PublicKey, DerError> {
    let mut d = Der::new(data);
    let mut seq = d.sequence()?;
    let n = der::unsigned(seq.expect(tag::INTEGER)?).to_vec();
    let e = der::unsigned(seq.expect(tag::INTEGER)?).to_vec();
    Ok(PublicKey::Rsa { n, e })
}

fn extensions(content: &[u8], out: &mut Certificate) -> Result<(), DerError> {
    let mut list = Der::new(content).sequence()?;
    while !list.is_empty() {
        let mut ext = list.sequence()?;
        let oid = ext.expect(tag::OID)?;
        ext.optional(tag::BOOLEAN)?;
        let value = ext.expect(tag::OCTET_STRING)?;
        match oid {
            [0x55, 0x1d, 0x11] => {
                let mut names = Der::new(value).sequence()?;
                while !names.is_empty() {
                    let (t, name, _) = names.any()?;
                    if t == 0x82 {
                        out.dns_names.push(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            [0x55, 0x1d, 0x0f] => {
                let bits = Der::new(value).expect(tag::BIT_STRING)?;
                let bytes = bits.get(1..).unwrap_or_default();
                const NAMES: [&str; 9] = [
                    "DIGITAL_SIGNATURE",
                    "NON_REPUDIATION",
                    "KEY_ENCIPHERMENT",
                    "DATA_ENCIPHERMENT",
                    "KEY_AGREEMENT",
                    "CERTIFICATE_SIGNING",
                    "CRL_SIGNING",
                    "ENCIPHER_ONLY",
                    "DECIPHER_ONLY",
                ];
                for (i, n) in NAMES.iter().enumerate() {
                    if bytes.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0) {
                        out.key_usages.push(n);
                    }
                }
            }
            [0x55, 0x1d, 0x25] => {
                let mut usages = Der::new(value).sequence()?;
                while !usages.is_empty() {
                    let oid = usages.expect(tag::OID)?;
                    let name = match oid {
                        [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, n] => match n {
                            1 => "TLS_WEB_SERVER_AUTHENTICATION",
                            2 => "TLS_WEB_CLIENT_AUTHENTICATION",
                            3 => "CODE_SIGNING",
                            4 => "EMAIL_PROTECTION",
                            5 => "IPSEC_END_SYSTEM",
                            6 => "IPSEC_TUNNEL",
                            7 => "IPSEC_USER",
                            8 => "TIME_STAMPING",
                            9 => "OCSP_SIGNING",
                            _ => "CUSTOM",
                        },
                        [0x55, 0x1d, 0x25, 0x00] => "ANY",
                        _ => "CUSTOM",
                    };
                    out.extended_key_usages.push((name, der::oid_text(oid)));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A private key file's kind of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `PRIVATE KEY`.
    Pkcs8,
    /// `RSA PRIVATE KEY`.
    Pkcs1,
    /// `EC PRIVATE KEY`.
    Sec1,
}

/// The public half of a private key, where the key holds it: always for
/// RSA, for EC when the key carries its public point (OpenSSL and every
/// common tool write it). `Ok(None)` for an EC key without it.
pub fn private_key_public(format: KeyFormat, data: &[u8]) -> Result<Option<PublicKey>, DerError> {
    match format {
        KeyFormat::Pkcs1 => rsa_private(data).map(Some),
        KeyFormat::Sec1 => ec_private(data, None),
        KeyFormat::Pkcs8 => {
            let mut outer = Der::new(data);
            let mut seq = outer.sequence()?;
            seq.expect(tag::INTEGER)?;
            let mut alg = seq.sequence()?;
            let oid = alg.expect(tag::OID)?;
            let inner = seq.expect(tag::OCTET_STRING)?;
            match oid {
                RSA => rsa_private(inner).map(Some),
                EC => {
                    let curve = curve(alg.expect(tag::OID)?)?;
                    ec_private(inner, Some(curve))
                }
                _ => Err(DerError),
            }
        }
    }
}

/// An RSAPrivateKey's public part.
fn rsa_private(data: &[u8]) -> Result<PublicKey, DerError> {
    let mut outer = Der::new(data);
    let mut seq = outer.sequence()?;
    seq.expect(tag::INTEGER)?;
    let n = der::unsigned(seq.expect(tag::INTEGER)?).to_vec();
    let e = der::unsigned(seq.expect(tag::INTEGER)?).to_vec();
    Ok(PublicKey::Rsa { n, e })
}

/// An ECPrivateKey's public point (SEC1: `[0]` curve, `[1]` point).
fn ec_private(
    data: &[u8],
    curve_from_pkcs8: Option<KeyKind>,
) -> Result<Option<PublicKey>, DerError> {
    let mut outer = Der::new(data);
    let mut seq = outer.sequence()?;
    seq.expect(tag::INTEGER)?;
    seq.expect(tag::OCTET_STRING)?;
    let mut curve_here = None;
    let mut point = None;
    while let Some(t) = seq.peek_tag() {
        let (_, content, _) = seq.any()?;
        match t {
            0xa0 => curve_here = Some(curve(Der::new(content).expect(tag::OID)?)?),
            0xa1 => point = Some(der::bits(Der::new(content).expect(tag::BIT_STRING)?)?.to_vec()),
            _ => {}
        }
    }
    let curve = curve_here.or(curve_from_pkcs8).ok_or(DerError)?;
    Ok(point.map(|point| PublicKey::Ec { curve, point }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        let utc = [
            0x17, 0x0d, b'2', b'6', b'0', b'1', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0',
            b'Z',
        ];
        assert_eq!(time(&mut Der::new(&utc)), Ok(1_767_225_600));
        let gen = [
            0x18, 0x0f, b'2', b'0', b'5', b'0', b'0', b'1', b'0', b'1', b'0', b'0', b'0', b'0',
            b'0', b'0', b'Z',
        ];
        assert_eq!(time(&mut Der::new(&gen)), Ok(2_524_608_000));
        let bad = [0x17, 0x03, b'2', b'6', b'Z'];
        assert_eq!(time(&mut Der::new(&bad)), Err(DerError));
    }

    #[test]
    fn key_sizes_and_names_are_acm_s() {
        let key = PublicKey::Rsa { n: vec![0xc0; 256], e: vec![1, 0, 1] };
        assert_eq!(key.kind(), KeyKind::Rsa(2048));
        assert_eq!(key.kind().describe_name(), "RSA-2048");
        assert_eq!(key.kind().filter_name(), "RSA_2048");
        assert!(KeyKind::Rsa(2048).importable());
        assert!(!KeyKind::Rsa(2047).importable());
        assert_eq!(KeyKind::P256.describe_name(), "EC-prime256v1");
    }
}
