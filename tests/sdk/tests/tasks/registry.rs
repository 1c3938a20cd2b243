//! Images from a private registry with `repositoryCredentials` held in Secrets Manager.

use serde_json::json;
use wharf_sdk_tests::aws_sdk_ecs::types::{RepositoryCredentials, TaskStopCode};
use wharf_sdk_tests::{docker, docker_ok, ok};

use crate::secrets::EXECUTION_ROLE;
use crate::support::{container, sh_builder, unique, Ctx, BUSYBOX};

const REGISTRY: &str = "127.0.0.1:5000";

/// Removes a local image tag on drop.
struct Untag(String);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.0]);
    }
}

#[tokio::test]
async fn a_private_image_is_pulled_with_credentials_from_secrets_manager() {
    let ctx = Ctx::start("registry").await;
    let image = format!("{REGISTRY}/wharf-test/busybox:{}", unique("t"));
    docker_ok(&["login", REGISTRY, "-u", "wharf", "-p", "wharf-test"]);
    docker_ok(&["tag", BUSYBOX, &image]);
    let untag = Untag(image.clone());
    docker_ok(&["push", &image]);
    // Only the registry has it now: the agent must pull it.
    docker_ok(&["rmi", &image]);

    let created = ctx.server.secretsmanager(
        "CreateSecret",
        json!({
            "Name": unique("registry"),
            "SecretString": json!({"username": "wharf", "password": "wharf-test"}).to_string()
        }),
    );
    let credentials = RepositoryCredentials::builder()
        .credentials_parameter(created["ARN"].as_str().expect("the secret's ARN"))
        .build()
        .expect("credentials");
    let register = |family: &str, image: &str, credentials: Option<RepositoryCredentials>| {
        let main = sh_builder("main", "exec sleep 600")
            .image(image)
            .set_repository_credentials(credentials)
            .stop_timeout(1)
            .build();
        let ecs = ctx.ecs.clone();
        let family = family.to_owned();
        async move {
            let out = ok(ecs
                .register_task_definition()
                .family(family)
                .execution_role_arn(EXECUTION_ROLE)
                .container_definitions(main)
                .send()
                .await);
            out.task_definition().unwrap().task_definition_arn().unwrap().to_owned()
        }
    };

    // Without credentials the registry says no.
    let td = register("anonymous", &image, None).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(task.stop_code(), Some(&TaskStopCode::TaskFailedToStart), "{task:#?}");
    let reason = task.stopped_reason().unwrap_or_default();
    assert!(reason.starts_with("CannotPullContainerError"), "stoppedReason {reason:?}");

    // With them it runs.
    let td = register("private", &image, Some(credentials.clone())).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.running(&arn).await;
    assert_eq!(container(&task, "main").image(), Some(image.as_str()));
    docker_ok(&["image", "inspect", "--format", "{{.Id}}", &image]);

    // An image the registry does not have.
    let missing = format!("{REGISTRY}/wharf-test/{}:1", unique("nothing-here"));
    let td = register("missing", &missing, Some(credentials)).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(task.stop_code(), Some(&TaskStopCode::TaskFailedToStart), "{task:#?}");
    let reason = task.stopped_reason().unwrap_or_default();
    assert!(reason.starts_with("CannotPullContainerError"), "stoppedReason {reason:?}");
    let container_reason = container(&task, "main").reason().unwrap_or_default();
    assert!(container_reason.starts_with("CannotPullContainerError"), "{task:#?}");
    drop(ctx);
    drop(untag);
}
