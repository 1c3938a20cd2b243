//! Managed scaling of custom capacity providers. For each cluster and each
//! of its providers whose `managedScaling` is ENABLED, the group's hosts and
//! what the cluster's services still lack on the provider are observed;
//! [`step`] decides (`wharf_model::ecs::capacity::scaling::decide`) how
//! many hosts the group should have, and records it (the
//! `CapacityProviderReservation`, the desired count). Wharf cannot buy
//! machines: when the desired count differs from the hosts the group has,
//! the loop runs the server's scaling hook (`--scaling-hook`), a command of
//! the user's, telling it what to add or remove:
//!
//! - `WHARF_CLUSTER`, `WHARF_CAPACITY_PROVIDER`, `WHARF_AUTO_SCALING_GROUP`;
//! - `WHARF_DESIRED_CAPACITY`, `WHARF_CURRENT_CAPACITY`;
//! - `WHARF_REMOVE_INSTANCES` and `WHARF_REMOVE_ADDRESSES`: the idle hosts a
//!   scale in gives up (container instance IDs; their `wharf.address`);
//! - `WHARF_PROTECTED_INSTANCES`: with managed termination protection, the
//!   hosts running tasks, which the hook must not remove.
//!
//! With managed draining the hosts to remove are set DRAINING first, so
//! nothing is placed on them while the hook works; once the hook succeeds
//! they are deregistered, as ECS deregisters the instances an Auto Scaling
//! group terminates. A hook runs once per decision: again when the desired
//! count changes, when it failed, or when the warm-up has passed without
//! the group reaching it.
//!
//! Tasks RunTask cannot place are answered as failures (they do not wait in
//! PROVISIONING as ECS's do); what scales the group out is what services lack.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use wharf_model::ecs::capacity::scaling::{self, HookRun, Host, Need, Settings, Status};
use wharf_model::ecs::capacity::{self as cap, provider, Capacity, Share};
use wharf_model::ecs::placement::integer_resource;
use wharf_model::ecs::resolved::ResolvedTask;
use wharf_model::ecs::service::task_group;
use wharf_model::ecs::shapes::{
    CapacityProvider, Cluster, ContainerInstance, DesiredStatus, ManagedDraining,
    ManagedTerminationProtection, SchedulingStrategy, Task,
};
use wharf_model::ecs::status::{DeploymentStatus, InstanceStatus};
use wharf_model::EcsError;
use wharf_ops::{docs, Ops, OpsError};
use wharf_store::{Kind, TaskQuery, Write};

/// How long a hook may run before it is counted as failed.
pub const HOOK_TIMEOUT_MS: i64 = 10 * 60 * 1000;
/// How much of a hook's output is kept.
const OUTPUT_KEPT: usize = 2_000;

/// One provider's group in one cluster, as the step sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// Its region.
    pub region: String,
    /// The cluster.
    pub cluster: String,
    /// The provider's name.
    pub provider: String,
    /// The group its `autoScalingGroupArn` names.
    pub group: String,
    /// Its managed scaling settings.
    pub settings: Settings,
    /// Managed termination protection.
    pub protect: bool,
    /// Managed draining.
    pub drain: bool,
    /// The group's registered hosts in the cluster.
    pub hosts: Vec<Host>,
    /// Each host's address (`wharf.address`), by instance ID.
    pub addresses: BTreeMap<String, String>,
    /// What the cluster's services lack on this provider, task by task.
    pub waiting: Vec<Need>,
    /// The status recorded by the last pass.
    pub status: Option<Status>,
}

/// What the loop must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Keep the provider's scaling status.
    Record {
        /// Its region.
        region: String,
        /// The cluster.
        cluster: String,
        /// The provider.
        provider: String,
        /// The status.
        status: Status,
    },
    /// Set these hosts DRAINING (managed draining, before a scale in).
    Drain {
        /// Its region.
        region: String,
        /// The cluster.
        cluster: String,
        /// Their instance IDs.
        ids: Vec<String>,
    },
    /// Run the scaling hook.
    Hook(HookCall),
}

/// One call of the scaling hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCall {
    /// Its region.
    pub region: String,
    /// The cluster.
    pub cluster: String,
    /// The provider.
    pub provider: String,
    /// The group.
    pub group: String,
    /// The host count asked for.
    pub desired: u32,
    /// The host count now.
    pub current: u32,
    /// The hosts to remove (instance IDs).
    pub remove: Vec<String>,
    /// Their addresses.
    pub remove_addresses: Vec<String>,
    /// The hosts it must not remove (termination protection).
    pub protected: Vec<String>,
}

/// The key of a provider's status in a cluster.
pub fn status_key(cluster: &str, provider: &str) -> String {
    format!("{cluster}/{provider}")
}

/// The step: decide, record, and ask for the hook when the group is not the
/// size it should be and no run for that is under way or done.
pub fn step(view: &GroupView, now_ms: i64) -> Vec<Action> {
    let before = view.status.clone().unwrap_or_default();
    let d = scaling::decide(&view.settings, &view.hosts, &view.waiting, now_ms, &before.memory);
    let mut status = Status {
        cluster: view.cluster.clone(),
        capacity_provider_reservation: d.reservation,
        needed: d.needed,
        current: d.current,
        desired: d.desired,
        updated_at_ms: now_ms,
        memory: d.memory.clone(),
        hook: before.hook.clone(),
    };
    let mut actions = Vec::new();
    if d.desired != d.current && hook_due(before.hook.as_ref(), d.desired, now_ms, &view.settings) {
        if view.drain && !d.remove.is_empty() {
            actions.push(Action::Drain {
                region: view.region.clone(),
                cluster: view.cluster.clone(),
                ids: d.remove.clone(),
            });
        }
        let protected = if view.protect {
            view.hosts.iter().filter(|h| h.tasks > 0).map(|h| h.id.clone()).collect()
        } else {
            vec![]
        };
        actions.push(Action::Hook(HookCall {
            region: view.region.clone(),
            cluster: view.cluster.clone(),
            provider: view.provider.clone(),
            group: view.group.clone(),
            desired: d.desired,
            current: d.current,
            remove_addresses: d
                .remove
                .iter()
                .filter_map(|i| view.addresses.get(i).cloned())
                .collect(),
            remove: d.remove.clone(),
            protected,
        }));
        status.hook = Some(HookRun {
            desired: d.desired,
            remove: d.remove,
            started_ms: now_ms,
            ..HookRun::default()
        });
    }
    actions.insert(
        0,
        Action::Record {
            region: view.region.clone(),
            cluster: view.cluster.clone(),
            provider: view.provider.clone(),
            status,
        },
    );
    actions
}

/// Whether to run the hook for `desired` now: no run yet; the last asked
/// for another count; it failed (or ran past its time) a warm-up ago; or it
/// succeeded a warm-up ago and the group is still not the size it asked.
fn hook_due(last: Option<&HookRun>, desired: u32, now_ms: i64, settings: &Settings) -> bool {
    let Some(h) = last else { return true };
    let since = now_ms.saturating_sub(h.started_ms);
    if h.ok.is_none() && since < HOOK_TIMEOUT_MS {
        return false;
    }
    h.desired != desired || since >= settings.warmup_ms.max(1)
}

/// Everything the loop works with.
#[derive(Clone)]
pub struct CapacityScaling {
    /// The operations (the store and the clock among them).
    pub ops: Ops,
    /// The hook command (run with `sh -c`), if any.
    pub hook: Option<String>,
    /// The metric period: the low alarm waits fifteen of them.
    pub period: Duration,
}

impl std::fmt::Debug for CapacityScaling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapacityScaling").field("hook", &self.hook).finish_non_exhaustive()
    }
}

fn unreadable(what: &str) -> EcsError {
    EcsError::server(format!("A stored {what} could not be read."))
}

impl CapacityScaling {
    /// Every managed-scaling group of every cluster.
    pub async fn observe(&self) -> Result<Vec<GroupView>, OpsError> {
        let mut out = Vec::new();
        for region in self.ops.store.regions(Kind::Cluster).await? {
            let r = self.ops.region(&region);
            let providers: BTreeMap<String, CapacityProvider> =
                docs::list_all::<CapacityProvider>(r, Kind::CapacityProvider)
                    .await?
                    .into_iter()
                    .filter(|(_, p)| {
                        p.auto_scaling_group_provider
                            .as_ref()
                            .is_some_and(provider::scaling_enabled)
                    })
                    .collect();
            if providers.is_empty() {
                continue;
            }
            for (cluster, c) in docs::list_all::<Cluster>(r, Kind::Cluster).await? {
                let mine: Vec<&CapacityProvider> = c
                    .capacity_providers
                    .iter()
                    .flatten()
                    .filter_map(|n| providers.get(cap::short_name(n)))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                out.extend(self.observe_cluster(&region, &cluster, &mine).await?);
            }
        }
        Ok(out)
    }

    async fn observe_cluster(
        &self,
        region: &str,
        cluster: &str,
        providers: &[&CapacityProvider],
    ) -> Result<Vec<GroupView>, OpsError> {
        let r = self.ops.region(region);
        let services = wharf_ops::service::all_in_cluster(r, cluster).await?;
        let daemon_groups: BTreeSet<String> = services
            .iter()
            .filter(|s| s.service.scheduling_strategy == Some(SchedulingStrategy::Daemon))
            .filter_map(|s| s.service.service_name.as_deref().map(task_group))
            .collect();
        let lacking = self.lacking(region, cluster, &services).await?;
        let instances = r.store().instances(region, cluster, None).await?;
        let mut views = Vec::new();
        for p in providers {
            let name = p.name.clone().unwrap_or_default();
            let Some(asg) = p.auto_scaling_group_provider.clone() else { continue };
            let group = cap::group_name(asg.auto_scaling_group_arn.as_deref().unwrap_or_default())
                .to_owned();
            let m = provider::managed_scaling_defaults(asg.managed_scaling.clone());
            let period_ms = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX);
            let settings = Settings {
                target_capacity: u32::try_from(m.target_capacity.unwrap_or(100)).unwrap_or(100),
                min_step: u32::try_from(m.minimum_scaling_step_size.unwrap_or(1)).unwrap_or(1),
                max_step: u32::try_from(m.maximum_scaling_step_size.unwrap_or(10_000))
                    .unwrap_or(10_000),
                warmup_ms: i64::from(m.instance_warmup_period.unwrap_or(300)) * 1000,
                scale_in_after_ms: period_ms.saturating_mul(15),
            };
            let (mut hosts, mut addresses) = (Vec::new(), BTreeMap::new());
            for u in &instances {
                if u.instance.status == InstanceStatus::Inactive {
                    continue;
                }
                let ci: ContainerInstance =
                    serde_json::from_str(&u.instance.json).map_err(|_| unreadable("instance"))?;
                let attrs = ci.attributes.as_deref().unwrap_or(&[]);
                let in_group = wharf_model::ecs::attributes::value_of(attrs, cap::GROUP_ATTRIBUTE)
                    == Some(group.as_str());
                if !in_group {
                    continue;
                }
                if let Some(a) = wharf_model::ecs::attributes::value_of(
                    attrs,
                    wharf_model::ecs::attributes::ADDRESS,
                ) {
                    addresses.insert(u.instance.id.clone(), a.to_owned());
                }
                let registered = ci.registered_resources.as_deref().unwrap_or(&[]);
                let daemons: i64 = daemon_groups.iter().map(|g| u.task_groups.count(g)).sum();
                let (cpu, memory) =
                    (integer_resource(registered, "CPU"), integer_resource(registered, "MEMORY"));
                hosts.push(Host {
                    id: u.instance.id.clone(),
                    cpu_total: cpu,
                    memory_total: memory,
                    cpu_free: cpu - u.cpu,
                    memory_free: memory - u.memory,
                    tasks: (u.running_tasks + u.pending_tasks - daemons).max(0),
                    active: u.instance.status == InstanceStatus::Active
                        && ci.agent_connected.unwrap_or(false),
                });
            }
            let key = status_key(cluster, &name);
            let status = docs::get::<Status>(r, Kind::CapacityScaling, &key).await?;
            let asg_protect =
                asg.managed_termination_protection == Some(ManagedTerminationProtection::Enabled);
            views.push(GroupView {
                region: region.to_owned(),
                cluster: cluster.to_owned(),
                waiting: lacking.get(&name).cloned().unwrap_or_default(),
                provider: name,
                group,
                settings,
                protect: asg_protect,
                drain: asg.managed_draining != Some(ManagedDraining::Disabled),
                hosts,
                addresses,
                status,
            });
        }
        Ok(views)
    }

    /// What each provider's services lack: for each REPLICA service running
    /// by a strategy, the tasks short of its desired count, split by the
    /// strategy as a launch would, each with its definition's needs.
    async fn lacking(
        &self,
        region: &str,
        cluster: &str,
        services: &[wharf_model::ecs::service::ServiceRecord],
    ) -> Result<BTreeMap<String, Vec<Need>>, OpsError> {
        let r = self.ops.region(region);
        let mut out: BTreeMap<String, Vec<Need>> = BTreeMap::new();
        for rec in services {
            let s = &rec.service;
            if s.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
                continue;
            }
            let Some(primary) = s
                .deployments
                .iter()
                .flatten()
                .find(|d| d.status == Some(DeploymentStatus::Primary))
            else {
                continue;
            };
            let Some(runs) = primary.id.as_deref().and_then(|u| rec.unit_runs(u)) else { continue };
            let Some(strategy) = runs.capacity_provider_strategy else { continue };
            let desired = usize::try_from(primary.desired_count.unwrap_or(0)).unwrap_or(0);
            let name = s.service_name.clone().unwrap_or_default();
            let tasks = r
                .store()
                .list_tasks(
                    region,
                    TaskQuery {
                        cluster: cluster.to_owned(),
                        service: Some(name),
                        started_by: primary.id.clone(),
                        desired_status: Some(DesiredStatus::Running),
                        limit: 10_000,
                        ..TaskQuery::default()
                    },
                )
                .await?;
            if tasks.len() >= desired {
                continue;
            }
            let shares: Vec<Share> = strategy
                .iter()
                .map(|i| {
                    let p = cap::short_name(i.capacity_provider.as_deref().unwrap_or_default());
                    Share {
                        provider: p.to_owned(),
                        capacity: Capacity::built_in(p).unwrap_or(Capacity::Group(p.to_owned())),
                        base: u32::try_from(i.base.unwrap_or(0)).unwrap_or(0),
                        weight: u32::try_from(i.weight.unwrap_or(0)).unwrap_or(0),
                    }
                })
                .collect();
            let mut existing = vec![0u32; shares.len()];
            for t in &tasks {
                let Ok(task) = serde_json::from_str::<Task>(&t.json) else { continue };
                if let Some(i) = shares
                    .iter()
                    .position(|s| Some(&s.provider) == task.capacity_provider_name.as_ref())
                {
                    existing[i] += 1;
                }
            }
            let Some(td) = wharf_ops::lookup::definition_by_arn(
                r,
                runs.task_definition.as_deref().unwrap_or_default(),
            )
            .await?
            else {
                continue;
            };
            let demand = ResolvedTask::new(&td, None).demand();
            let need = Need { cpu: demand.cpu, memory: demand.memory };
            for (share, n) in
                shares.iter().zip(cap::split(&shares, &existing, desired - tasks.len()))
            {
                out.entry(share.provider.clone())
                    .or_default()
                    .extend(std::iter::repeat_n(need, n as usize));
            }
        }
        Ok(out)
    }

    /// Applies one action; a hook runs in the background and records how it
    /// ended.
    pub async fn apply(&self, action: Action) -> Result<(), OpsError> {
        match action {
            Action::Record { region, cluster, provider, status } => {
                let key = status_key(&cluster, &provider);
                self.ops
                    .store
                    .update(
                        Kind::CapacityScaling,
                        &region,
                        &key,
                        Box::new(move |current| {
                            let mut status = status.clone();
                            // A hook that ended since the decision keeps its ending.
                            if let (Some(cur), Some(new)) = (current, status.hook.as_mut()) {
                                let stored: Status = serde_json::from_str(&cur)
                                    .map_err(|_| unreadable("scaling status"))?;
                                if let Some(done) = stored.hook.filter(|h| {
                                    h.started_ms == new.started_ms && h.finished_ms.is_some()
                                }) {
                                    *new = done;
                                }
                            }
                            let json = serde_json::to_string(&status)
                                .map_err(|_| unreadable("scaling status"))?;
                            Ok(Write::Put(json))
                        }),
                    )
                    .await?;
            }
            Action::Drain { region, cluster, ids } => {
                for id in ids {
                    let r = self.ops.region(&region);
                    wharf_ops::instances::set_status(
                        r,
                        &cluster,
                        &id,
                        |_| Ok(()),
                        InstanceStatus::Draining,
                    )
                    .await?;
                }
            }
            Action::Hook(call) => {
                let me = self.clone();
                tokio::spawn(async move { me.run_hook(call).await });
            }
        }
        Ok(())
    }

    /// Runs the hook (or records that there is none) and, once it
    /// succeeded, deregisters the hosts it removed.
    async fn run_hook(&self, call: HookCall) {
        let started = self.ops.clock.now_millis();
        let (ok, output) = match &self.hook {
            None => (false, "no --scaling-hook is set: the group is not resized".to_owned()),
            Some(cmd) => match run_command(cmd, &call).await {
                Ok((ok, out)) => (ok, out),
                Err(e) => (false, format!("the hook could not run: {e}")),
            },
        };
        if ok {
            tracing::info!(provider = %call.provider, cluster = %call.cluster, desired = call.desired, "scaling hook done");
            for id in &call.remove {
                let r = self.ops.region(&call.region);
                if let Err(e) = wharf_ops::instances::deregister(r, &call.cluster, id, true).await {
                    tracing::warn!(instance = %id, error = %e, "a removed host was not deregistered");
                }
            }
        } else {
            tracing::warn!(provider = %call.provider, cluster = %call.cluster, output = %output, "scaling hook failed");
        }
        let finished = self.ops.clock.now_millis();
        let key = status_key(&call.cluster, &call.provider);
        let desired = call.desired;
        let result = self
            .ops
            .store
            .update(
                Kind::CapacityScaling,
                &call.region,
                &key,
                Box::new(move |current| {
                    let Some(cur) = current else { return Ok(Write::Keep) };
                    let mut status: Status =
                        serde_json::from_str(&cur).map_err(|_| unreadable("scaling status"))?;
                    let Some(h) = status.hook.as_mut().filter(|h| h.desired == desired) else {
                        return Ok(Write::Keep);
                    };
                    h.finished_ms = Some(finished);
                    h.ok = Some(ok);
                    h.output = output.clone();
                    let _ = started;
                    serde_json::to_string(&status)
                        .map(Write::Put)
                        .map_err(|_| unreadable("scaling status"))
                }),
            )
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "a scaling hook's end was not recorded");
        }
    }

    /// One pass: observe, step, apply.
    pub async fn pass(&self) -> Result<(), OpsError> {
        let now = self.ops.clock.now_millis();
        for view in self.observe().await? {
            for action in step(&view, now) {
                self.apply(action).await?;
            }
        }
        Ok(())
    }
}

/// Runs `sh -c cmd` with the call's environment; whether it exited 0, and
/// the end of its output.
async fn run_command(cmd: &str, call: &HookCall) -> std::io::Result<(bool, String)> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("WHARF_CLUSTER", &call.cluster)
        .env("WHARF_CAPACITY_PROVIDER", &call.provider)
        .env("WHARF_AUTO_SCALING_GROUP", &call.group)
        .env("WHARF_DESIRED_CAPACITY", call.desired.to_string())
        .env("WHARF_CURRENT_CAPACITY", call.current.to_string())
        .env("WHARF_REMOVE_INSTANCES", call.remove.join(" "))
        .env("WHARF_REMOVE_ADDRESSES", call.remove_addresses.join(" "))
        .env("WHARF_PROTECTED_INSTANCES", call.protected.join(" "))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let timeout = Duration::from_millis(u64::try_from(HOOK_TIMEOUT_MS).unwrap_or(600_000));
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(r) => r?,
        Err(_) => return Ok((false, "the hook ran out of time".to_owned())),
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let keep_from = text.len().saturating_sub(OUTPUT_KEPT);
    let keep_from = (keep_from..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    Ok((out.status.success(), text[keep_from..].to_owned()))
}

/// Runs the loop every `tick` until `shutdown` turns `true`.
pub async fn run(
    scaling: Arc<CapacityScaling>,
    tick: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = scaling.pass().await {
            tracing::warn!(error = %e, "capacity provider scaling pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(id: &str, tasks: i64) -> Host {
        Host {
            id: id.into(),
            cpu_total: 1024,
            memory_total: 2048,
            cpu_free: if tasks > 0 { 0 } else { 1024 },
            memory_free: 2048,
            tasks,
            active: true,
        }
    }

    fn view(hosts: Vec<Host>, waiting: usize) -> GroupView {
        GroupView {
            region: "us-east-1".into(),
            cluster: "c".into(),
            provider: "p".into(),
            group: "g".into(),
            settings: Settings {
                target_capacity: 100,
                min_step: 1,
                max_step: 10,
                warmup_ms: 60_000,
                scale_in_after_ms: 75_000,
            },
            protect: true,
            drain: true,
            addresses: hosts.iter().map(|h| (h.id.clone(), format!("10.0.0.{}", h.id))).collect(),
            hosts,
            waiting: vec![Need { cpu: 1024, memory: 128 }; waiting],
            status: None,
        }
    }

    fn hook_of(actions: &[Action]) -> Option<&HookCall> {
        actions.iter().find_map(|a| match a {
            Action::Hook(h) => Some(h),
            _ => None,
        })
    }

    fn recorded(actions: &[Action]) -> Status {
        match &actions[0] {
            Action::Record { status, .. } => status.clone(),
            other => panic!("the record comes first: {other:?}"),
        }
    }

    #[test]
    fn lacking_tasks_scale_the_group_out_once_per_decision() {
        let mut v = view(vec![host("1", 1)], 2);
        let acts = step(&v, 1_000);
        let s = recorded(&acts);
        assert_eq!((s.needed, s.current, s.desired), (3, 1, 3));
        assert_eq!(s.capacity_provider_reservation, 300.0);
        let call = hook_of(&acts).expect("a hook run");
        assert_eq!((call.desired, call.current), (3, 1));
        assert_eq!(call.protected, vec!["1".to_owned()], "the busy host is protected");
        // The run is under way: no second one.
        v.status = Some(s.clone());
        assert!(hook_of(&step(&v, 5_000)).is_none());
        // It succeeded, the hosts are still coming: wait for the warm-up.
        let mut done = s.clone();
        done.hook =
            Some(HookRun { ok: Some(true), finished_ms: Some(2_000), ..s.hook.clone().unwrap() });
        v.status = Some(done.clone());
        assert!(hook_of(&step(&v, 30_000)).is_none());
        // A warm-up later the group is still short: ask again.
        assert!(hook_of(&step(&v, 62_000)).is_some());
        // The hosts came: nothing to do.
        let mut full = view(vec![host("1", 1), host("2", 1), host("3", 1)], 0);
        full.status = Some(done);
        let acts = step(&full, 70_000);
        assert!(hook_of(&acts).is_none());
        assert_eq!(recorded(&acts).capacity_provider_reservation, 100.0);
    }

    #[test]
    fn idle_hosts_are_drained_and_handed_to_the_hook_after_the_low_alarm() {
        let mut v = view(vec![host("1", 1), host("2", 0), host("3", 0)], 0);
        let acts = step(&v, 0);
        assert!(hook_of(&acts).is_none(), "below target, not yet for long");
        v.status = Some(recorded(&acts));
        let acts = step(&v, 75_000);
        assert_eq!(
            acts[1],
            Action::Drain {
                region: "us-east-1".into(),
                cluster: "c".into(),
                ids: vec!["2".into(), "3".into()]
            }
        );
        let call = hook_of(&acts).unwrap();
        assert_eq!(call.desired, 1);
        assert_eq!(call.remove_addresses, vec!["10.0.0.2".to_owned(), "10.0.0.3".to_owned()]);
        // Without managed draining, straight to the hook.
        v.drain = false;
        let acts = step(&v, 75_000);
        assert!(matches!(acts[1], Action::Hook(_)));
    }

    #[test]
    fn a_failed_hook_is_tried_again_a_warm_up_later() {
        let mut v = view(vec![], 1);
        let s = recorded(&step(&v, 0));
        let mut failed = s.clone();
        failed.hook =
            Some(HookRun { ok: Some(false), finished_ms: Some(10), ..s.hook.clone().unwrap() });
        v.status = Some(failed);
        assert!(hook_of(&step(&v, 30_000)).is_none());
        assert!(hook_of(&step(&v, 60_000)).is_some());
    }
}
