//! AWS Certificate Manager, the subset an HTTPS listener needs: imported
//! certificates (ImportCertificate), read back (DescribeCertificate,
//! GetCertificate, ListCertificates), tagged and deleted. The wire shapes,
//! the stored record, and the rules ACM applies to what is imported.
//!
//! ACM's own checks on an import, each refusal a `ValidationException`
//! naming what is wrong: the certificate field holds exactly one PEM X.509
//! certificate; the key is PEM, not encrypted, RSA (1024, 2048, 3072 or
//! 4096 bits) or ECDSA (P-256, P-384, P-521), and is the certificate's;
//! the chain, if any, is PEM certificates, the first of which issued the
//! certificate.

pub mod der;
pub mod error;
pub mod pem;
pub mod shapes;
pub mod x509;

use serde::{Deserialize, Serialize};

pub use error::{AcmError, AcmErrorKind};
use shapes::{
    CertificateDetail, CertificateStatus, CertificateType, ExtendedKeyUsage, ExtendedKeyUsageName,
    KeyAlgorithm, KeyUsage, KeyUsageName, RenewalEligibility, Tag,
};
use x509::{Certificate, KeyFormat};

use crate::Timestamp;

/// The longest `Certificate` (bytes of PEM).
pub const MAX_CERTIFICATE_LEN: usize = 32_768;
/// The longest `PrivateKey`.
pub const MAX_PRIVATE_KEY_LEN: usize = 5_120;
/// The longest `CertificateChain`.
pub const MAX_CHAIN_LEN: usize = 2_097_152;
/// The most tags a certificate carries.
pub const MAX_TAGS: usize = 50;
/// The most certificates ListCertificates returns in one page.
pub const MAX_ITEMS: i32 = 1000;

/// What the store keeps for one certificate (keyed by its id, the last
/// part of its ARN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRecord {
    /// DescribeCertificate's answer but for what is worked out when read
    /// (`Status`, `InUseBy`).
    pub detail: CertificateDetail,
    /// The certificate, PEM.
    pub certificate: String,
    /// The chain, PEM, if one was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The private key, PEM. Never answered by any operation.
    pub private_key: String,
    /// The host names the certificate serves (its DNS names, else its CN).
    pub names: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl CertificateRecord {
    /// The status at `now`: `EXPIRED` past `NotAfter`, else `ISSUED`.
    pub fn status(&self, now: Timestamp) -> CertificateStatus {
        match &self.detail.not_after {
            Some(after) if now.0 > after.0 => CertificateStatus::Expired,
            _ => CertificateStatus::Issued,
        }
    }
}

impl std::fmt::Debug for ImportedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedCertificate")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

/// An import that passed ACM's checks.
pub struct ImportedCertificate {
    /// What the certificate says.
    pub certificate: Certificate,
    /// The certificate, PEM (as given).
    pub certificate_pem: String,
    /// The chain, PEM.
    pub chain_pem: Option<String>,
    /// The key, PEM.
    pub private_key_pem: String,
}

impl ImportedCertificate {
    /// The record of this import under `arn`, at `now`; `created` keeps a
    /// re-imported certificate's first import time.
    pub fn record(&self, arn: &str, now: Timestamp, tags: Vec<Tag>) -> CertificateRecord {
        let c = &self.certificate;
        let secs = |s: i64| Timestamp(s as f64);
        let detail = CertificateDetail {
            certificate_arn: Some(arn.to_owned()),
            domain_name: c.domain_name(),
            subject_alternative_names: Some(if c.dns_names.is_empty() {
                c.common_name.iter().cloned().collect()
            } else {
                c.dns_names.clone()
            }),
            serial: Some(c.serial.clone()),
            subject: Some(c.subject.clone()),
            issuer: Some(c.issuer.clone()),
            imported_at: Some(now),
            not_before: Some(secs(c.not_before)),
            not_after: Some(secs(c.not_after)),
            // ACM writes `RSA-2048` here though its model lists `RSA_2048`.
            key_algorithm: Some(KeyAlgorithm::from(c.public_key.kind().describe_name().as_str())),
            signature_algorithm: Some(c.signature_algorithm.clone()),
            r#type: Some(CertificateType::Imported),
            key_usages: Some(
                c.key_usages
                    .iter()
                    .map(|n| KeyUsage { name: Some(KeyUsageName::from(*n)) })
                    .collect(),
            ),
            extended_key_usages: Some(
                c.extended_key_usages
                    .iter()
                    .map(|(n, oid)| ExtendedKeyUsage {
                        name: Some(ExtendedKeyUsageName::from(*n)),
                        oid: Some(oid.clone()),
                    })
                    .collect(),
            ),
            renewal_eligibility: Some(RenewalEligibility::Ineligible),
            ..Default::default()
        };
        CertificateRecord {
            detail,
            certificate: self.certificate_pem.clone(),
            chain: self.chain_pem.clone(),
            private_key: self.private_key_pem.clone(),
            names: c.names(),
            tags,
        }
    }
}

/// ACM's checks on ImportCertificate's certificate, key and chain (PEM
/// text, already decoded from the request's blobs), at `now`.
pub fn import(
    certificate: &[u8],
    private_key: &[u8],
    chain: Option<&[u8]>,
    now: Timestamp,
) -> Result<ImportedCertificate, AcmError> {
    let text = |bytes: &[u8], what: &str| {
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| AcmError::validation(format!("The {what} is not PEM text.")))
    };
    let certificate_pem = text(certificate, "certificate")?;
    let private_key_pem = text(private_key, "private key")?;
    let blocks = pem::blocks(&certificate_pem)
        .ok()
        .filter(|b| !b.is_empty() && b.iter().all(|b| b.label == "CERTIFICATE"))
        .ok_or_else(|| {
            AcmError::validation(
                "Unable to parse certificate. Please ensure the certificate is in PEM format.",
            )
        })?;
    if blocks.len() > 1 {
        return Err(AcmError::validation(
            "The certificate field contains more than one certificate. You can specify only one \
             certificate in this field.",
        ));
    }
    let cert = x509::certificate(&blocks[0].der).map_err(|_| {
        AcmError::validation(
            "Unable to parse certificate. Please ensure the certificate is in PEM format.",
        )
    })?;
    if cert.version != 3 {
        return Err(AcmError::validation(format!(
            "The certificate is X.509 version {}; ACM imports X.509 version 3 certificates only.",
            cert.version
        )));
    }
    if cert.issuer.is_empty() {
        return Err(AcmError::validation("The certificate's Issuer field is empty."));
    }
    let now_secs = now.0.floor() as i64;
    if now_secs < cert.not_before || now_secs > cert.not_after {
        return Err(AcmError::validation(
            "The certificate is not valid at the current date and time: the current time must be \
             between its Not Before and Not After fields.",
        ));
    }
    let kind = cert.public_key.kind();
    if !kind.importable() {
        return Err(AcmError::validation(format!(
            "The certificate's key algorithm {} is not supported. ACM imports RSA keys of 1024, \
             2048, 3072 or 4096 bits and ECDSA keys on P-256, P-384 or P-521.",
            kind.describe_name()
        )));
    }
    let keys = pem::blocks(&private_key_pem).unwrap_or_default();
    let key =
        match keys.as_slice() {
            [one] => one,
            _ => return Err(AcmError::validation(
                "Unable to parse the private key. Please ensure the private key is in PEM format.",
            )),
        };
    let format =
        match key.label.as_str() {
            "PRIVATE KEY" => KeyFormat::Pkcs8,
            "RSA PRIVATE KEY" => KeyFormat::Pkcs1,
            "EC PRIVATE KEY" => KeyFormat::Sec1,
            "ENCRYPTED PRIVATE KEY" => return Err(encrypted()),
            _ => return Err(AcmError::validation(
                "Unable to parse the private key. Please ensure the private key is in PEM format.",
            )),
        };
    if key.has_headers {
        return Err(encrypted());
    }
    let public = x509::private_key_public(format, &key.der)
        .map_err(|_| AcmError::validation("The private key is not supported."))?
        .ok_or_else(|| {
            AcmError::validation(
                "The private key does not hold its public key, so it cannot be matched with the \
                 certificate. Export it with its public key (OpenSSL does by default).",
            )
        })?;
    if public != cert.public_key {
        return Err(AcmError::validation(
            "The private key does not match the certificate's public key.",
        ));
    }
    let chain_pem = match chain {
        None => None,
        Some(bytes) => {
            let chain_pem = text(bytes, "certificate chain")?;
            let unreadable = || {
                AcmError::validation(
                    "Unable to parse the certificate chain. Please ensure it is in PEM format.",
                )
            };
            let blocks = pem::blocks(&chain_pem).map_err(|_| unreadable())?;
            if blocks.is_empty() || blocks.iter().any(|b| b.label != "CERTIFICATE") {
                return Err(unreadable());
            }
            let first = x509::certificate(&blocks[0].der).map_err(|_| unreadable())?;
            if first.subject_der != cert.issuer_der {
                return Err(AcmError::validation(
                    "Could not validate the certificate with the certificate chain.",
                ));
            }
            Some(chain_pem)
        }
    };
    Ok(ImportedCertificate { certificate: cert, certificate_pem, chain_pem, private_key_pem })
}

fn encrypted() -> AcmError {
    AcmError::validation("The private key is encrypted. ACM imports unencrypted private keys only.")
}

/// A certificate ARN's parts: region, account and id.
pub fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:acm:")?;
    let mut parts = rest.splitn(3, ':');
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let id = resource.strip_prefix("certificate/")?;
    let id_ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    (!region.is_empty() && account.len() == 12 && id_ok).then_some((region, account, id))
}

/// The ARN of certificate `id`.
pub fn arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:acm:{region}:{account}:certificate/{id}")
}

/// Whether `name` matches a certificate name, `*.example.com` standing for
/// exactly one label, case-insensitively (as TLS clients and an ALB's SNI
/// selection match them).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    let name = name.strip_suffix('.').unwrap_or(&name);
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            name.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
        }
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_and_build() {
        let a = arn("eu-west-1", "123456789012", "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab");
        assert_eq!(
            parse_arn(&a),
            Some(("eu-west-1", "123456789012", "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab"))
        );
        assert_eq!(parse_arn("arn:aws:acm:eu-west-1:1234:certificate/ab"), None);
        assert_eq!(parse_arn("arn:aws:acm:eu-west-1:123456789012:cert/ab"), None);
        assert_eq!(parse_arn("not an arn"), None);
    }

    #[test]
    fn wildcards_stand_for_one_label() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(name_matches("*.example.com", "A.Example.COM."));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("example.com", "EXAMPLE.com"));
        assert!(!name_matches("example.com", "www.example.com"));
    }
}
