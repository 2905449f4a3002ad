"""The one cell writer of every workbook xlcheck produces from data (register, summary
tabs, daily report, weekly attachment, solution library): typed, injection-safe, redacted.

Every cell goes through :class:`CellWriter` with an explicit type: ``write_string`` /
``write_number`` / ``write_datetime`` / ``write_blank``. Text is the privacy boundary of
workbooks: every string (cells, headers, titles, drop-down lists) passes
:func:`~aftersales_xl.pii.redact` here, so no phone number, email or ID-card number reaches a
produced workbook whatever the caller forgot; names are masked at the source
(:mod:`aftersales_xl.masking`), where patterns cannot find them. Text that Excel would read as
a formula (``=``, ``+``, ``-``, ``@``, ``{=``, tab, CR and the full-width ``＝＋－＠``) is stored
as text with Excel's quote prefix, and URL-like text stays plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.exceptions
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from ..coerce import as_text, is_missing
from ..forms import LISTS_SHEET
from ..messages import localise
from ..pii import redact

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
#: text starting with one of these is stored with Excel's quote prefix (never a formula)
FORMULA_PREFIXES = ("=", "+", "-", "@", "{=", "\t", "\r", "＝", "＋", "－", "＠")
#: the most characters an Excel cell holds
EXCEL_CELL_MAX = 32_767
#: Excel refuses an inline drop-down source longer than this
_INLINE_LIST_MAX = 255


class CellWriter:
    """Every cell of the register goes through here, with an explicit type.

    Holds the workbook's formats. Text starting like a formula gets the quote-prefix format;
    datetimes get ``yyyy-mm-dd hh:mm``; blanks are written as blanks. Long drop-down lists
    are collected and written to a hidden sheet at the end (:meth:`finish_lists`).
    """

    def __init__(self, workbook: xlsxwriter.Workbook):
        add = workbook.add_format
        self.text = add({"num_format": "@"})
        self.quoted = add({"num_format": "@", "quote_prefix": True})
        # long text in the summary tabs: wrapped in its column, top-aligned
        self.wrap = add({"num_format": "@", "text_wrap": True, "valign": "top"})
        self.quoted_wrap = add(
            {"num_format": "@", "quote_prefix": True, "text_wrap": True, "valign": "top"}
        )
        self.datetime = add({"num_format": DATETIME_FORMAT})
        self.date = add({"num_format": "yyyy-mm-dd"})
        self.time = add({"num_format": "hh:mm"})
        self.time_seconds = add({"num_format": "hh:mm:ss"})
        self.duration = add({"num_format": "[h]:mm:ss"})
        self.integer = add({"num_format": "0"})
        self.decimal = add({"num_format": "0.0"})
        self.percent = add({"num_format": "0.0%"})
        self.header = add(
            {
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "text_wrap": True,
                "valign": "vcenter",
            }
        )
        self.title = add({"bold": True, "font_size": 13})
        self.note = add({"italic": True, "font_color": "#595959"})
        self.block = add({"bold": True, "font_size": 11, "bottom": 1})
        self.long_lists: list[list[str]] = []
        #: ``(sheet, "A1", characters typed)`` of every text cut to Excel's 32,767 characters
        self.cut: list[tuple[str, str, int]] = []

    # -- typed writers ------------------------------------------------------------------
    def string(self, ws: Any, row: int, col: int, value: str, *, wrap: bool = False) -> None:
        """Write text as text; formula-like text gets Excel's quote prefix; ``wrap`` wraps it
        in its column (top-aligned)."""
        if value == "":
            ws.write_blank(row, col, None)
        else:
            value = redact(value)
            if len(value) > EXCEL_CELL_MAX:  # Excel holds no more: cut, and say so (self.cut)
                self.cut.append((ws.name, xl_rowcol_to_cell(row, col), len(value)))
                value = value[:EXCEL_CELL_MAX]
            quoted = value.startswith(FORMULA_PREFIXES)
            if wrap:
                fmt = self.quoted_wrap if quoted else self.wrap
            else:
                fmt = self.quoted if quoted else self.text
            ws.write_string(row, col, value, fmt)

    def datetime_cell(self, ws: Any, row: int, col: int, value: datetime) -> None:
        ws.write_datetime(row, col, value, self.datetime)

    def value(self, ws: Any, row: int, col: int, value: Any, number_format: Any = None) -> None:
        """Write any scalar by its Python type: blank, datetime, number or text."""
        if is_missing(value):
            ws.write_blank(row, col, None)
        elif isinstance(value, datetime | date):
            self.datetime_cell(ws, row, col, as_datetime(value))
        elif isinstance(value, bool | np.bool_):
            self.string(ws, row, col, str(bool(value)))
        elif isinstance(value, int | float | np.integer | np.floating):
            ws.write_number(row, col, float(value), number_format)
        elif isinstance(value, time | timedelta):
            self.string(ws, row, col, str(value))
        else:
            self.string(ws, row, col, as_text(value))

    def as_read(self, ws: Any, row: int, col: int, value: Any) -> None:
        """A cell of a column added by hand, with the type it was read with: a date stays a
        date, a time of day a time (``hh:mm``), a duration a duration (``[h]:mm``), TRUE /
        FALSE a boolean, a number keeps Excel's General format, anything else as
        :meth:`value` writes it."""
        if isinstance(value, date) and not isinstance(value, datetime):
            ws.write_datetime(row, col, datetime.combine(value, time()), self.date)
        elif isinstance(value, time):
            seconds = value.hour * 3600 + value.minute * 60 + value.second
            ws.write_number(
                row, col, seconds / 86400, self.time_seconds if value.second else self.time
            )
        elif isinstance(value, timedelta):
            ws.write_number(row, col, value.total_seconds() / 86400, self.duration)
        elif isinstance(value, bool | np.bool_):
            ws.write_boolean(row, col, bool(value))
        else:
            self.value(ws, row, col, value)

    def comment(self, ws: Any, row: int, col: int, text: str) -> None:
        """A cell comment (note), redacted like every string."""
        ws.write_comment(row, col, redact(text), {"x_scale": 2.5, "y_scale": 1.5})

    def header_row(self, ws: Any, row: int, labels: Sequence[str]) -> None:
        for col, label in enumerate(labels):
            ws.write_string(row, col, redact(label), self.header)

    # -- drop-downs -----------------------------------------------------------------------
    def list_validation(
        self, ws: Any, first_row: int, last_row: int, col: int, values: list[str], lang: str
    ) -> None:
        """A drop-down over ``first_row..last_row`` of ``col`` offering ``values``."""
        options: dict[str, Any] = {
            "validate": "list",
            "error_title": _t("dv-title", lang),
            "error_message": _t("dv-message", lang, values=" / ".join(values))[:255],
        }
        if len(",".join(values)) <= _INLINE_LIST_MAX and not any("," in v for v in values):
            options["source"] = values
        else:  # Excel limit on inline lists: refer to a column of the hidden lists sheet
            self.long_lists.append(values)
            col_letter = xl_col_to_name(len(self.long_lists) - 1)
            options["source"] = f"='{LISTS_SHEET}'!${col_letter}$1:${col_letter}${len(values)}"
        ws.data_validation(first_row, col, last_row, col, options)

    def whole_number_validation(
        self, ws: Any, first_row: int, last_row: int, col: int, low: int, high: int, lang: str
    ) -> None:
        """Whole numbers from ``low`` to ``high`` only, over ``first_row..last_row`` of ``col``
        (客户满意度 1–5)."""
        ws.data_validation(
            first_row, col, last_row, col,
            {"validate": "integer", "criteria": "between", "minimum": low, "maximum": high,
             "error_title": _t("dv-title", lang),
             "error_message": _t("dv-rating", lang, min=low, max=high)},
        )  # fmt: skip

    def finish_lists(self, workbook: xlsxwriter.Workbook) -> None:
        """Write the hidden sheet holding drop-down lists too long to inline (if any)."""
        if not self.long_lists:
            return
        ws = workbook.add_worksheet(LISTS_SHEET)
        for row in range(max(len(v) for v in self.long_lists)):
            for col, values in enumerate(self.long_lists):
                if row < len(values):
                    self.string(ws, row, col, values[row])
        ws.hide()


def as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time())


_TEXT: dict[str, dict[str, str]] = {
    "dv-title": {"zh": "请从下拉列表选择", "en": "Pick from the list"},
    "dv-message": {"zh": "可选值：{values}", "en": "Allowed values: {values}"},
    "dv-rating": {
        "zh": "请填写 {min}–{max} 的整数",
        "en": "Enter a whole number from {min} to {max}",
    },
}


def _t(key: str, lang: str, **params: Any) -> str:
    return localise(_TEXT, key, lang, **params)
