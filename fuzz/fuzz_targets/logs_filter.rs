//! CloudWatch Logs filter patterns: parsed, and when they parse, matched
//! against a JSON and a space-delimited event; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_model::logs::filter::Pattern;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = Pattern::parse(&text) {
        let _ = p.matches(r#"{"level":"ERROR","n":3,"a":[1,{"b":null}]}"#);
        let _ = p.matches("127.0.0.1 - - [10/Oct/2000:13:55:36] \"GET / HTTP/1.0\" 200 2326");
    }
});
