"""Who holds a claim or writes a temporary file: an identity that stays unique across
containers.

``hostname-pid`` is not: two containers with host networking share the hostname and both
run as PID 1. An owner token is ``HOST-PID-MACHINE-RUN`` where MACHINE is a digest of the
kernel's boot id and this process's PID namespace (the scope within which a PID means one
process) and RUN a random id drawn once per process, so two runs never share a token, and a
run can judge a PID (alive or gone) only when the owner's MACHINE is its own. Anything else
(another host, another container, an older ``host-pid`` name) is judged by its lease.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from dataclasses import dataclass
from functools import cache

from benchbase.processes import pid_alive

#: How long a claim outlives its last renewal, and how long another machine's temporary file
#: may sit untouched before it counts as abandoned (its writer touches it as it writes).
LEASE_SECONDS = 300.0


@cache
def machine_id() -> str:
    """8 hex digits naming this kernel boot and PID namespace (same in every process of a
    container; different in another container on the same host, or after a reboot)."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id",):
        try:
            with open(path) as fh:
                parts.append(fh.read().strip())
        except OSError:
            parts.append(socket.gethostname())  # no procfs: the hostname is the best we have
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("nopidns")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


_RUN: dict[int, str] = {}


def run_id() -> str:
    """A random id of this process (drawn again in a forked child)."""
    pid = os.getpid()
    if pid not in _RUN:
        _RUN.clear()
        _RUN[pid] = uuid.uuid4().hex[:12]
    return _RUN[pid]


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    machine: str  # "" for a legacy token: cannot be judged by its pid
    run: str

    @property
    def token(self) -> str:
        return f"{self.host}-{self.pid}-{self.machine}-{self.run}"

    def describe(self) -> str:
        where = "this machine" if self.machine == machine_id() else f"machine {self.machine or '?'}"
        return f"run {self.run or '?'} (pid {self.pid} on host {self.host}, {where})"

    def same_machine(self) -> bool:
        return bool(self.machine) and self.machine == machine_id()


def me() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), machine_id(), run_id())


def parse(token: str) -> Owner:
    """An owner token back into its parts; a legacy ``host-pid`` (or ``host:pid``) token
    gives an owner with no machine (judged by its lease only)."""
    pieces = token.split("-")
    if len(pieces) >= 4 and pieces[-3].isdigit():
        return Owner("-".join(pieces[:-3]), int(pieces[-3]), pieces[-2], pieces[-1])
    legacy_host, _, pid = token.replace(":", "-").rpartition("-")
    return Owner(legacy_host, int(pid) if pid.isdigit() else -1, "", "")


def alive(owner: Owner) -> bool | None:
    """True/False when ``owner`` is a process of this machine (alive / gone); None when it
    is another machine's (or unknown): only its lease can tell."""
    if owner.token == me().token:
        return True
    if not owner.same_machine() or owner.pid <= 0:
        return None
    return pid_alive(owner.pid)
