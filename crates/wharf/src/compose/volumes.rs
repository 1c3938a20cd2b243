//! Service `volumes` and `tmpfs` → ECS task `volumes`, `mountPoints` and
//! `linuxParameters.tmpfs`:
//! - a named volume (declared at the top level) → a task volume with
//!   `dockerVolumeConfiguration` (scope `shared`, `autoprovision` unless
//!   `external`), so it outlives the task as a Compose volume outlives
//!   `docker compose down`, and every service mounting it shares it. It is
//!   named `<family>_<name>` as Compose names it `<project>_<name>` (so two
//!   projects' `db` volumes stay apart), or by its `name:`; an external
//!   volume keeps its own name;
//! - a bind mount → a task volume with `host.sourcePath`, relative paths
//!   resolved against the compose file's directory;
//! - an anonymous volume (`- /cache`) → a task-scoped Docker volume;
//! - tmpfs → `linuxParameters.tmpfs` (ECS requires a size: 64 MiB when none
//!   is given, with a warning).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};
use wharf_model::ecs::shapes::{
    DockerVolumeConfiguration, HostVolumeProperties, MountPoint, Scope, Tmpfs, Volume,
};

use super::bytes::{parse_bytes, to_mib_ceil};
use super::spec::{ListOrMap, ServiceVolume, TopVolume};
use super::ComposeError;

/// Size (MiB) of a tmpfs that names none.
pub const DEFAULT_TMPFS_MIB: i32 = 64;

/// Mount options ECS accepts for tmpfs (the part before any `=`).
const TMPFS_OPTIONS: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "bind",
    "rbind",
    "unbindable",
    "runbindable",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// What a service volume becomes.
#[derive(Debug)]
pub enum Mount {
    /// A mount point of a task volume.
    Point(MountPoint),
    /// A tmpfs.
    Tmpfs(Tmpfs),
    /// Nothing (a warning says why).
    Skipped,
}

/// The task's volumes, collected as services mount them.
#[derive(Debug)]
pub struct TaskVolumes<'a> {
    declared: BTreeMap<String, TopVolume>,
    family: &'a str,
    project_dir: &'a Path,
    home: Option<&'a str>,
    volumes: Vec<Volume>,
    by_key: BTreeMap<String, String>,
}

impl<'a> TaskVolumes<'a> {
    /// Reads the top-level `volumes`; `family` prefixes volume names, `home`
    /// expands `~` in bind sources.
    pub fn new(
        top: Option<&Value>,
        family: &'a str,
        project_dir: &'a Path,
        home: Option<&'a str>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ComposeError> {
        let mut declared = BTreeMap::new();
        if let Some(top) = top.filter(|t| !t.is_null()) {
            let map = top
                .as_mapping()
                .ok_or_else(|| ComposeError::invalid("volumes", "a map of volume names"))?;
            for (key, value) in map {
                let name = key.as_str().unwrap_or_default().to_owned();
                let volume: TopVolume = if value.is_null() {
                    TopVolume::default()
                } else {
                    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
                        ComposeError::invalid(
                            format!("volumes.{name}.{}", e.path()),
                            e.inner().to_string(),
                        )
                    })?
                };
                for key in volume.other.keys() {
                    warnings.push(format!("volumes.{name}.{key}: not carried over"));
                }
                declared.insert(name, volume);
            }
        }
        Ok(TaskVolumes {
            declared,
            family,
            project_dir,
            home,
            volumes: Vec::new(),
            by_key: BTreeMap::new(),
        })
    }

    /// The task volumes used so far.
    pub fn into_volumes(self) -> Vec<Volume> {
        self.volumes
    }

    /// What `volumes[i]` of a service becomes; `container` names anonymous volumes.
    pub fn mount(
        &mut self,
        volume: &ServiceVolume,
        field: &str,
        container: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Mount, ComposeError> {
        match volume {
            ServiceVolume::Short(text) => self.short(text, field, container, warnings),
            ServiceVolume::Long(long) => {
                for (key, value) in &long.other {
                    let default_bind = key == "bind"
                        && value.get("create_host_path").is_some_and(|v| v.as_bool() == Some(true))
                        && value.as_mapping().is_some_and(|m| m.len() == 1);
                    if !default_bind {
                        warnings.push(format!("{field}.{key}: not carried over"));
                    }
                }
                let read_only = long.read_only.unwrap_or(false);
                let target = long.target.as_deref().filter(|t| !t.is_empty());
                match long.kind.as_str() {
                    "tmpfs" => {
                        let target = target.ok_or_else(|| {
                            ComposeError::invalid(
                                format!("{field}.target"),
                                "a tmpfs needs a target",
                            )
                        })?;
                        let size = match long.tmpfs.as_ref().and_then(|t| t.size.as_ref()) {
                            Some(s) => Some(mib(&s.text(), &format!("{field}.tmpfs.size"))?),
                            None => None,
                        };
                        let mut options = Vec::new();
                        if let Some(mode) = long.tmpfs.as_ref().and_then(|t| t.mode.as_ref()) {
                            options.push(format!("mode={}", mode.text()));
                        }
                        if read_only {
                            options.push("ro".to_owned());
                        }
                        Ok(Mount::Tmpfs(tmpfs(target, size, options, field, warnings)))
                    }
                    "volume" | "bind" => {
                        let target = target.ok_or_else(|| {
                            ComposeError::invalid(
                                format!("{field}.target"),
                                "a volume needs a target",
                            )
                        })?;
                        let source = long.source.as_deref().filter(|s| !s.is_empty());
                        let volume = match (long.kind.as_str(), source) {
                            ("bind", None) => {
                                return Err(ComposeError::invalid(
                                    format!("{field}.source"),
                                    "a bind mount needs a source",
                                ))
                            }
                            ("bind", Some(s)) => self.bind(s, field)?,
                            (_, Some(s)) => self.named(s, field)?,
                            (_, None) => self.anonymous(container),
                        };
                        Ok(Mount::Point(point(volume, target, read_only)))
                    }
                    other => {
                        warnings
                            .push(format!("{field}: a volume of type {other} is not carried over"));
                        Ok(Mount::Skipped)
                    }
                }
            }
        }
    }

    fn short(
        &mut self,
        text: &str,
        field: &str,
        container: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Mount, ComposeError> {
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [t] => (None, *t, None),
            [s, t] => (Some(*s), *t, None),
            [s, t, m] => (Some(*s), *t, Some(*m)),
            _ => {
                return Err(ComposeError::invalid(
                    field,
                    format!("\"{text}\" is not SOURCE:TARGET[:MODE]"),
                ))
            }
        };
        if target.is_empty() || !target.starts_with('/') {
            return Err(ComposeError::invalid(
                field,
                format!("\"{text}\": the target must be an absolute path in the container"),
            ));
        }
        let mut read_only = false;
        for option in mode.unwrap_or_default().split(',').filter(|o| !o.is_empty()) {
            match option {
                "ro" => read_only = true,
                "rw" => {}
                other => {
                    warnings.push(format!("{field}: mount option \"{other}\" is not carried over"))
                }
            }
        }
        let volume = match source {
            None => self.anonymous(container),
            Some(s) if is_path(s) => self.bind(s, field)?,
            Some(s) => self.named(s, field)?,
        };
        Ok(Mount::Point(point(volume, target, read_only)))
    }

    /// The task volume for a top-level named volume.
    fn named(&mut self, name: &str, field: &str) -> Result<String, ComposeError> {
        let key = format!("named:{name}");
        if let Some(existing) = self.by_key.get(&key) {
            return Ok(existing.clone());
        }
        let top = self.declared.get(name).cloned().ok_or_else(|| {
            ComposeError::invalid(
                field,
                format!("volume \"{name}\" is not declared in the top-level volumes"),
            )
        })?;
        let field = format!("volumes.{name}");
        let (external, external_name) = match &top.external {
            Some(Value::Bool(b)) => (*b, None),
            Some(Value::Mapping(m)) => {
                (true, m.get("name").and_then(Value::as_str).map(str::to_owned))
            }
            Some(Value::Null) | None => (false, None),
            Some(_) => {
                return Err(ComposeError::invalid(
                    format!("{field}.external"),
                    "true, false or {name: ...}",
                ))
            }
        };
        let docker_name = match (top.name.clone().or(external_name), external) {
            (Some(given), _) => given,
            (None, true) => name.to_owned(),
            (None, false) => format!("{}_{name}", self.family),
        };
        let configuration = DockerVolumeConfiguration {
            scope: Some(Scope::Shared),
            autoprovision: Some(!external),
            driver: top.driver.clone(),
            driver_opts: top
                .driver_opts
                .as_ref()
                .map(|m| strings(m, &format!("{field}.driver_opts")))
                .transpose()?,
            labels: top
                .labels
                .as_ref()
                .map(|l| labels(l, &format!("{field}.labels")))
                .transpose()?,
        };
        let volume_name = self.unique(&sanitize(&docker_name));
        self.volumes.push(Volume {
            name: Some(volume_name.clone()),
            docker_volume_configuration: Some(configuration),
            ..Volume::default()
        });
        self.by_key.insert(key, volume_name.clone());
        Ok(volume_name)
    }

    /// The task volume for a bind mount of `source`.
    fn bind(&mut self, source: &str, field: &str) -> Result<String, ComposeError> {
        let path = if let Some(rest) = source.strip_prefix('~') {
            let home = self.home.ok_or_else(|| {
                ComposeError::invalid(
                    field,
                    format!("\"{source}\" starts with ~ but HOME is not set"),
                )
            })?;
            PathBuf::from(format!("{home}{rest}"))
        } else {
            self.project_dir.join(source)
        };
        let path = normalize(&path);
        let shown = path.display().to_string();
        let key = format!("bind:{shown}");
        if let Some(existing) = self.by_key.get(&key) {
            return Ok(existing.clone());
        }
        let relative = path.strip_prefix(self.project_dir).unwrap_or(&path).display().to_string();
        let base = if relative.is_empty() { "project".to_owned() } else { sanitize(&relative) };
        let name = self.unique(&format!("bind-{base}"));
        self.volumes.push(Volume {
            name: Some(name.clone()),
            host: Some(HostVolumeProperties { source_path: Some(shown) }),
            ..Volume::default()
        });
        self.by_key.insert(key, name.clone());
        Ok(name)
    }

    /// A task-scoped Docker volume for an anonymous volume of `container`.
    fn anonymous(&mut self, container: &str) -> String {
        let name = self.unique(&format!("{container}-anonymous"));
        self.volumes.push(Volume {
            name: Some(name.clone()),
            docker_volume_configuration: Some(DockerVolumeConfiguration {
                scope: Some(Scope::Task),
                ..DockerVolumeConfiguration::default()
            }),
            ..Volume::default()
        });
        name
    }

    fn unique(&self, base: &str) -> String {
        let base: String = base.chars().take(240).collect();
        let taken = |n: &str| self.volumes.iter().any(|v| v.name.as_deref() == Some(n));
        if !taken(&base) {
            return base;
        }
        (2..).map(|i| format!("{base}-{i}")).find(|n| !taken(n)).unwrap_or(base)
    }
}

/// A service's `tmpfs` entry (`/run` or `/run:size=64m,mode=1777`).
pub fn tmpfs_entry(
    text: &str,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<Tmpfs, ComposeError> {
    let (path, opts) = text.split_once(':').unwrap_or((text, ""));
    if !path.starts_with('/') {
        return Err(ComposeError::invalid(
            field,
            format!("\"{text}\": a tmpfs path must be absolute"),
        ));
    }
    let mut size = None;
    let mut options = Vec::new();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("size", value)) => size = Some(mib(value, field)?),
            _ => options.push(opt.to_owned()),
        }
    }
    Ok(tmpfs(path, size, options, field, warnings))
}

fn tmpfs(
    path: &str,
    size: Option<i32>,
    options: Vec<String>,
    field: &str,
    warnings: &mut Vec<String>,
) -> Tmpfs {
    let size = size.unwrap_or_else(|| {
        warnings.push(format!(
            "{field}: tmpfs {path} has no size; ECS requires one, {DEFAULT_TMPFS_MIB} MiB is used"
        ));
        DEFAULT_TMPFS_MIB
    });
    let (kept, dropped): (Vec<String>, Vec<String>) = options
        .into_iter()
        .partition(|o| TMPFS_OPTIONS.contains(&o.split('=').next().unwrap_or_default()));
    for o in dropped {
        warnings.push(format!("{field}: tmpfs option \"{o}\" is not carried over"));
    }
    Tmpfs {
        container_path: Some(path.to_owned()),
        size: Some(size),
        mount_options: if kept.is_empty() { None } else { Some(kept) },
    }
}

/// MiB (rounded up, at least 1) in a byte value.
fn mib(text: &str, field: &str) -> Result<i32, ComposeError> {
    let bytes = parse_bytes(text).map_err(|e| ComposeError::invalid(field, e))?;
    i32::try_from(to_mib_ceil(bytes).max(1))
        .map_err(|_| ComposeError::invalid(field, format!("\"{text}\" is too large")))
}

fn point(volume: String, target: &str, read_only: bool) -> MountPoint {
    MountPoint {
        source_volume: Some(volume),
        container_path: Some(target.to_owned()),
        read_only: read_only.then_some(true),
    }
}

/// Whether a short-syntax source is a host path rather than a volume name.
fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// `path` with `.` and `..` resolved lexically (the path may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `text` in ECS's volume-name alphabet (letters, digits, `-`, `_`).
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "volume".to_owned()
    } else {
        out.to_owned()
    }
}

/// A map of scalars as strings.
fn strings(map: &Mapping, field: &str) -> Result<BTreeMap<String, String>, ComposeError> {
    map.iter()
        .map(|(k, v)| {
            let key = k.as_str().unwrap_or_default().to_owned();
            let value = scalar_text(v)
                .ok_or_else(|| ComposeError::invalid(format!("{field}.{key}"), "a string"))?;
            Ok((key, value))
        })
        .collect()
}

/// `labels` in either form, as a map.
pub fn labels(labels: &ListOrMap, field: &str) -> Result<BTreeMap<String, String>, ComposeError> {
    match labels {
        ListOrMap::Map(m) => strings(m, field),
        ListOrMap::List(items) => Ok(items
            .iter()
            .map(|i| {
                let text = i.text();
                let (k, v) = text.split_once('=').unwrap_or((&text, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()),
    }
}

/// A YAML scalar as Compose reads it in a string context (`null` as empty).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volumes() -> TaskVolumes<'static> {
        let top: Value = serde_yaml_ng::from_str(
            "db:\nlogs:\n  driver: local\n  driver_opts: {type: none, device: /srv/logs, o: bind}\nold:\n  external: true\n  name: legacy.data\n",
        )
        .expect("yaml");
        let top: &'static Value = Box::leak(Box::new(top));
        TaskVolumes::new(Some(top), "app", Path::new("/srv/app"), Some("/home/me"), &mut Vec::new())
            .expect("top volumes")
    }

    fn mount(v: &mut TaskVolumes<'_>, yaml: &str) -> Result<(Mount, Vec<String>), String> {
        let sv: ServiceVolume = serde_yaml_ng::from_str(yaml).expect("yaml");
        let mut w = Vec::new();
        v.mount(&sv, "services.web.volumes[0]", "web", &mut w)
            .map(|m| (m, w))
            .map_err(|e| e.to_string())
    }

    fn point_of(m: &Mount) -> (String, String, Option<bool>) {
        let Mount::Point(p) = m else { panic!("not a mount point: {m:?}") };
        (
            p.source_volume.clone().unwrap_or_default(),
            p.container_path.clone().unwrap_or_default(),
            p.read_only,
        )
    }

    #[test]
    fn named_bind_and_anonymous_volumes() {
        let mut v = volumes();
        let (m, w) = mount(&mut v, "db:/var/lib/db:ro").expect("named");
        assert_eq!(point_of(&m), ("app_db".into(), "/var/lib/db".into(), Some(true)));
        assert!(w.is_empty());
        let (m, _) = mount(&mut v, "db:/backup").expect("named again");
        assert_eq!(point_of(&m).0, "app_db");
        let (m, _) = mount(&mut v, "./etc/prometheus:/etc/prometheus").expect("bind");
        assert_eq!(point_of(&m).0, "bind-etc-prometheus");
        let (m, _) = mount(&mut v, "../shared/./conf:/conf:z").expect("bind outside");
        assert_eq!(point_of(&m).0, "bind-srv-shared-conf");
        let (m, _) = mount(&mut v, "~/.ssh:/root/.ssh:ro").expect("home");
        assert_eq!(point_of(&m).0, "bind-home-me-ssh");
        let (m, _) = mount(&mut v, "/cache").expect("anonymous");
        assert_eq!(point_of(&m).0, "web-anonymous");
        let (m, _) =
            mount(&mut v, "{type: volume, source: logs, target: /logs}").expect("long named");
        assert_eq!(point_of(&m).0, "app_logs");
        let (m, _) = mount(&mut v, "{type: volume, source: old, target: /old}").expect("external");
        assert_eq!(point_of(&m).0, "legacy-data");
        let (m, _) = mount(&mut v, "{type: bind, source: ./data, target: /data, read_only: true, bind: {create_host_path: true}}").expect("long bind");
        assert_eq!(point_of(&m), ("bind-data".into(), "/data".into(), Some(true)));
        let json = serde_json::to_value(v.into_volumes()).expect("json");
        assert_eq!(
            json[0],
            serde_json::json!({"name": "app_db", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}})
        );
        assert_eq!(
            json[1],
            serde_json::json!({"name": "bind-etc-prometheus", "host": {"sourcePath": "/srv/app/etc/prometheus"}})
        );
        assert_eq!(json[2]["host"]["sourcePath"], "/srv/shared/conf");
        assert_eq!(
            json[4],
            serde_json::json!({"name": "web-anonymous", "dockerVolumeConfiguration": {"scope": "task"}})
        );
        assert_eq!(
            json[5],
            serde_json::json!({"name": "app_logs", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true, "driver": "local", "driverOpts": {"device": "/srv/logs", "o": "bind", "type": "none"}}})
        );
        assert_eq!(json[6]["dockerVolumeConfiguration"]["autoprovision"], false);
    }

    #[test]
    fn warnings_and_errors_name_the_field() {
        let mut v = volumes();
        let (_, w) = mount(&mut v, "./a:/a:z").expect("bind");
        assert_eq!(w, ["services.web.volumes[0]: mount option \"z\" is not carried over"]);
        assert_eq!(
            mount(&mut v, "nope:/data").unwrap_err(),
            "services.web.volumes[0]: volume \"nope\" is not declared in the top-level volumes"
        );
        assert_eq!(
            mount(&mut v, "a:b:c:d").unwrap_err(),
            "services.web.volumes[0]: \"a:b:c:d\" is not SOURCE:TARGET[:MODE]"
        );
        assert!(mount(&mut v, "db:relative").unwrap_err().contains("absolute path"));
        let (m, w) = mount(&mut v, "{type: npipe, source: x, target: /x}").expect("skipped");
        assert!(matches!(m, Mount::Skipped) && w.len() == 1);
        let (m, w) = mount(&mut v, "{type: tmpfs, target: /run, tmpfs: {size: 10m, mode: 1777}}")
            .expect("tmpfs");
        let Mount::Tmpfs(t) = m else { panic!("tmpfs") };
        assert_eq!((t.size, t.mount_options), (Some(10), Some(vec!["mode=1777".to_owned()])));
        assert!(w.is_empty());
    }

    #[test]
    fn tmpfs_entries() {
        let mut w = Vec::new();
        let t = tmpfs_entry(
            "/run:rw,noexec,size=65536k,uid=1000,weird",
            "services.web.tmpfs[0]",
            &mut w,
        )
        .expect("ok");
        assert_eq!(t.size, Some(64));
        assert_eq!(t.mount_options, Some(vec!["rw".into(), "noexec".into(), "uid=1000".into()]));
        assert_eq!(w, ["services.web.tmpfs[0]: tmpfs option \"weird\" is not carried over"]);
        let t = tmpfs_entry("/tmp", "services.web.tmpfs", &mut w).expect("ok");
        assert_eq!(t.size, Some(DEFAULT_TMPFS_MIB));
        assert!(w[1].contains("has no size"));
        assert!(tmpfs_entry("tmp", "f", &mut w).is_err());
        assert!(tmpfs_entry("/t:size=lots", "f", &mut w)
            .unwrap_err()
            .to_string()
            .starts_with("f: \"lots\" is not a byte value"));
    }
}
