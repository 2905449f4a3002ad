"""Write the master register workbook (总台账, 待修正, 变更记录, and the summary tabs the job
hands in) atomically, every cell through :class:`~aftersales_xl.writing.cells.CellWriter`.

The layout is :mod:`aftersales_xl.reading.register`'s. The workbook is written in
xlsxwriter's ``constant_memory`` mode (row by row) through
:func:`~aftersales_xl.writing.fileio.atomic_output` (a temporary file in the target folder,
moved into place only when complete).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
import xlsxwriter.exceptions

from ..coerce import as_text, is_missing
from ..config import Policy
from ..errors import WriteError
from ..forms import FieldSpec, FormSpec
from ..messages import localise
from ..reading.register import (
    HISTORY_META,
    HISTORY_SHEET,
    REGISTER_SHEET,
    REJECTED_COLUMNS,
    REJECTED_SHEET,
    STATE_MARK,
    STATE_PROPERTY,
    STATE_SHEET,
    STATE_VERSION,
    MergeState,
    RejectedRow,
    column_kind,
    empty_frame,
    history_columns,
    pick,
    register_columns,
)
from ..sla import SLA_COLUMNS, sla_frame, sla_register_columns
from ..workcal import WorkCalendar
from . import layout
from .cells import CellWriter
from .fileio import atomic_output

_WIDTHS = {
    "source_file": 28,
    "source_row": 8,
    "merged_at": 17,
    "replaced_at": 17,
    "replaced_by": 28,
    "changed_fields": 24,
}
_SLA_WIDTH = 13


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
    now: datetime,
    summary_sheets: Callable[[xlsxwriter.Workbook, CellWriter], None] | None = None,
    rejected: Iterable[RejectedRow] = (),
    history: pd.DataFrame | None = None,
    sla_columns: Sequence[tuple[str, str]] | Mapping[str, tuple[str, str]] = SLA_COLUMNS,
    extra_columns: Sequence[str] = (),
    state: MergeState | None = None,
    comments: Mapping[str, Sequence[str | None]] | None = None,
    lang: str = "zh",
) -> list[tuple[str, str, int]]:
    """Write the whole register workbook to ``path`` atomically; return ``(sheet, "A1",
    characters)`` of every text cut to Excel's 32,767 characters (for a note).

    ``frame`` holds one row per record with the form keys, every SLA column key and the
    provenance keys (``source_file``, ``source_row``, ``merged_at``) as columns; rows are
    written in the frame's order. ``extra_columns`` names further columns of ``frame`` —
    those added by hand that :func:`read_register` returned — written after the provenance
    columns under their names, each cell as text, number, date, time, datetime or boolean by
    its type. ``history`` holds the replaced versions for ``变更记录``
    with the columns of :func:`history_columns` (all of them, old rows first: pass what
    :func:`read_history` returned with this run's rows appended); None writes an empty sheet.
    ``state`` (the merge's memory of what it merged from each source: fingerprints, never
    values) goes into the very-hidden sheet ``_xlcheck_state`` of the same file, its checksum
    into the document's keywords, so rows and state are always replaced together.
    ``comments`` maps a 总台账 column key to one cell comment (or None) per row of ``frame``
    (相似已解决's solutions).

    Every column is typed and checked before any file is created (:class:`ValueError` for a
    missing column or a value of the wrong type). The workbook is built in a temporary file
    next to ``path`` and moved over it (:func:`~aftersales_xl.writing.fileio.atomic_output`), so a
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
        history = empty_frame([key for key, _ in hist_columns], form)
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
            properties = {"title": REGISTER_SHEET, "comments": "xlcheck merge", "created": now}
            lines = state.lines() if state is not None else []
            checksum = state.checksum(lines) if state is not None else None
            if checksum is not None:
                properties["keywords"] = f"{STATE_PROPERTY} {checksum}"
            workbook.set_properties(properties)
            cells = CellWriter(workbook)
            register_ws = workbook.add_worksheet(REGISTER_SHEET)
            _write_register_sheet(
                register_ws, cells, planned, len(frame), policy, lang, comments or {}
            )
            _print_setup(register_ws, planned, len(frame), now, lang)
            # summary tabs come right after 总台账, then 待修正 and 变更记录
            if summary_sheets is not None:
                summary_sheets(workbook, cells)
            rejected_ws = workbook.add_worksheet(REJECTED_SHEET)
            n_rejected = _write_rejected_sheet(rejected_ws, cells, rejected, lang)
            layout.page_setup(
                rejected_ws, now, lang, header_rows=(0, 0),
                print_area=(0, 0, max(n_rejected, 1), len(REJECTED_COLUMNS) - 1),
            )  # fmt: skip
            history_ws = workbook.add_worksheet(HISTORY_SHEET)
            _write_history_sheet(history_ws, cells, planned_history, len(history))
            _print_setup(history_ws, planned_history, len(history), now, lang)
            cells.finish_lists(workbook)
            if state is not None and checksum is not None:
                _write_state_sheet(
                    workbook.add_worksheet(STATE_SHEET), cells, state, checksum, lines
                )
            register_ws.activate()
            workbook.close()
    except (OSError, xlsxwriter.exceptions.XlsxWriterException) as e:
        detail = getattr(e, "strerror", None) or e
        raise WriteError(_t("cannot-write", lang, path=path.name, detail=detail)) from None
    return cells.cut


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
        kind = "as-read" if key in extra else column_kind(key, fields)
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
        if key == "record_id":  # an ID is never cut: as wide as the longest one
            longest = max(
                (len(v) if v.isascii() else layout.text_width(v) for v in values if v),
                default=0,
            )
            width = max(width, float(longest + 2))
        planned.append(_Column(key, label, kind, width, values, field))
    return planned


def _write_register_sheet(
    ws: Any,
    cells: CellWriter,
    planned: list[_Column],
    n: int,
    policy: Policy,
    lang: str,
    comments: Mapping[str, Sequence[str | None]] | None = None,
) -> None:
    """总台账: header, typed cells row by row, widths, freeze, autofilter, drop-downs, and the
    cell comments of ``comments`` (column key → one per row)."""
    last_row = max(n, 1)  # at least one data row carries the drop-downs of an empty register
    for col, column in enumerate(planned):
        field = column.field
        if field is not None and field.type == "list" and field.list:
            cells.list_validation(ws, 1, last_row, col, policy.allowed(field.list), lang)
        elif field is not None and field.type == "rating" and None not in (field.min, field.max):
            cells.whole_number_validation(ws, 1, last_row, col, field.min, field.max, lang)
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, last_row, len(planned) - 1)
    _write_table(ws, cells, planned, n, comments)


def _write_table(
    ws: Any,
    cells: CellWriter,
    planned: list[_Column],
    n: int,
    comments: Mapping[str, Sequence[str | None]] | None = None,
) -> None:
    """Column widths and formats, the header row, then ``n`` rows of typed cells in order
    (each row's comments with it: constant_memory mode writes row by row)."""
    notes = [(col, comments[c.key]) for col, c in enumerate(planned) if c.key in (comments or {})]
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
        for col, texts in notes:
            if texts[i]:
                cells.comment(ws, row, col, texts[i])


def _print_setup(ws: Any, planned: list[_Column], n: int, now: datetime, lang: str) -> None:
    """Printing a register-like sheet: landscape A4, the header row and the 问题编号 column
    repeated on every page, the print area over the data, the footer of every tab. Not fit
    to one page wide: thirty-odd columns at that scale could not be read; pages run down,
    then across."""
    id_col = next((i for i, c in enumerate(planned) if c.key == "record_id"), None)
    layout.page_setup(
        ws,
        now,
        lang,
        header_rows=(0, 0),
        header_columns=None if id_col is None else (id_col, id_col),
        print_area=(0, 0, max(n, 1), len(planned) - 1),
        fit_width=False,
    )


def _writer(column: _Column, cells: CellWriter) -> tuple[Callable[[Any, int, int, Any], None], Any]:
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
    return [None if is_missing(v) else (as_text(v) or None) for v in series.tolist()]


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
    ws: Any, cells: CellWriter, rejected: Iterable[RejectedRow], lang: str
) -> int:
    """待修正: one row per reason a submitted row was not merged this run; returns their
    number."""
    widths = {"source_file": 28, "cell": 16, "column": 14, "code": 20, "message": 80}
    for col, key in enumerate(REJECTED_COLUMNS):
        ws.set_column(col, col, widths[key], cells.text)
    ws.freeze_panes(1, 0)
    cells.header_row(ws, 0, [pick(labels, lang) for labels in REJECTED_COLUMNS.values()])
    row = 0
    for row, item in enumerate(rejected, start=1):
        for col, key in enumerate(REJECTED_COLUMNS):
            value = getattr(item, key)
            cells.value(ws, row, col, value)
    ws.autofilter(0, 0, max(row, 1), len(REJECTED_COLUMNS) - 1)
    return row


def _write_history_sheet(ws: Any, cells: CellWriter, planned: list[_Column], n: int) -> None:
    """变更记录: one row per replaced version, typed like 总台账 (no drop-downs: it is a log).

    The header row and the change columns up to 问题编号 stay in view.
    """
    frozen = next((i + 1 for i, c in enumerate(planned) if c.key == "record_id"), len(HISTORY_META))
    ws.freeze_panes(1, frozen)
    ws.autofilter(0, 0, max(n, 1), len(planned) - 1)
    _write_table(ws, cells, planned, n)


def _write_state_sheet(
    ws: Any, cells: CellWriter, state: MergeState, checksum: str, lines: Sequence[str]
) -> None:
    """_xlcheck_state, very hidden: a first row with the layout's mark, version, checksum and
    field keys; a header; then the entries (:meth:`MergeState.lines`) in column A, packed
    ~150 to a cell (:meth:`MergeState.chunks`), so that the state costs a few hundred cells
    however large the register."""
    for col, value in enumerate((STATE_MARK, STATE_VERSION, checksum, ",".join(state.fields))):
        cells.string(ws, 0, col, value)
    cells.header_row(ws, 1, ["问题编号 ⇥ 来源文件 ⇥ 指纹（每行一条）"])
    for row, text in enumerate(state.chunks(lines), start=2):
        cells.string(ws, row, 0, text)
    ws.set_column(0, 0, 60)
    ws.very_hidden()


_TEXT: dict[str, dict[str, str]] = {
    "cannot-write": {
        "zh": "无法写入总台账 {path}（{detail}）：请确认文件没有在 Excel 中打开、文件夹可写；原台账未改动",
        "en": "cannot write the register {path} ({detail}): close it in Excel and check the folder is "
        "writable; the old register is untouched",
    },
}


def _t(key: str, lang: str, **params: Any) -> str:
    return localise(_TEXT, key, lang, **params)
