#!/usr/bin/env bash
# The seed's section 6 through Slurm with values in an S3 bucket, beside the
# local run: each step a new process of the release CLI, once on local
# threads and once with `--executor slurm --objects s3://…` (every task
# that must run is a batch job of the same binary), on two fresh stores.
# At the end, the results of both stores must be equal, or the script fails.
#
#   customer-analysis/compare/slurm_steps.sh CSV [BIN]
#
# BIN: the demo built with the `slurm` feature, default
# $CARGO_TARGET_DIR/release/customer-analysis (else target/release/…):
#   cargo build --release -p customer-analysis --features slurm
# Needs a Slurm cluster (`sbatch` on the PATH; .ci/slurm.sh start) and an S3
# server with its AWS_* variables set; when AWS_ENDPOINT is unset they are
# read from the file .ci/s3.sh start writes ($PIPELINE_CI_STATE/s3/env).
# OBJECTS=s3://bucket/prefix chooses the location (default: a fresh prefix
# of $PIPELINE_S3_BUCKET, pipeline-ci); WORK=DIR where the two stores go
# (default: a temporary directory; on a cluster of several machines it must
# be shared, as must the CSV: workers read the CSV at its path and write
# their logs under the store). A fresh prefix is deleted afterwards (with
# boto3, from the moto venv or python3) unless KEEP_OBJECTS=1.
#
# Prints, per step and executor: wall seconds and peak RSS of the whole
# process (/usr/bin/time), the jobs' statuses; for Slurm, each worker's peak
# RSS and seconds (from `run --json`: jobs[].remote.peak_rss, jobs[].seconds)
# and where the wall time went (from `history --json`).
set -euo pipefail
csv=${1:?usage: slurm_steps.sh CSV [BIN]}
bin=${2:-${CARGO_TARGET_DIR:-target}/release/customer-analysis}
die() { echo "slurm_steps: $*" >&2; exit 2; }
[[ -r $csv ]] || die "cannot read the CSV $csv"
csv=$(realpath "$csv")
[[ -x $bin ]] || die "no demo binary at $bin (cargo build --release -p customer-analysis --features slurm)"
bin=$(realpath "$bin")
"$bin" run --help | grep -q -- '--executor' \
    || die "$bin has no --executor: build it with --features slurm"
command -v sbatch >/dev/null || die "no sbatch on the PATH: start a cluster (.ci/slurm.sh start)"
if [[ -z ${AWS_ENDPOINT:-} ]]; then
    env_file=${PIPELINE_CI_STATE:-/tmp/pipeline-ci}/s3/env
    [[ -r $env_file ]] || die "AWS_ENDPOINT is unset and $env_file is missing (.ci/s3.sh start)"
    # shellcheck disable=SC1090
    . "$env_file"
fi
fresh_prefix=
if [[ -z ${OBJECTS:-} ]]; then
    fresh_prefix=slurm-steps/$(date -u +%Y%m%dT%H%M%S)-$$
    OBJECTS=s3://${PIPELINE_S3_BUCKET:-pipeline-ci}/$fresh_prefix
fi
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
local_store=$work/local
slurm_store=$work/slurm
[[ ! -e $local_store && ! -e $slurm_store ]] || die "$work already holds stores: give an empty WORK"
s3_python=${PIPELINE_CI_CACHE:-$HOME/.cache/pipeline-ci}/moto-venv/bin/python
[[ -x $s3_python ]] || s3_python=python3

# Lists (and, with `delete`, removes) the objects under the fresh prefix.
bucket_objects() {
    [[ -n $fresh_prefix ]] || return 0
    "$s3_python" - "$1" "${PIPELINE_S3_BUCKET:-pipeline-ci}" "$fresh_prefix" <<'EOF' || echo "  (cannot list the bucket: boto3 missing?)"
import os, sys
import boto3
action, bucket, prefix = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT"])
objects = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
    objects += page.get("Contents", [])
if action == "list":
    values = [o for o in objects if o["Key"].startswith(prefix + "/values/")]
    large = [o for o in values if o["Size"] >= 2**20]
    for o in sorted(large, key=lambda o: -o["Size"]):
        print(f"  {o['Size'] / 2**20:9.1f} MiB  {o['Key'][len(prefix) + 1:]}")
    small = sum(o["Size"] for o in values if o["Size"] < 2**20)
    print(f"  {small / 2**20:9.1f} MiB  {len(values) - len(large)} values under 1 MiB each")
    total = sum(o["Size"] for o in values)
    print(f"  {total / 2**20:9.1f} MiB in {len(values)} values; {len(objects) - len(values)} manifests and markers")
else:
    for i in range(0, len(objects), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in objects[i:i + 1000]]})
EOF
}

cleanup() {
    if [[ -z ${WORK:-} ]]; then rm -rf "$work"; fi
    if [[ -z ${KEEP_OBJECTS:-} ]]; then bucket_objects delete; fi
}
trap cleanup EXIT

# One step on one side: `side label args…`; the run's JSON in $work/<side>.json.
step() {
    local side=$1 label=$2; shift 2
    local store=$local_store extra=()
    if [[ $side == slurm ]]; then
        store=$slurm_store
        extra=(--executor slurm --objects "$OBJECTS")
    fi
    local start end status=0
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/time" \
        "$bin" run --store "$store" --json "$@" "${extra[@]}" > "$work/$side.json" || status=$?
    end=$(date +%s%N)
    if [[ $status -ne 0 ]]; then
        cat "$work/$side.json" >&2
        die "$label ($side) failed with exit code $status"
    fi
    python3 - "$side" "$label" $((end - start)) "$(tail -1 "$work/time")" "$work/$side.json" <<'EOF'
import json, sys
side, label, nanos, rss_kib, path = sys.argv[1:]
run = json.load(open(path))
jobs = run["jobs"]
line = f"{label:<30} {side:<5} {int(nanos) / 1e9:8.3f} s {int(rss_kib) // 1024:6d} MiB  "
line += " ".join(j["status"] for j in jobs)
workers = [
    f"{j['task']} {j['seconds']:.1f} s {j['remote']['peak_rss'] / 2**20:.0f} MiB"
    for j in jobs if j.get("remote") and j["remote"].get("peak_rss") is not None
]
if workers:
    line += "\n" + " " * 37 + "workers: " + ", ".join(workers)
print(line)
EOF
}

# Where a Slurm step's time went: the last submission of `history --json`.
breakdown() {
    "$bin" history --store "$slurm_store" --json > "$work/history.json"
    python3 - "$work/history.json" "$work/local.json" <<'EOF'
import json, sys
from datetime import datetime

def t(s):
    return datetime.fromisoformat(s[:26] + "+00:00").timestamp()

sub = json.load(open(sys.argv[1]))["submissions"][-1]
local = {j["task"]: j["seconds"] for j in json.load(open(sys.argv[2]))["jobs"]}
ran = [j for j in sub["jobs"] if j.get("remote")]
if not ran:
    sys.exit(0)
start = t(sub["started_at"])
end = start + sub["duration_s"]
# The demo's tasks form a chain: each job waits for the one before it.
gaps, previous = 0.0, start
for j in sorted(ran, key=lambda j: t(j["started_at"])):
    gaps += t(j["started_at"]) - previous
    previous = t(j["ended_at"])
workers = sum(j["duration_s"] for j in ran)
same_tasks_locally = sum(local.get(j["task"], 0.0) for j in ran)
print(" " * 37 + f"submission {sub['duration_s']:.1f} s = before/between jobs {gaps:.1f} s"
      f" + in workers {workers:.1f} s (the same tasks locally: {same_tasks_locally:.1f} s)"
      f" + after the last {end - previous:.1f} s")
EOF
}

echo "objects: $OBJECTS   csv: $csv ($(du -h "$csv" | cut -f1))"
printf '%-30s %-5s %10s %10s  %s\n' step side wall "peak RSS" jobs
both() {
    local label=$1; shift
    step local "$label" "$@"
    step slurm "$label" "$@"
    breakdown
    python3 - "$label" "$work/local.json" "$work/slurm.json" <<'EOF'
import json, sys
label, a, b = sys.argv[1:]
statuses = lambda p: [(j["task"], j["status"]) for j in json.load(open(p))["jobs"]]
if statuses(a) != statuses(b):
    sys.exit(f"slurm_steps: {label}: the jobs' statuses differ: local {statuses(a)}, slurm {statuses(b)}")
EOF
}
both "full run" --data "$csv"
both "payment_threshold = 1600" --set payment_threshold=1600
both "metric = median" --set metric=median
both "summary_statistic_type = max" --set summary_statistic_type=max
both "unchanged re-submit"

# Equal results: every node of both stores, read by new processes.
for side in local slurm; do
    store=$local_store
    [[ $side == slurm ]] && store=$slurm_store
    for node in path_to_data payment_threshold score_threshold metric summary_statistic_type \
        scored_df segmented_customer_df segment_result high_value_summary_df; do
        "$bin" get "$node" --store "$store" --rows 1000 --json > "$work/get-$side-$node.json"
    done
done
python3 - "$work" <<'EOF'
import json, math, sys
work = sys.argv[1]
worst = 0.0
compared = 0

def same(a, b, where):
    """Equal JSON; floats to 1e-9 relative (sums fold in another order where
    a worker streams a frame from its file)."""
    global worst, compared
    if isinstance(a, float) and isinstance(b, float):
        compared += 1
        if a == b or (math.isnan(a) and math.isnan(b)):
            return
        diff = abs(a - b) / max(abs(a), abs(b))
        worst = max(worst, diff)
        if diff > 1e-9:
            sys.exit(f"slurm_steps: {where}: local {a!r}, slurm {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            sys.exit(f"slurm_steps: {where}: fields {sorted(a)} against {sorted(b)}")
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            sys.exit(f"slurm_steps: {where}: {len(a)} items against {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        compared += 1
        if a != b:
            sys.exit(f"slurm_steps: {where}: local {a!r}, slurm {b!r}")

for node in ["path_to_data", "payment_threshold", "score_threshold", "metric",
             "summary_statistic_type", "scored_df", "segmented_customer_df",
             "segment_result", "high_value_summary_df"]:
    local = json.load(open(f"{work}/get-local-{node}.json"))
    slurm = json.load(open(f"{work}/get-slurm-{node}.json"))
    same(local["value"], slurm["value"], node)
    # A frame a worker computes from a fetched input is stored as data where
    # the local run stores a view (docs/distributed.md): only the scored
    # frame, made from the CSV alone, has the same fingerprint on both sides.
    if node in ("path_to_data", "payment_threshold", "score_threshold", "metric",
                "summary_statistic_type", "scored_df"):
        same(local["fingerprint"], slurm["fingerprint"], f"{node} fingerprint")
same(json.load(open(f"{work}/local.json"))["segment_result"],
     json.load(open(f"{work}/slurm.json"))["segment_result"], "run --json segment_result")
same(json.load(open(f"{work}/local.json"))["high_value_summary"],
     json.load(open(f"{work}/slurm.json"))["high_value_summary"], "run --json high_value_summary")
print(f"equal results: {compared} values of 9 nodes (frames: row counts and first 1000 rows; "
      f"the scored frame by fingerprint), largest relative float difference {worst:.1e}")
EOF
echo "objects in the bucket:"
bucket_objects list
