//! The JSON bodies of the APIs, through the generated shapes, read as the
//! front door reads them (serde_path_to_error, then ECS's wording of the
//! error); never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_model::ecs::shapes as ecs;

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) {
    let de = &mut serde_json::Deserializer::from_slice(body);
    if let Err(e) = serde_path_to_error::deserialize::<_, T>(de) {
        let _ = e.path().to_string();
        let _ = wharf_model::wire::coral_message(&e.into_inner().to_string());
    }
}

fuzz_target!(|data: &[u8]| {
    parse::<ecs::RunTaskRequest>(data);
    parse::<ecs::CreateServiceRequest>(data);
    parse::<ecs::UpdateServiceRequest>(data);
    parse::<ecs::DescribeTasksRequest>(data);
    parse::<ecs::CreateClusterRequest>(data);
    parse::<wharf_model::logs::shapes::PutLogEventsRequest>(data);
    parse::<wharf_model::logs::shapes::FilterLogEventsRequest>(data);
    parse::<wharf_model::ssm::shapes::PutParameterRequest>(data);
    parse::<wharf_model::secretsmanager::shapes::CreateSecretRequest>(data);
});
