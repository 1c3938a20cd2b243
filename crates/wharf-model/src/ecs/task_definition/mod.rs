//! Task definitions as ECS treats them: what RegisterTaskDefinition accepts
//! ([`validate_register`], with ECS's error types and messages), what
//! DescribeTaskDefinition then shows ([`normalize`]), and warnings for things
//! ECS accepts but users regret ([`lint`]).
//!
//! The rules themselves — limits, allowed values, messages and their
//! sources — are collected in [`rules`]. A request body is read with
//! [`decode_register`] (or leniently, for files found in the wild, with
//! [`decode_document`]), checked against [`MAX_DOCUMENT_BYTES`] with
//! [`check_document_size`], validated, and normalized:
//!
//! ```
//! use wharf_model::ecs::task_definition::*;
//! use wharf_model::Timestamp;
//!
//! let body = br#"{"family": "web", "containerDefinitions": [
//!     {"name": "app", "image": "nginx:1.27", "memory": 128}]}"#;
//! check_document_size(body.len()).unwrap();
//! let req = decode_register(body).unwrap();
//! validate_register(&req).unwrap();
//! let reg = Registration {
//!     arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1".into(),
//!     revision: 1,
//!     registered_at: Timestamp(1_700_000_000.0),
//!     registered_by: None,
//! };
//! let (td, _tags) = normalize(req, reg);
//! assert_eq!(td.container_definitions.unwrap()[0].essential, Some(true));
//! ```

mod attributes;
mod container;
mod decode;
mod enums;
mod extras;
mod fargate;
mod lint;
mod network;
mod normalize;
mod options;
mod references;
pub mod rules;
mod schema;
mod units;
mod validate;

#[cfg(test)]
mod testutil;

use crate::error::EcsError;

pub use decode::{
    decode_document, decode_register, DecodeError, Document, DocumentKind, CLI_FAMILY,
};
pub use lint::{lint, Finding};
pub use normalize::{normalize, Registration};
pub use rules::MAX_DOCUMENT_BYTES;
pub use units::{parse_task_cpu, parse_task_memory};
pub use validate::validate_register;

/// `Err` when a request body is over ECS's 64 KiB task definition limit
/// (`ClientException: Actual length: '66420'. Max allowed length is '65536' bytes.`).
pub fn check_document_size(len: usize) -> Result<(), EcsError> {
    if len > MAX_DOCUMENT_BYTES {
        Err(EcsError::client(rules::msg::document_too_large(len)))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::wire::Timestamp;

    #[test]
    fn document_size_limit() {
        assert!(check_document_size(65_536).is_ok());
        let err = check_document_size(66_420).unwrap_err();
        assert_eq!(err.kind, crate::EcsErrorKind::ClientException);
        assert_eq!(err.message, "Actual length: '66420'. Max allowed length is '65536' bytes.");
    }

    /// Odd values go through every entry point without a panic.
    #[test]
    fn odd_values_never_panic() {
        let odd: Vec<Value> = vec![
            json!(i32::MIN),
            json!(-1),
            json!(0),
            json!(i32::MAX),
            json!(""),
            json!(" "),
            json!("-1"),
            json!("\u{0}"),
            json!("é"),
            json!("UNLISTED"),
            json!(null),
        ];
        let ints = ["cpu", "memory", "memoryReservation", "startTimeout", "stopTimeout"];
        let strings = ["name", "image", "hostname", "user"];
        let mut docs = vec![];
        for o in &odd {
            let mut container = json!({"name": "app", "image": "x", "memory": 64,
                "portMappings": [{"containerPort": o, "hostPort": o, "protocol": o, "containerPortRange": o}],
                "healthCheck": {"command": [o], "interval": o, "timeout": o, "retries": o, "startPeriod": o},
                "ulimits": [{"name": o, "softLimit": o, "hardLimit": o}],
                "dependsOn": [{"containerName": o, "condition": o}],
                "logConfiguration": {"logDriver": o, "options": {"awslogs-group": o}},
                "linuxParameters": {"tmpfs": [{"containerPath": o, "size": o}], "swappiness": o, "sharedMemorySize": o},
                "mountPoints": [{"sourceVolume": o}], "volumesFrom": [{"sourceContainer": o}], "links": [o]});
            for f in ints.iter().chain(strings.iter()) {
                container[f] = o.clone();
            }
            for mode in ["awsvpc", "host", "none", "bridge", "default", "x"] {
                docs.push(json!({"family": o, "networkMode": mode, "cpu": o, "memory": o, "pidMode": o, "ipcMode": o,
                    "requiresCompatibilities": ["FARGATE", o], "containerDefinitions": [container.clone()],
                    "volumes": [{"name": o, "dockerVolumeConfiguration": {"scope": o, "autoprovision": true}}],
                    "ephemeralStorage": {"sizeInGiB": o}, "tags": [{"key": o, "value": o}],
                    "proxyConfiguration": {"type": o, "containerName": o, "properties": [{"name": o}]}}));
            }
        }
        docs.push(
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "b", "memory": 1,
            "dependsOn": [{"containerName": "a", "condition": "START"}]}]}),
        );
        for doc in docs {
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            for req in
                [decode_register(&bytes).ok(), decode_document(&bytes).ok().map(|d| d.request)]
                    .into_iter()
                    .flatten()
            {
                let _ = validate_register(&req);
                let _ = lint(&req, Some(&doc));
                let reg = Registration {
                    arn: String::new(),
                    revision: 1,
                    registered_at: Timestamp(0.0),
                    registered_by: None,
                };
                let _ = normalize(req, reg);
            }
        }
    }
}
