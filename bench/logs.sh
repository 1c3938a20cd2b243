#!/usr/bin/env bash
# The log store's budgets (issue 4), measured in process by
# crates/wharf-api/examples/logs_bench.rs:
#   ingest through the agent's append: >= 100,000 lines/s, < 1 s from append to visible
#   in GetLogEvents; FilterLogEvents over 1,000,000 events, selective pattern: < 1 s.
#
# Usage: bench/logs.sh [INGEST_SECONDS] [FILTER_EVENTS] [CALLS]
#   INGEST_SECONDS  how long the ingest case runs (default 10)
#   FILTER_EVENTS   events seeded for the filter case (default 1000000)
#   CALLS           FilterLogEvents calls per pattern (default 10)
# The result is a Markdown table on stdout; build output goes to stderr.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
cargo build --release -p wharf-api --example logs_bench >&2
target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
exec "$target_dir/release/examples/logs_bench" "${1:-10}" "${2:-1000000}" "${3:-10}"
