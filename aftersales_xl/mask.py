"""Masking of contact data: 联系人, 联系方式 and personal data inside free text.

The rules (style from ``policy.mask``: ``char``, ``name_keep``, ``phone_keep_last``,
``email_keep``):

- **name** (fields with ``check = "masked-name"``): the first ``name_keep`` characters
  stay, every other non-space character becomes ``char``: ``张三丰`` → ``张**``,
  ``John Smith`` → ``J*** *****``; a trailing honorific stays (``张三先生`` → ``张*先生``).
- **contact** (``check = "masked-contact"``): every phone number and every other run of
  five or more digits keeps its last ``phone_keep_last`` digits (``****5678``); every
  email keeps the first ``email_keep`` characters of its local part and the domain
  (``z***@example.com``); a cell holding several contacts has each masked. Phones stored
  as numbers (``13800138000``, ``13800138000.0``) are handled.
- **free text** (``check = "pii-text"``): mainland mobiles, landlines, emails and
  checksum-valid 18-digit ID-card numbers found by :func:`aftersales_xl.pii.find_pii` are
  masked in place; order numbers and other digits are left alone.

Masking is idempotent: what these rules produce is exactly what the validator accepts as
masked (:func:`~aftersales_xl.pii.name_unmasked`, :func:`~aftersales_xl.pii.contact_unmasked`,
:func:`~aftersales_xl.pii.find_pii`), and masked values are returned unchanged.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Policy
from .errors import UnreadableError, XlcheckError
from .findings import Finding
from .forms import FormSpec
from .pii import (
    DIGIT_RUN,
    HONORIFICS,
    contact_unmasked,
    find_pii,
    half_width,
    loose_emails,
    mask_match,
    name_unmasked,
)
from .xlsxpatch import check_patchable, write_patched

NAME = "masked-name"
CONTACT = "masked-contact"
TEXT = "pii-text"
KINDS = (NAME, CONTACT, TEXT)

# a run of digits as staff write phone numbers: +86, (010), spaces and dashes inside
_LOCAL_TAIL = re.compile(r"[A-Za-z0-9._%+\-]+$")  # the ASCII part of a local part
_MAX_ROUNDS = 8


def cell_text(value: Any) -> str | None:
    """The text a cell shows for masking purposes, or None when it holds nothing to mask.

    Text is returned as is; whole numbers (phones stored as numbers: ``13800138000.0``)
    without the ``.0``; dates, times, booleans and blanks give None.
    """
    if value is None or isinstance(value, bool | datetime | date | time | pd.Timestamp):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def mask_value(kind: str, value: Any, policy: Policy) -> str:
    """The masked text of one cell ``value`` for a field whose check is ``kind``.

    ``kind`` is ``"masked-name"``, ``"masked-contact"`` or ``"pii-text"`` (the form spec's
    ``check``). Numbers are masked as their digits; blanks and dates give ``""``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {', '.join(KINDS)}")
    text = cell_text(value)
    if text is None:
        return value if isinstance(value, str) else ""
    return _mask_text(kind, text, _Style.of(policy))


def mask_frame(
    frame: pd.DataFrame, form: FormSpec, policy: Policy
) -> tuple[pd.DataFrame, dict[tuple[int, str], str], Counter[str]]:
    """Mask every contact, name and free-text field of ``frame``.

    ``frame`` is indexed by Excel row number with field keys as columns and raw cell values.
    Returns the masked copy, the changes ``{(row, key): new_text}`` (only cells whose text
    changed) and the number of changed cells per field key. Raw values are never returned.
    """
    style = _Style.of(policy)
    out = frame.copy()
    changes: dict[tuple[int, str], str] = {}
    counts: Counter[str] = Counter()
    for kind in KINDS:
        for spec in form.pii_scanned() if kind == TEXT else form.by_check(kind):
            if spec.key not in out.columns:
                continue
            column = out[spec.key].astype(object)
            done: dict[str, str] = {}  # the same value is masked once per column
            for row, value in column.items():
                text = cell_text(value)
                if text is None:
                    continue
                if text not in done:
                    done[text] = _mask_text(kind, text, style)
                if done[text] != text:
                    changes[(int(row), spec.key)] = done[text]
                    column.at[row] = done[text]
                    counts[spec.key] += 1
            out[spec.key] = column
    return out, changes, counts


# -- whole workbooks ----------------------------------------------------------------------
@dataclass
class MaskOutcome:
    """What happened to one workbook. ``error`` (one line) means it was not written."""

    source: Path
    output: Path | None = None
    backup: Path | None = None
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[Finding] = field(default_factory=list)  # e.g. columns not recognised, not masked
    error: str | None = None
    unreadable: bool = False

    @property
    def masked(self) -> int:
        return sum(self.counts.values())


def mask_workbooks(
    paths: Iterable[Path],
    form: FormSpec,
    policy: Policy,
    *,
    out_dir: Path | None = None,
    in_place: bool = False,
    now: datetime | None = None,
    lang: str = "zh",
) -> list[MaskOutcome]:
    """Mask each workbook into ``out_dir`` (or in place, after a backup).

    Only the masked cells change (:func:`aftersales_xl.xlsxpatch.write_patched`); every
    other part of the workbook is kept. A file that cannot be read or written gets an
    ``error`` line and the others continue. In place, a file with nothing to mask is left
    alone (no backup, no write).
    """
    from .workbook import read_form

    outcomes = []
    for path in paths:
        outcome = MaskOutcome(Path(path))
        outcomes.append(outcome)
        try:
            sheet, findings = read_form(path, form, policy, lang)
            outcome.notes = [f for f in findings if f.code == "unknown-column"]
            if sheet.part is None or sheet.kind not in ("xlsx", "xlsm"):
                check_patchable(Path(path), lang, kind=sheet.kind)
            _, changes, outcome.counts = mask_frame(sheet.frame, form, policy)
            if in_place and not changes:
                outcome.output = Path(path)
                continue
            cells = {sheet.cell(key, row): text for (row, key), text in changes.items()}
            outcome.output, outcome.backup = write_patched(
                Path(path),
                str(sheet.part),
                cells,
                out_dir=out_dir,
                in_place=in_place,
                now=now,
                scrub_shared_strings=True,
                lang=lang,
            )
        except UnreadableError as e:
            outcome.error, outcome.unreadable = str(e), True
        except XlcheckError as e:
            outcome.error = str(e)
    return outcomes


# -- the rules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Style:
    """The mask style in force (from ``policy.mask``)."""

    char: str
    name_keep: int
    keep_last: int
    email_keep: int

    @classmethod
    def of(cls, policy: Policy) -> _Style:
        m = policy.mask
        return cls(
            str(m["char"]), int(m["name_keep"]), int(m["phone_keep_last"]), int(m["email_keep"])
        )

    def digits(self, run: str) -> str:
        """A phone (or any digit run) as ``****5678``."""
        digits = re.sub(r"\D", "", run)
        return self.char * 4 + (digits[-self.keep_last :] if self.keep_last else "")

    def email(self, address: str) -> str:
        """An email as ``z***@example.com``; text glued before it (``邮箱:``) is kept."""
        local, _, domain = address.partition("@")
        m = _LOCAL_TAIL.search(local)
        lead, local = (local[: m.start()], m.group()) if m else ("", local)
        kept = local[: self.email_keep]
        return lead + kept + self.char * 3 + "@" + domain


def _mask_text(kind: str, text: str, style: _Style) -> str:
    if kind == NAME:
        return _mask_name(text, style)
    step = _mask_contact_once if kind == CONTACT else _mask_text_once
    return _fixpoint(step, text, style)


def _fixpoint(step: Callable[[str, _Style], str], text: str, style: _Style) -> str:
    """Apply ``step`` until nothing changes, so that masking a masked value is a no-op.

    One pass can leave a new digit run (``****5678 1234`` after a phone next to digits);
    each pass removes digits, so this ends within a few rounds.
    """
    for _ in range(_MAX_ROUNDS):
        new = step(text, style)
        if new == text:
            break
        text = new
    return text


def _mask_name(text: str, style: _Style) -> str:
    if not name_unmasked(text, style.char, style.name_keep):
        return text
    name = text.strip()
    honorific = ""
    for h in HONORIFICS:
        if name.endswith(h) and len(name) > len(h):
            name, honorific = name[: -len(h)].rstrip(), h
            break
    masked = _keep_first(name, style) + honorific
    if name_unmasked(masked, style.char, style.name_keep):  # e.g. two honorifics: mask all
        masked = _keep_first(text.strip(), style)
    return masked


def _keep_first(name: str, style: _Style) -> str:
    """The first ``name_keep`` non-space characters kept, every other one masked."""
    out, kept = [], 0
    for ch in name:
        if ch.isspace():
            out.append(ch)
        elif kept < style.name_keep:
            out.append(ch)
            kept += 1
        else:
            out.append(style.char)
    return "".join(out)


def _mask_contact_once(text: str, style: _Style) -> str:
    """Emails first (digits inside them are theirs), then phones and other digit runs."""
    if contact_unmasked(text, style.char, style.keep_last) is None:
        return text
    emails = list(loose_emails(text))
    out, last = [], 0
    for m in emails:
        out.append(_mask_digits(text[last : m.start()], style))
        local = m.group().split("@", 1)[0]
        out.append(m.group() if style.char in local else style.email(m.group()))
        last = m.end()
    out.append(_mask_digits(text[last:], style))
    masked = "".join(out)
    if masked == text:
        # digits on both sides of an email read as one run: hide every digit outside emails
        out, last = [], 0
        for m in emails:
            out.extend((re.sub(r"\d", style.char, text[last : m.start()]), m.group()))
            last = m.end()
        out.append(re.sub(r"\d", style.char, text[last:]))
        masked = "".join(out)
    return masked


def _mask_digits(text: str, style: _Style) -> str:
    limit = max(style.keep_last, 4)

    def repl(m: re.Match[str]) -> str:
        run = m.group()
        return style.digits(run) if sum(c.isdigit() for c in run) > limit else run

    return DIGIT_RUN.sub(repl, text)


def _mask_text_once(text: str, style: _Style) -> str:
    if not any(c.isdigit() or c in "@＠" for c in text):
        return text
    out, last = [], 0
    for m in find_pii(text):
        out.append(text[last : m.start])
        if m.kind == "email":
            out.append(style.email(half_width(m.text)))
        elif m.kind == "idcard":
            out.append(mask_match(m, style.char))
        else:
            out.append(style.digits(m.text))
        last = m.end
    out.append(text[last:])
    return "".join(out)
