//! Wharf's ECS API through the real Rust AWS SDK (`aws-sdk-ecs`).
//!
//! One test binary (modules below) so the SDK is linked once. Every test starts its own
//! `wharf server` (see `wharf_sdk_tests::Server`), so tests are independent and run in
//! parallel. Expectations are ECS's documented behaviour, not whatever Wharf happens to do.

mod account_settings;
mod capacity_providers;
mod clusters;
mod persistence;
mod regions;
mod roundtrip;
mod support;
mod tags;
mod task_definitions;
