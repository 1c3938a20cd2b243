//! `wharf spot-interrupt TASK...`: a Fargate Spot interruption for each task
//! (an ARN, an id, or the short id `wharf ps` shows), as AWS sends one when
//! it takes Spot capacity back. Each task gets SIGTERM and stops with stop
//! code `SpotInterruption`; a service replaces it. Tasks that do not run on
//! `FARGATE_SPOT` are refused; the exit code is then 1.

use std::process::ExitCode;

use serde_json::{json, Value};

use super::connection::{block_on, ConnectionArgs};
use super::ps::{short_id, status};
use crate::api_client::Service;
use crate::ecs_reads::resolve_task;
use crate::table::{emit, Cell, Paint, Table};

/// Options of `wharf spot-interrupt`.
#[derive(Debug, clap::Args)]
pub struct SpotArgs {
    /// Fargate Spot tasks to interrupt: ARNs, ids, or the short ids `wharf ps` shows.
    #[arg(required = true)]
    tasks: Vec<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs `wharf spot-interrupt`.
pub fn run(args: SpotArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let client = args.connection.client()?;
        let cluster = &args.connection.cluster;
        let mut resolved = Vec::new();
        let mut failed = false;
        for reference in &args.tasks {
            match resolve_task(&client, cluster, reference).await {
                Ok(task) => resolved.push(task),
                Err(e) => {
                    failed = true;
                    eprintln!("wharf: task {reference}: {e:#}");
                }
            }
        }
        if resolved.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
        let answer: Value = client
            .call(
                Service::Wharf,
                "InterruptSpotTasks",
                &json!({"cluster": cluster, "tasks": resolved}),
            )
            .await?;
        let mut table = Table::new(&["TASK", "PROVIDER", "STATUS", "REASON"]);
        for task in answer["tasks"].as_array().into_iter().flatten() {
            table.row(vec![
                short_id(task["taskArn"].as_str().unwrap_or_default()).into(),
                task["capacityProviderName"].as_str().unwrap_or_default().into(),
                Cell::status(status(task)),
                task["stoppedReason"].as_str().unwrap_or_default().into(),
            ]);
        }
        for f in answer["failures"].as_array().into_iter().flatten() {
            failed = true;
            eprintln!(
                "wharf: task {}: {}",
                short_id(f["arn"].as_str().unwrap_or_default()),
                f["reason"].as_str().unwrap_or_default()
            );
        }
        if !table.is_empty() {
            emit(&table.render(Paint::stdout()));
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}
