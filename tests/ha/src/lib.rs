//! The fault suite's parts: the processes ([`procs`]), the rig of etcd,
//! servers and agent ([`rig`]), a client of the API ([`api`]), the mixed
//! load ([`load`]), the checks ([`verify`]) and the linearizability checker
//! ([`lin`]). The scenarios are in `tests/faults.rs`.
#![warn(missing_docs)]

pub mod api;
pub mod lin;
pub mod load;
pub mod procs;
pub mod rig;
pub mod verify;
