//! `wharf describe ARN|NAME`: works out what the argument names — a task
//! (ARN, id or the short id `wharf ps` shows), a service, a task definition
//! (`family[:rev]` or ARN), a cluster, a container instance, a load
//! balancer or a target group — and prints a readable summary of it. A
//! plain name is tried in that order, so a service shadows a task
//! definition family of the same name (`family:rev` names the latter);
//! `--json` prints the API's objects instead, under the name of what was
//! found (`{"task": {...}}`, `{"service": {...}, "targetHealth": {...}}`).

use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::connection::{block_on, ConnectionArgs};
use super::ps::{container_ports, status, task_ip};
use crate::api_client::{ApiClient, Service};
use crate::ecs_reads::{
    describe_tasks, failure_text, family_revision, short_name, task_definition, task_matches,
};
use crate::table::{age, emit, fields, now_seconds, utc, Cell, Colour, Paint, Table};

/// How many of a service's events are shown.
const EVENTS_SHOWN: usize = 5;

/// Options of `wharf describe`.
#[derive(Debug, clap::Args)]
pub struct DescribeArgs {
    /// What to describe: an ARN, a task id, a service, `family[:rev]`, a cluster, ...
    what: String,
    /// Print the API's objects (a JSON object), nothing else.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// What the argument turned out to be, as the API describes it.
#[derive(Debug)]
enum Found {
    Task(Value),
    Service { service: Value, target_health: Map<String, Value> },
    TaskDefinition(Value),
    Cluster(Value),
    ContainerInstance(Value),
    LoadBalancer { load_balancer: Value, listeners: Value },
    TargetGroup { target_group: Value, targets: Value },
}

/// Runs `wharf describe`.
pub fn run(args: DescribeArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let client = args.connection.client()?;
        let found = find(&client, &args.connection.cluster, &args.what).await?;
        if args.json {
            emit(&(serde_json::to_string_pretty(&as_json(found))? + "\n"));
            return Ok(ExitCode::SUCCESS);
        }
        let paint = Paint::stdout();
        let text = match &found {
            Found::Task(t) => task_summary(&client, t, paint).await,
            Found::Service { service, target_health } => {
                service_summary(service, target_health, paint)
            }
            Found::TaskDefinition(td) => task_definition_summary(td, paint),
            Found::Cluster(c) => cluster_summary(c, paint),
            Found::ContainerInstance(ci) => container_instance_summary(ci, paint),
            Found::LoadBalancer { load_balancer, listeners } => {
                load_balancer_summary(load_balancer, listeners, paint)
            }
            Found::TargetGroup { target_group, targets } => {
                target_group_summary(target_group, targets, paint)
            }
        };
        emit(&text);
        Ok(ExitCode::SUCCESS)
    })
}

fn as_json(found: Found) -> Value {
    match found {
        Found::Task(t) => json!({"task": t}),
        Found::Service { service, target_health } => {
            json!({"service": service, "targetHealth": target_health})
        }
        Found::TaskDefinition(td) => json!({"taskDefinition": td}),
        Found::Cluster(c) => json!({"cluster": c}),
        Found::ContainerInstance(ci) => json!({"containerInstance": ci}),
        Found::LoadBalancer { load_balancer, listeners } => {
            json!({"loadBalancer": load_balancer, "listeners": listeners})
        }
        Found::TargetGroup { target_group, targets } => {
            json!({"targetGroup": target_group, "targetHealthDescriptions": targets})
        }
    }
}

/// Whether an error only says "this is not one of those" (so the next kind
/// of thing is tried), rather than that the server could not be asked.
fn not_this_kind(e: &anyhow::Error) -> bool {
    let text = e.root_cause().to_string();
    [
        "ClusterNotFoundException",
        "InvalidParameterException",
        "ClientException",
        "ServiceNotFoundException",
        "LoadBalancerNotFound",
        "TargetGroupNotFound",
        "ValidationError",
    ]
    .iter()
    .any(|kind| text.starts_with(kind))
}

/// `Ok(None)` for an error that only means "not this kind".
fn absent(result: anyhow::Result<Option<Value>>) -> anyhow::Result<Option<Value>> {
    match result {
        Err(e) if not_this_kind(&e) => Ok(None),
        other => other,
    }
}

/// Finds what `what` names, trying each kind of thing in turn.
async fn find(client: &ApiClient, cluster: &str, what: &str) -> anyhow::Result<Found> {
    if let Some(rest) = what.strip_prefix("arn:") {
        return find_arn(client, cluster, what, rest).await;
    }
    if what.contains(':') {
        super::diff::check_reference(what)?;
        return Ok(Found::TaskDefinition(task_definition(client, what).await?));
    }
    let tasks = task_matches(client, cluster, what).await?;
    match tasks.len() {
        0 => {}
        1 => return task(client, cluster, &tasks[0]).await,
        n => bail!(
            "{n} tasks in cluster {cluster} have an id starting with {what:?}: give more of it"
        ),
    }
    if let Some(s) = absent(service(client, cluster, what).await)? {
        return Ok(with_target_health(client, s).await);
    }
    if let Some(td) = absent(task_definition(client, what).await.map(Some))? {
        return Ok(Found::TaskDefinition(td));
    }
    if let Some(c) = absent(one_cluster(client, what).await)? {
        return Ok(Found::Cluster(c));
    }
    if let Some(ci) = absent(container_instance(client, cluster, what).await)? {
        return Ok(Found::ContainerInstance(ci));
    }
    if let Some(found) = absent(load_balancer(client, &[("Names.member.1", what)]).await)? {
        return load_balancer_found(client, found).await;
    }
    if let Some(tg) = absent(target_group(client, &[("Names.member.1", what)]).await)? {
        return target_group_found(client, tg).await;
    }
    bail!(
        "nothing is called {what:?}: no task, service (in cluster {cluster}), task definition, \
         cluster, container instance, load balancer or target group"
    )
}

/// Finds what an ARN names, by its service and resource type.
async fn find_arn(
    client: &ApiClient,
    cluster: &str,
    arn: &str,
    rest: &str,
) -> anyhow::Result<Found> {
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let (service_name, resource) = match parts.as_slice() {
        [_, service, _, _, resource] => (*service, *resource),
        _ => bail!("{arn:?} is not an ARN (arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE)"),
    };
    let (kind, path) = resource.split_once('/').unwrap_or((resource, ""));
    // New-format ARNs name their cluster: task/CLUSTER/ID, service/CLUSTER/NAME.
    let in_cluster = match path.split_once('/') {
        Some((c, _)) => c.to_owned(),
        None => cluster.to_owned(),
    };
    let missing = || anyhow::anyhow!("{arn}: not found");
    match (service_name, kind) {
        ("ecs", "task") => task(client, &in_cluster, arn).await,
        ("ecs", "service") => {
            let s = service(client, &in_cluster, arn).await?.ok_or_else(missing)?;
            Ok(with_target_health(client, s).await)
        }
        ("ecs", "task-definition") => Ok(Found::TaskDefinition(task_definition(client, arn).await?)),
        ("ecs", "cluster") => {
            Ok(Found::Cluster(one_cluster(client, arn).await?.ok_or_else(missing)?))
        }
        ("ecs", "container-instance") => Ok(Found::ContainerInstance(
            container_instance(client, &in_cluster, arn).await?.ok_or_else(missing)?,
        )),
        ("elasticloadbalancing", "loadbalancer") => {
            let lb = load_balancer(client, &[("LoadBalancerArns.member.1", arn)]).await?;
            load_balancer_found(client, lb.ok_or_else(missing)?).await
        }
        ("elasticloadbalancing", "targetgroup") => {
            let tg = target_group(client, &[("TargetGroupArns.member.1", arn)]).await?;
            target_group_found(client, tg.ok_or_else(missing)?).await
        }
        _ => bail!("{arn:?}: wharf describe knows ECS tasks, services, task definitions, clusters and container instances, and ELBv2 load balancers and target groups"),
    }
}

async fn task(client: &ApiClient, cluster: &str, arn: &str) -> anyhow::Result<Found> {
    let (mut tasks, failures) = describe_tasks(client, cluster, &[arn.to_owned()]).await?;
    if let Some(f) = failures.first() {
        bail!("task {}", failure_text(f));
    }
    if tasks.is_empty() {
        bail!("task {arn}: not found in cluster {cluster}");
    }
    Ok(Found::Task(tasks.remove(0)))
}

/// The first object of a DescribeX answer's `field`, if any.
fn first(mut answer: Value, field: &str) -> Option<Value> {
    answer[field].as_array_mut().filter(|a| !a.is_empty()).map(|a| a.remove(0))
}

async fn service(client: &ApiClient, cluster: &str, name: &str) -> anyhow::Result<Option<Value>> {
    let input = json!({"cluster": cluster, "services": [name]});
    let answer: Value = client.call(Service::Ecs, "DescribeServices", &input).await?;
    Ok(first(answer, "services"))
}

async fn one_cluster(client: &ApiClient, name: &str) -> anyhow::Result<Option<Value>> {
    let input = json!({"clusters": [name], "include": ["STATISTICS"]});
    let answer: Value = client.call(Service::Ecs, "DescribeClusters", &input).await?;
    Ok(first(answer, "clusters"))
}

async fn container_instance(
    client: &ApiClient,
    cluster: &str,
    id: &str,
) -> anyhow::Result<Option<Value>> {
    let input = json!({"cluster": cluster, "containerInstances": [id]});
    let answer: Value = client.call(Service::Ecs, "DescribeContainerInstances", &input).await?;
    Ok(first(answer, "containerInstances"))
}

async fn load_balancer(client: &ApiClient, by: &[(&str, &str)]) -> anyhow::Result<Option<Value>> {
    let answer = client.query("DescribeLoadBalancers", by).await?;
    Ok(first(answer, "LoadBalancers"))
}

async fn target_group(client: &ApiClient, by: &[(&str, &str)]) -> anyhow::Result<Option<Value>> {
    let answer = client.query("DescribeTargetGroups", by).await?;
    Ok(first(answer, "TargetGroups"))
}

async fn target_health_of(client: &ApiClient, target_group_arn: &str) -> anyhow::Result<Value> {
    let answer =
        client.query("DescribeTargetHealth", &[("TargetGroupArn", target_group_arn)]).await?;
    Ok(match &answer["TargetHealthDescriptions"] {
        Value::Array(a) => Value::Array(a.clone()),
        _ => json!([]),
    })
}

/// A service with each of its target groups' target health (or the error
/// that kept it from being read, as a string).
async fn with_target_health(client: &ApiClient, service: Value) -> Found {
    let mut target_health = Map::new();
    let groups = service["loadBalancers"].as_array().into_iter().flatten();
    for arn in groups.filter_map(|lb| lb["targetGroupArn"].as_str()) {
        let health =
            target_health_of(client, arn).await.unwrap_or_else(|e| json!(format!("{e:#}")));
        target_health.insert(arn.to_owned(), health);
    }
    Found::Service { service, target_health }
}

async fn load_balancer_found(client: &ApiClient, lb: Value) -> anyhow::Result<Found> {
    let arn = lb["LoadBalancerArn"].as_str().context("a load balancer without an ARN")?;
    let answer = client.query("DescribeListeners", &[("LoadBalancerArn", arn)]).await?;
    let listeners = match &answer["Listeners"] {
        Value::Array(a) => Value::Array(a.clone()),
        _ => json!([]),
    };
    Ok(Found::LoadBalancer { load_balancer: lb, listeners })
}

async fn target_group_found(client: &ApiClient, tg: Value) -> anyhow::Result<Found> {
    let arn = tg["TargetGroupArn"].as_str().context("a target group without an ARN")?;
    let targets = target_health_of(client, arn).await?;
    Ok(Found::TargetGroup { target_group: tg, targets })
}

// --- summaries ---------------------------------------------------------------------------

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A time field as `2024-05-01 12:00:00 UTC (5m ago)`, or empty when absent.
fn when(v: &Value, now: f64) -> String {
    v.as_f64().map_or_else(String::new, |t| format!("{} ({} ago)", utc(t), age(now - t)))
}

fn heading(paint: Paint, title: &str) -> String {
    format!("\n{}\n", paint.paint(Some(Colour::Bold), title))
}

async fn task_summary(client: &ApiClient, t: &Value, paint: Paint) -> String {
    let now = now_seconds();
    let arn = text(&t["taskArn"]);
    let definition = text(&t["taskDefinitionArn"]);
    let mut out = fields(
        &[
            ("Task", format!("{} ({arn})", short_name(&arn))),
            ("Definition", family_revision(&definition).to_owned()),
            ("Status", status(t)),
            ("Health", text(&t["healthStatus"])),
            ("Group", text(&t["group"])),
            ("Started by", text(&t["startedBy"])),
            ("Launch type", text(&t["launchType"])),
            ("Instance", short_name(&text(&t["containerInstanceArn"])).to_owned()),
            ("Address", task_ip(t).unwrap_or_default().to_owned()),
            ("CPU / memory", cpu_memory(&t["cpu"], &t["memory"])),
            ("Created", when(&t["createdAt"], now)),
            ("Started", when(&t["startedAt"], now)),
            ("Stopping", when(&t["stoppingAt"], now)),
            ("Stopped", when(&t["stoppedAt"], now)),
            ("Stop code", text(&t["stopCode"])),
            ("Stopped reason", text(&t["stoppedReason"])),
        ],
        paint,
    );
    // awsvpc containers have no networkBindings: their ports are the definition's.
    let definition_ports = match task_ip(t) {
        Some(_) => task_definition(client, &definition).await.ok(),
        None => None,
    };
    let mut table = Table::new(&["CONTAINER", "STATUS", "EXIT", "HEALTH", "PORTS", "REASON"]);
    for c in t["containers"].as_array().into_iter().flatten() {
        let name = text(&c["name"]);
        let mappings: Vec<Value> = definition_ports
            .as_ref()
            .and_then(|td| td["containerDefinitions"].as_array())
            .and_then(|cs| cs.iter().find(|d| d["name"] == c["name"]))
            .and_then(|d| d["portMappings"].as_array().cloned())
            .unwrap_or_default();
        let exit = c["exitCode"].as_i64().map_or_else(|| "-".to_owned(), |n| n.to_string());
        let exit_colour = match c["exitCode"].as_i64() {
            Some(0) => Some(Colour::Green),
            Some(_) => Some(Colour::Red),
            None => None,
        };
        table.row(vec![
            name.into(),
            Cell::status(text(&c["lastStatus"])),
            Cell::coloured(exit, exit_colour),
            Cell::status(c["healthStatus"].as_str().unwrap_or("-")),
            container_ports(c, task_ip(t), &mappings).join(", ").into(),
            text(&c["reason"]).into(),
        ]);
    }
    out.push_str(&heading(paint, "Containers"));
    out.push_str(&table.render(paint));
    out
}

fn cpu_memory(cpu: &Value, memory: &Value) -> String {
    match (text(cpu), text(memory)) {
        (c, m) if c.is_empty() && m.is_empty() => String::new(),
        (c, m) => format!("{} / {}", or_dash(c), or_dash(m)),
    }
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".to_owned()
    } else {
        s
    }
}

fn service_summary(s: &Value, target_health: &Map<String, Value>, paint: Paint) -> String {
    let now = now_seconds();
    let counts = format!(
        "{} desired, {} running, {} pending",
        text(&s["desiredCount"]),
        text(&s["runningCount"]),
        text(&s["pendingCount"])
    );
    let mut out = fields(
        &[
            ("Service", format!("{} ({})", text(&s["serviceName"]), text(&s["serviceArn"]))),
            ("Cluster", short_name(&text(&s["clusterArn"])).to_owned()),
            ("Status", text(&s["status"])),
            ("Tasks", counts),
            ("Definition", family_revision(&text(&s["taskDefinition"])).to_owned()),
            ("Launch type", text(&s["launchType"])),
            ("Scheduling", text(&s["schedulingStrategy"])),
            ("Created", when(&s["createdAt"], now)),
        ],
        paint,
    );
    let mut deployments = Table::new(&[
        "DEPLOYMENT",
        "STATUS",
        "DEFINITION",
        "DESIRED",
        "RUNNING",
        "PENDING",
        "ROLLOUT",
        "UPDATED",
    ]);
    for d in s["deployments"].as_array().into_iter().flatten() {
        deployments.row(vec![
            text(&d["id"]).into(),
            Cell::status(text(&d["status"])),
            family_revision(&text(&d["taskDefinition"])).into(),
            text(&d["desiredCount"]).into(),
            text(&d["runningCount"]).into(),
            text(&d["pendingCount"]).into(),
            Cell::status(text(&d["rolloutState"])),
            d["updatedAt"].as_f64().map_or_else(String::new, |t| age(now - t) + " ago").into(),
        ]);
    }
    out.push_str(&heading(paint, "Deployments"));
    out.push_str(&deployments.render(paint));
    for lb in s["loadBalancers"].as_array().into_iter().flatten() {
        let arn = text(&lb["targetGroupArn"]);
        let title = format!(
            "Target group {} → {}:{}",
            short_name_of_target_group(&arn),
            text(&lb["containerName"]),
            text(&lb["containerPort"])
        );
        out.push_str(&heading(paint, &title));
        match target_health.get(&arn) {
            Some(Value::Array(targets)) => out.push_str(&targets_table(targets, paint)),
            Some(other) => out.push_str(&format!("target health unavailable: {}\n", text(other))),
            None => {}
        }
    }
    let events = s["events"].as_array().map_or(&[][..], Vec::as_slice);
    if !events.is_empty() {
        out.push_str(&heading(paint, "Events"));
        for e in events.iter().take(EVENTS_SHOWN) {
            let at = e["createdAt"].as_f64().map_or_else(String::new, utc);
            out.push_str(&format!("{at}  {}\n", text(&e["message"])));
        }
    }
    out
}

/// `name` of `arn:...:targetgroup/name/id`.
fn short_name_of_target_group(arn: &str) -> &str {
    arn.split_once(":targetgroup/").and_then(|(_, r)| r.split('/').next()).unwrap_or(arn)
}

fn targets_table(targets: &[Value], paint: Paint) -> String {
    if targets.is_empty() {
        return "no targets registered\n".to_owned();
    }
    let mut table = Table::new(&["TARGET", "PORT", "STATE", "REASON"]);
    for t in targets {
        let health = &t["TargetHealth"];
        let reason = match (text(&health["Reason"]), text(&health["Description"])) {
            (r, d) if d.is_empty() => r,
            (r, d) if r.is_empty() => d,
            (r, d) => format!("{r}: {d}"),
        };
        table.row(vec![
            text(&t["Target"]["Id"]).into(),
            text(&t["Target"]["Port"]).into(),
            Cell::status(text(&health["State"])),
            reason.into(),
        ]);
    }
    table.render(paint)
}

fn task_definition_summary(td: &Value, paint: Paint) -> String {
    let now = now_seconds();
    let arn = text(&td["taskDefinitionArn"]);
    let mut out = fields(
        &[
            ("Task definition", format!("{} ({arn})", family_revision(&arn))),
            ("Status", text(&td["status"])),
            ("Network mode", text(&td["networkMode"])),
            ("CPU / memory", cpu_memory(&td["cpu"], &td["memory"])),
            ("Requires", text(&td["requiresCompatibilities"])),
            ("Task role", text(&td["taskRoleArn"])),
            ("Execution role", text(&td["executionRoleArn"])),
            ("Volumes", {
                let volumes = td["volumes"].as_array().into_iter().flatten();
                volumes.map(|v| text(&v["name"])).collect::<Vec<_>>().join(", ")
            }),
            ("Registered", when(&td["registeredAt"], now)),
        ],
        paint,
    );
    let mut table =
        Table::new(&["CONTAINER", "IMAGE", "CPU", "MEMORY", "PORTS", "ESSENTIAL", "HEALTH CHECK"]);
    for c in td["containerDefinitions"].as_array().into_iter().flatten() {
        let memory = match (text(&c["memory"]), text(&c["memoryReservation"])) {
            (m, r) if r.is_empty() => or_dash(m),
            (m, r) if m.is_empty() => format!("{r} (soft)"),
            (m, r) => format!("{m} ({r} soft)"),
        };
        let ports: Vec<String> = c["portMappings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let container = text(&p["containerPort"]);
                let protocol = p["protocol"].as_str().unwrap_or("tcp");
                match p["hostPort"].as_i64() {
                    Some(host) if host != 0 && host.to_string() != container => {
                        format!("{host}->{container}/{protocol}")
                    }
                    _ => format!("{container}/{protocol}"),
                }
            })
            .collect();
        let health = if c["healthCheck"].is_object() { "yes" } else { "" };
        table.row(vec![
            text(&c["name"]).into(),
            text(&c["image"]).into(),
            or_dash(text(&c["cpu"])).into(),
            memory.into(),
            ports.join(", ").into(),
            text(&c["essential"]).into(),
            health.into(),
        ]);
    }
    out.push_str(&heading(paint, "Containers"));
    out.push_str(&table.render(paint));
    out
}

fn cluster_summary(c: &Value, paint: Paint) -> String {
    fields(
        &[
            ("Cluster", format!("{} ({})", text(&c["clusterName"]), text(&c["clusterArn"]))),
            ("Status", text(&c["status"])),
            ("Instances", text(&c["registeredContainerInstancesCount"])),
            ("Running tasks", text(&c["runningTasksCount"])),
            ("Pending tasks", text(&c["pendingTasksCount"])),
            ("Active services", text(&c["activeServicesCount"])),
            ("Capacity providers", text(&c["capacityProviders"])),
        ],
        paint,
    )
}

/// A resource list's `CPU`/`MEMORY`/`PORTS` as `CPU 1024, MEMORY 3800`.
fn resources(list: &Value) -> String {
    let items = list.as_array().into_iter().flatten();
    let shown = items.filter(|r| matches!(r["name"].as_str(), Some("CPU" | "MEMORY")));
    shown
        .map(|r| format!("{} {}", text(&r["name"]), text(&r["integerValue"])))
        .collect::<Vec<_>>()
        .join(", ")
}

fn container_instance_summary(ci: &Value, paint: Paint) -> String {
    let now = now_seconds();
    let arn = text(&ci["containerInstanceArn"]);
    fields(
        &[
            ("Container instance", format!("{} ({arn})", short_name(&arn))),
            ("EC2 instance", text(&ci["ec2InstanceId"])),
            ("Status", text(&ci["status"])),
            ("Agent connected", text(&ci["agentConnected"])),
            ("Running tasks", text(&ci["runningTasksCount"])),
            ("Pending tasks", text(&ci["pendingTasksCount"])),
            ("Registered", resources(&ci["registeredResources"])),
            ("Remaining", resources(&ci["remainingResources"])),
            ("Registered at", when(&ci["registeredAt"], now)),
        ],
        paint,
    )
}

fn load_balancer_summary(lb: &Value, listeners: &Value, paint: Paint) -> String {
    let mut out = fields(
        &[
            (
                "Load balancer",
                format!("{} ({})", text(&lb["LoadBalancerName"]), text(&lb["LoadBalancerArn"])),
            ),
            ("DNS name", text(&lb["DNSName"])),
            ("Type", text(&lb["Type"])),
            ("Scheme", text(&lb["Scheme"])),
            ("State", text(&lb["State"]["Code"])),
        ],
        paint,
    );
    let mut table = Table::new(&["PORT", "PROTOCOL", "DEFAULT ACTION"]);
    for l in listeners.as_array().into_iter().flatten() {
        let actions = l["DefaultActions"].as_array().into_iter().flatten();
        let action = actions
            .map(|a| match a["TargetGroupArn"].as_str() {
                Some(tg) => format!("{} {}", text(&a["Type"]), short_name_of_target_group(tg)),
                None => text(&a["Type"]),
            })
            .collect::<Vec<_>>()
            .join(", ");
        table.row(vec![text(&l["Port"]).into(), text(&l["Protocol"]).into(), action.into()]);
    }
    out.push_str(&heading(paint, "Listeners"));
    out.push_str(&table.render(paint));
    out
}

fn target_group_summary(tg: &Value, targets: &Value, paint: Paint) -> String {
    let mut out = fields(
        &[
            (
                "Target group",
                format!("{} ({})", text(&tg["TargetGroupName"]), text(&tg["TargetGroupArn"])),
            ),
            ("Protocol / port", format!("{} {}", text(&tg["Protocol"]), text(&tg["Port"]))),
            ("Target type", text(&tg["TargetType"])),
            (
                "Health check",
                format!("{} {}", text(&tg["HealthCheckProtocol"]), text(&tg["HealthCheckPath"])),
            ),
            ("Load balancers", text(&tg["LoadBalancerArns"])),
        ],
        paint,
    );
    out.push_str(&heading(paint, "Targets"));
    out.push_str(&targets_table(targets.as_array().map_or(&[][..], Vec::as_slice), paint));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_not_found_errors_move_on_to_the_next_kind() {
        assert!(not_this_kind(&anyhow::anyhow!("ClusterNotFoundException: Cluster not found.")));
        assert!(not_this_kind(&anyhow::anyhow!("TargetGroupNotFound: One or more ...")));
        assert!(!not_this_kind(&anyhow::anyhow!("cannot reach the Wharf server at http://x")));
    }

    #[test]
    fn target_group_names() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/web-tg/0123abcd";
        assert_eq!(short_name_of_target_group(arn), "web-tg");
    }
}
