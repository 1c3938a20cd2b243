//! TLS for HTTPS listeners: the listener's certificates and security policy
//! as a rustls server configuration, and the certificate chosen for each
//! connection as an ALB chooses it.
//!
//! Selection (ALB's SNI rules): a client that names a host gets a
//! certificate for that host (`*.example.com` covers one label) among those
//! whose key it can use; of several, an elliptic curve key before RSA, then
//! the larger key, then the one that expires last. A client naming no host,
//! or one no certificate is for, gets the default certificate.
//!
//! A certificate or key that cannot be loaded is left out (and reported);
//! an HTTPS listener left with none still never answers in plain HTTP:
//! its handshakes fail.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::config::{ListenerTls, TlsCertificate};

/// One loaded certificate and how it ranks.
#[derive(Debug)]
struct Loaded {
    names: Vec<String>,
    rank: (bool, u32, i64),
    key: Arc<CertifiedKey>,
}

/// Chooses a connection's certificate.
#[derive(Debug)]
struct Resolver {
    default: Option<Arc<CertifiedKey>>,
    others: Vec<Loaded>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let schemes = hello.signature_schemes();
        if let Some(host) = hello.server_name() {
            let best = self
                .others
                .iter()
                .filter(|c| c.names.iter().any(|n| name_matches(n, host)))
                .filter(|c| c.key.key.choose_scheme(schemes).is_some())
                .max_by_key(|c| c.rank);
            if let Some(c) = best {
                return Some(c.key.clone());
            }
        }
        self.default.clone()
    }
}

/// Whether `host` matches a certificate name (`*.example.com` standing for
/// one label), ignoring case.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(suffix)),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

fn load(provider: &CryptoProvider, c: &TlsCertificate) -> Result<Arc<CertifiedKey>, String> {
    let chain = CertificateDer::pem_slice_iter(c.chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate {}: {e}", c.arn))?;
    if chain.is_empty() {
        return Err(format!("certificate {}: no PEM certificate", c.arn));
    }
    let key = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes())
        .map_err(|e| format!("certificate {}: its key: {e}", c.arn))?;
    let key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("certificate {}: its key cannot sign here: {e}", c.arn))?;
    Ok(Arc::new(CertifiedKey::new(chain, key)))
}

/// The cipher suites an ALB policy offers that rustls has: TLS 1.3's three,
/// and ECDHE with AES-GCM for TLS 1.2 (ALB policies offer no ChaCha20 for
/// TLS 1.2).
fn provider() -> CryptoProvider {
    use rustls::crypto::ring::cipher_suite as cs;
    #[allow(deprecated)]
    let base = rustls::crypto::ring::default_provider();
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        ..base
    }
}

/// The server configuration of an HTTPS listener, and what could not be
/// loaded (a listener whose certificates all failed gets a configuration
/// whose handshakes fail). `Err` only if the TLS versions cannot be had.
pub fn server_config(tls: &ListenerTls) -> Result<(Arc<ServerConfig>, Vec<String>), String> {
    let provider = provider();
    let mut problems = Vec::new();
    let mut default = None;
    let mut others = Vec::new();
    for (i, c) in tls.certificates.iter().enumerate() {
        match load(&provider, c) {
            Ok(key) => {
                if i == 0 {
                    default = Some(key.clone());
                }
                others.push(Loaded {
                    names: c.names.clone(),
                    rank: (c.ec, c.key_bits, c.not_after),
                    key,
                });
            }
            Err(e) => problems.push(e),
        }
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if tls.tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if tls.tls12 || versions.is_empty() {
        versions.push(&rustls::version::TLS12);
    }
    let resolver = Arc::new(Resolver { default, others });
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(name_matches("*.EXAMPLE.com", "a.example.com."));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("www.example.com", "WWW.example.com"));
    }
}
