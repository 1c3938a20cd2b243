//! Tasks that really run: Wharf's embedded agent on a real Docker Engine, driven through the
//! Rust AWS SDK (`aws-sdk-ecs`, plus raw JSON 1.1 calls for SSM and Secrets Manager).
//!
//! Every test starts its own server whose agent joins a cluster named for the test, so tests
//! run in parallel without seeing each other's tasks, and removes its containers when done
//! (see `support::Ctx`). Docker must be up (`scripts/docker-up`): without it the tests fail,
//! they are never skipped. Expectations are ECS's documented behaviour
//! (`ecs-reference/semantics.md`), not whatever Wharf happens to do.

mod adoption;
mod health;
mod lifecycle;
mod logs;
mod ordering;
mod overrides;
mod placement;
mod registry;
mod running;
mod secrets;
mod support;
mod volumes;
