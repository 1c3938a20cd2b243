//! Target health as ELBv2 reports it, and the pure state machine that active health checks
//! drive: `(status, check outcome, thresholds) -> status`.

use std::fmt;

use crate::error::LbError;

/// `TargetHealth.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetState {
    /// Registering, or not yet through its first health checks.
    Initial,
    /// Passing health checks.
    Healthy,
    /// Failing health checks.
    Unhealthy,
    /// Deregistering; finishing in-flight requests, receiving no new ones.
    Draining,
    /// Registered with a target group no listener uses, or deregistered.
    Unused,
    /// Health checks are disabled for the target group.
    Unavailable,
}

impl TargetState {
    /// The wire name (`initial`, `healthy`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::Draining => "draining",
            TargetState::Unused => "unused",
            TargetState::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `TargetHealth.Reason`, with the description ELBv2 gives for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `Elb.RegistrationInProgress`.
    RegistrationInProgress,
    /// `Elb.InitialHealthChecking`.
    InitialHealthChecking,
    /// `Target.ResponseCodeMismatch`, with the code the target answered.
    ResponseCodeMismatch(u16),
    /// `Target.Timeout`.
    Timeout,
    /// `Target.FailedHealthChecks`: connection error or malformed answer.
    FailedHealthChecks,
    /// `Target.DeregistrationInProgress`.
    DeregistrationInProgress,
    /// `Target.NotInUse`: no listener forwards to the target group.
    NotInUse,
    /// `Target.NotRegistered`: deregistration finished.
    NotRegistered,
    /// `Target.HealthCheckDisabled`.
    HealthCheckDisabled,
}

impl Reason {
    /// The reason code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::RegistrationInProgress => "Elb.RegistrationInProgress",
            Reason::InitialHealthChecking => "Elb.InitialHealthChecking",
            Reason::ResponseCodeMismatch(_) => "Target.ResponseCodeMismatch",
            Reason::Timeout => "Target.Timeout",
            Reason::FailedHealthChecks => "Target.FailedHealthChecks",
            Reason::DeregistrationInProgress => "Target.DeregistrationInProgress",
            Reason::NotInUse => "Target.NotInUse",
            Reason::NotRegistered => "Target.NotRegistered",
            Reason::HealthCheckDisabled => "Target.HealthCheckDisabled",
        }
    }

    /// The description, worded as DescribeTargetHealth words it.
    pub fn description(self) -> String {
        match self {
            Reason::RegistrationInProgress => "Target registration is in progress".to_owned(),
            Reason::InitialHealthChecking => "Initial health checks in progress".to_owned(),
            Reason::ResponseCodeMismatch(code) => {
                format!("Health checks failed with these codes: [{code}]")
            }
            Reason::Timeout => "Request timed out".to_owned(),
            Reason::FailedHealthChecks => "Health checks failed".to_owned(),
            Reason::DeregistrationInProgress => "Target deregistration is in progress".to_owned(),
            Reason::NotInUse => {
                "Target group is not configured to receive traffic from the load balancer"
                    .to_owned()
            }
            Reason::NotRegistered => "Target is not registered to the target group".to_owned(),
            Reason::HealthCheckDisabled => "Health checks are disabled".to_owned(),
        }
    }
}

/// What one health check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The answer's code is in the matcher.
    Pass,
    /// The target answered with a code outside the matcher.
    CodeMismatch(u16),
    /// No answer within the health check timeout.
    Timeout,
    /// Connection refused or reset, or not an HTTP answer.
    Failed,
}

/// A target's health as the checks have established it so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthStatus {
    /// Initial, healthy or unhealthy.
    pub state: TargetState,
    /// Why, when not healthy.
    pub reason: Option<Reason>,
    /// Consecutive passes (reset by a failure).
    pub passes: u32,
    /// Consecutive failures (reset by a pass).
    pub failures: u32,
}

impl HealthStatus {
    /// A newly registered target, before any check.
    pub const REGISTERING: HealthStatus = HealthStatus {
        state: TargetState::Initial,
        reason: Some(Reason::RegistrationInProgress),
        passes: 0,
        failures: 0,
    };

    /// The status after one more check. A new target is healthy after one pass, unhealthy
    /// after `unhealthy_threshold` consecutive failures; a healthy target turns unhealthy after
    /// `unhealthy_threshold` consecutive failures, an unhealthy one healthy after
    /// `healthy_threshold` consecutive passes.
    pub fn observe(
        self,
        outcome: CheckOutcome,
        healthy_threshold: u32,
        unhealthy_threshold: u32,
    ) -> Self {
        let failure_reason = match outcome {
            CheckOutcome::Pass => None,
            CheckOutcome::CodeMismatch(code) => Some(Reason::ResponseCodeMismatch(code)),
            CheckOutcome::Timeout => Some(Reason::Timeout),
            CheckOutcome::Failed => Some(Reason::FailedHealthChecks),
        };
        let (passes, failures) = match failure_reason {
            None => (self.passes.saturating_add(1), 0),
            Some(_) => (0, self.failures.saturating_add(1)),
        };
        let healthy = HealthStatus { state: TargetState::Healthy, reason: None, passes, failures };
        let unhealthy = |reason| HealthStatus {
            state: TargetState::Unhealthy,
            reason: Some(reason),
            passes,
            failures,
        };
        match (self.state, failure_reason) {
            (TargetState::Unhealthy, None) if passes >= healthy_threshold.max(1) => healthy,
            (TargetState::Unhealthy, None) => HealthStatus { passes, failures, ..self },
            (TargetState::Unhealthy, Some(reason)) => unhealthy(reason),
            (_, None) => healthy,
            (_, Some(reason)) if failures >= unhealthy_threshold.max(1) => unhealthy(reason),
            (TargetState::Healthy, Some(_)) => HealthStatus { passes, failures, ..self },
            (_, Some(_)) => HealthStatus {
                state: TargetState::Initial,
                reason: Some(Reason::InitialHealthChecking),
                passes,
                failures,
            },
        }
    }
}

/// A health check matcher: the HTTP codes that count as a pass (`200`, `200,202`, `200-299`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeMatcher(Vec<(u16, u16)>);

impl Default for CodeMatcher {
    /// ELBv2's default matcher, `200`.
    fn default() -> Self {
        Self(vec![(200, 200)])
    }
}

impl CodeMatcher {
    /// Parses ELBv2's `Matcher.HttpCode`.
    pub fn parse(text: &str) -> Result<Self, LbError> {
        let bad = || LbError::InvalidConfig(format!("invalid health check matcher {text:?}"));
        let code = |s: &str| s.trim().parse::<u16>().map_err(|_| bad());
        let ranges = text
            .split(',')
            .map(|part| match part.split_once('-') {
                Some((lo, hi)) => Ok((code(lo)?, code(hi)?)),
                None => code(part).map(|c| (c, c)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ranges.iter().any(|(lo, hi)| lo > hi) {
            return Err(bad());
        }
        Ok(Self(ranges))
    }

    /// Whether `code` counts as a pass.
    pub fn matches(&self, code: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckOutcome::*;

    fn run(outcomes: &[CheckOutcome]) -> HealthStatus {
        outcomes.iter().fold(HealthStatus::REGISTERING, |s, &o| s.observe(o, 3, 2))
    }

    #[test]
    fn a_new_target_is_healthy_after_one_pass() {
        assert_eq!(run(&[Pass]).state, TargetState::Healthy);
        assert_eq!(run(&[Pass]).reason, None);
    }

    #[test]
    fn a_new_target_stays_initial_below_the_unhealthy_threshold() {
        let s = run(&[Timeout]);
        assert_eq!(
            (s.state, s.reason),
            (TargetState::Initial, Some(Reason::InitialHealthChecking))
        );
        let s = run(&[Timeout, Failed]);
        assert_eq!((s.state, s.reason), (TargetState::Unhealthy, Some(Reason::FailedHealthChecks)));
    }

    #[test]
    fn healthy_turns_unhealthy_only_after_consecutive_failures() {
        let s = run(&[Pass, CodeMismatch(500)]);
        assert_eq!(s.state, TargetState::Healthy);
        let s = run(&[Pass, CodeMismatch(500), Pass, CodeMismatch(500)]);
        assert_eq!(s.state, TargetState::Healthy, "failures were not consecutive");
        let s = run(&[Pass, Timeout, CodeMismatch(503)]);
        assert_eq!(s.state, TargetState::Unhealthy);
        assert_eq!(s.reason, Some(Reason::ResponseCodeMismatch(503)), "the last failure names it");
    }

    #[test]
    fn unhealthy_recovers_after_healthy_threshold_passes() {
        let down = [Pass, Timeout, Timeout];
        let s = run(&[&down[..], &[Pass, Pass]].concat());
        assert_eq!((s.state, s.reason), (TargetState::Unhealthy, Some(Reason::Timeout)));
        let s = run(&[&down[..], &[Pass, Pass, Pass]].concat());
        assert_eq!((s.state, s.reason), (TargetState::Healthy, None));
        let s = run(&[&down[..], &[Pass, Pass, Failed, Pass, Pass]].concat());
        assert_eq!(s.state, TargetState::Unhealthy, "a failure restarts the count");
    }

    #[test]
    fn reasons_and_descriptions_are_elbv2s() {
        assert_eq!(Reason::ResponseCodeMismatch(404).code(), "Target.ResponseCodeMismatch");
        assert_eq!(
            Reason::ResponseCodeMismatch(404).description(),
            "Health checks failed with these codes: [404]"
        );
        assert_eq!(Reason::Timeout.description(), "Request timed out");
        assert_eq!(Reason::InitialHealthChecking.code(), "Elb.InitialHealthChecking");
        assert_eq!(
            Reason::DeregistrationInProgress.description(),
            "Target deregistration is in progress"
        );
        assert_eq!(TargetState::Unavailable.as_str(), "unavailable");
    }

    #[test]
    fn matcher_lists_and_ranges() {
        let m = CodeMatcher::parse("200,202,300-399").expect("valid");
        assert!(m.matches(200) && m.matches(202) && m.matches(301));
        assert!(!m.matches(201) && !m.matches(404));
        assert!(CodeMatcher::parse("abc").is_err());
        assert!(CodeMatcher::parse("299-200").is_err());
        assert!(CodeMatcher::parse("").is_err());
    }
}
