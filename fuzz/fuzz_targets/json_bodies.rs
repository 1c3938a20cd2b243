//! The JSON bodies of the APIs, through the generated shapes and the
//! front door's reader (which words the errors); never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_api::protocol::parse;
use wharf_model::ecs::shapes as ecs;

fuzz_target!(|data: &[u8]| {
    let _ = parse::<ecs::RunTaskRequest>(data);
    let _ = parse::<ecs::CreateServiceRequest>(data);
    let _ = parse::<ecs::UpdateServiceRequest>(data);
    let _ = parse::<ecs::DescribeTasksRequest>(data);
    let _ = parse::<ecs::CreateClusterRequest>(data);
    let _ = parse::<wharf_model::logs::shapes::PutLogEventsRequest>(data);
    let _ = parse::<wharf_model::logs::shapes::FilterLogEventsRequest>(data);
    let _ = parse::<wharf_model::ssm::shapes::PutParameterRequest>(data);
    let _ = parse::<wharf_model::secretsmanager::shapes::CreateSecretRequest>(data);
});
