//! The fault suite: three wharf servers on a three-member etcd cluster, an
//! agent that knows them all, the mixed load running, one fault per test;
//! afterwards every acknowledged write is there, nothing was numbered twice,
//! no task ran twice (from Docker's own containers), the service reaches its
//! desired count, and the task definition histories are linearizable. Each
//! run is bounded in time.

use std::time::Duration;

use tokio::sync::watch;
use wharf_ha_tests::rig::{Rig, LEADER_LEASE_SECS};
use wharf_ha_tests::{load, verify};

/// The most one scenario may take.
const BOUND: Duration = Duration::from_secs(240);

#[derive(Debug, Clone, Copy)]
enum Fault {
    KillLeader,
    KillFollower,
    KillEtcdMembers,
    PauseLeader,
}

async fn inject(rig: &mut Rig, fault: Fault) {
    let lease = Duration::from_secs(LEADER_LEASE_SECS);
    match fault {
        Fault::KillLeader => {
            let leader = rig.wait_for_leader(None, Duration::from_secs(10)).await;
            rig.kill_server(leader);
            // Another server leads within the lease and a second.
            let next = rig.wait_for_leader(Some(leader), lease + Duration::from_secs(2)).await;
            assert_ne!(next, leader);
            tokio::time::sleep(Duration::from_secs(2)).await;
            rig.start_server(leader).await;
        }
        Fault::KillFollower => {
            let leader = rig.wait_for_leader(None, Duration::from_secs(10)).await;
            let follower = (leader + 1) % rig.servers.len();
            rig.kill_server(follower);
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert_eq!(rig.leader().await, Some(leader), "losing a follower moved the leadership");
            rig.start_server(follower).await;
        }
        Fault::KillEtcdMembers => {
            let leader = rig.etcd.leader().await.expect("an etcd leader");
            let follower = (leader + 1) % 3;
            rig.etcd.kill(follower);
            tokio::time::sleep(Duration::from_secs(2)).await;
            rig.etcd.restart(follower).await.expect("restart an etcd member");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let leader = rig.etcd.leader().await.expect("an etcd leader");
            rig.etcd.kill(leader);
            tokio::time::sleep(Duration::from_secs(3)).await;
            rig.etcd.restart(leader).await.expect("restart the old etcd leader");
        }
        Fault::PauseLeader => {
            let leader = rig.wait_for_leader(None, Duration::from_secs(10)).await;
            rig.pause_server(leader);
            let next = rig.wait_for_leader(Some(leader), lease + Duration::from_secs(2)).await;
            assert_ne!(next, leader);
            // Past its lease, then back: its late writes must be refused.
            tokio::time::sleep(lease * 2).await;
            rig.resume_server(leader);
        }
    }
}

/// Prints the rig's logs when the test fails while it is in scope.
struct LogsOnPanic<'a>(&'a Rig);

impl Drop for LogsOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.0.logs());
        }
    }
}

async fn scenario(fault: Fault) {
    let run = async {
        let mut rig = Rig::start(3).await;
        load::prepare(&rig.api, &rig.cluster).await;
        let (stop, stopping) = watch::channel(false);
        let load = tokio::spawn(load::run(rig.api.clone(), rig.cluster.clone(), stopping));
        tokio::time::sleep(Duration::from_secs(3)).await;
        inject(&mut rig, fault).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = stop.send(true);
        let records = load.await.expect("the load");
        eprintln!(
            "{fault:?}: answered {:?}, unknown {:?}",
            records.answered.lock().map(|a| a.clone()).unwrap_or_default(),
            records.unknown.lock().map(|u| u.clone()).unwrap_or_default()
        );
        let _logs = LogsOnPanic(&rig);
        verify::all(&rig, &records).await;
    };
    tokio::time::timeout(BOUND, run).await.expect("the scenario ran past its bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_leading_server() {
    scenario(Fault::KillLeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_a_following_server() {
    scenario(Fault::KillFollower).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_an_etcd_member_then_the_etcd_leader() {
    scenario(Fault::KillEtcdMembers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_the_leading_server_past_its_lease() {
    scenario(Fault::PauseLeader).await;
}
