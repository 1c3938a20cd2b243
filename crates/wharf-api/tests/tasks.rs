//! Container instances and tasks through the front door, in process: what
//! RunTask stores, how placement answers, StopTask, DescribeTasks and
//! ListTasks, and how agent reports change what they show. No agent runs
//! here; reports go through `agent_link` as the agent's would.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_store::SqliteStore;

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

/// One JSON-protocol call (`target` is `Prefix.Operation`): status and answer.
async fn call(s: &Server, target: &str, body: Value) -> (u16, Value) {
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let answer =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, answer)
}

async fn ecs(s: &Server, op: &str, body: Value) -> Value {
    call(s, &format!("AmazonEC2ContainerServiceV20141113.{op}"), body).await.1
}

fn resources(cpu: i64, memory: i64) -> Value {
    json!([
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory}
    ])
}

async fn setup(s: &Server, cpu: i64, memory: i64) -> String {
    ecs(s, "CreateCluster", json!({})).await;
    let ci = ecs(s, "RegisterContainerInstance", json!({"totalResources": resources(cpu, memory)}))
        .await;
    ecs(
        s,
        "RegisterTaskDefinition",
        json!({
            "family": "web",
            "containerDefinitions": [{
                "name": "app", "image": "busybox", "cpu": 256, "memory": 300,
                "portMappings": [{"containerPort": 80, "hostPort": 8080}]
            }]
        }),
    )
    .await;
    ci["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn run_task_needs_an_instance() {
    let s = server();
    ecs(&s, "CreateCluster", json!({})).await;
    ecs(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "x", "containerDefinitions": [{"name": "a", "image": "b", "memory": 10}]}),
    )
    .await;
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "x"})).await;
    assert_eq!(r["__type"], "InvalidParameterException");
    assert_eq!(r["message"], "No Container Instances were found in your cluster.");
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "nope"})).await;
    assert_eq!(
        (r["__type"].as_str(), r["message"].as_str()),
        (Some("ClientException"), Some("TaskDefinition not found."))
    );
    let r = ecs(&s, "RunTask", json!({"cluster": "other", "taskDefinition": "x"})).await;
    assert_eq!(r["__type"], "ClusterNotFoundException");
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "x", "count": 11})).await;
    assert_eq!(r["__type"], "InvalidParameterException");
    let r = ecs(
        &s,
        "RunTask",
        json!({"taskDefinition": "x",
        "placementStrategy": [{"type": "binpack", "field": "disk"}]}),
    )
    .await;
    assert_eq!(r["__type"], "InvalidParameterException");
    assert!(r["message"].as_str().unwrap().contains("binpack (cpu or memory)"));
    let r = ecs(
        &s,
        "RunTask",
        json!({"taskDefinition": "x",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type ="}]}),
    )
    .await;
    assert_eq!(r["__type"], "InvalidParameterException");
    assert!(
        r["message"].as_str().unwrap().starts_with("placementConstraints.expression is invalid"),
        "checked before anything else: {r}"
    );
}

#[tokio::test]
async fn run_task_stores_pending_work_and_places_by_resources() {
    let s = server();
    let ci = setup(&s, 1024, 1000).await;
    let r = ecs(
        &s,
        "RunTask",
        json!({"taskDefinition": "web", "startedBy": "ci", "tags": [{"key": "k", "value": "v"}]}),
    )
    .await;
    let t = &r["tasks"][0];
    assert_eq!(t["lastStatus"], "PROVISIONING");
    assert_eq!(t["desiredStatus"], "RUNNING");
    assert_eq!(t["containerInstanceArn"], ci.as_str());
    assert_eq!(t["group"], "family:web");
    assert_eq!(t["launchType"], "EC2");
    assert_eq!(t["cpu"], "256");
    assert_eq!(t["memory"], "300");
    assert_eq!(t["containers"][0]["lastStatus"], "PENDING");
    assert_eq!(
        t["overrides"],
        json!({"containerOverrides": [], "inferenceAcceleratorOverrides": []})
    );
    assert!(t["taskArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:ecs:us-east-1:123456789012:task/default/"));
    assert_eq!(r["failures"], json!([]));

    // The static host port 8080 is now taken: a second copy cannot fit.
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "web"})).await;
    assert_eq!(r["tasks"], json!([]));
    assert_eq!(r["failures"], json!([{"arn": ci, "reason": "RESOURCE:PORTS"}]));

    // Memory: 1000 - 300 = 700 left; a task of 800 MiB does not fit.
    let r = ecs(
        &s,
        "RunTask",
        json!({
            "taskDefinition": "web",
            "overrides": {"memory": "800", "containerOverrides": [{"name": "app"}]}
        }),
    )
    .await;
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:MEMORY", "task-level override counts");
    ecs(&s, "RegisterTaskDefinition", json!({"family": "big", "containerDefinitions": [{"name": "a", "image": "b", "memory": 800}]})).await;
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "big"})).await;
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:MEMORY");
    ecs(&s, "RegisterTaskDefinition", json!({"family": "cpu", "containerDefinitions": [{"name": "a", "image": "b", "memory": 10, "cpu": 900}]})).await;
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "cpu"})).await;
    assert_eq!(r["failures"][0]["reason"], "RESOURCE:CPU");

    // This instance registered no attributes: a task that requires one cannot go there.
    ecs(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "hc", "containerDefinitions": [{
            "name": "a", "image": "b", "memory": 10,
            "healthCheck": {"command": ["CMD-SHELL", "true"]}
        }]}),
    )
    .await;
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "hc"})).await;
    assert_eq!(r["failures"][0]["reason"], "ATTRIBUTE");
    assert!(r["failures"][0]["detail"].as_str().unwrap().contains("requires the attribute"));

    let d = ecs(&s, "DescribeContainerInstances", json!({"containerInstances": [ci]})).await;
    let i = &d["containerInstances"][0];
    assert_eq!(i["pendingTasksCount"], 1);
    let remaining = &i["remainingResources"];
    assert_eq!(remaining[0]["integerValue"], 768);
    assert_eq!(remaining[1]["integerValue"], 700);
    assert!(remaining[2]["stringSetValue"].as_array().unwrap().contains(&json!("8080")));
    let c = ecs(&s, "DescribeClusters", json!({})).await;
    assert_eq!(c["clusters"][0]["pendingTasksCount"], 1);
    assert_eq!(c["clusters"][0]["registeredContainerInstancesCount"], 1);
}

#[tokio::test]
async fn reports_and_stop_task_move_the_task_along() {
    let s = server();
    setup(&s, 2048, 4000).await;
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "web:1", "startedBy": "me"})).await;
    let arn = r["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    let id = arn.rsplit('/').next().unwrap().to_owned();

    let listed = ecs(&s, "ListTasks", json!({"startedBy": "me"})).await;
    assert_eq!(listed["taskArns"], json!([arn]));
    assert_eq!(ecs(&s, "ListTasks", json!({"family": "other"})).await["taskArns"], json!([]));
    assert_eq!(
        ecs(&s, "ListTasks", json!({"desiredStatus": "STOPPED"})).await["taskArns"],
        json!([])
    );

    let change = serde_json::from_value(json!({
        "taskArn": arn, "lastStatus": "RUNNING", "startedAt": 1_700_000_001.0,
        "containers": [{"name": "app", "lastStatus": "RUNNING", "runtimeId": "abc",
                        "networkBindings": [{"containerPort": 80, "hostPort": 8080, "bindIP": "0.0.0.0", "protocol": "tcp"}]}]
    }))
    .unwrap();
    wharf_api::agent_link::report(&s.state, "us-east-1", "default", change).await.unwrap();
    let d = ecs(&s, "DescribeTasks", json!({"tasks": [id]})).await;
    let t = &d["tasks"][0];
    assert_eq!(t["lastStatus"], "RUNNING");
    assert_eq!(t["version"], 2);
    assert_eq!(t["containers"][0]["networkBindings"][0]["hostPort"], 8080);
    assert_eq!(ecs(&s, "DescribeClusters", json!({})).await["clusters"][0]["runningTasksCount"], 1);

    let stopped = ecs(&s, "StopTask", json!({"task": arn, "reason": "done here"})).await;
    assert_eq!(stopped["task"]["desiredStatus"], "STOPPED");
    assert_eq!(stopped["task"]["stopCode"], "UserInitiated");
    assert_eq!(stopped["task"]["stoppedReason"], "done here");
    assert_eq!(
        ecs(&s, "ListTasks", json!({"desiredStatus": "STOPPED"})).await["taskArns"],
        json!([arn])
    );

    let change = serde_json::from_value(json!({
        "taskArn": arn, "lastStatus": "STOPPED", "stoppedAt": 1_700_000_009.0,
        "stopCode": "EssentialContainerExited",
        "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 143}]
    }))
    .unwrap();
    wharf_api::agent_link::report(&s.state, "us-east-1", "default", change).await.unwrap();
    let t = &ecs(&s, "DescribeTasks", json!({"tasks": [arn]})).await["tasks"][0];
    assert_eq!(t["lastStatus"], "STOPPED");
    assert_eq!(t["stopCode"], "UserInitiated", "the first stop reason is kept");
    assert_eq!(t["containers"][0]["exitCode"], 143);

    // Its resources are free again: the same static port can be taken.
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "web"})).await;
    assert_eq!(r["failures"], json!([]));

    let missing = ecs(&s, "DescribeTasks", json!({"tasks": ["0123"]})).await;
    assert_eq!(missing["failures"][0]["reason"], "MISSING");
    let r = ecs(&s, "StopTask", json!({"task": "0123"})).await;
    assert_eq!(r["__type"], "InvalidParameterException");
}

#[tokio::test]
async fn instances_drain_deregister_and_list() {
    let s = server();
    let ci = setup(&s, 1024, 1000).await;
    let l = ecs(&s, "ListContainerInstances", json!({})).await;
    assert_eq!(l["containerInstanceArns"], json!([ci]));
    let u = ecs(
        &s,
        "UpdateContainerInstancesState",
        json!({"containerInstances": [ci], "status": "DRAINING"}),
    )
    .await;
    assert_eq!(u["containerInstances"][0]["status"], "DRAINING");
    let r = ecs(&s, "RunTask", json!({"taskDefinition": "web"})).await;
    assert_eq!(r["failures"][0]["reason"], "AGENT");
    assert_eq!(
        ecs(&s, "ListContainerInstances", json!({"status": "DRAINING"})).await
            ["containerInstanceArns"],
        json!([ci])
    );
    let bad = ecs(
        &s,
        "UpdateContainerInstancesState",
        json!({"containerInstances": [ci], "status": "INACTIVE"}),
    )
    .await;
    assert_eq!(bad["__type"], "InvalidParameterException");
    let d = ecs(&s, "DeregisterContainerInstance", json!({"containerInstance": ci})).await;
    assert_eq!(d["containerInstance"]["status"], "INACTIVE");
    assert_eq!(
        ecs(&s, "ListContainerInstances", json!({})).await["containerInstanceArns"],
        json!([])
    );
    // Deregistered, the cluster can be deleted.
    let del = ecs(&s, "DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(del["cluster"]["status"], "INACTIVE");
}

/// A container that logs without a `mode` gets the account's
/// `defaultLogDriverMode` when its task is handed to the agent, as the ECS
/// backend renders it; one that names its mode keeps it.
#[tokio::test]
async fn assignments_carry_the_accounts_default_log_driver_mode() {
    let s = server();
    ecs(&s, "CreateCluster", json!({})).await;
    // What an agent registers: awslogs, and the Docker API versions it speaks.
    let mut attributes =
        vec![json!({"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"})];
    for minor in 17..=44 {
        attributes.push(
            json!({"name": format!("com.amazonaws.ecs.capability.docker-remote-api.1.{minor}")}),
        );
    }
    let ci = ecs(
        &s,
        "RegisterContainerInstance",
        json!({"totalResources": resources(1024, 1024), "attributes": attributes}),
    )
    .await;
    let ci = ci["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_owned();
    let awslogs = |mode: Option<&str>| {
        let mut options = json!({"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"});
        if let Some(m) = mode {
            options["mode"] = json!(m);
        }
        json!({"logDriver": "awslogs", "options": options})
    };
    ecs(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "logs", "containerDefinitions": [
            {"name": "plain", "image": "busybox", "memory": 32, "logConfiguration": awslogs(None)},
            {"name": "named", "image": "busybox", "memory": 32, "logConfiguration": awslogs(Some("blocking"))},
            {"name": "none", "image": "busybox", "memory": 32, "essential": false}
        ]}),
    )
    .await;
    let run = ecs(&s, "RunTask", json!({"taskDefinition": "logs"})).await;
    assert_eq!(run["failures"], json!([]), "{run}");
    let instance_id = ci.rsplit('/').next().unwrap();
    let mode = |a: &wharf_api::agent_link::Assignment, name: &str| {
        let c = a.definition.container_definitions.as_ref().unwrap();
        let c = c.iter().find(|c| c.name.as_deref() == Some(name)).unwrap();
        c.log_configuration.as_ref().and_then(|l| l.options.as_ref()?.get("mode").cloned())
    };
    let assigned = wharf_api::agent_link::assigned(&s.state, "us-east-1", "default", instance_id)
        .await
        .unwrap();
    assert_eq!(mode(&assigned[0], "plain").as_deref(), Some("non-blocking"), "AWS's default");
    assert_eq!(mode(&assigned[0], "named").as_deref(), Some("blocking"));
    assert_eq!(mode(&assigned[0], "none"), None);

    ecs(
        &s,
        "PutAccountSettingDefault",
        json!({"name": "defaultLogDriverMode", "value": "blocking"}),
    )
    .await;
    let assigned = wharf_api::agent_link::assigned(&s.state, "us-east-1", "default", instance_id)
        .await
        .unwrap();
    assert_eq!(mode(&assigned[0], "plain").as_deref(), Some("blocking"), "the account's default");
}

#[tokio::test]
async fn member_of_places_on_the_instances_its_expression_selects() {
    let s = server();
    ecs(&s, "CreateCluster", json!({})).await;
    let register = |attributes: Value| {
        let s = &s;
        async move {
            let ci = ecs(
                s,
                "RegisterContainerInstance",
                json!({"totalResources": resources(4096, 4096), "attributes": attributes}),
            )
            .await;
            ci["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_owned()
        }
    };
    let prod = register(json!([{"name": "stack", "value": "prod"}])).await;
    let dev = register(json!([{"name": "stack", "value": "dev"}])).await;
    ecs(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "app", "containerDefinitions": [{"name": "a", "image": "b", "memory": 10}]}),
    )
    .await;
    let run = |body: Value| ecs(&s, "RunTask", body);

    let r = run(json!({
        "taskDefinition": "app", "count": 3,
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == prod"}]
    }))
    .await;
    let on: Vec<&str> = r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["containerInstanceArn"].as_str().unwrap())
        .collect();
    assert_eq!(on, vec![prod.as_str(); 3], "{r}");
    assert_eq!(r["failures"], json!([]));

    // No instance is a member: each says why, with ECS's reason.
    let r = run(json!({
        "taskDefinition": "app",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == qa or attribute:stack !exists"}]
    }))
    .await;
    assert_eq!(r["tasks"], json!([]));
    let failures = r["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{r}");
    for f in failures {
        assert_eq!(f["reason"], "MemberOf placement constraint unsatisfied.");
        assert!([prod.as_str(), dev.as_str()].contains(&f["arn"].as_str().unwrap()));
    }

    // task:group: affinity to the instance running the group's tasks.
    let r = run(json!({"taskDefinition": "app", "group": "databases",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == dev"}]}))
    .await;
    assert_eq!(r["tasks"][0]["containerInstanceArn"], dev.as_str());
    let r = run(json!({"taskDefinition": "app", "count": 2,
        "placementConstraints": [{"type": "memberOf", "expression": "task:group == databases"}]}))
    .await;
    assert_eq!(r["tasks"][0]["containerInstanceArn"], dev.as_str(), "{r}");
    assert_eq!(r["tasks"][1]["containerInstanceArn"], dev.as_str());
    // Anti-affinity: the prod instance already runs family:app tasks.
    let r = run(json!({"taskDefinition": "app",
        "placementConstraints": [{"type": "memberOf", "expression": "not(task:group == family:app) and runningTasksCount == 0"}]}))
    .await;
    assert_eq!(r["tasks"], json!([]), "both instances hold family:app tasks by now: {r}");

    // Built-ins: the zone Wharf's tasks report, ec2InstanceId, agentConnected.
    let d =
        ecs(&s, "DescribeContainerInstances", json!({"containerInstances": [prod.clone()]})).await;
    let ec2 = d["containerInstances"][0]["ec2InstanceId"].as_str().unwrap().to_owned();
    let r = run(json!({"taskDefinition": "app",
        "placementConstraints": [{"type": "memberOf", "expression": format!(
            "ec2InstanceId == '{ec2}' && attribute:ecs.availability-zone == us-east-1a && agentConnected == true"
        )}]}))
    .await;
    assert_eq!(r["tasks"][0]["containerInstanceArn"], prod.as_str(), "{r}");

    // The definition's memberOf constraints count with the request's.
    ecs(
        &s,
        "RegisterTaskDefinition",
        json!({"family": "devonly",
            "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == dev"}],
            "containerDefinitions": [{"name": "a", "image": "b", "memory": 10}]}),
    )
    .await;
    let r = run(json!({"taskDefinition": "devonly", "count": 2})).await;
    assert_eq!(r["tasks"][0]["containerInstanceArn"], dev.as_str(), "{r}");
    assert_eq!(r["tasks"][1]["containerInstanceArn"], dev.as_str());
    let r = run(json!({"taskDefinition": "devonly",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == prod"}]}))
    .await;
    assert_eq!(r["tasks"], json!([]), "no instance is both dev and prod");
    let ten: Vec<Value> = (0..10)
        .map(|_| json!({"type": "memberOf", "expression": "attribute:stack exists"}))
        .collect();
    let r = run(json!({"taskDefinition": "devonly", "placementConstraints": ten})).await;
    assert_eq!(r["__type"], "InvalidParameterException");
    assert!(r["message"].as_str().unwrap().contains("at most 10"), "{r}");

    // A bad expression is refused before anything is stored.
    let r = run(json!({"taskDefinition": "app",
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack = prod"}]}))
    .await;
    assert_eq!(r["__type"], "InvalidParameterException");
    assert_eq!(
        r["message"],
        "placementConstraints.expression is invalid at position 17: expected an operator after \
         attribute:stack (found '=')."
    );
}

/// The next notice line of a `/_wharf/v1/changes` answer, within a second.
async fn next_notice(body: &mut axum::body::BodyDataStream) -> Value {
    use futures_util::StreamExt;
    let data = tokio::time::timeout(std::time::Duration::from_secs(1), body.next())
        .await
        .expect("a notice within a second")
        .expect("the stream is open")
        .expect("data");
    serde_json::from_slice(data.strip_suffix(b"\n").expect("one line")).expect("JSON")
}

async fn logs(s: &Server, op: &str, body: Value) {
    let (status, answer) = call(s, &format!("Logs_20140328.{op}"), body).await;
    assert_eq!(status, 200, "{op}: {answer}");
}

#[tokio::test]
async fn the_change_stream_tells_of_chosen_tasks_and_log_groups_only() {
    let s = server();
    setup(&s, 4096, 8000).await;
    // A second instance: the two tasks both want host port 8080.
    ecs(&s, "RegisterContainerInstance", json!({"totalResources": resources(4096, 8000)})).await;
    let mut arns = Vec::new();
    for started in ["a", "b"] {
        let r = ecs(&s, "RunTask", json!({"taskDefinition": "web:1", "startedBy": started})).await;
        arns.push(r["tasks"][0]["taskArn"].as_str().unwrap().to_owned());
    }
    let (mine, other) = (&arns[0], &arns[1]);
    for group in ["/ecs/web", "/ecs/other"] {
        logs(&s, "CreateLogGroup", json!({"logGroupName": group})).await;
        logs(&s, "CreateLogStream", json!({"logGroupName": group, "logStreamName": "s"})).await;
    }
    let put = |group: &str| {
        json!({"logGroupName": group, "logStreamName": "s",
               "logEvents": [{"timestamp": 1_700_000_000_000_i64, "message": "hi"}]})
    };
    let query = format!(
        "/_wharf/v1/changes?region=us-east-1&task={}&group=%2Fecs%2Fweb",
        mine.replace(':', "%3A").replace('/', "%2F")
    );
    let resp =
        s.router.clone().oneshot(Request::get(query).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let mut body = resp.into_body().into_data_stream();

    // Another task's change and another group's events are not told of:
    // the first notice is of the chosen group, then of the chosen task.
    ecs(&s, "StopTask", json!({"task": other})).await;
    logs(&s, "PutLogEvents", put("/ecs/other")).await;
    logs(&s, "PutLogEvents", put("/ecs/web")).await;
    assert_eq!(next_notice(&mut body).await, json!({"log": {"group": "/ecs/web", "stream": "s"}}));
    ecs(&s, "StopTask", json!({"task": mine})).await;
    let id = mine.rsplit('/').next().unwrap();
    assert_eq!(next_notice(&mut body).await, json!({"task": id}));
}

#[tokio::test]
async fn custom_attributes_are_put_listed_deleted_and_placed_on() {
    let s = server();
    let first = setup(&s, 1024, 1024).await;
    let second = ecs(
        &s,
        "RegisterContainerInstance",
        json!({"totalResources": resources(1024, 1024),
               "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1b"}]}),
    )
    .await["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_id = second.rsplit('/').next().unwrap();
    // By ARN, and by ID with its target type.
    let put = ecs(
        &s,
        "PutAttributes",
        json!({"attributes": [
            {"name": "stack", "value": "prod", "targetId": first},
            {"name": "stack", "value": "dev", "targetId": second_id, "targetType": "container-instance"},
            {"name": "gpu", "targetId": second}]}),
    )
    .await;
    assert_eq!(put["attributes"].as_array().map(Vec::len), Some(3), "{put}");
    let listed = ecs(
        &s,
        "ListAttributes",
        json!({"targetType": "container-instance", "attributeName": "stack"}),
    )
    .await;
    let pairs: Vec<(String, String)> = listed["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (a["targetId"].as_str().unwrap().to_owned(), a["value"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(pairs.len(), 2);
    assert!(pairs.contains(&(first.clone(), "prod".into())));
    assert!(pairs.contains(&(second.clone(), "dev".into())));
    let only_dev = ecs(
        &s,
        "ListAttributes",
        json!({"targetType": "container-instance", "attributeName": "stack", "attributeValue": "dev"}),
    )
    .await;
    assert_eq!(only_dev["attributes"][0]["targetId"], second.as_str());
    assert_eq!(only_dev["attributes"].as_array().unwrap().len(), 1);
    // Pages of one.
    let page =
        ecs(&s, "ListAttributes", json!({"targetType": "container-instance", "maxResults": 1}))
            .await;
    let next = page["nextToken"].as_str().expect("a next page").to_owned();
    let page2 = ecs(
        &s,
        "ListAttributes",
        json!({"targetType": "container-instance", "maxResults": 1, "nextToken": next}),
    )
    .await;
    assert_ne!(page["attributes"][0], page2["attributes"][0]);

    // memberOf reads custom attributes; spread reads the zone.
    let run = ecs(
        &s,
        "RunTask",
        json!({"taskDefinition": "web", "placementConstraints": [
            {"type": "memberOf", "expression": "attribute:stack == dev"}]}),
    )
    .await;
    assert_eq!(run["tasks"][0]["containerInstanceArn"], second.as_str(), "{run}");
    assert_eq!(run["tasks"][0]["availabilityZone"], "us-east-1b");

    // Bad input gets ECS's errors.
    let r =
        ecs(&s, "PutAttributes", json!({"attributes": [{"name": "x", "targetId": "nope"}]})).await;
    assert_eq!(r["__type"], "InvalidParameterException", "{r}");
    let r = ecs(
        &s,
        "PutAttributes",
        json!({"attributes": [{"name": "x", "targetId": "0123", "targetType": "container-instance"}]}),
    )
    .await;
    assert_eq!(r["__type"], "TargetNotFoundException", "{r}");
    let r =
        ecs(&s, "PutAttributes", json!({"attributes": [{"name": "bad name", "targetId": first}]}))
            .await;
    assert!(r["message"].as_str().unwrap().starts_with("attributes[0].name"), "{r}");
    let r = ecs(
        &s,
        "PutAttributes",
        json!({"attributes": [{"name": "ecs.availability-zone", "value": "x", "targetId": first}]}),
    )
    .await;
    assert_eq!(r["__type"], "InvalidParameterException", "{r}");
    let many: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("k{i}"), "value": "v", "targetId": first}))
        .collect();
    let r = ecs(&s, "PutAttributes", json!({"attributes": many})).await;
    assert_eq!(r["__type"], "AttributeLimitExceededException", "{r}");
    let r = ecs(
        &s,
        "ListAttributes",
        json!({"targetType": "container-instance", "attributeValue": "x"}),
    )
    .await;
    assert_eq!(r["__type"], "InvalidParameterException");
    let r = ecs(&s, "ListAttributes", json!({})).await;
    assert_eq!(r["__type"], "InvalidParameterException");

    // Deleted, and gone from what placement sees.
    ecs(&s, "DeleteAttributes", json!({"attributes": [{"name": "stack", "targetId": second}]}))
        .await;
    let run = ecs(
        &s,
        "RunTask",
        json!({"taskDefinition": "web", "placementConstraints": [
            {"type": "memberOf", "expression": "attribute:stack == dev"}]}),
    )
    .await;
    assert_eq!(run["tasks"].as_array().map(Vec::len), Some(0), "{run}");
    // A registration again keeps the attributes put on the instance.
    ecs(
        &s,
        "RegisterContainerInstance",
        json!({"totalResources": resources(1024, 1024), "containerInstanceArn": first}),
    )
    .await;
    let listed = ecs(
        &s,
        "ListAttributes",
        json!({"targetType": "container-instance", "attributeName": "stack"}),
    )
    .await;
    assert_eq!(listed["attributes"][0]["targetId"], first.as_str(), "{listed}");
}

#[tokio::test]
async fn deregistering_an_instance_with_tasks_needs_force_and_stops_them_in_the_api() {
    let s = server();
    let ci = setup(&s, 1024, 1024).await;
    let run = ecs(&s, "RunTask", json!({"taskDefinition": "web"})).await;
    let task = run["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    let refused = ecs(&s, "DeregisterContainerInstance", json!({"containerInstance": ci})).await;
    assert_eq!(refused["__type"], "InvalidParameterException", "{refused}");
    let d = ecs(&s, "DeregisterContainerInstance", json!({"containerInstance": ci, "force": true}))
        .await;
    assert_eq!(d["containerInstance"]["status"], "INACTIVE", "{d}");
    assert_eq!(d["containerInstance"]["pendingTasksCount"], 0);
    let t = &ecs(&s, "DescribeTasks", json!({"tasks": [task]})).await["tasks"][0];
    assert_eq!(t["lastStatus"], "STOPPED");
    assert_eq!(t["stoppedReason"], "Container instance deregistration forced by user");
    assert!(t["stoppedAt"].is_number());
}
