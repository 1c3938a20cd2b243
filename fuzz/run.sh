#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time over its checked-in corpus
# (fuzz/corpus/<target>; new inputs go to a temporary directory, so the
# corpus only grows by commit), and prints the executions of each. A crash or
# a panic fails the run and leaves the input in fuzz/artifacts/<target>/:
# check it in under fuzz/corpus/<target>/ (every run replays the corpus) and
# fix the parser.
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]   (default 30)
# Needs cargo-fuzz (installed here when missing) and a C++ compiler for
# libFuzzer. The toolchain is stable: RUSTC_BOOTSTRAP=1 lets it take the
# -Z flags cargo-fuzz passes; --sanitizer none, as Wharf forbids unsafe code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SECONDS_PER_TARGET=${1:-30}
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2
fi
total=0
report=()
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    scratch=$(mktemp -d)
    log=$(mktemp)
    echo "fuzz/run.sh: $target for ${SECONDS_PER_TARGET}s" >&2
    if ! cargo fuzz run --sanitizer none "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz/run.sh: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        rm -rf "$scratch"
        exit 1
    fi
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    execs=${execs:-0}
    total=$((total + execs))
    report+=("$target $execs")
    rm -rf "$scratch" "$log"
done
printf '%s\n' "| Target | Executions |" "|---|---:|"
for line in "${report[@]}"; do
    printf '| %s | %s |\n' "${line% *}" "${line#* }"
done
printf '| total | %s |\n' "$total"
