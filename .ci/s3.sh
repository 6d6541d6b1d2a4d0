#!/usr/bin/env bash
# An S3-compatible server on 127.0.0.1 for the object-store tests: moto_server
# (PyPI `moto[server]`) in a virtual environment.
#
#   .ci/s3.sh start    install moto in $PIPELINE_CI_CACHE/moto-venv if missing,
#                      start moto_server on 127.0.0.1:$PIPELINE_S3_PORT (9090),
#                      create bucket $PIPELINE_S3_BUCKET (pipeline-ci), and
#                      write the client's variables to $state/env
#   .ci/s3.sh stop     stop, by recorded pid, what `start` started
#   .ci/s3.sh status   say what runs (exit 0 when the server answers, 1 if not)
#
# Idempotent. State (pid, log, env) lives in $PIPELINE_CI_STATE/s3 (default
# /tmp/pipeline-ci/s3); the venv in $PIPELINE_CI_CACHE (default
# ~/.cache/pipeline-ci), kept between runs. The tests start servers of their
# own from the same venv (a test that kills its server must own it); the
# shared one serves scripts and the CLI: `. /tmp/pipeline-ci/s3/env`.
#
# Why moto and not the s3s-fs crate: measured on this machine (2 cores,
# shared), moto installs in ~52 s and starts in ~1.2 s; s3s-fs compiles in
# ~5.6 min (406 MB of build output) and starts in 0.05 s. Both honour
# If-None-Match on PutObject and CompleteMultipartUpload, which create-only
# writes need. Install time dominates a fresh CI machine.
set -euo pipefail

state="${PIPELINE_CI_STATE:-/tmp/pipeline-ci}/s3"
cache="${PIPELINE_CI_CACHE:-$HOME/.cache/pipeline-ci}"
venv="$cache/moto-venv"
port="${PIPELINE_S3_PORT:-9090}"
bucket="${PIPELINE_S3_BUCKET:-pipeline-ci}"
moto_version="5.2.6"

timed() {
  local what="$1" start end
  shift
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  printf 's3: %s took %.2fs\n' "$what" "$(echo "$end - $start" | bc)"
}

# The pid recorded in $1 if that process still runs and is a moto_server,
# else nothing (a pid file left from another boot may name another program).
live_pid() {
  local file="$1" pid
  [[ -s "$file" ]] || return 1
  pid=$(cat "$file")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server || return 1
  echo "$pid"
}

# The HTTP status line of GET / on the server, or nothing.
answer() {
  python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
    print("200")
except urllib.error.HTTPError as e:
    print(e.code)
EOF
}

install_moto() {
  # The marker is written only after a complete install.
  if [[ -x "$venv/bin/moto_server" && -e "$venv/.installed-moto-$moto_version" ]]; then
    return 0
  fi
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
  touch "$venv/.installed-moto-$moto_version"
}

start_server() {
  if live_pid "$state/moto.pid" >/dev/null; then
    return 0
  fi
  if [[ -n "$(answer "$port")" ]]; then
    echo "s3: port $port is taken by another program; set PIPELINE_S3_PORT" >&2
    exit 1
  fi
  nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  local deadline=$((SECONDS + 60))
  until [[ -n "$(answer "$port")" ]]; do
    if ! live_pid "$state/moto.pid" >/dev/null; then
      echo "s3: moto_server exited at start; its log:" >&2
      tail -20 "$state/moto.log" >&2
      exit 1
    fi
    if ((SECONDS > deadline)); then
      echo "s3: moto_server does not answer after 60 s; log in $state/moto.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

create_bucket() {
  "$venv/bin/python" - "$port" "$bucket" <<'EOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
existing = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
if sys.argv[2] not in existing:
    s3.create_bucket(Bucket=sys.argv[2])
EOF
  cat >"$state/env" <<EOF
export AWS_ENDPOINT=http://127.0.0.1:$port
export AWS_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export PIPELINE_S3_BUCKET=$bucket
export PIPELINE_MOTO_SERVER=$venv/bin/moto_server
EOF
}

cmd_start() {
  mkdir -p "$state"
  timed "install moto[server] $moto_version" install_moto
  timed "start moto_server on 127.0.0.1:$port" start_server
  timed "create bucket $bucket" create_bucket
  echo "s3: running (s3://$bucket at http://127.0.0.1:$port; variables in $state/env)"
}

cmd_stop() {
  local pid i
  if pid=$(live_pid "$state/moto.pid"); then
    kill "$pid"
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$state/moto.pid" "$state/env"
  echo "s3: stopped"
}

cmd_status() {
  local pid
  if pid=$(live_pid "$state/moto.pid"); then
    echo "s3: moto_server running (pid $pid, port $port)"
  else
    echo "s3: moto_server not started by this script"
  fi
  if [[ -n "$(answer "$port")" ]]; then
    echo "s3: http://127.0.0.1:$port answers"
  else
    echo "s3: nothing answers on 127.0.0.1:$port"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
