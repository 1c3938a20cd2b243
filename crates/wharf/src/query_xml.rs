//! Reads a Query-protocol (ELBv2) XML answer into JSON, the way the CLI's
//! other answers arrive: elements become fields, `<member>` lists become
//! arrays, text becomes strings (numbers and booleans stay strings, as the
//! XML has no types), empty elements become `null`; EC2's `<item>` lists
//! become arrays too. Enough XML for what a
//! Query service writes (elements, attributes, entities, a prolog), not a
//! general parser.

use serde_json::{Map, Value};

/// The document's root element, as `(name, value)`.
pub fn parse(xml: &str) -> anyhow::Result<(String, Value)> {
    let mut reader = Reader { s: xml, at: 0 };
    reader.skip_prolog();
    let (name, value) = reader.element()?;
    Ok((name, value))
}

struct Reader<'a> {
    s: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.s[self.at..]
    }

    fn fail<T>(&self, what: &'static str) -> anyhow::Result<T> {
        anyhow::bail!("unreadable XML answer at byte {}: {what}", self.at)
    }

    fn skip_whitespace(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.s.len() - trimmed.len();
    }

    /// Skips `<?xml ...?>` and comments before the root.
    fn skip_prolog(&mut self) {
        loop {
            self.skip_whitespace();
            let end = if self.rest().starts_with("<?") {
                self.rest().find("?>").map(|i| i + 2)
            } else if self.rest().starts_with("<!--") {
                self.rest().find("-->").map(|i| i + 3)
            } else {
                return;
            };
            match end {
                Some(n) => self.at += n,
                None => return,
            }
        }
    }

    /// One element starting at `<`: its name and value.
    fn element(&mut self) -> anyhow::Result<(String, Value)> {
        if !self.rest().starts_with('<') {
            return self.fail("expected an element");
        }
        let Some(close) = self.rest().find('>') else { return self.fail("unclosed tag") };
        let tag = &self.rest()[1..close];
        let self_closing = tag.ends_with('/');
        let name = tag.trim_end_matches('/').split_whitespace().next().unwrap_or("").to_owned();
        if name.is_empty() {
            return self.fail("an element without a name");
        }
        self.at += close + 1;
        if self_closing {
            return Ok((name, Value::Null));
        }
        let mut text = String::new();
        let mut children: Vec<(String, Value)> = Vec::new();
        loop {
            let Some(lt) = self.rest().find('<') else { return self.fail("unclosed element") };
            text.push_str(&unescape(&self.rest()[..lt]));
            self.at += lt;
            if self.rest().starts_with("</") {
                let Some(end) = self.rest().find('>') else { return self.fail("unclosed tag") };
                if self.rest()[2..end].trim() != name {
                    return self.fail("mismatched closing tag");
                }
                self.at += end + 1;
                break;
            }
            if self.rest().starts_with("<!--") {
                let Some(end) = self.rest().find("-->") else {
                    return self.fail("unclosed comment");
                };
                self.at += end + 3;
                continue;
            }
            children.push(self.element()?);
        }
        let value = if children.is_empty() {
            if text.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            }
        } else if children.iter().all(|(n, _)| n == "member" || n == "item") {
            Value::Array(children.into_iter().map(|(_, v)| v).collect())
        } else {
            Value::Object(children.into_iter().collect::<Map<String, Value>>())
        };
        Ok((name, value))
    }
}

/// Text with XML's entities replaced (`&amp;`, `&lt;`, `&#xD;`, ...).
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_answer_with_lists_structures_and_entities() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
            <DescribeTargetHealthResult><TargetHealthDescriptions>
              <member><Target><Id>i-1</Id><Port>80</Port></Target>
                <TargetHealth><State>unhealthy</State><Description>a &amp; b &lt;c&gt;&#xD;</Description></TargetHealth></member>
              <member><Target><Id>i-2</Id></Target><TargetHealth/></member>
            </TargetHealthDescriptions></DescribeTargetHealthResult>
            <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTargetHealthResponse>"#;
        let (name, v) = parse(xml).unwrap();
        assert_eq!(name, "DescribeTargetHealthResponse");
        let list = &v["DescribeTargetHealthResult"]["TargetHealthDescriptions"];
        assert_eq!(
            list,
            &json!([
                {"Target": {"Id": "i-1", "Port": "80"},
                 "TargetHealth": {"State": "unhealthy", "Description": "a & b <c>\r"}},
                {"Target": {"Id": "i-2"}, "TargetHealth": null}
            ])
        );
    }

    #[test]
    fn an_empty_list_is_null() {
        let (_, v) = parse("<R><Result><Items></Items></Result></R>").unwrap();
        assert_eq!(v, json!({"Result": {"Items": null}}));
    }

    #[test]
    fn broken_documents_are_errors_not_panics() {
        for xml in ["", "<", "<a>", "<a></b>", "<a><b></a>", "text", "<>x</>"] {
            assert!(parse(xml).is_err(), "{xml:?}");
        }
        assert_eq!(unescape("a &bogus; &amp"), "a &bogus; &amp");
    }
}
