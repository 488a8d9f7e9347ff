#!/usr/bin/env bash
# Runs the demo deployment on this machine: demo-services and the five gateways in the background, with
# logs and pids under the run directory. Used by `make deploy`, `make undeploy` and `make status`.
#
#   deploy/local/portico-local.sh start|stop|status
#
# Environment: PORTICO_BIN_DIR (default .build/release), PORTICO_CONFIG (default portico.yaml),
# PORTICO_RUN_DIR (default .run), PORTICO_DEMO_ARGS (extra demo-services arguments, e.g. other ports),
# PORTICO_READY_TIMEOUT (seconds, default 60).
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN_DIR=${PORTICO_BIN_DIR:-.build/release}
CONFIG=${PORTICO_CONFIG:-portico.yaml}
RUN_DIR=${PORTICO_RUN_DIR:-.run}
DEMO_ARGS=${PORTICO_DEMO_ARGS:-}
READY_TIMEOUT=${PORTICO_READY_TIMEOUT:-60}
GATEWAYS=(rest graphql grpc cloudevents websocket)

running() { # name -> 0 if its recorded pid is alive and is ours
    local pidfile="$RUN_DIR/$1.pid"
    [[ -f $pidfile ]] || return 1
    local pid; pid=$(<"$pidfile")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && grep -q "$2" "/proc/$pid/cmdline" 2>/dev/null
}

alive() { # name -> 0 if its recorded pid is alive (during start-up the pid may not have exec'd yet)
    [[ -f $RUN_DIR/$1.pid ]] && kill -0 "$(<"$RUN_DIR/$1.pid")" 2>/dev/null
}

start_one() { # name executable args...
    local name=$1 exe=$2; shift 2
    if running "$name" "$exe"; then
        echo "  $name already running (pid $(<"$RUN_DIR/$name.pid"))"
        return
    fi
    # The daemon gets no file descriptor of ours beyond 0-2 (make's jobserver, a caller's pipes), so nothing
    # that waits for those to close waits for the gateway too.
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup "$BIN_DIR/$exe" "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null
    ) &
    echo $! >"$RUN_DIR/$name.pid"
    echo "  started $name (pid $!)"
}

admin_port() { # gateway -> admin port from the effective config
    "$BIN_DIR/gatewayctl" print --config "$CONFIG" --gateway "$1" | awk -v g="$1" '
        $1 == g":" { in_g = 1; next }
        in_g && $1 == "admin:" { split($2, a, ":"); print a[length(a)]; exit }'
}

listen_address() {
    "$BIN_DIR/gatewayctl" print --config "$CONFIG" --gateway "$1" | awk -v g="$1" '
        $1 == g":" { in_g = 1; next }
        in_g && $1 == "listen:" { print $2; exit }'
}

http_ok() { # url -> 0 on HTTP 200, with nothing but bash (no curl needed)
    local hostport=${1#http://}; hostport=${hostport%%/*}
    local path=/${1#http://*/}
    local host=${hostport%:*} port=${hostport##*:}
    # A subshell: a failed `exec` redirection would otherwise end the whole script.
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
        IFS= read -r -t 2 status <&3 || exit 1
        [[ $status == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}

cmd_start() {
    for exe in demo-services gatewayctl "${GATEWAYS[@]/%/-gateway}"; do
        [[ -x $BIN_DIR/$exe ]] || { echo "error: $BIN_DIR/$exe is missing; build first (make build-release)" >&2; exit 1; }
    done
    "$BIN_DIR/gatewayctl" validate "$CONFIG" >/dev/null
    mkdir -p "$RUN_DIR"
    echo "Starting Portico from $BIN_DIR with $CONFIG"
    # Refuse to start next to another deployment answering on the same ports: its /readyz would
    # make this one look ready while ours fails to bind.
    for g in "${GATEWAYS[@]}"; do
        if ! running "$g" "$g-gateway" && http_ok "http://127.0.0.1:$(admin_port "$g")/readyz"; then
            echo "error: something else already answers on $g's admin port $(admin_port "$g"); stop it first" >&2
            exit 1
        fi
    done
    # shellcheck disable=SC2086
    start_one demo-services demo-services $DEMO_ARGS
    for g in "${GATEWAYS[@]}"; do
        start_one "$g" "$g-gateway" --config "$CONFIG"
    done
    echo "Waiting for readiness (up to ${READY_TIMEOUT}s)..."
    local deadline=$((SECONDS + READY_TIMEOUT)) pending
    while :; do
        pending=()
        [[ $(grep -c '"msg":"listening"' "$RUN_DIR/demo-services.log" 2>/dev/null || true) -ge 5 ]] || pending+=(demo-services)
        for g in "${GATEWAYS[@]}"; do
            http_ok "http://127.0.0.1:$(admin_port "$g")/readyz" || pending+=("$g")
            if ! alive "$g"; then
                echo "error: $g exited; last log lines:" >&2; tail -n 20 "$RUN_DIR/$g.log" >&2; exit 1
            fi
        done
        alive demo-services || { echo "error: demo-services exited; last log lines:" >&2; tail -n 20 "$RUN_DIR/demo-services.log" >&2; exit 1; }
        ((${#pending[@]} == 0)) && break
        if ((SECONDS > deadline)); then
            echo "error: not ready after ${READY_TIMEOUT}s: ${pending[*]} (logs in $RUN_DIR/)" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo
    echo "Portico is up:"
    printf '  %-12s http://%s   (admin http://127.0.0.1:%s)\n' \
        REST "$(listen_address rest)/api/users" "$(admin_port rest)" \
        GraphQL "$(listen_address graphql)/graphql" "$(admin_port graphql)" \
        gRPC "$(listen_address grpc) (h2c)" "$(admin_port grpc)" \
        CloudEvents "$(listen_address cloudevents)/" "$(admin_port cloudevents)" \
        WebSocket "$(listen_address websocket)/ws" "$(admin_port websocket)"
    echo "  Logs and pids: $RUN_DIR/   Stop with: make undeploy"
}

cmd_stop() {
    local any=0
    for name in "${GATEWAYS[@]}" demo-services; do
        local pidfile="$RUN_DIR/$name.pid"
        [[ -f $pidfile ]] || continue
        local pid; pid=$(<"$pidfile")
        local exe=$name-gateway; [[ $name == demo-services ]] && exe=demo-services
        if running "$name" "$exe"; then
            kill -TERM "$pid"
            any=1
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "  $name killed"; else echo "  $name stopped"; fi
        fi
        rm -f "$pidfile"
    done
    ((any)) || echo "nothing was running"
}

cmd_status() {
    local code=0
    for name in demo-services "${GATEWAYS[@]}"; do
        local exe=$name-gateway; [[ $name == demo-services ]] && exe=demo-services
        if running "$name" "$exe"; then
            printf '  %-14s running (pid %s)\n' "$name" "$(<"$RUN_DIR/$name.pid")"
        else
            printf '  %-14s stopped\n' "$name"; code=1
        fi
    done
    if [[ -x $BIN_DIR/gatewayctl ]]; then "$BIN_DIR/gatewayctl" status --config "$CONFIG" || code=1; fi
    return $code
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
