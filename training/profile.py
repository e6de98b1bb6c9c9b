"""Wall time, CPU time and peak memory of each training step, so a big run says which step costs what.

CPU seconds (user + system, all threads of the process) are what a step costs;
on a shared machine the wall time also holds the time spent waiting for a core.

Peak RSS per step comes from the kernel's high-water mark (``VmHWM``), reset at
the start of each step by writing ``5`` to ``/proc/self/clear_refs`` (Linux).
Where that reset is refused (another OS, a locked-down container) the step's
peak is the process's peak so far, and :attr:`StepProfile.peak_is_per_step`
says so. The steps land in the manifest (``profile``) and, with
``train --profile``, in a table on stdout.
"""
from __future__ import annotations

import logging
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field_name: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_kib() -> int:
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


@dataclass
class Step:
    name: str
    seconds: float
    peak_rss_mib: float
    rows: int | None = None
    cpu_seconds: float = 0.0

    def as_dict(self) -> dict:
        out = {"step": self.name, "seconds": round(self.seconds, 2), "cpu_seconds": round(self.cpu_seconds, 2),
               "peak_rss_mib": round(self.peak_rss_mib, 1)}
        if self.rows is not None:
            out["rows"] = self.rows
        return out


@dataclass
class StepProfile:
    """Records one :class:`Step` per ``with profile.step(name):`` block (a repeated name adds up)."""

    steps: list[Step] = field(default_factory=list)
    peak_is_per_step: bool = True

    @contextmanager
    def step(self, name: str, rows: int | None = None):
        self.peak_is_per_step = _reset_peak() and self.peak_is_per_step
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        try:
            yield
        finally:
            seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
            peak = _peak_kib() / 1024
            previous = next((s for s in self.steps if s.name == name), None)
            if previous is None:
                self.steps.append(Step(name, seconds, peak, rows, cpu))
            else:
                previous.seconds += seconds
                previous.cpu_seconds += cpu
                previous.peak_rss_mib = max(previous.peak_rss_mib, peak)
            log.info("training step", extra={"step": name, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                                             "peak_rss_mib": round(peak, 1)})

    def as_dict(self) -> dict:
        return {"steps": [s.as_dict() for s in self.steps], "peak_is_per_step": self.peak_is_per_step,
                "total_seconds": round(sum(s.seconds for s in self.steps), 2),
                "total_cpu_seconds": round(sum(s.cpu_seconds for s in self.steps), 2),
                "peak_rss_mib": round(max((s.peak_rss_mib for s in self.steps), default=0.0), 1)}

    def table(self) -> str:
        """The steps as a plain-text table, slowest visible at a glance."""
        rows = [(s.name, f"{s.seconds:,.1f}", f"{s.cpu_seconds:,.1f}", f"{s.peak_rss_mib:,.0f}")
                for s in self.steps]
        rows.append(("total", f"{sum(s.seconds for s in self.steps):,.1f}",
                     f"{sum(s.cpu_seconds for s in self.steps):,.1f}",
                     f"{max((s.peak_rss_mib for s in self.steps), default=0):,.0f}"))
        header = ("step", "seconds", "CPU s", "peak RSS MiB" if self.peak_is_per_step else "peak RSS MiB (so far)")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        lines = []
        for row in [header, *rows]:
            lines.append("  ".join([f"{row[0]:<{widths[0]}}"] + [f"{v:>{w}}" for v, w in zip(row[1:], widths[1:])]))
        return "\n".join(lines)

