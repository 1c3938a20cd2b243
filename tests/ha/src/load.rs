//! The mixed load: RegisterTaskDefinition and DescribeTaskDefinition on a
//! few families (their history recorded for the linearizability check),
//! RunTask, UpdateService, PutParameter and CreateTargetGroup, each worker
//! recording what was acknowledged.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::api::{Api, Failure};
use crate::lin::{Call, Op};

/// Families registered concurrently.
pub const FAMILIES: &[&str] = &["lin-a", "lin-b"];

/// Workers per family.
const PER_FAMILY: usize = 3;

/// The service the load updates.
pub const SERVICE: &str = "web";

/// What the load was told.
#[derive(Debug, Default)]
pub struct Records {
    /// Each family's calls.
    pub history: Mutex<BTreeMap<String, Vec<Call>>>,
    /// Acknowledged registrations: (family, revision).
    pub revisions: Mutex<Vec<(String, i32)>>,
    /// Acknowledged parameter writes: (name, version, value).
    pub parameters: Mutex<Vec<(String, i64, String)>>,
    /// Acknowledged target groups.
    pub target_groups: Mutex<Vec<String>>,
    /// Acknowledged tasks.
    pub tasks: Mutex<Vec<String>>,
    /// Calls that failed with an unknown outcome, by operation.
    pub unknown: Mutex<BTreeMap<String, usize>>,
    /// Calls answered, by operation.
    pub answered: Mutex<BTreeMap<String, usize>>,
}

impl Records {
    fn count(&self, op: &str, result: &Result<Value, Failure>) {
        let book = match result {
            Err(Failure::Unknown(_)) => &self.unknown,
            _ => &self.answered,
        };
        if let Ok(mut b) = book.lock() {
            *b.entry(op.to_owned()).or_default() += 1;
        }
    }
}

/// The container of every task the load runs. With an init process, so
/// SIGTERM ends it at once: a 30 s stop still running in Docker when the rig
/// removes the containers can hang Docker 20.10 for good (moby#44300).
pub fn container(command: &[&str]) -> Value {
    json!([{
        "name": "c",
        "image": "wharf-test/busybox:1",
        "memory": 16,
        "essential": true,
        "command": command,
        "linuxParameters": {"initProcessEnabled": true}
    }])
}

/// Registers the task definitions and creates the service the load uses.
pub async fn prepare(api: &Api, cluster: &str) {
    for (family, command) in [("sleeper", vec!["sleep", "2"]), ("svc", vec!["sleep", "3600"])] {
        let body = json!({"family": family, "containerDefinitions": container(&command)});
        api.ecs("RegisterTaskDefinition", body).await.expect("register a task definition");
    }
    let body = json!({
        "cluster": cluster,
        "serviceName": SERVICE,
        "taskDefinition": "svc",
        "desiredCount": 2
    });
    api.ecs("CreateService", body).await.expect("create the service");
}

async fn until_stopped(stop: &mut watch::Receiver<bool>, every: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(every) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

async fn family_worker(
    api: Api,
    family: String,
    origin: Instant,
    rec: Arc<Records>,
    mut stop: watch::Receiver<bool>,
    n: usize,
) {
    let mut i = n;
    while !*stop.borrow() {
        i += 1;
        let invoked = origin.elapsed();
        if i.is_multiple_of(3) {
            let r = api.ecs("DescribeTaskDefinition", json!({"taskDefinition": family})).await;
            rec.count("DescribeTaskDefinition", &r);
            let answered = Some(origin.elapsed());
            let seen = match r {
                Ok(v) => v["taskDefinition"]["revision"].as_i64().map(|r| r as i32),
                Err(Failure::Refused(_, _)) => Some(0),
                Err(Failure::Unknown(_)) => None,
            };
            if let (Some(rev), Ok(mut h)) = (seen, rec.history.lock()) {
                h.entry(family.clone()).or_default().push(Call {
                    op: Op::Read(rev),
                    invoked,
                    answered,
                });
            }
        } else {
            let body = json!({"family": family, "containerDefinitions": container(&["true"])});
            let r = api.ecs("RegisterTaskDefinition", body).await;
            rec.count("RegisterTaskDefinition", &r);
            let call = match &r {
                Ok(v) => {
                    let rev = v["taskDefinition"]["revision"].as_i64().unwrap_or(-1) as i32;
                    if let Ok(mut a) = rec.revisions.lock() {
                        a.push((family.clone(), rev));
                    }
                    Some(Call {
                        op: Op::Register(Some(rev)),
                        invoked,
                        answered: Some(origin.elapsed()),
                    })
                }
                // Refused: nothing happened.
                Err(Failure::Refused(_, _)) => None,
                Err(Failure::Unknown(_)) => {
                    Some(Call { op: Op::Register(None), invoked, answered: None })
                }
            };
            if let (Some(call), Ok(mut h)) = (call, rec.history.lock()) {
                h.entry(family.clone()).or_default().push(call);
            }
        }
        if until_stopped(&mut stop, Duration::from_millis(30)).await {
            return;
        }
    }
}

async fn parameter_worker(api: Api, rec: Arc<Records>, mut stop: watch::Receiver<bool>) {
    let mut n = 0;
    loop {
        n += 1;
        let name = format!("/ha/p{}", n % 3);
        let value = format!("v{n}");
        let body = json!({"Name": name, "Value": value, "Type": "String", "Overwrite": true});
        let r = api.ssm("PutParameter", body).await;
        rec.count("PutParameter", &r);
        if let Ok(v) = r {
            if let (Some(version), Ok(mut p)) = (v["Version"].as_i64(), rec.parameters.lock()) {
                p.push((name, version, value));
            }
        }
        if until_stopped(&mut stop, Duration::from_millis(60)).await {
            return;
        }
    }
}

async fn target_group_worker(api: Api, rec: Arc<Records>, mut stop: watch::Receiver<bool>) {
    let mut n = 0;
    loop {
        n += 1;
        let name = format!("ha-tg-{n}");
        let params =
            [("Name", name.as_str()), ("Protocol", "HTTP"), ("Port", "80"), ("VpcId", "vpc-1")];
        let r = api.elbv2("CreateTargetGroup", &params).await;
        rec.count("CreateTargetGroup", &r.clone().map(|_| Value::Null));
        if r.is_ok() {
            if let Ok(mut t) = rec.target_groups.lock() {
                t.push(name);
            }
        }
        if until_stopped(&mut stop, Duration::from_millis(150)).await {
            return;
        }
    }
}

async fn task_worker(
    api: Api,
    cluster: String,
    rec: Arc<Records>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let body = json!({"cluster": cluster, "taskDefinition": "sleeper", "count": 1});
        let r = api.ecs("RunTask", body).await;
        rec.count("RunTask", &r);
        if let Ok(v) = r {
            for t in v["tasks"].as_array().into_iter().flatten() {
                if let (Some(arn), Ok(mut tasks)) = (t["taskArn"].as_str(), rec.tasks.lock()) {
                    tasks.push(arn.to_owned());
                }
            }
        }
        if until_stopped(&mut stop, Duration::from_millis(900)).await {
            return;
        }
    }
}

async fn service_worker(
    api: Api,
    cluster: String,
    rec: Arc<Records>,
    mut stop: watch::Receiver<bool>,
) {
    let mut n = 0;
    loop {
        n += 1;
        let body = json!({"cluster": cluster, "service": SERVICE, "desiredCount": 1 + n % 3});
        let r = api.ecs("UpdateService", body).await;
        rec.count("UpdateService", &r);
        if until_stopped(&mut stop, Duration::from_millis(1500)).await {
            return;
        }
    }
}

/// Runs the load until `stop` turns true; what it was told.
pub async fn run(api: Api, cluster: String, stop: watch::Receiver<bool>) -> Arc<Records> {
    let origin = Instant::now();
    let rec = Arc::new(Records::default());
    let mut workers = Vec::new();
    for family in FAMILIES {
        for n in 0..PER_FAMILY {
            workers.push(tokio::spawn(family_worker(
                api.clone(),
                family.to_string(),
                origin,
                rec.clone(),
                stop.clone(),
                n,
            )));
        }
    }
    workers.push(tokio::spawn(parameter_worker(api.clone(), rec.clone(), stop.clone())));
    workers.push(tokio::spawn(target_group_worker(api.clone(), rec.clone(), stop.clone())));
    workers.push(tokio::spawn(task_worker(
        api.clone(),
        cluster.clone(),
        rec.clone(),
        stop.clone(),
    )));
    workers.push(tokio::spawn(service_worker(api, cluster, rec.clone(), stop)));
    for w in workers {
        let _ = w.await;
    }
    rec
}
