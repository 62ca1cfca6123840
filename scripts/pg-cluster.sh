# A throwaway PostgreSQL cluster for tests and benchmarks (source this file). Debian's
# `postgresql` binaries, run as the `postgres` user: initdb into a directory of ours, listening
# only on the address and port given, inside a network namespace when one is given. Nothing is
# installed as a service and nothing outlives `pgc_stop`.
#   pgc_init DIR PORT [ADDRESS [NS]]  initdb (superuser postgres, password $PGPASSWORD)
#   pgc_start / pgc_stop [MODE]        pg_ctl start (waits) / stop (-m immediate by default)
#   pgc_sql DB SQL                     one statement through psql, unaligned tuples only
#   pgc_role_db NAME PASSWORD          a login role and a database it owns
export PGPASSWORD=${PGPASSWORD:-s3cret-pxed}

# pgc_init_vars DIR PORT [ADDRESS [NS]]: only the variables (for a caller that ran pgc_init in a subshell).
pgc_init_vars() {
    PGC_DIR=$1 PGC_PORT=$2 PGC_ADDRESS=${3:-127.0.0.1} PGC_NS=${4:-}
    PGC_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
}
pgc_init() {
    pgc_init_vars "$@"
    [ -x "$PGC_BIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)"; return 1; }
    mkdir -p "$PGC_DIR/data" "$PGC_DIR/sock" "$PGC_DIR/log"
    chown postgres: "$PGC_DIR/data" "$PGC_DIR/sock" "$PGC_DIR/log"
    # The postgres user must reach DIR: open it and its parent (a mktemp directory of the caller's).
    chmod 755 "$PGC_DIR" "$(dirname "$PGC_DIR")"
    printf '%s\n' "$PGPASSWORD" > "$PGC_DIR/pwfile"; chown postgres: "$PGC_DIR/pwfile"
    runuser -u postgres -- "$PGC_BIN/initdb" -D "$PGC_DIR/data" -U postgres -A scram-sha-256 \
        --pwfile="$PGC_DIR/pwfile" -E UTF8 > "$PGC_DIR/log/initdb.log" 2>&1 || { tail -3 "$PGC_DIR/log/initdb.log"; return 1; }
    cat >> "$PGC_DIR/data/postgresql.conf" <<EOF
listen_addresses = '$PGC_ADDRESS'
port = $PGC_PORT
unix_socket_directories = '$PGC_DIR/sock'
fsync = on
EOF
    # Password logins from anywhere the cluster listens (only the address above).
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGC_DIR/data/pg_hba.conf"
}
_pgc_in_ns() { if [ -n "$PGC_NS" ]; then ip netns exec "$PGC_NS" "$@"; else "$@"; fi; }
pgc_start() {
    _pgc_in_ns runuser -u postgres -- "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -l "$PGC_DIR/log/postgres.log" -w -t 30 start >/dev/null
}
pgc_stop() {
    [ -n "${PGC_DIR:-}" ] || return 0
    _pgc_in_ns runuser -u postgres -- "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -m "${1:-immediate}" -w stop >/dev/null 2>&1
}
pgc_sql() { _pgc_in_ns "$PGC_BIN/psql" -h "$PGC_ADDRESS" -p "$PGC_PORT" -U postgres -d "$1" -tAq -c "$2"; }
pgc_role_db() { pgc_sql postgres "CREATE ROLE $1 LOGIN PASSWORD '$2'" >/dev/null && pgc_sql postgres "CREATE DATABASE $1 OWNER $1" >/dev/null; }
