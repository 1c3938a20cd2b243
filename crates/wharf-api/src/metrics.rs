//! API requests counted for `/metrics`: how many each operation answered, by outcome, and
//! how long they took.
//!
//! [`crate::dispatch`] records every AWS request once it is answered. An operation the
//! endpoint does not serve is counted as `unknown`: operation names come from clients, and
//! a label per name anyone sends would grow without bound. The outcome is `200` or the
//! error's wire name (`ClusterNotFoundException`), a set the code fixes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use wharf_metrics::{Encoder, Histogram, MetricType, LATENCY_SECONDS};

/// The operation label of requests for operations Wharf does not serve.
pub const UNKNOWN_OPERATION: &str = "unknown";

/// The counts of one operation.
#[derive(Debug)]
struct Operation {
    /// Requests by outcome (`200` or an error type); a handful per operation.
    outcomes: Vec<(String, u64)>,
    duration: Histogram,
}

/// Requests and their latency by service and operation. The lock is held for a map lookup
/// and a few increments, never across anything else.
#[derive(Debug, Default)]
pub struct ApiMetrics {
    /// Service (`ecs`, `elbv2`, ...) → operation → counts.
    operations: Mutex<BTreeMap<&'static str, BTreeMap<String, Operation>>>,
}

impl ApiMetrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one answered request: its service, operation (as the caller named it, or
    /// [`UNKNOWN_OPERATION`]), outcome (`200` or the error's type) and time taken.
    pub fn record(&self, service: &'static str, operation: &str, outcome: &str, took: Duration) {
        let mut services = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        let operations = services.entry(service).or_default();
        let op = match operations.get_mut(operation) {
            Some(op) => op,
            None => operations.entry(operation.to_owned()).or_insert_with(|| Operation {
                outcomes: Vec::new(),
                duration: Histogram::new(LATENCY_SECONDS),
            }),
        };
        match op.outcomes.iter_mut().find(|(o, _)| o == outcome) {
            Some((_, n)) => *n += 1,
            None => op.outcomes.push((outcome.to_owned(), 1)),
        }
        op.duration.observe(took);
    }

    /// Writes `wharf_api_requests_total` and `wharf_api_request_duration_seconds`.
    pub fn encode(&self, encoder: &mut Encoder) {
        let services = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        let mut requests = encoder.family(
            "wharf_api_requests_total",
            "AWS API requests answered, by service, operation and code (200, or the error type).",
            MetricType::Counter,
        );
        for (service, operations) in services.iter() {
            for (name, op) in operations {
                let mut outcomes: Vec<&(String, u64)> = op.outcomes.iter().collect();
                outcomes.sort();
                for (code, n) in outcomes {
                    let labels = [("service", *service), ("operation", name), ("code", code)];
                    requests.sample_u64(&labels, *n);
                }
            }
        }
        let mut durations = encoder.family(
            "wharf_api_request_duration_seconds",
            "Time from a request's arrival to its answer, by service and operation.",
            MetricType::Histogram,
        );
        for (service, operations) in services.iter() {
            for (name, op) in operations {
                let labels = [("service", *service), ("operation", name.as_str())];
                durations.histogram(&labels, &op.duration.snapshot());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_operation_and_outcome() {
        let m = ApiMetrics::new();
        let ms = Duration::from_millis;
        m.record("ecs", "RunTask", "200", ms(2));
        m.record("ecs", "RunTask", "200", ms(30));
        m.record("ecs", "RunTask", "ClusterNotFoundException", ms(1));
        m.record("elbv2", "CreateListener", "200", ms(4));
        let mut e = Encoder::new();
        m.encode(&mut e);
        let text = e.finish();
        for line in [
            "wharf_api_requests_total{service=\"ecs\",operation=\"RunTask\",code=\"200\"} 2\n",
            "wharf_api_requests_total{service=\"ecs\",operation=\"RunTask\",code=\"ClusterNotFoundException\"} 1\n",
            "wharf_api_requests_total{service=\"elbv2\",operation=\"CreateListener\",code=\"200\"} 1\n",
            "wharf_api_request_duration_seconds_bucket{service=\"ecs\",operation=\"RunTask\",le=\"0.001\"} 1\n",
            "wharf_api_request_duration_seconds_bucket{service=\"ecs\",operation=\"RunTask\",le=\"0.025\"} 2\n",
            "wharf_api_request_duration_seconds_count{service=\"ecs\",operation=\"RunTask\"} 3\n",
            "wharf_api_request_duration_seconds_sum{service=\"ecs\",operation=\"RunTask\"} 0.033\n",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 2);
    }
}
