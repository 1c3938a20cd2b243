//! `secrets[].valueFrom` from Wharf's own SSM Parameter Store and Secrets Manager.

use serde_json::json;
use wharf_sdk_tests::aws_sdk_ecs::types::{Secret, TaskStopCode};
use wharf_sdk_tests::{ok, ACCOUNT_ID, REGION};

use crate::support::{container, sh_builder, unique, Ctx};

/// The execution role ECS wants for secrets and private registries (not enforced here).
pub const EXECUTION_ROLE: &str = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole";

fn secret(name: &str, value_from: &str) -> Secret {
    Secret::builder().name(name).value_from(value_from).build().expect("a secret")
}

#[tokio::test]
async fn secrets_become_environment_variables() {
    let ctx = Ctx::start("secrets").await;
    let param = format!("/wharf-tests/{}/db-pass", unique("p"));
    ctx.server.ssm(
        "PutParameter",
        json!({"Name": param, "Value": "ssm-s3cr3t value", "Type": "SecureString"}),
    );
    let created = ctx.server.secretsmanager(
        "CreateSecret",
        json!({
            "Name": unique("prod/db"),
            "SecretString": json!({"username": "admin", "password": "sm-p4ss"}).to_string()
        }),
    );
    let secret_arn = created["ARN"].as_str().expect("the secret's ARN").to_owned();
    let param_arn = format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{param}");

    // Exit 0 only if both values arrived; they are never printed.
    let main = sh_builder(
        "main",
        "test \"$DB_PASS\" = 'ssm-s3cr3t value' && test \"$SM_PASS\" = sm-p4ss \
         && test \"$BY_NAME\" = 'ssm-s3cr3t value'",
    )
    .secrets(secret("DB_PASS", &param_arn))
    .secrets(secret("BY_NAME", &param))
    .secrets(secret("SM_PASS", &format!("{secret_arn}:password::")))
    .build();
    let out = ok(ctx
        .ecs
        .register_task_definition()
        .family("secrets")
        .execution_role_arn(EXECUTION_ROLE)
        .container_definitions(main)
        .send()
        .await);
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(container(&task, "main").exit_code(), Some(0), "the secrets arrived: {task:#?}");
    let shown = format!("{task:?}");
    assert!(!shown.contains("s3cr3t") && !shown.contains("p4ss"), "no secret value in {shown}");
}

#[tokio::test]
async fn a_missing_parameter_fails_the_task_to_start() {
    let ctx = Ctx::start("nosecret").await;
    let missing =
        format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/wharf-tests/{}", unique("missing"));
    let main = sh_builder("main", "exec sleep 600").secrets(secret("NOPE", &missing)).build();
    let out = ok(ctx
        .ecs
        .register_task_definition()
        .family("nosecret")
        .execution_role_arn(EXECUTION_ROLE)
        .container_definitions(main)
        .send()
        .await);
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(task.stop_code(), Some(&TaskStopCode::TaskFailedToStart), "{task:#?}");
    let reason = task.stopped_reason().unwrap_or_default();
    assert!(
        reason.starts_with("ResourceInitializationError: unable to pull secrets or registry auth:"),
        "stoppedReason {reason:?}"
    );
    assert!(container(&task, "main").runtime_id().is_none(), "nothing was created: {task:#?}");
    assert!(task.started_at().is_none(), "{task:#?}");
}
