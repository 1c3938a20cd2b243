//! Docker Compose in: a compose file becomes one ECS task definition (the
//! RegisterTaskDefinition input), so a team can move from Compose to ECS
//! semantics and `wharf run` can take a compose file directly.
//!
//! The converter proper ([`convert_text`]) is pure: the file's text, the
//! variables and a reader for `env_file`s in; the task definition and the
//! warnings out. Only [`convert_file`] touches the disk (the file, its `.env`,
//! the `env_file`s). Everything that cannot be carried over is a warning that
//! names the key; nothing is dropped unseen. Input that cannot mean anything
//! (a `build:` with no `image:`, a port that is not a port, a missing
//! required variable) is a [`ComposeError`] naming the field.
//!
//! Decisions, where Compose and ECS differ:
//! - **Networking.** Compose services find each other by service name on a
//!   shared network. On Wharf the task uses `networkMode: bridge`, each
//!   container in its own network namespace (so two services may both listen
//!   on port 80, as in Compose) and `links` give the names: a service links
//!   every service started before it (by `depends_on`, then file order), under
//!   its service name, its `container_name` and its network aliases. ECS links
//!   are one way and imply a START dependency, so a service cannot reach by
//!   name one that starts after it, and services that run to completion
//!   (`service_completed_successfully` targets) are not linked (Docker refuses
//!   a link to a stopped container). `awsvpc` would share `localhost`
//!   instead, which breaks both the names and services that use the same
//!   port. `networks:` are therefore not carried over (one warning).
//! - **Ports.** `"8080:80"` keeps host port 8080; `"80"` gets a dynamic host
//!   port (`hostPort: 0`), as Compose does. A host IP cannot be carried over
//!   (ECS publishes on every interface).
//! - **essential.** Every service is essential (its exit stops the task, as
//!   `docker compose up --abort-on-container-exit` would), except one that
//!   another waits on with `service_completed_successfully` (ECS refuses an
//!   essential SUCCESS dependency) and one with `restart: "no"` spelled out
//!   (a run-once job).
//! - **Memory.** ECS wants `memory` or `memoryReservation` on each container
//!   of an EC2 task. Limits and reservations are carried over; a service with
//!   neither gets the soft `memoryReservation` of [`DEFAULT_MEMORY_RESERVATION_MIB`]
//!   (it limits nothing, as in Compose), and no task-level size is set.
//! - **restart.** Compose's `restart` maps to the ECS container
//!   `restartPolicy`, but Wharf's agent does not offer it (no
//!   `ecs.capability.container-restart-policy`), and a task that asks for it
//!   is never placed; so the value is checked and left out, with one warning.
//! - **Profiles.** A service with `profiles` is inactive by default in
//!   Compose, so it is left out (one warning).

mod bytes;
mod container;
mod convert;
#[cfg(test)]
mod convert_tests;
mod dotenv;
mod duration;
mod health;
mod interpolate;
mod ordering;
mod ports;
mod spec;
mod volumes;
mod words;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

pub use convert::convert_text;
pub use interpolate::InterpolationError;

/// The soft memory reservation (MiB) given to a service that sets no memory.
pub const DEFAULT_MEMORY_RESERVATION_MIB: i32 = 128;

/// Options of a conversion.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// The task definition family; by default `COMPOSE_PROJECT_NAME`, the
    /// file's `name:`, or its directory's name.
    pub family: Option<String>,
    /// Variables for interpolation, above those of the `.env` file (pass the
    /// process environment for Compose's own behaviour).
    pub env: BTreeMap<String, String>,
}

/// A converted file: the RegisterTaskDefinition input, and what could not be carried over.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The RegisterTaskDefinition input (camelCase JSON).
    pub task_definition: serde_json::Value,
    /// One line per key or value that could not be carried over, naming it.
    pub warnings: Vec<String>,
}

/// What the pure converter needs besides the text.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The compose file's text.
    pub text: &'a str,
    /// The directory relative paths (bind mounts, `env_file`) start from.
    pub project_dir: &'a Path,
    /// The family when neither the options, `COMPOSE_PROJECT_NAME` nor `name:` give one.
    pub default_family: &'a str,
}

/// Why a compose file cannot be converted; each message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// The text is not YAML.
    #[error("not valid YAML: {0}")]
    Yaml(String),
    /// A field's value cannot be converted.
    #[error("{field}: {message}")]
    Invalid {
        /// Where, as a path (`services.web.ports[1]`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Interpolating a field's value failed.
    #[error("{field}: {problem}")]
    Interpolation {
        /// Where, as a path.
        field: String,
        /// What went wrong.
        problem: InterpolationError,
    },
}

impl ComposeError {
    /// An [`ComposeError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ComposeError::Invalid { field: field.into(), message: message.into() }
    }
}

/// Converts the compose file at `path` (its `.env` beside it is read).
pub fn convert_file(path: &Path, options: &ConvertOptions) -> anyhow::Result<Converted> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let absolute =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let project_dir =
        absolute.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let default_family = project_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "compose".to_owned());
    let mut env = BTreeMap::new();
    let dot_env = project_dir.join(".env");
    if dot_env.is_file() {
        let text = std::fs::read_to_string(&dot_env)
            .with_context(|| format!("reading {}", dot_env.display()))?;
        let entries =
            dotenv::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", dot_env.display()))?;
        for (key, value) in entries {
            env.insert(key, value.unwrap_or_default());
        }
    }
    env.extend(options.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let source = Source { text: &text, project_dir: &project_dir, default_family: &default_family };
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let converted = convert_text(&source, options.family.as_deref(), &env, &read)
        .with_context(|| format!("converting {}", path.display()))?;
    Ok(converted)
}

/// Whether `path` looks like a compose file rather than a task definition (name `compose*.y*ml` / `docker-compose*.y*ml`, or YAML with a top-level `services:` map).
pub fn is_compose_file(path: &Path) -> bool {
    let name =
        path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let yaml_ext = name.ends_with(".yml") || name.ends_with(".yaml");
    if yaml_ext && (name.starts_with("compose") || name.starts_with("docker-compose")) {
        return true;
    }
    const MAX_SNIFF_BYTES: u64 = 4 * 1024 * 1024;
    let small = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_SNIFF_BYTES);
    if !small {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
        .is_ok_and(|v| v.get("services").is_some_and(serde_yaml_ng::Value::is_mapping))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_files_are_told_from_task_definitions() {
        let dir = tempfile::tempdir().expect("dir");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        assert!(is_compose_file(&write("docker-compose.yml", "")));
        assert!(is_compose_file(&write("compose.prod.yaml", "")));
        assert!(is_compose_file(&write("stack.yml", "services:\n  web:\n    image: nginx\n")));
        assert!(!is_compose_file(&write(
            "taskdef.json",
            r#"{"family": "f", "containerDefinitions": []}"#
        )));
        assert!(!is_compose_file(&write("list.yml", "services: [a, b]\n")));
        assert!(!is_compose_file(&write("broken.yml", "services: [\n")));
        assert!(!is_compose_file(&dir.path().join("missing.yml")));
    }

    #[test]
    fn the_file_edge_reads_dot_env_and_options_win() {
        let dir = tempfile::tempdir().expect("dir");
        let project = dir.path().join("My Shop.v2");
        std::fs::create_dir(&project).expect("mkdir");
        std::fs::write(project.join(".env"), "TAG=from-dotenv\nOTHER=x\n").expect(".env");
        std::fs::write(project.join("app.env"), "A=1\n").expect("env_file");
        let file = project.join("compose.yaml");
        std::fs::write(
            &file,
            "services:\n  web:\n    image: app:${TAG}\n    env_file: app.env\n    environment: [O=$OTHER]\n",
        )
        .expect("compose");
        let converted = convert_file(&file, &ConvertOptions::default()).expect("converts");
        let td = &converted.task_definition;
        assert_eq!(td["family"], "My-Shop-v2");
        assert_eq!(td["containerDefinitions"][0]["image"], "app:from-dotenv");
        assert_eq!(
            td["containerDefinitions"][0]["environment"],
            serde_json::json!([{"name": "A", "value": "1"}, {"name": "O", "value": "x"}])
        );
        let options = ConvertOptions {
            family: Some("shop".into()),
            env: [("TAG".to_owned(), "from-options".to_owned())].into(),
        };
        let converted = convert_file(&file, &options).expect("converts");
        assert_eq!(converted.task_definition["family"], "shop");
        assert_eq!(
            converted.task_definition["containerDefinitions"][0]["image"],
            "app:from-options"
        );
        let missing = convert_file(&project.join("nope.yml"), &options).expect_err("no file");
        assert!(format!("{missing:#}").contains("reading"), "{missing:#}");
    }
}
