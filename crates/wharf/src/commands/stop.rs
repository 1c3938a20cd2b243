//! `wharf stop TASK...`: StopTask for each task (an ARN, an id, or the
//! short id `wharf ps` shows), printing each task as StopTask answers it. A
//! task that cannot be stopped is reported and the others are still stopped;
//! the exit code is then 1.

use std::process::ExitCode;

use serde_json::{json, Value};

use super::connection::{block_on, ConnectionArgs};
use super::ps::{short_id, status};
use crate::api_client::Service;
use crate::ecs_reads::{family_revision, resolve_task};
use crate::table::{emit, Cell, Paint, Table};

/// StopTask's `reason` when none is given (what the console says).
const DEFAULT_REASON: &str = "Task stopped by wharf stop";

/// Options of `wharf stop`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Tasks to stop: ARNs, ids, or the short ids `wharf ps` shows.
    #[arg(required = true)]
    tasks: Vec<String>,
    /// Why: shown as the tasks' stoppedReason (at most 255 characters).
    #[arg(long, default_value = DEFAULT_REASON)]
    reason: String,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs `wharf stop`.
pub fn run(args: StopArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let client = args.connection.client()?;
        let cluster = &args.connection.cluster;
        let mut table = Table::new(&["TASK", "DEFINITION", "STATUS", "REASON"]);
        let mut failed = false;
        for reference in &args.tasks {
            let stopped = async {
                let task = resolve_task(&client, cluster, reference).await?;
                let answer: Value = client
                    .call(
                        Service::Ecs,
                        "StopTask",
                        &json!({"cluster": cluster, "task": task, "reason": args.reason}),
                    )
                    .await?;
                anyhow::Ok(answer["task"].clone())
            };
            match stopped.await {
                Ok(task) => table.row(vec![
                    short_id(task["taskArn"].as_str().unwrap_or_default()).into(),
                    family_revision(task["taskDefinitionArn"].as_str().unwrap_or_default()).into(),
                    Cell::status(status(&task)),
                    task["stoppedReason"].as_str().unwrap_or_default().into(),
                ]),
                Err(e) => {
                    failed = true;
                    eprintln!("wharf: task {reference}: {e:#}");
                }
            }
        }
        if !table.is_empty() {
            emit(&table.render(Paint::stdout()));
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}
