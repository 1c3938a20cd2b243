//! How the services relate: `depends_on` (both forms) and `links` become
//! ECS `dependsOn`; the start order they imply decides which services each
//! one links for name resolution; and `essential` follows from who waits for
//! whom. See the module doc of `compose` for why.

use std::collections::{BTreeSet, HashMap};

use wharf_model::ecs::shapes::{ContainerCondition, ContainerDependency};
use wharf_model::ecs::task_definition::rules::is_resource_name;

use super::spec::{DependsOn, DependsOnEntry, Scalar, Service};
use super::ComposeError;

/// One active service, as the planner sees it.
#[derive(Debug)]
pub struct Node<'a> {
    /// The service name in the file.
    pub service: &'a str,
    /// Its ECS container name.
    pub container: &'a str,
    /// The service.
    pub spec: &'a Service,
    /// Whether it has a health check ECS can run (a `healthcheck.test`).
    pub has_healthcheck: bool,
}

/// What the planner decided for every service (indexed like the input).
#[derive(Debug, Default)]
pub struct Plan {
    /// ECS `dependsOn` of each service.
    pub depends_on: Vec<Vec<ContainerDependency>>,
    /// ECS `links` of each service.
    pub links: Vec<Vec<String>>,
    /// ECS `essential` of each service.
    pub essential: Vec<bool>,
}

/// Plans `nodes` (file order); `inactive` are services left out (profiles),
/// `link` says whether the network mode allows links at all.
pub fn plan(
    nodes: &[Node<'_>],
    inactive: &BTreeSet<String>,
    link: bool,
    warnings: &mut Vec<String>,
) -> Result<Plan, ComposeError> {
    let index: HashMap<&str, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.service, i)).collect();
    let mut edges: Vec<Vec<(usize, ContainerCondition)>> = vec![Vec::new(); nodes.len()];
    let mut link_aliases: Vec<Vec<(usize, String)>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let at = format!("services.{}", node.service);
        for (name, entry, field) in dependencies(node.spec, &at)? {
            let Some(&j) = index.get(name.as_str()) else {
                if entry.required == Some(false) {
                    warnings.push(format!("{field}: service \"{name}\" is not converted and not required; the dependency is left out"));
                    continue;
                }
                let why = if inactive.contains(&name) {
                    "is only in a profile, so it is not converted"
                } else {
                    "is not defined"
                };
                return Err(ComposeError::invalid(field, format!("service \"{name}\" {why}")));
            };
            if j == i {
                return Err(ComposeError::invalid(field, "a service cannot depend on itself"));
            }
            if entry.restart == Some(true) {
                warnings.push(format!("{field}.restart: not carried over (ECS does not restart a container when its dependency restarts)"));
            }
            for key in entry.other.keys() {
                warnings.push(format!("{field}.{key}: not carried over"));
            }
            let condition = match entry.condition.as_deref().unwrap_or("service_started") {
                "service_started" => ContainerCondition::Start,
                "service_completed_successfully" => ContainerCondition::Success,
                "service_healthy" if nodes[j].has_healthcheck => ContainerCondition::Healthy,
                "service_healthy" => {
                    warnings.push(format!("{field}: service_healthy, but {name} has no healthcheck test here; ECS reports HEALTHY only for a task definition healthCheck, so this waits for START instead"));
                    ContainerCondition::Start
                }
                other => {
                    return Err(ComposeError::invalid(
                        format!("{field}.condition"),
                        format!("\"{other}\" is not service_started, service_healthy or service_completed_successfully"),
                    ))
                }
            };
            edges[i].push((j, condition));
        }
        for (k, link) in node.spec.links.iter().flatten().enumerate() {
            let field = format!("{at}.links[{k}]");
            let (target, alias) = link.split_once(':').unwrap_or((link.as_str(), link.as_str()));
            let Some(&j) = index.get(target) else {
                return Err(ComposeError::invalid(
                    field,
                    format!("service \"{target}\" is not defined"),
                ));
            };
            if !edges[i].iter().any(|(t, _)| *t == j) {
                edges[i].push((j, ContainerCondition::Start));
            }
            link_aliases[i].push((j, alias.to_owned()));
        }
    }
    let order = start_order(nodes, &edges)?;
    let completes: BTreeSet<usize> = edges
        .iter()
        .flatten()
        .filter(|(_, c)| *c == ContainerCondition::Success)
        .map(|(j, _)| *j)
        .collect();
    let mut essential: Vec<bool> =
        (0..nodes.len()).map(|i| !completes.contains(&i) && !runs_once(nodes[i].spec)).collect();
    if !essential.contains(&true) {
        essential = (0..nodes.len()).map(|i| !completes.contains(&i)).collect();
    }
    let depends_on = edges
        .iter()
        .map(|list| {
            list.iter()
                .map(|(j, c)| ContainerDependency {
                    container_name: Some(nodes[*j].container.to_owned()),
                    condition: Some(c.clone()),
                })
                .collect()
        })
        .collect();
    let links = if link {
        links(nodes, &order, &completes, &link_aliases, warnings)
    } else {
        vec![Vec::new(); nodes.len()]
    };
    Ok(Plan { depends_on, links, essential })
}

/// The `depends_on` entries of a service: (service, entry, field path).
fn dependencies(
    spec: &Service,
    at: &str,
) -> Result<Vec<(String, DependsOnEntry, String)>, ComposeError> {
    match &spec.depends_on {
        None => Ok(Vec::new()),
        Some(DependsOn::List(names)) => Ok(names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.clone(), DependsOnEntry::default(), format!("{at}.depends_on[{k}]")))
            .collect()),
        Some(DependsOn::Map(map)) => map
            .iter()
            .map(|(key, value)| {
                let name = key.as_str().unwrap_or_default().to_owned();
                let field = format!("{at}.depends_on.{name}");
                let entry = if value.is_null() {
                    DependsOnEntry::default()
                } else {
                    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
                        ComposeError::invalid(
                            format!("{field}.{}", e.path()),
                            e.inner().to_string(),
                        )
                    })?
                };
                Ok((name, entry, field))
            })
            .collect(),
    }
}

/// `restart: "no"` written out (or `deploy.restart_policy.condition: none`): a run-once job.
fn runs_once(spec: &Service) -> bool {
    let restart_no = matches!(&spec.restart, Some(Scalar::String(s)) if s == "no")
        || matches!(spec.restart, Some(Scalar::Bool(false)));
    let policy_none = spec
        .deploy
        .as_ref()
        .and_then(|d| d.restart_policy.as_ref())
        .is_some_and(|p| p.condition.as_deref() == Some("none"));
    restart_no || (spec.restart.is_none() && policy_none)
}

/// Services in start order: dependencies first, then file order (Kahn's
/// algorithm, always taking the earliest ready service).
fn start_order(
    nodes: &[Node<'_>],
    edges: &[Vec<(usize, ContainerCondition)>],
) -> Result<Vec<usize>, ComposeError> {
    let mut waiting: Vec<usize> = edges.iter().map(Vec::len).collect();
    let mut done = vec![false; nodes.len()];
    let mut order = Vec::with_capacity(nodes.len());
    while order.len() < nodes.len() {
        let Some(next) = (0..nodes.len()).find(|&i| !done[i] && waiting[i] == 0) else {
            let stuck: Vec<&str> =
                (0..nodes.len()).filter(|&i| !done[i]).map(|i| nodes[i].service).collect();
            return Err(ComposeError::invalid(
                format!("services.{}.depends_on", stuck[0]),
                format!("dependency cycle among {}", stuck.join(", ")),
            ));
        };
        done[next] = true;
        order.push(next);
        for (i, list) in edges.iter().enumerate() {
            waiting[i] -= list.iter().filter(|(j, _)| *j == next).count();
        }
    }
    Ok(order)
}

/// Each service links every long-running service started before it, under
/// each name Compose would resolve for it.
fn links(
    nodes: &[Node<'_>],
    order: &[usize],
    completes: &BTreeSet<usize>,
    explicit: &[Vec<(usize, String)>],
    warnings: &mut Vec<String>,
) -> Vec<Vec<String>> {
    let mut warned = BTreeSet::new();
    let mut aliases_of = |j: usize, extra: &mut dyn Iterator<Item = String>| -> Vec<String> {
        let node = &nodes[j];
        let mut names: Vec<String> = vec![node.service.to_owned()];
        names.extend(node.spec.container_name.clone());
        names.extend(node.spec.networks.iter().flat_map(|n| n.aliases()));
        names.extend(extra);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for name in names {
            if !seen.insert(name.clone()) {
                continue;
            }
            if is_resource_name(&name) {
                out.push(if name == node.container {
                    name
                } else {
                    format!("{}:{name}", node.container)
                });
            } else if warned.insert(name.clone()) {
                warnings.push(format!("services.{}: \"{name}\" cannot be an ECS link alias (letters, digits, - and _ only); other containers cannot resolve it", node.service));
            }
        }
        out
    };
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, i)| (*i, p)).collect();
    (0..nodes.len())
        .map(|i| {
            let mut out = Vec::new();
            for &j in &order[..position[&i]] {
                if completes.contains(&j) {
                    continue;
                }
                let mut extra = explicit[i].iter().filter(|(t, _)| *t == j).map(|(_, a)| a.clone());
                out.extend(aliases_of(j, &mut extra));
            }
            out
        })
        .collect()
}
