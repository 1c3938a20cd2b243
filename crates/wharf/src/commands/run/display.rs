//! What `wharf run` shows. Progress (statuses, pulls, health) goes to
//! stderr: on a terminal as coloured lines and live byte progress bars,
//! otherwise as plain `wharf: ...` lines with no escape codes. The
//! containers' output goes to stdout, each line prefixed with its container,
//! coloured on a terminal.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use wharf_model::agent::PullProgressReport;

/// The screen of one `wharf run`.
#[derive(Debug)]
pub struct Display {
    /// Bars and colours on stderr (a terminal, colour allowed).
    fancy: bool,
    /// Colours on stdout.
    colour_logs: bool,
    multi: MultiProgress,
    pulls: HashMap<String, Pull>,
    width: usize,
}

/// One container's image pull as shown.
#[derive(Debug)]
struct Pull {
    bar: Option<ProgressBar>,
    started: Instant,
    /// Its end was shown.
    ended: bool,
}

impl Display {
    /// Decides from the terminals and `NO_COLOR` (or `--no-color`) how to show things.
    pub fn new(no_color: bool) -> Self {
        let no_color = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let fancy = !no_color && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if fancy {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Self {
            fancy,
            colour_logs: !no_color && std::io::stdout().is_terminal(),
            multi,
            pulls: HashMap::new(),
            width: 0,
        }
    }

    /// A line of progress: `wharf: <text>` (dimmed on a terminal).
    pub fn info(&self, text: &str) {
        if self.fancy {
            self.above_bars(&format!("\x1b[2m›\x1b[0m {text}"));
        } else {
            eprintln!("wharf: {text}");
        }
    }

    /// A line on stderr, above the progress bars when some are drawn.
    fn above_bars(&self, line: &str) {
        if self.pulls.values().any(|p| p.bar.is_some()) {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// A status word, coloured by what it means on a terminal.
    pub fn status(&self, status: &str) -> String {
        if !self.fancy {
            return status.to_owned();
        }
        let code = match status {
            "RUNNING" | "HEALTHY" => "32",
            "STOPPED" | "UNHEALTHY" | "DEPROVISIONING" | "STOPPING" => "31",
            _ => "33",
        };
        format!("\x1b[{code}m{status}\x1b[0m")
    }

    /// A warning line.
    pub fn warn(&self, text: &str) {
        if self.fancy {
            self.above_bars(&format!("\x1b[33mwarning:\x1b[0m {text}"));
        } else {
            eprintln!("wharf: warning: {text}");
        }
    }

    /// Shows how far a container's image pull has come: a byte progress bar
    /// on a terminal; otherwise one line when it starts and one when it ends.
    pub fn pull(&mut self, label: &str, report: &PullProgressReport) {
        let key = format!("{}\n{}", report.task_arn, report.container);
        if !self.pulls.contains_key(&key) {
            let bar = self.fancy.then(|| {
                let bar = self.multi.add(ProgressBar::new(report.total_bytes.max(1)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:.cyan} pulling {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(label.to_owned());
                bar.set_message(report.image.clone());
                bar
            });
            if !self.fancy {
                eprintln!("wharf: {label}: pulling {}", report.image);
            }
            self.pulls.insert(key.clone(), Pull { bar, started: Instant::now(), ended: false });
        }
        let Some(pull) = self.pulls.get_mut(&key).filter(|p| !p.ended) else { return };
        if let Some(bar) = &pull.bar {
            bar.set_length(report.total_bytes.max(1));
            bar.set_position(report.current_bytes);
        }
        if report.done {
            let took = pull.started.elapsed().as_secs_f64();
            let size = if report.total_bytes == 0 {
                "layers already here".to_owned()
            } else {
                human_bytes(report.total_bytes)
            };
            let text = format!(
                "{label}: pulled {} ({size}, {} layers, {took:.1} s)",
                report.image, report.layers
            );
            pull.ended = true;
            match pull.bar.take() {
                Some(bar) => {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                    self.info(&text);
                }
                None => eprintln!("wharf: {text}"),
            }
        }
    }

    /// Makes room for labels this wide.
    pub fn widen(&mut self, width: usize) {
        self.width = self.width.max(width);
    }

    /// One line of a container's output on stdout; false once stdout is
    /// closed (the reader went away).
    pub fn log(&self, label: &str, colour: u8, line: &str) -> bool {
        let width = self.width;
        let text = if self.colour_logs {
            format!("\x1b[{colour}m{label:<width$} |\x1b[0m {line}\n")
        } else {
            format!("{label:<width$} | {line}\n")
        };
        let write = || {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_ok()
        };
        if self.fancy {
            self.multi.suspend(write)
        } else {
            write()
        }
    }

    /// Clears what is still drawn.
    pub fn finish(&mut self) {
        for pull in self.pulls.values_mut() {
            if let Some(bar) = pull.bar.take() {
                bar.finish_and_clear();
            }
        }
        let _ = self.multi.clear();
    }
}

/// `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
