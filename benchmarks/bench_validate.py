"""Benchmark ``xlcheck validate`` against the floor of simply reading the workbook.

    python benchmarks/bench_validate.py            # 100,000 rows × 21 columns, best of 3
    python benchmarks/bench_validate.py --rows 20000 --repeat 1
    python benchmarks/bench_validate.py --file big.xlsx --check

Generates a record workbook (``gen.py``), then measures, each in a fresh subprocess so its
peak memory can be read from the kernel (``wait4`` rusage ``ru_maxrss``):

- **floor**: a bare python-calamine read of the same file;
- **library**: ``aftersales_xl.checking.validate.validate_paths([file], form, policy)`` in-process;
- **cli**: ``xlcheck validate FILE --format json`` as a user runs it.

"op" is the time of the operation inside the process (imports excluded); "wall" is the whole
process including interpreter start-up and imports. Ratios compare like with like: library
op ÷ floor op, and every wall ÷ floor wall. Goals at 100,000 rows: validate ≤ 1.5× the floor,
peak memory ≤ 1 GB. ``--check`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import (  # noqa: E402 - sibling module
    Measurement,
    goals_line,
    run_measured,
    table_lines,
    xlcheck_command,
)
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
from aftersales_xl.jobs.check import validate_paths
form, policy = load_form(), load_policy(search_cwd=False)
t0 = time.perf_counter()
report = validate_paths([sys.argv[1]], form, policy)
op = time.perf_counter() - t0
summary = report.to_dict()["summary"]
print(json.dumps({"op": op, "rows": report.to_dict()["files"][0]["rows"], "summary": summary}))
"""


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
    lines = [f"{rows:,} rows × 21 columns, best of {repeat}", *table_lines(results, floor)]
    lib, cli = results[1], results[2]
    checks = [
        (
            f"library op ≤ {GOAL_RATIO}× floor op",
            lib.op is not None and floor.op is not None and lib.op <= GOAL_RATIO * floor.op,
        ),
        (f"cli wall ≤ {GOAL_RATIO}× floor wall", cli.wall <= GOAL_RATIO * floor.wall),
        (f"peak memory ≤ {GOAL_PEAK_MB:.0f} MB", max(lib.peak_mb, cli.peak_mb) <= GOAL_PEAK_MB),
    ]
    goals, ok = goals_line(checks)
    lines.append(goals)
    return "\n".join(lines), ok


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
