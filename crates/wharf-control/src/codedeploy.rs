//! The CodeDeploy reconciler: runs each CodeDeploy deployment to an ECS service of the
//! CODE_DEPLOY controller through the service's task sets, as CodeDeploy does.
//!
//! [`step`] is the pure decision on one deployment (its record, what its service and
//! listeners look like, the time); [`run`] is the thin loop that reads them, stores the
//! record and applies the actions. The stages: the replacement task set is created at
//! 100% in the target group of the pair the original does not use (its `externalId` is the
//! deployment id, so it is found again after a restart); once its tasks run and its
//! targets are healthy the test listener forwards to it; with `deploymentReadyOption`
//! STOP_DEPLOYMENT the deployment is Ready until ContinueDeployment (or stops when the
//! wait runs out); production traffic moves as the deployment configuration says (all at
//! once, linear, canary), each step only once the rule forwards as the last one asked;
//! then the replacement becomes PRIMARY, `terminationWaitTimeInMinutes` passes and the
//! original task set is drained: Succeeded. StopDeployment with rollback puts every rule
//! back on the original and drains the replacement in the step that sees it.

use std::collections::BTreeMap;
use std::time::Duration;

use wharf_model::codedeploy::deployment::{finished, DeploymentRecord, Stage};
use wharf_model::codedeploy::shapes::{
    DeploymentStatus, ErrorCode, ErrorInformation, RollbackInfo, TrafficRoutingType,
};
use wharf_model::ecs::service::deployment::{health_checked, Names, Revision};
use wharf_model::ecs::service::shift::{normalized, weights};
use wharf_model::ecs::service::task_set::new_task_set;
use wharf_model::ecs::service::{self as ecs_service, ServiceRecord};
use wharf_model::ecs::shapes::{LoadBalancer, StabilityStatus};
use wharf_model::ecs::status::TaskSetStatus;
use wharf_model::wire::Timestamp;
use wharf_ops::{traffic, Ops};
use wharf_store::{Kind, StoreError, Write};

use crate::services::observe;
use crate::services::TargetState;

/// How often deployments are looked at.
pub const TICK: Duration = Duration::from_secs(1);

/// What one deployment's step looks at besides its record.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The ECS service, if it exists.
    pub service: Option<ServiceRecord>,
    /// Healthy targets by target group.
    pub healthy: BTreeMap<String, usize>,
    /// The forwards of the deployment's listener rules.
    pub forwards: BTreeMap<String, Vec<(String, u32)>>,
}

/// What the loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdAction {
    /// Create the replacement task set, registering in this target group.
    AddReplacement {
        /// The target group.
        target_group: String,
    },
    /// Make a listener rule forward so.
    Forward {
        /// The rule.
        rule: String,
        /// Target groups and weights.
        groups: Vec<(String, u32)>,
    },
    /// Make this task set PRIMARY.
    MakePrimary(String),
    /// Drain this task set.
    Drain(String),
}

fn set_status(d: &mut DeploymentRecord, s: DeploymentStatus, now: i64) {
    if s == DeploymentStatus::InProgress && d.info.start_time.is_none() {
        d.info.start_time = Some(Timestamp::from_millis(now));
    }
    if matches!(
        s,
        DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped
    ) {
        d.info.complete_time = Some(Timestamp::from_millis(now));
    }
    d.info.status = Some(s);
}

fn go(d: &mut DeploymentRecord, stage: Stage, now: i64) {
    d.progress.stage = stage;
    d.progress.stage_ms = now;
}

/// The task set a deployment created (by its external id).
fn replacement(d: &DeploymentRecord, svc: &ServiceRecord) -> Option<String> {
    let id = d.info.deployment_id.as_deref()?;
    svc.service
        .task_sets
        .iter()
        .flatten()
        .find(|t| t.external_id.as_deref() == Some(id) && t.status != Some(TaskSetStatus::Draining))
        .and_then(|t| t.id.clone())
}

/// The target group a task set registers in.
fn group_of(svc: &ServiceRecord, id: &str) -> Option<String> {
    svc.service
        .task_sets
        .iter()
        .flatten()
        .find(|t| t.id.as_deref() == Some(id))
        .and_then(|t| t.load_balancers.as_ref()?.first()?.target_group_arn.clone())
}

/// The production share after `current` percent, by the routing config.
fn next_share(d: &DeploymentRecord, current: u32) -> u32 {
    let r = &d.routing;
    match r.r#type {
        Some(TrafficRoutingType::TimeBasedLinear) => {
            let p = r.time_based_linear.as_ref().and_then(|l| l.linear_percentage).unwrap_or(100);
            (current + p.clamp(1, 100) as u32).min(100)
        }
        Some(TrafficRoutingType::TimeBasedCanary) if current == 0 => {
            let p = r.time_based_canary.as_ref().and_then(|c| c.canary_percentage).unwrap_or(100);
            p.clamp(1, 100) as u32
        }
        _ => 100,
    }
}

/// How long each share below 100% is held (ms).
fn step_wait_ms(d: &DeploymentRecord) -> i64 {
    let r = &d.routing;
    let minutes = match r.r#type {
        Some(TrafficRoutingType::TimeBasedLinear) => {
            r.time_based_linear.as_ref().and_then(|l| l.linear_interval).unwrap_or(0)
        }
        Some(TrafficRoutingType::TimeBasedCanary) => {
            r.time_based_canary.as_ref().and_then(|c| c.canary_interval).unwrap_or(0)
        }
        _ => 0,
    };
    i64::from(minutes.max(0)) * 60_000
}

/// The forwards the rules should have now.
fn routes(d: &DeploymentRecord, blue: &str, green: &str) -> Vec<(String, Vec<(String, u32)>)> {
    let p = &d.progress;
    let rolled_back = p.stop == Some(true);
    let share = if rolled_back { 0 } else { p.shifted };
    let (wb, wg) = weights(share * 10);
    let mut out = vec![(d.prod_rule.clone(), vec![(blue.to_owned(), wb), (green.to_owned(), wg)])];
    let test_on_green = !rolled_back
        && matches!(p.stage, Stage::Ready | Stage::Shifting | Stage::TerminationWait | Stage::Done);
    if let Some(test) = &d.test_rule {
        let t = if test_on_green { (0, 1) } else { (1, 0) };
        out.push((test.clone(), vec![(blue.to_owned(), t.0), (green.to_owned(), t.1)]));
    }
    out
}

fn routed(v: &View, want: &[(String, Vec<(String, u32)>)]) -> bool {
    want.iter()
        .all(|(rule, w)| v.forwards.get(rule).is_some_and(|h| normalized(h) == normalized(w)))
}

fn fail(d: &mut DeploymentRecord, code: &str, message: &str, now: i64) {
    d.info.error_information =
        Some(ErrorInformation { code: Some(ErrorCode::from(code)), message: Some(message.into()) });
    set_status(d, DeploymentStatus::Failed, now);
    go(d, Stage::Done, now);
}

/// One step of one deployment: the record changes in place; the actions
/// converge the service and the rules on it.
pub fn step(d: &mut DeploymentRecord, v: &View, now: i64) -> Vec<CdAction> {
    let mut actions = Vec::new();
    if finished(d.info.status.as_ref()) {
        return actions;
    }
    let Some(svc) = v.service.as_ref().filter(|s| ecs_service::is_code_deploy(&s.service)) else {
        fail(
            d,
            "ECS_UPDATE_ERROR",
            "The ECS service does not exist or does not use CODE_DEPLOY.",
            now,
        );
        return actions;
    };
    if d.progress.original.is_none() {
        let primary = svc
            .service
            .task_sets
            .iter()
            .flatten()
            .find(|t| t.status == Some(TaskSetStatus::Primary))
            .and_then(|t| t.id.clone());
        let Some(primary) = primary else {
            fail(d, "ECS_UPDATE_ERROR", "The ECS service has no primary task set.", now);
            return actions;
        };
        d.progress.original = Some(primary);
    }
    let original = d.progress.original.clone().unwrap_or_default();
    let blue = group_of(svc, &original).unwrap_or_else(|| d.target_groups[0].clone());
    let green = if blue == d.target_groups[0] {
        d.target_groups[1].clone()
    } else {
        d.target_groups[0].clone()
    };
    let repl = replacement(d, svc);

    // The replacement's tasks keep failing (the service circuit breaker's
    // threshold): the deployment fails, rolled back when configured so.
    let failures = repl.as_deref().and_then(|r| svc.deployments.get(r)).map_or(0, |n| n.failures);
    let failed = d.progress.stop.is_none()
        && failures >= ecs_service::failure_threshold(svc.service.desired_count.unwrap_or(0));
    if failed {
        d.progress.stop = Some(d.auto_rollback);
    }
    // A stop: with rollback, every rule back on the original and the
    // replacement drained, in this step.
    if let Some(rollback) = d.progress.stop {
        if rollback {
            for (rule, groups) in routes(d, &blue, &green) {
                actions.push(CdAction::Forward { rule, groups });
            }
            let primary_now = svc
                .service
                .task_sets
                .iter()
                .flatten()
                .find(|t| t.status == Some(TaskSetStatus::Primary))
                .and_then(|t| t.id.clone());
            if primary_now.as_deref() != Some(original.as_str()) {
                actions.push(CdAction::MakePrimary(original.clone()));
            }
            if let Some(r) = repl {
                actions.push(CdAction::Drain(r));
            }
            d.info.rollback_info = Some(RollbackInfo {
                rollback_message: Some(
                    "Deployment stopped: traffic was rerouted to the original task set.".into(),
                ),
                ..RollbackInfo::default()
            });
        }
        let (status, code, message) = if failed {
            (
                DeploymentStatus::Failed,
                "ECS_UPDATE_ERROR",
                "The replacement task set's tasks failed to start or failed their health checks.",
            )
        } else {
            (
                DeploymentStatus::Stopped,
                "DEPLOYMENT_STOPPED",
                "The deployment was stopped by a user request.",
            )
        };
        d.info.error_information = Some(ErrorInformation {
            code: Some(ErrorCode::from(code)),
            message: Some(message.into()),
        });
        set_status(d, status, now);
        go(d, Stage::Done, now);
        return actions;
    }

    for _ in 0..8 {
        let want = routes(d, &blue, &green);
        let in_place = routed(v, &want);
        let next = match d.progress.stage {
            Stage::Created => {
                set_status(d, DeploymentStatus::InProgress, now);
                if repl.is_none() {
                    actions.push(CdAction::AddReplacement { target_group: green.clone() });
                }
                Some(Stage::ScalingUp)
            }
            Stage::ScalingUp => {
                let ready = repl.as_deref().and_then(|r| {
                    svc.service.task_sets.iter().flatten().find(|t| t.id.as_deref() == Some(r))
                });
                let up = ready.is_some_and(|t| {
                    let n = t.computed_desired_count.unwrap_or(0);
                    t.stability_status == Some(StabilityStatus::SteadyState)
                        && t.running_count == Some(n)
                        && v.healthy.get(&green).copied().unwrap_or(0) >= n as usize
                });
                if up {
                    Some(if d.ready_wait_ms.is_some() { Stage::Ready } else { Stage::Shifting })
                } else {
                    None
                }
            }
            Stage::Ready => {
                d.info.status = Some(DeploymentStatus::Ready);
                if d.progress.continued {
                    d.info.status = Some(DeploymentStatus::InProgress);
                    Some(Stage::Shifting)
                } else if now - d.progress.stage_ms >= d.ready_wait_ms.unwrap_or(0) {
                    d.progress.stop = Some(true);
                    let acts = step(d, v, now);
                    actions.extend(acts);
                    d.info.error_information = Some(ErrorInformation {
                        code: Some(ErrorCode::from("TIMEOUT")),
                        message: Some(
                            "The deployment timed out waiting for ContinueDeployment.".into(),
                        ),
                    });
                    return actions;
                } else {
                    None
                }
            }
            Stage::Shifting if in_place && d.progress.shifted >= 100 => {
                if let Some(r) = &repl {
                    actions.push(CdAction::MakePrimary(r.clone()));
                }
                d.info.instance_termination_wait_time_started = Some(true);
                Some(Stage::TerminationWait)
            }
            Stage::Shifting if in_place => {
                let wait = step_wait_ms(d);
                if d.progress.shifted == 0 || now - d.progress.step_ms >= wait {
                    d.progress.shifted = next_share(d, d.progress.shifted);
                    d.progress.step_ms = now;
                }
                None
            }
            Stage::TerminationWait if now - d.progress.stage_ms >= d.termination_wait_ms => {
                actions.push(CdAction::Drain(original.clone()));
                set_status(d, DeploymentStatus::Succeeded, now);
                Some(Stage::Done)
            }
            _ => None,
        };
        let Some(next) = next else { break };
        go(d, next, now);
        if next == Stage::Done {
            return actions;
        }
    }
    for (rule, groups) in routes(d, &blue, &green) {
        let have = v.forwards.get(&rule);
        if have.is_none_or(|h| normalized(h) != normalized(&groups)) {
            actions.push(CdAction::Forward { rule, groups });
        }
    }
    actions
}

/// Everything the loop works with.
#[derive(Clone)]
pub struct Deployer {
    /// The operations it applies its actions with.
    pub ops: Ops,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer").finish_non_exhaustive()
    }
}

impl Deployer {
    /// Runs every unfinished deployment of every region once.
    pub async fn pass(&self) -> Result<(), StoreError> {
        for region in self.ops.store.regions(Kind::CodeDeployDeployment).await? {
            let rows =
                self.ops.store.list(Kind::CodeDeployDeployment, &region, None, 100_000).await?;
            for (key, body) in rows {
                let Ok(d) = serde_json::from_str::<DeploymentRecord>(&body) else { continue };
                if finished(d.info.status.as_ref()) {
                    continue;
                }
                if let Err(e) = self.reconcile(&region, &key, d).await {
                    tracing::warn!(deployment = %key, error = %e, "deployment not reconciled");
                }
            }
        }
        Ok(())
    }

    async fn reconcile(
        &self,
        region: &str,
        key: &str,
        mut d: DeploymentRecord,
    ) -> Result<(), StoreError> {
        let now = self.ops.clock.now_millis();
        let names = Names::new(&self.ops.region(region).scope(), &d.cluster, &d.service);
        let service: Option<ServiceRecord> = self
            .ops
            .store
            .get(Kind::Service, region, &names.key())
            .await?
            .and_then(|b| serde_json::from_str(&b).ok());
        let mut view = View { service: service.clone(), ..View::default() };
        if let Some(svc) = &service {
            let observed =
                observe::observe(&*self.ops.store, &self.ops.metrics, region, svc, now).await?;
            for (t, state) in &observed.targets {
                if *state == TargetState::Healthy {
                    *view.healthy.entry(t.target_group_arn.clone()).or_default() += 1;
                }
            }
        }
        let rules: Vec<String> =
            std::iter::once(d.prod_rule.clone()).chain(d.test_rule.clone()).collect();
        view.forwards =
            traffic::forwards(&*self.ops.store, region, rules).await.unwrap_or_default();
        let before = d.clone();
        let actions = step(&mut d, &view, now);
        if d != before {
            // The API only sets stop/continue flags: keep a flag set meanwhile.
            let d_in = d.clone();
            self.ops
                .store
                .update(
                    Kind::CodeDeployDeployment,
                    region,
                    key,
                    Box::new(move |cur| {
                        let Some(cur) = cur else { return Ok(Write::Keep) };
                        let mut d_in = d_in.clone();
                        let cur: Option<DeploymentRecord> = serde_json::from_str(&cur).ok();
                        if let Some(c) = cur {
                            if c.progress.stop.is_some() && d_in.progress.stop.is_none() {
                                d_in.progress.stop = c.progress.stop;
                            }
                            d_in.progress.continued |= c.progress.continued;
                        }
                        serde_json::to_string(&d_in)
                            .map(Write::Put)
                            .map_err(|_| wharf_model::EcsError::server("deployment not written"))
                    }),
                )
                .await?;
        }
        for a in actions {
            self.apply(region, &names, &d, a, now).await?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        region: &str,
        names: &Names,
        d: &DeploymentRecord,
        action: CdAction,
        now: i64,
    ) -> Result<(), StoreError> {
        let ops = self.ops.region(region);
        let result = match action {
            CdAction::Forward { rule, groups } => {
                traffic::set_forward(ops, &rule, groups).await.map_err(|e| e.message)
            }
            CdAction::AddReplacement { target_group } => {
                let td =
                    wharf_ops::lookup::runnable_definition(ops, &d.appspec.task_definition).await;
                let td = match td {
                    Ok(td) => td,
                    Err(e) => {
                        tracing::warn!(error = %e, "replacement task definition not found");
                        return Ok(());
                    }
                };
                let random = self.ops.entropy.next_u64();
                let names2 = names.clone();
                let appspec = d.appspec.clone();
                let external = d.info.deployment_id.clone();
                wharf_ops::service::update_active(ops, names, move |r| {
                    let s = &r.service;
                    let rev = Revision {
                        task_definition: appspec.task_definition.clone(),
                        launch_type: s.launch_type.clone(),
                        capacity_provider_strategy: s.capacity_provider_strategy.clone(),
                        platform_version: appspec
                            .platform_version
                            .clone()
                            .or(s.platform_version.clone()),
                        network_configuration: appspec
                            .network_configuration
                            .clone()
                            .or(s.network_configuration.clone()),
                        load_balancers: vec![LoadBalancer {
                            target_group_arn: Some(target_group.clone()),
                            container_name: Some(appspec.container_name.clone()),
                            container_port: Some(appspec.container_port),
                            ..LoadBalancer::default()
                        }],
                        health_checked: health_checked(&td),
                        container_images: vec![],
                    };
                    let (ts, notes) = new_task_set(&names2, &rev, 100.0, external.clone(), now);
                    r.add_task_set(ts, notes, &names2.task_set_prefix, random).map(|_| ())
                })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
            CdAction::MakePrimary(id) => {
                wharf_ops::service::update_active(ops, names, move |r| r.make_primary(&id, now))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            CdAction::Drain(id) => {
                wharf_ops::service::update_active(ops, names, move |r| r.drain_task_set(&id, now))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(e) = result {
            tracing::warn!(deployment = ?d.info.deployment_id, error = %e, "CodeDeploy action not applied");
        }
        Ok(())
    }
}

/// Runs the deployer until `shutdown` turns `true`: a pass whenever a service or target
/// group changes, and every [`TICK`].
pub async fn run(deployer: Deployer, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut services = deployer.ops.store.service_changes();
    let mut elb = deployer.ops.store.elb_changes();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = services.recv() => {}
            _ = elb.recv() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        while services.try_recv().is_ok() || elb.try_recv().is_ok() {}
        if let Err(e) = deployer.pass().await {
            tracing::warn!(error = %e, "CodeDeploy pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use wharf_model::arn::Scope;
    use wharf_model::codedeploy::deployment::{AppSpec, Progress};
    use wharf_model::codedeploy::shapes::{DeploymentInfo, TimeBasedLinear, TrafficRoutingConfig};
    use wharf_model::ecs::shapes::{DeploymentController, DeploymentControllerType, Service};

    use super::*;

    const A: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/a/1";
    const B: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/b/2";
    const PROD: &str =
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/lb/1/l/default";
    const MIN: i64 = 60_000;

    fn names() -> Names {
        Names::new(&Scope { region: "us-east-1", account: "000000000000" }, "c", "web")
    }

    fn service() -> ServiceRecord {
        let mut rec = ServiceRecord {
            service: Service {
                desired_count: Some(2),
                deployment_controller: Some(DeploymentController {
                    r#type: Some(DeploymentControllerType::CodeDeploy),
                }),
                ..Service::default()
            },
            ..ServiceRecord::default()
        };
        let rev = Revision {
            task_definition: "td:1".into(),
            load_balancers: vec![LoadBalancer {
                target_group_arn: Some(A.into()),
                container_name: Some("web".into()),
                container_port: Some(80),
                ..LoadBalancer::default()
            }],
            ..Revision::default()
        };
        let (ts, notes) = new_task_set(&names(), &rev, 100.0, None, 0);
        let id = rec.add_task_set(ts, notes, "p/", 1).expect("added");
        rec.make_primary(&id, 0).expect("primary");
        rec
    }

    fn deployment(linear: Option<(i32, i32)>) -> DeploymentRecord {
        let routing = match linear {
            Some((p, m)) => TrafficRoutingConfig {
                r#type: Some(TrafficRoutingType::TimeBasedLinear),
                time_based_linear: Some(TimeBasedLinear {
                    linear_percentage: Some(p),
                    linear_interval: Some(m),
                }),
                ..TrafficRoutingConfig::default()
            },
            None => TrafficRoutingConfig {
                r#type: Some(TrafficRoutingType::AllAtOnce),
                ..TrafficRoutingConfig::default()
            },
        };
        DeploymentRecord {
            info: DeploymentInfo {
                deployment_id: Some("d-ABCDEFGHI".into()),
                status: Some(DeploymentStatus::Created),
                ..DeploymentInfo::default()
            },
            cluster: "c".into(),
            service: "web".into(),
            appspec: AppSpec {
                task_definition: "td:2".into(),
                container_name: "web".into(),
                container_port: 80,
                ..AppSpec::default()
            },
            target_groups: [A.into(), B.into()],
            prod_rule: PROD.into(),
            test_rule: None,
            routing,
            termination_wait_ms: 5 * MIN,
            ready_wait_ms: None,
            auto_rollback: true,
            progress: Progress {
                stage: Stage::Created,
                stage_ms: 0,
                shifted: 0,
                step_ms: 0,
                original: None,
                continued: false,
                stop: None,
            },
        }
    }

    /// The service once the loop applied `AddReplacement` and its tasks ran.
    fn with_replacement(svc: &mut ServiceRecord, running: bool) -> String {
        let rev = Revision {
            task_definition: "td:2".into(),
            load_balancers: vec![LoadBalancer {
                target_group_arn: Some(B.into()),
                ..LoadBalancer::default()
            }],
            ..Revision::default()
        };
        let (ts, notes) = new_task_set(&names(), &rev, 100.0, Some("d-ABCDEFGHI".into()), 0);
        let id = svc.add_task_set(ts, notes, "p/", 2).expect("added");
        if running {
            let t = svc
                .service
                .task_sets
                .as_mut()
                .unwrap()
                .iter_mut()
                .find(|t| t.id.as_deref() == Some(&id))
                .unwrap();
            t.running_count = Some(2);
            t.stability_status = Some(StabilityStatus::SteadyState);
        }
        id
    }

    fn apply_forwards(v: &mut View, actions: &[CdAction]) {
        for a in actions {
            if let CdAction::Forward { rule, groups } = a {
                v.forwards.insert(rule.clone(), groups.clone());
            }
        }
    }

    fn green_share(v: &View) -> u32 {
        let f = &v.forwards[PROD];
        let total: u32 = f.iter().map(|g| g.1).sum();
        f.iter().filter(|g| g.0 == B).map(|g| g.1).sum::<u32>() * 100 / total.max(1)
    }

    #[test]
    fn a_linear_deployment_moves_traffic_in_steps_then_swaps_primaries_and_drains_the_original() {
        let mut d = deployment(Some((50, 1)));
        let mut svc = service();
        let original = svc.service.task_sets.as_ref().unwrap()[0].id.clone().unwrap();
        let mut v = View { service: Some(svc.clone()), ..View::default() };
        let acts = step(&mut d, &v, 0);
        assert_eq!(acts[0], CdAction::AddReplacement { target_group: B.into() });
        assert_eq!(d.info.status, Some(DeploymentStatus::InProgress));
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 0);

        let repl = with_replacement(&mut svc, true);
        v.service = Some(svc.clone());
        // Running but its targets not healthy yet: no traffic moves.
        let acts = step(&mut d, &v, 1000);
        apply_forwards(&mut v, &acts);
        assert_eq!(d.progress.stage, Stage::ScalingUp);
        v.healthy.insert(B.into(), 2);
        let acts = step(&mut d, &v, 2000);
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 50);
        let acts = step(&mut d, &v, 2000 + MIN - 1);
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 50);
        let acts = step(&mut d, &v, 2000 + MIN);
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 100);
        let acts = step(&mut d, &v, 3000 + MIN);
        assert!(acts.contains(&CdAction::MakePrimary(repl.clone())), "{acts:?}");
        assert_eq!(d.progress.stage, Stage::TerminationWait);
        assert!(step(&mut d, &v, 3000 + 6 * MIN - 1).is_empty());
        let acts = step(&mut d, &v, 3000 + 6 * MIN);
        assert_eq!(acts, vec![CdAction::Drain(original)]);
        assert_eq!(d.info.status, Some(DeploymentStatus::Succeeded));
    }

    #[test]
    fn a_replacement_whose_tasks_keep_failing_fails_the_deployment_and_rolls_back() {
        let mut d = deployment(None);
        let mut svc = service();
        let mut v = View { service: Some(svc.clone()), ..View::default() };
        let acts = step(&mut d, &v, 0);
        apply_forwards(&mut v, &acts);
        let repl = with_replacement(&mut svc, false);
        svc.deployments.get_mut(&repl).expect("notes").failures = 2;
        v.service = Some(svc.clone());
        assert!(step(&mut d, &v, 1000).iter().all(|a| !matches!(a, CdAction::Drain(_))));
        svc.deployments.get_mut(&repl).expect("notes").failures = 3;
        v.service = Some(svc.clone());
        let acts = step(&mut d, &v, 2000);
        assert!(acts.contains(&CdAction::Drain(repl)), "{acts:?}");
        assert_eq!(d.info.status, Some(DeploymentStatus::Failed));
        let code = d.info.error_information.as_ref().and_then(|e| e.code.clone());
        assert_eq!(code, Some(ErrorCode::from("ECS_UPDATE_ERROR")));
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 0);
    }

    #[test]
    fn a_stop_with_rollback_puts_traffic_back_and_drains_the_replacement_at_once() {
        let mut d = deployment(Some((50, 10)));
        let mut svc = service();
        let mut v = View { service: Some(svc.clone()), ..View::default() };
        let acts = step(&mut d, &v, 0);
        apply_forwards(&mut v, &acts);
        let repl = with_replacement(&mut svc, true);
        v.service = Some(svc.clone());
        v.healthy.insert(B.into(), 2);
        let acts = step(&mut d, &v, 1000);
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 50);
        d.progress.stop = Some(true);
        let acts = step(&mut d, &v, 2000);
        apply_forwards(&mut v, &acts);
        assert_eq!(green_share(&v), 0);
        assert!(acts.contains(&CdAction::Drain(repl)), "{acts:?}");
        assert_eq!(d.info.status, Some(DeploymentStatus::Stopped));
        assert!(d.info.rollback_info.is_some());
    }
}
