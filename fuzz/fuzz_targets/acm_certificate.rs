//! ACM's ImportCertificate reader: PEM, X.509 DER, private keys (PKCS#8,
//! PKCS#1, SEC1) and the chain, as wharf_model::acm reads them; never a
//! panic. The input is the raw DER of a certificate read alone, and also
//! split at `\0` lines into certificate, key and chain PEM text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_model::acm::{import, x509};
use wharf_model::Timestamp;

fuzz_target!(|data: &[u8]| {
    let _ = x509::certificate(data);
    for format in [x509::KeyFormat::Pkcs8, x509::KeyFormat::Pkcs1, x509::KeyFormat::Sec1] {
        let _ = x509::private_key_public(format, data);
    }
    let mut parts = data.split(|&b| b == 0);
    let (cert, key, chain) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next());
    let _ = import(cert, key, chain, Timestamp(1_798_761_600.0));
});
