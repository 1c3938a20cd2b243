//! DeleteService.

use super::*;

/// DeleteService: the service becomes DRAINING with a desired count of 0
/// (the scheduler stops its tasks and then makes it INACTIVE). A REPLICA
/// service scaled above 0 needs `force`.
pub(crate) async fn delete_service(
    ctx: &Ctx,
    req: DeleteServiceRequest,
) -> Result<DeleteServiceResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    let force = req.force.unwrap_or(false);
    let now = ctx.state.ops.clock.now_millis();
    let rec = update_active(ctx.ops(), &names, move |r| {
        let s = &mut r.service;
        let daemon = s.scheduling_strategy == Some(SchedulingStrategy::Daemon);
        if !daemon && !force && s.desired_count.unwrap_or(0) > 0 {
            return Err(EcsError::invalid_parameter(
                "The service cannot be stopped while it is scaled above 0.",
            ));
        }
        s.status = Some(ServiceStatus::Draining);
        s.desired_count = Some(0);
        for d in s.deployments.iter_mut().flatten() {
            d.desired_count = Some(0);
            d.updated_at = Some(Timestamp::from_millis(now));
        }
        for t in s.task_sets.iter_mut().flatten() {
            t.status = Some(TaskSetStatus::Draining);
            t.updated_at = Some(Timestamp::from_millis(now));
        }
        Ok(())
    })
    .await?;
    Ok(DeleteServiceResponse { service: Some(shown(ctx, &rec, false).await?) })
}
