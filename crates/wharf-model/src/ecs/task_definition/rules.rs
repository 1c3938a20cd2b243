//! ECS's RegisterTaskDefinition rules as data: limits, allowed values and the
//! exact messages ECS answers with, in one place so a reader sees them at a
//! glance.
//!
//! Every message names its source. "ECS" means the text was seen in a real
//! ECS response (the issue or page is cited); "Wharf" means ECS's own words are
//! not on record and the text is ours, written in ECS's style and naming the
//! field. All of them are `ClientException`s unless the function says
//! otherwise, as semantics.md §4 records for RegisterTaskDefinition.

/// Containers per task definition (quota, not adjustable). ECS: service-quotas.
pub const MAX_CONTAINERS: usize = 10;
/// Longest family, container name or volume name. ECS: API reference.
pub const MAX_NAME_LEN: usize = 255;
/// Longest image reference. ECS: developer guide (`image`).
pub const MAX_IMAGE_LEN: usize = 255;
/// Whole request body limit: 64 KiB. ECS: awsdocs/amazon-ecs-developer-guide#149.
pub const MAX_DOCUMENT_BYTES: usize = 65_536;
/// Tags per resource. ECS: API reference (`tags`).
pub const MAX_TAGS: usize = 50;
/// Longest tag key, in characters. ECS: API reference.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value, in characters. ECS: API reference.
pub const MAX_TAG_VALUE_LEN: usize = 256;
/// Placement constraints per task definition. ECS: API reference.
pub const MAX_PLACEMENT_CONSTRAINTS: usize = 10;
/// Environment files per container. ECS: API reference.
pub const MAX_ENVIRONMENT_FILES: usize = 10;
/// Port ranges per container. ECS: API reference (`containerPortRange`).
pub const MAX_PORT_RANGES: usize = 100;
/// Task-level cpu units outside Fargate. ECS: API reference (`cpu`).
pub const EC2_TASK_CPU: (u32, u32) = (128, 196_608);
/// `ephemeralStorage.sizeInGiB`. ECS: API reference.
pub const EPHEMERAL_STORAGE_GIB: (i32, i32) = (21, 200);
/// Fargate's `startTimeout`/`stopTimeout` bounds, seconds. ECS: API reference.
/// Not enforced at registration (a Fargate task definition with
/// `startTimeout: 300` is on record as registered), so this is a lint.
pub const FARGATE_TIMEOUT: (i32, i32) = (2, 120);
/// Health check bounds (seconds, or count for retries). ECS: developer guide.
pub const HEALTH_INTERVAL: (i32, i32) = (5, 300);
/// See [`HEALTH_INTERVAL`].
pub const HEALTH_TIMEOUT: (i32, i32) = (2, 60);
/// See [`HEALTH_INTERVAL`].
pub const HEALTH_RETRIES: (i32, i32) = (1, 10);
/// See [`HEALTH_INTERVAL`].
pub const HEALTH_START_PERIOD: (i32, i32) = (0, 300);
/// Health check defaults ECS shows in describe output: interval, timeout, retries.
pub const HEALTH_DEFAULTS: (i32, i32, i32) = (30, 5, 3);
/// Container memory below which Docker ≥ 20.10 refuses to start (MiB). ECS
/// accepts smaller values at registration (the agent raises them to 4 MiB),
/// so this is a lint, not a rule. ECS: developer guide; AG:container_unix.go.
pub const DOCKER_MIN_MEMORY_MIB: i32 = 6;

/// Memory sizes (MiB) as inclusive `(from, to, step)` ranges.
pub type MemoryRanges = &'static [(u32, u32, u32)];

/// Fargate task sizes: cpu units → allowed memory as (from, to, step) MiB.
/// ECS: API reference (`memory`); DG:task-cpu-memory-error.
pub const FARGATE_SIZES: &[(u32, MemoryRanges)] = &[
    (256, &[(512, 512, 1), (1024, 1024, 1), (2048, 2048, 1)]),
    (512, &[(1024, 4096, 1024)]),
    (1024, &[(2048, 8192, 1024)]),
    (2048, &[(4096, 16_384, 1024)]),
    (4096, &[(8192, 30_720, 1024)]),
    (8192, &[(16_384, 61_440, 4096)]),
    (16_384, &[(32_768, 122_880, 8192)]),
];

/// Whether `cpu`/`memory` is a valid Fargate task size.
pub fn fargate_size_ok(cpu: u32, memory: u32) -> bool {
    FARGATE_SIZES
        .iter()
        .filter(|(c, _)| *c == cpu)
        .flat_map(|(_, r)| r.iter())
        .any(|&(from, to, step)| (from..=to).step_by(step as usize).any(|m| m == memory))
}

/// Log drivers a Fargate task may use. ECS: API reference (`logDriver`).
pub const FARGATE_LOG_DRIVERS: &[&str] = &["awslogs", "splunk", "awsfirelens"];
/// Options the `awslogs` driver takes; ECS refuses others
/// (`Log driver awslogs disallows options: ...`). ECS: DG:using_awslogs;
/// aws/amazon-ecs-agent#872.
pub const AWSLOGS_OPTIONS: &[&str] = &[
    "awslogs-create-group",
    "awslogs-datetime-format",
    "awslogs-endpoint",
    "awslogs-group",
    "awslogs-multiline-pattern",
    "awslogs-region",
    "awslogs-stream-prefix",
    "max-buffer-size",
    "mode",
];
/// `awslogs` options ECS requires, in the order its message lists them.
pub const AWSLOGS_REQUIRED: &[&str] = &["awslogs-region", "awslogs-group"];
/// Network modes ECS accepts beyond the model's enum: `default` is what older
/// Windows task definitions and the console's `<default>` send; it behaves as
/// bridge (NAT on Windows). Seen accepted in aws-otel examples and
/// ansible/ansible#59597 (not in the API enum; Wharf accepts it).
pub const HIDDEN_NETWORK_MODES: &[&str] = &["default"];

/// Whether `s` is 1..=255 of letters, digits, `-` and `_` (family, container
/// and volume names).
pub fn is_resource_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The exact messages of RegisterTaskDefinition's validation.
pub mod msg {
    /// ECS: aws-actions/amazon-ecs-deploy-task-definition#630.
    pub const FAMILY_BLANK: &str = "Family can not be blank.";
    /// ECS: aws/amazon-ecs-cli#37.
    pub const FAMILY_INVALID: &str = "Family contains invalid characters.";
    /// ECS: awsdocs/aws-cloudformation-user-guide#454.
    pub const CONTAINERS_EMPTY: &str = "Container list cannot be empty.";
    /// ECS: aws/amazon-ecs-cli#184.
    pub const TOO_MANY_CONTAINERS: &str = "Too many containers.";
    /// ECS: hashicorp/terraform#2888.
    pub const NAME_EMPTY: &str = "Container.name should not be null or empty.";
    /// ECS: hashicorp/terraform-provider-aws#5950.
    pub const NAME_INVALID: &str = "Container.name contains invalid characters.";
    /// ECS: Shippable/support#2946.
    pub const NAMES_NOT_UNIQUE: &str = "Container names must be unique within a Task Definition.";
    /// ECS: aws/aws-cli#5924.
    pub const IMAGE_EMPTY: &str = "Container.image should not be null or empty.";
    /// Wharf.
    pub const IMAGE_TOO_LONG: &str = "Container.image should not be longer than 255 characters.";
    /// ECS: eagletmt/hako#68.
    pub const NO_ESSENTIAL: &str = "Task definition doesn't have any essential container.";
    /// ECS: klothoplatform/klotho#892.
    pub const CPU_SUM: &str =
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.";
    /// ECS: cloudnativedaysjp/dreamkast-infra#4766.
    pub const MEMORY_RESERVATION_SUM: &str = "The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'.";
    /// ECS: boto/boto3#2436.
    pub const DEPENDENCY_ESSENTIAL: &str =
        "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container";
    /// Wharf.
    pub const DEPENDENCY_CYCLE: &str = "Container dependencies (dependsOn) contain a cycle.";
    /// ECS: aws/amazon-ecs-cli#1145 (typographic quotes as ECS sends them).
    pub const FARGATE_AWSVPC: &str = "Fargate only supports network mode \u{2018}awsvpc\u{2019}.";
    /// ECS: hackoregon/civic-devops#246.
    pub const FARGATE_CPU: &str = "Fargate requires that 'cpu' be defined at the task level.";
    /// ECS: aws/amazon-ecs-cli#982.
    pub const FARGATE_MEMORY: &str = "Fargate requires that 'memory' be defined at the task level.";
    /// ECS: virtual-kubelet/virtual-kubelet#193.
    pub const FARGATE_AWSLOGS_ROLE: &str =
        "Fargate requires task definition to have execution role ARN to support log driver awslogs.";
    /// ECS: jenkinsci/amazon-ecs-plugin#62 (semantics.md §3.4).
    pub const FARGATE_ECR_ROLE: &str =
        "Fargate requires task definition to have execution role ARN to support ECR images.";
    /// ECS: aws/aws-cdk#1422.
    pub const FARGATE_AWSLOGS_PREFIX: &str = "Fargate requires log configuration options to include awslogs-stream-prefix to support log driver awslogs.";
    /// ECS: cloudposse/terraform-aws-ecs-alb-service-task#174.
    pub const FARGATE_SOURCE_PATH: &str =
        "Fargate compatible task definitions do not support sourcePath";
    /// ECS: cn-terraform/terraform-aws-ecs-fargate#2.
    pub const FARGATE_IPC_MODE: &str =
        "Tasks using the Fargate launch type do not support ipcMode.";
    /// ECS: aws/aws-cdk#29619.
    pub const FARGATE_PID_HOST: &str = "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'.";
    /// Wharf (ECS Anywhere has no awsvpc; ECS's wording is not on record).
    pub const EXTERNAL_AWSVPC: &str =
        "Tasks using the EXTERNAL launch type do not support network mode 'awsvpc'.";
    /// ECS: aws/aws-cdk#4476.
    pub const PROXY_AWSVPC: &str =
        "APPMESH proxy configuration is only supported in networkMode=awsvpc";
    /// ECS: aws-actions/amazon-ecs-deploy-task-definition#163.
    pub const PROXY_PROPERTY_NULL: &str = "ProxyConfiguration properties value cannot be null.";

    /// ECS: DG:task-cpu-memory-error (`cpu`), and by analogy for `memory`.
    pub fn task_size_invalid(field: &str) -> String {
        format!("Invalid '{field}' setting for task. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.")
    }
    /// ECS: DG:task-cpu-memory-error ("No Fargate configuration exists ...").
    pub fn fargate_size(cpu: u32, memory: u32) -> String {
        format!("No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See the Amazon ECS documentation for the valid values.")
    }
    /// ECS: sil-org/ecs-deploy#59.
    pub fn memory_required(container: &str) -> String {
        format!("Invalid setting for container '{container}'. At least one of 'memory' or 'memoryReservation' must be specified.")
    }
    /// Wharf, in the style of [`memory_required`].
    pub fn memory_below_reservation(container: &str) -> String {
        format!("Invalid setting for container '{container}'. 'memory' must be greater than or equal to 'memoryReservation'.")
    }
    /// ECS: pulumi/pulumi-awsx#1220.
    pub fn container_memory_over_task(container: &str) -> String {
        format!("The 'memory' setting for container '{container}' is greater than for the task.")
    }
    /// ECS: aws/aws-cli#7288 for `containerPort`; same form for other fields (Wharf).
    pub fn invalid_setting(field: &str, container: &str) -> String {
        format!("Invalid '{field}' setting for container '{container}'.")
    }
    /// ECS: aws/amazon-ecs-cli#1014 (`awsvpc`); same form for `host`.
    pub fn ports_must_match(mode: &str) -> String {
        format!(
            "When networkMode={mode}, the host ports and container ports in port mappings must match."
        )
    }
    /// ECS: aws/amazon-ecs-agent#1220, e.g. `TCP host port '3000' is mapped multiple times in task.`
    pub fn host_port_twice(protocol: &str, port: i32) -> String {
        format!("{} host port '{port}' is mapped multiple times in task.", protocol.to_uppercase())
    }
    /// ECS: labd/ecs-deplojo#26 (`hostname`); same form for the other fields.
    pub fn not_with_network_mode(field: &str, mode: &str) -> String {
        format!("{field} is not supported on container when networkMode={mode}.")
    }
    /// ECS: klothoplatform/klotho#892.
    pub fn log_driver_requires(missing: &[&str]) -> String {
        format!("Log driver awslogs requires options: {}", missing.join(", "))
    }
    /// ECS: aws/amazon-ecs-agent#872.
    pub fn log_driver_disallows(options: &[&str]) -> String {
        format!("Log driver awslogs disallows options: {}", options.join(", "))
    }
    /// ECS: aws/containers-roadmap#669 (`gelf is not a valid log driver`).
    pub fn fargate_log_driver(driver: &str) -> String {
        format!("{driver} is not a valid log driver.")
    }
    /// ECS: eagletmt/hako#99 (the stray `+` is ECS's own).
    pub fn unknown_dependency(name: &str) -> String {
        format!("Cannot depend on container + '{name}' because it does not exist")
    }
    /// ECS: ansible/ansible#35751; a missing name reads `'null'` (blinkist/terraform-aws-airship-ecs-service#46).
    pub fn unknown_volume(name: &str) -> String {
        format!("Unknown volume '{name}'.")
    }
    /// ECS: awsdocs/amazon-ecs-developer-guide#149.
    pub fn document_too_large(len: usize) -> String {
        format!(
            "Actual length: '{len}'. Max allowed length is '{}' bytes.",
            super::MAX_DOCUMENT_BYTES
        )
    }
    /// Wharf: a value outside the model's enum. ECS's wording is not on record.
    pub fn invalid_enum(path: &str, value: &str, allowed: &[&str]) -> String {
        format!("Invalid value '{value}' for {path}. Valid values: {}.", allowed.join(", "))
    }
    /// Wharf: a required member left out, named the way ECS names `Container.name`.
    pub fn required(path: &str) -> String {
        format!("{path} should not be null or empty.")
    }
    /// Wharf: a number outside its documented range.
    pub fn out_of_range(path: &str, min: i64, max: i64) -> String {
        format!("Invalid value for {path}. The value must be between {min} and {max}.")
    }
    /// Wharf: a reference to a container that is not in the task definition.
    pub fn unknown_container(path: &str, name: &str) -> String {
        format!("{path} refers to container '{name}', which does not exist in the task definition.")
    }
    /// Wharf: a feature Fargate does not offer.
    pub fn fargate_unsupported(what: &str) -> String {
        format!("Tasks using the Fargate launch type do not support {what}.")
    }
    /// Wharf: one name used twice in a list that needs unique names.
    pub fn duplicate(path: &str, name: &str) -> String {
        format!("{path} '{name}' is used more than once; names must be unique.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_table_matches_the_documented_pairs() {
        assert!(fargate_size_ok(256, 512));
        assert!(fargate_size_ok(256, 2048));
        assert!(!fargate_size_ok(256, 1536));
        assert!(fargate_size_ok(512, 3072));
        assert!(!fargate_size_ok(512, 512));
        assert!(fargate_size_ok(4096, 30_720));
        assert!(!fargate_size_ok(4096, 31_744));
        assert!(fargate_size_ok(8192, 20_480));
        assert!(!fargate_size_ok(8192, 17_408));
        assert!(fargate_size_ok(16_384, 122_880));
        assert!(!fargate_size_ok(128, 512));
    }

    #[test]
    fn resource_names() {
        assert!(is_resource_name("web_app-1"));
        assert!(!is_resource_name(""));
        assert!(!is_resource_name("web app"));
        assert!(!is_resource_name(&"a".repeat(256)));
        assert!(is_resource_name(&"a".repeat(255)));
    }

    #[test]
    fn messages_read_as_ecs_writes_them() {
        assert_eq!(
            msg::host_port_twice("tcp", 3000),
            "TCP host port '3000' is mapped multiple times in task."
        );
        assert_eq!(
            msg::log_driver_requires(AWSLOGS_REQUIRED),
            "Log driver awslogs requires options: awslogs-region, awslogs-group"
        );
        assert_eq!(
            msg::fargate_size(256, 4096),
            "No Fargate configuration exists for given values: 256 CPU, 4096 memory. See the Amazon ECS documentation for the valid values."
        );
        assert_eq!(
            msg::document_too_large(66_420),
            "Actual length: '66420'. Max allowed length is '65536' bytes."
        );
    }
}
