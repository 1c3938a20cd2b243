//! One view over the generated enums, so that every "value not in the model's
//! list" check reads the same and names the field.

use crate::ecs::shapes::{
    ApplicationProtocol, CPUArchitecture, Compatibility, ContainerCondition,
    DeviceCgroupPermission, EFSAuthorizationConfigIAM, EFSTransitEncryption, EnvironmentFileType,
    FirelensConfigurationType, IpcMode, LogDriver, NetworkMode, OSFamily, PidMode,
    ProxyConfigurationType, ResourceType, Scope, TaskDefinitionPlacementConstraintType,
    TransportProtocol, UlimitName, VersionConsistency,
};
use crate::error::EcsError;

use super::rules::msg;

/// What validation needs from a generated enum.
pub(crate) trait ModelEnum {
    /// The values the model lists.
    fn values() -> &'static [&'static str];
    /// The wire spelling.
    fn wire(&self) -> &str;
    /// Whether the value is one the model lists.
    fn known(&self) -> bool;
}

macro_rules! model_enum {
    ($($t:ty),* $(,)?) => {$(
        impl ModelEnum for $t {
            fn values() -> &'static [&'static str] {
                <$t>::VALUES
            }
            fn wire(&self) -> &str {
                self.as_str()
            }
            fn known(&self) -> bool {
                self.is_known()
            }
        }
    )*};
}

model_enum!(
    ApplicationProtocol,
    CPUArchitecture,
    Compatibility,
    ContainerCondition,
    DeviceCgroupPermission,
    EFSAuthorizationConfigIAM,
    EFSTransitEncryption,
    EnvironmentFileType,
    FirelensConfigurationType,
    IpcMode,
    LogDriver,
    NetworkMode,
    OSFamily,
    PidMode,
    ProxyConfigurationType,
    ResourceType,
    Scope,
    TaskDefinitionPlacementConstraintType,
    TransportProtocol,
    UlimitName,
    VersionConsistency,
);

/// `Err` naming `path` when `value` is set to something the model does not list.
pub(crate) fn check<E: ModelEnum>(value: Option<&E>, path: &str) -> Result<(), EcsError> {
    match value {
        Some(v) if !v.known() => {
            Err(EcsError::client(msg::invalid_enum(path, v.wire(), E::values())))
        }
        _ => Ok(()),
    }
}

/// [`check`] for each element of a list, with `path[i]` in the message.
pub(crate) fn check_all<E: ModelEnum>(values: Option<&Vec<E>>, path: &str) -> Result<(), EcsError> {
    for (i, v) in values.into_iter().flatten().enumerate() {
        check(Some(v), &format!("{path}[{i}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_values_name_the_field() {
        let bad = NetworkMode::from("bridged");
        let err = check(Some(&bad), "networkMode").unwrap_err();
        assert_eq!(err.kind, crate::EcsErrorKind::ClientException);
        assert_eq!(
            err.message,
            "Invalid value 'bridged' for networkMode. Valid values: bridge, host, awsvpc, none."
        );
        assert!(check(Some(&NetworkMode::Host), "networkMode").is_ok());
        assert!(check::<NetworkMode>(None, "networkMode").is_ok());
    }

    #[test]
    fn lists_carry_the_index() {
        let v = vec![Compatibility::Ec2, Compatibility::from("LAMBDA")];
        let err = check_all(Some(&v), "requiresCompatibilities").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value 'LAMBDA' for requiresCompatibilities[1]. Valid values: EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES."
        );
    }
}
