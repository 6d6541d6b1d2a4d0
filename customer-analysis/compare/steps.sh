#!/usr/bin/env bash
# The seed's section 6 as a user runs it: each step a new process of the
# release CLI on one fresh store, timed from the outside (wall time of the
# whole process, through /usr/bin/time) with its peak RSS.
#
#   customer-analysis/compare/steps.sh CSV [BIN]
#
# BIN defaults to $CARGO_TARGET_DIR/release/customer-analysis (else
# target/release/customer-analysis). Prints one line per step: wall seconds,
# peak RSS in MiB and the jobs' statuses.
set -euo pipefail
csv=${1:?usage: steps.sh CSV [BIN]}
bin=${2:-${CARGO_TARGET_DIR:-target}/release/customer-analysis}
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
step() {
    local label=$1; shift
    local log; log=$(mktemp)
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$log" "$bin" run --store "$store" --json "$@" > "$store.json"
    end=$(date +%s%N)
    local wall rss
    wall=$(awk -v n=$((end - start)) 'BEGIN { printf "%.4f", n / 1e9 }')
    rss=$(tail -1 "$log")
    rm -f "$log"
    local jobs
    jobs=$(python3 -c 'import json,sys; print(" ".join(j["status"] for j in json.load(open(sys.argv[1]))["jobs"]))' "$store.json")
    printf '%-30s %7.4f s %6d MiB  %s\n' "$label" "$wall" $((rss / 1024)) "$jobs"
}
step "full run" --data "$csv"
step "payment_threshold = 1600" --set payment_threshold=1600
step "metric = median" --set metric=median
step "summary_statistic_type = max" --set summary_statistic_type=max
step "unchanged re-submit"
rm -f "$store.json"
