//! Warnings an ECS user would thank us for: things ECS accepts but that will
//! surprise at run time or leak a secret. Never errors; validation decides
//! acceptance.

use serde_json::Value;

use crate::ecs::shapes::{
    Compatibility, ContainerCondition, ContainerDefinition, LogDriver,
    RegisterTaskDefinitionRequest,
};
use crate::wire::Shape;

use super::rules;
use super::schema;
use super::validate::{network_mode, Mode};

/// One warning, about one field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// JSON path of the field, e.g. `containerDefinitions[1].image`.
    pub field: String,
    /// What is wrong and what to do instead.
    pub message: String,
}

/// Words that mark an environment variable as a secret.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];

/// Warnings for `req`; with `raw` (the JSON it was read from), also members
/// ECS does not know and silently ignores.
pub fn lint(req: &RegisterTaskDefinitionRequest, raw: Option<&Value>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(raw) = raw {
        unknown_members(raw, "RegisterTaskDefinitionRequest", "", &mut out);
    }
    let mode = network_mode(req.network_mode.as_ref()).unwrap_or(Mode::Bridge);
    let containers = req.container_definitions.as_deref().unwrap_or_default();
    let has_exec_role = req.execution_role_arn.as_deref().is_some_and(|r| !r.is_empty());
    for (field, value) in
        [("taskRoleArn", &req.task_role_arn), ("executionRoleArn", &req.execution_role_arn)]
    {
        if value.as_deref().is_some_and(looks_templated) {
            push(
                &mut out,
                field,
                "looks like a template placeholder; substitute it before registering.",
            );
        }
    }
    for (i, c) in containers.iter().enumerate() {
        let at = format!("containerDefinitions[{i}]");
        image(c, &at, &mut out);
        environment(c, &at, &mut out);
        if c.memory.is_none() && req.memory.is_none() {
            push(&mut out, &format!("{at}.memory"), "no hard memory limit: neither the container nor the task sets 'memory', so this container may use all of the host's memory.");
        }
        if c.memory.is_some_and(|m| m > 0 && m < rules::DOCKER_MIN_MEMORY_MIB) {
            push(
                &mut out,
                &format!("{at}.memory"),
                "below 6 MiB, which Docker 20.10 and later refuse to start.",
            );
        }
        if containers.len() > 1 && c.essential.unwrap_or(true) && c.health_check.is_none() {
            push(&mut out, &format!("{at}.healthCheck"), "essential container without a healthCheck in a multi-container task: if it hangs, ECS still sees it RUNNING, nothing replaces the task, and no container can wait for it to be HEALTHY.");
        }
        if let Some(l) = &c.log_configuration {
            let prefix = l.options.as_ref().and_then(|o| o.get("awslogs-stream-prefix"));
            if l.log_driver == Some(LogDriver::Awslogs) && prefix.is_none() {
                push(&mut out, &format!("{at}.logConfiguration.options"), "awslogs without awslogs-stream-prefix: log streams are named after the Docker container id, which is hard to trace back to the task.");
            }
        }
        if let Some(cmd) =
            c.health_check.as_ref().and_then(|h| h.command.as_ref()).and_then(|c| c.first())
        {
            if cmd != "CMD" && cmd != "CMD-SHELL" {
                push(&mut out, &format!("{at}.healthCheck.command"), "does not start with CMD or CMD-SHELL; CMD is assumed, so the first word runs as the executable.");
            }
        }
        for (j, d) in c.depends_on.iter().flatten().enumerate() {
            let target = containers.iter().find(|t| t.name == d.container_name);
            if d.condition == Some(ContainerCondition::Healthy)
                && target.is_some_and(|t| t.health_check.is_none())
            {
                push(&mut out, &format!("{at}.dependsOn[{j}]"), "waits for HEALTHY, but that container has no healthCheck: this container will never start.");
            }
        }
        if matches!(mode, Mode::Host | Mode::None)
            && c.links.as_ref().is_some_and(|l| !l.is_empty())
        {
            push(
                &mut out,
                &format!("{at}.links"),
                &format!("links only work with networkMode bridge; with {} Docker refuses to start the container.", mode.name()),
            );
        }
        let fargate =
            req.requires_compatibilities.iter().flatten().any(|c| *c == Compatibility::Fargate);
        let (lo, hi) = rules::FARGATE_TIMEOUT;
        for (field, value) in [("startTimeout", c.start_timeout), ("stopTimeout", c.stop_timeout)] {
            if fargate && value.is_some_and(|v| v < lo || v > hi) {
                push(
                    &mut out,
                    &format!("{at}.{field}"),
                    &format!("Fargate only honours {lo} to {hi} seconds here."),
                );
            }
        }
        let needs_role = c.secrets.as_ref().is_some_and(|s| !s.is_empty())
            || c.repository_credentials.is_some()
            || c.environment_files.as_ref().is_some_and(|f| !f.is_empty());
        if needs_role && !has_exec_role {
            push(&mut out, &at, "uses secrets, repositoryCredentials or environmentFiles but the task has no executionRoleArn: the agent cannot fetch them and the task fails to start.");
        }
    }
    out
}

fn push(out: &mut Vec<Finding>, field: &str, message: &str) {
    out.push(Finding { field: field.to_owned(), message: message.to_owned() });
}

/// Template syntax left in a value: `${x}`, `{{x}}`, `<X>`, `$$$X$$$`.
fn looks_templated(s: &str) -> bool {
    s.contains("${")
        || s.contains("{{")
        || s.contains("$$$")
        || (s.contains('<') && s.contains('>'))
}

/// `:latest`, no tag at all, or a placeholder.
fn image(c: &ContainerDefinition, at: &str, out: &mut Vec<Finding>) {
    let Some(image) = c.image.as_deref() else { return };
    let field = format!("{at}.image");
    if looks_templated(image) {
        push(out, &field, "looks like a template placeholder; substitute it before registering.");
        return;
    }
    if image.contains('@') {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => push(out, &field, "no tag: Docker pulls ':latest', which changes under you; pin a version or a digest."),
        Some((_, "latest")) => push(out, &field, "':latest' changes under you: tasks started at different times may run different code; pin a version or a digest."),
        Some(_) => {}
    }
}

/// Secret-looking names in plain `environment`, and names given twice.
fn environment(c: &ContainerDefinition, at: &str, out: &mut Vec<Finding>) {
    let vars = c.environment.as_deref().unwrap_or_default();
    for (j, kv) in vars.iter().enumerate() {
        let Some(name) = kv.name.as_deref() else { continue };
        let upper = name.to_ascii_uppercase();
        if SECRET_WORDS.iter().any(|w| upper.contains(w))
            && kv.value.as_deref().is_some_and(|v| !v.is_empty())
        {
            push(out, &format!("{at}.environment[{j}].name"), &format!("'{name}' looks like a secret in plain 'environment', visible to anyone who can describe the task definition; use 'secrets' (SSM Parameter Store or Secrets Manager) instead."));
        }
        if vars[..j].iter().any(|p| p.name.as_deref() == Some(name)) {
            push(
                out,
                &format!("{at}.environment[{j}].name"),
                &format!("'{name}' is set more than once; only one value reaches the container."),
            );
        }
    }
}

/// Members of `value` that shape `shape` does not have.
fn unknown_members(value: &Value, shape: &'static str, path: &str, out: &mut Vec<Finding>) {
    let Value::Object(map) = value else { return };
    let known = schema::members(shape);
    for (key, v) in map {
        let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        if let Some((child, list)) = schema::child(shape, key) {
            match (list, v) {
                (true, Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        unknown_members(item, child, &format!("{at}[{i}]"), out);
                    }
                }
                (false, _) => unknown_members(v, child, &at, out),
                _ => {}
            }
            continue;
        }
        if known.contains(&key.as_str()) {
            continue;
        }
        let message = if shape == "RegisterTaskDefinitionRequest"
            && <crate::ecs::shapes::TaskDefinition as Shape>::MEMBERS.contains(&key.as_str())
        {
            format!("'{key}' is DescribeTaskDefinition output; RegisterTaskDefinition ignores it.")
        } else if shape == "ContainerDefinition" && known_at_task_level(key) {
            format!("'{key}' is a task-level field; inside a container definition ECS ignores it.")
        } else if let Some(m) = known.iter().find(|m| m.eq_ignore_ascii_case(key)) {
            format!("unknown field '{key}' (did you mean '{m}'?); ECS ignores it.")
        } else {
            format!("unknown field '{key}'; ECS ignores it.")
        };
        push(out, &at, &message);
    }
}

fn known_at_task_level(key: &str) -> bool {
    <RegisterTaskDefinitionRequest as Shape>::MEMBERS.contains(&key)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::testutil::{ec2, fargate, req, with};
    use super::lint;

    /// `field: message` lines for `v`, linted with its own JSON as raw input.
    fn findings(v: Value) -> Vec<String> {
        lint(&req(v.clone()), Some(&v))
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect()
    }

    fn has(v: Value, field: &str, needle: &str) {
        let all = findings(v);
        assert!(
            all.iter().any(|f| f.starts_with(&format!("{field}: ")) && f.contains(needle)),
            "no {field} ~ {needle:?} in {all:#?}"
        );
    }

    #[test]
    fn a_clean_definition_has_no_findings() {
        assert_eq!(findings(ec2()), Vec::<String>::new());
    }

    #[test]
    fn secrets_in_plain_environment() {
        let v = with(ec2(), |v| {
            v["containerDefinitions"][0]["environment"] = json!([
                {"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "MODE", "value": "prod"}, {"name": "MODE", "value": "dev"}
            ])
        });
        has(v.clone(), "containerDefinitions[0].environment[0].name", "looks like a secret");
        has(v.clone(), "containerDefinitions[0].environment[2].name", "set more than once");
        assert!(!findings(v).iter().any(|f| f.contains("environment[1]")));
    }

    #[test]
    fn images() {
        let image = |i: &str| with(ec2(), |v| v["containerDefinitions"][0]["image"] = json!(i));
        has(image("nginx:latest"), "containerDefinitions[0].image", "':latest'");
        has(image("nginx"), "containerDefinitions[0].image", "no tag");
        has(image("127.0.0.1:51670/busybox"), "containerDefinitions[0].image", "no tag");
        has(image("<IMAGE1_NAME>"), "containerDefinitions[0].image", "placeholder");
        assert!(findings(image("nginx@sha256:abc")).is_empty());
        assert!(findings(image("127.0.0.1:51670/busybox:1.36")).is_empty());
    }

    #[test]
    fn memory_and_health() {
        let v = with(ec2(), |v| {
            v["containerDefinitions"] = json!([
                {"name": "a", "image": "x:1", "memoryReservation": 64},
                {"name": "b", "image": "y:1", "memory": 4, "essential": false,
                 "dependsOn": [{"containerName": "a", "condition": "HEALTHY"}]}
            ])
        });
        has(v.clone(), "containerDefinitions[0].memory", "no hard memory limit");
        has(v.clone(), "containerDefinitions[1].memory", "below 6 MiB");
        has(
            v.clone(),
            "containerDefinitions[0].healthCheck",
            "essential container without a healthCheck",
        );
        has(v, "containerDefinitions[1].dependsOn[0]", "never start");
    }

    #[test]
    fn logging_roles_and_fargate_timeouts() {
        let v = with(ec2(), |v| {
            v["containerDefinitions"][0]["logConfiguration"] = json!({"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r"}});
            v["containerDefinitions"][0]["secrets"] = json!([{"name": "K", "valueFrom": "/k"}]);
        });
        has(v.clone(), "containerDefinitions[0].logConfiguration.options", "awslogs-stream-prefix");
        has(v, "containerDefinitions[0]", "no executionRoleArn");
        has(
            with(fargate(), |v| v["containerDefinitions"][0]["stopTimeout"] = json!(300)),
            "containerDefinitions[0].stopTimeout",
            "2 to 120",
        );
    }

    #[test]
    fn unknown_members() {
        let v = with(ec2(), |v| {
            v["status"] = json!("ACTIVE");
            v["containerDefinitions"][0]["Image"] = json!("x");
            v["containerDefinitions"][0]["networkMode"] = json!("bridge");
            v["containerDefinitions"][0]["portMappings"] =
                json!([{"containerPort": 80, "hostport": 80}]);
            v["containerDefinitions"][0]["dockerLabels"] = json!({"anything": "goes"});
        });
        has(v.clone(), "status", "DescribeTaskDefinition output");
        has(v.clone(), "containerDefinitions[0].Image", "did you mean 'image'");
        has(v.clone(), "containerDefinitions[0].networkMode", "task-level field");
        has(
            v.clone(),
            "containerDefinitions[0].portMappings[0].hostport",
            "did you mean 'hostPort'",
        );
        assert!(!findings(v).iter().any(|f| f.contains("anything")));
    }
}
