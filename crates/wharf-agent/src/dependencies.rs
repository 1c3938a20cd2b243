//! `dependsOn`, `links` and `volumesFrom`, read the way the ECS agent's
//! dependency graph reads them: which container may be created or started
//! now, which waits can never end, and in which order containers stop.
//!
//! Source: AG:agent/engine/dependencygraph/graph.go
//! (`verifyContainerOrderingStatusResolvable`,
//! `containerOrderingDependenciesIsResolved`, `hasDependencyTimedOut`,
//! `verifyShutdownOrder`) and AG:agent/api/task/task.go
//! (`initializeContainerOrdering`: links add START, volumesFrom adds CREATE).

use wharf_model::ecs::shapes::{ContainerCondition, ContainerDefinition, HealthStatus};
use wharf_model::ecs::status::ContainerStatus;

use crate::container::Container;
use crate::machine::DefinitionError;
use crate::stop::NamedError;

/// When a dependency lets its dependent go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// The dependency has been created (implicit, from `volumesFrom`).
    Create,
    /// The dependency has started (also implied by `links`).
    Start,
    /// The dependency has exited, with any exit code.
    Complete,
    /// The dependency has exited with code 0.
    Success,
    /// The dependency's health check reports HEALTHY.
    Healthy,
}

impl Condition {
    /// Whether the dependency's `startTimeout` bounds the wait for this
    /// condition (`hasDependencyTimedOut`).
    fn can_time_out(self) -> bool {
        matches!(self, Self::Complete | Self::Success | Self::Healthy)
    }

    /// Whether `dependency` lets its dependent take `step` (`CREATED` or
    /// `RUNNING`).
    fn is_met(self, dependency: &Container, step: ContainerStatus) -> bool {
        let stopped = dependency.known == ContainerStatus::Stopped;
        match self {
            Self::Create => dependency.known >= ContainerStatus::Created,
            // The agent also allows a START dependency that has run and
            // stopped since: it did start, which is all START asks.
            Self::Start if step == ContainerStatus::Created => {
                dependency.known == ContainerStatus::Created || dependency.ran
            }
            Self::Start => dependency.ran,
            Self::Complete => stopped && dependency.exit_code.is_some(),
            Self::Success => stopped && dependency.exit_code == Some(0),
            Self::Healthy => {
                dependency.has_health_check && dependency.health == HealthStatus::Healthy
            }
        }
    }
}

/// One edge of the graph: the container waits on container `on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dependency {
    /// Index of the dependency in the task's containers.
    pub(crate) on: usize,
    /// What it waits for.
    pub(crate) condition: Condition,
}

/// What a dependency check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Every dependency is met.
    Open,
    /// Some dependency is not met yet.
    Wait,
    /// Some dependency can never be met: the container will not run.
    Fail(NamedError),
}

/// Every container's dependencies, explicit and implicit, by index; refuses
/// names that point nowhere and cycles (the agent's `ValidDependencies`).
pub(crate) fn graph(
    definitions: &[ContainerDefinition],
    names: &[String],
) -> Result<Vec<Vec<Dependency>>, DefinitionError> {
    let mut graph = Vec::with_capacity(definitions.len());
    for (definition, name) in definitions.iter().zip(names) {
        let find = |field: &'static str, target: &str| {
            names.iter().position(|n| n == target).ok_or_else(|| {
                DefinitionError::UnknownContainer {
                    container: name.clone(),
                    field,
                    target: target.to_owned(),
                }
            })
        };
        let mut edges = Vec::new();
        for dependency in definition.depends_on.iter().flatten() {
            let Some(target) = dependency.container_name.as_deref() else {
                return Err(DefinitionError::MissingField {
                    container: name.clone(),
                    field: "dependsOn.containerName",
                });
            };
            let condition = match &dependency.condition {
                Some(ContainerCondition::Start) => Condition::Start,
                Some(ContainerCondition::Complete) => Condition::Complete,
                Some(ContainerCondition::Success) => Condition::Success,
                Some(ContainerCondition::Healthy) => Condition::Healthy,
                Some(ContainerCondition::Unlisted(other)) => {
                    return Err(DefinitionError::UnknownCondition {
                        container: name.clone(),
                        condition: other.clone(),
                    })
                }
                None => {
                    return Err(DefinitionError::MissingField {
                        container: name.clone(),
                        field: "dependsOn.condition",
                    })
                }
            };
            edges.push(Dependency { on: find("dependsOn", target)?, condition });
        }
        for link in definition.links.iter().flatten() {
            let target = link.split_once(':').map_or(link.as_str(), |(target, _alias)| target);
            edges.push(Dependency { on: find("links", target)?, condition: Condition::Start });
        }
        for volumes in definition.volumes_from.iter().flatten() {
            let Some(target) = volumes.source_container.as_deref() else {
                return Err(DefinitionError::MissingField {
                    container: name.clone(),
                    field: "volumesFrom.sourceContainer",
                });
            };
            edges.push(Dependency {
                on: find("volumesFrom", target)?,
                condition: Condition::Create,
            });
        }
        graph.push(edges);
    }
    if let Some(at) = find_cycle(&graph) {
        return Err(DefinitionError::Cycle { container: names[at].clone() });
    }
    Ok(graph)
}

/// A container on a cycle, if there is one (depth-first search; 0 unseen,
/// 1 on the current path, 2 done).
fn find_cycle(graph: &[Vec<Dependency>]) -> Option<usize> {
    fn visit(at: usize, graph: &[Vec<Dependency>], state: &mut [u8]) -> Option<usize> {
        state[at] = 1;
        for edge in &graph[at] {
            let found = match state[edge.on] {
                0 => visit(edge.on, graph, state),
                1 => Some(edge.on),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
        }
        state[at] = 2;
        None
    }
    let mut state = vec![0; graph.len()];
    (0..graph.len()).find_map(|at| if state[at] == 0 { visit(at, graph, &mut state) } else { None })
}

/// Whether container `target` may take `step` (`CREATED` or `RUNNING`) at
/// `now_ms`, checking, for each dependency in turn, the terminal failures
/// first (a timeout, a SUCCESS dependency that failed, a dependency that will
/// never start) and then the condition itself.
pub(crate) fn gate(
    containers: &[Container],
    target: usize,
    step: ContainerStatus,
    now_ms: i64,
) -> Gate {
    let dependent = &containers[target];
    let mut waiting = false;
    for edge in &dependent.deps {
        let dependency = &containers[edge.on];
        let stopped = dependency.known == ContainerStatus::Stopped;
        let (on, of) = (dependency.name.as_str(), dependent.name.as_str());
        if dependent.known < ContainerStatus::Created
            && !stopped
            && edge.condition.can_time_out()
            && dependency.deadline().is_some_and(|deadline| now_ms >= deadline)
        {
            return Gate::Fail(NamedError::dependency_timed_out(on, of));
        }
        if edge.condition == Condition::Success && stopped && dependency.exit_code != Some(0) {
            return Gate::Fail(NamedError::dependency_failed(on, of));
        }
        if dependency.desired_stopped && !dependency.ran {
            return Gate::Fail(NamedError::dependency_never_started(on, of));
        }
        waiting |= !edge.condition.is_met(dependency, step);
    }
    if waiting {
        Gate::Wait
    } else {
        Gate::Open
    }
}

/// Whether every container that depends on container `index` has stopped, so
/// that it may be stopped itself: shutdown runs in reverse start order.
pub(crate) fn dependents_stopped(containers: &[Container], index: usize) -> bool {
    containers
        .iter()
        .filter(|c| c.deps.iter().any(|edge| edge.on == index))
        .all(|c| c.known == ContainerStatus::Stopped)
}

/// The earliest time at which some dependency's `startTimeout` will expire
/// for a container still waiting on it.
pub(crate) fn next_deadline(containers: &[Container]) -> Option<i64> {
    containers
        .iter()
        .filter(|c| !c.desired_stopped && c.known < ContainerStatus::Created)
        .flat_map(|c| &c.deps)
        .filter(|edge| edge.condition.can_time_out())
        .map(|edge| &containers[edge.on])
        .filter(|dependency| dependency.known != ContainerStatus::Stopped)
        .filter_map(Container::deadline)
        .min()
}

#[cfg(test)]
mod tests {
    use wharf_model::ecs::shapes::{ContainerDependency, VolumeFrom};

    use super::*;

    fn definition(name: &str) -> ContainerDefinition {
        ContainerDefinition { name: Some(name.into()), ..Default::default() }
    }

    fn depends(name: &str, on: &str, condition: &str) -> ContainerDefinition {
        ContainerDefinition {
            depends_on: Some(vec![ContainerDependency {
                container_name: Some(on.into()),
                condition: Some(condition.into()),
            }]),
            ..definition(name)
        }
    }

    fn names(definitions: &[ContainerDefinition]) -> Vec<String> {
        definitions.iter().map(|d| d.name.clone().unwrap_or_default()).collect()
    }

    #[test]
    fn implicit_edges_come_from_links_and_volumes_from() {
        let app = ContainerDefinition {
            links: Some(vec!["db:database".into()]),
            volumes_from: Some(vec![VolumeFrom {
                source_container: Some("data".into()),
                read_only: None,
            }]),
            ..depends("app", "init", "SUCCESS")
        };
        let definitions = [app, definition("db"), definition("data"), definition("init")];
        let graph = graph(&definitions, &names(&definitions)).unwrap();
        let expected = [
            Dependency { on: 3, condition: Condition::Success },
            Dependency { on: 1, condition: Condition::Start },
            Dependency { on: 2, condition: Condition::Create },
        ];
        assert_eq!(graph[0], expected);
        assert!(graph[1..].iter().all(Vec::is_empty));
    }

    #[test]
    fn bad_references_and_cycles_are_refused() {
        let self_volumes = ContainerDefinition {
            volumes_from: Some(vec![VolumeFrom {
                source_container: Some("a".into()),
                read_only: None,
            }]),
            ..definition("a")
        };
        let link_back = ContainerDefinition { links: Some(vec!["a".into()]), ..definition("b") };
        let cases = [
            (
                vec![depends("a", "ghost", "START")],
                "container 'a' refers in dependsOn to 'ghost', which is not in the task",
            ),
            (
                vec![depends("a", "b", "READY"), definition("b")],
                "container 'a' has an unknown dependsOn condition 'READY'",
            ),
            (vec![self_volumes], "container 'a' is part of a dependency cycle"),
            (
                vec![depends("a", "b", "HEALTHY"), link_back],
                "container 'a' is part of a dependency cycle",
            ),
        ];
        for (definitions, message) in cases {
            let err = graph(&definitions, &names(&definitions)).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }
}
