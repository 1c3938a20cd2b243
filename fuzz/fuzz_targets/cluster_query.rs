//! The cluster query language (memberOf placement constraints); never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_model::ecs::placement::query::Expression;

fuzz_target!(|data: &[u8]| {
    let _ = Expression::parse(&String::from_utf8_lossy(data));
});
