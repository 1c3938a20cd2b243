//! AWS Secrets Manager on AWS JSON 1.1 (`X-Amz-Target:
//! secretsmanager.<Operation>`): one handler per operation.
//!
//! A secret is one store document ([`wharf_model::secretsmanager::SecretRecord`])
//! keyed by its name, holding its metadata, tags and versions, so every write
//! is one transaction. A secret is found by name, by complete ARN (with the
//! 6-character suffix) or by partial ARN (without it).
//!
//! A secret scheduled for deletion keeps its document with `DeletedDate` set
//! to the moment it is due to go; reads answer `InvalidRequestException` until
//! then, and after it the secret counts as gone (its name may be reused). No
//! background job purges it: the next write to the name replaces it.
//! `LastAccessedDate` is not recorded, so reads never write.

mod secrets;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

pub(crate) use secrets::{find, select_version};

/// Runs one Secrets Manager operation on a request body; the answer body or
/// the error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "CreateSecret" => secrets::create_secret,
        "GetSecretValue" => secrets::get_secret_value,
        "PutSecretValue" => secrets::put_secret_value,
        "UpdateSecret" => secrets::update_secret,
        "DescribeSecret" => secrets::describe_secret,
        "ListSecrets" => secrets::list_secrets,
        "ListSecretVersionIds" => secrets::list_secret_version_ids,
        "DeleteSecret" => secrets::delete_secret,
        "RestoreSecret" => secrets::restore_secret,
        "TagResource" => secrets::tag_resource,
        "UntagResource" => secrets::untag_resource,
    })
}
