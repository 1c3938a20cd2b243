//! How ECS computes a service's `CPUUtilization` and `MemoryUtilization`
//! (namespace `AWS/ECS`, dimensions `ClusterName` and `ServiceName`): the
//! CPU units (or MiB) the service's running tasks use, over the CPU units
//! (or MiB) they reserve, in percent. A task reserves its task-level `cpu`
//! and `memory`, or else the sum of its containers' (`memory`, else
//! `memoryReservation`). The datapoint's Average is the service's total use
//! over its total reservation; its SampleCount counts the tasks; its Minimum
//! and Maximum are the least and most loaded task's.

use super::series::Stats;
use crate::ecs::shapes::Task;
use crate::ecs::task_definition::{parse_task_cpu, parse_task_memory};

/// What a task reserves: (CPU units, MiB); 0 where it reserves nothing.
pub fn reservation(task: &Task) -> (u32, u32) {
    let containers = task.containers.as_deref().unwrap_or_default();
    let number = |v: Option<&String>| v.and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    let cpu = task
        .cpu
        .as_deref()
        .and_then(parse_task_cpu)
        .unwrap_or_else(|| containers.iter().map(|c| number(c.cpu.as_ref())).sum());
    let memory = task.memory.as_deref().and_then(parse_task_memory).unwrap_or_else(|| {
        containers.iter().map(|c| number(c.memory.as_ref().or(c.memory_reservation.as_ref()))).sum()
    });
    (cpu, memory)
}

/// The datapoint of one period from each task's (use, reservation), in the
/// same unit; tasks that reserve nothing do not count. `None` when no task
/// counts.
pub fn utilization(tasks: &[(f64, f64)]) -> Option<Stats> {
    let counted: Vec<(f64, f64)> = tasks.iter().copied().filter(|(_, r)| *r > 0.0).collect();
    if counted.is_empty() {
        return None;
    }
    let used: f64 = counted.iter().map(|(u, _)| u).sum();
    let reserved: f64 = counted.iter().map(|(_, r)| r).sum();
    let each = counted.iter().map(|(u, r)| u * 100.0 / r);
    let n = counted.len() as f64;
    Some(Stats {
        count: n,
        sum: used * 100.0 / reserved * n,
        min: each.clone().fold(f64::INFINITY, f64::min),
        max: each.fold(f64::NEG_INFINITY, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::shapes::Statistic;
    use crate::ecs::shapes::Container;

    #[test]
    fn the_average_is_total_use_over_total_reservation() {
        // 256 units used of 256, and 0 of 768: 25%, not the tasks' mean (50%).
        let s = utilization(&[(256.0, 256.0), (0.0, 768.0), (5.0, 0.0)]).unwrap();
        assert_eq!(s.statistic(&Statistic::Average), Some(25.0));
        assert_eq!(s.statistic(&Statistic::SampleCount), Some(2.0));
        assert_eq!(s.statistic(&Statistic::Maximum), Some(100.0));
        assert_eq!(s.statistic(&Statistic::Minimum), Some(0.0));
        assert_eq!(utilization(&[(1.0, 0.0)]), None);
    }

    #[test]
    fn a_task_reserves_its_own_size_or_its_containers() {
        let sized =
            Task { cpu: Some("0.5 vCPU".into()), memory: Some("1 GB".into()), ..Task::default() };
        assert_eq!(reservation(&sized), (512, 1024));
        let container = |cpu: &str, memory: Option<&str>, soft: Option<&str>| Container {
            cpu: Some(cpu.into()),
            memory: memory.map(Into::into),
            memory_reservation: soft.map(Into::into),
            ..Container::default()
        };
        let parts = Task {
            containers: Some(vec![
                container("128", Some("64"), None),
                container("0", None, Some("32")),
            ]),
            ..Task::default()
        };
        assert_eq!(reservation(&parts), (128, 96));
    }
}
