//! What changed between two task definitions, as a list of [`Change`]s with
//! readable paths (`containerDefinitions[web].image`,
//! `containerDefinitions[web].environment[LOG_LEVEL]`, `volumes[data].host.sourcePath`).
//!
//! Lists of named things are matched by their name key (containers and
//! environment variables by `name`, port mappings by `containerPort/protocol`,
//! mount points by `containerPath`, ...), so a reordered list is no change
//! and a changed element is reported field by field. Lists of name/value
//! pairs (`environment`, `secrets`, `resourceRequirements`, ...) report the
//! value itself under `list[name]`. Any other list is compared as a whole.
//! The fields that differ between any two revisions (`revision`,
//! `taskDefinitionArn`, `registeredAt`, `registeredBy`, `deregisteredAt`,
//! `status`) are left out. The comparison is exact: a field absent on one
//! side and set to its ECS default on the other is a change.
//!
//! ```
//! use serde_json::json;
//! use wharf_model::ecs::task_definition_diff::diff;
//!
//! let a = json!({"family": "web", "revision": 3, "containerDefinitions": [
//!     {"name": "web", "image": "nginx:1.26", "environment": [{"name": "LOG_LEVEL", "value": "info"}]}]});
//! let b = json!({"family": "web", "revision": 4, "containerDefinitions": [
//!     {"name": "web", "image": "nginx:1.27", "environment": [{"name": "LOG_LEVEL", "value": "debug"}]}]});
//! let paths: Vec<String> = diff(&a, &b).into_iter().map(|c| c.path).collect();
//! assert_eq!(paths, ["containerDefinitions[web].environment[LOG_LEVEL]", "containerDefinitions[web].image"]);
//! ```

use serde_json::{Map, Value};

/// One difference between two task definitions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// Where the difference is, e.g. `containerDefinitions[web].image`.
    pub path: String,
    /// The value in the first task definition; `None` when the field was added.
    pub before: Option<Value>,
    /// The value in the second task definition; `None` when the field was removed.
    pub after: Option<Value>,
}

/// Top-level fields that differ between any two revisions, so they say nothing.
const IGNORED_TOP_LEVEL: &[&str] =
    &["revision", "taskDefinitionArn", "registeredAt", "registeredBy", "deregisteredAt", "status"];

/// What changed from `a` to `b` (TaskDefinition JSON, as DescribeTaskDefinition answers), in document order.
///
/// Object fields come in the order the [`Value`]s hold them, elements of
/// matched lists in `a`'s order followed by those only in `b`.
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            diff_objects(&mut changes, "", a, b, IGNORED_TOP_LEVEL);
        }
        _ => diff_values(&mut changes, "", "", a, b),
    }
    changes
}

/// How the elements of one named list are matched.
struct ListKey {
    /// Field(s) whose values, joined by `/`, name an element; the first
    /// alternative every element has is used.
    alternatives: &'static [&'static [&'static str]],
    /// For a list of name/value pairs: the field holding the value, reported
    /// directly under `list[name]`.
    value: Option<&'static str>,
}

/// The key of each list of named things in a task definition, by field name.
fn list_key(field: &str) -> Option<ListKey> {
    let (alternatives, value): (&'static [&'static [&'static str]], Option<&'static str>) =
        match field {
            "containerDefinitions" | "volumes" | "ulimits" => (&[&["name"]], None),
            "environment" | "properties" => (&[&["name"]], Some("value")),
            "secrets" | "secretOptions" => (&[&["name"]], Some("valueFrom")),
            "portMappings" => (
                &[&["containerPort", "protocol"], &["name"], &["containerPortRange", "protocol"]],
                None,
            ),
            "mountPoints" | "tmpfs" => (&[&["containerPath"]], None),
            "volumesFrom" => (&[&["sourceContainer"]], None),
            "dependsOn" => (&[&["containerName"]], Some("condition")),
            "extraHosts" => (&[&["hostname"]], Some("ipAddress")),
            "systemControls" => (&[&["namespace"]], Some("value")),
            "resourceRequirements" => (&[&["type"]], Some("value")),
            "environmentFiles" => (&[&["value"]], None),
            "devices" => (&[&["hostPath"]], None),
            "inferenceAccelerators" => (&[&["deviceName"]], None),
            _ => return None,
        };
    Some(ListKey { alternatives, value })
}

/// Compares two objects field by field, skipping `ignored` fields.
fn diff_objects(
    out: &mut Vec<Change>,
    prefix: &str,
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    ignored: &[&str],
) {
    let only_in_b = b.keys().filter(|k| !a.contains_key(*k));
    for key in a.keys().chain(only_in_b) {
        if ignored.contains(&key.as_str()) {
            continue;
        }
        let path = join(prefix, key);
        match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) => diff_values(out, &path, key, x, y),
            (Some(x), None) => out.push(removed(path, x)),
            (None, Some(y)) => out.push(added(path, y)),
            (None, None) => {}
        }
    }
}

/// Compares two values found under `field` at `path`.
fn diff_values(out: &mut Vec<Change>, path: &str, field: &str, a: &Value, b: &Value) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => diff_objects(out, path, x, y, &[]),
        (Value::Array(x), Value::Array(y)) => match keyed(field, x, y) {
            Some((rule, keys_a, keys_b)) => diff_keyed(out, path, &rule, x, &keys_a, y, &keys_b),
            None => out.push(changed(path, a, b)),
        },
        _ => out.push(changed(path, a, b)),
    }
}

/// The matching rule and each element's key, when `field` is a list of named
/// things and every element of both lists has a unique key under one alternative.
fn keyed(field: &str, a: &[Value], b: &[Value]) -> Option<(ListKey, Vec<String>, Vec<String>)> {
    let rule = list_key(field)?;
    for fields in rule.alternatives {
        let keys_a = element_keys(fields, a);
        let keys_b = element_keys(fields, b);
        if let (Some(keys_a), Some(keys_b)) = (keys_a, keys_b) {
            return Some((rule, keys_a, keys_b));
        }
    }
    None
}

/// Every element's key made of `fields`, or `None` when one lacks it or two share it.
fn element_keys(fields: &[&str], list: &[Value]) -> Option<Vec<String>> {
    let mut keys: Vec<String> = Vec::with_capacity(list.len());
    for element in list {
        let key = element_key(fields, element)?;
        if keys.contains(&key) {
            return None;
        }
        keys.push(key);
    }
    Some(keys)
}

/// The key of one element: the first field must be present; `protocol`
/// stands for itself or its ECS default `tcp` when absent.
fn element_key(fields: &[&str], element: &Value) -> Option<String> {
    let object = element.as_object()?;
    let mut parts = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let part = match object.get(*field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            None if *field == "protocol" => "tcp".to_owned(),
            None if i > 0 => continue,
            _ => return None,
        };
        parts.push(part);
    }
    Some(parts.join("/"))
}

/// Compares two lists of named things element by element.
fn diff_keyed(
    out: &mut Vec<Change>,
    path: &str,
    rule: &ListKey,
    a: &[Value],
    keys_a: &[String],
    b: &[Value],
    keys_b: &[String],
) {
    let position = |keys: &[String], key: &String| keys.iter().position(|k| k == key);
    let only_in_b = keys_b.iter().filter(|k| !keys_a.contains(k));
    for key in keys_a.iter().chain(only_in_b) {
        let element_path = format!("{path}[{key}]");
        let x = position(keys_a, key).map(|i| &a[i]);
        let y = position(keys_b, key).map(|i| &b[i]);
        match (x, y) {
            (Some(x), Some(y)) => match (pair_value(rule, x), pair_value(rule, y)) {
                (Some(vx), Some(vy)) => {
                    if vx != vy {
                        out.push(changed(&element_path, vx, vy));
                    }
                }
                _ => diff_values(out, &element_path, "", x, y),
            },
            (Some(x), None) => out.push(removed(element_path, pair_value(rule, x).unwrap_or(x))),
            (None, Some(y)) => out.push(added(element_path, pair_value(rule, y).unwrap_or(y))),
            (None, None) => {}
        }
    }
}

/// The value of a name/value pair, when `element` is exactly a key and that value.
fn pair_value<'a>(rule: &ListKey, element: &'a Value) -> Option<&'a Value> {
    let field = rule.value?;
    let object = element.as_object()?;
    let value = object.get(field)?;
    let keys_only = object
        .keys()
        .all(|k| k == field || rule.alternatives.iter().any(|alt| alt.contains(&k.as_str())));
    keys_only.then_some(value)
}

/// `prefix.field`, or `field` at the top.
fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

fn changed(path: &str, before: &Value, after: &Value) -> Change {
    Change { path: path.to_owned(), before: Some(before.clone()), after: Some(after.clone()) }
}

fn added(path: String, after: &Value) -> Change {
    Change { path, before: None, after: Some(after.clone()) }
}

fn removed(path: String, before: &Value) -> Change {
    Change { path, before: Some(before.clone()), after: None }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn td(containers: Value) -> Value {
        json!({
            "family": "web", "revision": 3, "status": "ACTIVE",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            "registeredAt": 1.0, "containerDefinitions": containers,
        })
    }

    fn change(path: &str, before: Option<Value>, after: Option<Value>) -> Change {
        Change { path: path.to_owned(), before, after }
    }

    #[test]
    fn identical_definitions_have_no_changes() {
        let a = td(json!([{"name": "web", "image": "nginx"}]));
        assert_eq!(diff(&a, &a), []);
    }

    #[test]
    fn fields_that_differ_between_every_revision_are_ignored() {
        let a = td(json!([{"name": "web", "image": "nginx"}]));
        let b = json!({
            "family": "web", "revision": 4, "status": "INACTIVE",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4",
            "registeredAt": 2.0, "registeredBy": "arn:aws:iam::123456789012:root",
            "deregisteredAt": 3.0, "containerDefinitions": [{"name": "web", "image": "nginx"}],
        });
        assert_eq!(diff(&a, &b), []);
    }

    #[test]
    fn a_nested_status_field_is_not_ignored() {
        let a = td(json!([{"name": "web", "image": "nginx", "dockerLabels": {"status": "a"}}]));
        let b = td(json!([{"name": "web", "image": "nginx", "dockerLabels": {"status": "b"}}]));
        assert_eq!(
            diff(&a, &b),
            [change(
                "containerDefinitions[web].dockerLabels.status",
                Some(json!("a")),
                Some(json!("b"))
            )]
        );
    }

    #[test]
    fn containers_are_matched_by_name_not_position() {
        let a =
            td(json!([{"name": "web", "image": "nginx:1"}, {"name": "log", "image": "fluent"}]));
        let b =
            td(json!([{"name": "log", "image": "fluent"}, {"name": "web", "image": "nginx:2"}]));
        assert_eq!(
            diff(&a, &b),
            [change(
                "containerDefinitions[web].image",
                Some(json!("nginx:1")),
                Some(json!("nginx:2"))
            )]
        );
    }

    #[test]
    fn added_and_removed_containers_are_whole_elements() {
        let a = td(json!([{"name": "web", "image": "nginx"}, {"name": "old", "image": "x"}]));
        let b = td(json!([{"name": "web", "image": "nginx"}, {"name": "new", "image": "y"}]));
        assert_eq!(
            diff(&a, &b),
            [
                change(
                    "containerDefinitions[old]",
                    Some(json!({"name": "old", "image": "x"})),
                    None
                ),
                change(
                    "containerDefinitions[new]",
                    None,
                    Some(json!({"name": "new", "image": "y"}))
                ),
            ]
        );
    }

    #[test]
    fn environment_variables_report_their_values() {
        let env =
            |pairs: Value| td(json!([{"name": "web", "image": "nginx", "environment": pairs}]));
        let a = env(json!([{"name": "LOG_LEVEL", "value": "info"}, {"name": "OLD", "value": "1"}]));
        let b =
            env(json!([{"name": "NEW", "value": "2"}, {"name": "LOG_LEVEL", "value": "debug"}]));
        assert_eq!(
            diff(&a, &b),
            [
                change(
                    "containerDefinitions[web].environment[LOG_LEVEL]",
                    Some(json!("info")),
                    Some(json!("debug"))
                ),
                change("containerDefinitions[web].environment[OLD]", Some(json!("1")), None),
                change("containerDefinitions[web].environment[NEW]", None, Some(json!("2"))),
            ]
        );
    }

    #[test]
    fn secrets_report_where_their_value_comes_from() {
        let s = |from: &str| {
            td(
                json!([{"name": "web", "image": "i", "secrets": [{"name": "DB", "valueFrom": from}]}]),
            )
        };
        assert_eq!(
            diff(&s("arn:a"), &s("arn:b")),
            [change(
                "containerDefinitions[web].secrets[DB]",
                Some(json!("arn:a")),
                Some(json!("arn:b"))
            )]
        );
    }

    #[test]
    fn port_mappings_are_matched_by_port_and_protocol_with_tcp_the_default() {
        let ports = |p: Value| td(json!([{"name": "web", "image": "nginx", "portMappings": p}]));
        let a = ports(
            json!([{"containerPort": 80, "hostPort": 0}, {"containerPort": 53, "protocol": "udp"}]),
        );
        let b = ports(json!([
            {"containerPort": 53, "protocol": "udp"},
            {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}
        ]));
        assert_eq!(
            diff(&a, &b),
            [
                change(
                    "containerDefinitions[web].portMappings[80/tcp].hostPort",
                    Some(json!(0)),
                    Some(json!(8080))
                ),
                change(
                    "containerDefinitions[web].portMappings[80/tcp].protocol",
                    None,
                    Some(json!("tcp"))
                ),
            ]
        );
    }

    #[test]
    fn volumes_are_matched_by_name_and_compared_deeply() {
        let vol = |path: &str| {
            json!({"family": "web", "containerDefinitions": [],
                   "volumes": [{"name": "data", "host": {"sourcePath": path}}]})
        };
        assert_eq!(
            diff(&vol("/srv/a"), &vol("/srv/b")),
            [change("volumes[data].host.sourcePath", Some(json!("/srv/a")), Some(json!("/srv/b")))]
        );
    }

    #[test]
    fn mount_points_are_matched_by_container_path() {
        let mp = |ro: bool| {
            td(json!([{"name": "web", "image": "i", "mountPoints": [
                {"sourceVolume": "data", "containerPath": "/data", "readOnly": ro}]}]))
        };
        assert_eq!(
            diff(&mp(false), &mp(true)),
            [change(
                "containerDefinitions[web].mountPoints[/data].readOnly",
                Some(json!(false)),
                Some(json!(true))
            )]
        );
    }

    #[test]
    fn other_lists_are_compared_as_wholes() {
        let cmd = |c: Value| td(json!([{"name": "web", "image": "i", "command": c}]));
        assert_eq!(
            diff(&cmd(json!(["sh", "-c", "a"])), &cmd(json!(["sh", "-c", "b"]))),
            [change(
                "containerDefinitions[web].command",
                Some(json!(["sh", "-c", "a"])),
                Some(json!(["sh", "-c", "b"]))
            )]
        );
    }

    #[test]
    fn a_named_list_with_duplicate_names_is_compared_as_a_whole() {
        let env = |v: &str| {
            td(json!([{"name": "web", "image": "i", "environment": [
                {"name": "A", "value": "1"}, {"name": "A", "value": v}]}]))
        };
        let changes = diff(&env("1"), &env("2"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "containerDefinitions[web].environment");
    }

    #[test]
    fn top_level_fields_added_removed_and_changed() {
        let a = json!({"family": "web", "cpu": "256", "memory": "512", "containerDefinitions": []});
        let b = json!({"family": "web", "cpu": "512", "networkMode": "awsvpc", "containerDefinitions": []});
        assert_eq!(
            diff(&a, &b),
            [
                change("cpu", Some(json!("256")), Some(json!("512"))),
                change("memory", Some(json!("512")), None),
                change("networkMode", None, Some(json!("awsvpc"))),
            ]
        );
    }

    #[test]
    fn an_absent_field_and_its_default_are_a_change() {
        let a = td(json!([{"name": "web", "image": "i"}]));
        let b = td(json!([{"name": "web", "image": "i", "essential": true}]));
        assert_eq!(
            diff(&a, &b),
            [change("containerDefinitions[web].essential", None, Some(json!(true)))]
        );
    }

    #[test]
    fn a_type_change_is_one_change() {
        let a = td(json!([{"name": "web", "image": "i", "healthCheck": {"command": ["true"]}}]));
        let b = td(json!([{"name": "web", "image": "i", "healthCheck": null}]));
        assert_eq!(
            diff(&a, &b),
            [change(
                "containerDefinitions[web].healthCheck",
                Some(json!({"command": ["true"]})),
                Some(json!(null))
            )]
        );
    }

    #[test]
    fn changes_serialize_with_before_and_after() {
        let c = change("cpu", None, Some(json!("256")));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"path": "cpu", "before": null, "after": "256"})
        );
    }
}
