//! Task definition documents: RegisterTaskDefinition's reader, then its
//! validation rules; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_model::ecs::task_definition::{decode_register, validate_register};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_register(data) {
        let _ = validate_register(&req);
    }
});
