//! Amazon EC2, the networking subset ECS users need: VPCs, subnets,
//! security groups, Availability Zones, and the network interfaces of
//! `awsvpc` tasks. Pure: [`network::Network`] is a region's whole network,
//! stored as one document and changed by one decision per write, so a
//! delete and its dependency check see the same state.

pub mod cidr;
pub mod interface;
pub mod network;
pub mod zones;

/// The EC2 API version Wharf serves (every SDK and the CLI send it).
pub const API_VERSION: &str = "2016-11-15";
/// The XML namespace of EC2 answers.
pub const XML_NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// An EC2 refusal: its code (`InvalidVpcID.NotFound`, ...), HTTP status and
/// message, as EC2 words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Ec2Error {
    /// The error `Code`.
    pub code: String,
    /// The HTTP status (400 for the caller's errors).
    pub status: u16,
    /// The `Message`.
    pub message: String,
}

impl Ec2Error {
    /// A client error with this code.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), status: 400, message: message.into() }
    }

    /// A required parameter is missing.
    pub fn missing(name: &str) -> Self {
        Self::new("MissingParameter", format!("The request must contain the parameter {name}"))
    }

    /// A parameter's value is not valid.
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", message)
    }

    /// Wharf failed (its state could not be read or written).
    pub fn server(message: impl Into<String>) -> Self {
        Self { code: "InternalError".to_owned(), status: 500, message: message.into() }
    }

    /// The answer to `DryRun=true` when the call would have succeeded.
    pub fn dry_run() -> Self {
        Self {
            code: "DryRunOperation".to_owned(),
            status: 412,
            message: "Request would have succeeded, but DryRun flag is set.".to_owned(),
        }
    }

    /// A resource of `what` (`vpc`, `subnet`) named `id` does not exist.
    pub fn not_found(code: &str, what: &str, id: &str) -> Self {
        Self::new(code, format!("The {what} ID '{id}' does not exist"))
    }

    /// An id that is not of the form `prefix-hex`.
    pub fn malformed(code: &str, id: &str, prefix: &str) -> Self {
        Self::new(code, format!("Invalid id: \"{id}\" (expecting \"{prefix}-...\")"))
    }
}

/// Whether `id` has EC2's id form: `prefix-` then 8 or 17 lowercase hex digits.
pub fn well_formed(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A new id: `prefix-` and 17 hex digits, as EC2 gives out today.
pub fn new_id(prefix: &str, entropy: &dyn crate::ids::Entropy) -> String {
    let n = entropy.next_u64() as u128 | ((entropy.next_u64() as u128 & 0xf) << 64);
    format!("{prefix}-{n:017x}")
}

/// A tag on an EC2 resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_ec2_form() {
        let id = new_id("vpc", &crate::ids::SystemEntropy);
        assert!(well_formed(&id, "vpc"), "{id}");
        assert_eq!(id.len(), 4 + 17);
        assert!(well_formed("subnet-12345678", "subnet"));
        assert!(!well_formed("subnet-1", "subnet"));
        assert!(!well_formed("sg-0123456789ABCDEF0", "sg"));
        assert!(!well_formed("vpc-0123456789abcdef0", "subnet"));
    }
}
