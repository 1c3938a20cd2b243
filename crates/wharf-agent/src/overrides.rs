//! RunTask's `overrides` applied to a container definition, as ECS applies
//! them: `command` replaces, `environment` entries replace those of the same
//! name and add the rest, `environmentFiles` are added, `cpu`, `memory` and
//! `memoryReservation` replace.

use wharf_model::ecs::shapes::{ContainerDefinition, ContainerOverride, TaskOverride};

/// The override for a container, if the task has one.
pub fn for_container<'a>(
    overrides: Option<&'a TaskOverride>,
    name: &str,
) -> Option<&'a ContainerOverride> {
    overrides?.container_overrides.as_deref()?.iter().find(|o| o.name.as_deref() == Some(name))
}

/// The definition with its override applied.
pub fn apply(mut def: ContainerDefinition, o: Option<&ContainerOverride>) -> ContainerDefinition {
    let Some(o) = o else { return def };
    if let Some(command) = &o.command {
        def.command = Some(command.clone());
    }
    if let Some(env) = &o.environment {
        let list = def.environment.get_or_insert_with(Vec::new);
        for kv in env {
            match list.iter_mut().find(|e| e.name == kv.name) {
                Some(e) => e.value = kv.value.clone(),
                None => list.push(kv.clone()),
            }
        }
    }
    if let Some(files) = &o.environment_files {
        def.environment_files.get_or_insert_with(Vec::new).extend(files.iter().cloned());
    }
    if o.cpu.is_some() {
        def.cpu = o.cpu;
    }
    if o.memory.is_some() {
        def.memory = o.memory;
    }
    if o.memory_reservation.is_some() {
        def.memory_reservation = o.memory_reservation;
    }
    def
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn command_replaces_environment_merges() {
        let def: ContainerDefinition = serde_json::from_value(json!({
            "name": "web", "command": ["a"], "memory": 64,
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        }))
        .unwrap();
        let o: ContainerOverride = serde_json::from_value(json!({
            "name": "web", "command": ["b", "c"], "memory": 128,
            "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
        }))
        .unwrap();
        let out = serde_json::to_value(apply(def, Some(&o))).unwrap();
        assert_eq!(out["command"], json!(["b", "c"]));
        assert_eq!(out["memory"], 128);
        assert_eq!(
            out["environment"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
        );
    }
}
