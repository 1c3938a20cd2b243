//! What a task definition must satisfy to be registered with `FARGATE` in
//! `requiresCompatibilities`: awsvpc, a valid task size, an execution role for
//! `awslogs` and ECR images, a stream prefix, only Fargate's log drivers, and
//! none of the host-level features Fargate does not offer.

use crate::ecs::shapes::{LogDriver, PidMode};
use crate::error::EcsError;

use super::rules::{self, msg};
use super::validate::{Mode, Task};

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// Network mode and task size, checked before the containers.
pub(crate) fn check_task_size(task: &Task) -> Result<(), EcsError> {
    if !task.fargate {
        return Ok(());
    }
    if task.mode != Mode::Awsvpc {
        return Err(client(msg::FARGATE_AWSVPC));
    }
    let Some(cpu) = task.cpu else { return Err(client(msg::FARGATE_CPU)) };
    let Some(memory) = task.memory else { return Err(client(msg::FARGATE_MEMORY)) };
    if !rules::fargate_size_ok(cpu, memory) {
        return Err(client(msg::fargate_size(cpu, memory)));
    }
    Ok(())
}

/// Whether `image` is in a private ECR registry (`<acct>.dkr.ecr.<region>.amazonaws.com[.cn]/...`).
pub(crate) fn is_ecr_image(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or_default();
    let mut parts = host.split('.');
    let account = parts.next().unwrap_or_default();
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && parts.next() == Some("dkr")
        && parts.next() == Some("ecr")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
        && image.contains('/')
}

/// The container- and volume-level restrictions, after the generic checks.
pub(crate) fn check(task: &Task) -> Result<(), EcsError> {
    let req = task.req;
    let has_role = req.execution_role_arn.as_deref().is_some_and(|r| !r.is_empty());
    for c in task.containers {
        if let Some(l) = &c.log_configuration {
            if let Some(driver) = &l.log_driver {
                if !rules::FARGATE_LOG_DRIVERS.contains(&driver.as_str()) {
                    return Err(client(msg::fargate_log_driver(driver.as_str())));
                }
                if *driver == LogDriver::Awslogs {
                    if !has_role {
                        return Err(client(msg::FARGATE_AWSLOGS_ROLE));
                    }
                    let prefix = l.options.as_ref().and_then(|o| o.get("awslogs-stream-prefix"));
                    if prefix.is_none_or(|p| p.is_empty()) {
                        return Err(client(msg::FARGATE_AWSLOGS_PREFIX));
                    }
                }
            }
        }
        if !has_role && c.image.as_deref().is_some_and(is_ecr_image) {
            return Err(client(msg::FARGATE_ECR_ROLE));
        }
        if c.privileged == Some(true) {
            return Err(client(msg::fargate_unsupported("privileged containers")));
        }
        if let Some(l) = &c.linux_parameters {
            let unsupported = [
                ("devices", l.devices.as_ref().is_some_and(|d| !d.is_empty())),
                ("sharedMemorySize", l.shared_memory_size.is_some()),
                ("tmpfs", l.tmpfs.as_ref().is_some_and(|t| !t.is_empty())),
                ("maxSwap", l.max_swap.is_some()),
                ("swappiness", l.swappiness.is_some()),
            ];
            if let Some((what, _)) = unsupported.iter().find(|(_, set)| *set) {
                return Err(client(msg::fargate_unsupported(&format!("linuxParameters.{what}"))));
            }
        }
    }
    for v in req.volumes.iter().flatten() {
        if v.host.as_ref().and_then(|h| h.source_path.as_deref()).is_some_and(|p| !p.is_empty()) {
            return Err(client(msg::FARGATE_SOURCE_PATH));
        }
        if v.docker_volume_configuration.is_some() {
            return Err(client(msg::fargate_unsupported("dockerVolumeConfiguration volumes")));
        }
    }
    if req.placement_constraints.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(client(msg::fargate_unsupported("placementConstraints")));
    }
    if req.pid_mode == Some(PidMode::Host) {
        return Err(client(msg::FARGATE_PID_HOST));
    }
    if req.ipc_mode.is_some() {
        return Err(client(msg::FARGATE_IPC_MODE));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::testutil::{accepted, fargate, refused, with};
    use super::is_ecr_image;

    fn set(field: &str, value: Value) -> Value {
        with(fargate(), |v| v[field] = value)
    }

    fn set_container(field: &str, value: Value) -> Value {
        with(fargate(), |v| v["containerDefinitions"][0][field] = value)
    }

    #[test]
    fn task_size_and_network_mode() {
        accepted(fargate());
        refused(
            set("networkMode", json!("bridge")),
            "Fargate only supports network mode \u{2018}awsvpc\u{2019}.",
        );
        refused(
            with(fargate(), |v| drop(v.as_object_mut().map(|o| o.remove("networkMode")))),
            "Fargate only supports network mode \u{2018}awsvpc\u{2019}.",
        );
        refused(
            with(fargate(), |v| drop(v.as_object_mut().map(|o| o.remove("cpu")))),
            "Fargate requires that 'cpu' be defined at the task level.",
        );
        refused(
            with(fargate(), |v| drop(v.as_object_mut().map(|o| o.remove("memory")))),
            "Fargate requires that 'memory' be defined at the task level.",
        );
        refused(
            set("memory", json!("4096")),
            "No Fargate configuration exists for given values: 256 CPU, 4096 memory. See the Amazon ECS documentation for the valid values.",
        );
        accepted(with(fargate(), |v| {
            v["cpu"] = json!("1 vCPU");
            v["memory"] = json!("2 GB");
        }));
    }

    #[test]
    fn awslogs_on_fargate() {
        let logs = json!({"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r", "awslogs-stream-prefix": "ecs"}});
        accepted(set_container("logConfiguration", logs.clone()));
        refused(
            with(set_container("logConfiguration", logs.clone()), |v| drop(v.as_object_mut().map(|o| o.remove("executionRoleArn")))),
            "Fargate requires task definition to have execution role ARN to support log driver awslogs.",
        );
        refused(
            set_container("logConfiguration", json!({"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r"}})),
            "Fargate requires log configuration options to include awslogs-stream-prefix to support log driver awslogs.",
        );
        refused(
            set_container("logConfiguration", json!({"logDriver": "gelf"})),
            "gelf is not a valid log driver.",
        );
    }

    #[test]
    fn ecr_images_need_the_execution_role() {
        assert!(is_ecr_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"));
        assert!(!is_ecr_image("public.ecr.aws/nginx/nginx:1"));
        assert!(!is_ecr_image("XXXXX.dkr.ecr.us-east-1.amazonaws.com/app"));
        refused(
            with(
                set_container("image", json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1")),
                |v| drop(v.as_object_mut().map(|o| o.remove("executionRoleArn"))),
            ),
            "Fargate requires task definition to have execution role ARN to support ECR images.",
        );
    }

    #[test]
    fn host_level_features() {
        refused(
            set_container("privileged", json!(true)),
            "Tasks using the Fargate launch type do not support privileged containers.",
        );
        refused(
            set_container("linuxParameters", json!({"sharedMemorySize": 64})),
            "Tasks using the Fargate launch type do not support linuxParameters.sharedMemorySize.",
        );
        refused(
            set_container("linuxParameters", json!({"devices": [{"hostPath": "/dev/fuse"}]})),
            "Tasks using the Fargate launch type do not support linuxParameters.devices.",
        );
        accepted(set_container(
            "linuxParameters",
            json!({"initProcessEnabled": true, "capabilities": {"add": ["SYS_PTRACE"]}}),
        ));
        refused(
            set("volumes", json!([{"name": "v", "host": {"sourcePath": "/data"}}])),
            "Fargate compatible task definitions do not support sourcePath",
        );
        accepted(set("volumes", json!([{"name": "v", "host": {}}])));
        refused(
            set("volumes", json!([{"name": "v", "dockerVolumeConfiguration": {"scope": "task"}}])),
            "Tasks using the Fargate launch type do not support dockerVolumeConfiguration volumes.",
        );
        refused(
            set(
                "placementConstraints",
                json!([{"type": "memberOf", "expression": "attribute:x == y"}]),
            ),
            "Tasks using the Fargate launch type do not support placementConstraints.",
        );
        accepted(set("placementConstraints", json!([])));
        refused(set("pidMode", json!("host")), "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'.");
        accepted(set("pidMode", json!("task")));
        refused(
            set("ipcMode", json!("task")),
            "Tasks using the Fargate launch type do not support ipcMode.",
        );
    }

    #[test]
    fn timeouts_are_not_checked_at_registration() {
        accepted(set_container("startTimeout", json!(300)));
    }
}
