//! What every Docker-backed test shares: a server whose embedded agent joins a cluster of the
//! test's own (so its containers can be found, and removed, by their cluster label), and
//! builders for the small task definitions the tests run.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wharf_sdk_tests::aws_sdk_ecs::types::{
    Container, ContainerDefinition, ContainerInstance, HealthCheck, HealthStatus, Task,
};
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::{
    docker, docker_ok, ok, remove_containers_labelled, require_docker, wait_for_task, Server,
    LABEL_CLUSTER, LABEL_TASK_ARN,
};

/// The test image: FROM scratch plus busybox-static; users root, wharf (1000) and nobody.
pub const BUSYBOX: &str = "wharf-test/busybox:1";

/// How long a task gets to reach a state the test waits for.
pub const WAIT: Duration = Duration::from_secs(60);

/// A name no other test, and no earlier run, uses: `<prefix>-<pid>-<time>-<n>`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos % 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's world: a server with an embedded agent in a cluster of its own, and an ECS
/// client. On drop the server is killed and every container (and task volume) of the
/// cluster is removed, also when the test panics.
#[derive(Debug)]
pub struct Ctx {
    /// The server; tests that restart it use it directly.
    pub server: Server,
    /// An ECS client for the server.
    pub ecs: Client,
    /// The cluster the agent registered this host in.
    pub cluster: String,
}

impl Ctx {
    /// Checks that Docker answers, then starts a server whose agent joins a new cluster
    /// named after `test`.
    pub async fn start(test: &str) -> Ctx {
        require_docker();
        let cluster = unique(test);
        let server = Server::start_with_args(true, &["--cluster", &cluster]);
        let ecs = server.client().await;
        let ctx = Ctx { server, ecs, cluster };
        ctx.instance_arn().await;
        ctx
    }

    /// A fresh client, after the server was restarted (no pooled connection to the old one).
    pub async fn reconnect(&mut self) {
        self.ecs = self.server.client().await;
    }

    /// Registers `containers` as family `family` and returns the task definition ARN.
    pub async fn register(&self, family: &str, containers: Vec<ContainerDefinition>) -> String {
        let out = ok(self
            .ecs
            .register_task_definition()
            .family(family)
            .set_container_definitions(Some(containers))
            .send()
            .await);
        out.task_definition().and_then(|t| t.task_definition_arn()).expect("an ARN").to_owned()
    }

    /// RunTask, one copy of `task_definition` in the test's cluster; panics on any failure.
    pub async fn run(&self, task_definition: &str) -> Task {
        let out = ok(self
            .ecs
            .run_task()
            .cluster(&self.cluster)
            .task_definition(task_definition)
            .send()
            .await);
        assert!(out.failures().is_empty(), "RunTask failed: {:?}", out.failures());
        assert_eq!(out.tasks().len(), 1, "RunTask started one task: {out:?}");
        out.tasks()[0].clone()
    }

    /// Waits (up to [`WAIT`]) until `predicate` holds for task `arn`.
    pub async fn wait(&self, arn: &str, what: &str, predicate: impl Fn(&Task) -> bool) -> Task {
        wait_for_task(&self.ecs, Some(&self.cluster), arn, what, WAIT, predicate).await
    }

    /// Waits until task `arn` is RUNNING; panics at once if it stops instead.
    pub async fn running(&self, arn: &str) -> Task {
        let task = self
            .wait(arn, "RUNNING (or STOPPED)", |t| {
                matches!(t.last_status(), Some("RUNNING" | "STOPPED"))
            })
            .await;
        assert_eq!(task.last_status(), Some("RUNNING"), "the task stopped instead: {task:#?}");
        task
    }

    /// Waits until task `arn` is STOPPED.
    pub async fn stopped(&self, arn: &str) -> Task {
        self.wait(arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await
    }

    /// DescribeTasks for one task, now.
    pub async fn describe(&self, arn: &str) -> Task {
        let out = ok(self.ecs.describe_tasks().cluster(&self.cluster).tasks(arn).send().await);
        assert!(out.failures().is_empty(), "DescribeTasks failed: {:?}", out.failures());
        out.tasks().first().cloned().expect("the task")
    }

    /// StopTask with `reason`; returns the task as StopTask answered.
    pub async fn stop(&self, arn: &str, reason: &str) -> Task {
        let out =
            ok(self.ecs.stop_task().cluster(&self.cluster).task(arn).reason(reason).send().await);
        out.task().cloned().expect("StopTask answers with the task")
    }

    /// The ARN of the one container instance of the cluster (this host's agent), waiting up
    /// to 20 s for the agent to create the cluster and register.
    pub async fn instance_arn(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.ecs.list_container_instances().cluster(&self.cluster).send().await;
            match out.as_ref().map(|o| o.container_instance_arns()) {
                Ok([one]) => return one.clone(),
                Ok([_, _, ..]) => panic!("more than one container instance: {out:?}"),
                // No instance yet, or not even the cluster.
                _ if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => panic!("the agent did not register in 20 s: {out:?}"),
            }
        }
    }

    /// DescribeContainerInstances for the cluster's one instance.
    pub async fn instance(&self) -> ContainerInstance {
        let arn = self.instance_arn().await;
        let out = ok(self
            .ecs
            .describe_container_instances()
            .cluster(&self.cluster)
            .container_instances(arn)
            .send()
            .await);
        out.container_instances().first().cloned().expect("the container instance")
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // The agent first, so it starts nothing after the clean-up.
        self.server.sigkill();
        let tasks = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label={LABEL_CLUSTER}={}", self.cluster),
            "--format",
            &format!("{{{{.Label \"{LABEL_TASK_ARN}\"}}}}"),
        ]);
        remove_containers_labelled(LABEL_CLUSTER, &self.cluster);
        let mut arns: Vec<String> =
            String::from_utf8_lossy(&tasks.stdout).lines().map(str::to_owned).collect();
        arns.sort();
        arns.dedup();
        for arn in arns.iter().filter(|a| !a.is_empty()) {
            let volumes = docker(&[
                "volume",
                "ls",
                "-q",
                "--filter",
                &format!("label={LABEL_TASK_ARN}={arn}"),
            ]);
            for volume in String::from_utf8_lossy(&volumes.stdout).split_whitespace() {
                let _ = docker(&["volume", "rm", "-f", volume]);
            }
        }
    }
}

/// A busybox container: 32 MiB hard limit, essential, running `sh -c script`.
pub fn sh(name: &str, script: &str) -> ContainerDefinition {
    sh_builder(name, script).build()
}

/// [`sh`] as a builder, for tests that add more fields.
pub fn sh_builder(
    name: &str,
    script: &str,
) -> wharf_sdk_tests::aws_sdk_ecs::types::builders::ContainerDefinitionBuilder {
    ContainerDefinition::builder()
        .name(name)
        .image(BUSYBOX)
        .memory(32)
        .essential(true)
        .entry_point("sh")
        .entry_point("-c")
        .command(script)
}

/// A health check running `CMD-SHELL <shell>` every 5 s (ECS's minimum), 2 s timeout.
pub fn health_check(shell: &str, retries: i32) -> HealthCheck {
    HealthCheck::builder()
        .command("CMD-SHELL")
        .command(shell)
        .interval(5)
        .timeout(2)
        .retries(retries)
        .start_period(0)
        .build()
        .expect("a health check")
}

/// The task's container named `name`.
pub fn container<'a>(task: &'a Task, name: &str) -> &'a Container {
    task.containers()
        .iter()
        .find(|c| c.name() == Some(name))
        .unwrap_or_else(|| panic!("no container {name} in {task:#?}"))
}

/// Seconds since the epoch of an SDK timestamp.
pub fn secs(t: Option<&wharf_sdk_tests::aws_sdk_ecs::primitives::DateTime>) -> f64 {
    t.map(|t| t.as_secs_f64()).unwrap_or(f64::NAN)
}

/// Whether the container's health is `status`.
pub fn health_is(c: &Container, status: HealthStatus) -> bool {
    c.health_status() == Some(&status)
}

/// `docker inspect -f <format> <id>`.
pub fn inspect(id: &str, format: &str) -> String {
    docker_ok(&["inspect", "-f", format, id])
}
