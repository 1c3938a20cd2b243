//! The mapping rules of [`super::convert_text`], one small file each, and the
//! errors, each naming its field.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::{convert_text, ComposeError, Converted, Source};

fn env_files(path: &Path) -> Result<String, String> {
    match path.file_name().and_then(|n| n.to_str()) {
        Some("app.env") => Ok("FROM_FILE=1\nSHARED=file\nEMPTY_IN_FILE\n".to_owned()),
        _ => Err("No such file or directory".to_owned()),
    }
}

fn try_convert(yaml: &str) -> Result<Converted, ComposeError> {
    let env: BTreeMap<String, String> = [("TAG", "1.2"), ("HOME", "/home/me"), ("FROM_ENV", "env")]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let source = Source { text: yaml, project_dir: Path::new("/srv/shop"), default_family: "shop" };
    convert_text(&source, None, &env, &env_files)
}

fn convert(yaml: &str) -> (Value, Vec<String>) {
    let c = try_convert(yaml).unwrap_or_else(|e| panic!("converts: {e}"));
    (c.task_definition, c.warnings)
}

fn error(yaml: &str) -> String {
    try_convert(yaml).expect_err("refused").to_string()
}

fn first(td: &Value) -> &Value {
    &td["containerDefinitions"][0]
}

#[test]
fn services_become_containers_in_a_bridge_task() {
    let (td, w) = convert("services:\n  web:\n    image: shop/web:${TAG}\n    command: bundle exec puma -C 'config/puma.rb'\n    entrypoint: [\"/bin/tini\", \"--\"]\n    user: 1000\n    working_dir: /app\n    hostname: web1\n");
    assert_eq!(td["family"], "shop");
    assert_eq!(td["networkMode"], "bridge");
    let c = first(&td);
    assert_eq!(c["name"], "web");
    assert_eq!(c["image"], "shop/web:1.2");
    assert_eq!(c["command"], json!(["bundle", "exec", "puma", "-C", "config/puma.rb"]));
    assert_eq!(c["entryPoint"], json!(["/bin/tini", "--"]));
    assert_eq!(
        (c["user"].clone(), c["workingDirectory"].clone(), c["hostname"].clone()),
        (json!("1000"), json!("/app"), json!("web1"))
    );
    assert_eq!(c["essential"], true);
    assert_eq!(c["memoryReservation"], super::DEFAULT_MEMORY_RESERVATION_MIB);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn the_family_comes_from_the_project_name_then_the_directory() {
    assert_eq!(convert("name: My Shop\nservices:\n  a:\n    image: x:1\n").0["family"], "My-Shop");
    let env: BTreeMap<String, String> =
        [("COMPOSE_PROJECT_NAME".to_owned(), "from-env".to_owned())].into();
    let source = Source {
        text: "name: ignored\nservices:\n  a:\n    image: x:1\n",
        project_dir: Path::new("/p"),
        default_family: "p",
    };
    let td = convert_text(&source, None, &env, &env_files).expect("ok").task_definition;
    assert_eq!(td["family"], "from-env");
    let explicit =
        convert_text(&source, Some("given"), &env, &env_files).expect("ok").task_definition;
    assert_eq!(explicit["family"], "given");
    let bad = convert_text(&source, Some("no spaces"), &env, &env_files).expect_err("refused");
    assert_eq!(
        bad.to_string(),
        "family: \"no spaces\": up to 255 letters, digits, hyphens and underscores"
    );
}

#[test]
fn environment_and_env_files_are_inlined() {
    let (td, w) = convert(
        "services:\n  web:\n    image: x:1\n    env_file: [app.env, {path: missing.env, required: false}]\n    environment:\n      SHARED: compose\n      FROM_ENV:\n      NUMBER: 5\n      FLAG: true\n      NOT_SET:\n",
    );
    assert_eq!(
        first(&td)["environment"],
        json!([
            {"name": "FROM_FILE", "value": "1"},
            {"name": "SHARED", "value": "compose"},
            {"name": "FROM_ENV", "value": "env"},
            {"name": "NUMBER", "value": "5"},
            {"name": "FLAG", "value": "true"},
        ])
    );
    assert_eq!(w, ["services.web.environment: EMPTY_IN_FILE, NOT_SET not set in the environment; left out, as Compose does"]);
    assert_eq!(
        error("services:\n  web:\n    image: x:1\n    env_file: nope.env\n"),
        "services.web.env_file: cannot read nope.env: No such file or directory"
    );
}

#[test]
fn depends_on_conditions_become_ecs_conditions() {
    let (td, w) = convert(
        "services:\n  web:\n    image: x:1\n    depends_on:\n      db: {condition: service_healthy}\n      migrate: {condition: service_completed_successfully}\n      cache: {condition: service_started, restart: true}\n  db:\n    image: pg:1\n    healthcheck: {test: [\"CMD\", \"pg_isready\"]}\n  migrate:\n    image: x:1\n    depends_on: [db]\n  cache:\n    image: redis:7\n",
    );
    let web = first(&td);
    assert_eq!(
        web["dependsOn"],
        json!([
            {"containerName": "db", "condition": "HEALTHY"},
            {"containerName": "migrate", "condition": "SUCCESS"},
            {"containerName": "cache", "condition": "START"},
        ])
    );
    assert_eq!(td["containerDefinitions"][2]["essential"], false, "migrate runs to completion");
    assert_eq!(
        td["containerDefinitions"][2]["dependsOn"],
        json!([{"containerName": "db", "condition": "START"}])
    );
    assert_eq!(web["links"], json!(["db", "cache"]), "migrate completes, so it is not linked");
    assert!(
        w.iter().any(|w| w.starts_with("services.web.depends_on.cache.restart: not carried over")),
        "{w:?}"
    );
}

#[test]
fn links_follow_the_start_order_with_every_alias() {
    let (td, w) = convert(
        "services:\n  api:\n    image: x:1\n    depends_on: [db]\n    links: [\"db:database\"]\n  db:\n    image: pg:1\n    container_name: pg-main\n    networks:\n      back: {aliases: [postgres, pg.local]}\n",
    );
    let api = first(&td);
    assert_eq!(api["links"], json!(["db", "db:pg-main", "db:postgres", "db:database"]));
    assert!(
        td["containerDefinitions"][1].get("links").is_none(),
        "db starts first and links nothing"
    );
    assert!(w.iter().any(|w| w.contains("\"pg.local\" cannot be an ECS link alias")), "{w:?}");
    assert!(w.iter().any(|w| w.starts_with("networks (used by db): not carried over")), "{w:?}");
}

#[test]
fn a_healthy_dependency_without_a_healthcheck_waits_for_start() {
    let (td, w) = convert("services:\n  web:\n    image: x:1\n    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: pg:1\n");
    assert_eq!(first(&td)["dependsOn"], json!([{"containerName": "db", "condition": "START"}]));
    assert!(w[0].contains("db has no healthcheck test here"), "{w:?}");
}

#[test]
fn resources_become_cpu_units_and_mib() {
    let (td, w) = convert(
        "services:\n  a:\n    image: x:1\n    deploy:\n      replicas: 2\n      resources:\n        limits: {cpus: '0.5', memory: 512m, pids: 100}\n        reservations: {cpus: '0.25', memory: 256M}\n",
    );
    let a = first(&td);
    assert_eq!(
        (a["cpu"].clone(), a["memory"].clone(), a["memoryReservation"].clone()),
        (json!(512), json!(512), json!(256))
    );
    assert!(
        w.iter().any(|w| w.starts_with("services.a.deploy.replicas: not carried over")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.starts_with("services.a.deploy.resources.limits.pids: not carried over")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w
                .starts_with("services.a.deploy.resources.reservations.cpus: not carried over")),
        "{w:?}"
    );
    let (td, _) = convert(
        "services:\n  b:\n    image: x:1\n    cpus: 1.5\n    mem_limit: 4m\n    cpu_shares: 10\n",
    );
    assert_eq!(
        (first(&td)["cpu"].clone(), first(&td)["memory"].clone()),
        (json!(1536), json!(6)),
        "4m is raised to Docker's 6 MiB"
    );
}

#[test]
fn a_reservation_above_the_limit_is_refused() {
    assert_eq!(
        error("services:\n  b:\n    image: x:1\n    mem_limit: 1g\n    mem_reservation: 1536m\n"),
        "services.b.mem_reservation: 1536 MiB is more than the memory limit of 1024 MiB"
    );
    assert_eq!(
        error("services:\n  b:\n    image: x:1\n    cpus: lots\n"),
        "services.b.cpus: \"lots\" is not a number of CPUs"
    );
    assert_eq!(
        error("services:\n  b:\n    image: x:1\n    mem_limit: big\n"),
        "services.b.mem_limit: \"big\" is not a byte value (e.g. 512m, 1g)"
    );
}

#[test]
fn docker_options_ecs_has() {
    let (td, w) = convert(
        "services:\n  a:\n    image: x:1\n    labels: [com.example.team=shop]\n    ulimits: {nofile: {soft: 1024, hard: 4096}, nproc: 512, bogus: 1}\n    stop_grace_period: 1m30s\n    init: true\n    privileged: false\n    read_only: true\n    cap_add: [CAP_NET_ADMIN, SYS_TIME, NOT_A_CAP]\n    cap_drop: [ALL]\n    extra_hosts: [\"db.local:10.0.0.5\", \"gw=host-gateway\"]\n    dns: 1.1.1.1\n    dns_search: [example.com]\n    tty: true\n    stdin_open: true\n    shm_size: 256mb\n    sysctls: {net.core.somaxconn: 1024}\n    tmpfs: /run\n    security_opt: [\"no-new-privileges:true\", \"seccomp:unconfined\"]\n    devices: [\"/dev/fuse:/dev/fuse:rw\"]\n    logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}\n    platform: linux/amd64\n    x-custom: ignored\n",
    );
    let a = first(&td);
    assert_eq!(a["dockerLabels"], json!({"com.example.team": "shop"}));
    assert_eq!(
        a["ulimits"],
        json!([{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}, {"name": "nproc", "softLimit": 512, "hardLimit": 512}])
    );
    assert_eq!(a["stopTimeout"], 90);
    assert_eq!(
        (a["privileged"].clone(), a["readonlyRootFilesystem"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(a["extraHosts"], json!([{"hostname": "db.local", "ipAddress": "10.0.0.5"}]));
    assert_eq!(
        (a["dnsServers"].clone(), a["dnsSearchDomains"].clone()),
        (json!(["1.1.1.1"]), json!(["example.com"]))
    );
    assert_eq!((a["pseudoTerminal"].clone(), a["interactive"].clone()), (json!(true), json!(true)));
    assert_eq!(a["systemControls"], json!([{"namespace": "net.core.somaxconn", "value": "1024"}]));
    assert_eq!(a["dockerSecurityOptions"], json!(["no-new-privileges"]));
    assert_eq!(
        a["logConfiguration"],
        json!({"logDriver": "json-file", "options": {"max-file": "3", "max-size": "10m"}})
    );
    let linux = &a["linuxParameters"];
    assert_eq!(linux["initProcessEnabled"], true);
    assert_eq!(linux["sharedMemorySize"], 256);
    assert_eq!(linux["capabilities"], json!({"add": ["NET_ADMIN", "SYS_TIME"], "drop": ["ALL"]}));
    assert_eq!(linux["tmpfs"], json!([{"containerPath": "/run", "size": 64}]));
    assert_eq!(
        linux["devices"],
        json!([{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse", "permissions": ["read", "write"]}])
    );
    for expected in [
        "services.a.ulimits.bogus: not carried over",
        "services.a.cap_add: NOT_A_CAP is not carried over",
        "services.a.extra_hosts: gw:host-gateway is not carried over",
        "services.a.security_opt: seccomp:unconfined is not carried over",
        "services.a.tmpfs: tmpfs /run has no size",
        "services.a.platform: not carried over",
    ] {
        assert!(w.iter().any(|w| w.starts_with(expected)), "missing {expected:?} in {w:?}");
    }
    assert!(!w.iter().any(|w| w.contains("x-custom")), "extensions are not warned about: {w:?}");
}

#[test]
fn stop_grace_periods_are_clamped_to_ecs_maximum() {
    let (td, w) = convert("services:\n  a:\n    image: x:1\n    stop_grace_period: 5m\n");
    assert_eq!(first(&td)["stopTimeout"], 120);
    assert_eq!(
        w,
        ["services.a.stop_grace_period: 300 s is more than ECS's 120 s stopTimeout; 120 s is used"]
    );
}

#[test]
fn restart_is_checked_and_left_out_with_one_warning() {
    let (td, w) = convert("services:\n  a:\n    image: x:1\n    restart: always\n  b:\n    image: x:1\n    restart: on-failure:3\n");
    assert!(first(&td).get("restartPolicy").is_none());
    assert!(w.iter().any(|w| w.starts_with("services.b.restart: at most 3 restarts")), "{w:?}");
    assert!(w.iter().any(|w| w.starts_with("restart (services a, b): not carried over")), "{w:?}");
    assert_eq!(
        error("services:\n  a:\n    image: x:1\n    restart: sometimes\n"),
        "services.a.restart: \"sometimes\" is not no, always, on-failure[:N] or unless-stopped"
    );
}

#[test]
fn restart_no_marks_a_run_once_job_not_essential() {
    let (td, _) = convert(
        "services:\n  app:\n    image: x:1\n  seed:\n    image: x:1\n    restart: \"no\"\n",
    );
    assert_eq!(td["containerDefinitions"][1]["essential"], false);
    let (td, _) = convert("services:\n  seed:\n    image: x:1\n    restart: \"no\"\n");
    assert_eq!(first(&td)["essential"], true, "a task needs an essential container");
}

#[test]
fn host_networking_when_every_service_asks_for_it() {
    let (td, _) = convert("services:\n  a:\n    image: x:1\n    network_mode: host\n  b:\n    image: x:1\n    network_mode: host\n");
    assert_eq!(td["networkMode"], "host");
    assert!(first(&td).get("links").is_none());
    let (td, w) = convert("services:\n  a:\n    image: x:1\n    network_mode: host\n  b:\n    image: x:1\n    pid: host\n");
    assert_eq!(
        (td["networkMode"].clone(), td["pidMode"].clone()),
        (json!("bridge"), json!("host"))
    );
    assert!(w[0].starts_with("services.a.network_mode: host is not carried over"), "{w:?}");
}

#[test]
fn errors_name_the_service_and_field() {
    assert_eq!(error("services:\n  web:\n    build: .\n"), "services.web.build: a service that is built needs an image: ECS runs images, it does not build them");
    assert_eq!(
        error("services:\n  web:\n    ports: [\"8080:80\", \"80:abc\"]\n    image: x:1\n"),
        "services.web.ports[1]: \"80:abc\" is not a port"
    );
    assert_eq!(
        error("services:\n  web:\n    image: x:1\n    depends_on: [db]\n"),
        "services.web.depends_on[0]: service \"db\" is not defined"
    );
    assert_eq!(
        error("services:\n  a:\n    image: x:1\n    depends_on: [b]\n  b:\n    image: x:1\n    depends_on: [a]\n"),
        "services.a.depends_on: dependency cycle among a, b"
    );
    assert_eq!(error("services:\n  a:\n    image: x:1\n    depends_on: {b: {condition: service_done}}\n  b:\n    image: x:1\n"), "services.a.depends_on.b.condition: \"service_done\" is not service_started, service_healthy or service_completed_successfully");
    assert_eq!(
        error("services:\n  a:\n    image: ${NOPE:?set NOPE}\n"),
        "services.a.image: required variable NOPE is missing a value: set NOPE"
    );
    assert_eq!(
        error("services:\n  a:\n    image: x:1\n    volumes: [data:/data]\n"),
        "services.a.volumes[0]: volume \"data\" is not declared in the top-level volumes"
    );
    assert!(error("services:\n  a:\n    image: x:1\n    healthcheck: {test: [\"CMD\", \"x\"], retries: [1]}\n").starts_with("services.a.healthcheck.retries: "));
    assert!(error("services:\n  a: [\n").starts_with("not valid YAML: "));
    assert_eq!(error("version: '3'\n"), "services: a compose file needs services");
    let eleven: String = (0..11).map(|i| format!("  s{i}:\n    image: x:1\n")).collect();
    assert_eq!(
        error(&format!("services:\n{eleven}")),
        "services: 11 services; an ECS task definition holds at most 10 containers"
    );
    assert_eq!(
        error("services:\n  a:\n    image: x:1\n    depends_on: [b]\n  b:\n    image: x:1\n    profiles: [debug]\n"),
        "services.a.depends_on[0]: service \"b\" is only in a profile, so it is not converted"
    );
}

#[test]
fn unknown_keys_and_top_level_sections_are_warned_about_never_dropped_unseen() {
    let (_, w) = convert("services:\n  a:\n    image: x:1\n    build: .\n    expose: [80]\n    oom_score_adj: 5\n    healthcheck: {test: [\"CMD\", \"x\"], start_interval: 1s}\nsecrets:\n  s: {file: ./s}\nx-anchor: {}\nvolumes:\n  v: {driver: local, weird: 1}\n");
    for expected in [
        "secrets: not carried over",
        "volumes.v.weird: not carried over",
        "services.a.build: not carried over (ECS runs images; the image x:1 is used)",
        "services.a.expose: not needed",
        "services.a.healthcheck.start_interval: not carried over",
        "services.a.oom_score_adj: not carried over",
    ] {
        assert!(w.iter().any(|w| w.starts_with(expected)), "missing {expected:?} in {w:?}");
    }
    assert!(!w.iter().any(|w| w.contains("x-anchor")), "{w:?}");
}

#[test]
fn merge_keys_and_anchors_are_applied() {
    let (td, _) = convert("x-common: &common\n  image: shop/app:1\n  environment: &env\n    A: '1'\nservices:\n  web:\n    <<: *common\n    environment:\n      <<: *env\n      B: '2'\n");
    assert_eq!(first(&td)["image"], "shop/app:1");
    assert_eq!(
        first(&td)["environment"],
        json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]),
        "own keys first, then the merged ones (serde_yaml_ng apply_merge)"
    );
}

#[test]
fn service_names_outside_ecs_alphabet_are_renamed() {
    let (td, w) = convert("services:\n  web.v2:\n    image: x:1\n  api:\n    image: x:1\n    depends_on: [web.v2]\n    volumes_from: [\"web.v2:ro\"]\n");
    assert_eq!(first(&td)["name"], "web-v2");
    assert_eq!(
        td["containerDefinitions"][1]["dependsOn"],
        json!([{"containerName": "web-v2", "condition": "START"}])
    );
    assert_eq!(
        td["containerDefinitions"][1]["volumesFrom"],
        json!([{"sourceContainer": "web-v2", "readOnly": true}])
    );
    assert!(w[0].starts_with("services.web.v2: the ECS container is named \"web-v2\""), "{w:?}");
}
