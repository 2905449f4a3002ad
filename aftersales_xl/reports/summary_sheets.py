"""The register's summary tabs (概览 … 满意度跟进), written from :class:`Summaries` through the
workbook's :class:`~aftersales_xl.writing.cells.CellWriter`, laid out to be read on screen and
printed: column widths from the content (IDs never cut), long text wrapped with row heights to
match, charts below their tables, and on every tab landscape A4, one page wide, the header rows
repeated and a footer with the tab name, the page number and the 统计时间
(:mod:`aftersales_xl.writing.layout`).

The register workbook is written in xlsxwriter's ``constant_memory`` mode, so every tab is
written strictly top to bottom and row heights are set before a row's cells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from ..coerce import is_missing
from ..messages import localise
from ..pii import redact
from ..writing import layout
from ..writing.cells import CellWriter
from .summaries import (
    AGING_SHEET,
    CATEGORY_SHEET,
    CHART_WEEKS,
    FOLLOW_UP_SHEET,
    OVERVIEW_SHEET,
    OWNER_SHEET,
    PERIODS,
    RECURRING_SHEET,
    TREND_SHEET,
    Summaries,
    heading,
)

#: wrapped text columns and the width (characters) they are capped at
WRAP_WIDTHS: dict[str, float] = {
    "basis": 52,
    "example_solution": 34,
    "feedback": 40,
    "customer": 26,
    "module": 24,
    "value": 30,
    "owner": 16,
}
#: chart sizes in pixels (width, height): printable on one landscape page
TREND_CHART = (720, 340)
AGING_CHART = (640, 320)
_ROW_PX = 20  # a default row (15 pt) in pixels
_DEFAULT_WIDTH = 8.43  # Excel's default column width


def write_summary_sheets(
    workbook: xlsxwriter.Workbook, cells: CellWriter, s: Summaries, lang: str
) -> None:
    """The summary tabs, in order, each with a title line stating when and over what."""
    fmt = _Formats(workbook)
    _overview_sheet(workbook.add_worksheet(OVERVIEW_SHEET), cells, fmt, s, lang)
    _category_sheet(workbook.add_worksheet(CATEGORY_SHEET), cells, fmt, s, lang)
    _owner_sheet(workbook.add_worksheet(OWNER_SHEET), cells, fmt, s, lang)
    ws = workbook.add_worksheet(RECURRING_SHEET)
    _title(ws, cells, heading("recurring-title", lang), s, lang)
    widths = _widths([s.recurring], lang)
    end = _table(ws, cells, fmt, 2, s.recurring, lang, widths)
    _finish(ws, s, lang, header_row=2, last_row=end - 1, widths=widths)
    _trend_sheet(workbook, workbook.add_worksheet(TREND_SHEET), cells, fmt, s, lang)
    _aging_sheet(workbook, workbook.add_worksheet(AGING_SHEET), cells, fmt, s, lang)
    ws = workbook.add_worksheet(FOLLOW_UP_SHEET)
    _title(ws, cells, heading("follow-up-title", lang), s, lang)
    widths = _widths([s.follow_up], lang)
    end = _table(ws, cells, fmt, 2, s.follow_up, lang, widths)
    _finish(ws, s, lang, header_row=2, last_row=end - 1, widths=widths)


class _Formats:
    """Formats of the summary tabs beyond the CellWriter's (changes with a sign)."""

    def __init__(self, workbook: xlsxwriter.Workbook):
        def add(num_format: str, **more: Any) -> Any:  # top-aligned, beside wrapped text
            return workbook.add_format({"num_format": num_format, "valign": "top", **more})

        self.change_pct = add('+0.0" pp";-0.0" pp";0.0" pp"')
        self.change_count = add("+0;-0;0")
        self.change_hours = add("+0.0;-0.0;0.0")
        self.dash = add("@", align="right")
        self.percent = add("0.0%")
        self.integer = add("0")
        self.decimal = add("0.0")
        self.date = add("yyyy-mm-dd")
        self.datetime = add("yyyy-mm-dd hh:mm")


# -- shared pieces ---------------------------------------------------------------------------


def _as_of(s: Summaries, lang: str) -> str:
    return heading("as-of", lang).format(
        now=s.now.strftime("%Y-%m-%d %H:%M"),
        week=f"{s.week_start:%Y-%m-%d} – {(s.week_end - timedelta(days=1)):%Y-%m-%d}",
        records=s.records,
    )


def _title(ws: Any, cells: CellWriter, text: str, s: Summaries, lang: str) -> None:
    ws.set_row(0, 18)
    ws.write_string(0, 0, redact(text), cells.title)
    ws.write_string(1, 0, redact(_as_of(s, lang)), cells.note)


def _base(key: str) -> str:
    """A column key without its trailing ``_<n>`` (``example_id_1`` → ``example_id``)."""
    return key.rsplit("_", 1)[0] if key[-1:].isdigit() else key


def _shown(key: str, value: Any) -> str:
    """The text a cell shows, for sizing its column."""
    if is_missing(value):
        return "—"
    if key.endswith("_pct"):
        return f"{float(value):.1f}%"
    if isinstance(value, datetime | pd.Timestamp):
        return "2024-06-10" if key == "week_start" else "2024-06-10 12:00"
    if isinstance(value, float | np.floating):
        return f"{float(value):.1f}"
    return str(value)


def _widths(
    tables: Sequence[pd.DataFrame], lang: str, labels: Mapping[str, str] | None = None
) -> list[float]:
    """Column widths for ``tables`` written one below the other (columns by position): the
    widest shown value or heading word, wrapped columns capped by :data:`WRAP_WIDTHS`, IDs
    and numbers never cut."""
    widths: list[float] = []
    for table in tables:
        for col, key in enumerate(table.columns):
            base = _base(key)
            label = (labels or {}).get(key, heading(key, lang))
            # a heading wraps at its spaces: its longest word must fit
            texts = [_shown(key, v) for v in table[key].tolist()] + label.split()
            cap = WRAP_WIDTHS.get(base)
            width = layout.column_width(texts, minimum=8, maximum=cap)
            if col < len(widths):
                widths[col] = max(widths[col], width)
            else:
                widths.append(width)
    return widths


def _header(ws: Any, cells: CellWriter, row: int, labels: Sequence[str], widths: Sequence[float]):
    lines = max(
        (layout.wrapped_lines(t, w) for t, w in zip(labels, widths, strict=False)), default=1
    )
    ws.set_row(row, layout.ROW_POINTS * max(lines, 1) + 3)
    cells.header_row(ws, row, labels)


def _table(
    ws: Any,
    cells: CellWriter,
    fmt: _Formats,
    top: int,
    table: pd.DataFrame,
    lang: str,
    widths: Sequence[float],
    labels: Mapping[str, str] | None = None,
) -> int:
    """Write ``table`` with translated headings at row ``top``; returns the next free row.

    ``*_pct`` columns are percentages 0–100, written as Excel percentages ("—" when
    undefined); wrapped columns (:data:`WRAP_WIDTHS`) get a row height that shows them in
    full; other cells by value type.
    """
    keys = list(table.columns)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    _header(ws, cells, top, [(labels or {}).get(k, heading(k, lang)) for k in keys], widths)
    columns = [table[k].tolist() for k in keys]
    wrapped = [col for col, k in enumerate(keys) if _base(k) in WRAP_WIDTHS]
    for i in range(len(table)):
        row = top + 1 + i
        lines = max(
            (
                layout.wrapped_lines(columns[c][i], widths[c])
                for c in wrapped
                if isinstance(columns[c][i], str)
            ),
            default=1,
        )
        if lines > 1:
            ws.set_row(row, layout.ROW_POINTS * lines)
        for col, key in enumerate(keys):
            _summary_value(ws, cells, fmt, row, col, key, columns[col][i], col in wrapped)
    return top + 1 + len(table)


def _summary_value(
    ws: Any, cells: CellWriter, fmt: _Formats, row: int, col: int, key: str, value: Any, wrap: bool
) -> None:
    if key.endswith("_pct"):
        if is_missing(value):
            ws.write_string(row, col, "—", fmt.dash)
        else:
            ws.write_number(row, col, float(value) / 100.0, fmt.percent)
    elif key == "week_start" and isinstance(value, datetime):
        ws.write_datetime(row, col, value, fmt.date)
    elif isinstance(value, int | np.integer) and not isinstance(value, bool):
        ws.write_number(row, col, float(value), fmt.integer)
    elif key.startswith("avg_") and is_missing(value):
        ws.write_string(row, col, "—", fmt.dash)
    elif isinstance(value, str):
        cells.string(ws, row, col, value, wrap=True)
    elif isinstance(value, datetime | pd.Timestamp) and not is_missing(value):
        ws.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), fmt.datetime)
    elif isinstance(value, float | np.floating) and not is_missing(value):
        ws.write_number(row, col, float(value), fmt.decimal)
    else:
        cells.value(ws, row, col, value, fmt.decimal)


def _last_column(widths: Sequence[float], texts: Sequence[str]) -> int:
    """The last column the print area needs: the table's, or further right where a title
    line (written in column A, running over the empty cells) would otherwise be cut."""
    need = max((layout.text_width(t) for t in texts), default=0) * 0.85  # proportional font
    covered, col = 0.0, -1
    while covered < need or col < len(widths) - 1:
        col += 1
        covered += widths[col] if col < len(widths) else _DEFAULT_WIDTH
    return max(col, 0)


def _finish(
    ws: Any,
    s: Summaries,
    lang: str,
    *,
    header_row: int,
    last_row: int,
    widths: Sequence[float],
    titles: Sequence[str] = (),
) -> None:
    """Page setup of a tab without chart: one page wide, header row repeated."""
    layout.page_setup(
        ws,
        s.now,
        lang,
        header_rows=(header_row, header_row),
        print_area=(
            0,
            0,
            max(last_row, header_row),
            _last_column(widths, [_as_of(s, "zh"), *titles]),
        ),
    )


# -- 概览 --------------------------------------------------------------------------------------

_OVERVIEW_KEYS = ["metric", "all_value", "all_n", "week_value", "week_n", "prev_value", "prev_n",
                  "change", "basis"]  # fmt: skip


def _overview_sheet(ws: Any, cells: CellWriter, fmt: _Formats, s: Summaries, lang: str) -> None:
    """概览: one block per cohort (records received in the period, records resolved in it),
    each row with value and count for the whole register, the latest week and the week
    before, and the change; the 口径 column says what the row counts."""
    table = s.overview
    shown = {
        "metric": list(table[_column("label", lang)]),
        "basis": list(table[_column("basis", lang)]),
    }
    for period in PERIODS:
        for x in ("value", "n"):
            key = f"{period}_{x}"
            shown[key] = [
                _overview_text(u, v, x) for u, v in zip(table["unit"], table[key], strict=True)
            ]
    shown["change"] = [
        _overview_text(u, v, "change") for u, v in zip(table["unit"], table["change"], strict=True)
    ]
    days = (
        f"{s.week_start:%m-%d}–{s.week_end - timedelta(days=1):%m-%d}",
        f"{s.week_start - timedelta(days=7):%m-%d}–{s.week_start - timedelta(days=1):%m-%d}",
    )
    headers = {block: _overview_headers(block, days, lang) for block in ("received", "resolved")}
    widths = []
    for col, key in enumerate(_OVERVIEW_KEYS):
        words = [w for h in headers.values() for w in h[col].replace("\n", " ").split()]
        cap = WRAP_WIDTHS.get(key, 34 if key == "metric" else None)
        widths.append(layout.column_width(shown[key] + words, minimum=7, maximum=cap))
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)

    _title(ws, cells, heading("overview-title", lang), s, lang)
    note = heading("sla-note", lang)
    total_width = sum(widths)
    ws.set_row(2, layout.ROW_POINTS * layout.wrapped_lines(note, total_width))
    ws.merge_range(2, 0, 2, len(widths) - 1, redact(note), cells.wrap)
    row = 4
    header_rows = []
    for block in ("received", "resolved"):
        part = table[table["block"] == block]
        if part.empty:
            continue
        ws.write_string(row, 0, heading(f"block:{block}", lang), cells.block)
        row += 1
        _header(ws, cells, row, headers[block], widths)
        header_rows.append(row)
        row += 1
        for m in part.itertuples(index=False):
            basis, label = getattr(m, _column("basis", lang)), getattr(m, _column("label", lang))
            lines = max(
                layout.wrapped_lines(basis, widths[-1]), layout.wrapped_lines(label, widths[0])
            )
            ws.set_row(row, layout.ROW_POINTS * lines)
            cells.string(ws, row, 0, label, wrap=True)
            for col, period in enumerate(PERIODS):
                value, count = getattr(m, f"{period}_value"), getattr(m, f"{period}_n")
                _kpi(ws, cells, fmt, row, 1 + 2 * col, m.unit, value)
                if is_missing(count):
                    ws.write_blank(row, 2 + 2 * col, None)
                else:
                    ws.write_number(row, 2 + 2 * col, float(count), fmt.integer)
            change = m.change
            if is_missing(change):
                ws.write_string(row, 7, "—", fmt.dash)
            else:
                change_fmt = {"pct": fmt.change_pct, "hours": fmt.change_hours}.get(
                    m.unit, fmt.change_count
                )
                ws.write_number(row, 7, float(change), change_fmt)
            cells.string(ws, row, 8, basis, wrap=True)
            row += 1
        row += 1
    for note in s.notes:  # e.g. a year without statutory holiday data
        ws.set_row(row, layout.ROW_POINTS * layout.wrapped_lines(note, total_width))
        ws.merge_range(row, 0, row, len(widths) - 1, redact(note), cells.wrap)
        row += 1
    # the manager's page: the whole of 概览 on one landscape page
    layout.page_setup(
        ws,
        s.now,
        lang,
        header_rows=(0, 1),
        print_area=(0, 0, max(row - 1, 2), len(widths) - 1),
    )
    ws.fit_to_pages(1, 1)


def _overview_headers(block: str, days: tuple[str, str], lang: str) -> list[str]:
    """Column headings of one 概览 block; the period columns name their cohort."""
    cohort = heading(f"cohort:{block}", lang)

    def period(key: str, span: str) -> str:
        return localise(
            _TEXT, "period-heading", lang, value=heading(key, lang), cohort=cohort, days=span
        )

    return [
        heading("metric", lang),
        heading("all_value", lang),
        heading("all_n", lang),
        period("week_value", days[0]),
        heading("week_n", lang),
        period("prev_value", days[1]),
        heading("prev_n", lang),
        heading("change", lang),
        heading("basis", lang),
    ]


def _column(name: str, lang: str) -> str:
    """The overview table's column of ``name`` in ``lang`` (``label`` / ``label_en``): the
    table holds each text in both languages, side by side."""
    return f"{name}_en" if lang == "en" else name


def _overview_text(unit: str, value: Any, what: str) -> str:
    if is_missing(value):
        return "—"
    if what == "n":
        return str(int(value))
    if unit == "pct":
        return f"{value:+.1f} pp" if what == "change" else f"{value:.1f}%"
    if unit == "hours":
        return f"{value:+.1f}" if what == "change" else f"{value:.1f}"
    return f"{int(value):+d}" if what == "change" else str(int(value))


def _kpi(ws: Any, cells: CellWriter, fmt: _Formats, row: int, col: int, unit: str, value: Any):
    if is_missing(value):
        ws.write_string(row, col, "—", fmt.dash)
    elif unit == "pct":
        ws.write_number(row, col, float(value) / 100.0, fmt.percent)
    elif unit == "hours":
        ws.write_number(row, col, float(value), fmt.decimal)
    else:
        ws.write_number(row, col, float(value), fmt.integer)


# -- 分类统计, 负责人统计 -------------------------------------------------------------------------


def _category_sheet(ws: Any, cells: CellWriter, fmt: _Formats, s: Summaries, lang: str) -> None:
    """分类统计: one block per dimension (type, severity, status, owner, module)."""
    _title(ws, cells, heading(CATEGORY_SHEET, lang), s, lang)
    tables = {
        dim: table.assign(
            value=[heading("(blank)", lang) if is_missing(v) else v for v in table["value"]]
        )
        for dim, table in s.categories.items()
    }
    widths = _widths(list(tables.values()), lang)
    widths[0] = max(widths[0], *(layout.text_width(heading(d, lang)) + 2 for d in tables))
    row = 3
    for dimension, table in tables.items():
        ws.write_string(row, 0, heading(dimension, lang), cells.block)
        row = _table(ws, cells, fmt, row + 1, table, lang, widths) + 1
    last_col = _last_column(widths, [_as_of(s, lang)])
    layout.page_setup(
        ws, s.now, lang, header_rows=(0, 1), print_area=(0, 0, max(row - 2, 3), last_col)
    )


def _owner_sheet(ws: Any, cells: CellWriter, fmt: _Formats, s: Summaries, lang: str) -> None:
    """负责人统计: per 处理负责人, SLA met % and CSAT with their counts, open and past due."""
    _title(ws, cells, heading("owner-title", lang), s, lang)
    cells.string(ws, 2, 0, heading("owner-note", lang))
    table = s.owners.assign(
        owner=[heading("(unassigned)", lang) if is_missing(v) else v for v in s.owners["owner"]]
    )
    widths = _widths([table], lang)
    end = _table(ws, cells, fmt, 3, table, lang, widths)
    _finish(
        ws, s, lang, header_row=3, last_row=end - 1, widths=widths,
        titles=[heading("owner-note", lang)],
    )  # fmt: skip


# -- charts --------------------------------------------------------------------------------


def _chart_page(
    ws: Any,
    s: Summaries,
    lang: str,
    *,
    header_row: int,
    table_end: int,
    widths: Sequence[float],
    row_points: Mapping[int, float],
    chart_px: tuple[int, int],
) -> int:
    """Page setup of a tab with a chart below its table; returns the chart's anchor row.

    The print scale puts the table and the chart one page wide; if the chart would cross the
    bottom of a page it starts a new page (a manual break, kept because the tab uses a print
    scale rather than "fit to pages").
    """
    chart_row = table_end + 1
    # columns the chart covers: the table's, then default-width ones
    col_widths = list(widths)
    covered = 0.0
    last_col = -1
    while covered < chart_px[0]:
        last_col += 1
        if last_col >= len(col_widths):
            col_widths.append(_DEFAULT_WIDTH)
        covered += layout.column_points(col_widths[last_col]) / 0.75
    last_col = max(last_col, _last_column(widths, [_as_of(s, lang)]))
    col_widths += [_DEFAULT_WIDTH] * (last_col + 1 - len(col_widths))
    scale = layout.print_scale(col_widths[: last_col + 1])
    page = layout.PRINT_HEIGHT / (scale / 100)  # unscaled points per page

    def height(r: int) -> float:
        return row_points.get(r, layout.ROW_POINTS)

    repeat = height(header_row)
    used = 0.0
    for r in range(chart_row):
        if used + height(r) > page:  # the row starts a new page under the repeated header
            used = repeat
        used += height(r)
    chart_points = chart_px[1] * 0.75
    if used + chart_points > page:
        # break above the blank row before the chart: a chart whose top edge sat on the break
        # would be drawn (clipped) on the page before as well
        ws.set_h_pagebreaks([chart_row - 1])
    chart_rows = math.ceil(chart_px[1] / _ROW_PX) + 1
    layout.page_setup(
        ws,
        s.now,
        lang,
        header_rows=(header_row, header_row),
        print_area=(0, 0, chart_row + chart_rows, last_col),
        scale=scale,
    )
    return chart_row


def _trend_sheet(
    workbook: xlsxwriter.Workbook,
    ws: Any,
    cells: CellWriter,
    fmt: _Formats,
    s: Summaries,
    lang: str,
) -> None:
    """周趋势: received vs closed per ISO week, backlog at week end; a column + line chart
    below the table."""
    _title(ws, cells, heading("trend-title", lang), s, lang)
    table = s.weekly
    widths = _widths([table], lang)
    end = _table(ws, cells, fmt, 2, table, lang, widths)
    heights = {0: 18.0, 2: layout.ROW_POINTS + 3}
    chart_row = _chart_page(
        ws, s, lang, header_row=2, table_end=end, widths=widths, row_points=heights,
        chart_px=TREND_CHART,
    )  # fmt: skip
    if table.empty:
        return
    first = max(3, end - CHART_WEEKS)
    last = end - 1
    cols = list(table.columns)

    def ref(key: str) -> list[Any]:
        c = cols.index(key)
        return [TREND_SHEET, first, c, last, c]

    chart = workbook.add_chart({"type": "column"})
    for key, colour in (("received", "#5B9BD5"), ("closed", "#70AD47")):
        chart.add_series({"name": heading(key, lang), "categories": ref("week"), "values": ref(key),
                          "fill": {"color": colour}})  # fmt: skip
    line = workbook.add_chart({"type": "line"})
    line.add_series({"name": heading("backlog", lang), "categories": ref("week"), "values": ref("backlog"),
                     "line": {"color": "#C00000", "width": 2.25}, "marker": {"type": "circle"}})  # fmt: skip
    chart.combine(line)
    chart.set_title({"name": heading("trend-chart", lang)})
    chart.set_x_axis({"name": heading("week", lang)})
    chart.set_y_axis({"name": heading("aging-x", lang), "major_gridlines": {"visible": True}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": TREND_CHART[0], "height": TREND_CHART[1]})
    ws.insert_chart(chart_row, 0, chart, {"object_position": 3})


def _aging_sheet(
    workbook: xlsxwriter.Workbook,
    ws: Any,
    cells: CellWriter,
    fmt: _Formats,
    s: Summaries,
    lang: str,
) -> None:
    """未结账龄: open records by age bucket and severity, with a stacked bar chart of the
    same breakdown below the table."""
    _title(ws, cells, heading("aging-title", lang), s, lang)
    table = s.aging.assign(bucket=[heading(k, lang) for k in s.aging["bucket"]])
    widths = _widths([table], lang)
    end = _table(ws, cells, fmt, 2, table, lang, widths)
    heights = {0: 18.0, 2: layout.ROW_POINTS + 3}
    chart_row = _chart_page(
        ws, s, lang, header_row=2, table_end=end, widths=widths, row_points=heights,
        chart_px=AGING_CHART,
    )  # fmt: skip
    chart = workbook.add_chart({"type": "bar", "subtype": "stacked"})
    colours = ["#C00000", "#ED7D31", "#FFC000", "#5B9BD5", "#70AD47", "#7F7F7F"]
    cols = list(table.columns)
    for i, key in enumerate(k for k in cols if k.startswith("sev:")):
        c = cols.index(key)
        chart.add_series({
            "name": heading(key, lang),
            "categories": [AGING_SHEET, 3, 0, end - 1, 0],
            "values": [AGING_SHEET, 3, c, end - 1, c],
            "fill": {"color": colours[i % len(colours)]},
        })  # fmt: skip
    chart.set_title({"name": heading("aging-chart", lang)})
    chart.set_legend({"position": "bottom"})
    chart.set_x_axis({"name": heading("aging-x", lang), "major_gridlines": {"visible": True}})
    chart.set_y_axis({"name": heading("aging-y", lang), "reverse": True})
    chart.set_size({"width": AGING_CHART[0], "height": AGING_CHART[1]})
    ws.insert_chart(chart_row, 0, chart, {"object_position": 3})


_TEXT: dict[str, dict[str, str]] = {
    # a period column's heading in 概览: what it shows, its cohort, then its days on a second line
    "period-heading": {"zh": "{value}{cohort}\n{days}", "en": "{value} {cohort}\n{days}"},
}
