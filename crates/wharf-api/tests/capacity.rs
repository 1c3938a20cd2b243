//! Capacity providers through the front door, in process: RunTask by
//! capacity provider strategy (the request's, the cluster's default), the
//! Fargate pool (hosts hidden from ListContainerInstances, serving every
//! cluster), custom providers naming a group of hosts, and ECS's checks and
//! messages. No agent runs here; hosts register through `agent_link` as an
//! agent's would.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_model::ecs::capacity;
use wharf_model::ecs::shapes::RegisterContainerInstanceRequest;
use wharf_store::SqliteStore;

const REGION: &str = "us-east-1";

struct Server {
    router: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wharf.db")).unwrap();
    let state = AppState::new(
        Arc::new(store),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        Arc::new(FakeClock::at(1_700_000_000_000)),
        "123456789012",
    );
    Server { router: wharf_api::router(state.clone()), state, _dir: dir }
}

async fn call(s: &Server, op: &str, body: Value) -> (u16, Value) {
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AmazonEC2ContainerServiceV20141113.{op}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn ok(s: &Server, op: &str, body: Value) -> Value {
    let (status, answer) = call(s, op, body).await;
    assert_eq!(status, 200, "{op}: {answer}");
    answer
}

/// The error type and message of a refused call.
async fn refused(s: &Server, op: &str, body: Value) -> (String, String) {
    let (status, answer) = call(s, op, body).await;
    assert_eq!(status, 400, "{op} should be refused: {answer}");
    (answer["__type"].as_str().unwrap().to_owned(), answer["message"].as_str().unwrap().to_owned())
}

/// Registers a host as an agent would: in `cluster` (the Fargate pool's
/// name for a Fargate-only host) with `attributes`; its instance ID.
async fn host(s: &Server, cluster: &str, cpu: i64, attributes: Value) -> String {
    let req: RegisterContainerInstanceRequest = serde_json::from_value(json!({
        "cluster": cluster,
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 16384}
        ],
        "attributes": attributes,
    }))
    .unwrap();
    let ci = wharf_api::agent_link::register(&s.state, REGION, req).await.unwrap();
    ci.container_instance_arn.unwrap().rsplit('/').next().unwrap().to_owned()
}

/// A host of the pool, with the capabilities an agent reports that a
/// Fargate task definition requires.
fn fargate_attr() -> Value {
    json!([
        {"name": capacity::FARGATE_ATTRIBUTE, "value": "true"},
        {"name": "ecs.capability.task-eni"},
        {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}
    ])
}

async fn fargate_definition(s: &Server) {
    ok(
        s,
        "RegisterTaskDefinition",
        json!({
            "family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{"name": "app", "image": "busybox"}]
        }),
    )
    .await;
}

/// An awsvpcConfiguration naming the region's first default subnet (the
/// default VPC is made on first use).
async fn network_of(s: &Server) -> Value {
    let zones = wharf_model::ec2::zones::of_region(REGION, &[]);
    let network = wharf_ops::network::read(s.state.ops.region(REGION), &zones).await.unwrap();
    let mut subnets: Vec<_> = network.subnets.values().filter(|s| s.default_for_az).collect();
    subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    json!({"awsvpcConfiguration": {"subnets": [subnets[0].id.clone()]}})
}

fn providers_of(tasks: &Value) -> (usize, usize) {
    let all = tasks.as_array().unwrap();
    let on = |p: &str| all.iter().filter(|t| t["capacityProviderName"] == p).count();
    (on("FARGATE"), on("FARGATE_SPOT"))
}

#[tokio::test]
async fn the_default_strategy_splits_fargate_tasks_by_base_and_weight() {
    let s = server();
    let net = network_of(&s).await;
    let network = || net.clone();
    let pool = host(&s, capacity::FARGATE_POOL, 64 * 1024, fargate_attr()).await;
    ok(
        &s,
        "CreateCluster",
        json!({
            "clusterName": "prod",
            "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
            "defaultCapacityProviderStrategy": [
                {"capacityProvider": "FARGATE", "base": 2, "weight": 1},
                {"capacityProvider": "FARGATE_SPOT", "weight": 3}
            ]
        }),
    )
    .await;
    fargate_definition(&s).await;
    let run = ok(
        &s,
        "RunTask",
        json!({"cluster": "prod", "taskDefinition": "web", "count": 10,
               "networkConfiguration": network()}),
    )
    .await;
    assert_eq!(run["failures"], json!([]));
    assert_eq!(providers_of(&run["tasks"]), (4, 6), "base 2, then 1:3");
    let t = &run["tasks"][0];
    assert_eq!(t["launchType"], "FARGATE");
    assert_eq!(t["platformVersion"], "1.4.0");
    assert_eq!(t["platformFamily"], "Linux");
    assert!(t.get("containerInstanceArn").is_none(), "Fargate tasks name no instance: {t}");
    assert_eq!((t["cpu"].as_str(), t["memory"].as_str()), (Some("256"), Some("512")));
    // Described the same way; the pool host runs them all.
    let arns: Vec<Value> =
        run["tasks"].as_array().unwrap().iter().map(|t| t["taskArn"].clone()).collect();
    let described = ok(&s, "DescribeTasks", json!({"cluster": "prod", "tasks": arns})).await;
    assert_eq!(providers_of(&described["tasks"]), (4, 6));
    let on_pool = wharf_api::agent_link::assigned(&s.state, REGION, capacity::FARGATE_POOL, &pool)
        .await
        .unwrap();
    assert_eq!(on_pool.len(), 10);
    assert!(on_pool.iter().all(|a| a.cluster == "prod"));
    // The pool's host is no cluster's instance.
    let listed = ok(&s, "ListContainerInstances", json!({"cluster": "prod"})).await;
    assert_eq!(listed["containerInstanceArns"], json!([]));
    let (kind, _) =
        refused(&s, "ListContainerInstances", json!({"cluster": capacity::FARGATE_POOL})).await;
    assert_eq!(kind, "ClusterNotFoundException");
}

#[tokio::test]
async fn runtask_takes_a_strategy_and_an_instance_may_serve_the_pool_too() {
    let s = server();
    let net = network_of(&s).await;
    let network = || net.clone();
    // The embedded agent's way: an instance of `default` that also serves the pool.
    let embedded = host(&s, "default", 2048, fargate_attr()).await;
    ok(&s, "CreateCluster", json!({"clusterName": "dev"})).await;
    ok(
        &s,
        "PutClusterCapacityProviders",
        json!({"cluster": "dev", "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
               "defaultCapacityProviderStrategy": []}),
    )
    .await;
    fargate_definition(&s).await;
    let run = ok(
        &s,
        "RunTask",
        json!({"cluster": "dev", "taskDefinition": "web", "count": 3,
               "networkConfiguration": network(),
               "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
    )
    .await;
    assert_eq!(providers_of(&run["tasks"]), (0, 3), "{run}");
    // It holds their size: 3 x 256 of its 2,048 CPU units.
    let d = ok(&s, "DescribeContainerInstances", json!({"containerInstances": [embedded]})).await;
    let remaining = &d["containerInstances"][0]["remainingResources"];
    let cpu = remaining.as_array().unwrap().iter().find(|r| r["name"] == "CPU").unwrap();
    assert_eq!(cpu["integerValue"], 2048 - 3 * 256);
    // By launch type: FARGATE names no provider.
    let run = ok(
        &s,
        "RunTask",
        json!({"cluster": "dev", "taskDefinition": "web", "launchType": "FARGATE",
               "networkConfiguration": network()}),
    )
    .await;
    assert_eq!(run["tasks"][0]["launchType"], "FARGATE");
    assert!(run["tasks"][0].get("capacityProviderName").is_none());
    // The pool full: ECS's failure, naming the provider, not the hidden host.
    let run = ok(
        &s,
        "RunTask",
        json!({"cluster": "dev", "taskDefinition": "web", "count": 10,
               "networkConfiguration": network(),
               "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}),
    )
    .await;
    assert_eq!(run["tasks"].as_array().unwrap().len(), 8 - 4, "room for 8, 4 taken");
    assert_eq!(
        run["failures"],
        json!([{"arn": "arn:aws:ecs:us-east-1:123456789012:capacity-provider/FARGATE",
                "reason": capacity::CAPACITY_UNAVAILABLE}])
    );
}

#[tokio::test]
async fn strategies_and_fargate_launches_are_checked_as_ecs_checks_them() {
    let s = server();
    let net = network_of(&s).await;
    let network = || net.clone();
    host(&s, capacity::FARGATE_POOL, 8192, fargate_attr()).await;
    ok(&s, "CreateCluster", json!({"clusterName": "dev", "capacityProviders": ["FARGATE"]})).await;
    fargate_definition(&s).await;
    ok(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "bridge", "containerDefinitions": [
            {"name": "app", "image": "busybox", "memory": 64}]}),
    )
    .await;
    let run = |extra: Value| {
        let mut body = json!({"cluster": "dev", "taskDefinition": "web",
                              "networkConfiguration": network()});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let fargate = json!([{"capacityProvider": "FARGATE", "weight": 1}]);
    let cases = [
        (
            run(json!({"launchType": "FARGATE", "capacityProviderStrategy": fargate})),
            "InvalidParameterException",
            "Specifying both a launch type and capacity provider strategy is not supported.",
        ),
        (
            run(
                json!({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
            ),
            "InvalidParameterException",
            "not associated with the cluster",
        ),
        (
            run(json!({"launchType": "FARGATE", "platformVersion": "1.9.9"})),
            "PlatformUnknownException",
            "The specified platform does not exist.",
        ),
        (
            run(json!({"launchType": "EC2", "platformVersion": "1.4.0"})),
            "InvalidParameterException",
            "The platform version must be null when specifying an EC2 launch type.",
        ),
        (
            json!({"cluster": "dev", "taskDefinition": "bridge", "capacityProviderStrategy": fargate}),
            "InvalidParameterException",
            "Task definition does not support launch_type FARGATE.",
        ),
        (
            run(json!({"launchType": "FARGATE", "overrides": {"cpu": "256", "memory": "4096"}})),
            "ClientException",
            "No Fargate configuration exists for given values: 256 CPU, 4096 memory.",
        ),
    ];
    for (body, kind, message) in cases {
        let (k, m) = refused(&s, "RunTask", body.clone()).await;
        assert_eq!(k, kind, "{body}: {m}");
        assert!(m.contains(message), "{body}: {m}");
    }
    // A valid override resizes the task, as Fargate runs it.
    let ok_run = ok(
        &s,
        "RunTask",
        run(json!({"launchType": "FARGATE", "overrides": {"cpu": "512", "memory": "1024"}})),
    )
    .await;
    assert_eq!(ok_run["tasks"][0]["cpu"], "512", "{ok_run}");
    assert_eq!(ok_run["tasks"][0]["memory"], "1024");
}

#[tokio::test]
async fn a_custom_provider_places_on_its_group_of_the_cluster() {
    let s = server();
    let group = |g: &str| json!([{"name": capacity::GROUP_ATTRIBUTE, "value": g}]);
    let member = host(&s, "prod", 1024, group("web-asg")).await;
    let other = host(&s, "prod", 4096, json!([])).await;
    ok(
        &s,
        "CreateCapacityProvider",
        json!({"name": "web", "autoScalingGroupProvider": {"autoScalingGroupArn":
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1a2b:autoScalingGroupName/web-asg"}}),
    )
    .await;
    ok(
        &s,
        "PutClusterCapacityProviders",
        json!({"cluster": "prod", "capacityProviders": ["web", "FARGATE"],
               "defaultCapacityProviderStrategy": [{"capacityProvider": "web", "weight": 1}]}),
    )
    .await;
    ok(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "api", "containerDefinitions": [
            {"name": "app", "image": "busybox", "cpu": 256, "memory": 64}]}),
    )
    .await;
    let run =
        ok(&s, "RunTask", json!({"cluster": "prod", "taskDefinition": "api", "count": 6})).await;
    let tasks = run["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 4, "the group's one host takes four of 256 units");
    for t in tasks {
        assert_eq!(t["capacityProviderName"], "web");
        assert_eq!(t["launchType"], "EC2");
        assert!(t["containerInstanceArn"].as_str().unwrap().ends_with(&member));
    }
    assert_eq!(run["failures"][0]["reason"], "RESOURCE:CPU");
    // An EC2 launch type takes any instance of the cluster.
    let run =
        ok(&s, "RunTask", json!({"cluster": "prod", "taskDefinition": "api", "launchType": "EC2"}))
            .await;
    assert!(run["tasks"][0]["containerInstanceArn"].as_str().unwrap().ends_with(&other));
    assert!(run["tasks"][0].get("capacityProviderName").is_none());
    // A strategy cannot mix groups and Fargate.
    let (_, m) = refused(
        &s,
        "RunTask",
        json!({"cluster": "prod", "taskDefinition": "api", "capacityProviderStrategy": [
            {"capacityProvider": "web", "weight": 1}, {"capacityProvider": "FARGATE", "weight": 1}]}),
    )
    .await;
    assert!(m.contains("cannot contain a mix of capacity providers"), "{m}");
}

#[tokio::test]
async fn a_spot_interruption_stops_fargate_spot_tasks_only() {
    let s = server();
    let net = network_of(&s).await;
    let network = || net.clone();
    host(&s, capacity::FARGATE_POOL, 8192, fargate_attr()).await;
    ok(
        &s,
        "CreateCluster",
        json!({"clusterName": "dev", "capacityProviders": ["FARGATE", "FARGATE_SPOT"]}),
    )
    .await;
    fargate_definition(&s).await;
    let run = ok(
        &s,
        "RunTask",
        json!({"cluster": "dev", "taskDefinition": "web", "count": 2,
               "networkConfiguration": network(),
               "capacityProviderStrategy": [
                   {"capacityProvider": "FARGATE", "weight": 1},
                   {"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
    )
    .await;
    let arn_on = |p: &str| {
        run["tasks"].as_array().unwrap().iter().find(|t| t["capacityProviderName"] == p).unwrap()
            ["taskArn"]
            .clone()
    };
    let (on_demand, spot) = (arn_on("FARGATE"), arn_on("FARGATE_SPOT"));
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Wharf_20250101.InterruptSpotTasks")
        .body(Body::from(json!({"cluster": "dev", "tasks": [spot, on_demand, "nope"]}).to_string()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    let t = &answer["tasks"][0];
    assert_eq!(t["taskArn"], spot);
    assert_eq!(t["desiredStatus"], "STOPPED");
    assert_eq!(t["stopCode"], "SpotInterruption");
    assert_eq!(t["stoppedReason"], "Your Spot Task was interrupted.");
    let failures = answer["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2);
    assert!(failures[0]["reason"].as_str().unwrap().contains("FARGATE_SPOT"));
    assert_eq!(failures[1]["reason"], "MISSING");
    let d = ok(&s, "DescribeTasks", json!({"cluster": "dev", "tasks": [on_demand]})).await;
    assert_eq!(d["tasks"][0]["desiredStatus"], "RUNNING", "the on-demand task runs on");
}

#[tokio::test]
async fn a_custom_provider_reads_back_with_ecs_defaults() {
    let s = server();
    let created = ok(
        &s,
        "CreateCapacityProvider",
        json!({"name": "web", "autoScalingGroupProvider": {"autoScalingGroupArn": "web-asg"}}),
    )
    .await;
    let asg = &created["capacityProvider"]["autoScalingGroupProvider"];
    assert_eq!(
        asg["managedScaling"],
        json!({"status": "DISABLED", "targetCapacity": 100, "minimumScalingStepSize": 1,
               "maximumScalingStepSize": 10000, "instanceWarmupPeriod": 300})
    );
    assert_eq!(asg["managedTerminationProtection"], "DISABLED");
    assert_eq!(asg["managedDraining"], "ENABLED");
    let updated = ok(
        &s,
        "UpdateCapacityProvider",
        json!({"name": "web", "autoScalingGroupProvider": {
            "managedScaling": {"status": "ENABLED", "targetCapacity": 80},
            "managedTerminationProtection": "ENABLED"}}),
    )
    .await;
    let p = &updated["capacityProvider"];
    assert_eq!(p["updateStatus"], "UPDATE_COMPLETE");
    let m = &p["autoScalingGroupProvider"]["managedScaling"];
    assert_eq!((m["status"].as_str(), m["targetCapacity"].as_i64()), (Some("ENABLED"), Some(80)));
    assert_eq!(m["maximumScalingStepSize"], 10000, "what the update did not name stays");
    let described =
        ok(&s, "DescribeCapacityProviders", json!({"capacityProviders": ["web"]})).await;
    assert_eq!(described["capacityProviders"][0], *p);
    let (_, m) = refused(
        &s,
        "UpdateCapacityProvider",
        json!({"name": "web", "autoScalingGroupProvider": {"managedScaling": {"targetCapacity": 101}}}),
    )
    .await;
    assert!(m.contains("targetCapacity must be between 1 and 100"), "{m}");
    let (_, m) = refused(
        &s,
        "CreateCapacityProvider",
        json!({"name": "other", "autoScalingGroupProvider": {"autoScalingGroupArn": "other-asg",
               "managedTerminationProtection": "ENABLED"}}),
    )
    .await;
    assert!(m.contains("managed scaling must be enabled"), "{m}");
}
