#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for development, the demo and the integration tests.
#
#   deploy/kafka/kafka.sh up       # resolve jars (once), format storage (once), start, wait until clients can connect
#   deploy/kafka/kafka.sh down     # stop by pid (SIGTERM, then SIGKILL after a grace period)
#   deploy/kafka/kafka.sh status
#
# KAFKA_PORT (default 9092) picks the client port; the controller listens on KAFKA_CONTROLLER_PORT (default
# KAFKA_PORT+1000). Each port gets its own data folder under .local/, so the tests' broker never touches the demo's.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1000))}
heap=${KAFKA_HEAP:-512m}
lib="$root/.local/kafka-lib"
state="$root/.local/kafka-$port"
pidfile="$state/kafka.pid"
logfile="$state/kafka.out"

say() { printf 'kafka.sh: %s\n' "$*" >&2; }

need_tools() {
  if ! command -v java >/dev/null 2>&1; then
    say "Java 17 or newer is required and 'java' is not on PATH."
    say "Install it with: sudo apt-get install openjdk-17-jre-headless   (or use 'docker compose up' instead)"
    exit 3
  fi
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  if [ "${major%%.*}" -lt 17 ] 2>/dev/null; then
    say "Java 17 or newer is required; found Java $major. Install openjdk-17-jre-headless or newer."
    exit 3
  fi
  if [ ! -f "$lib/.complete" ] && ! command -v mvn >/dev/null 2>&1; then
    say "Maven is required once to resolve the Kafka jars and 'mvn' is not on PATH."
    say "Install it with: sudo apt-get install maven   (or use 'docker compose up' instead)"
    exit 3
  fi
}

resolve_jars() {
  [ -f "$lib/.complete" ] && return 0
  say "resolving Apache Kafka jars with Maven into $lib (once; cached in ~/.m2)"
  rm -rf "$lib.tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib.tmp" -DincludeScope=runtime >&2
  rm -rf "$lib" && mv "$lib.tmp" "$lib" && touch "$lib/.complete"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
  mkdir -p "$state/data"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA@|$state/data|g" \
    "$here/server.properties.in" > "$state/server.properties"
}

java_args=(-Xms128m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$here/log4j2.properties" -cp "$lib/*")

up() {
  need_tools
  if pid=$(running_pid) && port_open "$port"; then
    say "already running on 127.0.0.1:$port (pid $pid)"
    return 0
  fi
  if port_open "$port"; then
    say "port $port is taken by another process; set KAFKA_PORT to a free port"
    exit 2
  fi
  resolve_jars
  write_config
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java "${java_args[@]}" kafka.tools.StorageTool random-uuid)
    java "${java_args[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" --ignore-formatted >/dev/null
  fi
  say "starting Kafka on 127.0.0.1:$port (log: $logfile)"
  # setsid: the broker outlives the make or test process that started it, until `kafka.sh down`.
  setsid nohup java "${java_args[@]}" kafka.Kafka "$state/server.properties" >"$logfile" 2>&1 </dev/null &
  echo $! > "$pidfile"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  # In Kafka 4.1 the client listener opens only once the broker is ready, so a TCP probe is a real readiness signal.
  until port_open "$port"; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "Kafka exited during start-up; last lines of $logfile:"; tail -n 30 "$logfile" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "Kafka did not accept clients within ${KAFKA_START_TIMEOUT:-120}s; last lines of $logfile:"
      tail -n 30 "$logfile" >&2; exit 1
    fi
    sleep 0.5
  done
  say "ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

down() {
  local pid
  if ! pid=$(running_pid); then
    say "not running on port $port"; rm -f "$pidfile"; return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "no clean shutdown after 30s; killing $pid"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  say "stopped (port $port)"
}

status() {
  if pid=$(running_pid) && port_open "$port"; then echo "running on 127.0.0.1:$port (pid $pid)"; else echo "stopped"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  reset) down; rm -rf "$state"; say "removed $state" ;;
  jars) need_tools; resolve_jars ;;
  *) echo "usage: $0 up|down|status|reset|jars" >&2; exit 64 ;;
esac
