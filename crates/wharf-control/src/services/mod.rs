//! The service scheduler: keeps each service's tasks at its desired count,
//! rolls deployments out within their bounds, registers tasks with their
//! target groups and drains them before stopping them.
//!
//! [`step`] is the pure decision. [`run`] is the thin loop: when a service,
//! one of its tasks, or the instance one of its tasks is on changes, it
//! reconciles that service; every second, the services whose timers run
//! (drains ending, the 40 s health rule, grace periods, throttling), as the
//! [`agenda`] keeps them; when a target group changes, every service.
//! Reconciling reads the
//! service's view ([`observe`]), runs the step inside an atomic update of the
//! service's record (so a user's concurrent UpdateService is never lost), and
//! applies the actions. Tasks are launched
//! through a [`Launcher`]: the API's own task launch, so a service's tasks
//! are built and placed exactly as RunTask's are.

pub mod agenda;
pub mod events;
pub mod observe;
pub mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_model::ecs::service::{ServiceRecord, TargetRef};
use wharf_model::ecs::shapes::SchedulingStrategy;
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::elbv2::shapes::TargetDescription;
use wharf_model::EcsError;
use wharf_ops::targets::{self, IfMissing};
use wharf_ops::{launch, stop, traffic, Ops, OpsError, Region};
use wharf_store::{Kind, StoreError, Write};

use agenda::{Agenda, Outcome, ServiceRef};
use events::Unplaced;

pub use step::{settled, step, Action, Observed, ObservedInstance, ObservedTask, TargetState};

/// How often the services whose timers run are looked at even when nothing
/// announced a change.
pub const TICK: Duration = Duration::from_secs(1);

/// Everything the loop works with.
#[derive(Clone)]
pub struct Scheduler {
    /// The operations it applies its actions with (and the store and clock
    /// they hold).
    pub ops: Ops,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

fn new_event_id() -> String {
    wharf_model::ids::uuid_v4()
}

impl Scheduler {
    /// Reconciles every service of every region once, and says what it
    /// found of each (a service that could not be reconciled counts as
    /// moving, to be tried again).
    pub async fn pass(&self) -> Result<Vec<(ServiceRef, Outcome)>, StoreError> {
        let mut seen = Vec::new();
        for region in self.ops.store.regions(Kind::Service).await? {
            let mut after: Option<String> = None;
            loop {
                let page =
                    self.ops.store.list(Kind::Service, &region, after.as_deref(), 500).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.0.clone());
                for (key, _) in &page {
                    let outcome = self.reconcile_or_retry(&region, key).await;
                    seen.push(((region.clone(), key.clone()), outcome));
                }
            }
        }
        Ok(seen)
    }

    /// Reconciles one service; a failure is logged and the service counts
    /// as moving, so the next tick tries again.
    async fn reconcile_or_retry(&self, region: &str, key: &str) -> Outcome {
        match self.reconcile(region, key).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(service = %key, error = %e, "service not reconciled");
                Outcome::Seen { settled: false, daemon: false }
            }
        }
    }

    /// The services with a task on an instance (that one's tasks not yet
    /// STOPPED), by region and key.
    async fn services_on(
        &self,
        changed: &wharf_store::InstanceChanged,
    ) -> Result<BTreeSet<ServiceRef>, StoreError> {
        let tasks = self
            .ops
            .store
            .unstopped_tasks_on(&changed.region, &changed.cluster, &changed.id)
            .await?;
        Ok(tasks
            .into_iter()
            .filter_map(|t| {
                let name = t.service.as_deref()?;
                let key = wharf_model::ecs::service::key(&t.cluster, name);
                Some((changed.region.clone(), key))
            })
            .collect())
    }

    /// Reconciles one service: observe, step inside the record's update,
    /// apply. Says whether the service is settled: it is when the step had
    /// nothing to do and will have nothing to do within the horizon unless
    /// something changes ([`settled`]).
    pub async fn reconcile(&self, region: &str, key: &str) -> Result<Outcome, StoreError> {
        let Some(body) = self.ops.store.get(Kind::Service, region, key).await? else {
            return Ok(Outcome::Gone);
        };
        let Ok(rec) = serde_json::from_str::<ServiceRecord>(&body) else {
            tracing::error!(service = %key, "a stored service could not be read");
            // Nothing to do until someone writes it again.
            return Ok(Outcome::Seen { settled: true, daemon: false });
        };
        let daemon = rec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
        let now = self.ops.clock.now_millis();
        let observed =
            observe::observe(&*self.ops.store, &self.ops.metrics, region, &rec, now).await?;
        // Most passes change nothing: find that out on the snapshot, without
        // a write transaction. (Event ids here are thrown away.)
        let mut trial = rec.clone();
        if step(&mut trial, &observed, now, &mut String::new).is_empty() && trial == rec {
            let settled = settled(&rec, &observed, now);
            return Ok(Outcome::Seen { settled, daemon });
        }
        let actions: Arc<Mutex<Vec<Action>>> = Arc::default();
        let actions_in = actions.clone();
        let after = self
            .ops
            .store
            .update(
                Kind::Service,
                region,
                key,
                Box::new(move |current| {
                    let Some(current) = current else { return Ok(Write::Keep) };
                    let mut rec = read_record(&current)?;
                    let before = rec.clone();
                    let acts = step(&mut rec, &observed, now, &mut new_event_id);
                    let forget = acts.contains(&Action::Forget);
                    if let Ok(mut a) = actions_in.lock() {
                        *a = acts;
                    }
                    if forget {
                        return Ok(Write::Delete);
                    }
                    if rec == before {
                        return Ok(Write::Keep);
                    }
                    put_record(&rec)
                }),
            )
            .await?;
        let moving = Outcome::Seen { settled: false, daemon };
        let Some(after) = after else { return Ok(Outcome::Gone) };
        let Ok(rec) = serde_json::from_str::<ServiceRecord>(&after) else { return Ok(moving) };
        let acts = actions.lock().map(|mut a| std::mem::take(&mut *a)).unwrap_or_default();
        for action in acts {
            self.apply(region, key, &rec, action).await?;
        }
        // It acted: look again at the next tick.
        Ok(moving)
    }

    async fn apply(
        &self,
        region: &str,
        key: &str,
        rec: &ServiceRecord,
        action: Action,
    ) -> Result<(), StoreError> {
        let ops: Region<'_> = self.ops.region(region);
        let now = self.ops.clock.now_millis();
        match action {
            Action::Start { unit, count, instance } => {
                let launched =
                    launch::for_service(ops, rec, &unit, count, instance.as_deref()).await;
                let note = match launched {
                    Ok(l) => {
                        let unplaced =
                            (l.tasks.len() < count).then(|| Unplaced::closest(&l.failures));
                        LaunchNote { task_ids: l.task_ids(), unplaced, error: None }
                    }
                    Err(OpsError::NoContainerInstances) => LaunchNote {
                        unplaced: Some(Unplaced::NoContainerInstances),
                        ..LaunchNote::default()
                    },
                    Err(OpsError::Store(e)) => return Err(e),
                    Err(OpsError::Refused(e)) => {
                        tracing::warn!(service = %key, error = %e.message, "tasks not launched");
                        LaunchNote { error: Some(e.message), ..LaunchNote::default() }
                    }
                    Err(e @ OpsError::ScalingRefused(_)) => {
                        tracing::warn!(service = %key, error = %e, "tasks not launched");
                        LaunchNote { error: Some(e.to_string()), ..LaunchNote::default() }
                    }
                };
                self.note_launch(region, key, note, now).await?;
            }
            Action::Stop { task, reason, code } => {
                match stop::stop_task(ops, rec.cluster_name(), &task, code, reason).await {
                    Ok(_) => {}
                    Err(OpsError::Store(e)) => return Err(e),
                    Err(e) => {
                        tracing::warn!(service = %key, task = %task, error = %e, "task not stopped")
                    }
                }
            }
            Action::Register(targets) => {
                for (group, targets) in by_group(targets) {
                    if let Err(e) = targets::register_targets(ops, &group, targets).await {
                        tracing::warn!(service = %key, group = %group, error = %e.message, "targets not registered");
                    }
                }
            }
            Action::Deregister(targets) => {
                for (group, targets) in by_group(targets) {
                    if let Err(e) =
                        targets::deregister_targets(ops, &group, targets, IfMissing::Skip).await
                    {
                        tracing::warn!(service = %key, group = %group, error = %e.message, "targets not deregistered");
                    }
                }
            }
            Action::Forward { rule, groups } => {
                if let Err(e) = traffic::set_forward(ops, &rule, groups).await {
                    tracing::warn!(service = %key, rule = %rule, error = %e.message, "listener rule not changed");
                }
            }
            Action::Forget => {}
        }
        Ok(())
    }

    /// Adds a launch's events to the record.
    async fn note_launch(
        &self,
        region: &str,
        key: &str,
        note: LaunchNote,
        now: i64,
    ) -> Result<(), StoreError> {
        self.ops
            .store
            .update(
                Kind::Service,
                region,
                key,
                Box::new(move |current| {
                    let Some(current) = current else { return Ok(Write::Keep) };
                    let mut rec = read_record(&current)?;
                    let name = rec.service.service_name.clone().unwrap_or_default();
                    let mut changed = false;
                    if !note.task_ids.is_empty() {
                        let msg = events::started(&name, &note.task_ids);
                        changed |= events::emit(&mut rec, msg, now, new_event_id());
                    }
                    if let Some(why) = &note.unplaced {
                        let msg = events::unable_to_place(&name, why);
                        changed |= events::emit(&mut rec, msg, now, new_event_id());
                    }
                    if let Some(error) = &note.error {
                        let msg = events::unable_to_launch(&name, error);
                        changed |= events::emit(&mut rec, msg, now, new_event_id());
                    }
                    if !changed {
                        return Ok(Write::Keep);
                    }
                    put_record(&rec)
                }),
            )
            .await?;
        Ok(())
    }
}

/// What a launch leaves in the service's events.
#[derive(Debug, Default)]
struct LaunchNote {
    /// The tasks started.
    task_ids: Vec<String>,
    /// Why some were not placed.
    unplaced: Option<Unplaced>,
    /// Why none could be launched.
    error: Option<String>,
}

/// Targets grouped by target group, as the target operations take them.
fn by_group(targets: Vec<TargetRef>) -> BTreeMap<String, Vec<TargetDescription>> {
    let mut groups: BTreeMap<String, Vec<TargetDescription>> = BTreeMap::new();
    for t in targets {
        groups.entry(t.target_group_arn).or_default().push(TargetDescription {
            id: Some(t.id),
            port: Some(t.port),
            ..TargetDescription::default()
        });
    }
    groups
}

/// Reads a stored service record inside an update.
fn read_record(body: &str) -> Result<ServiceRecord, EcsError> {
    serde_json::from_str(body).map_err(|_| EcsError::server("A stored service could not be read."))
}

/// The write that stores a service record.
fn put_record(rec: &ServiceRecord) -> Result<Write, EcsError> {
    serde_json::to_string(rec)
        .map(Write::Put)
        .map_err(|e| EcsError::server(format!("service not written: {e}")))
}

/// Runs the scheduler until `shutdown` turns `true`. It starts with a pass
/// over every service. A service that changes, one of whose tasks changes,
/// or with a task on an instance that stops taking tasks, is reconciled
/// alone; a new or changed instance also wakes its cluster's DAEMON
/// services. Every [`TICK`] it looks at the services the [`Agenda`] says are
/// due: those with timers running, and a trickle of settled ones. A target
/// group's change, or a change channel that fell behind, brings a pass over
/// every service.
pub async fn run(scheduler: Scheduler, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut services = scheduler.ops.store.service_changes();
    let mut tasks = scheduler.ops.store.task_changes();
    let mut instances = scheduler.ops.store.instance_changes();
    let mut elb = scheduler.ops.store.elb_changes();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut agenda = Agenda::default();
    // The first tick (at once) passes over every service.
    let mut primed = false;
    loop {
        let mut wake = Wake::default();
        tokio::select! {
            _ = tick.tick() => wake.tick = true,
            s = services.recv() => wake.service(s),
            t = tasks.recv() => wake.task(t),
            i = instances.recv() => wake.instance(i),
            e = elb.recv() => wake.target_groups(e),
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        // What arrived meanwhile joins this wake: a burst of changes to one
        // service costs one reconcile.
        loop {
            let before = wake.heard;
            if let Some(s) = ready(services.try_recv()) {
                wake.service(s);
            }
            if let Some(t) = ready(tasks.try_recv()) {
                wake.task(t);
            }
            if let Some(i) = ready(instances.try_recv()) {
                wake.instance(i);
            }
            if let Some(e) = ready(elb.try_recv()) {
                wake.target_groups(e);
            }
            if wake.heard == before {
                break;
            }
        }
        if wake.everything || !primed {
            match scheduler.pass().await {
                Ok(seen) => {
                    agenda.replace(seen, scheduler.ops.clock.now_millis());
                    primed = true;
                }
                Err(e) => tracing::warn!(error = %e, "service scheduler pass failed"),
            }
            tick.reset();
            continue;
        }
        let mut todo = std::mem::take(&mut wake.services);
        for changed in &wake.instances {
            todo.extend(agenda.daemons_in(&changed.region, &changed.cluster).cloned());
            if changed.status == Some(InstanceStatus::Active) {
                continue;
            }
            match scheduler.services_on(changed).await {
                Ok(on) => todo.extend(on),
                Err(e) => {
                    tracing::warn!(instance = %changed.id, error = %e, "instance's tasks not read");
                    primed = false;
                }
            }
        }
        if wake.tick {
            todo.extend(agenda.due(scheduler.ops.clock.now_millis()).cloned());
        }
        for service in todo {
            let outcome = scheduler.reconcile_or_retry(&service.0, &service.1).await;
            agenda.note(service, outcome, scheduler.ops.clock.now_millis());
        }
    }
}

/// What woke the scheduler: every service, or only these.
#[derive(Debug, Default)]
struct Wake {
    /// Pass over every service.
    everything: bool,
    /// The tick: the services the agenda says are due.
    tick: bool,
    /// The services that changed, or whose tasks did, by region and key.
    services: BTreeSet<ServiceRef>,
    /// Instances whose status changed.
    instances: Vec<std::sync::Arc<wharf_store::InstanceChanged>>,
    /// How many changes were heard (to know when the backlog is drained).
    heard: usize,
}

/// A change channel's answer, unless it had nothing waiting.
type Heard<T> = Result<T, tokio::sync::broadcast::error::RecvError>;

/// `try_recv`'s answer as `recv`'s, or `None` when nothing is waiting.
fn ready<T>(got: Result<T, tokio::sync::broadcast::error::TryRecvError>) -> Option<Heard<T>> {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    match got {
        Ok(v) => Some(Ok(v)),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
        Err(TryRecvError::Closed) => None,
    }
}

impl Wake {
    /// A service's record changed.
    fn service(&mut self, heard: Heard<(String, String)>) {
        self.heard += 1;
        match heard {
            Ok(changed) => {
                self.services.insert(changed);
            }
            Err(_) => self.everything = true,
        }
    }

    /// A task changed: its service's, if it has one (a standalone task's
    /// freed room is seen by the services waiting for room, which the
    /// agenda keeps moving).
    fn task(&mut self, heard: Heard<std::sync::Arc<wharf_store::TaskChanged>>) {
        self.heard += 1;
        match heard {
            Ok(c) => {
                if let Some(name) = &c.service {
                    let key = wharf_model::ecs::service::key(&c.cluster, name);
                    self.services.insert((c.region.clone(), key));
                }
            }
            Err(_) => self.everything = true,
        }
    }

    /// An instance's status changed: the services with tasks on it and its
    /// cluster's DAEMON services are looked up by the loop.
    fn instance(&mut self, heard: Heard<std::sync::Arc<wharf_store::InstanceChanged>>) {
        self.heard += 1;
        match heard {
            Ok(c) => self.instances.push(c),
            Err(_) => self.everything = true,
        }
    }

    /// A target group or load balancer changed: any service may route to it.
    fn target_groups(&mut self, heard: Heard<String>) {
        self.heard += 1;
        let _ = heard;
        self.everything = true;
    }
}

#[cfg(test)]
mod wake_tests {
    use tokio::sync::broadcast::error::RecvError;
    use wharf_store::TaskChanged;

    use super::Wake;

    fn task(service: Option<&str>) -> std::sync::Arc<TaskChanged> {
        std::sync::Arc::new(TaskChanged {
            region: "us-east-1".into(),
            cluster: "prod".into(),
            id: "t1".into(),
            instance_id: None,
            instance_cluster: None,
            service: service.map(Into::into),
        })
    }

    #[test]
    fn a_tasks_change_wakes_its_service_alone() {
        let mut wake = Wake::default();
        wake.task(Ok(task(Some("web"))));
        wake.task(Ok(task(None)));
        wake.service(Ok(("us-east-1".into(), "prod/api".into())));
        assert!(!wake.everything);
        let keys: Vec<_> = wake.services.iter().map(|(r, k)| (r.as_str(), k.as_str())).collect();
        assert_eq!(keys, [("us-east-1", "prod/api"), ("us-east-1", "prod/web")]);
        assert_eq!(wake.heard, 3);
    }

    #[test]
    fn a_lagging_channel_or_a_target_group_wakes_every_service() {
        let mut lagged = Wake::default();
        lagged.task(Err(RecvError::Lagged(3)));
        assert!(lagged.everything);
        let mut lost = Wake::default();
        lost.instance(Err(RecvError::Lagged(1)));
        assert!(lost.everything);
        let mut elb = Wake::default();
        elb.target_groups(Ok("us-east-1".into()));
        assert!(elb.everything);
    }
}
