"""Benchmark ``xlcheck merge`` against the floor of reading its inputs and writing its rows.

    python benchmarks/bench_merge.py                      # both scenarios, defaults below
    python benchmarks/bench_merge.py --scenario A --repeat 3
    python benchmarks/bench_merge.py --scenario B --keep /tmp/bench-merge --check

Scenario **A**: 50 generated submissions × 2,000 rows (``gen.py``, blank 问题编号 so the merge
assigns them, one seed per file so the rows differ) merged into an empty register.

Scenario **B**: a weekly merge of 20 × 200 rows into a 100,000-row register. The register is
prepared once by ``xlcheck merge`` of one generated 100,000-row workbook (real IDs, no
mistake rows, so exactly 100,000 records reach it) and copied afresh for every measured run.
Of the 20 submissions, 18 are new records (blank IDs) and 2 are status updates: 200 open
records each, taken from the register and now 已解决 with a solution, as staff send them back.

Each measurement runs in a fresh subprocess (peak memory from ``wait4`` ``ru_maxrss``):

- **floor**: python-calamine reads every input (for B also the register) and xlsxwriter
  (``constant_memory``, a typed call per cell) writes as many rows as the merged register has,
  with the register's column count (input rows padded with typed SLA/provenance values);
- **library**: ``aftersales_xl.jobs.merge.merge(paths, register, form, policy, now=…)`` in-process;
- **cli**: ``xlcheck merge FOLDER --register R --format json`` as a supervisor runs it.

"op" is the time of the operation inside the process (imports excluded), "wall" the whole
process. Goals: library op ≤ 3× floor op, cli wall ≤ 3× floor wall, peak memory ≤ 1.5 GB.
``--check`` exits 1 when a goal is missed. ``--keep DIR`` keeps the inputs, the prepared
register (reused by later runs with the same ``--keep DIR``) and the merged registers.

Run time on a 2-core machine with the defaults: about 5½ minutes — A about 3¾ min (inputs
8 s, then three rounds of ~70 s), B about 1¾ min (preparing the register ~30 s, one round
of ~70 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402 - sibling module
import xlsxwriter  # noqa: E402
from common import (  # noqa: E402 - sibling module
    Measurement,
    goals_line,
    run_measured,
    table_lines,
    xlcheck_command,
)
from python_calamine import CalamineWorkbook  # noqa: E402

from aftersales_xl.forms import FormSpec, load_form  # noqa: E402
from aftersales_xl.reading.register import PROVENANCE, register_columns  # noqa: E402
from aftersales_xl.sla import SLA_COLUMNS  # noqa: E402

GOAL_RATIO = 3.0
GOAL_PEAK_MB = 1536.0  # 1.5 GB
#: runs per measurement unless --repeat says otherwise (B's rounds are as long as A's, but
#: B also prepares its register first)
DEFAULT_REPEAT = {"A": 3, "B": 1}
#: ``now`` of the library run: the Monday after the generated year
NOW = datetime(2025, 1, 6, 9, 0)
#: statuses of records still open in the register (status updates pick from these)
OPEN_STATUSES = ("待处理", "处理中", "升级处理")

FLOOR = """
import json, sys, time
from datetime import date, datetime, timedelta
import xlsxwriter
from python_calamine import CalamineWorkbook

spec = json.load(open(sys.argv[1], encoding="utf-8"))
samples = {"number": 12.5, "integer": 2, "text": "达标", "datetime": datetime(2025, 1, 6, 9, 0)}
headers = spec["headers"]
ncols = len(headers)
pad = [None] * spec["form_columns"] + [samples[k] for k in spec["extra_kinds"]]
t0 = time.perf_counter()
rows = []
for path in spec["reads"]:
    rows.extend(CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()[1:])
t_read = time.perf_counter() - t0
wb = xlsxwriter.Workbook(spec["out"], {"constant_memory": True, "strings_to_numbers": False,
                                       "strings_to_formulas": False, "strings_to_urls": False})
ws = wb.add_worksheet("总台账")
date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
for c, label in enumerate(headers):
    ws.write_string(0, c, label)
n = spec["rows"] if rows else 0
for r in range(n):
    row = rows[r % len(rows)]
    if len(row) < ncols:
        row = list(row) + pad[len(row):]
    for c in range(ncols):
        v = row[c]
        if v is None or v == "":
            continue
        if isinstance(v, str):
            ws.write_string(r + 1, c, v)
        elif isinstance(v, bool):
            ws.write_boolean(r + 1, c, v)
        elif isinstance(v, (int, float)):
            ws.write_number(r + 1, c, v)
        elif isinstance(v, datetime):
            ws.write_datetime(r + 1, c, v, date_fmt)
        elif isinstance(v, date):
            ws.write_datetime(r + 1, c, datetime(v.year, v.month, v.day), date_fmt)
        elif isinstance(v, timedelta):
            ws.write_number(r + 1, c, v.total_seconds() / 86400, date_fmt)
        else:
            ws.write_string(r + 1, c, str(v))
wb.close()
op = time.perf_counter() - t0
print(json.dumps({"op": op, "read": t_read, "write": op - t_read, "rows": n, "read_rows": len(rows)}))
"""

LIBRARY = """
import json, sys, time
from datetime import datetime
from aftersales_xl.config import load_policy
from aftersales_xl.forms import load_form
from aftersales_xl.jobs.merge import merge

form, policy = load_form(), load_policy(search_cwd=False)
now = datetime.fromisoformat(sys.argv[1])
register, paths = sys.argv[2], sys.argv[3:]
t0 = time.perf_counter()
r = merge(paths, register, form, policy, now=now)
op = time.perf_counter() - t0
print(json.dumps({"op": op, "total": r.total, "added": r.added, "updated": r.updated,
                  "unchanged": r.unchanged, "rejected": r.rejected_rows,
                  "conflicts": r.conflicts, "assigned": r.assigned,
                  "masked": sum(r.masked.values())}))
"""


@dataclass
class Scenario:
    """One prepared merge: its inputs, the register it starts from (None = empty)."""

    name: str
    title: str
    inputs_dir: Path
    inputs: list[Path]
    register: Path | None


# -- preparing inputs ---------------------------------------------------------------------------
def make_submissions(folder: Path, count: int, rows: int, seed: int, prefix: str) -> list[Path]:
    """``count`` generated submissions of ``rows`` records with blank IDs, one seed each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}_{i + 1:03d}.xlsx"
        gen.generate(path, rows, seed=seed + i, blank_ids=True)
        paths.append(path)
    return paths


def prepare_register(path: Path, rows: int, seed: int) -> None:
    """Write a real ``rows``-record register at ``path`` with ``xlcheck merge``.

    The source is one generated workbook with IDs and no mistake rows (a register only ever
    holds rows that passed), so exactly ``rows`` records reach the register.
    """
    source = path.with_name(f"register_source_{rows}.xlsx")
    gen.generate(source, rows, seed=seed, mistakes=0.0)
    wall, peak, out = run_measured(
        [*xlcheck_command(), "merge", str(source), "--register", str(path), "--keep", "0",
         "--format", "json"],
        label="xlcheck merge (prepare register)",
    )  # fmt: skip
    total = json.loads(out)["total"]
    source.unlink()
    if total != rows:
        raise RuntimeError(f"prepared register holds {total} records, expected {rows}")
    print(f"  prepared the register with xlcheck merge in {wall:.1f} s, peak {peak:.0f} MB")


def make_status_updates(
    register: Path, folder: Path, count: int, rows: int, form: FormSpec, start: int
) -> list[Path]:
    """``count`` submissions of ``rows`` open register records each, now 已解决 with a solution.

    Records are spread over the register (every n-th open one); their other cells are copied
    as read, IDs included, so the merge must find and replace them.
    """
    sheet = CalamineWorkbook.from_path(str(register)).get_sheet_by_index(0).to_python()
    header = [str(h) for h in sheet[0]]
    at = {f.key: header.index(f.title("zh")) for f in form.fields}
    open_rows = [r for r in sheet[1:] if r[at["status"]] in OPEN_STATUSES]
    wanted = count * rows
    if len(open_rows) < wanted:
        raise RuntimeError(f"the register has {len(open_rows)} open records, {wanted} needed")
    step = len(open_rows) // wanted
    picked = open_rows[::step][:wanted]
    paths = []
    for i in range(count):
        path = folder / f"weekly_{start + i:03d}_updates.xlsx"
        wb = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
             "strings_to_urls": False},
        )  # fmt: skip
        ws = wb.add_worksheet(form.sheet)
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        for c, f in enumerate(form.fields):
            ws.write_string(0, c, f.label)
        for r, src in enumerate(picked[i * rows : (i + 1) * rows], start=1):
            values = {f.key: src[at[f.key]] for f in form.fields}
            received = values["received_at"]
            values.update(
                status="已解决",
                owner=values["owner"] or "王工",
                analysis=values["analysis"] or "现场排查确认原因",
                solution="永久方案：远程指导后恢复正常",
                resolved_at=received + timedelta(hours=20),
                satisfaction=5,
            )
            for c, f in enumerate(form.fields):
                v = values[f.key]
                if v is None or v == "":
                    continue
                if isinstance(v, datetime):
                    ws.write_datetime(r, c, v, date_fmt)
                elif isinstance(v, int | float):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
        wb.close()
        paths.append(path)
    return paths


def scenario_a(work: Path, args: argparse.Namespace) -> Scenario:
    """Generate scenario A's submissions."""
    n, rows = args.a_submissions, args.a_rows
    folder = work / "A_submissions"
    shutil.rmtree(folder, ignore_errors=True)  # the CLI merges the whole folder
    t0 = time.perf_counter()
    inputs = make_submissions(folder, n, rows, args.seed + 1000, "submission")
    print(f"  generated {n} submissions × {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    title = f"A: {n} submissions × {rows:,} rows into an empty register"
    return Scenario("A", title, folder, inputs, None)


def scenario_b(work: Path, args: argparse.Namespace, form: FormSpec) -> Scenario:
    """Prepare (or reuse) scenario B's register and generate its weekly submissions."""
    size, n, rows = args.b_register_rows, args.b_submissions, args.b_rows
    register = work / f"register_{size}.xlsx"
    if register.is_file():
        print(f"  reusing {register} (delete it to rebuild)")
    else:
        t0 = time.perf_counter()
        prepare_register(register, size, args.seed)
        print(f"  register of {size:,} records ready in {time.perf_counter() - t0:.1f} s")
    folder = work / "B_submissions"
    shutil.rmtree(folder, ignore_errors=True)
    updates = max(1, n // 10) if n > 1 else 0
    t0 = time.perf_counter()
    inputs = make_submissions(folder, n - updates, rows, args.seed + 5000, "weekly")
    inputs += make_status_updates(register, folder, updates, rows, form, n - updates + 1)
    print(
        f"  generated {n - updates} new-record and {updates} status-update submissions × "
        f"{rows:,} rows in {time.perf_counter() - t0:.1f} s"
    )
    title = (
        f"B: {n} submissions × {rows:,} rows ({updates} of them status updates) "
        f"into a {size:,}-row register"
    )
    return Scenario("B", title, folder, inputs, register)


# -- measuring ------------------------------------------------------------------------------------
def _extra_kinds() -> list[str]:
    """Cell kinds of the register's columns after the form's (SLA figures, provenance)."""
    kinds = []
    for key in [*SLA_COLUMNS, *PROVENANCE]:
        if key == "source_row":
            kinds.append("integer")
        elif key.endswith("_hours"):
            kinds.append("number")
        elif key.endswith(("_due", "_at")):
            kinds.append("datetime")
        else:
            kinds.append("text")
    return kinds


def measure(
    sc: Scenario, repeat: int, form: FormSpec, work: Path, keep: Path | None
) -> list[Measurement]:
    """Run library, cli and floor ``repeat`` times each, interleaved; return the measurements.

    The library runs first in each round: the number of rows it merged is what the floor writes.
    """
    floor = Measurement("floor: calamine + xlsxwriter")
    library = Measurement("library: merge()")
    cli = Measurement("cli: xlcheck merge")
    headers = [label for _, label in register_columns(form, SLA_COLUMNS)]
    inputs = [str(p) for p in sc.inputs]
    for i in range(repeat):
        print(f"  run {i + 1}/{repeat}: library…", end="", flush=True)
        register = _fresh_register(work / "run", sc.register)
        wall, peak, out = run_measured(
            [sys.executable, "-c", LIBRARY, NOW.isoformat(), str(register), *inputs],
            label="library merge",
        )
        data = json.loads(out)
        library.add(wall, peak, data["op"])
        library.count = data["total"]
        library.note = (
            f"{data['total']:,} rows: +{data['added']:,} new, {data['updated']:,} updated, "
            f"{data['rejected']:,} rejected, {data['assigned']:,} IDs assigned"
        )
        if keep is not None:
            shutil.copy2(register, keep / f"{sc.name}_merged.xlsx")

        print(" cli…", end="", flush=True)
        register = _fresh_register(work / "run", sc.register)
        wall, peak, out = run_measured(
            [*xlcheck_command(), "merge", str(sc.inputs_dir), "--register", str(register),
             "--format", "json"],
            ok_codes=(0, 1),
            label="xlcheck merge",
        )  # fmt: skip
        cli.add(wall, peak)
        result = json.loads(out)
        cli.count = result["total"]
        cli.note = f"{result['total']:,} rows, {result['files']} files"
        if result["total"] != library.count:
            cli.note += f" (library: {library.count:,}!)"

        print(" floor…", flush=True)
        spec = work / "floor.json"
        reads = ([str(sc.register)] if sc.register else []) + inputs
        spec.write_text(
            json.dumps(
                {
                    "reads": reads,
                    "out": str(work / "run" / "floor.xlsx"),
                    "rows": library.count,
                    "headers": headers,
                    "form_columns": len(form.fields),
                    "extra_kinds": _extra_kinds(),
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        wall, peak, out = run_measured([sys.executable, "-c", FLOOR, str(spec)], label="floor")
        data = json.loads(out)
        floor.add(wall, peak, data["op"])
        floor.count = data["rows"]
        if data["op"] == floor.op:  # the split of the best run
            floor.note = (
                f"read {data['read_rows']:,} rows {data['read']:.2f} s + "
                f"write {data['rows']:,} rows {data['write']:.2f} s"
            )
        shutil.rmtree(work / "run", ignore_errors=True)
    return [floor, library, cli]


def _fresh_register(folder: Path, prepared: Path | None) -> Path:
    """An empty run folder holding a copy of ``prepared`` (or no register yet)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    register = folder / "总台账.xlsx"
    if prepared is not None:
        shutil.copy2(prepared, register)
    return register


def render(sc: Scenario, results: list[Measurement], columns: int, repeat: int) -> tuple[str, bool]:
    """The scenario's results table with its PASS/MISS line, and whether every goal was met."""
    floor, lib, cli = results
    lines = [
        f"Scenario {sc.title}: {lib.count:,} rows × {columns} columns, best of {repeat}",
        *table_lines(results, floor),
    ]
    checks = [
        (
            f"library op ≤ {GOAL_RATIO:g}× floor op",
            lib.op is not None and floor.op is not None and lib.op <= GOAL_RATIO * floor.op,
        ),
        (f"cli wall ≤ {GOAL_RATIO:g}× floor wall", cli.wall <= GOAL_RATIO * floor.wall),
        (f"peak memory ≤ {GOAL_PEAK_MB:.0f} MB", max(lib.peak_mb, cli.peak_mb) <= GOAL_PEAK_MB),
    ]
    goals, ok = goals_line(checks)
    lines.append(goals)
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark xlcheck merge against reading its inputs and writing its rows."
    )
    parser.add_argument("--scenario", choices=["A", "B", "both"], default="both")
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs per measurement, the best counts (default: 3 for A, 1 for B; a round takes ~70 s)",
    )
    parser.add_argument("--a-submissions", type=int, default=50, help="A: submissions (50)")
    parser.add_argument("--a-rows", type=int, default=2000, help="A: rows per submission (2000)")
    parser.add_argument(
        "--b-register-rows", type=int, default=100_000, help="B: register records (100000)"
    )
    parser.add_argument("--b-submissions", type=int, default=20, help="B: submissions (20)")
    parser.add_argument("--b-rows", type=int, default=200, help="B: rows per submission (200)")
    parser.add_argument("--seed", type=int, default=0, help="generator base seed (default 0)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep inputs, the prepared register (reused next time) and merged registers here",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    form = load_form()
    columns = len(register_columns(form, SLA_COLUMNS))
    names = ["A", "B"] if args.scenario == "both" else [args.scenario]
    tables: list[str] = []
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="xlcheck-bench-merge-") as tmp:
        work = Path(tmp)
        data = args.keep or work
        data.mkdir(parents=True, exist_ok=True)
        for name in names:
            print(f"scenario {name}:")
            t0 = time.perf_counter()
            sc = scenario_a(data, args) if name == "A" else scenario_b(data, args, form)
            repeat = args.repeat or DEFAULT_REPEAT[name]
            results = measure(sc, repeat, form, work, args.keep)
            table, ok = render(sc, results, columns, repeat)
            print(f"  scenario {name} took {time.perf_counter() - t0:.0f} s in all")
            print(table, flush=True)
            tables.append(table)
            all_ok = all_ok and ok
    if len(tables) > 1:
        print("\n" + "\n\n".join(tables))
    return 1 if args.check and not all_ok else 0


if __name__ == "__main__":
    sys.exit(main())
