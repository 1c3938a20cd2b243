//! The thin loops around each target: active health checks feeding the pure state machine,
//! and the deregistration delay timer. One task per target, aborted when its mode changes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HOST, USER_AGENT};
use http::{HeaderValue, Request};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use wharf_model::clock::Clock;

use crate::config::HealthCheck;
use crate::drain::{drain_status, DrainStatus};
use crate::health::{CheckOutcome, CodeMatcher, HealthStatus, Reason, TargetState};
use crate::report::HealthSink;
use crate::target::{LiveGroup, LiveTarget};

/// A target group's health check settings, made ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    /// The settings as configured (path starting with `/`, timeout at most the interval).
    pub config: HealthCheck,
    /// The parsed `matcher`.
    pub matcher: CodeMatcher,
}

/// What a target's task does, decided by `apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Check its health and route to it accordingly.
    Check(CheckSettings),
    /// Health checks disabled: `unavailable`, routed to.
    Unchecked,
    /// No listener forwards to its group: `unused`.
    NotInUse,
    /// Deregistering since this time (ms since the epoch), for this delay.
    Drain {
        /// When DeregisterTargets was called.
        since: i64,
        /// The group's deregistration delay.
        delay: Duration,
    },
}

/// Everything a target's task needs.
#[derive(Debug, Clone)]
pub struct TargetTask {
    /// The target's group.
    pub group: Arc<LiveGroup>,
    /// The target.
    pub target: Arc<LiveTarget>,
    /// Where reports go.
    pub sink: Arc<dyn HealthSink>,
    /// Wall-clock time, for the deregistration delay.
    pub clock: Arc<dyn Clock>,
}

impl TargetTask {
    fn set(&self, state: TargetState, reason: Option<Reason>) {
        let before = self.target.state();
        let report = self.target.set_health(state, reason);
        // Routing follows the new state before anyone hears of it.
        if before != state {
            self.group.refresh();
        }
        if let Some(report) = report {
            self.sink.report(report);
        }
    }

    /// Runs the target's task in `mode` until aborted (or, when draining, until done).
    pub async fn run(self, mode: Mode) {
        match mode {
            Mode::Unchecked => {
                self.set(TargetState::Unavailable, Some(Reason::HealthCheckDisabled))
            }
            Mode::NotInUse => self.set(TargetState::Unused, Some(Reason::NotInUse)),
            Mode::Drain { since, delay } => self.drain(since, delay).await,
            Mode::Check(settings) => self.check(settings).await,
        }
    }

    async fn drain(&self, since: i64, delay: Duration) {
        loop {
            match drain_status(since, delay, self.clock.now_millis()) {
                DrainStatus::Draining { remaining } => {
                    self.set(TargetState::Draining, Some(Reason::DeregistrationInProgress));
                    tokio::time::sleep(remaining).await;
                }
                DrainStatus::Done => {
                    self.set(TargetState::Unused, Some(Reason::NotRegistered));
                    return;
                }
            }
        }
    }

    async fn check(&self, settings: CheckSettings) {
        let (hc, matcher) = (&settings.config, &settings.matcher);
        // A restarted task (new settings) keeps the state reached so far.
        let mut status = match self.target.state() {
            TargetState::Healthy => {
                HealthStatus { state: TargetState::Healthy, reason: None, passes: 0, failures: 0 }
            }
            TargetState::Unhealthy => HealthStatus {
                state: TargetState::Unhealthy,
                reason: Some(Reason::FailedHealthChecks),
                passes: 0,
                failures: 0,
            },
            _ => HealthStatus::REGISTERING,
        };
        if status == HealthStatus::REGISTERING {
            self.set(status.state, status.reason);
        }
        let addr = SocketAddr::new(self.target.addr.ip(), hc.port.unwrap_or(self.target.port));
        let host = HeaderValue::from_str(&addr.to_string()).ok();
        let mut next = Instant::now();
        loop {
            let outcome = probe(addr, &hc.path, host.as_ref(), hc.timeout, matcher).await;
            status = status.observe(outcome, hc.healthy_threshold, hc.unhealthy_threshold);
            self.set(status.state, status.reason);
            // The interval runs from check to check, however long the answer took.
            next += hc.interval;
            tokio::time::sleep_until(next.max(Instant::now())).await;
        }
    }
}

/// One health check: `GET path` on a fresh connection, closed afterwards, as an ALB does.
pub async fn probe(
    addr: SocketAddr,
    path: &str,
    host: Option<&HeaderValue>,
    timeout: Duration,
    matcher: &CodeMatcher,
) -> CheckOutcome {
    let attempt = async {
        let stream = TcpStream::connect(addr).await.ok()?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .ok()?;
        let mut request = Request::get(path).body(Empty::new()).ok()?;
        if let Some(host) = host {
            request.headers_mut().insert(HOST, host.clone());
        }
        request.headers_mut().insert(USER_AGENT, HeaderValue::from_static("ELB-HealthChecker/2.0"));
        // A target that closes the connection right after its answer (busybox httpd,
        // `Connection: close`) ends `conn` in the same poll that delivers the response:
        // once the connection is over, the response is still read, not taken for a failure.
        let response = sender.send_request(request);
        tokio::pin!(response, conn);
        let response = tokio::select! {
            biased;
            response = &mut response => response.ok()?,
            _ = &mut conn => response.await.ok()?,
        };
        Some(response.status().as_u16())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => CheckOutcome::Timeout,
        Ok(None) => CheckOutcome::Failed,
        Ok(Some(code)) if matcher.matches(code) => CheckOutcome::Pass,
        Ok(Some(code)) => CheckOutcome::CodeMismatch(code),
    }
}
