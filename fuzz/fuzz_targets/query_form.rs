//! The Query protocol's form decoder (ELBv2, STS): parameters, the nested
//! tree, and one operation's shape read from it; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = wharf_api::query::params(data);
    if let Ok(tree) = wharf_api::query::tree(&params) {
        let _ = wharf_api::query::parse::<wharf_model::elbv2::shapes::CreateLoadBalancerInput>(&tree);
        let _ = wharf_api::query::parse::<wharf_model::elbv2::shapes::CreateRuleInput>(&tree);
    }
});
