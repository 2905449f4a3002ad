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

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

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
    typed: dict[str, pd.Series] = {}
    failures: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    index = frame.index
    rows = index.tolist()
    for key in frame.columns:
        spec = form.field(key)
        values = frame[key].tolist()
        if spec.type == "datetime":
            typed[key] = _coerce_dates(values, rows, spec, date1904, failures, index)
            continue
        if spec.type == "list":
            allowed = policy.allowed(spec.list or spec.key)
            out = map_unique(values, lambda v, a=allowed: normalise_choice(v, a))
            for row, v, o in zip(rows, values, out, strict=True):
                if o is None and v is not None and (text := to_text(v)) is not None:
                    failures[(row, key)] = ("not-in-list", {"value": text, "allowed": "/".join(allowed)})
        elif spec.type == "rating":
            lo, hi = spec.min or 1, spec.max or 5
            parsed = map_unique(values, lambda v, lo=lo, hi=hi: parse_rating(v, lo, hi))
            out = [p[0] if p else None for p in parsed]
            for row, v, p in zip(rows, values, parsed, strict=True):
                if p and p[1]:
                    failures[(row, key)] = (p[1], {"value": to_text(v)})
            typed[key] = pd.Series(out, index=index, dtype="Int64")
            continue
        else:
            out = [(v.strip() or None) if type(v) is str else to_text(v) for v in values]
            if spec.check == "record-id":
                out = map_unique(out, lambda v: nfkc(v).upper())
        typed[key] = pd.Series(out, index=index, dtype=object)
    return Coerced(pd.DataFrame(typed, index=index), failures)


def _coerce_dates(values: list, rows: list, spec: FieldSpec, date1904: bool, failures, index) -> pd.Series:
    # fast path: real Excel dates arrive as datetime objects in range; the rest is parsed once
    # per distinct value (text dates, serial numbers, dates without time, out-of-range years)
    lo, hi = MIN_YEAR, MAX_YEAR
    others = {v for v in values if v is not None and not (type(v) is datetime and lo <= v.year <= hi)}
    parsed = {v: parse_datetime(v, date1904) for v in others}
    out = [v if (type(v) is datetime and lo <= v.year <= hi) else parsed.get(v) for v in values]
    for row, v, o in zip(rows, values, out, strict=True):
        if o is None and v is not None:
            failures[(row, spec.key)] = ("bad-date", {"value": to_text(v)})
    return pd.Series(pd.to_datetime(out), index=index).astype("datetime64[ns]")
