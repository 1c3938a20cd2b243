//! A task's own resources, set up before any image is pulled: its volumes,
//! its secrets, its environment files. What this produces is handed to the
//! container spec when each container is created.

use std::collections::HashMap;

use wharf_model::agent::Assignment;
use wharf_model::ecs::shapes::{ContainerDefinition, LaunchType, Scope};
use wharf_model::ecs::task_definition::{parse_task_cpu, parse_task_memory};

use crate::awsvpc::{self, TaskNetwork};
use crate::link::{LinkError, ServerLink};
use crate::runtime::{ContainerInfo, RegistryAuth, Runtime, VolumeSpec, LABEL_TASK_ARN};
use crate::s3::S3Endpoint;
use crate::stop::NamedError;
use crate::task_cgroup::TaskSize;

/// What provisioning made for the task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioned {
    /// Task volume name → Docker volume name, or host path for a bind mount.
    pub volumes: HashMap<String, String>,
    /// Container name → variables from its secrets and environment files, to
    /// add to its `environment` (which wins on a clash with a file).
    pub env: HashMap<String, Vec<(String, String)>>,
    /// Docker volumes created for this task alone (removed with the task).
    pub task_volumes: Vec<String>,
    /// The awsvpc task's network, if it has one.
    pub network: Option<TaskNetwork>,
    /// The task's own cgroup (`CgroupParent`), for a task whose size is a
    /// hard limit (a Fargate task), when the engine allows one.
    pub cgroup_parent: Option<String>,
}

/// The size of a Fargate task (its task-level `cpu` and `memory`, overrides
/// applied), which its containers share; `None` for other tasks.
pub fn fargate_size(assignment: &Assignment) -> Option<TaskSize> {
    let t = &assignment.task;
    if t.launch_type != Some(LaunchType::Fargate) {
        return None;
    }
    Some(TaskSize {
        cpu_units: t.cpu.as_deref().and_then(parse_task_cpu)?,
        memory_mib: t.memory.as_deref().and_then(parse_task_memory)?,
    })
}

/// The Docker volume name of a task-scoped volume, as the ECS agent forms it.
pub fn task_volume_name(family: &str, revision: i32, volume: &str, task_id: &str) -> String {
    format!("ecs-{family}-{revision}-{volume}-{task_id}")
}

/// The agent's settings a task's provisioning reads.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Where `environmentFiles` of type `s3` are read from.
    pub s3: Option<&'a S3Endpoint>,
    /// The DNS servers of an awsvpc task's network, unless it names its own.
    pub dns: &'a [String],
    /// The network awsvpc tasks join, when the server plans one.
    pub network: Option<&'a crate::hostnet::NetworkSpec>,
    /// The container instance the task runs on (its containers' label).
    pub instance_arn: &'a str,
}

/// Sets up the task's network (awsvpc, on the network `settings.network`
/// describes when given), volumes, secrets and environment files.
/// `adopted_pause` is the task's pause container found running after an
/// agent restart.
pub async fn provision(
    runtime: &dyn Runtime,
    link: &dyn ServerLink,
    assignment: &Assignment,
    definitions: &[ContainerDefinition],
    task_id: &str,
    adopted_pause: Option<&ContainerInfo>,
    settings: Settings<'_>,
) -> Result<Provisioned, NamedError> {
    let s3 = settings.s3;
    let mut out = Provisioned::default();
    let td = &assignment.definition;
    if td.network_mode.as_ref().is_some_and(|m| m.as_str() == "awsvpc") {
        out.network =
            Some(awsvpc::provision(runtime, assignment, task_id, adopted_pause, settings).await?);
    }
    if let Some(size) = fargate_size(assignment) {
        out.cgroup_parent = runtime.create_task_cgroup(task_id, size).await.map_err(|e| {
            NamedError::ResourceInitialization(format!("failed to size the task: {e}"))
        })?;
    }
    let family = td.family.clone().unwrap_or_default();
    let revision = td.revision.unwrap_or(0);
    let task_arn = assignment.task.task_arn.clone().unwrap_or_default();
    for v in td.volumes.as_deref().unwrap_or(&[]) {
        let name = v.name.clone().unwrap_or_default();
        if v.efs_volume_configuration.is_some()
            || v.fsx_windows_file_server_volume_configuration.is_some()
        {
            return Err(NamedError::ResourceInitialization(format!(
                "volume '{name}': EFS and FSx volumes are not available on this host"
            )));
        }
        if let Some(path) = v.host.as_ref().and_then(|h| h.source_path.clone()) {
            out.volumes.insert(name, path);
            continue;
        }
        let config = v.docker_volume_configuration.clone().unwrap_or_default();
        let shared = config.scope == Some(Scope::Shared);
        let docker_name =
            if shared { name.clone() } else { task_volume_name(&family, revision, &name, task_id) };
        if !shared || config.autoprovision.unwrap_or(false) {
            let mut labels: HashMap<String, String> =
                config.labels.clone().unwrap_or_default().into_iter().collect();
            if !shared {
                labels.insert(LABEL_TASK_ARN.to_owned(), task_arn.clone());
            }
            runtime
                .create_volume(VolumeSpec {
                    name: docker_name.clone(),
                    driver: config.driver.clone(),
                    driver_opts: config
                        .driver_opts
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                    labels,
                })
                .await
                .map_err(|e| {
                    NamedError::ResourceInitialization(format!(
                        "failed to create volume '{name}': {e}"
                    ))
                })?;
            if !shared {
                out.task_volumes.push(docker_name.clone());
            }
        }
        out.volumes.insert(name, docker_name);
    }
    for def in definitions {
        let name = def.name.clone().unwrap_or_default();
        let mut env: Vec<(String, String)> = Vec::new();
        let explicit: Vec<&str> = def
            .environment
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter_map(|kv| kv.name.as_deref())
            .collect();
        for file in def.environment_files.as_deref().unwrap_or(&[]) {
            let location = file.value.clone().unwrap_or_default();
            if let Some(object) = location.strip_prefix("arn:aws:s3:::") {
                let arn = format!("arn:aws:s3:::{object}");
                link.check_execution_role(&task_arn, "s3:GetObject", &arn).await.map_err(|e| {
                    let (LinkError::Refused(detail) | LinkError::Unavailable(detail)) = e;
                    NamedError::ResourceInitialization(format!(
                        "failed to download env files: file {location}: {detail}"
                    ))
                })?;
            }
            for (k, v) in read_env_file(&location, s3).await? {
                // `environment` wins over a file; an earlier file over a later one.
                if !explicit.contains(&k.as_str()) && !env.iter().any(|(e, _)| *e == k) {
                    env.push((k, v));
                }
            }
        }
        for secret in def.secrets.as_deref().unwrap_or(&[]) {
            let var = secret.name.clone().unwrap_or_default();
            let from = secret.value_from.clone().unwrap_or_default();
            let value = link.resolve_task_secret(&task_arn, &from).await.map_err(|e| match e {
                LinkError::Refused(detail) | LinkError::Unavailable(detail) => {
                    NamedError::secrets(detail)
                }
            })?;
            env.retain(|(k, _)| *k != var);
            env.push((var, value));
        }
        if !env.is_empty() {
            out.env.insert(name, env);
        }
    }
    Ok(out)
}

/// Reads an environment file: an S3 object ARN (`arn:aws:s3:::bucket/key`,
/// from the configured S3-compatible endpoint) or a local path
/// (`/path/x.env` or `file:///path/x.env`).
async fn read_env_file(
    location: &str,
    s3: Option<&S3Endpoint>,
) -> Result<Vec<(String, String)>, NamedError> {
    let fail = |detail: String| {
        NamedError::ResourceInitialization(format!(
            "failed to download env files: file {location}: {detail}"
        ))
    };
    let text = if location.starts_with("arn:") {
        let (bucket, key) =
            crate::s3::parse_object_arn(location).map_err(|e| fail(e.to_string()))?;
        let endpoint = s3.ok_or_else(|| fail(crate::s3::S3Error::NoEndpoint.to_string()))?;
        let bytes =
            crate::s3::get_object(endpoint, bucket, key).await.map_err(|e| fail(e.to_string()))?;
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        let path = location.strip_prefix("file://").unwrap_or(location);
        if !path.starts_with('/') {
            return Err(fail("not an S3 object ARN or an absolute local path".into()));
        }
        tokio::fs::read_to_string(path).await.map_err(|e| fail(e.to_string()))?
    };
    Ok(parse_env_file(&text))
}

/// Parses a `.env` file as ECS does: `KEY=VALUE` per line, `#` comments and
/// blank lines skipped, the value taken verbatim after the first `=`.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .collect()
}

/// Registry credentials from a Secrets Manager secret holding
/// `{"username": ..., "password": ...}` (`repositoryCredentials`).
pub async fn registry_auth(
    link: &dyn ServerLink,
    task_arn: &str,
    parameter: &str,
) -> Result<RegistryAuth, NamedError> {
    let value = link.resolve_task_secret(task_arn, parameter).await.map_err(|e| match e {
        LinkError::Refused(detail) | LinkError::Unavailable(detail) => NamedError::secrets(detail),
    })?;
    #[derive(serde::Deserialize)]
    struct Creds {
        username: String,
        password: String,
    }
    let creds: Creds = serde_json::from_str(&value).map_err(|_| {
        NamedError::secrets(format!(
            "the secret {parameter} does not hold a JSON object with username and password"
        ))
    })?;
    Ok(RegistryAuth { username: creds.username, password: creds.password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_parse_like_ecs() {
        let vars = parse_env_file("# c\nA=1\n\nB=x=y\n  C= spaced \nnovalue\n=bad\n");
        assert_eq!(
            vars,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), " spaced ".into())
            ]
        );
    }
}
