use super::*;

use serde_json::{json, Value};

const ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef";

fn taskdef(v: Value) -> TaskDefinition {
    serde_json::from_value(v).expect("task definition")
}

fn container(v: Value) -> ContainerDefinition {
    serde_json::from_value(v).expect("container definition")
}

struct Fixture {
    def: TaskDefinition,
    docker_names: HashMap<String, String>,
    volume_names: HashMap<String, String>,
    extra_env: Vec<(String, String)>,
    network: NetworkAttachment,
    default_dns: Vec<String>,
}

impl Fixture {
    fn new(def: Value) -> Self {
        let mut def = taskdef(def);
        def.family.get_or_insert_with(|| "fam".to_owned());
        def.revision.get_or_insert(3);
        let docker_names = def
            .container_definitions
            .iter()
            .flatten()
            .filter_map(|c| c.name.clone())
            .map(|n| {
                let d = docker_name("fam", 3, &n, "0123456789abcdef0123456789abcdef");
                (n, d)
            })
            .collect();
        Self {
            def,
            docker_names,
            volume_names: HashMap::new(),
            extra_env: Vec::new(),
            network: NetworkAttachment::Bridge,
            default_dns: Vec::new(),
        }
    }

    fn ctx(&self) -> TaskContext<'_> {
        TaskContext {
            task_arn: ARN,
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/default",
            instance_arn: "arn:aws:ecs:us-east-1:123456789012:container-instance/default/i1",
            definition: &self.def,
            docker_names: &self.docker_names,
            volume_names: &self.volume_names,
            extra_env: &self.extra_env,
            network: self.network.clone(),
            cgroup_parent: None,
            default_dns: &self.default_dns,
        }
    }

    fn map(&self, c: Value) -> Result<ContainerCreateBody, SpecError> {
        container_config(&self.ctx(), &container(c))
    }

    fn ok(&self, c: Value) -> ContainerCreateBody {
        self.map(c).expect("maps")
    }
}

fn host(b: &ContainerCreateBody) -> &HostConfig {
    b.host_config.as_ref().expect("host config")
}

#[test]
fn basic_fields_and_labels() {
    let mut f = Fixture::new(json!({"containerDefinitions": []}));
    f.extra_env = vec![
        ("ECS_CONTAINER_METADATA_URI_V4".into(), "http://169.254.170.2/v4/x".into()),
        ("A".into(), "from-secret".into()),
        ("S".into(), "first".into()),
        ("S".into(), "second".into()),
    ];
    let b = f.ok(json!({
        "name": "web", "image": "nginx:1", "command": ["a", "b"], "entryPoint": ["/bin/sh", "-c"],
        "environment": [{"name": "A", "value": "1"}, {"name": "B"}, {"name": "A", "value": "2"}],
        "workingDirectory": "/srv", "user": "1000:1000", "interactive": true, "pseudoTerminal": true,
        "dockerLabels": {"team": "x", "com.amazonaws.ecs.cluster": "spoofed"},
        "stopTimeout": 7, "hostname": "h", "readonlyRootFilesystem": true, "privileged": false,
        "dockerSecurityOptions": ["no-new-privileges"], "disableNetworking": false
    }));
    assert_eq!(b.image.as_deref(), Some("nginx:1"));
    assert_eq!(b.cmd, Some(vec!["a".to_owned(), "b".to_owned()]));
    assert_eq!(b.entrypoint, Some(vec!["/bin/sh".to_owned(), "-c".to_owned()]));
    assert_eq!(
        b.env,
        Some(vec![
            "A=2".to_owned(),
            "B=".to_owned(),
            "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/x".to_owned(),
            "S=first".to_owned(),
        ])
    );
    assert_eq!(b.working_dir.as_deref(), Some("/srv"));
    assert_eq!(b.user.as_deref(), Some("1000:1000"));
    assert_eq!((b.open_stdin, b.tty), (Some(true), Some(true)));
    assert_eq!(b.stop_timeout, Some(7));
    assert_eq!(b.hostname.as_deref(), Some("h"));
    let labels = b.labels.as_ref().unwrap();
    assert_eq!(labels["team"], "x");
    assert_eq!(labels[LABEL_CLUSTER], "default");
    assert_eq!(labels[LABEL_TASK_ARN], ARN);
    assert_eq!(labels[LABEL_CONTAINER_NAME], "web");
    assert_eq!(labels[LABEL_FAMILY], "fam");
    assert_eq!(labels[LABEL_REVISION], "3");
    let h = host(&b);
    assert_eq!(h.network_mode.as_deref(), Some("bridge"));
    assert_eq!(h.readonly_rootfs, Some(true));
    assert_eq!(h.privileged, Some(false));
    assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_owned()]));
    assert_eq!(b.network_disabled, Some(false));
}

#[test]
fn missing_image_and_name() {
    let f = Fixture::new(json!({}));
    let e = f.map(json!({"name": "web"})).unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[web].image is required");
    assert!(f.map(json!({"image": "x"})).is_err());
    let e = f.map(json!({"name": "w", "image": "x", "environment": [{"value": "v"}]})).unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[w].environment[0].name is required");
}

#[test]
fn cpu_shares_follow_the_agent() {
    let f = Fixture::new(json!({}));
    let shares = |f: &Fixture, c: Value| host(&f.ok(c)).cpu_shares;
    assert_eq!(shares(&f, json!({"name": "a", "image": "x"})), Some(2));
    assert_eq!(shares(&f, json!({"name": "a", "image": "x", "cpu": 0})), Some(2));
    assert_eq!(shares(&f, json!({"name": "a", "image": "x", "cpu": 1})), Some(2));
    assert_eq!(shares(&f, json!({"name": "a", "image": "x", "cpu": 512})), Some(512));
    assert_eq!(shares(&f, json!({"name": "a", "image": "x", "cpu": 999999})), Some(MAX_CPU_SHARES));
    let t = Fixture::new(json!({"cpu": "1 vCPU"}));
    assert_eq!(shares(&t, json!({"name": "a", "image": "x"})), Some(1024));
    assert_eq!(shares(&t, json!({"name": "a", "image": "x", "cpu": 128})), Some(128));
}

#[test]
fn memory_limits() {
    let f = Fixture::new(json!({}));
    let h = f.ok(json!({"name": "a", "image": "x", "memory": 512, "memoryReservation": 256}));
    assert_eq!(host(&h).memory, Some(512 * MIB));
    assert_eq!(host(&h).memory_reservation, Some(256 * MIB));
    let h = f.ok(json!({"name": "a", "image": "x", "memory": 4, "memoryReservation": 1}));
    assert_eq!(host(&h).memory, Some(MIN_MEMORY_BYTES));
    assert_eq!(host(&h).memory_reservation, Some(MIN_MEMORY_BYTES));
    let h = f.ok(json!({"name": "a", "image": "x"}));
    assert_eq!((host(&h).memory, host(&h).memory_reservation), (None, None));
    let t = Fixture::new(json!({"memory": "1GB"}));
    let h = t.ok(json!({"name": "a", "image": "x", "memoryReservation": 128}));
    assert_eq!(host(&h).memory, Some(1024 * MIB));
    assert_eq!(host(&h).memory_reservation, Some(128 * MIB));
}

#[test]
fn ports_by_network_mode() {
    let mut f = Fixture::new(json!({}));
    let c = json!({"name": "a", "image": "x", "portMappings": [
        {"containerPort": 80},
        {"containerPort": 443, "hostPort": 8443},
        {"containerPort": 53, "hostPort": 0, "protocol": "udp"},
        {"containerPortRange": "9000-9002"}
    ]});
    let b = f.ok(c.clone());
    let exposed = b.exposed_ports.clone().unwrap();
    assert_eq!(exposed, ["80/tcp", "443/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp"]);
    let bindings = host(&b).port_bindings.clone().unwrap();
    let hp = |k: &str| bindings[k].as_ref().unwrap()[0].host_port.clone().unwrap();
    assert_eq!(hp("80/tcp"), "");
    assert_eq!(hp("443/tcp"), "8443");
    assert_eq!(hp("53/udp"), "");
    assert_eq!(hp("9001/tcp"), "");
    // The wire shape Docker expects.
    let wire = serde_json::to_value(&b).unwrap();
    assert_eq!(wire["ExposedPorts"]["80/tcp"], json!({}));
    assert_eq!(wire["HostConfig"]["PortBindings"]["443/tcp"], json!([{"HostPort": "8443"}]));

    f.network = NetworkAttachment::Host;
    let b = f.ok(c.clone());
    assert_eq!(b.exposed_ports.as_ref().map(Vec::len), Some(6));
    assert_eq!(host(&b).port_bindings, None);
    assert_eq!(host(&b).network_mode.as_deref(), Some("host"));

    f.network = NetworkAttachment::None;
    let b = f.ok(c.clone());
    assert_eq!((b.exposed_ports.clone(), host(&b).port_bindings.clone()), (None, None));

    // Wharf's resolver when the definition names no DNS servers; the
    // definition's own when it does.
    f.network = NetworkAttachment::Bridge;
    f.default_dns = vec!["169.254.170.2".into()];
    let b = f.ok(json!({"name": "a", "image": "x"}));
    assert_eq!(host(&b).dns, Some(vec!["169.254.170.2".to_owned()]));
    let b = f.ok(json!({"name": "a", "image": "x", "dnsServers": ["1.1.1.1"]}));
    assert_eq!(host(&b).dns, Some(vec!["1.1.1.1".to_owned()]));

    f.network = NetworkAttachment::Container("pause-id".into());
    let b = f.ok(json!({"name": "a", "image": "x", "hostname": "h", "dnsServers": ["1.1.1.1"],
        "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.1"}], "portMappings": [{"containerPort": 80}]}));
    assert_eq!(host(&b).network_mode.as_deref(), Some("container:pause-id"));
    assert_eq!(b.exposed_ports, None);
    assert_eq!(b.hostname, None);
    assert_eq!(host(&b).dns, None);
    assert_eq!(host(&b).extra_hosts, None);

    f.network = NetworkAttachment::Bridge;
    let e =
        f.map(json!({"name": "a", "image": "x", "portMappings": [{"hostPort": 80}]})).unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[a].portMappings[0].containerPort is required");
    let e = f
        .map(json!({"name": "a", "image": "x", "portMappings": [{"containerPort": 70000}]}))
        .unwrap_err();
    assert!(e.to_string().contains("portMappings[0].containerPort"), "{e}");
}

#[test]
fn links_and_volumes_from() {
    let mut f = Fixture::new(json!({"containerDefinitions": [
        {"name": "db", "image": "x"}, {"name": "data", "image": "x"}, {"name": "app", "image": "x"}
    ]}));
    let b = f.ok(json!({"name": "app", "image": "x", "links": ["db:database", "data"],
        "volumesFrom": [{"sourceContainer": "data", "readOnly": true}, {"sourceContainer": "db"}]}));
    let db = &f.docker_names["db"];
    let data = &f.docker_names["data"];
    assert_eq!(host(&b).links, Some(vec![format!("{db}:database"), format!("{data}:data")]));
    assert_eq!(host(&b).volumes_from, Some(vec![format!("{data}:ro"), db.clone()]));
    let e = f.map(json!({"name": "app", "image": "x", "links": ["nope"]})).unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[app].links[0]: unknown container 'nope'");
    let e = f.map(json!({"name": "app", "image": "x", "links": ["a:b:c"]})).unwrap_err();
    assert!(e.to_string().contains("links[0]"), "{e}");
    let e = f
        .map(json!({"name": "app", "image": "x", "volumesFrom": [{"sourceContainer": "ghost"}]}))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "containerDefinitions[app].volumesFrom[0].sourceContainer: unknown container 'ghost'"
    );
    f.network = NetworkAttachment::Host;
    let e = f.map(json!({"name": "app", "image": "x", "links": ["db"]})).unwrap_err();
    assert!(e.to_string().contains("links are not supported with network mode host"), "{e}");
}

#[test]
fn mount_points() {
    let mut f = Fixture::new(json!({"volumes": [
        {"name": "logs", "host": {"sourcePath": "/var/log/app"}},
        {"name": "scratch"},
        {"name": "shared", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}
    ]}));
    let c = json!({"name": "a", "image": "x", "mountPoints": [
        {"sourceVolume": "logs", "containerPath": "/logs", "readOnly": true},
        {"sourceVolume": "scratch", "containerPath": "/scratch"},
        {"sourceVolume": "shared", "containerPath": "/shared", "readOnly": false}
    ]});
    // Without provisioning, only the host path resolves.
    let e = f.map(c.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "containerDefinitions[a].mountPoints[1].sourceVolume: unresolved volume 'scratch'"
    );
    f.volume_names.insert("scratch".into(), "ecs-fam-3-scratch-0123".into());
    f.volume_names.insert("shared".into(), "shared".into());
    let b = f.ok(c);
    assert_eq!(
        host(&b).binds,
        Some(vec![
            "/var/log/app:/logs:ro".to_owned(),
            "ecs-fam-3-scratch-0123:/scratch".to_owned(),
            "shared:/shared".to_owned(),
        ])
    );
    let e = f
        .map(json!({"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "ghost", "containerPath": "/g"}]}))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "containerDefinitions[a].mountPoints[0].sourceVolume: unknown volume 'ghost'"
    );
    let e = f
        .map(json!({"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "logs"}]}))
        .unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[a].mountPoints[0].containerPath is required");
}

#[test]
fn health_checks() {
    let f = Fixture::new(json!({}));
    let b = f.ok(json!({"name": "a", "image": "x", "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost"]}}));
    let h = b.healthcheck.unwrap();
    assert_eq!(h.test, Some(vec!["CMD-SHELL".to_owned(), "curl -f localhost".to_owned()]));
    assert_eq!(h.interval, Some(30 * SECOND_NS));
    assert_eq!(h.timeout, Some(5 * SECOND_NS));
    assert_eq!(h.retries, Some(3));
    assert_eq!(h.start_period, Some(0));
    let b = f
        .ok(json!({"name": "a", "image": "x", "healthCheck": {"command": ["true"], "interval": 5,
        "timeout": 2, "retries": 1, "startPeriod": 10}}));
    let h = b.healthcheck.unwrap();
    assert_eq!(h.test, Some(vec!["CMD".to_owned(), "true".to_owned()]));
    assert_eq!(
        (h.interval, h.timeout, h.retries, h.start_period),
        (Some(5 * SECOND_NS), Some(2 * SECOND_NS), Some(1), Some(10 * SECOND_NS))
    );
    let e = f.map(json!({"name": "a", "image": "x", "healthCheck": {"command": []}})).unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[a].healthCheck.command is required");
    let e =
        f.map(json!({"name": "a", "image": "x", "healthCheck": {"command": ["CMD"]}})).unwrap_err();
    assert!(e.to_string().contains("healthCheck.command"), "{e}");
}

#[test]
fn linux_parameters_ulimits_sysctls_dns_logs() {
    let f = Fixture::new(json!({}));
    let b = f.ok(json!({"name": "a", "image": "x", "memory": 100,
        "linuxParameters": {
            "capabilities": {"add": ["SYS_ADMIN"], "drop": ["NET_RAW"]},
            "initProcessEnabled": true, "sharedMemorySize": 64,
            "tmpfs": [{"containerPath": "/dev/tmpfs", "size": 100, "mountOptions": ["ro", "noexec"]}],
            "devices": [{"hostPath": "/dev/xvda", "containerPath": "/dev/sda", "permissions": ["read"]},
                        {"hostPath": "/dev/fuse"}],
            "maxSwap": 50, "swappiness": 10
        },
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
        "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
        "dnsServers": ["1.1.1.1"], "dnsSearchDomains": ["example.com"],
        "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.1"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}
    }));
    let h = host(&b);
    assert_eq!(h.cap_add, Some(vec!["SYS_ADMIN".to_owned()]));
    assert_eq!(h.cap_drop, Some(vec!["NET_RAW".to_owned()]));
    assert_eq!(h.init, Some(true));
    assert_eq!(h.shm_size, Some(64 * MIB));
    assert_eq!(h.tmpfs.as_ref().unwrap()["/dev/tmpfs"], "ro,noexec,size=100m");
    let devices = h.devices.as_ref().unwrap();
    assert_eq!(devices[0].path_in_container.as_deref(), Some("/dev/sda"));
    assert_eq!(devices[0].cgroup_permissions.as_deref(), Some("r"));
    assert_eq!(devices[1].path_in_container.as_deref(), Some("/dev/fuse"));
    assert_eq!(devices[1].cgroup_permissions.as_deref(), Some("rwm"));
    assert_eq!(h.memory_swap, Some(150 * MIB));
    assert_eq!(h.memory_swappiness, Some(10));
    let u = &h.ulimits.as_ref().unwrap()[0];
    assert_eq!((u.name.as_deref(), u.soft, u.hard), (Some("nofile"), Some(1024), Some(4096)));
    assert_eq!(h.sysctls.as_ref().unwrap()["net.core.somaxconn"], "1024");
    assert_eq!(h.dns, Some(vec!["1.1.1.1".to_owned()]));
    assert_eq!(h.dns_search, Some(vec!["example.com".to_owned()]));
    assert_eq!(h.extra_hosts, Some(vec!["db:10.0.0.1".to_owned()]));
    assert_eq!(h.log_config.as_ref().unwrap().typ.as_deref(), Some("json-file"));
    let rotation = h.log_config.as_ref().unwrap().config.clone().unwrap();
    assert_eq!(rotation["max-size"], "64m", "an awslogs container's local log is bounded");
    assert_eq!(rotation["max-file"], "4");

    let b = f.ok(json!({"name": "a", "image": "x",
        "logConfiguration": {"logDriver": "syslog", "options": {"tag": "t"}},
        "linuxParameters": {"maxSwap": 10}}));
    let lc = host(&b).log_config.clone().unwrap();
    assert_eq!(lc.typ.as_deref(), Some("syslog"));
    assert_eq!(lc.config.unwrap()["tag"], "t");
    let nb = f.ok(json!({"name": "a", "image": "x",
        "logConfiguration": {"logDriver": "syslog", "options": {"mode": "non-blocking"}}}));
    let config = host(&nb).log_config.clone().unwrap().config.unwrap();
    assert_eq!(config["max-buffer-size"], "10m", "the ECS agent's non-blocking buffer");
    // No hard limit: maxSwap cannot apply.
    assert_eq!(host(&b).memory_swap, None);

    let e = f
        .map(json!({"name": "a", "image": "x", "linuxParameters": {"tmpfs": [{"containerPath": "/t"}]}}))
        .unwrap_err();
    assert_eq!(e.to_string(), "containerDefinitions[a].linuxParameters.tmpfs[0].size is required");
}

#[test]
fn task_namespaces() {
    let mut f = Fixture::new(json!({"pidMode": "host", "ipcMode": "none"}));
    let b = f.ok(json!({"name": "a", "image": "x"}));
    assert_eq!(host(&b).pid_mode.as_deref(), Some("host"));
    assert_eq!(host(&b).ipc_mode.as_deref(), Some("none"));
    f.def.pid_mode = serde_json::from_value(json!("task")).ok();
    f.def.ipc_mode = serde_json::from_value(json!("task")).ok();
    let e = f.map(json!({"name": "a", "image": "x"})).unwrap_err();
    assert!(e.to_string().starts_with("pidMode: 'task' needs"), "{e}");
    f.docker_names.insert(NAMESPACE_PAUSE_CONTAINER.into(), "ecs-ns".into());
    let b = f.ok(json!({"name": "a", "image": "x"}));
    assert_eq!(host(&b).pid_mode.as_deref(), Some("container:ecs-ns"));
    assert_eq!(host(&b).ipc_mode.as_deref(), Some("container:ecs-ns"));
}

#[test]
fn docker_names() {
    assert_eq!(
        docker_name("curltest", 24, "curl", "cca48e8dcadd97805600"),
        "ecs-curltest-24-curl-cca48e8dcadd97805600"
    );
    assert_eq!(docker_name("my_fam", 1, "web.app_1", "abc/def"), "ecs-my_fam-1-webapp1-abcdef");
    assert_eq!(cluster_short_name("arn:aws:ecs:us-east-1:1:cluster/prod"), "prod");
    assert_eq!(cluster_short_name("prod"), "prod");
}

/// Every container of every task definition in the corpus (vendored under
/// `tests/corpus/taskdefs`, provenance in its README) maps, once its volumes
/// and containers are resolved the way the driver resolves them.
#[test]
fn corpus_maps() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/taskdefs");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the vendored corpus {}: {e}", dir.display()));
    let mut mapped = 0;
    let mut failures = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else { continue };
        if let Some(inner) = v.get("taskDefinition").cloned() {
            v = inner;
        }
        // Keep the members the mapping reads; the rest is the registrar's
        // business (and some files carry template placeholders there).
        let mut keep = serde_json::Map::new();
        for k in [
            "family",
            "containerDefinitions",
            "volumes",
            "networkMode",
            "cpu",
            "memory",
            "pidMode",
            "ipcMode",
        ] {
            if let Some(x) = v.get(k) {
                keep.insert(k.to_owned(), x.clone());
            }
        }
        let Ok(def) = serde_json::from_value::<TaskDefinition>(Value::Object(keep)) else {
            continue;
        };
        let mut f = Fixture::new(json!({}));
        f.def = def;
        f.def.revision.get_or_insert(1);
        f.def.family.get_or_insert_with(|| "fam".to_owned());
        f.docker_names = f
            .def
            .container_definitions
            .iter()
            .flatten()
            .filter_map(|c| c.name.clone())
            .map(|n| (n.clone(), format!("docker-{n}")))
            .collect();
        f.docker_names.insert(NAMESPACE_PAUSE_CONTAINER.into(), "ns".into());
        f.volume_names = f
            .def
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.name.clone())
            .map(|n| (n.clone(), format!("vol-{n}")))
            .collect();
        f.network = match f.def.network_mode.as_ref().map(|m| m.as_str()) {
            Some("host") => NetworkAttachment::Host,
            Some("none") => NetworkAttachment::None,
            Some("awsvpc") => NetworkAttachment::Container("pause".into()),
            _ => NetworkAttachment::Bridge,
        };
        for c in f.def.container_definitions.clone().unwrap_or_default() {
            match container_config(&f.ctx(), &c) {
                Ok(body) => {
                    serde_json::to_value(&body).expect("serializes");
                    mapped += 1;
                }
                Err(e) => failures.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(failures.is_empty(), "corpus failures:\n{}", failures.join("\n"));
    assert!(mapped >= 100, "only {mapped} containers mapped");
}
