//! SigV4's times: `20150830T123600Z` (ISO 8601 basic) to and from Unix
//! seconds, and the RFC 1123 `Date` header some clients sign instead.

use wharf_model::clock::civil_from_days;

/// Unix seconds of an ISO 8601 basic UTC time (`YYYYMMDD'T'HHMMSS'Z'`).
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    // Digits read by hand: this runs on every signed request.
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?
            .iter()
            .try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    from_civil(y, mo, d, h, mi, s)
}

/// Unix seconds of an RFC 1123 date (`Sun, 30 Aug 2015 12:36:00 GMT`).
pub fn parse_http_date(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let d: i64 = parts.next()?.parse().ok()?;
    let mon = parts.next()?;
    let y: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, mi, s) =
        (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    if parts.next()? != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mo = MONTHS.iter().position(|m| *m == mon)? as i64 + 1;
    from_civil(y, mo, d, h, mi, s)
}

fn from_civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // A day past the month's end (20150231) would roll over: refuse it.
    (civil_from_days(days) == (y, mo, d)).then_some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// The ISO 8601 basic form of Unix seconds: `20150830T123600Z`.
pub fn format_amz_date(secs: i64) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rest / 3600, (rest % 3600) / 60, rest % 60)
}

/// ISO 8601 extended form with seconds, as STS writes `Expiration`:
/// `2015-08-30T12:36:00Z`.
pub fn format_iso8601(secs: i64) -> String {
    let b = format_amz_date(secs);
    format!("{}-{}-{}T{}:{}:{}Z", &b[0..4], &b[4..6], &b[6..8], &b[9..11], &b[11..13], &b[13..15])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_iso8601(t), "2015-08-30T12:36:00Z");
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
    }

    #[test]
    fn odd_dates_are_refused() {
        for bad in [
            "20150231T000000Z",
            "2015083T123600Z",
            "20150830T123600",
            "2015083aT123600Z",
            "20151330T000000Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT"), None);
    }
}
