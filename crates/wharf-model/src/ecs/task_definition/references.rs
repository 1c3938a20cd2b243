//! Names that point elsewhere in the task definition: `dependsOn`, `links`
//! and `volumesFrom` name containers, `mountPoints` name volumes. Also the
//! volumes themselves: names, one kind each, and Docker/EFS settings.

use std::collections::{HashMap, HashSet};

use crate::ecs::shapes::{
    ContainerCondition, EFSAuthorizationConfigIAM, EFSTransitEncryption, Scope, Volume,
};
use crate::error::EcsError;

use super::enums;
use super::rules::{self, msg};
use super::validate::Task;

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// Volumes first, then each container's references, then dependency cycles.
pub(crate) fn check(task: &Task) -> Result<(), EcsError> {
    let volumes = task.req.volumes.as_deref().unwrap_or_default();
    check_volumes(volumes)?;
    let volume_names: HashSet<&str> = volumes.iter().filter_map(|v| v.name.as_deref()).collect();
    let index: HashMap<&str, usize> = task
        .containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.name.as_deref().map(|n| (n, i)))
        .collect();
    for (i, c) in task.containers.iter().enumerate() {
        let at = format!("containerDefinitions[{i}]");
        for m in c.mount_points.iter().flatten() {
            let source = m.source_volume.as_deref().unwrap_or("null");
            if !volume_names.contains(source) {
                return Err(client(msg::unknown_volume(source)));
            }
        }
        for (j, v) in c.volumes_from.iter().flatten().enumerate() {
            let source = v.source_container.as_deref().unwrap_or_default();
            if !index.contains_key(source) {
                let path = format!("{at}.volumesFrom[{j}].sourceContainer");
                return Err(client(if source.is_empty() {
                    msg::required(&path)
                } else {
                    msg::unknown_container(&path, source)
                }));
            }
        }
        for (j, link) in c.links.iter().flatten().enumerate() {
            let target = link.split(':').next().unwrap_or_default();
            if !index.contains_key(target) {
                return Err(client(msg::unknown_container(&format!("{at}.links[{j}]"), target)));
            }
        }
        for d in c.depends_on.iter().flatten() {
            let target = d.container_name.as_deref().unwrap_or("null");
            let Some(&t) = index.get(target) else {
                return Err(client(msg::unknown_dependency(target)));
            };
            let Some(condition) = &d.condition else {
                return Err(client(msg::required(&format!("{at}.dependsOn.condition"))));
            };
            let essential = task.containers.get(t).is_some_and(|c| c.essential.unwrap_or(true));
            if matches!(condition, ContainerCondition::Complete | ContainerCondition::Success)
                && essential
            {
                return Err(client(msg::DEPENDENCY_ESSENTIAL));
            }
        }
    }
    if has_cycle(task, &index) {
        return Err(client(msg::DEPENDENCY_CYCLE));
    }
    Ok(())
}

/// Depth-first search over `dependsOn` edges (0 new, 1 on the path, 2 done).
fn has_cycle(task: &Task, index: &HashMap<&str, usize>) -> bool {
    let edges: Vec<Vec<usize>> = task
        .containers
        .iter()
        .map(|c| {
            c.depends_on
                .iter()
                .flatten()
                .filter_map(|d| d.container_name.as_deref().and_then(|n| index.get(n).copied()))
                .collect()
        })
        .collect();
    let mut state = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if state[start] != 0 {
            continue;
        }
        // Iterative DFS: (node, next edge to follow).
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            if let Some(&to) = edges[node].get(next) {
                top.1 += 1;
                match state[to] {
                    1 => return true,
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    false
}

/// Volume names (present, valid, unique), one source each, and the Docker
/// and EFS settings.
fn check_volumes(volumes: &[Volume]) -> Result<(), EcsError> {
    let mut seen = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let at = format!("volumes[{i}]");
        let name = match v.name.as_deref() {
            None | Some("") => return Err(client(msg::required(&format!("{at}.name")))),
            Some(n) if !rules::is_resource_name(n) => {
                return Err(client(format!("{at}.name contains invalid characters.")))
            }
            Some(n) => n,
        };
        if !seen.insert(name) {
            return Err(client(msg::duplicate("Volume name", name)));
        }
        let kinds = [
            v.host.is_some(),
            v.docker_volume_configuration.is_some(),
            v.efs_volume_configuration.is_some(),
            v.fsx_windows_file_server_volume_configuration.is_some(),
            v.s3files_volume_configuration.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(client(format!(
                "Volume '{name}' can specify only one of host, dockerVolumeConfiguration, efsVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration and s3filesVolumeConfiguration."
            )));
        }
        if let Some(d) = &v.docker_volume_configuration {
            enums::check(d.scope.as_ref(), &format!("{at}.dockerVolumeConfiguration.scope"))?;
            let shared = d.scope == Some(Scope::Shared);
            if d.autoprovision == Some(true) && !shared {
                return Err(client(format!(
                    "Volume '{name}': autoprovision can be true only when scope is 'shared'."
                )));
            }
        }
        if let Some(e) = &v.efs_volume_configuration {
            let at = format!("{at}.efsVolumeConfiguration");
            if e.file_system_id.as_deref().unwrap_or_default().is_empty() {
                return Err(client(msg::required(&format!("{at}.fileSystemId"))));
            }
            enums::check(e.transit_encryption.as_ref(), &format!("{at}.transitEncryption"))?;
            if let Some(a) = &e.authorization_config {
                enums::check(a.iam.as_ref(), &format!("{at}.authorizationConfig.iam"))?;
                let needs_tls = a.iam == Some(EFSAuthorizationConfigIAM::Enabled)
                    || a.access_point_id.as_deref().is_some_and(|s| !s.is_empty());
                if needs_tls && e.transit_encryption != Some(EFSTransitEncryption::Enabled) {
                    return Err(client(format!(
                        "Volume '{name}': transitEncryption must be ENABLED when an access point or IAM authorization is used."
                    )));
                }
            }
            if e.transit_encryption_port.is_some_and(|p| !(0..=65_535).contains(&p)) {
                return Err(client(msg::out_of_range(
                    &format!("{at}.transitEncryptionPort"),
                    0,
                    65_535,
                )));
            }
        }
        if let Some(f) = &v.fsx_windows_file_server_volume_configuration {
            let at = format!("{at}.fsxWindowsFileServerVolumeConfiguration");
            if f.file_system_id.as_deref().unwrap_or_default().is_empty() {
                return Err(client(msg::required(&format!("{at}.fileSystemId"))));
            }
            if f.root_directory.as_deref().unwrap_or_default().is_empty() {
                return Err(client(msg::required(&format!("{at}.rootDirectory"))));
            }
            if f.authorization_config.is_none() {
                return Err(client(msg::required(&format!("{at}.authorizationConfig"))));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::testutil::{accepted, ec2, refused, with};

    /// Two containers: `app` (essential) and `side` (not), plus `extra` on the task.
    fn pair(app: Value, side: Value, volumes: Value) -> Value {
        let mut a = json!({"name": "app", "image": "x", "memory": 64});
        let mut s = json!({"name": "side", "image": "y", "memory": 64, "essential": false});
        for (target, extra) in [(&mut a, app), (&mut s, side)] {
            if let (Some(t), Some(e)) = (target.as_object_mut(), extra.as_object()) {
                t.extend(e.clone());
            }
        }
        json!({"family": "f", "containerDefinitions": [a, s], "volumes": volumes})
    }

    #[test]
    fn mount_points_name_declared_volumes() {
        let vols = json!([{"name": "data", "host": {}}]);
        accepted(pair(
            json!({"mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}]}),
            json!({}),
            vols.clone(),
        ));
        refused(
            pair(
                json!({"mountPoints": [{"sourceVolume": "root-RO", "containerPath": "/d"}]}),
                json!({}),
                vols.clone(),
            ),
            "Unknown volume 'root-RO'.",
        );
        refused(
            pair(json!({"mountPoints": [{"containerPath": "/d"}]}), json!({}), vols),
            "Unknown volume 'null'.",
        );
    }

    #[test]
    fn container_references() {
        refused(
            pair(json!({"volumesFrom": [{"sourceContainer": "db"}]}), json!({}), json!([])),
            "containerDefinitions[0].volumesFrom[0].sourceContainer refers to container 'db', which does not exist in the task definition.",
        );
        refused(
            pair(json!({"links": ["db:database"]}), json!({}), json!([])),
            "containerDefinitions[0].links[0] refers to container 'db', which does not exist in the task definition.",
        );
        accepted(pair(
            json!({"links": ["side:s"], "volumesFrom": [{"sourceContainer": "side"}]}),
            json!({}),
            json!([]),
        ));
    }

    #[test]
    fn depends_on() {
        let dep = |name: &str, condition: &str| json!({"dependsOn": [{"containerName": name, "condition": condition}]});
        refused(
            pair(dep("db", "START"), json!({}), json!([])),
            "Cannot depend on container + 'db' because it does not exist",
        );
        refused(
            pair(json!({"dependsOn": [{"condition": "START"}]}), json!({}), json!([])),
            "Cannot depend on container + 'null' because it does not exist",
        );
        refused(
            pair(json!({}), dep("app", "SUCCESS"), json!([])),
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container",
        );
        refused(
            pair(json!({}), dep("app", "COMPLETE"), json!([])),
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container",
        );
        accepted(pair(dep("side", "SUCCESS"), json!({}), json!([])));
        accepted(pair(dep("side", "HEALTHY"), json!({}), json!([])));
        refused(
            pair(dep("side", "START"), dep("app", "START"), json!([])),
            "Container dependencies (dependsOn) contain a cycle.",
        );
        refused(
            pair(dep("app", "START"), json!({}), json!([])),
            "Container dependencies (dependsOn) contain a cycle.",
        );
    }

    #[test]
    fn volumes() {
        let with_volumes = |v: Value| with(ec2(), |t| t["volumes"] = v);
        refused(
            with_volumes(json!([{"host": {}}])),
            "volumes[0].name should not be null or empty.",
        );
        refused(
            with_volumes(json!([{"name": "a b"}])),
            "volumes[0].name contains invalid characters.",
        );
        refused(
            with_volumes(json!([{"name": "a"}, {"name": "a"}])),
            "Volume name 'a' is used more than once; names must be unique.",
        );
        refused(
            with_volumes(json!([{"name": "a", "host": {}, "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}])),
            "Volume 'a' can specify only one of host, dockerVolumeConfiguration, efsVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration and s3filesVolumeConfiguration.",
        );
        refused(
            with_volumes(
                json!([{"name": "a", "dockerVolumeConfiguration": {"scope": "task", "autoprovision": true}}]),
            ),
            "Volume 'a': autoprovision can be true only when scope is 'shared'.",
        );
        accepted(with_volumes(
            json!([{"name": "a", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true, "driver": "local"}}]),
        ));
        refused(
            with_volumes(json!([{"name": "a", "dockerVolumeConfiguration": {"scope": "global"}}])),
            "Invalid value 'global' for volumes[0].dockerVolumeConfiguration.scope. Valid values: task, shared.",
        );
        refused(
            with_volumes(json!([{"name": "a", "efsVolumeConfiguration": {}}])),
            "volumes[0].efsVolumeConfiguration.fileSystemId should not be null or empty.",
        );
        refused(
            with_volumes(json!([{"name": "a", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}}}])),
            "Volume 'a': transitEncryption must be ENABLED when an access point or IAM authorization is used.",
        );
        accepted(with_volumes(
            json!([{"name": "a", "efsVolumeConfiguration": {"fileSystemId": "FILESYSTEM_ID"}}]),
        ));
    }
}
