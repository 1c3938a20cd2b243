//! The string form of `command` and `entrypoint`, split into words the way
//! Compose does (shell quoting rules, no expansion): spaces separate words,
//! single quotes keep everything literal, double quotes allow `\"`, `\\`,
//! `\$` and `` \` `` escapes, and a backslash outside quotes escapes the next
//! character.

/// The words of `text`, or why it cannot be split (an open quote).
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in \"{text}\"")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some('\n') => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err(format!("unterminated double quote in \"{text}\"")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in \"{text}\"")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_like_words() {
        assert_eq!(
            split("bundle exec puma -C config/puma.rb").unwrap(),
            ["bundle", "exec", "puma", "-C", "config/puma.rb"]
        );
        assert_eq!(
            split(r#"sh -c "/entrypoint.sh db createdb && /entrypoint.sh run""#).unwrap(),
            ["sh", "-c", "/entrypoint.sh db createdb && /entrypoint.sh run"]
        );
        assert_eq!(
            split("-c 'mkdir -p /data/langfuse && minio server --address \":9000\" /data'")
                .unwrap(),
            ["-c", "mkdir -p /data/langfuse && minio server --address \":9000\" /data"]
        );
        assert_eq!(
            split(r#"echo "a \"b\" \$c \n" x\ y ''"#).unwrap(),
            ["echo", "a \"b\" $c \\n", "x y", ""]
        );
        assert_eq!(
            split("  \n valkey-server\n  --maxmemory 256mb\n").unwrap(),
            ["valkey-server", "--maxmemory", "256mb"]
        );
        assert!(split("").unwrap().is_empty());
    }

    #[test]
    fn open_quotes_are_errors() {
        assert_eq!(
            split("sh -c 'echo").unwrap_err(),
            "unterminated single quote in \"sh -c 'echo\""
        );
        assert!(split("sh -c \"echo").is_err());
    }
}
