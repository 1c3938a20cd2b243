//! The service scheduler's [`Launcher`]: the API's own task launch
//! (`wharf_api::ecs::service_launch`), so service tasks are built and placed
//! exactly as RunTask's.

use wharf_api::AppState;
use wharf_control::services::{BoxFuture, Launched, Launcher};
use wharf_model::ecs::service::ServiceRecord;
use wharf_model::EcsError;

/// Launches service tasks through the API's task launch.
#[derive(Debug, Clone)]
pub struct ApiLauncher {
    /// The server's shared state.
    pub state: AppState,
}

impl Launcher for ApiLauncher {
    fn launch<'a>(
        &'a self,
        region: &'a str,
        record: &'a ServiceRecord,
        unit: &'a str,
        count: usize,
        instance: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Launched, EcsError>> {
        Box::pin(async move {
            let l = wharf_api::ecs::service_launch::launch(
                &self.state,
                region,
                record,
                unit,
                count,
                instance,
            )
            .await?;
            Ok(Launched { task_ids: l.task_ids, unplaced: l.unplaced })
        })
    }
}
