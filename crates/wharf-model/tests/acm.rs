//! ACM's import rules on real certificates and keys made by OpenSSL
//! (tests/acm/): what DescribeCertificate shows, and each refusal.

use wharf_model::acm::shapes::KeyAlgorithm;
use wharf_model::acm::x509::KeyKind;
use wharf_model::acm::{import, AcmErrorKind};
use wharf_model::Timestamp;

const RSA: &str = include_str!("acm/rsa.pem");
const RSA_KEY: &str = include_str!("acm/rsa.key");
const RSA_PKCS1: &str = include_str!("acm/rsa-pkcs1.key");
const RSA_ENCRYPTED: &str = include_str!("acm/rsa-encrypted.key");
const EC: &str = include_str!("acm/ec.pem");
const EC_KEY: &str = include_str!("acm/ec.key");
const EC_SEC1: &str = include_str!("acm/ec-sec1.key");
const CA: &str = include_str!("acm/ca.pem");

/// 2027-01-01, inside every test certificate's validity (made 2026-12-06, ten years).
const NOW: Timestamp = Timestamp(1_798_761_600.0);

fn refused(cert: &str, key: &str, chain: Option<&str>) -> String {
    let e = import(cert.as_bytes(), key.as_bytes(), chain.map(str::as_bytes), NOW).unwrap_err();
    assert_eq!(e.kind, AcmErrorKind::ValidationException, "{e}");
    e.message
}

#[test]
fn an_rsa_certificate_reads_as_acm_describes_it() {
    for key in [RSA_KEY, RSA_PKCS1] {
        let imported = import(RSA.as_bytes(), key.as_bytes(), None, NOW).expect("imports");
        let c = &imported.certificate;
        assert_eq!(c.public_key.kind(), KeyKind::Rsa(2048));
        assert_eq!(c.subject, "C=US,O=Wharf Test,CN=www.example.com");
        assert_eq!(c.issuer, c.subject);
        assert_eq!(c.dns_names, ["www.example.com", "*.example.com"]);
        assert_eq!(c.signature_algorithm, "SHA256WITHRSA");
        assert_eq!(c.key_usages, ["DIGITAL_SIGNATURE", "KEY_ENCIPHERMENT"]);
        assert_eq!(
            c.extended_key_usages,
            [("TLS_WEB_SERVER_AUTHENTICATION", "1.3.6.1.5.5.7.3.1".to_owned())]
        );
        assert!(c.serial.contains(':') && c.serial.len() == 20 * 3 - 1, "{}", c.serial);
        assert!(c.not_after - c.not_before > 3600 * 24 * 3000);
        let arn =
            "arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab";
        let record = imported.record(arn, Timestamp(1.0), vec![]);
        assert_eq!(record.detail.domain_name.as_deref(), Some("www.example.com"));
        assert_eq!(record.detail.key_algorithm, Some(KeyAlgorithm::from("RSA-2048")));
        assert_eq!(serde_json::to_value(&record.detail).unwrap()["KeyAlgorithm"], "RSA-2048");
        assert_eq!(record.names, ["www.example.com", "*.example.com"]);
    }
}

#[test]
fn an_ec_certificate_imports_with_its_chain() {
    for key in [EC_KEY, EC_SEC1] {
        let imported =
            import(EC.as_bytes(), key.as_bytes(), Some(CA.as_bytes()), NOW).expect("imports");
        let c = &imported.certificate;
        assert_eq!(c.public_key.kind(), KeyKind::P256);
        assert_eq!(c.common_name.as_deref(), Some("api.example.org"));
        assert_eq!(c.issuer, "CN=Wharf Test CA");
        assert_eq!(c.signature_algorithm, "SHA256WITHECDSA");
    }
}

#[test]
fn what_acm_refuses_is_refused_with_its_reason() {
    assert!(refused(RSA, EC_KEY, None).contains("does not match"));
    assert!(refused(EC, RSA_KEY, None).contains("does not match"));
    assert!(refused(RSA, RSA_ENCRYPTED, None).contains("encrypted"));
    assert!(refused(&format!("{RSA}{EC}"), RSA_KEY, None).contains("more than one certificate"));
    assert!(refused("hello", RSA_KEY, None).contains("PEM"));
    assert!(refused(RSA, "hello", None).contains("PEM"));
    assert!(refused(RSA_KEY, RSA_KEY, None).contains("PEM"));
    // The chain must have issued the certificate.
    assert!(refused(EC, EC_KEY, Some(RSA)).contains("Could not validate"));
    assert!(refused(EC, EC_KEY, Some("junk")).contains("chain"));
    // Outside its validity.
    for at in [Timestamp(1_700_000_000.0), Timestamp(2_200_000_000.0)] {
        let e = import(RSA.as_bytes(), RSA_KEY.as_bytes(), None, at).unwrap_err();
        assert!(e.message.contains("Not Before and Not After"), "{e}");
    }
    // A certificate whose bytes were damaged.
    let damaged = RSA.replacen("MII", "MIJ", 1);
    assert!(refused(&damaged, RSA_KEY, None).contains("Unable to parse"));
}
