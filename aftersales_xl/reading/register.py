"""The master register's layout (总台账, 待修正, 变更记录) and reading it back.

Layout of the workbook (sheet names are fixed, in Chinese; written by
:func:`aftersales_xl.writing.register.write_register`):

``总台账``      one row per 问题编号: the form's columns in the form's order, then the SLA figure
               columns, then the provenance columns 来源文件 / 来源行 / 合并时间.
``概览`` … ``满意度跟进``  the summary tabs (:mod:`aftersales_xl.reports.summary_sheets`).
``待修正``      rows rejected by this run (来源文件, 单元格, 列, 代码, 说明).
``变更记录``    every version of a record that an update replaced, one row per replaced
               version: 变更时间 / 变更来源 (the new version's file) / 变更字段, then the old
               version's form columns and its own 来源文件 / 来源行 / 合并时间 — nothing is lost.
``_xlcheck_state``  very hidden: the merge state (:class:`MergeState`, :func:`read_state`) —
               per record and source the fingerprints of the version last merged, and a
               checksum (also in the document's keywords) verified before it is trusted.

:func:`read_register` reads ``总台账`` back with python-calamine into the typed frame the
merge works on: text as ``str`` (IDs and phones never become numbers), datetimes as pandas
datetimes (to the second), 客户满意度 and 来源行 as nullable integers. Columns a supervisor
added by hand to 总台账 (``主管备注``…) are read too and written back after the provenance
columns, so no merge drops them. :func:`read_history` reads ``变更记录`` the same way, so
history accumulates losslessly from merge to merge.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import python_calamine
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from ..coerce import as_text, parse_datetime, parse_rating
from ..config import Policy
from ..errors import UnreadableError
from ..findings import Finding
from ..forms import FieldSpec, FormSpec, normalise_label
from ..ids import normalise_id
from ..messages import localise, shorten
from ..pii import redact
from ..sla import SLA_COLUMNS
from .safety import inspect

REGISTER_SHEET = "总台账"
REJECTED_SHEET = "待修正"
HISTORY_SHEET = "变更记录"

#: provenance columns after the form and SLA columns: key -> (zh label, en label)
PROVENANCE: dict[str, tuple[str, str]] = {
    "source_file": ("来源文件", "Source file"),
    "source_row": ("来源行", "Source row"),
    "merged_at": ("合并时间", "Merged at"),
}
#: columns of 总台账 computed at merge and, like the SLA figures, never read back: key -> (zh, en)
#: (相似已解决: up to ``library.similar_solved`` IDs of similar solved records, on open records)
DERIVED_COLUMNS: dict[str, tuple[str, str]] = {"similar_solved": ("相似已解决", "Similar solved")}
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
    cols += [(key, pick(labels, lang)) for key, labels in PROVENANCE.items()]
    return cols


def history_columns(form: FormSpec, lang: str = "zh") -> list[tuple[str, str]]:
    """The 变更记录 columns in order as ``(key, header label)``.

    ``变更时间``, ``变更来源``, ``变更字段`` (:data:`HISTORY_META`), then the replaced version's
    form columns in form order and its provenance ``来源文件``, ``来源行``, ``合并时间``. The
    keys are the columns of the history frame :func:`write_register` takes and
    :func:`read_history` returns.
    """
    cols = [(key, pick(labels, lang)) for key, labels in HISTORY_META.items()]
    cols += [(f.key, f.title(lang)) for f in form.fields]
    cols += [(key, pick(labels, lang)) for key, labels in PROVENANCE.items()]
    return cols


def column_kind(key: str, fields: Mapping[str, FieldSpec]) -> str:
    """How a column's cells are typed: text | datetime | integer | auto (by value type)."""
    field = fields.get(key)
    if field is None:
        return _EXTRA_KINDS.get(key, "auto")
    return {"datetime": "datetime", "rating": "integer"}.get(field.type, "text")


def read_register(
    path: str | Path, form: FormSpec, policy: Policy, *, lang: str = "zh"
) -> pd.DataFrame:
    """Read ``总台账`` of an existing register into the typed frame the merge works on.

    Columns: the form keys in form order, then ``source_file``, ``source_row``, ``merged_at``
    (SLA figure columns and 相似已解决 are derived and not read back), then every column added by hand
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

    The file first passes :func:`aftersales_xl.reading.safety.inspect` with ``policy.limits``.
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
    sla = _match_labels(header, {**SLA_COLUMNS, **DERIVED_COLUMNS})
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
        return empty_frame(keys, form)
    header = list(rows[0])
    positions = _match_labels(header, HISTORY_META)
    positions.update(_match_labels(header, PROVENANCE))
    # the change and provenance columns are matched first, so no form alias can claim them
    positions.update(_match_fields(header, form, positions.values()))
    return _typed_frame(path, HISTORY_SHEET, rows, positions, keys, form, date1904, lang)


def _load_sheet(
    path: Path, sheet: str, policy: Policy, lang: str, *, inspected: bool = False
) -> tuple[list[list[Any]] | None, bool]:
    """The rows of ``sheet`` (None if the workbook has no such sheet) and its 1904 date flag.

    The file must exist and pass the safety gate first (skipped with ``inspected``: the
    caller has just passed the same file through it); then python-calamine reads it.
    """
    name = path.name
    if not path.is_file():
        raise UnreadableError(str(path), "not-found", _t("not-found", lang, path=name))
    # the safety gate first (policy limits, zip bombs, unsafe XML); it raises UnreadableError
    date1904 = False
    if not inspected:
        date1904 = inspect(path, policy.limits, lang).date1904
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
        kind = column_kind(key, fields)
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


def empty_frame(keys: Sequence[str], form: FormSpec) -> pd.DataFrame:
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
        base = redact(as_text(cell).strip()) if cell not in ("", None) else ""
        base = base or _t("unnamed-column", lang, letter=letter)
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
    return as_text(value)


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


def _sla_pairs(
    sla_columns: Sequence[tuple[str, str]] | Mapping[str, tuple[str, str]], lang: str
) -> list[tuple[str, str]]:
    if isinstance(sla_columns, Mapping):
        return [(key, pick(labels, lang)) for key, labels in sla_columns.items()]
    return [(key, label) for key, label in sla_columns]


def pick(labels: tuple[str, str], lang: str) -> str:
    return labels[1] if lang == "en" else labels[0]


_TEXT: dict[str, dict[str, str]] = {
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
    "unnamed-column": {"zh": "列{letter}", "en": "Column {letter}"},
}


def _t(key: str, lang: str, **params: Any) -> str:
    return localise(_TEXT, key, lang, **params)


# -- the merge state (the very-hidden sheet) -------------------------------------------------
#: the very-hidden sheet holding, per record and source, the fingerprints of the version last
#: merged from that source (never the values themselves)
STATE_SHEET = "_xlcheck_state"
#: first cell of the state sheet, and the version of its layout
STATE_MARK = "xlcheck-state"
STATE_VERSION = "1"
#: the document property (keywords) naming the state's checksum: a register whose
#: properties name a state that is not there lost it in another tool
STATE_PROPERTY = "xlcheck-state"
#: letters only (no digits, no @): a fingerprint never looks like a phone, an ID number or an
#: email, so the redacting cell writer passes it unchanged
_B32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"abcdefghijklmnopqrstuvwxyzABCDEF")
#: characters of one field's fingerprint (5 bytes: 40 bits)
PRINT_WIDTH = 8


def _letters(digest: bytes) -> str:
    return base64.b32encode(digest).translate(_B32).decode().rstrip("=")


def canonical(value: Any) -> Any:
    """A value as the merge compares it: blank → None, datetimes to the second without time
    zone, whole floats as ints, numpy scalars as Python ones."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)
    if isinstance(value, datetime):
        return value.replace(microsecond=0, tzinfo=None)
    if hasattr(value, "item"):  # numpy scalars
        return canonical(value.item())
    return value


def field_print(value: Any) -> str:
    """The fingerprint of one field's value (8 letters): equal for values the merge takes as
    equal (:func:`canonical`), different otherwise (40 bits: a chance of 1 in 10¹² to miss a
    change). Not reversible: the state holds no data."""
    v = canonical(value)
    if v is None or v == "":
        text = "\x00"
    elif isinstance(v, datetime):
        text = "d" + v.isoformat(sep=" ")
    else:
        text = "v" + str(v)
    return _letters(hashlib.blake2b(text.encode(), digest_size=5).digest())


def record_print(record: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The fingerprints of ``fields`` of ``record``, concatenated in that order."""
    return "".join(field_print(record.get(k)) for k in fields)


def split_prints(prints: str, fields: Sequence[str]) -> dict[str, str]:
    """``record_print``'s string back as field → fingerprint ({} when it is not one)."""
    if len(prints) != PRINT_WIDTH * len(fields):
        return {}
    return {k: prints[i * PRINT_WIDTH : (i + 1) * PRINT_WIDTH] for i, k in enumerate(fields)}


@dataclass
class MergeState:
    """What the register remembers of past merges.

    ``entries`` maps ``(record ID, source file)`` to the fingerprints (:func:`record_print`
    over ``fields``) of the version last merged from that source; the source ``""`` with no
    fingerprints marks a record that was in 总台账 when it was written (added by hand), so
    that every record the register held can be missed when it is deleted by hand.
    """

    fields: tuple[str, ...]
    entries: dict[tuple[str, str], str]

    def lines(self) -> list[str]:
        """The entries as text, sorted: ``ID<tab>source<tab>fingerprints`` (a tab or line
        break inside a file name becomes a space)."""
        clean = str.maketrans("\t\n\r", "   ")
        return sorted(
            f"{rid.translate(clean)}\t{source.translate(clean)}\t{prints}"
            for (rid, source), prints in self.entries.items()
        )

    def checksum(self, lines: Sequence[str] | None = None) -> str:
        """A checksum over the fields and every entry (``lines``: :meth:`lines`, if at hand):
        the state is trusted only when the checksum written with it still matches."""
        h = hashlib.blake2b(digest_size=15)
        h.update((",".join(self.fields) + "\n").encode())
        h.update("\n".join(self.lines() if lines is None else lines).encode())
        return _letters(h.digest())

    def chunks(self, lines: Sequence[str] | None = None, limit: int = 30_000) -> list[str]:
        """:meth:`lines` packed into texts of at most ``limit`` characters, one line per entry:
        one cell holds ~150 entries, so 100,000 records are ~700 cells, not 300,000 (a cell
        holds at most 32,767 characters)."""
        out: list[str] = []
        batch: list[str] = []
        size = 0
        for line in self.lines() if lines is None else lines:
            if batch and size + len(line) + 1 > limit:
                out.append("\n".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line) + 1
        if batch:
            out.append("\n".join(batch))
        return out


@dataclass
class StateRead:
    """The state found in a register: ``state`` when it can be trusted, else None with
    ``problem`` saying why (None as well for a register written before there was a state)."""

    state: MergeState | None
    problem: str | None = None  # "lost" (the properties name a state that is gone) | "mismatch"


def read_state(
    path: str | Path, policy: Policy, *, lang: str = "zh", inspected: bool = False
) -> StateRead:
    """Read and verify the merge state of the register at ``path``.

    ``inspected``: the file has just passed the safety gate (:func:`read_register`), so it is
    not scanned again (the state holds text only: the date system does not matter).

    The sheet's checksum (its first row) must match its entries, and the checksum the document
    properties name (``keywords``), if any, must be the sheet's: a sheet edited, truncated or
    left over from another register is not trusted (``problem="mismatch"``); properties
    naming a state whose sheet is gone (saved by a tool that dropped very-hidden sheets) give
    ``problem="lost"``; a register without either is one written before the state existed.
    """
    path = Path(path)
    named: str | None = None
    try:
        with zipfile.ZipFile(path) as z:
            core = z.read("docProps/core.xml") if "docProps/core.xml" in z.namelist() else b""
        m = re.search(re.escape(STATE_PROPERTY).encode() + rb"\s+([a-zA-F]+)", core)
        named = m.group(1).decode() if m else None
    except (OSError, zipfile.BadZipFile, KeyError):
        pass
    rows, _ = _load_sheet(path, STATE_SHEET, policy, lang, inspected=inspected)
    if rows is None:
        return StateRead(None, "lost" if named else None)
    head = [as_text(v) if v not in ("", None) else "" for v in (rows[0] if rows else [])]
    head += [""] * (4 - len(head))
    if head[0] != STATE_MARK or head[1] != STATE_VERSION:
        return StateRead(None, "mismatch")
    fields = tuple(k for k in head[3].split(",") if k)
    entries: dict[tuple[str, str], str] = {}
    for row in rows[2:]:
        text = as_text(row[0]) if row and row[0] not in ("", None) else ""
        for line in text.splitlines():
            rid, source, prints = ([*line.split("\t", 2), "", ""])[:3]
            if rid:
                entries[(rid, source)] = prints
    state = MergeState(fields, entries)
    checksum = state.checksum()
    if head[2] != checksum or (named is not None and named != checksum):
        return StateRead(None, "mismatch")
    return StateRead(state)
