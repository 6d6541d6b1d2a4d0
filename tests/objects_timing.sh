#!/usr/bin/env bash
# Wall time per process of the `shipping` example's commands with its values
# only in local files and with them in an S3 server too (`--objects`):
# moto_server on 127.0.0.1 (installed by `.ci/s3.sh start`), started here and
# stopped by pid. Numbers in BENCHMARKS.md ("A store's values in S3").
#
#   cargo build --release -p pipeline-tests --features s3 --bin shipping
#   tests/objects_timing.sh
set -euo pipefail

target="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}"
bin="$target/release/shipping"
moto="${PIPELINE_CI_CACHE:-$HOME/.cache/pipeline-ci}/moto-venv/bin/moto_server"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill $moto_pid; rm -rf "$work"' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
curl -s -X PUT "http://127.0.0.1:$port/timing" >/dev/null
export AWS_ENDPOINT="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
cd "$work"

# 3000 parcels: `weights` and `billable` are 24 KB each, larger than the
# inline limit, so they are files (and objects); `quote` and `heaviest` stay
# in the registry.
weights() { python3 -c "print('weights=[' + ','.join(str(0.25 + (i % 40) * 0.5 + $1) for i in range(3000)) + ']')"; }
ms() { local start; start=$(date +%s%N); "$@" >/dev/null; echo $((($(date +%s%N) - start) / 1000000)); }
best() { local n=$1 best=999999 t; shift; for _ in $(seq "$n"); do t=$(ms "$@"); ((t < best)) && best=$t; done; echo "$best"; }

ms "$bin" --store local run --set "$(weights 0)" >/dev/null
ms "$bin" --store s3 --objects s3://timing/a run --set "$(weights 0)" >/dev/null
local_new=999999 s3_new=999999
for i in 1 2 3 4 5; do
  w=$(weights "$i")
  t=$(ms "$bin" --store local run --set "$w"); ((t < local_new)) && local_new=$t
  t=$(ms "$bin" --store s3 run --set "$w"); ((t < s3_new)) && s3_new=$t
done
echo "run, new weights (2 values written; min of 5):  local ${local_new} ms   s3 ${s3_new} ms"
echo "run, unchanged (all skipped; min of 10):        local $(best 10 "$bin" --store local run) ms   s3 $(best 10 "$bin" --store s3 run) ms"
echo "get billable (min of 10):                       local $(best 10 "$bin" --store local get billable) ms"
fetched=999999
for _ in $(seq 10); do
  "$bin" --store s3 gc --evict-local >/dev/null
  t=$(ms "$bin" --store s3 get billable); ((t < fetched)) && fetched=$t
done
echo "get billable after gc --evict-local (min of 10): s3 ${fetched} ms"
evict=999999
for _ in $(seq 5); do
  "$bin" --store s3 get billable >/dev/null
  t=$(ms "$bin" --store s3 gc --evict-local); ((t < evict)) && evict=$t
done
echo "gc --evict-local, one file (min of 5):          s3 ${evict} ms"
