//! ECS's own blue/green, linear and canary deployments (the `BLUE_GREEN`,
//! `LINEAR` and `CANARY` values of `deploymentConfiguration.strategy`): the
//! rules the scheduler's step follows and the API checks.
//!
//! A deployment of such a service starts its tasks (green) beside the ones
//! serving production (blue) and registers them in the other target group of
//! each load balancer's pair (`targetGroupArn` and
//! `advancedConfiguration.alternateTargetGroupArn`). The test listener rule
//! serves green first; the production listener rule's forward weights then
//! move to green (all at once, in equal steps, or a canary step and the
//! rest), the bake time passes, and blue is scaled down. The next deployment
//! goes the other way round. Where the deployment stands is a [`Shift`],
//! kept in the deployment's notes; the ECS names of its stages are
//! [`ServiceDeploymentLifecycleStage`]s.

use serde::{Deserialize, Serialize};

use crate::ecs::shapes::{
    CanaryConfiguration, DeploymentConfiguration, DeploymentStrategy, LinearConfiguration,
    LoadBalancer, ServiceDeploymentLifecycleStage as Stage,
};

/// ALB forward weights are 0 to 999; traffic is kept in tenths of a percent.
pub const WHOLE: u32 = 1000;
/// `linearConfiguration.stepPercent` when not given.
pub const DEFAULT_STEP_PERCENT: f64 = 10.0;
/// `linearConfiguration.stepBakeTimeInMinutes` when not given.
pub const DEFAULT_STEP_BAKE_MINUTES: i32 = 6;
/// `canaryConfiguration.canaryPercent` when not given.
pub const DEFAULT_CANARY_PERCENT: f64 = 5.0;
/// `canaryConfiguration.canaryBakeTimeInMinutes` when not given.
pub const DEFAULT_CANARY_BAKE_MINUTES: i32 = 10;

/// Where one blue/green, linear or canary deployment stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shift {
    /// The lifecycle stage, as ServiceDeployment's `lifecycleStage` names it.
    pub stage: Stage,
    /// When the stage began (ms).
    pub stage_ms: i64,
    /// The share of production traffic on green, in tenths of a percent.
    #[serde(default)]
    pub green: u32,
    /// When the last production traffic step was taken (ms).
    #[serde(default)]
    pub step_ms: i64,
    /// The deployment whose tasks serve production traffic while this one
    /// comes up (none for a service's first deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue: Option<String>,
}

impl Shift {
    /// A deployment about to scale up green, blue being `blue`.
    pub fn new(blue: Option<String>, now_ms: i64) -> Self {
        Shift { stage: Stage::PreScaleUp, stage_ms: now_ms, green: 0, step_ms: now_ms, blue }
    }

    /// Whether production traffic has moved and blue is being scaled down.
    pub fn cleaning_up(&self) -> bool {
        self.stage == Stage::CleanUp
    }

    /// Whether the test listener rule serves green.
    pub fn test_on_green(&self) -> bool {
        !matches!(
            self.stage,
            Stage::ReconcileService | Stage::PreScaleUp | Stage::ScaleUp | Stage::PostScaleUp
        )
    }
}

/// Whether the configuration asks for one of the traffic-shifting
/// strategies (anything but `ROLLING`).
pub fn shifts(config: Option<&DeploymentConfiguration>) -> bool {
    matches!(
        config.and_then(|c| c.strategy.as_ref()),
        Some(
            DeploymentStrategy::BlueGreen | DeploymentStrategy::Linear | DeploymentStrategy::Canary
        )
    )
}

/// Tenths of a percent, from a percentage given as a double.
fn tenths(p: f64) -> u32 {
    (p * 10.0).round().clamp(0.0, f64::from(WHOLE)) as u32
}

/// The production share on green after `current` (tenths of a percent):
/// everything for BLUE_GREEN; the next equal step for LINEAR; the canary
/// share, then everything, for CANARY.
pub fn next_share(config: Option<&DeploymentConfiguration>, current: u32) -> u32 {
    let strategy = config.and_then(|c| c.strategy.clone());
    let next = match strategy {
        Some(DeploymentStrategy::Linear) => {
            let step = config
                .and_then(|c| c.linear_configuration.as_ref())
                .and_then(|l| l.step_percent)
                .unwrap_or(DEFAULT_STEP_PERCENT);
            current + tenths(step).max(1)
        }
        Some(DeploymentStrategy::Canary) if current == 0 => {
            let canary = config
                .and_then(|c| c.canary_configuration.as_ref())
                .and_then(|c| c.canary_percent)
                .unwrap_or(DEFAULT_CANARY_PERCENT);
            tenths(canary).max(1)
        }
        _ => WHOLE,
    };
    next.min(WHOLE)
}

/// How long production traffic stays at a share below 100% before the
/// next step (ms): `stepBakeTimeInMinutes` or `canaryBakeTimeInMinutes`.
pub fn step_wait_ms(config: Option<&DeploymentConfiguration>) -> i64 {
    let minutes = match config.and_then(|c| c.strategy.clone()) {
        Some(DeploymentStrategy::Linear) => config
            .and_then(|c| c.linear_configuration.as_ref())
            .and_then(|l| l.step_bake_time_in_minutes)
            .unwrap_or(DEFAULT_STEP_BAKE_MINUTES),
        Some(DeploymentStrategy::Canary) => config
            .and_then(|c| c.canary_configuration.as_ref())
            .and_then(|c| c.canary_bake_time_in_minutes)
            .unwrap_or(DEFAULT_CANARY_BAKE_MINUTES),
        _ => 0,
    };
    i64::from(minutes.max(0)) * 60_000
}

/// How long blue and green both run once production traffic is all on
/// green (`bakeTimeInMinutes`, ms).
pub fn bake_ms(config: Option<&DeploymentConfiguration>) -> i64 {
    i64::from(config.and_then(|c| c.bake_time_in_minutes).unwrap_or(0).max(0)) * 60_000
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The forward weights (blue, green) that send `green` tenths of a percent
/// of requests to green: reduced, so each is at most 999 as ALB allows.
pub fn weights(green: u32) -> (u32, u32) {
    let green = green.min(WHOLE);
    let blue = WHOLE - green;
    let d = gcd(blue, green).max(1);
    (blue / d, green / d)
}

/// Weighted target groups in a comparable form: weights reduced by their
/// common divisor, in target group order.
pub fn normalized(groups: &[(String, u32)]) -> Vec<(String, u32)> {
    let d = groups.iter().fold(0, |d, (_, w)| gcd(d, *w)).max(1);
    let mut v: Vec<(String, u32)> = groups.iter().map(|(g, w)| (g.clone(), w / d)).collect();
    v.sort();
    v
}

/// The other target group of a load balancer's blue/green pair, if it has
/// one.
pub fn other_group(lb: &LoadBalancer, group: &str) -> Option<String> {
    let alternate = lb.advanced_configuration.as_ref()?.alternate_target_group_arn.clone()?;
    let main = lb.target_group_arn.clone()?;
    if group == main {
        Some(alternate)
    } else if group == alternate {
        Some(main)
    } else {
        None
    }
}

/// The load balancers a new deployment's tasks register with: for each of
/// the service's, the group of its pair that blue (registered as
/// `blue_lbs`) does not use; `targetGroupArn` when there is no blue.
pub fn green_load_balancers(
    service_lbs: &[LoadBalancer],
    blue_lbs: Option<&[LoadBalancer]>,
) -> Vec<LoadBalancer> {
    service_lbs
        .iter()
        .enumerate()
        .map(|(i, lb)| {
            let mut green = lb.clone();
            let blue_group = blue_lbs
                .and_then(|b| {
                    b.get(i).filter(|b| same_container(b, lb)).or_else(|| {
                        b.iter()
                            .find(|b| same_container(b, lb) && other_group(lb, group(b)).is_some())
                    })
                })
                .and_then(|b| b.target_group_arn.clone());
            if let Some(blue_group) = blue_group {
                if let Some(other) = other_group(lb, &blue_group) {
                    green.target_group_arn = Some(other);
                }
            }
            green
        })
        .collect()
}

fn group(lb: &LoadBalancer) -> &str {
    lb.target_group_arn.as_deref().unwrap_or_default()
}

fn same_container(a: &LoadBalancer, b: &LoadBalancer) -> bool {
    a.container_name == b.container_name && a.container_port == b.container_port
}

/// The defaults ECS fills in for the strategy's own configuration.
pub fn fill_defaults(c: &mut DeploymentConfiguration) {
    match c.strategy {
        Some(DeploymentStrategy::Linear) => {
            let l = c.linear_configuration.get_or_insert_with(LinearConfiguration::default);
            l.step_percent.get_or_insert(DEFAULT_STEP_PERCENT);
            l.step_bake_time_in_minutes.get_or_insert(DEFAULT_STEP_BAKE_MINUTES);
        }
        Some(DeploymentStrategy::Canary) => {
            let k = c.canary_configuration.get_or_insert_with(CanaryConfiguration::default);
            k.canary_percent.get_or_insert(DEFAULT_CANARY_PERCENT);
            k.canary_bake_time_in_minutes.get_or_insert(DEFAULT_CANARY_BAKE_MINUTES);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::shapes::AdvancedConfiguration;

    fn config(strategy: DeploymentStrategy) -> DeploymentConfiguration {
        let mut c = DeploymentConfiguration { strategy: Some(strategy), ..Default::default() };
        fill_defaults(&mut c);
        c
    }

    #[test]
    fn blue_green_moves_everything_at_once() {
        let c = config(DeploymentStrategy::BlueGreen);
        assert_eq!(next_share(Some(&c), 0), WHOLE);
        assert_eq!(step_wait_ms(Some(&c)), 0);
    }

    #[test]
    fn linear_moves_in_equal_steps_and_caps_at_everything() {
        let mut c = config(DeploymentStrategy::Linear);
        let mut shares = vec![];
        let mut s = 0;
        while s < WHOLE {
            s = next_share(Some(&c), s);
            shares.push(s);
        }
        assert_eq!(shares, (1..=10).map(|i| i * 100).collect::<Vec<_>>());
        assert_eq!(step_wait_ms(Some(&c)), 6 * 60_000);
        c.linear_configuration = Some(LinearConfiguration {
            step_percent: Some(33.3),
            step_bake_time_in_minutes: Some(0),
        });
        assert_eq!(next_share(Some(&c), 0), 333);
        assert_eq!(next_share(Some(&c), 999), WHOLE);
    }

    #[test]
    fn canary_moves_its_share_then_the_rest() {
        let c = config(DeploymentStrategy::Canary);
        assert_eq!(next_share(Some(&c), 0), 50);
        assert_eq!(next_share(Some(&c), 50), WHOLE);
        assert_eq!(step_wait_ms(Some(&c)), 10 * 60_000);
    }

    #[test]
    fn weights_fit_alb_and_give_the_share() {
        assert_eq!(weights(0), (1, 0));
        assert_eq!(weights(WHOLE), (0, 1));
        assert_eq!(weights(100), (9, 1));
        assert_eq!(weights(50), (19, 1));
        assert_eq!(weights(1), (999, 1));
        for g in 0..=WHOLE {
            let (b, gr) = weights(g);
            assert!(b <= 999 && gr <= 999, "{g}: {b} {gr}");
            assert_eq!(u64::from(gr) * u64::from(WHOLE), u64::from(g) * u64::from(b + gr));
        }
    }

    #[test]
    fn green_takes_the_group_blue_does_not_use() {
        let lb = LoadBalancer {
            target_group_arn: Some("tg-a".into()),
            container_name: Some("web".into()),
            container_port: Some(80),
            advanced_configuration: Some(AdvancedConfiguration {
                alternate_target_group_arn: Some("tg-b".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let first = green_load_balancers(std::slice::from_ref(&lb), None);
        assert_eq!(first[0].target_group_arn.as_deref(), Some("tg-a"));
        let second = green_load_balancers(std::slice::from_ref(&lb), Some(&first));
        assert_eq!(second[0].target_group_arn.as_deref(), Some("tg-b"));
        let third = green_load_balancers(std::slice::from_ref(&lb), Some(&second));
        assert_eq!(third[0].target_group_arn.as_deref(), Some("tg-a"));
    }

    #[test]
    fn normalized_weights_compare_equal_across_scales() {
        let a = normalized(&[("b".into(), 100), ("a".into(), 0)]);
        let b = normalized(&[("a".into(), 0), ("b".into(), 1)]);
        assert_eq!(a, b);
        assert_ne!(a, normalized(&[("a".into(), 1), ("b".into(), 1)]));
    }
}
