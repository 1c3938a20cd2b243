//! The conversion of a whole file: YAML (anchors and `<<` merges applied),
//! interpolation, the top-level keys, the active services in file order, and
//! the task definition put together and checked as RegisterTaskDefinition
//! would check it, so that what comes out always registers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml_ng::{Mapping, Value};
use wharf_model::ecs::shapes::{IpcMode, NetworkMode, PidMode, RegisterTaskDefinitionRequest};
use wharf_model::ecs::task_definition::rules::{is_resource_name, MAX_CONTAINERS, MAX_NAME_LEN};
use wharf_model::ecs::task_definition::validate_register;

use super::container::{container, ServiceContext};
use super::interpolate::{interpolate_tree, Interpolator};
use super::ordering::{plan, Node};
use super::spec::Service;
use super::volumes::TaskVolumes;
use super::{health, ComposeError, Converted, Source};

/// Top-level keys the converter reads.
const TOP_LEVEL: &[&str] = &["name", "services", "volumes", "networks", "version"];

/// Converts a compose file's text. `family` overrides the family; `env` is
/// what interpolation sees; `read_env_file` reads a service's `env_file`.
pub fn convert_text(
    source: &Source<'_>,
    family: Option<&str>,
    env: &BTreeMap<String, String>,
    read_env_file: &dyn Fn(&Path) -> Result<String, String>,
) -> Result<Converted, ComposeError> {
    let mut root: Value =
        serde_yaml_ng::from_str(source.text).map_err(|e| ComposeError::Yaml(e.to_string()))?;
    root.apply_merge().map_err(|e| ComposeError::Yaml(e.to_string()))?;
    let Value::Mapping(mut top) = root else {
        return Err(ComposeError::invalid("(top level)", "a compose file is a map with services"));
    };
    let mut warnings = Vec::new();
    let mut interpolator = Interpolator::new(env);
    for key in top.keys() {
        let key = key.as_str().unwrap_or_default();
        if !TOP_LEVEL.contains(&key) && !key.starts_with("x-") {
            warnings.push(format!("{key}: not carried over (no ECS equivalent)"));
        }
    }
    for key in ["name", "volumes"] {
        if let Some(v) = top.get_mut(key) {
            interpolate_tree(v, key, &mut interpolator).map_err(interpolation)?;
        }
    }
    let name = top.get("name").and_then(Value::as_str).map(str::to_owned);
    let family = match family {
        Some(f) if is_resource_name(f) => f.to_owned(),
        Some(f) => {
            return Err(ComposeError::invalid(
                "family",
                format!("\"{f}\": up to 255 letters, digits, hyphens and underscores"),
            ))
        }
        None => sanitize_family(
            env.get("COMPOSE_PROJECT_NAME")
                .or(name.as_ref())
                .map_or(source.default_family, String::as_str),
        ),
    };

    let services_value = top
        .get_mut("services")
        .ok_or_else(|| ComposeError::invalid("services", "a compose file needs services"))?;
    let services_map: &mut Mapping = services_value
        .as_mapping_mut()
        .ok_or_else(|| ComposeError::invalid("services", "a map of services"))?;
    let mut services: Vec<(String, Service)> = Vec::new();
    let mut inactive = BTreeSet::new();
    for (key, value) in services_map.iter_mut() {
        let name = key
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ComposeError::invalid("services", "service names are strings"))?;
        let at = format!("services.{name}");
        if !value.is_mapping() {
            return Err(ComposeError::invalid(at, "a service is a map"));
        }
        if let Some(profiles) =
            value.get("profiles").and_then(Value::as_sequence).filter(|p| !p.is_empty())
        {
            let list: Vec<&str> = profiles.iter().filter_map(Value::as_str).collect();
            warnings.push(format!("{at}.profiles: the service is only in profiles [{}], inactive by default; left out", list.join(", ")));
            inactive.insert(name);
            continue;
        }
        interpolate_tree(value, &at, &mut interpolator).map_err(interpolation)?;
        let service: Service = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { at.clone() } else { format!("{at}.{path}") };
            ComposeError::invalid(field, e.inner().to_string())
        })?;
        services.push((name, service));
    }
    if services.is_empty() {
        return Err(ComposeError::invalid("services", "no service to convert"));
    }
    if services.len() > MAX_CONTAINERS {
        return Err(ComposeError::invalid(
            "services",
            format!(
                "{} services; an ECS task definition holds at most {MAX_CONTAINERS} containers",
                services.len()
            ),
        ));
    }
    let mut containers: Vec<String> = Vec::new();
    for (name, _) in &services {
        let container = sanitize_name(name);
        if containers.contains(&container) {
            return Err(ComposeError::invalid(
                format!("services.{name}"),
                format!("its ECS container name \"{container}\" is taken by another service"),
            ));
        }
        if container != *name {
            warnings.push(format!("services.{name}: the ECS container is named \"{container}\" (letters, digits, - and _ only)"));
        }
        containers.push(container);
    }

    let network_mode = network_mode(&services, &mut warnings);
    let (pid_mode, ipc_mode) = namespaces(&services, &mut warnings);
    let networked: Vec<&str> =
        services.iter().filter(|(_, s)| s.networks.is_some()).map(|(n, _)| n.as_str()).collect();
    if top.contains_key("networks") || !networked.is_empty() {
        let users = if networked.is_empty() {
            String::new()
        } else {
            format!(" (used by {})", networked.join(", "))
        };
        warnings.push(format!("networks{users}: not carried over; the task's containers share one bridge network and find each other by links under their service names"));
    }

    let nodes: Vec<Node<'_>> = services
        .iter()
        .zip(&containers)
        .map(|((name, spec), container)| Node {
            service: name,
            container,
            spec,
            has_healthcheck: health::has_test(spec.healthcheck.as_ref()),
        })
        .collect();
    let plan = plan(&nodes, &inactive, network_mode == NetworkMode::Bridge, &mut warnings)?;

    let home = env.get("HOME").map(String::as_str);
    let mut volumes =
        TaskVolumes::new(top.get("volumes"), &family, source.project_dir, home, &mut warnings)?;
    let mut definitions = Vec::with_capacity(services.len());
    let mut restarting = Vec::new();
    for (i, (name, spec)) in services.iter().enumerate() {
        let mut cx = ServiceContext {
            service: name,
            container: &containers[i],
            env,
            project_dir: source.project_dir,
            read_env_file,
            volumes: &mut volumes,
            warnings: &mut warnings,
        };
        let mut def = container(spec, &mut cx)?;
        for from in def.volumes_from.iter_mut().flatten() {
            let source_service = from.source_container.clone().unwrap_or_default();
            let j = services.iter().position(|(n, _)| *n == source_service).ok_or_else(|| {
                ComposeError::invalid(
                    format!("services.{name}.volumes_from"),
                    format!("service \"{source_service}\" is not defined"),
                )
            })?;
            from.source_container = Some(containers[j].clone());
        }
        if def.restart_policy.take().is_some() {
            restarting.push(name.as_str());
        }
        def.essential = Some(plan.essential[i]);
        def.links = Some(plan.links[i].clone()).filter(|l| !l.is_empty());
        def.depends_on = Some(plan.depends_on[i].clone()).filter(|d| !d.is_empty());
        definitions.push(def);
    }
    if !restarting.is_empty() {
        warnings.push(format!(
            "restart (services {}): not carried over; Wharf's agent has no container restart policies (ecs.capability.container-restart-policy), so a task asking for one would never be placed; add restartPolicy by hand for AWS",
            restarting.join(", ")
        ));
    }
    let volumes = volumes.into_volumes();
    let request = RegisterTaskDefinitionRequest {
        family: Some(family),
        network_mode: Some(network_mode),
        container_definitions: Some(definitions),
        volumes: if volumes.is_empty() { None } else { Some(volumes) },
        pid_mode,
        ipc_mode,
        ..RegisterTaskDefinitionRequest::default()
    };
    validate_register(&request).map_err(|e| {
        ComposeError::invalid(
            "(task definition)",
            format!("ECS would refuse the result: {}", e.message),
        )
    })?;
    for variable in &interpolator.unset {
        warnings
            .push(format!("variable {variable}: not set; a blank string is used, as Compose does"));
    }
    let task_definition = serde_json::to_value(&request)
        .map_err(|e| ComposeError::invalid("(task definition)", e.to_string()))?;
    Ok(Converted { task_definition, warnings })
}

fn interpolation((field, problem): (String, super::InterpolationError)) -> ComposeError {
    ComposeError::Interpolation { field, problem }
}

/// `bridge`, unless every service asks for `host` (or `none`) networking.
fn network_mode(services: &[(String, Service)], warnings: &mut Vec<String>) -> NetworkMode {
    let modes: Vec<Option<&str>> =
        services.iter().map(|(_, s)| s.network_mode.as_deref()).collect();
    for mode in ["host", "none"] {
        if modes.iter().all(|m| *m == Some(mode)) {
            return NetworkMode::from(mode);
        }
    }
    for (name, s) in services {
        if let Some(mode) = s.network_mode.as_deref().filter(|m| *m != "bridge" && *m != "default")
        {
            warnings.push(format!("services.{name}.network_mode: {mode} is not carried over (network mode is the whole task's in ECS; the task uses bridge)"));
        }
    }
    NetworkMode::Bridge
}

/// Task-level `pidMode`/`ipcMode` from services' `pid: host` / `ipc: host`.
fn namespaces(
    services: &[(String, Service)],
    warnings: &mut Vec<String>,
) -> (Option<PidMode>, Option<IpcMode>) {
    let mut pid = None;
    let mut ipc = None;
    for (name, s) in services {
        match s.pid.as_deref() {
            None => {}
            Some("host") => {
                pid = Some(PidMode::Host);
                if services.len() > 1 {
                    warnings.push(format!(
                        "services.{name}.pid: host applies to the whole task in ECS (pidMode host)"
                    ));
                }
            }
            Some(other) => {
                warnings.push(format!("services.{name}.pid: {other} is not carried over"))
            }
        }
        match s.ipc.as_deref() {
            None | Some("private") => {}
            Some("host") => {
                ipc = Some(IpcMode::Host);
                if services.len() > 1 {
                    warnings.push(format!(
                        "services.{name}.ipc: host applies to the whole task in ECS (ipcMode host)"
                    ));
                }
            }
            Some(other) => {
                warnings.push(format!("services.{name}.ipc: {other} is not carried over"))
            }
        }
    }
    (pid, ipc)
}

/// `name` in ECS's container-name alphabet.
fn sanitize_name(name: &str) -> String {
    let s: String = name
        .chars()
        .take(MAX_NAME_LEN)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    if s.is_empty() {
        "service".to_owned()
    } else {
        s
    }
}

/// A family from a project or directory name.
fn sanitize_family(name: &str) -> String {
    let s = sanitize_name(name);
    let s = s.trim_matches('-');
    if s.is_empty() {
        "compose".to_owned()
    } else {
        s.to_owned()
    }
}
