//! AWS Systems Manager Parameter Store: wire shapes, the stored record, and
//! the rules SSM applies to parameter names, paths, values and references.

pub mod error;
pub mod shapes;

use serde::{Deserialize, Serialize};

pub use error::{SsmError, SsmErrorKind};
use shapes::{ParameterHistory, Tag};

/// The longest parameter name SSM accepts (its ARN prefix counts against
/// the model's 2048, leaving 1011 for the name itself).
pub const MAX_NAME_LEN: usize = 1011;
/// The deepest hierarchy SSM accepts: `/1/2/.../15`.
pub const MAX_HIERARCHY_LEVELS: usize = 15;
/// How many versions of a parameter SSM keeps; older ones are dropped.
pub const MAX_VERSIONS: usize = 100;
/// The largest value of a Standard-tier parameter, in characters.
pub const STANDARD_MAX_VALUE: usize = 4096;
/// The largest value of an Advanced-tier parameter, in characters.
pub const ADVANCED_MAX_VALUE: usize = 8192;
/// The most tags a parameter carries.
pub const MAX_TAGS: usize = 50;
/// The key SecureString parameters use when the request names none.
pub const DEFAULT_KEY_ID: &str = "alias/aws/ssm";

/// SSM's words for a parameter name that breaks its character rules.
pub const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" \
    (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash \
    symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 \
    symbols .-_";

/// SSM's words for a path that breaks its rules (GetParametersByPath).
pub const PATH_RULES: &str = "The parameter doesn't meet the parameter name requirements. The \
    parameter name must begin with a forward slash \"/\". It can't be prefixed with \\\"aws\\\" \
    or \\\"ssm\\\" (case-insensitive). It must use only letters, numbers, or the following \
    symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All \
    sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: \
    /get/parameters2-/by1./path0_.";

/// One parameter as the store keeps it: every kept version, oldest first (the
/// last is the current one), as the `ParameterHistory` wire shape, plus the
/// parameter's tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParameterRecord {
    /// Kept versions, oldest first; never empty for a stored parameter.
    #[serde(rename = "Versions")]
    pub versions: Vec<ParameterHistory>,
    /// The parameter's tags.
    #[serde(rename = "Tags", default)]
    pub tags: Vec<Tag>,
}

impl ParameterRecord {
    /// The current version.
    pub fn current(&self) -> Option<&ParameterHistory> {
        self.versions.last()
    }

    /// The version a selector names (`None`: the current one).
    pub fn select(&self, selector: Option<&Selector>) -> Option<&ParameterHistory> {
        match selector {
            None => self.current(),
            Some(Selector::Version(v)) => self.versions.iter().find(|h| h.version == Some(*v)),
            Some(Selector::Label(l)) => self
                .versions
                .iter()
                .find(|h| h.labels.as_ref().is_some_and(|ls| ls.iter().any(|x| x == l))),
        }
    }
}

/// A version selector after a parameter name: `name:3` or `name:label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A version number.
    Version(i64),
    /// A version label.
    Label(String),
}

impl Selector {
    /// The selector as SSM echoes it in `Parameter.Selector` (`:3`).
    pub fn wire(&self) -> String {
        match self {
            Self::Version(v) => format!(":{v}"),
            Self::Label(l) => format!(":{l}"),
        }
    }
}

/// A parameter named in a request: by name or ARN, with an optional selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRef {
    /// The store keys it may be, in the order to try them. A name gives one;
    /// an ARN `parameter/x` may be `x` or `/x`, which share an ARN.
    pub keys: Vec<String>,
    /// The version selector, if any.
    pub selector: Option<Selector>,
    /// The region an ARN names, if the reference was an ARN.
    pub region: Option<String>,
}

/// Splits `arn:<partition>:ssm:<region>:<account>:parameter/<name>`, giving
/// (region, name-without-leading-slash); `None` if `s` is not such an ARN.
pub fn parse_arn(s: &str) -> Option<(&str, &str)> {
    let mut parts = s.splitn(6, ':');
    let (arn, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    if arn != "arn" || service != "ssm" {
        return None;
    }
    let region = parts.next()?;
    let _account = parts.next()?;
    let rest = parts.next()?.strip_prefix("parameter/")?;
    Some((region, rest))
}

/// Reads a parameter reference: `name`, `/a/b`, `name:3`, `name:label`, or an
/// SSM ARN with the same optional selector.
pub fn parse_ref(s: &str) -> Result<ParameterRef, SsmError> {
    let (keys, selector, region) = if s.starts_with("arn:") {
        let (region, rest) = parse_arn(s).ok_or_else(|| SsmError::validation(NAME_RULES))?;
        let (name, sel) = match rest.split_once(':') {
            Some((n, sel)) => (n, Some(sel)),
            None => (rest, None),
        };
        let keys = if name.contains('/') {
            vec![format!("/{name}")]
        } else {
            vec![format!("/{name}"), name.to_owned()]
        };
        (keys, sel, Some(region.to_owned()))
    } else {
        match s.split_once(':') {
            Some((n, sel)) => (vec![n.to_owned()], Some(sel), None),
            None => (vec![s.to_owned()], None, None),
        }
    };
    for k in &keys {
        validate_name(k)?;
    }
    let selector = match selector {
        None => None,
        Some("") => return Err(SsmError::validation(NAME_RULES)),
        Some(sel) if sel.bytes().all(|b| b.is_ascii_digit()) => {
            let v: i64 = sel.parse().map_err(|_| {
                SsmError::new(
                    SsmErrorKind::ParameterVersionNotFound,
                    format!("Systems Manager could not find version {sel} of {}.", keys[0]),
                )
            })?;
            Some(Selector::Version(v))
        }
        Some(sel) => Some(Selector::Label(sel.to_owned())),
    };
    Ok(ParameterRef { keys, selector, region })
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/')
}

/// Checks a parameter name as PutParameter does: letters, digits, `_.-`, and
/// `/` for hierarchies (then fully qualified, starting with `/`); not prefixed
/// with `aws` or `ssm`; at most 1011 characters and 15 levels.
pub fn validate_name(name: &str) -> Result<(), SsmError> {
    if name.is_empty() {
        return Err(SsmError::validation(
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(SsmError::validation(format!(
            "Parameter name can't be longer than {MAX_NAME_LEN} characters."
        )));
    }
    if !name.bytes().all(is_name_char) {
        return Err(SsmError::validation(NAME_RULES));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(SsmError::validation("Parameter name must be a fully qualified name."));
    }
    let body = name.strip_prefix('/').unwrap_or(name);
    if body.split('/').any(str::is_empty) {
        return Err(SsmError::validation(NAME_RULES));
    }
    let first = body.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(SsmError::validation(NAME_RULES));
    }
    if body.split('/').count() > MAX_HIERARCHY_LEVELS {
        return Err(SsmError::new(
            SsmErrorKind::HierarchyLevelLimitExceededException,
            format!(
                "A hierarchy can have a maximum of {MAX_HIERARCHY_LEVELS} levels. Parameter \
                 name {name} has too many levels."
            ),
        ));
    }
    Ok(())
}

/// Checks a GetParametersByPath path: `/`, or `/a/b` (a trailing `/` is
/// allowed), with the name character rules.
pub fn validate_path(path: &str) -> Result<(), SsmError> {
    if path == "/" {
        return Ok(());
    }
    let body = path.strip_suffix('/').unwrap_or(path);
    if !body.starts_with('/') || validate_name(body).is_err() {
        return Err(SsmError::validation(PATH_RULES));
    }
    Ok(())
}

/// Whether the parameter `name` lies under `path`: directly (one level) or,
/// with `recursive`, at any depth. Names without a leading `/` are root-level
/// parameters, under the path `/`.
pub fn is_under(name: &str, path: &str, recursive: bool) -> bool {
    let base = path.trim_end_matches('/');
    let full = if name.starts_with('/') { name.to_owned() } else { format!("/{name}") };
    let Some(rest) = full.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    !rest.is_empty() && (recursive || !rest.contains('/'))
}

/// The store-key prefix a path's parameters share, and whether names without
/// a leading `/` may also match (only for the root path).
pub fn path_prefix(path: &str) -> (String, bool) {
    let base = path.trim_end_matches('/');
    if base.is_empty() {
        (String::new(), true)
    } else {
        (format!("{base}/"), false)
    }
}

/// The ARN of a parameter: `arn:aws:ssm:<region>:<account>:parameter/<name>`
/// with the name's leading `/` dropped.
pub fn parameter_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ssm:{region}:{account}:parameter/{}", name.strip_prefix('/').unwrap_or(name))
}

/// What a SecureString's `Value` is without `WithDecryption`.
///
/// SSM returns the KMS ciphertext, base64-encoded. Wharf has no KMS, so it
/// returns an opaque base64 token that names the key, the parameter's ARN and
/// the version, and carries nothing derived from the plaintext (unlike
/// moto/LocalStack's `kms:<key>:<plaintext>`), so an undecrypted read never
/// discloses the value.
pub fn opaque_ciphertext(key_id: &str, arn: &str, version: i64) -> String {
    base64(format!("wharf-kms-v1:{key_id}:{arn}:{version}").as_bytes())
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ssm_rules() {
        for ok in ["a", "/a", "/a/b/c", "my-param_1.x", "/Dev/Production/East/Project-ABC/x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let bad = |n: &str| validate_name(n).unwrap_err();
        assert_eq!(bad("a/b").message, "Parameter name must be a fully qualified name.");
        assert_eq!(bad("/a//b").message, NAME_RULES);
        assert_eq!(bad("/a/").message, NAME_RULES);
        assert_eq!(bad("a b").message, NAME_RULES);
        assert_eq!(bad("awsx").message, NAME_RULES);
        assert_eq!(bad("/SSM/x").message, NAME_RULES);
        let deep = "/l".repeat(16);
        assert_eq!(bad(&deep).kind, SsmErrorKind::HierarchyLevelLimitExceededException);
        assert!(validate_name(&"/l".repeat(15)).is_ok());
        assert!(validate_name(&"x".repeat(1012)).is_err());
    }

    #[test]
    fn references_by_name_arn_and_selector() {
        let r = parse_ref("/a/b:3").unwrap();
        assert_eq!(r.keys, vec!["/a/b"]);
        assert_eq!(r.selector, Some(Selector::Version(3)));
        let r = parse_ref("arn:aws:ssm:eu-west-1:123456789012:parameter/a/b").unwrap();
        assert_eq!(r.keys, vec!["/a/b"]);
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        let r = parse_ref("arn:aws:ssm:eu-west-1:123456789012:parameter/top:prod").unwrap();
        assert_eq!(r.keys, vec!["/top", "top"]);
        assert_eq!(r.selector, Some(Selector::Label("prod".into())));
        assert!(parse_ref("arn:aws:s3:::bucket").is_err());
        assert!(parse_ref("a:").is_err());
    }

    #[test]
    fn paths_and_membership() {
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/a/b/").is_ok());
        assert_eq!(validate_path("a").unwrap_err().message, PATH_RULES);
        assert!(is_under("/a/b", "/a", false));
        assert!(!is_under("/a/b/c", "/a", false));
        assert!(is_under("/a/b/c", "/a/", true));
        assert!(!is_under("/ab", "/a", true));
        assert!(is_under("top", "/", false));
        assert!(is_under("/top", "/", false));
        assert!(!is_under("/a/b", "/", false));
        assert!(is_under("/a/b", "/", true));
    }

    #[test]
    fn arns_and_base64() {
        assert_eq!(parameter_arn("r", "1", "/a/b"), "arn:aws:ssm:r:1:parameter/a/b");
        assert_eq!(parameter_arn("r", "1", "a"), "arn:aws:ssm:r:1:parameter/a");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert!(!opaque_ciphertext("k", "arn", 1).contains("secret"));
    }
}
