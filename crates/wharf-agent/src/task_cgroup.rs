//! A task's own cgroup, for the tasks whose size is a hard limit (Fargate
//! tasks: their task-level `cpu` and `memory` are the task's size). The
//! agent makes `/wharf-tasks/<task id>` in the cgroup hierarchy with the
//! task's CPU quota and memory limit, and its containers are created under
//! it (`HostConfig.CgroupParent`), as the ECS agent makes `/ecs/<task id>`:
//! together they can use no more than the task's size.
//!
//! cgroup v1 (`cpu` and `memory` hierarchies) and v2 (the unified one) are
//! both written; Docker must use the `cgroupfs` cgroup driver (with
//! `systemd` a parent must be a slice, which only systemd may make) and run
//! on this host. Elsewhere the runtime says it cannot, and containers are
//! bounded one by one as before.

use std::io;
use std::path::{Path, PathBuf};

/// The cgroup every task cgroup is made under.
pub const PARENT: &str = "wharf-tasks";
/// The CFS period the CPU quota is a share of (microseconds).
pub const CPU_PERIOD_US: u64 = 100_000;

/// A task's size: what its containers may use together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSize {
    /// CPU units (1,024 a vCPU).
    pub cpu_units: u32,
    /// MiB.
    pub memory_mib: u32,
}

impl TaskSize {
    /// The CFS quota of `cpu_units` (microseconds per period): 256 units is
    /// a quarter of one CPU.
    pub fn cpu_quota_us(self) -> u64 {
        u64::from(self.cpu_units) * CPU_PERIOD_US / 1024
    }

    /// The memory limit in bytes.
    pub fn memory_bytes(self) -> u64 {
        u64::from(self.memory_mib) * 1024 * 1024
    }
}

/// The cgroup filesystem the engine's containers live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v1: the `cpu` and `memory` controllers' own mounts.
    V1 {
        /// The `cpu` controller's mount (`/sys/fs/cgroup/cpu`).
        cpu: PathBuf,
        /// The `memory` controller's mount.
        memory: PathBuf,
    },
    /// cgroup v2: the unified hierarchy's mount.
    V2 {
        /// `/sys/fs/cgroup`.
        root: PathBuf,
    },
}

impl Hierarchy {
    /// The hierarchy mounted under `root` (`/sys/fs/cgroup`): v2 when its
    /// `cgroup.controllers` is there, else v1's `cpu` (or `cpu,cpuacct`)
    /// and `memory` mounts; `None` when neither is.
    pub fn detect(root: &Path) -> Option<Self> {
        if root.join("cgroup.controllers").is_file() {
            return Some(Self::V2 { root: root.to_owned() });
        }
        let cpu = ["cpu", "cpu,cpuacct", "cpuacct,cpu"]
            .iter()
            .map(|d| root.join(d))
            .find(|p| p.join("cpu.cfs_quota_us").is_file())?;
        let memory = root.join("memory");
        memory.join("memory.limit_in_bytes").is_file().then_some(Self::V1 { cpu, memory })
    }

    /// Makes (or finds) the task's cgroup with its size; the
    /// `CgroupParent` its containers are created with.
    pub fn create(&self, task_id: &str, size: TaskSize) -> io::Result<String> {
        check_id(task_id)?;
        match self {
            Self::V1 { cpu, memory } => {
                let c = cpu.join(PARENT).join(task_id);
                std::fs::create_dir_all(&c)?;
                std::fs::write(c.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                std::fs::write(c.join("cpu.cfs_quota_us"), size.cpu_quota_us().to_string())?;
                let m = memory.join(PARENT).join(task_id);
                std::fs::create_dir_all(&m)?;
                std::fs::write(m.join("memory.limit_in_bytes"), size.memory_bytes().to_string())?;
            }
            Self::V2 { root } => {
                let parent = root.join(PARENT);
                std::fs::create_dir_all(&parent)?;
                enable_controllers(root)?;
                enable_controllers(&parent)?;
                let t = parent.join(task_id);
                std::fs::create_dir_all(&t)?;
                std::fs::write(
                    t.join("cpu.max"),
                    format!("{} {CPU_PERIOD_US}", size.cpu_quota_us()),
                )?;
                std::fs::write(t.join("memory.max"), size.memory_bytes().to_string())?;
            }
        }
        Ok(format!("/{PARENT}/{task_id}"))
    }

    /// Removes the task's cgroup once its containers are gone; one that is
    /// gone already is not an error.
    pub fn remove(&self, task_id: &str) -> io::Result<()> {
        check_id(task_id)?;
        let dirs = match self {
            Self::V1 { cpu, memory } => {
                vec![cpu.join(PARENT).join(task_id), memory.join(PARENT).join(task_id)]
            }
            Self::V2 { root } => vec![root.join(PARENT).join(task_id)],
        };
        for d in dirs {
            match std::fs::remove_dir(&d) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A task ID names one directory: hex digits (and dashes) only.
fn check_id(task_id: &str) -> io::Result<()> {
    let ok = !task_id.is_empty() && task_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a task id: {task_id:?}")))
    }
}

/// Lets a v2 cgroup's children use the cpu and memory controllers.
fn enable_controllers(dir: &Path) -> io::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let current = std::fs::read_to_string(&control).unwrap_or_default();
    let missing: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|c| !current.split_whitespace().any(|have| have == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let line: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    std::fs::write(control, line.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: TaskSize = TaskSize { cpu_units: 256, memory_mib: 512 };

    #[test]
    fn the_size_is_a_quota_and_a_limit() {
        assert_eq!(SIZE.cpu_quota_us(), 25_000);
        assert_eq!(SIZE.memory_bytes(), 536_870_912);
        assert_eq!(TaskSize { cpu_units: 4096, memory_mib: 1 }.cpu_quota_us(), 400_000);
    }

    #[test]
    fn v1_writes_the_cpu_and_memory_hierarchies() {
        let dir = tempfile::tempdir().unwrap();
        for (d, f) in [("cpu", "cpu.cfs_quota_us"), ("memory", "memory.limit_in_bytes")] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
            std::fs::write(dir.path().join(d).join(f), "-1").unwrap();
        }
        let h = Hierarchy::detect(dir.path()).unwrap();
        assert!(matches!(h, Hierarchy::V1 { .. }));
        assert_eq!(h.create("abc123", SIZE).unwrap(), "/wharf-tasks/abc123");
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(read("cpu/wharf-tasks/abc123/cpu.cfs_quota_us"), "25000");
        assert_eq!(read("cpu/wharf-tasks/abc123/cpu.cfs_period_us"), "100000");
        assert_eq!(read("memory/wharf-tasks/abc123/memory.limit_in_bytes"), "536870912");
        // A real cgroup directory has only its control files, which rmdir
        // ignores; here they are plain files, so take them away first.
        for f in [
            "cpu/wharf-tasks/abc123/cpu.cfs_quota_us",
            "cpu/wharf-tasks/abc123/cpu.cfs_period_us",
            "memory/wharf-tasks/abc123/memory.limit_in_bytes",
        ] {
            std::fs::remove_file(dir.path().join(f)).unwrap();
        }
        h.remove("abc123").unwrap();
        assert!(!dir.path().join("cpu/wharf-tasks/abc123").exists());
        h.remove("abc123").unwrap();
        assert!(h.create("../escape", SIZE).is_err());
    }

    #[test]
    fn v2_enables_the_controllers_and_writes_max() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu io memory pids").unwrap();
        std::fs::write(dir.path().join("cgroup.subtree_control"), "memory").unwrap();
        let h = Hierarchy::detect(dir.path()).unwrap();
        assert_eq!(h, Hierarchy::V2 { root: dir.path().to_owned() });
        h.create("t1", SIZE).unwrap();
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), "+cpu");
        assert_eq!(read("wharf-tasks/cgroup.subtree_control"), "+cpu +memory");
        assert_eq!(read("wharf-tasks/t1/cpu.max"), "25000 100000");
        assert_eq!(read("wharf-tasks/t1/memory.max"), "536870912");
    }

    #[test]
    fn nothing_to_detect_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Hierarchy::detect(dir.path()), None);
    }
}
