//! `wharf services`: a cluster's services as a table (name, status, desired,
//! running and pending counts, task definition, rollout); `--json` prints
//! them as DescribeServices answers them.

use std::process::ExitCode;

use serde_json::Value;
use wharf_model::ecs::status::DeploymentStatus;

use super::connection::{block_on, ConnectionArgs};
use crate::ecs_reads::{all_services, family_revision};
use crate::table::{emit, Cell, Paint, Table};

/// Options of `wharf services`.
#[derive(Debug, clap::Args)]
pub struct ServicesArgs {
    /// Print the services as DescribeServices answers them (a JSON array), nothing else.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs `wharf services`.
pub fn run(args: ServicesArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let client = args.connection.client();
        let services = all_services(&client, &args.connection.cluster).await?;
        if args.json {
            emit(&(serde_json::to_string_pretty(&services)? + "\n"));
            return Ok(ExitCode::SUCCESS);
        }
        let mut table = Table::new(&[
            "NAME",
            "STATUS",
            "DESIRED",
            "RUNNING",
            "PENDING",
            "TASK DEFINITION",
            "ROLLOUT",
        ]);
        for s in &services {
            table.row(vec![
                s["serviceName"].as_str().unwrap_or_default().into(),
                Cell::status(s["status"].as_str().unwrap_or_default()),
                count(&s["desiredCount"]).into(),
                count(&s["runningCount"]).into(),
                count(&s["pendingCount"]).into(),
                family_revision(s["taskDefinition"].as_str().unwrap_or("-")).into(),
                Cell::status(rollout(s)),
            ]);
        }
        emit(&table.render(Paint::stdout()));
        Ok(ExitCode::SUCCESS)
    })
}

fn count(v: &Value) -> String {
    v.as_i64().map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// The primary deployment's rolloutState, with how many deployments there
/// are while one is in progress (`IN_PROGRESS (2 deployments)`).
pub fn rollout(service: &Value) -> String {
    let deployments = service["deployments"].as_array().map_or(&[][..], Vec::as_slice);
    let primary = deployments.iter().find(|d| d["status"] == DeploymentStatus::Primary.as_str());
    let Some(state) = primary.and_then(|d| d["rolloutState"].as_str()) else {
        return "-".to_owned();
    };
    if state == "IN_PROGRESS" && deployments.len() > 1 {
        format!("{state} ({} deployments)", deployments.len())
    } else {
        state.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rollouts() {
        assert_eq!(rollout(&json!({})), "-");
        let done = json!({"deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]});
        assert_eq!(rollout(&done), "COMPLETED");
        let rolling = json!({"deployments": [
            {"status": "PRIMARY", "rolloutState": "IN_PROGRESS"},
            {"status": "ACTIVE", "rolloutState": "COMPLETED"}]});
        assert_eq!(rollout(&rolling), "IN_PROGRESS (2 deployments)");
    }
}
