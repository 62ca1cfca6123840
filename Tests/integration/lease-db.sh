#!/bin/bash
# The PostgreSQL lease database (issue 19, first part): a throwaway cluster (Debian's
# `postgresql`: initdb into this script's temp dir, its own port on 127.0.0.1, run as the
# `postgres` user), then `pxed check` on the lease-store section (no connection), `pxed db init`
# creating the schema and finding it up to date the second time, two `db init` at once (the
# advisory lock), the schema seen through psql, `pxed leases` reading rows from the database,
# and clear errors: a wrong password, a missing password-file, nothing listening, a bad URL.
# Serving DHCP from the database with two servers, kill -9 and outages: lease-shared.sh.
. "$(dirname "$0")/lib.sh"
lib_init lease-db 180 pxed
PORT=15432
port_tcp_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_tcp_free $PORT || { fail setup "TCP port $PORT is in use"; finish; }

# --- a throwaway cluster ------------------------------------------------------------------------
pg_cluster $PORT || finish
check "role and database" pgc_role_db pxed pxed-pw
printf 'pxed-pw\n' > "$TMP/db-password"; chmod 600 "$TMP/db-password"

CFG=$TMP/pxed.yaml
cat > "$CFG" <<YAML
control-socket: $TMP/control.sock
lease-store:
  backend: postgresql
  url: postgresql://pxed@127.0.0.1:$PORT/pxed
  password-file: $TMP/db-password
  connect-timeout: 3
YAML

# --- pxed check: validates without connecting -----------------------------------------------------
out=$("$BIN/pxed" check -c "$CFG" 2>&1)
check_why "pxed check accepts the section and names the database" "$out" \
    grep -q "leases in postgresql://pxed@127.0.0.1:$PORT/pxed" <<<"$out"
sed "s|url: .*|url: postgresql://pxed:pw@127.0.0.1:$PORT/pxed|" "$CFG" > "$TMP/bad-url.yaml"
out=$("$BIN/pxed" check -c "$TMP/bad-url.yaml" 2>&1); rc=$?
check_why "pxed check refuses a password in the URL, with line and column" "rc=$rc: $out" \
    bash -c "[ $rc -ne 0 ] && grep -q 'bad-url.yaml:4:8: lease-store.url: a password in the URL is refused' <<<'$out'"
grep -q "pw@" <<<"$out" && fail "the refused URL's password is not echoed" "$out" || pass "the refused URL's password is not echoed"

# --- db init ---------------------------------------------------------------------------------------
out=$("$BIN/pxed" leases -c "$CFG" 2>&1); rc=$?
check_why "pxed leases before db init: says to run it" "rc=$rc: $out" \
    bash -c "[ $rc -ne 0 ] && grep -q 'has no pxed schema yet: run pxed db init' <<<'$out'"
out=$("$BIN/pxed" db init -c "$CFG" 2>&1)
check_why "db init creates the schema" "$out" grep -q "schema created, now version 2" <<<"$out"
out=$("$BIN/pxed" db init -c "$CFG" 2>&1)
check_why "db init again: up to date" "$out" grep -q "schema version 2, up to date" <<<"$out"
# A database at version 1 (as the first release made it) is upgraded, not re-created.
DB=pxed psql_q "DROP INDEX pxed_leases4_updated_at; DELETE FROM pxed_schema WHERE version = 2" >/dev/null
out=$("$BIN/pxed" db init -c "$CFG" 2>&1)
check_why "db init upgrades a version-1 schema" "$out" grep -q "schema upgraded from version 1, now version 2" <<<"$out"
DB=pxed
indexes=$(DB=pxed psql_q "SELECT count(*) FROM pg_indexes WHERE tablename = 'pxed_leases4'" 2>&1)
check_why "the lease table and its indexes exist" "$(DB=pxed psql_q '\d pxed_leases4' 2>&1 | head -3)" [ "$indexes" = 3 ]
# Two at once on a fresh database: the advisory lock lets one migrate, the other finds it done.
psql_q "CREATE DATABASE pxed2 OWNER pxed" >/dev/null
sed "s|/pxed$|/pxed2|" "$CFG" > "$TMP/pxed2.yaml"
"$BIN/pxed" db init -c "$TMP/pxed2.yaml" > "$TMP/init-a.out" 2>&1 & A=$!
"$BIN/pxed" db init -c "$TMP/pxed2.yaml" > "$TMP/init-b.out" 2>&1 & B=$!
wait $A; ra=$?; wait $B; rb=$?
both="$(cat "$TMP/init-a.out" "$TMP/init-b.out" | tr '\n' '|')"
check_why "two db init at once both succeed, one creates" "ra=$ra rb=$rb: $both" \
    bash -c "[ $ra -eq 0 ] && [ $rb -eq 0 ] && [ \"\$(grep -c 'schema created' $TMP/init-a.out $TMP/init-b.out | awk -F: '{s+=\$2} END {print s}')\" = 1 ]"
versions=$(DB=pxed2 psql_q 'SELECT count(*) FROM pxed_schema' 2>&1)
check_why "each schema version is recorded once" "$(DB=pxed2 psql_q 'SELECT version FROM pxed_schema' 2>&1)" [ "$versions" = 2 ]

# --- pxed leases reads the database ------------------------------------------------------------------
now=$(date +%s)
DB=pxed psql_q "INSERT INTO pxed_leases4 (address, client_key, mac, hostname, expiry, state, server) VALUES
  ('10.77.0.10', 'hw:020000000010', '02:00:00:00:00:10', 'rack1-n10', $((now + 3600)), 'active', 'test'),
  ('10.77.0.11', 'id:01020000000011', '02:00:00:00:00:11', NULL, $((now + 7200)), 'active', 'test')" >/dev/null
out=$("$BIN/pxed" leases -c "$CFG" 2>&1)
check_why "pxed leases lists the database's rows" "$out" \
    bash -c "grep -q '10.77.0.10.*rack1-n10' <<<'$out' && grep -q '10.77.0.11' <<<'$out'"
out=$("$BIN/pxed" leases -c "$CFG" --json 2>&1)
check_why "pxed leases --json from the database" "$out" \
    python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert sorted(l['ip'] for l in d['leases']) == ['10.77.0.10','10.77.0.11']" "$out"

# --- clear errors ----------------------------------------------------------------------------------
printf 'wrong\n' > "$TMP/wrong-password"
sed "s|password-file: .*|password-file: $TMP/wrong-password|" "$CFG" > "$TMP/wrong.yaml"
out=$("$BIN/pxed" db init -c "$TMP/wrong.yaml" 2>&1); rc=$?
check_why "a wrong password: the server's reason" "rc=$rc: $out" \
    bash -c "[ $rc -ne 0 ] && grep -q 'password authentication failed for user \"pxed\"' <<<'$out'"
grep -q "wrong" <<<"$(grep -v password-file <<<"$out")" && fail "the password is never printed" "$out" || pass "the password is never printed"
sed "s|password-file: .*|password-file: $TMP/missing|" "$CFG" > "$TMP/missing.yaml"
out=$("$BIN/pxed" db init -c "$TMP/missing.yaml" 2>&1); rc=$?
check_why "a missing password-file is named" "rc=$rc: $out" \
    bash -c "[ $rc -ne 0 ] && grep -q 'cannot read password-file $TMP/missing: No such file or directory' <<<'$out'"
FREE=15499
sed "s|127.0.0.1:$PORT|127.0.0.1:$FREE|" "$CFG" > "$TMP/nobody.yaml"
t0=$(date +%s)
out=$("$BIN/pxed" db init -c "$TMP/nobody.yaml" 2>&1); rc=$?
t1=$(date +%s)
check_why "nothing listening: a clear error, within the connect timeout" "rc=$rc after $((t1 - t0)) s: $out" \
    bash -c "[ $rc -ne 0 ] && [ $((t1 - t0)) -le 5 ] && grep -q 'cannot connect to postgresql://pxed@127.0.0.1:$FREE/pxed' <<<'$out'"
# An address nobody answers: in a namespace of our own, 192.0.2.1 (TEST-NET-1) is on a veth link
# whose other end has no address, so ARP (and the SYN) never get an answer; the connect timeout
# (3 s) or the failed ARP (about 3 s) must end it.
NS=pxdb-$$
ns_add $NS && ip -n $NS link add va type veth peer name vb && ip -n $NS addr add 192.0.2.2/24 dev va && ip -n $NS link set va up && ip -n $NS link set vb up
sed "s|127.0.0.1:$PORT|192.0.2.1:5432|" "$CFG" > "$TMP/blackhole.yaml"
t0=$(date +%s)
out=$(ip netns exec $NS "$BIN/pxed" db init -c "$TMP/blackhole.yaml" 2>&1); rc=$?
t1=$(date +%s)
check_why "an unreachable host: a clear error within the connect timeout" "rc=$rc after $((t1 - t0)) s: $out" \
    bash -c "[ $rc -ne 0 ] && [ $((t1 - t0)) -le 8 ] && grep -q 'cannot connect to postgresql://pxed@192.0.2.1:5432/pxed' <<<'$out'"
# The daemon with a database nobody answers at start: a clear error, and it keeps running (it
# answers nothing new until the database can be read, and keeps trying).
cat > "$TMP/serve.yaml" <<YAML
control-socket: $TMP/serve.sock
lease-store: {backend: postgresql, url: "postgresql://pxed@127.0.0.1:$FREE/pxed", password-file: $TMP/db-password, connect-timeout: 2}
interfaces:
  lo: {address: 127.0.0.1, dhcp: {subnet: 127.0.0.0/8, range: 127.0.0.100-127.0.0.200, port: 16767}}
YAML
start_pxed "$TMP/serve.log" "$TMP/serve.yaml"
wait_log "$TMP/serve.log" "cannot load leases from postgresql://pxed@127.0.0.1:$FREE/pxed" 10
check_why "database down at start: a clear error naming it, and the daemon keeps running" "$(tail -3 "$TMP/serve.log")" \
    bash -c "grep -q 'cannot load leases from postgresql://pxed@127.0.0.1:$FREE/pxed.*retrying' '$TMP/serve.log' && kill -0 $PXED_PID"
grep -q "pxed-pw" "$TMP/serve.log" && fail "the log never shows the password" "$(grep pxed-pw "$TMP/serve.log")" \
    || pass "the log never shows the password"
stop "$PXED_PID"
finish
