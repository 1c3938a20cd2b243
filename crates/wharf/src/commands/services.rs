//! `wharf services`: a cluster's services as a table (name, status, desired,
//! running and pending counts, task definition, rollout, and the service's
//! scalable target with its last scaling activity when Application Auto
//! Scaling scales it); `--json` prints them as DescribeServices answers them.

use std::process::ExitCode;

use serde_json::Value;
use wharf_model::ecs::status::DeploymentStatus;

use super::connection::{block_on, ConnectionArgs};
use crate::api_client::{ApiClient, Service};
use crate::ecs_reads::{all_services, family_revision};
use crate::table::{age, emit, now_seconds, Cell, Paint, Table};

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
        let client = args.connection.client()?;
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
            "SCALING",
            "LAST SCALING",
        ]);
        let scaling = scaling(&client, &args.connection.cluster).await?;
        for s in &services {
            let name = s["serviceName"].as_str().unwrap_or_default();
            let (bounds, last) = scaling
                .iter()
                .find(|t| t.service == name)
                .map(|t| (t.bounds.clone(), t.last.clone()))
                .unwrap_or_else(|| ("-".into(), "-".into()));
            table.row(vec![
                s["serviceName"].as_str().unwrap_or_default().into(),
                Cell::status(s["status"].as_str().unwrap_or_default()),
                count(&s["desiredCount"]).into(),
                count(&s["runningCount"]).into(),
                count(&s["pendingCount"]).into(),
                family_revision(s["taskDefinition"].as_str().unwrap_or("-")).into(),
                Cell::status(rollout(s)),
                bounds.into(),
                last.into(),
            ]);
        }
        emit(&table.render(Paint::stdout()));
        Ok(ExitCode::SUCCESS)
    })
}

/// A service's scalable target as the table shows it.
#[derive(Debug)]
struct Scaling {
    service: String,
    /// `min-max`.
    bounds: String,
    /// The last activity: `Setting desired count to 3. (Successful, 12s ago)`.
    last: String,
}

/// The cluster's scalable targets (Application Auto Scaling's
/// `service/<cluster>/<service>`), each with its last activity.
async fn scaling(client: &ApiClient, cluster: &str) -> anyhow::Result<Vec<Scaling>> {
    let prefix = format!("service/{}/", wharf_model::arn::cluster_name(cluster));
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page: Value = client
            .call(
                Service::ApplicationAutoScaling,
                "DescribeScalableTargets",
                &serde_json::json!({"ServiceNamespace": "ecs", "NextToken": token}),
            )
            .await?;
        for t in page["ScalableTargets"].as_array().into_iter().flatten() {
            let resource = t["ResourceId"].as_str().unwrap_or_default();
            let Some(service) = resource.strip_prefix(&prefix) else { continue };
            let activities: Value = client
                .call(
                    Service::ApplicationAutoScaling,
                    "DescribeScalingActivities",
                    &serde_json::json!({
                        "ServiceNamespace": "ecs",
                        "ResourceId": resource,
                        "MaxResults": 1,
                    }),
                )
                .await?;
            out.push(Scaling {
                service: service.to_owned(),
                bounds: format!("{}-{}", count(&t["MinCapacity"]), count(&t["MaxCapacity"])),
                last: last_activity(&activities["ScalingActivities"][0], now_seconds()),
            });
        }
        token = page["NextToken"].as_str().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// An activity as `Setting desired count to 3. (Successful, 12s ago)`; `-`
/// for none.
fn last_activity(a: &Value, now: f64) -> String {
    let Some(description) = a["Description"].as_str() else { return "-".to_owned() };
    let status = a["StatusCode"].as_str().unwrap_or("-");
    match a["StartTime"].as_f64() {
        Some(at) => format!("{description} ({status}, {} ago)", age(now - at)),
        None => format!("{description} ({status})"),
    }
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

    #[test]
    fn activities() {
        assert_eq!(last_activity(&json!(null), 0.0), "-");
        let a = json!({"Description": "Setting desired count to 3.", "StatusCode": "Successful",
                       "StartTime": 100.0});
        assert_eq!(last_activity(&a, 112.5), "Setting desired count to 3. (Successful, 12s ago)");
    }
}
