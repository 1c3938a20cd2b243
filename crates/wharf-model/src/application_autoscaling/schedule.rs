//! Scheduled actions' schedules, as Application Auto Scaling writes them:
//! `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` and
//! `cron(minutes hours day-of-month month day-of-week year)`, in UTC (Wharf
//! knows no other time zone), and when each runs next.

use crate::clock::{civil_from_days, days_from_civil};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Once, at this time (ms).
    At(i64),
    /// Every this many ms, from the action's start (or its creation).
    Rate(i64),
    /// On the times a cron expression matches.
    Cron(Box<Cron>),
}

/// A cron expression's fields, each the set of values it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: Option<Vec<u32>>,
    months: Vec<u32>,
    /// Days of week, 1 (Sunday) to 7; `None` for `?`.
    weekdays: Option<Vec<u32>>,
    /// Years; `None` for every year.
    years: Option<Vec<u32>>,
}

fn bad(s: &str, why: &str) -> String {
    format!("Invalid schedule expression: {s}. {why}")
}

/// Reads a schedule; the message says what is wrong with it.
pub fn parse(s: &str) -> Result<Schedule, String> {
    let inner = |prefix: &str| s.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if let Some(t) = inner("at(") {
        return parse_at(t)
            .map(Schedule::At)
            .ok_or_else(|| bad(s, "Expected at(yyyy-mm-ddThh:mm:ss)."));
    }
    if let Some(r) = inner("rate(") {
        let (n, unit) = r.split_once(' ').ok_or_else(|| bad(s, "Expected rate(value unit)."))?;
        let n: i64 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(s, "The value must be a positive integer."))?;
        let ms = match unit {
            "minute" | "minutes" => 60_000,
            "hour" | "hours" => 3_600_000,
            "day" | "days" => 86_400_000,
            _ => return Err(bad(s, "The unit must be minute(s), hour(s) or day(s).")),
        };
        let singular = matches!(unit, "minute" | "hour" | "day");
        if singular != (n == 1) {
            return Err(bad(s, "Use a singular unit for 1 and a plural one otherwise."));
        }
        return Ok(Schedule::Rate(n * ms));
    }
    if let Some(c) = inner("cron(") {
        return parse_cron(c).map(|c| Schedule::Cron(Box::new(c))).map_err(|why| bad(s, &why));
    }
    Err(bad(s, "It must start with at(, rate( or cron(."))
}

fn parse_at(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> { t.get(from..from + len)?.parse().ok() };
    let (y, mo, d, h, mi, se) =
        (num(0, 4)?, num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se) * 1000)
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn field(text: &str, low: u32, high: u32, names: &[&str]) -> Result<Vec<u32>, String> {
    let value = |v: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
            return Ok(low + i as u32);
        }
        v.parse::<u32>()
            .ok()
            .filter(|n| (low..=high).contains(n))
            .ok_or_else(|| format!("'{v}' is not between {low} and {high}."))
    };
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("'{s}' is not a step."))?,
            ),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (low, high),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, high),
                None => (value(r)?, value(r)?),
            },
        };
        if from > to {
            return Err(format!("'{range}' is an empty range."));
        }
        out.extend((from..=to).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_cron(c: &str) -> Result<Cron, String> {
    let f: Vec<&str> = c.split_whitespace().collect();
    if f.len() != 6 {
        return Err(
            "A cron expression has six fields: minutes hours day-of-month month day-of-week year."
                .into(),
        );
    }
    let (days_q, weekdays_q) = (f[2] == "?", f[4] == "?");
    if days_q == weekdays_q {
        return Err("One of day-of-month and day-of-week must be '?'.".into());
    }
    Ok(Cron {
        minutes: field(f[0], 0, 59, &[])?,
        hours: field(f[1], 0, 23, &[])?,
        days: if days_q { None } else { Some(field(f[2], 1, 31, &[])?) },
        months: field(f[3], 1, 12, &MONTHS)?,
        weekdays: if weekdays_q { None } else { Some(field(f[4], 1, 7, &WEEKDAYS)?) },
        years: if f[5] == "*" { None } else { Some(field(f[5], 1970, 2199, &[])?) },
    })
}

impl Schedule {
    /// The first time it runs strictly after `after_ms`; `start_ms` is when
    /// a rate counts from. `None` when it never runs again.
    pub fn next_after(&self, after_ms: i64, start_ms: i64) -> Option<i64> {
        match self {
            Schedule::At(t) => (*t > after_ms).then_some(*t),
            Schedule::Rate(every) => {
                if after_ms < start_ms {
                    return Some(start_ms);
                }
                Some(start_ms + ((after_ms - start_ms) / every + 1) * every)
            }
            Schedule::Cron(c) => c.next_after(after_ms),
        }
    }
}

impl Cron {
    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after_min = after_ms.div_euclid(60_000) + 1;
        let (mut day, mut minute_of_day) = (after_min.div_euclid(1440), after_min.rem_euclid(1440));
        // Five years of days at most.
        for _ in 0..(366 * 5) {
            let (y, m, d) = civil_from_days(day);
            // 1970-01-01 was a Thursday (5 with Sunday 1).
            let weekday = ((day.rem_euclid(7) + 4) % 7 + 1) as u32;
            let day_ok = self.years.as_ref().is_none_or(|ys| ys.contains(&(y as u32)))
                && self.months.contains(&(m as u32))
                && self.days.as_ref().is_none_or(|ds| ds.contains(&(d as u32)))
                && self.weekdays.as_ref().is_none_or(|ws| ws.contains(&weekday));
            if day_ok {
                for h in &self.hours {
                    for mi in &self.minutes {
                        let t = i64::from(*h) * 60 + i64::from(*mi);
                        if t >= minute_of_day {
                            return Some((day * 1440 + t) * 60_000);
                        }
                    }
                }
            }
            day += 1;
            minute_of_day = 0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        parse_at(s).unwrap()
    }

    #[test]
    fn at_runs_once() {
        let s = parse("at(2026-03-01T12:00:00)").unwrap();
        assert_eq!(s.next_after(0, 0), Some(at("2026-03-01T12:00:00")));
        assert_eq!(s.next_after(at("2026-03-01T12:00:00"), 0), None);
        assert!(parse("at(2026-13-01T12:00:00)").is_err());
    }

    #[test]
    fn rate_counts_from_the_start() {
        let s = parse("rate(5 minutes)").unwrap();
        assert_eq!(s.next_after(0, 60_000), Some(60_000));
        assert_eq!(s.next_after(60_000, 60_000), Some(360_000));
        assert_eq!(s.next_after(361_000, 60_000), Some(660_000));
        assert!(parse("rate(1 minutes)").is_err());
        assert!(parse("rate(2 weeks)").is_err());
        assert_eq!(parse("rate(1 day)").unwrap(), Schedule::Rate(86_400_000));
    }

    #[test]
    fn cron_matches_its_fields() {
        // Every day at 12:30.
        let s = parse("cron(30 12 * * ? *)").unwrap();
        assert_eq!(s.next_after(at("2026-03-01T00:00:00"), 0), Some(at("2026-03-01T12:30:00")));
        assert_eq!(s.next_after(at("2026-03-01T12:30:00"), 0), Some(at("2026-03-02T12:30:00")));
        // Weekdays at 9 (2026-03-07 is a Saturday).
        let s = parse("cron(0 9 ? * MON-FRI *)").unwrap();
        assert_eq!(s.next_after(at("2026-03-06T10:00:00"), 0), Some(at("2026-03-09T09:00:00")));
        // Every 15 minutes.
        let s = parse("cron(0/15 * * * ? *)").unwrap();
        assert_eq!(s.next_after(at("2026-03-01T10:07:00"), 0), Some(at("2026-03-01T10:15:00")));
        assert!(parse("cron(0 9 * * * *)").is_err(), "one of the day fields must be ?");
        assert!(parse("cron(61 9 * * ? *)").is_err());
        assert!(parse("cron(0 9 * *)").is_err());
        assert!(parse("every minute").is_err());
    }
}
