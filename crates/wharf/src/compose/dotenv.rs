//! The `KEY=VALUE` files Compose reads: the `.env` beside the compose file
//! (variables for interpolation) and each service's `env_file` (variables for
//! the container). Blank lines and `#` comments are skipped, `export ` is
//! allowed before a key, values may be single-quoted (literal) or
//! double-quoted (`\n`, `\"`, `\\` escapes), and an unquoted value ends at
//! ` #`. A line with a key and no `=` is returned with no value.

/// The entries of a file, in order; `None` for a key without `=`.
pub fn parse(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => {
                (k.trim(), Some(unquote(v.trim()).map_err(|e| format!("line {}: {e}", n + 1))?))
            }
            None => (line, None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("line {}: \"{raw}\" is not KEY=VALUE", n + 1));
        }
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn unquote(v: &str) -> Result<String, String> {
    if let Some(inner) = v.strip_prefix('\'') {
        let end = inner.find('\'').ok_or("unterminated single quote")?;
        return Ok(inner[..end].to_owned());
    }
    if let Some(inner) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(out),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double quote".to_owned());
    }
    let value = match v.find(" #") {
        Some(at) => &v[..at],
        None => v,
    };
    Ok(value.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_as_compose_reads_them() {
        let text = "# comment\n\nA=1\nexport B = two words\nC='lit $X # not a comment'\nD=\"line\\nnext \\\"q\\\"\"\nE=x # trailing\nF=\nG\n";
        let got = parse(text).expect("parses");
        let want: Vec<(String, Option<String>)> = vec![
            ("A".into(), Some("1".into())),
            ("B".into(), Some("two words".into())),
            ("C".into(), Some("lit $X # not a comment".into())),
            ("D".into(), Some("line\nnext \"q\"".into())),
            ("E".into(), Some("x".into())),
            ("F".into(), Some(String::new())),
            ("G".into(), None),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn broken_lines_name_the_line() {
        assert_eq!(parse("A=1\nB=\"open\n").unwrap_err(), "line 2: unterminated double quote");
        assert_eq!(parse("not a pair\n").unwrap_err(), "line 1: \"not a pair\" is not KEY=VALUE");
    }
}
