//! Throttling per principal, as ECS throttles per account and Region: a
//! token bucket per (caller, action group), each request taking a token;
//! an empty bucket answers `ThrottlingException` ("Rate exceeded"), which
//! the SDKs retry with backoff.
//!
//! The groups and their (bucket size, refill per second) follow the ECS API
//! Reference's "Request throttling" page: cluster reads 50/20 and
//! `RegisterTaskDefinition` 20/1 are quoted from it (and from users who hit
//! them); the other groups use the same page's shape with the figures of
//! the nearest documented group. Logs, SSM, Secrets Manager and ELBv2 calls
//! share one bucket per caller of 100/50.

use std::collections::HashMap;
use std::sync::Mutex;

/// A bucket: its size (burst) and refill rate (sustained, per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens it holds when full.
    pub burst: f64,
    /// Tokens added per second.
    pub sustained: f64,
}

/// The action group of an operation and its rate.
pub fn group(service: &str, op: &str) -> (&'static str, Rate) {
    let rate = |burst: f64, sustained: f64| Rate { burst, sustained };
    if service != "ecs" {
        return ("other", rate(100.0, 50.0));
    }
    match op {
        "DescribeClusters" | "ListClusters" => ("cluster-read", rate(50.0, 20.0)),
        "CreateCluster"
        | "DeleteCluster"
        | "UpdateCluster"
        | "UpdateClusterSettings"
        | "PutClusterCapacityProviders" => ("cluster-modify", rate(20.0, 1.0)),
        "RegisterTaskDefinition" | "DeregisterTaskDefinition" | "DeleteTaskDefinitions" => {
            ("task-definition-modify", rate(20.0, 1.0))
        }
        "DescribeTaskDefinition" | "ListTaskDefinitions" | "ListTaskDefinitionFamilies" => {
            ("task-definition-read", rate(100.0, 20.0))
        }
        "RunTask" | "StartTask" | "StopTask" => ("task-modify", rate(100.0, 40.0)),
        "DescribeTasks" | "ListTasks" => ("task-read", rate(100.0, 20.0)),
        "CreateService" | "UpdateService" | "DeleteService" => ("service-modify", rate(50.0, 5.0)),
        "DescribeServices" | "ListServices" | "ListServicesByNamespace" => {
            ("service-read", rate(100.0, 20.0))
        }
        "RegisterContainerInstance"
        | "DeregisterContainerInstance"
        | "UpdateContainerInstancesState" => ("container-instance-modify", rate(20.0, 1.0)),
        "DescribeContainerInstances" | "ListContainerInstances" => {
            ("container-instance-read", rate(100.0, 20.0))
        }
        _ => ("ecs-other", rate(50.0, 20.0)),
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// The buckets of every caller.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<(String, &'static str), Bucket>>,
}

/// How many buckets are kept before idle ones are dropped (a full bucket
/// carries no information).
const MAX_BUCKETS: usize = 100_000;

impl Throttle {
    /// Takes a token for `principal`'s call of `op` at `now_ms`; `false`
    /// when its bucket is empty.
    pub fn admit(&self, principal: &str, service: &str, op: &str, now_ms: i64) -> bool {
        let (name, rate) = group(service, op);
        let Ok(mut buckets) = self.buckets.lock() else { return true };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.tokens + (now_ms - b.at_ms) as f64 / 1000.0 * rate.sustained < rate.burst
            });
        }
        let bucket = buckets
            .entry((principal.to_owned(), name))
            .or_insert(Bucket { tokens: rate.burst, at_ms: now_ms });
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * rate.sustained).min(rate.burst);
        bucket.at_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let t = Throttle::default();
        // RegisterTaskDefinition: 20 at once, then one a second.
        for i in 0..20 {
            assert!(t.admit("alice", "ecs", "RegisterTaskDefinition", 0), "call {i}");
        }
        assert!(!t.admit("alice", "ecs", "RegisterTaskDefinition", 0));
        assert!(!t.admit("alice", "ecs", "RegisterTaskDefinition", 999));
        assert!(t.admit("alice", "ecs", "RegisterTaskDefinition", 1000));
        // Per principal, per group.
        assert!(t.admit("bob", "ecs", "RegisterTaskDefinition", 0));
        assert!(t.admit("alice", "ecs", "DescribeClusters", 0));
        for _ in 0..50 {
            assert!(t.admit("carol", "ecs", "ListClusters", 0));
        }
        assert!(!t.admit("carol", "ecs", "DescribeClusters", 0));
        assert!(t.admit("carol", "ecs", "DescribeClusters", 50));
    }
}
