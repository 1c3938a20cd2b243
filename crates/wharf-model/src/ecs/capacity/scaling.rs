//! Managed scaling of a custom capacity provider, as ECS documents it for
//! Auto Scaling groups: the metric `CapacityProviderReservation` and the
//! target tracking that follows it. Pure: [`decide`] takes what the group
//! holds and needs, the provider's settings, the time and what it decided
//! before, and says how many hosts the group should have and which to give
//! up.
//!
//! - `M` is how many hosts the group needs: those running tasks (other than
//!   DAEMON ones), plus as many as the tasks its services lack would fill.
//!   `N` is how many it has. `CapacityProviderReservation` is `M / N × 100`;
//!   with `N = 0` it is 200 when something waits (`M > 0`), else 100.
//! - Target tracking asks for `ceil(M × 100 / targetCapacity)` hosts. A
//!   scale out adds at least `minimumScalingStepSize` and at most
//!   `maximumScalingStepSize` hosts, as soon as the metric is above target
//!   (CloudWatch's high alarm: one period), and waits `instanceWarmupPeriod`
//!   before the next. A scale in waits for the metric to stay below target for
//!   fifteen periods (the low alarm) and gives up idle hosts: `M` counts every
//!   busy one, so target tracking never asks for fewer. Step sizes do not
//!   bound a scale in. (Managed termination protection keeps the busy hosts
//!   from the group's own scale in, which here is the hook's: see
//!   `wharf-control`'s `capacity_scaling`.)

use serde::{Deserialize, Serialize};

/// A host of the group as scaling sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its container instance ID.
    pub id: String,
    /// CPU units registered.
    pub cpu_total: i64,
    /// MiB registered.
    pub memory_total: i64,
    /// CPU units left.
    pub cpu_free: i64,
    /// MiB left.
    pub memory_free: i64,
    /// Its tasks not yet stopped, but those of DAEMON services.
    pub tasks: i64,
    /// Whether it takes tasks (`ACTIVE` with its agent connected).
    pub active: bool,
}

/// What one task needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// CPU units.
    pub cpu: i64,
    /// MiB.
    pub memory: i64,
}

/// A provider's managed scaling settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `targetCapacity`, 1 to 100.
    pub target_capacity: u32,
    /// `minimumScalingStepSize`.
    pub min_step: u32,
    /// `maximumScalingStepSize`.
    pub max_step: u32,
    /// `instanceWarmupPeriod`, in ms.
    pub warmup_ms: i64,
    /// How long the metric must stay below target before a scale in (the
    /// low alarm's fifteen periods), in ms.
    pub scale_in_after_ms: i64,
}

/// What the decision remembers between passes (kept with the provider's
/// scaling status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// When it last asked for more hosts (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_out_ms: Option<i64>,
    /// The host count it asked for then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_out_to: Option<u32>,
    /// Since when the metric has been below target (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_since_ms: Option<i64>,
}

/// A custom provider's managed scaling as it stands: the last pass's
/// figures, what the decision remembers, and the hook run it asked for.
/// Kept per cluster and provider; DescribeCapacityProviders shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The cluster it is for.
    pub cluster: String,
    /// `CapacityProviderReservation`, percent.
    pub capacity_provider_reservation: f64,
    /// `M`: hosts needed.
    pub needed: u32,
    /// `N`: hosts the group has.
    pub current: u32,
    /// Hosts the group should have.
    pub desired: u32,
    /// When these were computed (ms).
    pub updated_at_ms: i64,
    /// What the decision remembers.
    #[serde(default)]
    pub memory: Memory,
    /// The last hook run asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookRun>,
}

/// One run of the scaling hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRun {
    /// The host count it was asked for.
    pub desired: u32,
    /// The hosts it was asked to remove (instance IDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// When it started (ms).
    pub started_ms: i64,
    /// When it ended (ms); `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
    /// Whether it succeeded; `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The end of its output, or why it did not run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// What [`decide`] says.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `M`.
    pub needed: u32,
    /// `N`.
    pub current: u32,
    /// `CapacityProviderReservation`, percent.
    pub reservation: f64,
    /// How many hosts the group should have.
    pub desired: u32,
    /// The hosts to give up (their IDs), for a scale in.
    pub remove: Vec<String>,
    /// What to remember.
    pub memory: Memory,
}

/// `CapacityProviderReservation` for `m` hosts needed of `n`.
pub fn reservation(m: u32, n: u32) -> f64 {
    match (m, n) {
        (0, 0) => 100.0,
        (_, 0) => 200.0,
        (m, n) => f64::from(m) * 100.0 / f64::from(n),
    }
}

/// `M`: the hosts running tasks, plus those the waiting tasks (`waiting`)
/// fill: first in the room left on the group's hosts (an idle host taking
/// one becomes needed), then on new hosts as big as the group's largest
/// (one new host per task when the group has none to measure by).
pub fn needed(hosts: &[Host], waiting: &[Need]) -> u32 {
    let mut used: Vec<bool> = hosts.iter().map(|h| h.tasks > 0).collect();
    let mut room: Vec<(i64, i64)> =
        hosts.iter().map(|h| if h.active { (h.cpu_free, h.memory_free) } else { (0, 0) }).collect();
    let size = hosts.iter().map(|h| (h.cpu_total, h.memory_total)).max().unwrap_or((0, 0));
    let mut fresh: Vec<(i64, i64)> = Vec::new();
    let mut sorted = waiting.to_vec();
    // First fit decreasing, by CPU then memory.
    sorted.sort_by_key(|n| std::cmp::Reverse((n.cpu, n.memory)));
    for need in sorted {
        let fits = |r: &(i64, i64)| r.0 >= need.cpu && r.1 >= need.memory;
        if let Some(i) = room.iter().position(fits) {
            room[i].0 -= need.cpu;
            room[i].1 -= need.memory;
            used[i] = true;
        } else if let Some(r) = fresh.iter_mut().find(|r| fits(r)) {
            r.0 -= need.cpu;
            r.1 -= need.memory;
        } else {
            fresh.push((size.0 - need.cpu, size.1 - need.memory));
        }
    }
    let on_hosts = used.iter().filter(|u| **u).count();
    u32::try_from(on_hosts + fresh.len()).unwrap_or(u32::MAX)
}

/// The decision for one pass at `now_ms`.
pub fn decide(
    settings: &Settings,
    hosts: &[Host],
    waiting: &[Need],
    now_ms: i64,
    before: &Memory,
) -> Decision {
    let m = needed(hosts, waiting);
    let n = u32::try_from(hosts.len()).unwrap_or(u32::MAX);
    let reservation = reservation(m, n);
    let target = settings.target_capacity.clamp(1, 100);
    // ceil(M × 100 / target)
    let wanted = (u64::from(m) * 100).div_ceil(u64::from(target));
    let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
    let mut memory = before.clone();
    let mut desired = n;
    let mut remove = Vec::new();
    if wanted > n {
        memory.low_since_ms = None;
        let warming =
            before.scaled_out_ms.is_some_and(|at| now_ms.saturating_sub(at) < settings.warmup_ms);
        match (warming, before.scaled_out_to) {
            // Still warming up from the last scale out: hold what it asked for.
            (true, Some(asked)) => desired = asked.max(n),
            _ => {
                let step = (wanted - n).clamp(settings.min_step.max(1), settings.max_step.max(1));
                desired = n.saturating_add(step);
                memory.scaled_out_ms = Some(now_ms);
                memory.scaled_out_to = Some(desired);
            }
        }
    } else if wanted < n {
        let since = *memory.low_since_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= settings.scale_in_after_ms {
            remove = idle_to_remove(hosts, (n - wanted) as usize);
            desired = n - u32::try_from(remove.len()).unwrap_or(0);
        }
    } else {
        memory.low_since_ms = None;
    }
    Decision { needed: m, current: n, reservation, desired, remove, memory }
}

/// The hosts a scale in gives up: idle ones, in ID order.
fn idle_to_remove(hosts: &[Host], count: usize) -> Vec<String> {
    let mut idle: Vec<&Host> = hosts.iter().filter(|h| h.tasks == 0).collect();
    idle.sort_by(|a, b| a.id.cmp(&b.id));
    idle.into_iter().take(count).map(|h| h.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(id: &str, tasks: i64, cpu_free: i64) -> Host {
        Host {
            id: id.into(),
            cpu_total: 1024,
            memory_total: 4096,
            cpu_free,
            memory_free: 4096,
            tasks,
            active: true,
        }
    }

    const SETTINGS: Settings = Settings {
        target_capacity: 100,
        min_step: 1,
        max_step: 10_000,
        warmup_ms: 300_000,
        scale_in_after_ms: 900_000,
    };

    fn need(cpu: i64) -> Need {
        Need { cpu, memory: 128 }
    }

    #[test]
    fn the_reservation_is_m_over_n() {
        assert_eq!(reservation(0, 0), 100.0);
        assert_eq!(reservation(1, 0), 200.0);
        assert_eq!(reservation(3, 2), 150.0);
        assert_eq!(reservation(1, 4), 25.0);
    }

    #[test]
    fn m_counts_busy_hosts_and_what_waiting_tasks_fill() {
        let hosts = [host("a", 2, 512), host("b", 0, 1024)];
        assert_eq!(needed(&hosts, &[]), 1);
        // One waiting task fits on a: still one.
        assert_eq!(needed(&hosts, &[need(512)]), 1);
        // Two: the idle host b takes the second.
        assert_eq!(needed(&hosts, &[need(512), need(512)]), 2);
        // Five more than the room: new hosts of 1,024 units each.
        let waiting = vec![need(512); 6];
        assert_eq!(needed(&hosts, &waiting), 2 + 2);
        // An empty group: one host per task (nothing to measure by).
        assert_eq!(needed(&[], &[need(256), need(256)]), 2);
    }

    #[test]
    fn a_scale_out_is_stepped_and_waits_for_the_warm_up() {
        let hosts = [host("a", 4, 0)];
        let waiting = vec![need(1024); 5];
        let d = decide(&SETTINGS, &hosts, &waiting, 1_000, &Memory::default());
        assert_eq!((d.needed, d.current, d.desired), (6, 1, 6));
        assert_eq!(d.reservation, 600.0);
        let capped = Settings { max_step: 2, ..SETTINGS };
        let d = decide(&capped, &hosts, &waiting, 1_000, &Memory::default());
        assert_eq!(d.desired, 3);
        // Within the warm-up: hold at 3, though more is needed.
        let again = decide(&capped, &hosts, &waiting, 200_000, &d.memory);
        assert_eq!(again.desired, 3);
        let later = decide(&capped, &hosts, &waiting, 301_001, &d.memory);
        assert_eq!(later.desired, 3, "1 + 2 again from the hosts it has");
        // A minimum step adds more than needed.
        let big = Settings { min_step: 4, ..SETTINGS };
        assert_eq!(decide(&big, &hosts, &[need(1024)], 0, &Memory::default()).desired, 5);
        // An empty group with a waiting task: the metric says 200.
        let d = decide(&SETTINGS, &[], &[need(256)], 0, &Memory::default());
        assert_eq!((d.reservation, d.desired), (200.0, 1));
    }

    #[test]
    fn a_target_below_100_keeps_spare_hosts() {
        let hosts = [host("a", 1, 0), host("b", 1, 0)];
        let spare = Settings { target_capacity: 50, ..SETTINGS };
        assert_eq!(decide(&spare, &hosts, &[], 0, &Memory::default()).desired, 4);
    }

    #[test]
    fn a_scale_in_waits_fifteen_periods_and_gives_up_idle_hosts() {
        let hosts = [host("a", 1, 0), host("b", 0, 1024), host("c", 0, 1024), host("d", 2, 0)];
        let d = decide(&SETTINGS, &hosts, &[], 0, &Memory::default());
        assert_eq!((d.desired, d.remove.len()), (4, 0), "not yet");
        assert_eq!(d.memory.low_since_ms, Some(0));
        let d = decide(&SETTINGS, &hosts, &[], 900_000, &d.memory);
        assert_eq!(d.remove, vec!["b".to_owned(), "c".to_owned()]);
        assert_eq!(d.desired, 2);
        // Busy hosts are all needed: none goes.
        let busy = [host("a", 1, 0), host("b", 1, 0)];
        let low = Memory { low_since_ms: Some(0), ..Memory::default() };
        let d = decide(&SETTINGS, &busy, &[], 900_000, &low);
        assert!(d.remove.is_empty());
        assert_eq!(d.desired, 2);
        // A need back above target resets the wait.
        let d = decide(&SETTINGS, &hosts, &[need(1024); 3], 10, &low);
        assert_eq!(d.memory.low_since_ms, None);
    }
}
