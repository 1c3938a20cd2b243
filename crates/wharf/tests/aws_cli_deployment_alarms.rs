//! ECS deployments watched by CloudWatch alarms, end to end with the real `aws` CLI
//! (`aws cloudwatch`, `aws ecs`) and a real Docker Engine: a rolling deployment whose
//! `deploymentConfiguration.alarms` names an alarm that stays OK bakes, then completes;
//! a new revision whose alarm is tripped with SetAlarmState (as one trips an alarm in
//! AWS) fails and rolls back to the last completed deployment, as ECS does, and its
//! service deployment says which alarm went off. Needs Docker (scripts/docker-up) and
//! the `aws` CLI: without them the test fails saying so.

mod support;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer};

const IMAGE: &str = "wharf-test/busybox:1";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A bridge-mode httpd revision of `family` with a container health check (healthy
/// after 5 s).
fn register(ecs: &Aws<'_>, family: &str, answer: &str) -> String {
    let script =
        format!("mkdir -p /www && echo {answer} > /www/index.html && exec httpd -f -p 80 -h /www");
    let td = json!({
        "family": family,
        "networkMode": "bridge",
        "containerDefinitions": [{
            "name": "web", "image": IMAGE, "memory": 32, "essential": true, "stopTimeout": 2,
            "portMappings": [{"containerPort": 80, "hostPort": 0}],
            "command": ["sh", "-c", script],
            "healthCheck": {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"],
                            "interval": 5, "timeout": 2, "retries": 2},
        }],
    });
    s(&ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()])["taskDefinition"]
        ["taskDefinitionArn"])
}

fn messages(svc: &Value) -> Vec<String> {
    svc["events"].as_array().into_iter().flatten().map(|e| s(&e["message"])).collect()
}

#[test]
fn an_ok_alarm_lets_a_deployment_complete_and_a_tripped_one_rolls_it_back() {
    let cluster = format!("alarms-{}", std::process::id());
    let w = ClusterServer::launch(cluster.clone(), &["--listener-address", "off"]);
    let ecs = Aws::new(&w.server, "ecs");
    let cw = Aws::new(&w.server, "cloudwatch");
    cw.ok(&[
        "put-metric-alarm",
        "--alarm-name",
        "web-errors",
        "--namespace",
        "AWS/ApplicationELB",
        "--metric-name",
        "HTTPCode_Target_5XX_Count",
        "--statistic",
        "Sum",
        "--period",
        "10",
        "--evaluation-periods",
        "1",
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanOrEqualToThreshold",
        "--treat-missing-data",
        "notBreaching",
    ]);
    let alarm = cw.ok(&["describe-alarms", "--alarm-names", "web-errors"]);
    assert_eq!(alarm["MetricAlarms"][0]["StateValue"], "INSUFFICIENT_DATA");
    // OK from now on: set so until its first evaluation, then no data, not breaching.
    cw.ok(&[
        "set-alarm-state",
        "--alarm-name",
        "web-errors",
        "--state-value",
        "OK",
        "--state-reason",
        "quiet",
    ]);
    let alarm_state = || {
        let a = cw.ok(&["describe-alarms", "--alarm-names", "web-errors"]);
        s(&a["MetricAlarms"][0]["StateValue"])
    };
    assert_eq!(alarm_state(), "OK");

    let v1 = register(&ecs, "alarmed-web", "one");
    let describe = || {
        ecs.ok(&["describe-services", "--cluster", &cluster, "--services", "web"])["services"][0]
            .clone()
    };
    ecs.ok(&[
        "create-service", "--cluster", &cluster, "--service-name", "web", "--task-definition", &v1,
        "--desired-count", "1", "--deployment-configuration",
        "alarms={alarmNames=[web-errors],enable=true,rollback=true},minimumHealthyPercent=100,maximumPercent=200",
    ]);
    let last = RefCell::new(Value::Null);
    let completed_on = |revision: &str, what: &str| {
        wait_for(
            what,
            Duration::from_secs(120),
            || {
                let svc = describe();
                let deps = svc["deployments"].as_array().cloned().unwrap_or_default();
                let done = deps.len() == 1
                    && deps[0]["rolloutState"] == "COMPLETED"
                    && deps[0]["taskDefinition"].as_str().is_some_and(|t| t.ends_with(revision))
                    && svc["runningCount"] == 1;
                *last.borrow_mut() = svc.clone();
                done.then_some(svc)
            },
            || format!("last seen: {:#}", last.borrow()),
        )
    };
    // The first deployment completes after its tasks are healthy and it baked for the
    // alarm's window (10 s): IN_PROGRESS while it bakes.
    let healthy_at = wait_for(
        "the first task to be healthy",
        Duration::from_secs(90),
        || {
            let tasks = ecs.ok(&["list-tasks", "--cluster", &cluster, "--service-name", "web"]);
            let arns: Vec<String> = tasks["taskArns"].as_array()?.iter().map(s).collect();
            if arns.is_empty() {
                return None;
            }
            let mut args = vec!["describe-tasks", "--cluster", &cluster, "--tasks"];
            args.extend(arns.iter().map(String::as_str));
            let t = ecs.ok(&args);
            (t["tasks"][0]["healthStatus"] == "HEALTHY").then(Instant::now)
        },
        String::new,
    );
    let first = describe();
    assert_eq!(first["deployments"][0]["rolloutState"], "IN_PROGRESS", "baking: {first:#}");
    let first = completed_on(":1", "the first deployment to complete");
    assert!(healthy_at.elapsed() >= Duration::from_secs(7), "it baked about 10 s");
    assert_eq!(alarm_state(), "OK", "the alarm stayed OK");
    let good_id = s(&first["deployments"][0]["id"]);

    // A new revision: once its task runs, the alarm goes off.
    let v2 = register(&ecs, "alarmed-web", "two");
    let updated = ecs.ok(&[
        "update-service",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--task-definition",
        &v2,
    ]);
    let new_id = updated["service"]["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "PRIMARY")
        .map(|d| s(&d["id"]))
        .expect("a PRIMARY deployment");
    wait_for(
        "the new revision's task to run",
        Duration::from_secs(60),
        || {
            let svc = describe();
            let running = svc["deployments"]
                .as_array()?
                .iter()
                .any(|d| d["id"] == new_id.as_str() && d["runningCount"] == 1);
            running.then_some(())
        },
        || format!("{:#}", describe()),
    );
    cw.ok(&[
        "set-alarm-state",
        "--alarm-name",
        "web-errors",
        "--state-value",
        "ALARM",
        "--state-reason",
        "errors from the new revision",
    ]);
    let alarm = cw.ok(&["describe-alarms", "--state-value", "ALARM"]);
    assert_eq!(alarm["MetricAlarms"][0]["StateReason"], "errors from the new revision");

    let failed = wait_for(
        "the alarm to fail the deployment and roll back",
        Duration::from_secs(30),
        || {
            let svc = describe();
            let events = messages(&svc);
            let failed = events.contains(&format!(
                "(service web) (deployment {new_id}) deployment failed: alarm detected."
            ));
            let back =
                events.contains(&format!("(service web) rolling back to deployment {good_id}."));
            *last.borrow_mut() = svc.clone();
            (failed && back).then_some(svc)
        },
        || format!("last seen: {:#}", last.borrow()),
    );
    let primary = failed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "PRIMARY")
        .unwrap()
        .clone();
    assert_eq!(primary["id"], good_id.as_str());
    let after = completed_on(":1", "the rollback to complete on the first revision");
    assert_eq!(after["taskDefinition"].as_str().map(|t| t.ends_with(":1")), Some(true));
    let list = ecs.ok(&["list-service-deployments", "--cluster", &cluster, "--service", "web"]);
    let arns: Vec<String> = list["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| s(&d["serviceDeploymentArn"]))
        .collect();
    let mut args = vec!["describe-service-deployments", "--service-deployment-arns"];
    args.extend(arns.iter().map(String::as_str));
    let described = ecs.ok(&args);
    let rolled = described["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "ROLLBACK_SUCCESSFUL")
        .unwrap_or_else(|| panic!("no ROLLBACK_SUCCESSFUL deployment: {described:#}"));
    assert_eq!(rolled["alarms"]["status"], "TRIGGERED", "{rolled:#}");
    assert_eq!(rolled["alarms"]["triggeredAlarmNames"], json!(["web-errors"]), "{rolled:#}");
    assert_eq!(
        rolled["rollback"]["reason"], "ECS deployment failed: alarm(s) web-errors in ALARM state.",
        "{rolled:#}"
    );
    let completed = described["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "SUCCESSFUL")
        .unwrap_or_else(|| panic!("no SUCCESSFUL deployment: {described:#}"));
    assert_eq!(completed["alarms"]["status"], "MONITORING_COMPLETE", "{completed:#}");

    // The alarm goes back to what its (missing, not breaching) data says at its next
    // evaluation.
    wait_for(
        "the alarm to leave ALARM at its next evaluation",
        Duration::from_secs(20),
        || (alarm_state() == "OK").then_some(()),
        String::new,
    );
    cw.ok(&["delete-alarms", "--alarm-names", "web-errors"]);
    let gone = cw.ok(&["describe-alarms", "--alarm-names", "web-errors"]);
    assert_eq!(gone["MetricAlarms"], json!([]));
    let err = cw.fails(&[
        "set-alarm-state",
        "--alarm-name",
        "nope",
        "--state-value",
        "ALARM",
        "--state-reason",
        "x",
    ]);
    assert!(err.contains("ResourceNotFound"), "{err}");
    let err = cw.fails(&[
        "put-metric-alarm",
        "--alarm-name",
        "bad",
        "--namespace",
        "N",
        "--metric-name",
        "M",
        "--statistic",
        "Sum",
        "--period",
        "45",
        "--evaluation-periods",
        "1",
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanThreshold",
    ]);
    assert!(err.contains("InvalidParameterValue") && err.contains("Period"), "{err}");
}
