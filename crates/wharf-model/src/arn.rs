//! ECS resource names: building ARNs and reading the short names and
//! identifiers that the API accepts in their place.

/// The partition, region and account an ARN lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope<'a> {
    /// AWS region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Twelve-digit account id.
    pub account: &'a str,
}

impl Scope<'_> {
    /// `arn:aws:ecs:<region>:<account>:<resource>`.
    pub fn ecs_arn(&self, resource: &str) -> String {
        format!("arn:aws:ecs:{}:{}:{}", self.region, self.account, resource)
    }

    /// The ARN of a cluster.
    pub fn cluster_arn(&self, name: &str) -> String {
        self.ecs_arn(&format!("cluster/{name}"))
    }

    /// The ARN of a task definition revision.
    pub fn task_definition_arn(&self, family: &str, revision: i64) -> String {
        self.ecs_arn(&format!("task-definition/{family}:{revision}"))
    }

    /// The ARN of a task (the long format: `task/<cluster>/<id>`).
    pub fn task_arn(&self, cluster: &str, id: &str) -> String {
        self.ecs_arn(&format!("task/{cluster}/{id}"))
    }

    /// The ARN of a container instance (long format).
    pub fn container_instance_arn(&self, cluster: &str, id: &str) -> String {
        self.ecs_arn(&format!("container-instance/{cluster}/{id}"))
    }

    /// The ARN of one container of a task.
    pub fn container_arn(&self, cluster: &str, task_id: &str, id: &str) -> String {
        self.ecs_arn(&format!("container/{cluster}/{task_id}/{id}"))
    }

    /// The ARN of a capacity provider.
    pub fn capacity_provider_arn(&self, name: &str) -> String {
        self.ecs_arn(&format!("capacity-provider/{name}"))
    }
}

/// A parsed ECS ARN: `arn:<partition>:ecs:<region>:<account>:<kind>/<rest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsArn<'a> {
    /// Region field of the ARN.
    pub region: &'a str,
    /// Account field of the ARN.
    pub account: &'a str,
    /// Resource type, e.g. `cluster`, `task-definition`.
    pub kind: &'a str,
    /// Everything after the resource type and its slash.
    pub rest: &'a str,
}

/// Parses an ECS ARN; `None` if `s` is not one.
pub fn parse(s: &str) -> Option<EcsArn<'_>> {
    let mut parts = s.splitn(6, ':');
    let (arn, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    if arn != "arn" || service != "ecs" {
        return None;
    }
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let (kind, rest) = resource.split_once('/')?;
    Some(EcsArn { region, account, kind, rest })
}

/// A reference to a task definition as the API accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskDefinitionRef<'a> {
    /// `family`: the latest ACTIVE revision.
    Family(&'a str),
    /// `family:revision` or a full ARN.
    Revision(&'a str, i64),
}

/// Reads `family`, `family:revision` or a task definition ARN.
pub fn task_definition_ref(s: &str) -> Option<TaskDefinitionRef<'_>> {
    let body = match parse(s) {
        Some(a) if a.kind == "task-definition" => a.rest,
        Some(_) => return None,
        None => s,
    };
    match body.rsplit_once(':') {
        Some((family, rev)) => {
            let rev: i64 = rev.parse().ok()?;
            (rev > 0 && !family.is_empty()).then_some(TaskDefinitionRef::Revision(family, rev))
        }
        None if !body.is_empty() => Some(TaskDefinitionRef::Family(body)),
        None => None,
    }
}

/// The short name of a cluster given its name or ARN.
pub fn cluster_name(s: &str) -> &str {
    match parse(s) {
        Some(a) if a.kind == "cluster" => a.rest,
        _ => s,
    }
}

/// A task or container instance named by ID or ARN: its ID, and the cluster
/// the ARN names, if it is a long-format ARN of that `kind`.
pub fn resource_id<'a>(s: &'a str, kind: &str) -> (&'a str, Option<&'a str>) {
    match parse(s) {
        Some(a) if a.kind == kind => match a.rest.rsplit_once('/') {
            Some((cluster, id)) => (id, Some(cluster)),
            None => (a.rest, None),
        },
        _ => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids() {
        let arn = "arn:aws:ecs:us-east-1:000000000000:task/web/0123abcd";
        assert_eq!(resource_id(arn, "task"), ("0123abcd", Some("web")));
        assert_eq!(resource_id("arn:aws:ecs:us-east-1:0:task/0123", "task"), ("0123", None));
        assert_eq!(resource_id("0123abcd", "task"), ("0123abcd", None));
    }

    #[test]
    fn task_definition_refs() {
        assert_eq!(task_definition_ref("web"), Some(TaskDefinitionRef::Family("web")));
        assert_eq!(task_definition_ref("web:3"), Some(TaskDefinitionRef::Revision("web", 3)));
        assert_eq!(
            task_definition_ref("arn:aws:ecs:us-east-1:000000000000:task-definition/web:12"),
            Some(TaskDefinitionRef::Revision("web", 12))
        );
        assert_eq!(task_definition_ref("web:x"), None);
        assert_eq!(task_definition_ref("web:0"), None);
        assert_eq!(task_definition_ref(""), None);
    }

    #[test]
    fn cluster_names() {
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:000000000000:cluster/prod"), "prod");
        assert_eq!(cluster_name("prod"), "prod");
    }
}
