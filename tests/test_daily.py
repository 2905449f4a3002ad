"""The monitoring daily report (系统监控日报表): template, xlcheck daily, validating a filled one."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest
from test_template import snapshot

from aftersales_xl.config import load_policy
from aftersales_xl.forms import defined_name, load_form
from aftersales_xl.writing.template import read_marker, write_template

COMMITTED = Path(__file__).resolve().parents[1] / "templates" / "daily_report.xlsx"
DAILY = load_form("daily")
SPEC = DAILY.sheet_form


@pytest.fixture(scope="module")
def policy():
    return load_policy(search_cwd=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory, policy) -> Path:
    return write_template(tmp_path_factory.mktemp("dtpl") / "daily_report.xlsx", DAILY, policy)


def named(wb, name: str):
    """The cell (or rows of cells) a defined name points at."""
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    cells = wb[sheet][ref.replace("$", "")]
    return cells


def value(wb, key: str, part: str | None = None):
    return named(wb, defined_name(DAILY, key, part)).value


def soffice_convert(exe: str, src: Path, out: Path, fmt: str = "pdf") -> Path:
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [
                exe,
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                fmt,
                "--outdir",
                str(out),
                str(src),
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
    return out / f"{src.stem}.{fmt}"


# -- 1. the template ----------------------------------------------------------------------------


def test_committed_daily_template_matches_the_spec(template):
    assert COMMITTED.is_file(), "run: xlcheck template daily -o templates/daily_report.xlsx"
    assert snapshot(COMMITTED) == snapshot(template), (
        "templates/daily_report.xlsx is stale: run xlcheck template daily "
        "-o templates/daily_report.xlsx --force"
    )


def test_template_names_every_input_and_computed_cell(template, policy):
    assert read_marker(template) == "aftersales-xl:daily:1" == DAILY.marker
    wb = openpyxl.load_workbook(template)
    names = set(wb.defined_names)
    expected = {defined_name(DAILY, c.key) for c in SPEC.header}
    expected |= {
        defined_name(DAILY, m.key, part) for m in SPEC.metrics for part, *_ in SPEC.metric_columns
    }
    expected |= {defined_name(DAILY, t.key) for t in SPEC.tables} | {"daily_notes"}
    assert expected <= names
    # thresholds come from the policy, in the cell's unit
    assert value(wb, "first_response_avg", "threshold") == 2.0
    assert value(wb, "closure_rate", "threshold") == pytest.approx(0.95)
    assert value(wb, "csat", "threshold") == pytest.approx(0.80)
    assert value(wb, "bad_review_rate", "threshold") == pytest.approx(0.15)
    assert named(wb, "daily_closure_rate_actual").number_format == "0.0%"
    assert named(wb, "daily_first_response_avg_actual").number_format == '0.0" 小时"'
    assert named(wb, "daily_filled_at").number_format == "yyyy-mm-dd hh:mm"
    assert named(wb, "daily_report_date").number_format == "yyyy-mm-dd"
    ws = wb[DAILY.sheet]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    rows = named(wb, "daily_anomalies")
    assert len(rows) == SPEC.table("anomalies").rows and len(rows[0]) == 6
    lists = {
        str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"
    }
    type_col = rows[0][0].column_letter
    assert lists[f"{type_col}{rows[0][0].row}:{type_col}{rows[-1][0].row}"] == (
        '"数据无法提交,界面卡顿,功能模块失效,其他"'
    )
    status_cell = rows[0][3]
    ref = (
        f"{status_cell.column_letter}{status_cell.row}:{status_cell.column_letter}{rows[-1][0].row}"
    )
    assert lists[ref] == '"待处理,处理中,已解决"'
    assert lists[named(wb, "daily_csat_status").coordinate] == '"正常,预警,—"'


def test_template_in_english(tmp_path, policy):
    path = write_template(tmp_path / "daily_en.xlsx", DAILY, policy, "en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [DAILY.sheet_en]
    assert named(wb, "daily_first_response_avg_actual").number_format == '0.0" h"'
    ws = wb.active
    assert ws["A1"].value == DAILY.title_en


def test_template_cli_writes_the_daily_form(tmp_path):
    from click.testing import CliRunner

    from aftersales_xl.cli import cli

    out = tmp_path / "d.xlsx"
    result = CliRunner().invoke(cli, ["template", "daily", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_marker(out) == DAILY.marker


def test_template_converts_in_libreoffice(soffice, template, tmp_path):
    pdf = soffice_convert(soffice, template, tmp_path)
    assert pdf.is_file() and pdf.stat().st_size > 1000
