"""The register's summary tabs (概览 … 满意度跟进), written from :class:`Summaries` through the
workbook's :class:`~aftersales_xl.writing.cells.CellWriter`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.exceptions

from ..coerce import is_missing
from ..writing.cells import CellWriter
from .summaries import (
    AGING_SHEET,
    CATEGORY_SHEET,
    CHART_WEEKS,
    FOLLOW_UP_SHEET,
    OVERVIEW_SHEET,
    RECURRING_SHEET,
    TREND_SHEET,
    Summaries,
    heading,
)


def write_summary_sheets(
    workbook: xlsxwriter.Workbook, cells: CellWriter, s: Summaries, lang: str
) -> None:
    """The summary tabs, in order, each with a title line stating when and over what."""
    _overview_sheet(workbook.add_worksheet(OVERVIEW_SHEET), cells, s, lang)
    _category_sheet(workbook.add_worksheet(CATEGORY_SHEET), cells, s, lang)
    ws = workbook.add_worksheet(RECURRING_SHEET)
    _title(ws, cells, heading("recurring-title", lang), s, lang)
    _table(
        ws, cells, 2, s.recurring, lang,
        widths={"rank": 6, "module": 16, "example_id": 17, "example_solution": 36},
    )  # fmt: skip
    _trend_sheet(workbook, workbook.add_worksheet(TREND_SHEET), cells, s, lang)
    _aging_sheet(workbook, workbook.add_worksheet(AGING_SHEET), cells, s, lang)
    ws = workbook.add_worksheet(FOLLOW_UP_SHEET)
    _title(ws, cells, heading("follow-up-title", lang), s, lang)
    _table(ws, cells, 2, s.follow_up, lang, widths={"customer": 22, "feedback": 40})


def _title(ws: Any, cells: CellWriter, text: str, s: Summaries, lang: str) -> None:
    ws.write_string(0, 0, text, cells.title)
    ws.write_string(1, 0, heading("as-of", lang).format(
        now=s.now.strftime("%Y-%m-%d %H:%M"),
        week=f"{s.week_start:%Y-%m-%d} – {(s.week_end - timedelta(days=1)):%Y-%m-%d}",
        records=s.records,
    ), cells.note)  # fmt: skip


def _table(
    ws: Any,
    cells: CellWriter,
    top: int,
    table: pd.DataFrame,
    lang: str,
    widths: Mapping[str, float] | None = None,
) -> int:
    """Write ``table`` with translated headings at row ``top``; returns the next free row.

    ``*_pct`` columns are percentages 0–100, written as Excel percentages ("—" when
    undefined); other cells by value type. ``widths`` is keyed by column name without a
    trailing ``_<n>`` (``example_id`` covers ``example_id_1`` …).
    """
    keys = list(table.columns)
    for col, key in enumerate(keys):
        base = key.rsplit("_", 1)[0] if key[-1:].isdigit() else key
        ws.set_column(col, col, (widths or {}).get(base, 10 if key.endswith("_pct") else 12))
    _header_at(ws, cells, top, [heading(k, lang) for k in keys])
    columns = [table[k].tolist() for k in keys]
    for i in range(len(table)):
        for col, key in enumerate(keys):
            _summary_value(ws, cells, top + 1 + i, col, key, columns[col][i])
    return top + 1 + len(table)


def _header_at(ws: Any, cells: CellWriter, row: int, labels: Sequence[str]) -> None:
    for col, label in enumerate(labels):
        ws.write_string(row, col, label, cells.header)


def _summary_value(ws: Any, cells: CellWriter, row: int, col: int, key: str, value: Any) -> None:
    if key.endswith("_pct"):
        if is_missing(value):
            ws.write_string(row, col, "—", cells.text)
        else:
            ws.write_number(row, col, float(value) / 100.0, cells.percent)
    elif key == "week_start" and isinstance(value, datetime):
        ws.write_datetime(row, col, value, cells.date)
    elif isinstance(value, int | np.integer) and not isinstance(value, bool):
        ws.write_number(row, col, float(value), cells.integer)
    else:
        cells.value(ws, row, col, value, cells.decimal)


def _overview_sheet(ws: Any, cells: CellWriter, s: Summaries, lang: str) -> None:
    """概览: one row per KPI; value and count for the whole register and the latest week."""
    _title(ws, cells, heading("overview-title", lang), s, lang)
    keys = ["metric", "all_value", "all_n", "week_value", "week_n", "basis"]
    widths = {
        "metric": 24,
        "all_value": 12,
        "all_n": 10,
        "week_value": 12,
        "week_n": 10,
        "basis": 60,
    }
    for col, key in enumerate(keys):
        ws.set_column(col, col, widths[key])
    _header_at(ws, cells, 2, [heading(k, lang) for k in keys])
    for i, m in enumerate(s.overview.itertuples(index=False), start=3):
        ws.write_string(i, 0, m.label if lang != "en" else m.label_en, cells.text)
        for col, (value, count) in ((1, (m.all_value, m.all_n)), (3, (m.week_value, m.week_n))):
            if is_missing(value):
                ws.write_string(i, col, "—", cells.text)
            elif m.unit == "pct":
                ws.write_number(i, col, float(value) / 100.0, cells.percent)
            elif m.unit == "hours":
                ws.write_number(i, col, float(value), cells.decimal)
            else:
                ws.write_number(i, col, float(value), cells.integer)
            if is_missing(count):
                ws.write_blank(i, col + 1, None)
            else:
                ws.write_number(i, col + 1, float(count), cells.integer)
        cells.string(ws, i, 5, m.basis if lang != "en" else m.basis_en)
    row = 3 + len(s.overview) + 1
    for note in s.notes:  # e.g. a year without statutory holiday data
        cells.string(ws, row, 0, note)
        row += 1


def _category_sheet(ws: Any, cells: CellWriter, s: Summaries, lang: str) -> None:
    """分类统计: one block per dimension (type, severity, status, owner, module)."""
    _title(ws, cells, heading(CATEGORY_SHEET, lang), s, lang)
    row = 3
    for dimension, table in s.categories.items():
        ws.write_string(row, 0, heading(dimension, lang), cells.block)
        shown = table.assign(
            value=[heading("(blank)", lang) if is_missing(v) else v for v in table["value"]]
        )
        row = _table(ws, cells, row + 1, shown, lang, widths={"value": 22}) + 1


def _trend_sheet(
    workbook: xlsxwriter.Workbook, ws: Any, cells: CellWriter, s: Summaries, lang: str
) -> None:
    """周趋势: received vs closed per ISO week, backlog at week end, a column + line chart."""
    _title(ws, cells, heading("trend-title", lang), s, lang)
    table = s.weekly
    end = _table(ws, cells, 2, table, lang, widths={"week": 10, "week_start": 12})
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
    chart.set_title({"name": heading("trend-title", lang)})
    chart.set_x_axis({"name": heading("week", lang)})
    chart.set_y_axis({"name": heading("count", lang), "major_gridlines": {"visible": True}})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 360})
    ws.insert_chart(2, len(cols) + 1, chart)


def _aging_sheet(
    workbook: xlsxwriter.Workbook, ws: Any, cells: CellWriter, s: Summaries, lang: str
) -> None:
    """未结账龄: open records by age bucket (and severity), with a bar chart of the totals."""
    _title(ws, cells, heading("aging-title", lang), s, lang)
    table = s.aging.assign(bucket=[heading(k, lang) for k in s.aging["bucket"]])
    end = _table(ws, cells, 2, table, lang, widths={"bucket": 12})
    chart = workbook.add_chart({"type": "bar"})
    count_col = list(table.columns).index("count")
    chart.add_series({
        "name": heading("open", lang),
        "categories": [AGING_SHEET, 3, 0, end - 1, 0],
        "values": [AGING_SHEET, 3, count_col, end - 1, count_col],
        "fill": {"color": "#ED7D31"},
        "data_labels": {"value": True},
    })  # fmt: skip
    chart.set_title({"name": heading("aging-title", lang)})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 560, "height": 300})
    ws.insert_chart(2, len(table.columns) + 1, chart)
