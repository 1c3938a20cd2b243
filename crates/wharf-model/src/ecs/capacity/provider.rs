//! A custom capacity provider's settings as ECS reads them back: the
//! defaults CreateCapacityProvider fills in, the ranges it checks, and how
//! UpdateCapacityProvider merges a change.

use crate::ecs::shapes::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, ManagedDraining, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};
use crate::EcsError;

/// `targetCapacity` when none is given.
pub const DEFAULT_TARGET_CAPACITY: i32 = 100;
/// `minimumScalingStepSize` when none is given.
pub const DEFAULT_MIN_STEP: i32 = 1;
/// `maximumScalingStepSize` when none is given.
pub const DEFAULT_MAX_STEP: i32 = 10_000;
/// `instanceWarmupPeriod` (seconds) when none is given.
pub const DEFAULT_WARMUP: i32 = 300;

fn invalid(message: impl Into<String>) -> EcsError {
    EcsError::invalid_parameter(message)
}

/// Managed scaling with every field ECS shows: `status` DISABLED unless
/// given, target capacity 100, steps 1 to 10,000, warm-up 300 seconds.
pub fn managed_scaling_defaults(given: Option<ManagedScaling>) -> ManagedScaling {
    let g = given.unwrap_or_default();
    ManagedScaling {
        status: Some(g.status.unwrap_or(ManagedScalingStatus::Disabled)),
        target_capacity: Some(g.target_capacity.unwrap_or(DEFAULT_TARGET_CAPACITY)),
        minimum_scaling_step_size: Some(g.minimum_scaling_step_size.unwrap_or(DEFAULT_MIN_STEP)),
        maximum_scaling_step_size: Some(g.maximum_scaling_step_size.unwrap_or(DEFAULT_MAX_STEP)),
        instance_warmup_period: Some(g.instance_warmup_period.unwrap_or(DEFAULT_WARMUP)),
    }
}

/// Checks managed scaling's ranges as ECS does; the message names the field.
pub fn check_managed_scaling(m: &ManagedScaling) -> Result<(), EcsError> {
    let field = |name: &str| format!("autoScalingGroupProvider.managedScaling.{name}");
    if m.status.as_ref().is_some_and(|s| !s.is_known()) {
        return Err(invalid(format!("{} must be ENABLED or DISABLED.", field("status"))));
    }
    let ranges = [
        ("targetCapacity", m.target_capacity, 1, 100),
        ("minimumScalingStepSize", m.minimum_scaling_step_size, 1, 10_000),
        ("maximumScalingStepSize", m.maximum_scaling_step_size, 1, 10_000),
        ("instanceWarmupPeriod", m.instance_warmup_period, 0, 10_000),
    ];
    for (name, value, low, high) in ranges {
        if value.is_some_and(|v| !(low..=high).contains(&v)) {
            return Err(invalid(format!("{} must be between {low} and {high}.", field(name))));
        }
    }
    if let (Some(min), Some(max)) = (m.minimum_scaling_step_size, m.maximum_scaling_step_size) {
        if min > max {
            return Err(invalid(
                "The minimum scaling step size must be less than or equal to the maximum scaling \
                 step size.",
            ));
        }
    }
    Ok(())
}

/// An `autoScalingGroupProvider` as CreateCapacityProvider stores and
/// answers it: managed scaling with its defaults, termination protection
/// DISABLED and draining ENABLED unless given. Checks the ranges and that
/// termination protection has managed scaling to work with.
pub fn created(given: AutoScalingGroupProvider) -> Result<AutoScalingGroupProvider, EcsError> {
    if let Some(m) = &given.managed_scaling {
        check_managed_scaling(m)?;
    }
    let out = AutoScalingGroupProvider {
        managed_scaling: Some(managed_scaling_defaults(given.managed_scaling)),
        managed_termination_protection: Some(
            given.managed_termination_protection.unwrap_or(ManagedTerminationProtection::Disabled),
        ),
        managed_draining: Some(given.managed_draining.unwrap_or(ManagedDraining::Enabled)),
        ..given
    };
    check_protection(&out)?;
    Ok(out)
}

/// Applies UpdateCapacityProvider's change: the managed scaling fields
/// given replace the stored ones, the others stay.
pub fn updated(
    mut current: AutoScalingGroupProvider,
    change: AutoScalingGroupProviderUpdate,
) -> Result<AutoScalingGroupProvider, EcsError> {
    if let Some(m) = change.managed_scaling {
        check_managed_scaling(&m)?;
        let before = managed_scaling_defaults(current.managed_scaling.take());
        let merged = ManagedScaling {
            status: m.status.or(before.status),
            target_capacity: m.target_capacity.or(before.target_capacity),
            minimum_scaling_step_size: m
                .minimum_scaling_step_size
                .or(before.minimum_scaling_step_size),
            maximum_scaling_step_size: m
                .maximum_scaling_step_size
                .or(before.maximum_scaling_step_size),
            instance_warmup_period: m.instance_warmup_period.or(before.instance_warmup_period),
        };
        check_managed_scaling(&merged)?;
        current.managed_scaling = Some(merged);
    }
    if let Some(p) = change.managed_termination_protection {
        current.managed_termination_protection = Some(p);
    }
    if let Some(d) = change.managed_draining {
        current.managed_draining = Some(d);
    }
    check_protection(&current)?;
    Ok(current)
}

/// Managed termination protection needs managed scaling: ECS protects the
/// instances it scales.
fn check_protection(p: &AutoScalingGroupProvider) -> Result<(), EcsError> {
    let protected = p.managed_termination_protection == Some(ManagedTerminationProtection::Enabled);
    let scaling = p.managed_scaling.as_ref().and_then(|m| m.status.as_ref())
        == Some(&ManagedScalingStatus::Enabled);
    if protected && !scaling {
        return Err(invalid(
            "The managed termination protection setting for the capacity provider is invalid. \
             To enable managed termination protection for a capacity provider, managed scaling \
             must be enabled.",
        ));
    }
    Ok(())
}

/// Whether managed scaling is on.
pub fn scaling_enabled(p: &AutoScalingGroupProvider) -> bool {
    p.managed_scaling.as_ref().and_then(|m| m.status.as_ref())
        == Some(&ManagedScalingStatus::Enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asg() -> AutoScalingGroupProvider {
        AutoScalingGroupProvider {
            auto_scaling_group_arn: Some("web".into()),
            ..AutoScalingGroupProvider::default()
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let p = created(asg()).unwrap();
        let m = p.managed_scaling.unwrap();
        assert_eq!(m.status, Some(ManagedScalingStatus::Disabled));
        assert_eq!(
            (m.target_capacity, m.minimum_scaling_step_size, m.maximum_scaling_step_size),
            (Some(100), Some(1), Some(10_000))
        );
        assert_eq!(m.instance_warmup_period, Some(300));
        assert_eq!(p.managed_termination_protection, Some(ManagedTerminationProtection::Disabled));
        assert_eq!(p.managed_draining, Some(ManagedDraining::Enabled));
    }

    #[test]
    fn ranges_and_protection_are_checked() {
        let with = |m: ManagedScaling| {
            created(AutoScalingGroupProvider { managed_scaling: Some(m), ..asg() })
        };
        let e =
            with(ManagedScaling { target_capacity: Some(0), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("targetCapacity must be between 1 and 100"), "{}", e.message);
        let e = with(ManagedScaling {
            minimum_scaling_step_size: Some(5),
            maximum_scaling_step_size: Some(2),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message.contains("minimum scaling step size"));
        let protected = AutoScalingGroupProvider {
            managed_termination_protection: Some(ManagedTerminationProtection::Enabled),
            ..asg()
        };
        assert!(created(protected.clone()).unwrap_err().message.contains("managed scaling"));
        let on =
            ManagedScaling { status: Some(ManagedScalingStatus::Enabled), ..Default::default() };
        created(AutoScalingGroupProvider { managed_scaling: Some(on), ..protected }).unwrap();
    }

    #[test]
    fn an_update_changes_only_what_it_names() {
        let p = created(AutoScalingGroupProvider {
            managed_scaling: Some(ManagedScaling {
                status: Some(ManagedScalingStatus::Enabled),
                target_capacity: Some(80),
                ..Default::default()
            }),
            ..asg()
        })
        .unwrap();
        let change = AutoScalingGroupProviderUpdate {
            managed_scaling: Some(ManagedScaling {
                maximum_scaling_step_size: Some(3),
                ..Default::default()
            }),
            managed_draining: Some(ManagedDraining::Disabled),
            ..Default::default()
        };
        let u = updated(p, change).unwrap();
        let m = u.managed_scaling.unwrap();
        assert_eq!((m.target_capacity, m.maximum_scaling_step_size), (Some(80), Some(3)));
        assert_eq!(m.status, Some(ManagedScalingStatus::Enabled));
        assert_eq!(u.managed_draining, Some(ManagedDraining::Disabled));
    }
}
