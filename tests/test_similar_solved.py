"""总台账's 相似已解决 column, computed at merge: open records get the IDs of similar solved
records of the same module × type (the first line of each solution in the cell comment); the
column is derived, so the next merge recomputes it instead of keeping it as a hand-added one."""

from __future__ import annotations

from datetime import datetime, timedelta

import openpyxl
from builders import record_rows, write_record_xlsx

from aftersales_xl.config import load_policy
from aftersales_xl.jobs.merge import merge
from aftersales_xl.reading.register import read_register

NOW = datetime(2024, 6, 10, 12, 0)
OPEN = {"status": "处理中", "solution": None, "resolved_at": None, "satisfaction": None,
        "analysis": None, "feedback": None}  # fmt: skip


def rows():
    base = record_rows(6, module="考勤打卡")
    texts = [
        ("员工打卡时提示定位失败", "永久方案：开启定位权限\n并调整考勤范围", None),
        ("打卡定位失败，显示不在考勤范围", "永久方案：开启定位权限，客户电话 13800138000", None),
        ("人脸识别打卡失败", "永久方案：重新采集人脸", None),
        ("员工打卡定位失败", None, OPEN),  # open: similar to the first two
        ("考勤机屏幕碎了", None, OPEN),  # open: nothing similar
        ("定位失败无法打卡", None, {**OPEN, "module": "移动端App"}),  # other module
    ]
    out = []
    for row, (desc, solution, extra) in zip(base, texts, strict=True):
        row = dict(row, description=desc)
        if solution:
            row["solution"] = solution
        row.update(extra or {})
        out.append(row)
    return out


def test_open_records_get_similar_solved_ids_with_their_solution_in_the_comment(
    tmp_path, form, policy
):
    sub = write_record_xlsx(tmp_path / "第1组.xlsx", rows())
    register = tmp_path / "总台账.xlsx"
    merge([sub], register, form, policy, now=NOW)
    ws = openpyxl.load_workbook(register)["总台账"]
    header = [c.value for c in ws[1]]
    assert header.count("相似已解决") == 1
    assert header.index("相似已解决") < header.index("来源文件")
    col = header.index("相似已解决") + 1
    cells = {ws.cell(r, 9).value: ws.cell(r, col) for r in range(2, ws.max_row + 1)}
    ids = {ws.cell(r, 9).value: ws.cell(r, 1).value for r in range(2, ws.max_row + 1)}
    found = cells["员工打卡定位失败"]
    assert found.value.split("、") == [
        ids["员工打卡时提示定位失败"],
        ids["打卡定位失败，显示不在考勤范围"],
    ]
    note = found.comment.text
    assert f"{ids['员工打卡时提示定位失败']}：永久方案：开启定位权限" in note
    assert "并调整考勤范围" not in note  # first line only
    assert "13800138000" not in note and "****8000" in note
    for desc in (
        "考勤机屏幕碎了",
        "定位失败无法打卡",
        "员工打卡时提示定位失败",
        "人脸识别打卡失败",
    ):
        assert cells[desc].value is None and cells[desc].comment is None, desc

    # merged again (a status update arrives): recomputed, never kept as a hand-added column
    again = rows()
    again[3].update(status="已解决", solution="永久方案：开启定位权限", resolved_at=again[3]["received_at"]
                    + timedelta(hours=2), analysis="权限未开")  # fmt: skip
    again[3]["record_id"] = ids["员工打卡定位失败"]
    for r in again:
        r["record_id"] = ids[r["description"]]
    sub2 = write_record_xlsx(tmp_path / "第2组.xlsx", again)
    merge([sub2], register, form, policy, now=NOW + timedelta(days=1))
    ws = openpyxl.load_workbook(register)["总台账"]
    header = [c.value for c in ws[1]]
    assert header.count("相似已解决") == 1 and not any("相似已解决 (" in str(h) for h in header)
    col = header.index("相似已解决") + 1
    values = {ws.cell(r, 9).value: ws.cell(r, col).value for r in range(2, ws.max_row + 1)}
    assert values["员工打卡定位失败"] is None  # solved now
    frame = read_register(register, form, policy)
    assert "相似已解决" not in frame.columns and "similar_solved" not in frame.columns


def test_similar_solved_zero_means_no_column(tmp_path, form):
    (tmp_path / "x.toml").write_text("[library]\nsimilar_solved = 0\n", "utf-8")
    policy = load_policy(tmp_path / "x.toml")
    sub = write_record_xlsx(tmp_path / "第1组.xlsx", rows())
    register = tmp_path / "总台账.xlsx"
    merge([sub], register, form, policy, now=NOW)
    header = [c.value for c in openpyxl.load_workbook(register)["总台账"][1]]
    assert "相似已解决" not in header
