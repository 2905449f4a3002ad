"""reading/workbook.py on real workbooks: where the form's table is found and what is read from it.

Every workbook is written to disk by openpyxl or xlsxwriter (``builders.py``) and read back by
:func:`read_form`; assertions are on the physical rows and cell addresses a person sees.
"""

from __future__ import annotations

from datetime import datetime

import openpyxl
import pytest
from builders import cell_ref, record_row, record_rows, write_record_xlsx

from aftersales_xl.checking.validate import check_file
from aftersales_xl.errors import UnreadableError
from aftersales_xl.reading.opening import HEADER_SEARCH_ROWS
from aftersales_xl.reading.workbook import MIN_HEADER_MATCHES, find_header, read_form
from aftersales_xl.writing.template import read_marker, write_template

ENGINES = ["openpyxl", "xlsxwriter"]
NOW = datetime(2024, 6, 1, 9, 0)


def found(findings):
    """Compact ``[(sheet, cell, code)]`` of structural findings, in order."""
    return [(f.sheet, f.cell, f.code) for f in findings]


# -- find_header on plain rows ------------------------------------------------------------------
def test_find_header_picks_the_best_row_under_titles(form):
    labels = [f.label for f in form.fields]
    rows = [
        ["售后服务问题记录表"],
        [
            "填报部门：售后服务部",
            "问题编号",
            "客户名称/编号",
        ],  # 2 labels: a title line, not a header
        ["问题编号", "客户名称/编号", "联系人", "联系方式", "反馈渠道"],  # 5
        labels,  # all 21
        labels[:6],
    ]
    idx, columns = find_header(rows, form)
    assert idx == 3
    assert list(columns) == form.keys and list(columns.values()) == list(range(21))


def test_find_header_needs_enough_matches_and_searches_only_the_top_rows(form):
    few = [f.label for f in form.fields][: MIN_HEADER_MATCHES - 1]
    assert find_header([few], form) is None
    enough = [None, None, *[f.label for f in form.fields][:MIN_HEADER_MATCHES]]
    assert find_header([enough], form) == (0, dict(zip(form.keys[:4], [2, 3, 4, 5], strict=True)))
    below = [[]] * HEADER_SEARCH_ROWS + [[f.label for f in form.fields]]
    assert find_header(below, form) is None
    assert find_header(below[1:], form)[0] == HEADER_SEARCH_ROWS - 1


# -- the header row and physical coordinates ---------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("title_rows", "start_col"), [(0, 0), (3, 0), (2, 3)])
def test_header_under_title_rows_keeps_physical_rows_and_cells(
    tmp_path, form, policy, engine, title_rows, start_col
):
    path = write_record_xlsx(
        tmp_path / "t.xlsx",
        record_rows(3),
        engine=engine,
        title_rows=title_rows,
        start_col=start_col,
    )
    sheet, findings = read_form(path, form, policy)
    assert findings == []
    assert (sheet.sheet, sheet.header_row, sheet.kind) == ("问题记录表", title_rows + 1, "xlsx")
    assert sheet.frame.index.tolist() == [title_rows + 2 + i for i in range(3)]
    assert sheet.columns["record_id"] == start_col and list(sheet.columns) == form.keys
    for key in ("record_id", "severity", "remarks"):
        row = title_rows + 2
        assert sheet.cell(key, row) == cell_ref(key, 0, title_rows=title_rows, start_col=start_col)
    assert sheet.frame.loc[title_rows + 3, "customer"] == "示例客户02/C0002"


def test_values_are_raw_not_typed(tmp_path, form, policy):
    row = record_row(contact=13800138000, satisfaction="5分", occurred_at="2024/5/21 14:30")
    sheet, _ = read_form(write_record_xlsx(tmp_path / "r.xlsx", [row]), form, policy)
    got = sheet.frame.loc[2]
    assert float(got["contact"]) == 13800138000.0 and not isinstance(got["contact"], str)
    assert got["satisfaction"] == "5分" and got["occurred_at"] == "2024/5/21 14:30"
    assert got["received_at"] == datetime(2024, 5, 21, 9, 30)
    assert got["remarks"] is None  # blank cells are None, not ""


# -- decorated, renamed and alias headers ------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_decorated_and_alias_headers_map_to_fields_and_keep_their_text(
    tmp_path, form, policy, engine
):
    headers = {
        "contact_name": "联系人*",
        "contact": "联系方式（脱敏）",
        "channel": " 反馈渠道 (必填)",
        "customer": "客户名称／编号",
        "severity": "优先级",  # an alias
        "owner": "负责人",  # an alias
        "occurred_at": "【必填】问题发生时间",
    }
    path = write_record_xlsx(tmp_path / "d.xlsx", record_rows(1), engine=engine, headers=headers)
    sheet, findings = read_form(path, form, policy)
    assert findings == []
    assert list(sheet.columns) == form.keys
    assert {k: sheet.labels[k] for k in headers} == {k: v.strip() for k, v in headers.items()}
    # findings name the column as the file does (zh), or by the spec's English label (en)
    assert sheet.label("contact_name", form) == "联系人*"
    assert sheet.label("contact_name", form, "en") == "Contact name"
    assert sheet.label("remarks", form) == "备注"


def test_missing_unknown_and_duplicate_columns(tmp_path, form, policy):
    path = write_record_xlsx(
        tmp_path / "m.xlsx", record_rows(1), headers={"module": None, "remarks": "随便写的列"}
    )
    wb = openpyxl.load_workbook(path)
    wb["问题记录表"].cell(1, 21, "联系人")  # the field again, in the next free column (U)
    wb.save(path)
    sheet, findings = read_form(path, form, policy)
    assert "module" not in sheet.columns and "remarks" not in sheet.columns
    assert found(findings) == [
        ("问题记录表", None, "missing-column"),
        ("问题记录表", "T1", "unknown-column"),
        ("问题记录表", "U1", "duplicate-column"),
    ]
    assert "产品/服务模块" in findings[0].message
    assert "随便写的列" in findings[1].message
    assert "C" in findings[2].message  # names the column the field was first found in


# -- which sheet ---------------------------------------------------------------------------------
def test_the_template_sheet_name_is_tried_first_wherever_it_is(tmp_path, form, policy):
    labels = [f.label for f in form.fields]
    path = write_record_xlsx(
        tmp_path / "s.xlsx",
        record_rows(2),
        extra_sheets={"旧版": [labels, list(record_row().values())]},
        extra_sheets_first=True,
    )
    sheet, findings = read_form(path, form, policy)
    assert sheet.sheet == "问题记录表" and len(sheet.frame) == 2 and findings == []


def test_a_sheet_with_another_name_is_found_by_its_headers(tmp_path, form, policy):
    path = write_record_xlsx(
        tmp_path / "x.xlsx",
        record_rows(2),
        sheet="五月",
        extra_sheets={"说明": [["这是说明"]], "汇总": [["问题编号", "客户名称/编号", "联系人"]]},
        extra_sheets_first=True,
    )
    sheet, _ = read_form(path, form, policy)
    assert sheet.sheet == "五月" and sheet.frame.index.tolist() == [2, 3]


def test_of_two_unnamed_sheets_the_better_header_match_wins(tmp_path, form, policy):
    few = [f.label for f in form.fields][:8]
    path = write_record_xlsx(
        tmp_path / "b.xlsx",
        record_rows(2),
        sheet="五月",
        extra_sheets={"摘要": [few, ["x"] * 8]},
        extra_sheets_first=True,
    )
    sheet, _ = read_form(path, form, policy)
    assert sheet.sheet == "五月"


def test_the_template_sheet_wins_over_a_sheet_with_more_matching_headers(tmp_path, form, policy):
    path = write_template(tmp_path / "t.xlsx", form, policy, "zh")
    wb = openpyxl.load_workbook(path)
    ws = wb["问题记录表"]
    row = record_row()
    for i, key in enumerate(form.keys[:-1], start=1):  # the user deleted the 备注 column
        ws.cell(2, i, row[key])
    ws.cell(1, len(form.keys)).value = None
    old = wb.create_sheet("上月")
    old.append([f.label for f in form.fields])
    old.append(list(row.values()))
    wb.save(path)
    assert read_marker(path) == form.marker
    sheet, _ = read_form(path, form, policy)
    assert sheet.sheet == "问题记录表"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_blank_template_reads_as_zero_records_from_its_record_sheet(tmp_path, form, policy, lang):
    path = write_template(tmp_path / "t.xlsx", form, policy, lang)
    sheet, findings = read_form(path, form, policy)
    assert (sheet.sheet, sheet.header_row, len(sheet.frame), findings) == (
        form.sheet if lang == "zh" else form.sheet_en,
        1,
        0,
        [],
    )


@pytest.mark.parametrize("name", ["填写说明", "Instructions", "_lists"])
def test_the_instructions_sheet_is_never_taken(tmp_path, form, policy, name):
    """The template's helper sheets repeat the headers; a better match there must not win."""
    labels = [f.label for f in form.fields]
    path = write_record_xlsx(
        tmp_path / "i.xlsx",
        record_rows(1),
        sheet="五月",
        headers={"remarks": None, "feedback": None},  # fewer matches than the helper sheet
        extra_sheets={name: [labels, list(record_row().values())]},
        extra_sheets_first=True,
    )
    sheet, _ = read_form(path, form, policy)
    assert sheet.sheet == "五月" and sheet.frame.index.tolist() == [2]


def test_a_workbook_whose_only_header_is_on_the_instructions_sheet_is_unreadable(
    tmp_path, form, policy
):
    path = tmp_path / "only.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "填写说明"
    wb.active.append([f.label for f in form.fields])
    wb.create_sheet("其他").append(["姓名", "年龄"])
    wb.save(path)
    with pytest.raises(UnreadableError) as caught:
        read_form(path, form, policy)
    assert caught.value.reason == "no-form" and "only.xlsx" in str(caught.value)
    with pytest.raises(UnreadableError, match="no sheet has the"):
        read_form(path, form, policy, lang="en")


# -- blank rows ----------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_blank_and_formatted_empty_rows_are_not_records(tmp_path, form, policy, engine):
    rows = record_rows(3)
    rows.insert(1, {k: None for k in rows[0]})  # physical row 3: blank
    path = write_record_xlsx(
        tmp_path / "b.xlsx", rows, engine=engine, formatted_empty_rows=40, title_rows=1
    )
    sheet, findings = read_form(path, form, policy)
    # header on row 2; records on rows 3, 5, 6 (row 4 blank, rows 7-46 formatted only)
    assert sheet.frame.index.tolist() == [3, 5, 6] and findings == []
    assert sheet.frame["customer"].tolist() == [r["customer"] for r in record_rows(3)]


def test_a_whitespace_only_row_is_not_a_record(tmp_path, form, policy):
    rows = record_rows(2)
    rows.insert(1, {k: ("   " if k == "remarks" else None) for k in rows[0]})
    path = write_record_xlsx(tmp_path / "w.xlsx", rows, engine="xlsxwriter")
    checked = check_file(path, form, policy, now=NOW)
    assert checked.report.rows == 2 and checked.typed.index.tolist() == [2, 4]
    assert checked.report.findings == []


@pytest.mark.parametrize("engine", ENGINES)
def test_header_only_sheet_has_no_records(tmp_path, form, policy, engine):
    path = write_record_xlsx(tmp_path / "e.xlsx", [], engine=engine, formatted_empty_rows=5)
    sheet, findings = read_form(path, form, policy)
    assert len(sheet.frame) == 0 and list(sheet.frame.columns) == form.keys and findings == []


# -- hidden rows and sheets ------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_hidden_rows_with_data_are_read_and_reported(tmp_path, form, policy, engine):
    rows = record_rows(4)
    rows[2] = {k: None for k in rows[0]}  # data row 2 (physical 4) is blank
    path = write_record_xlsx(
        tmp_path / "h.xlsx", rows, engine=engine, title_rows=1, hidden_rows=[1, 2]
    )
    sheet, findings = read_form(path, form, policy)
    # the hidden blank row is neither a record nor a finding
    assert sheet.frame.index.tolist() == [3, 4, 6] and sheet.hidden_rows == {4}
    assert [(f.cell, f.row, f.code, f.severity) for f in findings] == [
        ("A4", 4, "hidden-data", "warning")
    ]
    assert "已照常校验" in findings[0].message
    _, en = read_form(path, form, policy, lang="en")
    assert "checked as usual" in en[0].message


def test_a_hidden_whitespace_only_row_is_not_reported_as_hidden_data(tmp_path, form, policy):
    rows = record_rows(2)
    rows.insert(1, {k: ("   " if k == "remarks" else None) for k in rows[0]})
    path = write_record_xlsx(tmp_path / "hw.xlsx", rows, engine="xlsxwriter", hidden_rows=[1])
    checked = check_file(path, form, policy, now=NOW)
    assert checked.report.rows == 2
    assert [(f.cell, f.code) for f in checked.report.findings] == []


def test_hidden_sheets_with_data_are_reported_empty_ones_are_not(tmp_path, form, policy):
    path = write_record_xlsx(
        tmp_path / "hs.xlsx",
        record_rows(1),
        extra_sheets={"旧记录": [["x", 1]], "空白": []},
    )
    wb = openpyxl.load_workbook(path)
    wb["旧记录"].sheet_state = "hidden"
    wb["空白"].sheet_state = "hidden"
    wb.save(path)
    sheet, findings = read_form(path, form, policy)
    assert sheet.sheet == "问题记录表"
    assert found(findings) == [("旧记录", None, "hidden-data")]
    assert "旧记录" in findings[0].message and "问题记录表" in findings[0].message


# -- cells that read as blank but are not ------------------------------------------------------
def test_error_cells_and_formulas_without_values_are_named_by_cell(tmp_path, form, policy):
    path = write_record_xlsx(tmp_path / "f.xlsx", record_rows(2), title_rows=1)
    wb = openpyxl.load_workbook(path)
    ws = wb["问题记录表"]
    ws[cell_ref("customer", 0, title_rows=1)] = "#N/A"
    ws[cell_ref("module", 1, title_rows=1)] = '=CONCAT("登录","模块")'
    ws["A1"] = "=1+1"  # a formula in the title row is not a record cell
    wb.save(path)
    sheet, findings = read_form(path, form, policy)
    # formulas without a value first, then error cells, each in sheet order
    assert found(findings) == [
        ("问题记录表", cell_ref("module", 1, title_rows=1), "formula-no-value"),
        ("问题记录表", cell_ref("customer", 0, title_rows=1), "error-value"),
    ]
    assert sheet.frame.loc[3, "customer"] is None


def test_a_missing_file_is_unreadable_and_named(tmp_path, form, policy):
    with pytest.raises(UnreadableError) as caught:
        read_form(tmp_path / "nope.xlsx", form, policy)
    assert caught.value.reason == "missing" and "nope.xlsx" in str(caught.value)
