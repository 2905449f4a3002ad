"""reports/render.py: the exact lines people read, for small hand-made reports and outcomes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from aftersales_xl.findings import FileReport, Report, make_finding
from aftersales_xl.jobs.assign_ids import IdChange, IdOutcome
from aftersales_xl.jobs.mask import MaskOutcome
from aftersales_xl.jobs.merge import MergeResult
from aftersales_xl.reports.render import (
    render_ids,
    render_json,
    render_mask,
    render_merge,
    render_text,
)


def _report(lang: str) -> Report:
    """One failed file (an error, a warning, a note, an annotated copy), one clean file, one
    unreadable file, and a note for the whole run."""
    sheet = "问题记录表"
    failed = FileReport(
        path="in/a.xlsx",
        rows=3,
        sheet=sheet,
        findings=[
            make_finding(
                "not-in-list",
                lang,
                sheet=sheet,
                cell="J3",
                row=3,
                column="严重程度",
                value="P5",
                allowed="P0/P1/P2/P3",
            ),
            make_finding(
                "sla-breach",
                lang,
                sheet=sheet,
                cell="L4",
                row=4,
                column="接收时间",
                kind="响应" if lang != "en" else "response",
                priority="P0",
                target="1h",
                actual="3h",
            ),
        ],
        notes=["宏未保留" if lang != "en" else "macros are not carried over"],
        annotated="out/a.checked.xlsx",
    )
    clean = FileReport(path="in/b.xlsx", rows=2, sheet=sheet)
    broken = FileReport(
        path="in/c.xlsx",
        rows=0,
        unreadable=True,
        findings=[make_finding("unreadable", lang, detail="c.xlsx 已损坏")],
    )
    return Report(files=[failed, clean, broken], notes=["2031 年没有法定节假日数据"])


def test_render_text_zh():
    assert render_text(_report("zh")).splitlines() == [
        "in/a.xlsx: 未通过 (3 条记录, 1 错误, 1 警告)",
        "  [错误] 问题记录表!J3 严重程度: “P5”不在可选值 P0/P1/P2/P3 中：请从下拉列表选择  (not-in-list)",
        "  [警告] 问题记录表!L4 接收时间: 响应超时：P0 目标 1h，实际 3h  (sla-breach)",
        "  * 宏未保留",
        "  → 已写出批注副本: out/a.checked.xlsx",
        "in/b.xlsx: 通过 (2 条记录)",
        "in/c.xlsx: 无法读取",
        "  [错误] 无法读取：c.xlsx 已损坏  (unreadable)",
        "共 3 个文件：1 个通过，2 个错误，1 个警告",
        "* 2031 年没有法定节假日数据",
    ]


def test_render_text_en():
    report = _report("en")
    report.files.append(FileReport(path="in/d.xlsx", rows=1))  # two valid files: plural
    assert render_text(report, "en").splitlines() == [
        "in/a.xlsx: FAILED (3 records, 1 errors, 1 warnings)",
        '  [error] 问题记录表!J3 严重程度: "P5" is not one of P0/P1/P2/P3: pick a value from the '
        "drop-down  (not-in-list)",
        "  [warning] 问题记录表!L4 接收时间: response missed its target: P0 target 1h, took 3h"
        "  (sla-breach)",
        "  * macros are not carried over",
        "  → annotated copy: out/a.checked.xlsx",
        "in/b.xlsx: OK (2 records)",
        "in/c.xlsx: UNREADABLE",
        "  [error] cannot be read: c.xlsx 已损坏  (unreadable)",
        "in/d.xlsx: OK (1 records)",
        "4 files: 2 valid, 2 errors, 1 warning",
        "* 2031 年没有法定节假日数据",
    ]


def test_render_text_en_summary_with_one_valid_file():
    assert render_text(_report("en"), "en").splitlines()[-2] == (
        "3 files: 1 valid, 2 errors, 1 warning"
    )


def test_render_text_of_an_empty_run():
    assert render_text(Report()) == "共 0 个文件：0 个通过，0 个错误，0 个警告"
    assert render_text(Report(), "en") == "0 files: 0 valid, 0 errors, 0 warnings"


def test_render_json_is_the_report_dict():
    report = _report("zh")
    assert json.loads(render_json(report)) == report.to_dict()
    assert "“P5”" in render_json(report)  # not \u-escaped


# -- merge ------------------------------------------------------------------------------------
def _merge_result(lang: str) -> MergeResult:
    report = Report(
        files=[
            FileReport(path="in/a.xlsx", rows=3),
            FileReport(
                path="in/b.xlsx",
                rows=2,
                findings=[
                    make_finding(
                        "not-in-list",
                        lang,
                        sheet="问题记录表",
                        cell="J3",
                        row=3,
                        value="P5",
                        allowed="P0/P1/P2/P3",
                    )
                ],
                notes=["note b"],
                annotated="out/b.checked.xlsx",
            ),
            FileReport(path="in/b.xlsx", rows=1),  # another file with the same (masked) name
            FileReport(
                path="in/c.xlsx",
                unreadable=True,
                findings=[make_finding("unreadable", lang, detail="c.xlsx 已损坏")],
            ),
        ]
    )
    return MergeResult(
        register=Path("reg/总台账.xlsx"),
        report=report,
        files=4,
        added=4,
        updated=1,
        unchanged=1,
        rejected_rows=1,
        conflicts=0,
        masked=Counter({"contact": 2, "description": 1}),
        assigned=4,
        total=10,
        backup=Path("reg/总台账.bak-20240601-090000.xlsx"),
        notes=["run note"],
    )


def test_render_merge_zh():
    assert render_merge(_merge_result("zh")).splitlines() == [
        "in/a.xlsx: 3 条记录",
        "in/b.xlsx: 2 条记录，1 个错误",
        "  * note b",
        "  → 批注副本（需改正后重新提交的行）：out/b.checked.xlsx",
        "in/b.xlsx (2): 1 条记录",
        "in/c.xlsx: 无法读取：c.xlsx 已损坏",
        "共 4 个文件：新增 4，更新 1，未变 1，退回 1，冲突 0，恢复 0，脱敏 3 处，编号 4 条",
        "总台账：reg/总台账.xlsx（共 10 条）",
        "未合并的行和冲突的字段见总台账的“待修正”工作表",
        "上一版已备份为 reg/总台账.bak-20240601-090000.xlsx",
        "* run note",
    ]


def test_render_merge_en():
    assert render_merge(_merge_result("en"), "en").splitlines() == [
        "in/a.xlsx: 3 records",
        "in/b.xlsx: 2 records, 1 errors",
        "  * note b",
        "  → annotated copy (rows to fix and send again): out/b.checked.xlsx",
        "in/b.xlsx (2): 1 records",
        "in/c.xlsx: cannot be read: c.xlsx 已损坏",
        "4 files: 4 added, 1 updated, 1 unchanged, 1 rejected, 0 in conflict, 0 restored, 3 cells masked, "
        "4 IDs assigned",
        "register: reg/总台账.xlsx (10 records)",
        "rows kept out and fields in conflict are listed in the 待修正 sheet",
        "previous version kept as reg/总台账.bak-20240601-090000.xlsx",
        "* run note",
    ]


def test_render_merge_of_a_clean_first_merge_has_no_backup_or_rejects_line():
    result = MergeResult(
        register=Path("总台账.xlsx"),
        report=Report(files=[FileReport(path="a.xlsx", rows=2)]),
        files=1,
        added=2,
        total=2,
    )
    assert render_merge(result).splitlines() == [
        "a.xlsx: 2 条记录",
        "共 1 个文件：新增 2，更新 0，未变 0，退回 0，冲突 0，恢复 0，脱敏 0 处，编号 0 条",
        "总台账：总台账.xlsx（共 2 条）",
    ]


# -- mask -------------------------------------------------------------------------------------
def _mask_outcomes(lang: str) -> list[MaskOutcome]:
    return [
        MaskOutcome(
            source=Path("in/a.xlsx"),
            output=Path("out/a.xlsx"),
            counts=Counter({"contact": 2, "contact_name": 3, "备用电话": 1}),
            comments=1,
            links=2,
        ),
        MaskOutcome(
            source=Path("in/b.xlsx"),
            output=Path("in/b.xlsx"),
            backup=Path("in/b.bak-20240601-090000.xlsx"),
            findings=[
                make_finding(
                    "pii-in-text",
                    lang,
                    sheet="其他",
                    cell="B2",
                    row=2,
                    column="电话",
                    what="手机号" if lang != "en" else "a phone number",
                ),
                make_finding("hidden-data", lang, sheet="旧", detail="d", severity="warning"),
            ],
        ),
        MaskOutcome(source=Path("in/c.xlsx"), error="c.xlsx 已损坏", unreadable=True),
    ]


def test_render_mask_zh(form):
    lines = render_mask(_mask_outcomes("zh"), form).splitlines()
    assert lines[0] == (
        "in/a.xlsx → out/a.xlsx：已脱敏 联系人 3、联系方式 2、备用电话 1、批注 1；"
        "移除指向个人信息的超链接 2 个"
    )
    assert lines[1] == "in/b.xlsx：没有需要脱敏的内容（原文件已备份为 b.bak-20240601-090000.xlsx）"
    assert lines[2].startswith("  * 其他!B2 电话: ") and "[错误]" not in lines[2]
    assert lines[3].startswith("  * 旧") and "[错误]" not in lines[3]
    assert lines[4:] == ["共 3 个文件：脱敏 6 个单元格，1 个文件无法处理"]


def test_render_mask_marks_personal_data_left_as_error(form):
    outcome = MaskOutcome(
        source=Path("a.xlsx"),
        output=Path("out/a.xlsx"),
        counts=Counter({"contact": 1}),
        findings=[
            make_finding(
                "pii-in-text", "en", sheet="S", cell="B2", what="a phone", severity="error"
            )
        ],
    )
    assert render_mask([outcome], form, "en").splitlines() == [
        "a.xlsx → out/a.xlsx: masked Contact details 1",
        f"  * [error] {outcome.findings[0].message}",
        "1 file(s): 1 cell(s) masked",
    ]


def test_render_mask_en(form):
    lines = render_mask(_mask_outcomes("en"), form, "en").splitlines()
    assert lines[0] == (
        "in/a.xlsx → out/a.xlsx: masked Contact name 3, Contact details 2, 备用电话 1, "
        "comments 1; 2 hyperlink(s) to personal data removed"
    )
    assert lines[1] == ("in/b.xlsx: nothing to mask (original kept as b.bak-20240601-090000.xlsx)")
    assert lines[-1] == "3 file(s): 6 cell(s) masked, 1 could not be processed"


# -- assign-ids ---------------------------------------------------------------------------------
def _id_outcomes(lang: str) -> list[IdOutcome]:
    def change(row, seq, day="20240521", old=None):
        return IdChange("a.xlsx", row, f"FW{day}{seq:03d}", old, period=day, seq=seq)

    return [
        IdOutcome(
            source=Path("in/a.xlsx"),
            output=Path("out/a.xlsx"),
            assigned=[
                change(4, 3),
                change(2, 1),
                change(3, 2),
                change(5, 1, day="20240522"),
                change(6, 4, old="FW20240521001"),
            ],
            findings=[
                make_finding(
                    "bad-format", lang, sheet="问题记录表", cell="A7", row=7, value="FW1", rule="x"
                ),
                make_finding(
                    "duplicate-id",
                    lang,
                    sheet="问题记录表",
                    cell="A8",
                    row=8,
                    value="FW20240521002",
                    first=3,
                ),
            ],
        ),
        IdOutcome(source=Path("in/b.xlsx"), output=Path("in/b.xlsx"), backup=Path("in/b.bak.xlsx")),
        IdOutcome(source=Path("in/c.xlsx"), error="c.xlsx 已损坏", unreadable=True),
    ]


def test_render_ids_zh():
    outcomes = _id_outcomes("zh")
    bad, dup = outcomes[0].findings
    assert render_ids(outcomes).splitlines() == [
        "in/a.xlsx → out/a.xlsx：新编号 4 个（FW20240521001 … FW20240521003；FW20240522001）",
        "  第 6 行：FW20240521001 → FW20240521004（重复编号已重新分配）",
        f"  [错误] {bad.message}  (bad-format)",
        f"  [错误] {dup.message}  (duplicate-id)",
        "in/b.xlsx：没有需要填写的空编号（原文件已备份为 b.bak.xlsx）",
        "共 3 个文件：新编号 4 个，重新编号 1 个，错误 2 个，1 个文件无法处理",
    ]


def test_render_ids_en():
    outcomes = _id_outcomes("en")
    bad, dup = outcomes[0].findings
    assert render_ids(outcomes, "en").splitlines() == [
        "in/a.xlsx → out/a.xlsx: 4 new ID(s) (FW20240521001 … FW20240521003; FW20240522001)",
        "  row 6: FW20240521001 → FW20240521004 (duplicate replaced)",
        f"  [error] {bad.message}  (bad-format)",
        f"  [error] {dup.message}  (duplicate-id)",
        "in/b.xlsx: no blank IDs to fill (original kept as b.bak.xlsx)",
        "3 file(s): 4 new ID(s), 1 duplicate(s) renumbered, 2 error(s), 1 could not be processed",
    ]
