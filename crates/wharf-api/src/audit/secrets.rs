//! Secret values kept out of the trail: the request's parameters with the
//! value of every secret field replaced by [`HIDDEN`], as CloudTrail hides
//! them.

use std::sync::LazyLock;

use memchr::memmem;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// CloudTrail's placeholder for a hidden value.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Request fields whose values are never written.
const SECRET_FIELDS: [&str; 10] = [
    "value",
    "Value",
    "SecretString",
    "SecretBinary",
    "secretAccessKey",
    "SecretAccessKey",
    "SessionToken",
    "token",
    "Token",
    "password",
];

/// `requestParameters`: the request's JSON body as it came, with the value
/// of every secret field replaced by [`HIDDEN`]; a Query request's
/// parameters (ELBv2, STS, EC2) as an object.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Parameters<'a> {
    /// The body, which names no secret field.
    Raw(&'a RawValue),
    /// The body with secret values hidden.
    Hidden(Box<RawValue>),
    /// Parsed parameters, secrets hidden; `null` for a body that is not JSON.
    Value(Value),
}

impl<'a> Parameters<'a> {
    pub(super) fn of(service: &str, body: &'a [u8]) -> Self {
        if matches!(service, "elbv2" | "sts" | "ec2") {
            let params = crate::query::params(body);
            return Parameters::Value(hide_secrets(Value::Object(
                params.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
            )));
        }
        let Ok(raw) = serde_json::from_slice::<&RawValue>(body) else {
            return Parameters::Value(Value::Null);
        };
        let text = raw.get();
        if text.contains('\\') {
            // An escaped key could spell a secret field without showing it.
            return Parameters::Value(hide_secrets(
                serde_json::from_str(text).unwrap_or(Value::Null),
            ));
        }
        let spans = secret_values(text.as_bytes());
        if spans.is_empty() {
            return Parameters::Raw(raw);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for span in spans {
            out.push_str(&text[at..span.start]);
            out.push('"');
            out.push_str(HIDDEN);
            out.push('"');
            at = span.end;
        }
        out.push_str(&text[at..]);
        match RawValue::from_string(out) {
            Ok(hidden) => Parameters::Hidden(hidden),
            Err(_) => Parameters::Value(Value::Null),
        }
    }
}

/// Where the non-null values of [`SECRET_FIELDS`] are in a valid JSON text
/// without escapes, in order, none inside another. Without escapes every
/// `"` opens or closes a string, so a secret field's name in quotes
/// followed by `:` is that field's key.
fn secret_values(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    /// A searcher per secret field, built once.
    static FINDERS: LazyLock<Vec<memmem::Finder<'static>>> =
        LazyLock::new(|| SECRET_FIELDS.iter().map(memmem::Finder::new).collect());
    let mut spans = Vec::new();
    for finder in FINDERS.iter() {
        for i in finder.find_iter(text) {
            let after = i + finder.needle().len();
            if i == 0 || text[i - 1] != b'"' || text.get(after) != Some(&b'"') {
                continue;
            }
            let colon = skip_space(text, after + 1);
            if text.get(colon) != Some(&b':') {
                continue;
            }
            let start = skip_space(text, colon + 1);
            let end = value_end(text, start);
            if &text[start..end] != b"null" {
                spans.push(start..end);
            }
        }
    }
    spans.sort_by_key(|s| s.start);
    let mut outer: Vec<std::ops::Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        if outer.last().is_none_or(|last| span.start >= last.end) {
            outer.push(span);
        }
    }
    outer
}

fn skip_space(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The end of the JSON value that starts at `start` (valid, without escapes).
fn value_end(text: &[u8], start: usize) -> usize {
    let string_end = |open: usize| {
        memchr::memchr(b'"', &text[open + 1..]).map_or(text.len(), |k| open + 1 + k + 1)
    };
    match text.get(start) {
        Some(b'"') => string_end(start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < text.len() {
                match text[i] {
                    b'"' => {
                        i = string_end(i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            text.len()
        }
        _ => {
            let mut i = start;
            while i < text.len()
                && !matches!(text[i], b',' | b'}' | b']')
                && !text[i].is_ascii_whitespace()
            {
                i += 1;
            }
            i
        }
    }
}

/// The value with every secret field's value hidden, at any depth.
pub fn hide_secrets(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if SECRET_FIELDS.contains(&k.as_str()) && !v.is_null() {
                        (k, Value::String(HIDDEN.into()))
                    } else {
                        (k, hide_secrets(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(hide_secrets).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let v = hide_secrets(json!({"name": "/p", "value": "s3cr3t", "containerDefinitions": [
            {"environment": [{"name": "A", "value": "also"}]}], "SecretString": "x"}));
        let text = v.to_string();
        assert!(
            !text.contains("s3cr3t") && !text.contains("also") && !text.contains("\"x\""),
            "{text}"
        );
        assert_eq!(v["name"], "/p");
    }

    fn parameters(service: &str, body: &str) -> String {
        serde_json::to_string(&Parameters::of(service, body.as_bytes())).unwrap()
    }

    #[test]
    fn a_body_naming_no_secret_is_copied_as_it_came() {
        let body = r#"{"family":"web","containerDefinitions":[{"name":"app","secrets":[{"name":"A","valueFrom":"arn"}]}]}"#;
        assert!(matches!(Parameters::of("ecs", body.as_bytes()), Parameters::Raw(_)));
        assert_eq!(parameters("ecs", body), body);
        assert_eq!(parameters("ecs", "not json"), "null");
    }

    #[test]
    fn secret_values_are_hidden_in_the_text_as_in_the_parsed_body() {
        let bodies = [
            r#"{"name":"/p","value":"s3cr3t"}"#,
            r#"{"name":"/p","v\u0061lue":"s3cr3t","Value":"also"}"#,
            r#"{"environment":[{"name":"A","value":"s3cr3t"},{"name":"value","value":null}]}"#,
            r#"{ "value" : { "token" : "s3cr3t", "n": [1, "]}"] } , "Token" :42,"password":true}"#,
            r#"{"tags":[{"key":"value","value":"x"}],"SecretString":["a",{"b":"c"}],"after":1}"#,
            r#"{"password" :-1.5e3}"#,
            r#"{"a":"value","b":["value","Value"],"valueFrom":"arn"}"#,
        ];
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/taskdefs");
        let mut corpus: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the vendored corpus {}: {e}", dir.display()))
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        assert!(corpus.len() > 10, "the corpus is vendored");
        corpus.extend(bodies.iter().map(|b| b.to_string()));
        let mut hidden = 0;
        for body in &corpus {
            let text = parameters("ecs", body);
            let parsed: Value = serde_json::from_str(&text).unwrap();
            let expected = hide_secrets(serde_json::from_str(body).unwrap_or(Value::Null));
            assert_eq!(parsed, expected, "{body}");
            hidden += usize::from(text.contains(HIDDEN));
        }
        assert!(hidden >= bodies.len() - 1, "{hidden}");
        for body in &bodies[..6] {
            assert!(!parameters("ecs", body).contains("s3cr3t"), "{body}");
        }
        // Query parameters too.
        let text = parameters("sts", "Action=AssumeRole&Token=s3cr3t");
        assert!(!text.contains("s3cr3t") && text.contains(HIDDEN), "{text}");
    }
}
