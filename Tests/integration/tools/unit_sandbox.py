#!/usr/bin/env python3
"""Runs a command under the sandbox settings of a systemd unit file, for a machine where systemd
is not PID 1 (so `systemctl start` cannot be used to try the unit):

    unit_sandbox.py UNIT_FILE COMMAND [ARG...]

Applied from the unit: CapabilityBoundingSet= (every other capability is dropped from the bounding
set, so a root process keeps only those), NoNewPrivileges=, and SystemCallFilter= with
SystemCallErrorNumber= as a seccomp filter built from `systemd-analyze syscall-filter` groups
(x86-64 only; other architectures are killed, as SystemCallArchitectures=native does). Then execs
COMMAND. Must run as root.
"""
import ctypes
import os
import re
import struct
import subprocess
import sys

PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 24, 38, 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E


def unit_settings(path):
    settings = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def syscall_group(name, cache={}):
    if name not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        members = set()
        for line in out[1:]:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            members |= syscall_group(line) if line.startswith("@") else {line}
        cache[name] = members
    return cache[name]


def expand(words):
    result = set()
    for w in words:
        result |= syscall_group(w) if w.startswith("@") else {w}
    return result


def header_numbers(path, pattern):
    numbers = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(pattern, line)
        if m:
            numbers[m.group(1)] = int(m.group(2))
    return numbers


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    unit, command = sys.argv[1], sys.argv[2:]
    s = unit_settings(unit)
    libc = ctypes.CDLL(None, use_errno=True)

    # Capabilities: keep only the bounding set the unit names.
    caps = header_numbers("/usr/include/linux/capability.h", r"#define (CAP_[A-Z_]+)\s+(\d+)\s*$")
    keep = set(" ".join(s.get("CapabilityBoundingSet", [])).split())
    if keep:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
        for number in range(last + 1):
            name = next((n for n, v in caps.items() if v == number), None)
            if name not in keep and libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
                sys.exit(f"unit_sandbox: cannot drop capability {number}: errno {ctypes.get_errno()}")

    # The seccomp filter requires no_new_privs (and NoNewPrivileges=yes asks for it anyway).
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("unit_sandbox: PR_SET_NO_NEW_PRIVS failed")

    filters = s.get("SystemCallFilter", [])
    if filters:
        allow = None
        for f in filters:
            if f.startswith("~"):
                deny = expand(f[1:].split())
                allow = (allow - deny) if allow is not None else None
            else:
                allow = (allow or set()) | expand(f.split())
        if allow is None:
            sys.exit("unit_sandbox: deny-list-only filters are not supported")
        errno_name = (s.get("SystemCallErrorNumber") or ["EPERM"])[-1]
        errno_value = getattr(__import__("errno"), errno_name)
        numbers = header_numbers("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", r"#define __NR_(\w+)\s+(\d+)")
        allowed = sorted({numbers[n] for n in allow if n in numbers})

        def ins(code, jt, jf, k):
            return struct.pack("HBBI", code, jt, jf, k)
        LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
        prog = [ins(LD_W_ABS, 0, 0, 4),                      # seccomp_data.arch
                ins(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
                ins(RET_K, 0, 0, 0x80000000),                # SECCOMP_RET_KILL_PROCESS
                ins(LD_W_ABS, 0, 0, 0)]                      # seccomp_data.nr
        for number in allowed:
            prog += [ins(JEQ_K, 0, 1, number), ins(RET_K, 0, 0, 0x7FFF0000)]  # SECCOMP_RET_ALLOW
        prog.append(ins(RET_K, 0, 0, 0x00050000 | errno_value))             # SECCOMP_RET_ERRNO
        code = ctypes.create_string_buffer(b"".join(prog))

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        fprog = SockFprog(len(prog), ctypes.addressof(code))
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
            sys.exit(f"unit_sandbox: seccomp filter refused: errno {ctypes.get_errno()}")

    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
