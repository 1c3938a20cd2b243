//! The shape tree under RegisterTaskDefinitionRequest: which member holds
//! which structure, so raw JSON can be walked against the model. Used to find
//! unknown members (lint) and arrays sent where a structure belongs (decode).

use serde_json::Value;

use crate::ecs::shapes as s;
use crate::wire::Shape;

/// A member that holds a structure, or a list of them: (parent, member, child, is_list).
const TREE: &[(&str, &str, &str, bool)] = &[
    ("RegisterTaskDefinitionRequest", "containerDefinitions", "ContainerDefinition", true),
    ("RegisterTaskDefinitionRequest", "volumes", "Volume", true),
    (
        "RegisterTaskDefinitionRequest",
        "placementConstraints",
        "TaskDefinitionPlacementConstraint",
        true,
    ),
    ("RegisterTaskDefinitionRequest", "tags", "Tag", true),
    ("RegisterTaskDefinitionRequest", "proxyConfiguration", "ProxyConfiguration", false),
    ("RegisterTaskDefinitionRequest", "inferenceAccelerators", "InferenceAccelerator", true),
    ("RegisterTaskDefinitionRequest", "ephemeralStorage", "EphemeralStorage", false),
    ("RegisterTaskDefinitionRequest", "runtimePlatform", "RuntimePlatform", false),
    ("ContainerDefinition", "repositoryCredentials", "RepositoryCredentials", false),
    ("ContainerDefinition", "portMappings", "PortMapping", true),
    ("ContainerDefinition", "restartPolicy", "ContainerRestartPolicy", false),
    ("ContainerDefinition", "environment", "KeyValuePair", true),
    ("ContainerDefinition", "environmentFiles", "EnvironmentFile", true),
    ("ContainerDefinition", "mountPoints", "MountPoint", true),
    ("ContainerDefinition", "volumesFrom", "VolumeFrom", true),
    ("ContainerDefinition", "linuxParameters", "LinuxParameters", false),
    ("ContainerDefinition", "secrets", "Secret", true),
    ("ContainerDefinition", "dependsOn", "ContainerDependency", true),
    ("ContainerDefinition", "extraHosts", "HostEntry", true),
    ("ContainerDefinition", "ulimits", "Ulimit", true),
    ("ContainerDefinition", "logConfiguration", "LogConfiguration", false),
    ("ContainerDefinition", "healthCheck", "HealthCheck", false),
    ("ContainerDefinition", "systemControls", "SystemControl", true),
    ("ContainerDefinition", "resourceRequirements", "ResourceRequirement", true),
    ("ContainerDefinition", "firelensConfiguration", "FirelensConfiguration", false),
    ("LinuxParameters", "capabilities", "KernelCapabilities", false),
    ("LinuxParameters", "devices", "Device", true),
    ("LinuxParameters", "tmpfs", "Tmpfs", true),
    ("LogConfiguration", "secretOptions", "Secret", true),
    ("Volume", "host", "HostVolumeProperties", false),
    ("Volume", "dockerVolumeConfiguration", "DockerVolumeConfiguration", false),
    ("Volume", "efsVolumeConfiguration", "EFSVolumeConfiguration", false),
    ("Volume", "s3filesVolumeConfiguration", "S3FilesVolumeConfiguration", false),
    (
        "Volume",
        "fsxWindowsFileServerVolumeConfiguration",
        "FSxWindowsFileServerVolumeConfiguration",
        false,
    ),
    ("EFSVolumeConfiguration", "authorizationConfig", "EFSAuthorizationConfig", false),
    (
        "FSxWindowsFileServerVolumeConfiguration",
        "authorizationConfig",
        "FSxWindowsFileServerAuthorizationConfig",
        false,
    ),
    ("ProxyConfiguration", "properties", "KeyValuePair", true),
];

/// The structure member `member` of `shape` holds, and whether as a list.
pub(crate) fn child(shape: &str, member: &str) -> Option<(&'static str, bool)> {
    TREE.iter().find(|(p, m, _, _)| *p == shape && *m == member).map(|(_, _, c, l)| (*c, *l))
}

/// The members of a shape in the tree, as spelled on the wire.
pub(crate) fn members(shape: &str) -> &'static [&'static str] {
    macro_rules! table {
        ($($t:ident),* $(,)?) => {
            match shape {
                $(stringify!($t) => <s::$t as Shape>::MEMBERS,)*
                _ => &[],
            }
        };
    }
    table!(
        RegisterTaskDefinitionRequest,
        TaskDefinition,
        ContainerDefinition,
        Volume,
        TaskDefinitionPlacementConstraint,
        Tag,
        ProxyConfiguration,
        InferenceAccelerator,
        EphemeralStorage,
        RuntimePlatform,
        RepositoryCredentials,
        PortMapping,
        ContainerRestartPolicy,
        KeyValuePair,
        EnvironmentFile,
        MountPoint,
        VolumeFrom,
        LinuxParameters,
        Secret,
        ContainerDependency,
        HostEntry,
        Ulimit,
        LogConfiguration,
        HealthCheck,
        SystemControl,
        ResourceRequirement,
        FirelensConfiguration,
        KernelCapabilities,
        Device,
        Tmpfs,
        HostVolumeProperties,
        DockerVolumeConfiguration,
        EFSVolumeConfiguration,
        S3FilesVolumeConfiguration,
        FSxWindowsFileServerVolumeConfiguration,
        EFSAuthorizationConfig,
        FSxWindowsFileServerAuthorizationConfig,
    )
}

/// The first place (JSON path, shape) where an array stands in for a
/// structure, which ECS's JSON front end refuses.
pub(crate) fn array_for_structure(
    value: &Value,
    shape: &'static str,
    path: &str,
) -> Option<(String, &'static str)> {
    let Value::Object(map) = value else {
        return value.is_array().then(|| (path.to_owned(), shape));
    };
    for (key, v) in map {
        let Some((childshape, list)) = child(shape, key) else { continue };
        let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        match (list, v) {
            (true, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(hit) = array_for_structure(item, childshape, &format!("{at}[{i}]"))
                    {
                        return Some(hit);
                    }
                }
            }
            (false, _) => {
                if let Some(hit) = array_for_structure(v, childshape, &at) {
                    return Some(hit);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tree_entry_names_real_members() {
        for (parent, member, child, _) in TREE {
            assert!(members(parent).contains(member), "{parent}.{member}");
            assert!(!members(child).is_empty(), "{child}");
        }
    }

    #[test]
    fn arrays_for_structures_are_found() {
        let v = serde_json::json!({"containerDefinitions": [{"name": "a", "logConfiguration": ["awslogs"]}]});
        assert_eq!(
            array_for_structure(&v, "RegisterTaskDefinitionRequest", ""),
            Some(("containerDefinitions[0].logConfiguration".to_owned(), "LogConfiguration"))
        );
        let ok = serde_json::json!({"containerDefinitions": [{"name": "a", "environment": []}]});
        assert_eq!(array_for_structure(&ok, "RegisterTaskDefinitionRequest", ""), None);
        let top = serde_json::json!([{"name": "a"}]);
        assert_eq!(
            array_for_structure(&top, "RegisterTaskDefinitionRequest", ""),
            Some((String::new(), "RegisterTaskDefinitionRequest"))
        );
    }
}
