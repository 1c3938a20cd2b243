//! One service → one ECS container definition: image, command, environment
//! (`env_file` inlined: ECS `environmentFiles` come only from S3), ports,
//! volumes, health check, resources, restart policy and the Docker options
//! ECS has (`user`, `ulimits`, `sysctls`, `extra_hosts`, `logging`...).
//! `links`, `dependsOn` and `essential` come from [`super::ordering`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value;
use wharf_model::ecs::shapes::{
    ContainerDefinition, ContainerRestartPolicy, Device, DeviceCgroupPermission, HostEntry,
    KernelCapabilities, KeyValuePair, LinuxParameters, LogConfiguration, LogDriver, SystemControl,
    Ulimit, UlimitName,
};

use super::bytes::{parse_bytes, to_mib_ceil};
use super::duration::parse_seconds;
use super::spec::{EnvFileEntry, EnvFiles, ListOrMap, Scalar, Service, StringOrList};
use super::volumes::{labels, scalar_text, tmpfs_entry, Mount, TaskVolumes};
use super::{dotenv, health, ports, words, ComposeError, DEFAULT_MEMORY_RESERVATION_MIB};

/// ECS's longest `stopTimeout` (seconds).
const MAX_STOP_TIMEOUT: i64 = 120;
/// Docker's smallest memory limit, which ECS also enforces (MiB).
const MIN_MEMORY_MIB: i64 = 6;

/// Linux capabilities ECS accepts in `linuxParameters.capabilities`.
const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "SYSLOG",
    "WAKE_ALARM",
];

/// What converting one service needs from around it.
pub struct ServiceContext<'a, 'b> {
    /// The service name in the file.
    pub service: &'a str,
    /// Its ECS container name.
    pub container: &'a str,
    /// Variables (for `environment` entries without a value).
    pub env: &'a BTreeMap<String, String>,
    /// Where relative `env_file` paths start.
    pub project_dir: &'a Path,
    /// Reads an `env_file`.
    pub read_env_file: &'a dyn Fn(&Path) -> Result<String, String>,
    /// The task's volumes.
    pub volumes: &'b mut TaskVolumes<'a>,
    /// Warnings so far.
    pub warnings: &'b mut Vec<String>,
}

impl std::fmt::Debug for ServiceContext<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext").field("service", &self.service).finish_non_exhaustive()
    }
}

/// The container definition of `spec` (without `links`, `dependsOn`, `essential`).
pub fn container(
    spec: &Service,
    cx: &mut ServiceContext<'_, '_>,
) -> Result<ContainerDefinition, ComposeError> {
    let at = format!("services.{}", cx.service);
    let image = match (&spec.image, &spec.build) {
        (Some(image), build) if !image.trim().is_empty() => {
            if build.is_some() {
                cx.warnings.push(format!(
                    "{at}.build: not carried over (ECS runs images; the image {image} is used)"
                ));
            }
            image.clone()
        }
        (_, Some(_)) => {
            return Err(ComposeError::invalid(
                format!("{at}.build"),
                "a service that is built needs an image: ECS runs images, it does not build them",
            ))
        }
        _ => return Err(ComposeError::invalid(format!("{at}.image"), "a service needs an image")),
    };
    let mut def = ContainerDefinition {
        name: Some(cx.container.to_owned()),
        image: Some(image),
        command: spec.command.as_ref().map(|c| command(c, &format!("{at}.command"))).transpose()?,
        entry_point: spec
            .entrypoint
            .as_ref()
            .map(|c| command(c, &format!("{at}.entrypoint")))
            .transpose()?,
        environment: non_empty(environment(spec, cx, &at)?),
        user: spec.user.as_ref().map(Scalar::text),
        working_directory: spec.working_dir.clone(),
        hostname: spec.hostname.clone(),
        docker_labels: spec
            .labels
            .as_ref()
            .map(|l| labels(l, &format!("{at}.labels")))
            .transpose()?,
        privileged: spec.privileged,
        readonly_root_filesystem: spec.read_only,
        pseudo_terminal: spec.tty,
        interactive: spec.stdin_open,
        dns_servers: spec.dns.as_ref().map(list),
        dns_search_domains: spec.dns_search.as_ref().map(list),
        ..ContainerDefinition::default()
    };
    let mut port_mappings = Vec::new();
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        port_mappings.extend(ports::port_mappings(p, &format!("{at}.ports[{i}]"), cx.warnings)?);
    }
    def.port_mappings = non_empty(port_mappings);
    if spec.expose.is_some() {
        cx.warnings.push(format!(
            "{at}.expose: not needed (linked containers reach every port); left out"
        ));
    }
    let mut linux = LinuxParameters::default();
    let mut mount_points = Vec::new();
    let mut tmpfs = Vec::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        match cx.volumes.mount(v, &format!("{at}.volumes[{i}]"), cx.container, cx.warnings)? {
            Mount::Point(p) => mount_points.push(p),
            Mount::Tmpfs(t) => tmpfs.push(t),
            Mount::Skipped => {}
        }
    }
    if let Some(t) = &spec.tmpfs {
        for (i, entry) in list(t).iter().enumerate() {
            let field = if matches!(t, StringOrList::String(_)) {
                format!("{at}.tmpfs")
            } else {
                format!("{at}.tmpfs[{i}]")
            };
            tmpfs.push(tmpfs_entry(entry, &field, cx.warnings)?);
        }
    }
    def.mount_points = non_empty(mount_points);
    linux.tmpfs = non_empty(tmpfs);
    def.volumes_from = non_empty(
        spec.volumes_from
            .iter()
            .flatten()
            .filter_map(|v| volumes_from(v, &at, cx.warnings))
            .collect(),
    );
    if let Some(h) = &spec.healthcheck {
        def.health_check = health::health_check(h, &at, cx.warnings)?;
    }
    for key in spec.deploy.iter().flat_map(|d| d.other.keys()) {
        let why = match key.as_str() {
            "replicas" => "run that many tasks (run-task --count, or a service's desiredCount)",
            "placement" => "use placement constraints and strategies of run-task or a service",
            _ => "no ECS container equivalent",
        };
        cx.warnings.push(format!("{at}.deploy.{key}: not carried over ({why})"));
    }
    resources(spec, &at, &mut def, cx.warnings)?;
    def.restart_policy = restart_policy(spec, &at, cx.warnings)?;
    options(spec, &at, &mut def, &mut linux, cx.warnings)?;
    if linux != LinuxParameters::default() {
        def.linux_parameters = Some(linux);
    }
    for key in spec.other.keys().filter(|k| !k.starts_with("x-")) {
        let why = match key.as_str() {
            "platform" => "set runtimePlatform by hand if the image needs it",
            "scale" => "run that many tasks (run-task --count, or a service's desiredCount)",
            "stop_signal" => "ECS always stops with SIGTERM, then SIGKILL",
            "secrets" | "configs" => {
                "use ECS secrets (SSM Parameter Store, Secrets Manager) or a volume"
            }
            "pull_policy" => "the agent pulls as ECS does",
            _ => "no ECS equivalent",
        };
        cx.warnings.push(format!("{at}.{key}: not carried over ({why})"));
    }
    Ok(def)
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() {
        None
    } else {
        Some(v)
    }
}

fn list(s: &StringOrList) -> Vec<String> {
    match s {
        StringOrList::String(s) => vec![s.clone()],
        StringOrList::List(items) => items.iter().map(Scalar::text).collect(),
    }
}

/// `command`/`entrypoint`: the string form split as Compose splits it.
fn command(c: &StringOrList, field: &str) -> Result<Vec<String>, ComposeError> {
    match c {
        StringOrList::String(s) => words::split(s).map_err(|e| ComposeError::invalid(field, e)),
        StringOrList::List(items) => Ok(items.iter().map(Scalar::text).collect()),
    }
}

/// `env_file`s, then `environment` over them; a name without a value takes
/// the variable's value, or is left out when it is not set (as Compose does).
fn environment(
    spec: &Service,
    cx: &mut ServiceContext<'_, '_>,
    at: &str,
) -> Result<Vec<KeyValuePair>, ComposeError> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut unset = Vec::new();
    let mut put = |name: String, value: Option<String>, unset: &mut Vec<String>| match value
        .or_else(|| cx.env.get(&name).cloned())
    {
        Some(v) => match vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => vars.push((name, v)),
        },
        None => unset.push(name),
    };
    let files: Vec<(String, bool, String)> = match &spec.env_file {
        None => Vec::new(),
        Some(EnvFiles::One(p)) => vec![(p.clone(), true, format!("{at}.env_file"))],
        Some(EnvFiles::Many(list)) => list
            .iter()
            .enumerate()
            .map(|(i, e)| match e {
                EnvFileEntry::Path(p) => (p.clone(), true, format!("{at}.env_file[{i}]")),
                EnvFileEntry::Long { path, required } => {
                    (path.clone(), required.unwrap_or(true), format!("{at}.env_file[{i}]"))
                }
            })
            .collect(),
    };
    for (path, required, field) in files {
        let text = match (cx.read_env_file)(&cx.project_dir.join(&path)) {
            Ok(text) => text,
            Err(_) if !required => continue,
            Err(e) => return Err(ComposeError::invalid(field, format!("cannot read {path}: {e}"))),
        };
        for (name, value) in dotenv::parse(&text)
            .map_err(|e| ComposeError::invalid(&field, format!("{path}: {e}")))?
        {
            put(name, value, &mut unset);
        }
    }
    match &spec.environment {
        None => {}
        Some(ListOrMap::List(items)) => {
            for item in items {
                let text = item.text();
                match text.split_once('=') {
                    Some((k, v)) => put(k.to_owned(), Some(v.to_owned()), &mut unset),
                    None => put(text, None, &mut unset),
                }
            }
        }
        Some(ListOrMap::Map(map)) => {
            for (k, v) in map {
                let name =
                    k.as_str().map(str::to_owned).or_else(|| scalar_text(k)).unwrap_or_default();
                let value = match v {
                    Value::Null => None,
                    other => Some(scalar_text(other).ok_or_else(|| {
                        ComposeError::invalid(
                            format!("{at}.environment.{name}"),
                            "a string, number or boolean",
                        )
                    })?),
                };
                put(name, value, &mut unset);
            }
        }
    }
    if !unset.is_empty() {
        cx.warnings.push(format!(
            "{at}.environment: {} not set in the environment; left out, as Compose does",
            unset.join(", ")
        ));
    }
    Ok(vars.into_iter().map(|(n, v)| KeyValuePair { name: Some(n), value: Some(v) }).collect())
}

/// CPU units, memory limit and reservation (MiB): `deploy.resources` first,
/// then the older `cpus`, `cpu_shares`, `mem_limit`, `mem_reservation`.
fn resources(
    spec: &Service,
    at: &str,
    def: &mut ContainerDefinition,
    warnings: &mut Vec<String>,
) -> Result<(), ComposeError> {
    let res = spec.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let limits = res.and_then(|r| r.limits.as_ref());
    let reservations = res.and_then(|r| r.reservations.as_ref());
    for (name, set) in [("limits", limits), ("reservations", reservations)] {
        for key in set.iter().flat_map(|s| s.other.keys()) {
            warnings.push(format!("{at}.deploy.resources.{name}.{key}: not carried over"));
        }
    }
    let cpu_sources = [
        (limits.and_then(|l| l.cpus.as_ref()), "deploy.resources.limits.cpus", 1024.0),
        (spec.cpus.as_ref(), "cpus", 1024.0),
        (spec.cpu_shares.as_ref(), "cpu_shares", 1.0),
        (reservations.and_then(|r| r.cpus.as_ref()), "deploy.resources.reservations.cpus", 1024.0),
    ];
    let mut cpu_from = None;
    for (value, field, scale) in cpu_sources {
        let Some(value) = value else { continue };
        if let Some(used) = cpu_from {
            warnings.push(format!("{at}.{field}: not carried over (ECS has one cpu value per container, taken from {used})"));
            continue;
        }
        let n: f64 = value
            .text()
            .trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| {
                ComposeError::invalid(
                    format!("{at}.{field}"),
                    format!("\"{}\" is not a number of CPUs", value.text()),
                )
            })?;
        let units = (n * scale).round();
        if units > f64::from(i32::MAX) {
            return Err(ComposeError::invalid(
                format!("{at}.{field}"),
                format!("\"{}\" is too large", value.text()),
            ));
        }
        // In range: checked just above.
        #[allow(clippy::cast_possible_truncation)]
        let units = units as i32;
        if units > 0 {
            def.cpu = Some(units);
        }
        cpu_from = Some(field);
    }
    let memory = |value: Option<&Scalar>,
                  field: &str,
                  warnings: &mut Vec<String>|
     -> Result<Option<i32>, ComposeError> {
        let Some(value) = value else { return Ok(None) };
        let bytes = parse_bytes(&value.text())
            .map_err(|e| ComposeError::invalid(format!("{at}.{field}"), e))?;
        let mut mib = i64::try_from(to_mib_ceil(bytes)).unwrap_or(i64::MAX);
        if mib < MIN_MEMORY_MIB {
            warnings.push(format!("{at}.{field}: {mib} MiB is below the {MIN_MEMORY_MIB} MiB Docker and ECS accept; {MIN_MEMORY_MIB} MiB is used"));
            mib = MIN_MEMORY_MIB;
        }
        i32::try_from(mib).map(Some).map_err(|_| {
            ComposeError::invalid(
                format!("{at}.{field}"),
                format!("\"{}\" is too large", value.text()),
            )
        })
    };
    let (limit, limit_field) = pick(
        (limits.and_then(|l| l.memory.as_ref()), "deploy.resources.limits.memory"),
        (spec.mem_limit.as_ref(), "mem_limit"),
        at,
        warnings,
    );
    let (reserve, reserve_field) = pick(
        (reservations.and_then(|r| r.memory.as_ref()), "deploy.resources.reservations.memory"),
        (spec.mem_reservation.as_ref(), "mem_reservation"),
        at,
        warnings,
    );
    def.memory = memory(limit, limit_field, warnings)?;
    def.memory_reservation = memory(reserve, reserve_field, warnings)?;
    if let (Some(m), Some(r)) = (def.memory, def.memory_reservation) {
        if r > m {
            return Err(ComposeError::invalid(
                format!("{at}.{reserve_field}"),
                format!("{r} MiB is more than the memory limit of {m} MiB"),
            ));
        }
    }
    if def.memory.is_none() && def.memory_reservation.is_none() {
        def.memory_reservation = Some(DEFAULT_MEMORY_RESERVATION_MIB);
    }
    Ok(())
}

/// The first of two spellings of one setting; the second is warned about when both are set.
fn pick<'s>(
    (a, a_name): (Option<&'s Scalar>, &'static str),
    (b, b_name): (Option<&'s Scalar>, &'static str),
    at: &str,
    warnings: &mut Vec<String>,
) -> (Option<&'s Scalar>, &'static str) {
    match (a, b) {
        (Some(a), Some(_)) => {
            warnings.push(format!("{at}.{b_name}: not carried over (taken from {a_name})"));
            (Some(a), a_name)
        }
        (Some(a), None) => (Some(a), a_name),
        (None, b) => (b, b_name),
    }
}

/// `restart` (or `deploy.restart_policy`) → the ECS container restart policy.
fn restart_policy(
    spec: &Service,
    at: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<ContainerRestartPolicy>, ComposeError> {
    let policy = spec.deploy.as_ref().and_then(|d| d.restart_policy.as_ref());
    let (value, field) = match (&spec.restart, policy) {
        (Some(r), p) => {
            if p.is_some() {
                warnings.push(format!(
                    "{at}.deploy.restart_policy: not carried over (taken from restart)"
                ));
            }
            (r.text(), format!("{at}.restart"))
        }
        (None, Some(p)) => {
            for key in p.other.keys() {
                warnings.push(format!("{at}.deploy.restart_policy.{key}: not carried over"));
            }
            let base = match p.condition.as_deref().unwrap_or("any") {
                "any" => "always",
                "on-failure" => "on-failure",
                "none" => "no",
                other => {
                    return Err(ComposeError::invalid(
                        format!("{at}.deploy.restart_policy.condition"),
                        format!("\"{other}\" is not none, on-failure or any"),
                    ))
                }
            };
            let value = match (&p.max_attempts, base) {
                (Some(n), "on-failure") => format!("on-failure:{}", n.text()),
                (Some(_), _) => {
                    warnings.push(format!("{at}.deploy.restart_policy.max_attempts: not carried over (ECS restarts without a count)"));
                    base.to_owned()
                }
                (None, _) => base.to_owned(),
            };
            (value, format!("{at}.deploy.restart_policy"))
        }
        (None, None) => return Ok(None),
    };
    let enabled =
        ContainerRestartPolicy { enabled: Some(true), ..ContainerRestartPolicy::default() };
    match value.as_str() {
        "no" | "false" => Ok(None),
        "always" | "unless-stopped" => Ok(Some(enabled)),
        "on-failure" => {
            Ok(Some(ContainerRestartPolicy { ignored_exit_codes: Some(vec![0]), ..enabled }))
        }
        v => match v.strip_prefix("on-failure:").map(|n| n.parse::<u32>()) {
            Some(Ok(n)) => {
                warnings.push(format!("{field}: at most {n} restarts is not carried over (ECS restarts without a count)"));
                Ok(Some(ContainerRestartPolicy { ignored_exit_codes: Some(vec![0]), ..enabled }))
            }
            _ => Err(ComposeError::invalid(
                field,
                format!("\"{v}\" is not no, always, on-failure[:N] or unless-stopped"),
            )),
        },
    }
}

/// The remaining Docker options ECS has.
fn options(
    spec: &Service,
    at: &str,
    def: &mut ContainerDefinition,
    linux: &mut LinuxParameters,
    warnings: &mut Vec<String>,
) -> Result<(), ComposeError> {
    if let Some(ulimits) = &spec.ulimits {
        let mut out = Vec::new();
        for (k, v) in ulimits {
            let name = k.as_str().unwrap_or_default();
            let field = format!("{at}.ulimits.{name}");
            let limit = |v: Option<&Value>, which: &str| {
                v.and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()).ok_or_else(|| {
                    ComposeError::invalid(
                        format!("{field}{which}"),
                        "a whole number (or {soft, hard})",
                    )
                })
            };
            let (soft, hard) = if v.is_mapping() {
                (limit(v.get("soft"), ".soft")?, limit(v.get("hard"), ".hard")?)
            } else {
                let n = limit(Some(v), "")?;
                (n, n)
            };
            let ulimit_name = UlimitName::from(name);
            if matches!(ulimit_name, UlimitName::Unlisted(_)) {
                warnings.push(format!("{field}: not carried over (not a ulimit ECS knows)"));
                continue;
            }
            out.push(Ulimit {
                name: Some(ulimit_name),
                soft_limit: Some(soft),
                hard_limit: Some(hard),
            });
        }
        def.ulimits = non_empty(out);
    }
    if let Some(grace) = &spec.stop_grace_period {
        let field = format!("{at}.stop_grace_period");
        let seconds = parse_seconds(&grace.text()).map_err(|e| ComposeError::invalid(&field, e))?;
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        if seconds > MAX_STOP_TIMEOUT {
            warnings.push(format!("{field}: {seconds} s is more than ECS's {MAX_STOP_TIMEOUT} s stopTimeout; {MAX_STOP_TIMEOUT} s is used"));
        }
        def.stop_timeout = i32::try_from(seconds.min(MAX_STOP_TIMEOUT)).ok();
    }
    linux.init_process_enabled = spec.init;
    if let Some(shm) = &spec.shm_size {
        let field = format!("{at}.shm_size");
        let bytes = parse_bytes(&shm.text()).map_err(|e| ComposeError::invalid(&field, e))?;
        linux.shared_memory_size = Some(
            i32::try_from(to_mib_ceil(bytes).max(1))
                .map_err(|_| ComposeError::invalid(&field, "too large"))?,
        );
    }
    let caps = |list: &Option<Vec<String>>,
                field: &str,
                warnings: &mut Vec<String>|
     -> Option<Vec<String>> {
        let mut out = Vec::new();
        for c in list.iter().flatten() {
            let upper = c.to_ascii_uppercase();
            let name = upper.strip_prefix("CAP_").unwrap_or(&upper).to_owned();
            if CAPABILITIES.contains(&name.as_str()) {
                out.push(name);
            } else {
                warnings.push(format!(
                    "{at}.{field}: {c} is not carried over (not a capability ECS accepts)"
                ));
            }
        }
        non_empty(out)
    };
    let (add, drop) =
        (caps(&spec.cap_add, "cap_add", warnings), caps(&spec.cap_drop, "cap_drop", warnings));
    if add.is_some() || drop.is_some() {
        linux.capabilities = Some(KernelCapabilities { add, drop });
    }
    if let Some(hosts) = &spec.extra_hosts {
        def.extra_hosts = non_empty(extra_hosts(hosts, &format!("{at}.extra_hosts"), warnings)?);
    }
    if let Some(sysctls) = &spec.sysctls {
        def.system_controls = non_empty(
            labels(sysctls, &format!("{at}.sysctls"))?
                .into_iter()
                .map(|(k, v)| SystemControl { namespace: Some(k), value: Some(v) })
                .collect(),
        );
    }
    if let Some(logging) = &spec.logging {
        let field = format!("{at}.logging");
        match logging.driver.as_deref().map(LogDriver::from) {
            Some(LogDriver::Unlisted(d)) => warnings.push(format!("{field}.driver: {d} is not carried over (ECS takes json-file, syslog, journald, gelf, fluentd, awslogs, splunk or awsfirelens)")),
            None => warnings.push(format!("{field}: options without a driver are not carried over")),
            Some(driver) => {
                let options = match &logging.options {
                    None => None,
                    Some(m) => Some(labels(&ListOrMap::Map(m.clone()), &format!("{field}.options"))?),
                };
                def.log_configuration = Some(LogConfiguration { log_driver: Some(driver), options, secret_options: None });
            }
        }
    }
    let mut security = Vec::new();
    for opt in spec.security_opt.iter().flatten() {
        let (key, value) = opt.split_once([':', '=']).unwrap_or((opt.as_str(), ""));
        match (key, value) {
            ("no-new-privileges", "" | "true") => security.push("no-new-privileges".to_owned()),
            ("no-new-privileges", "false") => {}
            ("apparmor" | "label", v) if !v.is_empty() => security.push(format!("{key}:{v}")),
            _ => warnings.push(format!("{at}.security_opt: {opt} is not carried over (ECS takes no-new-privileges, apparmor: and label:)")),
        }
    }
    def.docker_security_options = non_empty(security);
    let mut devices = Vec::new();
    for (i, d) in spec.devices.iter().flatten().enumerate() {
        let field = format!("{at}.devices[{i}]");
        let Some(text) = d.as_str() else {
            warnings.push(format!("{field}: the long syntax is not carried over"));
            continue;
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (host, container, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] => (*h, *c, *p),
            _ => {
                return Err(ComposeError::invalid(
                    field,
                    format!("\"{text}\" is not HOST[:CONTAINER[:PERMISSIONS]]"),
                ))
            }
        };
        let mut permissions = Vec::new();
        for p in perms.chars() {
            permissions.push(match p {
                'r' => DeviceCgroupPermission::Read,
                'w' => DeviceCgroupPermission::Write,
                'm' => DeviceCgroupPermission::Mknod,
                _ => {
                    return Err(ComposeError::invalid(
                        field,
                        format!("\"{perms}\": permissions are r, w and m"),
                    ))
                }
            });
        }
        devices.push(Device {
            host_path: Some(host.to_owned()),
            container_path: Some(container.to_owned()),
            permissions: Some(permissions),
        });
    }
    linux.devices = non_empty(devices);
    Ok(())
}

/// `extra_hosts`: `host:ip` / `host=ip` entries or a map.
fn extra_hosts(
    hosts: &ListOrMap,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<HostEntry>, ComposeError> {
    let pairs: Vec<(String, String)> = match hosts {
        ListOrMap::Map(_) => labels(hosts, field)?.into_iter().collect(),
        ListOrMap::List(items) => items
            .iter()
            .map(|i| {
                let text = i.text();
                let (h, ip) =
                    text.split_once('=').or_else(|| text.split_once(':')).ok_or_else(|| {
                        ComposeError::invalid(field, format!("\"{text}\" is not HOST:IP"))
                    })?;
                Ok((h.to_owned(), ip.trim_matches(['[', ']']).to_owned()))
            })
            .collect::<Result<_, ComposeError>>()?,
    };
    let mut out = Vec::new();
    for (host, ip) in pairs {
        if ip.parse::<std::net::IpAddr>().is_err() {
            warnings.push(format!(
                "{field}: {host}:{ip} is not carried over (ECS takes an IP address)"
            ));
            continue;
        }
        out.push(HostEntry { hostname: Some(host), ip_address: Some(ip) });
    }
    Ok(out)
}

/// `volumes_from`: `service`, `service:ro`, `container:name[:ro]`.
fn volumes_from(
    text: &str,
    at: &str,
    warnings: &mut Vec<String>,
) -> Option<wharf_model::ecs::shapes::VolumeFrom> {
    let (source, mode) = match text.split_once(':') {
        Some(("container", _)) => {
            warnings.push(format!("{at}.volumes_from: {text} is not carried over (only services of this file can be ECS volumesFrom)"));
            return None;
        }
        Some(("service", rest)) => rest.split_once(':').unwrap_or((rest, "rw")),
        Some((s, m)) => (s, m),
        None => (text, "rw"),
    };
    Some(wharf_model::ecs::shapes::VolumeFrom {
        source_container: Some(source.to_owned()),
        read_only: (mode == "ro").then_some(true),
    })
}
