//! `wharf ps`: a cluster's tasks as a table (task, definition, status,
//! health, host, ports, age, group), newest first, like `docker ps`; `-a` adds the
//! stopped ones, `--json` prints the tasks as DescribeTasks answers them.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use serde_json::Value;
use tokio::task::JoinSet;
use wharf_model::ecs::shapes::DesiredStatus;
use wharf_model::ecs::status::TaskStatus;

use super::connection::{block_on, ConnectionArgs};
use crate::api_client::ApiClient;
use crate::ecs_reads::{all_tasks, family_revision, instance_hosts, short_name, task_definition};
use crate::table::{age, emit, now_seconds, Cell, Paint, Table};

/// How many characters of a task id `ps` shows (enough to be unique; `wharf
/// stop` and `wharf describe` take it back).
pub const SHORT_ID: usize = 12;

/// Options of `wharf ps`.
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Also show stopped tasks.
    #[arg(long, short = 'a')]
    all: bool,
    /// Print the tasks as DescribeTasks answers them (a JSON array), nothing else.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs `wharf ps`.
pub fn run(args: PsArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let client = args.connection.client()?;
        let cluster = &args.connection.cluster;
        let mut tasks =
            all_tasks(&client, cluster, &[DesiredStatus::Running, DesiredStatus::Stopped]).await?;
        if !args.all {
            tasks.retain(|t| t["lastStatus"] != TaskStatus::Stopped.as_str());
        }
        tasks.sort_by(|a, b| created(b).total_cmp(&created(a)));
        if args.json {
            emit(&(serde_json::to_string_pretty(&tasks)? + "\n"));
            return Ok(ExitCode::SUCCESS);
        }
        let container_ports = awsvpc_port_mappings(&client, &tasks).await;
        let instances: Vec<String> = tasks
            .iter()
            .filter_map(|t| t["containerInstanceArn"].as_str().map(str::to_owned))
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let hosts = instance_hosts(&client, cluster, &instances).await.unwrap_or_default();
        let now = now_seconds();
        let mut table = Table::new(&[
            "TASK",
            "DEFINITION",
            "STATUS",
            "HEALTH",
            "HOST",
            "PORTS",
            "AGE",
            "GROUP",
        ]);
        for task in &tasks {
            let definition = task["taskDefinitionArn"].as_str().unwrap_or_default();
            let mappings = container_ports.get(definition);
            table.row(vec![
                short_id(task["taskArn"].as_str().unwrap_or_default()).into(),
                family_revision(definition).into(),
                Cell::status(status(task)),
                Cell::status(task["healthStatus"].as_str().unwrap_or("-")),
                task["containerInstanceArn"]
                    .as_str()
                    .and_then(|i| hosts.get(i))
                    .map_or("-", String::as_str)
                    .into(),
                ports(task, mappings).into(),
                age(now - created(task)).into(),
                task["group"].as_str().unwrap_or_default().into(),
            ]);
        }
        emit(&table.render(Paint::stdout()));
        Ok(ExitCode::SUCCESS)
    })
}

/// The first [`SHORT_ID`] characters of a task ARN's id.
pub fn short_id(arn: &str) -> &str {
    let id = short_name(arn);
    id.get(..SHORT_ID).unwrap_or(id)
}

fn created(task: &Value) -> f64 {
    task["createdAt"].as_f64().unwrap_or(0.0)
}

/// `lastStatus`, and `→ desiredStatus` when the task is on its way elsewhere.
pub fn status(task: &Value) -> String {
    let last = task["lastStatus"].as_str().unwrap_or("?");
    match task["desiredStatus"].as_str() {
        Some(desired) if desired != last => format!("{last} → {desired}"),
        _ => last.to_owned(),
    }
}

/// For the awsvpc tasks (which have no networkBindings), their definitions'
/// port mappings by container, by definition ARN. A definition that cannot
/// be read just shows no ports.
async fn awsvpc_port_mappings(
    client: &ApiClient,
    tasks: &[Value],
) -> BTreeMap<String, BTreeMap<String, Vec<Value>>> {
    let definitions: BTreeSet<String> = tasks
        .iter()
        .filter(|t| task_ip(t).is_some())
        .filter_map(|t| t["taskDefinitionArn"].as_str().map(str::to_owned))
        .collect();
    let mut reading = JoinSet::new();
    for arn in definitions {
        let client = client.clone();
        reading.spawn(async move {
            let td = task_definition(&client, &arn).await;
            (arn, td)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(Ok((arn, Ok(td)))) = reading.join_next().await {
        let by_container = td["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let mappings = c["portMappings"].as_array()?.clone();
                Some((c["name"].as_str()?.to_owned(), mappings))
            })
            .collect();
        out.insert(arn, by_container);
    }
    out
}

/// An awsvpc task's private IPv4 address: its containers' network interface,
/// or its ENI attachment's details.
pub fn task_ip(task: &Value) -> Option<&str> {
    let containers = task["containers"].as_array().into_iter().flatten();
    let from_container = containers
        .flat_map(|c| c["networkInterfaces"].as_array().into_iter().flatten())
        .find_map(|n| n["privateIpv4Address"].as_str());
    from_container.or_else(|| {
        task["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["details"].as_array().into_iter().flatten())
            .find(|d| d["name"] == "privateIPv4Address")
            .and_then(|d| d["value"].as_str())
    })
}

/// A container's ports: its bridge/host networkBindings as
/// `hostIp:hostPort->containerPort/proto`, or in awsvpc mode its mappings as
/// `ip:containerPort` (with `/udp` for UDP).
pub fn container_ports(container: &Value, ip: Option<&str>, mappings: &[Value]) -> Vec<String> {
    let bindings = container["networkBindings"].as_array().filter(|b| !b.is_empty());
    if let Some(bindings) = bindings {
        let shown: Vec<String> = bindings
            .iter()
            .map(|b| {
                let host_ip = b["bindIP"].as_str().unwrap_or("0.0.0.0");
                let host_ip =
                    if host_ip.contains(':') { format!("[{host_ip}]") } else { host_ip.to_owned() };
                format!(
                    "{host_ip}:{}->{}/{}",
                    number(&b["hostPort"]),
                    number(&b["containerPort"]),
                    b["protocol"].as_str().unwrap_or("tcp")
                )
            })
            .collect();
        // Docker publishes a port on IPv4 and IPv6 alike: the IPv4 one says it.
        let twin_shown = |p: &String| {
            p.strip_prefix("[::]:").is_some_and(|rest| shown.contains(&format!("0.0.0.0:{rest}")))
        };
        return shown.iter().filter(|p| !twin_shown(p)).cloned().collect();
    }
    let Some(ip) = ip else { return Vec::new() };
    mappings
        .iter()
        .filter_map(|m| {
            let port = m["containerPort"].as_i64()?;
            Some(match m["protocol"].as_str() {
                Some("udp") => format!("{ip}:{port}/udp"),
                _ => format!("{ip}:{port}"),
            })
        })
        .collect()
}

fn number(v: &Value) -> String {
    v.as_i64().map_or_else(|| "?".to_owned(), |n| n.to_string())
}

/// All of a task's ports, comma-separated.
fn ports(task: &Value, mappings: Option<&BTreeMap<String, Vec<Value>>>) -> String {
    let ip = task_ip(task);
    let mut all: Vec<String> = Vec::new();
    for container in task["containers"].as_array().into_iter().flatten() {
        let name = container["name"].as_str().unwrap_or_default();
        let mapped = mappings.and_then(|m| m.get(name)).map_or(&[][..], Vec::as_slice);
        for port in container_ports(container, ip, mapped) {
            if !all.contains(&port) {
                all.push(port);
            }
        }
    }
    all.join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statuses_show_where_a_task_is_going() {
        assert_eq!(
            status(&json!({"lastStatus": "RUNNING", "desiredStatus": "RUNNING"})),
            "RUNNING"
        );
        assert_eq!(
            status(&json!({"lastStatus": "RUNNING", "desiredStatus": "STOPPED"})),
            "RUNNING → STOPPED"
        );
    }

    #[test]
    fn bridge_bindings_and_awsvpc_addresses() {
        let bridge = json!({"networkBindings": [
            {"bindIP": "0.0.0.0", "hostPort": 32768, "containerPort": 80, "protocol": "tcp"},
            {"bindIP": "::", "hostPort": 32768, "containerPort": 80, "protocol": "tcp"}]});
        assert_eq!(container_ports(&bridge, None, &[]), ["0.0.0.0:32768->80/tcp"]);
        let v6_only = json!({"networkBindings": [
            {"bindIP": "::", "hostPort": 8080, "containerPort": 80, "protocol": "udp"}]});
        assert_eq!(container_ports(&v6_only, None, &[]), ["[::]:8080->80/udp"]);
        let awsvpc = json!({"networkBindings": [], "networkInterfaces": [{"privateIpv4Address": "10.0.0.5"}]});
        let mappings =
            [json!({"containerPort": 80}), json!({"containerPort": 53, "protocol": "udp"})];
        assert_eq!(
            container_ports(&awsvpc, Some("10.0.0.5"), &mappings),
            ["10.0.0.5:80", "10.0.0.5:53/udp"]
        );
        assert_eq!(task_ip(&json!({"containers": [awsvpc]})), Some("10.0.0.5"));
        assert!(container_ports(&json!({}), None, &mappings).is_empty());
    }
}
