//! The service scheduler: keeps each service's tasks at its desired count,
//! rolls deployments out within their bounds, registers tasks with their
//! target groups and drains them before stopping them.
//!
//! [`step`] is the pure decision. [`run`] is the thin loop: whenever a
//! service, a task or a target group changes (and every second, for the
//! timers: drains ending, the 40 s health rule, grace periods, throttling),
//! it reads each service's view ([`observe`]), runs the step inside an
//! atomic update of the service's record (so a user's concurrent
//! UpdateService is never lost), and applies the actions. Tasks are launched
//! through a [`Launcher`]: the API's own task launch, so a service's tasks
//! are built and placed exactly as RunTask's are.

pub mod events;
pub mod observe;
pub mod step;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_model::clock::Clock;
use wharf_model::ecs::service::{ServiceRecord, TargetRef};
use wharf_model::ecs::shapes::{Task, TaskStopCode};
use wharf_model::elbv2::registration::{self, Deregistered};
use wharf_model::elbv2::shapes::TargetDescription;
use wharf_model::elbv2::{health, TargetGroupRecord, TargetRecord};
use wharf_model::EcsError;
use wharf_store::elb::{ElbTx, TargetRow};
use wharf_store::{Kind, Store, StoreError, TaskUpdate, Write};

pub use step::{step, Action, Observed, ObservedInstance, ObservedTask, TargetState};

/// How often every service is looked at even when nothing announced a change.
pub const TICK: Duration = Duration::from_secs(1);

/// What a launch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launched {
    /// The IDs of the tasks stored.
    pub task_ids: Vec<String>,
    /// Why tasks were left unplaced, in ECS's words for the event (the
    /// closest match's shortfall, or "No Container Instances were found in
    /// your cluster.").
    pub unplaced: Option<String>,
}

/// A boxed future, for the object-safe [`Launcher`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Launches a service's tasks as RunTask would: placed on the cluster's
/// instances (or on one), `startedBy` the unit, `group` `service:<name>`.
pub trait Launcher: Send + Sync + 'static {
    /// Launches `count` tasks of `unit` (a deployment or task set id).
    fn launch<'a>(
        &'a self,
        region: &'a str,
        record: &'a ServiceRecord,
        unit: &'a str,
        count: usize,
        instance: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Launched, EcsError>>;
}

/// Everything the loop works with.
#[derive(Clone)]
pub struct Scheduler {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How tasks are launched.
    pub launcher: Arc<dyn Launcher>,
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
        for region in self.store.regions(Kind::Service).await? {
            let mut after: Option<String> = None;
            loop {
                let page = self.store.list(Kind::Service, &region, after.as_deref(), 500).await?;
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
        let Some(body) = self.store.get(Kind::Service, region, key).await? else { return Ok(()) };
        let Ok(rec) = serde_json::from_str::<ServiceRecord>(&body) else {
            tracing::error!(service = %key, "a stored service could not be read");
            return Ok(());
        };
        let now = self.clock.now_millis();
        let observed = observe::observe(&*self.store, region, &rec, now).await?;
        // Most passes change nothing: find that out on the snapshot, without
        // a write transaction. (Event ids here are thrown away.)
        let mut trial = rec.clone();
        if step(&mut trial, &observed, now, &mut String::new).is_empty() && trial == rec {
            return Ok(());
        }
        let actions: Arc<Mutex<Vec<Action>>> = Arc::default();
        let actions_in = actions.clone();
        let after = self
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
        let cluster = observe::cluster_name(rec);
        let now = self.clock.now_millis();
        match action {
            Action::Start { unit, count, instance } => {
                let launched = match self
                    .launcher
                    .launch(region, rec, &unit, count, instance.as_deref())
                    .await
                {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(service = %key, error = %e.message, "tasks not launched");
                        return self
                            .note_launch(region, key, Launched::default(), Some(e.message), now)
                            .await;
                    }
                };
                self.note_launch(region, key, launched, None, now).await?;
            }
            Action::Stop { task, reason, code } => {
                stop_task(&*self.store, region, &cluster, &task, reason, code).await?;
            }
            Action::Register(targets) => self.targets(region, targets, true, now).await?,
            Action::Deregister(targets) => self.targets(region, targets, false, now).await?,
            Action::Forget => {}
        }
        Ok(())
    }

    /// Adds the launch's events to the record.
    async fn note_launch(
        &self,
        region: &str,
        key: &str,
        launched: Launched,
        error: Option<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.store
            .update(
                Kind::Service,
                region,
                key,
                Box::new(move |current| {
                    let error = error.clone();
                    let launched = launched.clone();
                    let Some(current) = current else { return Ok(Write::Keep) };
                    let mut rec = read_record(&current)?;
                    let name = rec.service.service_name.clone().unwrap_or_default();
                    let mut changed = false;
                    if !launched.task_ids.is_empty() {
                        let msg = events::started(&name, &launched.task_ids);
                        changed |= events::emit(&mut rec, msg, now, new_event_id());
                    }
                    if let Some(why) = launched.unplaced {
                        let msg = events::unable_to_place(&name, &why);
                        changed |= events::emit(&mut rec, msg, now, new_event_id());
                    }
                    if let Some(error) = error {
                        let msg = events::unable_to_launch(&name, &error);
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

    /// Registers targets, or deregisters them (they drain when their group
    /// is in use, else go at once), as RegisterTargets/DeregisterTargets do.
    async fn targets(
        &self,
        region: &str,
        targets: Vec<TargetRef>,
        register: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        if targets.is_empty() {
            return Ok(());
        }
        self.store
            .elb_write(
                region,
                Box::new(move |elb: &dyn ElbTx| {
                    let targets = targets.clone();
                    for t in targets {
                        let Some(row) = elb.get(&t.target_group_arn)? else { continue };
                        let delay = serde_json::from_str::<TargetGroupRecord>(&row.body)
                            .map_or(300_000, |g| g.deregistration_delay_ms());
                        let current = live_target(elb, &t, delay, now)?;
                        let record = if register {
                            let target = TargetDescription {
                                id: Some(t.id.clone()),
                                port: Some(t.port),
                                ..Default::default()
                            };
                            registration::register(current.as_ref(), target, now)
                        } else {
                            let Some(c) = current else { continue };
                            let in_use = !elb.uses_of(&t.target_group_arn)?.is_empty();
                            match registration::deregister(&c, in_use, delay, now) {
                                Deregistered::Keep => None,
                                Deregistered::Drain(drained) => Some(drained),
                                Deregistered::Remove => {
                                    elb.delete_target(&t.target_group_arn, &t.id, t.port)?;
                                    None
                                }
                            }
                        };
                        let Some(record) = record else { continue };
                        let body = serde_json::to_string(&record)
                            .map_err(|e| StoreError::Database(e.to_string()))?;
                        elb.put_target(
                            &t.target_group_arn,
                            &TargetRow { id: t.id.clone(), port: t.port, body },
                        )?;
                    }
                    Ok(())
                }),
            )
            .await
    }
}

/// A target's record, if it is registered or still draining; one that has
/// finished draining is removed, as the API's writes remove them.
fn live_target(
    elb: &dyn ElbTx,
    t: &TargetRef,
    delay_ms: i64,
    now_ms: i64,
) -> Result<Option<TargetRecord>, StoreError> {
    let Some(row) =
        elb.targets(&t.target_group_arn)?.into_iter().find(|r| r.id == t.id && r.port == t.port)
    else {
        return Ok(None);
    };
    let Ok(record) = serde_json::from_str::<TargetRecord>(&row.body) else { return Ok(None) };
    if health::is_gone(&record, delay_ms, now_ms) {
        elb.delete_target(&t.target_group_arn, &t.id, t.port)?;
        return Ok(None);
    }
    Ok(Some(record))
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

/// Sets a task's desired status to STOPPED with the scheduler's reason, as
/// StopTask does; its agent stops the containers.
async fn stop_task(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    id: &str,
    reason: String,
    code: TaskStopCode,
) -> Result<(), StoreError> {
    store
        .update_task(
            region,
            cluster,
            id,
            Box::new(move |stored| {
                let code = code.clone();
                let reason = reason.clone();
                let mut t: Task = serde_json::from_str(&stored.json)
                    .map_err(|_| EcsError::server("A stored task could not be read."))?;
                if stored.desired_status == "STOPPED"
                    || !wharf_model::ecs::task::request_stop(&mut t, code, reason)
                {
                    return Ok(None);
                }
                Ok(Some(TaskUpdate {
                    last_status: stored.last_status.clone(),
                    desired_status: "STOPPED".to_owned(),
                    json: serde_json::to_string(&t)
                        .map_err(|e| EcsError::server(format!("task not written: {e}")))?,
                    stopped_ms: None,
                }))
            }),
        )
        .await?;
    Ok(())
}

/// Runs the scheduler until `shutdown` turns `true`: a pass whenever a
/// service, task or target group changes, and every [`TICK`].
pub async fn run(scheduler: Scheduler, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut services = scheduler.store.service_changes();
    let mut tasks = scheduler.store.task_changes();
    let mut elb = scheduler.store.elb_changes();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = services.recv() => {}
            _ = tasks.recv() => {}
            _ = elb.recv() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        // What arrived while the pass runs is covered by the next one; drain
        // the backlog so one burst of changes costs one pass.
        while services.try_recv().is_ok() || tasks.try_recv().is_ok() || elb.try_recv().is_ok() {}
        if let Err(e) = scheduler.pass().await {
            tracing::warn!(error = %e, "service scheduler pass failed");
        }
    }
}
