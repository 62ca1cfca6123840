#!/usr/bin/env python3
"""Checks the JSON replies printed by dhcpcraft.py.

    expect.py FILE EXPECTATION...

FILE holds one JSON reply per line; expectations apply to the first reply unless stated.
  count=N               exactly N replies in the file
  FIELD=VALUE           a top-level field equals VALUE (yiaddr, siaddr, file, type, ip_dst, ...)
  FIELD!=VALUE          a top-level field differs from VALUE
  FIELD~A-B             an IPv4 field lies in A..B
  minlen=N              the DHCP payload is at least N bytes
  opt:N                 option N present
  !opt:N                option N absent
  opt:N=HEX             option N equals HEX
  opt:N=s:TEXT          option N equals TEXT
  opt:N~HEX             option N's data contains HEX
Prints one line per unmet expectation and exits 1 if any; exits 0 when all hold.
"""

import ipaddress
import json
import sys


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        replies = [json.loads(line) for line in f if line.strip().startswith("{")]
    problems = []
    first = replies[0] if replies else None
    for e in sys.argv[2:]:
        if e.startswith("count="):
            if len(replies) != int(e[6:]):
                problems.append(f"expected {e[6:]} replies, got {len(replies)}")
            continue
        if first is None:
            problems.append(f"{e}: no reply")
            continue
        opts = first.get("options", {})
        if e.startswith("!opt:"):
            code = e[5:]
            if code in opts:
                problems.append(f"option {code} present ({opts[code]}), expected absent")
        elif e.startswith("opt:"):
            spec = e[4:]
            for sep in ("=", "~"):
                if sep in spec:
                    code, want = spec.split(sep, 1)
                    break
            else:
                code, sep, want = spec, None, None
            have = opts.get(code)
            if have is None:
                problems.append(f"option {code} absent")
                continue
            if sep is None:
                continue
            if want.startswith("s:"):
                want = want[2:].encode().hex()
            want = want.lower()
            if sep == "=" and have != want:
                problems.append(f"option {code} = {have} ({bytes.fromhex(have)!r}), expected {want} ({bytes.fromhex(want)!r})")
            if sep == "~" and want not in have:
                problems.append(f"option {code} = {have}, expected to contain {want}")
        elif e.startswith("minlen="):
            if first.get("length", 0) < int(e[7:]):
                problems.append(f"length {first.get('length')} < {e[7:]}")
        elif "!=" in e:
            k, v = e.split("!=", 1)
            if str(first.get(k)) == v:
                problems.append(f"{k} = {v}, expected something else")
        elif "~" in e:
            k, v = e.split("~", 1)
            lo, hi = (ipaddress.IPv4Address(x) for x in v.split("-"))
            try:
                val = ipaddress.IPv4Address(first.get(k))
            except Exception:
                problems.append(f"{k} = {first.get(k)!r} is not an address")
                continue
            if not lo <= val <= hi:
                problems.append(f"{k} = {val} not in {lo}-{hi}")
        elif "=" in e:
            k, v = e.split("=", 1)
            if str(first.get(k)) != v:
                problems.append(f"{k} = {first.get(k)!r}, expected {v!r}")
        else:
            problems.append(f"bad expectation {e!r}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
