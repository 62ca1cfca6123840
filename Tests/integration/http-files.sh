#!/bin/bash
# pxed's HTTP engine on loopback against curl: whole and ranged downloads byte-identical to the
# files, HEAD, validators and conditional requests (304), 416, keep-alive, Content-Type for EFI
# programs, one log line per request, reload of the HTTP root with a download in flight, and a
# hostile-path corpus (the TFTP one, as HTTP request targets raw and percent-encoded, plus
# symbolic links out of the root): every entry refused with 400/403/404, no byte from outside.
# Ports: 17201 (TFTP), 17280 (HTTP), 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"
lib_init http-files 240 pxed
need curl python3 || finish
PORT=17280
URL=http://127.0.0.1:$PORT

BASE=$TMP/base
ROOT=$BASE/tftp
ROOT2=$BASE/tftp2
mkdir -p "$ROOT/sub" "$ROOT2"
echo "PXED-SECRET-OUTSIDE-THE-ROOT" >"$BASE/secret.txt"
echo "PXED-SECRET-SIBLING" >"$ROOT2/secret.txt"
head -c $((24 * 1024 * 1024 + 321)) /dev/urandom >"$ROOT/big.bin"
head -c 4096 /dev/urandom >"$ROOT/sub/x.efi"
echo "#!ipxe" >"$ROOT/boot.ipxe"
echo "root two" >"$ROOT2/only-in-two.txt"
ln -s ../secret.txt "$ROOT/link_out"
ln -s "$BASE/secret.txt" "$ROOT/link_out_abs"
ln -s ../tftp2/secret.txt "$ROOT/link_sibling"
ln -s .. "$ROOT/dirlink_out"
ln -s /etc "$ROOT/dirlink_etc"
ln -s sub/x.efi "$ROOT/link_inside"

CFG=$TMP/pxed.yaml
write_config() { # HTTP-ROOT-LINE
    cat >"$CFG" <<EOF
log-level: info
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp: {root: $ROOT, port: 17201}
http: {port: $PORT$1}
interfaces:
  lo:
    address: 127.0.0.1
    tftp: true
    http: true
EOF
}
write_config ""
check "pxed check accepts http:" "$BIN/pxed" check -c "$CFG"
start_pxed "$TMP/log" "$CFG" || { fail setup "pxed did not start: $(tail -3 "$TMP/log")"; finish; }
check_why "the HTTP engine serves the TFTP root by default" "$(grep 'http lo' "$TMP/log" | head -1)" \
    grep -q "http lo: serving $ROOT on http://127.0.0.1:$PORT/" "$TMP/log"

# --- downloads --------------------------------------------------------------------------------
curl -sS -o "$TMP/big.get" "$URL/big.bin"
check "GET: byte-identical to the file" same_file "$ROOT/big.bin" "$TMP/big.get"
curl -sS -r 1000-1999 -o "$TMP/r1" -w '%{http_code}' "$URL/big.bin" >"$TMP/r1.code"
dd if="$ROOT/big.bin" of="$TMP/r1.want" bs=1 skip=1000 count=1000 status=none
check_why "Range 1000-1999: 206 and exactly those bytes" "$(cat "$TMP/r1.code")" \
    eval '[ "$(cat "$TMP/r1.code")" = 206 ] && cmp -s "$TMP/r1" "$TMP/r1.want"'
curl -sS -r -500 -o "$TMP/r2" -w '%{http_code}' "$URL/big.bin" >"$TMP/r2.code"
tail -c 500 "$ROOT/big.bin" >"$TMP/r2.want"
check_why "Range -500 (suffix): 206 and the last 500 bytes" "$(cat "$TMP/r2.code")" \
    eval '[ "$(cat "$TMP/r2.code")" = 206 ] && cmp -s "$TMP/r2" "$TMP/r2.want"'
size=$(stat -c %s "$ROOT/big.bin")
curl -sS -r $((size - 100))- -o "$TMP/r3" "$URL/big.bin"
check "Range to the end of a 24 MiB file" cmp -s "$TMP/r3" <(tail -c 100 "$ROOT/big.bin")
# A download resumed in pieces (what curl -C does) reassembles the file.
curl -sS -r 0-9999999 -o "$TMP/p1" "$URL/big.bin" && curl -sS -r 10000000- -o "$TMP/p2" "$URL/big.bin"
cat "$TMP/p1" "$TMP/p2" >"$TMP/joined"
check "two ranged halves join into the file" same_file "$ROOT/big.bin" "$TMP/joined"

# --- heads, validators, errors ----------------------------------------------------------------
curl -sS -I "$URL/big.bin" | tr -d '\r' >"$TMP/head"
check_why "HEAD: 200, Content-Length, ETag, Last-Modified, Accept-Ranges, no body" "$(tr '\n' '|' <"$TMP/head")" \
    eval 'grep -q "^HTTP/1.1 200" "$TMP/head" && grep -qi "^content-length: $size$" "$TMP/head" &&
          grep -qi "^etag: \"" "$TMP/head" && grep -qi "^last-modified: .* GMT$" "$TMP/head" &&
          grep -qi "^accept-ranges: bytes$" "$TMP/head"'
etag=$(grep -i '^etag:' "$TMP/head" | cut -d' ' -f2-)
lm=$(grep -i '^last-modified:' "$TMP/head" | cut -d' ' -f2-)
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$URL/big.bin")
check_why "If-None-Match with the ETag: 304" "got $code" [ "$code" = 304 ]
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$URL/big.bin")
check_why "If-Modified-Since Last-Modified: 304" "got $code" [ "$code" = 304 ]
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$URL/big.bin")
check_why "If-None-Match with another tag: 200" "got $code" [ "$code" = 200 ]
curl -sS -o /dev/null -D "$TMP/h416" -w '%{http_code}' -r $((size + 10))- "$URL/big.bin" >"$TMP/c416"
check_why "a range past the end: 416 with Content-Range bytes */SIZE" "$(cat "$TMP/c416") $(tr -d '\r' <"$TMP/h416" | grep -i content-range)" \
    eval '[ "$(cat "$TMP/c416")" = 416 ] && tr -d "\r" <"$TMP/h416" | grep -qi "^content-range: bytes \*/$size$"'
ct=$(curl -sS -o /dev/null -w '%{content_type}' "$URL/sub/x.efi")
check_why "an .efi file is served as application/efi" "got $ct" [ "$ct" = application/efi ]
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d x "$URL/big.bin")
check_why "POST: 405" "got $code" [ "$code" = 405 ]
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/nope.bin")
check_why "a missing file: 404" "got $code" [ "$code" = 404 ]
code=$(curl -sS -o "$TMP/inside" -w '%{http_code}' "$URL/link_inside")
check_why "a symbolic link inside the root is served" "got $code" eval '[ "$code" = 200 ] && cmp -s "$TMP/inside" "$ROOT/sub/x.efi"'
curl -sS -v -o /dev/null -o /dev/null "$URL/boot.ipxe" "$URL/sub/x.efi" 2>"$TMP/ka"
check_why "keep-alive: two requests on one connection" "$(grep -i 're-us\|connection' "$TMP/ka" | head -3 | tr '\n' '|')" \
    grep -qi "Re-using existing connection" "$TMP/ka"
check_why "one log line per request: method, path, client, status, bytes, duration" \
    "$(grep -E 'GET "/big.bin"' "$TMP/log" | head -1)" \
    grep -qE "^info: GET \"/big.bin\" client=127\.0\.0\.1:[0-9]+ status=200 bytes=$size duration=[0-9]+\.[0-9]{3}s$" "$TMP/log"
check_why "a 404 is logged at notice with the reason" "$(grep 'nope.bin' "$TMP/log" | head -1)" \
    grep -qE '^notice: GET "/nope.bin" .*status=404 bytes=[0-9]+ .*reason="file not found"' "$TMP/log"

# --- hostile paths ----------------------------------------------------------------------------
cat >"$TMP/hostile.py" <<'EOF'
import socket, sys, urllib.parse
port, base = int(sys.argv[1]), sys.argv[2]
names = [b"../secret.txt", b"../../../../../../../../etc/passwd", b"/etc/passwd", b"//etc/passwd",
         b"/../secret.txt", b"/sub/../../secret.txt", b"sub/../../secret.txt", b"./sub/./../../secret.txt",
         b"..\\secret.txt", b"..\\..\\secret.txt", b"sub\\..\\..\\secret.txt", b"C:\\..\\secret.txt",
         b"../tftp2/secret.txt", b"../tftp/../tftp2/secret.txt", base.encode() + b"/tftp2/secret.txt",
         base.encode() + b"/secret.txt", b"link_out", b"link_out_abs", b"link_sibling", b"dirlink_out/secret.txt",
         b"dirlink_out/tftp2/secret.txt", b"dirlink_etc/passwd", b"..", b"sub/..", b"../" * 400 + b"secret.txt",
         b"\xc0\xae\xc0\xae/secret.txt", b"..\xc0\xafsecret.txt", "\uff0e\uff0e/secret.txt".encode()]
targets = []
for n in names:
    p = n if n.startswith(b"/") else b"/" + n
    targets.append(("raw", p))
    targets.append(("pct", b"/" + urllib.parse.quote(n.lstrip(b"/"), safe="").encode()))
    targets.append(("pct-dots", p.replace(b".", b"%2e").replace(b"/", b"%2f").replace(b"%2f", b"/", 1)))
    targets.append(("pct-upper", p.replace(b".", b"%2E").replace(b"\\", b"%5C")))
targets += [("double-pct", b"/%252e%252e%252fsecret.txt"), ("nul", b"/ok%00/../secret.txt"),
            ("absolute-form", b"http://127.0.0.1/../secret.txt"), ("ctrl", b"/a%0a/../secret.txt")]
bad = 0
for kind, t in targets:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET " + t + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "none"
    leaked = b"PXED-SECRET" in data or b"root:x:0:0" in data
    if leaked or status not in ("400", "403", "404", "none"):
        bad += 1
        print(f"FAIL hostile {kind} {t[:80]!r}: status {status}{' LEAKED' if leaked else ''}")
print(f"{len(targets)} hostile targets, {bad} served or leaked")
sys.exit(1 if bad else 0)
EOF
out=$(python3 "$TMP/hostile.py" $PORT "$BASE" 2>&1)
check_why "hostile paths: every target refused (400/403/404), no byte from outside the root ($(echo "$out" | tail -1))" \
    "$(echo "$out" | head -5 | tr '\n' '|')" test -z "$(echo "$out" | grep FAIL)"
check "pxed still serves after the corpus" curl -sSf -o /dev/null "$URL/boot.ipxe"

# --- reload: a new root for new requests; a download in flight finishes ----------------------
curl -sS --limit-rate 8M -o "$TMP/slow" "$URL/big.bin" &
SLOW=$!
sleep 0.5
write_config ", root: $ROOT2"
before=$(grep -c "reload applied" "$TMP/log")
kill -HUP "$PXED_PID"
check "reload applied" wait_log "$TMP/log" "reload applied" 10 $((before + 1))
code=$(curl -sS -o "$TMP/two" -w '%{http_code}' "$URL/only-in-two.txt")
check_why "after the reload new requests see the new root" "got $code" eval '[ "$code" = 200 ] && grep -q "root two" "$TMP/two"'
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/boot.ipxe")
check_why "... and not the old one" "got $code" [ "$code" = 404 ]
wait "$SLOW"
check "the download in flight during the reload finished intact" same_file "$ROOT/big.bin" "$TMP/slow"

# --- max-connections ---------------------------------------------------------------------------
write_config ", root: $ROOT2, max-connections: 2"
before=$(grep -c "reload applied" "$TMP/log")
kill -HUP "$PXED_PID"
check "reload to max-connections: 2 applied" wait_log "$TMP/log" "reload applied" 10 $((before + 1))
cat >"$TMP/limit.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
time.sleep(0.3)
third = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    third.sendall(b"GET /only-in-two.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    data = third.recv(100)
except OSError:
    data = b""
print("third connection got", repr(data[:40]))
for s in held:
    s.close()
time.sleep(0.3)
fourth = socket.create_connection(("127.0.0.1", port), timeout=5)
fourth.sendall(b"GET /only-in-two.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
reply = fourth.recv(100)
print("after the two closed:", repr(reply[:15]))
sys.exit(0 if data == b"" and reply.startswith(b"HTTP/1.1 200") else 1)
EOF
check "with 2 connections held a third is closed unanswered; once they close, requests are served" \
    python3 "$TMP/limit.py" $PORT

# --- config errors -----------------------------------------------------------------------------
cat >"$TMP/bad.yaml" <<EOF
http: {port: 99999, max-conections: 5}
interfaces:
  lo:
    http: true
EOF
"$BIN/pxed" check -c "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1
check_why "pxed check reports http errors with file:line:column" "$(tr '\n' '|' <"$TMP/bad.out")" \
    eval 'grep -q "bad.yaml:1:[0-9]*: http.port" "$TMP/bad.out" && grep -q "unknown key .max-conections. (did you mean .max-connections.?)" "$TMP/bad.out" &&
          grep -q "interfaces.lo.http: HTTP needs a root" "$TMP/bad.out"'
finish
