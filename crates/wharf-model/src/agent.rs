//! Messages between the server and its agents, the same embedded or across
//! a network. They are made of ECS wire shapes: an agent receives a task as
//! DescribeTasks shows it, and reports changes as partial `Task`s.

use serde::{Deserialize, Serialize};

use crate::ecs::shapes::{
    Container, DesiredStatus, ManagedAgent, ManagedAgentName, Task, TaskDefinition,
};
use crate::ecs::status::ContainerLastStatus;
use crate::wire::Timestamp;

/// A task placed on an agent's instance, with the definition it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The cluster's name.
    pub cluster: String,
    /// The task as stored: desired status, overrides, containers.
    pub task: Task,
    /// Its task definition.
    pub definition: TaskDefinition,
}

/// What the assignment watch delivers: the instance's tasks, one at a time,
/// and a mark after the first of them (every task not yet `STOPPED` when the
/// watch began): a task the agent runs that the mark has not named is no
/// longer the instance's (it was stopped while the agent was away: its
/// instance was declared lost), and the agent stops it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WatchEvent {
    /// A task, as stored, with its definition.
    Assigned(Box<Assignment>),
    /// Every task not yet `STOPPED` when the watch began has been sent.
    Synced,
}

/// How often the assignment watch, over a network, sends an empty line when
/// it has nothing else to send, so the agent knows the link is alive.
pub const WATCH_KEEPALIVE_MS: u64 = 5_000;

/// How long an agent waits on a silent watch before it gives it up and
/// watches again (three keep-alives missed).
pub const WATCH_SILENCE_MS: u64 = 3 * WATCH_KEEPALIVE_MS;

/// What an agent tells the server at each heartbeat, besides being alive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// Whether its container runtime (Docker) answers.
    pub runtime_healthy: bool,
    /// Its running containers' latest figures, when it samples them for the
    /// server's `/metrics` (an agent on another host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerUsage>>,
}

/// One running container's latest figures, from Docker's stats.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerUsage {
    /// The cluster's name.
    pub cluster: String,
    /// The task's ID.
    pub task_id: String,
    /// The container's name in the task definition.
    pub container: String,
    /// `family:revision`.
    pub task_definition: String,
    /// CPU time used since it started, in seconds.
    pub cpu_seconds: f64,
    /// Memory in use, as `docker stats` counts it.
    pub memory_bytes: u64,
    /// Its memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    /// Bytes received, if it has a network of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_rx_bytes: Option<u64>,
    /// Bytes sent, if it has a network of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_tx_bytes: Option<u64>,
}

/// The server's answer to a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatReply {
    /// How long until the next heartbeat is due, in milliseconds.
    pub interval_ms: u64,
    /// The instance's awsvpc network, when the server gives out VPC ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkPlan>,
}

/// What an instance's host must do for its cluster's `awsvpc` network: give
/// its tasks addresses from its slice, route the other hosts' slices through
/// them, and keep other VPCs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPlan {
    /// Every VPC range the server gives out (its pool): traffic between this
    /// VPC and the others is refused.
    pub pool: String,
    /// The cluster's VPC range.
    pub vpc: String,
    /// This instance's slice: its awsvpc tasks' addresses.
    pub slice: String,
    /// The cluster's other instances: their addresses and slices.
    pub peers: Vec<Peer>,
}

/// Another host of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// Its address (`wharf.address`).
    pub address: String,
    /// Its slice.
    pub slice: String,
}

/// Where one container's `awslogs` output goes: a log group and stream in a
/// region (the container's `awslogs-region`, else the agent's own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogDestination {
    /// The region the log group lives in.
    pub region: String,
    /// `awslogs-group`.
    pub group: String,
    /// `awslogs-stream-prefix/container-name/task-id`, or the Docker
    /// container ID without a prefix, as Docker's awslogs driver names it.
    pub stream: String,
}

/// One log event an agent ships: when it was written and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippedEvent {
    /// Milliseconds since the epoch, from the container runtime's timestamp
    /// of the event's first line.
    pub timestamp: i64,
    /// The event's text, without the trailing newline.
    pub message: String,
}

/// A batch of one container's output, with the position in that output it
/// reaches: the server stores the events and the cursor in one transaction,
/// so an agent that restarts resumes exactly after what was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogBatch {
    /// Where the events go.
    pub destination: LogDestination,
    /// The events, in order.
    pub events: Vec<ShippedEvent>,
    /// Opaque to the server: the agent's resume position after these events.
    pub cursor: String,
    /// The cursor of the batch before this one (the position these events
    /// were read from): a batch whose `cursor` the stream already holds while
    /// it holds something other than `after` was stored before, and is sent
    /// again because its answer was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// How far the image pull of one of a task's containers has come, as the
/// agent reports it while it pulls (for people watching: `wharf run`). The
/// byte counts add up Docker's per-layer progress over the layers seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullProgressReport {
    /// The task's ARN.
    pub task_arn: String,
    /// The container's name in the task definition.
    pub container: String,
    /// The image being pulled.
    pub image: String,
    /// Layers Docker has named so far.
    pub layers: u32,
    /// Layers downloaded (or already present).
    pub layers_done: u32,
    /// Bytes downloaded so far, over the layers whose size is known.
    pub current_bytes: u64,
    /// The size of the layers whose size is known.
    pub total_bytes: u64,
    /// Whether the pull has ended (pulled, or failed).
    pub done: bool,
}

/// Applies a report to a task; whether anything changed. Statuses move only
/// forward; the stop reason, the stop code and each timestamp are kept once
/// set; a STOPPED desired status is never undone.
pub fn merge(t: &mut Task, r: Task) -> bool {
    let before = t.clone();
    // `None` orders before every status.
    if r.last_status > t.last_status {
        t.last_status = r.last_status;
    }
    if r.desired_status == Some(DesiredStatus::Stopped) {
        t.desired_status = r.desired_status;
    }
    if t.stop_code.is_none() {
        t.stop_code = r.stop_code;
    }
    if t.stopped_reason.is_none() {
        t.stopped_reason = r.stopped_reason;
    }
    macro_rules! once {
        ($($f:ident),*) => { $( if t.$f.is_none() { t.$f = r.$f; } )* };
    }
    once!(
        pull_started_at,
        pull_stopped_at,
        started_at,
        connectivity_at,
        stopping_at,
        execution_stopped_at,
        stopped_at
    );
    if r.connectivity.is_some() {
        t.connectivity = r.connectivity;
    }
    if r.health_status.is_some() {
        t.health_status = r.health_status;
    }
    if r.attachments.is_some() {
        t.attachments = r.attachments;
    }
    let containers = t.containers.get_or_insert_with(Vec::new);
    for rc in r.containers.unwrap_or_default() {
        if let Some(c) = containers.iter_mut().find(|c| c.name == rc.name) {
            merge_container(c, rc);
        }
    }
    let started = t.started_at;
    for c in containers.iter_mut() {
        follow_exec_agent(c, started);
    }
    let changed = *t != before;
    if changed {
        t.version = Some(t.version.unwrap_or(0) + 1);
    }
    changed
}

/// `managedAgents[].lastStatus` of an ExecuteCommandAgent not yet running.
pub const MANAGED_AGENT_PENDING: &str = "PENDING";
/// `managedAgents[].lastStatus` of a running ExecuteCommandAgent.
pub const MANAGED_AGENT_RUNNING: &str = "RUNNING";
/// `managedAgents[].lastStatus` of a stopped ExecuteCommandAgent.
pub const MANAGED_AGENT_STOPPED: &str = "STOPPED";

/// The ExecuteCommandAgent entry of a container's `managedAgents`.
pub fn exec_agent(status: &str, started: Option<Timestamp>) -> ManagedAgent {
    ManagedAgent {
        name: Some(ManagedAgentName::ExecuteCommandAgent),
        last_status: Some(status.to_owned()),
        last_started_at: started,
        reason: None,
    }
}

/// ECS Exec's agent is Wharf's own agent on the container's host, which
/// needs nothing in the container: it runs while the container runs (since
/// the task started) and stops with it.
fn follow_exec_agent(c: &mut Container, task_started: Option<Timestamp>) {
    let Some(agents) = c.managed_agents.as_mut() else { return };
    for a in agents.iter_mut().filter(|a| a.name == Some(ManagedAgentName::ExecuteCommandAgent)) {
        match c.last_status {
            Some(ContainerLastStatus::Running) => {
                a.last_status = Some(MANAGED_AGENT_RUNNING.to_owned());
                if a.last_started_at.is_none() {
                    a.last_started_at = task_started;
                }
            }
            Some(ContainerLastStatus::Stopped) => {
                a.last_status = Some(MANAGED_AGENT_STOPPED.to_owned());
            }
            _ => {}
        }
    }
}

fn merge_container(c: &mut Container, r: Container) {
    if r.last_status > c.last_status {
        c.last_status = r.last_status;
    }
    macro_rules! some {
        ($($f:ident),*) => { $( if r.$f.is_some() { c.$f = r.$f; } )* };
    }
    some!(
        exit_code,
        reason,
        runtime_id,
        network_bindings,
        network_interfaces,
        health_status,
        image_digest
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::status::{ContainerLastStatus, TaskStatus};
    use serde_json::json;

    fn task(v: serde_json::Value) -> Task {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_exec_agent_runs_while_its_container_runs() {
        let mut t = task(json!({
            "lastStatus": "PROVISIONING", "version": 1,
            "containers": [{"name": "web", "lastStatus": "PENDING",
                "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": "PENDING"}]}]
        }));
        let agent = |t: &Task| t.containers.as_ref().unwrap()[0].managed_agents.clone().unwrap();
        merge(
            &mut t,
            task(json!({"lastStatus": "RUNNING", "startedAt": 10.0,
            "containers": [{"name": "web", "lastStatus": "RUNNING"}]})),
        );
        let running = agent(&t);
        assert_eq!(running[0].last_status.as_deref(), Some("RUNNING"));
        assert_eq!(running[0].last_started_at, t.started_at);
        merge(&mut t, task(json!({"containers": [{"name": "web", "lastStatus": "STOPPED"}]})));
        assert_eq!(agent(&t)[0].last_status.as_deref(), Some("STOPPED"));
        assert_eq!(agent(&t)[0].last_started_at, running[0].last_started_at);
    }

    #[test]
    fn statuses_only_move_forward_and_first_reasons_stick() {
        let mut t = task(json!({
            "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING", "version": 1,
            "containers": [{"name": "web", "lastStatus": "PENDING"}]
        }));
        assert!(merge(
            &mut t,
            task(json!({
                "lastStatus": "RUNNING", "startedAt": 10.0,
                "containers": [{"name": "web", "lastStatus": "RUNNING", "runtimeId": "abc"}]
            }))
        ));
        assert_eq!(t.version, Some(2));
        assert!(!merge(&mut t, task(json!({"lastStatus": "PENDING", "startedAt": 5.0}))));
        assert_eq!(t.last_status, Some(TaskStatus::Running));
        assert_eq!(t.started_at.map(|s| s.as_millis()), Some(10_000));
        assert!(merge(
            &mut t,
            task(json!({
                "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                "stopCode": "EssentialContainerExited",
                "stoppedReason": "Essential container in task exited",
                "containers": [{"name": "web", "lastStatus": "STOPPED", "exitCode": 3}]
            }))
        ));
        assert!(!merge(
            &mut t,
            task(json!({"stoppedReason": "later", "desiredStatus": "RUNNING"}))
        ));
        assert_eq!(t.stopped_reason.as_deref(), Some("Essential container in task exited"));
        assert_eq!(t.desired_status, Some(DesiredStatus::Stopped));
        let c = &t.containers.as_ref().unwrap()[0];
        assert_eq!(
            (c.last_status, c.exit_code, c.runtime_id.as_deref()),
            (Some(ContainerLastStatus::Stopped), Some(3), Some("abc"))
        );
    }
}

/// Which of a task's roles credentials are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoleKind {
    /// `taskRoleArn`: what the containers' own code may do.
    TaskApplication,
    /// `executionRoleArn`: what the agent may read for the task (secrets,
    /// registry credentials, environment files).
    TaskExecution,
}

/// Temporary credentials the server minted for one task's role, as the
/// credentials endpoint serves them. `Debug` hides the secret and token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRoleCredentials {
    /// The role.
    pub role_arn: String,
    /// `ASIA...`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token.
    pub token: String,
    /// Expiry, Unix seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for TaskRoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRoleCredentials")
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// An ECS Exec session the server granted (ExecuteCommand): sealed into the
/// session's token, read back by the server when the task's agent presents
/// the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecGrant {
    /// `ecs-execute-command-...`: the session, used once.
    pub session_id: String,
    /// The task.
    pub task_arn: String,
    /// The container instance it runs on.
    pub container_instance_arn: String,
    /// The container's name in the task.
    pub container_name: String,
    /// The container's Docker ID.
    pub runtime_id: String,
    /// The command, as ExecuteCommand took it (split as a shell splits
    /// words, without expanding anything).
    pub command: String,
    /// When the token stops opening a session, Unix seconds.
    pub expires: i64,
}

/// How long a session's token opens it after ExecuteCommand.
pub const EXEC_TOKEN_SECONDS: i64 = 120;

/// The path of an exec session's WebSocket, after the endpoint.
pub const EXEC_PATH: &str = "/v1/data-channel/";

/// The first message of an exec session's WebSocket, from the client (a
/// text frame): the token and how to run the command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecOpen {
    /// ExecuteCommand's `session.tokenValue`.
    pub token_value: String,
    /// Allocate a pseudo-terminal (`docker exec -t`).
    #[serde(default)]
    pub tty: bool,
    /// Keep the command's standard input open (`docker exec -i`).
    #[serde(default)]
    pub stdin: bool,
    /// The terminal's columns, with `tty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u16>,
    /// The terminal's rows, with `tty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
}

/// A control message of an exec session (a text frame). Data goes in
/// binary frames: from the client, standard input; from the agent, one
/// byte naming the stream ([`EXEC_STDOUT`], [`EXEC_STDERR`]) and the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExecControl {
    /// The client's terminal changed size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The client's standard input ended.
    Eof,
    /// The agent: the command is running.
    Started,
    /// The agent: the command exited with this code (the last message).
    Exit {
        /// The exit code, as `docker exec` returns it.
        code: i64,
    },
    /// The agent: the session could not be opened or broke (the last message).
    Error {
        /// Why.
        message: String,
    },
}

/// The stream byte of standard output in an agent's binary frame.
pub const EXEC_STDOUT: u8 = 1;
/// The stream byte of standard error in an agent's binary frame.
pub const EXEC_STDERR: u8 = 2;
