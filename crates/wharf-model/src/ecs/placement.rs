//! Task placement: which container instance takes each task, as ECS decides
//! it for RunTask and StartTask. Pure: the store runs it inside the write
//! transaction that inserts the tasks, so two placements never take the same
//! resources.
//!
//! An instance takes a task when it is `ACTIVE` and has the CPU units, the
//! MiB and the static host ports the task needs. An instance that cannot is
//! reported in `failures[]` with ECS's reason for the first resource it
//! lacks (`RESOURCE:CPU`, `RESOURCE:MEMORY`, `RESOURCE:PORTS`). Among the
//! instances that have the resources, `memberOf` constraints (the cluster
//! query language, [`query`]) keep those their expressions select; one they
//! refuse is reported with ECS's reason `MemberOf placement constraint
//! unsatisfied.`

pub mod query;

use super::attributes::AVAILABILITY_ZONE as ZONE;
use super::shapes::{
    ContainerInstance, PlacementConstraint, PlacementConstraintType, PlacementStrategy,
    PlacementStrategyType, Resource, TaskDefinitionPlacementConstraint,
    TaskDefinitionPlacementConstraintType,
};
use super::status::InstanceStatus;
use query::Expression;

/// What an instance's unstopped tasks hold, as the store counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Used {
    /// CPU units reserved.
    pub cpu: i64,
    /// MiB reserved.
    pub memory: i64,
    /// Host ports reserved, as `port/protocol`.
    pub ports: Vec<String>,
    /// Tasks whose `lastStatus` is `RUNNING`.
    pub running_tasks: i64,
    /// Tasks neither `RUNNING` nor `STOPPED`.
    pub pending_tasks: i64,
    /// The tasks' `group`s, counted (for `task:group` in `memberOf`).
    pub task_groups: TaskGroups,
}

/// The `group`s of an instance's unstopped tasks, each with how many tasks
/// have it: what spreading by group and `task:group` expressions ask of an
/// instance, without one entry per task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskGroups(std::collections::BTreeMap<String, i64>);

impl TaskGroups {
    /// How many of the tasks are in `group`.
    pub fn count(&self, group: &str) -> i64 {
        self.0.get(group).copied().unwrap_or(0)
    }

    /// Counts `n` more tasks of `group`.
    pub fn add(&mut self, group: &str, n: i64) {
        if n <= 0 {
            return;
        }
        match self.0.get_mut(group) {
            Some(have) => *have += n,
            None => {
                self.0.insert(group.to_owned(), n);
            }
        }
    }

    /// Counts `n` more tasks of `group`, taking the name as it is.
    pub fn add_owned(&mut self, group: String, n: i64) {
        if n > 0 {
            *self.0.entry(group).or_insert(0) += n;
        }
    }

    /// The groups, each once.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether no task has a group.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many tasks have a group.
    pub fn total(&self) -> i64 {
        self.0.values().sum()
    }
}

impl<S: AsRef<str>> FromIterator<S> for TaskGroups {
    fn from_iter<I: IntoIterator<Item = S>>(groups: I) -> Self {
        let mut out = Self::default();
        for g in groups {
            out.add(g.as_ref(), 1);
        }
        out
    }
}

/// What an instance registered: the resources its tasks share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Registered {
    /// CPU units.
    pub cpu: i64,
    /// MiB.
    pub memory: i64,
}

impl Registered {
    /// What `ci` registered (`registeredResources`).
    pub fn of(ci: &ContainerInstance) -> Self {
        let registered = ci.registered_resources.as_deref().unwrap_or(&[]);
        Self {
            cpu: integer_resource(registered, "CPU"),
            memory: integer_resource(registered, "MEMORY"),
        }
    }
}

/// The integer value of a registered or remaining resource (`CPU`,
/// `MEMORY`), 0 when absent.
pub fn integer_resource(resources: &[Resource], name: &str) -> i64 {
    resources
        .iter()
        .find(|r| r.name.as_deref() == Some(name))
        .map(|r| {
            r.integer_value
                .map(i64::from)
                .or(r.long_value)
                .or(r.double_value.map(|d| d as i64))
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// ECS's `failures[].reason` for an instance a `memberOf` expression refuses.
pub const MEMBER_OF_UNSATISFIED: &str = "MemberOf placement constraint unsatisfied.";

/// How many `placementConstraints` a task may have, the definition's and
/// the request's together.
pub const MAX_CONSTRAINTS: usize = 10;

/// What one task needs from its instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// CPU units.
    pub cpu: i64,
    /// MiB.
    pub memory: i64,
    /// Static host ports, as `port/protocol`.
    pub ports: Vec<String>,
    /// Attributes the instance must have (the definition's `requiresAttributes`).
    pub attributes: Vec<String>,
}

/// An instance as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its ARN, for `failures[]`.
    pub arn: String,
    /// The cluster it is registered in (from its ARN).
    pub cluster: String,
    /// Whether it takes new tasks (`ACTIVE`).
    pub active: bool,
    /// CPU units left.
    pub cpu_free: i64,
    /// MiB left.
    pub memory_free: i64,
    /// Host ports taken.
    pub ports_used: Vec<String>,
    /// Tasks on it not yet stopped (for spreading).
    pub tasks: i64,
    /// The names of its attributes.
    pub attributes: Vec<String>,
    /// Its attributes' values, by name (for spreading by attribute).
    pub attribute_values: std::collections::HashMap<String, String>,
    /// Its EC2 instance ID (`ec2InstanceId`).
    pub ec2_instance_id: Option<String>,
    /// Whether its agent is connected (`agentConnected`).
    pub agent_connected: bool,
    /// Its agent's version (`versionInfo.agentVersion`).
    pub agent_version: Option<String>,
    /// When it registered, in milliseconds since the epoch (`registeredAt`).
    pub registered_at_ms: Option<i64>,
    /// Its tasks whose `lastStatus` is `RUNNING` (`runningTasksCount`).
    pub running_tasks: i64,
    /// The groups of its tasks not yet stopped (`task:group`); a task placed
    /// here adds its group.
    pub task_groups: TaskGroups,
}

impl query::Facts for Candidate {
    fn attribute(&self, name: &str) -> Option<Option<&str>> {
        match self.attribute_values.get(name) {
            Some(v) => Some(Some(v)),
            None => self.attributes.iter().any(|a| a == name).then_some(None),
        }
    }
    fn ec2_instance_id(&self) -> Option<&str> {
        self.ec2_instance_id.as_deref()
    }
    fn agent_connected(&self) -> bool {
        self.agent_connected
    }
    fn agent_version(&self) -> Option<&str> {
        self.agent_version.as_deref()
    }
    fn registered_at_ms(&self) -> Option<i64> {
        self.registered_at_ms
    }
    fn running_tasks_count(&self) -> i64 {
        self.running_tasks
    }
    fn task_groups(&self) -> &TaskGroups {
        &self.task_groups
    }
}

/// Why an instance cannot take a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// Not `ACTIVE` (draining or inactive), or its agent is disconnected.
    NotActive,
    /// Not enough CPU units.
    Cpu,
    /// Not enough memory.
    Memory,
    /// A static host port is taken.
    Ports,
    /// It lacks an attribute the task requires.
    Attribute,
}

impl Shortfall {
    /// ECS's `failures[].reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotActive => "AGENT",
            Self::Cpu => "RESOURCE:CPU",
            Self::Memory => "RESOURCE:MEMORY",
            Self::Ports => "RESOURCE:PORTS",
            Self::Attribute => "ATTRIBUTE",
        }
    }
}

impl Candidate {
    /// Whether it can take `demand` now, or the first thing it lacks. An
    /// instance whose agent is disconnected takes nothing, as in ECS.
    pub fn fits(&self, demand: &Demand) -> Result<(), Shortfall> {
        if !self.active || !self.agent_connected {
            return Err(Shortfall::NotActive);
        }
        if self.missing_attribute(demand).is_some() {
            return Err(Shortfall::Attribute);
        }
        self.fits_resources(demand)
    }

    /// [`Candidate::fits`] without the status and attribute checks, which
    /// placement makes once per launch rather than once per task.
    fn fits_resources(&self, demand: &Demand) -> Result<(), Shortfall> {
        if demand.cpu > self.cpu_free {
            return Err(Shortfall::Cpu);
        }
        if demand.memory > self.memory_free {
            return Err(Shortfall::Memory);
        }
        if demand.ports.iter().any(|p| self.ports_used.contains(p)) {
            return Err(Shortfall::Ports);
        }
        Ok(())
    }

    /// The first attribute the task requires that this instance lacks.
    pub fn missing_attribute<'a>(&self, demand: &'a Demand) -> Option<&'a str> {
        demand.attributes.iter().find(|a| !self.attributes.contains(a)).map(String::as_str)
    }

    /// The first `memberOf` expression of `rules` this instance is not a
    /// member of.
    pub fn refused_by<'a>(&self, rules: &'a Rules) -> Option<&'a Expression> {
        rules.member_of.iter().find(|e| !e.matches(self))
    }

    /// The candidate for a registered instance holding `used`: what it has
    /// left is what it registered less what its unstopped tasks hold.
    pub fn with_usage(ci: &ContainerInstance, availability_zone: &str, used: Used) -> Self {
        let mut c = Self::of_instance(ci, availability_zone);
        c.set_usage(Registered::of(ci), used);
        c
    }

    /// Makes what it has left what it `registered` less what its unstopped
    /// tasks hold (`used`), keeping what it is (ARN, attributes, agent).
    pub fn set_usage(&mut self, registered: Registered, used: Used) {
        self.cpu_free = registered.cpu - used.cpu;
        self.memory_free = registered.memory - used.memory;
        self.ports_used = used.ports;
        self.tasks = used.running_tasks + used.pending_tasks;
        self.running_tasks = used.running_tasks;
        self.task_groups = used.task_groups;
    }

    /// The candidate for a registered instance: its ARN, status and what
    /// `memberOf` expressions ask about, from its record; resources and
    /// tasks are left for the caller, who knows what its tasks hold.
    /// `availability_zone` stands in for `ecs.availability-zone` when the
    /// instance did not report one (Wharf's tasks report that zone).
    pub fn of_instance(ci: &ContainerInstance, availability_zone: &str) -> Self {
        let attributes = ci.attributes.as_deref().unwrap_or(&[]);
        let mut attribute_values: std::collections::HashMap<String, String> =
            attributes.iter().filter_map(|a| Some((a.name.clone()?, a.value.clone()?))).collect();
        let mut names: Vec<String> = attributes.iter().filter_map(|a| a.name.clone()).collect();
        if !names.iter().any(|n| n == ZONE) {
            names.push(ZONE.to_owned());
            attribute_values.insert(ZONE.to_owned(), availability_zone.to_owned());
        }
        let arn = ci.container_instance_arn.clone().unwrap_or_default();
        let cluster = crate::arn::parse(&arn)
            .map(|a| a.rest.split_once('/').map_or(a.rest, |(cluster, _)| cluster).to_owned())
            .unwrap_or_default();
        Self {
            arn,
            cluster,
            active: ci.status == Some(InstanceStatus::Active),
            cpu_free: 0,
            memory_free: 0,
            ports_used: vec![],
            tasks: 0,
            attributes: names,
            attribute_values,
            ec2_instance_id: ci.ec2_instance_id.clone(),
            agent_connected: ci.agent_connected.unwrap_or(false),
            agent_version: ci.version_info.as_ref().and_then(|v| v.agent_version.clone()),
            registered_at_ms: ci.registered_at.map(|t| t.as_millis()),
            running_tasks: 0,
            task_groups: TaskGroups::default(),
        }
    }

    /// Its tasks of `group` not yet stopped (all its tasks without a group):
    /// what spreading counts, as ECS spreads a service's tasks or a task
    /// group's.
    fn tasks_of(&self, group: Option<&str>) -> i64 {
        match group {
            Some(g) => self.task_groups.count(g),
            None => self.tasks,
        }
    }

    fn take(&mut self, demand: &Demand, group: Option<&str>) {
        self.cpu_free -= demand.cpu;
        self.memory_free -= demand.memory;
        self.ports_used.extend(demand.ports.iter().cloned());
        self.tasks += 1;
        if let Some(g) = group {
            self.task_groups.add(g, 1);
        }
    }
}

/// The outcome of placing `count` tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// For each task placed, the index of its instance in the candidates.
    pub chosen: Vec<usize>,
    /// `(instance ARN, reason, detail)` for each instance that could not
    /// take a task that was left unplaced, once per instance.
    pub failures: Vec<(String, &'static str, Option<String>)>,
}

/// How to order the instances that fit, as `placementStrategy` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Any instance that fits.
    Random,
    /// Fewest tasks first, per instance (`instanceId`, `host`) or per
    /// value of an attribute (`attribute:ecs.availability-zone`).
    Spread(Option<String>),
    /// Least CPU left first.
    BinpackCpu,
    /// Least memory left first.
    BinpackMemory,
}

/// What the request asks of placement beyond resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Strategies, the first deciding first; none: spread over Availability
    /// Zones, then over instances, ties to the most memory left.
    pub strategies: Vec<Strategy>,
    /// `distinctInstance`: no two of these tasks on one instance.
    pub distinct_instance: bool,
    /// `memberOf` expressions, the request's then the definition's: an
    /// instance takes a task only if it is a member of every one.
    pub member_of: Vec<Expression>,
    /// How many `placementConstraints` these rules were read from (at most
    /// [`MAX_CONSTRAINTS`] with the definition's).
    pub constraints: usize,
    /// The group of the tasks being placed, added to an instance's
    /// `task:group`s as each is placed there.
    pub group: Option<String>,
}

/// Reads one `memberOf` expression; the message names the field.
fn member_of(expression: Option<&str>, field: &str) -> Result<Expression, String> {
    match expression {
        None => Err(format!("{field}: memberOf expression should be specified.")),
        Some(e) => Expression::parse(e).map_err(|err| {
            let text = err.to_string();
            match field {
                "placementConstraints" => text,
                _ => format!("{field}: {text}"),
            }
        }),
    }
}

/// Adds the task definition's `placementConstraints` (`memberOf` only) to
/// `rules` read from the request, as ECS counts them: at most
/// [`MAX_CONSTRAINTS`] between the two.
pub fn add_definition_constraints(
    rules: &mut Rules,
    constraints: &[TaskDefinitionPlacementConstraint],
) -> Result<(), String> {
    if rules.constraints + constraints.len() > MAX_CONSTRAINTS {
        return Err(format!(
            "placementConstraints can have at most {MAX_CONSTRAINTS} items, counting the task \
             definition's {} and the request's {}.",
            constraints.len(),
            rules.constraints
        ));
    }
    for c in constraints {
        match &c.r#type {
            Some(TaskDefinitionPlacementConstraintType::MemberOf) => rules
                .member_of
                .push(member_of(c.expression.as_deref(), "taskDefinition.placementConstraints")?),
            Some(t) => {
                return Err(format!(
                    "taskDefinition.placementConstraints: constraint.type '{t}' is not supported."
                ))
            }
            None => {
                return Err("taskDefinition.placementConstraints.type must be specified.".into())
            }
        }
    }
    rules.constraints += constraints.len();
    Ok(())
}

/// Reads `placementStrategy` and `placementConstraints` as ECS accepts them;
/// the message names the field on a value ECS would refuse (for a
/// `memberOf` expression, with the position where reading stopped).
pub fn rules(
    strategies: &[PlacementStrategy],
    constraints: &[PlacementConstraint],
) -> Result<Rules, String> {
    if strategies.len() > 5 {
        return Err("placementStrategy can have at most 5 items.".into());
    }
    if constraints.len() > MAX_CONSTRAINTS {
        return Err(format!("placementConstraints can have at most {MAX_CONSTRAINTS} items."));
    }
    let mut out = Rules { constraints: constraints.len(), ..Rules::default() };
    for s in strategies {
        let field = s.field.as_deref().map(str::trim).filter(|f| !f.is_empty());
        out.strategies.push(match (&s.r#type, field) {
            (Some(PlacementStrategyType::Random), None) => Strategy::Random,
            (Some(PlacementStrategyType::Spread), Some(f))
                if f.eq_ignore_ascii_case("instanceId") || f.eq_ignore_ascii_case("host") =>
            {
                Strategy::Spread(None)
            }
            (Some(PlacementStrategyType::Spread), Some(f)) if f.starts_with("attribute:") => {
                Strategy::Spread(Some(f["attribute:".len()..].to_owned()))
            }
            (Some(PlacementStrategyType::Binpack), Some(f)) if f.eq_ignore_ascii_case("cpu") => {
                Strategy::BinpackCpu
            }
            (Some(PlacementStrategyType::Binpack), Some(f)) if f.eq_ignore_ascii_case("memory") => {
                Strategy::BinpackMemory
            }
            (Some(t), f) => {
                return Err(format!(
                    "Invalid placement strategy: type {t} with field {}. Valid: random (no field), \
                     spread (instanceId, host or attribute:<name>), binpack (cpu or memory).",
                    f.unwrap_or("(none)")
                ))
            }
            (None, _) => return Err("placementStrategy.type must be specified.".into()),
        });
    }
    for c in constraints {
        match &c.r#type {
            Some(PlacementConstraintType::DistinctInstance) => {
                if c.expression.is_some() {
                    return Err("distinctInstance expression should not be specified.".into());
                }
                out.distinct_instance = true;
            }
            Some(PlacementConstraintType::MemberOf) => {
                out.member_of.push(member_of(c.expression.as_deref(), "placementConstraints")?)
            }
            Some(t) => {
                return Err(format!(
                    "Invalid placement constraint type {t}. Valid: distinctInstance, memberOf."
                ))
            }
            None => return Err("placementConstraints.type must be specified.".into()),
        }
    }
    Ok(out)
}

/// Places up to `count` tasks of `demand` on `candidates` under `rules`:
/// each goes to the best fitting instance by the strategies, and resources
/// taken by one count against the next. Tasks that fit nowhere are left
/// out, and every instance that refused one says why.
pub fn place(
    candidates: &mut [Candidate],
    demand: &Demand,
    count: usize,
    rules: &Rules,
) -> Placement {
    let all: Vec<usize> = (0..candidates.len()).collect();
    place_among(candidates, &all, demand, count, rules)
}

/// [`place`] on only the candidates at the indices `among` (ascending):
/// `chosen` holds indices into all of `candidates`. Placing in place, rather
/// than on a copy of those candidates, keeps a launch on thousands of
/// instances from copying every one of them.
pub fn place_among(
    candidates: &mut [Candidate],
    among: &[usize],
    demand: &Demand,
    count: usize,
    rules: &Rules,
) -> Placement {
    let mut placement = Placement::default();
    let random = std::collections::hash_map::RandomState::new();
    let group = rules.group.as_deref();
    // What spreading counts, worked out once per call and kept up to date as
    // tasks are taken: each instance's tasks of the group, and those of every
    // instance sharing an attribute's value. Counting them afresh for each
    // instance at each task cost instances² per task.
    let mut in_group: Vec<i64> = among.iter().map(|&i| candidates[i].tasks_of(group)).collect();
    let mut spreads: Vec<Option<Buckets>> = rules
        .strategies
        .iter()
        .map(|s| match s {
            Strategy::Spread(Some(attribute)) => {
                Some(Buckets::new(candidates, among, attribute, &in_group))
            }
            _ => None,
        })
        .collect();
    let mut zones =
        rules.strategies.is_empty().then(|| Buckets::new(candidates, among, ZONE, &in_group));
    // An instance's status, its agent and the attributes a task requires do
    // not change between the tasks of one call: checked once per instance.
    let usable: Vec<bool> = among
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            c.active && c.agent_connected && c.missing_attribute(demand).is_none()
        })
        .collect();
    let mut taken = vec![false; among.len()];
    for _ in 0..count {
        let mut best: Option<(Key, usize)> = None;
        for (j, &i) in among.iter().enumerate() {
            let c = &candidates[i];
            let allowed = usable[j]
                && c.fits_resources(demand).is_ok()
                && (rules.member_of.is_empty() || c.refused_by(rules).is_none())
                && !(rules.distinct_instance && taken[j]);
            if !allowed {
                continue;
            }
            let mut key = Key::default();
            for (s, buckets) in rules.strategies.iter().zip(&spreads) {
                key.push(match s {
                    Strategy::Random => {
                        use std::hash::BuildHasher;
                        (random.hash_one((i, placement.chosen.len())) >> 1) as i64
                    }
                    Strategy::Spread(None) => in_group[j],
                    Strategy::Spread(Some(_)) => buckets.as_ref().map_or(0, |b| b.count(j)),
                    Strategy::BinpackCpu => c.cpu_free,
                    Strategy::BinpackMemory => c.memory_free,
                });
            }
            if let Some(zones) = &zones {
                key.push(zones.count(j));
                key.push(in_group[j]);
                key.push(-c.memory_free);
            }
            key.push(j as i64);
            if best.as_ref().is_none_or(|(b, _)| key < *b) {
                best = Some((key, j));
            }
        }
        match best {
            Some((_, j)) => {
                let i = among[j];
                candidates[i].take(demand, rules.group.as_deref());
                in_group[j] += 1;
                taken[j] = true;
                for b in spreads.iter_mut().flatten().chain(zones.as_mut()) {
                    b.add(j);
                }
                placement.chosen.push(i);
            }
            None => {
                for (j, &i) in among.iter().enumerate() {
                    let c = &candidates[i];
                    let why = match c.fits(demand) {
                        Err(why) => Some((why.reason(), c.missing_attribute(demand).map(|a| {
                            format!("The task requires the attribute {a}, which this instance does not have.")
                        }))),
                        Ok(()) if c.refused_by(rules).is_some() => Some((
                            MEMBER_OF_UNSATISFIED,
                            c.refused_by(rules).map(|e| {
                                format!("The instance is not a member of {}.", e.source())
                            }),
                        )),
                        Ok(()) if rules.distinct_instance && taken[j] => {
                            Some(("DistinctInstance", Some("distinctInstance placement constraint unsatisfied.".to_owned())))
                        }
                        Ok(()) => None,
                    };
                    if let Some((reason, detail)) = why {
                        if !placement.failures.iter().any(|(arn, _, _)| *arn == c.arn) {
                            placement.failures.push((c.arn.clone(), reason, detail));
                        }
                    }
                }
                break;
            }
        }
    }
    placement
}

/// An instance's place in the order the strategies make, compared
/// lexicographically: at most five strategies, the default's three figures
/// and the index that breaks ties, kept without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Key {
    figures: [i64; 10],
    len: usize,
}

impl Key {
    fn push(&mut self, figure: i64) {
        // `rules` admits at most five strategies, so this never drops one.
        if let Some(slot) = self.figures.get_mut(self.len) {
            *slot = figure;
            self.len += 1;
        }
    }

    fn figures(&self) -> &[i64] {
        &self.figures[..self.len]
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.figures().cmp(other.figures())
    }
}

/// The instances grouped by their value of one attribute (those without it
/// together), with the tasks of the group each value holds: the count a
/// spread over that attribute compares.
#[derive(Debug)]
struct Buckets {
    /// Each candidate's value, as an index into `counts`.
    of: Vec<usize>,
    /// The tasks of the group on the instances of each value.
    counts: Vec<i64>,
}

impl Buckets {
    /// Buckets the candidates at `among` by their value of `attribute`; `j`
    /// below is a position in `among`.
    fn new(candidates: &[Candidate], among: &[usize], attribute: &str, in_group: &[i64]) -> Self {
        // Few values (zones, instance types) are found faster by comparing
        // than by hashing; many (one per host) are hashed.
        const FEW: usize = 16;
        let mut few: Vec<Option<&str>> = Vec::new();
        let mut many: std::collections::HashMap<Option<&str>, usize> = Default::default();
        let of: Vec<usize> = among
            .iter()
            .map(|&i| {
                let value = candidates[i].attribute_values.get(attribute).map(String::as_str);
                if many.is_empty() {
                    if let Some(at) = few.iter().position(|v| *v == value) {
                        return at;
                    }
                    if few.len() < FEW {
                        few.push(value);
                        return few.len() - 1;
                    }
                    many.extend(few.iter().enumerate().map(|(at, v)| (*v, at)));
                }
                let next = many.len();
                *many.entry(value).or_insert(next)
            })
            .collect();
        let mut counts = vec![0; few.len().max(many.len())];
        for (i, b) in of.iter().enumerate() {
            counts[*b] += in_group[i];
        }
        Self { of, counts }
    }

    fn count(&self, i: usize) -> i64 {
        self.counts[self.of[i]]
    }

    fn add(&mut self, i: usize) {
        self.counts[self.of[i]] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(arn: &str, cpu: i64, memory: i64) -> Candidate {
        Candidate {
            arn: arn.into(),
            cluster: "default".into(),
            active: true,
            cpu_free: cpu,
            memory_free: memory,
            ports_used: vec![],
            tasks: 0,
            attributes: vec!["ecs.capability.x".into()],
            attribute_values: Default::default(),
            ec2_instance_id: Some(format!("i-{arn}")),
            agent_connected: true,
            agent_version: Some("1.80.0".into()),
            registered_at_ms: Some(1_700_000_000_000),
            running_tasks: 0,
            task_groups: TaskGroups::default(),
        }
    }

    fn constraints(v: serde_json::Value) -> Vec<PlacementConstraint> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn spreads_and_accounts_for_what_it_took() {
        let mut cs = vec![candidate("a", 2048, 1000), candidate("b", 2048, 1000)];
        let d = Demand { cpu: 512, memory: 400, ..Demand::default() };
        let p = place(&mut cs, &d, 4, &Rules::default());
        assert_eq!(p.chosen, vec![0, 1, 0, 1]);
        assert!(p.failures.is_empty());
        let p = place(&mut cs, &d, 1, &Rules::default());
        assert!(p.chosen.is_empty());
        assert_eq!(
            p.failures,
            vec![("a".into(), "RESOURCE:MEMORY", None), ("b".into(), "RESOURCE:MEMORY", None)]
        );
    }

    fn in_zone(arn: &str, zone: &str) -> Candidate {
        let mut c = candidate(arn, 8192, 8192);
        c.attribute_values.insert("ecs.availability-zone".into(), zone.into());
        c
    }

    #[test]
    fn spreading_over_many_values_counts_each_value_apart() {
        // 40 racks, more than are compared one by one: rack r0 already holds
        // a task of the group, so the 39 tasks go one to each other rack.
        let mut cs: Vec<Candidate> = (0..40)
            .map(|n| {
                let mut c = candidate(&format!("h{n}"), 8192, 8192);
                c.attribute_values.insert("rack".into(), format!("r{}", n % 40));
                c
            })
            .collect();
        cs[0].task_groups.add("service:web", 1);
        let rules = Rules {
            strategies: vec![Strategy::Spread(Some("rack".into()))],
            group: Some("service:web".into()),
            ..Rules::default()
        };
        let p = place(&mut cs, &Demand { cpu: 1, memory: 1, ..Demand::default() }, 39, &rules);
        let mut chosen = p.chosen.clone();
        chosen.sort_unstable();
        assert_eq!(chosen, (1..40).collect::<Vec<_>>());
    }

    #[test]
    fn spreads_a_groups_tasks_over_zones_whatever_else_runs() {
        // Zone a has two hosts, b and c one each; host a1 is busy with other work.
        let mut cs = vec![
            in_zone("a1", "z-a"),
            in_zone("a2", "z-a"),
            in_zone("b", "z-b"),
            in_zone("c", "z-c"),
        ];
        cs[0].tasks = 9;
        cs[0].task_groups.add("family:other", 9);
        let d = Demand { cpu: 10, memory: 10, ..Demand::default() };
        let rules = |strategies: Vec<Strategy>| Rules {
            strategies,
            group: Some("service:web".into()),
            ..Rules::default()
        };
        for strategies in [vec![], vec![Strategy::Spread(Some("ecs.availability-zone".into()))]] {
            let mut cs = cs.clone();
            let p = place(&mut cs, &d, 6, &rules(strategies.clone()));
            let per_zone = |z: &str| {
                p.chosen
                    .iter()
                    .filter(|i| cs[**i].attribute_values["ecs.availability-zone"] == z)
                    .count()
            };
            assert_eq!(
                (per_zone("z-a"), per_zone("z-b"), per_zone("z-c")),
                (2, 2, 2),
                "{strategies:?}"
            );
        }
        // Spread by instance counts only the group's tasks: a1's other work does not count.
        let p = place(&mut cs, &d, 4, &rules(vec![Strategy::Spread(None)]));
        let mut chosen = p.chosen.clone();
        chosen.sort();
        assert_eq!(chosen, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_spread_over_an_attribute_counts_the_groups_tasks_on_each_value() {
        // Rack r1 already holds three of the group's tasks (on two hosts), r2
        // one, and a host without the attribute none: the next five go to the
        // values holding the fewest, hosts without a value counting together.
        let on_rack = |arn: &str, rack: Option<&str>, held: usize| {
            let mut c = candidate(arn, 10_000, 10_000);
            if let Some(r) = rack {
                c.attribute_values.insert("rack".into(), r.into());
            }
            c.task_groups = TaskGroups::default();
            c.task_groups.add("service:web", held as i64);
            c.task_groups.add("family:other", 1);
            c.tasks = held as i64 + 1;
            c
        };
        let mut cs = vec![
            on_rack("a", Some("r1"), 2),
            on_rack("b", Some("r1"), 1),
            on_rack("c", Some("r2"), 1),
            on_rack("d", None, 0),
        ];
        let rules = Rules {
            strategies: vec![Strategy::Spread(Some("rack".into()))],
            group: Some("service:web".into()),
            ..Rules::default()
        };
        let d = Demand { cpu: 1, memory: 1, ..Demand::default() };
        let p = place(&mut cs, &d, 5, &rules);
        let on = |arns: &[&str]| {
            p.chosen.iter().filter(|i| arns.contains(&cs[**i].arn.as_str())).count()
        };
        // r1: 3 + 0, r2: 1 + 2, none: 0 + 3: the counts end level at 3.
        assert_eq!((on(&["a", "b"]), on(&["c"]), on(&["d"])), (0, 2, 3));
        assert_eq!(cs[3].tasks_of(Some("service:web")), 3);
    }

    #[test]
    fn a_disconnected_agent_takes_no_task() {
        let mut cs = vec![candidate("a", 1000, 1000)];
        cs[0].agent_connected = false;
        let p = place(&mut cs, &Demand::default(), 1, &Rules::default());
        assert!(p.chosen.is_empty());
        assert_eq!(p.failures, vec![("a".into(), "AGENT", None)]);
    }

    #[test]
    fn reasons_name_the_first_missing_resource() {
        let mut cs = vec![candidate("a", 100, 1000)];
        assert_eq!(
            place(
                &mut cs,
                &Demand { cpu: 200, memory: 2000, ..Demand::default() },
                1,
                &Rules::default()
            )
            .failures[0]
                .1,
            "RESOURCE:CPU"
        );
        let mut cs = vec![candidate("a", 1000, 1000)];
        let d = Demand { cpu: 0, memory: 10, ports: vec!["80/tcp".into()], ..Demand::default() };
        let p = place(&mut cs, &d, 2, &Rules::default());
        assert_eq!(p.chosen, vec![0]);
        assert_eq!(p.failures, vec![("a".into(), "RESOURCE:PORTS", None)]);
        cs[0].ports_used.clear();
        let d = Demand { attributes: vec!["ecs.capability.efs".into()], ..Demand::default() };
        let p = place(&mut cs, &d, 1, &Rules::default());
        assert_eq!(p.failures[0].1, "ATTRIBUTE");
        assert!(p.failures[0].2.as_deref().unwrap().contains("ecs.capability.efs"));
        cs[0].active = false;
        assert_eq!(place(&mut cs, &Demand::default(), 1, &Rules::default()).failures[0].1, "AGENT");
    }

    #[test]
    fn strategies_order_and_distinct_instance_spreads() {
        let mut cs = vec![candidate("a", 4096, 1000), candidate("b", 4096, 3000)];
        let binpack: Vec<PlacementStrategy> =
            serde_json::from_value(serde_json::json!([{"type": "binpack", "field": "memory"}]))
                .unwrap();
        let r = rules(&binpack, &[]).unwrap();
        let d = Demand { memory: 100, ..Demand::default() };
        assert_eq!(place(&mut cs, &d, 3, &r).chosen, vec![0, 0, 0], "least memory left first");
        let distinct: Vec<PlacementConstraint> =
            serde_json::from_value(serde_json::json!([{"type": "distinctInstance"}])).unwrap();
        let r = rules(&binpack, &distinct).unwrap();
        let p = place(&mut cs, &d, 3, &r);
        assert_eq!(p.chosen, vec![0, 1]);
        assert_eq!(p.failures[0].1, "DistinctInstance");
        let bad: Vec<PlacementStrategy> =
            serde_json::from_value(serde_json::json!([{"type": "binpack", "field": "disk"}]))
                .unwrap();
        assert!(rules(&bad, &[]).unwrap_err().contains("binpack (cpu or memory)"));
    }

    #[test]
    fn member_of_narrows_the_candidates_and_says_why() {
        let mut cs =
            vec![candidate("a", 4096, 4096), candidate("b", 4096, 4096), candidate("c", 10, 10)];
        cs[1].attribute_values.insert("stack".into(), "prod".into());
        cs[1].attributes.push("stack".into());
        cs[2].attribute_values.insert("stack".into(), "prod".into());
        let r = rules(
            &[],
            &constraints(
                serde_json::json!([{"type": "memberOf", "expression": "attribute:stack == prod"}]),
            ),
        )
        .unwrap();
        assert_eq!(r.member_of.len(), 1);
        let d = Demand { cpu: 100, memory: 100, ..Demand::default() };
        let p = place(&mut cs, &d, 2, &r);
        assert_eq!(p.chosen, vec![1, 1], "only b is prod and has room");
        assert!(p.failures.is_empty());
        cs[1].active = false;
        let p = place(&mut cs, &d, 1, &r);
        assert!(p.chosen.is_empty());
        assert_eq!(
            p.failures,
            vec![
                (
                    "a".into(),
                    MEMBER_OF_UNSATISFIED,
                    Some("The instance is not a member of attribute:stack == prod.".into())
                ),
                ("b".into(), "AGENT", None),
                ("c".into(), "RESOURCE:CPU", None),
            ],
            "resources are checked before constraints, as ECS orders them"
        );
    }

    #[test]
    fn task_group_sees_the_tasks_placed_so_far() {
        let mut cs = vec![candidate("a", 4096, 4096), candidate("b", 4096, 4096)];
        cs[1].task_groups.add("databases", 1);
        let affinity = constraints(serde_json::json!([
            {"type": "memberOf", "expression": "task:group == databases"}
        ]));
        let r = rules(&[], &affinity).unwrap();
        assert_eq!(place(&mut cs.clone(), &Demand::default(), 3, &r).chosen, vec![1, 1, 1]);
        let anti = constraints(serde_json::json!([
            {"type": "memberOf", "expression": "not(task:group == family:web)"}
        ]));
        let mut r = rules(&[], &anti).unwrap();
        r.group = Some("family:web".into());
        let p = place(&mut cs, &Demand::default(), 3, &r);
        assert_eq!(p.chosen, vec![0, 1], "each placed task keeps the next off its instance");
        assert_eq!(p.failures.len(), 2);
        assert!(p.failures.iter().all(|f| f.1 == MEMBER_OF_UNSATISFIED));
        assert_eq!(cs[0].task_groups, ["family:web"].into_iter().collect());
    }

    #[test]
    fn constraint_rules_as_ecs_reads_them() {
        let bad =
            constraints(serde_json::json!([{"type": "memberOf", "expression": "attribute:x =="}]));
        assert_eq!(
            rules(&[], &bad).unwrap_err(),
            "placementConstraints.expression is invalid at position 15: expected a value (found the end of the expression)."
        );
        let none = constraints(serde_json::json!([{"type": "memberOf"}]));
        assert_eq!(
            rules(&[], &none).unwrap_err(),
            "placementConstraints: memberOf expression should be specified."
        );
        let distinct =
            constraints(serde_json::json!([{"type": "distinctInstance", "expression": "x"}]));
        assert_eq!(
            rules(&[], &distinct).unwrap_err(),
            "distinctInstance expression should not be specified."
        );
        let nine = constraints(serde_json::json!(
            (0..9).map(|i| serde_json::json!({"type": "memberOf", "expression": format!("attribute:a{i} exists")})).collect::<Vec<_>>()
        ));
        let mut r = rules(&[], &nine).unwrap();
        assert_eq!((r.constraints, r.member_of.len()), (9, 9));
        let from_definition: Vec<TaskDefinitionPlacementConstraint> =
            serde_json::from_value(serde_json::json!([
                {"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}
            ]))
            .unwrap();
        add_definition_constraints(&mut r, &from_definition).unwrap();
        assert_eq!((r.constraints, r.member_of.len()), (10, 10));
        let err = add_definition_constraints(&mut r, &from_definition).unwrap_err();
        assert!(err.contains("at most 10"), "{err}");
        let mut r = Rules::default();
        let bad: Vec<TaskDefinitionPlacementConstraint> =
            serde_json::from_value(serde_json::json!([
                {"type": "memberOf", "expression": "attribute:ecs.os-type = linux"}
            ]))
            .unwrap();
        let err = add_definition_constraints(&mut r, &bad).unwrap_err();
        assert!(err.starts_with("taskDefinition.placementConstraints: placementConstraints.expression is invalid at position 23"), "{err}");
        let odd: Vec<TaskDefinitionPlacementConstraint> =
            serde_json::from_value(serde_json::json!([{"type": "distinctInstance"}])).unwrap();
        assert!(add_definition_constraints(&mut r, &odd).unwrap_err().contains("not supported"));
    }

    #[test]
    fn a_candidate_from_an_instance_record() {
        let ci: ContainerInstance = serde_json::from_value(serde_json::json!({
            "containerInstanceArn": "arn:aws:ecs:us-east-1:1:container-instance/default/abc",
            "ec2InstanceId": "i-1",
            "status": "ACTIVE",
            "agentConnected": true,
            "versionInfo": {"agentVersion": "1.2.3"},
            "registeredAt": 1_700_000_000.0,
            "attributes": [{"name": "stack", "value": "prod"}, {"name": "ecs.capability.x"}]
        }))
        .unwrap();
        let c = Candidate::of_instance(&ci, "us-east-1a");
        let e = |s: &str| Expression::parse(s).unwrap().matches(&c);
        assert!(e("attribute:stack == prod and attribute:ecs.capability.x exists"));
        assert!(
            e("attribute:ecs.availability-zone == us-east-1a"),
            "the zone Wharf's tasks report"
        );
        assert!(e("ec2InstanceId == i-1 and agentConnected == true and agentVersion == 1.2.3"));
        assert!(e("registeredAt == 2023-11-14T22:13:20Z"));
        assert!(c.active);
    }
}
