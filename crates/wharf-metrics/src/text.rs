//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
//! metric family, then its samples, one per line, label values escaped.
//!
//! ```text
//! # HELP wharf_api_requests_total API requests answered.
//! # TYPE wharf_api_requests_total counter
//! wharf_api_requests_total{service="ecs",operation="RunTask",code="200"} 3
//! ```

use std::fmt::Write as _;

use crate::histogram::HistogramSnapshot;

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type, as `# TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Only goes up (resets when the process restarts); named `*_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in cumulative buckets, with their sum and count.
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// Writes an exposition: one [`Family`] after another.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
}

impl Encoder {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a metric family: writes its `# HELP` and `# TYPE` lines. Its samples follow,
    /// written through the returned [`Family`]; every sample of a family must be written
    /// before the next family starts. `name` must be a valid metric name
    /// (`[a-zA-Z_:][a-zA-Z0-9_:]*`); it is the code's, never the user's.
    pub fn family(&mut self, name: &'static str, help: &str, kind: MetricType) -> Family<'_> {
        debug_assert!(valid_name(name), "{name:?} is not a metric name");
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_into(&mut self.out, help, false);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
        Family { out: &mut self.out, name }
    }

    /// The exposition's text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// One metric family being written.
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl Family<'_> {
    /// One sample with these labels (names are the code's; values are escaped).
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.line("", labels, None, |out| write_float(out, value));
    }

    /// One sample of an integer value, written exactly (a float would round above 2^53).
    pub fn sample_u64(&mut self, labels: &[(&str, &str)], value: u64) {
        self.line("", labels, None, |out| {
            let _ = write!(out, "{value}");
        });
    }

    /// A histogram's samples: `_bucket` per bound and `+Inf` (cumulative), `_sum`, `_count`.
    pub fn histogram(&mut self, labels: &[(&str, &str)], snapshot: &HistogramSnapshot) {
        let mut le = String::with_capacity(8);
        for (i, count) in snapshot.cumulative.iter().enumerate() {
            le.clear();
            match snapshot.bounds.get(i) {
                Some(bound) => write_float(&mut le, *bound),
                None => le.push_str("+Inf"),
            }
            self.line("_bucket", labels, Some(&le), |out| {
                let _ = write!(out, "{count}");
            });
        }
        self.line("_sum", labels, None, |out| write_float(out, snapshot.sum_seconds));
        let count = snapshot.count();
        self.line("_count", labels, None, |out| {
            let _ = write!(out, "{count}");
        });
    }

    fn line(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        value: impl FnOnce(&mut String),
    ) {
        let out = &mut *self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        if !labels.is_empty() || le.is_some() {
            out.push('{');
            let extra = le.map(|le| ("le", le));
            for (i, (name, v)) in labels.iter().copied().chain(extra).enumerate() {
                debug_assert!(valid_label_name(name), "{name:?} is not a label name");
                if i > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                escape_into(out, v, true);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        value(out);
        out.push('\n');
    }
}

/// Escapes `\` and newlines (and in label values `"`), as the format requires.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A float as the format writes it: `+Inf`, `-Inf`, `NaN`, else Rust's shortest
/// round-trip decimal (never an exponent).
fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Histogram;
    use std::time::Duration;

    #[test]
    fn families_have_help_and_type_then_their_samples() {
        let mut e = Encoder::new();
        let mut f = e.family("wharf_things_total", "Things done.", MetricType::Counter);
        f.sample_u64(&[("kind", "a")], 3);
        f.sample_u64(&[("kind", "b"), ("code", "200")], 18_446_744_073_709_551_615);
        let mut g = e.family("wharf_level", "How full.", MetricType::Gauge);
        g.sample(&[], 0.25);
        g.sample(&[("x", "y")], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP wharf_things_total Things done.\n\
             # TYPE wharf_things_total counter\n\
             wharf_things_total{kind=\"a\"} 3\n\
             wharf_things_total{kind=\"b\",code=\"200\"} 18446744073709551615\n\
             # HELP wharf_level How full.\n\
             # TYPE wharf_level gauge\n\
             wharf_level 0.25\n\
             wharf_level{x=\"y\"} +Inf\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = Encoder::new();
        let mut f = e.family("m", "a \\ b\nc \"q\"", MetricType::Gauge);
        f.sample(&[("v", "back\\slash \"quoted\"\nnext")], f64::NAN);
        assert_eq!(
            e.finish(),
            "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\n\
             m{v=\"back\\\\slash \\\"quoted\\\"\\nnext\"} NaN\n"
        );
    }

    #[test]
    fn histograms_write_cumulative_buckets_sum_and_count() {
        static BOUNDS: &[f64] = &[0.005, 0.5];
        let h = Histogram::new(BOUNDS);
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(100));
        h.observe(Duration::from_millis(100));
        h.observe(Duration::from_secs(2));
        let mut e = Encoder::new();
        e.family("lat_seconds", "Latency.", MetricType::Histogram)
            .histogram(&[("op", "Get")], &h.snapshot());
        assert_eq!(
            e.finish(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{op=\"Get\",le=\"0.005\"} 1\n\
             lat_seconds_bucket{op=\"Get\",le=\"0.5\"} 3\n\
             lat_seconds_bucket{op=\"Get\",le=\"+Inf\"} 4\n\
             lat_seconds_sum{op=\"Get\"} 2.201\n\
             lat_seconds_count{op=\"Get\"} 4\n"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("wharf_api:rate_5m"));
        assert!(!valid_name("9lives"));
        assert!(!valid_name(""));
        assert!(valid_label_name("_x1"));
        assert!(!valid_label_name("a:b"));
    }
}
