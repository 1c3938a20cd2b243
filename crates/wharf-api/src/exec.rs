//! ECS Exec sessions. ExecuteCommand, once ECS's checks pass, grants a
//! session: an id, a token that seals what may run (the task, container and
//! command) under the server's key, and the URL of the WebSocket the task's
//! agent serves (its instance's `wharf.exec-endpoint`). The agent takes the
//! token from the client and asks the server to open it ([`open`]): the
//! server checks the seal, the expiry, that the asking agent runs the task,
//! and that the task still runs. The agent uses each session once.

use wharf_model::agent::{ExecGrant, EXEC_PATH, EXEC_TOKEN_SECONDS};
use wharf_model::ecs::attributes;
use wharf_model::ecs::shapes::{Container, ContainerInstance, Session};
use wharf_model::ecs::status::TaskStatus;
use wharf_model::{arn, EcsError, EcsErrorKind};
use wharf_store::StoredTask;

use crate::context::{AppState, Ctx};
use crate::protocol::ApiError;

/// What the token is sealed for.
const PURPOSE: &str = "exec";

fn not_connected(message: String) -> ApiError {
    EcsError::new(EcsErrorKind::TargetNotConnectedException, message).into()
}

/// The WebSocket URL of a session at an agent's exec endpoint
/// (`http://host:port` → `ws://host:port/v1/data-channel/ID?role=publish_subscribe`).
pub fn stream_url(endpoint: &str, session_id: &str) -> String {
    let ws = match endpoint.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => format!("ws://{endpoint}"),
    };
    format!("{}{EXEC_PATH}{session_id}?role=publish_subscribe", ws.trim_end_matches('/'))
}

/// Grants a session to run `command` in `container` of the task `stored`
/// (checked by ExecuteCommand): refused with `TargetNotConnectedException`
/// when the task's agent is not connected or serves no exec sessions.
pub(crate) async fn start(
    ctx: &Ctx,
    cluster: &str,
    stored: &StoredTask,
    container: &Container,
    command: &str,
) -> Result<Session, ApiError> {
    let name = container.name.clone().unwrap_or_default();
    let runtime_id = container.runtime_id.clone().ok_or_else(|| {
        not_connected(format!("The container {name} has not started: there is nothing to run in."))
    })?;
    let instance_id = stored
        .instance_id
        .clone()
        .ok_or_else(|| not_connected("The task has no container instance to reach.".to_owned()))?;
    let usage =
        ctx.store().instances(&ctx.region, cluster, Some(vec![instance_id.clone()])).await?;
    let instance: ContainerInstance = usage
        .first()
        .and_then(|u| serde_json::from_str(&u.instance.json).ok())
        .ok_or_else(|| not_connected(format!("The container instance {instance_id} is gone.")))?;
    if instance.agent_connected == Some(false) {
        return Err(not_connected(format!(
            "The agent of container instance {instance_id} is not connected. Try again when it \
             is."
        )));
    }
    let all = instance.attributes.clone().unwrap_or_default();
    let endpoint = attributes::value_of(&all, attributes::EXEC_ENDPOINT)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            not_connected(format!(
                "The agent of container instance {instance_id} serves no exec sessions (started \
                 with --exec-address off, or it could not listen: see its log)."
            ))
        })?
        .to_owned();
    let session_id = format!(
        "ecs-execute-command-{}",
        &wharf_auth::hex::encode(&crate::random::bytes::<9>())[..17]
    );
    let grant = ExecGrant {
        session_id: session_id.clone(),
        task_arn: stored.arn.clone(),
        container_instance_arn: instance
            .container_instance_arn
            .clone()
            .unwrap_or_else(|| ctx.scope().container_instance_arn(cluster, &instance_id)),
        container_name: name,
        runtime_id,
        command: command.to_owned(),
        expires: ctx.state.ops.clock.now_millis().div_euclid(1000) + EXEC_TOKEN_SECONDS,
    };
    let body = serde_json::to_vec(&grant).map_err(|e| EcsError::server(e.to_string()))?;
    Ok(Session {
        stream_url: Some(stream_url(&endpoint, &session_id)),
        token_value: Some(ctx.state.sts.seal(PURPOSE, &body)),
        session_id: Some(session_id),
    })
}

/// Opens a session's token for the agent of `instance_arn` that took it:
/// the grant, when its seal holds, it names `session_id` and this
/// instance, it has not expired, and its task still runs.
pub async fn open(
    state: &AppState,
    region: &str,
    instance_arn: &str,
    session_id: &str,
    token: &str,
) -> Result<ExecGrant, ApiError> {
    let refused = |m: &str| -> ApiError {
        ApiError::from(EcsError::new(EcsErrorKind::AccessDeniedException, m.to_owned()))
    };
    let grant: ExecGrant = state
        .sts
        .unseal(PURPOSE, token)
        .and_then(|body| serde_json::from_slice(&body).ok())
        .ok_or_else(|| refused("The session token is not valid."))?;
    if grant.session_id != session_id {
        return Err(refused("The session token is for another session."));
    }
    if grant.container_instance_arn != instance_arn {
        return Err(refused("The session's task runs on another container instance."));
    }
    if state.ops.clock.now_millis().div_euclid(1000) >= grant.expires {
        return Err(refused("The session token has expired: run ExecuteCommand again."));
    }
    let (task_id, cluster) = arn::resource_id(&grant.task_arn, "task");
    let cluster = cluster.unwrap_or_default();
    let task = state.ops.store.get_task(region, cluster, task_id).await?;
    match task {
        Some(t) if t.last_status == TaskStatus::Running => Ok(grant),
        Some(t) => Err(EcsError::invalid_parameter(format!(
            "The execute command failed because the task is {}, not RUNNING.",
            t.last_status
        ))
        .into()),
        None => Err(EcsError::invalid_parameter("The referenced task was not found.").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_urls_take_the_websocket_scheme() {
        assert_eq!(
            stream_url("http://10.0.0.5:4591", "ecs-execute-command-0123456789abcdef0"),
            "ws://10.0.0.5:4591/v1/data-channel/ecs-execute-command-0123456789abcdef0\
             ?role=publish_subscribe"
        );
        assert!(stream_url("https://h:1/", "s").starts_with("wss://h:1/v1/data-channel/s?"));
    }
}
