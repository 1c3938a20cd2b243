//! Capacity providers and capacity provider strategies, as ECS has them.
//! Pure: what a strategy may hold ([`check_strategy`]), where a provider's
//! tasks run ([`Capacity`]), and how a strategy's `base` and `weight` split
//! tasks between its providers ([`distribute`]).
//!
//! `FARGATE` and `FARGATE_SPOT` run on the region's Fargate pool: hosts
//! that joined as Fargate capacity (registered under [`FARGATE_POOL`], which
//! no cluster can be named, so no ListContainerInstances lists them) and
//! instances of any cluster that also serve the pool (the server's embedded
//! agent by default), marked with [`FARGATE_ATTRIBUTE`]. A custom provider
//! (`autoScalingGroupProvider`) names a group of the cluster's instances:
//! those whose agent joined with `--auto-scaling-group NAME`
//! ([`GROUP_ATTRIBUTE`]).
//!
//! How `weight` splits what is left after `base` is not spelled out by ECS
//! beyond "for every one task that's run using capacityProviderA, four tasks
//! would use capacityProviderB": Wharf gives each next task to the provider
//! that stays furthest below its share once it has it (the D'Hondt rule,
//! ties to the earlier item), so every prefix of a launch is as close to the
//! weights as whole tasks allow.

pub mod provider;
pub mod scaling;

use super::resolved::ResolvedTask;
use super::shapes::{CPUArchitecture, CapacityProviderStrategyItem, LaunchType, OSFamily};
use crate::EcsError;

/// The Fargate capacity provider.
pub const FARGATE: &str = "FARGATE";
/// The Fargate Spot capacity provider.
pub const FARGATE_SPOT: &str = "FARGATE_SPOT";
/// The cluster name hosts that joined only as Fargate capacity are
/// registered under. Not a valid ECS cluster name (`@`), so no account's
/// cluster can collide with it and no cluster API reaches it.
pub const FARGATE_POOL: &str = "@fargate";
/// The attribute of an instance that serves the Fargate pool.
pub const FARGATE_ATTRIBUTE: &str = "wharf.fargate";
/// The attribute naming the group (Auto Scaling group) an instance joined.
pub const GROUP_ATTRIBUTE: &str = "wharf.auto-scaling-group";
/// How many items a capacity provider strategy may have.
pub const MAX_STRATEGY_ITEMS: usize = 20;
/// `failures[].reason` when the Fargate pool has no room for a task.
pub const CAPACITY_UNAVAILABLE: &str =
    "Capacity is unavailable at this time. Please try again later or in a different availability zone";
/// `stoppedReason` of an interrupted Fargate Spot task (stop code `SpotInterruption`).
pub const SPOT_INTERRUPTED_REASON: &str = "Your Spot Task was interrupted.";

/// Where a capacity provider's tasks run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capacity {
    /// The Fargate pool, on demand.
    Fargate,
    /// The Fargate pool, interruptible.
    FargateSpot,
    /// The cluster's instances that joined this group.
    Group(String),
}

impl Capacity {
    /// The built-in provider of that name.
    pub fn built_in(name: &str) -> Option<Self> {
        match name {
            FARGATE => Some(Self::Fargate),
            FARGATE_SPOT => Some(Self::FargateSpot),
            _ => None,
        }
    }

    /// Whether it runs on the Fargate pool.
    pub fn is_fargate(&self) -> bool {
        matches!(self, Self::Fargate | Self::FargateSpot)
    }

    /// The launch type its tasks report.
    pub fn launch_type(&self) -> LaunchType {
        if self.is_fargate() {
            LaunchType::Fargate
        } else {
            LaunchType::Ec2
        }
    }
}

/// The group an `autoScalingGroupArn` names: the name after
/// `autoScalingGroupName/` in an ARN, or the value itself (ECS accepts a
/// group's name too).
pub fn group_name(auto_scaling_group_arn: &str) -> &str {
    match auto_scaling_group_arn.rsplit_once(":autoScalingGroupName/") {
        Some((_, name)) => name,
        None => auto_scaling_group_arn,
    }
}

/// The short name of a provider given by name or ARN.
pub fn short_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":capacity-provider/") {
        Some((_, name)) => name,
        None => name_or_arn,
    }
}

/// One item of a strategy, resolved: the provider, where it runs, and its
/// share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The provider's short name (`capacityProviderName` of its tasks).
    pub provider: String,
    /// Where its tasks run.
    pub capacity: Capacity,
    /// At least this many tasks go to it first.
    pub base: u32,
    /// Its part of the tasks beyond the bases.
    pub weight: u32,
}

/// For each of `count` new tasks, the index of the share it goes to,
/// given how many tasks each share already has (`existing`, one count per
/// share; a service's tasks on each provider). Bases first, in strategy
/// order; then each task to the share that stays furthest below its
/// weight once it has it. A lone share takes every task whatever its
/// weight; shares of weight 0 take only their base. Empty when no share
/// can take a task.
pub fn distribute(shares: &[Share], existing: &[u32], count: usize) -> Vec<usize> {
    let mut have: Vec<u64> =
        (0..shares.len()).map(|i| u64::from(existing.get(i).copied().unwrap_or(0))).collect();
    let lone = shares.len() == 1;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let below_base = shares.iter().enumerate().position(|(i, s)| have[i] < u64::from(s.base));
        let next = below_base.or_else(|| {
            if lone {
                return Some(0);
            }
            // Beyond the base: compare (n_i + 1) / w_i across shares without
            // dividing, the smaller first; ties to the earlier share.
            let beyond = |i: usize| have[i].saturating_sub(u64::from(shares[i].base));
            (0..shares.len()).filter(|&i| shares[i].weight > 0).min_by(|&a, &b| {
                let (wa, wb) = (u64::from(shares[a].weight), u64::from(shares[b].weight));
                ((beyond(a) + 1) * wb).cmp(&((beyond(b) + 1) * wa)).then(a.cmp(&b))
            })
        });
        let Some(i) = next else { break };
        have[i] += 1;
        out.push(i);
    }
    out
}

/// How many of `count` new tasks go to each share (see [`distribute`]).
pub fn split(shares: &[Share], existing: &[u32], count: usize) -> Vec<u32> {
    let mut n = vec![0u32; shares.len()];
    for i in distribute(shares, existing, count) {
        n[i] += 1;
    }
    n
}

fn invalid(message: impl Into<String>) -> EcsError {
    EcsError::invalid_parameter(message)
}

/// Checks a capacity provider strategy as ECS does before it resolves the
/// providers: at most [`MAX_STRATEGY_ITEMS`] items, each naming a provider
/// associated with the cluster (`associated`, names or ARNs), once;
/// weights 0 to 1000, bases 0 to 100000, at most one base; with more than
/// one item, some weight above 0; Fargate and group providers not mixed.
pub fn check_strategy(
    strategy: &[CapacityProviderStrategyItem],
    associated: &[String],
) -> Result<(), EcsError> {
    if strategy.len() > MAX_STRATEGY_ITEMS {
        return Err(invalid(format!(
            "capacityProviderStrategy can have at most {MAX_STRATEGY_ITEMS} items."
        )));
    }
    let mut seen: Vec<&str> = Vec::new();
    let (mut with_base, mut fargate, mut groups) = (0, false, false);
    for item in strategy {
        let name = item.capacity_provider.as_deref().map(short_name).ok_or_else(|| {
            invalid("capacityProviderStrategy.capacityProvider must be specified.")
        })?;
        if !associated.iter().any(|a| short_name(a) == name) {
            return Err(invalid(
                "The specified capacity provider strategy cannot contain a capacity provider \
                 that is not associated with the cluster. Associate the capacity provider with \
                 the cluster or specify a valid capacity provider and try again.",
            ));
        }
        if seen.contains(&name) {
            return Err(invalid(format!(
                "The specified capacity provider strategy contains the capacity provider \
                 '{name}' more than once. Specify each capacity provider once and try again."
            )));
        }
        seen.push(name);
        if item.weight.is_some_and(|w| !(0..=1000).contains(&w)) {
            return Err(invalid("capacityProviderStrategy.weight must be between 0 and 1000."));
        }
        if item.base.is_some_and(|b| !(0..=100_000).contains(&b)) {
            return Err(invalid("capacityProviderStrategy.base must be between 0 and 100000."));
        }
        with_base += usize::from(item.base.unwrap_or(0) > 0);
        if Capacity::built_in(name).is_some() {
            fargate = true;
        } else {
            groups = true;
        }
    }
    if with_base > 1 {
        return Err(invalid(
            "Only one capacity provider in a capacity provider strategy can have a base defined.",
        ));
    }
    if strategy.len() > 1 && strategy.iter().all(|i| i.weight.unwrap_or(0) == 0) {
        return Err(invalid(
            "The specified capacity provider strategy must contain at least one capacity \
             provider with a weight greater than zero. Specify a weight and try again.",
        ));
    }
    if fargate && groups {
        return Err(invalid(
            "A capacity provider strategy cannot contain a mix of capacity providers using Auto \
             Scaling groups and Fargate providers. Specify one or the other and try again.",
        ));
    }
    Ok(())
}

/// Whether a strategy names a Fargate provider (it then runs on Fargate:
/// [`check_strategy`] refuses a mix).
pub fn strategy_is_fargate(strategy: &[CapacityProviderStrategyItem]) -> bool {
    strategy
        .iter()
        .filter_map(|i| i.capacity_provider.as_deref())
        .any(|n| Capacity::built_in(short_name(n)).is_some())
}

/// The Fargate platform versions Wharf runs (Linux); `LATEST` is 1.4.0.
pub const PLATFORM_VERSIONS: &[&str] = &["LATEST", "1.4.0", "1.3.0"];
/// What `LATEST` means.
pub const LATEST_PLATFORM_VERSION: &str = "1.4.0";

/// The platform version a Fargate task runs on: `LATEST` (1.4.0) unless
/// given. One Fargate does not know is `PlatformUnknownException`.
pub fn platform_version(given: Option<&str>) -> Result<&'static str, EcsError> {
    match given {
        None | Some("LATEST") => Ok(LATEST_PLATFORM_VERSION),
        Some(g) => PLATFORM_VERSIONS.iter().copied().find(|v| *v == g).ok_or_else(|| {
            EcsError::new(
                crate::EcsErrorKind::PlatformUnknownException,
                "The specified platform does not exist.",
            )
        }),
    }
}

/// Checks a task about to run on Fargate as Fargate does at launch: its
/// size (after overrides) one of Fargate's combinations, and a Linux
/// platform (Wharf's pool runs the Linux platform versions only).
pub fn check_fargate_task(resolved: &ResolvedTask) -> Result<(), EcsError> {
    use super::task_definition::rules;
    let (Some(cpu), Some(memory)) = (resolved.cpu, resolved.memory) else {
        return Err(EcsError::client(if resolved.cpu.is_none() {
            rules::msg::FARGATE_CPU
        } else {
            rules::msg::FARGATE_MEMORY
        }));
    };
    if !rules::fargate_size_ok(cpu, memory) {
        return Err(EcsError::client(rules::msg::fargate_size(cpu, memory)));
    }
    let os = resolved
        .definition
        .runtime_platform
        .as_ref()
        .and_then(|p| p.operating_system_family.as_ref());
    if os.is_some_and(|os| *os != OSFamily::Linux) {
        return Err(EcsError::new(
            crate::EcsErrorKind::PlatformTaskDefinitionIncompatibilityException,
            "One or more of the requested capabilities are not supported.",
        ));
    }
    Ok(())
}

/// The `ecs.cpu-architecture` value a task's `runtimePlatform` asks for,
/// if it asks.
pub fn architecture(resolved: &ResolvedTask) -> Option<&'static str> {
    match resolved.definition.runtime_platform.as_ref()?.cpu_architecture.as_ref()? {
        CPUArchitecture::X8664 => Some("x86_64"),
        CPUArchitecture::Arm64 => Some("arm64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(provider: &str, base: u32, weight: u32) -> Share {
        Share {
            provider: provider.into(),
            capacity: Capacity::built_in(provider).unwrap_or(Capacity::Group(provider.into())),
            base,
            weight,
        }
    }

    fn item(name: &str, base: Option<i32>, weight: Option<i32>) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem { capacity_provider: Some(name.into()), base, weight }
    }

    #[test]
    fn base_first_then_the_weights() {
        let shares = [share(FARGATE, 2, 1), share(FARGATE_SPOT, 0, 3)];
        assert_eq!(split(&shares, &[0, 0], 100), vec![26, 74]);
        assert_eq!(split(&shares, &[0, 0], 10), vec![4, 6]);
        // The order: the base, then three of every four to the heavier share.
        assert_eq!(distribute(&shares, &[0, 0], 6), vec![0, 0, 1, 1, 0, 1]);
        assert_eq!(split(&shares, &[0, 0], 1), vec![1, 0]);
    }

    #[test]
    fn existing_tasks_count_toward_the_shares() {
        let shares = [share(FARGATE, 0, 1), share(FARGATE_SPOT, 0, 1)];
        // A service with 3 on FARGATE and 1 on FARGATE_SPOT scales out by 2:
        // both to FARGATE_SPOT.
        assert_eq!(split(&shares, &[3, 1], 2), vec![0, 2]);
        // Every prefix stays balanced.
        assert_eq!(distribute(&shares, &[0, 0], 4), vec![0, 1, 0, 1]);
        // A base already met is not met twice.
        let based = [share(FARGATE, 2, 0), share(FARGATE_SPOT, 0, 1)];
        assert_eq!(split(&based, &[2, 0], 3), vec![0, 3]);
        assert_eq!(split(&based, &[1, 0], 3), vec![1, 2]);
    }

    #[test]
    fn weight_zero_and_lone_shares() {
        assert_eq!(split(&[share(FARGATE, 0, 0)], &[0], 3), vec![3]);
        let shares = [share(FARGATE, 1, 0), share(FARGATE_SPOT, 0, 0)];
        assert_eq!(distribute(&shares, &[0, 0], 3), vec![0], "only the base can be placed");
        assert_eq!(split(&[share(FARGATE, 0, 1), share("g", 0, 4)], &[0, 0], 5), vec![1, 4]);
    }

    #[test]
    fn strategies_are_checked_as_ecs_checks_them() {
        let assoc = vec!["FARGATE".to_owned(), "FARGATE_SPOT".to_owned(), "asg".to_owned()];
        check_strategy(
            &[item("FARGATE", Some(2), Some(1)), item("FARGATE_SPOT", None, Some(3))],
            &assoc,
        )
        .unwrap();
        let arn = "arn:aws:ecs:us-east-1:1:capacity-provider/FARGATE";
        check_strategy(&[item(arn, None, None)], &assoc).unwrap();
        let msg =
            |s: &[CapacityProviderStrategyItem]| check_strategy(s, &assoc).unwrap_err().message;
        assert!(msg(&[item("other", None, Some(1))]).contains("not associated with the cluster"));
        assert!(msg(&[item("FARGATE", Some(1), Some(1)), item("FARGATE_SPOT", Some(1), Some(1))])
            .contains("Only one capacity provider"));
        assert!(msg(&[item("FARGATE", None, None), item("FARGATE_SPOT", None, None)])
            .contains("weight greater than zero"));
        assert!(msg(&[item("FARGATE", None, Some(1)), item("asg", None, Some(1))])
            .contains("cannot contain a mix"));
        assert!(msg(&[item("FARGATE", None, Some(1001))]).contains("weight must be between"));
        assert!(msg(&[item("FARGATE", Some(100_001), None)]).contains("base must be between"));
        assert!(msg(&[item("FARGATE", None, Some(1)), item("FARGATE", None, Some(1))])
            .contains("more than once"));
    }

    #[test]
    fn names_of_groups_and_platforms() {
        assert_eq!(
            group_name(
                "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:abc:autoScalingGroupName/web"
            ),
            "web"
        );
        assert_eq!(group_name("web"), "web");
        assert_eq!(platform_version(None).unwrap(), "1.4.0");
        assert_eq!(platform_version(Some("1.3.0")).unwrap(), "1.3.0");
        let e = platform_version(Some("1.4")).unwrap_err();
        assert_eq!(e.kind, crate::EcsErrorKind::PlatformUnknownException);
    }
}
