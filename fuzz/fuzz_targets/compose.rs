//! Compose files, as `wharf run` and `wharf compose` read them: YAML with
//! anchors and merges, interpolation, every service key, `env_file`s, and
//! the RegisterTaskDefinition validation of what comes out; never a panic.
//! The converter is the `wharf` binary's own `compose` module, compiled in
//! by path (it is pure: the file's text, variables and an `env_file`
//! reader in).
//!
//! The input is the compose file, optionally followed by a line `#ENV`
//! and the text every `env_file` reads as.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, missing_docs, clippy::all)]
#[path = "../../crates/wharf/src/compose/mod.rs"]
mod compose;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (file, env_file) = text.split_once("\n#ENV\n").unwrap_or((&text, "A=1\nB=\"two words\"\n"));
    let env: BTreeMap<String, String> = [("TAG", "1.27"), ("PORT", "8080"), ("EMPTY", "")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let read = |_: &Path| -> Result<String, String> { Ok(env_file.to_owned()) };
    let source =
        compose::Source { text: file, project_dir: Path::new("/project"), default_family: "fuzz" };
    if let Ok(converted) = compose::convert_text(&source, None, &env, &read) {
        // What comes out must always be a task definition RegisterTaskDefinition takes.
        let body = serde_json::to_vec(&converted.task_definition).expect("serialises");
        let req = wharf_model::ecs::task_definition::decode_register(&body)
            .expect("a converted compose file decodes as RegisterTaskDefinition");
        wharf_model::ecs::task_definition::validate_register(&req)
            .expect("a converted compose file passes RegisterTaskDefinition's validation");
    }
});
