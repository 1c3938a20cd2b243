//! The service scheduler: keeps each service's tasks at its desired count,
//! rolls deployments out within their bounds, registers tasks with their
//! target groups and drains them before stopping them.
//!
//! [`step`] is the pure decision. [`run`] is the thin loop: when a service or
//! one of its tasks changes it reconciles that service; every second (for the
//! timers: drains ending, the 40 s health rule, grace periods, throttling),
//! or when a target group changes, every service. Reconciling reads the
//! service's view ([`observe`]), runs the step inside an atomic update of the
//! service's record (so a user's concurrent UpdateService is never lost), and
//! applies the actions. Tasks are launched
//! through a [`Launcher`]: the API's own task launch, so a service's tasks
//! are built and placed exactly as RunTask's are.

pub mod events;
pub mod observe;
pub mod step;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_model::ecs::service::{ServiceRecord, TargetRef};
use wharf_model::elbv2::shapes::TargetDescription;
use wharf_model::EcsError;
use wharf_ops::targets::{self, IfMissing};
use wharf_ops::{launch, stop, traffic, Ops, OpsError, Region};
use wharf_store::{Kind, StoreError, Write};

use events::Unplaced;

pub use step::{step, Action, Observed, ObservedInstance, ObservedTask, TargetState};

/// How often every service is looked at even when nothing announced a change.
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
    /// Reconciles every service of every region once.
    pub async fn pass(&self) -> Result<(), StoreError> {
        for region in self.ops.store.regions(Kind::Service).await? {
            let mut after: Option<String> = None;
            loop {
                let page =
                    self.ops.store.list(Kind::Service, &region, after.as_deref(), 500).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.0.clone());
                for (key, _) in &page {
                    if let Err(e) = self.reconcile(&region, key).await {
                        tracing::warn!(service = %key, error = %e, "service not reconciled");
                    }
                }
            }
        }
        Ok(())
    }

    /// Reconciles one service: observe, step inside the record's update,
    /// apply.
    pub async fn reconcile(&self, region: &str, key: &str) -> Result<(), StoreError> {
        let Some(body) = self.ops.store.get(Kind::Service, region, key).await? else {
            return Ok(());
        };
        let Ok(rec) = serde_json::from_str::<ServiceRecord>(&body) else {
            tracing::error!(service = %key, "a stored service could not be read");
            return Ok(());
        };
        let now = self.ops.clock.now_millis();
        let observed =
            observe::observe(&*self.ops.store, &self.ops.metrics, region, &rec, now).await?;
        // Most passes change nothing: find that out on the snapshot, without
        // a write transaction. (Event ids here are thrown away.)
        let mut trial = rec.clone();
        if step(&mut trial, &observed, now, &mut String::new).is_empty() && trial == rec {
            return Ok(());
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
        let Some(after) = after else { return Ok(()) };
        let Ok(rec) = serde_json::from_str::<ServiceRecord>(&after) else { return Ok(()) };
        let acts = actions.lock().map(|mut a| std::mem::take(&mut *a)).unwrap_or_default();
        for action in acts {
            self.apply(region, key, &rec, action).await?;
        }
        Ok(())
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

/// Runs the scheduler until `shutdown` turns `true`. Every [`TICK`] it
/// passes over every service (for the timers: drains ending, the 40 s health
/// rule, grace periods, throttling). In between, a service that changes, or
/// one of whose tasks changes, is reconciled alone: a task's change costs one
/// service's work, not every service's. A target group's change, or a
/// change channel that fell behind, brings the next pass forward.
pub async fn run(scheduler: Scheduler, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut services = scheduler.ops.store.service_changes();
    let mut tasks = scheduler.ops.store.task_changes();
    let mut elb = scheduler.ops.store.elb_changes();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut wake = Wake::default();
        tokio::select! {
            _ = tick.tick() => wake.everything = true,
            s = services.recv() => wake.service(s),
            t = tasks.recv() => wake.task(t),
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
            if let Some(e) = ready(elb.try_recv()) {
                wake.target_groups(e);
            }
            if wake.heard == before {
                break;
            }
        }
        if wake.everything {
            if let Err(e) = scheduler.pass().await {
                tracing::warn!(error = %e, "service scheduler pass failed");
            }
            tick.reset();
            continue;
        }
        for (region, key) in &wake.services {
            if let Err(e) = scheduler.reconcile(region, key).await {
                tracing::warn!(service = %key, error = %e, "service not reconciled");
            }
        }
    }
}

/// What woke the scheduler: every service, or only these.
#[derive(Debug, Default)]
struct Wake {
    /// Pass over every service.
    everything: bool,
    /// The services that changed, or whose tasks did, by region and key.
    services: std::collections::BTreeSet<(String, String)>,
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
    /// freed room is seen by the next pass).
    fn task(&mut self, heard: Heard<wharf_store::TaskChanged>) {
        self.heard += 1;
        match heard {
            Ok(c) => {
                if let Some(name) = &c.service {
                    let key = wharf_model::ecs::service::key(&c.cluster, name);
                    self.services.insert((c.region, key));
                }
            }
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

    fn task(service: Option<&str>) -> TaskChanged {
        TaskChanged {
            region: "us-east-1".into(),
            cluster: "prod".into(),
            id: "t1".into(),
            instance_id: None,
            instance_cluster: None,
            service: service.map(Into::into),
        }
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
        let mut elb = Wake::default();
        elb.target_groups(Ok("us-east-1".into()));
        assert!(elb.everything);
    }
}
