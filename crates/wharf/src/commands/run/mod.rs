//! `wharf run`: from a task definition file to running containers in one
//! command. It registers the definition, runs the task, shows what happens
//! while it happens (image pulls with byte progress, container states,
//! health), then the containers' output, interleaved; Ctrl-C stops the task
//! gracefully (its containers' stopTimeout honoured), a second Ctrl-C kills
//! it. It exits with the essential container's exit code.
//!
//! It talks to the server at `--endpoint` (`WHARF_ENDPOINT`); without one,
//! to the server at the default address when one answers there, else it
//! starts a server inside itself, with its state in a temporary directory,
//! for its own lifetime.

mod definition;
mod display;
mod local_docker;
mod outcome;
mod wakeups;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use wharf_model::agent::PullProgressReport;
use wharf_model::ecs::status::{ContainerLastStatus, InstanceStatus, TaskStatus};

use crate::api_client::{encode, ApiClient, Service};
use crate::commands::server::{EmbeddedServer, ServerArgs};
use crate::container_logs::{self, Source, COLOURS};
use display::Display;

/// The address `wharf server` listens on by default.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4590";
/// How often the tasks, their pulls and their output are looked at while
/// the run is young, and after [`QUICK_FOR`].
const QUICK_LOOK: Duration = Duration::from_millis(40);
const SLOW_LOOK: Duration = Duration::from_millis(200);
/// After a round that showed output, how long a wake-up from the server
/// waits for more, so a busy container's lines come in batches rather than
/// a read per line.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
const QUICK_FOR: Duration = Duration::from_secs(30);
/// After the tasks stopped, output is read until it has been quiet this
/// long, at most [`DRAIN_AT_MOST`] (Wharf's agent reports a task STOPPED
/// only once its containers' output is stored, so one more read is mostly
/// all it takes).
const DRAIN_QUIET: Duration = Duration::from_millis(100);
const DRAIN_AT_MOST: Duration = Duration::from_secs(3);
/// How long an embedded server's agent may take to join its cluster.
const AGENT_JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The exit code of a run interrupted before any task ran (128 + SIGINT).
const INTERRUPTED: u8 = 130;
/// The reason StopTask is given on Ctrl-C.
const INTERRUPT_REASON: &str = "Task stopped by wharf run (interrupted)";

/// Options of `wharf run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A task definition (JSON, as RegisterTaskDefinition takes it or
    /// describe-task-definition prints it), or a Docker Compose file.
    #[arg(value_name = "FILE", required_unless_present = "family", conflicts_with = "family")]
    file: Option<PathBuf>,
    /// Run a registered task definition instead: `family`, `family:revision` or an ARN.
    #[arg(long, value_name = "FAMILY[:REVISION]")]
    family: Option<String>,
    /// How many tasks to run (1 to 10, as RunTask allows).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    count: u32,
    /// An environment variable for every container (`KEY=VALUE`) or for one
    /// (`CONTAINER:KEY=VALUE`); repeat it for more.
    #[arg(long = "env", short = 'e', value_name = "[CONTAINER:]KEY=VALUE")]
    env: Vec<String>,
    /// RunTask's `overrides` (an ECS TaskOverride) as JSON, or `@FILE`.
    #[arg(long = "override", value_name = "JSON")]
    override_json: Option<String>,
    /// The cluster to run in.
    #[arg(long, short = 'c', default_value = "default")]
    cluster: String,
    /// The server's address. Without it: the server at the default address
    /// (http://127.0.0.1:4590) if one answers, else one embedded in this
    /// command for its lifetime.
    #[arg(long, env = "WHARF_ENDPOINT")]
    endpoint: Option<String>,
    /// Always run on a server embedded in this command, even when one
    /// answers at the default address.
    #[arg(long, conflicts_with = "endpoint")]
    embedded: bool,
    /// The region.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
    /// Subnets for an `awsvpc` task's network configuration (the region's
    /// first default subnet when none is given).
    #[arg(long = "subnet")]
    subnets: Vec<String>,
    /// Leave containers without a logConfiguration as they are (their output
    /// is then not shown) instead of giving them awslogs to `/ecs/<family>`.
    #[arg(long)]
    no_default_logging: bool,
    /// Never colour, never draw progress bars.
    #[arg(long)]
    no_color: bool,
}

/// Runs `wharf run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let code = runtime.block_on(run_async(args))?;
    Ok(ExitCode::from(code))
}

async fn run_async(args: RunArgs) -> anyhow::Result<u8> {
    // From the start, so a Ctrl-C while the server starts is not lost.
    let mut interrupts = watch_interrupts();
    let mut display = Display::new(args.no_color);
    let (client, embedded) = tokio::select! {
        connected = connect(&args, &display) => connected?,
        Some(()) = interrupts.recv() => return Ok(INTERRUPTED),
    };
    let result = run_on(&args, &client, &mut display, interrupts, embedded.is_some()).await;
    display.finish();
    if let Some(server) = embedded {
        if let Ok((_, arns)) = &result {
            if let Err(e) = local_docker::remove(arns).await {
                display.warn(&format!("the task's containers stay: {e:#}"));
            }
        }
        let dir = server.data_dir.clone();
        server.server.stop().await?;
        remove_state(&dir).await;
    }
    result.map(|(code, _)| code)
}

/// An embedded server and where its state is.
struct Embedded {
    server: EmbeddedServer,
    data_dir: PathBuf,
}

/// The server to talk to, starting one inside this command when none is
/// given and none answers at the default address.
async fn connect(
    args: &RunArgs,
    display: &Display,
) -> anyhow::Result<(ApiClient, Option<Embedded>)> {
    if let Some(endpoint) = &args.endpoint {
        return Ok((ApiClient::new(endpoint, &args.region)?, None));
    }
    if !args.embedded && answers(DEFAULT_ENDPOINT).await {
        return Ok((ApiClient::new(DEFAULT_ENDPOINT, &args.region)?, None));
    }
    let data_dir = std::env::temp_dir().join(format!("wharf-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    log_to_file(&data_dir.join("server.log"))?;
    /// `wharf server`'s options, parsed from the environment and defaults.
    #[derive(Parser)]
    struct Defaults {
        #[command(flatten)]
        server: ServerArgs,
    }
    let dir = data_dir.to_string_lossy().into_owned();
    let parsed = Defaults::try_parse_from([
        "wharf",
        "--data-dir",
        &dir,
        "--store",
        "sqlite",
        "--cluster",
        &args.cluster,
        "--region",
        &args.region,
    ])
    .context("the embedded server's options")?;
    // Without Docker the embedded agent cannot run anything: say so now.
    // Asked while the server starts, which takes as long.
    let docker = async {
        wharf_agent::runtime::docker::DockerRuntime::connect().await.context(
            "no server at http://127.0.0.1:4590, and cannot run one here: Docker Engine does not answer",
        )
    };
    let (docker, server) = tokio::join!(docker, EmbeddedServer::start(parsed.server));
    let server = match (docker, server) {
        (Ok(_), Ok(server)) => server,
        (Err(e), server) => {
            if let Ok(server) = server {
                let _ = server.stop().await;
            }
            remove_state(&data_dir).await;
            return Err(e);
        }
        (Ok(_), Err(e)) => {
            remove_state(&data_dir).await;
            return Err(e);
        }
    };
    let client = ApiClient::new(&server.endpoint, &args.region)?;
    let embedded = Embedded { server, data_dir };
    if let Err(e) = wait_for_agent(&client, &args.cluster).await {
        let log = std::fs::read_to_string(embedded.data_dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let _ = embedded.server.stop().await;
        bail!("{e:#}; the embedded server said:\n{}", tail.join("\n"));
    }
    display.info(if args.embedded {
        "running a server inside this command"
    } else {
        "no server at http://127.0.0.1:4590: running one inside this command"
    });
    Ok((client, Some(embedded)))
}

/// Removes the embedded server's state directory. A write that was under
/// way when the server stopped (its store's journal) can put a file back
/// while the directory is being removed, so a failed removal is tried again
/// a few times.
async fn remove_state(dir: &std::path::Path) {
    for _ in 0..20 {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return,
        }
    }
    tracing::warn!(dir = %dir.display(), "the embedded server's state directory stays");
}

/// Whether something accepts connections at `endpoint` (`http://host:port`).
async fn answers(endpoint: &str) -> bool {
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    matches!(
        tokio::time::timeout(Duration::from_millis(300), tokio::net::TcpStream::connect(address))
            .await,
        Ok(Ok(_))
    )
}

/// Sends the embedded server's own logging to a file, so the screen shows
/// only the run.
fn log_to_file(path: &std::path::Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

/// Waits until an agent has joined the cluster.
async fn wait_for_agent(client: &ApiClient, cluster: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + AGENT_JOIN_TIMEOUT;
    loop {
        let answer: anyhow::Result<Value> = client
            .call(
                Service::Ecs,
                "ListContainerInstances",
                &json!({"cluster": cluster, "status": InstanceStatus::Active.as_str()}),
            )
            .await;
        if let Ok(a) = answer {
            if a["containerInstanceArns"].as_array().is_some_and(|l| !l.is_empty()) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the embedded agent did not join cluster {cluster} (is Docker running?)");
        }
        // In-process and cheap to ask: the agent joins within tens of ms.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// Counts SIGINT and SIGTERM as they come.
fn watch_interrupts() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        if let (Ok(mut interrupt), Ok(mut term)) = (interrupt, term) {
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = term.recv() => {},
                    }
                    if tx.send(()).is_err() {
                        return;
                    }
                }
            });
            return rx;
        }
    }
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    rx
}

/// Registers (when given a file), runs and follows the tasks; the exit code
/// and the tasks' ARNs.
async fn run_on(
    args: &RunArgs,
    client: &ApiClient,
    display: &mut Display,
    mut interrupts: mpsc::UnboundedReceiver<()>,
    embedded: bool,
) -> anyhow::Result<(u8, Vec<String>)> {
    // Nothing runs yet: a Ctrl-C here just ends the command.
    let definition = tokio::select! {
        registered = register(args, client, display) => registered?,
        Some(()) = interrupts.recv() => return Ok((INTERRUPTED, Vec::new())),
    };
    let arn = definition["taskDefinitionArn"].as_str().context("no taskDefinitionArn")?;
    let containers = definition::container_names(&definition);
    let overrides = definition::overrides(args.override_json.as_deref(), &args.env, &containers)?;
    let mut request = json!({
        "cluster": args.cluster,
        "taskDefinition": arn,
        "count": args.count,
        "startedBy": "wharf-run",
    });
    if let Some(o) = overrides {
        request["overrides"] = serde_json::to_value(o)?;
    }
    if definition["networkMode"] == "awsvpc" {
        let subnets = match args.subnets.is_empty() {
            false => args.subnets.clone(),
            true => vec![default_subnet(client).await?],
        };
        request["networkConfiguration"] = json!({"awsvpcConfiguration": {"subnets": subnets}});
    }
    let ran: Value = client.call(Service::Ecs, "RunTask", &request).await?;
    let arns: Vec<String> = ran["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["taskArn"].as_str().map(str::to_owned))
        .collect();
    for f in ran["failures"].as_array().into_iter().flatten() {
        let reason = f["reason"].as_str().unwrap_or("?");
        let detail = f["detail"].as_str().map(|d| format!(" ({d})")).unwrap_or_default();
        display.warn(&format!("RunTask could not place a task: {reason}{detail}"));
    }
    if arns.is_empty() {
        return Ok((outcome::DID_NOT_RUN, arns));
    }
    for a in &arns {
        let id = a.rsplit('/').next().unwrap_or_default();
        display.info(&format!("task {} on cluster {}", outcome::short_id(id), args.cluster));
    }
    if embedded {
        display.info("Ctrl-C stops the task");
    }
    let tasks = follow(args, client, display, &definition, &arns, &mut interrupts).await?;
    for t in &tasks {
        display.info(&outcome::summary(t));
    }
    Ok((outcome::exit_code(&tasks, &definition), arns))
}

/// The task definition to run, registered first when it comes from a file;
/// as DescribeTaskDefinition answers it.
async fn register(args: &RunArgs, client: &ApiClient, display: &Display) -> anyhow::Result<Value> {
    let Some(path) = &args.file else {
        let family = args.family.as_deref().unwrap_or_default();
        let described: Value = client
            .call(Service::Ecs, "DescribeTaskDefinition", &json!({"taskDefinition": family}))
            .await?;
        let definition = described["taskDefinition"].clone();
        warn_unlogged(&definition, display);
        return Ok(definition);
    };
    let mut input = if crate::compose::is_compose_file(path) {
        let options =
            crate::compose::ConvertOptions { family: None, env: std::env::vars().collect() };
        let converted = crate::compose::convert_file(path, &options)?;
        for w in &converted.warnings {
            display.warn(w);
        }
        display.info(&format!("converted {} to a task definition", path.display()));
        converted.task_definition
    } else {
        definition::from_json_file(path)?
    };
    if !args.no_default_logging {
        let changed = definition::add_default_logging(&mut input, &args.region);
        if !changed.is_empty() {
            let group = definition::default_log_group(input["family"].as_str().unwrap_or(""));
            display.info(&format!("{} log to awslogs group {group}", changed.join(", ")));
        }
    }
    let registered: Value = client.call(Service::Ecs, "RegisterTaskDefinition", &input).await?;
    let definition = registered["taskDefinition"].clone();
    display.info(&format!(
        "registered {}:{}",
        definition["family"].as_str().unwrap_or("?"),
        definition["revision"]
    ));
    Ok(definition)
}

/// Says which containers' output cannot be shown.
fn warn_unlogged(definition: &Value, display: &Display) {
    for c in definition["containerDefinitions"].as_array().into_iter().flatten() {
        if c["logConfiguration"]["logDriver"] != "awslogs" {
            display.warn(&format!(
                "{} has no awslogs logConfiguration: its output is not shown",
                c["name"].as_str().unwrap_or("?")
            ));
        }
    }
}

/// What was last shown of one container.
#[derive(Debug, Default, Clone, PartialEq)]
struct Shown {
    status: String,
    health: String,
}

/// Follows the tasks until all have stopped, showing changes, pulls and
/// output; answers Ctrl-C. Returns the stopped tasks.
async fn follow(
    args: &RunArgs,
    client: &ApiClient,
    display: &mut Display,
    definition: &Value,
    arns: &[String],
    interrupts: &mut mpsc::UnboundedReceiver<()>,
) -> anyhow::Result<Vec<Value>> {
    let started = Instant::now();
    let several = arns.len() > 1;
    let mut shown: HashMap<String, Shown> = HashMap::new();
    let mut sources: Vec<Source> = Vec::new();
    let mut sourced: Vec<String> = Vec::new();
    // Tasks whose pulls were looked at once more after their containers left PENDING.
    let mut pulls_seen_through: Vec<String> = Vec::new();
    let mut interrupted = 0;
    let mut stopped_at: Option<Instant> = None;
    let mut quiet_since = Instant::now();
    let groups = wakeups::log_groups(definition, client.region());
    let wakeups = wakeups::listen(client, arns, &groups).await;
    loop {
        let mut any_pulling = false;
        let described: Value = client
            .call(Service::Ecs, "DescribeTasks", &json!({"cluster": args.cluster, "tasks": arns}))
            .await?;
        let tasks = described["tasks"].as_array().cloned().unwrap_or_default();
        for task in &tasks {
            let task_arn = task["taskArn"].as_str().unwrap_or_default().to_owned();
            let id = outcome::short_id(task_arn.rsplit('/').next().unwrap_or_default()).to_owned();
            if !sourced.contains(&task_arn) {
                sourced.push(task_arn.clone());
                for mut s in container_logs::sources_of(task, definition, several, &args.region) {
                    s.colour = COLOURS[sources.len() % COLOURS.len()];
                    display.widen(s.label.len());
                    sources.push(s);
                }
            }
            show_task_changes(display, &mut shown, task, &id, several);
            let pulling = task["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["lastStatus"] == ContainerLastStatus::Pending.as_str());
            // Once more after the last container left PENDING: a quick pull
            // may have ended between two looks.
            let last_look = !pulling && !pulls_seen_through.contains(&task_arn);
            if last_look {
                pulls_seen_through.push(task_arn.clone());
            }
            any_pulling |= pulling;
            if pulling || last_look {
                let answer: anyhow::Result<Value> = client
                    .get_wharf("/_wharf/v1/pulls", &format!("task={}", encode(&task_arn)))
                    .await;
                // An older server has no pull progress: nothing to show then.
                if let Ok(answer) = answer {
                    let reports: Vec<PullProgressReport> =
                        serde_json::from_value(answer["pulls"].clone()).unwrap_or_default();
                    for r in &reports {
                        let label = if several {
                            format!("{id}/{}", r.container)
                        } else {
                            r.container.clone()
                        };
                        display.pull(&label, r);
                    }
                }
            }
        }
        let mut printed = false;
        let mut reader_gone = false;
        let mut round: Vec<(i64, usize, String)> = Vec::new();
        for (i, source) in sources.iter_mut().enumerate() {
            for (ts, message) in container_logs::read(client, source, None).await? {
                round.push((ts, i, message));
            }
        }
        round.sort_by_key(|(ts, i, _)| (*ts, *i));
        for (_, i, message) in &round {
            let s = &sources[*i];
            for line in message.trim_end_matches('\n').split('\n') {
                reader_gone |= !display.log(&s.label, s.colour, line);
                printed = true;
            }
        }
        if printed {
            quiet_since = Instant::now();
        }
        if reader_gone && interrupted == 0 {
            // Whoever read the output went away: stop as on Ctrl-C.
            interrupted = 1;
            interrupt(client, display, args, arns, definition, interrupted).await;
        }
        let all_stopped = !tasks.is_empty()
            && tasks.iter().all(|t| t["lastStatus"] == TaskStatus::Stopped.as_str());
        if all_stopped {
            let at = *stopped_at.get_or_insert_with(Instant::now);
            if quiet_since.elapsed() >= DRAIN_QUIET || at.elapsed() >= DRAIN_AT_MOST {
                return Ok(tasks);
            }
        }
        // Told of changes, the loop polls only as a safety net; it still
        // looks often for pull progress and while the last lines drain.
        let pushed = wakeups.as_ref().is_some_and(wakeups::Wakeups::live);
        let quick = any_pulling || all_stopped || (!pushed && started.elapsed() < QUICK_FOR);
        let look = if quick { QUICK_LOOK } else { SLOW_LOOK };
        let woken = async {
            match &wakeups {
                Some(w) if pushed => w.changed().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(look) => {}
            () = woken => {
                if printed {
                    tokio::time::sleep(BATCH_WINDOW).await;
                }
            }
            Some(()) = interrupts.recv() => {
                interrupted += 1;
                interrupt(client, display, args, arns, definition, interrupted).await;
            }
        }
    }
}

/// Prints what changed in a task and its containers since last shown.
fn show_task_changes(
    display: &Display,
    shown: &mut HashMap<String, Shown>,
    task: &Value,
    id: &str,
    several: bool,
) {
    let task_arn = task["taskArn"].as_str().unwrap_or_default();
    let now = Shown {
        status: task["lastStatus"].as_str().unwrap_or_default().to_owned(),
        health: String::new(),
    };
    if shown.get(task_arn) != Some(&now) {
        display.info(&format!("task {id} {}", display.status(&now.status)));
        shown.insert(task_arn.to_owned(), now);
    }
    for c in task["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        let label = if several { format!("{id}/{name}") } else { name.to_owned() };
        let now = Shown {
            status: c["lastStatus"].as_str().unwrap_or_default().to_owned(),
            health: c["healthStatus"].as_str().unwrap_or("UNKNOWN").to_owned(),
        };
        let key = format!("{task_arn}\n{name}");
        let before = shown.get(&key).cloned().unwrap_or_default();
        if before.status != now.status {
            let mut text = format!("{label} {}", display.status(&now.status));
            if let Some(code) = c["exitCode"].as_i64() {
                text.push_str(&format!(" (exit code {code})"));
            }
            if let Some(reason) = c["reason"].as_str() {
                text.push_str(&format!(": {reason}"));
            }
            display.info(&text);
        }
        if before.health != now.health && now.health != "UNKNOWN" {
            display.info(&format!("{label} {}", display.status(&now.health)));
        }
        shown.insert(key, now);
    }
}

/// The first Ctrl-C stops the tasks (each container gets its stopTimeout);
/// the second kills their containers on this host's Docker.
async fn interrupt(
    client: &ApiClient,
    display: &Display,
    args: &RunArgs,
    arns: &[String],
    definition: &Value,
    count: u32,
) {
    if count == 1 {
        let timeout = definition["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["stopTimeout"].as_i64())
            .max()
            .unwrap_or(30);
        display.info(&format!("stopping (up to {timeout} s; Ctrl-C again to kill)"));
        for arn in arns {
            let request = json!({"cluster": args.cluster, "task": arn, "reason": INTERRUPT_REASON});
            let stopped: anyhow::Result<Value> =
                client.call(Service::Ecs, "StopTask", &request).await;
            if let Err(e) = stopped {
                display.warn(&format!("StopTask: {e:#}"));
            }
        }
    } else if count == 2 {
        match local_docker::kill(arns).await {
            Ok(n) => display.info(&format!("killed {n} containers")),
            Err(e) => {
                display.warn(&format!("cannot kill here ({e:#}); waiting for the task to stop"))
            }
        }
    }
}

/// The region's first default subnet (as `aws ec2 describe-subnets
/// --filters Name=default-for-az,Values=true` finds it).
async fn default_subnet(client: &ApiClient) -> anyhow::Result<String> {
    let found = client
        .ec2(
            "DescribeSubnets",
            &[("Filter.1.Name", "default-for-az"), ("Filter.1.Value.1", "true")],
        )
        .await?;
    let mut ids: Vec<(String, String)> = found["subnetSet"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((s["availabilityZone"].as_str()?.to_owned(), s["subnetId"].as_str()?.to_owned()))
        })
        .collect();
    ids.sort();
    ids.into_iter()
        .next()
        .map(|(_, id)| id)
        .context("the region has no default subnet: name one with --subnet")
}
