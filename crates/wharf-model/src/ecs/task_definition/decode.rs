//! Reading a RegisterTaskDefinition body: JSON syntax first, then the shape,
//! with type mismatches answered the way ECS's JSON front end answers them
//! (`SerializationException: STRING_VALUE cannot be converted to Integer`).
//!
//! Also the lenient reading `wharf validate` uses for files found in the wild:
//! a describe-output wrapper `{"taskDefinition": {...}}` is unwrapped, and a
//! bare container array or a single container object is validated as the
//! `containerDefinitions` of a task definition in family [`CLI_FAMILY`].

use serde::Deserialize;
use serde_json::Value;

use crate::ecs::shapes::RegisterTaskDefinitionRequest;
use crate::wire::coral_message;

use super::schema;

/// The family `wharf validate` gives container lists and single containers.
pub const CLI_FAMILY: &str = "wharf-validate";

/// Why a body could not be read as a RegisterTaskDefinition request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid JSON (or not UTF-8): where the parser stopped, 1-based.
    InvalidJson {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// Valid JSON of the wrong shape; ECS answers `SerializationException`.
    Serialization {
        /// ECS's message, e.g. `STRING_VALUE cannot be converted to Integer`.
        message: String,
        /// Where in the file, when known (1-based line, column).
        at: Option<(usize, usize)>,
    },
}

impl DecodeError {
    /// The `__type` ECS answers with: both cases are `SerializationException`.
    pub fn error_type(&self) -> &'static str {
        "SerializationException"
    }

    /// The message ECS-style clients see.
    pub fn message(&self) -> &str {
        match self {
            DecodeError::InvalidJson { message, .. }
            | DecodeError::Serialization { message, .. } => message,
        }
    }
}

/// Parses a request body as ECS would: unknown members ignored, `null` as absent.
pub fn decode_register(bytes: &[u8]) -> Result<RegisterTaskDefinitionRequest, DecodeError> {
    let value = parse_json(bytes)?;
    if value.is_null() {
        return Ok(RegisterTaskDefinitionRequest::default());
    }
    check_collections(&value)?;
    match serde_json::from_slice::<RegisterTaskDefinitionRequest>(bytes) {
        Ok(req) => Ok(req),
        // A repeated key: JSON parsers keep the last value; read the tree.
        Err(e) if e.to_string().starts_with("duplicate field") => from_value(value),
        Err(e) => Err(serialization(&e, Some((e.line(), e.column())))),
    }
}

/// How `wharf validate` understood a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A RegisterTaskDefinition request (or describe output, whose extra
    /// members ECS ignores).
    TaskDefinition,
    /// `{"taskDefinition": {...}}` as `describe-task-definition` prints it.
    Wrapped,
    /// A bare `containerDefinitions` array.
    ContainerList,
    /// A single container definition object.
    Container,
}

/// A file read leniently for `wharf validate`.
#[derive(Debug, Clone)]
pub struct Document {
    /// What the file turned out to be.
    pub kind: DocumentKind,
    /// The task-definition-shaped JSON the request was read from.
    pub raw: Value,
    /// The request to validate.
    pub request: RegisterTaskDefinitionRequest,
}

/// Reads a file for `wharf validate`, unwrapping and wrapping as the module doc says.
pub fn decode_document(bytes: &[u8]) -> Result<Document, DecodeError> {
    let value = parse_json(bytes)?;
    let (kind, raw) = match value {
        Value::Array(items) => (DocumentKind::ContainerList, synthetic(Value::Array(items))),
        Value::Object(mut map) => {
            let has = |k: &str| map.contains_key(k);
            if !has("containerDefinitions")
                && map.get("taskDefinition").is_some_and(Value::is_object)
            {
                let inner = map.remove("taskDefinition").unwrap_or(Value::Null);
                (DocumentKind::Wrapped, inner)
            } else if !has("containerDefinitions")
                && !has("family")
                && (has("image") || has("name"))
            {
                (DocumentKind::Container, synthetic(Value::Array(vec![Value::Object(map)])))
            } else {
                (DocumentKind::TaskDefinition, Value::Object(map))
            }
        }
        other => (DocumentKind::TaskDefinition, other),
    };
    let request = if kind == DocumentKind::TaskDefinition {
        decode_register(bytes)?
    } else {
        from_value(raw.clone())?
    };
    Ok(Document { kind, raw, request })
}

/// A task definition around a container list, in family [`CLI_FAMILY`].
fn synthetic(containers: Value) -> Value {
    serde_json::json!({ "family": CLI_FAMILY, "containerDefinitions": containers })
}

/// JSON syntax only; the error carries the parser's position.
fn parse_json(bytes: &[u8]) -> Result<Value, DecodeError> {
    serde_json::from_slice::<Value>(bytes).map_err(|e| DecodeError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// The request from an already-parsed tree (no positions in errors).
fn from_value(value: Value) -> Result<RegisterTaskDefinitionRequest, DecodeError> {
    if value.is_null() {
        return Ok(RegisterTaskDefinitionRequest::default());
    }
    check_collections(&value)?;
    RegisterTaskDefinitionRequest::deserialize(value).map_err(|e| serialization(&e, None))
}

/// An array where the model has a structure: serde would read it
/// positionally, ECS refuses it.
fn check_collections(value: &Value) -> Result<(), DecodeError> {
    match schema::array_for_structure(value, "RegisterTaskDefinitionRequest", "") {
        None => Ok(()),
        Some((_, shape)) => Err(DecodeError::Serialization {
            message: format!(
                "Unrecognized collection type class com.amazonaws.madison.frontend.{shape}"
            ),
            at: None,
        }),
    }
}

/// `"... at line 3 column 9"` without the position suffix.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn serialization(e: &serde_json::Error, at: Option<(usize, usize)>) -> DecodeError {
    let at = at.filter(|(line, _)| *line > 0);
    DecodeError::Serialization { message: coral_message(&e.to_string()), at }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialization(body: &str) -> String {
        match decode_register(body.as_bytes()) {
            Err(DecodeError::Serialization { message, .. }) => message,
            other => panic!("expected a SerializationException for {body}, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_carry_the_position() {
        match decode_register(b"{\n  \"family\": ${name}\n}") {
            Err(DecodeError::InvalidJson { line, column, .. }) => {
                assert_eq!((line, column), (2, 13))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode_register(b""), Err(DecodeError::InvalidJson { .. })));
        assert!(matches!(decode_register(&[0xff, 0xfe]), Err(DecodeError::InvalidJson { .. })));
    }

    #[test]
    fn type_mismatches_read_as_ecs_writes_them() {
        assert_eq!(
            serialization(r#"{"containerDefinitions": [{"memory": "256"}]}"#),
            "STRING_VALUE cannot be converted to Integer"
        );
        assert_eq!(serialization(r#"{"family": 7}"#), "NUMBER_VALUE cannot be converted to String");
        assert_eq!(
            serialization(r#"{"containerDefinitions": [{"essential": "yes"}]}"#),
            "STRING_VALUE cannot be converted to Boolean"
        );
        assert_eq!(
            serialization(r#"{"containerDefinitions": [{"memory": 1.5}]}"#),
            "NUMBER_VALUE cannot be converted to Integer"
        );
        assert_eq!(
            serialization(r#"{"containerDefinitions": [{"memory": 99999999999}]}"#),
            "NUMBER_VALUE cannot be converted to Integer"
        );
        assert_eq!(
            serialization(r#"{"family": {"a": 1}}"#),
            "Start of structure or map found where not expected."
        );
        assert_eq!(
            serialization(r#"{"family": ["a"]}"#),
            "Start of list found where not expected."
        );
        assert_eq!(
            serialization(r#"[{"name": "a", "image": "b"}]"#),
            "Unrecognized collection type class com.amazonaws.madison.frontend.RegisterTaskDefinitionRequest"
        );
        assert_eq!(
            serialization(r#"{"containerDefinitions": [{"logConfiguration": ["awslogs"]}]}"#),
            "Unrecognized collection type class com.amazonaws.madison.frontend.LogConfiguration"
        );
        assert_eq!(
            serialization("\"family\""),
            "STRING_VALUE cannot be converted to RegisterTaskDefinitionRequest"
        );
    }

    #[test]
    fn nulls_unknown_members_and_repeated_keys() {
        let req = decode_register(
            br#"{"family": null, "taskDefinitionArn": "x", "cpu": "1", "cpu": "2"}"#,
        )
        .unwrap();
        assert_eq!((req.family, req.cpu.as_deref()), (None, Some("2")));
        assert_eq!(decode_register(b"null").unwrap(), RegisterTaskDefinitionRequest::default());
    }

    #[test]
    fn documents_in_the_wild() {
        let kind = |s: &str| decode_document(s.as_bytes()).map(|d| (d.kind, d.request.family));
        let family = || Some(CLI_FAMILY.to_owned());
        assert_eq!(
            kind(r#"{"family": "f"}"#).unwrap(),
            (DocumentKind::TaskDefinition, Some("f".into()))
        );
        assert_eq!(
            kind(r#"{"taskDefinition": {"family": "g"}}"#).unwrap(),
            (DocumentKind::Wrapped, Some("g".into()))
        );
        assert_eq!(
            kind(r#"[{"name": "a", "image": "b"}]"#).unwrap(),
            (DocumentKind::ContainerList, family())
        );
        assert_eq!(
            kind(r#"{"name": "a", "image": "b"}"#).unwrap(),
            (DocumentKind::Container, family())
        );
        let doc = decode_document(br#"[{"name": "a", "memory": "1"}]"#);
        assert!(
            matches!(doc, Err(DecodeError::Serialization { ref message, .. }) if message == "STRING_VALUE cannot be converted to Integer")
        );
    }
}
