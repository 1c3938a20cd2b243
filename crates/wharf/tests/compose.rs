//! `wharf compose convert` over real compose files: every file of
//! `tests/compose/corpus` converts and its result passes `wharf validate`;
//! two of them and one of our own really run on Docker, through the real
//! `aws` CLI against `wharf server`, with every image replaced by the local
//! busybox test image (the test's doing, on the converted JSON): containers
//! start in `dependsOn` order, health checks turn HEALTHY, a named volume is
//! shared, a published port answers, and service names resolve through links.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, Server, TaskContainers};

const BUSYBOX: &str = "wharf-test/busybox:1";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose/corpus")
}

/// The files beside a corpus file that its services read (`env_file`s) and
/// the variables it needs (`.env`), as a user would have them.
fn write_project_files(dir: &Path) {
    let dot_env = "\
PG_PASS=pg-secret
AUTHENTIK_SECRET_KEY=authentik-secret
STACK_VERSION=8.7.1
ELASTIC_PASSWORD=elastic-secret
KIBANA_PASSWORD=kibana-secret
ES_PORT=9200
KIBANA_PORT=5601
CLUSTER_NAME=docker-cluster
LICENSE=basic
MEM_LIMIT=1073741824
UPLOAD_LOCATION=./library
DB_DATA_LOCATION=./postgres
DB_PASSWORD=postgres
DB_USERNAME=postgres
DB_DATABASE_NAME=immich
POSTGRES_USER=n8n
POSTGRES_PASSWORD=n8n-secret
POSTGRES_DB=n8n
";
    std::fs::write(dir.join(".env"), dot_env).expect(".env");
    for name in [".env.production", "netbox.env", "postgres.env", "docker-compose.env"] {
        std::fs::write(dir.join(name), format!("# {name}\nFROM_ENV_FILE={name}\n"))
            .expect("env file");
    }
}

fn wharf(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run wharf")
}

/// Converts `file` inside `dir` (after the project files are written) and
/// returns the task definition and the warnings.
fn convert(dir: &Path, file: &str, extra: &[&str]) -> (Value, String) {
    let out_path = dir.join("taskdef.json");
    let mut args = vec!["compose", "convert", file, "-o", out_path.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let out = wharf(&args, dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "wharf compose convert {file} failed: {stderr}");
    let text = std::fs::read_to_string(&out_path).expect("converted file");
    (serde_json::from_str(&text).expect("JSON"), stderr)
}

fn container<'a>(td: &'a Value, name: &str) -> &'a Value {
    td["containerDefinitions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name} in {td:#}"))
}

fn depends(td: &Value, name: &str) -> Vec<(String, String)> {
    container(td, name)["dependsOn"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| {
                    (
                        d["containerName"].as_str().unwrap_or("").to_owned(),
                        d["condition"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_corpus_file_converts_and_passes_wharf_validate() {
    let sources = std::fs::read_to_string(corpus_dir().join("SOURCES.tsv")).expect("SOURCES.tsv");
    let listed: Vec<&str> = sources.lines().skip(1).filter_map(|l| l.split('\t').next()).collect();
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus has {} files", files.len());
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(files, listed_sorted, "every corpus file has a line in SOURCES.tsv and back");

    let mut converted = BTreeMap::new();
    for file in &files {
        let dir = tempfile::tempdir().expect("project dir");
        std::fs::copy(corpus_dir().join(file), dir.path().join(file)).expect("copy");
        write_project_files(dir.path());
        let (td, warnings) = convert(dir.path(), file, &[]);
        let validate = wharf(&["validate", "taskdef.json"], dir.path());
        let report = String::from_utf8_lossy(&validate.stdout);
        assert!(
            validate.status.success() && report.starts_with("taskdef.json: ok"),
            "{file}: wharf validate refused the result:\n{report}\n{td:#}"
        );
        assert_eq!(td["networkMode"], "bridge", "{file}");
        eprintln!(
            "{file}: {} containers, {} warnings",
            td["containerDefinitions"].as_array().map_or(0, Vec::len),
            warnings.lines().count()
        );
        converted.insert(file.clone(), (td, warnings, dir));
    }

    // A few rules, seen on the real files.
    let (airflow, warnings, _) = &converted["apache__airflow__howto-docker-compose.yml"];
    let names: Vec<&str> = airflow["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"flower") && !names.contains(&"airflow-cli"),
        "profile services are left out: {names:?}"
    );
    assert!(warnings.contains("services.flower.profiles"), "{warnings}");
    assert_eq!(
        container(airflow, "airflow-init")["essential"],
        false,
        "a service_completed_successfully target is not essential"
    );
    assert!(depends(airflow, "airflow-worker").contains(&("airflow-init".into(), "SUCCESS".into())));
    assert!(depends(airflow, "airflow-worker")
        .contains(&("airflow-apiserver".into(), "HEALTHY".into())));
    assert_eq!(container(airflow, "redis")["healthCheck"]["retries"], 10, "retries: 50 is clamped");
    assert!(warnings.contains("services.redis.healthcheck.retries: 50 is outside"), "{warnings}");
    assert_eq!(container(airflow, "airflow-init")["user"], "0:0");
    assert_eq!(container(airflow, "airflow-worker")["user"], "50000:0", "${{AIRFLOW_UID:-50000}}");

    let (authentik, _, dir) = &converted["goauthentik__authentik__docker-compose.yml"];
    let env = &container(authentik, "postgresql")["environment"];
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "POSTGRES_PASSWORD", "value": "pg-secret"})),
        "from .env: {env}"
    );
    assert_eq!(
        container(authentik, "postgresql")["healthCheck"]["command"],
        json!(["CMD-SHELL", "pg_isready -d ${POSTGRES_DB} -U ${POSTGRES_USER}"])
    );
    assert_eq!(container(authentik, "server")["image"], "ghcr.io/goauthentik/server:2025.2.4");
    let media = authentik["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "bind-media")
        .expect("bind mount volume");
    assert_eq!(
        media["host"]["sourcePath"],
        dir.path().join("media").to_str().unwrap(),
        "relative to the compose file"
    );

    let (immich, _, _) = &converted["immich-app__immich__docker-docker-compose.yml"];
    assert_eq!(immich["family"], "immich", "top-level name");
    assert_eq!(
        container(immich, "immich-server")["portMappings"],
        json!([{"containerPort": 2283, "hostPort": 2283, "protocol": "tcp"}])
    );
    assert_eq!(container(immich, "database")["linuxParameters"]["sharedMemorySize"], 128);

    let (mongo, _, _) = &converted["ptrvsrg__crack-hash__bricks-mongodb.yml"];
    let express = container(mongo, "mongo-express");
    assert_eq!(
        (express["cpu"].clone(), express["memory"].clone(), express["memoryReservation"].clone()),
        (json!(205), json!(100), json!(50))
    );
    assert_eq!(container(mongo, "mongo-pki-setup")["essential"], false);
    assert_eq!(container(mongo, "mongo-rs-setup")["essential"], false, "restart: no spelled out");

    let (elk, _, _) = &converted["docker__awesome-compose__elasticsearch-logstash-kibana.yml"];
    assert_eq!(
        container(elk, "kibana")["links"],
        json!(["elasticsearch", "elasticsearch:es", "logstash", "logstash:log"]),
        "service names and container_name resolve"
    );
}

#[test]
fn the_command_prints_json_and_names_the_field_of_bad_input() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("compose.yml"),
        "services:\n  web:\n    image: nginx:1.27\n    ports: [\"8080:80\"]\n    expose: [80]\n",
    )
    .expect("file");
    let out = wharf(&["compose", "convert", "compose.yml", "--family", "web"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let td: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(td["family"], "web");
    assert_eq!(
        container(&td, "web")["portMappings"],
        json!([{"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}])
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: services.web.expose: not needed (linked containers reach every port); left out\n"
    );

    std::fs::write(
        dir.path().join("bad.yml"),
        "services:\n  web:\n    image: nginx:1.27\n    ports: [\"8080:80\", \"80:abc\"]\n",
    )
    .expect("file");
    let out = wharf(&["compose", "convert", "bad.yml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wharf: converting bad.yml: services.web.ports[1]: \"80:abc\" is not a port\n"
    );

    std::fs::write(
        dir.path().join("taskdef.json"),
        r#"{"family": "f", "containerDefinitions": []}"#,
    )
    .expect("file");
    let out = wharf(&["compose", "convert", "taskdef.json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not look like a compose file"));
}

// --- Real runs ------------------------------------------------------------

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The converted task definition, made runnable here: every image becomes
/// the busybox test image, each command one that keeps running (or exits 0
/// for a container others wait on to complete), health checks pass quickly,
/// and host ports become dynamic so parallel tests never collide.
fn on_busybox(td: &mut Value, keep: &[&str]) {
    for c in td["containerDefinitions"].as_array_mut().expect("containers") {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        c["image"] = json!(BUSYBOX);
        c["entryPoint"] = json!(["/bin/busybox"]);
        if !keep.contains(&name.as_str()) {
            let script = if c["essential"] == false { "echo done" } else { "exec sleep 3600" };
            c["command"] = json!(["sh", "-c", script]);
            if let Some(h) = c.get_mut("healthCheck") {
                h["command"] = json!(["CMD-SHELL", "true"]);
            }
        }
        if let Some(h) = c.get_mut("healthCheck") {
            h["interval"] = json!(5);
            h["timeout"] = json!(2);
            h.as_object_mut().map(|h| h.remove("startPeriod"));
        }
        for m in c.get_mut("portMappings").and_then(Value::as_array_mut).into_iter().flatten() {
            m.as_object_mut().map(|m| m.remove("hostPort"));
        }
        c["stopTimeout"] = json!(2);
    }
}

struct Inspected {
    started: String,
    finished: String,
    exit_code: i64,
    mounts: Vec<String>,
    id: String,
}

/// Docker's RFC 3339 time with its fraction padded to nine digits, so that
/// times compare as strings (Docker trims trailing zeros).
fn sortable_time(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    format!("{whole}.{fraction:0<9}Z")
}

/// The task's Docker containers by ECS container name.
fn inspect(task_arn: &str) -> BTreeMap<String, Inspected> {
    let ids =
        docker(&["ps", "-aq", "--filter", &format!("label=com.amazonaws.ecs.task-arn={task_arn}")]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut args = vec!["inspect"];
    args.extend(ids);
    let all: Value = serde_json::from_str(&docker(&args)).expect("inspect JSON");
    all.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let name =
                c["Config"]["Labels"]["com.amazonaws.ecs.container-name"].as_str()?.to_owned();
            Some((
                name,
                Inspected {
                    started: sortable_time(c["State"]["StartedAt"].as_str().unwrap_or_default()),
                    finished: sortable_time(c["State"]["FinishedAt"].as_str().unwrap_or_default()),
                    exit_code: c["State"]["ExitCode"].as_i64().unwrap_or(-1),
                    mounts: c["Mounts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["Name"].as_str().map(str::to_owned))
                        .collect(),
                    id: c["Id"].as_str().unwrap_or_default().to_owned(),
                },
            ))
        })
        .collect()
}

/// Registers and runs `td` with the real CLI; waits until every essential
/// container is RUNNING (and every container with a health check is
/// HEALTHY); checks that each container started after what it depends on.
fn run_and_check(
    ecs: &Aws<'_>,
    dir: &Path,
    td: &Value,
) -> (String, Value, BTreeMap<String, Inspected>) {
    let file = dir.join("runnable.json");
    std::fs::write(&file, td.to_string()).expect("write");
    ecs.ok(&[
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", file.display()),
    ]);
    let family = td["family"].as_str().expect("family");
    let run = ecs.ok(&["run-task", "--task-definition", family]);
    let arn =
        run["tasks"][0]["taskArn"].as_str().unwrap_or_else(|| panic!("no task: {run}")).to_owned();
    let deadline = Instant::now() + Duration::from_secs(150);
    let described = loop {
        let d = ecs.ok(&["describe-tasks", "--tasks", &arn]);
        let task = d["tasks"][0].clone();
        assert_ne!(task["lastStatus"], "STOPPED", "{family}: the task stopped: {task:#}");
        let containers = task["containers"].as_array().cloned().unwrap_or_default();
        let ready = task["lastStatus"] == "RUNNING"
            && containers.iter().all(|c| {
                let def = container(td, c["name"].as_str().unwrap_or_default());
                let running = def["essential"] == false || c["lastStatus"] == "RUNNING";
                let healthy = def.get("healthCheck").is_none() || c["healthStatus"] == "HEALTHY";
                running && healthy
            });
        if ready {
            break task;
        }
        assert!(
            Instant::now() < deadline,
            "{family}: not all containers RUNNING and HEALTHY in time: {task:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let inspected = inspect(&arn);
    for def in td["containerDefinitions"].as_array().expect("containers") {
        let name = def["name"].as_str().expect("name");
        let me = inspected
            .get(name)
            .unwrap_or_else(|| panic!("{family}: no Docker container for {name}"));
        for (on, condition) in depends(td, name) {
            let dep = &inspected[&on];
            match condition.as_str() {
                "SUCCESS" => {
                    assert_eq!(dep.exit_code, 0, "{family}: {on} exited 0 before {name}");
                    assert!(
                        dep.finished <= me.started,
                        "{family}: {name} started ({}) before {on} completed ({})",
                        me.started,
                        dep.finished
                    );
                }
                _ => assert!(
                    dep.started <= me.started,
                    "{family}: {name} started ({}) before {on} ({})",
                    me.started,
                    dep.started
                ),
            }
        }
    }
    (arn, described, inspected)
}

fn remove_volumes(prefix: &str) {
    let list = docker(&["volume", "ls", "-q", "--filter", &format!("name={prefix}")]);
    for v in list.split_whitespace() {
        let _ = Command::new("docker").args(["volume", "rm", "-f", v]).output();
    }
}

fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Our own file: a web server that waits for a HEALTHY database, both
/// sharing a named volume, the web server on a published port.
const OWN_COMPOSE: &str = r#"
name: ${PROJECT}
services:
  web:
    image: example/web:1.0
    command: ["sh", "-c", "mkdir -p /www && cat /shared/from-db > /shared/seen-by-web && cp /shared/from-db /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
      - "80"
    volumes:
      - shared:/shared
    depends_on:
      db:
        condition: service_healthy
    stop_grace_period: 2s
  db:
    image: example/db:1.0
    command: ["sh", "-c", "echo $${GREETING} > /shared/from-db && exec sleep 3600"]
    environment:
      GREETING: ${GREETING:-hello-from-compose}
    volumes:
      - shared:/shared
    healthcheck:
      test: ["CMD-SHELL", "test -s /shared/from-db"]
      interval: 1s
      retries: 3
volumes:
  shared:
"#;

#[test]
fn converted_files_run_on_docker_in_dependency_order() {
    assert!(
        Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success()),
        "Docker Engine is not reachable; run scripts/docker-up"
    );
    let server = Server::start();
    let ecs = Aws::new(&server, "ecs");
    let run_id = std::process::id();

    // Our own file.
    let dir = tempfile::tempdir().expect("project dir");
    std::fs::write(dir.path().join("compose.yaml"), OWN_COMPOSE).expect("compose file");
    let project = format!("wharf-compose-own-{run_id}");
    std::fs::write(dir.path().join(".env"), format!("PROJECT={project}\n")).expect(".env");
    let (mut td, warnings) = convert(dir.path(), "compose.yaml", &[]);
    assert!(
        warnings.contains("services.db.healthcheck.interval: 1 s is outside ECS's 5–300"),
        "{warnings}"
    );
    assert_eq!(depends(&td, "web"), [("db".to_owned(), "HEALTHY".to_owned())]);
    assert_eq!(container(&td, "web")["links"], json!(["db"]));
    on_busybox(&mut td, &["web", "db"]);
    let (arn, task, inspected) = run_and_check(&ecs, dir.path(), &td);
    let _cleanup = TaskContainers(arn.clone());
    let volume = format!("{project}_shared");
    assert!(
        inspected["web"].mounts.contains(&volume) && inspected["db"].mounts.contains(&volume),
        "both mount {volume}"
    );
    let seen = docker(&["exec", &inspected["db"].id, "/bin/busybox", "cat", "/shared/seen-by-web"]);
    assert_eq!(seen.trim(), "hello-from-compose", "what db wrote, web read, and db sees again");
    let hosts = docker(&["exec", &inspected["web"].id, "/bin/busybox", "cat", "/etc/hosts"]);
    assert!(
        hosts.split_whitespace().any(|w| w == "db"),
        "web resolves db by its service name:\n{hosts}"
    );
    let web =
        task["containers"].as_array().unwrap().iter().find(|c| c["name"] == "web").expect("web");
    let port = web["networkBindings"][0]["hostPort"].as_u64().expect("a dynamic host port");
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        if let Some(page) = http_get(&format!("127.0.0.1:{port}")) {
            break page;
        }
        assert!(Instant::now() < deadline, "nothing answers on the published port {port}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(page.contains("hello-from-compose"), "{page}");
    ecs.ok(&["stop-task", "--task", &arn]);
    drop(_cleanup);
    remove_volumes(&project);

    // Two corpus files: service_healthy and service_completed_successfully chains.
    for (file, family) in [
        ("docker__awesome-compose__alfresco.yml", format!("wharf-compose-alfresco-{run_id}")),
        ("apache__airflow__howto-docker-compose.yml", format!("wharf-compose-airflow-{run_id}")),
    ] {
        let dir = tempfile::tempdir().expect("project dir");
        std::fs::copy(corpus_dir().join(file), dir.path().join(file)).expect("copy");
        write_project_files(dir.path());
        let (mut td, _) = convert(dir.path(), file, &["--family", &family]);
        assert_eq!(td["family"], family.as_str());
        on_busybox(&mut td, &[]);
        let (arn, _, inspected) = run_and_check(&ecs, dir.path(), &td);
        let _cleanup = TaskContainers(arn.clone());
        assert_eq!(
            inspected.len(),
            td["containerDefinitions"].as_array().unwrap().len(),
            "{file}: every service ran"
        );
        ecs.ok(&["stop-task", "--task", &arn]);
        drop(_cleanup);
        remove_volumes(&family);
    }
}
