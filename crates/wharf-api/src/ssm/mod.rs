//! AWS Systems Manager Parameter Store on AWS JSON 1.1 (`X-Amz-Target:
//! AmazonSSM.<Operation>`): one handler per operation.
//!
//! A parameter is one store document ([`wharf_model::ssm::ParameterRecord`])
//! keyed by its name as given, holding its last 100 versions and its tags, so
//! every write is one transaction.
//!
//! SecureString values are kept as given (Wharf has no KMS). Read without
//! `WithDecryption`, a SecureString's `Value` is an opaque base64 token that
//! stands in for SSM's KMS ciphertext and never contains the plaintext (see
//! [`wharf_model::ssm::opaque_ciphertext`]).

mod parameters;
mod tags;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

pub(crate) use parameters::lookup;

/// Runs one SSM operation on a request body; the answer body or the error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "PutParameter" => parameters::put_parameter,
        "GetParameter" => parameters::get_parameter,
        "GetParameters" => parameters::get_parameters,
        "GetParametersByPath" => parameters::get_parameters_by_path,
        "GetParameterHistory" => parameters::get_parameter_history,
        "DescribeParameters" => parameters::describe_parameters,
        "DeleteParameter" => parameters::delete_parameter,
        "DeleteParameters" => parameters::delete_parameters,
        "AddTagsToResource" => tags::add_tags_to_resource,
        "RemoveTagsFromResource" => tags::remove_tags_from_resource,
        "ListTagsForResource" => tags::list_tags_for_resource,
    })
}
