//! A CodeDeploy deployment to an ECS service, as the store keeps it: what
//! GetDeployment answers, what it deploys (read from the AppSpec), where its
//! traffic goes (the deployment group's target group pair and listeners),
//! and where it stands ([`Progress`]), which the CodeDeploy reconciler moves
//! on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::shapes::{DeploymentInfo, TrafficRoutingConfig};
use super::CodeDeployError;
use crate::ecs::shapes::{AssignPublicIp, AwsVpcConfiguration, NetworkConfiguration};

/// What the AppSpec's `AWS::ECS::Service` target deploys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSpec {
    /// `TaskDefinition`.
    pub task_definition: String,
    /// `LoadBalancerInfo.ContainerName`.
    pub container_name: String,
    /// `LoadBalancerInfo.ContainerPort`.
    pub container_port: i32,
    /// `PlatformVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// `NetworkConfiguration`, as ECS spells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
}

fn invalid(message: impl Into<String>) -> CodeDeployError {
    CodeDeployError::new("InvalidRevisionException", message)
}

/// A member of a JSON object by name, whatever its case (as the AWS CLI's
/// `ecs deploy` reads an AppSpec).
fn member<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn text(v: &Value, name: &str) -> Option<String> {
    member(v, name).and_then(Value::as_str).map(str::to_owned)
}

/// Reads an ECS AppSpec given as content. JSON only: YAML content is
/// refused by name. `Hooks` are Lambda functions, which Wharf cannot run:
/// refused too.
pub fn parse_appspec(content: &str) -> Result<AppSpec, CodeDeployError> {
    let v: Value = serde_json::from_str(content).map_err(|_| {
        invalid(
            "The AppSpec content could not be read: Wharf reads AppSpec content as JSON (YAML is \
             not supported yet).",
        )
    })?;
    if member(&v, "Hooks").is_some_and(|h| h.as_array().is_none_or(|a| !a.is_empty())) {
        return Err(invalid(
            "AppSpec Hooks are not supported by Wharf: CodeDeploy runs them as AWS Lambda \
             functions, and Wharf cannot run Lambda functions.",
        ));
    }
    let resources = member(&v, "Resources").and_then(Value::as_array).ok_or_else(|| {
        invalid("The AppSpec must have Resources with one AWS::ECS::Service target.")
    })?;
    if resources.len() != 1 {
        return Err(invalid("The AppSpec must have exactly one resource."));
    }
    let target = resources[0]
        .as_object()
        .and_then(|o| o.values().next())
        .ok_or_else(|| invalid("The AppSpec resource is not an object."))?;
    if text(target, "Type").as_deref() != Some("AWS::ECS::Service") {
        return Err(invalid("The AppSpec resource Type must be AWS::ECS::Service."));
    }
    let props = member(target, "Properties")
        .ok_or_else(|| invalid("The AppSpec resource has no Properties."))?;
    let task_definition = text(props, "TaskDefinition")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("The AppSpec resource has no TaskDefinition."))?;
    let lb = member(props, "LoadBalancerInfo")
        .ok_or_else(|| invalid("The AppSpec resource has no LoadBalancerInfo."))?;
    let container_name = text(lb, "ContainerName")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("The AppSpec LoadBalancerInfo has no ContainerName."))?;
    let container_port = member(lb, "ContainerPort")
        .and_then(|p| p.as_i64().or_else(|| p.as_str().and_then(|s| s.parse().ok())))
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| invalid("The AppSpec LoadBalancerInfo has no ContainerPort."))?;
    let network_configuration = member(props, "NetworkConfiguration")
        .and_then(|n| member(n, "AwsvpcConfiguration"))
        .map(|a| {
            let list = |name: &str| {
                member(a, name).and_then(Value::as_array).map(|v| {
                    v.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>()
                })
            };
            NetworkConfiguration {
                awsvpc_configuration: Some(AwsVpcConfiguration {
                    subnets: list("Subnets"),
                    security_groups: list("SecurityGroups"),
                    assign_public_ip: text(a, "AssignPublicIp")
                        .map(|s| AssignPublicIp::from(s.as_str())),
                }),
            }
        });
    Ok(AppSpec {
        task_definition,
        container_name,
        container_port,
        platform_version: text(props, "PlatformVersion"),
        network_configuration,
    })
}

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Not started: the replacement task set is to be created.
    Created,
    /// The replacement task set is starting.
    ScalingUp,
    /// Waiting for ContinueDeployment (deploymentReadyOption STOP_DEPLOYMENT).
    Ready,
    /// Production traffic is moving to the replacement.
    Shifting,
    /// All traffic on the replacement: waiting `terminationWaitTimeInMinutes`
    /// before the original task set goes.
    TerminationWait,
    /// Done: Succeeded, Stopped or Failed.
    Done,
}

/// The reconciler's memory of one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// When it began (ms).
    pub stage_ms: i64,
    /// Production traffic on the replacement, in percent.
    #[serde(default)]
    pub shifted: u32,
    /// When the last traffic step was taken (ms).
    #[serde(default)]
    pub step_ms: i64,
    /// The task set that served before (the service's PRIMARY at the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// ContinueDeployment was called.
    #[serde(default)]
    pub continued: bool,
    /// StopDeployment was called: with rollback or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<bool>,
}

/// A deployment as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRecord {
    /// What GetDeployment answers.
    pub info: DeploymentInfo,
    /// The ECS service's cluster.
    pub cluster: String,
    /// The ECS service's name.
    pub service: String,
    /// What it deploys.
    pub appspec: AppSpec,
    /// The target group pair (ARNs) of the deployment group.
    pub target_groups: [String; 2],
    /// The production listener's default rule.
    pub prod_rule: String,
    /// The test listener's default rule, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_rule: Option<String>,
    /// The deployment configuration's traffic routing.
    pub routing: TrafficRoutingConfig,
    /// `terminationWaitTimeInMinutes`, in ms.
    pub termination_wait_ms: i64,
    /// `deploymentReadyOption`: wait for ContinueDeployment, at most this
    /// long (ms); `None`: go on at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_wait_ms: Option<i64>,
    /// Whether a stop or failure rolls back (`autoRollbackConfiguration`).
    pub auto_rollback: bool,
    /// Where it stands.
    pub progress: Progress,
}

/// Whether a deployment status is final.
pub fn finished(s: Option<&super::shapes::DeploymentStatus>) -> bool {
    use super::shapes::DeploymentStatus as S;
    matches!(s, Some(S::Succeeded | S::Failed | S::Stopped))
}

/// A new deployment id: `d-` and nine characters of CodeDeploy's alphabet.
pub fn deployment_id(random: u128) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let n = ALPHABET.len() as u128;
    let mut x = random;
    let mut id = String::from("d-");
    for _ in 0..9 {
        id.push(ALPHABET[(x % n) as usize] as char);
        x /= n;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appspec_aws_ecs_deploy_sends_is_read() {
        let content = r#"{"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service",
            "Properties": {"TaskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:2",
            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]}"#;
        let a = parse_appspec(content).expect("valid");
        assert_eq!(a.task_definition, "arn:aws:ecs:us-east-1:1:task-definition/web:2");
        assert_eq!((a.container_name.as_str(), a.container_port), ("web", 80));
    }

    #[test]
    fn yaml_and_hooks_are_refused_by_name() {
        let yaml = parse_appspec("version: 0.0\nResources: []").unwrap_err();
        assert!(yaml.message.contains("YAML"), "{}", yaml.message);
        let hooks =
            parse_appspec(r#"{"Resources": [], "Hooks": [{"BeforeInstall": "f"}]}"#).unwrap_err();
        assert!(hooks.message.contains("Lambda"), "{}", hooks.message);
    }

    #[test]
    fn deployment_ids_look_like_codedeploys() {
        let id = deployment_id(123_456_789_012_345);
        assert_eq!(id.len(), 11);
        assert!(id.starts_with("d-"));
        assert_ne!(id, deployment_id(987_654_321));
    }
}
