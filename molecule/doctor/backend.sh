#!/bin/sh
# The doctor scenario's backend (tests/support/ws_backend.py on port 5006), started and stopped by its PID,
# so a test can take the backend down and bring it back without stopping the container.
#   backend.sh serve   start it, then keep the container alive (the platform's command)
#   backend.sh start   start it unless it answers already, and wait until it listens
#   backend.sh stop    stop it (by the PID it was started with) and wait until the port refuses
set -eu
PIDFILE=/tmp/backend.pid

listening() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", 5006), 0.5).close()' 2>/dev/null
}

wait_until() {  # wait_until listening|refusing: at most 100 x 0.1 s
    i=0
    while [ "$i" -lt 100 ]; do
        if [ "$1" = listening ] && listening; then return 0; fi
        if [ "$1" = refusing ] && ! listening; then return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "backend.sh: the backend is not $1 after 10 s" >&2
    return 1
}

case "${1:-}" in
    serve | start)
        if ! listening; then
            python3 /opt/wsproxy/ws_backend.py --host 0.0.0.0 --port 5006 --log /tmp/backend.log >>/tmp/backend.out 2>&1 &
            echo "$!" >"$PIDFILE"
            wait_until listening
        fi
        if [ "$1" = serve ]; then exec sleep infinity; fi
        ;;
    stop)
        kill "$(cat "$PIDFILE")"
        wait_until refusing
        ;;
    *)
        echo "usage: backend.sh serve|start|stop" >&2
        exit 2
        ;;
esac
