//! AWS Certificate Manager on AWS JSON 1.1 (`X-Amz-Target:
//! CertificateManager.<Operation>`), the subset an HTTPS listener needs:
//! ImportCertificate (and re-import), DescribeCertificate, GetCertificate,
//! ListCertificates, DeleteCertificate and the certificate's tags.
//!
//! A certificate is one store document keyed by its id
//! ([`wharf_model::acm::CertificateRecord`]), private key included; no
//! operation answers the key. What uses a certificate (`InUseBy`, and
//! DeleteCertificate's `ResourceInUseException`) is read from the region's
//! ELBv2 listeners when asked, so it is never out of step with them.

mod certificates;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

pub(crate) use certificates::exists;

/// Runs one ACM operation on a request body; the answer body or the error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "ImportCertificate" => certificates::import_certificate,
        "DescribeCertificate" => certificates::describe_certificate,
        "GetCertificate" => certificates::get_certificate,
        "ListCertificates" => certificates::list_certificates,
        "DeleteCertificate" => certificates::delete_certificate,
        "AddTagsToCertificate" => certificates::add_tags,
        "RemoveTagsFromCertificate" => certificates::remove_tags,
        "ListTagsForCertificate" => certificates::list_tags,
    })
}
