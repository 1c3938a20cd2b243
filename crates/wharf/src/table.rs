//! Output for people: aligned tables, colour only on a terminal (and never
//! with `NO_COLOR` set), and short ages (`12s`, `5m`, `3h`, `2d`). Without a
//! terminal the output is plain lines with no escape codes, for `grep` and
//! `awk`.

use std::fmt::Write as _;
use std::io::IsTerminal;

/// Writes `text` to stdout; a reader that went away (a closed pipe, `| head`)
/// is not an error: there is nobody left to tell.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Whether to colour what goes to stdout: a terminal, and `NO_COLOR` unset
/// or empty (<https://no-color.org>).
pub fn colour_on_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// An ANSI colour for a piece of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Good news: RUNNING, HEALTHY, an addition.
    Green,
    /// In between: PENDING, a change.
    Yellow,
    /// Bad news: STOPPED, UNHEALTHY, a removal.
    Red,
    /// Less important: ids, headers.
    Dim,
    /// Headers.
    Bold,
}

impl Colour {
    fn code(self) -> &'static str {
        match self {
            Self::Green => "32",
            Self::Yellow => "33",
            Self::Red => "31",
            Self::Dim => "2",
            Self::Bold => "1",
        }
    }
}

/// Paints text in a colour, or leaves it as it is when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    /// Whether escape codes are written at all.
    pub enabled: bool,
}

impl Paint {
    /// Colour as [`colour_on_stdout`] decides.
    pub fn stdout() -> Self {
        Self { enabled: colour_on_stdout() }
    }

    /// `text` in `colour` (when enabled).
    pub fn paint(self, colour: Option<Colour>, text: &str) -> String {
        match colour {
            Some(c) if self.enabled => format!("\x1b[{}m{text}\x1b[0m", c.code()),
            _ => text.to_owned(),
        }
    }
}

/// The colour of an ECS status word (task, container, health, service, rollout).
pub fn status_colour(status: &str) -> Option<Colour> {
    match status {
        "RUNNING" | "HEALTHY" | "ACTIVE" | "COMPLETED" | "PRIMARY" | "healthy" => {
            Some(Colour::Green)
        }
        "STOPPED" | "UNHEALTHY" | "FAILED" | "INACTIVE" | "unhealthy" => Some(Colour::Red),
        "PROVISIONING" | "PENDING" | "ACTIVATING" | "DEACTIVATING" | "STOPPING"
        | "DEPROVISIONING" | "IN_PROGRESS" | "DRAINING" | "initial" | "draining" => {
            Some(Colour::Yellow)
        }
        _ => None,
    }
}

/// One cell: its text and, optionally, its colour.
#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    colour: Option<Colour>,
}

impl Cell {
    /// A plain cell.
    pub fn plain(text: impl Into<String>) -> Self {
        Self { text: text.into(), colour: None }
    }

    /// A coloured cell.
    pub fn coloured(text: impl Into<String>, colour: Option<Colour>) -> Self {
        Self { text: text.into(), colour }
    }

    /// A status word, coloured as [`status_colour`] says.
    pub fn status(text: impl Into<String>) -> Self {
        let text = text.into();
        let colour = status_colour(text.split_whitespace().next().unwrap_or(""));
        Self { text, colour }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self::plain(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::plain(text)
    }
}

/// Rows under a header, printed with each column as wide as its widest cell.
#[derive(Debug)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new(header: &[&'static str]) -> Self {
        Self { header: header.to_vec(), rows: Vec::new() }
    }

    /// Adds a row (one cell per column; missing cells are empty).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row with a trailing newline; columns are
    /// two spaces apart and the last one is not padded.
    pub fn render(&self, paint: Paint) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.text.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<Cell> =
            self.header.iter().map(|h| Cell::coloured(*h, Some(Colour::Bold))).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let (text, colour) = row.get(i).map_or(("", None), |c| (c.text.as_str(), c.colour));
                let last = i + 1 == columns;
                let pad = if last { 0 } else { width - text.chars().count() + 2 };
                let _ = write!(line, "{}{:pad$}", paint.paint(colour, text), "");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Labelled values, one a line, the values lined up (`Status   RUNNING`);
/// empty values are left out, labels are bold on a terminal.
pub fn fields(rows: &[(&str, String)], paint: Paint) -> String {
    let shown: Vec<&(&str, String)> = rows.iter().filter(|(_, v)| !v.is_empty()).collect();
    let width = shown.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in shown {
        let pad = width - label.chars().count() + 2;
        let word = value.split_whitespace().next().unwrap_or_default();
        let colour = if *label == "Status" { status_colour(word) } else { None };
        let _ = writeln!(
            out,
            "{}{:pad$}{}",
            paint.paint(Some(Colour::Bold), label),
            "",
            paint.paint(colour, value)
        );
    }
    out
}

/// A duration in seconds as people say it: `12s`, `5m`, `3h`, `2d` (whole
/// units, rounded down); a negative one (a clock ahead of ours) is `0s`.
pub fn age(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 { seconds as u64 } else { 0 };
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A time in seconds since the epoch as `2024-05-01 12:00:00 UTC`.
pub fn utc(seconds: f64) -> String {
    let secs = seconds.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = wharf_model::clock::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_in_whole_units() {
        assert_eq!(age(0.4), "0s");
        assert_eq!(age(-5.0), "0s");
        assert_eq!(age(f64::NAN), "0s");
        assert_eq!(age(12.9), "12s");
        assert_eq!(age(59.0), "59s");
        assert_eq!(age(60.0), "1m");
        assert_eq!(age(5.0 * 60.0 + 59.0), "5m");
        assert_eq!(age(3.0 * 3600.0 + 1.0), "3h");
        assert_eq!(age(2.0 * 86_400.0 + 7.0), "2d");
    }

    #[test]
    fn columns_are_aligned_and_the_last_is_not_padded() {
        let mut t = Table::new(&["TASK", "STATUS", "AGE"]);
        t.row(vec!["a1".into(), Cell::status("RUNNING"), "5m".into()]);
        t.row(vec!["b22222".into(), Cell::status("STOPPED"), "".into()]);
        let text = t.render(Paint { enabled: false });
        assert_eq!(text, "TASK    STATUS   AGE\na1      RUNNING  5m\nb22222  STOPPED\n");
    }

    #[test]
    fn colour_only_when_enabled() {
        let mut t = Table::new(&["STATUS"]);
        t.row(vec![Cell::status("RUNNING")]);
        assert!(!t.render(Paint { enabled: false }).contains('\u{1b}'));
        let coloured = t.render(Paint { enabled: true });
        assert!(coloured.contains("\x1b[32mRUNNING\x1b[0m"), "{coloured:?}");
    }

    #[test]
    fn fields_line_up_and_skip_empty_values() {
        let text = fields(
            &[("Task", "abc".into()), ("Stop code", String::new()), ("Status", "RUNNING".into())],
            Paint { enabled: false },
        );
        assert_eq!(text, "Task    abc\nStatus  RUNNING\n");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_714_564_800.9), "2024-05-01 12:00:00 UTC");
    }
}
