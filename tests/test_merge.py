"""xlcheck merge on real workbooks: rejection, masking, IDs, updates with history, conflicts,
idempotence, formula-safe text, summary figures, the lock and an interrupted write."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import openpyxl
import pandas as pd
import pytest
from builders import cell_ref, record_row, record_rows, write_record_xlsx
from click.testing import CliRunner

from aftersales_xl.cli import cli
from aftersales_xl.errors import LockedError
from aftersales_xl.jobs.merge import MergeLock, merge

NOW = datetime(2024, 6, 3, 9, 0)


def sheet_rows(path, sheet="总台账"):
    """A sheet as a list of dicts keyed by its header row (read back with openpyxl)."""
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def do_merge(files, register, form, policy, **kw):
    return merge(files, register, form, policy, now=kw.pop("now", NOW), **kw)


@pytest.fixture
def register(tmp_path):
    return tmp_path / "总台账.xlsx"


def test_first_merge_creates_the_register(tmp_path, register, form, policy):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(3))
    b = write_record_xlsx(tmp_path / "b.xlsx", record_rows(2, start=datetime(2024, 5, 22, 10, 0)))
    result = do_merge([a, b], register, form, policy)
    assert (result.added, result.rejected_rows, result.exit_code) == (5, 0, 0)

    wb = openpyxl.load_workbook(register)
    assert wb.sheetnames[0] == "总台账"
    header = [c.value for c in wb["总台账"][1]]
    assert header[: len(form.fields)] == [f.label for f in form.fields]
    assert header[-3:] == ["来源文件", "来源行", "合并时间"]
    rows = sheet_rows(register)
    assert [r["问题编号"] for r in rows] == [
        "FW20240521001",
        "FW20240521002",
        "FW20240521003",
        "FW20240522001",
        "FW20240522002",
    ]
    assert [(r["来源文件"], r["来源行"]) for r in rows] == [
        ("a.xlsx", 2),
        ("a.xlsx", 3),
        ("a.xlsx", 4),
        ("b.xlsx", 2),
        ("b.xlsx", 3),
    ]
    assert all(r["合并时间"] == NOW for r in rows)
    assert isinstance(rows[0]["问题发生时间"], datetime)


def test_rows_with_errors_go_to_the_fix_list_and_annotated_copies(tmp_path, register, form, policy):
    rows = record_rows(3)
    rows[1]["severity"] = "P5"
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    checked = tmp_path / "checked"
    result = do_merge([a], register, form, policy, annotate_dir=checked)
    assert (result.added, result.rejected_rows, result.exit_code) == (2, 1, 1)
    assert len(sheet_rows(register)) == 2
    (fix,) = sheet_rows(register, "待修正")
    assert fix["来源文件"] == "a.xlsx" and fix["代码"] == "not-in-list"
    assert fix["单元格"] == f"问题记录表!{cell_ref('severity', 1)}"
    assert (checked / "a.checked.xlsx").is_file()


def test_contacts_are_masked_and_never_stored_raw(tmp_path, register, form, policy):
    rows = record_rows(2)
    rows[0].update(
        contact_name="张三丰",
        contact="13800138000",
        description="客户说打 13912345678 或写信 zhang.san@example.com",
    )
    rows[1].update(contact=13800138001)  # a phone typed as a number
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    result = do_merge([a], register, form, policy)
    assert result.added == 2 and result.rejected_rows == 0
    assert result.masked["contact"] == 2 and result.masked["contact_name"] == 1
    assert result.masked["description"] == 1
    stored = sheet_rows(register)
    assert stored[0]["联系人"] == "张**" and stored[0]["联系方式"] == "****8000"
    assert stored[1]["联系方式"] == "****8001"
    wb = openpyxl.load_workbook(register)
    everything = json.dumps(
        [[c.value for row in ws.iter_rows() for c in row] for ws in wb],
        ensure_ascii=False,
        default=str,
    )
    for secret in ("13800138000", "13800138001", "张三丰", "13912345678", "zhang.san"):
        assert secret not in everything


def test_ids_continue_the_registers_sequences(tmp_path, register, form, policy):
    first = write_record_xlsx(tmp_path / "w1.xlsx", [record_row(record_id="FW20240521007")])
    do_merge([first], register, form, policy)
    second = write_record_xlsx(
        tmp_path / "w2.xlsx", record_rows(2, start=datetime(2024, 5, 21, 15, 0))
    )
    result = do_merge([second], register, form, policy)
    assert result.assigned == 2
    assert [r["问题编号"] for r in sheet_rows(register)] == [
        "FW20240521007",
        "FW20240521008",
        "FW20240521009",
    ]


def test_changed_record_replaces_old_version_which_goes_to_history(
    tmp_path, register, form, policy
):
    open_row = record_row(
        status="处理中", solution=None, resolved_at=None, satisfaction=None, analysis=None
    )
    do_merge([write_record_xlsx(tmp_path / "mon.xlsx", [open_row])], register, form, policy)
    # Friday: the same problem resubmitted without its ID, now resolved
    fri = write_record_xlsx(tmp_path / "fri.xlsx", [record_row()])
    result = do_merge([fri], register, form, policy, now=datetime(2024, 6, 7, 17, 0))
    assert (result.added, result.updated) == (0, 1)
    (row,) = sheet_rows(register)
    assert row["问题编号"] == "FW20240521001" and row["处理进度"] == "已解决"
    assert row["来源文件"] == "fri.xlsx"
    (old,) = sheet_rows(register, "变更记录")
    assert old["问题编号"] == "FW20240521001" and old["处理进度"] == "处理中"
    assert old["来源文件"] == "mon.xlsx" and old["变更来源"] == "fri.xlsx"
    assert "处理进度" in old["变更字段"]


def test_same_id_with_different_content_in_one_run_is_a_conflict(tmp_path, register, form, policy):
    a = write_record_xlsx(
        tmp_path / "a.xlsx", [record_row(record_id="FW20240521001", owner="王工")]
    )
    b = write_record_xlsx(
        tmp_path / "b.xlsx", [record_row(record_id="FW20240521001", owner="李工")]
    )
    c = write_record_xlsx(tmp_path / "c.xlsx", [record_row(record_id="FW20240521002")])
    result = do_merge([a, b, c], register, form, policy)
    assert (result.added, result.conflicts, result.exit_code) == (1, 2, 1)
    assert [r["问题编号"] for r in sheet_rows(register)] == ["FW20240521002"]
    fixes = sheet_rows(register, "待修正")
    assert [(f["来源文件"], f["代码"], f["列"]) for f in fixes] == [
        ("a.xlsx", "conflict", "处理负责人"),
        ("b.xlsx", "conflict", "处理负责人"),
    ]


def test_identical_copies_from_two_files_merge_once(tmp_path, register, form, policy):
    row = record_row(record_id="FW20240521001")
    a = write_record_xlsx(tmp_path / "a.xlsx", [row])
    b = write_record_xlsx(tmp_path / "b.xlsx", [row])
    result = do_merge([a, b], register, form, policy)
    assert (result.added, result.conflicts) == (1, 0)


def test_merging_twice_leaves_the_register_unchanged(tmp_path, register, form, policy):
    rows = record_rows(4)
    rows[2].update(status="处理中", resolved_at=None, satisfaction=None, solution=None)
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    b = write_record_xlsx(tmp_path / "b.xlsx", record_rows(3, start=datetime(2024, 5, 25, 8, 0)))
    do_merge([a, b], register, form, policy)
    first = openpyxl.load_workbook(register)["总台账"]
    before = [[c.value for c in row] for row in first.iter_rows()]
    result = do_merge([a, b], register, form, policy)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 7)
    after = [
        [c.value for c in row] for row in openpyxl.load_workbook(register)["总台账"].iter_rows()
    ]
    assert after == before


def test_formula_like_text_stays_text(tmp_path, register, form, policy):
    rows = record_rows(4)
    rows[0]["description"] = "=1+1"
    rows[1]["description"] = '＝HYPERLINK("http://evil")'
    rows[2]["remarks"] = "@SUM(A1)"
    rows[3]["feedback"] = "https://example.com/form"
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    do_merge([a], register, form, policy)
    wb = openpyxl.load_workbook(register)
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula"
                assert c.hyperlink is None
    stored = sheet_rows(register)
    assert stored[0]["问题描述"] == "=1+1" and stored[2]["备注"] == "@SUM(A1)"


def test_summary_counts_match_an_independent_computation(tmp_path, register, form, policy):
    types = ["技术故障", "功能咨询", "技术故障", "退换货", "技术故障", "功能咨询"]
    rows = [dict(r, problem_type=t) for r, t in zip(record_rows(len(types)), types, strict=True)]
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", rows)], register, form, policy)
    expected = pd.Series(types).value_counts().to_dict()
    ws = openpyxl.load_workbook(register)["分类统计"]
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    found = {r[0]: r[1] for r in cells if r and r[0] in expected}
    assert found == expected


def test_a_running_merge_blocks_another(tmp_path, register, form, policy):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    with MergeLock(register), pytest.raises(LockedError, match="另一个合并正在进行"):
        do_merge([a], register, form, policy)
    res = CliRunner().invoke(cli, ["merge", str(a), "--register", str(register)])
    assert res.exit_code == 0  # the lock is gone once the first merge ends
    with MergeLock(register):
        res = CliRunner().invoke(cli, ["merge", str(a), "--register", str(register)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_interrupted_write_leaves_the_old_register_intact(
    tmp_path, register, form, policy, monkeypatch
):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(2))
    do_merge([a], register, form, policy)
    digest = hashlib.sha256(register.read_bytes()).hexdigest()
    b = write_record_xlsx(tmp_path / "b.xlsx", record_rows(2, start=datetime(2024, 5, 28, 9, 0)))

    import aftersales_xl.writing.fileio as fileio

    def boom(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", boom)
    with pytest.raises(Exception):  # noqa: B017 - any failure, as long as nothing is lost
        do_merge([b], register, form, policy)
    monkeypatch.undo()
    assert hashlib.sha256(register.read_bytes()).hexdigest() == digest
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and "tmp" in p.name]
    assert not (tmp_path / f".{register.name}.lock").exists()


def test_backups_are_kept_and_rotated(tmp_path, register, form, policy):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    for i in range(4):
        result = do_merge([a], register, form, policy, keep=2, now=datetime(2024, 6, 3, 9, i))
    assert result.backup is not None and result.backup.is_file()
    assert len(list(tmp_path.glob("总台账.bak-*.xlsx"))) == 2


def test_a_failed_write_costs_no_old_backup(tmp_path, register, form, policy, monkeypatch):
    import aftersales_xl.jobs.merge as merge_module

    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    for i in range(3):
        do_merge([a], register, form, policy, keep=2, now=datetime(2024, 6, 3, 9, i))
    before = sorted(tmp_path.glob("总台账.bak-*.xlsx"))
    assert len(before) == 2

    def disk_full(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(merge_module, "write_register", disk_full)
    with pytest.raises(OSError):
        do_merge([a], register, form, policy, keep=2, now=datetime(2024, 6, 3, 9, 10))
    monkeypatch.undo()
    after = sorted(tmp_path.glob("总台账.bak-*.xlsx"))
    assert set(before) <= set(after)  # the two older versions are still there
    do_merge([a], register, form, policy, keep=2, now=datetime(2024, 6, 3, 9, 20))
    assert len(list(tmp_path.glob("总台账.bak-*.xlsx"))) == 2  # pruned once a write succeeded


def test_cli_merge_unreadable_submission_exit_2_others_merged(tmp_path, register):
    good = write_record_xlsx(tmp_path / "good.xlsx", record_rows(2))
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    res = CliRunner().invoke(
        cli, ["merge", str(good), str(bad), "--register", str(register), "--format", "json"]
    )
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["added"] == 2 and doc["total"] == 2
    assert len(sheet_rows(register)) == 2
    assert [f["来源文件"] for f in sheet_rows(register, "待修正")] == ["bad.xlsx"]


def test_an_id_belonging_to_another_record_never_overwrites_it(tmp_path, register, form, policy):
    mine = record_row(record_id="FW20240521001", customer="甲公司/C0001")
    do_merge([write_record_xlsx(tmp_path / "wk1.xlsx", [mine])], register, form, policy)
    # numbered elsewhere without the register: another customer's problem got the same ID
    other = record_row(
        record_id="FW20240521001",
        customer="乙公司/C0002",
        occurred_at=datetime(2024, 5, 21, 15, 0),
        received_at=datetime(2024, 5, 21, 15, 5),
        resolved_at=datetime(2024, 5, 21, 16, 0),
    )
    result = do_merge([write_record_xlsx(tmp_path / "wk2.xlsx", [other])], register, form, policy)
    assert (result.updated, result.rejected_rows, result.exit_code) == (0, 1, 1)
    (row,) = sheet_rows(register)
    assert row["客户名称/编号"] == "甲公司/C0001"
    (fix,) = sheet_rows(register, "待修正")
    assert fix["代码"] == "duplicate-id" and fix["来源文件"] == "wk2.xlsx"


def test_two_records_with_the_same_natural_key_and_their_own_ids_stay_two_across_merges(
    tmp_path, register, form, policy
):
    rows = [  # same customer, time, description; told apart by their IDs
        record_row(record_id="FW20240521001", owner="王工"),
        record_row(record_id="FW20240521002", owner="李工"),
    ]
    path = write_record_xlsx(tmp_path / "nk.xlsx", rows)
    first = do_merge([path], register, form, policy)
    assert first.added == 2
    before = [[c.value for c in r] for r in openpyxl.load_workbook(register)["总台账"].iter_rows()]
    second = do_merge([path], register, form, policy)
    assert (second.added, second.updated, second.conflicts, second.unchanged) == (0, 0, 0, 2)
    after = [[c.value for c in r] for r in openpyxl.load_workbook(register)["总台账"].iter_rows()]
    assert after == before


def test_sorting_the_register_never_swaps_records_sharing_a_natural_key(
    tmp_path, register, form, policy
):
    rows = [
        record_row(record_id="FW20240521001", module="登录模块", owner="王工"),
        record_row(record_id="FW20240521002", module="支付模块", owner="李工"),
    ]
    do_merge([write_record_xlsx(tmp_path / "ids.xlsx", rows)], register, form, policy)
    wb = openpyxl.load_workbook(register)  # the supervisor sorts 总台账 Z→A
    ws = wb["总台账"]
    first, second = ([c.value for c in ws[n]] for n in (2, 3))
    for col, (a, b) in enumerate(zip(first, second, strict=True), start=1):
        ws.cell(2, col).value, ws.cell(3, col).value = b, a
    wb.save(register)
    # the same two problems sent again without their IDs
    again = write_record_xlsx(tmp_path / "again.xlsx", [dict(r, record_id=None) for r in rows])
    result = do_merge([again], register, form, policy)
    assert (result.updated, result.unchanged, result.conflicts) == (0, 2, 0)
    stored = {r["问题编号"]: (r["产品/服务模块"], r["处理负责人"]) for r in sheet_rows(register)}
    assert stored == {"FW20240521001": ("登录模块", "王工"), "FW20240521002": ("支付模块", "李工")}
    assert sheet_rows(register, "变更记录") == []


def test_rows_without_id_sharing_a_natural_key_are_one_record(tmp_path, register, form, policy):
    rows = record_rows(2)
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    b = write_record_xlsx(tmp_path / "b.xlsx", rows)  # the same two problems, also without IDs
    twice = write_record_xlsx(tmp_path / "twice.xlsx", [rows[0], rows[0]])
    result = do_merge([a, b, twice], register, form, policy)
    assert (result.added, result.assigned, result.conflicts, result.exit_code) == (2, 2, 0, 0)
    assert [r["问题编号"] for r in sheet_rows(register)] == ["FW20240521001", "FW20240521002"]
    again = do_merge([a, b, twice], register, form, policy)
    assert (again.added, again.updated, again.assigned, again.unchanged) == (0, 0, 0, 2)


def test_new_rows_without_id_sharing_a_key_but_differing_conflict(tmp_path, register, form, policy):
    row = record_row()
    a = write_record_xlsx(tmp_path / "a.xlsx", [row, *record_rows(1, start=datetime(2024, 5, 22))])
    b = write_record_xlsx(tmp_path / "b.xlsx", [dict(row, owner="李工")])
    result = do_merge([a, b], register, form, policy)
    assert (result.added, result.conflicts, result.assigned) == (1, 2, 1)
    fixes = sheet_rows(register, "待修正")
    assert [(f["来源文件"], f["列"]) for f in fixes] == [
        ("a.xlsx", "处理负责人"),
        ("b.xlsx", "处理负责人"),
    ]
    assert "FW" not in fixes[0]["说明"] and "问题发生时间" in fixes[0]["说明"]
    again = do_merge([a, b], register, form, policy)
    assert (again.added, again.conflicts, again.assigned) == (0, 2, 0)
    assert sheet_rows(register, "待修正") == fixes


def test_a_row_without_id_joins_the_row_of_the_run_that_gives_one(tmp_path, register, form, policy):
    row = record_row()
    numbered = write_record_xlsx(tmp_path / "a.xlsx", [dict(row, record_id="FW20240521005")])
    blank = write_record_xlsx(tmp_path / "b.xlsx", [row])
    result = do_merge([numbered, blank], register, form, policy)
    assert (result.added, result.assigned, result.conflicts) == (1, 0, 0)
    assert [r["问题编号"] for r in sheet_rows(register)] == ["FW20240521005"]


def test_a_row_without_id_follows_an_update_that_gives_the_register_id(
    tmp_path, register, form, policy
):
    row = record_row()
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", [row])], register, form, policy)
    reworded = dict(row, description="登录提示账号锁定（已核实）")
    numbered = write_record_xlsx(tmp_path / "b.xlsx", [dict(reworded, record_id="FW20240521001")])
    blank = write_record_xlsx(tmp_path / "c.xlsx", [reworded])
    result = do_merge([numbered, blank], register, form, policy)
    assert (result.added, result.updated, result.conflicts) == (0, 1, 0)
    assert [r["问题描述"] for r in sheet_rows(register)] == ["登录提示账号锁定（已核实）"]


def test_status_updates_without_id_from_two_files_resolve_to_the_register_record(
    tmp_path, register, form, policy
):
    base = record_rows(2)
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", base)], register, form, policy)
    # two people re-send record 1 without its ID: one unchanged, one closed it
    same = write_record_xlsx(tmp_path / "c.xlsx", [base[0]])
    closed = write_record_xlsx(tmp_path / "e.xlsx", [dict(base[0], status="已关闭")])
    result = do_merge([same, closed], register, form, policy)
    assert (result.added, result.updated, result.conflicts, result.exit_code) == (0, 0, 2, 1)
    assert [(r["问题编号"], r["处理进度"]) for r in sheet_rows(register)] == [
        ("FW20240521001", "已解决"),
        ("FW20240521002", "已解决"),
    ]
    fixes = sheet_rows(register, "待修正")
    assert [(f["来源文件"], f["列"], f["代码"]) for f in fixes] == [
        ("c.xlsx", "处理进度", "conflict"),
        ("e.xlsx", "处理进度", "conflict"),
    ]
    assert all("FW20240521001" in f["说明"] and "问题描述" in f["说明"] for f in fixes)
    # both send the update: it lands on the register's record, once
    closed2 = write_record_xlsx(tmp_path / "f.xlsx", [dict(base[0], status="已关闭")])
    result = do_merge([closed, closed2], register, form, policy)
    assert (result.added, result.updated, result.conflicts) == (0, 1, 0)
    assert [(r["问题编号"], r["处理进度"]) for r in sheet_rows(register)][0] == (
        "FW20240521001",
        "已关闭",
    )


def test_a_conflict_lists_every_version(tmp_path, register, form, policy):
    row = record_row(record_id="FW20240521001")
    a = write_record_xlsx(tmp_path / "A.xlsx", [row])
    b = write_record_xlsx(tmp_path / "B.xlsx", [row])
    c = write_record_xlsx(tmp_path / "C.xlsx", [dict(row, status="已关闭")])
    result = do_merge([a, b, c], register, form, policy)
    assert (result.added, result.conflicts) == (0, 3)
    fixes = sheet_rows(register, "待修正")
    assert [(f["来源文件"], f["列"]) for f in fixes] == [
        ("A.xlsx", "处理进度"),
        ("B.xlsx", "处理进度"),
        ("C.xlsx", "处理进度"),
    ]
    assert "A.xlsx、B.xlsx、C.xlsx" in fixes[0]["说明"] and "3 个" in fixes[0]["说明"]


def test_the_readme_job_on_the_samples_is_idempotent(tmp_path, samples_dir, form, policy):
    register = tmp_path / "out" / "总台账.xlsx"
    first = do_merge([samples_dir], register, form, policy)
    before = [[c.value for c in r] for r in openpyxl.load_workbook(register)["总台账"].iter_rows()]
    second = do_merge([samples_dir], register, form, policy)
    assert (second.added, second.updated) == (0, 0)
    assert second.conflicts == first.conflicts and second.unchanged == first.added
    after = [[c.value for c in r] for r in openpyxl.load_workbook(register)["总台账"].iter_rows()]
    assert after == before


def test_a_register_kept_among_the_submissions_is_not_merged_into_itself(tmp_path, form, policy):
    folder = tmp_path / "sub"
    folder.mkdir()
    write_record_xlsx(folder / "a.xlsx", record_rows(2))
    register = folder / "总台账.xlsx"
    do_merge([folder], register, form, policy)
    result = do_merge([folder], register, form, policy)
    assert result.files == 1 and (result.added, result.conflicts) == (0, 0)


def test_a_register_edited_by_hand_in_excel_still_merges(tmp_path, register, form, policy):
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", record_rows(2))], register, form, policy)
    wb = openpyxl.load_workbook(register)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    ws.cell(
        row=2, column=header.index("解决时间") + 1, value="2024年5月21日 11:00"
    )  # typed as text
    wb.save(register)
    result = do_merge(
        [write_record_xlsx(tmp_path / "b.xlsx", record_rows(1, start=datetime(2024, 5, 30)))],
        register,
        form,
        policy,
    )
    assert result.exit_code == 0 and result.total == 3
    assert sheet_rows(register)[0]["解决时间"] == datetime(2024, 5, 21, 11, 0)


def _edit_register(register, edit):
    """Open 总台账 with openpyxl as a supervisor would, apply ``edit(ws, col)``, save."""
    wb = openpyxl.load_workbook(register)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    edit(ws, lambda label: header.index(label) + 1 if label in header else len(header) + 1)
    wb.save(register)
    return wb


def test_columns_added_by_hand_to_the_register_are_kept(tmp_path, register, form, policy):
    rows = record_rows(3)
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    do_merge([a], register, form, policy)

    def edit(ws, col):
        end = ws.max_column
        for offset, label in enumerate(("主管备注", "回访日期", "回访次数")):
            ws.cell(1, end + 1 + offset, label)
        ws.cell(3, end + 1, "@主管 已电话回访")  # record 2, text that looks like a formula
        ws.cell(3, end + 2, datetime(2024, 5, 30)).number_format = "yyyy-mm-dd"
        ws.cell(3, end + 3, 2)
        ws.cell(4, end + 1, "下周复查")  # record 3

    _edit_register(register, edit)
    # record 2 is updated, record 3 unchanged, a new record arrives
    rows[1].update(remarks="已复核")
    b = write_record_xlsx(tmp_path / "b.xlsx", rows + record_rows(1, start=datetime(2024, 5, 28)))
    result = do_merge([b], register, form, policy)
    assert (result.added, result.updated, result.unchanged) == (1, 1, 2)
    wb = openpyxl.load_workbook(register)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    assert header[-6:] == ["来源文件", "来源行", "合并时间", "主管备注", "回访日期", "回访次数"]
    stored = {r["问题编号"]: r for r in sheet_rows(register)}
    assert stored["FW20240521002"]["备注"] == "已复核"
    assert stored["FW20240521002"]["主管备注"] == "@主管 已电话回访"
    assert stored["FW20240521002"]["回访日期"] == datetime(2024, 5, 30)
    assert stored["FW20240521002"]["回访次数"] == 2
    assert stored["FW20240521003"]["主管备注"] == "下周复查"
    assert stored["FW20240528001"]["主管备注"] is None
    row2 = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "FW20240521002")
    note, day, count = row2[-3:]
    assert note.data_type == "s" and note.quotePrefix  # text, never a formula
    assert day.is_date and count.data_type == "n"
    # and a second identical merge changes nothing
    before = [[c.value for c in r] for r in ws.iter_rows()]
    do_merge([b], register, form, policy)
    after = [[c.value for c in r] for r in openpyxl.load_workbook(register)["总台账"].iter_rows()]
    assert after == before


def test_contact_data_typed_into_the_register_by_hand_is_masked(tmp_path, register, form, policy):
    rows = record_rows(2)
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    do_merge([a], register, form, policy)
    # an update puts record 1 into 变更记录; then the supervisor types contacts into both sheets
    do_merge(
        [write_record_xlsx(tmp_path / "b.xlsx", [dict(rows[0], remarks="复核")])],
        register,
        form,
        policy,
    )

    def edit(ws, col):
        ws.cell(2, col("联系人"), "王小明")
        ws.cell(2, col("联系方式"), 13912345678)
        ws.cell(3, col("客户反馈"), "请回电13912345678")
        ws.cell(1, col("主管备注"), "主管备注")
        ws.cell(3, col("主管备注"), "邮箱 wang.xm@corp.cn")

    wb = _edit_register(register, edit)
    history = wb["变更记录"]
    header = [c.value for c in history[1]]
    history.cell(2, header.index("联系方式") + 1, "13812345679")
    wb.save(register)

    c = write_record_xlsx(tmp_path / "c.xlsx", record_rows(1, start=datetime(2024, 5, 28)))
    result = do_merge([c], register, form, policy)
    assert result.masked_in_register == {
        "contact_name": 1,
        "contact": 2,
        "feedback": 1,
        "主管备注": 1,
    }
    assert any("5 处" in n for n in result.notes)
    everything = json.dumps(
        [
            [c.value for row in ws.iter_rows() for c in row]
            for ws in openpyxl.load_workbook(register)
        ],
        ensure_ascii=False,
        default=str,
    )
    for secret in ("王小明", "13912345678", "wang.xm", "13812345679"):
        assert secret not in everything
    stored = sheet_rows(register)
    assert stored[0]["联系方式"] == "****5678" and stored[0]["联系人"] == "王**"


def test_hand_edits_to_the_register_read_like_a_submission(tmp_path, register, form, policy):
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", record_rows(2))], register, form, policy)

    def edit(ws, col):
        ws.cell(2, col("客户满意度"), "4分")  # typed as text, as staff do
        ws.cell(3, col("问题编号"), " FW20240521002 ")
        new = ws.max_row + 1  # a phone-in problem added by hand, without ID
        for label, value in {
            "客户名称/编号": "手工客户/C0100",
            "问题发生时间": datetime(2024, 5, 20, 8, 0),
            "接收时间": datetime(2024, 5, 20, 9, 0),
            "问题描述": "电话里说的",
            "严重程度": "P2",
            "处理进度": "处理中",
        }.items():
            ws.cell(new, col(label), value)

    _edit_register(register, edit)
    b = write_record_xlsx(
        tmp_path / "b.xlsx",
        [
            record_row(
                record_id="FW20240520001",
                customer="乙/C0200",
                occurred_at=datetime(2024, 5, 20, 7, 0),
                received_at=datetime(2024, 5, 20, 7, 30),
                resolved_at=datetime(2024, 5, 20, 8, 0),
            )
        ],
    )
    result = do_merge([b], register, form, policy)
    assert result.exit_code == 0 and result.total == 4
    stored = sheet_rows(register)
    assert [r["问题编号"] for r in stored] == [
        "FW20240521001",
        "FW20240521002",
        "FW20240520002",  # numbered after the submitted FW20240520001
        "FW20240520001",
    ]
    assert stored[0]["客户满意度"] == 4
    assert any("1 条" in n and "已编号" in n for n in result.notes)


def test_a_lock_left_by_a_killed_merge_is_removed(tmp_path, register, form, policy):
    import os
    import socket
    import subprocess
    import sys

    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    do_merge([a], register, form, policy)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / f".{register.name}.lock"
    lock.write_text(f"pid {dead.pid} host {socket.gethostname()} at 2024-06-03T09:00:00\n")
    leftovers = [
        tmp_path / f".{register.name}.k1x2.tmp",
        tmp_path / ".总台账.bak-20240603-090000.xlsx.q9.tmp",
    ]
    for p in leftovers:
        p.write_bytes(b"")
        os.utime(p, (1_700_000_000, 1_700_000_000))
    other = tmp_path / ".other.xlsx.k1x2.tmp"
    other.write_bytes(b"")
    os.utime(other, (1_700_000_000, 1_700_000_000))
    told: list[str] = []
    result = do_merge([a], register, form, policy, notify=told.append)
    assert result.unchanged == 1 and not lock.exists()
    assert len(told) == 1 and str(dead.pid) in told[0] and lock.name in told[0]
    assert not any(p.exists() for p in leftovers) and other.exists()
    # the CLI says it on stderr, in one line
    lock.write_text(f"pid {dead.pid} host {socket.gethostname()} at 2024-06-03T09:00:00\n")
    res = CliRunner().invoke(cli, ["merge", str(a), "--register", str(register)])
    assert res.exit_code == 0 and res.stderr.count("\n") == 1 and lock.name in res.stderr


def test_a_lock_of_a_running_or_remote_merge_is_respected(tmp_path, register, form, policy):
    import os

    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    lock = tmp_path / f".{register.name}.lock"
    for text in (f"pid {os.getpid()} at 2024-06-03T09:00:00\n", "pid 1 host other-pc at x\n"):
        lock.write_text(text)
        with pytest.raises(LockedError, match="另一个合并正在进行"):
            do_merge([a], register, form, policy)
        assert lock.read_text() == text


def test_cli_register_under_a_file_is_one_plain_line(tmp_path):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    res = CliRunner().invoke(cli, ["merge", str(a), "--register", str(a / "R.xlsx")])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "internal error" not in res.stderr
    assert "--register" in res.stderr


def test_cli_the_register_is_not_a_submission(tmp_path, register):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    CliRunner().invoke(cli, ["merge", str(a), "--register", str(register)])
    res = CliRunner().invoke(cli, ["merge", str(register), "--register", str(register)])
    assert res.exit_code == 2 and "不是提交文件" in res.stderr and "没有可合并" in res.stderr
    res = CliRunner().invoke(cli, ["merge", str(register), str(a), "--register", str(register)])
    assert res.exit_code == 0 and "总台账本身" in res.stdout


def test_another_register_among_the_submissions_is_skipped(tmp_path, form, policy):
    import shutil

    folder = tmp_path / "sub"
    folder.mkdir()
    write_record_xlsx(folder / "a.xlsx", record_rows(2))
    register = tmp_path / "总台账.xlsx"
    do_merge([folder], register, form, policy)
    shutil.copy(register, folder / "上月总台账.xlsx")  # an old register kept with the submissions
    result = do_merge([folder], register, form, policy)
    assert (result.files, result.added, result.unchanged, result.conflicts) == (1, 0, 2, 0)
    assert any("上月总台账.xlsx" in n and "总台账" in n for n in result.notes)


def test_a_column_added_by_hand_under_a_field_alias_stays_a_column_of_its_own(
    tmp_path, register, form, policy
):
    rows = record_rows(3, status="处理中", resolved_at=None, satisfaction=None, solution=None)
    rows[0]["contact"] = "****8000"
    a = write_record_xlsx(tmp_path / "a.xlsx", rows)
    do_merge([a], register, form, policy)
    wb = openpyxl.load_workbook(register)
    ws = wb["总台账"]
    # columns inserted before 联系方式, 问题描述 and 处理进度, under aliases of those fields
    for label, alias, value in (
        ("处理进度", "状态", "待回访"),
        ("问题描述", "描述", "客户口述"),
        ("联系方式", "电话", "回访过"),
    ):
        at = [c.value for c in ws[1]].index(label) + 1
        ws.insert_cols(at)
        ws.cell(1, at, alias)
        ws.cell(2, at, value)
    wb.save(register)

    result = do_merge([a], register, form, policy)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 3)
    header = [c.value for c in openpyxl.load_workbook(register)["总台账"][1]]
    assert header[: len(form.fields)] == [f.label for f in form.fields]
    assert header[len(header) - 3 :] == ["电话", "描述", "状态"]
    first = sheet_rows(register)[0]
    assert (first["联系方式"], first["问题描述"], first["处理进度"]) == (
        "****8000",
        rows[0]["description"],
        "处理中",
    )
    assert (first["电话"], first["描述"], first["状态"]) == ("回访过", "客户口述", "待回访")
    # the natural key still holds: the same rows merged again are the same records
    again = do_merge([a], register, form, policy)
    assert (again.added, again.unchanged, again.total) == (0, 3, 3)


def test_a_submission_with_a_sheet_named_like_the_register_is_merged(
    tmp_path, register, form, policy
):
    a = write_record_xlsx(
        tmp_path / "a.xlsx", record_rows(2), extra_sheets={"总台账": [["月份", "数量"], ["5月", 2]]}
    )
    result = do_merge([a], register, form, policy)
    assert (result.files, result.added, result.exit_code) == (1, 2, 0)
    assert not result.skipped


def test_another_register_skipped_sets_exit_1_and_is_named(tmp_path, form, policy):
    folder = tmp_path / "sub"
    folder.mkdir()
    write_record_xlsx(folder / "a.xlsx", record_rows(2))
    register = tmp_path / "总台账.xlsx"
    do_merge([folder], register, form, policy)
    old = openpyxl.load_workbook(register)  # an old register saved again, sheets trimmed:
    del old["待修正"], old["变更记录"]  # the document property still tells it apart
    old.save(folder / "五月总台账.xlsx")
    res = CliRunner().invoke(cli, ["merge", str(folder), "--register", str(register)])
    assert res.exit_code == 1 and "五月总台账.xlsx" in res.stdout and "未合并" in res.stdout
    result = do_merge([folder], register, form, policy)
    assert result.skipped == ["五月总台账.xlsx"] and result.to_dict()["skipped"] == result.skipped


def test_cli_merge_shows_file_notes_and_exit_2_when_an_annotated_copy_fails(tmp_path, register):
    rows = record_rows(2)
    rows[1]["severity"] = "P5"
    sub = write_record_xlsx(tmp_path / "张13800138000.xlsx", rows)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the copies' folder should be")
    res = CliRunner().invoke(
        cli, ["merge", str(sub), "--register", str(register), "--annotate", str(blocker / "out")]
    )
    assert res.exit_code == 2
    assert "文件名中含有手机号或邮箱" in res.stdout  # the file's own notes are shown
    assert "批注副本未能写出" in res.stdout
    assert "13800138000" not in res.stdout + res.stderr
    assert len(sheet_rows(register)) == 1  # the good row was merged all the same


def test_ids_equal_by_period_and_sequence_are_one_record(tmp_path, register, form, policy):
    rows = record_rows(2)
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", rows)], register, form, policy)
    # the second record resubmitted with its ID written with one zero more, now changed;
    # a new record arrives as FW2024052200007 from two files
    (new,) = record_rows(1, start=datetime(2024, 5, 22, 8, 0), customer="新客户/C0300")
    b = write_record_xlsx(
        tmp_path / "b.xlsx",
        [
            dict(rows[1], record_id="FW202405210002", remarks="已复核"),
            dict(new, record_id="FW2024052200007"),
        ],
    )
    c = write_record_xlsx(tmp_path / "c.xlsx", [dict(new, record_id="FW20240522007")])
    result = do_merge([b, c], register, form, policy)
    assert (result.added, result.updated, result.conflicts) == (1, 1, 0)
    stored = sheet_rows(register)
    assert [r["问题编号"] for r in stored] == ["FW20240521001", "FW20240521002", "FW20240522007"]
    assert stored[1]["备注"] == "已复核"
    again = do_merge([b, c], register, form, policy)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


def test_files_whose_masked_names_coincide_stay_apart(tmp_path, register, form, policy):
    folder = tmp_path / "in"
    folder.mkdir()
    write_record_xlsx(folder / "张13800138000.xlsx", record_rows(2))
    write_record_xlsx(folder / "张13900008000.xlsx", record_rows(2, customer="另一家/C0900"))
    result = do_merge([folder], register, form, policy)
    assert (result.added, result.conflicts, result.assigned) == (4, 0, 4)
    stored = sheet_rows(register)
    assert len({r["问题编号"] for r in stored}) == 4
    assert sorted({r["来源文件"] for r in stored}) == ["张****8000.xlsx", "张****8000.xlsx (2)"]
    from aftersales_xl.reports.render import render_merge

    lines = render_merge(result).splitlines()
    heads = [line.split(":")[0] for line in lines if "条记录" in line and not line.startswith(" ")]
    assert [h.rsplit("/", 1)[-1] for h in heads] == ["张****8000.xlsx", "张****8000.xlsx (2)"]


def test_a_hand_added_header_with_a_phone_is_masked(tmp_path, register, form, policy):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(2))
    do_merge([a], register, form, policy)

    def edit(ws, col):
        ws.cell(1, col("x"), "回访 13912345678")
        ws.cell(2, col("x"), "已回访，客户留了 13712345678")

    _edit_register(register, edit)
    result = do_merge([a], register, form, policy)
    assert result.masked_in_register == {"回访 ****5678": 1}
    out = json.dumps(result.to_dict(), ensure_ascii=False, default=str)
    book = openpyxl.load_workbook(register)
    cells = json.dumps(
        [[c.value for row in ws.iter_rows() for c in row] for ws in book],
        ensure_ascii=False,
        default=str,
    )
    for secret in ("13912345678", "13712345678"):
        assert secret not in out and secret not in cells
    assert "回访 ****5678" in [c.value for c in book["总台账"][1]]


def test_hand_added_times_and_booleans_keep_their_type(tmp_path, register, form, policy):
    from datetime import time

    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(2))
    do_merge([a], register, form, policy)

    def edit(ws, col):
        at, done = col("回访时刻"), col("回访时刻") + 1
        ws.cell(1, at, "回访时刻")
        ws.cell(2, at, time(14, 30)).number_format = "hh:mm"
        ws.cell(1, done, "已回访")
        ws.cell(2, done, True)
        ws.cell(3, done, False)

    _edit_register(register, edit)
    for _ in range(2):
        do_merge([a], register, form, policy)
        ws = openpyxl.load_workbook(register)["总台账"]
        header = [c.value for c in ws[1]]
        at, done = header.index("回访时刻") + 1, header.index("已回访") + 1
        assert ws.cell(2, at).value == time(14, 30) and ws.cell(2, at).is_date
        assert ws.cell(2, at).number_format == "hh:mm"
        assert ws.cell(2, done).value is True and ws.cell(2, done).data_type == "b"
        assert ws.cell(3, done).value is False


def test_an_id_typed_twice_into_the_register_keeps_both_rows_and_says_so(
    tmp_path, register, form, policy
):
    rows = record_rows(2)
    do_merge([write_record_xlsx(tmp_path / "a.xlsx", rows)], register, form, policy)

    def edit(ws, col):
        copy = [c.value for c in ws[3]]  # FW20240521002 pasted again below, edited
        copy[col("备注") - 1] = "手工副本"
        ws.append(copy)

    _edit_register(register, edit)
    b = write_record_xlsx(
        tmp_path / "b.xlsx", [dict(rows[1], record_id="FW20240521002", owner="赵工")]
    )
    result = do_merge([b], register, form, policy)
    assert result.updated == 1 and result.total == 3
    (note,) = [n for n in result.notes if "FW20240521002" in n]
    assert "2 次" in note and "3、4" in note
    stored = sheet_rows(register)
    assert [r["问题编号"] for r in stored] == ["FW20240521001", "FW20240521002", "FW20240521002"]
    assert stored[1]["处理负责人"] == "赵工" and stored[2]["备注"] == "手工副本"


def test_an_empty_lock_left_behind_is_explained(tmp_path, register, form, policy):
    import os

    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1))
    lock = tmp_path / f".{register.name}.lock"
    lock.write_text("")
    os.utime(lock, (1_700_000_000, 1_700_000_000))
    told: list[str] = []
    do_merge([a], register, form, policy, notify=told.append)
    (line,) = told
    assert "锁文件为空" in line and "1 分钟" in line and "?" not in line


def test_a_bracketed_note_column_beside_a_field_stays_a_column_of_its_own(
    tmp_path, register, form, policy
):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(3))
    do_merge([a], register, form, policy)

    def edit(ws, col):
        ws.insert_cols(1)  # left of every form column
        ws.cell(1, 1, "备注（主管）")
        for r in (2, 3, 4):
            ws.cell(r, 1, f"主管意见{r}")

    _edit_register(register, edit)
    again = do_merge([a], register, form, policy)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    stored = sheet_rows(register)
    assert [r["备注（主管）"] for r in stored] == ["主管意见2", "主管意见3", "主管意见4"]
    header = [c.value for c in openpyxl.load_workbook(register)["总台账"][1]]
    assert header.count("备注") == 1


def test_a_phone_typed_into_the_register_id_column_is_masked(tmp_path, register, form, policy):
    a = write_record_xlsx(tmp_path / "a.xlsx", record_rows(3))
    do_merge([a], register, form, policy)

    def edit(ws, col):
        ws.cell(3, col("问题编号"), "13812345678")
        ws.cell(4, col("问题编号"), "13812345678")

    _edit_register(register, edit)
    b = write_record_xlsx(tmp_path / "b.xlsx", record_rows(1, start=datetime(2024, 5, 28)))
    res = CliRunner().invoke(
        cli, ["merge", str(b), "--register", str(register), "--format", "json"]
    )
    assert "13812345678" not in res.output
    ids = [r["问题编号"] for r in sheet_rows(register)]
    assert "13812345678" not in ids and len(ids) == 4  # every row kept
