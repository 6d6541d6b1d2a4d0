#!/usr/bin/env bash
# A user's own pipeline (tools/user_pipeline/: text columns kept, grouped by
# text, grouped straight from the CSV, a median of all rows straight from the
# CSV), built outside the workspace against
# this checkout's pipeline-core, each step a new process on a fresh store,
# timed from the outside with its peak RSS.
#
#   tools/user_pipeline.sh CSV [EXPORT]
#
# EXPORT, a European export of the same customers (`;`, decimal commas, `NA`;
# tools/user_pipeline/european.py writes one), adds the steps of the
# `ExportPipeline` over it.
#
# Set PYTHON to an interpreter with polars to time the same tasks in Python
# polars too. Builds into $CARGO_TARGET_DIR (else target/).
set -euo pipefail
csv=${1:?usage: user_pipeline.sh CSV [EXPORT]}
export_csv=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
crate=$(mktemp -d)
store=$(mktemp -d)
trap 'rm -rf "$crate" "$store"' EXIT
sed "s|{pipeline_core}|$here/pipeline-core|" "$here/tools/user_pipeline/Cargo.toml.template" > "$crate/Cargo.toml"
cp -r "$here/tools/user_pipeline/src" "$crate/src"
cp "$here/Cargo.lock" "$crate/Cargo.lock"
target=${CARGO_TARGET_DIR:-$here/target}
CARGO_TARGET_DIR=$target cargo build --release --offline --quiet --manifest-path "$crate/Cargo.toml"
bin=$target/release/user-pipeline-bench
step() {
    local label=$1 type=$2 data=$3; shift 3
    rm -rf "$store"; mkdir -p "$store"
    local log start end
    log=$(mktemp)
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$log" "$bin" --type "$type" run --store "$store" --data "$data" --json "$@" > "$store.json"
    end=$(date +%s%N)
    local jobs
    jobs=$(python3 -c 'import json,sys; print(" ".join("%s %.3fs" % (j["task"], j["seconds"]) for j in json.load(open(sys.argv[1]))["jobs"]))' "$store.json")
    printf '%-24s %7.3f s %6d MiB  %s\n' "$label" "$(awk -v n=$((end - start)) 'BEGIN { print n / 1e9 }')" $(( $(tail -1 "$log") / 1024 )) "$jobs"
    rm -f "$log" "$store.json"
}
step "customers alone" CountryPipeline "$csv" --task customers
step "direct alone" CountryPipeline "$csv" --task direct
step "overall alone" CountryPipeline "$csv" --task overall
step "all four" CountryPipeline "$csv"
if [ -n "$export_csv" ]; then
    step "export customers alone" ExportPipeline "$export_csv" --task export_customers
    step "export by country alone" ExportPipeline "$export_csv" --task export_by_country
    step "export, both" ExportPipeline "$export_csv"
fi
if [ -n "${PYTHON:-}" ]; then
    "$PYTHON" "$here/tools/user_pipeline/polars_equivalent.py" "$csv" $export_csv
fi
