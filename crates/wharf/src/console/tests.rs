//! The console's read models and routes against a real server over a real
//! SQLite store (see [`super::testing`]): what each page shows after the
//! changes a user and an agent make, the errors a wrong address gets, the
//! assets' validators, and the live stream.

use serde_json::{json, Value};
use wharf_model::ecs::shapes::DesiredStatus;
use wharf_model::ecs::status::TaskStatus;
use wharf_store::logs::{Append, NewGroup};

use super::testing::{eventually, xml_field, Harness, REGION};
use super::views::{clusters, load_balancers, services, task_definitions, tasks};

/// Runs `count` tasks of `definition` in `cluster`; their IDs.
async fn run_tasks(h: &Harness, cluster: &str, definition: &str, count: usize) -> Vec<String> {
    let run = h
        .ecs("RunTask", json!({"cluster": cluster, "taskDefinition": definition, "count": count}))
        .await;
    let ids: Vec<String> = run["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| super::views::short_id(t["taskArn"].as_str().expect("arn")).to_owned())
        .collect();
    assert_eq!(ids.len(), count, "{run}");
    ids
}

fn arn(cluster: &str, id: &str) -> String {
    format!("arn:aws:ecs:{REGION}:000000000000:task/{cluster}/{id}")
}

/// Reports a task RUNNING with its container bound to `host_port`.
async fn report_running(h: &Harness, cluster: &str, id: &str, host_port: i32) {
    h.report(
        cluster,
        json!({"taskArn": arn(cluster, id), "lastStatus": "RUNNING",
               "containers": [{"name": "app", "lastStatus": "RUNNING", "runtimeId": "0123456789abcdef0123",
                               "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                                    "hostPort": host_port, "protocol": "tcp"}]}]}),
    )
    .await;
}

#[tokio::test]
async fn cluster_page_lists_services_tasks_and_instances() {
    let h = Harness::start().await;
    let instance = h.instance("default").await;
    let definition = h.task_definition("shop", "wharf-test/busybox:1").await;
    let ids = run_tasks(&h, "default", &definition, 3).await;
    report_running(&h, "default", &ids[0], 32768).await;
    h.report(
        "default",
        json!({"taskArn": arn("default", &ids[1]), "lastStatus": "STOPPED",
               "stoppedReason": "Essential container in task exited", "stopCode": "EssentialContainerExited",
               "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 3}]}),
    )
    .await;
    h.ecs(
        "CreateService",
        json!({"serviceName": "web", "taskDefinition": definition, "desiredCount": 2}),
    )
    .await;
    eventually("the scheduler to start the service's tasks", || async {
        let page = clusters::cluster(h.store(), REGION, "default").await.expect("page");
        page.service_rows.first().is_some_and(|s| s.pending + s.running == 2)
    })
    .await;

    let page = clusters::cluster(h.store(), REGION, "default").await.expect("page");
    assert_eq!(page.row.name, "default");
    assert_eq!(
        (page.row.running, page.row.pending),
        (1, 3),
        "1 reported RUNNING, 1 RunTask and 2 service tasks pending"
    );
    assert_eq!((page.row.services, page.row.instances), (1, 1));
    assert_eq!(page.tasks.len(), 5);
    assert!(!page.truncated);
    // Unstopped first; the stopped one last, with its reason.
    let last = page.tasks.last().expect("rows");
    assert_eq!((last.id.as_str(), last.last_status.as_str()), (ids[1].as_str(), "STOPPED"));
    assert_eq!(last.stopped_reason.as_deref(), Some("Essential container in task exited"));
    assert!(page.tasks[..4].iter().all(|t| t.last_status != TaskStatus::Stopped));
    assert!(page.tasks.iter().all(|t| t.task_definition == "shop:1"));
    assert_eq!(page.tasks.iter().filter(|t| t.group.as_deref() == Some("service:web")).count(), 2);
    let web = &page.service_rows[0];
    assert_eq!((web.name.as_str(), web.status.as_str(), web.desired), ("web", "ACTIVE", 2));
    assert_eq!(web.task_definition, "shop:1");
    assert_eq!(web.rollout.as_ref().map(|r| r.as_str()), Some("IN_PROGRESS"));
    assert_eq!(page.instance_rows.len(), 1);
    assert_eq!(page.instance_rows[0].id, instance);
    assert_eq!(page.instance_rows[0].cpu, format!("0 / {}", 1024 * 64));
    // Which host each task is on, and where each instance is.
    assert_eq!(page.instance_rows[0].address.as_deref(), Some(super::testing::HOST_ADDRESS));
    assert_eq!(page.instance_rows[0].zone.as_deref(), Some("us-east-1a"));
    assert!(
        page.tasks.iter().all(|t| t.host.as_deref() == Some(super::testing::HOST_ADDRESS)),
        "{:?}",
        page.tasks
    );

    let list = clusters::clusters(h.store(), REGION).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0], page.row);
    // The route answers the same view, compactly.
    let json = h.view("/console/api/clusters/default").await;
    assert_eq!(json["tasks"].as_array().map(Vec::len), Some(5));
    assert_eq!(json["serviceRows"][0]["name"], "web");
    assert!(json["tasks"][0].get("stoppedReason").is_none(), "absent fields are left out");
    let regions = h.view("/console/api/regions?region=eu-west-1").await;
    assert_eq!(regions, json!(["eu-west-1", "us-east-1"]));
}

#[tokio::test]
async fn task_page_shows_containers_stop_and_log_streams() {
    let h = Harness::start().await;
    h.instance("default").await;
    let definition = h.task_definition("api", "wharf-test/busybox:1").await;
    let id = run_tasks(&h, "default", &definition, 1).await.remove(0);
    report_running(&h, "default", &id, 32770).await;
    h.ecs("StopTask", json!({"task": id, "reason": "Scaling down <now>"})).await;
    h.report(
        "default",
        json!({"taskArn": arn("default", &id), "lastStatus": "STOPPED", "stoppingAt": 1_699_999_999.0, "stoppedAt": 1_700_000_000.5,
               "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 137,
                               "reason": "OutOfMemoryError: container killed"}]}),
    )
    .await;

    let page = tasks::task(h.store(), REGION, "default", &id).await.expect("page");
    assert_eq!(page.row.last_status, TaskStatus::Stopped);
    assert_eq!(page.row.desired_status, DesiredStatus::Stopped);
    assert_eq!(page.row.stopped_reason.as_deref(), Some("Scaling down <now>"));
    assert_eq!(page.stop_code.as_ref().map(|c| c.as_str()), Some("UserInitiated"));
    assert_eq!(page.row.stopped_at, Some(1_700_000_000_500));
    assert_eq!(page.stopping_at, Some(1_699_999_999_000));
    assert_eq!(page.arn, arn("default", &id));
    let app = &page.containers[0];
    assert_eq!((app.name.as_str(), app.image.as_str()), ("app", "wharf-test/busybox:1"));
    assert_eq!(app.exit_code, Some(137));
    assert_eq!(app.reason.as_deref(), Some("OutOfMemoryError: container killed"));
    assert_eq!(app.ports, ["0.0.0.0:32770->80/tcp"]);
    assert_eq!(app.runtime_id.as_deref(), Some("0123456789ab"));
    assert_eq!(page.logs.len(), 1);
    assert_eq!(page.logs[0].group, "/ecs/api");
    assert_eq!(page.logs[0].stream, format!("ecs/app/{id}"));
    assert_eq!(page.logs[0].region, REGION);

    let (status, body) = h.get("/console/api/clusters/default/tasks/nope").await;
    assert_eq!(status, http::StatusCode::NOT_FOUND);
    assert_eq!(body, r#"{"message":"Task nope not found in cluster default."}"#);
}

#[tokio::test]
async fn service_page_has_deployments_events_and_target_health() {
    let h = Harness::start().await;
    h.instance("default").await;
    let tg = h
        .elb(&[
            ("Action", "CreateTargetGroup"),
            ("Name", "web"),
            ("Protocol", "HTTP"),
            ("Port", "80"),
        ])
        .await;
    let tg_arn = xml_field(&tg, "TargetGroupArn");
    let lb = h
        .elb(&[
            ("Action", "CreateLoadBalancer"),
            ("Name", "front"),
            ("Subnets.member.1", "subnet-1"),
            ("Subnets.member.2", "subnet-2"),
        ])
        .await;
    let lb_arn = xml_field(&lb, "LoadBalancerArn");
    h.elb(&[
        ("Action", "CreateListener"),
        ("LoadBalancerArn", &lb_arn),
        ("Protocol", "HTTP"),
        ("Port", "18080"),
        ("DefaultActions.member.1.Type", "forward"),
        ("DefaultActions.member.1.TargetGroupArn", &tg_arn),
    ])
    .await;
    let definition = h.task_definition("web", "wharf-test/busybox:1").await;
    h.ecs(
        "CreateService",
        json!({"serviceName": "web", "taskDefinition": definition, "desiredCount": 1,
               "loadBalancers": [{"targetGroupArn": tg_arn, "containerName": "app", "containerPort": 80}]}),
    )
    .await;
    eventually("the service's task", || async {
        let page = services::service(h.store(), REGION, "default", "web", 0).await.expect("page");
        !page.tasks.is_empty()
    })
    .await;
    let page = services::service(h.store(), REGION, "default", "web", 0).await.expect("page");
    let task_id = page.tasks[0].id.clone();
    report_running(&h, "default", &task_id, 32771).await;
    let now = || h.state.ops.clock.now_millis();
    eventually("the task registered as a target", || async {
        let page =
            services::service(h.store(), REGION, "default", "web", now()).await.expect("page");
        page.load_balancers[0].target_group.as_ref().is_some_and(|g| !g.targets.is_empty())
    })
    .await;

    let page = services::service(h.store(), REGION, "default", "web", now()).await.expect("page");
    assert_eq!(page.row.desired, 1);
    assert_eq!(page.deployments.len(), 1);
    let d = &page.deployments[0];
    assert_eq!((d.status.as_str(), d.task_definition.as_str()), ("PRIMARY", "web:1"));
    assert_eq!(d.rollout.as_ref().map(|r| r.as_str()), Some("IN_PROGRESS"));
    assert!(d.reason.as_deref().is_some_and(|r| r.contains("in progress")), "{:?}", d.reason);
    assert!(!page.events.is_empty(), "ECS reports the task it started");
    assert!(
        page.events.iter().any(|e| e.message.contains("has started 1 tasks")),
        "{:?}",
        page.events
    );
    let lb = &page.load_balancers[0];
    assert_eq!((lb.container.as_str(), lb.container_port), ("app", Some(80)));
    let group = lb.target_group.as_ref().expect("the group");
    assert_eq!((group.name.as_str(), group.protocol_port.as_str()), ("web", "HTTP:80"));
    let target = &group.targets[0];
    assert_eq!(target.port, 32771);
    assert_eq!(target.state, "initial", "no data plane runs in this test: never checked");
    assert_eq!(target.task.as_deref(), Some(task_id.as_str()), "the target names its task");
    assert_eq!(page.tasks.len(), 1);

    let json = h.view("/console/api/clusters/default/services/web").await;
    assert_eq!(json["loadBalancers"][0]["targetGroup"]["targets"][0]["task"], json!(task_id));
    let (status, _) = h.get("/console/api/clusters/default/services/nope").await;
    assert_eq!(status, http::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_page_shows_its_scalable_target_and_last_activity() {
    let h = Harness::start().await;
    h.instance("default").await;
    let definition = h.task_definition("web", "wharf-test/busybox:1").await;
    h.ecs(
        "CreateService",
        json!({"serviceName": "web", "taskDefinition": definition, "desiredCount": 1}),
    )
    .await;
    let page = services::service(h.store(), REGION, "default", "web", 0).await.expect("page");
    assert_eq!(page.scaling, None, "no scalable target yet");
    let json = h.view("/console/api/clusters/default/services/web").await;
    assert!(json.get("scaling").is_none(), "{json}");

    let target = json!({"ServiceNamespace": "ecs", "ResourceId": "service/default/web",
                        "ScalableDimension": "ecs:service:DesiredCount"});
    let mut register = target.clone();
    register["MinCapacity"] = json!(2);
    register["MaxCapacity"] = json!(5);
    register["SuspendedState"] = json!({"DynamicScalingInSuspended": true});
    h.autoscaling("RegisterScalableTarget", register).await;
    let mut policy = target.clone();
    policy["PolicyName"] = json!("cpu50");
    policy["PolicyType"] = json!("TargetTrackingScaling");
    policy["TargetTrackingScalingPolicyConfiguration"] = json!({"TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}});
    h.autoscaling("PutScalingPolicy", policy).await;
    // The minimum is above the desired count: the next pass scales out to it.
    let scaling = wharf_control::service_scaling::ServiceScaling { ops: h.state.ops.clone() };
    scaling.pass().await.expect("a scaling pass");

    let page = services::service(h.store(), REGION, "default", "web", 0).await.expect("page");
    let view = page.scaling.expect("the scalable target");
    assert_eq!((view.min, view.max), (2, 5));
    assert_eq!(view.suspended, ["scale in"]);
    assert_eq!(view.policies.len(), 1);
    assert_eq!(
        (view.policies[0].name.as_str(), view.policies[0].kind.as_str()),
        ("cpu50", "TargetTrackingScaling")
    );
    let last = view.activities.first().expect("the activity of the scale out");
    assert_eq!(last.description, "Setting desired count to 2.");
    assert_eq!(last.cause, "minimum capacity was set to 2");
    assert!(last.at.is_some());
    let json = h.view("/console/api/clusters/default/services/web").await;
    assert_eq!(json["scaling"]["activities"][0]["description"], "Setting desired count to 2.");
    assert_eq!(json["scaling"]["policies"][0]["kind"], "TargetTrackingScaling");
}

#[tokio::test]
async fn load_balancer_page_reads_listeners_rules_and_targets() {
    let h = Harness::start().await;
    let mut groups = Vec::new();
    for name in ["blue", "green"] {
        let tg = h
            .elb(&[
                ("Action", "CreateTargetGroup"),
                ("Name", name),
                ("Protocol", "HTTP"),
                ("Port", "80"),
                ("TargetType", "ip"),
                ("HealthCheckPath", "/health"),
            ])
            .await;
        groups.push(xml_field(&tg, "TargetGroupArn"));
    }
    let lb = h
        .elb(&[
            ("Action", "CreateLoadBalancer"),
            ("Name", "front"),
            ("Subnets.member.1", "subnet-1"),
            ("Subnets.member.2", "subnet-2"),
        ])
        .await;
    let lb_arn = xml_field(&lb, "LoadBalancerArn");
    let listener = h
        .elb(&[
            ("Action", "CreateListener"),
            ("LoadBalancerArn", &lb_arn),
            ("Protocol", "HTTP"),
            ("Port", "18081"),
            ("DefaultActions.member.1.Type", "fixed-response"),
            ("DefaultActions.member.1.FixedResponseConfig.StatusCode", "404"),
            ("DefaultActions.member.1.FixedResponseConfig.ContentType", "text/plain"),
        ])
        .await;
    let listener_arn = xml_field(&listener, "ListenerArn");
    h.elb(&[
        ("Action", "CreateRule"),
        ("ListenerArn", &listener_arn),
        ("Priority", "10"),
        ("Conditions.member.1.Field", "path-pattern"),
        ("Conditions.member.1.Values.member.1", "/api/*"),
        ("Actions.member.1.Type", "forward"),
        ("Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn", &groups[0]),
        ("Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight", "90"),
        ("Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn", &groups[1]),
        ("Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight", "10"),
    ])
    .await;
    h.elb(&[
        ("Action", "RegisterTargets"),
        ("TargetGroupArn", &groups[0]),
        ("Targets.member.1.Id", "10.0.0.5"),
        ("Targets.member.1.Port", "8000"),
    ])
    .await;

    let list = load_balancers::load_balancers(h.store(), REGION).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_str(), list[0].state.as_str()), ("front", "active"));
    assert_eq!(list[0].listeners, ["HTTP:18081"]);
    assert!(list[0].dns_name.starts_with("front-"), "{}", list[0].dns_name);

    let now = h.state.ops.clock.now_millis();
    let page = load_balancers::load_balancer(h.store(), REGION, "front", now).await.expect("page");
    let rules = &page.listener_rules[0].rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].priority, "10");
    assert_eq!(rules[0].conditions, ["path-pattern: /api/*"]);
    assert_eq!(rules[0].actions, ["forward: blue (weight 90), green (weight 10)"]);
    assert_eq!(rules[1].priority, "default");
    assert_eq!(rules[1].actions, ["fixed-response: 404 text/plain"]);
    let names: Vec<&str> = page.target_groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["blue", "green"]);
    assert_eq!(page.target_groups[0].health_check, "HTTP /health");
    let target = &page.target_groups[0].targets[0];
    assert_eq!(
        (target.id.as_str(), target.port, target.state.as_str()),
        ("10.0.0.5", 8000, "initial")
    );
    assert!(page.target_groups[1].targets.is_empty());

    let (status, body) = h.get("/console/api/load-balancers/none").await;
    assert_eq!(status, http::StatusCode::NOT_FOUND);
    assert!(body.contains("Load balancer 'none' not found."), "{body}");
}

#[tokio::test]
async fn task_definition_families_and_revisions() {
    let h = Harness::start().await;
    h.task_definition("web", "wharf-test/busybox:1").await;
    h.task_definition("web", "wharf-test/busybox:2").await;
    h.task_definition("worker", "wharf-test/busybox:1").await;
    h.ecs("DeregisterTaskDefinition", json!({"taskDefinition": "web:1"})).await;

    let families = task_definitions::families(h.store(), REGION).await.expect("families");
    let summary: Vec<(&str, usize, usize, i32)> =
        families.iter().map(|f| (f.family.as_str(), f.revisions, f.active, f.latest)).collect();
    assert_eq!(summary, [("web", 2, 1, 2), ("worker", 1, 1, 1)]);
    let web = task_definitions::family(h.store(), REGION, "web").await.expect("family");
    let revisions: Vec<(i32, &str)> =
        web.revisions.iter().map(|r| (r.revision, r.status.as_str())).collect();
    assert_eq!(revisions, [(2, "ACTIVE"), (1, "INACTIVE")]);
    assert_eq!(web.revisions[0].containers, ["app (wharf-test/busybox:2)"]);
    assert!(web.revisions[0].registered_at.is_some());
    let json = h.view("/console/api/task-definitions/web/revisions/2").await;
    assert_eq!(json["containerDefinitions"][0]["image"], "wharf-test/busybox:2");

    let diff = h.view("/console/api/task-definitions/web/diff/1/2").await;
    assert_eq!(
        diff,
        json!({"family": "web", "a": 1, "b": 2, "changes": [{
            "path": "containerDefinitions[app].image",
            "before": "wharf-test/busybox:1", "after": "wharf-test/busybox:2"}]})
    );
    let same = task_definitions::diff(h.store(), REGION, "web", 2, 2).await.expect("diff");
    assert!(same.changes.is_empty());

    for (path, status, message) in [
        ("/console/api/task-definitions/web/diff/1/7", 404, "Task definition web:7 not found."),
        ("/console/api/task-definitions/web/diff/one/2", 400, "revision \\\"one\\\" is not"),
        (
            "/console/api/task-definitions/web/revisions/x",
            400,
            r#"revision \"x\" is not a revision number"#,
        ),
        ("/console/api/task-definitions/web/revisions/0", 400, "is not a revision number"),
        ("/console/api/task-definitions/web/revisions/9", 404, "Task definition web:9 not found."),
        ("/console/api/task-definitions/nope", 404, "Task definition family nope not found."),
        (
            "/console/api/clusters?region=US_EAST",
            400,
            "region \\\"US_EAST\\\" is not a region name",
        ),
        ("/console/api/clusters/none", 404, "Cluster none not found."),
        ("/console/api/nothing/here", 404, "The console has no API /console/api/nothing/here."),
    ] {
        let (got, body) = h.get(path).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert!(body.contains(message), "{path}: {body}");
        let parsed: Value = serde_json::from_str(&body).expect("errors are JSON");
        assert!(parsed["message"].is_string());
    }
}

#[tokio::test]
async fn assets_come_with_types_and_validators() {
    let h = Harness::start().await;
    for (path, kind) in [
        ("/console", "text/html; charset=utf-8"),
        ("/console/", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
    ] {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let uri: http::Uri = format!("http://{}{path}", h.addr).parse().expect("uri");
        let first = client.get(uri.clone()).await.expect("answer");
        assert_eq!(first.status(), 200, "{path}");
        assert_eq!(first.headers()[http::header::CONTENT_TYPE], kind, "{path}");
        let etag = first.headers()[http::header::ETAG].clone();
        let again = http::Request::get(uri)
            .header(http::header::IF_NONE_MATCH, etag)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        assert_eq!(client.request(again).await.expect("answer").status(), 304, "{path}");
    }
    let (_, page) = h.get("/console").await;
    assert!(page.contains(r#"<meta name="viewport""#), "readable on a phone");
    assert!(!page.contains("http://") && !page.contains("https://"), "nothing from elsewhere");
}

/// Reads server-sent events from a response body until `done` says so.
async fn read_events(
    body: &mut hyper::body::Incoming,
    mut done: impl FnMut(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    use http_body_util::BodyExt;
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done(&events) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("timed out; events so far: {events:?}"))
            .expect("the stream stays open")
            .expect("a frame");
        let Ok(data) = frame.into_data() else { continue };
        text.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if !data.is_empty() {
                events.push((name, serde_json::from_str(&data).expect("event data is JSON")));
            }
        }
    }
    events
}

fn log_append(group: &str, stream: &str, lines: &[(i64, &str)]) -> Append {
    Append {
        group: NewGroup {
            name: group.into(),
            created: 0,
            class: "STANDARD".into(),
            kms_key_id: None,
            tags: Default::default(),
        },
        stream: stream.into(),
        create_group: true,
        create_stream: true,
        events: lines.iter().map(|(t, m)| (*t, (*m).to_owned())).collect(),
        ingested: 0,
        cursor: None,
    }
}

#[tokio::test]
async fn live_stream_sends_backlog_new_lines_and_changed_rows() {
    let h = Harness::start().await;
    h.instance("default").await;
    let definition = h.task_definition("live", "wharf-test/busybox:1").await;
    let id = run_tasks(&h, "default", &definition, 1).await.remove(0);
    let stream = format!("ecs/app/{id}");
    let t0 = h.state.ops.clock.now_millis();
    h.state
        .logs
        .append(REGION, log_append("/ecs/live", &stream, &[(t0, "first"), (t0 + 1, "second")]))
        .await
        .expect("append");

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let uri = format!("http://{}/console/events?cluster=default&task={id}", h.addr);
    let response = client.get(uri.parse().expect("uri")).await.expect("answer");
    assert_eq!(response.headers()[http::header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();
    let backlog = read_events(&mut body, |e| !e.is_empty()).await;
    assert_eq!(backlog[0].0, "log");
    assert_eq!(
        backlog[0].1,
        json!([{"c": "app", "t": t0, "m": "first"}, {"c": "app", "t": t0 + 1, "m": "second"}])
    );

    // A new line arrives as it is appended; a status change as the task's row.
    h.state
        .logs
        .append(REGION, log_append("/ecs/live", &stream, &[(t0 + 2, "<b>third</b>")]))
        .await
        .expect("append");
    let more = read_events(&mut body, |e| !e.is_empty()).await;
    assert_eq!(
        more[0],
        ("log".to_owned(), json!([{"c": "app", "t": t0 + 2, "m": "<b>third</b>"}]))
    );
    report_running(&h, "default", &id, 32772).await;
    let changed = read_events(&mut body, |e| e.iter().any(|(n, _)| n == "tasks")).await;
    let (_, rows) = changed.iter().find(|(n, _)| n == "tasks").expect("tasks");
    assert_eq!(rows[0]["id"], json!(id));
    assert_eq!(rows[0]["lastStatus"], "RUNNING");
    // Lines of other streams are not sent.
    h.state
        .logs
        .append(REGION, log_append("/ecs/live", "ecs/app/other", &[(t0 + 3, "not mine")]))
        .await
        .expect("append");
    h.state
        .logs
        .append(REGION, log_append("/ecs/live", &stream, &[(t0 + 4, "fourth")]))
        .await
        .expect("append");
    let last = read_events(&mut body, |e| e.iter().any(|(n, _)| n == "log")).await;
    let (_, lines) = last.iter().find(|(n, _)| n == "log").expect("log");
    assert_eq!(lines, &json!([{"c": "app", "t": t0 + 4, "m": "fourth"}]));
}
