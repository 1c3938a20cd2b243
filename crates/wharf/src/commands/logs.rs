//! `wharf logs`: the output of a task's containers, or of a service's
//! tasks, interleaved in time order, each line prefixed with its container
//! (coloured on a terminal), like `docker compose logs`. It reads what the
//! agent shipped to the Logs API (containers with `awslogs`), from a running
//! server, and with `--follow` keeps reading until the tasks have stopped.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use serde_json::{json, Value};
use wharf_model::ecs::status::TaskStatus;

use super::connection::ConnectionArgs;
use crate::api_client::{ApiClient, Service};
use crate::container_logs::{definition_of, read, sources_of, Source, COLOURS};

/// How often a followed stream is read again.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);
/// How often the tasks themselves are looked at again while following.
const TASKS_INTERVAL: Duration = Duration::from_secs(2);

/// Options of `wharf logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Tasks (IDs or ARNs) whose containers to show.
    tasks: Vec<String>,
    /// Show the tasks of this service instead.
    #[arg(long, short = 's')]
    service: Option<String>,
    /// Keep showing new output until the tasks stop (a service's: until Ctrl-C).
    #[arg(long, short = 'f')]
    follow: bool,
    /// Only output newer than this (`30s`, `10m`, `2h`, `1d`).
    #[arg(long, value_parser = parse_age)]
    since: Option<Duration>,
    /// Show each line's time.
    #[arg(long, short = 't')]
    timestamps: bool,
    /// Never colour the output.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// `30s`, `10m`, `2h`, `1d`, or plain seconds.
fn parse_age(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number.parse().map_err(|_| format!("not a duration: {s:?} (try 30s, 10m, 2h)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in {s:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(n * scale))
}

/// Runs `wharf logs`.
pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    if args.tasks.is_empty() && args.service.is_none() {
        bail!("name a task (wharf logs TASK) or a service (wharf logs --service NAME)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        tokio::select! {
            r = show(&args) => r,
            _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
        }
    })
}

async fn show(args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.client()?;
    let colour = !args.no_color && crate::table::colour_on_stdout();
    let start_ms = args.since.map(|d| now_ms() - d.as_millis() as i64);
    let mut sources: Vec<Source> = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    let mut last_look = tokio::time::Instant::now() - TASKS_INTERVAL;
    let mut all_stopped = false;
    let mut width = 0;
    loop {
        if last_look.elapsed() >= TASKS_INTERVAL {
            last_look = tokio::time::Instant::now();
            let tasks = tasks(&client, args).await?;
            all_stopped = args.service.is_none()
                && tasks.iter().all(|t| t["lastStatus"] == TaskStatus::Stopped.as_str());
            let several = tasks.len() > 1;
            for task in &tasks {
                let definition = definition_of(&client, task).await?;
                for source in sources_of(task, &definition, several, &args.connection.region) {
                    if known.insert(format!("{}\n{}", source.group, source.stream)) {
                        let colour = COLOURS[sources.len() % COLOURS.len()];
                        width = width.max(source.label.len());
                        sources.push(Source { colour, ..source });
                    }
                }
            }
            if sources.is_empty() && !args.follow {
                bail!("none of these tasks' containers log with awslogs: their output is in `docker logs`");
            }
        }
        let mut round: Vec<(i64, usize, String)> = Vec::new();
        for (i, source) in sources.iter_mut().enumerate() {
            for (ts, message) in read(&client, source, start_ms).await? {
                round.push((ts, i, message));
            }
        }
        round.sort_by_key(|(ts, i, _)| (*ts, *i));
        let mut out = std::io::stdout().lock();
        for (ts, i, message) in &round {
            let s = &sources[*i];
            for line in message.trim_end_matches('\n').split('\n') {
                let time =
                    if args.timestamps { format!("{} ", rfc3339(*ts)) } else { String::new() };
                let result = if colour {
                    writeln!(out, "\x1b[{}m{:<width$} |\x1b[0m {time}{line}", s.colour, s.label)
                } else {
                    writeln!(out, "{:<width$} | {time}{line}", s.label)
                };
                if result.is_err() {
                    // The reader went away (a closed pipe): nothing more to do.
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        let _ = out.flush();
        drop(out);
        if !args.follow || (all_stopped && round.is_empty()) {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
    }
}

/// The tasks to show, as DescribeTasks has them.
async fn tasks(client: &ApiClient, args: &LogsArgs) -> anyhow::Result<Vec<Value>> {
    let arns: Vec<String> = match &args.service {
        Some(service) => {
            let listed: Value = client
                .call(
                    Service::Ecs,
                    "ListTasks",
                    &json!({"cluster": args.connection.cluster, "serviceName": service}),
                )
                .await?;
            let arns: Vec<String> = listed["taskArns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            if arns.is_empty() {
                return Ok(Vec::new());
            }
            arns
        }
        None => args.tasks.clone(),
    };
    let described: Value = client
        .call(
            Service::Ecs,
            "DescribeTasks",
            &json!({"cluster": args.connection.cluster, "tasks": arns}),
        )
        .await?;
    if let Some(f) = described["failures"].as_array().and_then(|f| f.first()) {
        bail!("task {}: {}", f["arn"].as_str().unwrap_or("?"), f["reason"].as_str().unwrap_or("?"));
    }
    Ok(described["tasks"].as_array().cloned().unwrap_or_default())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A time in ms since the epoch as `2024-05-01T12:00:00.123Z`.
fn rfc3339(ms: i64) -> String {
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = wharf_model::clock::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times() {
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_age("soon").is_err());
        assert!(parse_age("5y").is_err());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
