//! `requiresAttributes`: the container-instance capabilities a task
//! definition needs, which ECS computes at registration and the scheduler
//! matches against what each agent advertises.
//!
//! Names are the agent's (AG:agent/app/agent_capability.go). The conditions
//! are ECS's as far as real describe output shows them: each row below was
//! checked against published DescribeTaskDefinition responses (2021–2024)
//! where one exists; the docker-remote-api rows follow the API versions that
//! introduced the Docker feature (1.21 memory reservation, 1.24 health check,
//! 1.25 init, 1.28 non-blocking log mode, 1.29 awslogs-create-group).

use std::collections::BTreeSet;

use crate::ecs::shapes::{
    Attribute, ContainerDefinition, EFSAuthorizationConfigIAM, EFSTransitEncryption,
    FirelensConfigurationType, LogDriver, RegisterTaskDefinitionRequest, Secret,
};

use super::fargate::is_ecr_image;
use super::validate::Mode;

const CAP: &str = "com.amazonaws.ecs.capability.";
const ATTR: &str = "ecs.capability.";

type Rule = (&'static str, &'static str, fn(&Facts) -> bool);

/// The fixed-name attributes and when each is required.
const RULES: &[Rule] = &[
    (ATTR, "execution-role-awslogs", |f| {
        f.exec_role && f.any(|c| driver(c) == Some(&LogDriver::Awslogs))
    }),
    (CAP, "ecr-auth", |f| f.any(|c| c.image.as_deref().is_some_and(is_ecr_image))),
    (CAP, "docker-remote-api.1.17", |f| {
        f.any(|c| !c.mount_points.as_deref().unwrap_or_default().is_empty())
    }),
    (CAP, "docker-remote-api.1.18", |f| {
        f.mode == Mode::Awsvpc
            || f.any(|c| c.docker_labels.as_ref().is_some_and(|l| !l.is_empty()))
            || f.any(|c| c.ulimits.as_ref().is_some_and(|u| !u.is_empty()))
    }),
    (CAP, "docker-remote-api.1.19", |f| f.any(|c| !log_options(c).is_empty())),
    (CAP, "docker-remote-api.1.21", |f| f.any(|c| c.memory_reservation.is_some())),
    (CAP, "docker-remote-api.1.24", |f| f.any(|c| c.health_check.is_some())),
    (CAP, "docker-remote-api.1.25", |f| {
        f.any(|c| c.linux_parameters.as_ref().and_then(|l| l.init_process_enabled) == Some(true))
    }),
    (CAP, "docker-remote-api.1.28", |f| {
        f.any(|c| log_options(c).iter().any(|k| *k == "mode" || *k == "max-buffer-size"))
    }),
    (CAP, "docker-remote-api.1.29", |f| {
        f.any(|c| log_options(c).contains(&"awslogs-create-group"))
    }),
    (CAP, "task-iam-role", |f| f.task_role),
    (CAP, "task-iam-role-network-host", |f| f.task_role && f.mode == Mode::Host),
    (CAP, "privileged-container", |f| f.any(|c| c.privileged == Some(true))),
    (CAP, "selinux", |f| f.any(|c| security_opt(c, "label"))),
    (CAP, "apparmor", |f| f.any(|c| security_opt(c, "apparmor"))),
    (ATTR, "container-health-check", |f| f.any(|c| c.health_check.is_some())),
    (ATTR, "container-ordering", |f| {
        f.any(|c| {
            c.depends_on.as_ref().is_some_and(|d| !d.is_empty())
                || c.start_timeout.is_some()
                || c.stop_timeout.is_some()
        })
    }),
    (ATTR, "execution-role-ecr-pull", |f| {
        f.exec_role && f.any(|c| c.image.as_deref().is_some_and(is_ecr_image))
    }),
    (ATTR, "private-registry-authentication.secretsmanager", |f| {
        f.any(|c| c.repository_credentials.is_some())
    }),
    (ATTR, "secrets.ssm.environment-variables", |f| {
        f.any(|c| secrets(c).iter().any(|s| !is_asm(s)))
    }),
    (ATTR, "secrets.asm.environment-variables", |f| f.any(|c| secrets(c).iter().any(is_asm))),
    (ATTR, "secrets.ssm.bootstrap.log-driver", |f| {
        f.any(|c| secret_options(c).iter().any(|s| !is_asm(s)))
    }),
    (ATTR, "secrets.asm.bootstrap.log-driver", |f| f.any(|c| secret_options(c).iter().any(is_asm))),
    (ATTR, "task-eni", |f| f.mode == Mode::Awsvpc),
    (ATTR, "aws-appmesh", |f| f.req.proxy_configuration.is_some()),
    (ATTR, "task-eia", |f| f.req.inference_accelerators.as_ref().is_some_and(|a| !a.is_empty())),
    (ATTR, "pid-ipc-namespace-sharing", |f| f.req.pid_mode.is_some() || f.req.ipc_mode.is_some()),
    (ATTR, "firelens.fluentd", |f| {
        f.any(|c| firelens(c) == Some(&FirelensConfigurationType::Fluentd))
    }),
    (ATTR, "firelens.fluentbit", |f| {
        f.any(|c| firelens(c) == Some(&FirelensConfigurationType::Fluentbit))
    }),
    (ATTR, "firelens.options.config.file", |f| f.any(|c| firelens_config(c) == Some("file"))),
    (ATTR, "firelens.options.config.s3", |f| f.any(|c| firelens_config(c) == Some("s3"))),
    (ATTR, "efs", |f| f.volumes().any(|v| v.efs_volume_configuration.is_some())),
    (ATTR, "efsAuth", |f| {
        f.volumes().filter_map(|v| v.efs_volume_configuration.as_ref()).any(|e| {
            e.transit_encryption == Some(EFSTransitEncryption::Enabled)
                || e.authorization_config.as_ref().is_some_and(|a| {
                    a.iam == Some(EFSAuthorizationConfigIAM::Enabled) || a.access_point_id.is_some()
                })
        })
    }),
    (ATTR, "env-files.s3", |f| {
        f.any(|c| c.environment_files.as_ref().is_some_and(|e| !e.is_empty()))
    }),
    (ATTR, "fsxWindowsFileServer", |f| {
        f.volumes().any(|v| v.fsx_windows_file_server_volume_configuration.is_some())
    }),
    (ATTR, "gmsa", |f| {
        f.any(|c| {
            c.credential_specs.as_ref().is_some_and(|s| !s.is_empty())
                || security_opt(c, "credentialspec")
        })
    }),
    (ATTR, "network.container-port-range", |f| {
        f.any(|c| c.port_mappings.iter().flatten().any(|p| p.container_port_range.is_some()))
    }),
    (ATTR, "container-restart-policy", |f| {
        f.any(|c| c.restart_policy.as_ref().and_then(|r| r.enabled) == Some(true))
    }),
];

/// What the rules look at.
struct Facts<'a> {
    req: &'a RegisterTaskDefinitionRequest,
    mode: Mode,
    exec_role: bool,
    task_role: bool,
}

impl Facts<'_> {
    fn any(&self, f: impl Fn(&ContainerDefinition) -> bool) -> bool {
        self.req.container_definitions.iter().flatten().any(f)
    }
    fn volumes(&self) -> impl Iterator<Item = &crate::ecs::shapes::Volume> {
        self.req.volumes.iter().flatten()
    }
}

fn driver(c: &ContainerDefinition) -> Option<&LogDriver> {
    c.log_configuration.as_ref().and_then(|l| l.log_driver.as_ref())
}
fn log_options(c: &ContainerDefinition) -> Vec<&str> {
    c.log_configuration
        .iter()
        .flat_map(|l| l.options.iter().flatten())
        .map(|(k, _)| k.as_str())
        .collect()
}
fn security_opt(c: &ContainerDefinition, prefix: &str) -> bool {
    c.docker_security_options.iter().flatten().any(|o| o.split([':', '=']).next() == Some(prefix))
}
fn secrets(c: &ContainerDefinition) -> &[Secret] {
    c.secrets.as_deref().unwrap_or_default()
}
fn secret_options(c: &ContainerDefinition) -> &[Secret] {
    c.log_configuration.as_ref().and_then(|l| l.secret_options.as_deref()).unwrap_or_default()
}
fn is_asm(s: &Secret) -> bool {
    s.value_from.as_deref().is_some_and(|v| v.contains(":secretsmanager:"))
}
fn firelens(c: &ContainerDefinition) -> Option<&FirelensConfigurationType> {
    c.firelens_configuration.as_ref().and_then(|f| f.r#type.as_ref())
}
fn firelens_config(c: &ContainerDefinition) -> Option<&str> {
    c.firelens_configuration.as_ref()?.options.as_ref()?.get("config-file-type").map(String::as_str)
}

/// The attributes ECS lists for `req`, in a fixed order without duplicates.
pub(crate) fn requires_attributes(
    req: &RegisterTaskDefinitionRequest,
    mode: Mode,
) -> Vec<Attribute> {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|v| !v.is_empty());
    let facts = Facts {
        req,
        mode,
        exec_role: set(&req.execution_role_arn),
        task_role: set(&req.task_role_arn),
    };
    let mut names: Vec<String> = Vec::new();
    // Logging drivers and Docker volume plugins are named after what the task uses.
    let drivers: BTreeSet<&str> = req
        .container_definitions
        .iter()
        .flatten()
        .filter_map(driver)
        .map(LogDriver::as_str)
        .collect();
    names.extend(drivers.iter().map(|d| format!("{CAP}logging-driver.{d}")));
    for (prefix, name, applies) in RULES {
        if applies(&facts) {
            names.push(format!("{prefix}{name}"));
        }
    }
    let plugins: BTreeSet<&str> = facts
        .volumes()
        .filter_map(|v| v.docker_volume_configuration.as_ref()?.driver.as_deref())
        .collect();
    names.extend(plugins.iter().map(|d| format!("{ATTR}docker-plugin.{d}")));
    names.into_iter().map(|name| Attribute { name: Some(name), ..Attribute::default() }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testutil::req;
    use super::super::validate::Mode;
    use super::requires_attributes;

    fn names(v: serde_json::Value, mode: Mode) -> Vec<String> {
        requires_attributes(&req(v), mode).into_iter().filter_map(|a| a.name).collect()
    }

    /// A published 2021 DescribeTaskDefinition response (awsvpc, awslogs,
    /// memoryReservation, SSM secret, start/stop timeouts, task role) and the
    /// attributes ECS listed for it, in our order.
    #[test]
    fn matches_a_published_fargate_response() {
        let td = json!({
            "family": "test_family", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "taskRoleArn": "arn:aws:iam::000000000000:role/t", "executionRoleArn": "arn:aws:iam::000000000000:role/t",
            "cpu": "256", "memory": "512",
            "containerDefinitions": [{
                "name": "test", "image": "test/test:latest", "cpu": 256, "memory": 512, "memoryReservation": 128,
                "portMappings": [{"containerPort": 4141, "hostPort": 4141, "protocol": "tcp"}],
                "secrets": [{"name": "TEST_SECRET", "valueFrom": "/test/secret"}], "startTimeout": 30, "stopTimeout": 30,
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "test", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}}
            }]
        });
        let mut got = names(td, Mode::Awsvpc);
        got.sort();
        let mut want = vec![
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "ecs.capability.execution-role-awslogs",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
            "com.amazonaws.ecs.capability.docker-remote-api.1.21",
            "com.amazonaws.ecs.capability.task-iam-role",
            "ecs.capability.container-ordering",
            "ecs.capability.secrets.ssm.environment-variables",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
            "ecs.capability.task-eni",
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn ecr_firelens_and_volumes() {
        let td = json!({
            "family": "f", "executionRoleArn": "arn:aws:iam::1:role/e",
            "volumes": [{"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}},
                        {"name": "d", "dockerVolumeConfiguration": {"driver": "rexray/ebs"}}],
            "containerDefinitions": [{
                "name": "router", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fluent-bit:2", "memory": 64,
                "firelensConfiguration": {"type": "fluentbit", "options": {"config-file-type": "s3", "config-file-value": "arn:aws:s3:::b/x.conf"}}
            }, {
                "name": "app", "image": "nginx", "memory": 64,
                "secrets": [{"name": "K", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:k"}],
                "logConfiguration": {"logDriver": "awsfirelens"}
            }]
        });
        let got = names(td, Mode::Bridge);
        for want in [
            "com.amazonaws.ecs.capability.logging-driver.awsfirelens",
            "com.amazonaws.ecs.capability.ecr-auth",
            "ecs.capability.execution-role-ecr-pull",
            "ecs.capability.firelens.fluentbit",
            "ecs.capability.firelens.options.config.s3",
            "ecs.capability.secrets.asm.environment-variables",
            "ecs.capability.efs",
            "ecs.capability.efsAuth",
            "ecs.capability.docker-plugin.rexray/ebs",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want} in {got:?}");
        }
        assert!(!got.iter().any(|g| g.ends_with("task-eni")));
    }
}
