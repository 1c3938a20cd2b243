//! A container's remaining options: ulimits, Linux parameters, environment
//! files, resource requirements, repository credentials, FireLens, timeouts
//! and the restart policy.

use crate::ecs::shapes::{ContainerDefinition, ResourceType};
use crate::error::EcsError;

use super::rules::{self, msg};

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// Every rule in this module, for the container at JSON path `at`.
pub(crate) fn check(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    check_ulimits(c, at)?;
    check_linux(c, at)?;
    check_misc(c, at)
}

/// `ulimits`: both limits set, soft ≤ hard.
fn check_ulimits(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    for (j, u) in c.ulimits.iter().flatten().enumerate() {
        let path = format!("{at}.ulimits[{j}]");
        if u.name.is_none() {
            return Err(client(msg::required(&format!("{path}.name"))));
        }
        let (Some(soft), Some(hard)) = (u.soft_limit, u.hard_limit) else {
            return Err(client(msg::required(&format!("{path}.softLimit and hardLimit"))));
        };
        if soft > hard {
            return Err(client(format!(
                "Invalid value for {path}. softLimit must not be greater than hardLimit."
            )));
        }
    }
    Ok(())
}

/// `linuxParameters`: tmpfs sizes, swap settings, shared memory, devices.
fn check_linux(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    let Some(l) = &c.linux_parameters else { return Ok(()) };
    let at = format!("{at}.linuxParameters");
    for (j, t) in l.tmpfs.iter().flatten().enumerate() {
        if t.container_path.as_deref().unwrap_or_default().is_empty() {
            return Err(client(msg::required(&format!("{at}.tmpfs[{j}].containerPath"))));
        }
        if t.size.is_none_or(|s| s <= 0) {
            return Err(client(msg::required(&format!("{at}.tmpfs[{j}].size"))));
        }
    }
    for (j, d) in l.devices.iter().flatten().enumerate() {
        if d.host_path.as_deref().unwrap_or_default().is_empty() {
            return Err(client(msg::required(&format!("{at}.devices[{j}].hostPath"))));
        }
    }
    if l.max_swap.is_some_and(|v| v < 0) {
        return Err(client(msg::out_of_range(&format!("{at}.maxSwap"), 0, i32::MAX.into())));
    }
    if l.swappiness.is_some_and(|v| !(0..=100).contains(&v)) {
        return Err(client(msg::out_of_range(&format!("{at}.swappiness"), 0, 100)));
    }
    if l.shared_memory_size.is_some_and(|v| v <= 0) {
        return Err(client(msg::out_of_range(
            &format!("{at}.sharedMemorySize"),
            1,
            i32::MAX.into(),
        )));
    }
    Ok(())
}

/// Environment files, resource requirements, repository credentials, FireLens,
/// timeouts and the restart policy.
fn check_misc(c: &ContainerDefinition, at: &str) -> Result<(), EcsError> {
    let files = c.environment_files.as_deref().unwrap_or_default();
    if files.len() > rules::MAX_ENVIRONMENT_FILES {
        return Err(client(msg::out_of_range(
            &format!("the number of {at}.environmentFiles"),
            0,
            rules::MAX_ENVIRONMENT_FILES as i64,
        )));
    }
    for (j, f) in files.iter().enumerate() {
        if f.value.as_deref().unwrap_or_default().is_empty() {
            return Err(client(msg::required(&format!("{at}.environmentFiles[{j}].value"))));
        }
    }
    for (j, r) in c.resource_requirements.iter().flatten().enumerate() {
        let value = r.value.as_deref().unwrap_or_default();
        let ok = match r.r#type {
            Some(ResourceType::Gpu) => value.parse::<u32>().is_ok_and(|n| n > 0),
            _ => !value.is_empty(),
        };
        if !ok {
            return Err(client(format!("Invalid value for {at}.resourceRequirements[{j}].value.")));
        }
    }
    if let Some(rc) = &c.repository_credentials {
        if rc.credentials_parameter.as_deref().unwrap_or_default().is_empty() {
            return Err(client(msg::required(&format!(
                "{at}.repositoryCredentials.credentialsParameter"
            ))));
        }
    }
    if let Some(f) = &c.firelens_configuration {
        if f.r#type.is_none() {
            return Err(client(msg::required(&format!("{at}.firelensConfiguration.type"))));
        }
    }
    for (field, value) in [("startTimeout", c.start_timeout), ("stopTimeout", c.stop_timeout)] {
        if value.is_some_and(|v| v < 0) {
            return Err(client(msg::out_of_range(&format!("{at}.{field}"), 0, i32::MAX.into())));
        }
    }
    if let Some(r) = &c.restart_policy {
        if r.ignored_exit_codes.as_ref().is_some_and(|v| v.len() > 50) {
            return Err(client(msg::out_of_range(
                &format!("the number of {at}.restartPolicy.ignoredExitCodes"),
                0,
                50,
            )));
        }
        if r.restart_attempt_period.is_some_and(|p| !(60..=1800).contains(&p)) {
            return Err(client(msg::out_of_range(
                &format!("{at}.restartPolicy.restartAttemptPeriod"),
                60,
                1800,
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testutil::{accepted, refused, set};

    #[test]
    fn ulimits_and_linux_parameters() {
        refused(set("ulimits", json!([{"name": "nofile", "softLimit": 2}])), "containerDefinitions[0].ulimits[0].softLimit and hardLimit should not be null or empty.");
        refused(
            set("ulimits", json!([{"name": "nofile", "softLimit": 2, "hardLimit": 1}])),
            "Invalid value for containerDefinitions[0].ulimits[0]. softLimit must not be greater than hardLimit.",
        );
        refused(
            set("linuxParameters", json!({"tmpfs": [{"containerPath": "/t"}]})),
            "containerDefinitions[0].linuxParameters.tmpfs[0].size should not be null or empty.",
        );
        refused(set("linuxParameters", json!({"swappiness": 101})), "Invalid value for containerDefinitions[0].linuxParameters.swappiness. The value must be between 0 and 100.");
        refused(set("linuxParameters", json!({"devices": [{"containerPath": "/dev/x"}]})), "containerDefinitions[0].linuxParameters.devices[0].hostPath should not be null or empty.");
    }

    #[test]
    fn smaller_members() {
        let files: Vec<_> = (0..11)
            .map(|i| json!({"type": "s3", "value": format!("arn:aws:s3:::b/{i}.env")}))
            .collect();
        refused(set("environmentFiles", json!(files)), "Invalid value for the number of containerDefinitions[0].environmentFiles. The value must be between 0 and 10.");
        refused(
            set("resourceRequirements", json!([{"type": "GPU", "value": "one"}])),
            "Invalid value for containerDefinitions[0].resourceRequirements[0].value.",
        );
        accepted(set("resourceRequirements", json!([{"type": "GPU", "value": "1"}])));
        refused(set("repositoryCredentials", json!({})), "containerDefinitions[0].repositoryCredentials.credentialsParameter should not be null or empty.");
        refused(set("restartPolicy", json!({"enabled": true, "restartAttemptPeriod": 30})), "Invalid value for containerDefinitions[0].restartPolicy.restartAttemptPeriod. The value must be between 60 and 1800.");
        refused(set("stopTimeout", json!(-1)), "Invalid value for containerDefinitions[0].stopTimeout. The value must be between 0 and 2147483647.");
    }
}
