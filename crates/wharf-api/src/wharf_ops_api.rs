//! Wharf's own operations, beside the AWS ones: what AWS does to your
//! resources that nothing on your own machines would, done on request.
//! AWS JSON 1.1 under the `X-Amz-Target` prefix [`TARGET_PREFIX`]; IAM
//! actions `wharf:<Operation>`.
//!
//! - `InterruptSpotTasks` (`{"cluster", "tasks": [...]}`): a Fargate Spot
//!   interruption for each task (`wharf_ops::spot`); answers the tasks as
//!   stored and `failures` (`MISSING`, or the reason it was refused).

use serde::{Deserialize, Serialize};
use wharf_model::arn;
use wharf_model::ecs::shapes::{Failure, Task};
use wharf_model::EcsError;
use wharf_ops::lookup::active_cluster;
use wharf_ops::OpsError;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

/// The `X-Amz-Target` prefix of Wharf's own operations.
pub const TARGET_PREFIX: &str = "Wharf_20250101";

/// InterruptSpotTasks' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InterruptSpotTasksRequest {
    cluster: Option<String>,
    tasks: Option<Vec<String>>,
}

/// InterruptSpotTasks' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InterruptSpotTasksResponse {
    tasks: Vec<Task>,
    failures: Vec<Failure>,
}

/// Runs one of Wharf's own operations.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match op {
        "InterruptSpotTasks" => {
            let req: InterruptSpotTasksRequest = serde_json::from_slice(body).map_err(|e| {
                ApiError::from(EcsError::invalid_parameter(format!("Invalid request: {e}")))
            })?;
            protocol::to_body(&interrupt_spot_tasks(ctx, req).await?)
        }
        _ => Err(ApiError::unknown_operation()),
    }
}

async fn interrupt_spot_tasks(
    ctx: &Ctx,
    req: InterruptSpotTasksRequest,
) -> Result<InterruptSpotTasksResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = req.tasks.unwrap_or_default();
    if given.is_empty() || given.len() > 100 {
        return Err(EcsError::invalid_parameter("tasks must have between 1 and 100 items.").into());
    }
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        let (id, in_cluster) = arn::resource_id(&g, "task");
        let failure = |reason: String| Failure {
            arn: Some(ctx.scope().task_arn(&cluster, id)),
            reason: Some(reason),
            detail: None,
        };
        if in_cluster.is_some_and(|c| c != cluster) {
            failures.push(failure("MISSING".to_owned()));
            continue;
        }
        match wharf_ops::spot::interrupt(ctx.ops(), &cluster, id).await {
            Ok(Some(stored)) => tasks.push(crate::ecs::task::parse(&stored)?),
            Ok(None) => failures.push(failure("MISSING".to_owned())),
            Err(OpsError::Refused(e)) => failures.push(failure(e.message)),
            Err(e) => return Err(EcsError::from(e).into()),
        }
    }
    Ok(InterruptSpotTasksResponse { tasks, failures })
}
