//! The Query protocol's form decoder (ELBv2, STS): parameters, the nested
//! tree, and operations' shapes read from it; never a panic. The decoder is
//! wharf-api's `query.rs` itself, compiled in by path.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, missing_docs, clippy::all)]
#[path = "../../crates/wharf-api/src/query.rs"]
mod query;

fuzz_target!(|data: &[u8]| {
    let params = query::params(data);
    if let Ok(tree) = query::tree(&params) {
        let _ = query::parse::<wharf_model::elbv2::shapes::CreateLoadBalancerInput>(&tree);
        let _ = query::parse::<wharf_model::elbv2::shapes::CreateRuleInput>(&tree);
    }
});
