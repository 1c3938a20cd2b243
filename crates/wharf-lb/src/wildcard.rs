//! ELBv2 condition wildcards: `*` matches any run of characters (including none), `?` exactly
//! one. Pure, allocation-free.

/// Whether `text` matches `pattern`; `fold_case` compares ASCII letters case-insensitively.
pub fn matches(pattern: &str, text: &str, fold_case: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let eq = |a: u8, b: u8| if fold_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || eq(p[pi], t[ti])) {
            // `?` stands for one character; step over a whole UTF-8 sequence.
            if p[pi] == b'?' {
                ti += utf8_len(t[ti]);
            } else {
                ti += 1;
            }
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + utf8_len(t[st]);
            star = Some((sp, ti));
        } else {
            return false;
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*')
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(matches("/api", "/api", false));
        assert!(!matches("/api", "/api/", false));
        assert!(!matches("/api", "/ap", false));
        assert!(matches("", "", false));
        assert!(!matches("", "x", false));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(matches("/api/*", "/api/", false));
        assert!(matches("/api/*", "/api/v1/users", false));
        assert!(matches("*", "", false));
        assert!(matches("*.jpg", "/img/a.b.jpg", false));
        assert!(!matches("*.jpg", "/img/a.jpeg", false));
        assert!(matches("/a*b*c", "/axxbyyc", false));
        assert!(!matches("/a*b*c", "/axxbyy", false));
        assert!(matches("**", "abc", false));
    }

    #[test]
    fn question_mark_matches_one_character() {
        assert!(matches("/v?/x", "/v1/x", false));
        assert!(!matches("/v?/x", "/v10/x", false));
        assert!(!matches("/v?", "/v", false));
        assert!(matches("/caf?", "/café", false));
    }

    #[test]
    fn case_is_kept_or_folded_as_asked() {
        assert!(!matches("/API/*", "/api/x", false));
        assert!(matches("*.EXAMPLE.com", "www.example.COM", true));
    }
}
