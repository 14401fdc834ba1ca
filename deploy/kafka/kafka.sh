#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for development, the demo and the integration tests.
#
#   deploy/kafka/kafka.sh up       # resolve jars (once), format storage (once), start, wait until clients can connect
#   deploy/kafka/kafka.sh down     # stop by pid (SIGTERM, then SIGKILL after a grace period)
#   deploy/kafka/kafka.sh status
#   deploy/kafka/kafka.sh reset    # stop, then remove the port's data folder
#   deploy/kafka/kafka.sh certs    # make a CA, a broker and a client certificate in KAFKA_SSL_DIR (if missing)
#
# KAFKA_PORT (default 9092) picks the client port; the controller listens on KAFKA_CONTROLLER_PORT (default
# KAFKA_PORT+1000). Each port gets its own data folder under .local/, so the tests' broker never touches the demo's.
#
# A secured broker, as managed Kafka services run them (TLS and SASL):
#
#   KAFKA_SECURITY=sasl_ssl KAFKA_PORT=9093 deploy/kafka/kafka.sh up
#
# listens with SASL_SSL on KAFKA_PORT (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN), mutual TLS (SSL) on KAFKA_SSL_PORT
# (default KAFKA_PORT+2000) and SASL_PLAINTEXT on KAFKA_SASL_PLAINTEXT_PORT (default KAFKA_PORT+3000). The SASL user
# KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (default reviewstream / reviewstream-secret) is created when the data
# folder is formatted, so changing it later needs `reset`. Certificates (openssl) are made in KAFKA_SSL_DIR (default
# .local/kafka-<port>/ssl) unless they are already there: ca.pem (what clients trust), client.pem + client.key (the
# client certificate for mTLS), broker.p12. The broker's certificate names 127.0.0.1 and localhost. Everything a
# client needs is written to .local/kafka-<port>/security.env. KAFKA_SECURITY=plaintext (the default) is unchanged:
# one PLAINTEXT listener.
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
# What the data folder was formatted for and what a client needs to connect (KEY=VALUE lines, mode 600).
security_env="$state/security.env"

security=${KAFKA_SECURITY:-plaintext}
ssl_dir=${KAFKA_SSL_DIR:-$state/ssl}
# server.properties names the files, and the broker does not run from the caller's directory.
case "$ssl_dir" in /*) ;; *) ssl_dir="$PWD/$ssl_dir" ;; esac
ssl_port=${KAFKA_SSL_PORT:-$((port + 2000))}
sasl_plaintext_port=${KAFKA_SASL_PLAINTEXT_PORT:-$((port + 3000))}
sasl_mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
# Short-lived on purpose: these certificates are for tests and development; `certs` (and `up`) renew them when they
# expire within a day.
ssl_days=${KAFKA_SSL_DAYS:-30}

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

# The value of KEY in security.env, or nothing.
recorded() { if [ -f "$security_env" ]; then sed -n "/^$1=/{s///p;q}" "$security_env"; fi; }

check_security() {
  case "$security" in
    plaintext|sasl_ssl) ;;
    *) say "KAFKA_SECURITY=$security is not supported; use plaintext (the default) or sasl_ssl"; exit 64 ;;
  esac
  [ "$security" = sasl_ssl ] || return 0
  if ! command -v openssl >/dev/null 2>&1; then
    say "KAFKA_SECURITY=sasl_ssl makes its certificates with openssl, which is not on PATH."
    say "Install it with: sudo apt-get install openssl"
    exit 3
  fi
  # The user was created when the data folder was formatted: keep it unless asked for another one.
  sasl_username=${KAFKA_SASL_USERNAME:-$(recorded KAFKA_SASL_USERNAME)}
  sasl_password=${KAFKA_SASL_PASSWORD:-$(recorded KAFKA_SASL_PASSWORD)}
  sasl_username=${sasl_username:-reviewstream}
  sasl_password=${sasl_password:-reviewstream-secret}
  # They go into server.properties, a JAAS line and --add-scram '[name=...,password=...]' unquoted.
  if ! [[ "$sasl_username" =~ ^[A-Za-z0-9._~-]+$ ]]; then
    say "KAFKA_SASL_USERNAME may hold only letters, digits and . _ ~ - (got '$sasl_username')"
    exit 64
  fi
  if ! [[ "$sasl_password" =~ ^[A-Za-z0-9._~-]+$ ]]; then
    say "KAFKA_SASL_PASSWORD may hold only letters, digits and . _ ~ - (the value given has other characters)"
    exit 64
  fi
}

# The data folder keeps the security it was formatted with (the SCRAM users are in its metadata log): refuse to start
# it as something else rather than start a broker whose users do not exist.
check_formatted_for() {
  [ -f "$state/data/meta.properties" ] || return 0
  local was user problem=""
  was=$(recorded KAFKA_SECURITY); was=${was:-plaintext}
  user=$(recorded KAFKA_SASL_USERNAME)
  if [ "$was" != "$security" ]; then
    problem="was formatted for KAFKA_SECURITY=$was, not KAFKA_SECURITY=$security"
  elif [ "$security" = sasl_ssl ] && [ "$user" != "$sasl_username" ]; then
    problem="was formatted with the SASL user $user, not $sasl_username"
  elif [ "$security" = sasl_ssl ] && [ "$(recorded KAFKA_SASL_PASSWORD)" != "$sasl_password" ]; then
    problem="was formatted with another password for the SASL user $user than KAFKA_SASL_PASSWORD"
  fi
  if [ -n "$problem" ]; then
    say "$state $problem."
    say "Start it as it was, use another KAFKA_PORT, or remove it first: KAFKA_PORT=$port $0 reset"
    exit 2
  fi
}

write_security_env() {
  ( umask 077
    {
      echo "KAFKA_SECURITY=$security"
      if [ "$security" = sasl_ssl ]; then
        echo "KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$port"
        echo "KAFKA_SSL_BOOTSTRAP=127.0.0.1:$ssl_port"
        echo "KAFKA_SASL_PLAINTEXT_BOOTSTRAP=127.0.0.1:$sasl_plaintext_port"
        echo "KAFKA_SASL_MECHANISMS=$sasl_mechanisms"
        echo "KAFKA_SASL_USERNAME=$sasl_username"
        echo "KAFKA_SASL_PASSWORD=$sasl_password"
        echo "KAFKA_SSL_DIR=$ssl_dir"
        echo "KAFKA_SSL_CAFILE=$ssl_dir/ca.pem"
        echo "KAFKA_SSL_CERTFILE=$ssl_dir/client.pem"
        echo "KAFKA_SSL_KEYFILE=$ssl_dir/client.key"
      else
        echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
      fi
    } > "$security_env.tmp" && mv "$security_env.tmp" "$security_env" )
}

certs_valid() {
  local f
  for f in ca.pem broker.pem client.pem; do
    [ -f "$ssl_dir/$f" ] && openssl x509 -checkend 86400 -noout -in "$ssl_dir/$f" >/dev/null 2>&1 || return 1
  done
  [ -f "$ssl_dir/broker.p12" ] && [ -f "$ssl_dir/client.key" ] && [ -f "$ssl_dir/keystore.password" ]
}

# A CA, a broker certificate for 127.0.0.1/localhost (server and client use: the broker also connects to itself over
# mTLS) in a PKCS#12 keystore, and a client certificate with its key in PEM for Python's ssl module. RSA 2048 and
# SHA-256: accepted by Java 17 and by OpenSSL's default security level.
make_certs() {
  if certs_valid; then return 0; fi
  say "making a test CA and certificates in $ssl_dir (openssl, valid $ssl_days days)"
  mkdir -p "$ssl_dir"
  ( umask 077
    cd "$ssl_dir"
    rm -f ca.pem ca.key broker.pem broker.p12 client.pem client.key keystore.password openssl.log
    # openssl writes progress dots to stderr: keep them out of sight unless a step fails.
    ossl() { openssl "$@" 2>>openssl.log || { say "openssl $1 failed in $ssl_dir:"; cat openssl.log >&2; exit 1; }; }
    leaf() {  # name, subject, extended key usage, subjectAltName or ""
      ossl req -new -newkey rsa:2048 -sha256 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
      { echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$3"
        if [ -n "$4" ]; then echo "subjectAltName=$4"; fi; } > "$1.ext"
      ossl x509 -req -sha256 -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(ossl rand -hex 16)" \
        -days "$ssl_days" -extfile "$1.ext" -out "$1.pem"
      rm -f "$1.csr" "$1.ext"
    }
    ossl rand -hex 16 > keystore.password
    # A random suffix: two CAs made by this script never look alike (the tests use a second one as the untrusted CA).
    ossl req -x509 -newkey rsa:2048 -sha256 -nodes -keyout ca.key -out ca.pem -days "$ssl_days" \
      -subj "/CN=reviewstream test CA $(ossl rand -hex 4)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    leaf broker "/CN=localhost" serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1,IP:::1"
    leaf client "/CN=reviewstream-client" clientAuth ""
    ossl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -out broker.p12 \
      -passout file:keystore.password
    rm -f broker.key openssl.log
  )
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
  mkdir -p "$state/data"
  local keystore_password=""
  [ "$security" != sasl_ssl ] || keystore_password=$(cat "$ssl_dir/keystore.password")
  # umask 077: in sasl_ssl mode the file holds the keystore password and the PLAIN user's password.
  ( umask 077
    cat "$here/server.properties.in" "$here/listeners-$security.properties.in" | sed \
      -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA@|$state/data|g" \
      -e "s|@SSL_PORT@|$ssl_port|g" -e "s|@SASL_PLAINTEXT_PORT@|$sasl_plaintext_port|g" -e "s|@SSL_DIR@|$ssl_dir|g" \
      -e "s|@KEYSTORE_PASSWORD@|$keystore_password|g" \
      -e "s|@SASL_USERNAME@|${sasl_username:-}|g" -e "s|@SASL_PASSWORD@|${sasl_password:-}|g" \
      > "$state/server.properties" )
}

format_storage() {
  [ -f "$state/data/meta.properties" ] && return 0
  local cluster_id scram=()
  if [ "$security" = sasl_ssl ]; then
    # KRaft keeps SCRAM credentials in the metadata log; written at format time (KIP-900, Kafka >= 3.5) they exist
    # before the first client connects.
    scram=(--add-scram "SCRAM-SHA-256=[name=$sasl_username,password=$sasl_password]"
           --add-scram "SCRAM-SHA-512=[name=$sasl_username,password=$sasl_password]")
  fi
  cluster_id=$(java "${java_args[@]}" kafka.tools.StorageTool random-uuid)
  java "${java_args[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" \
    --ignore-formatted "${scram[@]}" >/dev/null
}

java_args=(-Xms128m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$here/log4j2.properties" -cp "$lib/*")

up() {
  need_tools
  check_security
  if pid=$(running_pid) && port_open "$port"; then
    local running_security running_ssl_dir
    running_security=$(recorded KAFKA_SECURITY); running_ssl_dir=$(recorded KAFKA_SSL_DIR)
    if [ "${running_security:-plaintext}" != "$security" ] \
        || { [ -n "${KAFKA_SSL_DIR:-}" ] && [ "$running_ssl_dir" != "$ssl_dir" ]; }; then
      say "already running on 127.0.0.1:$port (pid $pid) with KAFKA_SECURITY=${running_security:-plaintext}${running_ssl_dir:+ and certificates in $running_ssl_dir}"
      say "stop it first to start it otherwise: KAFKA_PORT=$port $0 down"
      exit 2
    fi
    say "already running on 127.0.0.1:$port (pid $pid)"
    return 0
  fi
  if port_open "$port"; then
    say "port $port is taken by another process; set KAFKA_PORT to a free port"
    exit 2
  fi
  if [ "$security" = sasl_ssl ]; then
    local p
    for p in "$ssl_port" "$sasl_plaintext_port"; do
      if port_open "$p"; then
        say "port $p is taken by another process; set KAFKA_SSL_PORT / KAFKA_SASL_PLAINTEXT_PORT to free ports"
        exit 2
      fi
    done
  fi
  check_formatted_for
  resolve_jars
  if [ "$security" = sasl_ssl ]; then make_certs; fi
  write_config
  format_storage
  write_security_env
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
  if [ "$security" = sasl_ssl ]; then
    say "SASL_SSL on 127.0.0.1:$port ($sasl_mechanisms, user $sasl_username), mTLS (SSL) on 127.0.0.1:$ssl_port," \
      "SASL_PLAINTEXT on 127.0.0.1:$sasl_plaintext_port; CA $ssl_dir/ca.pem; all of it in $security_env"
  fi
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
  certs) security=sasl_ssl; check_security; make_certs; echo "$ssl_dir" ;;
  *) echo "usage: [KAFKA_PORT=9092] [KAFKA_SECURITY=plaintext|sasl_ssl] $0 up|down|status|reset|jars|certs" >&2; exit 64 ;;
esac
