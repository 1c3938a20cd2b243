//! Service auto scaling end to end, with the real `aws` CLI (`ecs`, `elbv2`,
//! `application-autoscaling`, `cloudwatch`) and a real Docker Engine, on a server
//! whose metric period is 5 s (`--metrics-period`): a service of busybox httpd tasks
//! behind a load balancer, whose every request burns CPU in a CGI script, tracks 50%
//! CPU. Under a steady request rate it scales out from 1 to the number of tasks the
//! service's measured CPU asks for (`ceil(1 × CPU / 50)`), and back in to its minimum
//! once the requests stop. The alarms, metrics, activities, the service's events and
//! `wharf services` show it. Needs Docker (scripts/docker-up) and the `aws` CLI:
//! without them the test fails saying so, it never skips.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer, TEST_IMAGE};

/// The metric period the server runs with, seconds.
const PERIOD_S: u64 = 5;
/// The most tasks the target may have.
const MAX: i64 = 6;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
}

fn wait_for<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// GET `path` on the listener: the status.
fn get(port: u16, path: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().expect("addr"),
        Duration::from_secs(2),
    )
    .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("read: {e}"))?;
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))
}

/// Requests to the CGI script at `per_second`, spread over worker threads, until
/// `stop`; counts answered requests.
fn load(
    port: u16,
    per_second: u32,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
) -> Vec<std::thread::JoinHandle<()>> {
    let workers = per_second;
    (0..workers)
        .map(|i| {
            let (stop, ok) = (stop.clone(), ok.clone());
            std::thread::spawn(move || {
                // Staggered, one request a second each.
                std::thread::sleep(Duration::from_millis(u64::from(i) * 1000 / u64::from(workers)));
                let mut next = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    if get(port, "/cgi-bin/burn") == Ok(200) {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    next += Duration::from_secs(1);
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    } else {
                        next = Instant::now();
                    }
                }
            })
        })
        .collect()
}

/// Seconds since the epoch of an ISO 8601 timestamp, as CLI version 2 prints them
/// (`2026-12-06T12:00:01.250000+00:00`, always UTC from Wharf); version 1 prints the
/// wire's epoch seconds.
fn epoch(t: &str) -> f64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().expect("timestamp field");
    let days = wharf_model::clock::days_from_civil(n(0..4), n(5..7), n(8..10));
    let secs: f64 =
        t[17..].trim_end_matches("+00:00").trim_end_matches('Z').parse().expect("seconds");
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60) as f64 + secs
}

#[test]
fn target_tracking_scales_a_cpu_burning_service_out_to_what_its_cpu_asks_and_back_in() {
    let cluster = format!("scale-{}", std::process::id());
    let period = PERIOD_S.to_string() + "s";
    let w = ClusterServer::launch(
        cluster.clone(),
        &["--allow-reset", "--listener-address", "127.0.0.1", "--metrics-period", &period],
    );
    let ecs = Aws::new(&w.server, "ecs");
    let elb = Aws::new(&w.server, "elbv2");
    let aas = Aws::new(&w.server, "application-autoscaling");
    let cw = Aws::new(&w.server, "cloudwatch");

    // Each request to /cgi-bin/burn costs about 20 ms of CPU; the task reserves 128
    // CPU units (an eighth of a core).
    let script = "mkdir -p /www/cgi-bin && echo ok > /www/index.html && \
        printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\ni=0\\nwhile [ $i -lt 20000 ]; \
        do i=$((i+1)); done\\necho burnt\\n' > /www/cgi-bin/burn && chmod +x /www/cgi-bin/burn && \
        exec httpd -f -p 80 -h /www";
    let td = json!({
        "family": "burner",
        "networkMode": "bridge",
        "cpu": "128",
        "memory": "64",
        "containerDefinitions": [{
            "name": "web",
            "image": TEST_IMAGE,
            "essential": true,
            "stopTimeout": 2,
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "command": ["sh", "-c", script],
        }],
    });
    let rev = s(&ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()])
        ["taskDefinition"]["taskDefinitionArn"]);
    let tg = elb.quick_target_group("burner", "instance", Some(1));
    let port = free_port();
    elb.forwarding_listener("burner-lb", port, &tg);
    ecs.ok(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "burner",
        "--task-definition",
        &rev,
        "--desired-count",
        "1",
        "--load-balancers",
        &format!("targetGroupArn={tg},containerName=web,containerPort=80"),
    ]);
    let describe = || {
        ecs.ok(&["describe-services", "--cluster", &cluster, "--services", "burner"])["services"][0]
            .clone()
    };
    wait_for(
        "one task answering through the load balancer",
        Duration::from_secs(60),
        || (describe()["runningCount"] == 1 && get(port, "/") == Ok(200)).then_some(()),
        || format!("{:#}", describe()),
    );

    // The scalable target and a target tracking policy on the service's CPU.
    let resource = format!("service/{cluster}/burner");
    let target = aas.ok(&[
        "register-scalable-target",
        "--service-namespace",
        "ecs",
        "--resource-id",
        &resource,
        "--scalable-dimension",
        "ecs:service:DesiredCount",
        "--min-capacity",
        "1",
        "--max-capacity",
        &MAX.to_string(),
    ]);
    assert!(
        s(&target["ScalableTargetARN"]).starts_with("arn:aws:application-autoscaling:us-east-1:")
    );
    let config = json!({
        "TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        "ScaleOutCooldown": 10,
        "ScaleInCooldown": 4,
    });
    let policy = aas.ok(&[
        "put-scaling-policy",
        "--service-namespace",
        "ecs",
        "--resource-id",
        &resource,
        "--scalable-dimension",
        "ecs:service:DesiredCount",
        "--policy-name",
        "cpu50",
        "--policy-type",
        "TargetTrackingScaling",
        "--target-tracking-scaling-policy-configuration",
        &config.to_string(),
    ]);
    let alarms: Vec<String> =
        policy["Alarms"].as_array().expect("Alarms").iter().map(|a| s(&a["AlarmName"])).collect();
    assert_eq!(alarms.len(), 2, "{policy:#}");
    let high = alarms.iter().find(|a| a.contains("-AlarmHigh-")).expect("AlarmHigh").clone();
    assert!(high.starts_with(&format!("TargetTracking-{resource}-AlarmHigh-")), "{high}");
    let described =
        cw.ok(&["describe-alarms", "--alarm-name-prefix", &format!("TargetTracking-{resource}-")]);
    let shown: Vec<&Value> =
        described["MetricAlarms"].as_array().expect("MetricAlarms").iter().collect();
    assert_eq!(shown.len(), 2, "{described:#}");
    let high_alarm =
        shown.iter().find(|a| a["AlarmName"] == high.as_str()).expect("high alarm shown");
    assert_eq!(high_alarm["Namespace"], "AWS/ECS");
    assert_eq!(high_alarm["MetricName"], "CPUUtilization");
    assert_eq!(high_alarm["Threshold"], 50.0);
    assert_eq!(high_alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(high_alarm["EvaluationPeriods"], 3);
    assert_eq!(high_alarm["Period"], PERIOD_S);
    assert_eq!(high_alarm["AlarmActions"][0], policy["PolicyARN"]);

    // Load: 8 requests a second, about 160 CPU units, 125% of one task's reservation.
    let (stop, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let workers = load(port, 8, stop.clone(), answered.clone());
    let activities = || {
        aas.ok(&[
            "describe-scaling-activities",
            "--service-namespace",
            "ecs",
            "--resource-id",
            &resource,
        ])["ScalingActivities"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let out = wait_for(
        "a scale out",
        Duration::from_secs(90),
        || {
            activities()
                .into_iter()
                .find(|a| a["Cause"].as_str().is_some_and(|c| c.contains("AlarmHigh")))
        },
        || format!("service: {:#}", describe()),
    );
    let scaled_in = started.elapsed();
    assert_eq!(
        out["Cause"],
        format!("monitor alarm {high} in state ALARM triggered policy cpu50").as_str(),
        "{out:#}"
    );
    let to: i64 = s(&out["Description"])
        .strip_prefix("Setting desired count to ")
        .and_then(|d| d.trim_end_matches('.').parse().ok())
        .unwrap_or_else(|| panic!("{out:#}"));
    // The right number: ceil(1 × CPU / 50) from the last period the alarm saw.
    let at = out["StartTime"].as_f64().unwrap_or_else(|| epoch(&s(&out["StartTime"])));
    let last_period = ((at / PERIOD_S as f64).floor() - 1.0) * PERIOD_S as f64;
    let stats = cw.ok(&[
        "get-metric-statistics",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--dimensions",
        &format!("Name=ClusterName,Value={cluster}"),
        "Name=ServiceName,Value=burner",
        "--start-time",
        &format!("{last_period}"),
        "--end-time",
        &format!("{}", last_period + PERIOD_S as f64),
        "--period",
        &PERIOD_S.to_string(),
        "--statistics",
        "Average",
        "SampleCount",
    ]);
    let point = &stats["Datapoints"][0];
    let cpu = point["Average"].as_f64().unwrap_or_else(|| panic!("no datapoint: {stats:#}"));
    assert!(cpu > 50.0, "the alarm fired on {cpu}%");
    let want = ((cpu / 50.0).ceil() as i64).clamp(2, MAX);
    assert_eq!(to, want, "ceil(1 × {cpu} / 50) within 1..{MAX}; {out:#}");
    assert_eq!(point["Unit"], "Percent");
    assert_eq!(point["SampleCount"], 1.0, "one task counted");
    wait_for(
        &format!("{to} tasks running"),
        Duration::from_secs(60),
        || (describe()["runningCount"] == to).then_some(()),
        || format!("{:#}", describe()),
    );
    eprintln!(
        "scale out to {to} ({cpu:.0}% on one task) {:.1}s after the load started; {} tasks running at {:.1}s",
        scaled_in.as_secs_f64(),
        to,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(out["StatusCode"], "Successful", "{out:#}");
    let svc = describe();
    let events: Vec<String> =
        svc["events"].as_array().into_iter().flatten().map(|e| s(&e["message"])).collect();
    assert!(
        events.iter().any(|m| m.contains(&format!("set its desired count from 1 to {to}"))),
        "{events:#?}"
    );
    let listed = cw.ok(&[
        "list-metrics",
        "--namespace",
        "AWS/ECS",
        "--dimensions",
        "Name=ServiceName,Value=burner",
    ]);
    let names: Vec<String> =
        listed["Metrics"].as_array().into_iter().flatten().map(|m| s(&m["MetricName"])).collect();
    assert!(
        names.contains(&"CPUUtilization".into()) && names.contains(&"MemoryUtilization".into()),
        "{listed:#}"
    );

    // `wharf services` shows the target and its last activity.
    let table = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["services", "--endpoint", &w.server.endpoint(), "--cluster", &cluster])
        .env("NO_COLOR", "1")
        .output()
        .expect("wharf services");
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("SCALING") && table.contains(&format!("1-{MAX}")), "{table}");
    assert!(table.contains("Setting desired count to"), "{table}");

    // The load stops: back in to the minimum, never below it.
    stop.store(true, Ordering::SeqCst);
    for h in workers {
        h.join().expect("load worker");
    }
    assert!(answered.load(Ordering::SeqCst) > 0);
    let stopped = Instant::now();
    let mut lowest = i64::MAX;
    wait_for(
        "a scale in to 1",
        Duration::from_secs(120),
        || {
            let d = describe()["desiredCount"].as_i64().unwrap_or(-1);
            lowest = lowest.min(d);
            (d == 1).then_some(())
        },
        || format!("{:#}", describe()),
    );
    assert_eq!(lowest, 1, "never below the minimum");
    eprintln!("scaled in to 1 {:.1}s after the load stopped", stopped.elapsed().as_secs_f64());
    let inward = activities()
        .into_iter()
        .find(|a| a["Cause"].as_str().is_some_and(|c| c.contains("AlarmLow")))
        .expect("a scale-in activity");
    assert_eq!(inward["Description"], "Setting desired count to 1.");
    assert_eq!(inward["StatusCode"], "Successful");
}

/// `at(yyyy-mm-ddThh:mm:ss)` of `from_now` from now, in UTC.
fn at_from_now(from_now: Duration) -> String {
    let t = std::time::SystemTime::now() + from_now;
    let secs = t.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    let (y, m, d) = wharf_model::clock::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("at({y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02})", s / 3600, s % 3600 / 60, s % 60)
}

#[test]
fn a_step_policy_acts_on_a_custom_metric_alarm_and_a_scheduled_action_raises_the_minimum() {
    let cluster = format!("step-{}", std::process::id());
    let w = ClusterServer::launch(cluster.clone(), &["--allow-reset", "--metrics-period", "5s"]);
    let ecs = Aws::new(&w.server, "ecs");
    let aas = Aws::new(&w.server, "application-autoscaling");
    let cw = Aws::new(&w.server, "cloudwatch");
    let td = json!({
        "family": "queue",
        "containerDefinitions": [{
            "name": "worker", "image": TEST_IMAGE, "memory": 16, "essential": true,
            "stopTimeout": 2, "command": ["sleep", "3600"],
        }],
    });
    let rev = s(&ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()])
        ["taskDefinition"]["taskDefinitionArn"]);
    ecs.ok(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "queue",
        "--task-definition",
        &rev,
        "--desired-count",
        "1",
    ]);
    let resource = format!("service/{cluster}/queue");
    let target = [
        "--service-namespace",
        "ecs",
        "--resource-id",
        &resource,
        "--scalable-dimension",
        "ecs:service:DesiredCount",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        target.iter().chain(extra).map(|a| (*a).to_owned()).collect()
    };
    let run = |op: &str, extra: &[&str]| {
        let args: Vec<String> = std::iter::once(op.to_owned()).chain(with(extra)).collect();
        aas.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run("register-scalable-target", &["--min-capacity", "1", "--max-capacity", "5"]);
    // +1 for a backlog up to 30 over the threshold, +2 beyond; a minute's cooldown.
    let config = json!({
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 30, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 30, "ScalingAdjustment": 2},
        ],
        "Cooldown": 60,
    });
    let policy = run(
        "put-scaling-policy",
        &[
            "--policy-name",
            "backlog",
            "--policy-type",
            "StepScaling",
            "--step-scaling-policy-configuration",
            &config.to_string(),
        ],
    );
    let policy_arn = s(&policy["PolicyARN"]);
    // A step policy with overlapping steps is refused, naming the problem.
    let bad = json!({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 30, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 2}]});
    let args: Vec<String> = std::iter::once("put-scaling-policy".to_owned())
        .chain(with(&[
            "--policy-name",
            "bad",
            "--policy-type",
            "StepScaling",
            "--step-scaling-policy-configuration",
            &bad.to_string(),
        ]))
        .collect();
    let err = aas.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("ValidationException") && err.contains("overlap"), "{err}");
    cw.ok(&[
        "put-metric-alarm",
        "--alarm-name",
        "queue-backlog-high",
        "--namespace",
        "Wharf/Test",
        "--metric-name",
        "Backlog",
        "--dimensions",
        "Name=ServiceName,Value=queue",
        "--statistic",
        "Average",
        "--period",
        "10",
        "--evaluation-periods",
        "1",
        "--threshold",
        "50",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--alarm-actions",
        &policy_arn,
    ]);
    let describe = || {
        ecs.ok(&["describe-services", "--cluster", &cluster, "--services", "queue"])["services"][0]
            .clone()
    };
    // The backlog, 100 (50 over the threshold), put every second.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                cw.ok(&[
                    "put-metric-data",
                    "--namespace",
                    "Wharf/Test",
                    "--metric-name",
                    "Backlog",
                    "--dimensions",
                    "ServiceName=queue",
                    "--value",
                    "100",
                ]);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        wait_for(
            "the step policy's scale out to 3",
            Duration::from_secs(40),
            || (describe()["desiredCount"] == 3).then_some(()),
            || format!("{:#}", describe()),
        );
        let alarm = cw.ok(&["describe-alarms", "--alarm-names", "queue-backlog-high"]);
        assert_eq!(alarm["MetricAlarms"][0]["StateValue"], "ALARM", "{alarm:#}");
        let reason = s(&alarm["MetricAlarms"][0]["StateReason"]);
        assert!(
            reason.starts_with("Threshold Crossed: 1 out of the last 1 datapoints [100.0]"),
            "{reason}"
        );
        // The cooldown: the alarm stays in ALARM, but the +2 counts from 1 again.
        std::thread::sleep(Duration::from_secs(12));
        assert_eq!(describe()["desiredCount"], 3, "held by the cooldown");
        stop.store(true, Ordering::SeqCst);
    });
    let activities = run("describe-scaling-activities", &[]);
    let first = &activities["ScalingActivities"][0];
    assert_eq!(first["Description"], "Setting desired count to 3.");
    assert_eq!(
        first["Cause"],
        "monitor alarm queue-backlog-high in state ALARM triggered policy backlog"
    );
    assert_eq!(first["StatusCode"], "Successful");

    // A scheduled action raises the minimum on time; the service follows.
    let when = at_from_now(Duration::from_secs(8));
    run(
        "put-scheduled-action",
        &[
            "--scheduled-action-name",
            "morning",
            "--schedule",
            &when,
            "--scalable-target-action",
            "MinCapacity=4,MaxCapacity=5",
        ],
    );
    let listed = run("describe-scheduled-actions", &[]);
    assert_eq!(listed["ScheduledActions"][0]["Schedule"], when.as_str());
    let raised = Instant::now();
    wait_for(
        "the minimum of 4",
        Duration::from_secs(30),
        || (describe()["desiredCount"] == 4).then_some(()),
        || format!("{:#}", run("describe-scaling-activities", &[])),
    );
    assert!(raised.elapsed() >= Duration::from_secs(6), "not before its time");
    let targets = run("describe-scalable-targets", &[]);
    assert_eq!(targets["ScalableTargets"][0]["MinCapacity"], 4);
    let causes: Vec<String> = run("describe-scaling-activities", &[])["ScalingActivities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| s(&a["Cause"]))
        .collect();
    assert!(
        causes.contains(&"scheduled action name morning was triggered".to_owned()),
        "{causes:#?}"
    );
    assert!(causes.contains(&"minimum capacity was set to 4".to_owned()), "{causes:#?}");

    // Deleting the policy leaves the user's alarm; deregistering the target ends it.
    run("delete-scaling-policy", &["--policy-name", "backlog"]);
    run("deregister-scalable-target", &[]);
    let targets = run("describe-scalable-targets", &[]);
    assert_eq!(targets["ScalableTargets"], json!([]), "{targets}");
    let args: Vec<String> = std::iter::once("delete-scaling-policy".to_owned())
        .chain(with(&["--policy-name", "backlog"]))
        .collect();
    let err = aas.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("ObjectNotFoundException"), "{err}");
    assert_eq!(
        cw.ok(&["describe-alarms", "--alarm-names", "queue-backlog-high"])["MetricAlarms"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// Data points PutMetricData accepted are kept: a server killed with SIGKILL
/// and started again on its data directory still answers them.
#[test]
fn metric_data_survives_a_killed_server() {
    let mut server = support::Server::start();
    let cw = Aws::new(&server, "cloudwatch");
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let args = |value: &str| {
        vec![
            "put-metric-data".to_owned(),
            "--namespace".to_owned(),
            "Wharf/Durable".to_owned(),
            "--metric-name".to_owned(),
            "Backlog".to_owned(),
            "--dimensions".to_owned(),
            "Queue=q".to_owned(),
            "--timestamp".to_owned(),
            now.to_string(),
            "--value".to_owned(),
            value.to_owned(),
        ]
    };
    for v in ["3", "4"] {
        cw.ok(&args(v).iter().map(String::as_str).collect::<Vec<_>>());
    }
    let (start, end) = ((now - 600).to_string(), (now + 60).to_string());
    let stats = [
        "get-metric-statistics",
        "--namespace",
        "Wharf/Durable",
        "--metric-name",
        "Backlog",
        "--dimensions",
        "Name=Queue,Value=q",
        "--start-time",
        &start,
        "--end-time",
        &end,
        "--period",
        "660",
        "--statistics",
        "Sum",
        "SampleCount",
    ];
    let sum = |v: &Value| {
        v["Datapoints"][0]["Sum"].as_f64().zip(v["Datapoints"][0]["SampleCount"].as_f64())
    };
    assert_eq!(sum(&cw.ok(&stats)), Some((7.0, 2.0)));

    server.start_again();
    let cw = Aws::new(&server, "cloudwatch");
    let after = wait_for(
        "the points back after the restart",
        Duration::from_secs(20),
        || sum(&cw.ok(&stats)),
        || server.log(),
    );
    assert_eq!(after, (7.0, 2.0), "each point once, none lost");
    let listed = cw.ok(&["list-metrics", "--namespace", "Wharf/Durable"]);
    assert_eq!(listed["Metrics"].as_array().map(Vec::len), Some(1), "{listed:#}");
}

/// Two servers on one etcd: points given to one are answered by the other
/// (the leader's alarms see what any server took), and stay when the server
/// that took them is gone.
#[test]
fn metric_data_given_to_one_server_is_answered_by_another() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let etcd = runtime
        .block_on(wharf_store::etcd::local::LocalCluster::start(&dir.path().join("etcd"), 1))
        .expect("etcd (apt install etcd-server; .ci/run does)");
    let store = etcd.store_url(&format!("metrics-{}", std::process::id()));
    let args = ["--no-agent", "--store", &store];
    let one = support::Server::start_with(&args);
    let mut two = support::Server::start_with(&args);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    Aws::new(&two, "cloudwatch").ok(&[
        "put-metric-data",
        "--namespace",
        "Wharf/Shared",
        "--metric-name",
        "Backlog",
        "--timestamp",
        &now,
        "--value",
        "9",
    ]);
    two.kill();
    let cw = Aws::new(&one, "cloudwatch");
    let start = (now.parse::<u64>().expect("seconds") - 600).to_string();
    let stats = [
        "get-metric-statistics",
        "--namespace",
        "Wharf/Shared",
        "--metric-name",
        "Backlog",
        "--start-time",
        &start,
        "--end-time",
        &(now.parse::<u64>().expect("seconds") + 60).to_string(),
        "--period",
        "660",
        "--statistics",
        "Sum",
    ];
    let sum = wait_for(
        "the other server to answer the point",
        Duration::from_secs(20),
        || cw.ok(&stats)["Datapoints"][0]["Sum"].as_f64(),
        || one.log(),
    );
    assert_eq!(sum, 9.0);
}
