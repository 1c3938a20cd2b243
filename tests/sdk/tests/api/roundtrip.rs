//! Full round trip: task definitions that use (nearly) every field of the API model come back
//! from RegisterTaskDefinition and DescribeTaskDefinition with every field intact.
//!
//! Two documents, because ECS's own rules keep some fields apart: an EC2 one in `bridge`
//! mode (links, hostname, DNS, extra hosts, devices, GPUs, host and Docker volumes,
//! placement constraints) and a Fargate one in `awsvpc` mode (runtime platform, ephemeral
//! storage, App Mesh proxy, fault injection, EFS). Windows-only fields (FSx volumes) and
//! retired ones (Elastic Inference accelerators) are left out.
//!
//! ECS fills unset list fields of a container with `[]` in its answers; the comparison
//! treats an empty list and an absent one as equal and nothing else.

use wharf_sdk_tests::aws_sdk_ecs::error::SdkError;
use wharf_sdk_tests::aws_sdk_ecs::operation::register_task_definition::{
    RegisterTaskDefinitionError, RegisterTaskDefinitionOutput,
};
use wharf_sdk_tests::aws_sdk_ecs::types::*;
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::{ok, task_definition_arn, Server};

use crate::support::{sorted, tag};

/// The request side of RegisterTaskDefinition, kept so the answer can be compared with it.
#[derive(Debug, Clone, Default)]
pub struct TdSpec {
    pub family: String,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub network_mode: Option<NetworkMode>,
    pub container_definitions: Vec<ContainerDefinition>,
    pub volumes: Option<Vec<Volume>>,
    pub placement_constraints: Option<Vec<TaskDefinitionPlacementConstraint>>,
    pub requires_compatibilities: Option<Vec<Compatibility>>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub pid_mode: Option<PidMode>,
    pub ipc_mode: Option<IpcMode>,
    pub proxy_configuration: Option<ProxyConfiguration>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub runtime_platform: Option<RuntimePlatform>,
    pub enable_fault_injection: Option<bool>,
}

/// Sends `spec` as a RegisterTaskDefinition request.
pub async fn register(
    ecs: &Client,
    spec: &TdSpec,
) -> Result<RegisterTaskDefinitionOutput, SdkError<RegisterTaskDefinitionError>> {
    ecs.register_task_definition()
        .family(&spec.family)
        .set_task_role_arn(spec.task_role_arn.clone())
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_network_mode(spec.network_mode.clone())
        .set_container_definitions(Some(spec.container_definitions.clone()))
        .set_volumes(spec.volumes.clone())
        .set_placement_constraints(spec.placement_constraints.clone())
        .set_requires_compatibilities(spec.requires_compatibilities.clone())
        .set_cpu(spec.cpu.clone())
        .set_memory(spec.memory.clone())
        .set_tags(spec.tags.clone())
        .set_pid_mode(spec.pid_mode.clone())
        .set_ipc_mode(spec.ipc_mode.clone())
        .set_proxy_configuration(spec.proxy_configuration.clone())
        .set_ephemeral_storage(spec.ephemeral_storage.clone())
        .set_runtime_platform(spec.runtime_platform.clone())
        .set_enable_fault_injection(spec.enable_fault_injection)
        .send()
        .await
}

fn kv(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

fn secret(name: &str, value_from: &str) -> Secret {
    Secret::builder().name(name).value_from(value_from).build().expect("secret")
}

fn awslogs(prefix: &str) -> LogConfiguration {
    LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/roundtrip")
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", prefix)
        .build()
        .expect("log configuration")
}

/// An EC2, bridge-mode task definition with two containers that use every container field
/// ECS allows there.
pub fn ec2_task_definition() -> TdSpec {
    let app = ContainerDefinition::builder()
        .name("app")
        .image("registry.example.com/team/app:1.2.3")
        .repository_credentials(
            RepositoryCredentials::builder()
                .credentials_parameter(
                    "arn:aws:secretsmanager:us-east-1:000000000000:secret:registry-AbCdEf",
                )
                .build()
                .expect("repository credentials"),
        )
        .cpu(512)
        .memory(1024)
        .memory_reservation(512)
        .links("sidecar:logs")
        .port_mappings(
            PortMapping::builder()
                .container_port(80)
                .host_port(8080)
                .protocol(TransportProtocol::Tcp)
                .name("http")
                .app_protocol(ApplicationProtocol::Http)
                .build(),
        )
        .port_mappings(
            PortMapping::builder()
                .container_port(5353)
                .host_port(5353)
                .protocol(TransportProtocol::Udp)
                .build(),
        )
        .essential(true)
        .restart_policy(
            ContainerRestartPolicy::builder()
                .enabled(true)
                .ignored_exit_codes(0)
                .ignored_exit_codes(143)
                .restart_attempt_period(120)
                .build()
                .expect("restart policy"),
        )
        .entry_point("/docker-entrypoint.sh")
        .command("nginx")
        .command("-g")
        .command("daemon off;")
        .environment(kv("LOG_LEVEL", "debug"))
        .environment(kv("EMPTY", ""))
        .environment_files(
            EnvironmentFile::builder()
                .value("arn:aws:s3:::wharf-config/app.env")
                .r#type(EnvironmentFileType::S3)
                .build()
                .expect("environment file"),
        )
        .mount_points(
            MountPoint::builder()
                .source_volume("data")
                .container_path("/data")
                .read_only(false)
                .build(),
        )
        .mount_points(
            MountPoint::builder()
                .source_volume("shared")
                .container_path("/shared")
                .read_only(true)
                .build(),
        )
        .volumes_from(VolumeFrom::builder().source_container("sidecar").read_only(true).build())
        .linux_parameters(
            LinuxParameters::builder()
                .capabilities(
                    KernelCapabilities::builder().add("SYS_PTRACE").drop("NET_RAW").build(),
                )
                .devices(
                    Device::builder()
                        .host_path("/dev/fuse")
                        .container_path("/dev/fuse")
                        .permissions(DeviceCgroupPermission::Read)
                        .permissions(DeviceCgroupPermission::Write)
                        .build()
                        .expect("device"),
                )
                .init_process_enabled(true)
                .shared_memory_size(64)
                .tmpfs(
                    Tmpfs::builder()
                        .container_path("/run")
                        .size(64)
                        .mount_options("rw")
                        .mount_options("noexec")
                        .build()
                        .expect("tmpfs"),
                )
                .max_swap(512)
                .swappiness(10)
                .build(),
        )
        .secrets(secret("DB_PASSWORD", "arn:aws:ssm:us-east-1:000000000000:parameter/db/password"))
        .secrets(secret(
            "API_KEY",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:api-key-AbCdEf",
        ))
        .depends_on(
            ContainerDependency::builder()
                .container_name("sidecar")
                .condition(ContainerCondition::Start)
                .build()
                .expect("dependency"),
        )
        .start_timeout(30)
        .stop_timeout(20)
        .version_consistency(VersionConsistency::Disabled)
        .hostname("app-host")
        .user("101:101")
        .working_directory("/srv")
        .disable_networking(false)
        .privileged(false)
        .readonly_root_filesystem(true)
        .dns_servers("10.0.0.2")
        .dns_search_domains("svc.local")
        .extra_hosts(
            HostEntry::builder()
                .hostname("db.local")
                .ip_address("10.0.0.10")
                .build()
                .expect("host entry"),
        )
        .docker_security_options("no-new-privileges")
        .interactive(false)
        .pseudo_terminal(false)
        .docker_labels("com.example.team", "platform")
        .docker_labels("com.example.tier", "web")
        .ulimits(
            Ulimit::builder()
                .name(UlimitName::Nofile)
                .soft_limit(65536)
                .hard_limit(65536)
                .build()
                .expect("ulimit"),
        )
        .log_configuration(awslogs("app"))
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -f http://localhost/ || exit 1")
                .interval(10)
                .timeout(3)
                .retries(2)
                .start_period(15)
                .build()
                .expect("health check"),
        )
        .system_controls(
            SystemControl::builder().namespace("net.core.somaxconn").value("1024").build(),
        )
        .resource_requirements(
            ResourceRequirement::builder()
                .r#type(ResourceType::Gpu)
                .value("1")
                .build()
                .expect("resource requirement"),
        )
        .credential_specs(
            "credentialspecdomainless:arn:aws:ssm:us-east-1:000000000000:parameter/gmsa-spec",
        )
        .build();
    let sidecar = ContainerDefinition::builder()
        .name("sidecar")
        .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0")
        .cpu(64)
        .memory_reservation(64)
        .essential(false)
        .user("0")
        .port_mappings(
            PortMapping::builder()
                .container_port(24224)
                .host_port(24224)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .firelens_configuration(
            FirelensConfiguration::builder()
                .r#type(FirelensConfigurationType::Fluentbit)
                .options("enable-ecs-log-metadata", "true")
                .build()
                .expect("firelens"),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Splunk)
                .options("splunk-url", "https://splunk.example.com:8088")
                .secret_options(secret(
                    "splunk-token",
                    "arn:aws:secretsmanager:us-east-1:000000000000:secret:splunk-AbCdEf",
                ))
                .build()
                .expect("log configuration"),
        )
        .build();
    TdSpec {
        family: "roundtrip-ec2".to_owned(),
        task_role_arn: Some("arn:aws:iam::000000000000:role/app-task".to_owned()),
        execution_role_arn: Some("arn:aws:iam::000000000000:role/ecsTaskExecutionRole".to_owned()),
        network_mode: Some(NetworkMode::Bridge),
        container_definitions: vec![app, sidecar],
        volumes: Some(vec![
            Volume::builder()
                .name("data")
                .host(HostVolumeProperties::builder().source_path("/srv/data").build())
                .build(),
            Volume::builder()
                .name("shared")
                .docker_volume_configuration(
                    DockerVolumeConfiguration::builder()
                        .scope(Scope::Shared)
                        .autoprovision(true)
                        .driver("local")
                        .driver_opts("type", "tmpfs")
                        .driver_opts("device", "tmpfs")
                        .labels("app", "web")
                        .build(),
                )
                .build(),
            Volume::builder().name("ebs").configured_at_launch(true).build(),
        ]),
        placement_constraints: Some(vec![TaskDefinitionPlacementConstraint::builder()
            .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
            .expression("attribute:ecs.instance-type =~ g4dn.*")
            .build()]),
        requires_compatibilities: Some(vec![Compatibility::Ec2]),
        cpu: Some("1024".to_owned()),
        memory: Some("2048".to_owned()),
        tags: Some(vec![tag("env", "test"), tag("owner", "wharf")]),
        pid_mode: Some(PidMode::Task),
        ipc_mode: Some(IpcMode::Task),
        proxy_configuration: None,
        ephemeral_storage: None,
        runtime_platform: Some(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::X8664)
                .operating_system_family(OsFamily::Linux)
                .build(),
        ),
        enable_fault_injection: None,
    }
}

/// A Fargate, awsvpc-mode task definition: an app behind an App Mesh Envoy proxy, with EFS.
pub fn fargate_task_definition() -> TdSpec {
    let app = ContainerDefinition::builder()
        .name("app")
        .image("public.ecr.aws/docker/library/python:3.12-slim")
        .cpu(256)
        .memory(512)
        .essential(true)
        .command("python")
        .command("-m")
        .command("http.server")
        .command("8080")
        .port_mappings(
            PortMapping::builder()
                .container_port(8080)
                .host_port(8080)
                .protocol(TransportProtocol::Tcp)
                .name("web")
                .app_protocol(ApplicationProtocol::Http2)
                .build(),
        )
        .environment(kv("PORT", "8080"))
        .mount_points(
            MountPoint::builder()
                .source_volume("efs")
                .container_path("/mnt/efs")
                .read_only(false)
                .build(),
        )
        .depends_on(
            ContainerDependency::builder()
                .container_name("envoy")
                .condition(ContainerCondition::Healthy)
                .build()
                .expect("dependency"),
        )
        .stop_timeout(60)
        .log_configuration(awslogs("app"))
        .build();
    let envoy = ContainerDefinition::builder()
        .name("envoy")
        .image("public.ecr.aws/appmesh/aws-appmesh-envoy:v1.27.0.0-prod")
        .cpu(128)
        .memory_reservation(256)
        .essential(true)
        .user("1337")
        .environment(kv(
            "APPMESH_RESOURCE_ARN",
            "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualNode/app",
        ))
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -s http://localhost:9901/server_info | grep state | grep -q LIVE")
                .interval(5)
                .timeout(2)
                .retries(3)
                .start_period(10)
                .build()
                .expect("health check"),
        )
        .log_configuration(awslogs("envoy"))
        .build();
    let property =
        |name: &str, value: &str| KeyValuePair::builder().name(name).value(value).build();
    TdSpec {
        family: "roundtrip-fargate".to_owned(),
        task_role_arn: Some("arn:aws:iam::000000000000:role/app-task".to_owned()),
        execution_role_arn: Some("arn:aws:iam::000000000000:role/ecsTaskExecutionRole".to_owned()),
        network_mode: Some(NetworkMode::Awsvpc),
        container_definitions: vec![app, envoy],
        volumes: Some(vec![Volume::builder()
            .name("efs")
            .efs_volume_configuration(
                EfsVolumeConfiguration::builder()
                    .file_system_id("fs-12345678")
                    .root_directory("/")
                    .transit_encryption(EfsTransitEncryption::Enabled)
                    .transit_encryption_port(2049)
                    .authorization_config(
                        EfsAuthorizationConfig::builder()
                            .access_point_id("fsap-1234567890abcdef0")
                            .iam(EfsAuthorizationConfigIam::Enabled)
                            .build(),
                    )
                    .build()
                    .expect("efs volume"),
            )
            .build()]),
        placement_constraints: None,
        requires_compatibilities: Some(vec![Compatibility::Fargate]),
        cpu: Some("512".to_owned()),
        memory: Some("1024".to_owned()),
        tags: Some(vec![tag("env", "test")]),
        pid_mode: Some(PidMode::Task),
        ipc_mode: None,
        proxy_configuration: Some(
            ProxyConfiguration::builder()
                .r#type(ProxyConfigurationType::Appmesh)
                .container_name("envoy")
                .properties(property("IgnoredUID", "1337"))
                .properties(property("ProxyIngressPort", "15000"))
                .properties(property("ProxyEgressPort", "15001"))
                .properties(property("AppPorts", "8080"))
                .properties(property("EgressIgnoredIPs", "169.254.170.2,169.254.169.254"))
                .build()
                .expect("proxy configuration"),
        ),
        ephemeral_storage: Some(EphemeralStorage::builder().size_in_gib(50).build()),
        runtime_platform: Some(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .operating_system_family(OsFamily::Linux)
                .build(),
        ),
        enable_fault_injection: Some(true),
    }
}

/// Treats `Some([])` as `None` for the list fields ECS fills in with `[]`.
fn normalize(mut c: ContainerDefinition) -> ContainerDefinition {
    fn none_if_empty<T>(v: &mut Option<Vec<T>>) {
        if v.as_ref().is_some_and(Vec::is_empty) {
            *v = None;
        }
    }
    none_if_empty(&mut c.links);
    none_if_empty(&mut c.port_mappings);
    none_if_empty(&mut c.entry_point);
    none_if_empty(&mut c.command);
    none_if_empty(&mut c.environment);
    none_if_empty(&mut c.environment_files);
    none_if_empty(&mut c.mount_points);
    none_if_empty(&mut c.volumes_from);
    none_if_empty(&mut c.secrets);
    none_if_empty(&mut c.depends_on);
    none_if_empty(&mut c.dns_servers);
    none_if_empty(&mut c.dns_search_domains);
    none_if_empty(&mut c.extra_hosts);
    none_if_empty(&mut c.docker_security_options);
    none_if_empty(&mut c.ulimits);
    none_if_empty(&mut c.system_controls);
    none_if_empty(&mut c.resource_requirements);
    none_if_empty(&mut c.credential_specs);
    c
}

fn assert_matches_spec(spec: &TdSpec, td: &TaskDefinition, revision: i32) {
    assert_eq!(td.family(), Some(spec.family.as_str()));
    assert_eq!(td.revision(), revision);
    assert_eq!(
        td.task_definition_arn(),
        Some(task_definition_arn(&spec.family, revision).as_str())
    );
    assert_eq!(td.status(), Some(&TaskDefinitionStatus::Active));
    assert_eq!(td.task_role_arn(), spec.task_role_arn.as_deref(), "taskRoleArn");
    assert_eq!(td.execution_role_arn(), spec.execution_role_arn.as_deref(), "executionRoleArn");
    assert_eq!(td.network_mode(), spec.network_mode.as_ref(), "networkMode");
    assert_eq!(
        td.container_definitions().len(),
        spec.container_definitions.len(),
        "number of containers"
    );
    for (sent, got) in spec.container_definitions.iter().zip(td.container_definitions()) {
        assert_eq!(
            normalize(got.clone()),
            normalize(sent.clone()),
            "container {:?} did not round-trip",
            sent.name()
        );
    }
    assert_eq!(td.volumes(), spec.volumes.as_deref().unwrap_or_default(), "volumes");
    assert_eq!(
        td.placement_constraints(),
        spec.placement_constraints.as_deref().unwrap_or_default(),
        "placementConstraints"
    );
    assert_eq!(
        td.requires_compatibilities(),
        spec.requires_compatibilities.as_deref().unwrap_or_default(),
        "requiresCompatibilities"
    );
    assert_eq!(td.cpu(), spec.cpu.as_deref(), "cpu");
    assert_eq!(td.memory(), spec.memory.as_deref(), "memory");
    assert_eq!(td.pid_mode(), spec.pid_mode.as_ref(), "pidMode");
    assert_eq!(td.ipc_mode(), spec.ipc_mode.as_ref(), "ipcMode");
    assert_eq!(td.proxy_configuration(), spec.proxy_configuration.as_ref(), "proxyConfiguration");
    assert_eq!(td.ephemeral_storage(), spec.ephemeral_storage.as_ref(), "ephemeralStorage");
    assert_eq!(td.runtime_platform(), spec.runtime_platform.as_ref(), "runtimePlatform");
    assert_eq!(
        td.enable_fault_injection().unwrap_or(false),
        spec.enable_fault_injection.unwrap_or(false),
        "enableFaultInjection"
    );
}

async fn round_trip(spec: TdSpec) {
    let server = Server::start();
    let ecs = server.client().await;
    let registered = ok(register(&ecs, &spec).await);
    let td = registered.task_definition().expect("taskDefinition");
    assert_matches_spec(&spec, td, 1);
    let tags = sorted(spec.tags.as_deref().unwrap_or_default());
    assert_eq!(sorted(registered.tags()), tags, "tags");

    let described = ok(ecs
        .describe_task_definition()
        .task_definition(format!("{}:1", spec.family))
        .include(TaskDefinitionField::Tags)
        .send()
        .await);
    let described_td = described.task_definition().expect("taskDefinition");
    assert_matches_spec(&spec, described_td, 1);
    assert_eq!(sorted(described.tags()), tags, "tags");
    assert_eq!(described_td, td, "DescribeTaskDefinition differs from RegisterTaskDefinition");

    // Registering the same document again gives an identical revision 2.
    let again = ok(register(&ecs, &spec).await);
    assert_matches_spec(&spec, again.task_definition().expect("taskDefinition"), 2);
}

#[tokio::test]
async fn ec2_task_definition_round_trips() {
    round_trip(ec2_task_definition()).await;
}

#[tokio::test]
async fn fargate_task_definition_round_trips() {
    round_trip(fargate_task_definition()).await;
}
