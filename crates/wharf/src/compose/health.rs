//! `healthcheck` → ECS `healthCheck`. The test keeps its form (`CMD`,
//! `CMD-SHELL`; a string is `CMD-SHELL`); `NONE` or `disable: true` mean no
//! health check. Compose's defaults (30 s interval, 30 s timeout, 3 retries)
//! are written out, because ECS's own differ (5 s timeout). Values outside
//! ECS's ranges are clamped into them, with a warning: RegisterTaskDefinition
//! would refuse them.

use wharf_model::ecs::shapes::HealthCheck;
use wharf_model::ecs::task_definition::rules;

use super::duration::parse_seconds;
use super::spec::{Healthcheck, Scalar, StringOrList};
use super::ComposeError;

/// Compose's defaults: interval, timeout (seconds), retries.
const COMPOSE_DEFAULTS: (i64, i64, i64) = (30, 30, 3);

/// Whether `h` gives a test ECS can run.
pub fn has_test(h: Option<&Healthcheck>) -> bool {
    h.is_some_and(|h| {
        h.disable != Some(true)
            && test_words(h).is_some_and(|w| w.first().is_some_and(|f| f != "NONE"))
    })
}

fn test_words(h: &Healthcheck) -> Option<Vec<String>> {
    match h.test.as_ref()? {
        StringOrList::String(s) => Some(vec!["CMD-SHELL".to_owned(), s.clone()]),
        StringOrList::List(items) => Some(items.iter().map(Scalar::text).collect()),
    }
}

/// The ECS health check of the service at `at` (`services.web`), if any.
pub fn health_check(
    h: &Healthcheck,
    at: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<HealthCheck>, ComposeError> {
    let at = format!("{at}.healthcheck");
    for key in h.other.keys() {
        warnings
            .push(format!("{at}.{key}: not carried over (ECS has no such health check setting)"));
    }
    if !has_test(Some(h)) {
        if h.test.is_some() {
            if let Some(words) = test_words(h) {
                if words.is_empty() {
                    return Err(ComposeError::invalid(format!("{at}.test"), "an empty test"));
                }
            }
        }
        return Ok(None);
    }
    let words = test_words(h).unwrap_or_default();
    let command = match words[0].as_str() {
        "CMD" if words.len() > 1 => words,
        "CMD-SHELL" if words.len() > 1 => vec!["CMD-SHELL".to_owned(), words[1..].join(" ")],
        "CMD" | "CMD-SHELL" => {
            return Err(ComposeError::invalid(
                format!("{at}.test"),
                format!("{} without a command", words[0]),
            ))
        }
        first => {
            return Err(ComposeError::invalid(
                format!("{at}.test"),
                format!("a test list starts with CMD, CMD-SHELL or NONE, not \"{first}\""),
            ))
        }
    };
    let seconds = |field: &str,
                   value: Option<&Scalar>,
                   default: Option<i64>|
     -> Result<Option<i64>, ComposeError> {
        match value {
            None => Ok(default),
            Some(v) => parse_seconds(&v.text())
                .map(|s| Some(i64::try_from(s).unwrap_or(i64::MAX)))
                .map_err(|e| ComposeError::invalid(format!("{at}.{field}"), e)),
        }
    };
    let interval = seconds("interval", h.interval.as_ref(), Some(COMPOSE_DEFAULTS.0))?;
    let timeout = seconds("timeout", h.timeout.as_ref(), Some(COMPOSE_DEFAULTS.1))?;
    let start_period = seconds("start_period", h.start_period.as_ref(), None)?;
    let retries = match &h.retries {
        None => Some(COMPOSE_DEFAULTS.2),
        Some(v) => Some(v.text().trim().parse::<i64>().map_err(|_| {
            ComposeError::invalid(
                format!("{at}.retries"),
                format!("\"{}\" is not a whole number", v.text()),
            )
        })?),
    };
    let mut clamp = |field: &str,
                     ecs: &str,
                     value: Option<i64>,
                     (lo, hi): (i32, i32),
                     unit: &str| {
        value.map(|v| {
            let clamped = v.clamp(i64::from(lo), i64::from(hi));
            if clamped != v {
                warnings.push(format!(
                    "{at}.{field}: {v}{unit} is outside ECS's {lo}–{hi} for healthCheck.{ecs}; {clamped}{unit} is used"
                ));
            }
            // In range of i32 after the clamp.
            i32::try_from(clamped).unwrap_or(hi)
        })
    };
    Ok(Some(HealthCheck {
        command: Some(command),
        interval: clamp("interval", "interval", interval, rules::HEALTH_INTERVAL, " s"),
        timeout: clamp("timeout", "timeout", timeout, rules::HEALTH_TIMEOUT, " s"),
        retries: clamp("retries", "retries", retries, rules::HEALTH_RETRIES, ""),
        start_period: clamp(
            "start_period",
            "startPeriod",
            start_period,
            rules::HEALTH_START_PERIOD,
            " s",
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> (Result<Option<HealthCheck>, ComposeError>, Vec<String>) {
        let h: Healthcheck = serde_yaml_ng::from_str(yaml).expect("healthcheck yaml");
        let mut warnings = Vec::new();
        (health_check(&h, "services.db", &mut warnings), warnings)
    }

    #[test]
    fn forms_of_the_test_and_compose_defaults() {
        let (hc, w) = check("test: [\"CMD\", \"pg_isready\", \"-U\", \"airflow\"]\ninterval: 10s\nstart_period: 5s\n");
        let hc = hc.expect("ok").expect("some");
        assert_eq!(
            hc.command.as_deref(),
            Some(&["CMD".to_owned(), "pg_isready".into(), "-U".into(), "airflow".into()][..])
        );
        assert_eq!(
            (hc.interval, hc.timeout, hc.retries, hc.start_period),
            (Some(10), Some(30), Some(3), Some(5))
        );
        assert!(w.is_empty());

        let (hc, _) = check("test: redis-cli ping || exit 1\n");
        assert_eq!(
            hc.expect("ok").expect("some").command,
            Some(vec!["CMD-SHELL".into(), "redis-cli ping || exit 1".into()])
        );
        let (hc, _) = check("test: [\"CMD-SHELL\", \"pg_isready -U postgres\"]\n");
        assert_eq!(
            hc.expect("ok").expect("some").command,
            Some(vec!["CMD-SHELL".into(), "pg_isready -U postgres".into()])
        );
        assert_eq!(check("test: [\"NONE\"]\n").0, Ok(None));
        assert_eq!(check("test: [\"CMD\", \"true\"]\ndisable: true\n").0, Ok(None));
        assert_eq!(check("disable: false\n").0, Ok(None));
    }

    #[test]
    fn out_of_range_values_are_clamped_with_a_warning() {
        let (hc, w) = check(
            "test: [\"CMD\", \"x\"]\ninterval: 1s\ntimeout: 2m\nretries: 120\nstart_period: 10m\n",
        );
        let hc = hc.expect("ok").expect("some");
        assert_eq!(
            (hc.interval, hc.timeout, hc.retries, hc.start_period),
            (Some(5), Some(60), Some(10), Some(300))
        );
        assert_eq!(w.len(), 4, "{w:?}");
        assert_eq!(w[0], "services.db.healthcheck.interval: 1 s is outside ECS's 5–300 for healthCheck.interval; 5 s is used");
        assert_eq!(w[2], "services.db.healthcheck.retries: 120 is outside ECS's 1–10 for healthCheck.retries; 10 is used");
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = |yaml: &str| check(yaml).0.expect_err("refused").to_string();
        assert_eq!(
            err("test: [\"CMD\", \"x\"]\ninterval: soon\n"),
            "services.db.healthcheck.interval: \"soon\" is not a duration (e.g. 30s, 1m30s, 500ms)"
        );
        assert_eq!(
            err("test: [\"CMD\", \"x\"]\nretries: many\n"),
            "services.db.healthcheck.retries: \"many\" is not a whole number"
        );
        assert_eq!(err("test: [\"curl\", \"-f\", \"x\"]\n"), "services.db.healthcheck.test: a test list starts with CMD, CMD-SHELL or NONE, not \"curl\"");
        assert_eq!(err("test: [\"CMD\"]\n"), "services.db.healthcheck.test: CMD without a command");
        assert_eq!(err("test: []\n"), "services.db.healthcheck.test: an empty test");
        let (_, w) = check("test: [\"CMD\", \"x\"]\nstart_interval: 5s\n");
        assert_eq!(w, ["services.db.healthcheck.start_interval: not carried over (ECS has no such health check setting)"]);
    }
}
