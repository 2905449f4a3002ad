"""Benchmark ``xlcheck validate`` against the floor of simply reading the workbook.

    python benchmarks/bench_validate.py            # 100,000 rows × 21 columns, best of 3
    python benchmarks/bench_validate.py --rows 20000 --repeat 1
    python benchmarks/bench_validate.py --file big.xlsx --check

Generates a record workbook (``gen.py``), then measures, each in a fresh subprocess so its
peak memory can be read from the kernel (``wait4`` rusage ``ru_maxrss``):

- **floor**: a bare python-calamine read of the same file;
- **library**: ``aftersales_xl.validate.validate_paths([file], form, policy)`` in-process;
- **cli**: ``xlcheck validate FILE --format json`` as a user runs it.

"op" is the time of the operation inside the process (imports excluded); "wall" is the whole
process including interpreter start-up and imports. Ratios compare like with like: library
op ÷ floor op, and every wall ÷ floor wall. Goals at 100,000 rows: validate ≤ 1.5× the floor,
peak memory ≤ 1 GB. ``--check`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen import generate  # noqa: E402 - sibling module

GOAL_RATIO = 1.5
GOAL_PEAK_MB = 1024.0

FLOOR = """
import json, sys, time
from python_calamine import CalamineWorkbook
t0 = time.perf_counter()
rows = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python()
print(json.dumps({"op": time.perf_counter() - t0, "rows": len(rows) - 1}))
"""

LIBRARY = """
import json, sys, time
from aftersales_xl.config import load_policy
from aftersales_xl.forms import load_form
from aftersales_xl.validate import validate_paths
form, policy = load_form(), load_policy(search_cwd=False)
t0 = time.perf_counter()
report = validate_paths([sys.argv[1]], form, policy)
op = time.perf_counter() - t0
summary = report.to_dict()["summary"]
print(json.dumps({"op": op, "rows": report.to_dict()["files"][0]["rows"], "summary": summary}))
"""


@dataclass
class Measurement:
    """Best-of-N results of one measured command."""

    name: str
    ops: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    count: int = 0
    note: str = ""

    @property
    def op(self) -> float | None:
        return min(self.ops) if self.ops else None

    @property
    def wall(self) -> float:
        return min(self.walls)

    @property
    def peak_mb(self) -> float:
        return max(self.peaks_mb)


def _maxrss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MB (kilobytes on Linux, bytes on macOS)."""
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def run_measured(
    cmd: list[str], ok_codes: tuple[int, ...] = (0,), label: str = ""
) -> tuple[float, float, str]:
    """Run ``cmd`` to completion; return (wall seconds, peak RSS MB of that process, stdout).

    The child is reaped with ``os.wait4`` so its own rusage (not the running maximum over all
    children) gives the peak. Stdout goes to a temporary file, so a large JSON report cannot
    block the pipe. Raises ``RuntimeError`` on an exit code outside ``ok_codes``.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{label or cmd[0]} exited {proc.returncode}: {stderr.strip()[-500:]}")
    return wall, _maxrss_mb(usage.ru_maxrss), stdout


def xlcheck_command() -> list[str]:
    """The ``xlcheck`` console script next to this interpreter, else ``python -m aftersales_xl.cli``."""
    script = Path(sys.executable).parent / "xlcheck"
    if script.is_file():
        return [str(script)]
    found = shutil.which("xlcheck")
    return [found] if found else [sys.executable, "-m", "aftersales_xl.cli"]


def measure(path: Path, repeat: int) -> list[Measurement]:
    """Run floor, library and CLI ``repeat`` times each, interleaved so drift hits all alike."""
    floor, library, cli = (
        Measurement("floor: calamine read"),
        Measurement("library: validate_paths"),
        Measurement("cli: xlcheck validate"),
    )
    for i in range(repeat):
        print(f"  run {i + 1}/{repeat}: floor…", end="", flush=True)
        wall, peak, out = run_measured([sys.executable, "-c", FLOOR, str(path)], label="floor")
        floor.walls.append(wall)
        floor.peaks_mb.append(peak)
        data = json.loads(out)
        floor.ops.append(data["op"])
        floor.count = data["rows"]
        floor.note = "the floor"

        print(" library…", end="", flush=True)
        wall, peak, out = run_measured([sys.executable, "-c", LIBRARY, str(path)], label="library")
        data = json.loads(out)
        library.walls.append(wall)
        library.peaks_mb.append(peak)
        library.ops.append(data["op"])
        s = data["summary"]
        library.note = f"{data['rows']} records, {s['errors']} errors, {s['warnings']} warnings"

        print(" cli…", flush=True)
        wall, peak, out = run_measured(
            [*xlcheck_command(), "validate", str(path), "--format", "json"],
            ok_codes=(0, 1),
            label="xlcheck validate",
        )
        cli.walls.append(wall)
        cli.peaks_mb.append(peak)
        report = json.loads(out)
        cli.note = f"{len(out) / 1e6:.1f} MB of JSON, {report['summary']['errors']} errors"
    return [floor, library, cli]


def render(results: list[Measurement], rows: int, repeat: int) -> tuple[str, bool]:
    """The results table and whether every goal was met."""
    floor = results[0]
    lines = [
        f"{rows:,} rows × 21 columns, best of {repeat}",
        f"{'measurement':<26}{'op s':>8}{'wall s':>9}{'op ×':>7}{'wall ×':>8}{'peak MB':>9}  note",
    ]
    for m in results:
        op_ratio = m.op / floor.op if m.op is not None and floor.op else None
        wall_ratio = m.wall / floor.wall
        lines.append(
            f"{m.name:<26}{_fmt(m.op):>8}{m.wall:>9.2f}{_fmt(op_ratio):>7}{wall_ratio:>8.2f}{m.peak_mb:>9.0f}  {m.note}"
        )
    lib, cli = results[1], results[2]
    checks = [
        (
            f"library op ≤ {GOAL_RATIO}× floor op",
            lib.op is not None and floor.op is not None and lib.op <= GOAL_RATIO * floor.op,
        ),
        (f"cli wall ≤ {GOAL_RATIO}× floor wall", cli.wall <= GOAL_RATIO * floor.wall),
        (f"peak memory ≤ {GOAL_PEAK_MB:.0f} MB", max(lib.peak_mb, cli.peak_mb) <= GOAL_PEAK_MB),
    ]
    lines.append(
        "goals: " + "; ".join(f"{text}: {'PASS' if passed else 'MISS'}" for text, passed in checks)
    )
    ok = all(passed for _, passed in checks)
    return "\n".join(lines), ok


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark xlcheck validate against a bare workbook read."
    )
    parser.add_argument(
        "--rows", type=int, default=100_000, help="records to generate (default 100000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the best counts (default 3)"
    )
    parser.add_argument(
        "--file", type=Path, help="benchmark this workbook instead of generating one"
    )
    parser.add_argument("--keep", type=Path, help="also keep the generated workbook at this path")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="xlcheck-bench-") as tmp:
        if args.file:
            path = args.file
        else:
            path = args.keep or Path(tmp) / f"records_{args.rows}.xlsx"
            t0 = time.perf_counter()
            generate(path, args.rows, seed=args.seed)
            print(
                f"generated {path.name}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s"
            )
        results = measure(path, args.repeat)
    table, ok = render(results, results[0].count, args.repeat)
    print(table)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
