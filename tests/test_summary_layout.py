"""The summary tabs as a supervisor and a manager use them: read back with openpyxl (widths,
page setup, chart anchors, cohort labels), the new figures against an independent pandas
computation, the merge's console summary, and — where LibreOffice is installed — the printed
register (PDF): 概览 on one page, no chart across a page edge."""

from __future__ import annotations

import re
import subprocess
import tempfile
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from builders import record_rows, write_record_xlsx
from test_summaries import NOW, WEEK_START, register_frame

from aftersales_xl.config import load_policy
from aftersales_xl.jobs.merge import merge
from aftersales_xl.reports import summary_sheets
from aftersales_xl.reports.render import render_merge
from aftersales_xl.reports.summaries import SUMMARY_SHEETS, compute_summaries
from aftersales_xl.reports.summary_sheets import write_summary_sheets
from aftersales_xl.writing import layout
from aftersales_xl.writing.cells import CellWriter
from aftersales_xl.writing.register import with_sla_columns, write_register

HOUR = pd.Timedelta(hours=1)
WEEK = timedelta(days=7)
#: every resolution target in calendar hours, so SLA outcomes can be computed independently
HOURS_POLICY = '[sla.P2]\nrespond = "24h"\nresolve = "120h"\n'
RAW_PHONE, RAW_EMAIL, RAW_ID_CARD = "13912345678", "li.lei@example.com", "110101199003071233"


@pytest.fixture
def hours_policy(tmp_path):
    path = tmp_path / "xlcheck.toml"
    path.write_text(HOURS_POLICY, encoding="utf-8")
    return load_policy(path)


def long_id_frame() -> pd.DataFrame:
    """The summaries fixture with 4-digit sequence IDs (14 characters, wider than the old
    fixed column) and PII canaries in the feedback and solution text."""
    frame = register_frame()
    frame["record_id"] = [f"FW{t:%Y%m%d}{1000 + i:04d}" for i, t in enumerate(frame["received_at"])]
    low = frame.index[frame["satisfaction"].fillna(5) <= 2]
    frame.loc[low[0], "feedback"] = f"客户要求回电 {RAW_PHONE}，邮件 {RAW_EMAIL}"
    frame.loc[low[1], "solution"] = f"永久方案：核对身份证 {RAW_ID_CARD} 后重置"
    return frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return long_id_frame()


@pytest.fixture
def register(tmp_path, frame, hours_policy, form) -> Path:
    s = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    path = tmp_path / "总台账.xlsx"
    write_register(
        path, with_sla_columns(frame, hours_policy, NOW), form=form, policy=hours_policy,
        now=s.now, summary_sheets=lambda wb, cells: write_summary_sheets(wb, cells, s, "zh"),
    )  # fmt: skip
    return path


@pytest.fixture
def book(register):
    return openpyxl.load_workbook(register)


def column_width(ws, col: int) -> float:
    return ws.column_dimensions[openpyxl.utils.get_column_letter(col)].width


def scale(ws) -> int:
    """The print scale in %; 100 is OOXML's default, left out of the file."""
    return 100 if ws.page_setup.scale is None else int(ws.page_setup.scale)


def find(ws, text: str) -> tuple[int, int]:
    """(row, column) of the first cell whose value is ``text``."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == text:
                return cell.row, cell.column
    raise AssertionError(f"{text!r} not on {ws.title}")


# -- layout ---------------------------------------------------------------------------------


def test_text_width_counts_cjk_double():
    assert layout.text_width("FW20240910030") == 13
    assert layout.text_width("问题编号") == 8
    assert layout.text_width("P3 无目标") == 9
    assert layout.wrapped_lines("一二三四五六七八九十", 11) == 2


def test_id_columns_fit_the_longest_id(book, frame):
    longest = max(len(i) for i in frame["record_id"])
    ws = book["满意度跟进"]
    row, col = find(ws, "问题编号")
    ids = [c.value for c in ws[openpyxl.utils.get_column_letter(col)][row:] if c.value]
    assert ids and max(map(len, ids)) == longest == 14
    assert column_width(ws, col) >= longest + 1
    ws = book["高频问题"]
    for i in (1, 2, 3):
        _row, col = find(ws, f"示例{i} 问题编号")
        assert column_width(ws, col) >= longest + 1
    ws = book["总台账"]
    assert column_width(ws, 1) >= longest + 1


def test_long_text_wraps_with_a_row_height_to_match(book):
    ws = book["高频问题"]
    _row, col = find(ws, "示例1 解决方案")
    width = column_width(ws, col)
    assert width <= summary_sheets.WRAP_WIDTHS["example_solution"]
    for cell in ws[openpyxl.utils.get_column_letter(col)][3:]:
        if cell.value:
            assert cell.alignment.wrap_text
            lines = layout.wrapped_lines(cell.value, width)
            height = ws.row_dimensions[cell.row].height or layout.ROW_POINTS
            assert height >= lines * layout.ROW_POINTS
    basis = book["概览"]
    _row, col = find(basis, "口径")
    assert all(
        c.alignment.wrap_text for c in basis[openpyxl.utils.get_column_letter(col)][6:] if c.value
    )


def test_every_tab_prints_landscape_one_page_wide_with_titles_and_footer(book):
    for ws in book.worksheets:
        if ws.sheet_state == "hidden":
            continue
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.paperSize in (9, "9"), ws.title
        assert ws.print_title_rows, ws.title
        assert ws.print_area, ws.title
        footer = ws.oddFooter
        assert footer.left.text == "&A" and "&P" in footer.center.text, ws.title
        assert "统计时间 2024-06-10 12:00" in footer.right.text, ws.title
        if ws.title in ("总台账", "变更记录"):  # too wide to read at one page wide
            id_col = openpyxl.utils.get_column_letter(find(ws, "问题编号")[1])
            assert ws.print_title_rows == "$1:$1" and ws.print_title_cols == f"${id_col}:${id_col}"
            continue
        fit = (
            ws.sheet_properties.pageSetUpPr is not None
            and ws.sheet_properties.pageSetUpPr.fitToPage
        )
        if ws.title in ("周趋势", "未结账龄"):  # a computed scale keeps the break before a chart
            assert not fit and 10 <= scale(ws) <= 100, ws.title
        else:
            # OOXML's default for both is 1 (xlsxwriter leaves a 1 out)
            wide = 1 if ws.page_setup.fitToWidth is None else int(ws.page_setup.fitToWidth)
            tall = 1 if ws.page_setup.fitToHeight is None else int(ws.page_setup.fitToHeight)
            assert fit and wide == 1, ws.title
            assert tall == (1 if ws.title == "概览" else 0), ws.title


def test_register_print_area_covers_every_record(book, frame):
    ws = book["总台账"]
    last = openpyxl.utils.get_column_letter(ws.max_column)
    assert ws.print_area == f"'总台账'!$A$1:${last}${len(frame) + 1}"


def test_scaled_chart_tabs_fit_one_page_wide(book):
    for name, size in (
        ("周趋势", summary_sheets.TREND_CHART),
        ("未结账龄", summary_sheets.AGING_CHART),
    ):
        ws = book[name]
        first, last = re.search(r"\$([A-Z]+)\$\d+:\$([A-Z]+)\$\d+", ws.print_area).groups()
        cols = range(
            openpyxl.utils.column_index_from_string(first),
            openpyxl.utils.column_index_from_string(last) + 1,
        )
        points = sum(layout.column_points(column_width(ws, c) or 8.43) for c in cols)
        assert points >= size[0] * 0.75  # the chart is inside the print area
        assert points * scale(ws) / 100 <= layout.PRINT_WIDTH


def test_charts_sit_below_their_tables_with_titles_and_axis_titles(book, register):
    for name in ("周趋势", "未结账龄"):
        ws = book[name]
        (chart,) = ws._charts
        table_end = max(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value is not None)
        anchor = chart.anchor._from
        assert anchor.col == 0 and anchor.row >= table_end, name  # 0-based: a blank row between
    with zipfile.ZipFile(register) as z:
        charts = [
            z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("xl/charts/chart")
        ]
    assert len(charts) == 2
    for xml in charts:
        assert xml.count("<c:title>") >= 3, "chart title and both axis titles"
    aging = next(x for x in charts if '<c:grouping val="stacked"/>' in x)
    assert aging.count("<c:ser>") == 4  # P0–P3, as in the table


def test_overview_names_the_cohort_of_every_block(book):
    ws = book["概览"]
    values = [c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert "按接收时间（接收批次）：该期间接收的记录" in values
    assert "按解决时间（解决批次）：该期间解决/关闭的记录" in values
    assert "最近一周接收\n06-03–06-09" in values and "前一周接收\n05-27–06-02" in values
    assert "最近一周解决\n06-03–06-09" in values and "前一周解决\n05-27–06-02" in values
    assert any(v.startswith("达标率只计结果已知的记录") for v in values)
    received = find(ws, "按接收时间（接收批次）：该期间接收的记录")[0]
    resolved = find(ws, "按解决时间（解决批次）：该期间解决/关闭的记录")[0]
    assert received < find(ws, "结案率")[0] < resolved < find(ws, "满意度(CSAT)")[0]
    assert received < find(ws, "解决达标率（全部有目标的级别）")[0] < resolved
    assert resolved < find(ws, "平均解决时长(小时)")[0]
    row, col = find(ws, "P3 无目标 / no target")
    assert ws.cell(row, col + 1).value == 8


def test_sheet_order(book):
    assert book.sheetnames[1 : 1 + len(SUMMARY_SHEETS)] == list(SUMMARY_SHEETS)
    assert "负责人统计" in SUMMARY_SHEETS


def test_no_pii_in_any_part_of_the_register(register):
    with zipfile.ZipFile(register) as z:
        xml = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    for raw in (RAW_PHONE, RAW_EMAIL, RAW_ID_CARD):
        assert raw not in xml


# -- the new figures against pandas -----------------------------------------------------------


def independent_sla(frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Outcomes with hours targets only (HOURS_POLICY), computed from scratch."""
    respond = {"P0": 1, "P1": 4, "P2": 24}
    resolve = {"P0": 24, "P1": 72, "P2": 120}
    out = pd.DataFrame(index=frame.index)
    for kind, targets, start, finish in (
        ("respond", respond, "occurred_at", "received_at"),
        ("resolve", resolve, "received_at", "resolved_at"),
    ):
        due = frame[start] + frame["severity"].map(targets) * HOUR
        took = frame[finish]
        status = pd.Series(None, index=frame.index, dtype=object)
        has = frame["severity"].isin(list(targets)) & frame[start].notna()
        status[has & took.notna() & (took <= due)] = "met"
        status[has & took.notna() & (took > due)] = "breached"
        status[has & took.isna() & (due < now)] = "overdue"
        status[has & took.isna() & (due >= now)] = "open"
        out[kind] = status
    return out


def pct(part, whole):
    return None if whole == 0 else part / whole * 100


def known_rate(status: pd.Series) -> tuple[float | None, int]:
    known = status.isin(["met", "breached", "overdue"])
    return pct(int((status == "met").sum()), int(known.sum())), int(known.sum())


def row_of(s, key):
    return s.overview.set_index("key").loc[key]


def test_overall_sla_and_open_past_due_match_pandas(frame, hours_policy):
    s = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    sla = independent_sla(frame, NOW)
    received = frame["received_at"]
    periods = {
        "all": pd.Series(True, index=frame.index),
        "week": (received >= WEEK_START) & (received < WEEK_START + WEEK),
        "prev": (received >= WEEK_START - WEEK) & (received < WEEK_START),
    }
    for kind in ("respond", "resolve"):
        row = row_of(s, f"sla_{kind}")
        for period, mask in periods.items():
            value, n = known_rate(sla[kind][mask])
            assert row[f"{period}_n"] == n, (kind, period)
            if value is None:
                assert pd.isna(row[f"{period}_value"])
            else:
                assert row[f"{period}_value"] == pytest.approx(value), (kind, period)
        assert row["change"] == pytest.approx(row["week_value"] - row["prev_value"], nan_ok=True)
    overdue = row_of(s, "overdue")
    for period, mask in periods.items():
        assert overdue[f"{period}_value"] == int((sla["resolve"][mask] == "overdue").sum())
    assert overdue["all_value"] > 0
    p3 = row_of(s, "no_target:P3")
    assert p3["label"] == "P3 无目标 / no target"
    assert [p3[f"{p}_value"] for p in periods] == [
        int((frame["severity"][m] == "P3").sum()) for m in periods.values()
    ]


def test_open_records_within_target_do_not_move_the_sla_rate(frame, hours_policy):
    """A record received this morning and still being worked on (inside its target) is left
    out of SLA met %: the rate is the same with and without it; it counts once overdue."""
    base = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    fresh = frame.iloc[[0]].assign(
        record_id="FW202406100001", severity="P0", status="处理中",
        received_at=pd.Timestamp(NOW) - 2 * HOUR, occurred_at=pd.Timestamp(NOW) - 3 * HOUR,
        resolved_at=pd.NaT, satisfaction=pd.NA,
    )  # fmt: skip
    more = pd.concat([frame, fresh], ignore_index=True)
    later = compute_summaries(more, hours_policy, NOW, WEEK_START)
    cols = ["all_value", "all_n"]
    pd.testing.assert_series_equal(
        row_of(base, "sla_resolve")[cols], row_of(later, "sla_resolve")[cols]
    )
    assert row_of(later, "records")["all_value"] == row_of(base, "records")["all_value"] + 1
    then = NOW + timedelta(days=2)
    overdue = compute_summaries(more, hours_policy, then, WEEK_START)
    without = compute_summaries(frame, hours_policy, then, WEEK_START)
    assert row_of(overdue, "sla_resolve")["all_n"] == row_of(without, "sla_resolve")["all_n"] + 1


def test_previous_week_resolved_cohort_matches_pandas(frame, hours_policy):
    s = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    done = frame["status"].isin(hours_policy.done_statuses)
    resolved = frame["resolved_at"]
    prev = done & (resolved >= WEEK_START - WEEK) & (resolved < WEEK_START)
    week = done & (resolved >= WEEK_START) & (resolved < WEEK_START + WEEK)
    for period, mask in (("week", week), ("prev", prev)):
        assert row_of(s, "closed")[f"{period}_value"] == mask.sum()
        hours = ((resolved - frame["received_at"]) / HOUR)[mask]
        avg = row_of(s, "avg_resolve")
        assert avg[f"{period}_n"] == len(hours.dropna())
        assert avg[f"{period}_value"] == pytest.approx(hours.mean(), nan_ok=True)
        ratings = frame["satisfaction"][mask].dropna()
        csat = row_of(s, "csat")
        assert csat[f"{period}_n"] == len(ratings)
        expected = pct(int((ratings >= 4).sum()), len(ratings))
        assert csat[f"{period}_value"] == pytest.approx(
            expected if expected is not None else float("nan"), nan_ok=True
        )
    assert (
        row_of(s, "closed")["block"] == "resolved" and row_of(s, "records")["block"] == "received"
    )


def test_per_owner_sla_and_csat_match_pandas(frame, hours_policy):
    s = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    sla = independent_sla(frame, NOW)
    done = frame["status"].isin(hours_policy.done_statuses)
    owners = s.owners
    assert owners["records"].sum() == len(frame)
    assert owners["owner"].isna().tolist()[-1]  # the blank owner last
    for row in owners.itertuples():
        mine = frame["owner"].isna() if pd.isna(row.owner) else frame["owner"] == row.owner
        assert row.records == mine.sum() and row.open == (mine & ~done).sum()
        assert row.overdue == (sla["resolve"][mine] == "overdue").sum()
        for kind in ("respond", "resolve"):
            value, n = known_rate(sla[kind][mine])
            assert getattr(row, f"{kind}_n") == n
            got = getattr(row, f"{kind}_pct")
            assert (pd.isna(got) and value is None) or got == pytest.approx(value)
        ratings = frame["satisfaction"][mine & done].dropna()
        assert row.csat_n == len(ratings)
        expected = pct(int((ratings >= 4).sum()), len(ratings))
        assert (pd.isna(row.csat_pct) and expected is None) or row.csat_pct == pytest.approx(
            expected
        )


def test_owner_sheet_shows_rates_with_counts(book):
    ws = book["负责人统计"]
    header_row, _ = find(ws, "处理负责人")
    header = [c.value for c in ws[header_row]]
    assert header[:4] == ["处理负责人", "记录数", "未结", "未结且已超期"]
    assert header[header.index("响应达标率") + 1] == "计数"
    assert header[header.index("满意度(CSAT)") + 1] == "评价数"
    owners = [ws.cell(r, 1).value for r in range(header_row + 1, ws.max_row + 1)]
    assert "（未指定）" in owners


# -- the merge console -----------------------------------------------------------------------


def test_merge_summary_tells_masked_contacts_from_rows_kept_out(tmp_path, form, policy):
    rows = record_rows(3)
    rows[0]["contact"] = RAW_PHONE
    rows[1]["contact"] = "13800138000"
    masked_only = write_record_xlsx(tmp_path / "第1组.xlsx", rows)
    bad = record_rows(2, customer="另一家/C0900")
    bad[1]["severity"] = "P9"
    bad[0]["contact"] = RAW_EMAIL
    with_error = write_record_xlsx(tmp_path / "第2组.xlsx", bad)
    result = merge(
        [masked_only, with_error], tmp_path / "out" / "总台账.xlsx", form, policy,
        now=datetime(2024, 6, 10, 9, 0), annotate_dir=tmp_path / "ann",
    )  # fmt: skip
    text = render_merge(result)
    lines = text.splitlines()
    first = next(line for line in lines if "第1组.xlsx:" in line)
    assert first.endswith("3 条记录，全部并入；2 处联系方式已脱敏后并入")
    assert "错误" not in first
    second = next(line for line in lines if "第2组.xlsx:" in line)
    assert "2 条记录：并入 1 条，1 条未并入（1 个错误，见“待修正”）" in second
    assert "1 处联系方式已脱敏后并入" in second
    assert [f.to_dict()["merged"] for f in result.per_file] == [3, 1]
    english = render_merge(result, "en")
    assert "3 records, all merged; 2 contact cells masked and merged" in english
    for raw in (RAW_PHONE, RAW_EMAIL, "13800138000"):
        assert raw not in text and raw not in english


# -- printed by LibreOffice --------------------------------------------------------------------


def to_pdf(soffice: str, path: Path, out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [soffice, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
             "--norestore", "--nolockcheck", "--convert-to", "pdf", "--outdir", str(out), str(path)],
            capture_output=True, timeout=180, check=False,
        )  # fmt: skip
    pdf = out / (path.stem + ".pdf")
    assert pdf.is_file(), "LibreOffice wrote no PDF"
    return pdf


def pdf_pages(pdf: Path) -> list[list[tuple[float, float, str]]]:
    """Each page's words as (x, y, text), from ``pdftotext -bbox``, only those drawn inside
    the page."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for m in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S):
        width, height = float(m.group(1)), float(m.group(2))
        words = [
            (float(x), float(y), w)
            for x, y, w in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', m.group(3)
            )
        ]
        pages.append([(x, y, w) for x, y, w in words if 0 <= x <= width and 0 <= y <= height])
    return pages


def tab_of(page: list[tuple[float, float, str]]) -> str:
    """The tab a printed page belongs to: the footer's left word (the lowest-left word)."""
    bottom = max(y for _x, y, _w in page)
    return min((x, w) for x, y, w in page if y >= bottom - 5)[1]


def text_of(page: list[tuple[float, float, str]]) -> str:
    return " ".join(w for _x, _y, w in page)


@pytest.fixture
def pdftotext():
    import shutil

    if not (shutil.which("pdfinfo") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdfinfo, pdftotext) not installed")


def test_overview_alone_prints_on_one_page(tmp_path, soffice, pdftotext, frame, hours_policy):
    s = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    path = tmp_path / "概览.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    cells = CellWriter(wb)
    summary_sheets._overview_sheet(
        wb.add_worksheet("概览"), cells, summary_sheets._Formats(wb), s, "zh"
    )
    wb.close()
    pages = pdf_pages(to_pdf(soffice, path, tmp_path / "pdf"))
    assert len(pages) == 1
    text = text_of(pages[0])
    assert "口径" in text and "计数" in text and "2024-06-10 12:00" in text and "变化" in text


def test_printed_register_keeps_each_chart_on_one_page(
    tmp_path, soffice, pdftotext, hours_policy, form
):
    # a year of weeks: the trend table runs over a page and pushes its chart to a page of its own
    frame = long_id_frame()
    extra = frame.iloc[[0] * 40].copy()
    extra["received_at"] = [datetime(2023, 6, 5, 10) + i * WEEK for i in range(40)]
    extra["occurred_at"] = extra["received_at"] - timedelta(minutes=30)
    extra["resolved_at"] = extra["received_at"] + timedelta(hours=5)
    extra["record_id"] = [f"FW{t:%Y%m%d}9001" for t in extra["received_at"]]
    frame = pd.concat([extra, frame], ignore_index=True)
    s = compute_summaries(frame, hours_policy, NOW, WEEK_START)
    path = tmp_path / "总台账.xlsx"
    write_register(
        path, with_sla_columns(frame, hours_policy, NOW), form=form, policy=hours_policy,
        now=s.now, summary_sheets=lambda wb, cells: write_summary_sheets(wb, cells, s, "zh"),
    )  # fmt: skip
    pages = pdf_pages(to_pdf(soffice, path, tmp_path / "pdf"))
    tabs = [tab_of(p) for p in pages]
    assert tabs.count("概览") == 1
    assert tabs.count("周趋势") >= 2  # the table itself runs over a page
    for name, title in (
        ("周趋势", "每周接收、解决与积压"),
        ("未结账龄", "未结记录账龄（按严重程度）"),
    ):
        mine = [text_of(p).replace(" ", "") for p, t in zip(pages, tabs, strict=True) if t == name]
        # the chart's title and its value-axis title are on one page, and on no other
        with_title = [p for p in mine if title in p]
        assert len(with_title) == 1, name
        assert "记录数" in with_title[0], name
        assert sum("记录数" in p for p in mine) == 1, name


# -- the working-hours boundary ----------------------------------------------------------------


def test_working_hours_are_nine_inclusive_to_six_exclusive(policy):
    from aftersales_xl.workcal import WorkCalendar

    cal = WorkCalendar.from_policy(policy)
    friday = datetime(2024, 6, 14)
    assert cal.in_working_hours(friday.replace(hour=9))
    assert cal.in_working_hours(friday.replace(hour=17, minute=59))
    assert not cal.in_working_hours(friday.replace(hour=18))
    assert not cal.in_working_hours(friday.replace(hour=8, minute=59))
    # P2, 5 working days: 18:00 sharp starts the clock on Monday 09:00
    assert cal.add_working_days(friday.replace(hour=18), 5) == datetime(2024, 6, 24, 9, 0)
    assert cal.add_working_days(friday.replace(hour=17, minute=59), 5) == datetime(
        2024, 6, 21, 17, 59
    )
    assert cal.add_working_days(friday.replace(hour=8), 5) == datetime(2024, 6, 21, 9, 0)
