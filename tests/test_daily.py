"""The monitoring daily report (系统监控日报表): template, xlcheck daily, validating a filled one."""

from __future__ import annotations

import shutil
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


# -- 2. xlcheck daily ---------------------------------------------------------------------------

from datetime import date, datetime, timedelta  # noqa: E402

from builders import record_row  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from aftersales_xl.cli import cli  # noqa: E402
from aftersales_xl.reading.register import PROVENANCE, REGISTER_SHEET  # noqa: E402
from aftersales_xl.sla import threshold_status  # noqa: E402

RECORD = load_form("record")
PHONE, EMAIL, IDCARD = "13812345678", "zhang.san@example.com", "11010519491231002X"
HOLIDAY = date(2024, 10, 1)  # 国庆节
MAKEUP = date(2024, 9, 29)  # a Sunday worked instead (调休)


def write_register(path: Path, records: list[dict], merged_at: datetime | None = None) -> Path:
    """A 总台账 as xlcheck merge lays it out: the form's columns, then provenance."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = REGISTER_SHEET
    keys = [*RECORD.keys, *PROVENANCE]
    ws.append([f.label for f in RECORD.fields] + [zh for zh, _en in PROVENANCE.values()])
    for n, rec in enumerate(records, start=1):
        row = dict(rec)
        row.setdefault("source_file", "提交.xlsx")
        row.setdefault("source_row", n + 1)
        row.setdefault("merged_at", merged_at or datetime(2024, 10, 3, 18, 0))
        ws.append([row.get(k) for k in keys])
    wb.save(path)
    return path


def rec(rid: str, occurred: datetime, received: datetime, status: str = "已解决", **kw) -> dict:
    done = status in ("已解决", "已关闭")
    base = {
        "record_id": rid,
        "occurred_at": occurred,
        "received_at": received,
        "status": status,
        "resolved_at": kw.pop("resolved_at", received + timedelta(hours=1) if done else None),
        "satisfaction": kw.pop("satisfaction", None),
    }
    if not done:
        base.update(solution=None, analysis=None)
    base.update(kw)
    return record_row(**base)


def T(day: date, h: int, m: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, h, m)


def holiday_records() -> list[dict]:
    d, prev, nxt = HOLIDAY, HOLIDAY - timedelta(days=1), HOLIDAY + timedelta(days=1)
    return [
        rec("FW20241001001", T(d, 9), T(d, 10), resolved_at=T(d, 12), satisfaction=5),
        rec(
            "FW20241001002",
            T(d, 10),
            T(d, 12),
            "已关闭",
            severity="P0",
            resolved_at=T(d, 15),
            satisfaction=4,
        ),
        rec(
            "FW20241001003",
            T(d, 8),
            T(d, 11, 30),
            "处理中",
            severity="P2",
            owner=f"王工 {PHONE}",
            description=f"客户电话 {PHONE}，邮箱 {EMAIL}，身份证 {IDCARD}",
            contact=PHONE,
        ),
        rec("FW20241001004", T(prev, 23), T(d, 1), resolved_at=T(nxt, 9), satisfaction=2),
        rec("FW20241001005", T(d, 14), T(d, 13), "待处理", owner=None),  # times out of order
        rec("FW20240930001", T(prev, 9), T(prev, 9, 30), resolved_at=T(d, 10), satisfaction=1),
        rec(
            "FW20240929001", T(MAKEUP, 9), T(MAKEUP, 12), resolved_at=T(MAKEUP, 13), satisfaction=3
        ),
        rec(
            "FW20240929002",
            T(MAKEUP, 10),
            T(MAKEUP, 10, 30),
            resolved_at=T(MAKEUP, 11),
            satisfaction=5,
        ),
    ]


def expected_metrics(records: list[dict], day: date, policy) -> dict[str, tuple]:
    """Each metric computed here by hand, independently of aftersales_xl.sla."""
    limit = policy.daily["first_response_hours"]
    received = [r for r in records if r["received_at"].date() == day]
    hours = [
        (r["received_at"] - r["occurred_at"]).total_seconds() / 3600
        for r in received
        if r["received_at"] >= r["occurred_at"]
    ]
    closed = [r for r in received if r["status"] in ("已解决", "已关闭")]
    ratings = [
        r["satisfaction"]
        for r in records
        if r["resolved_at"] and r["resolved_at"].date() == day and r["satisfaction"]
    ]
    over = [h for h in hours if h > limit]

    def ratio(part, whole):
        return part / whole if whole else "—"

    return {
        "first_response_avg": (sum(hours) / len(hours) if hours else "—", len(hours)),
        "first_response_max": (max(hours) if hours else "—", len(hours)),
        "first_response_overdue": (len(over) if hours else "—", len(hours)),
        "closure_rate": (ratio(len(closed), len(received)), len(received)),
        "csat": (ratio(sum(1 for x in ratings if x >= 4), len(ratings)), len(ratings)),
        "bad_review_rate": (ratio(sum(1 for x in ratings if x <= 2), len(ratings)), len(ratings)),
        "system_anomalies": (0, 0),
    }


def read_metrics(path: Path) -> dict[str, tuple]:
    wb = openpyxl.load_workbook(path)
    return {
        m.key: (value(wb, m.key, "actual"), value(wb, m.key, "count"), value(wb, m.key, "status"))
        for m in SPEC.metrics
    }


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["daily", *args], env=env, catch_exceptions=False)


@pytest.fixture
def register(tmp_path) -> Path:
    return write_register(tmp_path / "总台账.xlsx", holiday_records())


@pytest.mark.parametrize("day", [HOLIDAY, MAKEUP, HOLIDAY + timedelta(days=2)])
def test_each_metric_equals_an_independent_computation(register, tmp_path, policy, day):
    out = tmp_path / f"daily-{day}.xlsx"
    result = run("--register", str(register), "--date", day.isoformat(), "-o", str(out))
    assert result.exit_code == 0, result.output
    got = read_metrics(out)
    for key, (actual, count) in expected_metrics(holiday_records(), day, policy).items():
        shown, n, _status = got[key]
        assert n == count, key
        if actual == "—":
            assert shown == "—", key
        else:
            assert shown == pytest.approx(actual), key
    wb = openpyxl.load_workbook(out)
    assert value(wb, "report_date") == datetime.combine(day, datetime.min.time())
    assert read_marker(out) == DAILY.marker


def test_holiday_report_lists_the_overdue_record_and_says_the_day_kind(register, tmp_path):
    out = tmp_path / "d.xlsx"
    result = run(
        "--register", str(register), "--date", "2024-10-01", "-o", str(out), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.output)
    assert data["day_kind"] == "rest-day"
    assert [o["record_id"] for o in data["overdue"]] == ["FW20241001003"]
    assert set(data["warnings"]) == {
        "first_response_max",
        "first_response_overdue",
        "closure_rate",
        "csat",
        "bad_review_rate",
        "first_response_avg",
    }
    wb = openpyxl.load_workbook(out)
    rows = [tuple(c.value for c in r) for r in named(wb, "daily_overdue")]
    assert rows[0] == ("FW20241001003", "P2", pytest.approx(3.5), "王工 ****5678")
    assert all(v is None for r in rows[1:] for v in r)
    makeup = run(
        "--register",
        str(register),
        "--date",
        "2024-09-29",
        "-o",
        str(tmp_path / "m.xlsx"),
        "--format",
        "json",
    )
    assert json.loads(makeup.output)["day_kind"] == "make-up-workday"


def test_a_day_without_records_is_dash_and_sample_zero(tmp_path, policy):
    reg = write_register(
        tmp_path / "r.xlsx",
        [rec("FW20241001001", T(HOLIDAY, 9), T(HOLIDAY, 10), satisfaction=5)],
        merged_at=datetime(2024, 10, 5, 9),
    )
    out = tmp_path / "d.xlsx"
    result = run("--register", str(reg), "--date", "2024-10-04", "-o", str(out))
    assert result.exit_code == 0, result.output
    got = read_metrics(out)
    assert {k: v for k, v in got.items() if k != "system_anomalies"} == {
        k: ("—", 0, "—") for k in got if k != "system_anomalies"
    }
    assert got["system_anomalies"] == (0, 0, "正常")


def test_a_day_outside_the_register_or_not_a_register_is_one_line_exit_2(register, tmp_path):
    out = tmp_path / "d.xlsx"
    result = CliRunner().invoke(
        cli, ["daily", "--register", str(register), "--date", "2024-11-01", "-o", str(out)]
    )
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "2024-09-29" in result.output
    assert not out.exists()
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    wb.save(other)
    result = CliRunner().invoke(cli, ["daily", "--register", str(other), "-o", str(out)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def boundary_records(day: date, *, over: bool) -> list[dict]:
    """20 records received on ``day``: the longest first response exactly 2 h (2 h 1 min when
    ``over``), the others 1 h; 19 closed (18), 20 ratings with 16 good and 3 bad (15 good, 4 bad)."""
    records = []
    good, bad = (15, 4) if over else (16, 3)
    for i in range(20):
        occurred = T(day, 8) + timedelta(minutes=10 * i)
        first = timedelta(hours=2, minutes=1 if over else 0)
        received = occurred + (first if i == 0 else timedelta(hours=1))
        closed = i < (18 if over else 19)
        rating = 5 if i < good else (1 if i < good + bad else 3)
        records.append(
            rec(
                f"FW{day:%Y%m%d}{i + 1:03d}",
                occurred,
                received,
                "已解决" if closed else "处理中",
                resolved_at=received + timedelta(hours=1),
                satisfaction=rating,
            )
        )
    return records


@pytest.mark.parametrize("over", [False, True])
def test_thresholds_flip_exactly_at_their_boundaries(tmp_path, over):
    day = date(2024, 5, 21)
    reg = write_register(tmp_path / "r.xlsx", boundary_records(day, over=over), T(day, 20))
    out = tmp_path / "d.xlsx"
    result = run(
        "--register", str(reg), "--date", day.isoformat(), "-o", str(out), "--fail-on-warning"
    )
    got = {k: v[2] for k, v in read_metrics(out).items()}
    status = "预警" if over else "正常"
    assert got == {
        "first_response_avg": "正常",  # the mean stays under 2 h either way
        "first_response_max": status,
        "first_response_overdue": status,
        "closure_rate": status,
        "csat": status,
        "bad_review_rate": status,
        "system_anomalies": "正常",
    }
    assert result.exit_code == (1 if over else 0)
    actual = read_metrics(out)
    assert actual["closure_rate"][0] == pytest.approx(0.90 if over else 0.95)
    assert actual["csat"][0] == pytest.approx(0.75 if over else 0.80)
    assert actual["bad_review_rate"][0] == pytest.approx(0.20 if over else 0.15)


def test_threshold_status_at_the_boundary():
    assert threshold_status(2.0, 2.0, "max") == "normal"
    assert threshold_status(2.0 + 1 / 60, 2.0, "max") == "warning"
    assert threshold_status(57 / 60, 0.95, "min") == "normal"
    assert threshold_status(0.9499, 0.95, "min") == "warning"
    assert threshold_status(None, 0.95, "min") is None


def test_rerun_refreshes_computed_cells_and_keeps_what_people_typed(register, tmp_path):
    out = tmp_path / "d.xlsx"
    assert run("--register", str(register), "--date", "2024-10-01", "-o", str(out)).exit_code == 0
    wb = openpyxl.load_workbook(out)
    named(wb, "daily_filled_by").value = "李工"
    named(wb, "daily_filled_at").value = datetime(2024, 10, 2, 8, 30)
    rows = named(wb, "daily_anomalies")
    typed = [
        ("界面卡顿", "工单列表加载慢", datetime(2024, 10, 1, 10, 5), "已解决", "赵工", "已扩容"),
        ("数据无法提交", "表单提交报错 500", datetime(2024, 10, 1, 15, 0), "处理中", "钱工", None),
    ]
    for cells, values in zip(rows, typed, strict=False):
        for c, v in zip(cells, values, strict=True):
            c.value = v
    named(wb, "daily_notes").value = "夜间巡检正常"
    named(wb, "daily_closure_rate_actual").value = 0.5  # a computed cell: refreshed
    wb.save(out)
    # one more record that day, merged since
    records = [*holiday_records(), rec("FW20241001006", T(HOLIDAY, 16), T(HOLIDAY, 16, 30))]
    write_register(register, records)
    result = run("--register", str(register), "--date", "2024-10-01", "-o", str(out))
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    assert value(wb, "filled_by") == "李工"
    assert value(wb, "filled_at") == datetime(2024, 10, 2, 8, 30)
    assert value(wb, "notes") == "夜间巡检正常"
    kept = [tuple(c.value for c in r) for r in named(wb, "daily_anomalies")][:2]
    assert kept == typed
    assert value(wb, "closure_rate", "actual") == pytest.approx(4 / 6)
    assert value(wb, "system_anomalies", "actual") == 2
    assert value(wb, "system_anomalies", "status") == "预警"


def test_an_existing_file_that_is_not_this_days_report_is_never_overwritten(register, tmp_path):
    out = tmp_path / "d.xlsx"
    assert run("--register", str(register), "--date", "2024-10-01", "-o", str(out)).exit_code == 0
    before = out.read_bytes()
    result = CliRunner().invoke(
        cli, ["daily", "--register", str(register), "--date", "2024-10-02", "-o", str(out)]
    )
    assert result.exit_code == 2 and "2024-10-01" in result.output
    assert out.read_bytes() == before
    other = tmp_path / "x.xlsx"
    openpyxl.Workbook().save(other)
    result = CliRunner().invoke(cli, ["daily", "--register", str(register), "-o", str(other)])
    assert result.exit_code == 2


def xml_parts(path: Path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())


def test_canary_raw_phones_and_emails_never_reach_the_report_or_stdout(register, tmp_path):
    out = tmp_path / "d.xlsx"
    for fmt in ("text", "json"):
        result = run(
            "--register", str(register), "--date", "2024-10-01", "-o", str(out), "--format", fmt
        )
        assert result.exit_code == 0
        for raw in (PHONE, EMAIL, IDCARD):
            assert raw not in result.output
    parts = xml_parts(out)
    for raw in (PHONE, EMAIL, IDCARD):
        assert raw not in parts


def test_report_converts_in_libreoffice(soffice, register, tmp_path):
    out = tmp_path / "d.xlsx"
    assert run("--register", str(register), "--date", "2024-10-01", "-o", str(out)).exit_code == 0
    pdf = soffice_convert(soffice, out, tmp_path / "pdf")
    assert pdf.is_file() and pdf.stat().st_size > 1000


# -- 4. validating a filled report ----------------------------------------------------------------


def fill(path: Path, changes: dict[str, object]) -> None:
    wb = openpyxl.load_workbook(path)
    for name, v in changes.items():
        if isinstance(v, list):
            for cells, values in zip(named(wb, name), v, strict=False):
                for c, x in zip(cells, values, strict=False):
                    c.value = x
        else:
            named(wb, name).value = v
    wb.save(path)


def good_filling() -> dict[str, object]:
    """A correctly hand-filled report of 2024-05-21."""
    out: dict[str, object] = {
        "daily_report_date": datetime(2024, 5, 21),
        "daily_filled_by": "李工",
        "daily_filled_at": datetime(2024, 5, 22, 8, 40),
    }
    actual = {
        "first_response_avg": (1.5, 12, "正常"),
        "first_response_max": (1.9, 12, "正常"),
        "first_response_overdue": (0, 12, "正常"),
        "closure_rate": (0.96, 25, "正常"),
        "csat": ("—", 0, "—"),
        "bad_review_rate": ("—", 0, "—"),
        "system_anomalies": (1, 1, "预警"),
    }
    for key, (a, n, status) in actual.items():
        out[f"daily_{key}_actual"] = a
        out[f"daily_{key}_count"] = n
        out[f"daily_{key}_status"] = status
    out["daily_anomalies"] = [
        ("界面卡顿", "工单列表加载慢", datetime(2024, 5, 21, 10, 5), "已解决", "赵工", None)
    ]
    return out


def validate_json(*paths: Path, annotate: Path | None = None) -> dict:
    import json

    args = ["validate", *map(str, paths), "--format", "json"]
    if annotate is not None:
        args += ["--annotate", str(annotate)]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, json.loads(result.output)


def test_a_correct_hand_filled_report_is_valid(template, tmp_path):
    path = tmp_path / "日报.xlsx"
    shutil.copy(template, path)
    fill(path, good_filling())
    code, data = validate_json(path)
    (f,) = data["files"]
    assert (code, f["form"], f["valid"], f["rows"], f["findings"]) == (0, "daily", True, 1, [])


def test_planted_mistakes_give_exactly_those_findings_at_those_cells(template, tmp_path):
    path = tmp_path / "日报.xlsx"
    shutil.copy(template, path)
    changes = good_filling()
    changes.update(
        {
            "daily_filled_by": None,  # required
            "daily_filled_at": datetime(2024, 5, 22, 9, 30),  # after the 09:00 deadline
            "daily_closure_rate_actual": 0.88,  # 88 % closed, but marked 正常
            "daily_csat_actual": 1.5,  # 150 %
            "daily_first_response_max_status": "好",  # not a status
            "daily_first_response_avg_actual": None,  # required
            "daily_anomalies": [
                (
                    "界面卡顿",
                    "工单列表加载慢",
                    datetime(2024, 5, 21, 10, 5),
                    "已解决",
                    "赵工",
                    None,
                ),
                ("宕机", f"联系 {PHONE}", "昨天", "挂起", None, None),
            ],
        }
    )
    fill(path, changes)
    wb = openpyxl.load_workbook(path)

    def at(name, col=None, row=1):
        cell = named(wb, name) if col is None else named(wb, name)[row][col]
        return cell.coordinate

    code, data = validate_json(path)
    (f,) = data["files"]
    got = sorted((x["cell"], x["code"]) for x in f["findings"])
    assert got == sorted(
        [
            (at("daily_filled_by"), "required-value"),
            (at("daily_filled_at"), "late-report"),
            (at("daily_closure_rate_status"), "status-inconsistent"),
            (at("daily_csat_actual"), "out-of-range"),
            (at("daily_first_response_max_status"), "not-in-list"),
            (at("daily_first_response_avg_actual"), "required-value"),
            (at("daily_anomalies", 0), "not-in-list"),
            (at("daily_anomalies", 1), "pii-in-text"),
            (at("daily_anomalies", 2), "bad-date"),
            (at("daily_anomalies", 3), "not-in-list"),
            (at("daily_anomalies", 4), "required-value"),
        ]
    )
    assert code == 1 and f["form"] == "daily" and f["rows"] == 2
    late = next(x for x in f["findings"] if x["code"] == "late-report")
    assert late["severity"] == "warning" and "2024-05-22 09:00" in late["message"]
    bad = next(x for x in f["findings"] if x["code"] == "status-inconsistent")
    assert "88.0%" in bad["message"] and "预警" in bad["message"]
    assert PHONE not in json_dump(data)


def json_dump(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def test_a_generated_report_validates_except_for_the_signature_and_annotates(register, tmp_path):
    out = tmp_path / "d.xlsx"
    assert run("--register", str(register), "--date", "2024-10-01", "-o", str(out)).exit_code == 0
    code, data = validate_json(out, annotate=tmp_path / "checked")
    (f,) = data["files"]
    wb = openpyxl.load_workbook(out)
    assert sorted((x["cell"], x["code"]) for x in f["findings"]) == sorted(
        [
            (named(wb, "daily_filled_by").coordinate, "required-value"),
            (named(wb, "daily_filled_at").coordinate, "required-value"),
        ]
    )
    annotated = Path(f["annotated"])
    assert annotated.is_file()
    copy = openpyxl.load_workbook(annotated)
    sheet = copy[DAILY.sheet]
    assert sheet[named(wb, "daily_filled_by").coordinate].comment is not None
    assert PHONE not in xml_parts(annotated)


def test_more_overdue_records_than_rows_says_how_many_more_and_english_works(tmp_path):
    day = date(2024, 5, 21)
    records = [
        rec(
            f"FW20240521{i + 1:03d}",
            T(day, 0) + timedelta(minutes=i),
            T(day, 5) + timedelta(minutes=i),
        )
        for i in range(25)
    ]
    reg = write_register(tmp_path / "r.xlsx", records, T(day, 23))
    out = tmp_path / "d.xlsx"
    result = run("--register", str(reg), "--date", "2024-05-21", "-o", str(out), "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "First responses over threshold" in result.output
    wb = openpyxl.load_workbook(out)
    rows = [tuple(c.value for c in r) for r in named(wb, "daily_overdue")]
    assert len(rows) == 20 and rows[-1][:2] == ("…", "6 more, see the register")
    assert value(wb, "first_response_overdue", "actual") == 25
    assert value(wb, "first_response_overdue", "status") == "warning"
    assert wb.sheetnames == [DAILY.sheet_en]
