#!/bin/sh
# A private PostgreSQL cluster for tests and benchmarks: `pg_cluster.sh start DIR` creates DIR/data
# (initdb, trust authentication on a Unix socket in DIR only, no TCP), starts it on a random port and
# prints its URL; `pg_cluster.sh stop DIR` stops it; `pg_cluster.sh restart DIR` restarts it.
# As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -eu
cmd="$1"
dir="$2"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg_cluster: PostgreSQL is not installed (Debian package postgresql)" >&2; exit 69; }
as_server() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ))
    as_server "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 </dev/null
    echo "$port" >"$dir/port"
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-k $dir -p $port -c listen_addresses= -c fsync=off -c max_connections=60" start >"$dir/pg_ctl.log" 2>&1 </dev/null
    echo "postgresql://postgres@/postgres?host=$dir&port=$port"
    ;;
stop)
    as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 </dev/null || true
    ;;
restart)
    port=$(cat "$dir/port")
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 \
        -o "-k $dir -p $port -c listen_addresses= -c fsync=off -c max_connections=60" restart >"$dir/pg_ctl.log" 2>&1 </dev/null
    ;;
*)
    echo "usage: pg_cluster.sh start|stop|restart DIR" >&2; exit 64 ;;
esac
