"""The solution library workbook (解决方案库.xlsx): one row per recurring problem.

Written with xlsxwriter, every cell through :class:`~aftersales_xl.writing.cells.CellWriter`
(typed, redacted, formula-like text quote-prefixed: no formula cell), atomically
(:func:`~aftersales_xl.writing.fileio.atomic_output`). Sheets:

``解决方案库``  the table of :func:`aftersales_xl.reports.recurring.library_table`, most
               frequent first: header frozen, autofilter, landscape A4 fitted to the page
               width with the header repeated on every printed page.
``说明``       what the workbook was built from and how each column is defined.

It holds only what the register holds (contact data masked at merge) and no 联系人 / 联系方式 /
客户 column at all, so it can be shared across the team.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
import xlsxwriter.exceptions

from ..coerce import is_missing
from ..errors import WriteError
from ..messages import localise
from ..writing.cells import CellWriter
from ..writing.fileio import atomic_output
from .recurring import LIBRARY_COLUMNS, LIBRARY_HEADINGS

LIBRARY_SHEET = "解决方案库"
NOTES_SHEET = "说明"
_WIDTHS = {
    "rank": 6, "module": 14, "problem_type": 10, "count": 7, "open": 6, "first_seen": 17,
    "last_seen": 17, "description": 40, "solution": 50, "solution_basis": 14,
    "mean_rating": 10, "ratings": 8, "example_ids": 34, "tags": 30,
}  # fmt: skip
_DATES = {"first_seen", "last_seen"}
_NUMBERS = {"rank", "count", "open", "ratings"}


def write_library(
    path: str | Path,
    table: pd.DataFrame,
    *,
    source: str,
    records: int,
    now: datetime,
    lang: str = "zh",
) -> Path:
    """Write ``table`` (:data:`LIBRARY_COLUMNS`) to ``path`` atomically; returns ``path``.

    ``source`` (the register's file name) and ``records`` (its record count) go on the 说明
    sheet. Raises :class:`WriteError` when the file cannot be written (nothing is left
    half-written; an existing file is untouched)."""
    path = Path(path)
    try:
        with atomic_output(path) as tmp:
            workbook = xlsxwriter.Workbook(
                str(tmp),
                {"strings_to_urls": False, "strings_to_formulas": False,
                 "strings_to_numbers": False},
            )  # fmt: skip
            workbook.set_properties(
                {"title": LIBRARY_SHEET, "comments": "xlcheck library", "created": now}
            )
            cells = CellWriter(workbook)
            rating = workbook.add_format({"num_format": "0.0"})
            ws = workbook.add_worksheet(LIBRARY_SHEET)
            _table(ws, cells, table, rating, lang)
            _notes(workbook.add_worksheet(NOTES_SHEET), cells, source, records, len(table), now,
                   lang)  # fmt: skip
            ws.activate()
            workbook.close()
    except (OSError, xlsxwriter.exceptions.XlsxWriterException) as e:
        detail = getattr(e, "strerror", None) or e
        raise WriteError(
            localise(_TEXT, "cannot-write", lang, path=path.name, detail=detail)
        ) from None
    return path


def _table(ws: Any, cells: CellWriter, table: pd.DataFrame, rating: Any, lang: str) -> None:
    columns: Sequence[str] = LIBRARY_COLUMNS
    for col, key in enumerate(columns):
        ws.set_column(col, col, _WIDTHS[key])
    ws.set_row(0, 30)
    cells.header_row(ws, 0, [_label(key, lang) for key in columns])
    records = table.to_dict("records")
    for r, row in enumerate(records, start=1):
        for col, key in enumerate(columns):
            value = row.get(key)
            if is_missing(value):
                ws.write_blank(r, col, None)
            elif key in _DATES:
                cells.datetime_cell(ws, r, col, pd.Timestamp(value).to_pydatetime())
            elif key in _NUMBERS:
                ws.write_number(r, col, float(value), cells.integer)
            elif key == "mean_rating":
                ws.write_number(r, col, float(value), rating)
            else:
                cells.string(ws, r, col, str(value))
    last = max(len(records), 1)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, last, len(columns) - 1)
    ws.repeat_rows(0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_header(f'&L&"-,Bold"{LIBRARY_SHEET}&R&D')
    ws.set_footer("&C&P / &N")


def _notes(
    ws: Any, cells: CellWriter, source: str, records: int, problems: int, now: datetime, lang: str
) -> None:
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    ws.write_string(0, 0, localise(_TEXT, "notes-title", lang), cells.title)
    lines = [
        (localise(_TEXT, "built-from", lang), source),
        (localise(_TEXT, "built-at", lang), now.strftime("%Y-%m-%d %H:%M")),
        (localise(_TEXT, "records", lang), str(records)),
        (localise(_TEXT, "problems", lang), str(problems)),
    ]
    lines += [(_label(key, lang), localise(_TEXT, f"def-{key}", lang)) for key in _DEFINED]
    for r, (label, text) in enumerate(lines, start=2):
        cells.string(ws, r, 0, label)
        cells.string(ws, r, 1, text)


def _label(key: str, lang: str) -> str:
    zh, en = LIBRARY_HEADINGS[key]
    return en if lang == "en" else zh


_DEFINED = ("count", "first_seen", "description", "solution", "mean_rating", "example_ids", "tags")
_TEXT: dict[str, dict[str, str]] = {
    "cannot-write": {
        "zh": "无法写入解决方案库 {path}（{detail}）：请确认文件没有在 Excel 中打开、文件夹可写",
        "en": "cannot write the solution library {path} ({detail}): close it in Excel and check "
        "the folder is writable",
    },
    "notes-title": {"zh": "解决方案库说明", "en": "About this solution library"},
    "built-from": {"zh": "来源台账", "en": "Register"},
    "built-at": {"zh": "生成时间", "en": "Built at"},
    "records": {"zh": "台账记录数", "en": "Records"},
    "problems": {"zh": "高频问题数", "en": "Recurring problems"},
    "def-count": {
        "zh": "同一产品/服务模块、同一问题类型中，问题描述、分析过程与解决方案相似的记录数（含未结）",
        "en": "records of one module and type whose description, analysis and solution are similar "
        "(open ones included)",
    },
    "def-first_seen": {
        "zh": "首次/最近出现：最早/最晚的问题发生时间（为空时用接收时间）",
        "en": "first/last seen: earliest/latest occurred time (received time when blank)",
    },
    "def-description": {
        "zh": "最接近该问题所有描述中心的一条描述",
        "en": "the description closest to the centre of the problem's descriptions",
    },
    "def-solution": {
        "zh": "至少两条记录采用的同一方案；否则最近的永久方案；否则最近的方案（见“方案依据”）",
        "en": "the solution shared by most finished records (two or more); else the latest "
        "permanent fix; else the latest solution (see the basis column)",
    },
    "def-mean_rating": {
        "zh": "有满意度评分的记录的平均分（评分数 = 参与平均的记录数）",
        "en": "mean of the ratings given (ratings = how many)",
    },
    "def-example_ids": {
        "zh": "最近出现的几条记录的问题编号，可在总台账中查找",
        "en": "IDs of the most recent records, to look up in the register",
    },
    "def-tags": {
        "zh": "#模块 #类型 #关键词（该问题描述中最有区分度的词）",
        "en": "#module #type #keywords (the most distinctive words of its descriptions)",
    },
}
