//! What the listeners served, counted for `/metrics` as an ALB reports it to CloudWatch:
//! requests by load balancer, target group and the status sent to the client (the
//! target's, or the load balancer's own 502, 503 and 504), target response time, and
//! connections to targets that could not be made.
//!
//! Counters are resolved when the routes are compiled, one [`GroupTraffic`] per load
//! balancer and target group, so that a request only increments atomics: no lookup, no
//! lock and no allocation on the proxy's path. Status codes are counted in blocks of a
//! hundred, each allocated the first time a code of its class is seen.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::StatusCode;
use wharf_metrics::{Encoder, Histogram, MetricType, LATENCY_SECONDS};

/// One load balancer's traffic to one target group; the target group is empty for the
/// answers the load balancer writes itself (fixed responses, redirects).
#[derive(Debug)]
pub struct GroupTraffic {
    load_balancer: Arc<str>,
    target_group: Arc<str>,
    /// Requests by status code: class (1 to 9) → the hundred codes of that class.
    codes: [OnceLock<Box<[AtomicU64]>>; 9],
    connection_errors: AtomicU64,
    target_response: Histogram,
}

impl GroupTraffic {
    fn new(load_balancer: &str, target_group: &str) -> Self {
        Self {
            load_balancer: load_balancer.into(),
            target_group: target_group.into(),
            codes: Default::default(),
            connection_errors: AtomicU64::new(0),
            target_response: Histogram::new(LATENCY_SECONDS),
        }
    }

    /// Counts a response sent to the client with this status.
    pub fn answered(&self, status: StatusCode) {
        let code = usize::from(status.as_u16());
        let (class, within) = (code / 100, code % 100);
        let Some(block) = class.checked_sub(1).and_then(|i| self.codes.get(i)) else { return };
        let block = block.get_or_init(|| (0..100).map(|_| AtomicU64::new(0)).collect());
        block[within].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the time a target took to send its response's head.
    pub fn target_responded(&self, took: Duration) {
        self.target_response.observe(took);
    }

    /// Counts a connection to a target that could not be made (refused, timed out).
    pub fn connection_failed(&self) {
        self.connection_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests by status code, lowest first, codes never sent left out.
    pub fn requests(&self) -> Vec<(u16, u64)> {
        let mut out = Vec::new();
        for (class, block) in self.codes.iter().enumerate() {
            let Some(block) = block.get() else { continue };
            for (within, n) in block.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    out.push(((class as u16 + 1) * 100 + within as u16, n));
                }
            }
        }
        out
    }
}

/// (load balancer, target group) → its counters.
type ByGroup = BTreeMap<(Arc<str>, Arc<str>), Arc<GroupTraffic>>;

/// Every load balancer's traffic by target group. The lock is taken when routes are
/// compiled and when scraped, never per request.
#[derive(Debug, Default)]
pub struct Traffic {
    groups: Mutex<ByGroup>,
}

impl Traffic {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters of `load_balancer`'s traffic to `target_group` (empty for its own
    /// answers), created at first use and kept while any route uses them.
    pub fn counters(&self, load_balancer: &str, target_group: &str) -> Arc<GroupTraffic> {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let key = (Arc::<str>::from(load_balancer), Arc::<str>::from(target_group));
        groups
            .entry(key)
            .or_insert_with(|| Arc::new(GroupTraffic::new(load_balancer, target_group)))
            .clone()
    }

    /// Forgets the counters no route holds any more (their target group or load balancer
    /// is gone); they would start again from zero if it came back.
    pub fn forget_unused(&self) {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.retain(|_, g| Arc::strong_count(g) > 1);
    }

    /// Every (load balancer, target group) with the requests answered so far.
    pub fn totals(&self) -> Vec<(String, String, u64)> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups
            .values()
            .map(|g| {
                let total = g.requests().iter().map(|(_, n)| n).sum();
                (g.load_balancer.to_string(), g.target_group.to_string(), total)
            })
            .collect()
    }

    /// Writes `wharf_lb_requests_total`, `wharf_lb_request_duration_seconds` and
    /// `wharf_lb_target_connection_errors_total`.
    pub fn encode(&self, encoder: &mut Encoder) {
        let groups: Vec<Arc<GroupTraffic>> = {
            let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            groups.values().cloned().collect()
        };
        let mut requests = encoder.family(
            "wharf_lb_requests_total",
            "Requests the load balancers answered, by load balancer, target group (empty for \
             the load balancer's own fixed responses and redirects) and the status code sent \
             to the client, the load balancer's own 502, 503 and 504 included.",
            MetricType::Counter,
        );
        let mut code = String::with_capacity(3);
        for g in &groups {
            for (status, n) in g.requests() {
                code.clear();
                code.push_str(&status.to_string());
                let labels = [
                    ("load_balancer", &*g.load_balancer),
                    ("target_group", &*g.target_group),
                    ("code", code.as_str()),
                ];
                requests.sample_u64(&labels, n);
            }
        }
        let forwarding: Vec<&Arc<GroupTraffic>> =
            groups.iter().filter(|g| !g.target_group.is_empty()).collect();
        let mut durations = encoder.family(
            "wharf_lb_request_duration_seconds",
            "Target response time: from a request sent to a target until its response \
             headers arrive (ALB's TargetResponseTime), by load balancer and target group.",
            MetricType::Histogram,
        );
        for g in &forwarding {
            let labels = [("load_balancer", &*g.load_balancer), ("target_group", &*g.target_group)];
            durations.histogram(&labels, &g.target_response.snapshot());
        }
        let mut errors = encoder.family(
            "wharf_lb_target_connection_errors_total",
            "Connections to targets that could not be made (refused or timed out), by load \
             balancer and target group.",
            MetricType::Counter,
        );
        for g in &forwarding {
            let labels = [("load_balancer", &*g.load_balancer), ("target_group", &*g.target_group)];
            errors.sample_u64(&labels, g.connection_errors.load(Ordering::Relaxed));
        }
    }
}

/// How CloudWatch names a load balancer (its `LoadBalancer` dimension), from one of its
/// listeners' ARNs: `app/<name>/<id>` out of `...:listener/app/<name>/<id>/<listener id>`.
/// Anything else is kept whole.
pub fn load_balancer_dimension(listener_arn: &str) -> &str {
    let Some(at) = listener_arn.find(":listener/") else { return listener_arn };
    let path = &listener_arn[at + ":listener/".len()..];
    match path.rmatch_indices('/').next() {
        Some((end, _)) if path[..end].matches('/').count() == 2 => &path[..end],
        _ => listener_arn,
    }
}

/// How CloudWatch names a target group (its `TargetGroup` dimension):
/// `targetgroup/<name>/<id>` out of its ARN. Anything else is kept whole.
pub fn target_group_dimension(target_group_arn: &str) -> &str {
    target_group_arn
        .find(":targetgroup/")
        .map_or(target_group_arn, |at| &target_group_arn[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_are_cloudwatchs() {
        assert_eq!(
            load_balancer_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/front/50dc6c495c0c9188/f2f7dc8efc522ab2"
            ),
            "app/front/50dc6c495c0c9188"
        );
        assert_eq!(load_balancer_dimension("arn:bench-listener"), "arn:bench-listener");
        assert_eq!(
            target_group_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/943f017f100becff"
            ),
            "targetgroup/web/943f017f100becff"
        );
        assert_eq!(target_group_dimension("tg-1"), "tg-1");
    }

    #[test]
    fn requests_are_counted_by_code_and_unused_counters_forgotten() {
        let traffic = Traffic::new();
        let web = traffic.counters("app/front/1", "targetgroup/web/2");
        let own = traffic.counters("app/front/1", "");
        assert!(Arc::ptr_eq(&web, &traffic.counters("app/front/1", "targetgroup/web/2")));
        for status in [200, 200, 404, 503, 999] {
            web.answered(StatusCode::from_u16(status).unwrap());
        }
        own.answered(StatusCode::MOVED_PERMANENTLY);
        web.target_responded(Duration::from_millis(3));
        web.connection_failed();
        assert_eq!(web.requests(), vec![(200, 2), (404, 1), (503, 1), (999, 1)]);

        let mut e = Encoder::new();
        traffic.encode(&mut e);
        let text = e.finish();
        for line in [
            "wharf_lb_requests_total{load_balancer=\"app/front/1\",target_group=\"targetgroup/web/2\",code=\"200\"} 2\n",
            "wharf_lb_requests_total{load_balancer=\"app/front/1\",target_group=\"targetgroup/web/2\",code=\"503\"} 1\n",
            "wharf_lb_requests_total{load_balancer=\"app/front/1\",target_group=\"\",code=\"301\"} 1\n",
            "wharf_lb_request_duration_seconds_bucket{load_balancer=\"app/front/1\",target_group=\"targetgroup/web/2\",le=\"0.005\"} 1\n",
            "wharf_lb_request_duration_seconds_count{load_balancer=\"app/front/1\",target_group=\"targetgroup/web/2\"} 1\n",
            "wharf_lb_target_connection_errors_total{load_balancer=\"app/front/1\",target_group=\"targetgroup/web/2\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(!text.contains("wharf_lb_request_duration_seconds_count{load_balancer=\"app/front/1\",target_group=\"\"}"));

        drop(own);
        traffic.forget_unused();
        let mut e = Encoder::new();
        traffic.encode(&mut e);
        let text = e.finish();
        assert!(!text.contains("code=\"301\""), "{text}");
        assert!(text.contains("code=\"404\""), "{text}");
    }
}
