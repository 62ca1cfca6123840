#!/usr/bin/env bash
# Hostile clients against ptftpd, on loopback only: path escapes (RRQ and WRQ), symlinks, special
# files, malformed packets and stray TIDs, crafted byte for byte with python3.
#
# Layout (all under one temp dir BASE):
#   BASE/secret.txt                 outside the root
#   BASE/tftp/                      the root (ROOT)
#   BASE/tftp2/secret.txt           a sibling whose name has ROOT's name as a prefix
#   ROOT/ok.txt, ROOT/sub/inner.txt legit files
#   ROOT/link_in -> ok.txt          symlink inside the root: must be served
#   ROOT/link_in_abs -> ROOT/ok.txt absolute symlink that stays inside: must be served
#   ROOT/link_out -> ../secret.txt, link_out_abs, link_sibling, link_chain, dangling_out,
#   ROOT/dirlink_out -> .., dirlink_etc -> /etc, dirlink_sibling -> ../tftp2
#   ROOT/fifo (FIFO), ROOT/zero (char device 1,5), ROOT/sub (directory): refused, never a hang
#
# Usage: Tests/integration/tftp-hostile.sh      Ports: 17101-17104 (UDP, 127.0.0.1).

set -u
. "$(dirname "$0")/lib.sh"
lib_init tftp-hostile 180 ptftpd ptftp

P_RO=17101    # read-only
P_UP=17102    # --upload
P_OVW=17103   # --upload --overwrite
P_SLOW=17104  # --upload --timeout 1 --retries 2 (abandoned uploads)
for p in $P_RO $P_UP $P_OVW $P_SLOW; do
    port_free "$p" || { fail setup "UDP port $p is already in use"; finish; }
done
need python3 curl || finish

BASE=$TMP/x
ROOT=$BASE/tftp
ROOT2=$BASE/tftp2
mkdir -p "$ROOT/sub" "$ROOT2"
SECRET="TOPSECRET-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$SECRET outside" >"$BASE/secret.txt"
echo "$SECRET sibling" >"$ROOT2/secret.txt"
echo "legit file served from the root" >"$ROOT/ok.txt"
echo "inner file" >"$ROOT/sub/inner.txt"
head -c 3000 /dev/urandom >"$ROOT/blocks.bin"   # 6 blocks at 512, for the TID checks
ln -s ok.txt "$ROOT/link_in"
ln -s "$ROOT/ok.txt" "$ROOT/link_in_abs"
ln -s ../secret.txt "$ROOT/link_out"
ln -s "$BASE/secret.txt" "$ROOT/link_out_abs"
ln -s ../tftp2/secret.txt "$ROOT/link_sibling"
ln -s link_out "$ROOT/link_chain"
ln -s ../newfile_outside "$ROOT/dangling_out"
ln -s .. "$ROOT/dirlink_out"
ln -s /etc "$ROOT/dirlink_etc"
ln -s ../tftp2 "$ROOT/dirlink_sibling"
mkfifo "$ROOT/fifo"
mknod "$ROOT/zero" c 1 5 2>/dev/null || true
EVIL_ABS="/tmp/pxed-hostile-evil-$$"   # a WRQ for this absolute name means ROOT/tmp/..., which does not exist
[ -e "$EVIL_ABS" ] && { fail setup "$EVIL_ABS exists already"; finish; }

start_ptftpd $P_RO "$ROOT" "$TMP/ro.log" || finish
PID_RO=$SPAWNED
start_ptftpd $P_UP "$ROOT" "$TMP/up.log" --upload || finish
PID_UP=$SPAWNED
start_ptftpd $P_OVW "$ROOT" "$TMP/ovw.log" --upload --overwrite || finish
PID_OVW=$SPAWNED
start_ptftpd $P_SLOW "$ROOT" "$TMP/slow.log" --upload --timeout 1 --retries 2 || finish
PID_SLOW=$SPAWNED

# The raw client. It prints PASS/FAIL lines; `phase` counts them into this script's totals.
cat >"$TMP/hostile.py" <<'PYEOF'
import hashlib, os, socket, sys, time

HOST = "127.0.0.1"
ROOT, BASE, SECRET = os.environ["ROOT"], os.environ["BASE"], os.environ["SECRET"].encode()
P_RO, P_UP, P_OVW, P_SLOW = (int(os.environ[k]) for k in ("P_RO", "P_UP", "P_OVW", "P_SLOW"))
OPS = {1: "RRQ", 2: "WRQ", 3: "DATA", 4: "ACK", 5: "ERROR", 6: "OACK"}
BAD_MARKERS = [SECRET, b"root:x:0:0", b"root:*:0:0"]


def say(ok, name, why=""):
    print(f"PASS {name}" if ok else f"FAIL {name}: {why}", flush=True)


def sock(timeout=4.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    s.settimeout(timeout)
    return s


def request(op, name, mode=b"octet", opts=()):
    pkt = op.to_bytes(2, "big") + name + b"\0" + mode + b"\0"
    for k, v in opts:
        pkt += k + b"\0" + v + b"\0"
    return pkt


def parse(pkt):
    op = int.from_bytes(pkt[:2], "big") if len(pkt) >= 2 else -1
    if op == 5:
        return op, int.from_bytes(pkt[2:4], "big"), pkt[4:].split(b"\0")[0]
    if op in (3, 4):
        return op, int.from_bytes(pkt[2:4], "big"), pkt[4:]
    return op, None, pkt[2:]


def first_reply(s, pkt, port, wait=4.0):
    s.settimeout(wait)
    s.sendto(pkt, (HOST, port))
    try:
        data, peer = s.recvfrom(65536)
        return data, peer
    except socket.timeout:
        return None, None


def rrq(fname, port=P_RO, opts=(), wait=4.0):
    """A new socket and the first reply to an RRQ for fname: (socket, data or None, peer)."""
    s = sock(wait)
    data, peer = first_reply(s, request(1, fname, opts=opts), port, wait)
    return s, data, peer


def root_file(name):
    return open(os.path.join(ROOT, name), "rb").read()


def fetch_rest(s, first, peer, blksize=512):
    """Finish a read transfer that answered with DATA or OACK; returns all bytes received."""
    got, pkt, expect = b"", first, 1
    for _ in range(100000):
        op, blk, body = parse(pkt)
        if op == 6:
            s.sendto(b"\0\4\0\0", peer)
        elif op == 3:
            if blk == expect % 65536:
                got += body
                expect += 1
            s.sendto(b"\0\4" + pkt[2:4], peer)
            if len(body) < blksize:
                return got
        else:
            return got
        try:
            pkt, _ = s.recvfrom(65536)
        except socket.timeout:
            return got
    return got


def abort(s, peer):
    if peer:
        s.sendto(b"\0\5\0\0aborted by test\0", peer)


def describe(data):
    op, a, b = parse(data)
    if op == 5:
        return f"ERROR {a} {b[:60]!r}"
    if op == 3:
        return f"DATA {a} ({len(b)} bytes)"
    return f"{OPS.get(op, op)} {data[:40]!r}"


# --------------------------------------------------------------------------------------------
def rrq_escapes():
    cases = [
        ("dotdot", b"../secret.txt"),
        ("dotdot-deep", b"../../../../../../../../etc/passwd"),
        ("abs-etc-passwd", b"/etc/passwd"),
        ("double-slash-etc-passwd", b"//etc/passwd"),
        ("abs-dotdot", b"/../secret.txt"),
        ("slash-dotdot-mid", b"/sub/../../secret.txt"),
        ("sub-dotdot", b"sub/../../secret.txt"),
        ("dot-sub-dotdot", b"./sub/./../../secret.txt"),
        ("dot-dotdot", b"./../secret.txt"),
        ("four-dots", b"....//secret.txt"),
        ("four-dots-slash", b"..../..../secret.txt"),
        ("pct-2e2e", b"%2e%2e/secret.txt"),
        ("pct-2e2e-2f", b"%2e%2e%2fsecret.txt"),
        ("pct-double", b"%252e%252e%252fsecret.txt"),
        ("backslash-dotdot", b"..\\secret.txt"),
        ("backslash-dotdot-x2", b"..\\..\\secret.txt"),
        ("backslash-abs", b"\\..\\secret.txt"),
        ("mixed-slashes", b"sub\\..\\..\\secret.txt"),
        ("drive-letter", b"C:\\..\\secret.txt"),
        ("sibling", b"../tftp2/secret.txt"),
        ("sibling-via-self", b"../tftp/../tftp2/secret.txt"),
        ("sibling-abs", BASE.encode() + b"/tftp2/secret.txt"),
        ("abs-real-path", BASE.encode() + b"/secret.txt"),
        ("link-out", b"link_out"),
        ("link-out-abs", b"link_out_abs"),
        ("link-sibling", b"link_sibling"),
        ("link-chain", b"link_chain"),
        ("dangling-out", b"dangling_out"),
        ("dirlink-out", b"dirlink_out/secret.txt"),
        ("dirlink-out-sibling", b"dirlink_out/tftp2/secret.txt"),
        ("dirlink-etc", b"dirlink_etc/passwd"),
        ("dirlink-sibling", b"dirlink_sibling/secret.txt"),
        ("nul-then-dotdot", b"ok.txt\0../secret.txt"),
        ("dotdot-nul", b"../secret.txt\0ok.txt"),
        ("ctrl-newline", b"ok.txt\n../secret.txt"),
        ("ctrl-escape", b"\x1b[2J../secret.txt"),
        ("ctrl-del", b"ok\x7f.txt"),
        ("ctrl-soh", b"\x01ok.txt"),
        ("invalid-utf8", b"\xff\xfe../secret.txt"),
        ("overlong-dot-utf8", b"\xc0\xae\xc0\xae/secret.txt"),
        ("overlong-slash-utf8", b"..\xc0\xafsecret.txt"),
        ("fullwidth-dots", "\uff0e\uff0e/secret.txt".encode()),
        ("long-name", b"a" * 1400),
        ("long-component", b"b" * 300 + b".txt"),
        ("long-dotdot-chain", b"../" * 400 + b"secret.txt"),
        ("trailing-slash-dotdot", b"../secret.txt/"),
        ("trailing-slash-link-out", b"link_out/"),
        ("trailing-slash-dirlink", b"dirlink_out/"),
        ("trailing-dotdot", b"sub/.."),
        ("dot", b"."),
        ("dotdot-alone", b".."),
        ("empty-name", b""),
        ("slash-only", b"/"),
        ("proc-self", b"/proc/self/environ"),
        ("file-url", b"file:///etc/passwd"),
        ("tilde", b"~root/.bashrc"),
        ("directory", b"sub"),
        ("directory-slash", b"sub/"),
        ("fifo", b"fifo"),
        ("char-device", b"zero"),
    ]
    if not os.path.exists(os.path.join(ROOT, "zero")):
        cases.remove(("char-device", b"zero"))
    for name, fname in cases:
        for variant, opts in (("", ()), ("+opts", ((b"tsize", b"0"), (b"blksize", b"1468")))):
            label = f"rrq-{name}{variant}"
            t0 = time.monotonic()
            s, data, peer = rrq(fname, opts=opts)
            took = time.monotonic() - t0
            if data is None:
                say(False, label, "no reply within 4 s (hang?)")
            else:
                op, code, msg = parse(data)
                if op == 5 and code in (1, 2, 4):
                    say(True, label)
                else:
                    body = data if op != 3 and op != 6 else data + fetch_rest(s, data, peer, 1468 if opts else 512)
                    leak = any(m in body for m in BAD_MARKERS)
                    say(False, label, f"{'LEAKED the secret: ' if leak else ''}got {describe(data)} after {took:.2f}s")
                    abort(s, peer)
            s.close()


def rrq_trailing_slash():
    """'ok.txt/' names no directory; ptftpd may refuse it or serve ROOT/ok.txt, but nothing else."""
    want = root_file("ok.txt")
    s, data, peer = rrq(b"ok.txt/")
    if data is None:
        say(False, "rrq-trailing-slash-file-no-leak", "no reply")
    elif parse(data)[0] == 5:
        say(True, "rrq-trailing-slash-file-no-leak")
    else:
        got = fetch_rest(s, data, peer)
        say(got == want, "rrq-trailing-slash-file-no-leak", f"served {got[:40]!r}")
        print(f"# note: 'ok.txt/' was served as ok.txt ({describe(data)})")
    s.close()


def rrq_must_work():
    want = root_file("ok.txt")
    inner = root_file("sub/inner.txt")
    for label, fname, expect in (
        ("rrq-ok", b"ok.txt", want),
        ("rrq-symlink-inside-works", b"link_in", want),
        ("rrq-abs-symlink-inside-works", b"link_in_abs", want),
        ("rrq-leading-slash-is-root", b"/ok.txt", want),
        ("rrq-backslash-subdir", b"sub\\inner.txt", inner),
        ("rrq-dot-components", b"./sub/./inner.txt", inner),
    ):
        s, data, peer = rrq(fname)
        if data is None:
            say(False, label, "no reply")
        elif parse(data)[0] != 3:
            say(False, label, f"got {describe(data)}")
        else:
            got = fetch_rest(s, data, peer)
            say(got == expect, label, f"content differs: {got[:40]!r}")
        s.close()


# --------------------------------------------------------------------------------------------
def wrq(port, fname, label, accept_codes=(1, 2, 4, 6), payload=b"EVIL-PAYLOAD " + b"x" * 100):
    """A WRQ that must be refused. If the server accepts it, push the payload through anyway."""
    s = sock()
    data, peer = first_reply(s, request(2, fname), port)
    if data is None:
        say(False, label, "no reply within 4 s")
    else:
        op, code, _ = parse(data)
        if op == 5 and code in accept_codes:
            say(True, label)
        else:
            if op in (4, 6):  # accepted: complete the attack so the file check below sees it
                s.sendto(b"\0\3\0\1" + payload, peer)
                try:
                    s.recvfrom(65536)
                except socket.timeout:
                    pass
            say(False, label, f"server accepted the write: {describe(data)}")
    s.close()


def wrq_escapes():
    cases = [
        ("dotdot", b"../evil.txt"),
        ("dotdot-deep", b"../../../../../../tmp/evil.txt"),
        ("abs-tmp", os.environ["EVIL_ABS"].encode()),
        ("abs-real-base", BASE.encode() + b"/evil.txt"),
        ("sub-dotdot", b"sub/../../evil.txt"),
        ("backslash-dotdot", b"..\\evil.txt"),
        ("sibling", b"../tftp2/evil.txt"),
        ("sibling-overwrite-secret", b"../tftp2/secret.txt"),
        ("dirlink-out", b"dirlink_out/evil.txt"),
        ("dirlink-out-secret", b"dirlink_out/secret.txt"),
        ("dirlink-sibling", b"dirlink_sibling/evil.txt"),
        ("dirlink-etc", b"dirlink_etc/pxed-evil"),
        ("through-link-out", b"link_out"),
        ("through-link-out-abs", b"link_out_abs"),
        ("through-link-chain", b"link_chain"),
        ("through-dangling", b"dangling_out"),
        ("ctrl-newline", b"evil\n.txt"),
        ("nul-dotdot", b"ok2.txt\0../evil.txt"),
        ("empty-name", b""),
        ("directory", b"sub"),
        ("directory-slash", b"sub/"),
        ("fifo", b"fifo"),
        ("long-component", b"c" * 300),
        ("no-such-dir", b"nodir/evil.txt"),
    ]
    for name, fname in cases:
        wrq(P_UP, fname, f"wrq-{name}")
    # With --overwrite: replacing through symlinks or special files must still be refused.
    for name, fname in (("through-link-out", b"link_out"), ("through-link-chain", b"link_chain"),
                        ("through-dangling", b"dangling_out"), ("dirlink-out-secret", b"dirlink_out/secret.txt"),
                        ("sibling-secret", b"../tftp2/secret.txt"), ("fifo", b"fifo"), ("directory", b"sub")):
        wrq(P_OVW, fname, f"wrq-overwrite-{name}", accept_codes=(1, 2, 4))
    # Without --overwrite an existing file is ERROR 6.
    wrq(P_UP, b"ok.txt", "wrq-existing-is-error6", accept_codes=(6,))


def upload(port, fname, content, blksize=512):
    s = sock()
    data, peer = first_reply(s, request(2, fname), port)
    if data is None or parse(data)[0] != 4:
        return f"no ACK 0: {describe(data) if data else 'nothing'}"
    blocks = [content[i:i + blksize] for i in range(0, len(content) + 1, blksize)]
    for n, chunk in enumerate(blocks, 1):
        for _ in range(5):
            s.sendto(b"\0\3" + (n % 65536).to_bytes(2, "big") + chunk, peer)
            try:
                ack, _ = s.recvfrom(65536)
            except socket.timeout:
                continue
            op, blk, _ = parse(ack)
            if op == 4 and blk == n % 65536:
                break
            if op == 5:
                return describe(ack)
        else:
            return f"no ACK for block {n}"
    return None


def wrq_legit():
    body = b"legit upload\n" * 100
    why = upload(P_UP, b"legit-upload.txt", body)
    path = os.path.join(ROOT, "legit-upload.txt")
    ok = why is None and os.path.isfile(path) and open(path, "rb").read() == body
    say(ok, "wrq-legit-upload-works", why or "file missing or different")
    # A client that gives up half way with ERROR: nothing is published, no temp file left.
    s = sock()
    data, peer = first_reply(s, request(2, b"aborted.bin"), P_UP)
    if data and parse(data)[0] == 4:
        s.sendto(b"\0\3\0\1" + b"A" * 512, peer)
        try:
            s.recvfrom(65536)
        except socket.timeout:
            pass
        s.sendto(b"\0\5\0\0client gave up\0", peer)
        time.sleep(0.5)
        left = [f for f in os.listdir(ROOT) if "aborted" in f]
        say(not left, "wrq-aborted-leaves-nothing", f"left behind: {left}")
    else:
        say(False, "wrq-aborted-leaves-nothing", "WRQ not accepted")
    s.close()


def wrq_silent():
    """Starts an upload on the --retries 2 server, sends one block, then stays silent (socket
    open, so no ICMP tells the server) for 15 s. Run in the background; checked at the end."""
    s = sock()
    data, peer = first_reply(s, request(2, b"silent.bin"), P_SLOW)
    if data and parse(data)[0] == 4:
        s.sendto(b"\0\3\0\1" + b"S" * 512, peer)
        print("started", flush=True)
        time.sleep(15)
    else:
        print(f"not accepted: {describe(data) if data else 'no reply'}", flush=True)


# --------------------------------------------------------------------------------------------
def malformed():
    cases = [
        ("empty-datagram", b""),
        ("one-byte", b"\0"),
        ("opcode-9", b"\0\x09ok.txt\0octet\0"),
        ("opcode-0", b"\0\0ok.txt\0octet\0"),
        ("opcode-65535", b"\xff\xffjunk"),
        ("rrq-no-terminators", b"\0\1ok.txt"),
        ("rrq-no-mode-terminator", b"\0\1ok.txt\0octet"),
        ("rrq-no-mode", b"\0\1ok.txt\0"),
        ("rrq-unknown-mode", b"\0\1ok.txt\0mail\0"),
        ("rrq-garbage-mode", b"\0\1ok.txt\0\xff\xfe\0"),
        ("data-to-request-port", b"\0\3\0\1hello"),
        ("ack-to-request-port", b"\0\4\0\1"),
        ("error-to-request-port", b"\0\5\0\0oops\0"),
        ("oack-to-request-port", b"\0\6blksize\0512\0"),
        ("rrq-64k-junk", b"\0\1" + b"Z" * 65000),
        ("wrq-read-only-server", b"\0\2new.txt\0octet\0"),
    ]
    for name, pkt in cases:
        s = sock(2.0)
        data, peer = first_reply(s, pkt, P_RO, wait=2.0)
        if data is None:
            say(True, f"malformed-{name}")      # ignored: fine
        else:
            op = parse(data)[0]
            say(op == 5, f"malformed-{name}", f"got {describe(data)}")
            if op != 5:
                abort(s, peer)
        s.close()
    # Odd options: any sane answer (ERROR, an OACK without the bad option, or DATA), no crash.
    odd = [
        ("blksize-0", ((b"blksize", b"0"),)),
        ("blksize-7", ((b"blksize", b"7"),)),
        ("blksize-huge", ((b"blksize", b"99999999999999999999999"),)),
        ("blksize-text", ((b"blksize", b"abc"),)),
        ("blksize-negative", ((b"blksize", b"-512"),)),
        ("windowsize-0", ((b"windowsize", b"0"),)),
        ("windowsize-huge", ((b"windowsize", b"4294967297"),)),
        ("timeout-0", ((b"timeout", b"0"),)),
        ("timeout-256", ((b"timeout", b"256"),)),
        ("tsize-nonzero-on-rrq", ((b"tsize", b"123"),)),
        ("tsize-negative", ((b"tsize", b"-1"),)),
        ("duplicate-blksize", ((b"blksize", b"1024"), (b"BLKSIZE", b"8"))),
        ("option-no-value", ()),
        ("many-options", tuple((b"x%d" % i, b"1") for i in range(300))),
    ]
    for name, opts in odd:
        if name == "option-no-value":
            s = sock(2.0)
            data, peer = first_reply(s, b"\0\1ok.txt\0octet\0blksize\0", P_RO, wait=2.0)
        else:
            s, data, peer = rrq(b"ok.txt", opts=opts, wait=2.0)
        if data is None:
            say(True, f"odd-option-{name}")
        else:
            op, code, body = parse(data)
            if op == 6:
                # The OACK must not grant an invalid value: check blksize / windowsize / timeout.
                fields = body.split(b"\0")
                got = {fields[i].lower(): fields[i + 1] for i in range(0, len(fields) - 1, 2)}
                bad = []
                if b"blksize" in got and not (8 <= int(got[b"blksize"]) <= 65464):
                    bad.append(f"blksize {got[b'blksize']!r}")
                if b"windowsize" in got and not (1 <= int(got[b"windowsize"]) <= 65535):
                    bad.append(f"windowsize {got[b'windowsize']!r}")
                if b"timeout" in got and not (1 <= int(got[b"timeout"]) <= 255):
                    bad.append(f"timeout {got[b'timeout']!r}")
                unasked = [k for k in got if k not in {o[0].lower() for o in opts} | ({b"blksize"} if name == "option-no-value" else set())]
                if unasked:
                    bad.append(f"unrequested {unasked}")
                say(not bad, f"odd-option-{name}", f"OACK grants {bad}")
            else:
                say(op in (3, 5), f"odd-option-{name}", f"got {describe(data)}")
            abort(s, peer)
        s.close()


def tids():
    """RFC 1350 TIDs: a stranger writing to a transfer port gets ERROR 5; the transfer goes on."""
    want = root_file("blocks.bin")
    s, data, peer = rrq(b"blocks.bin")
    if data is None or parse(data)[0] != 3:
        say(False, "tid-stranger-gets-error5", "no DATA 1")
        return
    stranger = sock(2.0)
    stranger.sendto(b"\0\4\0\1", peer)
    try:
        reply, _ = stranger.recvfrom(65536)
        op, code, _ = parse(reply)
        say(op == 5 and code == 5, "tid-stranger-gets-error5", f"got {describe(reply)}")
    except socket.timeout:
        say(False, "tid-stranger-gets-error5", "no reply (RFC 1350 asks for ERROR 5)")
    # Garbage from the right client to the transfer port must not derail it either.
    s.sendto(b"\0\x09garbage", peer)
    got = fetch_rest(s, data, peer)
    say(got == want, "tid-transfer-survives-stranger", f"got {len(got)} of {len(want)} bytes")
    s.close()
    stranger.close()


def alive():
    want = root_file("ok.txt")
    for port, label in ((P_RO, "ro"), (P_UP, "upload"), (P_OVW, "overwrite"), (P_SLOW, "slow")):
        s, data, peer = rrq(b"ok.txt", port)
        ok = data is not None and parse(data)[0] == 3 and fetch_rest(s, data, peer) == want
        say(ok, f"alive-serving-{label}", describe(data) if data else "no reply")
        s.close()


globals()[sys.argv[1]]()
PYEOF

# phase NAME: run the python phase NAME; its PASS/FAIL lines count in this script's totals.
phase() {
    local out rc
    out=$(cd "$TMP" && ROOT=$ROOT BASE=$BASE SECRET=$SECRET EVIL_ABS=$EVIL_ABS P_RO=$P_RO P_UP=$P_UP \
        P_OVW=$P_OVW P_SLOW=$P_SLOW timeout 120 python3 "$TMP/hostile.py" "$1" 2>&1)
    rc=$?
    tally_lines "$out"
    [ $rc -eq 0 ] || fail "python-$1" "exit $rc: $(printf '%s' "$out" | tail -n 1)"
}

# snapshot DIR: every entry (type, size, mode, link target) and every regular file's sha256.
snapshot() {
    (cd "$1" && find . -printf '%p %y %s %m %l\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

echo "# RRQ escape attempts (each plain and with tsize/blksize options)"
phase rrq_escapes
echo "# RRQ that must work"
phase rrq_must_work
phase rrq_trailing_slash
alive "$PID_RO" && pass server-alive-after-rrq || fail server-alive-after-rrq "ptftpd died"
n=$(grep -c 'refused RRQ' "$TMP/ro.log")
[ "$n" -ge 50 ] && pass log-refusals-logged || fail log-refusals-logged "only $n 'refused RRQ' lines"
if grep -q "$SECRET" "$TMP/ro.log"; then fail log-no-secret "the secret appears in the server log"; else pass log-no-secret; fi
# Log lines must not carry raw control bytes from hostile names (log injection).
if LC_ALL=C grep -n "$(printf '\x1b')" "$TMP/ro.log" >/dev/null; then
    fail log-no-raw-escape "an ESC byte from a file name reached the log"
else
    pass log-no-raw-escape
fi
if grep -q '^\.\./secret.txt"' "$TMP/ro.log"; then fail log-no-injected-line "a newline in a name started a new log line"; else pass log-no-injected-line; fi

echo "# WRQ escape attempts"
# (The silent upload's temp file comes and goes on its own: it is checked at the end.)
snapshot "$BASE" | grep -v 'silent\.bin' >"$TMP/before.txt"
sha_secret=$(sha256sum <"$BASE/secret.txt")
spawn "$TMP/silent.out" env ROOT="$ROOT" BASE="$BASE" SECRET="$SECRET" P_RO=$P_RO P_UP=$P_UP P_OVW=$P_OVW \
    P_SLOW=$P_SLOW timeout 30 python3 "$TMP/hostile.py" wrq_silent
PID_SILENT=$SPAWNED
phase wrq_escapes
phase wrq_legit
# Everything under BASE (the root included) is as before, except the one legit upload.
snapshot "$BASE" | grep -v -e 'legit-upload\.txt' -e 'silent\.bin' >"$TMP/after.txt"
if diff "$TMP/before.txt" "$TMP/after.txt" >"$TMP/diff.txt"; then
    pass wrq-nothing-created-or-modified
else
    fail wrq-nothing-created-or-modified "$(head -c 400 "$TMP/diff.txt" | tr '\n' ' ')"
fi
[ ! -e "$EVIL_ABS" ] && pass wrq-abs-not-created-on-host || fail wrq-abs-not-created-on-host "$EVIL_ABS exists"
[ ! -e "$BASE/newfile_outside" ] && pass wrq-dangling-not-created || fail wrq-dangling-not-created "dangling target created"
[ "$(sha256sum <"$BASE/secret.txt")" = "$sha_secret" ] && pass wrq-secret-untouched || fail wrq-secret-untouched "secret changed"
[ -p "$ROOT/fifo" ] && pass wrq-fifo-still-fifo || fail wrq-fifo-still-fifo "fifo replaced"

echo "# malformed packets and odd options"
phase malformed
echo "# transfer IDs"
phase tids

echo "# abandoned upload (server --timeout 1 --retries 2)"
# The silent upload started before the WRQ phase; give the server its retries (1+2+4 s).
if ! grep -q started "$TMP/silent.out"; then
    fail wrq-silent-timed-out "the silent upload did not start: $(cat "$TMP/silent.out")"
elif wait_log "$TMP/slow.log" '"silent.bin".*outcome=' 15; then
    line=$(server_line "$TMP/slow.log" '"silent.bin".*outcome=')
    case $line in
        *outcome=timed-out*) pass wrq-silent-timed-out ;;
        *) fail wrq-silent-timed-out "unexpected: $line" ;;
    esac
else
    fail wrq-silent-timed-out "no outcome line for silent.bin after 15 s"
fi
stop "$PID_SILENT"
left=$(cd "$ROOT" && ls -A | grep silent)
[ -z "$left" ] && pass wrq-silent-leaves-nothing || fail wrq-silent-leaves-nothing "left: $left"

echo "# servers alive and serving"
phase alive
for v in PID_RO PID_UP PID_OVW PID_SLOW; do
    alive "${!v}" && pass "alive-$v" || fail "alive-$v" "process ${!v} is gone"
done
out=$(timeout 30 "$BIN/ptftp" $HOST $P_RO -c get ok.txt "$TMP/ok.out" 2>&1)
why=$(same_file "$ROOT/ok.txt" "$TMP/ok.out") && pass final-ptftp-get || fail final-ptftp-get "$why $out"
timeout 30 curl -sS -o "$TMP/ok2.out" "tftp://$HOST:$P_RO/ok.txt" >/dev/null 2>&1
why=$(same_file "$ROOT/ok.txt" "$TMP/ok2.out") && pass final-curl-get || fail final-curl-get "$why"
finish
