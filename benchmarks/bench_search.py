"""Benchmark ``xlcheck search`` on a 100,000-record register: the first build, then queries.

    python benchmarks/bench_search.py                  # 100,000 records, 3 rounds
    python benchmarks/bench_search.py --rows 20000 --repeat 1 --keep /tmp/bench-search

The register is written once with the project's register writer
(:func:`aftersales_xl.writing.register.write_register`): descriptions, analyses and solutions
are the retrieval test set's (``tests/retrieval_set.py``) with random extra detail (a store,
a version, a count, a customer number) so that the vocabulary is realistic, 82 % solved.

Each measurement runs in a fresh subprocess (peak memory from ``wait4`` ``ru_maxrss``):

- **floor**: a bare python-calamine read of the register's 总台账 sheet (``to_python``);
- **build (library)**: ``jobs.search.search`` in-process with no cache (reads the register,
  builds the index, writes ``.NAME.search-cache``);
- **build (cli)**: ``xlcheck search QUERY --register R --format json`` with no cache;
- **query (library)** / **query (cli)**: the same with the cache in place, over several queries.

"op" is the operation inside the process (imports excluded), "wall" the whole process.
Goals: a cached query's cli wall < 1 s, peak memory ≤ 1.5 GB (the build's ratio to the
floor is reported; it is paid once per register change). ``--check`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import Measurement, goals_line, run_measured, table_lines, xlcheck_command  # noqa: E402

QUERIES = ["打卡 定位失败", "退款没到账", "ＡＰＰ 闪退", "导出 超时 报表", "erp 同步失败"]
FLOOR = """
import json, sys, time
from python_calamine import CalamineWorkbook
t0 = time.perf_counter()
wb = CalamineWorkbook.from_path(sys.argv[1])
rows = wb.get_sheet_by_name("总台账").to_python(skip_empty_area=False)
print(json.dumps({"op": time.perf_counter() - t0, "rows": len(rows) - 1}))
"""
LIBRARY = """
import json, sys, time
t_import = time.perf_counter()
from aftersales_xl.config import load_policy
from aftersales_xl.forms import load_form
from aftersales_xl.jobs.search import search
policy, form = load_policy(search_cwd=False), load_form()
t0 = time.perf_counter()
for query in json.loads(sys.argv[2]):
    result = search(sys.argv[1], query, form, policy)
print(json.dumps({"op": time.perf_counter() - t0, "cache": result.cache,
                  "hits": len(result.hits), "records": result.records}))
"""
GOAL_QUERY_WALL = 1.0
GOAL_PEAK_MB = 1536


def write_register(path: Path, rows: int, seed: int) -> None:
    """A ``rows``-record register of varied, realistic records, written by the project."""
    import pandas as pd
    from retrieval_set import DISTRACTORS, PROBLEMS

    from aftersales_xl.config import load_policy
    from aftersales_xl.forms import load_form
    from aftersales_xl.writing.register import with_sla_columns, write_register

    rng = random.Random(seed)
    form, policy = load_form(), load_policy(search_cwd=False)
    texts = [(p.module, p.problem_type, d, p.analysis, p.solution) for p in PROBLEMS
             for d in p.records] + list(DISTRACTORS)  # fmt: skip
    details = ["", "", "，影响{n}个门店", "（版本V2.{n}）", "，客户编号C{n:04d}", "，已持续{n}天",
               "，共{n}名员工受影响", "，今天第{n}次反馈"]  # fmt: skip
    start = datetime(2024, 1, 2, 8, 0)
    data: dict[str, list] = {k: [] for k in form.keys}
    per_day: dict[str, int] = {}
    for i in range(rows):
        module, ptype, desc, analysis, solution = texts[rng.randrange(len(texts))]
        received = start + timedelta(minutes=5 * i + rng.randrange(5))
        done = rng.random() < 0.82
        day = received.strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        detail = rng.choice(details).format(n=rng.randrange(1, 500))
        row = {
            "record_id": f"FW{day}{per_day[day]:03d}", "customer": f"示例客户{i % 400:03d}/C{i % 400:04d}",
            "contact_name": "张*", "contact": f"138****8{i % 1000:03d}", "channel": "电话",
            "occurred_at": received - timedelta(minutes=20), "module": module,
            "problem_type": ptype, "description": desc + detail, "severity": "P2",
            "owner": "王工", "received_at": received, "status": "已解决" if done else "处理中",
            "analysis": analysis if done else None, "solution": solution if done else None,
            "due_at": None, "resolved_at": received + timedelta(hours=3) if done else None,
            "satisfaction": rng.randint(3, 5) if done else None, "feedback": None,
            "product_version": "V2.1", "remarks": None,
        }  # fmt: skip
        for k in form.keys:
            data[k].append(row[k])
    frame = pd.DataFrame(data)
    frame["source_file"] = "bench.xlsx"
    frame["source_row"] = pd.array(range(2, rows + 2), dtype="Int64")
    frame["merged_at"] = start
    for k in ("occurred_at", "received_at", "resolved_at", "due_at", "merged_at"):
        frame[k] = pd.to_datetime(frame[k]).astype("datetime64[us]")
    frame["satisfaction"] = frame["satisfaction"].astype("Int64")
    now = start + timedelta(days=365)
    write_register(path, with_sla_columns(frame, policy, now), form=form, policy=policy, now=now)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", type=Path, help="Keep the register here (reused when present).")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a goal is missed.")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    register = work / f"总台账_{args.rows}.xlsx"
    from aftersales_xl.jobs.search import cache_path

    if not register.is_file():
        print(f"writing a {args.rows:,}-record register…", flush=True)
        write_register(register, args.rows, args.seed)
    size_mb = register.stat().st_size / 1e6
    cache = cache_path(register)
    floor = Measurement("floor: calamine read")
    build_lib = Measurement("build (library)")
    build_cli = Measurement("build (cli)")
    query_lib = Measurement(f"query (library, ×{len(QUERIES)})")
    query_cli = Measurement("query (cli)")
    cli = xlcheck_command()
    for round_ in range(args.repeat):
        print(f"round {round_ + 1}/{args.repeat}…", flush=True)
        wall, peak, out = run_measured([sys.executable, "-c", FLOOR, str(register)], label="floor")
        floor.add(wall, peak, json.loads(out)["op"])
        floor.count = json.loads(out)["rows"]
        lib = [sys.executable, "-c", LIBRARY, str(register), json.dumps(QUERIES[:1])]
        cache.unlink(missing_ok=True)
        wall, peak, out = run_measured(lib, label="build (library)")
        data = json.loads(out)
        assert data["cache"] == "built", data
        build_lib.add(wall, peak, data["op"])
        cache.unlink(missing_ok=True)
        cmd = [*cli, "search", QUERIES[0], "--register", str(register), "--format", "json"]
        wall, peak, out = run_measured(cmd, label="build (cli)")
        assert json.loads(out)["cache"] == "built"
        build_cli.add(wall, peak)
        lib = [sys.executable, "-c", LIBRARY, str(register), json.dumps(QUERIES)]
        wall, peak, out = run_measured(lib, label="query (library)")
        data = json.loads(out)
        assert data["cache"] == "reused" and data["records"] == args.rows, data
        query_lib.add(wall, peak, data["op"])
        for query in QUERIES:
            cmd = [*cli, "search", query, "--register", str(register), "--format", "json"]
            wall, peak, out = run_measured(cmd, label="query (cli)")
            assert json.loads(out)["cache"] == "reused"
            query_cli.add(wall, peak)
    results = [floor, build_lib, build_cli, query_lib, query_cli]
    print(f"\nregister: {args.rows:,} records, {size_mb:.1f} MB; cache "
          f"{cache.stat().st_size / 1e6:.1f} MB; best of {args.repeat}")  # fmt: skip
    for line in table_lines(results, floor):
        print(line)
    per_query = query_lib.op / len(QUERIES) if query_lib.op else None
    print(f"in-process time per cached query (cache load + rank): {per_query:.3f} s")
    line, ok = goals_line([
        (f"cached query cli wall < {GOAL_QUERY_WALL:g} s", query_cli.wall < GOAL_QUERY_WALL),
        (f"peak ≤ {GOAL_PEAK_MB} MB", max(m.peak_mb for m in results) <= GOAL_PEAK_MB),
    ])  # fmt: skip
    print(line)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
