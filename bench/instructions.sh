#!/usr/bin/env bash
# The instruction-count regression guard (issue 17): runs four fixed workloads in process
# (crates/wharf/examples/instructions.rs) under valgrind's callgrind, counts the instructions
# each executes, prints a table, and compares the counts with bench/instructions.baseline.
# Exits 1 when a count rose by more than 10% (GUARD_TOLERANCE, in percent) over its baseline.
#
#   bench/instructions.sh                    # measure and compare (what .ci/run does)
#   bench/instructions.sh --update           # measure and rewrite the baseline
#   bench/instructions.sh --runs 3 place     # three runs of one workload: their spread
#
# The workloads: 1,000 DescribeTaskDefinition and 1,000 RegisterTaskDefinition through the
# API router; a 1,000-task launch on 100 instances; a scheduler pass over 1,000 services.
# Each one's state is prepared natively first (not under valgrind) in a temporary directory
# (on /dev/shm when it exists, so that SQLite's fsyncs cost nothing), then the workload runs
# under callgrind, which counts only between its markers, on the calling thread and on the
# store's writer thread. Counts are of the dev build CI's tests already compiled
# (`cargo build --workspace --example instructions`, SKIP_BUILD=1 skips it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BASELINE=bench/instructions.baseline
TOLERANCE=${GUARD_TOLERANCE:-10}
ALL=(describe register place pass)

log() { printf 'bench/instructions.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

update=0
runs=1
workloads=()
while [ $# -gt 0 ]; do
    case $1 in
        --update) update=1 ;;
        --runs) runs=${2:?--runs needs a number}; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        describe|register|place|pass) workloads+=("$1") ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
[ "${#workloads[@]}" -gt 0 ] || workloads=("${ALL[@]}")
if [ "$update" = 1 ] && [ "${#workloads[@]}" -ne "${#ALL[@]}" ]; then
    die "--update measures every workload; name none"
fi

command -v valgrind >/dev/null || die "valgrind is missing (Debian: apt-get install valgrind)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # --workspace: the features the workspace's tests were built with, so that after them
    # (as in .ci/run) nothing is compiled again.
    cargo build --workspace --example instructions >&2
fi
bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/instructions
[ -x "$bin" ] || die "$bin was not built"

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    tmp_base=/dev/shm
else
    tmp_base=${TMPDIR:-/tmp}
fi
work=$(mktemp -d "$tmp_base/wharf-instructions.XXXXXX")
trap 'rm -rf "$work"' EXIT

# count WORKLOAD: prepares its state, runs it under callgrind, prints its instruction count.
count() {
    local w=$1 dir="$work/$1.$RANDOM" dumps total=0 n
    mkdir -p "$dir"
    "$bin" prepare "$w" "$dir/state" >"$dir/prepare.log" 2>&1 \
        || { cat "$dir/prepare.log" >&2; die "$w: prepare failed"; }
    # Each thread's counts are zeroed when it enters measure_begin and dumped (to a numbered
    # file per thread: cg.N-TT) when it enters measure_end; the dumps at exit (cg-TT) are
    # not read.
    valgrind --tool=callgrind --separate-threads=yes --dump-line=no \
        --callgrind-out-file="$dir/cg" \
        '--zero-before=*::measure_begin' '--dump-before=*::measure_end' \
        "$bin" measure "$w" "$dir/state" >"$dir/measure.log" 2>&1 \
        || { cat "$dir/measure.log" >&2; die "$w: the measured run failed"; }
    dumps=("$dir"/cg.[0-9]*-[0-9]*)
    # One dump from the calling thread, one from the store's writer thread: anything else
    # means the markers were not both reached (renamed, inlined) and the count is wrong.
    [ "${#dumps[@]}" -eq 2 ] && [ -f "${dumps[0]}" ] \
        || die "$w: expected 2 callgrind dumps between the markers, found: ${dumps[*]}"
    for f in "${dumps[@]}"; do
        n=$(sed -n 's/^summary: \([0-9]*\)$/\1/p' "$f")
        [ -n "$n" ] || die "$w: no summary in $f"
        total=$((total + n))
    done
    rm -rf "$dir"
    echo "$total"
}

baseline_of() {
    [ -f "$BASELINE" ] || return 0
    awk -v w="$1" '$1 == w { print $2 }' "$BASELINE"
}

# thousands N: N with thousands separators.
thousands() { printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

declare -A measured
failed=0
rows=()
started=$SECONDS
for w in "${workloads[@]}"; do
    counts=()
    for ((i = 0; i < runs; i++)); do
        c=$(count "$w") || exit $?
        counts+=("$c")
    done
    sorted=($(printf '%s\n' "${counts[@]}" | sort -n))
    min=${sorted[0]} max=${sorted[-1]}
    # The median run is the one compared (the only one, by default).
    n=${sorted[$(((runs - 1) / 2))]}
    measured[$w]=$n
    spread=$(awk -v a="$min" -v b="$max" 'BEGIN { printf "%.3f%%", (b - a) * 100 / a }')
    base=$(baseline_of "$w")
    if [ -z "$base" ]; then
        change="—" verdict="no baseline"
        [ "$update" = 1 ] || failed=1
    else
        change=$(awk -v n="$n" -v b="$base" 'BEGIN { printf "%+.2f%%", (n - b) * 100 / b }')
        if awk -v n="$n" -v b="$base" -v t="$TOLERANCE" 'BEGIN { exit !(n > b * (1 + t / 100)) }'; then
            verdict="ROSE more than ${TOLERANCE}%"
            failed=1
        elif awk -v n="$n" -v b="$base" -v t="$TOLERANCE" 'BEGIN { exit !(n < b * (1 - t / 100)) }'; then
            verdict="fell: update the baseline"
        else
            verdict="ok"
        fi
    fi
    row="| $w | $(thousands "$n") | $([ -n "$base" ] && thousands "$base" || echo —) | $change | $verdict |"
    [ "$runs" -gt 1 ] && row="$row $runs runs, $(thousands "$min")–$(thousands "$max"), spread $spread |"
    rows+=("$row")
    log "$w: $(thousands "$n") instructions"
done

echo
if [ "$runs" -gt 1 ]; then
    echo "| Workload | Instructions | Baseline | Change | Verdict | Runs |"
    echo "|---|---:|---:|---:|---|---|"
else
    echo "| Workload | Instructions | Baseline | Change | Verdict |"
    echo "|---|---:|---:|---:|---|"
fi
printf '%s\n' "${rows[@]}"
echo
echo "(callgrind, dev build; $((SECONDS - started)) s; fails on a rise of more than ${TOLERANCE}%)"

if [ "$update" = 1 ]; then
    {
        echo "# Instructions each fixed workload executes, counted by bench/instructions.sh"
        echo "# (callgrind, the dev build of crates/wharf/examples/instructions.rs). CI fails when"
        echo "# one rises by more than 10%. Rewritten only by \`bench/instructions.sh --update\`,"
        echo "# in a commit whose message says why the counts changed."
        for w in "${ALL[@]}"; do
            echo "$w ${measured[$w]}"
        done
    } >"$BASELINE"
    log "wrote $BASELINE"
    exit 0
fi
if [ "$failed" = 1 ]; then
    log "instruction counts rose beyond the baseline (or a baseline is missing): find the cause," \
        "or, if the rise is wanted, run bench/instructions.sh --update and say why in the commit"
    exit 1
fi
