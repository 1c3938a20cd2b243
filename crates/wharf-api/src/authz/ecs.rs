//! ECS operations as IAM sees them: the action, the resource ARN (the
//! cluster, service, task, container instance or task definition the
//! request names) and the condition keys `ecs:cluster`, `ecs:task-definition`
//! and `aws:RequestTag/...`; `iam:PassRole` for the task and execution roles
//! a task definition hands to ECS.

use serde_json::value::RawValue;
use serde_json::Value;
use wharf_auth::policy::Context;
use wharf_model::arn;

use super::request_tags;
use crate::context::Ctx;

/// The checks of one ECS operation (empty: `ecs:OP` on `*`).
pub(super) async fn contexts(ctx: &Ctx, op: &str, body: &[u8]) -> Vec<Context> {
    let action = format!("ecs:{op}");
    let star = || vec![Context::new(action.clone(), "*")];
    let needs_body = !matches!(
        op,
        "DescribeTaskDefinition"
            | "ListTaskDefinitions"
            | "ListTaskDefinitionFamilies"
            | "ListClusters"
            | "ListAccountSettings"
            | "DescribeCapacityProviders"
    );
    if !needs_body {
        return star();
    }
    let body = top_level(body);
    let s = |k: &str| body.get(k).and_then(Value::as_str);
    let scope = ctx.scope();
    let cluster_arn = |given: Option<&str>| -> String {
        let given = given.unwrap_or("default");
        if given.starts_with("arn:") {
            given.to_owned()
        } else {
            scope.cluster_arn(given)
        }
    };
    let cluster = cluster_arn(s("cluster"));
    let cluster_name = arn::cluster_name(&cluster).to_owned();
    let in_cluster = |resource: String| {
        Context::new(action.clone(), resource).with("ecs:cluster", cluster.clone())
    };
    let each = |field: &str, arn_of: &dyn Fn(&str) -> String| -> Vec<Context> {
        match body.get(field) {
            Some(Value::Array(items)) => {
                items.iter().filter_map(Value::as_str).map(|i| in_cluster(arn_of(i))).collect()
            }
            _ => vec![],
        }
    };
    let task_arn = |t: &str| -> String {
        let (id, c) = arn::resource_id(t, "task");
        scope.task_arn(c.unwrap_or(&cluster_name), id)
    };
    let instance_arn = |t: &str| -> String {
        let (id, c) = arn::resource_id(t, "container-instance");
        scope.container_instance_arn(c.unwrap_or(&cluster_name), id)
    };
    let service_arn = |name: &str| -> String {
        if name.starts_with("arn:") {
            name.to_owned()
        } else {
            scope.ecs_arn(&format!("service/{cluster_name}/{name}"))
        }
    };
    match op {
        "CreateCluster" => {
            let mut c = Context::new(action.clone(), cluster_arn(s("clusterName")));
            request_tags(&mut c, body.get("tags"), "key", "value");
            vec![c]
        }
        "DescribeClusters" => match body.get("clusters") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|c| Context::new(action.clone(), cluster_arn(Some(c))))
                .collect(),
            _ => vec![Context::new(action.clone(), cluster_arn(None))],
        },
        "UpdateCluster"
        | "UpdateClusterSettings"
        | "PutClusterCapacityProviders"
        | "DeleteCluster"
        | "ListContainerInstances"
        | "RegisterContainerInstance"
        | "DiscoverPollEndpoint" => {
            vec![Context::new(action.clone(), cluster.clone())]
        }
        "ListServices" | "ListTasks" => vec![in_cluster("*".into())],
        "DescribeContainerInstances" | "UpdateContainerInstancesState" => {
            each("containerInstances", &instance_arn)
        }
        "DeregisterContainerInstance" => {
            vec![in_cluster(instance_arn(s("containerInstance").unwrap_or("")))]
        }
        "DescribeTasks" => each("tasks", &task_arn),
        "StopTask" => vec![in_cluster(task_arn(s("task").unwrap_or("")))],
        "ExecuteCommand" => {
            let mut c = in_cluster(task_arn(s("task").unwrap_or("")));
            if let Some(name) = s("container") {
                c.set("ecs:container-name", name.to_owned());
            }
            vec![c]
        }
        "RunTask" | "StartTask" => {
            let (td_arn, mut roles) = task_definition(ctx, s("taskDefinition").unwrap_or("")).await;
            let mut c = in_cluster(td_arn);
            request_tags(&mut c, body.get("tags"), "key", "value");
            let overrides = body.get("overrides");
            for field in ["taskRoleArn", "executionRoleArn"] {
                if let Some(r) = overrides.and_then(|o| o.get(field)).and_then(Value::as_str) {
                    roles.push(r.to_owned());
                }
            }
            let mut out = vec![c];
            out.extend(pass_roles(roles));
            out
        }
        "CreateService" => {
            let td = s("taskDefinition").unwrap_or("");
            let (td_arn, roles) = task_definition(ctx, td).await;
            let mut c = in_cluster(service_arn(s("serviceName").unwrap_or("")))
                .with("ecs:task-definition", td_arn);
            request_tags(&mut c, body.get("tags"), "key", "value");
            let mut out = vec![c];
            out.extend(pass_roles(roles));
            out
        }
        "UpdateService" | "DeleteService" | "DescribeServiceRevisions" => {
            let mut c = in_cluster(service_arn(s("service").unwrap_or("")));
            if let Some(td) = s("taskDefinition") {
                let (td_arn, _) = task_definition(ctx, td).await;
                c.set("ecs:task-definition", td_arn);
            }
            vec![c]
        }
        "DescribeServices" => each("services", &service_arn),
        "CreateTaskSet"
        | "UpdateTaskSet"
        | "DeleteTaskSet"
        | "DescribeTaskSets"
        | "UpdateServicePrimaryTaskSet" => {
            vec![in_cluster(service_arn(s("service").unwrap_or("")))]
        }
        "RegisterTaskDefinition" => {
            let mut c = Context::new(action.clone(), "*");
            request_tags(&mut c, body.get("tags"), "key", "value");
            let roles = ["taskRoleArn", "executionRoleArn"]
                .iter()
                .filter_map(|f| s(f).map(str::to_owned))
                .collect();
            let mut out = vec![c];
            out.extend(pass_roles(roles));
            out
        }
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            let mut c = Context::new(action.clone(), s("resourceArn").unwrap_or("*"));
            request_tags(&mut c, body.get("tags"), "key", "value");
            if let Some(Value::Array(keys)) = body.get("tagKeys") {
                for k in keys.iter().filter_map(Value::as_str) {
                    c.set("aws:TagKeys", k.to_owned());
                }
            }
            vec![c]
        }
        _ => star(),
    }
}

/// The request's top-level fields, parsed, but for `containerDefinitions`:
/// no check reads it, and in a RegisterTaskDefinition it is most of the
/// body (it is skipped unparsed). `null` when the body is not a JSON object.
fn top_level(body: &[u8]) -> Value {
    match serde_json::from_slice::<std::collections::BTreeMap<String, &RawValue>>(body) {
        Ok(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(k, _)| k != "containerDefinitions")
                .map(|(k, v)| (k, serde_json::from_str(v.get()).unwrap_or(Value::Null)))
                .collect(),
        ),
        Err(_) => Value::Null,
    }
}

/// The roles a task definition names (other fields are skipped unparsed).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Roles {
    task_role_arn: Option<Value>,
    execution_role_arn: Option<Value>,
}

/// A task definition's ARN (its latest ACTIVE revision when none is named)
/// and the roles it names.
async fn task_definition(ctx: &Ctx, given: &str) -> (String, Vec<String>) {
    let found = crate::ecs::task_definition_lookup(ctx, given).await;
    match found {
        Some((family, revision, json)) => {
            let named: Roles = serde_json::from_str(&json).unwrap_or_default();
            let roles = [named.task_role_arn, named.execution_role_arn]
                .iter()
                .filter_map(|r| r.as_ref().and_then(Value::as_str).map(str::to_owned))
                .collect();
            (ctx.scope().task_definition_arn(&family, i64::from(revision)), roles)
        }
        // Unknown: the handler will say so; authorise against what was named.
        None if given.starts_with("arn:") => (given.to_owned(), vec![]),
        None => (ctx.scope().ecs_arn(&format!("task-definition/{given}")), vec![]),
    }
}

/// `iam:PassRole` on each role handed to ECS for its tasks.
fn pass_roles(roles: Vec<String>) -> Vec<Context> {
    roles
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| {
            Context::new("iam:PassRole", r).with("iam:PassedToService", "ecs-tasks.amazonaws.com")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_is_the_body_but_its_container_definitions() {
        let body = br#"{"family":"web","taskRoleArn":"arn:aws:iam::1:role/r","tags":[{"key":"k","value":"v"}],
            "containerDefinitions":[{"name":"app","image":"x"}],"cpu":"256","overrides":{"taskRoleArn":"o"}}"#;
        let mut whole: Value = serde_json::from_slice(body).unwrap();
        whole.as_object_mut().unwrap().remove("containerDefinitions");
        assert_eq!(top_level(body), whole);
        assert_eq!(top_level(b"not json"), Value::Null);
        assert_eq!(top_level(b"[1]"), Value::Null);
    }

    #[test]
    fn roles_are_read_from_a_stored_definition() {
        let json = r#"{"family":"web","containerDefinitions":[],"taskRoleArn":"arn:r","executionRoleArn":7}"#;
        let named: Roles = serde_json::from_str(json).unwrap();
        assert_eq!(named.task_role_arn, Some(Value::from("arn:r")));
        assert_eq!(named.execution_role_arn, Some(Value::from(7)));
    }
}
