#!/usr/bin/env bash
# The real servers connector tests run against, on loopback:
#   - Kafka protocol: tansu (crates.io), in-memory storage, 127.0.0.1:9092
#   - Redis: redis-server (Debian),                         127.0.0.1:6379
#   - S3, Kinesis, DynamoDB: moto's server mode (PyPI),    127.0.0.1:5000
#
#   scripts/services.sh install   install what is missing (idempotent; tansu builds once,
#                                 ~20 min on 2 cores, into target/tools and is reused)
#   scripts/services.sh start     install, start what is not running, wait until each answers
#   scripts/services.sh stop      stop what this script started (by PID, never by name)
#   scripts/services.sh status    what runs
#   scripts/services.sh env       the environment variables tests read (eval "$(... env)")
#
# Ports can be moved with FRESHET_KAFKA_PORT, FRESHET_REDIS_PORT, FRESHET_MOTO_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/target/tools"
RUN="$ROOT/target/services"
KAFKA_PORT="${FRESHET_KAFKA_PORT:-9092}"
REDIS_PORT="${FRESHET_REDIS_PORT:-6379}"
MOTO_PORT="${FRESHET_MOTO_PORT:-5000}"
TANSU_VERSION=0.6.0
TANSU="$TOOLS/tansu/bin/tansu"
MOTO_VENV="$TOOLS/moto"
mkdir -p "$TOOLS" "$RUN"

log() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { # name
    local pid
    [[ -f "$RUN/$1.pid" ]] || return 1
    pid=$(cat "$RUN/$1.pid")
    kill -0 "$pid" 2>/dev/null
}

wait_until() { # what timeout-seconds command...
    local what=$1 timeout=$2
    shift 2
    for _ in $(seq 1 $((timeout * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    log "$what did not become ready within ${timeout}s; its log:"
    tail -n 30 "$RUN/$what.log" >&2 || true
    return 1
}

install_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
    log "installing redis-server (Debian)"
    if [[ $(id -u) -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null
    fi
}

install_moto() {
    [[ -x "$MOTO_VENV/bin/moto_server" ]] && return
    log "installing moto[server] into $MOTO_VENV (PyPI)"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install -q 'moto[server]==5.*' boto3
}

install_tansu() {
    [[ -x "$TANSU" ]] && return
    log "building the tansu broker $TANSU_VERSION (crates.io; about 20 minutes on 2 cores, once)"
    # opt-level 1, no LTO, no debug info: quicker to build than the default release
    # profile (CI pays this build once), and fast enough for tests and the local benchmarks.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install -q tansu --version "$TANSU_VERSION" --features dynostore --locked \
        --root "$TOOLS/tansu" >"$RUN/tansu-build.log" 2>&1 \
        || { tail -n 40 "$RUN/tansu-build.log" >&2; return 1; }
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }
moto_ready() { python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')"; }
kafka_ready() { "$TANSU" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT"; }

start_one() { # name ready-fn command...
    local name=$1 ready=$2
    shift 2
    if running "$name"; then
        return
    fi
    if $ready >/dev/null 2>&1; then
        log "$name: something else already answers on its port; using it"
        return
    fi
    log "starting $name"
    nohup "$@" >"$RUN/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
    wait_until "$name" 120 "$ready"
}

start() {
    install_redis
    install_moto
    install_tansu
    start_one redis redis_ready redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
        --save "" --appendonly no --daemonize no
    start_one moto moto_ready "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
    start_one kafka kafka_ready "$TANSU" broker \
        --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine memory://tansu/
    log "ready: kafka 127.0.0.1:$KAFKA_PORT, redis 127.0.0.1:$REDIS_PORT, aws http://127.0.0.1:$MOTO_PORT"
}

stop() {
    local name pid
    for name in kafka moto redis; do
        if running "$name"; then
            pid=$(cat "$RUN/$name.pid")
            log "stopping $name ($pid)"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$RUN/$name.pid"
    done
}

status() {
    local name
    for name in kafka redis moto; do
        if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
    done
}

env_vars() {
    cat <<EOF
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export FRESHET_TANSU=$TANSU
export FRESHET_MOTO_PORT=$MOTO_PORT
EOF
}

case "${1:-}" in
    install) install_redis; install_moto; install_tansu ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env_vars ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
