"""Where the cores went during a benchmark: each group of processes' CPU time over a window, and the
machine's idle and stolen time, from /proc (Linux). A rate that falls short on a machine with idle cores
is waiting on something (a lock, a queue); on one with none, it is short of CPU, and the groups say whose.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[int, tuple[int, str]]:
    """Each process's user + system ticks and its command line (processes gone meanwhile are skipped)."""
    found: dict[int, tuple[int, str]] = {}
    for folder in PROC.iterdir():
        if not folder.name.isdigit():
            continue
        try:
            # The command may hold spaces and ")": the fields are read after its last ")".
            fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
            command = (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(folder.name)] = (int(fields[11]) + int(fields[12]), command)  # utime, stime
    return found


def _machine() -> tuple[int, int, int]:
    """All, idle (with I/O wait) and stolen ticks of the machine so far."""
    ticks = [int(value) for value in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks), ticks[3] + ticks[4], ticks[7] if len(ticks) > 7 else 0


@dataclass(frozen=True)
class CpuShares:
    """Cores used by each group over the window, and the machine's idle and stolen cores."""

    seconds: float
    groups: dict[str, float]
    idle: float
    stolen: float
    cores: int


class CpuWindow:
    """Started, then read: `groups` are (label, text its command line holds), first match wins; the
    processes that match none are counted as "other"."""

    def __init__(self, groups: Sequence[tuple[str, str]]) -> None:
        self.groups = groups
        self.started = time.monotonic()
        self.before = _processes()
        self.machine = _machine()

    def _group(self, command: str) -> str:
        return next((label for label, text in self.groups if text in command), "other")

    def shares(self) -> CpuShares:
        after, machine, seconds = _processes(), _machine(), time.monotonic() - self.started
        used: dict[str, float] = {label: 0.0 for label, _ in self.groups} | {"other": 0.0}
        for pid, (ticks, command) in after.items():
            earlier = self.before.get(pid)
            # A process started meanwhile counts from zero; one whose pid was reused, from its own start.
            since = earlier[0] if earlier is not None and earlier[1] == command and earlier[0] <= ticks else 0
            used[self._group(command)] += (ticks - since) / TICKS / seconds
        total, idle, stolen = (now - then for now, then in zip(machine, self.machine, strict=True))
        cores = os.cpu_count() or 1
        return CpuShares(seconds, used, cores * idle / max(total, 1), cores * stolen / max(total, 1), cores)


def print_shares(shares: CpuShares) -> None:
    print(f"\nCores used over the {shares.seconds:.0f} s ({shares.cores} on this machine):")
    for label, cores in sorted(shares.groups.items(), key=lambda item: -item[1]):
        print(f"  {label:<40}{cores:>6.2f}")
    # Interrupts, kernel threads and the processes that ended within the window belong to no group.
    rest = shares.cores - shares.idle - shares.stolen - sum(shares.groups.values())
    print(f"  {'no process (kernel, processes ended)':<40}{max(rest, 0.0):>6.2f}")
    print(f"  {'idle':<40}{shares.idle:>6.2f}")
    print(f"  {'stolen by the hypervisor':<40}{shares.stolen:>6.2f}")
