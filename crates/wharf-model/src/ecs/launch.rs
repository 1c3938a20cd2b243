//! Launching tasks: the tasks RunTask, StartTask and the service scheduler
//! create, each built from one [`TaskTemplate`] and placed on the cluster's
//! instances by [`place`]. Pure: the store runs [`place`] inside the write
//! transaction that inserts the tasks, so two launches never take the same
//! resources, and it can run it again on a fresh snapshot after a conflict.

use super::capacity::{self, Capacity, Share};
use super::placement::{self, Candidate, Demand, Rules};
use super::resolved::ResolvedTask;
use super::shapes::{
    Attachment, Attribute, Container, DesiredStatus, Failure, HealthStatus, KeyValuePair,
    LaunchType, NetworkConfiguration, NetworkMode, Tag, Task, TaskDefinition, TaskOverride,
};
use super::status::{AttachmentStatus, ContainerLastStatus, TaskStatus};
use super::tags;
use crate::arn::Scope;
use crate::ids;
use crate::wire::Timestamp;
use crate::EcsError;

/// Checks RunTask's overrides against the definition as ECS does: each names
/// one of its containers, and no size is negative.
pub fn check_overrides(td: &TaskDefinition, o: &TaskOverride) -> Result<(), EcsError> {
    let containers = td.container_definitions.as_deref().unwrap_or(&[]);
    for co in o.container_overrides.as_deref().unwrap_or(&[]) {
        let name = co.name.as_deref().unwrap_or("");
        if !containers.iter().any(|c| c.name.as_deref() == Some(name)) {
            return Err(EcsError::invalid_parameter(format!(
                "Override for container named {name} is not a container in the TaskDefinition."
            )));
        }
        for (field, v) in
            [("cpu", co.cpu), ("memory", co.memory), ("memoryReservation", co.memory_reservation)]
        {
            if v.is_some_and(|v| v < 0) {
                return Err(EcsError::invalid_parameter(format!(
                    "containerOverrides.{field} cannot be negative."
                )));
            }
        }
    }
    Ok(())
}

/// The launch type a request asks for (EC2 when none), checked against what
/// Wharf runs and what the definition is compatible with.
pub fn launch_type(td: &TaskDefinition, given: Option<LaunchType>) -> Result<LaunchType, EcsError> {
    let lt = given.unwrap_or(LaunchType::Ec2);
    if !matches!(lt, LaunchType::Ec2 | LaunchType::Fargate | LaunchType::External) {
        return Err(EcsError::invalid_parameter(format!(
            "launchType '{lt}' is not supported. Valid values: EC2, FARGATE, EXTERNAL."
        )));
    }
    let compatible =
        td.compatibilities.as_deref().unwrap_or(&[]).iter().any(|c| c.as_str() == lt.as_str());
    if !compatible {
        return Err(EcsError::invalid_parameter(format!(
            "Task definition does not support launch_type {lt}."
        )));
    }
    Ok(lt)
}

/// What a launch request says about its tasks, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct TaskRequest {
    /// The region, for ARNs.
    pub region: String,
    /// The account, for ARNs.
    pub account: String,
    /// The cluster's name (already found ACTIVE).
    pub cluster: String,
    /// RunTask's `overrides`.
    pub overrides: Option<TaskOverride>,
    /// `launchType`.
    pub launch_type: Option<LaunchType>,
    /// `startedBy`.
    pub started_by: Option<String>,
    /// `group`; `family:<family>` when absent.
    pub group: Option<String>,
    /// `tags`.
    pub tags: Option<Vec<Tag>>,
    /// `networkConfiguration`.
    pub network: Option<NetworkConfiguration>,
    /// The service that owns the tasks.
    pub service: Option<String>,
    /// `enableExecuteCommand`.
    pub execute_command: bool,
    /// When the tasks are created (ms since the epoch).
    pub now_ms: i64,
}
/// Everything a new task is made of, but its ID and its instance.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTemplate {
    /// The region, for ARNs.
    pub region: String,
    /// The account, for ARNs.
    pub account: String,
    /// The cluster's name.
    pub cluster: String,
    /// The definition with the overrides applied.
    pub resolved: ResolvedTask,
    /// The overrides as the request gave them (DescribeTasks shows them).
    pub overrides: TaskOverride,
    /// How the task is launched.
    pub launch_type: LaunchType,
    /// `startedBy`.
    pub started_by: Option<String>,
    /// `group` (`family:web`, `service:web`).
    pub group: String,
    /// The service that owns the task (ListTasks `serviceName`).
    pub service: Option<String>,
    /// The task's tags.
    pub tags: Vec<Tag>,
    /// The subnets of an `awsvpc` task (its ENI attachment names the first).
    pub subnets: Option<Vec<String>>,
    /// The Fargate platform version its Fargate tasks run on (`1.4.0`).
    pub platform_version: String,
    /// `enableExecuteCommand`.
    pub execute_command: bool,
    /// When the tasks are created (ms since the epoch).
    pub created_ms: i64,
}

impl TaskTemplate {
    /// Checks a request against the definition it runs, as RunTask does, and
    /// makes the template of its tasks.
    pub fn new(td: &TaskDefinition, req: TaskRequest) -> Result<Self, EcsError> {
        let overrides = req.overrides.unwrap_or_default();
        check_overrides(td, &overrides)?;
        let launch_type = launch_type(td, req.launch_type)?;
        if req.started_by.as_deref().is_some_and(|s| s.chars().count() > 128) {
            return Err(EcsError::invalid_parameter("startedBy can be up to 128 characters long."));
        }
        let family = td.family.as_deref().unwrap_or_default();
        let group = req.group.unwrap_or_else(|| format!("family:{family}"));
        if group.chars().count() > 255 {
            return Err(EcsError::invalid_parameter("group can be up to 255 characters long."));
        }
        let tags = req.tags.unwrap_or_default();
        tags::validate(&tags)?;
        let subnets = req.network.and_then(|n| n.awsvpc_configuration).and_then(|a| a.subnets);
        if td.network_mode == Some(NetworkMode::Awsvpc) && subnets.is_none() {
            return Err(EcsError::invalid_parameter(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
            ));
        }
        Ok(Self {
            region: req.region,
            account: req.account,
            cluster: req.cluster,
            resolved: ResolvedTask::new(td, Some(&overrides)),
            overrides,
            launch_type,
            started_by: req.started_by,
            group,
            service: req.service,
            tags,
            subnets,
            platform_version: capacity::LATEST_PLATFORM_VERSION.to_owned(),
            created_ms: req.now_ms,
            execute_command: req.execute_command,
        })
    }

    fn scope(&self) -> Scope<'_> {
        Scope { region: &self.region, account: &self.account }
    }

    /// The definition's family.
    pub fn family(&self) -> &str {
        self.resolved.definition.family.as_deref().unwrap_or_default()
    }

    /// The task as RunTask answers it: `PROVISIONING`, desired `RUNNING`, on
    /// the instance `instance` describes, launched with the template's
    /// launch type.
    pub fn task(&self, id: &str, instance: &Candidate) -> Task {
        self.task_of(id, instance, None)
    }

    /// The task as RunTask answers it, launched through `share`'s capacity
    /// provider when given (its `capacityProviderName`, and the launch type
    /// the provider runs), else with the template's launch type.
    pub fn task_of(&self, id: &str, instance: &Candidate, share: Option<&Share>) -> Task {
        let scope = self.scope();
        let task_arn = scope.task_arn(&self.cluster, id);
        let containers = self
            .resolved
            .containers()
            .iter()
            .map(|c| Container {
                container_arn: Some(scope.container_arn(&self.cluster, id, &ids::uuid_v4())),
                task_arn: Some(task_arn.clone()),
                name: c.name.clone(),
                image: c.image.clone(),
                last_status: Some(ContainerLastStatus::Pending),
                network_interfaces: Some(vec![]),
                cpu: Some(c.cpu.unwrap_or(0).to_string()),
                memory: c.memory.map(|m| m.to_string()),
                memory_reservation: c.memory_reservation.map(|m| m.to_string()),
                managed_agents: self.execute_command.then(|| {
                    vec![crate::agent::exec_agent(crate::agent::MANAGED_AGENT_PENDING, None)]
                }),
                ..Container::default()
            })
            .collect();
        let launch_type =
            share.map_or_else(|| self.launch_type.clone(), |s| s.capacity.launch_type());
        let fargate = launch_type == LaunchType::Fargate;
        let attachments = match &self.subnets {
            Some(subnets) => vec![Attachment {
                id: Some(ids::uuid_v4()),
                r#type: Some("ElasticNetworkInterface".to_owned()),
                status: Some(AttachmentStatus::Precreated),
                details: Some(vec![KeyValuePair {
                    name: Some("subnetId".to_owned()),
                    value: subnets.first().cloned(),
                }]),
            }],
            None => vec![],
        };
        let demand = self.resolved.demand();
        let architecture = instance
            .attribute_values
            .get("ecs.cpu-architecture")
            .cloned()
            .unwrap_or_else(|| std::env::consts::ARCH.replace("aarch64", "arm64"));
        Task {
            attachments: Some(attachments),
            attributes: Some(vec![Attribute {
                name: Some("ecs.cpu-architecture".to_owned()),
                value: Some(architecture),
                ..Default::default()
            }]),
            availability_zone: instance
                .attribute_values
                .get(super::attributes::AVAILABILITY_ZONE)
                .cloned(),
            cluster_arn: Some(scope.cluster_arn(&self.cluster)),
            // Fargate tasks have no container instance on the wire, though
            // Wharf runs them on one.
            container_instance_arn: (!fargate).then(|| instance.arn.clone()),
            containers: Some(containers),
            cpu: Some(self.resolved.cpu.map_or(demand.cpu, i64::from).to_string()),
            memory: self
                .resolved
                .memory
                .map(i64::from)
                .or((demand.memory > 0).then_some(demand.memory))
                .map(|m| m.to_string()),
            created_at: Some(Timestamp::from_millis(self.created_ms)),
            desired_status: Some(DesiredStatus::Running),
            enable_execute_command: Some(self.execute_command),
            group: Some(self.group.clone()),
            health_status: Some(HealthStatus::Unknown),
            last_status: Some(TaskStatus::Provisioning),
            launch_type: Some(launch_type),
            capacity_provider_name: share.map(|s| s.provider.clone()),
            overrides: Some(TaskOverride {
                container_overrides: Some(
                    self.overrides.container_overrides.clone().unwrap_or_default(),
                ),
                inference_accelerator_overrides: Some(vec![]),
                ..self.overrides.clone()
            }),
            platform_version: fargate.then(|| self.platform_version.clone()),
            platform_family: fargate.then(|| "Linux".to_owned()),
            started_by: self.started_by.clone(),
            tags: Some(self.tags.clone()),
            task_arn: Some(task_arn),
            task_definition_arn: self.resolved.definition.task_definition_arn.clone(),
            version: Some(1),
            ..Task::default()
        }
    }
}

/// One launch: `count` tasks of a template, on the cluster's instances (or
/// only the named ones), under placement rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// What each task is made of.
    pub template: TaskTemplate,
    /// How many tasks.
    pub count: usize,
    /// Only these instances (their IDs): StartTask, and DAEMON services.
    pub instances: Option<Vec<String>>,
    /// Strategies and constraints (the task group filled in).
    pub rules: Rules,
    /// Where the tasks run: by launch type, or by a capacity provider
    /// strategy.
    pub capacity: LaunchCapacity,
}

/// Where a launch's tasks run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LaunchCapacity {
    /// By the template's launch type: `EC2` (and `EXTERNAL`) on the
    /// cluster's instances, `FARGATE` on the Fargate pool.
    #[default]
    LaunchType,
    /// By a capacity provider strategy: each task goes to the provider
    /// [`capacity::distribute`] gives it.
    Strategy {
        /// The strategy's items, resolved.
        shares: Vec<Share>,
        /// How many tasks each share already has (a service's).
        existing: Vec<u32>,
    },
}

impl Launch {
    /// `count` tasks of a one-container definition `family:1` (128 CPU
    /// units, 128 MiB) in `cluster`, tagged with `tags`: what tests of
    /// stores and loops insert when the definition does not matter.
    pub fn minimal(
        region: &str,
        cluster: &str,
        family: &str,
        count: usize,
        tags: Vec<Tag>,
    ) -> Self {
        let td: TaskDefinition = serde_json::from_value(serde_json::json!({
            "family": family, "revision": 1, "compatibilities": ["EC2"],
            "taskDefinitionArn": format!("arn:aws:ecs:{region}:000000000000:task-definition/{family}:1"),
            "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 128, "memory": 128}]
        }))
        .unwrap_or_default();
        let template = TaskTemplate {
            region: region.to_owned(),
            account: "000000000000".to_owned(),
            cluster: cluster.to_owned(),
            resolved: ResolvedTask::new(&td, None),
            overrides: TaskOverride::default(),
            launch_type: LaunchType::Ec2,
            started_by: None,
            group: format!("family:{family}"),
            service: None,
            tags,
            subnets: None,
            platform_version: capacity::LATEST_PLATFORM_VERSION.to_owned(),
            created_ms: 0,
            execute_command: false,
        };
        Self {
            template,
            count,
            instances: None,
            rules: Rules::default(),
            capacity: LaunchCapacity::LaunchType,
        }
    }

    /// What each task holds on its instance.
    pub fn demand(&self) -> Demand {
        self.template.resolved.demand()
    }

    /// Whether some of its tasks run on the Fargate pool (the store then
    /// offers placement the pool's instances, of any cluster, beside the
    /// cluster's own).
    pub fn needs_pool(&self) -> bool {
        match &self.capacity {
            LaunchCapacity::LaunchType => {
                self.instances.is_none() && self.template.launch_type == LaunchType::Fargate
            }
            LaunchCapacity::Strategy { shares, .. } => {
                shares.iter().any(|s| s.capacity.is_fargate())
            }
        }
    }
}

/// Whether an instance serves the Fargate pool.
pub fn serves_fargate(c: &Candidate) -> bool {
    c.attributes.iter().any(|a| a == capacity::FARGATE_ATTRIBUTE)
}

/// A task placed by [`place`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedTask {
    /// The task ID.
    pub id: String,
    /// The index of its instance among the candidates.
    pub instance: usize,
    /// The task, as stored.
    pub task: Task,
}

/// What [`place`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// The tasks that fit, and why the others did not (by instance).
    Placed {
        /// The tasks to insert.
        tasks: Vec<PlacedTask>,
        /// ECS's `failures[]`.
        failures: Vec<Failure>,
    },
    /// The cluster has no container instance at all.
    NoContainerInstances,
}

/// Places `launch` on `candidates` (the cluster's instances, or the named
/// ones that exist, with what they hold; for a launch that
/// [`Launch::needs_pool`], the Fargate pool's instances too): each task goes
/// to the best fitting instance its launch type or capacity provider
/// allows, and takes its resources from the next. `new_id` names each task.
pub fn place(
    launch: &Launch,
    candidates: &mut [Candidate],
    new_id: &mut dyn FnMut() -> String,
) -> Placement {
    let scope = launch.template.scope();
    let cluster = launch.template.cluster.as_str();
    let mut failures = Vec::new();
    if let Some(named) = &launch.instances {
        // StartTask naming instances the cluster does not have.
        for id in named {
            let arn = scope.container_instance_arn(cluster, id);
            if !candidates.iter().any(|c| c.arn == arn) {
                failures.push(Failure {
                    arn: Some(arn),
                    reason: Some("MISSING".to_owned()),
                    detail: None,
                });
            }
        }
    }
    let in_cluster = |c: &Candidate| c.cluster == cluster;
    // A Fargate task runs on a pool host of the architecture its
    // `runtimePlatform` asks for.
    let arch = capacity::architecture(&launch.template.resolved);
    let on_pool = |c: &Candidate| {
        serves_fargate(c)
            && arch.is_none_or(|a| {
                c.attribute_values.get(super::attributes::CPU_ARCHITECTURE).map(String::as_str)
                    == Some(a)
            })
    };
    let mut tasks = Vec::new();
    match &launch.capacity {
        LaunchCapacity::LaunchType if launch.needs_pool() => {
            let rules = fargate_rules(&launch.rules);
            let mut refusals = Vec::new();
            let placed =
                place_on(launch, candidates, &on_pool, launch.count, &rules, Some(&mut refusals));
            if placed.len() < launch.count {
                let arn = scope.capacity_provider_arn(capacity::FARGATE);
                failures.push(pool_failure(&arn, refusals));
            }
            tasks.extend(placed.into_iter().map(|i| (i, None)));
        }
        LaunchCapacity::LaunchType => {
            if launch.instances.is_none() && !candidates.iter().any(in_cluster) {
                return Placement::NoContainerInstances;
            }
            let chosen = place_on(
                launch,
                candidates,
                &in_cluster,
                launch.count,
                &launch.rules,
                Some(&mut failures),
            );
            tasks.extend(chosen.into_iter().map(|i| (i, None)));
        }
        LaunchCapacity::Strategy { shares, existing } => {
            let counts = capacity::split(shares, existing, launch.count);
            for (share, &n) in shares.iter().zip(&counts) {
                if n == 0 {
                    continue;
                }
                let n = n as usize;
                let placed = match &share.capacity {
                    Capacity::Fargate | Capacity::FargateSpot => {
                        let rules = fargate_rules(&launch.rules);
                        let mut refusals = Vec::new();
                        let placed =
                            place_on(launch, candidates, &on_pool, n, &rules, Some(&mut refusals));
                        if placed.len() < n {
                            let arn = scope.capacity_provider_arn(&share.provider);
                            failures.push(pool_failure(&arn, refusals));
                        }
                        placed
                    }
                    Capacity::Group(group) => {
                        let member = |c: &Candidate| {
                            in_cluster(c)
                                && c.attribute_values.get(capacity::GROUP_ATTRIBUTE) == Some(group)
                        };
                        if !candidates.iter().any(member) {
                            failures
                                .push(unavailable(&scope.capacity_provider_arn(&share.provider)));
                            continue;
                        }
                        place_on(launch, candidates, &member, n, &launch.rules, Some(&mut failures))
                    }
                };
                tasks.extend(placed.into_iter().map(|i| (i, Some(share))));
            }
        }
    }
    let tasks = tasks
        .into_iter()
        .map(|(i, share)| {
            let id = new_id();
            let task = launch.template.task_of(&id, &candidates[i], share);
            PlacedTask { id, instance: i, task }
        })
        .collect();
    Placement::Placed { tasks, failures }
}

/// Places `count` tasks on the candidates `eligible` keeps, under `rules`:
/// the indices (into all candidates) of the instances chosen, task by task.
/// Instances that refused a task left unplaced add their reasons to
/// `failures`, when given.
fn place_on(
    launch: &Launch,
    candidates: &mut [Candidate],
    eligible: &dyn Fn(&Candidate) -> bool,
    count: usize,
    rules: &Rules,
    failures: Option<&mut Vec<Failure>>,
) -> Vec<usize> {
    let picked: Vec<usize> =
        candidates.iter().enumerate().filter(|(_, c)| eligible(c)).map(|(i, _)| i).collect();
    let chosen = placement::place_among(candidates, &picked, &launch.demand(), count, rules);
    if let Some(failures) = failures {
        failures.extend(chosen.failures.into_iter().map(|(arn, reason, detail)| Failure {
            arn: Some(arn),
            reason: Some(reason.to_owned()),
            detail,
        }));
    }
    chosen.chosen
}

/// The rules Fargate tasks are placed by: ECS ignores a Fargate task's
/// placement strategies and constraints; Wharf spreads them over zones and
/// hosts, by their group.
fn fargate_rules(rules: &Rules) -> Rules {
    Rules { group: rules.group.clone(), ..Rules::default() }
}

/// The failure of a task the Fargate pool could not take, named by its
/// provider (ECS shows no host of Fargate's): the attribute it lacks when
/// the pool's hosts refused it for one (a feature Wharf's hosts do not
/// run), else that capacity is unavailable.
fn pool_failure(provider_arn: &str, refusals: Vec<Failure>) -> Failure {
    match refusals.into_iter().find(|f| f.reason.as_deref() == Some("ATTRIBUTE")) {
        Some(f) => Failure { arn: Some(provider_arn.to_owned()), ..f },
        None => unavailable(provider_arn),
    }
}

/// The failure of a task no capacity of a provider could take.
fn unavailable(provider_arn: &str) -> Failure {
    Failure {
        arn: Some(provider_arn.to_owned()),
        reason: Some(capacity::CAPACITY_UNAVAILABLE.to_owned()),
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::shapes::TaskDefinition;
    use serde_json::json;

    fn template() -> TaskTemplate {
        let td: TaskDefinition = serde_json::from_value(json!({
            "family": "web", "revision": 1,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:1",
            "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 128, "memory": 256}]
        }))
        .unwrap();
        TaskTemplate {
            region: "us-east-1".into(),
            account: "1".into(),
            cluster: "default".into(),
            resolved: ResolvedTask::new(&td, None),
            overrides: TaskOverride::default(),
            launch_type: LaunchType::Ec2,
            started_by: Some("me".into()),
            group: "family:web".into(),
            service: None,
            tags: vec![],
            subnets: None,
            platform_version: "1.4.0".into(),
            created_ms: 1_000,
            execute_command: false,
        }
    }

    fn candidate(id: &str, cpu: i64) -> Candidate {
        let mut c = Candidate::of_instance(
            &serde_json::from_value(json!({
                "containerInstanceArn": format!("arn:aws:ecs:us-east-1:1:container-instance/default/{id}"),
                "status": "ACTIVE", "agentConnected": true,
                "attributes": [{"name": "ecs.cpu-architecture", "value": "arm64"}]
            }))
            .unwrap(),
            "us-east-1b",
        );
        c.cpu_free = cpu;
        c.memory_free = 1024;
        c
    }

    #[test]
    fn tasks_take_the_instance_they_land_on() {
        let launch = Launch {
            template: template(),
            count: 3,
            instances: None,
            rules: Rules::default(),
            capacity: LaunchCapacity::LaunchType,
        };
        let mut candidates = vec![candidate("a", 200), candidate("b", 200)];
        let mut n = 0;
        let Placement::Placed { tasks, failures } = place(&launch, &mut candidates, &mut || {
            n += 1;
            format!("t{n}")
        }) else {
            panic!("no instances?")
        };
        assert_eq!(tasks.len(), 2, "the third does not fit");
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].reason.as_deref(), Some("RESOURCE:CPU"));
        let t = &tasks[0].task;
        assert_eq!(t.last_status, Some(TaskStatus::Provisioning));
        assert_eq!(t.cpu.as_deref(), Some("128"));
        assert_eq!(t.memory.as_deref(), Some("256"));
        assert_eq!(t.availability_zone.as_deref(), Some("us-east-1b"));
        let arch = &t.attributes.as_ref().unwrap()[0];
        assert_eq!(arch.value.as_deref(), Some("arm64"));
        assert_eq!(
            t.task_arn.as_deref(),
            Some(format!("arn:aws:ecs:us-east-1:1:task/default/{}", tasks[0].id).as_str())
        );
        assert_eq!(t.container_instance_arn, Some(candidates[tasks[0].instance].arn.clone()));
    }

    #[test]
    fn an_empty_cluster_and_missing_named_instances_are_told_apart() {
        let mut launch = Launch {
            template: template(),
            count: 1,
            instances: None,
            rules: Rules::default(),
            capacity: LaunchCapacity::LaunchType,
        };
        assert_eq!(place(&launch, &mut [], &mut || "t".into()), Placement::NoContainerInstances);
        launch.instances = Some(vec!["gone".into()]);
        let Placement::Placed { tasks, failures } = place(&launch, &mut [], &mut || "t".into())
        else {
            panic!("StartTask reports MISSING")
        };
        assert!(tasks.is_empty());
        assert_eq!(failures[0].reason.as_deref(), Some("MISSING"));
        assert!(failures[0].arn.as_deref().unwrap().ends_with("container-instance/default/gone"));
    }

    fn host(cluster: &str, id: &str, attributes: &[(&str, &str)], cpu: i64) -> Candidate {
        let attributes: Vec<serde_json::Value> =
            attributes.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
        let mut c = Candidate::of_instance(
            &serde_json::from_value(json!({
                "containerInstanceArn": format!("arn:aws:ecs:us-east-1:1:container-instance/{cluster}/{id}"),
                "status": "ACTIVE", "agentConnected": true, "attributes": attributes
            }))
            .unwrap(),
            "us-east-1a",
        );
        c.cpu_free = cpu;
        c.memory_free = 100_000;
        c
    }

    fn fargate_template() -> TaskTemplate {
        let td: TaskDefinition = serde_json::from_value(json!({
            "family": "web", "revision": 1, "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "compatibilities": ["EC2", "FARGATE"],
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:1",
            "containerDefinitions": [{"name": "app", "image": "busybox"}]
        }))
        .unwrap();
        TaskTemplate { resolved: ResolvedTask::new(&td, None), ..template() }
    }

    fn shares(items: &[(&str, u32, u32)]) -> Vec<Share> {
        items
            .iter()
            .map(|(p, base, weight)| Share {
                provider: (*p).into(),
                capacity: Capacity::built_in(p).unwrap_or_else(|| Capacity::Group((*p).into())),
                base: *base,
                weight: *weight,
            })
            .collect()
    }

    fn placed(launch: &Launch, candidates: &mut [Candidate]) -> (Vec<PlacedTask>, Vec<Failure>) {
        let mut n = 0;
        match place(launch, candidates, &mut || {
            n += 1;
            format!("t{n}")
        }) {
            Placement::Placed { tasks, failures } => (tasks, failures),
            Placement::NoContainerInstances => panic!("no container instances"),
        }
    }

    #[test]
    fn a_fargate_strategy_splits_by_base_and_weight_on_the_pool() {
        let fargate = [(capacity::FARGATE_ATTRIBUTE, "true")];
        let mut candidates = vec![
            host("default", "ec2", &[], 100_000),
            host(capacity::FARGATE_POOL, "pool", &fargate, 100_000),
            host("other", "embedded", &fargate, 100_000),
        ];
        let launch = Launch {
            template: fargate_template(),
            count: 10,
            instances: None,
            rules: Rules { group: Some("family:web".into()), ..Rules::default() },
            capacity: LaunchCapacity::Strategy {
                shares: shares(&[("FARGATE", 2, 1), ("FARGATE_SPOT", 0, 3)]),
                existing: vec![0, 0],
            },
        };
        let (tasks, failures) = placed(&launch, &mut candidates);
        assert!(failures.is_empty());
        let on = |p: &str| {
            tasks.iter().filter(|t| t.task.capacity_provider_name.as_deref() == Some(p)).count()
        };
        assert_eq!((on("FARGATE"), on("FARGATE_SPOT")), (4, 6));
        for t in &tasks {
            assert_ne!(t.instance, 0, "a Fargate task never lands on an EC2 instance");
            assert_eq!(t.task.launch_type, Some(LaunchType::Fargate));
            assert_eq!(t.task.container_instance_arn, None);
            assert_eq!(t.task.platform_version.as_deref(), Some("1.4.0"));
            assert_eq!(t.task.cpu.as_deref(), Some("256"));
        }
        // Spread over the pool's two hosts.
        assert_eq!(tasks.iter().filter(|t| t.instance == 1).count(), 5);
        assert!(launch.needs_pool());
    }

    #[test]
    fn a_group_strategy_takes_only_its_group_of_the_cluster() {
        let g = [(capacity::GROUP_ATTRIBUTE, "web-asg")];
        let mut candidates = vec![
            host("default", "plain", &[], 1_000),
            host("default", "member", &g, 300),
            host("other", "elsewhere", &g, 1_000),
        ];
        let launch = Launch {
            template: template(),
            count: 3,
            instances: None,
            rules: Rules::default(),
            capacity: LaunchCapacity::Strategy {
                shares: vec![Share {
                    provider: "web".into(),
                    capacity: Capacity::Group("web-asg".into()),
                    base: 0,
                    weight: 1,
                }],
                existing: vec![0],
            },
        };
        let (tasks, failures) = placed(&launch, &mut candidates);
        assert_eq!(tasks.len(), 2, "two fit the member's 300 CPU units");
        assert!(tasks.iter().all(|t| t.instance == 1));
        assert_eq!(tasks[0].task.capacity_provider_name.as_deref(), Some("web"));
        assert_eq!(tasks[0].task.launch_type, Some(LaunchType::Ec2));
        assert_eq!(tasks[0].task.container_instance_arn, Some(candidates[1].arn.clone()));
        assert_eq!(failures[0].reason.as_deref(), Some("RESOURCE:CPU"));
        assert!(!launch.needs_pool());
    }

    #[test]
    fn the_pool_is_not_the_clusters_and_has_limits() {
        let fargate = [(capacity::FARGATE_ATTRIBUTE, "true")];
        let mut candidates = vec![host(capacity::FARGATE_POOL, "pool", &fargate, 600)];
        let ec2 = Launch { count: 1, ..Launch::minimal("us-east-1", "default", "web", 1, vec![]) };
        assert_eq!(
            place(&ec2, &mut candidates, &mut || "t".into()),
            Placement::NoContainerInstances,
            "pool hosts are not the cluster's instances"
        );
        let launch = Launch {
            template: TaskTemplate { launch_type: LaunchType::Fargate, ..fargate_template() },
            count: 3,
            instances: None,
            rules: Rules::default(),
            capacity: LaunchCapacity::LaunchType,
        };
        let (tasks, failures) = placed(&launch, &mut candidates);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].task.capacity_provider_name, None, "a launch type names no provider");
        assert_eq!(failures.len(), 1, "the pool's hosts are not named");
        assert_eq!(failures[0].reason.as_deref(), Some(capacity::CAPACITY_UNAVAILABLE));
        assert_eq!(
            failures[0].arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:1:capacity-provider/FARGATE")
        );
    }
}
