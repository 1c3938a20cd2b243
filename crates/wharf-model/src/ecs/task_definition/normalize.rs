//! From an accepted RegisterTaskDefinition request to the TaskDefinition that
//! DescribeTaskDefinition returns, filled in as ECS fills it: ARN, revision,
//! status, registration time, computed `compatibilities` and
//! `requiresAttributes`, task cpu/memory as plain numbers, and the container
//! defaults ECS shows (`cpu: 0`, `essential: true`, empty lists, port
//! protocol and host port, health check timings).

use crate::ecs::shapes::{
    Compatibility, ContainerDefinition, HealthCheck, RegisterTaskDefinitionRequest, Tag,
    TaskDefinition, TaskDefinitionStatus, TransportProtocol, Volume,
};
use crate::wire::Timestamp;

use super::attributes::requires_attributes;
use super::rules;
use super::units::{parse_task_cpu, parse_task_memory};
use super::validate::{network_mode, validate_register, Mode};

/// What the registry decides when it accepts a task definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// `arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>`.
    pub arn: String,
    /// The revision within the family, from 1.
    pub revision: i32,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// The principal that registered it, if known.
    pub registered_by: Option<String>,
}

/// The TaskDefinition ECS would describe for `req` (already validated), and
/// the request's tags, which ECS returns beside it rather than inside it.
pub fn normalize(
    req: RegisterTaskDefinitionRequest,
    reg: Registration,
) -> (TaskDefinition, Option<Vec<Tag>>) {
    let mode = network_mode(req.network_mode.as_ref()).unwrap_or(Mode::Bridge);
    let compatibilities = compatibilities(&req, mode);
    let requires = requires_attributes(&req, mode);
    // Destructured in full so that a member added to the model fails to
    // compile here until it is carried over.
    let RegisterTaskDefinitionRequest {
        family,
        task_role_arn,
        execution_role_arn,
        network_mode: network,
        container_definitions,
        volumes,
        placement_constraints,
        requires_compatibilities,
        cpu,
        memory,
        tags,
        pid_mode,
        ipc_mode,
        proxy_configuration,
        inference_accelerators,
        ephemeral_storage,
        runtime_platform,
        enable_fault_injection,
    } = req;
    let containers = container_definitions
        .unwrap_or_default()
        .into_iter()
        .map(|c| container_defaults(c, mode))
        .collect();
    let task = TaskDefinition {
        task_definition_arn: Some(reg.arn),
        container_definitions: Some(containers),
        family,
        task_role_arn,
        execution_role_arn,
        network_mode: network,
        revision: Some(reg.revision),
        volumes: Some(volume_defaults(volumes.unwrap_or_default())),
        status: Some(TaskDefinitionStatus::Active),
        requires_attributes: Some(requires),
        placement_constraints: Some(placement_constraints.unwrap_or_default()),
        compatibilities: Some(compatibilities),
        runtime_platform,
        requires_compatibilities,
        cpu: cpu.map(|s| parse_task_cpu(&s).map_or(s, |n| n.to_string())),
        memory: memory.map(|s| parse_task_memory(&s).map_or(s, |n| n.to_string())),
        inference_accelerators,
        pid_mode,
        ipc_mode,
        proxy_configuration,
        registered_at: Some(reg.registered_at),
        deregistered_at: None,
        delete_requested_at: None,
        registered_by: reg.registered_by,
        ephemeral_storage,
        enable_fault_injection,
    };
    (task, tags)
}

/// What ECS computes: EC2 always; EXTERNAL and MANAGED_INSTANCES when asked
/// for, MANAGED_INSTANCES also for awsvpc tasks; FARGATE when the task
/// definition would be accepted with FARGATE required.
pub(crate) fn compatibilities(
    req: &RegisterTaskDefinitionRequest,
    mode: Mode,
) -> Vec<Compatibility> {
    let asked = req.requires_compatibilities.as_deref().unwrap_or_default();
    let mut out = vec![Compatibility::Ec2];
    if asked.contains(&Compatibility::External) {
        out.push(Compatibility::External);
    }
    if mode == Mode::Awsvpc || asked.contains(&Compatibility::ManagedInstances) {
        out.push(Compatibility::ManagedInstances);
    }
    let fargate_ok = asked.contains(&Compatibility::Fargate) || {
        let mut probe = req.clone();
        probe.requires_compatibilities = Some(vec![Compatibility::Fargate]);
        mode == Mode::Awsvpc && validate_register(&probe).is_ok()
    };
    if fargate_ok {
        out.push(Compatibility::Fargate);
    }
    out
}

/// The defaults ECS shows for volumes: an EFS volume's `rootDirectory` is
/// `/` when omitted.
fn volume_defaults(mut volumes: Vec<Volume>) -> Vec<Volume> {
    for v in &mut volumes {
        if let Some(efs) = &mut v.efs_volume_configuration {
            efs.root_directory.get_or_insert_with(|| "/".to_owned());
        }
    }
    volumes
}

/// The defaults ECS shows for a container in describe output.
fn container_defaults(mut c: ContainerDefinition, mode: Mode) -> ContainerDefinition {
    c.cpu.get_or_insert(0);
    c.essential.get_or_insert(true);
    c.environment.get_or_insert_with(Vec::new);
    c.mount_points.get_or_insert_with(Vec::new);
    c.volumes_from.get_or_insert_with(Vec::new);
    c.system_controls.get_or_insert_with(Vec::new);
    for p in c.port_mappings.get_or_insert_with(Vec::new) {
        p.protocol.get_or_insert(TransportProtocol::Tcp);
        if p.container_port_range.is_none() && p.host_port.is_none() {
            p.host_port = match mode {
                Mode::Awsvpc | Mode::Host => p.container_port,
                Mode::Bridge => Some(0),
                Mode::None => None,
            };
        }
    }
    if let Some(h) = &mut c.health_check {
        fill_health(h);
    }
    c
}

fn fill_health(h: &mut HealthCheck) {
    let (interval, timeout, retries) = rules::HEALTH_DEFAULTS;
    h.interval.get_or_insert(interval);
    h.timeout.get_or_insert(timeout);
    h.retries.get_or_insert(retries);
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::testutil::{ec2, fargate, req, with};
    use super::{normalize, Registration};
    use crate::ecs::shapes::{ContainerDefinition, RegisterTaskDefinitionRequest, TaskDefinition};
    use crate::wire::{Shape, Timestamp};

    fn reg() -> Registration {
        Registration {
            arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3".into(),
            revision: 3,
            registered_at: Timestamp(1_700_000_000.5),
            registered_by: Some("arn:aws:iam::123456789012:user/dev".into()),
        }
    }

    fn described(v: Value) -> Value {
        serde_json::to_value(normalize(req(v), reg()).0).expect("serializes")
    }

    #[test]
    fn registry_fields_and_defaults() {
        let d = described(with(ec2(), |v| {
            v["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 80}])
        }));
        assert_eq!(
            d["taskDefinitionArn"],
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"
        );
        assert_eq!(d["revision"], 3);
        assert_eq!(d["status"], "ACTIVE");
        assert_eq!(d["registeredAt"], 1_700_000_000.5);
        assert_eq!(d["registeredBy"], "arn:aws:iam::123456789012:user/dev");
        assert_eq!(d["volumes"], json!([]));
        assert_eq!(d["placementConstraints"], json!([]));
        assert_eq!(d["compatibilities"], json!(["EC2"]));
        assert_eq!(d["requiresAttributes"], json!([]));
        let c = &d["containerDefinitions"][0];
        assert_eq!(c["cpu"], 0);
        assert_eq!(c["essential"], true);
        for list in ["environment", "mountPoints", "volumesFrom", "systemControls"] {
            assert_eq!(c[list], json!([]), "{list}");
        }
        assert_eq!(
            c["portMappings"],
            json!([{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}])
        );
    }

    #[test]
    fn awsvpc_fills_host_ports_and_fargate_compatibility() {
        let d = described(with(fargate(), |v| {
            v["cpu"] = json!("0.25 vCPU");
            v["memory"] = json!("0.5GB");
            v["containerDefinitions"][0]["portMappings"] =
                json!([{"containerPort": 8080, "protocol": "udp"}]);
            v["containerDefinitions"][0]["healthCheck"] = json!({"command": ["CMD", "true"]});
        }));
        assert_eq!((d["cpu"].as_str(), d["memory"].as_str()), (Some("256"), Some("512")));
        assert_eq!(d["compatibilities"], json!(["EC2", "MANAGED_INSTANCES", "FARGATE"]));
        let c = &d["containerDefinitions"][0];
        assert_eq!(
            c["portMappings"],
            json!([{"containerPort": 8080, "hostPort": 8080, "protocol": "udp"}])
        );
        assert_eq!(
            c["healthCheck"],
            json!({"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3})
        );
    }

    #[test]
    fn computed_compatibilities() {
        let awsvpc_ec2 = with(fargate(), |v| {
            drop(v.as_object_mut().map(|o| o.remove("requiresCompatibilities")))
        });
        assert_eq!(
            described(awsvpc_ec2.clone())["compatibilities"],
            json!(["EC2", "MANAGED_INSTANCES", "FARGATE"])
        );
        let privileged =
            with(awsvpc_ec2, |v| v["containerDefinitions"][0]["privileged"] = json!(true));
        assert_eq!(described(privileged)["compatibilities"], json!(["EC2", "MANAGED_INSTANCES"]));
        let external = with(ec2(), |v| v["requiresCompatibilities"] = json!(["EC2", "EXTERNAL"]));
        assert_eq!(described(external)["compatibilities"], json!(["EC2", "EXTERNAL"]));
    }

    /// A request with every member of the request and of a container set.
    fn everything() -> Value {
        serde_json::from_str(EVERYTHING).expect("fixture is JSON")
    }

    const EVERYTHING: &str = r#"{
            "family": "all", "taskRoleArn": "arn:aws:iam::1:role/t", "executionRoleArn": "arn:aws:iam::1:role/e",
            "networkMode": "bridge", "requiresCompatibilities": ["EC2"], "cpu": "1 vCPU", "memory": "2 GB",
            "volumes": [{"name": "v", "host": {"sourcePath": "/srv"}}],
            "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
            "tags": [{"key": "team", "value": "web"}], "pidMode": "task", "ipcMode": "none",
            "proxyConfiguration": {"type": "APPMESH", "containerName": "app", "properties": [{"name": "AppPorts", "value": "80"}]},
            "inferenceAccelerators": [{"deviceName": "d", "deviceType": "eia2.medium"}],
            "ephemeralStorage": {"sizeInGiB": 30}, "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "enableFaultInjection": true,
            "containerDefinitions": [{
                "name": "app", "image": "nginx:1.27", "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:r:1:secret:c"},
                "cpu": 128, "memory": 256, "memoryReservation": 128, "links": ["side:s"],
                "portMappings": [{"containerPort": 80, "hostPort": 8080, "protocol": "tcp", "name": "web", "appProtocol": "http"}],
                "essential": true, "restartPolicy": {"enabled": true, "ignoredExitCodes": [0], "restartAttemptPeriod": 60},
                "entryPoint": ["sh"], "command": ["-c", "nginx"], "environment": [{"name": "A", "value": "1"}],
                "environmentFiles": [{"type": "s3", "value": "arn:aws:s3:::b/a.env"}],
                "mountPoints": [{"sourceVolume": "v", "containerPath": "/v", "readOnly": true}],
                "volumesFrom": [{"sourceContainer": "side", "readOnly": false}],
                "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]}, "devices": [{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse", "permissions": ["read"]}],
                    "initProcessEnabled": true, "sharedMemorySize": 64, "tmpfs": [{"containerPath": "/t", "size": 8, "mountOptions": ["noexec"]}], "maxSwap": 0, "swappiness": 10},
                "secrets": [{"name": "S", "valueFrom": "/p"}], "dependsOn": [{"containerName": "side", "condition": "START"}],
                "startTimeout": 30, "stopTimeout": 20, "versionConsistency": "enabled", "hostname": "app", "user": "1000",
                "workingDirectory": "/app", "disableNetworking": false, "privileged": false, "readonlyRootFilesystem": true,
                "dnsServers": ["10.0.0.2"], "dnsSearchDomains": ["corp"], "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.3"}],
                "dockerSecurityOptions": ["no-new-privileges"], "interactive": false, "pseudoTerminal": false,
                "dockerLabels": {"l": "v"}, "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r"}, "secretOptions": [{"name": "x", "valueFrom": "/y"}]},
                "healthCheck": {"command": ["CMD", "true"], "interval": 10, "timeout": 3, "retries": 2, "startPeriod": 5},
                "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
                "resourceRequirements": [{"type": "GPU", "value": "1"}], "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
                "credentialSpecs": ["credentialspec:arn:aws:s3:::b/spec.json"]
            }, {"name": "side", "image": "busybox:1.36", "memory": 64, "essential": false}]
        }"#;

    #[test]
    fn every_request_member_is_carried_over() {
        let input = everything();
        for m in <RegisterTaskDefinitionRequest as Shape>::MEMBERS {
            assert!(input.get(m).is_some(), "fixture lacks request member {m}");
        }
        for m in <ContainerDefinition as Shape>::MEMBERS {
            assert!(
                input["containerDefinitions"][0].get(m).is_some(),
                "fixture lacks container member {m}"
            );
        }
        let (td, tags) = normalize(req(input.clone()), reg());
        assert_eq!(serde_json::to_value(tags).ok(), Some(input["tags"].clone()));
        let out = serde_json::to_value(&td).expect("serializes");
        for m in <RegisterTaskDefinitionRequest as Shape>::MEMBERS {
            match *m {
                "tags" => assert!(out.get("tags").is_none()),
                "cpu" => assert_eq!(out["cpu"], "1024"),
                "memory" => assert_eq!(out["memory"], "2048"),
                "containerDefinitions" => {
                    // Fully set: unchanged. Sparse: what was given survives the defaults.
                    assert_eq!(out[m][0], input[m][0]);
                    for (k, v) in input[m][1].as_object().into_iter().flatten() {
                        assert_eq!(&out[m][1][k], v, "side.{k}");
                    }
                }
                _ => {
                    assert!(
                        <TaskDefinition as Shape>::MEMBERS.contains(m),
                        "{m} has no TaskDefinition counterpart"
                    );
                    assert_eq!(out[m], input[m], "member {m}");
                }
            }
        }
    }
}
