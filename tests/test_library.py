"""xlcheck library: the solution library workbook read back — clusters equal the planted
problems, counts / first-last seen / example IDs / solutions right, sorted by frequency,
autofilter + frozen header + page setup, no formula cell, no unmasked contact data."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import timedelta

import openpyxl
import pytest
from builders import record_rows
from click.testing import CliRunner
from retrieval_set import PROBLEMS, planted_rows
from test_search import CANARIES, plant_raw_contact, register_frame, write_planted

from aftersales_xl.cli import cli
from aftersales_xl.config import load_policy
from aftersales_xl.reading.register import read_register
from aftersales_xl.reports.library_sheet import LIBRARY_SHEET, NOTES_SHEET
from aftersales_xl.reports.recurring import LIBRARY_COLUMNS, LIBRARY_HEADINGS, library_table

HEADERS = [LIBRARY_HEADINGS[k][0] for k in LIBRARY_COLUMNS]


@pytest.fixture
def planted(tmp_path, policy, form):
    rows, keys = planted_rows()
    # a few extra records of one problem so that the sort by frequency is visible
    gps = next(p for p in PROBLEMS if p.key == "gps")
    extra = [dict(rows[0], description=f"{gps.records[0]}（第{n}次）",
                  received_at=rows[0]["received_at"] + timedelta(days=60 + n),
                  occurred_at=rows[0]["occurred_at"] + timedelta(days=60 + n))
             for n in (1, 2)]  # fmt: skip
    rows, keys = rows + extra, keys + ["gps", "gps"]
    path = write_planted(tmp_path / "总台账.xlsx", rows, policy, form)
    return path, rows, keys


def library_rows(path):
    wb = openpyxl.load_workbook(path)
    ws = wb[LIBRARY_SHEET]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    return wb, ws, values[0], [dict(zip(values[0], r, strict=True)) for r in values[1:]]


def test_library_rows_are_the_planted_problems(planted, tmp_path):
    path, rows, keys = planted
    out = tmp_path / "解决方案库.xlsx"
    res = CliRunner().invoke(cli, ["library", "--register", str(path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("已生成解决方案库：") and "32 个高频问题" in res.output
    wb, ws, header, got = library_rows(out)
    assert header == HEADERS
    frame = register_frame(rows)
    ids = frame["record_id"].tolist()
    expected = {}
    for key in {k for k in keys if k}:
        members = [i for i, k in enumerate(keys) if k == key]
        expected[key] = {ids[i] for i in members}
    # every planted problem is one row, its count and example IDs its own records
    by_ids = {frozenset(r["示例问题编号"].split("、")): r for r in got}
    assert len(got) == len(PROBLEMS) == len(expected)
    for members in expected.values():
        row = next(r for r in got if set(r["示例问题编号"].split("、")) <= members)
        assert row["次数"] == len(members)
        shown = row["示例问题编号"].split("、")
        assert len(shown) == min(5, len(members)) and set(shown) <= members
    assert len(by_ids) == len(PROBLEMS)
    # sorted by frequency: the problem with 6 records first
    counts = [r["次数"] for r in got]
    assert counts == sorted(counts, reverse=True) and counts[0] == 6
    assert [r["排名"] for r in got] == list(range(1, len(got) + 1))
    first = got[0]
    assert (first["产品/服务模块"], first["问题类型"]) == ("考勤打卡", "技术故障")
    assert first["首次出现"] == rows[0]["occurred_at"]
    assert first["最近出现"] == rows[-1]["occurred_at"]
    assert first["示例问题编号"].split("、")[0] == ids[-1]  # most recent first
    assert first["未结"] == 0 and first["评分数"] == 6
    assert first["标签"].startswith("#考勤打卡 #技术故障 #") and "定位" in first["标签"]
    assert first["代表描述"] in {r["description"] for r in rows[:-2]} | {
        r["description"] for r in rows[-2:]
    }


def test_solution_is_the_one_most_used_else_the_latest_permanent_fix(tmp_path, policy, form):
    """Records are resolved in order: the last of a problem is the latest."""
    texts = [
        ("硬件设备", "打印机不出纸", "永久方案：更换热敏纸"),
        ("硬件设备", "小票打印机不出纸", "永久方案：更换热敏纸"),
        ("硬件设备", "打印机不出纸了", "临时方案：重启打印机"),
        ("移动端App", "App 闪退", "临时方案：重装"),
        ("移动端App", "App 打开就闪退", "永久方案：发布修复版"),
        ("移动端App", "App 启动闪退", "临时方案：清缓存"),
    ]
    rows = [
        dict(base, module=m, description=d, solution=sol, analysis=f"{m}：同一原因")
        for base, (m, d, sol) in zip(record_rows(len(texts)), texts, strict=True)
    ]
    rows[0]["satisfaction"] = rows[3]["satisfaction"] = None  # not every record is rated
    path = write_planted(tmp_path / "台账.xlsx", rows, policy, form)
    table = library_table(read_register(path, form, policy), policy).set_index("module")
    assert table["ratings"].tolist() == [2, 2]
    assert table.loc["硬件设备", "solution"] == "永久方案：更换热敏纸"
    assert table.loc["硬件设备", "solution_basis"] == "2 条记录采用"
    assert table.loc["移动端App", "solution"] == "永久方案：发布修复版"
    assert table.loc["移动端App", "solution_basis"] == "最近的永久方案"


def test_min_count_from_the_policy(planted, tmp_path, form):
    path, _, _ = planted
    (tmp_path / "xlcheck.toml").write_text("[library]\nmin_count = 4\n", "utf-8")
    out = tmp_path / "库.xlsx"
    res = CliRunner().invoke(
        cli,
        ["library", "--register", str(path), "-o", str(out), "--format", "json",
         "--config", str(tmp_path / "xlcheck.toml")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    big = [p for p in PROBLEMS if len(p.records) >= 4]
    assert doc["problems"] == len(big) and doc["records_in_problems"] == 4 * len(big) + 2
    _, _, _, got = library_rows(out)
    assert all(r["次数"] >= 4 for r in got)


def test_sheet_layout_page_setup_and_no_formula(planted, tmp_path):
    path, _, _ = planted
    out = tmp_path / "解决方案库.xlsx"
    assert (
        CliRunner().invoke(cli, ["library", "--register", str(path), "-o", str(out)]).exit_code == 0
    )
    wb, ws, _, got = library_rows(out)
    assert wb.sheetnames == [LIBRARY_SHEET, NOTES_SHEET]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:N{len(got) + 1}"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.print_title_rows == "$1:$1" and ws.sheet_properties.pageSetUpPr.fitToPage
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
    notes = {r[0].value: r[1].value for r in wb[NOTES_SHEET].iter_rows(min_row=3) if r[0].value}
    assert notes["来源台账"] == "总台账.xlsx" and notes["高频问题数"] == str(len(got))


def test_canary_no_unmasked_contact_data_in_any_part(planted, tmp_path):
    path, _, _ = planted
    plant_raw_contact(path, row=2)
    out = tmp_path / "解决方案库.xlsx"
    res = CliRunner().invoke(cli, ["library", "--register", str(path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(out) as z:
        xml = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    for canary in CANARIES:
        assert canary not in xml and canary not in res.output


def test_empty_register_writes_an_empty_library(tmp_path, policy, form):
    path = write_planted(tmp_path / "空.xlsx", [], policy, form)
    out = tmp_path / "库.xlsx"
    res = CliRunner().invoke(cli, ["library", "--register", str(path), "-o", str(out)])
    assert res.exit_code == 0 and "0 个高频问题" in res.output
    _, _, header, got = library_rows(out)
    assert header == HEADERS and got == []


def test_refusals_are_one_line_exit_2(planted, tmp_path):
    path, _, _ = planted
    res = CliRunner().invoke(cli, ["library", "--register", str(path), "-o", str(path)])
    assert res.exit_code == 2 and "总台账本身" in res.output
    res = CliRunner().invoke(
        cli, ["library", "--register", str(tmp_path / "无.xlsx"), "-o", "x.xlsx"]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    (tmp_path / "~$库.xlsx").write_text("lock")
    res = CliRunner().invoke(
        cli, ["library", "--register", str(path), "-o", str(tmp_path / "库.xlsx")]
    )
    assert res.exit_code == 2 and res.output.count("\n") == 1


def test_config_refuses_bad_library_settings(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text("[library]\ncluster_similarity = 1.5\n", "utf-8")
    with pytest.raises(Exception, match="library.cluster_similarity"):
        load_policy(bad)
    bad.write_text("[library]\nmin_count = 0\n", "utf-8")
    with pytest.raises(Exception, match="library.min_count"):
        load_policy(bad)


def test_library_table_counts_open_records(planted, policy, form):
    path, rows, keys = planted
    frame = read_register(path, form, policy)
    frame.loc[frame.index[0], "status"] = "处理中"
    table = library_table(frame, policy)
    assert table["open"].sum() == 1
    assert Counter(table["count"]) == Counter(Counter(k for k in keys if k).values())


def test_the_registers_recurring_tab_agrees_with_the_library(planted, policy, form):
    """高频问题 (compute_summaries) and the library cluster the same way."""
    from datetime import datetime

    from aftersales_xl.reports.summaries import compute_summaries

    path, _, _ = planted
    frame = read_register(path, form, policy)
    recurring = compute_summaries(
        frame, policy, datetime(2024, 9, 1), datetime(2024, 8, 26)
    ).recurring
    library = library_table(frame, policy)
    assert (
        len(recurring) == 20 and recurring["count"].tolist() == library["count"].head(20).tolist()
    )
    for row in recurring.itertuples():
        match = library[library["example_ids"].str.split("、").str[0] == row.example_id_1]
        assert len(match) == 1
        assert (match.iloc[0]["module"], match.iloc[0]["problem_type"], match.iloc[0]["count"]) == (
            row.module, row.problem_type, row.count
        )  # fmt: skip
