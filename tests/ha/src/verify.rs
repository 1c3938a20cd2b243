//! What must hold after the faults: every acknowledged write is present, no
//! revision or version was handed out twice, no task ran twice (counted from
//! Docker's own containers), the service reaches its desired count, and each
//! family's recorded history is linearizable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::Api;
use crate::lin;
use crate::load::{Records, FAMILIES, SERVICE};
use crate::rig::Rig;

/// Retries a read until it answers (a server may still be catching up
/// after a fault), for up to 20 s.
async fn read(api: &Api, op: &str, body: Value) -> Value {
    let started = Instant::now();
    loop {
        match api.ecs(op, body.clone()).await {
            Ok(v) => return v,
            Err(e) => {
                assert!(started.elapsed() < Duration::from_secs(20), "{op} keeps failing: {e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Every check; panics with what failed.
pub async fn all(rig: &Rig, rec: &Records) {
    let api = &rig.api;
    // Task definitions: acknowledged revisions present, none given twice,
    // histories linearizable.
    let acked = rec.revisions.lock().map(|r| r.clone()).unwrap_or_default();
    let mut by_family: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (f, r) in &acked {
        by_family.entry(f.as_str()).or_default().push(*r);
    }
    for family in FAMILIES {
        let revs = by_family.get(family).cloned().unwrap_or_default();
        let unique: BTreeSet<i32> = revs.iter().copied().collect();
        assert_eq!(unique.len(), revs.len(), "{family}: a revision was handed out twice: {revs:?}");
        let listed =
            read(api, "ListTaskDefinitions", json!({"familyPrefix": family, "maxResults": 100}))
                .await;
        let mut stored: Vec<i32> = Vec::new();
        let mut page = listed;
        loop {
            for arn in page["taskDefinitionArns"].as_array().into_iter().flatten() {
                let rev: Option<i32> =
                    arn.as_str().and_then(|a| a.rsplit(':').next()).and_then(|r| r.parse().ok());
                stored.extend(rev);
            }
            let Some(token) = page["nextToken"].as_str().map(str::to_owned) else { break };
            page = read(
                api,
                "ListTaskDefinitions",
                json!({"familyPrefix": family, "maxResults": 100, "nextToken": token}),
            )
            .await;
        }
        for r in &revs {
            assert!(stored.contains(r), "{family}:{r} was acknowledged but is missing");
        }
        let history = rec
            .history
            .lock()
            .map(|h| h.get(*family).cloned().unwrap_or_default())
            .unwrap_or_default();
        assert!(history.len() > 10, "{family}: only {} calls recorded", history.len());
        if let Err(e) = lin::check(&history, 2_000_000) {
            let first: Vec<_> = history.iter().take(60).collect();
            panic!("{family}: {e}; the history's first calls: {first:?}");
        }
    }
    // Parameters: acknowledged versions present with their values, none twice.
    let params = rec.parameters.lock().map(|p| p.clone()).unwrap_or_default();
    let names: BTreeSet<&String> = params.iter().map(|(n, _, _)| n).collect();
    for name in names {
        let mut versions: HashMap<i64, String> = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"Name": name, "MaxResults": 50});
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let started = Instant::now();
            let page = loop {
                match api.ssm("GetParameterHistory", body.clone()).await {
                    Ok(v) => break v,
                    Err(e) => {
                        assert!(
                            started.elapsed() < Duration::from_secs(20),
                            "history of {name}: {e:?}"
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            };
            for p in page["Parameters"].as_array().into_iter().flatten() {
                let v = p["Version"].as_i64().unwrap_or(-1);
                let value = p["Value"].as_str().unwrap_or("").to_owned();
                assert!(versions.insert(v, value).is_none(), "{name}: version {v} appears twice");
            }
            token = page["NextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let oldest_kept = versions.keys().min().copied().unwrap_or(i64::MAX);
        for (n, v, value) in params.iter().filter(|(n, _, _)| n == name) {
            // SSM keeps the last 100 versions.
            if *v >= oldest_kept {
                assert_eq!(
                    versions.get(v),
                    Some(value),
                    "{n} version {v} was acknowledged with {value}"
                );
            }
        }
    }
    // Target groups.
    let tgs = rec.target_groups.lock().map(|t| t.clone()).unwrap_or_default();
    let xml = {
        let started = Instant::now();
        loop {
            match api.elbv2("DescribeTargetGroups", &[("PageSize", "400")]).await {
                Ok(x) => break x,
                Err(e) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "DescribeTargetGroups: {e:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    for name in &tgs {
        assert!(
            xml.contains(&format!("<TargetGroupName>{name}</TargetGroupName>")),
            "target group {name} is missing"
        );
    }
    // Tasks: every acknowledged one is known.
    let tasks = rec.tasks.lock().map(|t| t.clone()).unwrap_or_default();
    for chunk in tasks.chunks(100) {
        let v = read(api, "DescribeTasks", json!({"cluster": rig.cluster, "tasks": chunk})).await;
        let failures = v["failures"].as_array().map_or(0, Vec::len);
        assert_eq!(failures, 0, "acknowledged tasks are missing: {}", v["failures"]);
    }
    // The service reaches its desired count, with as many containers running.
    let started = Instant::now();
    loop {
        let _ = api
            .ecs(
                "UpdateService",
                json!({"cluster": rig.cluster, "service": SERVICE, "desiredCount": 2}),
            )
            .await;
        let v =
            read(api, "DescribeServices", json!({"cluster": rig.cluster, "services": [SERVICE]}))
                .await;
        let s = &v["services"][0];
        let running = s["runningCount"].as_i64().unwrap_or(-1);
        let listed = read(
            api,
            "ListTasks",
            json!({"cluster": rig.cluster, "serviceName": SERVICE, "desiredStatus": "RUNNING"}),
        )
        .await;
        let arns: Vec<String> = listed["taskArns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        let up = rig
            .containers()
            .iter()
            .filter(|(arn, _, state)| arns.contains(arn) && state == "running")
            .count();
        if running == 2 && arns.len() == 2 && up == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the service did not settle at 2 (running {running}, {} tasks, {up} containers): {s}",
            arns.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // No task ran twice: one container per task and container name.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (arn, name, _) in rig.containers() {
        *seen.entry((arn, name)).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "tasks ran twice: {twice:?}");
    assert!(!seen.is_empty(), "no container ran at all");
}
