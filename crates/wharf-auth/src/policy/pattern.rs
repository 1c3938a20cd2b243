//! IAM's wildcards: `*` matches any run of characters (`:` and `/`
//! included), `?` any one character.

/// A compiled action or resource pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: everything.
    Any,
    /// No wildcard: compared whole.
    Exact(String),
    /// With `*` or `?`.
    Glob(String),
}

impl Pattern {
    /// Compiles `text`; lower-cased first when matching is case-insensitive.
    pub fn new(text: &str, case_insensitive: bool) -> Self {
        let text = if case_insensitive { text.to_ascii_lowercase() } else { text.to_owned() };
        if text == "*" {
            Self::Any
        } else if text.contains(['*', '?']) {
            Self::Glob(text)
        } else {
            Self::Exact(text)
        }
    }

    /// Whether `value` matches (already lower-cased if the pattern is
    /// case-insensitive).
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(e) => e == value,
            Self::Glob(g) => glob(g.as_bytes(), value.as_bytes()),
        }
    }

    /// Whether `value`, in any case, matches a pattern compiled
    /// case-insensitively (lower-case).
    pub fn matches_folded(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(e) => e.eq_ignore_ascii_case(value),
            Self::Glob(g) => glob_folded(g.as_bytes(), value.as_bytes()),
        }
    }
}

/// Wildcard matching with one backtrack point (linear in practice).
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    glob_by(pattern, text, |b| b)
}

/// [`glob`] of a lower-case pattern against `text` in any case, folding as
/// it goes (nothing allocated).
pub fn glob_folded(pattern: &[u8], text: &[u8]) -> bool {
    glob_by(pattern, text, |b| b.to_ascii_lowercase())
}

fn glob_by(pattern: &[u8], text: &[u8], fold: impl Fn(u8) -> u8) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == fold(text[t])) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_s() {
        assert!(glob(b"ecs:describe*", b"ecs:describetasks"));
        assert!(glob(b"arn:aws:ecs:*:*:cluster/prod", b"arn:aws:ecs:us-east-1:1:cluster/prod"));
        assert!(!glob(b"arn:aws:ecs:*:*:cluster/prod", b"arn:aws:ecs:us-east-1:1:cluster/prod2"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"ac"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"aXXbYYc"));
        assert!(!glob(b"a*b*c", b"aXXbYY"));
        assert!(glob_folded(b"ecs:describe*", b"ecs:DescribeTasks"));
        assert!(!glob(b"ecs:describe*", b"ecs:DescribeTasks"));
        assert!(!glob_folded(b"ecs:list*", b"ecs:DescribeTasks"));
        assert!(Pattern::new("ecs:RunTask", true).matches_folded("ECS:runtask"));
    }
}
