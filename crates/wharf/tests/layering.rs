//! The crate dependency rule of docs/architecture.md, checked on what Cargo
//! itself says each workspace crate depends on: `wharf-model` at the bottom
//! knows no other crate; `wharf-store` stands on the model; the operations
//! layer on model and store; `wharf-api`, `wharf-control` and `wharf-lb` on
//! those (the API also on `wharf-auth`, which verifies who calls) and never
//! on each other; the agent on the model alone (it knows the
//! server only through its link); only the binary wires everything.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Each library crate and the workspace crates it may depend on (normal and
/// dev dependencies alike: a test that reaches across the rule is a design
/// leak too, so it must be allowed here on purpose).
const ALLOWED: &[(&str, &[&str])] = &[
    ("wharf-model", &[]),
    ("wharf-metrics", &[]),
    ("wharf-auth", &["wharf-model"]),
    ("wharf-store", &["wharf-model"]),
    ("wharf-ops", &["wharf-model", "wharf-store"]),
    ("wharf-api", &["wharf-model", "wharf-store", "wharf-ops", "wharf-metrics", "wharf-auth"]),
    ("wharf-control", &["wharf-model", "wharf-store", "wharf-ops"]),
    ("wharf-lb", &["wharf-model", "wharf-metrics"]),
    ("wharf-agent", &["wharf-model"]),
];

/// Crates above every layer: the binary that wires them, and the suites that
/// drive it from outside (the SDK tests, the etcd fault suite).
const ON_TOP: &[&str] = &["wharf", "wharf-sdk-tests", "wharf-ha-tests"];

/// Crates that stand beside each other and must never depend on one another.
const PEERS: &[&str] = &["wharf-api", "wharf-control", "wharf-lb", "wharf-agent"];

/// Both programs are built with mimalloc committing its arenas lazily
/// (`.cargo/config.toml`): eager commits hold about 20 MiB an idle server
/// never touches. mimalloc prints its options when `MIMALLOC_VERBOSE` is set.
#[test]
fn the_programs_allocator_commits_its_arenas_lazily() {
    for program in [env!("CARGO_BIN_EXE_wharf"), env!("CARGO_BIN_EXE_wharf-agent")] {
        let out = Command::new(program)
            .arg("--version")
            .env("MIMALLOC_VERBOSE", "1")
            .env_remove("MIMALLOC_ARENA_EAGER_COMMIT")
            .output()
            .expect("the program runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.lines().any(|l| l.trim() == "option 'arena_eager_commit': 0"),
            "{program}: mimalloc's options were:\n{said}"
        );
    }
}

/// `cargo metadata` of the workspace's own packages.
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

/// `scripts/serve` and the README run `cargo run -p wharf`: with two
/// programs in the package (`wharf`, `wharf-agent`) it must say which.
#[test]
fn cargo_run_of_the_wharf_package_runs_the_cli() {
    let meta = metadata();
    let wharf = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "wharf")
        .expect("the wharf package");
    assert_eq!(wharf["default_run"], "wharf", "default-run of crates/wharf/Cargo.toml");
}

fn workspace_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let meta = metadata();
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<String> =
        packages.iter().filter_map(|p| p["name"].as_str()).map(str::to_owned).collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(*d))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().unwrap_or_default().to_owned(), deps)
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_the_layers_below_it() {
    let deps = workspace_dependencies();
    let mut broken = Vec::new();
    for (krate, allowed) in ALLOWED {
        let Some(has) = deps.get(*krate) else {
            broken.push(format!("{krate} is not in the workspace"));
            continue;
        };
        for d in has {
            if !allowed.contains(&d.as_str()) {
                broken.push(format!("{krate} depends on {d}"));
            }
        }
    }
    for a in PEERS {
        for b in PEERS {
            if deps.get(*a).is_some_and(|d| d.contains(*b)) {
                broken.push(format!("{a} depends on its peer {b}"));
            }
        }
    }
    // A new crate must be placed in the rule before it can land.
    for krate in deps.keys() {
        let known = ALLOWED.iter().any(|(k, _)| k == krate);
        if !known && !ON_TOP.contains(&krate.as_str()) {
            broken.push(format!("{krate} has no place in the layering rule (tests/layering.rs)"));
        }
    }
    assert!(broken.is_empty(), "the crate dependency rule is broken:\n{}", broken.join("\n"));
}
