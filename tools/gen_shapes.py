#!/usr/bin/env python3
"""Generate Wharf's wire types from an AWS service model.

The AWS SDKs are generated from the service models that ship inside the
`botocore` package; Wharf generates its serde types from the same files, so
every member of every shape round-trips exactly as the SDKs send it.

Usage: python3 tools/gen_shapes.py ecs 2014-11-13 crates/wharf-model/src/ecs/shapes.rs
       python3 tools/gen_shapes.py ssm 2014-11-06 out.rs --ops GetParameter,PutParameter
       python3 tools/gen_shapes.py elbv2 2015-12-01 out.rs --ops CreateLoadBalancer,...

With `--ops`, only those operations and the shapes their inputs and outputs
reach are emitted (`OPERATIONS` lists just those operations; `EXCEPTIONS`
still lists every exception the model declares). Large models such as SSM's
would otherwise add tens of thousands of lines that Wharf never reads, and
compile time matters.

Query-protocol models (ELBv2) are recognised by their `metadata.protocol`:
member names are already PascalCase and kept as the model spells them,
timestamps are `IsoTimestamp` (ISO 8601 text, as Query answers carry them),
and `ERRORS` lists each exception's wire code and HTTP status, which Query
services declare in the model and which differ from the shape names.

Members the model types as plain strings but that hold ECS's status vocabulary
(a task's `lastStatus`, a service's `status`, ...) are given the types of
`wharf_model::ecs::status` instead (`VOCABULARY` below), or an enum the model
declares elsewhere (a task's `desiredStatus` is a `DesiredStatus`), so that
statuses are compared as values everywhere.

Requires `pip install botocore`. The output is committed; regenerate it when
the model is updated and review the diff.
"""
import gzip
import json
import os
import re
import sys

RUST_KEYWORDS = {
    "type", "match", "ref", "self", "super", "crate", "mod", "fn", "impl", "trait",
    "struct", "enum", "loop", "move", "mut", "pub", "return", "static", "use",
    "where", "while", "as", "break", "const", "continue", "else", "extern", "false",
    "for", "if", "in", "let", "true", "unsafe", "async", "await", "dyn", "box",
}


# (shape, member) -> type, per service: string members that hold a closed
# vocabulary. Types not generated here come from `super::status`.
VOCABULARY = {
    "ecs": {
        ("Task", "lastStatus"): "TaskStatus",
        ("Task", "desiredStatus"): "DesiredStatus",
        ("Container", "lastStatus"): "ContainerLastStatus",
        ("Service", "status"): "ServiceStatus",
        ("Deployment", "status"): "DeploymentStatus",
        ("TaskSet", "status"): "TaskSetStatus",
        ("ContainerInstance", "status"): "InstanceStatus",
        ("Cluster", "status"): "ClusterStatus",
        ("Attachment", "status"): "AttachmentStatus",
    },
}


def load_model(service, version):
    import botocore  # noqa: PLC0415

    base = os.path.join(os.path.dirname(botocore.__file__), "data", service, version)
    path = os.path.join(base, "service-2.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    with gzip.open(path + ".gz") as f:
        return json.load(f)


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = s.replace("-", "_").lower()
    return "r#" + s if s in RUST_KEYWORDS else s


def variant(value):
    parts = re.split(r"[^A-Za-z0-9]+", value)
    out = "".join(p[:1].upper() + p[1:].lower() if p.isupper() or p.islower() else p[:1].upper() + p[1:] for p in parts if p)
    if not out or out[0].isdigit():
        out = "V" + out
    return out


def doc_line(doc, fallback):
    if not doc:
        return fallback
    text = re.sub(r"<[^>]+>", "", doc)
    text = re.sub(r"\s+", " ", text).strip()
    # First sentence, kept short.
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    first = m.group(1) if m else text
    if len(first) > 200:
        first = first[:197].rsplit(" ", 1)[0] + "..."
    return first.replace("[", "\\[").replace("]", "\\]") or fallback


def reachable(shapes, roots):
    """Every shape name reachable from `roots` through members, lists and maps."""
    seen = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        s = shapes[name]
        if s["type"] == "structure":
            stack.extend(m["shape"] for m in s.get("members", {}).values())
        elif s["type"] == "list":
            stack.append(s["member"]["shape"])
        elif s["type"] == "map":
            stack.extend([s["key"]["shape"], s["value"]["shape"]])
    return seen


def parse_args(argv):
    args = list(argv)
    ops = None
    if "--ops" in args:
        i = args.index("--ops")
        if i + 1 >= len(args):
            raise SystemExit("--ops needs a comma-separated list of operation names")
        ops = [o.strip() for o in args[i + 1].split(",") if o.strip()]
        del args[i : i + 2]
    if len(args) != 3:
        raise SystemExit(__doc__)
    return args[0], args[1], args[2], ops


def main():
    service, version, out_path, only_ops = parse_args(sys.argv[1:])
    model = load_model(service, version)
    shapes = model["shapes"]
    meta = model["metadata"]
    query = meta.get("protocol") == "query"
    if only_ops is not None:
        unknown = [o for o in only_ops if o not in model["operations"]]
        if unknown:
            raise SystemExit("unknown operations: %s" % ", ".join(unknown))
        model["operations"] = {o: model["operations"][o] for o in only_ops}
        roots = []
        for op in model["operations"].values():
            for io in ("input", "output"):
                if io in op:
                    roots.append(op[io]["shape"])
        keep = reachable(shapes, roots)
        shapes = {n: s for n, s in shapes.items() if n in keep or s.get("exception")}

    def rust_type(shape_name):
        s = shapes[shape_name]
        t = s["type"]
        if t == "structure":
            return shape_name
        if t == "string":
            return shape_name if "enum" in s else "String"
        if t == "integer":
            return "i32"
        if t == "long":
            return "i64"
        if t == "double":
            return "f64"
        if t == "boolean":
            return "bool"
        if t == "timestamp":
            return "IsoTimestamp" if query else "Timestamp"
        if t == "blob":
            return "String"
        if t == "list":
            return "Vec<%s>" % rust_type(s["member"]["shape"])
        if t == "map":
            return "BTreeMap<String, %s>" % rust_type(s["value"]["shape"])
        raise SystemExit("unsupported shape type %s for %s" % (t, shape_name))

    # Structures that reach themselves need a Box somewhere on the cycle.
    def struct_deps(name):
        s = shapes[name]
        out = []
        stack = [m["shape"] for m in s.get("members", {}).values()]
        while stack:
            n = stack.pop()
            ss = shapes[n]
            if ss["type"] == "structure":
                out.append(n)
            elif ss["type"] == "list":
                stack.append(ss["member"]["shape"])
            elif ss["type"] == "map":
                stack.append(ss["value"]["shape"])
        return out

    def reaches(start, target, seen):
        for d in struct_deps(start):
            if d == target:
                return True
            if d not in seen:
                seen.add(d)
                if reaches(d, target, seen):
                    return True
        return False

    lines = []
    w = lines.append
    w("// @generated by tools/gen_shapes.py from botocore's %s %s model. Do not edit." % (service, version))
    if only_ops is not None:
        w("// Only the shapes reachable from: %s." % ", ".join(sorted(only_ops)))
    w("//! Wire shapes of %s (%s), one Rust type per model shape." % (meta.get("serviceFullName", service), meta["apiVersion"]))
    w("//!")
    w("//! Every member is optional here, whatever the model says, so that a request")
    w("//! missing a required member reaches validation and gets the service's own")
    w("//! error message instead of a serde error. Members absent on input stay absent")
    if query:
        w("//! on output. Unknown members are ignored, as AWS Query services ignore them.")
    else:
        w("//! on output. Unknown members are ignored, as AWS JSON services ignore them.")
    w("#![allow(clippy::large_enum_variant, clippy::doc_markdown)]")
    w("")
    w("use std::collections::BTreeMap;")
    w("")
    w("use serde::{Deserialize, Serialize};")
    w("")
    vocabulary = VOCABULARY.get(service, {})
    imported = sorted({t for t in vocabulary.values() if t not in shapes})
    if imported:
        w("use super::status::{%s};" % ", ".join(imported))
    w("use crate::wire::{%s};" % ("IsoTimestamp, Shape" if query else "Shape, Timestamp"))
    w("")

    ops = model["operations"]
    w("/// Every operation of the service: (name, input shape, output shape).")
    w("pub const OPERATIONS: &[(&str, &str, &str)] = &[")
    for name in sorted(ops):
        op = ops[name]
        w('    ("%s", "%s", "%s"),' % (name, op.get("input", {}).get("shape", ""), op.get("output", {}).get("shape", "")))
    w("];")
    w("")
    w("/// The exceptions the model declares, by wire name.")
    w("pub const EXCEPTIONS: &[&str] = &[")
    for name in sorted(n for n, s in shapes.items() if s.get("exception")):
        w('    "%s",' % name)
    w("];")
    w("")
    if query:
        w("/// Each exception's (shape name, wire code, HTTP status), from the model.")
        w("pub const ERRORS: &[(&str, &str, u16)] = &[")
        for name in sorted(n for n, s in shapes.items() if s.get("exception")):
            err = shapes[name].get("error", {})
            w('    ("%s", "%s", %d),' % (name, err.get("code", name), err.get("httpStatusCode", 400)))
        w("];")
        w("")

    for name in sorted(shapes):
        s = shapes[name]
        if s["type"] == "string" and "enum" in s:
            values = s["enum"]
            variants = []
            used = set()
            for v in values:
                vn = variant(v)
                while vn in used:
                    vn += "_"
                used.add(vn)
                variants.append((vn, v))
            w("/// %s" % doc_line(s.get("documentation"), "Values of `%s`." % name))
            w("#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]")
            w("pub enum %s {" % name)
            for vn, v in variants:
                w('    /// `%s`' % v)
                w("    %s," % vn)
            w("    /// A value the model does not list, kept verbatim so validation can name it.")
            w("    Unlisted(String),")
            w("}")
            w("")
            w("impl %s {" % name)
            w("    /// Every value the model lists, in model order.")
            w("    pub const VALUES: &'static [&'static str] = &[%s];" % ", ".join('"%s"' % v for _, v in variants))
            w("")
            w("    /// The wire spelling of this value.")
            w("    pub fn as_str(&self) -> &str {")
            w("        match self {")
            for vn, v in variants:
                w('            Self::%s => "%s",' % (vn, v))
            w("            Self::Unlisted(s) => s,")
            w("        }")
            w("    }")
            w("")
            w("    /// Whether this is one of the values the model lists.")
            w("    pub fn is_known(&self) -> bool {")
            w("        !matches!(self, Self::Unlisted(_))")
            w("    }")
            w("}")
            w("")
            w("impl From<&str> for %s {" % name)
            w("    fn from(s: &str) -> Self {")
            w("        match s {")
            for vn, v in variants:
                w('            "%s" => Self::%s,' % (v, vn))
            w("            other => Self::Unlisted(other.to_owned()),")
            w("        }")
            w("    }")
            w("}")
            w("")
            w("impl std::fmt::Display for %s {" % name)
            w("    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {")
            w("        f.write_str(self.as_str())")
            w("    }")
            w("}")
            w("")
            w("impl Serialize for %s {" % name)
            w("    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {")
            w("        s.serialize_str(self.as_str())")
            w("    }")
            w("}")
            w("")
            w("impl<'de> Deserialize<'de> for %s {" % name)
            w("    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {")
            w("        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;")
            w("        Ok(Self::from(s.as_ref()))")
            w("    }")
            w("}")
            w("")
        elif s["type"] == "structure":
            if s.get("exception"):
                continue
            members = s.get("members", {})
            w("/// %s" % doc_line(s.get("documentation"), "The `%s` shape." % name))
            w("#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]")
            w("pub struct %s {" % name)
            for mname, m in members.items():
                ty = vocabulary.get((name, mname)) or rust_type(m["shape"])
                target = shapes[m["shape"]]
                if target["type"] == "structure" and (m["shape"] == name or reaches(m["shape"], name, set())):
                    ty = "Box<%s>" % ty
                w("    /// %s" % doc_line(m.get("documentation"), "`%s`." % mname))
                field = snake(mname)
                plain = field[2:] if field.startswith("r#") else field
                if plain != mname:
                    w('    #[serde(rename = "%s", default, skip_serializing_if = "Option::is_none")]' % mname)
                else:
                    w('    #[serde(default, skip_serializing_if = "Option::is_none")]')
                w("    pub %s: Option<%s>," % (field, ty))
            w("}")
            w("")
            w("impl Shape for %s {" % name)
            w('    const NAME: &\'static str = "%s";' % name)
            w("    const MEMBERS: &'static [&'static str] = &[%s];" % ", ".join('"%s"' % k for k in members))
            w("    const REQUIRED: &'static [&'static str] = &[%s];" % ", ".join('"%s"' % k for k in s.get("required", [])))
            w("}")
            w("")

    if not any("BTreeMap<" in line for line in lines):
        lines.remove("use std::collections::BTreeMap;")
        lines.remove("")  # the blank line after it
    timestamps = "use crate::wire::{Shape, Timestamp};"
    unused = not any(re.search(r"\bTimestamp\b", line) for line in lines if not line.lstrip().startswith(("use ", "//")))
    if unused and timestamps in lines:  # Query models import IsoTimestamp instead
        lines[lines.index(timestamps)] = "use crate::wire::Shape;"

    with open(out_path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
