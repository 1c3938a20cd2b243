//! Keys: how Wharf's records are named in etcd, and in the cache.
//!
//! A record is named by a tuple of components: its table, then what it is
//! found by (`["task", region, cluster, id]`). In etcd the tuple is written
//! readably under the store's root, components separated by `/` with `%`
//! and `/` escaped inside them (`wharf/s/task/us-east-1/default/4f1c...`).
//! In the cache the same tuple is one string whose components are joined by
//! NUL, so that string order is tuple order (the order SQLite's indexes
//! give): a table scan in the cache is a range scan, and `ab` sorts before
//! `ab-c` as it must.
//!
//! The full layout is in `docs/etcd.md`.

/// The separator of components in a cache key; sorts below everything.
const SEP: char = '\0';

/// Appends a component to a cache key, escaping the two characters that
/// would break tuple order: NUL becomes `\x01\x01`, `\x01` becomes
/// `\x01\x02` (order preserving, and above the separator).
fn push_component(out: &mut String, part: &str) {
    if part.bytes().any(|b| b <= 1) {
        for c in part.chars() {
            match c {
                '\0' => out.push_str("\x01\x01"),
                '\x01' => out.push_str("\x01\x02"),
                c => out.push(c),
            }
        }
    } else {
        out.push_str(part);
    }
}

fn unescape_component(part: &str) -> String {
    if !part.contains('\x01') {
        return part.to_owned();
    }
    let mut out = String::with_capacity(part.len());
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        if c == '\x01' {
            match chars.next() {
                Some('\x01') => out.push('\0'),
                Some(_) => out.push('\x01'),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The cache key of a tuple.
pub(crate) fn key(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        push_component(&mut out, p);
    }
    out
}

/// The cache key prefix of every tuple that starts with `parts`.
pub(crate) fn prefix(parts: &[&str]) -> String {
    let mut out = key(parts);
    out.push(SEP);
    out
}

/// The components of a cache key.
pub(crate) fn parts(key: &str) -> Vec<String> {
    key.split(SEP).map(unescape_component).collect()
}

/// The last component of a cache key.
pub(crate) fn last(key: &str) -> String {
    unescape_component(key.rsplit(SEP).next().unwrap_or(key))
}

/// Escapes a component for an etcd key.
fn escape_etcd(part: &str, out: &mut String) {
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
}

/// The etcd key of a cache key under `root` (`wharf/s`).
pub(crate) fn to_etcd(root: &str, key: &str) -> Vec<u8> {
    let mut out = String::with_capacity(root.len() + key.len() + 8);
    out.push_str(root);
    for part in parts(key) {
        out.push('/');
        escape_etcd(&part, &mut out);
    }
    out.into_bytes()
}

/// The etcd key range `[start, end)` holding every key under a cache
/// prefix (as made by [`prefix`]) below `root`.
pub(crate) fn etcd_range(root: &str, prefix: &str) -> (Vec<u8>, Vec<u8>) {
    let trimmed = prefix.strip_suffix(SEP).unwrap_or(prefix);
    let mut start =
        if trimmed.is_empty() { root.as_bytes().to_vec() } else { to_etcd(root, trimmed) };
    start.push(b'/');
    let end = range_end(&start);
    (start, end)
}

/// The end of the range of every key starting with `start`.
pub(crate) fn range_end(start: &[u8]) -> Vec<u8> {
    let mut end = start.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff: the range runs to the end of the keyspace.
    vec![0]
}

/// The cache key of an etcd key under `root`, if it is one.
pub(crate) fn from_etcd(root: &str, raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let rest = text.strip_prefix(root)?.strip_prefix('/')?;
    let mut out = String::with_capacity(rest.len());
    for (i, part) in rest.split('/').enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        let decoded = percent_decode(part)?;
        push_component(&mut out, &decoded);
    }
    Some(out)
}

/// `part` with its `%XX` escapes decoded; none if an escape is broken or
/// the result is not UTF-8. (Also `grpc-message`'s encoding.)
pub(crate) fn percent_decode(part: &str) -> Option<String> {
    if !part.contains('%') {
        return Some(part.to_owned());
    }
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = part.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A revision number as a fixed-width component, so that text order is
/// numeric order.
pub(crate) fn number(n: i64) -> String {
    format!("{n:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_order_is_string_order() {
        let mut keys = [key(&["td", "r", "ab-c", "1"]), key(&["td", "r", "ab", "2"])];
        keys.sort();
        assert_eq!(parts(&keys[0]), ["td", "r", "ab", "2"]);
        assert!(key(&["t", "a\0b"]) > key(&["t", "a"]));
        assert!(key(&["t", "a\0b"]) < key(&["t", "a\x01"]));
        assert_eq!(parts(&key(&["x", "a\0b\x01c"])), ["x", "a\0b\x01c"]);
    }

    #[test]
    fn etcd_keys_are_readable_and_round_trip() {
        let k = key(&["doc", "ssm-parameter", "us-east-1", "/app/db%1"]);
        let raw = to_etcd("wharf/s", &k);
        assert_eq!(raw, b"wharf/s/doc/ssm-parameter/us-east-1/%2Fapp%2Fdb%251");
        assert_eq!(from_etcd("wharf/s", &raw).unwrap(), k);
        assert_eq!(from_etcd("wharf/s", b"other/doc"), None);
        let (start, end) = etcd_range("wharf/s", &prefix(&["task", "r"]));
        assert_eq!(start, b"wharf/s/task/r/");
        assert_eq!(end, b"wharf/s/task/r0");
        assert_eq!(etcd_range("wharf/s", "").0, b"wharf/s/");
        assert_eq!(last(&k), "/app/db%1");
    }
}
