//! Rules for one container definition: name and image, enum values, memory
//! and cpu, logging, health check and secrets; the remaining options are in
//! `options`. Ports and network-mode rules live in `network`,
//! references to other containers and volumes in `references`.

use crate::ecs::shapes::{ContainerDefinition, LogDriver};
use crate::error::EcsError;

use super::enums::{self, check_all};
use super::options;
use super::rules::{self, msg};
use super::validate::Task;

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// `name` and `image`: present, and a name of letters, digits, `-`, `_`.
pub(crate) fn check_identity(c: &ContainerDefinition) -> Result<(), EcsError> {
    match c.name.as_deref() {
        None | Some("") => return Err(client(msg::NAME_EMPTY)),
        Some(n) if !rules::is_resource_name(n) => return Err(client(msg::NAME_INVALID)),
        Some(_) => {}
    }
    match c.image.as_deref() {
        None | Some("") => Err(client(msg::IMAGE_EMPTY)),
        Some(i) if i.chars().count() > rules::MAX_IMAGE_LEN => Err(client(msg::IMAGE_TOO_LONG)),
        Some(_) => Ok(()),
    }
}

/// Every per-container rule except identity, ports and references.
pub(crate) fn check(task: &Task, i: usize) -> Result<(), EcsError> {
    let Some(c) = task.containers.get(i) else { return Ok(()) };
    let name = task.name(i);
    let at = format!("containerDefinitions[{i}]");
    check_enums(c, &at)?;
    check_resources(task, c, name)?;
    check_logging(c, &at)?;
    check_health(c, &at)?;
    check_secrets(c.secrets.as_deref().unwrap_or_default(), &format!("{at}.secrets"))?;
    options::check(c, &at)
}

/// Values outside the model's enums, field by field.
fn check_enums(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    for (j, p) in c.port_mappings.iter().flatten().enumerate() {
        enums::check(p.protocol.as_ref(), &format!("{at}.portMappings[{j}].protocol"))?;
        enums::check(p.app_protocol.as_ref(), &format!("{at}.portMappings[{j}].appProtocol"))?;
    }
    if let Some(l) = &c.log_configuration {
        enums::check(l.log_driver.as_ref(), &format!("{at}.logConfiguration.logDriver"))?;
    }
    for (j, d) in c.depends_on.iter().flatten().enumerate() {
        enums::check(d.condition.as_ref(), &format!("{at}.dependsOn[{j}].condition"))?;
    }
    for (j, u) in c.ulimits.iter().flatten().enumerate() {
        enums::check(u.name.as_ref(), &format!("{at}.ulimits[{j}].name"))?;
    }
    for (j, f) in c.environment_files.iter().flatten().enumerate() {
        enums::check(f.r#type.as_ref(), &format!("{at}.environmentFiles[{j}].type"))?;
    }
    for (j, r) in c.resource_requirements.iter().flatten().enumerate() {
        enums::check(r.r#type.as_ref(), &format!("{at}.resourceRequirements[{j}].type"))?;
    }
    if let Some(f) = &c.firelens_configuration {
        enums::check(f.r#type.as_ref(), &format!("{at}.firelensConfiguration.type"))?;
    }
    for (j, d) in c.linux_parameters.iter().flat_map(|l| l.devices.iter().flatten()).enumerate() {
        check_all(
            d.permissions.as_ref(),
            &format!("{at}.linuxParameters.devices[{j}].permissions"),
        )?;
    }
    enums::check(c.version_consistency.as_ref(), &format!("{at}.versionConsistency"))
}

/// Memory and cpu: one of memory/memoryReservation without task memory
/// (outside Fargate), positive values, memory ≥ reservation, ≤ task memory.
fn check_resources(task: &Task, c: &ContainerDefinition, name: &str) -> Result<(), EcsError> {
    if c.memory.is_some_and(|m| m <= 0) {
        return Err(client(msg::invalid_setting("memory", name)));
    }
    if c.memory_reservation.is_some_and(|m| m <= 0) {
        return Err(client(msg::invalid_setting("memoryReservation", name)));
    }
    if c.cpu.is_some_and(|v| v < 0) {
        return Err(client(msg::invalid_setting("cpu", name)));
    }
    if task.memory.is_none()
        && !task.fargate
        && c.memory.is_none()
        && c.memory_reservation.is_none()
    {
        return Err(client(msg::memory_required(name)));
    }
    if let (Some(m), Some(r)) = (c.memory, c.memory_reservation) {
        if m < r {
            return Err(client(msg::memory_below_reservation(name)));
        }
    }
    if let (Some(m), Some(t)) = (c.memory, task.memory) {
        if i64::from(m) > i64::from(t) {
            return Err(client(msg::container_memory_over_task(name)));
        }
    }
    Ok(())
}

/// `logConfiguration`: a driver, and for `awslogs` the options ECS requires
/// and allows; `secretOptions` shaped like secrets.
fn check_logging(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    let Some(l) = &c.log_configuration else { return Ok(()) };
    let Some(driver) = &l.log_driver else {
        return Err(client(msg::required(&format!("{at}.logConfiguration.logDriver"))));
    };
    if *driver == LogDriver::Awslogs {
        let options = l.options.clone().unwrap_or_default();
        let missing: Vec<&str> = rules::AWSLOGS_REQUIRED
            .iter()
            .copied()
            .filter(|k| options.get(*k).is_none_or(|v| v.is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(client(msg::log_driver_requires(&missing)));
        }
        let disallowed: Vec<&str> = options
            .keys()
            .map(String::as_str)
            .filter(|k| !rules::AWSLOGS_OPTIONS.contains(k))
            .collect();
        if !disallowed.is_empty() {
            return Err(client(msg::log_driver_disallows(&disallowed)));
        }
    }
    check_secrets(
        l.secret_options.as_deref().unwrap_or_default(),
        &format!("{at}.logConfiguration.secretOptions"),
    )
}

/// `healthCheck`: a command, and each timing within ECS's bounds.
fn check_health(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    let Some(h) = &c.health_check else { return Ok(()) };
    if h.command.as_ref().is_none_or(|cmd| cmd.is_empty() || cmd.iter().all(String::is_empty)) {
        return Err(client(msg::required(&format!("{at}.healthCheck.command"))));
    }
    let bounds = [
        ("interval", h.interval, rules::HEALTH_INTERVAL),
        ("timeout", h.timeout, rules::HEALTH_TIMEOUT),
        ("retries", h.retries, rules::HEALTH_RETRIES),
        ("startPeriod", h.start_period, rules::HEALTH_START_PERIOD),
    ];
    for (field, value, (lo, hi)) in bounds {
        if value.is_some_and(|v| v < lo || v > hi) {
            return Err(client(msg::out_of_range(
                &format!("{at}.healthCheck.{field}"),
                lo.into(),
                hi.into(),
            )));
        }
    }
    Ok(())
}

/// `secrets` / `secretOptions`: each with a `name` and a `valueFrom`.
fn check_secrets(secrets: &[crate::ecs::shapes::Secret], at: &str) -> Result<(), EcsError> {
    for (j, s) in secrets.iter().enumerate() {
        if s.name.as_deref().unwrap_or_default().is_empty() {
            return Err(client(msg::required(&format!("{at}[{j}].name"))));
        }
        if s.value_from.as_deref().unwrap_or_default().is_empty() {
            return Err(client(msg::required(&format!("{at}[{j}].valueFrom"))));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::testutil::{accepted, ec2, fargate, refused, set, with};

    #[test]
    fn container_enums_name_the_field() {
        refused(
            set("portMappings", json!([{"containerPort": 80, "protocol": "http"}])),
            "Invalid value 'http' for containerDefinitions[0].portMappings[0].protocol. Valid values: tcp, udp.",
        );
        refused(
            set("logConfiguration", json!({"logDriver": "loki"})),
            "Invalid value 'loki' for containerDefinitions[0].logConfiguration.logDriver. Valid values: json-file, syslog, journald, gelf, fluentd, awslogs, splunk, awsfirelens.",
        );
        refused(
            set("ulimits", json!([{"name": "files", "softLimit": 1, "hardLimit": 1}])),
            "Invalid value 'files' for containerDefinitions[0].ulimits[0].name. Valid values: core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack.",
        );
    }

    #[test]
    fn memory_rules() {
        let c = json!([{"name": "app", "image": "nginx"}]);
        refused(
            with(ec2(), |v| v["containerDefinitions"] = c.clone()),
            "Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be specified.",
        );
        accepted(with(ec2(), |v| {
            v["containerDefinitions"] = c.clone();
            v["memory"] = json!("512");
        }));
        accepted(with(ec2(), |v| {
            v["containerDefinitions"] =
                json!([{"name": "app", "image": "x", "memoryReservation": 64}])
        }));
        refused(set("memory", json!(0)), "Invalid 'memory' setting for container 'app'.");
        refused(set("memory", json!(-5)), "Invalid 'memory' setting for container 'app'.");
        refused(
            set("memoryReservation", json!(0)),
            "Invalid 'memoryReservation' setting for container 'app'.",
        );
        refused(set("cpu", json!(-1)), "Invalid 'cpu' setting for container 'app'.");
        refused(
            set("memoryReservation", json!(256)),
            "Invalid setting for container 'app'. 'memory' must be greater than or equal to 'memoryReservation'.",
        );
        accepted(set("memoryReservation", json!(128)));
        refused(
            with(fargate(), |v| v["containerDefinitions"][0]["memory"] = json!(1024)),
            "The 'memory' setting for container 'app' is greater than for the task.",
        );
    }

    #[test]
    fn awslogs_options() {
        let logs = |options: Value| {
            set("logConfiguration", json!({"logDriver": "awslogs", "options": options}))
        };
        refused(
            logs(json!({})),
            "Log driver awslogs requires options: awslogs-region, awslogs-group",
        );
        refused(
            logs(json!({"awslogs-region": "us-east-1"})),
            "Log driver awslogs requires options: awslogs-group",
        );
        refused(
            logs(
                json!({"awslogs-region": "us-east-1", "awslogs-group": "g", "log_key": "log", "tag": "x"}),
            ),
            "Log driver awslogs disallows options: log_key, tag",
        );
        accepted(logs(
            json!({"awslogs-region": "r", "awslogs-group": "g", "mode": "non-blocking", "max-buffer-size": "4m"}),
        ));
        refused(
            set("logConfiguration", json!({"options": {}})),
            "containerDefinitions[0].logConfiguration.logDriver should not be null or empty.",
        );
        refused(
            set("logConfiguration", json!({"logDriver": "splunk", "secretOptions": [{"name": "splunk-token"}]})),
            "containerDefinitions[0].logConfiguration.secretOptions[0].valueFrom should not be null or empty.",
        );
    }

    #[test]
    fn health_check_bounds() {
        let hc = |extra: Value| {
            let mut h = json!({"command": ["CMD-SHELL", "true"]});
            if let (Some(h), Some(e)) = (h.as_object_mut(), extra.as_object()) {
                h.extend(e.clone());
            }
            set("healthCheck", h)
        };
        accepted(hc(json!({"interval": 5, "timeout": 60, "retries": 10, "startPeriod": 300})));
        refused(
            set("healthCheck", json!({"command": []})),
            "containerDefinitions[0].healthCheck.command should not be null or empty.",
        );
        refused(hc(json!({"interval": 4})), "Invalid value for containerDefinitions[0].healthCheck.interval. The value must be between 5 and 300.");
        refused(hc(json!({"interval": 301})), "Invalid value for containerDefinitions[0].healthCheck.interval. The value must be between 5 and 300.");
        refused(hc(json!({"timeout": 1})), "Invalid value for containerDefinitions[0].healthCheck.timeout. The value must be between 2 and 60.");
        refused(hc(json!({"retries": 11})), "Invalid value for containerDefinitions[0].healthCheck.retries. The value must be between 1 and 10.");
        refused(hc(json!({"startPeriod": -1})), "Invalid value for containerDefinitions[0].healthCheck.startPeriod. The value must be between 0 and 300.");
    }

    #[test]
    fn secrets_need_name_and_value_from() {
        refused(
            set("secrets", json!([{"valueFrom": "/p"}])),
            "containerDefinitions[0].secrets[0].name should not be null or empty.",
        );
        refused(
            set("secrets", json!([{"name": "DB", "valueFrom": ""}])),
            "containerDefinitions[0].secrets[0].valueFrom should not be null or empty.",
        );
        accepted(set("secrets", json!([{"name": "DB", "valueFrom": "$$$SECRET_VALUE_FROM$$$"}])));
    }
}
