//! EC2's flavour of the Query protocol: flattened lists in (`VpcId.1`,
//! `Filter.1.Name`, `Filter.1.Value.1`), XML out with `<requestId>` first,
//! lists as `<item>` elements and lowerCamel element names, and errors as
//! `<Response><Errors><Error>` (what botocore's `EC2Parser` reads).

use std::collections::BTreeMap;

use wharf_model::ec2::{Ec2Error, Tag, XML_NAMESPACE};

use crate::query::escape;

/// A request's parameters (or those under one list element).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The parameters of a form body.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// One parameter's value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub(crate) fn required(&self, name: &str) -> Result<&str, Ec2Error> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| Ec2Error::missing(name))
    }

    /// A boolean parameter (`true`/`false`).
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, Ec2Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(Ec2Error::invalid_value(format!(
                "Value ({v}) for parameter {name} is invalid. Expected: 'true' or 'false'."
            ))),
        }
    }

    /// An integer parameter.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i32>, Ec2Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Ec2Error::invalid_value(format!(
                    "Value ({v}) for parameter {name} is invalid. Expected an integer."
                ))
            }),
        }
    }

    /// The elements of flattened list `prefix` (`prefix.1`, `prefix.2`, ...)
    /// in index order: each element's parameters with `prefix.N.` taken off
    /// (a scalar element is under the empty name).
    pub(crate) fn elements(&self, prefix: &str) -> Vec<Params> {
        let mut by_index: BTreeMap<u32, Params> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let (index, inner) = rest.split_once('.').unwrap_or((rest, ""));
            let Ok(index) = index.parse::<u32>() else { continue };
            by_index.entry(index).or_default().pairs.push((inner.to_owned(), v.clone()));
        }
        by_index.into_values().collect()
    }

    /// The values of flattened scalar list `prefix`.
    pub(crate) fn list(&self, prefix: &str) -> Vec<String> {
        self.elements(prefix).into_iter().filter_map(|p| p.get("").map(str::to_owned)).collect()
    }

    /// `DryRun=true` answers `DryRunOperation` once the call is known good.
    pub(crate) fn dry_run(&self) -> Result<bool, Ec2Error> {
        Ok(self.bool("DryRun")?.unwrap_or(false))
    }

    /// The tags of `TagSpecification.N` for `resource_type`.
    pub(crate) fn tags_for(&self, resource_type: &str) -> Result<Vec<Tag>, Ec2Error> {
        let mut tags = Vec::new();
        for spec in self.elements("TagSpecification") {
            let kind = spec.get("ResourceType").unwrap_or("");
            if kind != resource_type {
                return Err(Ec2Error::invalid_value(format!(
                    "'{kind}' is not a valid taggable resource type for this operation."
                )));
            }
            for t in spec.elements("Tag") {
                let key = t.get("Key").unwrap_or("").to_owned();
                if key.is_empty() || key.len() > 127 || key.starts_with("aws:") {
                    return Err(Ec2Error::new(
                        "InvalidParameterValue",
                        format!("Tag key '{key}' is not valid: 1 to 127 characters, not aws:."),
                    ));
                }
                tags.push(Tag { key, value: t.get("Value").unwrap_or("").to_owned() });
            }
        }
        Ok(tags)
    }

    /// The request's `Filter.N` as (name, values).
    pub(crate) fn filters(&self, prefix: &str) -> Vec<Filter> {
        self.elements(prefix)
            .into_iter()
            .map(|f| Filter {
                name: f.get("Name").unwrap_or("").to_owned(),
                values: f.list("Value"),
            })
            .collect()
    }
}

/// One `Filter`: a name and the values any of which may match (`*` and `?`
/// are wildcards).
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    name: String,
    values: Vec<String>,
}

/// Whether every filter matches a resource; `field` gives the resource's
/// values for a filter name, `None` for a name the resource has no filter of
/// (an `InvalidParameterValue`).
pub(crate) fn matches(
    filters: &[Filter],
    tags: &[Tag],
    field: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<bool, Ec2Error> {
    for f in filters {
        let values = if let Some(key) = f.name.strip_prefix("tag:") {
            tags.iter().filter(|t| t.key == key).map(|t| t.value.clone()).collect()
        } else if f.name == "tag-key" {
            tags.iter().map(|t| t.key.clone()).collect()
        } else if f.name == "tag-value" {
            tags.iter().map(|t| t.value.clone()).collect()
        } else {
            field(&f.name).ok_or_else(|| {
                Ec2Error::new(
                    "InvalidParameterValue",
                    format!("The filter '{}' is invalid", f.name),
                )
            })?
        };
        if !f.values.iter().any(|want| values.iter().any(|have| glob(want, have))) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// EC2's filter wildcards: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Pages a list sorted by id: after `NextToken`, at most `MaxResults`
/// (5 to 1000) items; the token of the next page, if any.
pub(crate) fn page<T>(
    p: &Params,
    mut items: Vec<T>,
    id: impl Fn(&T) -> &str,
) -> Result<(Vec<T>, Option<String>), Ec2Error> {
    let max = match p.int("MaxResults")? {
        None => usize::MAX,
        Some(n) if (5..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(Ec2Error::invalid_value(format!(
                "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between 5 \
                 and 1000."
            )))
        }
    };
    items.sort_by(|a, b| id(a).cmp(id(b)));
    if let Some(token) = p.get("NextToken") {
        items.retain(|i| id(i) > token);
    }
    let next = (items.len() > max).then(|| id(&items[max - 1]).to_owned());
    items.truncate(max);
    Ok((items, next))
}

/// An EC2 answer document being written.
#[derive(Debug)]
pub(crate) struct Xml {
    out: String,
    op: String,
}

impl Xml {
    /// Opens `<OpResponse>` with its `<requestId>`.
    pub(crate) fn new(op: &str, request_id: &str) -> Self {
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response xmlns=\"{XML_NAMESPACE}\"><requestId>"
        );
        escape(&mut out, request_id);
        out.push_str("</requestId>");
        Self { out, op: op.to_owned() }
    }

    /// `<name>value</name>`.
    pub(crate) fn leaf(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        escape(&mut self.out, value);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>` when the value is there.
    pub(crate) fn opt(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.leaf(name, v);
        }
        self
    }

    /// Opens `<name>`.
    pub(crate) fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes `</name>`.
    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// A `tagSet`.
    pub(crate) fn tags(&mut self, tags: &[Tag]) -> &mut Self {
        self.open("tagSet");
        for t in tags {
            self.open("item").leaf("key", &t.key).leaf("value", &t.value).close("item");
        }
        self.close("tagSet")
    }

    /// `<name>` holding one item's members (CreateVpc's `<vpc>`): the item
    /// writers open `<item>`, and a single result is the same members under
    /// its own name.
    pub(crate) fn out_item(&mut self, name: &str, write: impl FnOnce(&mut Xml)) {
        let mut inner = Xml { out: String::new(), op: String::new() };
        write(&mut inner);
        let body = inner.out.strip_prefix("<item>").and_then(|b| b.strip_suffix("</item>"));
        self.open(name);
        self.out.push_str(body.unwrap_or(&inner.out));
        self.close(name);
    }

    /// Closes the document.
    pub(crate) fn finish(mut self) -> String {
        let op = std::mem::take(&mut self.op);
        self.out.push_str(&format!("</{op}Response>"));
        self.out
    }
}

/// EC2's error document.
pub(crate) fn error_document(e: &Ec2Error, request_id: &str) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>");
    escape(&mut out, &e.code);
    out.push_str("</Code><Message>");
    escape(&mut out, &e.message);
    out.push_str("</Message></Error></Errors><RequestID>");
    escape(&mut out, request_id);
    out.push_str("</RequestID></Response>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn flattened_lists_and_filters() {
        let p = params(&[
            ("VpcId.2", "vpc-b"),
            ("VpcId.1", "vpc-a"),
            ("Filter.1.Name", "tag:team"),
            ("Filter.1.Value.1", "we*"),
            ("Filter.2.Name", "is-default"),
            ("Filter.2.Value.1", "false"),
        ]);
        assert_eq!(p.list("VpcId"), ["vpc-a", "vpc-b"]);
        let filters = p.filters("Filter");
        let tags = vec![Tag { key: "team".into(), value: "web".into() }];
        let field = |name: &str| (name == "is-default").then(|| vec!["false".to_owned()]);
        assert!(matches(&filters, &tags, field).expect("known filters"));
        assert!(!matches(&filters, &[], field).expect("known filters"));
        let unknown = params(&[("Filter.1.Name", "colour"), ("Filter.1.Value.1", "x")]);
        let err = matches(&unknown.filters("Filter"), &[], field).unwrap_err();
        assert_eq!(err.message, "The filter 'colour' is invalid");
    }

    #[test]
    fn globs() {
        assert!(glob("us-east-1?", "us-east-1a"));
        assert!(glob("*", ""));
        assert!(glob("10.*.0.0/16", "10.1.0.0/16"));
        assert!(!glob("10.*", "172.31.0.0/16"));
    }

    #[test]
    fn pages_by_id() {
        let p = params(&[("MaxResults", "5")]);
        let items: Vec<String> = (0..7).map(|i| format!("vpc-{i}")).collect();
        let (first, next) = page(&p, items.clone(), |s| s.as_str()).expect("page");
        assert_eq!(first.len(), 5);
        assert_eq!(next.as_deref(), Some("vpc-4"));
        let p = params(&[("MaxResults", "5"), ("NextToken", "vpc-4")]);
        let (rest, next) = page(&p, items, |s| s.as_str()).expect("page");
        assert_eq!(rest, ["vpc-5", "vpc-6"]);
        assert_eq!(next, None);
        assert!(page(&params(&[("MaxResults", "1")]), vec!["a"], |s| s).is_err());
    }
}
