//! The ECS service API through the front door, in process: what
//! CreateService stores, ECS's validation messages, idempotency,
//! deployments started by UpdateService, the delete lifecycle, describes and
//! lists, task sets, and that the API never overwrites what the scheduler
//! writes into a service's record. No scheduler runs here; where a test
//! needs the scheduler's part it writes the record through the store.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_model::ecs::service::{ServiceRecord, TaskNotes};
use wharf_model::ecs::status::ServiceStatus;
use wharf_store::{Kind, SqliteStore, Write};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

struct Server {
    router: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    server_drawing(Arc::new(wharf_model::ids::SystemEntropy))
}

/// A server whose ids' random parts come from `entropy`.
fn server_drawing(entropy: Arc<dyn wharf_model::ids::Entropy>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wharf.db")).unwrap();
    let state = AppState::new(
        Arc::new(store),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        Arc::new(FakeClock::at(1_700_000_000_000)),
        ACCOUNT,
    );
    let mut state = state;
    state.ops.entropy = entropy;
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
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// The region's first default subnet (the default VPC is made on first use).
async fn default_subnet(s: &Server) -> String {
    let zones = wharf_model::ec2::zones::of_region(REGION, &[]);
    let network = wharf_ops::network::read(s.state.ops.region(REGION), &zones).await.unwrap();
    let mut subnets: Vec<_> = network.subnets.values().filter(|s| s.default_for_az).collect();
    subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    subnets[0].id.clone()
}

/// A call that must succeed.
async fn ok(s: &Server, op: &str, body: Value) -> Value {
    let (status, v) = call(s, op, body).await;
    assert_eq!(status, 200, "{op}: {v}");
    v
}

/// A call that must fail with a 400: (type, message).
async fn refused(s: &Server, op: &str, body: Value) -> (String, String) {
    let (status, v) = call(s, op, body).await;
    assert_eq!(status, 400, "{op}: {v}");
    (v["__type"].as_str().unwrap().to_owned(), v["message"].as_str().unwrap().to_owned())
}

/// An ELBv2 Query call; the answer's XML.
async fn elb(s: &Server, action: &str, params: &[(&str, &str)]) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("Action", action).append_pair("Version", "2015-12-01");
    for (k, v) in params {
        body.append_pair(k, v);
    }
    let req = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(Body::from(body.finish()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{action}");
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn xml_first(xml: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let i = xml.find(&open).unwrap() + open.len();
    let j = xml[i..].find(&close).unwrap();
    xml[i..i + j].to_owned()
}

async fn record(s: &Server, cluster: &str, name: &str) -> ServiceRecord {
    let key = wharf_model::ecs::service::key(cluster, name);
    let json = s.state.ops.store.get(Kind::Service, REGION, &key).await.unwrap().unwrap();
    serde_json::from_str(&json).unwrap()
}

/// Changes a service's record through the store, as the scheduler would.
async fn scheduler_writes(
    s: &Server,
    cluster: &str,
    name: &str,
    f: impl Fn(&mut ServiceRecord) + Send + 'static,
) {
    let key = wharf_model::ecs::service::key(cluster, name);
    s.state
        .ops
        .store
        .update(
            Kind::Service,
            REGION,
            &key,
            Box::new(move |cur| {
                let mut r: ServiceRecord = serde_json::from_str(&cur.unwrap()).unwrap();
                f(&mut r);
                Ok(Write::Put(serde_json::to_string(&r).unwrap()))
            }),
        )
        .await
        .unwrap();
}

async fn register(s: &Server, family: &str, extra: Value) -> String {
    let mut td = json!({
        "family": family,
        "containerDefinitions": [{
            "name": "app", "image": "busybox", "cpu": 128, "memory": 128,
            "portMappings": [{"containerPort": 80}]
        }]
    });
    if let (Some(td), Some(extra)) = (td.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            td.insert(k.clone(), v.clone());
        }
    }
    let v = ok(s, "RegisterTaskDefinition", td).await;
    v["taskDefinition"]["taskDefinitionArn"].as_str().unwrap().to_owned()
}

async fn setup(s: &Server) -> String {
    ok(s, "CreateCluster", json!({})).await;
    register(s, "web", json!({})).await
}

fn svc(name: &str, desired: i32) -> Value {
    json!({"serviceName": name, "taskDefinition": "web", "desiredCount": desired})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[tokio::test]
async fn create_service_writes_the_desired_state_and_one_deployment() {
    let s = server();
    let td = setup(&s).await;
    let v = ok(&s, "CreateService", svc("web", 2)).await;
    let sv = &v["service"];
    assert_eq!(sv["serviceArn"], format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/default/web"));
    assert_eq!(sv["clusterArn"], format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"));
    assert_eq!(sv["status"], "ACTIVE");
    assert_eq!(sv["desiredCount"], 2);
    assert_eq!(sv["runningCount"], 0);
    assert_eq!(sv["pendingCount"], 0);
    assert_eq!(sv["launchType"], "EC2");
    assert!(sv.get("platformVersion").is_none());
    assert_eq!(sv["taskDefinition"], td);
    assert!(td.ends_with("task-definition/web:1"));
    assert_eq!(
        sv["deploymentConfiguration"],
        json!({
            "deploymentCircuitBreaker": {"enable": false, "rollback": false},
            "maximumPercent": 200, "minimumHealthyPercent": 100, "strategy": "ROLLING"
        })
    );
    assert_eq!(sv["schedulingStrategy"], "REPLICA");
    assert_eq!(sv["deploymentController"], json!({"type": "ECS"}));
    assert!(sv.get("taskSets").is_none());
    assert_eq!(sv["createdBy"], format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(sv["propagateTags"], "NONE");
    assert_eq!(sv["enableECSManagedTags"], false);
    assert_eq!(sv["enableExecuteCommand"], false);
    assert_eq!(sv["healthCheckGracePeriodSeconds"], 0);
    assert_eq!(sv["events"], json!([]));
    assert_eq!(sv["tags"], json!([]));

    let deps = sv["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 1);
    let d = &deps[0];
    let id = d["id"].as_str().unwrap();
    let digits = id.strip_prefix("ecs-svc/").unwrap();
    assert_eq!(digits.len(), 19);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(d["status"], "PRIMARY");
    assert_eq!(d["desiredCount"], 2);
    assert_eq!(d["runningCount"], 0);
    assert_eq!(d["taskDefinition"], td);
    assert_eq!(d["launchType"], "EC2");
    assert_eq!(d["rolloutState"], "IN_PROGRESS");
    assert_eq!(d["rolloutStateReason"], format!("ECS deployment {id} in progress."));

    let sd_arn = sv["currentServiceDeployment"].as_str().unwrap();
    let prefix = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/default/web/");
    let suffix = sd_arn.strip_prefix(&prefix).unwrap();
    assert_eq!(suffix.len(), 21);
    let rev_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/default/web/{digits}");
    assert_eq!(sv["currentServiceRevisions"][0]["arn"], rev_arn);

    let r = record(&s, "default", "web").await;
    let notes = &r.deployments[id];
    assert_eq!(notes.service_deployment_arn, sd_arn);
    assert_eq!(notes.service_revision_arn, rev_arn);
    assert!(!notes.health_checked);
    assert!(notes.load_balancers.is_empty());

    let sd = ok(&s, "DescribeServiceDeployments", json!({"serviceDeploymentArns": [sd_arn]})).await;
    let h = &sd["serviceDeployments"][0];
    assert_eq!(h["status"], "IN_PROGRESS");
    assert_eq!(h["targetServiceRevision"]["arn"], rev_arn);
    assert_eq!(h["targetServiceRevision"]["requestedTaskCount"], 2);
    assert_eq!(h["sourceServiceRevisions"], json!([]));
    assert_eq!(
        h["deploymentCircuitBreaker"],
        json!({"status": "DISABLED", "failureCount": 0, "threshold": 3})
    );
    let rv = ok(&s, "DescribeServiceRevisions", json!({"serviceRevisionArns": [rev_arn]})).await;
    assert_eq!(rv["serviceRevisions"][0]["taskDefinition"], td);
    assert_eq!(rv["serviceRevisions"][0]["containerImages"][0]["image"], "busybox");
    assert_eq!(rv["failures"], json!([]));
}

#[tokio::test]
async fn health_checks_fargate_and_daemon_defaults() {
    let s = server();
    setup(&s).await;
    register(
        &s,
        "checked",
        json!({"containerDefinitions": [{
            "name": "app", "image": "busybox", "memory": 128, "essential": true,
            "healthCheck": {"command": ["CMD-SHELL", "true"]}
        }]}),
    )
    .await;
    let v = ok(
        &s,
        "CreateService",
        json!({"serviceName": "hc", "taskDefinition": "checked", "desiredCount": 1,
               "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": true}}}),
    )
    .await;
    let id = v["service"]["deployments"][0]["id"].as_str().unwrap().to_owned();
    let r = record(&s, "default", "hc").await;
    assert!(r.deployments[&id].health_checked);
    let h = serde_json::to_value(&r.history[0]).unwrap();
    assert_eq!(h["deploymentCircuitBreaker"]["status"], "MONITORING");

    register(
        &s,
        "fg",
        json!({"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
               "memory": "512"}),
    )
    .await;
    let subnet = default_subnet(&s).await;
    let v = ok(
        &s,
        "CreateService",
        json!({"serviceName": "fg", "taskDefinition": "fg", "desiredCount": 1,
               "launchType": "FARGATE",
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": [subnet]}}}),
    )
    .await;
    assert_eq!(v["service"]["platformVersion"], "LATEST");
    let (k, m) = refused(
        &s,
        "CreateService",
        json!({"serviceName": "fg2", "taskDefinition": "fg", "desiredCount": 1,
               "launchType": "FARGATE", "platformVersion": "9.9.9",
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}}),
    )
    .await;
    assert_eq!(
        (k.as_str(), m.as_str()),
        ("PlatformUnknownException", "The specified platform version does not exist.")
    );
    assert_eq!(v["service"]["deployments"][0]["platformVersion"], "LATEST");
    assert_eq!(
        v["service"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        json!([subnet])
    );

    let v = ok(
        &s,
        "CreateService",
        json!({"serviceName": "d", "taskDefinition": "web", "schedulingStrategy": "DAEMON"}),
    )
    .await;
    let sv = &v["service"];
    assert_eq!(sv["desiredCount"], 0);
    assert_eq!(sv["schedulingStrategy"], "DAEMON");
    assert_eq!(sv["deploymentConfiguration"]["maximumPercent"], 100);
    assert_eq!(sv["deploymentConfiguration"]["minimumHealthyPercent"], 0);
}

#[tokio::test]
async fn bad_input_gets_ecs_errors_naming_the_field_and_writes_nothing() {
    let s = server();
    setup(&s).await;
    register(&s, "vpc", json!({"networkMode": "awsvpc"})).await;
    let ip = "InvalidParameterException";
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"taskDefinition": "web", "desiredCount": 1}), ip, "serviceName must be specified."),
        (svc("bad name", 1), ip, "Invalid serviceName"),
        (
            json!({"serviceName": "x", "taskDefinition": "web"}),
            ip,
            "desiredCount must be specified.",
        ),
        (svc("x", -1), ip, "desiredCount must be greater than or equal to 0."),
        (
            with(svc("x", 1), json!({"schedulingStrategy": "DAEMON"})),
            ip,
            "The daemon scheduling strategy does not support a desired count for services. \
             Remove the desired count value and try again",
        ),
        (
            json!({"serviceName": "x", "taskDefinition": "web", "schedulingStrategy": "DAEMON",
                   "placementStrategy": [{"type": "random"}]}),
            ip,
            "The daemon scheduling strategy does not support placement strategies. Remove the \
             placement strategy and try again",
        ),
        (
            json!({"serviceName": "x", "taskDefinition": "web", "schedulingStrategy": "DAEMON",
                   "deploymentConfiguration": {"maximumPercent": 200}}),
            ip,
            "deploymentConfiguration.maximumPercent must be 100",
        ),
        (
            with(svc("x", 1), json!({"deploymentConfiguration": {"minimumHealthyPercent": 150}})),
            ip,
            "deploymentConfiguration.minimumHealthyPercent must be between 0 and 100.",
        ),
        (
            with(svc("x", 1), json!({"deploymentConfiguration": {"maximumPercent": 50}})),
            ip,
            "deploymentConfiguration.maximumPercent must be at least 100.",
        ),
        (
            with(svc("x", 1), json!({"deploymentConfiguration": {"strategy": "LINEAR"}})),
            ip,
            "The LINEAR deployment strategy requires loadBalancers with an advancedConfiguration.",
        ),
        (
            with(svc("x", 1), json!({"deploymentConfiguration": {"strategy": "SIDEWAYS"}})),
            ip,
            "Invalid deploymentConfiguration.strategy 'SIDEWAYS'. Valid values: ROLLING, \
             BLUE_GREEN, LINEAR, CANARY.",
        ),
        (
            with(
                svc("x", 1),
                json!({"deploymentConfiguration": {"strategy": "BLUE_GREEN",
                       "canaryConfiguration": {"canaryPercent": 10.0}}}),
            ),
            ip,
            "deploymentConfiguration.canaryConfiguration is only valid with the CANARY strategy.",
        ),
        (
            with(
                svc("x", 1),
                json!({"deploymentConfiguration": {"strategy": "LINEAR",
                       "linearConfiguration": {"stepPercent": 2.5}}}),
            ),
            ip,
            "deploymentConfiguration.linearConfiguration.stepPercent must be a multiple of 0.1 \
             from 3.0 to 100.0.",
        ),
        (
            with(
                svc("x", 1),
                json!({"deploymentConfiguration": {"strategy": "BLUE_GREEN", "lifecycleHooks": [
                    {"hookTargetArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                     "roleArn": "arn:aws:iam::000000000000:role/r",
                     "lifecycleStages": ["POST_SCALE_UP"]}]}}),
            ),
            ip,
            "deploymentConfiguration.lifecycleHooks are not supported by Wharf: ECS invokes them \
             as AWS Lambda functions, and Wharf cannot run Lambda functions.",
        ),
        (
            with(
                svc("x", 1),
                json!({"deploymentController": {"type": "EXTERNAL"}, "taskDefinition": null,
                       "deploymentConfiguration": {"strategy": "BLUE_GREEN"}}),
            ),
            ip,
            "deploymentConfiguration.strategy BLUE_GREEN is only supported with the ECS \
             deployment controller.",
        ),
        (
            with(svc("x", 1), json!({"deploymentController": {"type": "CODE_DEPLOY"}})),
            ip,
            "A service using the CODE_DEPLOY deployment controller requires exactly one \
             loadBalancers entry",
        ),
        (
            with(svc("x", 1), json!({"taskDefinition": "nope"})),
            "ClientException",
            "TaskDefinition not found.",
        ),
        (
            with(
                svc("x", 1),
                json!({"launchType": "EC2",
                       "capacityProviderStrategy": [{"capacityProvider": "cp"}]}),
            ),
            ip,
            "Specifying both a launch type and capacity provider strategy is not supported.",
        ),
        (
            with(
                svc("x", 1),
                json!({"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}}),
            ),
            ip,
            "Network Configuration is not valid for the given networkMode of this task definition.",
        ),
        (
            with(svc("x", 1), json!({"taskDefinition": "vpc"})),
            ip,
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        ),
        (
            with(
                svc("x", 1),
                json!({"taskDefinition": "vpc", "role": "ecsServiceRole",
                       "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}}),
            ),
            ip,
            "You cannot specify an IAM role for services that require a service linked role.",
        ),
        (
            with(svc("x", 1), json!({"platformVersion": "1.4.0"})),
            ip,
            "The platform version must be null when specifying an EC2 launch type.",
        ),
        (
            with(
                svc("x", 1),
                json!({"loadBalancers": (0..6).map(|i| json!({
                    "targetGroupArn": format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t{i}/1"),
                    "containerName": "app", "containerPort": 80
                })).collect::<Vec<_>>()}),
            ),
            ip,
            "loadBalancers can have at most 5 items.",
        ),
        (
            with(
                svc("x", 1),
                json!({"placementConstraints": (0..11).map(|_| json!({"type": "distinctInstance"})).collect::<Vec<_>>()}),
            ),
            ip,
            "placementConstraints can have at most 10 items",
        ),
        (
            with(svc("x", 1), json!({"tags": [{"key": "aws:x", "value": "1"}]})),
            ip,
            "Tag keys cannot start with the reserved prefix 'aws:'.",
        ),
        (
            with(svc("x", 1), json!({"healthCheckGracePeriodSeconds": -1})),
            ip,
            "healthCheckGracePeriodSeconds must be between 0 and 2147483647.",
        ),
        (
            with(svc("x", 1), json!({"serviceRegistries": [{"registryArn": "arn:x"}]})),
            ip,
            "The registryArn 'arn:x' is not a Cloud Map service ARN.",
        ),
        (
            with(svc("x", 1), json!({"cluster": "nowhere"})),
            "ClusterNotFoundException",
            "Cluster not found.",
        ),
    ];
    for (body, kind, message) in cases {
        let (k, m) = refused(&s, "CreateService", body.clone()).await;
        assert_eq!(k, kind, "{body}");
        assert!(m.starts_with(message), "{body}: {m}");
    }
    let v = ok(&s, "ListServices", json!({})).await;
    assert_eq!(v["serviceArns"], json!([]));
    assert!(s.state.ops.store.list(Kind::Service, REGION, None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn load_balancers_are_checked_against_elbv2_and_the_definition() {
    let s = server();
    setup(&s).await;
    let tg_xml = elb(
        &s,
        "CreateTargetGroup",
        &[("Name", "inst"), ("Protocol", "HTTP"), ("Port", "80"), ("VpcId", "vpc-1")],
    )
    .await;
    let inst = xml_first(&tg_xml, "TargetGroupArn");
    let spare = xml_first(
        &elb(&s, "CreateTargetGroup", &[("Name", "spare"), ("Protocol", "HTTP"), ("Port", "80")])
            .await,
        "TargetGroupArn",
    );
    let ip = xml_first(
        &elb(
            &s,
            "CreateTargetGroup",
            &[("Name", "ip"), ("Protocol", "HTTP"), ("Port", "80"), ("TargetType", "ip")],
        )
        .await,
        "TargetGroupArn",
    );
    let lb = xml_first(
        &elb(
            &s,
            "CreateLoadBalancer",
            &[
                ("Name", "front"),
                ("Subnets.member.1", "subnet-1"),
                ("Subnets.member.2", "subnet-2"),
            ],
        )
        .await,
        "LoadBalancerArn",
    );
    for (port, tg) in [("8080", &inst), ("8081", &ip)] {
        elb(
            &s,
            "CreateListener",
            &[
                ("LoadBalancerArn", &lb),
                ("Protocol", "HTTP"),
                ("Port", port),
                ("DefaultActions.member.1.Type", "forward"),
                ("DefaultActions.member.1.TargetGroupArn", tg),
            ],
        )
        .await;
    }
    let lbs = |tg: &str, name: &str, port: i32| {
        with(
            svc("web", 1),
            json!({"loadBalancers": [{"targetGroupArn": tg, "containerName": name, "containerPort": port}]}),
        )
    };
    let missing_tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/1";
    let cases = [
        (
            lbs(missing_tg, "app", 80),
            format!("The target group with targetGroupArn {missing_tg} does not exist."),
        ),
        (
            lbs(&spare, "app", 80),
            format!(
                "The target group with targetGroupArn {spare} does not have an associated load \
                 balancer."
            ),
        ),
        (
            lbs(&ip, "app", 80),
            format!(
                "The provided target group {ip} has target type ip, which is incompatible with \
                 the bridge network mode specified in the task definition."
            ),
        ),
        (lbs(&inst, "db", 80), "The container db does not exist in the task definition.".into()),
        (
            lbs(&inst, "app", 81),
            "The container app did not have a container port 81 defined.".into(),
        ),
        (lbs(&inst, "", 80), "Container Name can not be blank.".into()),
    ];
    for (body, message) in cases {
        let (k, m) = refused(&s, "CreateService", body).await;
        assert_eq!((k.as_str(), m.as_str()), ("InvalidParameterException", message.as_str()));
    }
    let v = ok(&s, "CreateService", lbs(&inst, "app", 80)).await;
    assert_eq!(v["service"]["loadBalancers"][0]["targetGroupArn"], inst);
    let id = v["service"]["deployments"][0]["id"].as_str().unwrap().to_owned();
    let r = record(&s, "default", "web").await;
    assert_eq!(r.deployments[&id].load_balancers[0].target_group_arn.as_deref(), Some(&*inst));

    // awsvpc with an instance group is refused; with the ip group it is taken.
    register(&s, "vpc", json!({"networkMode": "awsvpc"})).await;
    let net = json!({"awsvpcConfiguration": {"subnets": [default_subnet(&s).await]}});
    let body = with(
        lbs(&inst, "app", 80),
        json!({"serviceName": "v", "taskDefinition": "vpc", "networkConfiguration": net}),
    );
    let (_, m) = refused(&s, "CreateService", body).await;
    assert!(m.contains("has target type instance, which is incompatible with the awsvpc"), "{m}");
    let body = with(
        lbs(&ip, "app", 80),
        json!({"serviceName": "v", "taskDefinition": "vpc", "networkConfiguration": net}),
    );
    ok(&s, "CreateService", body).await;
}

#[tokio::test]
async fn create_is_idempotent_only_for_an_identical_request() {
    let s = server();
    setup(&s).await;
    let first = ok(&s, "CreateService", svc("web", 1)).await;
    let again = ok(&s, "CreateService", svc("web", 1)).await;
    assert_eq!(first["service"]["deployments"], again["service"]["deployments"]);
    assert_eq!(record(&s, "default", "web").await.history.len(), 1);
    let (k, m) = refused(&s, "CreateService", svc("web", 3)).await;
    assert_eq!(
        (k.as_str(), m.as_str()),
        ("InvalidParameterException", "Creation of service was not idempotent.")
    );

    // DRAINING still holds the name; INACTIVE frees it.
    ok(&s, "DeleteService", json!({"service": "web", "force": true})).await;
    let (_, m) = refused(&s, "CreateService", svc("web", 3)).await;
    assert_eq!(m, "Creation of service was not idempotent.");
    // Not even a request identical to what the DRAINING service now shows.
    let (_, m) = refused(&s, "CreateService", svc("web", 0)).await;
    assert_eq!(m, "Creation of service was not idempotent.");
    scheduler_writes(&s, "default", "web", |r| {
        r.service.status = Some(ServiceStatus::Inactive);
        r.inactive_ms = Some(1_700_000_000_000);
    })
    .await;
    let v =
        ok(&s, "CreateService", with(svc("web", 3), json!({"tags": [{"key": "k", "value": "v"}]})))
            .await;
    assert_eq!(v["service"]["status"], "ACTIVE");
    assert_eq!(v["service"]["desiredCount"], 3);
    assert_ne!(v["service"]["deployments"][0]["id"], first["service"]["deployments"][0]["id"]);
    assert_eq!(v["service"]["tags"], json!([{"key": "k", "value": "v"}]));
    let r = record(&s, "default", "web").await;
    assert_eq!(r.history.len(), 1, "a new service starts a new history");
}

#[tokio::test]
async fn updates_start_deployments_only_when_the_tasks_change() {
    let s = server();
    setup(&s).await;
    let v = ok(&s, "CreateService", svc("web", 2)).await;
    let first_id = v["service"]["deployments"][0]["id"].as_str().unwrap().to_owned();

    // Scaling changes the PRIMARY in place.
    let v = ok(&s, "UpdateService", json!({"service": "web", "desiredCount": 5})).await;
    let deps = v["service"]["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0]["desiredCount"], 5);
    assert_eq!(v["service"]["desiredCount"], 5);
    // The same task definition without force is no deployment either.
    let v = ok(&s, "UpdateService", json!({"service": "web", "taskDefinition": "web:1"})).await;
    assert_eq!(v["service"]["deployments"].as_array().unwrap().len(), 1);

    scheduler_writes(&s, "default", "web", |r| {
        r.throttle.consecutive = 4;
        r.throttle.not_before_ms = 1_700_000_100_000;
    })
    .await;
    let td2 = register(&s, "web", json!({})).await;
    let v = ok(&s, "UpdateService", json!({"service": "web", "taskDefinition": "web"})).await;
    let sv = &v["service"];
    assert_eq!(sv["taskDefinition"], td2);
    let deps = sv["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 2);
    assert_eq!(deps[0]["status"], "PRIMARY");
    assert_eq!(deps[0]["taskDefinition"], td2);
    assert_eq!(deps[0]["desiredCount"], 5);
    assert_eq!(deps[0]["rolloutState"], "IN_PROGRESS");
    assert_eq!(deps[1]["id"], first_id.as_str());
    assert_eq!(deps[1]["status"], "ACTIVE");
    assert_eq!(deps[1]["desiredCount"], 0);
    assert_eq!(deps[1]["rolloutState"], "IN_PROGRESS");
    assert_eq!(deps[1]["rolloutStateReason"], format!("ECS deployment {first_id} in progress."));
    let r = record(&s, "default", "web").await;
    assert_eq!(r.throttle, Default::default());
    assert_eq!(r.history.len(), 2);
    assert_eq!(r.revisions.len(), 2);
    let first_rev = r.deployments[&first_id].service_revision_arn.clone();
    let sources = r.history[1].source_service_revisions.clone().unwrap();
    assert_eq!(sources[0].arn.as_deref(), Some(first_rev.as_str()));
    assert_eq!(
        sv["currentServiceDeployment"],
        r.history[1].service_deployment_arn.clone().unwrap()
    );

    // Settings change in place.
    let v = ok(
        &s,
        "UpdateService",
        json!({"service": "web", "healthCheckGracePeriodSeconds": 30,
               "deploymentConfiguration": {"minimumHealthyPercent": 50},
               "enableExecuteCommand": true}),
    )
    .await;
    let sv = &v["service"];
    assert_eq!(sv["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(sv["healthCheckGracePeriodSeconds"], 30);
    assert_eq!(sv["deploymentConfiguration"]["minimumHealthyPercent"], 50);
    assert_eq!(sv["deploymentConfiguration"]["maximumPercent"], 200);
    assert_eq!(sv["enableExecuteCommand"], true);

    // forceNewDeployment does start one, of the same definition.
    let v = ok(&s, "UpdateService", json!({"service": "web", "forceNewDeployment": true})).await;
    let deps = v["service"]["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 3);
    assert_eq!(deps[0]["taskDefinition"], td2);
    assert_eq!(deps[1]["status"], "ACTIVE");
    assert_eq!(deps[1]["desiredCount"], 0);

    let (k, m) = refused(&s, "UpdateService", json!({"service": "nope", "desiredCount": 1})).await;
    assert_eq!((k.as_str(), m.as_str()), ("ServiceNotFoundException", "Service not found."));
    let (k, _) =
        refused(&s, "UpdateService", json!({"service": "web", "taskDefinition": "nope"})).await;
    assert_eq!(k, "ClientException");
    let (_, m) = refused(
        &s,
        "UpdateService",
        json!({"service": "web",
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}}),
    )
    .await;
    assert_eq!(
        m,
        "Network Configuration is not valid for the given networkMode of this task definition."
    );
}

#[tokio::test]
async fn the_api_keeps_what_the_scheduler_wrote() {
    let s = server();
    setup(&s).await;
    ok(&s, "CreateService", svc("web", 2)).await;
    scheduler_writes(&s, "default", "web", |r| {
        r.service.running_count = Some(2);
        r.service.pending_count = Some(1);
        if let Some(d) = r.service.deployments.as_mut().and_then(|d| d.first_mut()) {
            d.running_count = Some(2);
            d.rollout_state = Some(wharf_model::ecs::shapes::DeploymentRolloutState::Completed);
        }
        r.service.events = Some(vec![wharf_model::ecs::shapes::ServiceEvent {
            id: Some("e1".into()),
            message: Some("(service web) has reached a steady state.".into()),
            ..Default::default()
        }]);
        r.tasks.insert("t1".into(), TaskNotes { was_healthy: true, ..Default::default() });
        r.steady = true;
    })
    .await;
    let v = ok(&s, "UpdateService", json!({"service": "web", "desiredCount": 4})).await;
    let sv = &v["service"];
    assert_eq!(sv["desiredCount"], 4);
    assert_eq!(sv["runningCount"], 2);
    assert_eq!(sv["pendingCount"], 1);
    assert_eq!(sv["deployments"][0]["runningCount"], 2);
    assert_eq!(sv["deployments"][0]["rolloutState"], "COMPLETED");
    assert_eq!(sv["events"][0]["id"], "e1");
    let r = record(&s, "default", "web").await;
    assert!(r.tasks["t1"].was_healthy);
    assert!(r.steady);

    // A new deployment keeps them too; the old PRIMARY keeps its rollout state.
    register(&s, "web", json!({})).await;
    let v = ok(&s, "UpdateService", json!({"service": "web", "taskDefinition": "web:2"})).await;
    assert_eq!(v["service"]["runningCount"], 2);
    assert_eq!(v["service"]["deployments"][1]["rolloutState"], "COMPLETED");
    assert_eq!(v["service"]["deployments"][1]["runningCount"], 2);
    assert!(record(&s, "default", "web").await.tasks.contains_key("t1"));
}

#[tokio::test]
async fn delete_drains_and_the_cluster_waits_for_its_services() {
    let s = server();
    setup(&s).await;
    ok(&s, "CreateService", svc("web", 2)).await;
    let (k, m) = refused(&s, "DeleteService", json!({"service": "web"})).await;
    assert_eq!(
        (k.as_str(), m.as_str()),
        ("InvalidParameterException", "The service cannot be stopped while it is scaled above 0.")
    );
    let (k, m) = refused(&s, "DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(
        (k.as_str(), m.as_str()),
        (
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active."
        )
    );
    let c = ok(&s, "DescribeClusters", json!({})).await;
    assert_eq!(c["clusters"][0]["activeServicesCount"], 1);

    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/default/web");
    let v = ok(&s, "DeleteService", json!({"service": arn, "force": true})).await;
    assert_eq!(v["service"]["status"], "DRAINING");
    assert_eq!(v["service"]["desiredCount"], 0);
    assert!(v["service"]["deployments"].as_array().unwrap().iter().all(|d| d["desiredCount"] == 0));
    let v = ok(&s, "DescribeServices", json!({"services": ["web"]})).await;
    assert_eq!(v["services"][0]["status"], "DRAINING");
    assert_eq!(ok(&s, "ListServices", json!({})).await["serviceArns"], json!([]));
    let (k, m) = refused(&s, "UpdateService", json!({"service": "web", "desiredCount": 1})).await;
    assert_eq!((k.as_str(), m.as_str()), ("ServiceNotActiveException", "Service was not ACTIVE."));
    let (k, _) = refused(&s, "DeleteService", json!({"service": "web"})).await;
    assert_eq!(k, "ServiceNotActiveException");
    let (k, _) = refused(&s, "DeleteService", json!({"service": "other"})).await;
    assert_eq!(k, "ServiceNotFoundException");
    // Still DRAINING: the cluster stays.
    let (k, _) = refused(&s, "DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(k, "ClusterContainsServicesException");

    scheduler_writes(&s, "default", "web", |r| {
        r.service.status = Some(ServiceStatus::Inactive);
        r.inactive_ms = Some(1_700_000_000_000);
    })
    .await;
    let v = ok(&s, "DescribeServices", json!({"services": ["web"]})).await;
    assert_eq!(v["services"][0]["status"], "INACTIVE");
    let v = ok(&s, "DeleteCluster", json!({"cluster": "default"})).await;
    assert_eq!(v["cluster"]["status"], "INACTIVE");
}

#[tokio::test]
async fn a_daemon_service_deletes_without_force() {
    let s = server();
    setup(&s).await;
    ok(
        &s,
        "CreateService",
        json!({"serviceName": "d", "taskDefinition": "web", "schedulingStrategy": "DAEMON"}),
    )
    .await;
    scheduler_writes(&s, "default", "d", |r| r.service.desired_count = Some(3)).await;
    let v = ok(&s, "DeleteService", json!({"service": "d"})).await;
    assert_eq!(v["service"]["status"], "DRAINING");
    let (_, m) = refused(&s, "UpdateService", json!({"service": "d", "desiredCount": 1})).await;
    assert_eq!(m, "Service was not ACTIVE.");
}

#[tokio::test]
async fn describe_services_reports_missing_ones_and_tags_on_request() {
    let s = server();
    setup(&s).await;
    ok(&s, "CreateService", with(svc("web", 1), json!({"tags": [{"key": "team", "value": "a"}]})))
        .await;
    let given_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/default/gone");
    let v = ok(
        &s,
        "DescribeServices",
        json!({"services": ["web", "nope", given_arn], "include": ["TAGS"]}),
    )
    .await;
    assert_eq!(v["services"].as_array().unwrap().len(), 1);
    assert_eq!(v["services"][0]["tags"], json!([{"key": "team", "value": "a"}]));
    assert_eq!(
        v["failures"],
        json!([
            {"arn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/nope"), "reason": "MISSING"},
            {"arn": given_arn, "reason": "MISSING"}
        ])
    );
    let v = ok(&s, "DescribeServices", json!({"services": ["web"]})).await;
    assert!(v["services"][0].get("tags").is_none());
    let eleven: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    let (k, _) = refused(&s, "DescribeServices", json!({"services": eleven})).await;
    assert_eq!(k, "InvalidParameterException");
    let (k, _) =
        refused(&s, "DescribeServices", json!({"services": ["web"], "cluster": "nowhere"})).await;
    assert_eq!(k, "ClusterNotFoundException");

    // Tags through the tag calls, by service ARN.
    let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/default/web");
    ok(&s, "TagResource", json!({"resourceArn": arn, "tags": [{"key": "b", "value": "2"}]})).await;
    ok(&s, "UntagResource", json!({"resourceArn": arn, "tagKeys": ["team"]})).await;
    let v = ok(&s, "ListTagsForResource", json!({"resourceArn": arn})).await;
    assert_eq!(v["tags"], json!([{"key": "b", "value": "2"}]));
    let (k, _) = refused(&s, "ListTagsForResource", json!({"resourceArn": given_arn})).await;
    assert_eq!(k, "ServiceNotFoundException");
}

#[tokio::test]
async fn list_services_pages_through_active_services_of_one_cluster() {
    let s = server();
    setup(&s).await;
    ok(&s, "CreateCluster", json!({"clusterName": "other"})).await;
    for name in ["a", "b", "c", "d", "e"] {
        ok(&s, "CreateService", svc(name, 0)).await;
    }
    ok(&s, "CreateService", with(svc("x", 0), json!({"cluster": "other"}))).await;
    ok(
        &s,
        "CreateService",
        json!({"serviceName": "f", "taskDefinition": "web", "schedulingStrategy": "DAEMON"}),
    )
    .await;
    ok(&s, "DeleteService", json!({"service": "c"})).await;

    let mut all = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"maxResults": 2});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let v = ok(&s, "ListServices", body).await;
        pages += 1;
        all.extend(
            v["serviceArns"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()),
        );
        match v["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let names: Vec<&str> = all.iter().map(|a| a.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["a", "b", "d", "e", "f"]);
    assert!(pages >= 3);
    assert!(all.iter().all(|a| a.contains(":service/default/")));
    let v = ok(&s, "ListServices", json!({"schedulingStrategy": "DAEMON"})).await;
    assert_eq!(v["serviceArns"].as_array().unwrap().len(), 1);
    let v = ok(&s, "ListServices", json!({"launchType": "FARGATE"})).await;
    assert_eq!(v["serviceArns"], json!([]));
    let v = ok(&s, "ListServices", json!({"cluster": "other"})).await;
    assert_eq!(
        v["serviceArns"],
        json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/other/x")])
    );
    let (_, m) = refused(&s, "ListServices", json!({"maxResults": 0})).await;
    assert_eq!(m, "maxResults must be between 1 and 100.");
    let (_, m) = refused(&s, "ListServices", json!({"nextToken": "zz"})).await;
    assert_eq!(m, "Invalid nextToken.");
}

#[tokio::test]
async fn list_services_by_namespace_knows_only_cluster_default_namespaces() {
    let s = server();
    ok(
        &s,
        "CreateCluster",
        json!({"clusterName": "c", "serviceConnectDefaults": {"namespace": "ns1"}}),
    )
    .await;
    let v = ok(&s, "ListServicesByNamespace", json!({"namespace": "ns1"})).await;
    assert_eq!(v["serviceArns"], json!([]));
    let (k, m) = refused(&s, "ListServicesByNamespace", json!({"namespace": "other"})).await;
    assert_eq!(
        (k.as_str(), m.as_str()),
        ("NamespaceNotFoundException", "The specified namespace wasn't found.")
    );
    let (_, m) = refused(&s, "ListServicesByNamespace", json!({})).await;
    assert_eq!(m, "namespace must be specified.");
}

#[tokio::test]
async fn service_deployments_list_newest_first_with_filters_and_pages() {
    let s = server();
    setup(&s).await;
    ok(&s, "CreateService", svc("web", 1)).await;
    for _ in 0..2 {
        ok(&s, "UpdateService", json!({"service": "web", "forceNewDeployment": true})).await;
    }
    let r = record(&s, "default", "web").await;
    let arns: Vec<String> =
        r.history.iter().rev().map(|d| d.service_deployment_arn.clone().unwrap()).collect();
    assert_eq!(arns.len(), 3);

    let v = ok(&s, "ListServiceDeployments", json!({"service": "web", "maxResults": 2})).await;
    let page: Vec<&str> = v["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["serviceDeploymentArn"].as_str().unwrap())
        .collect();
    assert_eq!(page, [arns[0].as_str(), arns[1].as_str()]);
    let token = v["nextToken"].as_str().unwrap();
    let v = ok(&s, "ListServiceDeployments", json!({"service": "web", "nextToken": token})).await;
    assert_eq!(v["serviceDeployments"][0]["serviceDeploymentArn"], arns[2].as_str());
    assert!(v.get("nextToken").is_none());
    assert_eq!(v["serviceDeployments"][0]["status"], "IN_PROGRESS");

    let v =
        ok(&s, "ListServiceDeployments", json!({"service": "web", "status": ["SUCCESSFUL"]})).await;
    assert_eq!(v["serviceDeployments"], json!([]));
    let v = ok(
        &s,
        "ListServiceDeployments",
        json!({"service": "web", "createdAt": {"before": 1_600_000_000}}),
    )
    .await;
    assert_eq!(v["serviceDeployments"], json!([]));
    let v = ok(
        &s,
        "ListServiceDeployments",
        json!({"service": "web", "createdAt": {"after": 1_600_000_000}}),
    )
    .await;
    assert_eq!(v["serviceDeployments"].as_array().unwrap().len(), 3);
    let (k, _) = refused(&s, "ListServiceDeployments", json!({"service": "nope"})).await;
    assert_eq!(k, "ServiceNotFoundException");

    let unknown = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/default/web/xyz");
    let v = ok(
        &s,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arns[1], unknown, "garbage"]}),
    )
    .await;
    assert_eq!(v["serviceDeployments"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["failures"],
        json!([{"arn": unknown, "reason": "MISSING"}, {"arn": "garbage", "reason": "MISSING"}])
    );
    let (_, m) = refused(&s, "DescribeServiceRevisions", json!({"serviceRevisionArns": []})).await;
    assert_eq!(m, "serviceRevisionArns must have between 1 and 20 items.");
}

#[tokio::test]
async fn task_sets_on_an_external_service() {
    let s = server();
    let td = setup(&s).await;
    ok(&s, "CreateService", svc("rolling", 1)).await;
    let (k, m) = refused(
        &s,
        "CreateTaskSet",
        json!({"service": "rolling", "cluster": "default", "taskDefinition": "web"}),
    )
    .await;
    assert_eq!(
        (k.as_str(), m.as_str()),
        (
            "InvalidParameterException",
            "Amazon ECS only supports task set management on services configured to use \
             external deployment controllers."
        )
    );
    let (_, m) = refused(
        &s,
        "CreateService",
        json!({"serviceName": "ext", "taskDefinition": "web",
               "deploymentController": {"type": "EXTERNAL"}}),
    )
    .await;
    assert_eq!(m, "TaskDefinition must be blank.");
    let v = ok(
        &s,
        "CreateService",
        json!({"serviceName": "ext", "desiredCount": 4,
               "deploymentController": {"type": "EXTERNAL"}}),
    )
    .await;
    assert_eq!(v["service"]["taskSets"], json!([]));
    assert_eq!(v["service"]["deployments"], json!([]));
    assert_eq!(v["service"]["deploymentController"], json!({"type": "EXTERNAL"}));

    let v = ok(
        &s,
        "CreateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskDefinition": "web",
               "scale": {"value": 50, "unit": "PERCENT"}, "externalId": "blue",
               "tags": [{"key": "k", "value": "v"}]}),
    )
    .await;
    let blue = v["taskSet"].clone();
    let blue_id = blue["id"].as_str().unwrap().to_owned();
    assert!(blue_id.starts_with("ecs-svc/"));
    assert_eq!(
        blue["taskSetArn"],
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-set/default/ext/{blue_id}")
    );
    assert_eq!(blue["status"], "ACTIVE");
    assert_eq!(blue["computedDesiredCount"], 2);
    assert_eq!(blue["stabilityStatus"], "STABILIZING");
    assert_eq!(blue["taskDefinition"], td);
    assert_eq!(blue["launchType"], "EC2");
    assert_eq!(blue["externalId"], "blue");
    assert_eq!(blue["tags"], json!([{"key": "k", "value": "v"}]));
    assert!(record(&s, "default", "ext").await.deployments.contains_key(&blue_id));

    let v = ok(
        &s,
        "UpdateServicePrimaryTaskSet",
        json!({"service": "ext", "cluster": "default", "primaryTaskSet": blue["taskSetArn"]}),
    )
    .await;
    assert_eq!(v["taskSet"]["status"], "PRIMARY");
    let td2 = register(&s, "web", json!({})).await;
    let green = ok(
        &s,
        "CreateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskDefinition": "web:2"}),
    )
    .await["taskSet"]
        .clone();
    let green_id = green["id"].as_str().unwrap().to_owned();
    assert_eq!(green["computedDesiredCount"], 4, "scale defaults to 100 %");
    ok(
        &s,
        "UpdateServicePrimaryTaskSet",
        json!({"service": "ext", "cluster": "default", "primaryTaskSet": green_id}),
    )
    .await;
    let v = ok(&s, "DescribeServices", json!({"services": ["ext"]})).await;
    let sv = &v["services"][0];
    assert_eq!(sv["taskDefinition"], td2);
    let sets = sv["taskSets"].as_array().unwrap();
    let status_of = |id: &str| {
        sets.iter().find(|t| t["id"] == id).map(|t| t["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of(&green_id).as_deref(), Some("PRIMARY"));
    assert_eq!(status_of(&blue_id).as_deref(), Some("ACTIVE"));

    let v = ok(
        &s,
        "DescribeTaskSets",
        json!({"service": "ext", "cluster": "default",
               "taskSets": [blue_id, green["taskSetArn"], "ecs-svc/1"], "include": ["TAGS"]}),
    )
    .await;
    assert_eq!(v["taskSets"].as_array().unwrap().len(), 2);
    assert_eq!(v["taskSets"][0]["tags"], json!([{"key": "k", "value": "v"}]));
    assert_eq!(
        v["failures"],
        json!([{"arn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-set/default/ext/ecs-svc/1"),
                "reason": "MISSING"}])
    );

    let (k, m) = refused(
        &s,
        "DeleteTaskSet",
        json!({"service": "ext", "cluster": "default", "taskSet": blue_id}),
    )
    .await;
    assert_eq!(k, "InvalidParameterException");
    assert!(m.starts_with("The task set cannot be deleted while it is scaled above 0."), "{m}");
    let v = ok(
        &s,
        "UpdateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskSet": blue_id,
               "scale": {"value": 0, "unit": "PERCENT"}}),
    )
    .await;
    assert_eq!(v["taskSet"]["scale"]["value"], 0.0);
    let v = ok(
        &s,
        "DeleteTaskSet",
        json!({"service": "ext", "cluster": "default", "taskSet": blue_id}),
    )
    .await;
    assert_eq!(v["taskSet"]["status"], "DRAINING");
    let v = ok(
        &s,
        "DeleteTaskSet",
        json!({"service": "ext", "cluster": "default", "taskSet": green_id, "force": true}),
    )
    .await;
    assert_eq!(v["taskSet"]["status"], "DRAINING");

    let (_, m) = refused(
        &s,
        "UpdateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskSet": "nonsense",
               "scale": {"value": 10}}),
    )
    .await;
    assert_eq!(m, "Task Set Identifier is invalid");
    let (k, _) = refused(
        &s,
        "UpdateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskSet": "ecs-svc/7",
               "scale": {"value": 10}}),
    )
    .await;
    assert_eq!(k, "TaskSetNotFoundException");
    let (_, m) = refused(
        &s,
        "CreateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskDefinition": "web",
               "scale": {"value": 150}}),
    )
    .await;
    assert_eq!(m, "scale.value must be between 0 and 100.");

    // Five task sets at most (DRAINING ones count until the scheduler removes them).
    for _ in 0..3 {
        ok(
            &s,
            "CreateTaskSet",
            json!({"service": "ext", "cluster": "default", "taskDefinition": "web"}),
        )
        .await;
    }
    let (_, m) = refused(
        &s,
        "CreateTaskSet",
        json!({"service": "ext", "cluster": "default", "taskDefinition": "web"}),
    )
    .await;
    assert_eq!(
        m,
        "5 deployments exist on the service. Unable to create new TaskSet since this exceeds \
         the maximum limit."
    );

    // Only what ECS allows changes on an EXTERNAL service.
    let (_, m) =
        refused(&s, "UpdateService", json!({"service": "ext", "taskDefinition": "web"})).await;
    assert!(m.ends_with("taskDefinition cannot."), "{m}");
    let v = ok(&s, "UpdateService", json!({"service": "ext", "desiredCount": 6})).await;
    assert_eq!(v["service"]["desiredCount"], 6);
    assert_eq!(v["service"]["deployments"], json!([]));
}

/// A store that lets a "scheduler" write land between an API handler's
/// reads and its write: the next update of a service document first
/// applies the pending scheduler change, then the handler's decision runs
/// on what is stored then. A handler that wrote back a record it read
/// earlier would lose the scheduler's change.
mod interposed {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use wharf_model::ecs::launch::{Launch, Placement};
    use wharf_model::ecs::service::ServiceRecord;
    use wharf_store::elb::{ElbRead, ElbWrite};
    use wharf_store::*;

    type Hook = Box<dyn Fn(&mut ServiceRecord) + Send>;

    #[derive(Debug)]
    pub struct Store {
        pub inner: SqliteStore,
        pub hook: Arc<Mutex<Option<HookBox>>>,
    }

    pub struct HookBox(pub Hook);

    impl std::fmt::Debug for HookBox {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("HookBox")
        }
    }

    #[async_trait]
    impl wharf_store::Store for Store {
        async fn get(&self, k: Kind, r: &str, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.get(k, r, key).await
        }
        async fn list(
            &self,
            k: Kind,
            r: &str,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<(String, String)>, StoreError> {
            self.inner.list(k, r, after, limit).await
        }
        async fn regions(&self, k: Kind) -> Result<Vec<String>, StoreError> {
            self.inner.regions(k).await
        }
        async fn task_definitions_in_deletion(
            &self,
        ) -> Result<Vec<(String, wharf_store::StoredTaskDefinition)>, StoreError> {
            self.inner.task_definitions_in_deletion().await
        }
        async fn purge_task_definition(
            &self,
            r: &str,
            family: &str,
            revision: i32,
            arn: &str,
        ) -> Result<bool, StoreError> {
            self.inner.purge_task_definition(r, family, revision, arn).await
        }
        fn service_changes(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
            self.inner.service_changes()
        }
        async fn update(
            &self,
            k: Kind,
            r: &str,
            key: &str,
            decide: Decide,
        ) -> Result<Option<String>, StoreError> {
            let hook = if k == Kind::Service { self.hook.lock().unwrap().take() } else { None };
            if let Some(HookBox(f)) = hook {
                self.inner
                    .update(
                        k,
                        r,
                        key,
                        Box::new(move |cur| {
                            let mut rec: ServiceRecord =
                                serde_json::from_str(&cur.unwrap()).unwrap();
                            f(&mut rec);
                            Ok(Write::Put(serde_json::to_string(&rec).unwrap()))
                        }),
                    )
                    .await?;
            }
            self.inner.update(k, r, key, decide).await
        }
        async fn register_task_definition(
            &self,
            r: &str,
            family: &str,
            build: BuildRevision,
        ) -> Result<NewTaskDefinition, StoreError> {
            self.inner.register_task_definition(r, family, build).await
        }
        async fn get_task_definition(
            &self,
            r: &str,
            family: &str,
            revision: Option<i32>,
        ) -> Result<Option<StoredTaskDefinition>, StoreError> {
            self.inner.get_task_definition(r, family, revision).await
        }
        async fn update_task_definition(
            &self,
            r: &str,
            family: &str,
            revision: i32,
            decide: DecideRevision,
        ) -> Result<StoredTaskDefinition, StoreError> {
            self.inner.update_task_definition(r, family, revision, decide).await
        }
        async fn list_task_definitions(
            &self,
            r: &str,
            q: TaskDefinitionQuery,
        ) -> Result<Vec<(String, i32)>, StoreError> {
            self.inner.list_task_definitions(r, q).await
        }
        async fn list_task_definition_families(
            &self,
            r: &str,
            q: FamilyQuery,
        ) -> Result<Vec<String>, StoreError> {
            self.inner.list_task_definition_families(r, q).await
        }
        async fn tags(&self, r: &str, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
            self.inner.tags(r, arn).await
        }
        async fn tag(
            &self,
            r: &str,
            arn: &str,
            tags: Vec<(String, String)>,
            max: usize,
        ) -> Result<(), StoreError> {
            self.inner.tag(r, arn, tags, max).await
        }
        async fn untag(&self, r: &str, arn: &str, keys: Vec<String>) -> Result<(), StoreError> {
            self.inner.untag(r, arn, keys).await
        }
        async fn instances(
            &self,
            r: &str,
            cluster: &str,
            ids: Option<Vec<String>>,
        ) -> Result<Vec<InstanceUsage>, StoreError> {
            self.inner.instances(r, cluster, ids).await
        }
        async fn instance_records(
            &self,
            r: &str,
            cluster: &str,
            ids: Option<Vec<String>>,
        ) -> Result<Vec<StoredInstance>, StoreError> {
            self.inner.instance_records(r, cluster, ids).await
        }
        async fn instances_not_active(
            &self,
            r: &str,
            cluster: &str,
        ) -> Result<Vec<StoredInstance>, StoreError> {
            self.inner.instances_not_active(r, cluster).await
        }
        async fn update_instance(
            &self,
            r: &str,
            cluster: &str,
            id: &str,
            decide: DecideInstance,
        ) -> Result<Option<StoredInstance>, StoreError> {
            self.inner.update_instance(r, cluster, id, decide).await
        }
        async fn launch_tasks(&self, r: &str, launch: Launch) -> Result<Placement, StoreError> {
            self.inner.launch_tasks(r, launch).await
        }
        async fn get_task(
            &self,
            r: &str,
            cluster: &str,
            id: &str,
        ) -> Result<Option<StoredTask>, StoreError> {
            self.inner.get_task(r, cluster, id).await
        }
        async fn update_task(
            &self,
            r: &str,
            cluster: &str,
            id: &str,
            decide: DecideTask,
        ) -> Result<Option<StoredTask>, StoreError> {
            self.inner.update_task(r, cluster, id, decide).await
        }
        async fn list_tasks(&self, r: &str, q: TaskQuery) -> Result<Vec<StoredTask>, StoreError> {
            self.inner.list_tasks(r, q).await
        }
        async fn unstopped_tasks_on(
            &self,
            r: &str,
            cluster: &str,
            instance_id: &str,
        ) -> Result<Vec<StoredTask>, StoreError> {
            self.inner.unstopped_tasks_on(r, cluster, instance_id).await
        }
        async fn task_counts(&self, r: &str, cluster: &str) -> Result<(i64, i64), StoreError> {
            self.inner.task_counts(r, cluster).await
        }
        async fn status_counts(&self) -> Result<StatusCounts, StoreError> {
            self.inner.status_counts().await
        }
        async fn purge_stopped_tasks(&self, before_ms: i64) -> Result<usize, StoreError> {
            self.inner.purge_stopped_tasks(before_ms).await
        }
        fn task_changes(&self) -> wharf_store::TaskFeed {
            self.inner.task_changes()
        }
        fn instance_changes(&self) -> wharf_store::InstanceFeed {
            self.inner.instance_changes()
        }
        async fn elb_read(&self, r: &str, read: ElbRead) -> Result<(), StoreError> {
            self.inner.elb_read(r, read).await
        }
        async fn elb_write(&self, r: &str, write: ElbWrite) -> Result<(), StoreError> {
            self.inner.elb_write(r, write).await
        }
        fn elb_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
            self.inner.elb_changes()
        }
        async fn elb_regions(&self) -> Result<Vec<String>, StoreError> {
            self.inner.elb_regions().await
        }
        async fn reset(&self) -> Result<(), StoreError> {
            self.inner.reset().await
        }
    }
}

#[tokio::test]
async fn a_scheduler_write_between_the_apis_read_and_write_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Arc::new(std::sync::Mutex::new(None));
    let store = interposed::Store {
        inner: SqliteStore::open(&dir.path().join("wharf.db")).unwrap(),
        hook: hook.clone(),
    };
    let state = AppState::new(
        Arc::new(store),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        Arc::new(FakeClock::at(1_700_000_000_000)),
        ACCOUNT,
    );
    let s = Server { router: wharf_api::router(state.clone()), state, _dir: dir };
    setup(&s).await;
    ok(&s, "CreateService", svc("web", 2)).await;
    register(&s, "web", json!({})).await;

    let scheduler = |r: &mut ServiceRecord| {
        r.service.running_count = Some(2);
        if let Some(d) = r.service.deployments.as_mut().and_then(|d| d.first_mut()) {
            d.running_count = Some(2);
        }
        r.tasks.insert("t1".into(), TaskNotes::default());
    };
    // UpdateService reads the service (and the definitions) first; the
    // scheduler's write lands just before its update.
    *hook.lock().unwrap() = Some(interposed::HookBox(Box::new(scheduler)));
    let v = ok(&s, "UpdateService", json!({"service": "web", "taskDefinition": "web:2"})).await;
    assert!(hook.lock().unwrap().is_none(), "the hook ran");
    let sv = &v["service"];
    assert_eq!(sv["runningCount"], 2);
    assert_eq!(sv["deployments"][1]["runningCount"], 2);
    assert_eq!(sv["deployments"][1]["status"], "ACTIVE");
    assert!(record(&s, "default", "web").await.tasks.contains_key("t1"));

    // The same for DeleteService and a scale.
    *hook.lock().unwrap() = Some(interposed::HookBox(Box::new(|r: &mut ServiceRecord| {
        r.service.pending_count = Some(1);
    })));
    let v = ok(&s, "UpdateService", json!({"service": "web", "desiredCount": 3})).await;
    assert_eq!(v["service"]["pendingCount"], 1);
    assert_eq!(v["service"]["runningCount"], 2);
    *hook.lock().unwrap() = Some(interposed::HookBox(Box::new(|r: &mut ServiceRecord| {
        r.steady = true;
    })));
    ok(&s, "DeleteService", json!({"service": "web", "force": true})).await;
    let r = record(&s, "default", "web").await;
    assert!(r.steady);
    assert_eq!(r.service.pending_count, Some(1));
}

#[tokio::test]
async fn capacity_providers_come_from_the_request_or_the_clusters_default() {
    let s = server();
    ok(
        &s,
        "CreateCluster",
        json!({"clusterName": "cp", "capacityProviders": ["FARGATE"],
               "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}),
    )
    .await;
    register(
        &s,
        "fg",
        json!({"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
               "memory": "512"}),
    )
    .await;
    let net = json!({"awsvpcConfiguration": {"subnets": [default_subnet(&s).await]}});
    let v = ok(
        &s,
        "CreateService",
        json!({"cluster": "cp", "serviceName": "a", "taskDefinition": "fg", "desiredCount": 1,
               "networkConfiguration": net}),
    )
    .await;
    let sv = &v["service"];
    assert!(sv.get("launchType").is_none(), "{sv}");
    assert_eq!(
        sv["capacityProviderStrategy"],
        json!([{"capacityProvider": "FARGATE", "weight": 1}])
    );
    assert_eq!(sv["platformVersion"], "LATEST");
    assert_eq!(sv["deployments"][0]["capacityProviderStrategy"][0]["capacityProvider"], "FARGATE");

    let (_, m) = refused(
        &s,
        "CreateService",
        json!({"cluster": "cp", "serviceName": "b", "taskDefinition": "fg", "desiredCount": 1,
               "networkConfiguration": net,
               "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]}),
    )
    .await;
    assert!(m.starts_with("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster."), "{m}");
    register(&s, "web", json!({})).await;
    let (_, m) = refused(
        &s,
        "CreateService",
        json!({"cluster": "cp", "serviceName": "d", "taskDefinition": "web",
               "schedulingStrategy": "DAEMON"}),
    )
    .await;
    assert_eq!(
        m,
        "Specifying a capacity provider strategy is not supported when you create a service \
         using the DAEMON scheduling strategy."
    );
    // With a launch type the cluster's default does not apply.
    let v = ok(
        &s,
        "CreateService",
        json!({"cluster": "cp", "serviceName": "d", "taskDefinition": "web",
               "schedulingStrategy": "DAEMON", "launchType": "EC2"}),
    )
    .await;
    assert_eq!(v["service"]["launchType"], "EC2");
}

#[tokio::test]
async fn changing_load_balancers_starts_a_deployment_that_registers_with_them() {
    let s = server();
    setup(&s).await;
    let tg = xml_first(
        &elb(&s, "CreateTargetGroup", &[("Name", "t"), ("Protocol", "HTTP"), ("Port", "80")]).await,
        "TargetGroupArn",
    );
    let lb = xml_first(
        &elb(
            &s,
            "CreateLoadBalancer",
            &[
                ("Name", "front"),
                ("Subnets.member.1", "subnet-1"),
                ("Subnets.member.2", "subnet-2"),
            ],
        )
        .await,
        "LoadBalancerArn",
    );
    elb(
        &s,
        "CreateListener",
        &[
            ("LoadBalancerArn", &lb),
            ("Protocol", "HTTP"),
            ("Port", "8080"),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", &tg),
        ],
    )
    .await;
    ok(&s, "CreateService", svc("web", 1)).await;
    let lbs = json!([{"targetGroupArn": tg, "containerName": "app", "containerPort": 80}]);
    let v = ok(&s, "UpdateService", json!({"service": "web", "loadBalancers": lbs})).await;
    let deps = v["service"]["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 2);
    assert_eq!(v["service"]["loadBalancers"], lbs);
    let id = deps[0]["id"].as_str().unwrap().to_owned();
    let old = deps[1]["id"].as_str().unwrap().to_owned();
    let r = record(&s, "default", "web").await;
    assert_eq!(r.deployments[&id].load_balancers.len(), 1);
    assert!(r.deployments[&old].load_balancers.is_empty());
    // The same list again is no new deployment; an empty one removes them.
    let v = ok(&s, "UpdateService", json!({"service": "web", "loadBalancers": lbs})).await;
    assert_eq!(v["service"]["deployments"].as_array().unwrap().len(), 2);
    let v = ok(&s, "UpdateService", json!({"service": "web", "loadBalancers": []})).await;
    assert_eq!(v["service"]["deployments"].as_array().unwrap().len(), 3);
    assert_eq!(v["service"]["loadBalancers"], json!([]));
    let (_, m) = refused(
        &s,
        "UpdateService",
        json!({"service": "web",
               "loadBalancers": [{"targetGroupArn": tg, "containerName": "app", "containerPort": 9}]}),
    )
    .await;
    assert_eq!(m, "The container app did not have a container port 9 defined.");
}

#[tokio::test]
async fn a_service_whose_revision_is_gone_can_still_scale() {
    let s = server();
    let td = setup(&s).await;
    ok(&s, "CreateService", svc("web", 1)).await;
    // A deleted revision stays readable (DELETE_IN_PROGRESS) while services
    // use it; stand in for one the store no longer has at all.
    ok(&s, "DeregisterTaskDefinition", json!({"taskDefinition": td})).await;
    ok(&s, "DeleteTaskDefinitions", json!({"taskDefinitions": [td]})).await;
    let v = ok(&s, "UpdateService", json!({"service": "web", "desiredCount": 2})).await;
    assert_eq!(v["service"]["desiredCount"], 2);
    let gone = td.replace("web:1", "web:99");
    scheduler_writes(&s, "default", "web", move |r| r.service.task_definition = Some(gone.clone()))
        .await;
    let v = ok(&s, "UpdateService", json!({"service": "web", "desiredCount": 3})).await;
    assert_eq!(v["service"]["desiredCount"], 3);
    let (k, m) =
        refused(&s, "UpdateService", json!({"service": "web", "forceNewDeployment": true})).await;
    assert_eq!((k.as_str(), m.as_str()), ("ClientException", "TaskDefinition not found."));
}

/// Every random draw the same (0, which the old clamp mapped onto the id
/// that 1 deployment in 9 got): still, each deployment and task set of a
/// service gets an id the service never had, across a delete and a new
/// CreateService of the same name too.
#[tokio::test]
async fn deployment_ids_stay_unique_when_every_draw_coincides() {
    let s = server_drawing(Arc::new(wharf_model::ids::FixedEntropy(0)));
    setup(&s).await;
    let mut seen = std::collections::BTreeSet::new();
    let v = ok(&s, "CreateService", svc("web", 1)).await;
    seen.insert(v["service"]["deployments"][0]["id"].as_str().unwrap().to_owned());
    for _ in 0..5 {
        let v =
            ok(&s, "UpdateService", json!({"service": "web", "forceNewDeployment": true})).await;
        let deps = v["service"]["deployments"].as_array().unwrap();
        let id = deps[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), "ecs-svc/".len() + 19, "{id}");
        assert_eq!(deps[0]["rolloutState"], "IN_PROGRESS");
        assert!(seen.insert(id.clone()), "{id} handed out twice");
    }
    ok(&s, "DeleteService", json!({"service": "web", "force": true})).await;
    scheduler_writes(&s, "default", "web", |r| {
        r.service.status = Some(ServiceStatus::Inactive);
        r.service.deployments = Some(vec![]);
        r.deployments.clear();
    })
    .await;
    let v = ok(&s, "CreateService", svc("web", 1)).await;
    let id = v["service"]["deployments"][0]["id"].as_str().unwrap().to_owned();
    assert!(seen.insert(id.clone()), "{id} handed out again after the service was re-created");

    let ext = json!({"deploymentController": {"type": "EXTERNAL"}});
    ok(&s, "CreateService", with(json!({"serviceName": "ext", "desiredCount": 1}), ext)).await;
    let mut sets = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let v = ok(
            &s,
            "CreateTaskSet",
            json!({"service": "ext", "cluster": "default", "taskDefinition": "web"}),
        )
        .await;
        let id = v["taskSet"]["id"].as_str().unwrap().to_owned();
        assert!(v["taskSet"]["taskSetArn"].as_str().unwrap().ends_with(&id));
        assert!(sets.insert(id.clone()), "task set id {id} handed out twice");
    }
}
