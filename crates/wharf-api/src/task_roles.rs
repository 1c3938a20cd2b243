//! Task roles and execution roles that really work, the server's half.
//!
//! - [`role_credentials`]: temporary credentials for a task's `taskRoleArn`
//!   (or its execution role), minted by Wharf's STS with the task's id as
//!   the session name; every API Wharf serves accepts them with the role's
//!   policies. With a credentials file the role must exist and trust
//!   `ecs-tasks.amazonaws.com`, as ECS requires.
//! - [`resolve_task_secret`] and [`check_execution_role`]: what the agent
//!   reads for a task (`secrets`, registry credentials, `environmentFiles`)
//!   is read with the task's execution role: a permission the role lacks
//!   fails the task with the ECS agent's words and IAM's sentence.
//!
//! A server without a credentials file checks nothing and mints for any role.

use wharf_auth::policy::{self, Context, Decision};
use wharf_model::agent::{RoleKind, TaskRoleCredentials};
use wharf_model::EcsError;

use crate::agent_link::assignment;
use crate::context::AppState;
use crate::protocol::ApiError;

/// How long minted task role credentials last (the agent fetches new ones
/// 15 minutes before they expire).
pub const TASK_CREDENTIALS_SECS: i64 = 3600;

/// The service ECS tasks assume their roles as.
pub const ECS_TASKS_SERVICE: &str = "ecs-tasks.amazonaws.com";

fn refused(message: String) -> ApiError {
    ApiError {
        type_name: "ResourceInitializationError".into(),
        message,
        status: http::StatusCode::BAD_REQUEST,
    }
}

/// A task's role of `kind` (the overrides' first, then the definition's).
async fn task_role(
    state: &AppState,
    region: &str,
    cluster: &str,
    task_arn: &str,
    kind: RoleKind,
) -> Result<(String, Option<String>), ApiError> {
    let (task_id, _) = wharf_model::arn::resource_id(task_arn, "task");
    let found = assignment(state, region, cluster, task_id).await?.ok_or_else(|| {
        ApiError::from(EcsError::invalid_parameter(format!(
            "The task {task_arn} is not in cluster {cluster}."
        )))
    })?;
    let overrides = found.task.overrides.as_ref();
    let role = match kind {
        RoleKind::TaskApplication => overrides
            .and_then(|o| o.task_role_arn.clone())
            .or_else(|| found.definition.task_role_arn.clone()),
        RoleKind::TaskExecution => overrides
            .and_then(|o| o.execution_role_arn.clone())
            .or_else(|| found.definition.execution_role_arn.clone()),
    };
    Ok((task_id.to_owned(), role.filter(|r| !r.is_empty())))
}

fn unable_to_assume(role: &str) -> ApiError {
    refused(format!(
        "ECS was unable to assume the role '{role}' that was provided for this task. Please \
         verify that the role being passed has the proper trust relationship and permissions \
         and that your IAM user has permissions to pass this role."
    ))
}

/// The role's policies, when the server checks permissions and ECS tasks
/// may assume it; `Ok(None)` when the server checks nothing.
fn assumable(
    state: &AppState,
    role: &str,
) -> Result<Option<std::sync::Arc<wharf_auth::identity::Principal>>, ApiError> {
    let Some(auth) = &state.auth else { return Ok(None) };
    let principal = auth.directory().role(role).ok_or_else(|| unable_to_assume(role))?;
    let trusted = principal
        .trust
        .as_ref()
        .is_some_and(|t| policy::trusts_service(t, "sts:AssumeRole", ECS_TASKS_SERVICE));
    if !trusted {
        return Err(unable_to_assume(role));
    }
    Ok(Some(principal.clone()))
}

/// Temporary credentials for the task's role of `kind`.
pub async fn role_credentials(
    state: &AppState,
    region: &str,
    cluster: &str,
    task_arn: &str,
    kind: RoleKind,
) -> Result<TaskRoleCredentials, ApiError> {
    let (task_id, role) = task_role(state, region, cluster, task_arn, kind).await?;
    let role = role.ok_or_else(|| {
        refused(format!(
            "The task {task_arn} has no {} role.",
            match kind {
                RoleKind::TaskApplication => "task",
                RoleKind::TaskExecution => "execution",
            }
        ))
    })?;
    assumable(state, &role)?;
    let expires = state.ops.clock.now_millis().div_euclid(1000) + TASK_CREDENTIALS_SECS;
    let c = state.sts.mint(&role, &task_id, Some(task_arn), expires, crate::random::nonce());
    tracing::info!(task = %task_arn, role = %role, "task role credentials minted");
    Ok(TaskRoleCredentials {
        role_arn: role,
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        token: c.session_token,
        expiration: c.expiration,
    })
}

/// Whether the task's execution role may perform `action` on `resource`;
/// `what` words the ECS agent's failure (`unable to retrieve secrets from
/// ssm`, ...).
pub async fn check_execution_role(
    state: &AppState,
    region: &str,
    cluster: &str,
    task_arn: &str,
    action: &str,
    resource: &str,
) -> Result<(), ApiError> {
    if state.auth.is_none() {
        return Ok(());
    }
    let (task_id, role) =
        task_role(state, region, cluster, task_arn, RoleKind::TaskExecution).await?;
    let role = role.ok_or_else(|| {
        refused(format!(
            "execution resource retrieval failed: the task has no execution role \
             (executionRoleArn) to perform {action} on {resource} with"
        ))
    })?;
    let Some(principal) = assumable(state, &role)? else { return Ok(()) };
    let check = Context::new(action, resource)
        .with("aws:PrincipalArn", principal.arn.clone())
        .with("aws:RequestedRegion", region.to_owned());
    let decision = principal.evaluate(&check);
    if decision == Decision::Allow {
        return Ok(());
    }
    let caller =
        format!("arn:aws:sts::{}:assumed-role/{}/{task_id}", principal.account, principal.name);
    let sentence = policy::denied_message(&caller, &check, decision);
    let source = match action.split(':').next() {
        Some("ssm") => "unable to retrieve secrets from ssm",
        Some("secretsmanager") => "unable to retrieve secret from asm",
        Some("s3") => "unable to download the file from s3",
        _ => "unable to retrieve the resource",
    };
    Err(refused(format!(
        "execution resource retrieval failed: {source}: service call has been retried 1 \
         time(s): AccessDeniedException: {sentence}"
    )))
}

/// The IAM action and resource ARN reading a `valueFrom` takes.
pub fn secret_read(region: &str, account: &str, value_from: &str) -> (&'static str, String) {
    if value_from.starts_with("arn:") && value_from.split(':').nth(2) == Some("secretsmanager") {
        // The secret's ARN, without the `:json-key:stage:version` selectors.
        let arn: Vec<&str> = value_from.split(':').take(7).collect();
        ("secretsmanager:GetSecretValue", arn.join(":"))
    } else if value_from.starts_with("arn:") {
        ("ssm:GetParameters", value_from.to_owned())
    } else {
        let name = value_from.split(':').next().unwrap_or(value_from);
        let sep = if name.starts_with('/') { "" } else { "/" };
        ("ssm:GetParameters", format!("arn:aws:ssm:{region}:{account}:parameter{sep}{name}"))
    }
}

/// Resolves a task's secret after checking its execution role may read it.
pub async fn resolve_task_secret(
    state: &AppState,
    region: &str,
    cluster: &str,
    task_arn: &str,
    value_from: &str,
) -> Result<String, ApiError> {
    let (action, resource) = secret_read(region, &state.ops.account_id, value_from);
    check_execution_role(state, region, cluster, task_arn, action, &resource).await?;
    let now = state.ops.clock.now();
    crate::secrets::resolve(&*state.ops.store, region, value_from, now).await.map_err(|e| match e {
        crate::secrets::ResolveError::Internal(m) => ApiError::from(EcsError::server(m)),
        other => refused(other.to_string()),
    })
}
