"""Helpers shared by the benchmark scripts: measured subprocesses, best-of-N results, tables.

Every measurement runs in a fresh subprocess reaped with ``os.wait4``, so the kernel's
rusage for that one process gives its peak resident memory (``ru_maxrss``). A script reports
"op" (the operation inside the process, timed by the child and printed as JSON) and "wall"
(the whole process: interpreter start-up, imports and the operation).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Measurement:
    """Best-of-N results of one measured command: best op and wall time, worst peak memory."""

    name: str
    ops: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    count: int = 0
    note: str = ""

    @property
    def op(self) -> float | None:
        """The shortest in-process operation time, or None if the command reports none."""
        return min(self.ops) if self.ops else None

    @property
    def wall(self) -> float:
        """The shortest whole-process time."""
        return min(self.walls)

    @property
    def peak_mb(self) -> float:
        """The highest peak resident memory over all runs, in MB (MiB)."""
        return max(self.peaks_mb)

    def add(self, wall: float, peak_mb: float, op: float | None = None) -> None:
        """Record one run."""
        self.walls.append(wall)
        self.peaks_mb.append(peak_mb)
        if op is not None:
            self.ops.append(op)


def maxrss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MB (kilobytes on Linux, bytes on macOS)."""
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def run_measured(
    cmd: Sequence[str], ok_codes: tuple[int, ...] = (0,), label: str = ""
) -> tuple[float, float, str]:
    """Run ``cmd`` to completion; return (wall seconds, peak RSS MB of that process, stdout).

    The child is reaped with ``os.wait4`` so its own rusage (not the running maximum over all
    children) gives the peak. Stdout goes to a temporary file, so a large JSON report cannot
    block the pipe. Raises ``RuntimeError`` on an exit code outside ``ok_codes``.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{label or cmd[0]} exited {proc.returncode}: {stderr.strip()[-500:]}")
    return wall, maxrss_mb(usage.ru_maxrss), stdout


def xlcheck_command() -> list[str]:
    """The ``xlcheck`` console script next to this interpreter, else ``python -m aftersales_xl.cli``."""
    script = Path(sys.executable).parent / "xlcheck"
    if script.is_file():
        return [str(script)]
    found = shutil.which("xlcheck")
    return [found] if found else [sys.executable, "-m", "aftersales_xl.cli"]


def fmt(value: float | None) -> str:
    """A time or ratio to two decimals, ``-`` when there is none."""
    return "-" if value is None else f"{value:.2f}"


def table_lines(results: Sequence[Measurement], floor: Measurement) -> list[str]:
    """The header and one line per measurement: op, wall, both ratios to ``floor``, peak, note."""
    lines = [
        f"{'measurement':<26}{'op s':>8}{'wall s':>9}{'op ×':>7}{'wall ×':>8}{'peak MB':>9}  note"
    ]
    for m in results:
        op_ratio = m.op / floor.op if m.op is not None and floor.op else None
        wall_ratio = m.wall / floor.wall
        lines.append(
            f"{m.name:<26}{fmt(m.op):>8}{m.wall:>9.2f}{fmt(op_ratio):>7}{wall_ratio:>8.2f}{m.peak_mb:>9.0f}  {m.note}"
        )
    return lines


def goals_line(checks: Sequence[tuple[str, bool]]) -> tuple[str, bool]:
    """``goals: <text>: PASS; <text>: MISS`` and whether every check passed."""
    line = "goals: " + "; ".join(
        f"{text}: {'PASS' if passed else 'MISS'}" for text, passed in checks
    )
    return line, all(passed for _, passed in checks)
