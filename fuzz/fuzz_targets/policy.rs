//! IAM policy documents (from the credentials file): parsed, and when they
//! compile, evaluated; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_auth::policy::{evaluate, Context, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(policy) = Policy::parse(&value) {
        let ctx = Context::new("ecs:RunTask", "arn:aws:ecs:us-east-1:1:task-definition/a:1")
            .with("ecs:cluster", "arn:aws:ecs:us-east-1:1:cluster/x")
            .with("aws:RequestTag/team", "a");
        let _ = evaluate([&policy], &ctx);
        let _ = wharf_auth::policy::trusts_service(&policy, "sts:AssumeRole", "ecs-tasks.amazonaws.com");
    }
    let _ = wharf_auth::Directory::from_json(&String::from_utf8_lossy(data));
});
