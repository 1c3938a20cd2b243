//! The latest container figures each agent on another host sent with its
//! heartbeats, kept in memory for `/metrics` (the embedded agent's are read
//! from its own sampler). An agent's figures are dropped once they are older
//! than a few heartbeats: its containers are no longer known to run.

use std::collections::HashMap;
use std::sync::Mutex;

use wharf_model::agent::ContainerUsage;

/// How many heartbeat intervals an agent's figures are shown after it sent them.
const KEPT_FOR_HEARTBEATS: i64 = 3;

/// By instance (`region/cluster/id`): its containers' figures and when they came.
#[derive(Debug, Default)]
pub struct AgentStats {
    by_instance: Mutex<HashMap<String, (Vec<ContainerUsage>, i64)>>,
}

impl AgentStats {
    /// Keeps an instance's latest figures.
    pub fn record(&self, instance: String, containers: Vec<ContainerUsage>, now_ms: i64) {
        let mut all = self.by_instance.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.insert(instance, (containers, now_ms));
    }

    /// Every instance's figures received within [`KEPT_FOR_HEARTBEATS`]
    /// heartbeats of `interval_ms` before `now_ms`.
    pub fn latest(&self, now_ms: i64, interval_ms: u64) -> Vec<ContainerUsage> {
        let horizon =
            now_ms - KEPT_FOR_HEARTBEATS * i64::try_from(interval_ms).unwrap_or(i64::MAX / 4);
        let mut all = self.by_instance.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.retain(|_, (_, at)| *at >= horizon);
        all.values().flat_map(|(c, _)| c.iter().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_kept_for_a_few_heartbeats() {
        let stats = AgentStats::default();
        let usage = |task: &str| ContainerUsage { task_id: task.into(), ..Default::default() };
        stats.record("r/c/a".into(), vec![usage("t1"), usage("t2")], 1_000);
        stats.record("r/c/b".into(), vec![usage("t3")], 10_000);
        stats.record("r/c/a".into(), vec![usage("t1")], 11_000);
        let ids = |v: Vec<ContainerUsage>| {
            let mut ids: Vec<String> = v.into_iter().map(|u| u.task_id).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(stats.latest(12_000, 1_000)), ["t1", "t3"]);
        assert_eq!(ids(stats.latest(13_500, 1_000)), ["t1"], "b is silent");
    }
}
