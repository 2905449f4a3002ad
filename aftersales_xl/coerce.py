"""Turn what staff type into typed values, on purpose and visibly.

Named quirks handled here:

* dates as real Excel dates, as serial numbers (1900 *or* 1904 date system), or as text:
  ``2024-05-21 14:30``, ``2024/5/21 14:30``, ``2024年5月21日 14:30``, ``2024-05-2114:30``,
  ``2024.5.21``, ``20240521``, with full-width digits; impossible dates are failures, not NaT;
* phones and IDs stored as numbers: ``13800138000.0`` → ``"13800138000"`` (never ``…0.0``);
* full-width letters, digits and spaces in list values, ``p1`` / ``P1重要`` / ``P1-重要`` → ``P1``;
* ratings ``5``, ``5分``, ``5分(满意)`` → 5;
* text is never guessed at: ``"NA"`` stays ``"NA"``, ``"0123"`` keeps its zero.

Work is done per *unique* value, so a 100,000-row column costs a handful of pandas calls.
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from .config import Policy
from .forms import FieldSpec, FormSpec

EXCEL_1900 = datetime(1899, 12, 30)
EXCEL_1904 = datetime(1904, 1, 1)
MIN_YEAR, MAX_YEAR = 1990, 2100

_DATE_TEXT = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*(?P<H>\d{1,2})\s*[:：时点]\s*(?P<M>\d{1,2})?\s*分?"
    r"(?:\s*[:：]\s*(?P<S>\d{1,2}(?:\.\d+)?)\s*秒?)?)?$"
)
_DATE_COMPACT = re.compile(
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*(?P<H>\d{1,2})[:：](?P<M>\d{2}))?$"
)
_SERIAL_TEXT = re.compile(r"^\d{4,6}(?:\.\d+)?$")
_RATING_TEXT = re.compile(r"^(\d+(?:\.\d+)?)\s*分?(?:\s*[\(（].*[\)）])?\s*$")


@dataclass
class Coerced:
    """Typed values plus the cells that could not be typed.

    ``failures`` maps ``(row, key)`` → ``(code, params)`` for :func:`make_finding`.
    """

    typed: pd.DataFrame
    failures: dict[tuple[int, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (scalars only)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def as_text(value: Any) -> str:
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


# -- text -------------------------------------------------------------------------------------
def to_text(value: Any) -> str | None:
    """A cell value as text: numbers without ``.0``, dates as ``YYYY-MM-DD HH:MM``, blanks → None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return (
            value.strftime("%Y-%m-%d %H:%M")
            if (value.hour or value.minute)
            else value.strftime("%Y-%m-%d")
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip() or None


def map_unique(values: list, func) -> list:
    """``[func(v) for v in values]`` computed once per distinct value; None stays None.

    Cell values are hashable (str, float, int, bool, datetime, date, time).
    """
    mapping = {v: func(v) for v in set(values) if v is not None}
    return [mapping.get(v) for v in values]


# -- dates ------------------------------------------------------------------------------------
def parse_datetime(value: Any, date1904: bool = False) -> datetime | None:
    """Parse one cell into a datetime, or None if it is not a valid date and time.

    Accepts datetime/date objects, Excel serial numbers (in the workbook's date system) and the
    text forms staff type (see module docstring). Years outside 1990–2100 are refused.
    """
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool | time):
        return None
    elif isinstance(value, int | float):
        result = _serial(float(value), date1904)
    elif isinstance(value, str):
        result = _parse_text(nfkc(value), date1904)
    else:
        return None
    if result is None or not (MIN_YEAR <= result.year <= MAX_YEAR):
        return None
    return result.replace(tzinfo=None)


def _serial(serial: float, date1904: bool) -> datetime | None:
    if not (0 < serial < 2958466):
        return None
    base = EXCEL_1904 if date1904 else EXCEL_1900
    # round to the second: serials carry float noise (45433.99999999 for 2024-05-21 24:00)
    return base + timedelta(seconds=round(serial * 86400))


def _parse_text(text: str, date1904: bool) -> datetime | None:
    m = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
    if m:
        g = m.groupdict()
        try:
            sec = float(g.get("S") or 0)
            return datetime(
                int(g["y"]), int(g["m"]), int(g["d"]), int(g["H"] or 0), int(g["M"] or 0), int(sec)
            )
        except ValueError:
            return None
    if _SERIAL_TEXT.match(text):
        return _serial(float(text), date1904)
    return None


# -- lists and ratings ------------------------------------------------------------------------
def normalise_choice(value: Any, allowed: list[str]) -> str | None:
    """Match a list value tolerantly; return the allowed spelling or None.

    Exact after NFKC and trimming; case-insensitive; an allowed ASCII code followed by a
    label (``P1重要``, ``P1-重要``, ``p1 (重要)``) → the code.
    """
    text = to_text(value)
    if text is None:
        return None
    text = nfkc(text)
    folded = {a.casefold(): a for a in allowed}
    if text.casefold() in folded:
        return folded[text.casefold()]
    for a in allowed:
        if a.isascii() and a.isalnum():
            head = text[: len(a)]
            rest = text[len(a) :]
            if (
                head.casefold() == a.casefold()
                and rest
                and not (rest[0].isascii() and rest[0].isalnum())
            ):
                return a
    return None


def parse_rating(value: Any, lo: int, hi: int) -> tuple[int | None, str | None]:
    """``(rating, None)`` or ``(None, code)`` with code ``bad-format`` / ``out-of-range``."""
    if isinstance(value, bool):
        return None, "bad-format"
    if isinstance(value, int | float):
        number = float(value)
    else:
        m = _RATING_TEXT.match(nfkc(str(value)))
        if not m:
            return None, "bad-format"
        number = float(m.group(1))
    if not number.is_integer():
        return None, "bad-format"
    if not lo <= number <= hi:
        return None, "out-of-range"
    return int(number), None


# -- the frame --------------------------------------------------------------------------------
#
# On a big sheet the cost is in touching the cell objects: 100,000 strings of one column lie
# scattered in memory, and every pass over them (hashing, stripping) costs milliseconds. So
# each cell is looked at as few times as possible: the text and list columns are factorised
# together, row by row (the order the reader created the cells in), and everything else is
# done once per distinct value; the date columns are converted together in one vectorised
# call. Where a column holds anything unusual, it takes the plain cell-by-cell way, which
# defines the results.


def coerce_frame(
    frame: pd.DataFrame, form: FormSpec, policy: Policy, date1904: bool = False
) -> Coerced:
    """Type every column of a raw frame (as read by :func:`workbook.read_form`).

    Text and list columns come back as object columns (str or None), datetimes as
    ``datetime64[ns]`` (NaT when blank or invalid), ratings as ``Int64``.
    """
    return coerce_with_facts(frame, form, policy, date1904)[0]


@dataclass(frozen=True)
class CellCodes:
    """Cells of some columns of a raw frame, factorised by the reader while it created them.

    ``codes[i, j]`` is the position in ``values`` of the value in row ``i`` of column
    ``keys[j]``, or -1 for a blank cell; equal values (as in a ``set``) share a code. They
    describe the frame whose index is ``index`` (that very object: a frame filtered or rebuilt
    since has a new index, and its codes are worked out afresh).
    """

    keys: tuple[str, ...]
    codes: np.ndarray
    values: list
    index: pd.Index

    def fits(self, frame: pd.DataFrame) -> bool:
        """Whether these codes describe ``frame``."""
        return frame.index is self.index and len(self.codes) == len(frame)


@dataclass
class ColumnFacts:
    """What typing the columns learnt on the way, so that the validator need not pass over
    100,000 cells again: ``present`` maps a column to its filled cells (a boolean array, True
    where the typed value is not blank), ``distinct`` a text column to its distinct non-blank
    typed values. A column is missing from either when that did not come for free."""

    present: dict[str, np.ndarray] = field(default_factory=dict)
    distinct: dict[str, set[str]] = field(default_factory=dict)

    def subset(self, keep: np.ndarray) -> ColumnFacts:
        """The facts for the rows selected by the boolean array ``keep``."""
        return ColumnFacts({k: v[keep] for k, v in self.present.items()}, self.distinct)


def coerce_with_facts(
    frame: pd.DataFrame,
    form: FormSpec,
    policy: Policy,
    date1904: bool = False,
    keep: Collection[str] = (),
    cell_codes: CellCodes | None = None,
) -> tuple[Coerced, ColumnFacts]:
    """:func:`coerce_frame`, also returning :class:`ColumnFacts`: the filled cells of columns,
    and the distinct values of the text columns named in ``keep`` (for a validator that judges
    each distinct value once). ``cell_codes`` (the reader's, :class:`CellCodes`) spares
    factorising those columns again when they still describe ``frame``."""
    index = frame.index
    rows = index.tolist()
    specs = {key: form.field(key) for key in frame.columns}
    done: dict[str, _Column] = {}
    if frame.columns.is_unique:
        done.update(_text_and_list_columns(frame, specs, policy, rows, keep, cell_codes))
        done.update(_date_columns(frame, specs, rows, date1904))
    typed: dict[str, pd.Series] = {}
    failures: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    facts = ColumnFacts()
    for key in frame.columns:
        spec = specs[key]
        column = done.get(key) or _one_column(frame[key], spec, policy, rows, date1904, key in keep)
        failures.update(column.failures)
        if column.distinct is not None:
            facts.distinct[key] = column.distinct
        if column.present is not None:
            facts.present[key] = column.present
        dtype = {"datetime": None, "rating": "Int64"}.get(spec.type, object)
        typed[key] = pd.Series(column.values, index=index, dtype=dtype)
    return Coerced(pd.DataFrame(typed, index=index), failures), facts


@dataclass
class _Column:
    """One typed column: its values, its failures in row order, and if known its filled cells
    and distinct values."""

    values: Any  # list or array
    failures: list[tuple[tuple[int, str], tuple[str, dict[str, Any]]]] = field(default_factory=list)
    distinct: set[str] | None = None
    present: np.ndarray | None = None


def _one_column(
    column: pd.Series,
    spec: FieldSpec,
    policy: Policy,
    rows: list,
    date1904: bool,
    want_distinct: bool,
) -> _Column:
    """Type one column on its own (the definition of every result)."""
    key = spec.key
    values = column.tolist()
    found: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    if spec.type == "datetime":
        dates = _coerce_dates(values, rows, spec, date1904, found, None).to_numpy()
        return _Column(dates, list(found.items()), present=~np.isnat(dates))
    if spec.type == "list":
        allowed = policy.allowed(spec.list or spec.key)
        mapping = _distinct(values, lambda v: normalise_choice(v, allowed))
        out = list(map(mapping.get, values))
        if None in mapping.values():  # a value outside the list: find its cells
            for i in np.flatnonzero(_is_none(out) & ~_is_none(values)).tolist():
                if (text := to_text(values[i])) is not None:
                    found[(rows[i], key)] = (
                        "not-in-list",
                        {"value": text, "allowed": "/".join(allowed)},
                    )
        return _Column(out, list(found.items()), present=~_is_none(out))
    if spec.type == "rating":
        lo, hi = spec.min or 1, spec.max or 5
        mapping = _distinct(values, lambda v: parse_rating(v, lo, hi))
        codes = {v: p[1] for v, p in mapping.items() if p[1]}
        if codes:  # a rating that is not one: find its cells
            hits = list(map(codes.get, values))
            for i in np.flatnonzero(~_is_none(hits)).tolist():
                if (text := to_text(values[i])) is not None:  # spaces only: blank, not "None"
                    found[(rows[i], key)] = (hits[i], {"value": text})
        ratings = {v: p[0] for v, p in mapping.items()}
        # whole numbers 1-5 or None: as floats (None → NaN) they make the same Int64 column
        # as the list would, in one C-level conversion
        return _Column(
            pd.array(np.array(list(map(ratings.get, values)), dtype=float), dtype="Int64"),
            list(found.items()),
        )
    if spec.check == "record-id" and (plain := _plain_text(values)) is not None:
        return _Column(_record_ids(values, plain), present=~plain.nones)  # blanks stay blanks
    out, seen = _text(values, want_distinct)
    if spec.check == "record-id":
        out, seen = _record_ids(out), None
    return _Column(out, distinct=seen, present=~_is_none(out))


def _distinct(values: list, func: Callable[[Any], Any]) -> dict:
    """``{value: func(value)}`` once per distinct non-None value, the mapping :func:`map_unique` uses."""
    return {v: func(v) for v in set(values) if v is not None}


def _objects(values: list) -> np.ndarray:
    """A list as a 1-D object array (never 2-D, whatever the values are)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _is_none(values: list) -> np.ndarray:
    """Which items of ``values`` are None (by identity: no value's ``==`` is called)."""
    return np.fromiter(map(operator.is_, values, repeat(None)), dtype=bool, count=len(values))


def _block(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """The object values of ``keys`` as one C-ordered array, row by row (one pass, in the order
    the reader created the cells)."""
    if all(_is_object(frame.dtypes.iloc[i]) for i in range(frame.shape[1])):
        values = frame.to_numpy()  # the reader's frame: a view, no copy
        return values[:, [frame.columns.get_loc(k) for k in keys]]
    return np.column_stack([frame[k].to_numpy() for k in keys])


def _filled(mapped: np.ndarray) -> np.ndarray:
    """Which entries of an object array are not None (for a handful of distinct values)."""
    return np.fromiter((v is not None for v in mapped.tolist()), dtype=bool, count=len(mapped))


def _is_object(dtype: Any) -> bool:
    return dtype == np.dtype("O")


def _blanks_are_none(values: list) -> bool:
    """True if every value is None or a float NaN (what a blank cell can be in a frame): both
    are typed as None, without a ``not-in-list`` failure."""
    nones = _is_none(values)
    return bool(nones.all()) or all(
        type(v) is float and v != v for v in _objects(values)[~nones].tolist()
    )


def _text_and_list_columns(
    frame: pd.DataFrame,
    specs: dict[str, FieldSpec],
    policy: Policy,
    rows: list,
    keep: Collection[str],
    cell_codes: CellCodes | None = None,
) -> dict[str, _Column]:
    """The text columns (not the record ID, whose values are all distinct) and the list columns,
    from one :func:`pandas.factorize` of their cells (or the reader's, ``cell_codes``).

    Each column's results come from its distinct values: the same as cell by cell, provided the
    column holds only text (``1``, ``1.0`` and ``True`` would be factorised together) and its
    blanks are None or NaN; any other column is left to :func:`_one_column`.
    """
    keys = [
        k
        for k, spec in specs.items()
        if _is_object(frame[k].dtype)
        and (spec.type == "list" or (spec.type == "text" and spec.check != "record-id"))
    ]
    if not keys:
        return {}
    if cell_codes is not None and cell_codes.fits(frame) and set(keys) <= set(cell_codes.keys):
        where = {k: j for j, k in enumerate(cell_codes.keys)}
        codes = (
            cell_codes.codes
            if tuple(keys) == cell_codes.keys
            else cell_codes.codes[:, [where[k] for k in keys]]
        )
        uniques = cell_codes.values
        cells = [frame[k].to_numpy() for k in keys]
    else:
        block = _block(frame, keys)
        try:
            flat_codes, found = pd.factorize(block.ravel())
        except TypeError:  # an unhashable value: cell by cell
            return {}
        codes = flat_codes.reshape(block.shape)
        uniques = found.tolist()
        cells = [block[:, j] for j in range(len(keys))]
    is_text = np.fromiter((type(u) is str for u in uniques), dtype=bool, count=len(uniques))
    done: dict[str, _Column] = {}
    for j, key in enumerate(keys):
        spec, col = specs[key], codes[:, j]
        blank = col < 0
        nan_blanks = False  # blanks given as NaN rather than None: typed as None all the same
        if blank.any():
            blanks = cells[j][blank].tolist()
            if blanks.count(None) != len(blanks):
                if not _blanks_are_none(blanks):
                    continue
                nan_blanks = True
        present = np.flatnonzero(np.bincount(col[~blank], minlength=len(uniques)))
        if not is_text[present].all():
            continue
        mapped = np.full(len(uniques) + 1, None, dtype=object)  # code -1 (blank) → None
        if spec.type == "list":
            allowed = policy.allowed(spec.list or spec.key)
            for code in present.tolist():
                mapped[code] = normalise_choice(uniques[code], allowed)
            out = mapped[col]
            failures = []
            unmatched = [code for code in present.tolist() if mapped[code] is None]
            if unmatched:  # a value outside the list: find its cells
                for i in np.flatnonzero(np.isin(col, unmatched)).tolist():
                    if (text := to_text(cells[j][i])) is not None:
                        failures.append(
                            (
                                (rows[i], key),
                                ("not-in-list", {"value": text, "allowed": "/".join(allowed)}),
                            )
                        )
            done[key] = _Column(out, failures, present=_filled(mapped)[col])
        else:
            changed = False
            for code in present.tolist():
                u = uniques[code]
                if not u or u.strip() != u:
                    changed = True
                    mapped[code] = u.strip() or None
                else:
                    mapped[code] = u
            out = mapped[col] if changed or nan_blanks else cells[j]
            seen = None
            if key in keep:
                seen = set(mapped[present].tolist())
                seen.discard(None)
            done[key] = _Column(out, distinct=seen, present=_filled(mapped)[col])
    return done


def _text(values: list, want_distinct: bool = False) -> tuple[list, set[str] | None]:
    """``[(v.strip() or None) if type(v) is str else to_text(v) for v in values]``, and (when
    asked for, or found anyway) the distinct non-None results.

    A column of text and blanks is judged once per distinct value when its values repeat (or
    their distinct values are wanted), otherwise in one C-level ``str.strip`` pass; a column
    holding numbers or dates goes cell by cell.
    """
    if want_distinct or len(set(values[:_SAMPLE])) * 2 <= min(len(values), _SAMPLE):
        distinct = set(values)
        if all(v is None or type(v) is str for v in distinct):
            distinct.discard(None)
            changed = {v: v.strip() or None for v in distinct if not v or v.strip() != v}
            if not changed:
                return values, distinct
            results = {changed.get(v, v) for v in distinct}
            results.discard(None)
            return list(map(changed.get, values, values)), results
    if _plain_text(values) is not None:
        return values, None
    objects = _objects(values)
    present = ~_is_none(values)
    strings = objects[present].tolist()
    try:
        stripped = list(map(str.strip, strings))  # TypeError: a cell that is not text
    except TypeError:
        return [(v.strip() or None) if type(v) is str else to_text(v) for v in values], None
    if stripped == strings and "" not in stripped:  # nothing to trim or blank out
        return values, None
    objects[present] = _objects([v or None for v in stripped])
    return objects.tolist(), None


#: cells sampled to tell a column of repeated values from one of mostly distinct values
_SAMPLE = 1000
_SPACE = re.compile(r"\s")  # what str.strip() removes (both use Python's isspace)


@dataclass(frozen=True)
class _PlainText:
    """A column whose values trimming leaves as they are: its filled values joined by NUL, and
    which of its values are None."""

    joined: str
    nones: np.ndarray


def _plain_text(values: list) -> _PlainText | None:
    """A :class:`_PlainText` when every value is None or a non-empty str without whitespace or
    NUL (so trimming leaves every cell as it is); otherwise None. A few C-level passes."""
    try:
        present = list(filter(None, values))  # drops None, and "" or a zero (caught just below)
        nones = _is_none(values)
        if len(present) + int(nones.sum()) != len(values):
            return None
        joined = "\x00".join(present)
    except (TypeError, ValueError):  # a cell that is not text
        return None
    if joined.count("\x00") != max(len(present) - 1, 0) or _SPACE.search(joined):
        return None
    return _PlainText(joined, nones)


def _record_ids(values: list, plain: _PlainText | None = None) -> list:
    """``map_unique(values, lambda v: nfkc(v).upper())`` for text values (str or None).

    ASCII IDs are left unchanged by NFKC and are trimmed already, so they are upper-cased in
    one C-level pass (none at all when they are upper case already); any other ID goes
    through :func:`nfkc` as usual. ``plain``: :func:`_plain_text` of ``values``, if known.
    """
    plain = plain or _plain_text(values)
    joined = plain.joined if plain is not None else None
    if joined is not None and joined.isascii() and joined.upper() == joined:
        return values
    ids = _objects(values)
    present = ~_is_none(values)
    strings = ids[present].tolist()
    try:
        ascii_only = "".join(strings).isascii()
    except TypeError:
        ascii_only = False
    if not ascii_only:
        return map_unique(values, lambda v: nfkc(v).upper())
    ids[present] = _objects(list(map(str.upper, strings)))
    return ids.tolist()


# -- dates ------------------------------------------------------------------------------------
#: what a workbook reader gives: equal values of these types (``1``, ``1.0``, ``True``) parse alike
_CELL_TYPES = frozenset({str, int, float, bool, datetime, date, time, timedelta})
_NONE_TYPE = type(None)
_LOWEST = pd.Timestamp(MIN_YEAR, 1, 1)
_BEYOND = pd.Timestamp(MAX_YEAR + 1, 1, 1)


def _date_columns(
    frame: pd.DataFrame, specs: dict[str, FieldSpec], rows: list, date1904: bool
) -> dict[str, _Column]:
    """All date columns at once (see :func:`_dates`); {} if anything is unusual (time zones),
    leaving each column to :func:`_one_column`."""
    keys = [
        k for k, spec in specs.items() if spec.type == "datetime" and _is_object(frame[k].dtype)
    ]
    if not keys:
        return {}
    block = _block(frame, keys)
    try:
        result, found = _dates(block.ravel(), date1904)
    except Exception:  # noqa: BLE001 - the cell-by-cell way defines the results
        return {}
    result = result.reshape(block.shape)
    failures: dict[str, list] = {k: [] for k in keys}  # each in row order, as found
    width = len(keys)
    for i, (code, params) in found:
        key = keys[i % width]
        failures[key].append(((rows[i // width], key), (code, params)))
    done = {}
    for j, key in enumerate(keys):
        values = np.ascontiguousarray(result[:, j])
        done[key] = _Column(values, failures[key], present=~np.isnat(values))
    return done


def _dates(
    objects: np.ndarray, date1904: bool
) -> tuple[np.ndarray, list[tuple[int, tuple[str, dict[str, Any]]]]]:
    """``datetime64[ns]`` values and ``(position, ("bad-date", params))`` failures.

    Real Excel dates (``datetime`` cells in range) are converted in one vectorised call; the rest
    (text dates, serial numbers, dates without time, out-of-range years) is parsed once per
    distinct value. Raises on anything the cell-by-cell way would treat differently (time zones).
    """
    types = np.fromiter(map(type, objects), dtype=object, count=len(objects))
    is_dt = types == datetime
    result = np.full(len(objects), np.datetime64("NaT"), dtype="datetime64[ns]")
    plain = np.flatnonzero(is_dt)
    if len(plain):
        converted = pd.to_datetime(objects[plain])
        if converted.tz is not None:
            raise ValueError("time zones")
        in_range = np.asarray((converted >= _LOWEST) & (converted < _BEYOND))
        result[plain[in_range]] = converted[in_range].as_unit("ns").to_numpy()
        is_dt[plain[~in_range]] = False  # out-of-range years are parsed (and refused) below
    found: list[tuple[int, tuple[str, dict[str, Any]]]] = []
    other = np.flatnonzero(~is_dt & (types != _NONE_TYPE))
    if len(other):
        other_values = objects[other].tolist()
        if not set(map(type, other_values)) <= _CELL_TYPES:
            raise TypeError(
                "a value no workbook cell holds"
            )  # equal values of other types may parse apart
        parsed = {v: parse_datetime(v, date1904) for v in set(other_values)}
        out = [parsed.get(v) for v in other_values]
        for i, v, o in zip(other.tolist(), other_values, out, strict=True):
            # a cell of spaces (or a NaN) shows nothing: blank, as the required check says,
            # never a bad date quoting "None"
            if o is None and (typed := to_text(v)) is not None:
                found.append((i, ("bad-date", {"value": typed})))
        dates = pd.to_datetime(out)
        if dates.tz is not None:
            raise ValueError("time zones")
        result[other] = dates.as_unit("ns").to_numpy()
    return result, found


def _coerce_dates(
    values: list, rows: list, spec: FieldSpec, date1904: bool, failures, index
) -> pd.Series:
    """One date column, into ``failures`` in row order: vectorised (:func:`_dates`) unless the
    column holds something unusual, then cell by cell."""
    try:
        result, found = _dates(_objects(values), date1904)
    except Exception:  # noqa: BLE001 - the cell-by-cell way defines the results
        return _dates_by_cell(values, rows, spec, date1904, failures, index)
    for i, failure in found:
        failures[(rows[i], spec.key)] = failure
    return pd.Series(result, index=index)


def _dates_by_cell(
    values: list, rows: list, spec: FieldSpec, date1904: bool, failures, index
) -> pd.Series:
    lo, hi = MIN_YEAR, MAX_YEAR
    others = {
        v for v in values if v is not None and not (type(v) is datetime and lo <= v.year <= hi)
    }
    parsed = {v: parse_datetime(v, date1904) for v in others}
    out = [v if (type(v) is datetime and lo <= v.year <= hi) else parsed.get(v) for v in values]
    for row, v, o in zip(rows, values, out, strict=True):
        if o is None and (typed := to_text(v)) is not None:
            failures[(row, spec.key)] = ("bad-date", {"value": typed})
    return pd.Series(pd.to_datetime(out), index=index).astype("datetime64[ns]")
