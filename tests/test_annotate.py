"""Annotated copies: real workbooks written to tmp_path, annotated, and read back with openpyxl."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

from aftersales_xl.errors import WriteError
from aftersales_xl.findings import Finding
from aftersales_xl.writing.annotate import (
    SheetValues,
    annotated_name,
    not_carried_over,
    write_annotated,
)

SHEET = "问题记录表"
CHECKED_AT = datetime(2024, 5, 21, 9, 30)
RED, YELLOW = "FFC7CE", "FFEB9C"

BAD_SEVERITY = Finding(
    "error",
    "not-in-list",
    SHEET,
    "E4",
    4,
    "严重程度",
    "问题记录表!E4 严重程度: “P5”不在可选值 P0/P1/P2/P3 中：请从下拉列表选择",
)
SLOW = Finding(
    "warning", "sla-breach", SHEET, "E4", 4, "严重程度", "响应超时：P1 目标 4 小时，实际 6 小时"
)
LATE_DATE = Finding(
    "warning", "time-order", SHEET, "D3", 3, "问题发生时间", "问题发生时间晚于接收时间"
)
BAD_CUSTOMER = Finding("error", "required-value", SHEET, "B3", 3, "客户名称/编号", "必填，不能为空")
ROW_ONLY = Finding(
    "error", "status-inconsistent", SHEET, None, 5, None, "第 5 行状态与解决时间不符"
)
WHOLE_FILE = Finding("error", "missing-column", None, None, None, None, "缺少必需的列“解决时间”")
FINDINGS = [BAD_SEVERITY, SLOW, LATE_DATE, BAD_CUSTOMER, ROW_ONLY, WHOLE_FILE]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def record_book(tmp_path: Path) -> Path:
    """A staff workbook: title row, header on row 2, dates, bold text, a comment, a drop-down."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = "售后服务问题记录表（2024 年 5 月）"
    ws.merge_cells("A1:E1")
    ws.append(["问题编号", "客户名称/编号", "联系人", "问题发生时间", "严重程度"])
    ws.append(["FW20240521001", "C-1001", "张*", datetime(2024, 5, 21, 14, 30), "P1"])
    ws.append(["FW20240521002", "C-1002", "李**", datetime(2024, 5, 21, 15, 0), "P5"])
    ws.append(["FW20240521003", "C-1003", "王*", datetime(2024, 5, 22, 8, 5), "P2"])
    for row in range(3, 6):
        ws.cell(row=row, column=4).number_format = "yyyy-mm-dd hh:mm"
    ws["B3"].font = Font(bold=True, color="1F4E79")
    ws["E4"].comment = Comment("客户说是紧急问题", "主管")
    ws.column_dimensions["D"].width = 18
    dv = DataValidation(type="list", formula1='"P0,P1,P2,P3"', allow_blank=True)
    dv.add("E3:E100")
    ws.add_data_validation(dv)
    notes = wb.create_sheet("填写说明")
    notes["A1"] = "严重程度"
    notes["B1"] = "P0 紧急 / P1 重要 / P2 一般 / P3 轻微"
    notes["A2"] = date(2024, 1, 1)
    path = tmp_path / "in" / "周报.xlsx"
    path.parent.mkdir()
    wb.save(path)
    return path


@pytest.fixture
def annotated(record_book: Path, tmp_path: Path) -> Path:
    return write_annotated(record_book, FINDINGS, tmp_path / "checked", checked_at=CHECKED_AT)


def results_rows(path: Path) -> list[tuple]:
    ws = load_workbook(path).worksheets[0]
    return [tuple(c.value for c in row) for row in ws.iter_rows(min_row=3, max_col=5)]


@pytest.mark.parametrize(
    ("src", "name"),
    [
        ("周报.xlsx", "周报.checked.xlsx"),
        ("a.xls", "a.checked.xlsx"),
        ("a.xlsm", "a.checked.xlsx"),
        ("a.ods", "a.checked.xlsx"),
        ("dir/v1.2.XLSX", "v1.2.checked.xlsx"),
        ("a.checked.xlsx", "a.checked.xlsx"),
    ],
)
def test_annotated_name_adds_checked_and_always_ends_in_xlsx(src: str, name: str) -> None:
    assert annotated_name(Path(src)) == name


def test_copy_is_written_into_out_dir_under_the_checked_name(record_book, tmp_path, annotated):
    assert annotated == tmp_path / "checked" / "周报.checked.xlsx"
    assert annotated.is_file()
    assert sorted(p.name for p in annotated.parent.iterdir()) == ["周报.checked.xlsx"]


def test_results_sheet_is_first_and_active_with_one_row_per_finding(annotated):
    wb = load_workbook(annotated)
    assert wb.sheetnames == ["校验结果", SHEET, "填写说明"]
    assert wb.active.title == "校验结果"
    ws = wb["校验结果"]
    assert [c.value for c in ws[2]] == ["严重程度", "单元格", "列", "代码", "说明"]
    assert ws.freeze_panes == "A3"
    assert results_rows(annotated) == [
        ("错误", "问题记录表!E4", "严重程度", "not-in-list", BAD_SEVERITY.message),
        ("警告", "问题记录表!E4", "严重程度", "sla-breach", SLOW.message),
        ("警告", "问题记录表!D3", "问题发生时间", "time-order", LATE_DATE.message),
        ("错误", "问题记录表!B3", "客户名称/编号", "required-value", BAD_CUSTOMER.message),
        ("错误", "问题记录表 第 5 行", None, "status-inconsistent", ROW_ONLY.message),
        ("错误", "（整个文件）", None, "missing-column", WHOLE_FILE.message),
    ]


def test_summary_line_names_file_counts_and_check_time(annotated):
    summary = load_workbook(annotated).worksheets[0]["A1"].value
    assert "周报.xlsx" in summary
    assert "错误 4 项" in summary and "警告 2 项" in summary
    assert "2024-05-21 09:30" in summary


def test_cell_references_link_to_the_flagged_cell_and_file_level_has_no_link(annotated):
    ws = load_workbook(annotated).worksheets[0]
    links = [ws.cell(row=r, column=2).hyperlink for r in range(3, 9)]
    assert [h.location if h else None for h in links] == [
        "'问题记录表'!E4",
        "'问题记录表'!E4",
        "'问题记录表'!D3",
        "'问题记录表'!B3",
        "'问题记录表'!A5",
        None,
    ]


def test_flagged_cells_are_filled_by_worst_severity(annotated):
    ws = load_workbook(annotated)[SHEET]
    assert ws["E4"].fill.fgColor.rgb.endswith(RED)  # error + warning -> error colour
    assert ws["B3"].fill.fgColor.rgb.endswith(RED)
    assert ws["D3"].fill.fgColor.rgb.endswith(YELLOW)
    assert ws["C3"].fill.fill_type is None
    assert ws["A5"].fill.fill_type is None  # row-level findings mark no cell


def test_one_comment_per_cell_keeps_existing_comment_and_lists_each_message(annotated):
    ws = load_workbook(annotated)[SHEET]
    text = ws["E4"].comment.text
    assert text.startswith("客户说是紧急问题")
    assert text.index("客户说是紧急问题") < text.index("xlcheck") < text.index(BAD_SEVERITY.message)
    assert f"[错误] {BAD_SEVERITY.message}" in text.splitlines()
    assert f"[警告] {SLOW.message}" in text.splitlines()
    assert ws["D3"].comment.text == f"[警告] {LATE_DATE.message}"
    assert ws["D3"].comment.author == "xlcheck"
    assert ws["C3"].comment is None


def test_values_formats_fonts_and_validation_survive(record_book, annotated):
    before, after = load_workbook(record_book), load_workbook(annotated)
    for name in before.sheetnames:
        old = [[c.value for c in row] for row in before[name].iter_rows()]
        new = [[c.value for c in row] for row in after[name].iter_rows()]
        assert new == old, name
    ws = after[SHEET]
    assert ws["D3"].number_format == "yyyy-mm-dd hh:mm"  # flagged, format kept
    assert ws["D5"].number_format == "yyyy-mm-dd hh:mm"  # unflagged
    assert ws["B3"].font.b and ws["B3"].font.color.rgb.endswith("1F4E79")
    assert ws.column_dimensions["D"].width == 18
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:E1"]
    (dv,) = ws.data_validations.dataValidation
    assert dv.formula1 == '"P0,P1,P2,P3"' and str(dv.sqref) == "E3:E100"


def test_original_file_bytes_are_unchanged(record_book, tmp_path):
    digest = sha256(record_book)
    write_annotated(record_book, FINDINGS, tmp_path / "checked", checked_at=CHECKED_AT)
    assert sha256(record_book) == digest


def test_annotating_into_the_source_folder_writes_beside_it(record_book):
    out = write_annotated(record_book, FINDINGS, record_book.parent, checked_at=CHECKED_AT)
    assert out == record_book.parent / "周报.checked.xlsx"
    assert load_workbook(record_book).sheetnames == [SHEET, "填写说明"]


def test_refuses_to_write_over_the_source(record_book):
    src = record_book.with_name("周报.checked.xlsx")
    shutil.copy(record_book, src)
    digest = sha256(src)
    with pytest.raises(WriteError, match="覆盖原文件"):
        write_annotated(src, FINDINGS, src.parent)
    assert sha256(src) == digest
    assert sorted(p.name for p in src.parent.iterdir()) == ["周报.checked.xlsx", "周报.xlsx"]


def test_failed_save_keeps_the_previous_copy_and_leaves_no_temp_file(
    record_book, tmp_path, monkeypatch
):
    out = write_annotated(record_book, FINDINGS, tmp_path / "checked", checked_at=CHECKED_AT)
    os.chmod(out, 0o640)
    before = sha256(out)

    def full_disk(self, filename):
        Path(filename).write_bytes(b"PK half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", full_disk)
    with pytest.raises(WriteError, match="No space left"):
        write_annotated(record_book, FINDINGS, tmp_path / "checked", checked_at=CHECKED_AT)
    assert sha256(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["周报.checked.xlsx"]
    monkeypatch.undo()
    write_annotated(record_book, FINDINGS, tmp_path / "checked", checked_at=CHECKED_AT)
    assert out.stat().st_mode & 0o777 == 0o640  # a re-annotated copy keeps its permissions


def test_english_labels(record_book, tmp_path):
    out = write_annotated(record_book, FINDINGS, tmp_path / "o", lang="en", checked_at=CHECKED_AT)
    wb = load_workbook(out)
    ws = wb.worksheets[0]
    assert ws.title == "Check results"
    assert [c.value for c in ws[2]] == ["Severity", "Cell", "Column", "Code", "Message"]
    assert "2 warnings" in ws["A1"].value and "4 errors" in ws["A1"].value
    assert [ws.cell(row=r, column=1).value for r in (3, 4)] == ["Error", "Warning"]
    assert ws["B7"].value == "问题记录表 row 5"
    assert ws["B8"].value == "(whole file)"
    assert "[Warning] " + LATE_DATE.message == wb[SHEET]["D3"].comment.text


def test_text_that_looks_like_a_formula_stays_text(record_book, tmp_path):
    sneaky = Finding("error", "bad-format", SHEET, "C3", 3, "联系人", '=HYPERLINK("x")')
    out = write_annotated(record_book, [sneaky], tmp_path / "o", checked_at=CHECKED_AT)
    cell = load_workbook(out).worksheets[0]["E3"]
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"


def test_unknown_sheet_bad_cell_and_merged_cell_findings(record_book, tmp_path):
    findings = [
        Finding("error", "bad-format", "别的表", "A1", 1, None, "no such sheet"),
        Finding("error", "bad-format", SHEET, "ZZZZ0", None, None, "not a cell"),
        Finding("warning", "pii-in-text", SHEET, "C1", 1, None, "inside the merged title"),
    ]
    out = write_annotated(record_book, findings, tmp_path / "o", checked_at=CHECKED_AT)
    wb = load_workbook(out)
    links = [wb.worksheets[0].cell(row=r, column=2).hyperlink for r in (3, 4, 5)]
    assert [h.location if h else None for h in links] == [None, None, "'问题记录表'!C1"]
    title = wb[SHEET]["A1"]  # the merged area's top-left carries the mark
    assert title.value.startswith("售后服务问题记录表")
    assert title.fill.fgColor.rgb.endswith(YELLOW)
    assert "inside the merged title" in title.comment.text


def test_a_users_own_results_sheet_is_kept_and_its_name_not_reused(record_book, tmp_path):
    wb = load_workbook(record_book)
    wb.create_sheet("校验结果")["A1"] = "我自己的核对记录"
    wb.save(record_book)
    out = write_annotated(record_book, [LATE_DATE], tmp_path / "o", checked_at=CHECKED_AT)
    got = load_workbook(out)
    assert got.sheetnames == ["校验结果 (2)", SHEET, "填写说明", "校验结果"]
    assert got["校验结果"]["A1"].value == "我自己的核对记录"


def test_reannotating_a_corrected_copy_starts_from_clean_marks(record_book, tmp_path):
    wb = load_workbook(record_book)
    wb[SHEET]["C5"].style = "Bad"  # Excel's own red cell style (same fill as an error)
    wb.save(record_book)
    first = write_annotated(record_book, FINDINGS, tmp_path / "one", checked_at=CHECKED_AT)
    wb = load_workbook(first)  # the person fixes E4 and B3 in the copy and sends it back
    wb[SHEET]["E4"] = "P1"
    wb.save(first)
    again = write_annotated(first, [LATE_DATE], tmp_path / "two", checked_at=CHECKED_AT)
    got = load_workbook(again)
    assert got.sheetnames == ["校验结果", SHEET, "填写说明"]
    assert results_rows(again) == [
        ("警告", "问题记录表!D3", "问题发生时间", "time-order", LATE_DATE.message)
    ]
    ws = got[SHEET]
    assert (ws["E4"].comment.text, ws["E4"].comment.author) == ("客户说是紧急问题", "主管")
    assert ws["E4"].fill.fill_type is None and ws["B3"].fill.fill_type is None
    assert ws["B3"].comment is None
    assert ws["D3"].comment.text == f"[警告] {LATE_DATE.message}"  # marked afresh, once
    assert ws["D3"].fill.fgColor.rgb.endswith(YELLOW)
    assert ws["C5"].fill.fgColor.rgb.endswith(RED)  # the user's own style is kept


def test_xlsm_is_saved_as_plain_xlsx_and_reports_lost_macros(record_book, tmp_path):
    src = tmp_path / "宏表.xlsm"
    with zipfile.ZipFile(record_book) as zin, zipfile.ZipFile(src, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr("xl/vbaProject.bin", b"not really vba")
    out = write_annotated(src, FINDINGS, tmp_path / "o", checked_at=CHECKED_AT)
    assert out.name == "宏表.checked.xlsx"
    with zipfile.ZipFile(out) as z:
        assert not any("vbaProject" in n for n in z.namelist())
        assert b"macroEnabled" not in z.read("[Content_Types].xml")
    assert load_workbook(out)[SHEET]["E4"].value == "P5"
    assert not_carried_over("xlsm", "zh") == ["宏（VBA）"]
    assert not_carried_over("xlsm", "en", src=src) == ["macros (VBA)"]


def test_not_carried_over_is_honest_per_kind(record_book):
    assert not_carried_over("xlsx") == []
    assert not_carried_over("xlsx", src=record_book) == []
    xls = not_carried_over("xls", "en")
    for lost in ("macros (VBA)", "existing comments", "data validation (drop-downs)"):
        assert lost in xls
    assert any(item.startswith("formatting") for item in xls)
    assert any(item.startswith("formulas") for item in xls)
    assert "合并单元格" in not_carried_over("ods") and "合并单元格" not in not_carried_over("xls")


def test_values_from_a_reader_land_at_their_physical_cells(tmp_path):
    src = tmp_path / "旧表.xls"
    src.write_bytes(b"placeholder: the reader below supplies the values")
    sheets = [
        SheetValues(
            SHEET,
            [
                ["问题编号", "", "问题发生时间"],
                ["FW20240521001", "=1+1", datetime(2024, 5, 21, 14, 30)],
            ],
            first_row=3,
            first_col=2,
            merged=("B1:D1",),
        ),
        SheetValues("隐藏", [[date(2024, 1, 2)]], hidden=True),
    ]
    finding = Finding("error", "bad-date", SHEET, "D4", 4, "问题发生时间", "bad")
    out = write_annotated(src, [finding], tmp_path / "o", fallback_rows=lambda p: sheets)
    wb = load_workbook(out)
    ws = wb[SHEET]
    assert (ws["B3"].value, ws["D3"].value, ws["B4"].value) == (
        "问题编号",
        "问题发生时间",
        "FW20240521001",
    )
    assert ws["C3"].value is None and ws["A1"].value is None
    assert ws["C4"].value == "=1+1" and ws["C4"].data_type == "s"
    assert ws["D4"].value == datetime(2024, 5, 21, 14, 30)
    assert ws["D4"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["D4"].fill.fgColor.rgb.endswith(RED) and "bad" in ws["D4"].comment.text
    assert wb["隐藏"].sheet_state == "hidden"
    assert wb["隐藏"]["A1"].value == datetime(2024, 1, 2) and wb["隐藏"]["A1"].is_date


SOFFICE = shutil.which("soffice") or (
    "/usr/bin/soffice" if Path("/usr/bin/soffice").exists() else None
)


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("kind", ["ods", "xls"])
def test_xls_and_ods_values_keep_their_a1_coordinates(tmp_path, kind):
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["C1"] = "售后服务问题记录表"  # title row; the table itself starts at B3
    for col, row in zip(
        "BCDEF",
        (
            ("问题编号", "FW20240521001", "FW20240521002"),
            ("客户名称/编号", "C-1001", "C-1002"),
            ("联系人", "张*", "李**"),
            ("问题发生时间", datetime(2024, 5, 21, 14, 30), None),
            ("严重程度", "P1", "P5"),
        ),
        strict=True,
    ):
        for r, value in enumerate(row, start=3):
            ws[f"{col}{r}"] = value
    ws["E4"].number_format = "yyyy-mm-dd hh:mm"
    wb.create_sheet("填写说明")["A2"] = date(2024, 1, 1)
    staged = tmp_path / "stage" / "旧表.xlsx"
    staged.parent.mkdir()
    wb.save(staged)
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--convert-to",
            kind,
            "--outdir",
            str(tmp_path / "in2"),
            str(staged),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    src = tmp_path / "in2" / f"旧表.{kind}"
    finding = Finding("error", "not-in-list", SHEET, "F5", 5, "严重程度", "“P5”不在可选值中")
    out = write_annotated(src, [finding], tmp_path / "o", checked_at=CHECKED_AT)
    assert out.name == "旧表.checked.xlsx"
    got = load_workbook(out)
    assert got.sheetnames == ["校验结果", SHEET, "填写说明"]
    ws = got[SHEET]
    assert ws["A1"].value is None and ws["B2"].value is None
    assert ws["B3"].value == "问题编号" and ws["F3"].value == "严重程度"
    assert ws["C4"].value == "C-1001" and ws["F5"].value == "P5"
    assert ws["E4"].value == datetime(2024, 5, 21, 14, 30) and ws["E4"].is_date
    assert ws["F5"].fill.fgColor.rgb.endswith(RED)
    assert got.worksheets[0]["B3"].hyperlink.location == "'问题记录表'!F5"
    assert got["填写说明"]["A2"].value.date() == date(2024, 1, 1)


def test_not_carried_over_names_what_openpyxl_drops_from_this_file(record_book, tmp_path):
    src = tmp_path / "带扩展.xlsx"
    ext = b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"/></extLst></worksheet>'
    with zipfile.ZipFile(record_book) as zin, zipfile.ZipFile(src, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", ext)
            zout.writestr(item, data)
        zout.writestr("xl/ctrlProps/ctrlProp1.xml", b"<formControlPr/>")
    lost = not_carried_over("xlsx", "en", src=src)
    assert any(item.startswith("Excel 2010+ sheet extensions") for item in lost)
    assert any(item.startswith("form controls") for item in lost)
    assert not any("macros" in item for item in lost)


def test_hyperlinks_to_personal_data_do_not_survive_in_the_copy(tmp_path):
    """A masked cell loses its mailto link; any other link to a phone or email goes too;
    ordinary links stay."""
    import xlsxwriter

    src = tmp_path / "links.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet(SHEET)
    for c, h in enumerate(["问题编号", "客户名称/编号", "联系方式", "处理负责人", "备注"]):
        ws.write_string(0, c, h)
    ws.write_url("B2", "https://crm.example.com/c/12", string="C-1001")
    ws.write_url("C2", "mailto:zhang.san@example.com", string="zhang.san@example.com")
    ws.write_url("D2", "mailto:li.si@example.com", string="王工")
    ws.write_url("E2", "https://crm.example.com/call?phone=13800138000", string="回电")
    ws.write_comment("B2", "客户说打 13912345678")
    wb.close()
    finding = Finding("error", "unmasked-contact", SHEET, "C2", 2, "联系方式", "联系方式未脱敏")
    out = write_annotated(
        src, [finding], tmp_path / "out", masked={(SHEET, "C2"): "z***@example.com"}
    )
    ws = load_workbook(out)[SHEET]
    links = {c.coordinate: c.hyperlink.target for r in ws.iter_rows() for c in r if c.hyperlink}
    assert links == {"B2": "https://crm.example.com/c/12"}
    assert ws["C2"].value == "z***@example.com"
    assert ws["B2"].comment.text == "客户说打 ****5678"
    with zipfile.ZipFile(out) as z:
        text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    for raw in ("zhang.san", "li.si@", "13800138000", "13912345678"):
        assert raw not in text


# -- the whole copy is redacted (through validate, as `xlcheck validate --annotate` runs) -------
PHONES = [f"13{d}12345678"[:11] for d in "0123456789"]  # 13012345678 … 13912345678
RAW = [
    *PHONES,
    "15012345678",
    "15112345678",
    "15212345678",
    "15312345678",
    "15412345678",
    "15512345678",
    "15612345678",
    "15712345678",
    "zhang.san@corp.com",
    "wangwu@qq.com",
    "boss@corp.cn",
    "li@corp.cn",
    "hr@corp.cn",
    "mgr@corp.cn",
    "chen@corp.cn",
    "11010519491231002X",
    "王小明",
]


def _leaky_book(path: Path) -> Path:
    """A record workbook with personal data everywhere outside the contact/free-text cells."""
    from builders import record_rows, write_record_xlsx
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.worksheet.datavalidation import DataValidation

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = record_rows(6)
    rows[0]["channel"] = "13012345678"  # list cell
    rows[1]["severity"] = "zhang.san@corp.com"
    rows[2]["occurred_at"] = "13112345678"  # date cell
    rows[3]["satisfaction"] = 13212345678  # rating cell, a phone stored as a number
    rows[4]["record_id"] = "FW20240521001 13312345678"
    rows[5]["customer"] = "王五 13412345678 wangwu@qq.com"
    write_record_xlsx(
        path,
        rows,
        title_rows=1,
        extra_sheets={"备忘": [["客户电话", "15012345678"], ["email", "boss@corp.cn"]]},
    )
    wb = load_workbook(path)
    ws = wb[SHEET]
    ws["A1"] = "售后服务问题记录表 填报人 15312345678"  # title row above the header
    ws["V2"], ws["V3"] = "联系人电话15112345678", "15212345678"  # unknown column
    ws["W2"], ws["W3"] = "联系人", "王小明"  # a second 联系人 column: masked as a name
    ws["B3"].comment = Comment("客户手机 13512345678", "li@corp.cn")
    ws["B4"].hyperlink = "mailto:hr@corp.cn"
    ws.oddHeader.center.text = "制表 13612345678"
    dv = DataValidation(type="list", formula1='"P0,P1"', prompt="问题请打 13712345678")
    dv.add("Z3")
    ws.add_data_validation(dv)
    hidden = wb.create_sheet("隐藏")
    hidden.sheet_state = "hidden"
    hidden["A1"], hidden["A2"] = 15412345678, "身份证 11010519491231002X"
    wb.create_sheet("客户15512345678")["A1"] = "见上表"
    props = wb.properties
    props.creator, props.lastModifiedBy = "li@corp.cn", "13812345678"
    props.title, props.subject = "周报 13912345678", "hr@corp.cn"
    props.description, props.keywords = "电话 15612345678", "mgr@corp.cn"
    wb.custom_doc_props.append(StringProperty(name="填报人", value="15712345678"))
    wb.save(path)
    app = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns='
        '"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>Microsoft Excel</Application><Company>chen@corp.cn 13612345678</Company>"
        "<Manager>王小明 mgr@corp.cn</Manager></Properties>"
    )
    staged = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(staged, "w") as zout:
        for item in zin.infolist():
            data = app.encode() if item.filename == "docProps/app.xml" else zin.read(item)
            zout.writestr(item, data)
    staged.replace(path)
    return path


def _every_part(path: Path) -> str:
    """Every part of the package as text (XML entities such as &#64; undone)."""
    import html

    with zipfile.ZipFile(path) as z:
        return html.unescape("\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()))


def test_annotated_copy_is_redacted_everywhere_not_only_the_table(tmp_path, form, policy):
    from aftersales_xl.jobs.check import validate_paths

    src = _leaky_book(tmp_path / "in" / "周报.xlsx")
    inside = _every_part(src)
    assert all(raw in inside for raw in RAW)  # the input really carries them all
    report = validate_paths([src], form, policy, annotate_dir=tmp_path / "out")
    out = tmp_path / "out" / "周报.checked.xlsx"
    assert report.files[0].annotated == str(out)

    text = _every_part(out)
    assert [raw for raw in RAW if raw in text] == []
    wb = load_workbook(out)
    assert wb.sheetnames == ["校验结果", SHEET, "备忘", "隐藏", "客户＊＊＊＊5678"]
    ws = wb[SHEET]
    assert ws["E3"].value == "****5678"  # list cell
    assert ws["R6"].value == "****5678" and ws["R6"].data_type == "s"  # number → masked text
    assert ws["A1"].value == "售后服务问题记录表 填报人 ****5678"
    assert (ws["V2"].value, ws["V3"].value, ws["W3"].value) == (
        "联系人电话****5678",
        "****5678",
        "王**",
    )
    assert ws["B3"].comment.text.startswith("客户手机 ****5678")
    assert ws["B4"].hyperlink is None
    assert ws["F3"].value == datetime(2024, 5, 21, 9, 10)  # dates stay dates
    assert wb["隐藏"].sheet_state == "hidden" and wb["隐藏"]["A1"].value == "****5678"
    assert "corp.cn" not in (wb.properties.creator or "")  # emptied: authors are names


def test_clashing_copy_names_are_numbered_within_one_run(tmp_path, form, policy):
    from builders import cell_ref, record_row, write_record_xlsx

    from aftersales_xl.jobs.check import validate_paths

    def book(folder: str, name: str, severity: str) -> Path:
        (tmp_path / folder).mkdir()
        return write_record_xlsx(tmp_path / folder / name, [record_row(severity=severity)])

    a, b, c = book("a", "x.xlsx", "P1"), book("b", "x.xlsx", "P9"), book("c", "X.xlsx", "P8")
    out = tmp_path / "out"
    report = validate_paths([a, b, c], form, policy, annotate_dir=out)
    names = ["x.checked.xlsx", "x (2).checked.xlsx", "X (3).checked.xlsx"]
    assert [f.annotated for f in report.files] == [str(out / n) for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    severity = cell_ref("severity", 0)
    shown = [load_workbook(out / n)[SHEET][severity].value for n in names]
    assert shown == ["P1", "P9", "P8"]  # each copy is of its own input
    assert not any("x (2)" in n for n in report.files[0].notes)
    assert any("x (2).checked.xlsx" in n and "x.checked.xlsx" in n for n in report.files[1].notes)


def test_annotate_name_parameter_names_the_copy(record_book, tmp_path):
    out = write_annotated(record_book, FINDINGS, tmp_path / "o", name="周报 (2).checked.xlsx")
    assert out == tmp_path / "o" / "周报 (2).checked.xlsx" and out.is_file()
    assert annotated_name(Path("a.checked.xlsx"), 3) == "a (3).checked.xlsx"


@pytest.mark.parametrize("kind", ["xls", "ods"])
def test_xls_and_ods_copies_are_redacted_everywhere_too(tmp_path, form, policy, soffice, kind):
    from aftersales_xl.jobs.check import validate_paths

    staged = _leaky_book(tmp_path / "stage" / "周报.xlsx")
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--convert-to",
            kind,
            "--outdir",
            str(tmp_path / "in"),
            str(staged),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    report = validate_paths([tmp_path / "in" / f"周报.{kind}"], form, policy, annotate_dir=tmp_path)
    out = Path(report.files[0].annotated)
    assert [raw for raw in RAW if raw in _every_part(out)] == []
    ws = load_workbook(out)[SHEET]
    assert (ws["E3"].value, ws["R6"].value, ws["W3"].value) == ("****5678", "****5678", "王**")


def test_what_a_copy_does_not_carry_over_is_one_sentence_on_the_file(tmp_path, form, policy):
    from builders import record_rows, write_record_xlsx

    from aftersales_xl.jobs.check import validate_paths

    xlsx = write_record_xlsx(tmp_path / "m.xlsx", record_rows(1))
    xlsm = tmp_path / "m2.xlsm"
    with zipfile.ZipFile(xlsx) as zin, zipfile.ZipFile(xlsm, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr("xl/vbaProject.bin", b"\0" * 64)  # a workbook with macros
    report = validate_paths([xlsx, xlsm], form, policy, annotate_dir=tmp_path / "out")
    assert report.files[0].notes == []
    (note,) = report.files[1].notes
    assert note.startswith("批注副本未带入：") and "宏（VBA）" in note


def test_conditional_format_formulas_are_redacted_in_the_copy(tmp_path, form, policy):
    from builders import record_rows, write_record_xlsx
    from openpyxl.formatting.rule import CellIsRule, FormulaRule
    from openpyxl.styles import PatternFill

    from aftersales_xl.jobs.check import validate_paths

    src = write_record_xlsx(tmp_path / "cf.xlsx", record_rows(2, severity="P9"))
    wb = load_workbook(src)
    ws = wb["问题记录表"]
    red = PatternFill("solid", fgColor="FF0000")
    ws.conditional_formatting.add("A1:A9", FormulaRule(formula=['A1="13399990000"'], fill=red))
    ws.conditional_formatting.add(
        "B1:B9", CellIsRule(operator="equal", formula=['"li.si@example.com"'], fill=red)
    )
    wb.save(src)
    report = validate_paths([src], form, policy, annotate_dir=tmp_path / "out")
    with zipfile.ZipFile(report.files[0].annotated) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
    assert b"13399990000" not in blob and b"li.si@" not in blob
    assert b'A1="****0000"' in blob  # the rule is kept, with the number masked


def test_a_phone_in_the_file_name_gives_the_copy_a_masked_name_beside_the_original(record_book):
    src = record_book.with_name("张13800138000.checked.xlsx")
    shutil.copy(record_book, src)
    before = src.read_bytes()
    out = write_annotated(src, FINDINGS, src.parent)
    # the copy's name is masked, so it is another file: the original is not overwritten
    assert out.name == "张＊＊＊＊8000.checked.xlsx" and src.read_bytes() == before


def test_refusals_do_not_carry_a_phone_from_the_file_name(record_book):
    src = record_book.with_name("张先生.checked.xlsx")
    shutil.copy(record_book, src)
    with pytest.raises(WriteError, match="覆盖原文件"):
        write_annotated(src, FINDINGS, src.parent)
    # any refusal's text is masked when it is built, whatever it quotes
    assert str(WriteError(f"{src.parent / '张13800138000.xlsx'}: 覆盖原文件")).endswith(
        "张****8000.xlsx: 覆盖原文件"
    )
