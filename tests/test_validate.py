"""xlcheck validate on real workbooks: every finding code, the header search, dates, the contract."""

from __future__ import annotations

import json
from datetime import datetime

import openpyxl
import pytest
from builders import cell_ref, excel_serial, record_row, record_rows, write_record_xlsx
from click.testing import CliRunner

from aftersales_xl.checking.validate import check_file
from aftersales_xl.cli import cli
from aftersales_xl.jobs.check import validate_paths

NOW = datetime(2024, 6, 1, 9, 0)


def codes(report, *, severity=None):
    """Compact ``[(cell, code)]`` of a FileReport's findings."""
    return [(f.cell, f.code) for f in report.findings if severity in (None, f.severity)]


def check(path, form, policy, **kw):
    return check_file(path, form, policy, now=NOW, **kw).report


def test_clean_workbook_has_no_findings(make_workbook, form, policy):
    report = check(make_workbook(record_rows(5)), form, policy)
    assert report.findings == []
    assert report.rows == 5 and report.valid and report.sheet == "问题记录表"


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter"])
def test_header_found_under_title_rows_and_offset_columns(tmp_path, form, policy, engine):
    path = write_record_xlsx(
        tmp_path / "t.xlsx", record_rows(2, severity="P5"), engine=engine, title_rows=3, start_col=2
    )
    report = check(path, form, policy)
    # physical coordinates: header on row 4, data from row 5, table starting in column C
    assert codes(report) == [
        (cell_ref("severity", 0, title_rows=3, start_col=2), "not-in-list"),
        (cell_ref("severity", 1, title_rows=3, start_col=2), "not-in-list"),
    ]
    assert report.findings[0].row == 5


def test_decorated_and_renamed_headers_match(make_workbook, form, policy):
    headers = {
        "contact_name": "联系人*",
        "contact": "联系方式（脱敏）",
        "channel": " 反馈渠道 (必填)",
        "severity": "优先级",
        "customer": "客户名称／编号",
    }
    report = check(make_workbook(record_rows(2), headers=headers), form, policy)
    assert report.findings == []


def test_missing_and_unknown_columns(make_workbook, form, policy):
    rows = record_rows(1)
    path = make_workbook(rows, headers={"module": None, "remarks": "随便写的列"})
    report = check(path, form, policy)
    # 20 columns (产品/服务模块 dropped): the unknown header is the last one, T1
    assert [(f.cell, f.code, f.severity) for f in report.findings] == [
        (None, "missing-column", "error"),
        ("T1", "unknown-column", "warning"),
    ]
    missing, unknown = report.findings
    assert "产品/服务模块" in missing.message and "随便写的列" in unknown.message


def test_blank_and_formatted_empty_rows_are_not_records(tmp_path, form, policy):
    rows = record_rows(3)
    rows.insert(1, {k: None for k in rows[0]})
    rows.insert(2, {k: ("   " if k == "remarks" else None) for k in rows[0]})
    path = write_record_xlsx(tmp_path / "b.xlsx", rows, formatted_empty_rows=50)
    report = check(path, form, policy)
    assert report.rows == 3 and report.findings == []


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-21 14:30",
        "2024/5/21 14:30",
        "2024年5月21日 14:30",
        "2024-05-2114:30",
        "２０２４年５月２１日 14:30",
        "2024.5.21 14:30",
    ],
)
def test_every_text_date_form_is_accepted(make_workbook, form, policy, text):
    row = record_row(
        occurred_at=text, received_at="2024-05-21 15:00", resolved_at="2024-05-21 16:00"
    )
    report = check(make_workbook([row]), form, policy)
    assert report.findings == []


def test_serial_numbers_and_1904_date_system(tmp_path, form, policy):
    occurred = datetime(2024, 5, 21, 9, 10)
    for date1904 in (False, True):
        row = record_row(
            occurred_at=excel_serial(occurred, date1904=date1904),
            received_at=datetime(2024, 5, 21, 9, 30),
        )
        path = write_record_xlsx(tmp_path / f"s{date1904}.xlsx", [row], date1904=date1904)
        checked = check_file(path, form, policy, now=NOW)
        assert checked.report.findings == []
        assert checked.typed["occurred_at"].iloc[0] == occurred


@pytest.mark.parametrize("fmt_id", [27, 31, 36, 50, 57, 58])
@pytest.mark.parametrize("date1904", [False, True])
def test_chinese_builtin_date_formats(tmp_path, form, policy, fmt_id, date1904):
    """Excel's zh-CN built-in formats (numFmtId 27-36, 50-58: yyyy年m月d日 …) carry no
    formatCode in the file; the dates still read as the same moments."""
    import re
    import zipfile

    occurred = datetime(2024, 5, 21, 9, 10)
    row = record_row(occurred_at=occurred, received_at=datetime(2024, 5, 21, 9, 30))
    src = write_record_xlsx(tmp_path / "src.xlsx", [row], date1904=date1904)
    path = tmp_path / f"zh{fmt_id}.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/styles.xml":  # every custom date style → the built-in id
                data = re.sub(rb'(<xf [^>]*numFmtId=")1[6-9][0-9]"', rb'\g<1>%d"' % fmt_id, data)
            zout.writestr(info, data)
    assert b'numFmtId="%d"' % fmt_id in zipfile.ZipFile(path).read("xl/styles.xml")
    checked = check_file(path, form, policy, now=NOW)
    assert checked.report.findings == []
    assert checked.typed["occurred_at"].iloc[0] == occurred


@pytest.mark.parametrize("bad", ["2024/13/45", "明天上午", "2024-02-30 10:00", 5.0])
def test_impossible_dates_are_bad_date(make_workbook, form, policy, bad):
    report = check(make_workbook([record_row(due_at=bad)]), form, policy)
    assert codes(report) == [(cell_ref("due_at", 0), "bad-date")]


def test_required_values_and_conditional_requirements(make_workbook, form, policy):
    rows = [
        record_row(customer=None),
        record_row(status="处理中", owner=None, solution=None, resolved_at=None, satisfaction=None),
        record_row(
            status="待处理",
            owner=None,
            solution=None,
            resolved_at=None,
            satisfaction=None,
            analysis=None,
        ),
        record_row(status="已解决", solution=None, resolved_at=None, analysis=None),
    ]
    report = check(make_workbook(rows), form, policy)
    assert codes(report, severity="error") == [
        (cell_ref("customer", 0), "required-value"),
        (cell_ref("owner", 1), "required-value"),
        # 待处理 may leave the owner blank
        (cell_ref("solution", 3), "required-value"),
        (cell_ref("resolved_at", 3), "required-value"),
    ]
    # analysis is only expected; the open records are overdue against NOW; a record marked
    # 已解决 without 解决时间 is not measured as open
    assert codes(report, severity="warning") == [
        (cell_ref("resolved_at", 1), "sla-breach"),
        (cell_ref("resolved_at", 2), "sla-breach"),
        (cell_ref("analysis", 3), "required-value"),
    ]


def test_list_values_are_normalised_or_reported(make_workbook, form, policy):
    rows = [record_row(severity=v) for v in ("p1", "P1重要", "P1-重要", "Ｐ２", "P5", "紧急")]
    rows.append(record_row(channel="微信群"))
    report = check(make_workbook(rows), form, policy)
    assert codes(report) == [
        (cell_ref("severity", 4), "not-in-list"),
        (cell_ref("severity", 5), "not-in-list"),
        (cell_ref("channel", 6), "not-in-list"),
    ]
    msg = report.findings[0].message
    assert msg.startswith(f"问题记录表!{cell_ref('severity', 4)} 严重程度:")
    assert "P5" in msg and "P0/P1/P2/P3" in msg


def test_satisfaction_forms_and_range(make_workbook, form, policy):
    rows = [record_row(satisfaction=v) for v in (5, "5分", "5分(满意)", 7, 4.5, "满意")]
    report = check(make_workbook(rows), form, policy)
    assert codes(report) == [
        (cell_ref("satisfaction", 3), "out-of-range"),
        (cell_ref("satisfaction", 4), "bad-format"),
        (cell_ref("satisfaction", 5), "bad-format"),
    ]


def test_record_id_format_and_duplicates(make_workbook, form, policy):
    rows = [
        record_row(record_id="FW20240521001"),
        record_row(record_id="FW20240521001"),
        record_row(record_id="FW2024052101"),
        record_row(record_id="fw20240521002"),
        record_row(record_id="FW202405211000"),
    ]
    report = check(make_workbook(rows), form, policy)
    assert codes(report) == [
        (cell_ref("record_id", 1), "duplicate-id"),
        (cell_ref("record_id", 2), "bad-format"),
    ]
    assert "第 2 行" in report.findings[0].message


def test_time_order_and_status_consistency(make_workbook, form, policy):
    rows = [
        record_row(received_at=datetime(2024, 5, 21, 8, 0)),  # before occurred 09:10
        record_row(resolved_at=datetime(2024, 5, 21, 9, 0)),  # before received 09:30
        record_row(status="处理中", satisfaction=None),  # resolution time while still open
        record_row(status="处理中", resolved_at=None, solution=None),  # rated while open
    ]
    report = check(make_workbook(rows), form, policy)
    assert codes(report, severity="error") == [
        (cell_ref("received_at", 0), "time-order"),
        (cell_ref("resolved_at", 1), "time-order"),
        (cell_ref("status", 2), "status-inconsistent"),
        (cell_ref("satisfaction", 3), "status-inconsistent"),
    ]


def test_unmasked_contacts_and_pii_in_text(make_workbook, form, policy):
    rows = [
        record_row(contact_name="张三丰", contact="13800138000"),
        record_row(contact=13800138000),  # phone stored as a number
        record_row(contact="zhangsan@example.com"),
        record_row(contact_name="李**", contact="138****8000 / z***@example.com"),
        record_row(description="客户留了电话 139 1234 5678，身份证 11010519491231002X"),
        record_row(description="订单号 110105194912310021 无法支付"),  # checksum fails: not an ID
    ]
    path = make_workbook(rows)
    report = check(path, form, policy)
    assert codes(report) == [
        (cell_ref("contact_name", 0), "unmasked-contact"),
        (cell_ref("contact", 0), "unmasked-contact"),
        (cell_ref("contact", 1), "unmasked-contact"),
        (cell_ref("contact", 2), "unmasked-contact"),
        (cell_ref("description", 4), "pii-in-text"),
    ]
    pii = report.findings[-1]
    assert pii.severity == "warning" and "手机号" in pii.message and "身份证号" in pii.message
    text = json.dumps(validate_paths([path], form, policy, now=NOW).to_dict(), ensure_ascii=False)
    for secret in ("13800138000", "zhangsan", "张三丰", "1234 5678", "11010519491231002X"):
        assert secret not in text


def test_sla_breach_is_a_warning_at_the_time_cell(make_workbook, form, policy):
    row = record_row(
        severity="P0",
        occurred_at=datetime(2024, 5, 21, 9, 0),
        received_at=datetime(2024, 5, 21, 12, 0),
        resolved_at=datetime(2024, 5, 21, 13, 0),
    )
    report = check(make_workbook([row]), form, policy)
    assert codes(report) == [(cell_ref("received_at", 0), "sla-breach")]
    assert report.valid and "P0" in report.findings[0].message


def test_hidden_rows_are_checked_and_reported(make_workbook, form, policy):
    path = make_workbook(record_rows(3), hidden_rows=[1])
    report = check(path, form, policy)
    assert report.rows == 3
    assert [(f.row, f.code, f.severity) for f in report.findings] == [(3, "hidden-data", "warning")]


def test_formula_without_cached_value_is_a_finding(make_workbook, form, policy):
    path = make_workbook(record_rows(2))
    wb = openpyxl.load_workbook(path)
    ws = wb["问题记录表"]
    ref = cell_ref("module", 1)
    ws[ref] = '=CONCAT("登录","模块")'
    wb.save(path)
    report = check(path, form, policy)
    # one finding for the cell, not also "required, cannot be blank"
    assert codes(report) == [(ref, "formula-no-value")]


def test_excel_error_values_are_findings_not_blanks(make_workbook, form, policy):
    path = make_workbook(record_rows(3))
    wb = openpyxl.load_workbook(path)
    ws = wb["问题记录表"]
    shown = {
        cell_ref("customer", 0): "#N/A",
        cell_ref("occurred_at", 1): "#REF!",
        cell_ref("satisfaction", 2): "#DIV/0!",
    }
    for ref, error in shown.items():
        ws[ref] = error  # an error cell (t="e"), as Excel saves a failed lookup
    wb.save(path)
    report = check(path, form, policy)
    # one finding per cell, naming the error; no "required, cannot be blank" on top of it
    assert codes(report) == [(ref, "error-value") for ref in shown]
    assert all(error in f.message for f, error in zip(report.findings, shown.values(), strict=True))
    assert not report.valid


def test_formula_libreoffice_evaluated_to_an_error_is_a_finding(tmp_path, soffice, form, policy):
    from builders import libreoffice_resave

    (tmp_path / "src").mkdir()
    src = write_record_xlsx(tmp_path / "src" / "f.xlsx", record_rows(2))
    wb = openpyxl.load_workbook(src)
    ref = cell_ref("satisfaction", 1)
    wb["问题记录表"][ref] = "=1/0"
    wb.save(src)
    saved = libreoffice_resave(src, tmp_path / "lo")  # LibreOffice computes and saves #DIV/0!
    report = check(saved, form, policy)
    assert codes(report) == [(ref, "error-value")] and "#DIV/0!" in report.findings[0].message


def test_sheet_found_by_headers_when_not_named_like_the_template(tmp_path, form, policy):
    path = write_record_xlsx(
        tmp_path / "x.xlsx",
        record_rows(2),
        sheet="五月",
        extra_sheets={"说明": [["这是说明"]]},
        extra_sheets_first=True,
    )
    report = check(path, form, policy)
    assert report.sheet == "五月" and report.findings == []


def test_english_messages(make_workbook, form, policy):
    report = check(make_workbook([record_row(severity="P5")]), form, policy, lang="en")
    assert report.findings[0].message.startswith(f"问题记录表!{cell_ref('severity', 0)} Severity:")
    assert "not one of P0/P1/P2/P3" in report.findings[0].message


# -- bad input ----------------------------------------------------------------------------------
def test_unreadable_file_does_not_stop_the_run(tmp_path, make_workbook, form, policy):
    good = make_workbook(record_rows(2))
    csv = tmp_path / "renamed.xlsx"
    csv.write_text("问题编号,客户\nFW1,a\n", encoding="utf-8")
    report = validate_paths([csv, good], form, policy, now=NOW)
    bad, ok = report.files
    assert bad.findings[0].code == "unreadable" and bad.findings[0].cell is None
    assert "renamed.xlsx" in bad.findings[0].message
    assert ok.valid and ok.rows == 2
    assert report.exit_code() == 2


def test_workbook_without_the_form_is_unreadable(tmp_path, form, policy):
    path = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "年龄"])
    wb.save(path)
    report = check(path, form, policy)
    assert codes(report) == [(None, "unreadable")]


def test_folder_skips_lock_and_hidden_files(tmp_path, form, policy):
    folder = tmp_path / "in"
    folder.mkdir()
    write_record_xlsx(folder / "a.xlsx", record_rows(1))
    (folder / "~$a.xlsx").write_bytes(b"lock")
    (folder / ".hidden.xlsx").write_bytes(b"x")
    (folder / "notes.txt").write_text("x")
    report = validate_paths([folder], form, policy, now=NOW)
    assert [p.path.split("/")[-1] for p in report.files] == ["a.xlsx"]


# -- the CLI contract ---------------------------------------------------------------------------
def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_contract_and_exit_codes(make_workbook, form, policy):
    good = make_workbook(record_rows(2), name="good.xlsx")
    bad = make_workbook([record_row(severity="P5")], name="bad.xlsx")
    warn = make_workbook([record_row(analysis=None)], name="warn.xlsx")

    res = run("validate", str(good), str(warn), "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["summary"] == {"files": 2, "valid": 2, "errors": 0, "warnings": 1}

    res = run("validate", str(good), str(bad), "--format", "json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert set(doc) == {"files", "summary", "notes"}
    f = doc["files"][1]
    assert set(f) == {"path", "form", "rows", "valid", "findings", "notes", "annotated"}
    assert f["form"] == "record" and f["rows"] == 1 and f["valid"] is False
    (finding,) = f["findings"]
    assert set(finding) == {"severity", "code", "sheet", "cell", "row", "column", "message"}
    assert finding["code"] == "not-in-list" and finding["cell"] == cell_ref("severity", 0)
    assert (
        finding["row"] == 2 and finding["column"] == "严重程度" and finding["sheet"] == "问题记录表"
    )
    # the JSON is exactly the library's report
    lib = validate_paths([good, bad], form, policy, now=NOW).to_dict()
    assert [x["findings"] for x in lib["files"]] == [x["findings"] for x in doc["files"]]


def test_cli_unreadable_exit_2_one_line_no_traceback(tmp_path):
    html = tmp_path / "page.xls"
    html.write_text("<html><body>not a workbook</body></html>")
    res = run("validate", str(html))
    assert res.exit_code == 2
    assert "Traceback" not in res.output and "page.xls" in res.stdout


def test_cli_text_output_and_annotate(make_workbook, tmp_path):
    bad = make_workbook([record_row(severity="P5")], name="bad.xlsx")
    out = tmp_path / "checked"
    res = run("validate", str(bad), "--annotate", str(out))
    assert res.exit_code == 1
    assert "bad.xlsx" in res.stdout and "not-in-list" in res.stdout
    annotated = out / "bad.checked.xlsx"
    wb = openpyxl.load_workbook(annotated)
    assert wb.sheetnames[0] == "校验结果"
    assert wb["问题记录表"][cell_ref("severity", 0)].comment is not None


def test_cli_bad_usage_is_exit_2(tmp_path):
    assert run("validate").exit_code == 2
    assert run("validate", str(tmp_path / "nope.xlsx")).exit_code == 2


def test_annotated_copy_carries_no_personal_data(tmp_path, make_workbook, form, policy):
    rows = [
        record_row(
            contact_name="张三丰",
            contact="13800138000",
            description="回电 13912345678，邮箱 li.si@example.com",
        )
    ]
    path = make_workbook(rows)
    out = tmp_path / "checked"
    report = validate_paths([path], form, policy, now=NOW, annotate_dir=out)
    annotated = out / "records.checked.xlsx"
    assert report.files[0].annotated == str(annotated)
    wb = openpyxl.load_workbook(annotated)
    ws = wb["问题记录表"]
    assert ws[cell_ref("contact", 0)].value == "****8000"
    assert ws[cell_ref("contact_name", 0)].value == "张**"
    assert "已脱敏" in ws[cell_ref("contact", 0)].comment.text
    assert ws[cell_ref("customer", 0)].value == rows[0]["customer"]  # everything else as it was
    import zipfile

    with zipfile.ZipFile(annotated) as z:
        blob = b"".join(z.read(n) for n in z.namelist()).decode("utf-8", "ignore")
    for secret in ("13800138000", "张三丰", "13912345678", "li.si@"):
        assert secret not in blob


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_legacy_and_opendocument_workbooks_are_validated(tmp_path, soffice, form, policy, fmt):
    import subprocess

    src = write_record_xlsx(tmp_path / "legacy.xlsx", record_rows(2) + [record_row(severity="P9")])
    out = tmp_path / "conv"
    subprocess.run(
        [soffice, "--headless", "--convert-to", fmt, "--outdir", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    converted = out / f"legacy.{fmt}"
    report = validate_paths([converted], form, policy, now=NOW, annotate_dir=tmp_path / "checked")
    f = report.files[0]
    assert f.rows == 3 and codes(f) == [(cell_ref("severity", 2), "not-in-list")]
    assert f.annotated.endswith("legacy.checked.xlsx")
    assert any("宏" in n or "格式" in n for n in f.notes)


#: every finding of each sample, in report order; ``cell_ref(key, i)`` is the cell of
#: ``rows[i]`` in ``sample_workbooks/make_samples.py`` (header on row 1)
SAMPLE_EXPECTATIONS = {
    "01_clean.xlsx": [],
    "02_title_row.xlsx": [],
    "03_bad_lists_and_dates.xlsx": [
        (cell_ref("severity", 1), "not-in-list"),  # P5
        (cell_ref("channel", 2), "not-in-list"),  # 未知
        (cell_ref("occurred_at", 3), "bad-date"),  # 2024/13/45
    ],
    "04_unmasked_contacts.xlsx": [
        (cell_ref("contact", 1), "unmasked-contact"),  # full mobile number
        (cell_ref("contact", 2), "unmasked-contact"),  # full email
        (cell_ref("contact_name", 3), "unmasked-contact"),  # full name
        (cell_ref("contact", 4), "unmasked-contact"),  # phone typed as a number
        (cell_ref("description", 5), "pii-in-text"),  # phone in free text
    ],
    "05_status_and_time.xlsx": [
        (cell_ref("solution", 1), "required-value"),  # 已解决 without 解决方案
        (cell_ref("resolved_at", 1), "required-value"),  # … and without 解决时间
        (cell_ref("resolved_at", 2), "time-order"),  # 解决时间 before 接收时间
        (cell_ref("record_id", 3), "duplicate-id"),
        (cell_ref("satisfaction", 4), "out-of-range"),  # 7
        (cell_ref("owner", 5), "required-value"),  # no owner while 处理中
        (cell_ref("received_at", 6), "time-order"),  # 接收时间 before 发生时间
    ],
    "06_libreoffice_saved.xlsx": [],
    "07_text_dates.xlsx": [],
    "08_renamed_csv.xlsx": [(None, "unreadable")],
}


@pytest.mark.parametrize("name", sorted(SAMPLE_EXPECTATIONS))
def test_sample_workbooks_give_the_documented_findings(samples_dir, form, policy, name):
    report = check(samples_dir / name, form, policy)
    assert codes(report) == SAMPLE_EXPECTATIONS[name]


def test_sample_with_status_and_time_mistakes_flags_each_as_an_error(samples_dir, form, policy):
    report = check(samples_dir / "05_status_and_time.xlsx", form, policy)
    # rows[7] (待处理 without an owner) is valid: no finding on its row
    assert codes(report, severity="error") == SAMPLE_EXPECTATIONS["05_status_and_time.xlsx"]
    assert report.warnings == 0 and 9 not in [f.row for f in report.findings]


def test_hidden_sheet_with_data_is_reported(tmp_path, form, policy):
    path = write_record_xlsx(
        tmp_path / "h.xlsx", record_rows(1), extra_sheets={"旧记录": [["x", 1]]}
    )
    wb = openpyxl.load_workbook(path)
    wb["旧记录"].sheet_state = "hidden"
    wb.save(path)
    report = check(path, form, policy)
    assert [(f.sheet, f.cell, f.code) for f in report.findings] == [("旧记录", None, "hidden-data")]


def test_internal_error_in_one_file_is_one_line_with_debug_hint(make_workbook, monkeypatch):
    import aftersales_xl.jobs.check as validate_module

    path = make_workbook(record_rows(1))

    def boom(*_a, **_k):
        raise RuntimeError("surprise 13800138000")

    monkeypatch.setattr(validate_module, "check_file", boom)
    res = CliRunner().invoke(cli, ["validate", str(path)])
    assert res.exit_code == 2
    assert "--debug" in res.stdout and "Traceback" not in res.output
    assert "13800138000" not in res.output
    with pytest.raises(RuntimeError):
        CliRunner().invoke(cli, ["validate", str(path), "--debug"], catch_exceptions=False)


def test_an_id_with_an_impossible_date_is_bad_format(make_workbook, form, policy):
    report = check(make_workbook([record_row(record_id="FW20240231001")]), form, policy)
    assert codes(report) == [(cell_ref("record_id", 0), "bad-format")]


def test_missing_resolution_column_is_a_missing_column_not_a_crash(make_workbook, form, policy):
    rows = [record_row(status="处理中", solution=None, satisfaction=None, resolved_at=None)]
    report = check(make_workbook(rows, headers={"resolved_at": None}), form, policy)
    assert not report.unreadable
    # the open record is still measured against NOW; with no 解决时间 column the breach has
    # no cell to point at
    assert [(f.cell, f.code, f.severity) for f in report.findings] == [
        (None, "missing-column", "error"),
        (None, "sla-breach", "warning"),
    ]
    assert "解决时间" in report.findings[0].message


def test_a_copy_that_cannot_be_written_does_not_stop_the_run(
    tmp_path, make_workbook, form, policy, monkeypatch
):
    import aftersales_xl.writing.annotate as annotate_module

    a = make_workbook([record_row(severity="P5")], name="a.xlsx")
    b = make_workbook([record_row(severity="P5")], name="b.xlsx")

    def broken(src, *args, **kwargs):
        raise IndexError("style table damaged")

    monkeypatch.setattr(annotate_module, "write_annotated", broken)
    report = validate_paths([a, b], form, policy, now=NOW, annotate_dir=tmp_path / "out")
    # both files checked; an output asked for and not written is exit 2, not a quiet 1
    assert [f.rows for f in report.files] == [1, 1] and report.exit_code() == 2
    assert all(any("批注副本未能写出" in n for n in f.notes) for f in report.files)
    assert [f["annotated"] for f in report.to_dict()["files"]] == [None, None]


def test_a_phone_typed_into_the_customer_field_is_found(make_workbook, form, policy):
    report = check(make_workbook([record_row(customer="张三 13812345678")]), form, policy)
    assert codes(report) == [(cell_ref("customer", 0), "pii-in-text")]


def test_a_phone_with_full_width_dashes_in_free_text_is_found(make_workbook, form, policy):
    report = check(make_workbook([record_row(description="请回电138－0013－8000")]), form, policy)
    assert codes(report) == [(cell_ref("description", 0), "pii-in-text")]


def test_hostile_used_ranges_are_unreadable_through_the_cli_not_a_crash(tmp_path):
    """End to end in a child process: python-calamine would abort the interpreter on the
    first file and openpyxl would hang on the second, so the safety gate must stop both."""
    import subprocess
    import sys
    import zipfile

    stray = stray_cell_workbook(tmp_path / "stray.xlsx")
    src = write_record_xlsx(tmp_path / "src.xlsx", record_rows(1))
    merged = tmp_path / "merged.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(merged, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b"</sheetData>",
                    b'</sheetData><mergeCells count="1">'
                    b'<mergeCell ref="A1:XFD1048576"/></mergeCells>',
                )
            zout.writestr(item, data)
    out = tmp_path / "checked"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aftersales_xl.cli",
            "validate",
            str(stray),
            str(merged),
            "--annotate",
            str(out),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert [f["findings"][0]["code"] for f in doc["files"]] == ["unreadable", "unreadable"]


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter"])
def test_header_only_sheet_is_zero_records_not_an_error(tmp_path, form, policy, engine):
    # a freshly handed-out form with nothing filled in yet
    path = write_record_xlsx(tmp_path / "empty.xlsx", [], engine=engine)
    report = check(path, form, policy)
    assert report.rows == 0 and report.findings == []


def test_calendar_warning_is_printed_once_for_a_run(tmp_path, form, policy):
    from aftersales_xl.reports.render import render_text

    def rows_2031():
        return [
            record_row(severity="P2", occurred_at=datetime(2031, 1, 6, 9, 0),
                       received_at=datetime(2031, 1, 6, 10, 0),
                       resolved_at=datetime(2031, 1, 8, 10, 0))
        ]  # fmt: skip

    paths = [write_record_xlsx(tmp_path / f"{n}.xlsx", rows_2031()) for n in ("a", "b")]
    report = validate_paths(paths, form, policy, now=NOW)
    # one note for the run (JSON: top-level "notes"), printed once after the summary
    assert [n[:4] for n in report.notes] == ["2031"]
    assert report.to_dict()["notes"] == report.notes
    assert not any("2031" in n for f in report.files for n in f.notes)
    text = render_text(report)
    assert text.count("2031 年没有法定节假日数据") == 1
    assert text.splitlines()[-1].startswith("* 2031")


def test_extra_contact_columns_are_scanned_and_a_second_copy_of_a_field_is_named(
    make_workbook, form, policy
):
    path = make_workbook(record_rows(2))
    wb = openpyxl.load_workbook(path)
    ws = wb["问题记录表"]
    first = ws.max_column + 1
    ws.cell(1, first, "联系人")  # the field again
    ws.cell(1, first + 1, "备用电话13800138000")  # a header holding a phone
    ws.cell(2, first + 1, 13912345678)  # a phone stored as a number
    ws.cell(3, first + 1, "wang.wu@example.com")
    wb.save(path)
    report = check(path, form, policy)
    letter = openpyxl.utils.get_column_letter
    a, b = letter(first), letter(first + 1)
    assert [(f.cell, f.code, f.severity) for f in report.findings] == [
        (f"{a}1", "duplicate-column", "warning"),
        (f"{b}1", "unknown-column", "warning"),
        (f"{b}2", "pii-in-text", "warning"),
        (f"{b}3", "pii-in-text", "warning"),
    ]
    assert cell_ref("contact_name", 0)[0] in report.findings[0].message  # names the first column
    blob = json.dumps(report.to_dict(), ensure_ascii=False)
    for secret in ("13800138000", "13912345678", "wang.wu"):
        assert secret not in blob


def test_a_phone_in_the_file_name_is_masked_in_the_report(tmp_path, form, policy):
    path = write_record_xlsx(tmp_path / "张先生13812345678.xlsx", record_rows(1))
    report = validate_paths([path], form, policy, now=NOW, annotate_dir=tmp_path / "out")
    blob = json.dumps(report.to_dict(), ensure_ascii=False)
    assert "13812345678" not in blob and "张先生****5678.xlsx" in blob
    assert any("改名" in n for n in report.files[0].notes)
    # the copy is still written, under a masked name, and the report points at it
    (copy,) = (tmp_path / "out").iterdir()
    assert copy.name == "张先生＊＊＊＊5678.checked.xlsx"
    assert report.files[0].annotated == str(copy)


def test_a_sheet_too_large_to_annotate_gets_no_copy_and_exit_2(tmp_path, form):
    from aftersales_xl.config import load_policy

    config = tmp_path / "xlcheck.toml"
    config.write_text("[limits]\nmax_annotate_cells = 500\n", encoding="utf-8")
    small = load_policy(config)
    # 30 formatted empty rows below 20 records: 51 rows × 21 columns > 500 cells
    path = write_record_xlsx(
        tmp_path / "big.xlsx", record_rows(20, severity="P9"), formatted_empty_rows=30
    )
    report = validate_paths([path], form, small, now=NOW, annotate_dir=tmp_path / "out")
    f = report.files[0]
    assert f.rows == 20 and f.annotated is None and report.exit_code() == 2
    assert any("未写批注副本" in n for n in f.notes)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_hostile_first_file_is_unreadable_through_the_cli_not_a_crash(tmp_path):
    """The CLI begins reading its first file before importing pandas (aftersales_xl.reading.opening):
    the safety scan must still refuse a stray value at XFD1048576 before python-calamine,
    which would abort the interpreter, opens it. In a child process, alone and first."""
    import subprocess
    import sys

    stray = stray_cell_workbook(tmp_path / "stray.xlsx")
    good = write_record_xlsx(tmp_path / "good.xlsx", record_rows(2))
    for args in ([stray], [stray, good]):
        proc = subprocess.run(
            [sys.executable, "-m", "aftersales_xl.cli", "validate", *map(str, args)]
            + ["--format", "json", "--lang", "en"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        files = json.loads(proc.stdout)["files"]
        assert [f["code"] for f in files[0]["findings"]] == ["unreadable"]
        assert "XFD1048576" in files[0]["findings"][0]["message"]
        assert [f["rows"] for f in files[1:]] == [2] * (len(args) - 1)


def stray_cell_workbook(path):
    """A ~1 KB workbook with values in A1 and XFD1048576: python-calamine aborts the whole
    interpreter on it, so the safety scan must refuse it first."""
    wb = openpyxl.Workbook()
    wb.active.title = "问题记录表"
    wb.active["A1"] = "问题编号"
    wb.active["XFD1048576"] = "x"
    wb.save(path)
    return path


def test_a_missing_file_named_with_a_phone_is_reported_masked(tmp_path):
    res = run("validate", str(tmp_path / "张13800138000.xlsx"), "--format", "json")
    assert res.exit_code == 2
    assert "13800138000" not in res.output and "张****8000.xlsx" in res.output


def test_a_workbook_without_the_form_named_with_a_phone_is_reported_masked(tmp_path, form, policy):
    wb = openpyxl.Workbook()
    wb.active.append(["随便", "什么"])
    path = tmp_path / "张13800138000.xlsx"
    wb.save(path)
    res = run("validate", str(path), "--format", "json")
    assert res.exit_code == 2
    assert "13800138000" not in res.output and "张****8000.xlsx" in res.output
    # the exception itself carries no phone either (it may reach a log or a traceback)
    from aftersales_xl.errors import UnreadableError
    from aftersales_xl.reading.workbook import read_form

    with pytest.raises(UnreadableError) as caught:
        read_form(path, form, policy)
    assert "13800138000" not in str(caught.value) and "张****8000.xlsx" in str(caught.value)
