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
_DATE_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*(?P<H>\d{1,2})[:：](?P<M>\d{2}))?$")
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
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
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
            return datetime(int(g["y"]), int(g["m"]), int(g["d"]), int(g["H"] or 0),
                            int(g["M"] or 0), int(sec))
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
            if head.casefold() == a.casefold() and rest and not (rest[0].isascii() and rest[0].isalnum()):
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
def coerce_frame(frame: pd.DataFrame, form: FormSpec, policy: Policy, date1904: bool = False) -> Coerced:
    """Type every column of a raw frame (as read by :func:`workbook.read_form`).

    Text and list columns come back as object columns (str or None), datetimes as
    ``datetime64[ns]`` (NaT when blank or invalid), ratings as ``Int64``.
    """
    return coerce_keeping_distinct(frame, form, policy, date1904)[0]


def coerce_keeping_distinct(
    frame: pd.DataFrame,
    form: FormSpec,
    policy: Policy,
    date1904: bool = False,
    keep: Collection[str] = (),
) -> tuple[Coerced, dict[str, set[str]]]:
    """:func:`coerce_frame`, also returning the distinct non-blank typed values of the text
    columns named in ``keep`` (when they come for free: a column whose cells are all text).

    On a big sheet each pass over a column's 100,000 scattered string objects costs
    milliseconds, so every column is passed over as few times as possible, and a caller that
    checks distinct values (the validator's masking rules) need not pass over them again.
    """
    typed: dict[str, pd.Series] = {}
    failures: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    distinct: dict[str, set[str]] = {}
    index = frame.index
    rows = index.tolist()
    for key in frame.columns:
        spec = form.field(key)
        column = frame[key]
        values = column.tolist()
        if spec.type == "datetime":
            typed[key] = _coerce_dates(values, rows, spec, date1904, failures, index)
            continue
        if spec.type == "list":
            allowed = policy.allowed(spec.list or spec.key)
            out = _choices(column, values, allowed, rows, key, failures)
        elif spec.type == "rating":
            lo, hi = spec.min or 1, spec.max or 5
            mapping = _distinct(values, lambda v, lo=lo, hi=hi: parse_rating(v, lo, hi))
            ratings = {v: p[0] for v, p in mapping.items()}
            codes = {v: p[1] for v, p in mapping.items() if p[1]}
            if codes:  # a rating that is not one: find its cells
                hits = list(map(codes.get, values))
                for i in np.flatnonzero(~_is_none(hits)).tolist():
                    failures[(rows[i], key)] = (hits[i], {"value": to_text(values[i])})
            typed[key] = pd.Series(list(map(ratings.get, values)), index=index, dtype="Int64")
            continue
        else:
            out, seen = _text(values, want_distinct=key in keep)
            if seen is not None:
                distinct[key] = seen
            if spec.check == "record-id":
                out = _record_ids(out)
        typed[key] = pd.Series(out, index=index, dtype=object)
    return Coerced(pd.DataFrame(typed, index=index), failures), distinct


def _distinct(values: list, func: Callable[[Any], Any]) -> dict:
    """``{value: func(value)}`` once per distinct non-None value, the mapping :func:`map_unique` uses."""
    return {v: func(v) for v in set(values) if v is not None}


def _objects(values: list) -> np.ndarray:
    """A list as a 1-D object array (never 2-D, whatever the values are)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _is_none(values: list) -> np.ndarray:
    """Which items of ``values`` are None (by identity: no value's ``==`` is called)."""
    return np.fromiter(map(operator.is_, values, repeat(None)), dtype=bool, count=len(values))


def _choices(column: pd.Series, values: list, allowed: list[str], rows: list, key: str, failures: dict) -> list | np.ndarray:
    """A list column: :func:`normalise_choice` once per distinct value; ``not-in-list`` failures.

    Distinct values come from one :func:`pandas.factorize` pass, whose grouping of equal
    values (``1``, ``1.0`` and ``True`` together, first one seen standing for all) is the same as
    the ``set`` in :func:`map_unique`. Blank cells must be None or NaN (as read from a workbook);
    any other kind of missing value takes the plain way.
    """
    def plain() -> list:
        mapping = _distinct(values, lambda v: normalise_choice(v, allowed))
        out = list(map(mapping.get, values))
        if None in mapping.values():  # a value outside the list: find its cells
            _not_in_list(np.flatnonzero(_is_none(out) & ~_is_none(values)), values, allowed, rows, key, failures)
        return out

    if column.dtype != object:
        return plain()
    codes, uniques = pd.factorize(column.to_numpy())
    blanks = np.flatnonzero(codes == -1)
    if len(blanks) and not all(v is None or (type(v) is float and v != v) for v in column.to_numpy()[blanks].tolist()):
        return plain()
    matched = [normalise_choice(v, allowed) for v in uniques.tolist()]
    out = _objects([*matched, None])[codes]
    unmatched = [i for i, m in enumerate(matched) if m is None]
    if unmatched:  # a value outside the list: find its cells
        _not_in_list(np.flatnonzero(np.isin(codes, unmatched)), values, allowed, rows, key, failures)
    return out


def _not_in_list(positions: np.ndarray, values: list, allowed: list[str], rows: list, key: str, failures: dict) -> None:
    for i in positions.tolist():
        if (text := to_text(values[i])) is not None:
            failures[(rows[i], key)] = ("not-in-list", {"value": text, "allowed": "/".join(allowed)})


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
    objects = _objects(values)
    present = ~_is_none(values)
    strings = objects[present].tolist()
    try:
        stripped = list(map(str.strip, strings))  # TypeError: a cell that is not text
    except TypeError:
        return [(v.strip() or None) if type(v) is str else to_text(v) for v in values], None
    if stripped == strings:  # nothing to trim (the same objects, compared by identity first)
        return values, None
    objects[present] = _objects([v or None for v in stripped])
    return objects.tolist(), None


#: cells sampled to tell a column of repeated values from one of mostly distinct values
_SAMPLE = 1000


def _record_ids(values: list) -> list:
    """``map_unique(values, lambda v: nfkc(v).upper())`` for text values (str or None).

    ASCII IDs are left unchanged by NFKC and are trimmed already, so they are upper-cased in
    one C-level pass; any other ID goes through :func:`nfkc` as usual.
    """
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


def _coerce_dates(values: list, rows: list, spec: FieldSpec, date1904: bool, failures, index) -> pd.Series:
    """One date column: real Excel dates (``datetime`` cells in range) are converted in one
    vectorised call; the rest (text dates, serial numbers, dates without time, out-of-range years)
    is parsed once per distinct value. Failures are added to ``failures`` in row order."""
    try:
        series, found = _dates_vectorised(values, rows, spec, date1904, index)
    except Exception:  # noqa: BLE001 - anything unusual (time zones…) takes the cell-by-cell way
        return _dates_by_cell(values, rows, spec, date1904, failures, index)
    failures.update(found)
    return series


_LOWEST = pd.Timestamp(MIN_YEAR, 1, 1)
_BEYOND = pd.Timestamp(MAX_YEAR + 1, 1, 1)


def _dates_vectorised(values: list, rows: list, spec: FieldSpec, date1904: bool, index) -> tuple[pd.Series, dict]:
    objects = _objects(values)
    is_dt = np.fromiter(map(type, values), dtype=object, count=len(values)) == datetime
    result = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    plain = np.flatnonzero(is_dt)
    if len(plain):
        converted = pd.to_datetime(objects[plain])
        if converted.tz is not None:
            raise ValueError("time zones")
        in_range = np.asarray((converted >= _LOWEST) & (converted < _BEYOND))
        result[plain[in_range]] = converted[in_range].as_unit("ns").to_numpy()
        is_dt[plain[~in_range]] = False  # out-of-range years are parsed (and refused) below
    found: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    other = np.flatnonzero(~is_dt & ~_is_none(values))
    if len(other):
        other_values = objects[other].tolist()
        parsed = {v: parse_datetime(v, date1904) for v in set(other_values)}
        out = [parsed.get(v) for v in other_values]
        for i, v, o in zip(other.tolist(), other_values, out, strict=True):
            if o is None:
                found[(rows[i], spec.key)] = ("bad-date", {"value": to_text(v)})
        dates = pd.to_datetime(out)
        if dates.tz is not None:
            raise ValueError("time zones")
        result[other] = dates.as_unit("ns").to_numpy()
    return pd.Series(result, index=index), found


def _dates_by_cell(values: list, rows: list, spec: FieldSpec, date1904: bool, failures, index) -> pd.Series:
    lo, hi = MIN_YEAR, MAX_YEAR
    others = {v for v in values if v is not None and not (type(v) is datetime and lo <= v.year <= hi)}
    parsed = {v: parse_datetime(v, date1904) for v in others}
    out = [v if (type(v) is datetime and lo <= v.year <= hi) else parsed.get(v) for v in values]
    for row, v, o in zip(rows, values, out, strict=True):
        if o is None and v is not None:
            failures[(row, spec.key)] = ("bad-date", {"value": to_text(v)})
    return pd.Series(pd.to_datetime(out), index=index).astype("datetime64[ns]")
