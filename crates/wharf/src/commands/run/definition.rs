//! What `wharf run` runs: a task definition read from a file (or converted
//! from a Compose file), and the overrides its flags ask for.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use wharf_model::ecs::resolved::merge_environment;
use wharf_model::ecs::shapes::{ContainerOverride, KeyValuePair, TaskOverride};
use wharf_model::ecs::task_definition::{decode_document, validate_register};

/// The log group `wharf run` gives containers that log nowhere, as the ECS
/// console's task definition wizard does: `/ecs/<family>`.
pub fn default_log_group(family: &str) -> String {
    format!("/ecs/{family}")
}

/// A task definition file as RegisterTaskDefinition's input: a task
/// definition (or `describe-task-definition` output), checked as
/// RegisterTaskDefinition would check it.
pub fn from_json_file(path: &Path) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc = decode_document(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}: {}",
            path.display(),
            e.error_type(),
            crate::commands::validate::decode_message(&e)
        )
    })?;
    validate_register(&doc.request).map_err(|e| {
        anyhow::anyhow!("{}: {}: {}", path.display(), e.kind.wire_name(), e.message)
    })?;
    Ok(serde_json::to_value(&doc.request)?)
}

/// Gives every container without a `logConfiguration` the `awslogs` one the
/// ECS console's wizard writes (group `/ecs/<family>`, created when missing,
/// stream prefix `ecs`), so `wharf run` can show its output. Returns the
/// names of the containers it changed.
pub fn add_default_logging(definition: &mut Value, region: &str) -> Vec<String> {
    let family = definition["family"].as_str().unwrap_or_default().to_owned();
    let mut changed = Vec::new();
    let Some(containers) = definition["containerDefinitions"].as_array_mut() else {
        return changed;
    };
    for c in containers {
        if c.get("logConfiguration").is_some_and(|l| !l.is_null()) {
            continue;
        }
        c["logConfiguration"] = json!({
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": default_log_group(&family),
                "awslogs-region": region,
                "awslogs-stream-prefix": "ecs",
                "awslogs-create-group": "true",
            }
        });
        changed.push(c["name"].as_str().unwrap_or_default().to_owned());
    }
    changed
}

/// The `overrides` of RunTask from `--override` (a TaskOverride as JSON, or
/// `@file`) and `--env` (`KEY=VALUE` for every container, or
/// `CONTAINER:KEY=VALUE` for one), for a definition with these containers.
/// An `--env` variable is merged into the container's override as ECS merges
/// an override into a definition (`wharf_model::ecs::resolved`): it
/// replaces the entry of the same name, or is added.
pub fn overrides(
    json_override: Option<&str>,
    env: &[String],
    containers: &[String],
) -> anyhow::Result<Option<TaskOverride>> {
    let mut overrides = match json_override {
        None => TaskOverride::default(),
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("--override: cannot read {path}"))?,
                None => text.to_owned(),
            };
            match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => serde_json::from_value(v)
                    .map_err(|e| anyhow::anyhow!("--override is not ECS's TaskOverride: {e}"))?,
                Ok(_) => bail!("--override must be a JSON object (ECS's TaskOverride)"),
                Err(e) => bail!("--override is not JSON: {e}"),
            }
        }
    };
    for setting in env {
        let (target, pair) = match setting.split_once('=') {
            Some((head, _)) if head.contains(':') => {
                let (container, pair) = setting.split_once(':').unwrap_or_default();
                (Some(container), pair)
            }
            Some(_) => (None, setting.as_str()),
            None => bail!("--env {setting:?}: give KEY=VALUE or CONTAINER:KEY=VALUE"),
        };
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.is_empty() {
            bail!("--env {setting:?}: the variable has no name");
        }
        if let Some(name) = target {
            if !containers.iter().any(|c| c == name) {
                bail!("--env {setting:?}: the task definition has no container {name:?}");
            }
        }
        let variable = KeyValuePair { name: Some(key.to_owned()), value: Some(value.to_owned()) };
        let list = overrides.container_overrides.get_or_insert_with(Vec::new);
        for name in containers.iter().filter(|c| target.is_none_or(|t| t == c.as_str())) {
            let at = match list.iter().position(|o| o.name.as_deref() == Some(name)) {
                Some(i) => i,
                None => {
                    list.push(ContainerOverride { name: Some(name.clone()), ..Default::default() });
                    list.len() - 1
                }
            };
            let vars = list[at].environment.get_or_insert_with(Vec::new);
            merge_environment(vars, std::slice::from_ref(&variable));
        }
    }
    Ok((overrides != TaskOverride::default()).then_some(overrides))
}

/// The names of a definition's containers, in order.
pub fn container_names(definition: &Value) -> Vec<String> {
    definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_is_added_only_where_none_is_set() {
        let mut td = json!({"family": "app", "containerDefinitions": [
            {"name": "web"},
            {"name": "db", "logConfiguration": {"logDriver": "json-file"}},
        ]});
        assert_eq!(add_default_logging(&mut td, "eu-west-1"), ["web"]);
        let options = &td["containerDefinitions"][0]["logConfiguration"]["options"];
        assert_eq!(options["awslogs-group"], "/ecs/app");
        assert_eq!(options["awslogs-region"], "eu-west-1");
        assert_eq!(options["awslogs-stream-prefix"], "ecs");
        assert_eq!(td["containerDefinitions"][1]["logConfiguration"]["logDriver"], "json-file");
    }

    #[test]
    fn env_flags_become_container_overrides() {
        let containers = vec!["web".to_owned(), "db".to_owned()];
        let o = overrides(None, &["A=1".into(), "db:B=x=y".into()], &containers).unwrap().unwrap();
        let o = serde_json::to_value(o).unwrap();
        assert_eq!(
            o["containerOverrides"],
            json!([
                {"name": "web", "environment": [{"name": "A", "value": "1"}]},
                {"name": "db", "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}]},
            ])
        );
        let o = overrides(Some(r#"{"cpu": "512"}"#), &[], &containers).unwrap().unwrap();
        assert_eq!(serde_json::to_value(o).unwrap(), json!({"cpu": "512"}));
        assert!(overrides(None, &[], &containers).unwrap().is_none());
        let e = overrides(None, &["cache:A=1".into()], &containers).unwrap_err();
        assert!(e.to_string().contains("no container \"cache\""), "{e}");
        assert!(overrides(None, &["NOEQUALS".into()], &containers).is_err());
        assert!(overrides(Some("[1]"), &[], &containers).is_err());
        assert!(overrides(Some("{"), &[], &containers).is_err());
    }

    #[test]
    fn a_later_env_flag_replaces_an_earlier_one() {
        let containers = vec!["web".to_owned()];
        let o = overrides(None, &["A=1".into(), "A=2".into()], &containers).unwrap().unwrap();
        let o = serde_json::to_value(o).unwrap();
        assert_eq!(o["containerOverrides"][0]["environment"], json!([{"name": "A", "value": "2"}]));
    }
}
