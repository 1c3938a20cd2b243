//! Variable interpolation, as the Compose Specification defines it: `$VAR`,
//! `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`,
//! `${VAR+replacement}`, and `$$` for a literal `$`. Defaults and
//! replacements may themselves hold variables. A variable that is not set
//! becomes the empty string, and is reported, as Compose warns about it.
//!
//! Interpolation applies to every string value of the file (never to keys),
//! before anything else reads it; [`interpolate_tree`] walks the YAML.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing.
    #[error("required variable {variable} is missing a value: {message}")]
    Required {
        /// The variable.
        variable: String,
        /// The file's own message (or a default one).
        message: String,
    },
    /// A `${` without its `}`, or a `${...}` whose name is not a variable name.
    #[error("invalid interpolation format in \"{0}\"")]
    Format(String),
}

/// The variables interpolation sees, and the names it found unset.
#[derive(Debug)]
pub struct Interpolator<'a> {
    env: &'a BTreeMap<String, String>,
    /// Variables used without a value and without a default.
    pub unset: BTreeSet<String>,
}

impl<'a> Interpolator<'a> {
    /// An interpolator over `env`.
    pub fn new(env: &'a BTreeMap<String, String>) -> Self {
        Interpolator { env, unset: BTreeSet::new() }
    }

    /// `text` with its variables replaced.
    pub fn string(&mut self, text: &str) -> Result<String, InterpolationError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body_and_tail) = after.strip_prefix('{') {
                let close = matching_brace(body_and_tail)
                    .ok_or_else(|| InterpolationError::Format(text.to_owned()))?;
                out.push_str(&self.braced(&body_and_tail[..close], text)?);
                rest = &body_and_tail[close + 1..];
            } else {
                let len = name_len(after);
                if len == 0 {
                    out.push('$');
                    rest = after;
                } else {
                    out.push_str(&self.lookup_or_blank(&after[..len]));
                    rest = &after[len..];
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of `${body}`.
    fn braced(&mut self, body: &str, whole: &str) -> Result<String, InterpolationError> {
        let len = name_len(body);
        if len == 0 {
            return Err(InterpolationError::Format(whole.to_owned()));
        }
        let (name, op) = body.split_at(len);
        let value = self.env.get(name).cloned();
        let empty = value.as_deref().is_none_or(str::is_empty);
        let operators: [(&str, bool); 6] = [
            (":-", empty),
            ("-", value.is_none()),
            (":?", empty),
            ("?", value.is_none()),
            (":+", !empty),
            ("+", value.is_some()),
        ];
        if op.is_empty() {
            return Ok(self.lookup_or_blank(name));
        }
        for (symbol, applies) in operators {
            let Some(arg) = op.strip_prefix(symbol) else { continue };
            return match symbol {
                ":-" | "-" if applies => self.string(arg),
                ":?" | "?" if applies => {
                    let message = self.string(arg)?;
                    Err(InterpolationError::Required {
                        variable: name.to_owned(),
                        message: if message.is_empty() {
                            format!("{name} must be set")
                        } else {
                            message
                        },
                    })
                }
                ":+" | "+" if applies => self.string(arg),
                ":+" | "+" => Ok(String::new()),
                _ => Ok(value.unwrap_or_default()),
            };
        }
        Err(InterpolationError::Format(whole.to_owned()))
    }

    fn lookup_or_blank(&mut self, name: &str) -> String {
        match self.env.get(name) {
            Some(v) => v.clone(),
            None => {
                self.unset.insert(name.to_owned());
                String::new()
            }
        }
    }
}

/// Length of the variable name at the start of `s` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => bytes
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .unwrap_or(bytes.len()),
        _ => 0,
    }
}

/// Index of the `}` closing a `${` whose body starts `s`, nesting counted.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Interpolates every string value under `value` (keys are left alone);
/// `path` names where `value` sits, for errors (`services.web.image`).
pub fn interpolate_tree(
    value: &mut Value,
    path: &str,
    interpolator: &mut Interpolator<'_>,
) -> Result<(), (String, InterpolationError)> {
    match value {
        Value::String(s) => {
            *s = interpolator.string(s).map_err(|e| (path.to_owned(), e))?;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{i}]"), interpolator)?;
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = match key {
                    Value::String(k) => k.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_owned(),
                };
                let child = if path.is_empty() { key } else { format!("{path}.{key}") };
                interpolate_tree(item, &child, interpolator)?;
            }
        }
        Value::Tagged(tagged) => interpolate_tree(&mut tagged.value, path, interpolator)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        [("TAG", "1.2"), ("EMPTY", ""), ("HOST", "db")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn run(text: &str) -> Result<String, InterpolationError> {
        let env = env();
        Interpolator::new(&env).string(text)
    }

    #[test]
    fn every_form_of_the_specification() {
        assert_eq!(run("app:${TAG}").as_deref(), Ok("app:1.2"));
        assert_eq!(run("app:$TAG-x").as_deref(), Ok("app:1.2-x"));
        assert_eq!(run("${MISSING:-dflt}").as_deref(), Ok("dflt"));
        assert_eq!(run("${EMPTY:-dflt}").as_deref(), Ok("dflt"));
        assert_eq!(run("${EMPTY-dflt}").as_deref(), Ok(""));
        assert_eq!(run("${MISSING-dflt}").as_deref(), Ok("dflt"));
        assert_eq!(run("${TAG:-dflt}").as_deref(), Ok("1.2"));
        assert_eq!(run("${TAG:+set}").as_deref(), Ok("set"));
        assert_eq!(run("${EMPTY:+set}").as_deref(), Ok(""));
        assert_eq!(run("${EMPTY+set}").as_deref(), Ok("set"));
        assert_eq!(run("${MISSING+set}").as_deref(), Ok(""));
        assert_eq!(run("$$HOME and $${HOSTNAME}").as_deref(), Ok("$HOME and ${HOSTNAME}"));
        assert_eq!(run("${MISSING:-${HOST}:5432}").as_deref(), Ok("db:5432"));
        assert_eq!(run("${EXPOSE_PORT-:2283:2283}").as_deref(), Ok(":2283:2283"));
        assert_eq!(run("cost $5 or $ 6").as_deref(), Ok("cost $5 or $ 6"));
    }

    #[test]
    fn required_variables_and_bad_formats_are_errors() {
        assert_eq!(
            run("${PG_PASS:?database password required}"),
            Err(InterpolationError::Required {
                variable: "PG_PASS".into(),
                message: "database password required".into()
            })
        );
        assert!(matches!(run("${EMPTY:?}"), Err(InterpolationError::Required { .. })));
        assert_eq!(run("${EMPTY?must}").as_deref(), Ok(""));
        assert_eq!(run("${TAG"), Err(InterpolationError::Format("${TAG".into())));
        assert_eq!(run("${1X}"), Err(InterpolationError::Format("${1X}".into())));
        assert_eq!(run("${TAG/x/y}"), Err(InterpolationError::Format("${TAG/x/y}".into())));
    }

    #[test]
    fn unset_variables_become_blank_and_are_reported() {
        let env = env();
        let mut i = Interpolator::new(&env);
        assert_eq!(i.string("a${NOPE}b$ALSO_NOPE").as_deref(), Ok("ab"));
        assert_eq!(i.unset.into_iter().collect::<Vec<_>>(), ["ALSO_NOPE", "NOPE"]);
    }

    #[test]
    fn the_tree_is_interpolated_with_paths_in_errors() {
        let env = env();
        let mut value: Value = serde_yaml_ng::from_str(
            "services:\n  web:\n    image: app:${TAG}\n    ports: [\"${P:?no port}\"]\n",
        )
        .expect("yaml");
        let mut i = Interpolator::new(&env);
        let err = interpolate_tree(&mut value, "", &mut i).expect_err("P is required");
        assert_eq!(err.0, "services.web.ports[0]");
        assert_eq!(value["services"]["web"]["image"], Value::String("app:1.2".into()));
    }
}
