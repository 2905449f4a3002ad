"""The master register (总台账): write it with every cell explicitly typed, and read it back.

Layout of the workbook written by :func:`write_register` (sheet names are fixed, in Chinese):

``总台账``      one row per 问题编号: the form's columns in the form's order, then the SLA figure
               columns, then the provenance columns 来源文件 / 来源行 / 合并时间. Header frozen,
               autofilter, column widths from the form spec, drop-downs on list columns.
``概览`` … ``满意度跟进``  the summary tabs (:mod:`aftersales_xl.summaries`), computed fresh.
``待修正``      rows rejected by this run (来源文件, 单元格, 列, 代码, 说明).
``变更记录``    every version of a record that an update replaced, one row per replaced
               version: 变更时间 / 变更来源 (the new version's file) / 变更字段, then the old
               version's form columns and its own 来源文件 / 来源行 / 合并时间 — nothing is lost.

Spreadsheet-injection and type quirks are handled in one place, :class:`_CellWriter`: every
cell goes through ``write_string`` / ``write_number`` / ``write_datetime`` / ``write_blank``,
text that Excel would read as a formula (``=``, ``+``, ``-``, ``@``, ``{=``, tab, CR and the
full-width ``＝＋－＠``) is stored as text with Excel's quote prefix, and URL-like text stays
plain text. ``变更记录`` follows the same rules as ``总台账``. The workbook is written in
xlsxwriter's ``constant_memory`` mode (row by row) through :func:`~aftersales_xl.fileio.atomic_output`
(a temporary file in the target folder, moved into place only when complete).

:func:`read_register` reads ``总台账`` back with python-calamine into the typed frame the
merge works on: text as ``str`` (IDs and phones never become numbers), datetimes as pandas
datetimes (to the second), 客户满意度 and 来源行 as nullable integers. Columns a supervisor
added by hand to 总台账 (``主管备注``…) are read too and written back after the provenance
columns, so no merge drops them. :func:`read_history` reads ``变更记录`` the same way, so
history accumulates losslessly from merge to merge.
"""

from __future__ import annotations

import math
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import python_calamine
import xlsxwriter
import xlsxwriter.exceptions
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from .coerce import parse_datetime, parse_rating
from .config import Policy
from .errors import UnreadableError, WriteError
from .fileio import atomic_output
from .findings import Finding
from .forms import FieldSpec, FormSpec, normalise_label
from .ids import normalise_id
from .messages import shorten
from .pii import redact
from .safety import inspect
from .sla import SLA_COLUMNS, sla_frame, sla_register_columns
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
from .template import LISTS_SHEET
from .workcal import WorkCalendar

REGISTER_SHEET = "总台账"
REJECTED_SHEET = "待修正"
HISTORY_SHEET = "变更记录"

#: provenance columns after the form and SLA columns: key -> (zh label, en label)
PROVENANCE: dict[str, tuple[str, str]] = {
    "source_file": ("来源文件", "Source file"),
    "source_row": ("来源行", "Source row"),
    "merged_at": ("合并时间", "Merged at"),
}
#: the 待修正 sheet: attribute of :class:`RejectedRow` -> (zh, en)
REJECTED_COLUMNS: dict[str, tuple[str, str]] = {
    "source_file": ("来源文件", "Source file"),
    "cell": ("单元格", "Cell"),
    "column": ("列", "Column"),
    "code": ("代码", "Code"),
    "message": ("说明", "Message"),
}
#: the 变更记录 sheet starts with these, then the form and provenance columns of the replaced
#: version: key -> (zh, en). ``replaced_by`` is the file name of the version that replaced it;
#: ``changed_fields`` the labels of the fields that changed, joined with "、".
HISTORY_META: dict[str, tuple[str, str]] = {
    "replaced_at": ("变更时间", "Changed at"),
    "replaced_by": ("变更来源", "Changed by"),
    "changed_fields": ("变更字段", "Changed fields"),
}

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
#: text starting with one of these is stored with Excel's quote prefix (never a formula)
FORMULA_PREFIXES = ("=", "+", "-", "@", "{=", "\t", "\r", "＝", "＋", "－", "＠")
#: Excel refuses an inline drop-down source longer than this
_INLINE_LIST_MAX = 255
#: bounds passed to :func:`coerce.parse_rating` when reading the register: any whole number
_ANY_RATING = 10**9

#: how the non-form columns are typed (form fields follow their spec type)
_EXTRA_KINDS = {
    "source_file": "text",
    "source_row": "integer",
    "merged_at": "datetime",
    "replaced_at": "datetime",
    "replaced_by": "text",
    "changed_fields": "text",
}
_WIDTHS = {
    "source_file": 28,
    "source_row": 8,
    "merged_at": 17,
    "replaced_at": 17,
    "replaced_by": 28,
    "changed_fields": 24,
}
_SLA_WIDTH = 13


@dataclass(frozen=True)
class RejectedRow:
    """One line of the 待修正 sheet: why a submitted row was not merged."""

    source_file: str
    cell: str | None
    column: str | None
    code: str
    message: str

    @classmethod
    def from_finding(cls, source_file: str, finding: Finding) -> RejectedRow:
        """The 待修正 line for ``finding`` found in ``source_file`` (cell shown as ``sheet!A1``)."""
        cell = finding.cell
        if cell and finding.sheet:
            cell = f"{finding.sheet}!{cell}"
        return cls(source_file, cell, finding.column, finding.code, finding.message)


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def register_columns(
    form: FormSpec,
    sla_columns: Sequence[tuple[str, str]] | Mapping[str, tuple[str, str]] = (),
    lang: str = "zh",
) -> list[tuple[str, str]]:
    """The 总台账 columns in order as ``(key, header label)``: form, SLA figures, provenance.

    ``sla_columns`` is either an ordered list of ``(key, label)`` or a mapping
    ``key -> (zh label, en label)`` such as ``sla.SLA_COLUMNS`` (the label is picked by ``lang``).
    """
    cols = [(f.key, f.title(lang)) for f in form.fields]
    cols += _sla_pairs(sla_columns, lang)
    cols += [(key, _pick(labels, lang)) for key, labels in PROVENANCE.items()]
    return cols


def history_columns(form: FormSpec, lang: str = "zh") -> list[tuple[str, str]]:
    """The 变更记录 columns in order as ``(key, header label)``.

    ``变更时间``, ``变更来源``, ``变更字段`` (:data:`HISTORY_META`), then the replaced version's
    form columns in form order and its provenance ``来源文件``, ``来源行``, ``合并时间``. The
    keys are the columns of the history frame :func:`write_register` takes and
    :func:`read_history` returns.
    """
    cols = [(key, _pick(labels, lang)) for key, labels in HISTORY_META.items()]
    cols += [(f.key, f.title(lang)) for f in form.fields]
    cols += [(key, _pick(labels, lang)) for key, labels in PROVENANCE.items()]
    return cols


def with_sla_columns(
    frame: pd.DataFrame,
    policy: Policy,
    now: datetime,
    *,
    calendar: WorkCalendar | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """``frame`` plus the :data:`~aftersales_xl.sla.SLA_COLUMNS` (keys as column names) as
    people read them: hours to 0.1, targets like ``24 小时``, results like ``达标``."""
    shown = sla_register_columns(sla_frame(frame, policy, now, calendar), lang)
    shown.columns = list(SLA_COLUMNS)
    return frame.join(shown)


def write_register(
    path: str | Path,
    frame: pd.DataFrame,
    *,
    form: FormSpec,
    policy: Policy,
    summaries: Summaries,
    rejected: Iterable[RejectedRow] = (),
    history: pd.DataFrame | None = None,
    sla_columns: Sequence[tuple[str, str]] | Mapping[str, tuple[str, str]] = SLA_COLUMNS,
    extra_columns: Sequence[str] = (),
    lang: str = "zh",
) -> None:
    """Write the whole register workbook to ``path`` atomically.

    ``frame`` holds one row per record with the form keys, every SLA column key and the
    provenance keys (``source_file``, ``source_row``, ``merged_at``) as columns; rows are
    written in the frame's order. ``extra_columns`` names further columns of ``frame`` —
    those added by hand that :func:`read_register` returned — written after the provenance
    columns under their names, each cell as text, number, date, time, datetime or boolean by
    its type. ``history`` holds the replaced versions for ``变更记录``
    with the columns of :func:`history_columns` (all of them, old rows first: pass what
    :func:`read_history` returned with this run's rows appended); None writes an empty sheet.

    Every column is typed and checked before any file is created (:class:`ValueError` for a
    missing column or a value of the wrong type). The workbook is built in a temporary file
    next to ``path`` and moved over it (:func:`~aftersales_xl.fileio.atomic_output`), so a
    crash never leaves a half-written register. Raises :class:`WriteError` if the file
    cannot be written (the old register is untouched).
    """
    path = Path(path)
    columns = register_columns(form, sla_columns, lang)
    columns += [(name, name) for name in extra_columns]
    missing = [key for key, _ in columns if key not in frame.columns]
    if missing:
        raise ValueError(f"register frame lacks columns: {', '.join(missing)}")
    hist_columns = history_columns(form, lang)
    if history is None:
        history = _empty_frame([key for key, _ in hist_columns], form)
    absent = [key for key, _ in hist_columns if key not in history.columns]
    if absent:
        raise ValueError(f"history frame lacks columns: {', '.join(absent)}")

    planned = _plan_columns(frame, form, columns, extra=set(extra_columns))
    planned_history = _plan_columns(history, form, hist_columns)

    try:
        # constant_memory keeps one row in memory; its scratch files live in a private folder
        # that is removed whatever happens
        with (
            atomic_output(path) as tmp,
            tempfile.TemporaryDirectory(prefix="xlcheck-", ignore_cleanup_errors=True) as scratch,
        ):
            workbook = xlsxwriter.Workbook(
                str(tmp),
                {
                    "constant_memory": True,
                    "strings_to_urls": False,
                    "strings_to_formulas": False,
                    "strings_to_numbers": False,
                    "tmpdir": scratch,
                },
            )
            workbook.set_properties(
                {"title": REGISTER_SHEET, "comments": "xlcheck merge", "created": summaries.now}
            )
            cells = _CellWriter(workbook)
            register_ws = workbook.add_worksheet(REGISTER_SHEET)
            _write_register_sheet(register_ws, cells, planned, len(frame), policy, lang)
            # summary tabs come right after 总台账, then 待修正 and 变更记录
            _write_summary_sheets(workbook, cells, summaries, lang)
            _write_rejected_sheet(workbook.add_worksheet(REJECTED_SHEET), cells, rejected, lang)
            _write_history_sheet(
                workbook.add_worksheet(HISTORY_SHEET), cells, planned_history, len(history)
            )
            cells.finish_lists(workbook)
            register_ws.activate()
            workbook.close()
    except (OSError, xlsxwriter.exceptions.XlsxWriterException) as e:
        detail = getattr(e, "strerror", None) or e
        raise WriteError(_t("cannot-write", lang, path=path.name, detail=detail)) from None


class _CellWriter:
    """Every cell of the register goes through here, with an explicit type.

    Holds the workbook's formats. Text starting like a formula gets the quote-prefix format;
    datetimes get ``yyyy-mm-dd hh:mm``; blanks are written as blanks. Long drop-down lists
    are collected and written to a hidden sheet at the end (:meth:`finish_lists`).
    """

    def __init__(self, workbook: xlsxwriter.Workbook):
        add = workbook.add_format
        self.text = add({"num_format": "@"})
        self.quoted = add({"num_format": "@", "quote_prefix": True})
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

    # -- typed writers ------------------------------------------------------------------
    def string(self, ws: Any, row: int, col: int, value: str) -> None:
        """Write text as text; formula-like text gets Excel's quote prefix."""
        if value == "":
            ws.write_blank(row, col, None)
        else:
            ws.write_string(
                row, col, value, self.quoted if value.startswith(FORMULA_PREFIXES) else self.text
            )

    def datetime_cell(self, ws: Any, row: int, col: int, value: datetime) -> None:
        ws.write_datetime(row, col, value, self.datetime)

    def value(self, ws: Any, row: int, col: int, value: Any, number_format: Any = None) -> None:
        """Write any scalar by its Python type: blank, datetime, number or text."""
        if is_missing(value):
            ws.write_blank(row, col, None)
        elif isinstance(value, datetime | date):
            self.datetime_cell(ws, row, col, _as_datetime(value))
        elif isinstance(value, bool | np.bool_):
            self.string(ws, row, col, str(bool(value)))
        elif isinstance(value, int | float | np.integer | np.floating):
            ws.write_number(row, col, float(value), number_format)
        elif isinstance(value, time | timedelta):
            self.string(ws, row, col, str(value))
        else:
            self.string(ws, row, col, _as_text(value))

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

    def header_row(self, ws: Any, row: int, labels: Sequence[str]) -> None:
        for col, label in enumerate(labels):
            ws.write_string(row, col, label, self.header)

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


@dataclass(frozen=True)
class _Column:
    """One 总台账 column, its cell values already normalised (None = blank)."""

    key: str
    label: str
    kind: str  # text | datetime | integer | auto (SLA figures: by value type) | as-read
    width: float
    values: list[Any]
    field: FieldSpec | None


def _plan_columns(
    frame: pd.DataFrame,
    form: FormSpec,
    columns: list[tuple[str, str]],
    extra: set[str] | frozenset[str] = frozenset(),
) -> list[_Column]:
    """Normalise every column before any file is created, so bad data fails early and cleanly.

    Form fields follow their spec type; 合并时间 / 变更时间 are datetimes, 来源行 an integer,
    来源文件 / 变更来源 / 变更字段 text; SLA figures are written by value type (hours numbers,
    解决期限 datetimes, words text); the ``extra`` columns added by hand cell by cell as read.
    """
    fields = {f.key: f for f in form.fields}
    planned = []
    for key, label in columns:
        field = None if key in extra else fields.get(key)
        kind = "as-read" if key in extra else _kind(key, fields)
        width = float(field.width) if field is not None else _WIDTHS.get(key, _SLA_WIDTH)
        series = frame[key]
        try:
            if kind == "datetime":
                values: list[Any] = _datetimes(series)
            elif kind == "integer":
                values = _numbers(series)
            elif kind == "text":
                values = _texts(series)
            else:
                values = [None if is_missing(v) else v for v in series.tolist()]
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"register column {key!r} ({label}) has a value of the wrong type: {e}"
            ) from None
        planned.append(_Column(key, label, kind, width, values, field))
    return planned


def _kind(key: str, fields: Mapping[str, FieldSpec]) -> str:
    """How a column's cells are typed: text | datetime | integer | auto (by value type)."""
    field = fields.get(key)
    if field is None:
        return _EXTRA_KINDS.get(key, "auto")
    return {"datetime": "datetime", "rating": "integer"}.get(field.type, "text")


def _write_register_sheet(
    ws: Any,
    cells: _CellWriter,
    planned: list[_Column],
    n: int,
    policy: Policy,
    lang: str,
) -> None:
    """总台账: header, typed cells row by row, widths, freeze, autofilter, drop-downs."""
    last_row = max(n, 1)  # at least one data row carries the drop-downs of an empty register
    for col, column in enumerate(planned):
        field = column.field
        if field is not None and field.type == "list" and field.list:
            cells.list_validation(ws, 1, last_row, col, policy.allowed(field.list), lang)
        elif field is not None and field.type == "rating" and None not in (field.min, field.max):
            ws.data_validation(
                1, col, last_row, col,
                {"validate": "integer", "criteria": "between", "minimum": field.min, "maximum": field.max,
                 "error_title": _t("dv-title", lang),
                 "error_message": _t("dv-rating", lang, min=field.min, max=field.max)},
            )  # fmt: skip
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, last_row, len(planned) - 1)
    _write_table(ws, cells, planned, n)


def _write_table(ws: Any, cells: _CellWriter, planned: list[_Column], n: int) -> None:
    """Column widths and formats, the header row, then ``n`` rows of typed cells in order."""
    writers: list[tuple[list[Any], Callable[[Any, int, int, Any], None]]] = []
    for col, column in enumerate(planned):
        put, col_format = _writer(column, cells)
        ws.set_column(col, col, column.width, col_format)
        writers.append((column.values, put))
    ws.set_row(0, 30)
    cells.header_row(ws, 0, [column.label for column in planned])
    for i in range(n):
        row = i + 1
        for col, (values, put) in enumerate(writers):
            value = values[i]
            if value is not None:  # empty cells are left unwritten (blank)
                put(ws, row, col, value)


def _writer(
    column: _Column, cells: _CellWriter
) -> tuple[Callable[[Any, int, int, Any], None], Any]:
    """The typed write call for a column's cells, and the column's default format."""
    if column.kind == "datetime":
        return cells.datetime_cell, cells.datetime
    if column.kind == "integer":
        fmt = cells.integer

        def put_number(ws: Any, row: int, col: int, value: float) -> None:
            ws.write_number(row, col, value, fmt)

        return put_number, fmt
    if column.kind == "text":
        return cells.string, cells.text
    if column.kind == "as-read":  # a column added by hand: each cell as it was read
        return cells.as_read, None

    def put_value(ws: Any, row: int, col: int, value: Any) -> None:
        cells.value(ws, row, col, value, cells.decimal)

    return put_value, None


def _texts(series: pd.Series) -> list[str | None]:
    return [None if is_missing(v) else (_as_text(v) or None) for v in series.tolist()]


def _numbers(series: pd.Series) -> list[float | None]:
    return [None if is_missing(v) else float(v) for v in series.tolist()]


def _datetimes(series: pd.Series) -> list[datetime | None]:
    stamps = (
        series
        if pd.api.types.is_datetime64_any_dtype(series)
        else pd.to_datetime(series, format="ISO8601")
    )
    return [None if v is pd.NaT else v.to_pydatetime() for v in stamps.astype(object).tolist()]


def _write_rejected_sheet(
    ws: Any, cells: _CellWriter, rejected: Iterable[RejectedRow], lang: str
) -> None:
    """待修正: one row per reason a submitted row was not merged this run."""
    widths = {"source_file": 28, "cell": 16, "column": 14, "code": 20, "message": 80}
    for col, key in enumerate(REJECTED_COLUMNS):
        ws.set_column(col, col, widths[key], cells.text)
    ws.freeze_panes(1, 0)
    cells.header_row(ws, 0, [_pick(labels, lang) for labels in REJECTED_COLUMNS.values()])
    row = 0
    for row, item in enumerate(rejected, start=1):
        for col, key in enumerate(REJECTED_COLUMNS):
            value = getattr(item, key)
            cells.value(ws, row, col, redact(value) if key == "message" and value else value)
    ws.autofilter(0, 0, max(row, 1), len(REJECTED_COLUMNS) - 1)


def _write_history_sheet(ws: Any, cells: _CellWriter, planned: list[_Column], n: int) -> None:
    """变更记录: one row per replaced version, typed like 总台账 (no drop-downs: it is a log).

    The header row and the change columns up to 问题编号 stay in view.
    """
    frozen = next((i + 1 for i, c in enumerate(planned) if c.key == "record_id"), len(HISTORY_META))
    ws.freeze_panes(1, frozen)
    ws.autofilter(0, 0, max(n, 1), len(planned) - 1)
    _write_table(ws, cells, planned, n)


# --------------------------------------------------------------------------------------
# summary tabs
# --------------------------------------------------------------------------------------


def _write_summary_sheets(
    workbook: xlsxwriter.Workbook, cells: _CellWriter, s: Summaries, lang: str
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


def _title(ws: Any, cells: _CellWriter, text: str, s: Summaries, lang: str) -> None:
    ws.write_string(0, 0, text, cells.title)
    ws.write_string(1, 0, heading("as-of", lang).format(
        now=s.now.strftime("%Y-%m-%d %H:%M"),
        week=f"{s.week_start:%Y-%m-%d} – {(s.week_end - timedelta(days=1)):%Y-%m-%d}",
        records=s.records,
    ), cells.note)  # fmt: skip


def _table(
    ws: Any,
    cells: _CellWriter,
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


def _header_at(ws: Any, cells: _CellWriter, row: int, labels: Sequence[str]) -> None:
    for col, label in enumerate(labels):
        ws.write_string(row, col, label, cells.header)


def _summary_value(ws: Any, cells: _CellWriter, row: int, col: int, key: str, value: Any) -> None:
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


def _overview_sheet(ws: Any, cells: _CellWriter, s: Summaries, lang: str) -> None:
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


def _category_sheet(ws: Any, cells: _CellWriter, s: Summaries, lang: str) -> None:
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
    workbook: xlsxwriter.Workbook, ws: Any, cells: _CellWriter, s: Summaries, lang: str
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
    workbook: xlsxwriter.Workbook, ws: Any, cells: _CellWriter, s: Summaries, lang: str
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


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def read_register(
    path: str | Path, form: FormSpec, policy: Policy, *, lang: str = "zh"
) -> pd.DataFrame:
    """Read ``总台账`` of an existing register into the typed frame the merge works on.

    Columns: the form keys in form order, then ``source_file``, ``source_row``, ``merged_at``
    (SLA figure columns are derived and not read back), then every column added by hand
    (``主管备注``…), named by its header text (contact data in it masked; a blank header
    becomes ``列Q`` / ``Column Q``, a repeated one gets `` (2)``) and holding its cells as read
    (text, number, date, time or datetime, TRUE / FALSE; None when blank). Text columns are ``str`` dtype (a number typed into a text
    column comes back as its digits, never as a float), datetime columns ``datetime64[us]``
    rounded to the second, 客户满意度 and 来源行 ``Int64``. Hand edits read like a
    submission: 问题编号 is trimmed and normalised (:func:`~aftersales_xl.ids.normalise_id`), a
    rating typed as ``5分`` is 5. The index is the Excel row number (name ``excel_row``).
    Headers may be Chinese or English; a form field is found by the exact label the register
    is written with before any alias, so a column added by hand under an alias (``电话``)
    stays a column added by hand.

    The file first passes :func:`aftersales_xl.safety.inspect` with ``policy.limits``.
    Raises :class:`UnreadableError` if it does not exist, is not a workbook (or unsafe), has
    no ``总台账`` sheet, the header row is not a register's, or a date / rating cell holds
    something unusable (the message names the cells).
    """
    path = Path(path)
    rows, date1904 = _load_sheet(path, REGISTER_SHEET, policy, lang)
    if rows is None:
        raise UnreadableError(str(path), "no-register-sheet", _t("no-sheet", lang, path=path.name))
    keys = [*form.keys, *PROVENANCE]
    header = list(rows[0]) if rows else []
    positions = _match_labels(header, PROVENANCE)
    sla = _match_labels(header, SLA_COLUMNS)
    positions.update(_match_fields(header, form, [*positions.values(), *sla.values()]))
    extras = _extra_columns(rows, [*positions.values(), *sla.values()], [*keys, *sla], lang)
    return _typed_frame(
        path, REGISTER_SHEET, rows, positions, keys, form, date1904, lang, extras=extras
    )


def read_history(
    path: str | Path, form: FormSpec, policy: Policy, *, lang: str = "zh"
) -> pd.DataFrame:
    """Read ``变更记录`` back, typed exactly like :func:`read_register`.

    Columns are the keys of :func:`history_columns` (``replaced_at``, ``replaced_by``,
    ``changed_fields``, the form keys, ``source_file``, ``source_row``, ``merged_at``); the
    index is the Excel row number. A register without the sheet (or with only its header)
    gives an empty frame with those columns and dtypes, so this run's replaced versions can
    always be appended and written back: read → append → write → read loses nothing.

    Raises :class:`UnreadableError` like :func:`read_register`, and also when the sheet is
    there but its header lacks a column (rather than dropping the history on the next write).
    """
    path = Path(path)
    keys = [key for key, _ in history_columns(form)]
    rows, date1904 = _load_sheet(path, HISTORY_SHEET, policy, lang)
    if not rows:
        return _empty_frame(keys, form)
    header = list(rows[0])
    positions = _match_labels(header, HISTORY_META)
    positions.update(_match_labels(header, PROVENANCE))
    # the change and provenance columns are matched first, so no form alias can claim them
    positions.update(_match_fields(header, form, positions.values()))
    return _typed_frame(path, HISTORY_SHEET, rows, positions, keys, form, date1904, lang)


def _load_sheet(
    path: Path, sheet: str, policy: Policy, lang: str
) -> tuple[list[list[Any]] | None, bool]:
    """The rows of ``sheet`` (None if the workbook has no such sheet) and its 1904 date flag.

    The file must exist and pass the safety gate first; then python-calamine reads it.
    """
    name = path.name
    if not path.is_file():
        raise UnreadableError(str(path), "not-found", _t("not-found", lang, path=name))
    # the safety gate first (policy limits, zip bombs, unsafe XML); it raises UnreadableError
    inspection = inspect(path, policy.limits, lang)
    date1904 = inspection.date1904
    try:
        with path.open("rb") as fh:  # from the bytes, whatever the extension says
            workbook = python_calamine.CalamineWorkbook.from_filelike(fh)
    except Exception:  # calamine raises its own error types for zip/xml/format problems
        raise UnreadableError(
            str(path), "not-a-workbook", _t("not-a-workbook", lang, path=name)
        ) from None
    try:
        if sheet not in workbook.sheet_names:
            return None, date1904
        return workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False), date1904
    except Exception:
        raise UnreadableError(
            str(path), "not-a-workbook", _t("not-a-workbook", lang, path=name)
        ) from None
    finally:
        workbook.close()


def _typed_frame(
    path: Path,
    sheet: str,
    rows: list[list[Any]],
    positions: Mapping[str, int],
    keys: Sequence[str],
    form: FormSpec,
    date1904: bool,
    lang: str,
    *,
    extras: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The typed frame of a sheet's body: ``keys`` read from their ``positions`` in each row,
    then the ``extras`` columns (name → position) with their cells as read.

    Rows with no value at all are not records; the index keeps the Excel row numbers.
    Raises :class:`UnreadableError` naming the missing columns or the unusable cells.
    """
    name = path.name
    header = list(rows[0]) if rows else []
    if any(key not in positions for key in keys):
        labels = dict(history_columns(form, lang))
        missing = [labels[key] for key in keys if key not in positions]
        raise UnreadableError(
            str(path),
            "unknown-layout",
            _t("unknown-layout", lang, path=name, sheet=sheet, columns="、".join(missing)),
        )
    # empty rows (deleted contents, trailing formatted rows) are not records
    numbered = [
        (n, r) for n, r in enumerate(rows[1:], start=2) if any(v not in ("", None) for v in r)
    ]
    body_rows = [r for _, r in numbered]
    index = pd.Index([n for n, _ in numbered], dtype="int64", name="excel_row")

    def column(pos: int) -> list[Any]:
        return [r[pos] if pos < len(r) else "" for r in body_rows]

    fields = {f.key: f for f in form.fields}
    data: dict[str, pd.Series] = {}
    problems: list[str] = []
    for key in keys:
        pos = positions[key]
        label = header[pos]
        values = column(pos)
        kind = _kind(key, fields)
        if kind == "datetime":
            data[key] = _read_datetimes(values, index, pos, label, problems, date1904)
        elif kind == "integer":
            rating = key in fields and fields[key].type == "rating"
            data[key] = _read_integers(values, index, pos, label, problems, rating=rating)
        elif key == "record_id":
            data[key] = pd.Series([_read_id(v) for v in values], index=index, dtype="str")
        else:
            data[key] = pd.Series([_read_text(v) for v in values], index=index, dtype="str")
    for extra, pos in (extras or {}).items():
        data[extra] = pd.Series(
            [None if v == "" else v for v in column(pos)], index=index, dtype=object
        )
    if problems:
        shown = "；".join(problems[:5]) + ("…" if len(problems) > 5 else "")
        raise UnreadableError(
            str(path),
            "bad-register-value",
            _t("bad-value", lang, path=name, sheet=sheet, cells=shown),
        )
    return pd.DataFrame(data, index=index)


def _empty_frame(keys: Sequence[str], form: FormSpec) -> pd.DataFrame:
    """A frame with no rows and the columns / dtypes :func:`_typed_frame` gives ``keys``."""
    positions = {key: pos for pos, key in enumerate(keys)}
    return _typed_frame(Path(), "", [list(keys)], positions, keys, form, False, "zh")


def _match_labels(header: list[Any], labels: Mapping[str, tuple[str, str]]) -> dict[str, int]:
    """key → column of the header cell showing its Chinese or English label: the label as
    written (NFKC, trimmed, any case) first, so a column added beside it as ``备注（主管）``
    stays a column of its own; the tolerant :func:`normalise_label` match (no brackets, ``*``
    or spaces) only for a key still missing."""
    found: dict[str, int] = {}
    for norm in (_as_written, normalise_label):
        lookup = {norm(label): key for key, pair in labels.items() for label in pair}
        for pos, cell in enumerate(header):
            key = lookup.get(norm(cell))
            if key is not None and key not in found and pos not in found.values():
                found[key] = pos
    return found


def _as_written(value: Any) -> str:
    """Header text as written: NFKC (full → half width), trimmed, case-folded."""
    return "" if value is None else unicodedata.normalize("NFKC", str(value)).strip().casefold()


def _match_fields(header: list[Any], form: FormSpec, taken: Iterable[int]) -> dict[str, int]:
    """Form key → column among the header cells not ``taken``: the exact labels the register
    is written with (Chinese or English) first, an alias only for a field still missing. So a
    column added by hand under an alias (``电话``, ``描述``, ``状态``) never takes a field's
    place: it is read as a column added by hand."""
    used = set(taken)
    exact = _match_labels(
        [None if pos in used else cell for pos, cell in enumerate(header)],
        {f.key: (f.label, f.label_en) for f in form.fields},
    )
    used.update(exact.values())
    rest = form.match_headers([None if pos in used else cell for pos, cell in enumerate(header)])
    return {**{k: p for k, p in rest.items() if k not in exact}, **exact}


def _extra_columns(
    rows: list[list[Any]], known: Iterable[int], reserved: Iterable[str], lang: str
) -> dict[str, int]:
    """Columns added by hand: name → position of every column that is not ``known`` and has a
    header or a value. The name is the header text with any phone, email or ID number masked
    (:func:`~aftersales_xl.pii.redact`); a blank header is named after its column letter, and
    a name already taken (or a ``reserved`` key) gets `` (2)``, `` (3)``…"""
    taken = set(known)
    names = set(reserved)
    width = max((len(r) for r in rows), default=0)
    header = list(rows[0]) if rows else []
    out: dict[str, int] = {}
    for pos in range(width):
        if pos in taken or all(pos >= len(r) or r[pos] in ("", None) for r in rows):
            continue
        cell = header[pos] if pos < len(header) else None
        letter = xl_col_to_name(pos)
        base = redact(_as_text(cell).strip()) if cell not in ("", None) else ""
        base = base or (f"Column {letter}" if lang == "en" else f"列{letter}")
        name, n = base, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.add(name)
        out[name] = pos
    return out


def _read_id(value: Any) -> str | float:
    """A 问题编号 cell as a submission's is read: trimmed, NFKC, upper case; blank → NaN."""
    text = normalise_id(value)
    return np.nan if text is None else text


def _read_text(value: Any) -> str | float:
    """A cell of a text column as text: 13800001234.0 → "13800001234"; blank → NaN."""
    if value == "" or value is None:
        return np.nan
    return _as_text(value)


def _read_datetimes(
    values: list[Any],
    index: pd.Index,
    pos: int,
    label: Any,
    problems: list[str],
    date1904: bool = False,
) -> pd.Series:
    """A datetime column, parsed like a submission (:func:`coerce.parse_datetime`: Excel dates,
    serial numbers, every text form staff type, so a hand-edited register still reads); anything
    else is added to ``problems`` as ``"F12 接收时间: “…”"``."""
    out: list[Any] = []
    for row, value in zip(index, values, strict=True):
        if value == "" or value is None:
            out.append(pd.NaT)
            continue
        parsed = parse_datetime(value, date1904)
        if parsed is None:
            problems.append(f"{xl_rowcol_to_cell(row - 1, pos)} {label}: “{shorten(value)}”")
            out.append(pd.NaT)
        else:
            out.append(parsed)
    series = pd.Series(pd.to_datetime(pd.Series(out, dtype=object)), dtype="datetime64[us]")
    series.index = index
    return series.dt.round("s")


def _read_integers(
    values: list[Any],
    index: pd.Index,
    pos: int,
    label: Any,
    problems: list[str],
    *,
    rating: bool = False,
) -> pd.Series:
    """An integer column; with ``rating``, text like ``5分`` reads as a submission's does
    (:func:`coerce.parse_rating`; the range is validate's business, not the register's)."""
    out: list[Any] = []
    for row, value in zip(index, values, strict=True):
        number = value
        if isinstance(value, str):
            text = value.strip()
            try:
                number = float(text) if text else None
            except ValueError:
                number = math.nan
                parsed = parse_rating(text, -_ANY_RATING, _ANY_RATING)[0] if rating else None
                number = math.nan if parsed is None else parsed
        if number is None or number == "":
            out.append(pd.NA)
        elif (
            isinstance(number, int | float)
            and not isinstance(number, bool)
            and float(number).is_integer()
        ):
            out.append(int(number))
        else:
            problems.append(f"{xl_rowcol_to_cell(row - 1, pos)} {label}: “{shorten(value)}”")
            out.append(pd.NA)
    return pd.Series(out, index=index, dtype="Int64")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (scalars only)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _as_text(value: Any) -> str:
    """A value of a text column as the text a person typed (never scientific notation)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M" if value.second == 0 else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time())


def _sla_pairs(
    sla_columns: Sequence[tuple[str, str]] | Mapping[str, tuple[str, str]], lang: str
) -> list[tuple[str, str]]:
    if isinstance(sla_columns, Mapping):
        return [(key, _pick(labels, lang)) for key, labels in sla_columns.items()]
    return [(key, label) for key, label in sla_columns]


def _pick(labels: tuple[str, str], lang: str) -> str:
    return labels[1] if lang == "en" else labels[0]


_TEXT: dict[str, dict[str, str]] = {
    "cannot-write": {
        "zh": "无法写入总台账 {path}（{detail}）：请确认文件没有在 Excel 中打开、文件夹可写；原台账未改动",
        "en": "cannot write the register {path} ({detail}): close it in Excel and check the folder is "
        "writable; the old register is untouched",
    },
    "not-found": {
        "zh": "找不到总台账 {path}：请检查路径，或不带该文件运行以新建台账",
        "en": "register {path} not found: check the path, or start a new register",
    },
    "not-a-workbook": {
        "zh": "{path} 不是可读取的 Excel 工作簿（.xlsx）：请指定 xlcheck merge 生成的总台账",
        "en": "{path} is not a readable Excel workbook (.xlsx): give the register written by xlcheck merge",
    },
    "no-sheet": {
        "zh": "{path} 中没有“总台账”工作表：这不是 xlcheck 生成的总台账，请指定正确的文件或新建台账",
        "en": '{path} has no "总台账" sheet: it is not a register written by xlcheck; give the right file '
        "or start a new register",
    },
    "unknown-layout": {
        "zh": "{path} 的“{sheet}”第 1 行不是台账表头，缺少列：{columns}。请恢复原表头（可从备份取回）后重试",
        "en": '{path}: row 1 of "{sheet}" is not the register header; missing columns: {columns}. '
        "Restore the original header (or use the backup) and retry",
    },
    "bad-value": {
        "zh": "{path} 的“{sheet}”中有无法识别的值：{cells}。请在台账中改正后重试",
        "en": '{path}: "{sheet}" holds values that cannot be read: {cells}. Correct them in the register and retry',
    },
    "dv-title": {"zh": "请从下拉列表选择", "en": "Pick from the list"},
    "dv-message": {"zh": "可选值：{values}", "en": "Allowed values: {values}"},
    "dv-rating": {
        "zh": "请填写 {min}–{max} 的整数",
        "en": "Enter a whole number from {min} to {max}",
    },
}


def _t(key: str, lang: str, **params: Any) -> str:
    entry = _TEXT[key]
    return (entry.get(lang) or entry["zh"]).format(**params)
