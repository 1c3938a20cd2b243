//! Task sets on a service's record: adding one, making one PRIMARY, scaling
//! and draining one. The EXTERNAL controller's task set calls and the
//! CODE_DEPLOY controller (CreateService's primary task set, and a CodeDeploy
//! deployment's replacement) both change task sets through these.

use super::deployment::{Names, Revision};
use super::validate::MAX_TASK_SETS;
use super::{DeploymentNotes, ServiceRecord};
use crate::ecs::shapes::{Scale, ScaleUnit, StabilityStatus, TaskSet};
use crate::ecs::status::TaskSetStatus;
use crate::wire::Timestamp;
use crate::EcsError;

/// The task count a scale gives of a desired count (rounded up).
pub fn computed_desired(desired: i32, scale: &Scale) -> i32 {
    let v = (f64::from(desired.max(0)) * scale.value.unwrap_or(0.0) / 100.0).ceil();
    v.clamp(0.0, f64::from(i32::MAX)) as i32
}

/// A new ACTIVE task set of `rev` at `percent` of the desired count, and
/// the scheduler's notes for it; its id and ARN come with
/// [`ServiceRecord::add_task_set`].
pub fn new_task_set(
    names: &Names,
    rev: &Revision,
    percent: f64,
    external_id: Option<String>,
    now_ms: i64,
) -> (TaskSet, DeploymentNotes) {
    let now = Some(Timestamp::from_millis(now_ms));
    let ts = TaskSet {
        service_arn: Some(names.service_arn.clone()),
        cluster_arn: Some(names.cluster_arn.clone()),
        external_id,
        status: Some(TaskSetStatus::Active),
        task_definition: Some(rev.task_definition.clone()),
        computed_desired_count: Some(0),
        pending_count: Some(0),
        running_count: Some(0),
        created_at: now,
        updated_at: now,
        launch_type: rev.launch_type.clone(),
        capacity_provider_strategy: rev.capacity_provider_strategy.clone(),
        platform_version: rev.platform_version.clone(),
        platform_family: rev.platform_family(),
        network_configuration: rev.network_configuration.clone(),
        load_balancers: Some(rev.load_balancers.clone()),
        service_registries: Some(vec![]),
        scale: Some(Scale { value: Some(percent), unit: Some(ScaleUnit::Percent) }),
        stability_status: Some(StabilityStatus::Stabilizing),
        stability_status_at: now,
        ..TaskSet::default()
    };
    let notes = DeploymentNotes {
        load_balancers: rev.load_balancers.clone(),
        health_checked: rev.health_checked,
        ..DeploymentNotes::default()
    };
    (ts, notes)
}

impl ServiceRecord {
    /// Adds a task set (at most [`MAX_TASK_SETS`]) with a new id of the
    /// service's sequence; its id.
    pub fn add_task_set(
        &mut self,
        mut ts: TaskSet,
        notes: DeploymentNotes,
        arn_prefix: &str,
        random: u64,
    ) -> Result<String, EcsError> {
        let existing = self.service.task_sets.as_ref().map_or(0, Vec::len);
        if existing >= MAX_TASK_SETS {
            return Err(EcsError::invalid_parameter(format!(
                "{existing} deployments exist on the service. Unable to create new TaskSet since \
                 this exceeds the maximum limit."
            )));
        }
        let id = self.new_unit_id(random);
        ts.task_set_arn = Some(format!("{arn_prefix}{id}"));
        ts.id = Some(id.clone());
        if let Some(scale) = &ts.scale {
            ts.computed_desired_count =
                Some(computed_desired(self.service.desired_count.unwrap_or(0), scale));
        }
        self.service.task_sets.get_or_insert_with(Vec::new).push(ts);
        self.deployments.insert(id.clone(), notes);
        Ok(id)
    }

    fn task_set_at(&self, id: &str) -> Option<usize> {
        self.service.task_sets.iter().flatten().position(|t| t.id.as_deref() == Some(id))
    }

    /// Makes task set `id` PRIMARY (the old primary ACTIVE); the service's
    /// task definition, launch type, network and load balancers follow it.
    pub fn make_primary(&mut self, id: &str, now_ms: i64) -> Result<(), EcsError> {
        let i = self.task_set_at(id).ok_or_else(super::task_set_not_found)?;
        let now = Some(Timestamp::from_millis(now_ms));
        let s = &mut self.service;
        let sets = s.task_sets.get_or_insert_with(Vec::new);
        if sets[i].status == Some(TaskSetStatus::Draining) {
            return Err(EcsError::invalid_parameter(
                "A DRAINING task set cannot be made the primary task set.",
            ));
        }
        for (j, t) in sets.iter_mut().enumerate() {
            if j == i {
                t.status = Some(TaskSetStatus::Primary);
                t.updated_at = now;
            } else if t.status == Some(TaskSetStatus::Primary) {
                t.status = Some(TaskSetStatus::Active);
                t.updated_at = now;
            }
        }
        let p = sets[i].clone();
        s.task_definition = p.task_definition;
        s.launch_type = p.launch_type;
        s.capacity_provider_strategy = p.capacity_provider_strategy;
        s.platform_version = p.platform_version;
        s.platform_family = p.platform_family;
        s.network_configuration = p.network_configuration;
        s.load_balancers = p.load_balancers;
        Ok(())
    }

    /// Sets task set `id`'s scale (percent of the desired count).
    pub fn scale_task_set(&mut self, id: &str, percent: f64, now_ms: i64) -> Result<(), EcsError> {
        let i = self.task_set_at(id).ok_or_else(super::task_set_not_found)?;
        let now = Some(Timestamp::from_millis(now_ms));
        let desired = self.service.desired_count.unwrap_or(0);
        let t = &mut self.service.task_sets.get_or_insert_with(Vec::new)[i];
        if t.status == Some(TaskSetStatus::Draining) {
            return Err(EcsError::invalid_parameter(
                "The task set is DRAINING and cannot be updated.",
            ));
        }
        let scale = Scale { value: Some(percent), unit: Some(ScaleUnit::Percent) };
        t.computed_desired_count = Some(computed_desired(desired, &scale));
        t.scale = Some(scale);
        t.updated_at = now;
        t.stability_status = Some(StabilityStatus::Stabilizing);
        t.stability_status_at = now;
        Ok(())
    }

    /// Task set `id` becomes DRAINING: the scheduler stops its tasks and
    /// then removes it.
    pub fn drain_task_set(&mut self, id: &str, now_ms: i64) -> Result<(), EcsError> {
        let i = self.task_set_at(id).ok_or_else(super::task_set_not_found)?;
        let t = &mut self.service.task_sets.get_or_insert_with(Vec::new)[i];
        t.status = Some(TaskSetStatus::Draining);
        t.updated_at = Some(Timestamp::from_millis(now_ms));
        Ok(())
    }
}
