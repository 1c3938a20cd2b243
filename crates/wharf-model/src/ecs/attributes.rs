//! Container instance attributes: the names ECS's agent reports about an
//! instance, the ones Wharf adds, and ECS's rules for names and values
//! (PutAttributes, the agent's `--attribute`).
//!
//! Attributes whose names start with `ecs.`, `com.amazonaws.ecs.` or `wharf.`
//! describe the instance itself: the agent reports them and the API's
//! PutAttributes and DeleteAttributes leave them alone. Anything else is a
//! custom attribute, at most [`MAX_CUSTOM`] per instance.

use super::shapes::Attribute;

/// The instance's Availability Zone (`us-east-1a`).
pub const AVAILABILITY_ZONE: &str = "ecs.availability-zone";
/// The instance's type (`ecs.instance-type`); Wharf's agent names it after
/// the host's size unless told otherwise.
pub const INSTANCE_TYPE: &str = "ecs.instance-type";
/// `linux`.
pub const OS_TYPE: &str = "ecs.os-type";
/// `x86_64` or `arm64`.
pub const CPU_ARCHITECTURE: &str = "ecs.cpu-architecture";
/// The VPC of the instance's awsvpc tasks (one per cluster).
pub const VPC_ID: &str = "ecs.vpc-id";
/// The instance's subnet: its slice of the cluster's VPC range.
pub const SUBNET_ID: &str = "ecs.subnet-id";
/// The address other hosts and the load balancer reach the instance at:
/// `instance` targets are this address and a host port. ECS reads it from
/// EC2; Wharf's agent reports it.
pub const ADDRESS: &str = "wharf.address";
/// The instance's slice of its cluster's VPC range (`10.208.3.0/24`): its
/// awsvpc tasks' addresses.
pub const SUBNET_CIDR: &str = "wharf.subnet-cidr";

/// How many custom attributes one instance may have (PutAttributes).
pub const MAX_CUSTOM: usize = 10;
/// The capability of an instance whose agent serves ECS Exec sessions.
pub const EXECUTE_COMMAND: &str = "ecs.capability.execute-command";
/// Where an instance's agent serves ECS Exec sessions (`http://address:port`).
pub const EXEC_ENDPOINT: &str = "wharf.exec-endpoint";

/// Whether `name` describes the instance itself rather than being custom.
pub fn is_builtin(name: &str) -> bool {
    ["ecs.", "com.amazonaws.ecs.", "wharf."].iter().any(|p| name.starts_with(p))
}

/// Checks an attribute name as ECS does; the message names the field.
pub fn check_name(name: &str, field: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_/\\.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field}: the name '{name}' must contain between 1 and 128 characters: letters, \
             numbers, hyphens (-), underscores (_), forward slashes (/), back slashes (\\) or \
             periods (.)."
        ))
    }
}

/// Checks an attribute value as ECS does; the message names the field.
pub fn check_value(value: &str, field: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@/\\: ".contains(c))
        && !value.starts_with(' ')
        && !value.ends_with(' ');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field}: the value '{value}' must contain between 1 and 128 characters: letters, \
             numbers, hyphens (-), underscores (_), periods (.), at signs (@), forward slashes \
             (/), back slashes (\\), colons (:) or spaces, and cannot start or end with a space."
        ))
    }
}

/// Reads `name=value` (or `name` alone, an attribute without a value), as
/// `wharf agent --attribute` takes it.
pub fn parse_pair(s: &str) -> Result<(String, Option<String>), String> {
    let (name, value) = match s.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.to_owned())),
        None => (s.trim(), None),
    };
    check_name(name, "--attribute")?;
    if let Some(v) = &value {
        check_value(v, "--attribute")?;
    }
    Ok((name.to_owned(), value))
}

/// An attribute as the wire carries it on an instance.
pub fn attribute(name: impl Into<String>, value: Option<&str>) -> Attribute {
    Attribute { name: Some(name.into()), value: value.map(str::to_owned), ..Attribute::default() }
}

/// The value of the attribute `name` in `attributes`, if it has one.
pub fn value_of<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes.iter().find(|a| a.name.as_deref() == Some(name)).and_then(|a| a.value.as_deref())
}

/// Sets (or adds) the attribute `name` to `value` in `attributes`.
pub fn set(attributes: &mut Vec<Attribute>, name: &str, value: Option<&str>) {
    match attributes.iter_mut().find(|a| a.name.as_deref() == Some(name)) {
        Some(a) => a.value = value.map(str::to_owned),
        None => attributes.push(attribute(name, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_follow_ecs_rules() {
        assert!(check_name("stack", "name").is_ok());
        assert!(check_name("ecs.availability-zone", "name").is_ok());
        assert!(check_name("a b", "name").unwrap_err().starts_with("name: the name 'a b'"));
        assert!(check_name("", "name").is_err());
        assert!(check_name(&"x".repeat(129), "name").is_err());
        assert!(check_value("us-east-1a", "value").is_ok());
        assert!(check_value("a@b:c d/e", "value").is_ok());
        assert!(check_value(" lead", "value").is_err());
        assert!(check_value("trail ", "value").is_err());
        assert!(check_value("semi;colon", "value").is_err());
    }

    #[test]
    fn pairs_and_builtin_names() {
        assert_eq!(parse_pair("stack=prod").unwrap(), ("stack".into(), Some("prod".into())));
        assert_eq!(parse_pair("gpu").unwrap(), ("gpu".into(), None));
        assert!(parse_pair("bad name=1").is_err());
        assert!(parse_pair("x=").is_err(), "an empty value is refused");
        assert!(is_builtin(AVAILABILITY_ZONE) && is_builtin(ADDRESS));
        assert!(is_builtin("com.amazonaws.ecs.capability.ecr-auth"));
        assert!(!is_builtin("stack"));
        let mut list = vec![attribute("a", Some("1"))];
        set(&mut list, "a", Some("2"));
        set(&mut list, "b", None);
        assert_eq!(value_of(&list, "a"), Some("2"));
        assert_eq!((list.len(), value_of(&list, "b")), (2, None));
    }
}
