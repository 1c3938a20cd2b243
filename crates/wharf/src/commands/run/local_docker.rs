//! What `wharf run` does to its tasks' containers on this host's Docker
//! directly, where the ECS API has no word for it: kill them at once (a
//! second Ctrl-C), and remove them when the server was embedded (its state
//! goes with it, so nothing would ever clean them up).

use std::time::Duration;

use anyhow::Context;
use wharf_agent::runtime::docker::DockerRuntime;
use wharf_agent::runtime::{Runtime, LABEL_TASK_ARN};

/// The Docker IDs of these tasks' containers (pause containers included).
async fn containers_of(
    docker: &DockerRuntime,
    task_arns: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for arn in task_arns {
        let listed = docker
            .list_managed(&[(LABEL_TASK_ARN, arn)])
            .await
            .context("cannot list containers")?;
        ids.extend(listed.into_iter().map(|c| c.id));
    }
    Ok(ids)
}

/// Kills the tasks' containers (SIGKILL, no grace); how many it found.
/// Fails when this host's Docker cannot be reached (a task on another host).
pub async fn kill(task_arns: &[String]) -> anyhow::Result<usize> {
    let docker = DockerRuntime::connect().await.context("cannot reach Docker on this host")?;
    let ids = containers_of(&docker, task_arns).await?;
    for id in &ids {
        docker
            .stop_container(id, Duration::ZERO)
            .await
            .with_context(|| format!("cannot kill {id}"))?;
    }
    Ok(ids.len())
}

/// Removes the tasks' containers.
pub async fn remove(task_arns: &[String]) -> anyhow::Result<()> {
    let docker = DockerRuntime::connect().await.context("cannot reach Docker on this host")?;
    for id in containers_of(&docker, task_arns).await? {
        docker.remove_container(&id).await.with_context(|| format!("cannot remove {id}"))?;
    }
    Ok(())
}
