//! The AWS Query protocol (ELBv2): form bodies in, XML answers out.
//!
//! A request is `Action=Op&Version=V&Name=x&Names.member.1=a&Tags.member.1.Key=k`
//! (what botocore's `QuerySerializer` sends): `X.member.N` is the N-th element
//! of list `X`, other dots nest structures, `X=` is an empty list. [`parse`]
//! builds that tree (leaves are strings) and reads it into the operation's
//! serde shape; the shape's types say which strings are numbers or booleans.
//! An answer is the output shape as XML inside
//! `<OpResponse xmlns=..><OpResult>..</OpResult><ResponseMetadata>..`, lists
//! as `<member>` elements; an error is `<ErrorResponse>` (what botocore's
//! `QueryParser` and the SDKs read).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::Value;

/// The content type of Query answers.
pub const CONTENT_TYPE: &str = "text/xml";

/// Why a form body could not be read into a shape: the member path in Query
/// spelling (`Targets.member.1.Port`) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// The member at fault, empty for the whole body.
    pub path: String,
    /// What was wrong with it.
    pub message: String,
}

/// The form's parameters as (name, value) pairs, in body order.
pub fn params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A form tree node before lists are put in order.
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
}

fn insert(node: &mut Node, path: &[&str], value: String, full: &str) -> Result<(), FormError> {
    let bad = |m: &str| FormError { path: full.to_owned(), message: m.to_owned() };
    let Some((first, rest)) = path.split_first() else {
        return match node {
            Node::Map(m) if m.is_empty() => {
                *node = Node::Leaf(value);
                Ok(())
            }
            _ => Err(bad("The parameter is given more than once")),
        };
    };
    if *first == "member" {
        let (index, rest) =
            rest.split_first().ok_or_else(|| bad("A list element needs an index"))?;
        let index: u32 = index
            .parse()
            .ok()
            .filter(|i| *i >= 1)
            .ok_or_else(|| bad("A list index must be a number from 1"))?;
        if let Node::Map(m) = node {
            if m.is_empty() {
                *node = Node::List(BTreeMap::new());
            }
        }
        let Node::List(items) = node else { return Err(bad("The parameter is not a list")) };
        let child = items.entry(index).or_insert_with(|| Node::Map(BTreeMap::new()));
        return insert(child, rest, value, full);
    }
    let Node::Map(m) = node else { return Err(bad("The parameter is not a structure")) };
    let child = m.entry((*first).to_owned()).or_insert_with(|| Node::Map(BTreeMap::new()));
    insert(child, rest, value, full)
}

fn to_value(node: Node) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::Map(m) => Value::Object(m.into_iter().map(|(k, v)| (k, to_value(v))).collect()),
        Node::List(items) => Value::Array(items.into_values().map(to_value).collect()),
    }
}

/// Builds the tree of a request's parameters (all but `Action` and `Version`).
pub fn tree(params: &[(String, String)]) -> Result<Value, FormError> {
    let mut root = Node::Map(BTreeMap::new());
    for (k, v) in params {
        if k == "Action" || k == "Version" {
            continue;
        }
        let path: Vec<&str> = k.split('.').collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(FormError {
                path: k.clone(),
                message: "The parameter name is not valid".into(),
            });
        }
        insert(&mut root, &path, v.clone(), k)?;
    }
    Ok(to_value(root))
}

/// Reads a parameter tree into an operation's input shape.
pub fn parse<T: DeserializeOwned>(tree: &Value) -> Result<T, FormError> {
    serde_path_to_error::deserialize(Form(tree)).map_err(|e| {
        let path = query_path(&e.path().to_string());
        FormError { path, message: e.into_inner().to_string() }
    })
}

/// serde's path (`Targets[0].Port`) in Query spelling (`Targets.member.1.Port`).
fn query_path(serde: &str) -> String {
    if serde == "." {
        return String::new();
    }
    let mut out = String::with_capacity(serde.len() + 8);
    let mut rest = serde;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find(']') else { break };
        let n: usize = rest[i + 1..i + j].parse().unwrap_or(0);
        out.push_str(&format!(".member.{}", n + 1));
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

/// A deserializer over a form tree whose leaves are strings.
struct Form<'a>(&'a Value);

#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

impl<'a> Form<'a> {
    fn text(&self) -> Result<&'a str, Error> {
        match self.0 {
            Value::String(s) => Ok(s),
            Value::Array(_) => Err(Error("A list was given where a single value belongs".into())),
            _ => Err(Error("A structure was given where a single value belongs".into())),
        }
    }

    fn number<N: std::str::FromStr>(&self, what: &str) -> Result<N, Error> {
        let s = self.text()?;
        s.trim().parse().map_err(|_| Error(format!("Value '{s}' is not a valid {what}")))
    }
}

macro_rules! numbers {
    ($($method:ident => $visit:ident, $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            v.$visit(self.number::<$ty>($what)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Form<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => v.visit_borrowed_str(s),
            Value::Array(items) => v.visit_seq(Seq(items.iter())),
            Value::Object(m) => v.visit_map(Map { it: m.iter(), value: None }),
            _ => v.visit_unit(),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.text()? {
            "true" => v.visit_bool(true),
            "false" => v.visit_bool(false),
            s => Err(Error(format!("Value '{s}' is not a valid boolean"))),
        }
    }

    numbers! {
        deserialize_i8 => visit_i8, i8, "integer";
        deserialize_i16 => visit_i16, i16, "integer";
        deserialize_i32 => visit_i32, i32, "integer";
        deserialize_i64 => visit_i64, i64, "long";
        deserialize_u8 => visit_u8, u8, "integer";
        deserialize_u16 => visit_u16, u16, "integer";
        deserialize_u32 => visit_u32, u32, "integer";
        deserialize_u64 => visit_u64, u64, "long";
        deserialize_f32 => visit_f32, f32, "number";
        deserialize_f64 => visit_f64, f64, "number";
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => v.visit_seq(Seq(items.iter())),
            // `Names=` is how botocore sends an empty list.
            Value::String(s) if s.is_empty() => v.visit_seq(Seq([].iter())),
            _ => Err(Error("A list was expected (X.member.N)".into())),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(m) => v.visit_map(Map { it: m.iter(), value: None }),
            _ => Err(Error("A structure was expected (X.Member)".into())),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct tuple tuple_struct enum identifier
    }
}

struct Seq<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|v| seed.deserialize(Form(v))).transpose()
    }
}

struct Map<'a, I: Iterator<Item = (&'a String, &'a Value)>> {
    it: I,
    value: Option<&'a Value>,
}

impl<'de, I: Iterator<Item = (&'de String, &'de Value)>> MapAccess<'de> for Map<'de, I> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let v = self.value.take().ok_or_else(|| Error("a value without a key".into()))?;
        seed.deserialize(Form(v))
    }
}

/// Appends `s` with XML's special characters escaped.
pub(crate) fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Writes one value as the element `name`: structures as child elements,
/// lists as `<member>` elements, absent members not at all.
fn element(out: &mut String, name: &str, v: &Value) {
    if v.is_null() {
        return;
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    children(out, v);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn children(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => escape(out, s),
        Value::Array(items) => items.iter().for_each(|i| element(out, "member", i)),
        Value::Object(m) => m.iter().for_each(|(k, v)| element(out, k, v)),
    }
}

/// An operation's answer: its output shape as the Query XML document.
pub fn answer<T: Serialize>(
    op: &str,
    namespace: &str,
    request_id: &str,
    output: &T,
) -> Result<String, serde_json::Error> {
    let v = serde_json::to_value(output)?;
    let mut out = String::with_capacity(512);
    out.push_str(&format!("<{op}Response xmlns=\"{namespace}\"><{op}Result>"));
    children(&mut out, &v);
    out.push_str(&format!("</{op}Result><ResponseMetadata><RequestId>"));
    escape(&mut out, request_id);
    out.push_str(&format!("</RequestId></ResponseMetadata></{op}Response>"));
    Ok(out)
}

/// The Query error document.
pub fn error_document(
    namespace: &str,
    fault: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> String {
    let mut out = format!("<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{fault}</Type><Code>");
    escape(&mut out, code);
    out.push_str("</Code><Message>");
    escape(&mut out, message);
    out.push_str("</Message></Error><RequestId>");
    escape(&mut out, request_id);
    out.push_str("</RequestId></ErrorResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct T {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        port: Option<i32>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        enabled: Option<bool>,
        #[serde(default)]
        names: Option<Vec<String>>,
        #[serde(default)]
        targets: Option<Vec<T>>,
    }

    fn read(body: &str) -> Result<Req, FormError> {
        parse(&tree(&params(body.as_bytes()))?)
    }

    #[test]
    fn lists_structures_and_typed_scalars() {
        let r = read(
            "Action=X&Version=1&Name=a%20b&Enabled=true&Names.member.2=y&Names.member.1=x&\
             Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=80",
        )
        .unwrap();
        assert_eq!(r.name.as_deref(), Some("a b"));
        assert_eq!(r.enabled, Some(true));
        assert_eq!(r.names, Some(vec!["x".into(), "y".into()]));
        assert_eq!(r.targets, Some(vec![T { id: Some("10.0.0.1".into()), port: Some(80) }]));
        assert_eq!(read("Names=").unwrap().names, Some(vec![]));
    }

    #[test]
    fn a_bad_scalar_names_its_member_in_query_spelling() {
        let e = read("Targets.member.1.Port=eighty").unwrap_err();
        assert_eq!(e.path, "Targets.member.1.Port");
        assert!(e.message.contains("'eighty'"), "{}", e.message);
        assert!(read("Name=a&Name=b").is_err());
    }

    #[test]
    fn answers_are_query_xml() {
        let r = Req {
            name: Some("a<b".into()),
            enabled: None,
            names: Some(vec!["x".into()]),
            targets: None,
        };
        let xml = answer("Op", "ns", "rid", &r).unwrap();
        assert_eq!(
            xml,
            "<OpResponse xmlns=\"ns\"><OpResult><Name>a&lt;b</Name><Names><member>x</member></Names>\
             </OpResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></OpResponse>"
        );
    }
}
