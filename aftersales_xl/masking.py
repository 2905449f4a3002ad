"""Masking of contact data: 联系人, 联系方式 and personal data inside free text.

The rules (style from ``policy.mask``: ``char``, ``name_keep``, ``phone_keep_last``,
``email_keep``):

- **name** (fields with ``check = "masked-name"``): the first ``name_keep`` characters
  stay, every other non-space character becomes ``char``: ``张三丰`` → ``张**``,
  ``John Smith`` → ``J*** *****``; a trailing honorific stays (``张三先生`` → ``张*先生``);
  several names in one cell (``张三\n李四``, ``张三、李四``) are masked one by one.
- **contact** (``check = "masked-contact"``): every phone number and every other run of
  five or more digits keeps its last ``phone_keep_last`` digits (``****5678``); every
  email keeps the first ``email_keep`` characters of its local part and the domain
  (``z***@example.com``); a cell holding several contacts has each masked, also when they
  are only separated by a space, a line break or a dash (``****8000\n****5678``). Phones
  stored as numbers (``13800138000``, ``13800138000.0``) are handled.
- **free text** (``check = "pii-text"``): mainland mobiles, landlines, emails and
  checksum-valid 18-digit ID-card numbers found by :func:`aftersales_xl.pii.find_pii` are
  masked in place; order numbers and other digits are left alone.

Masking is idempotent: what these rules produce is exactly what the validator accepts as
masked (:func:`~aftersales_xl.pii.name_unmasked`, :func:`~aftersales_xl.pii.contact_unmasked`,
:func:`~aftersales_xl.pii.find_pii`), and masked values are returned unchanged.

A whole workbook (:func:`mask_workbooks`) also has masked, on the record sheet: every
column the form does not know and the rows above the header (free-text rule; a second
column under a header of a contact field, e.g. ``邮箱`` beside ``联系电话``, by that field's
rule), the cell comments, and the hyperlinks over masked cells or pointing at personal
data (removed). Personal data on the other sheets is reported, never changed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .config import Policy
from .forms import FormSpec
from .pii import (
    DIGIT_RUN,
    HONORIFICS,
    NAME_SEPARATOR,
    cell_text,
    contact_unmasked,
    find_pii,
    half_width,
    loose_emails,
    mask_match,
    name_unmasked,
)

NAME = "masked-name"
CONTACT = "masked-contact"
TEXT = "pii-text"
KINDS = (NAME, CONTACT, TEXT)

# a run of digits as staff write phone numbers: +86, (010), spaces and dashes inside
_LOCAL_TAIL = re.compile(r"[A-Za-z0-9._%+\-]+$")  # the ASCII part of a local part
_MAX_ROUNDS = 8


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
    return mask_text(kind, text, Style.of(policy))


def mask_frame(
    frame: pd.DataFrame, form: FormSpec, policy: Policy
) -> tuple[pd.DataFrame, dict[tuple[int, str], str], Counter[str]]:
    """Mask every contact, name and free-text field of ``frame``.

    ``frame`` is indexed by Excel row number with field keys as columns and raw cell values.
    Returns the masked copy, the changes ``{(row, key): new_text}`` (only cells whose text
    changed) and the number of changed cells per field key. Raw values are never returned.
    """
    style = Style.of(policy)
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
                    done[text] = mask_text(kind, text, style)
                if done[text] != text:
                    changes[(int(row), spec.key)] = done[text]
                    column.at[row] = done[text]
                    counts[spec.key] += 1
            out[spec.key] = column
    return out, changes, counts


# -- the rules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Style:
    """The mask style in force (from ``policy.mask``)."""

    char: str
    name_keep: int
    keep_last: int
    email_keep: int

    @classmethod
    def of(cls, policy: Policy) -> Style:
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


def mask_text(kind: str, text: str, style: Style) -> str:
    if kind == NAME:
        return _mask_name(text, style)
    step = _mask_contact_once if kind == CONTACT else _mask_text_once
    return _fixpoint(step, text, style)


def _fixpoint(step: Callable[[str, Style], str], text: str, style: Style) -> str:
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


def _mask_name(text: str, style: Style) -> str:
    """Each name of the cell masked (names split at :data:`~aftersales_xl.pii.NAME_SEPARATOR`)."""
    if not name_unmasked(text, style.char, style.name_keep):
        return text
    out, last = [], 0
    for m in NAME_SEPARATOR.finditer(text):
        out.extend((_mask_one_name(text[last : m.start()], style), m.group()))
        last = m.end()
    out.append(_mask_one_name(text[last:], style))
    return "".join(out).strip()


def _mask_one_name(text: str, style: Style) -> str:
    if not name_unmasked(text, style.char, style.name_keep):
        return text
    name = text.strip()
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    honorific = ""
    for h in HONORIFICS:
        if name.endswith(h) and len(name) > len(h):
            name, honorific = name[: -len(h)].rstrip(), h
            break
    masked = _keep_first(name, style) + honorific
    if name_unmasked(masked, style.char, style.name_keep):  # e.g. two honorifics: mask all
        masked = _keep_first(text.strip(), style)
    return lead + masked + trail


def _keep_first(name: str, style: Style) -> str:
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


def _mask_contact_once(text: str, style: Style) -> str:
    """Emails first (digits inside them are theirs), then phones and other digit runs."""
    if contact_unmasked(text, style.char, style.keep_last) is None:
        return text
    emails = list(loose_emails(text, style.char))
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


def _mask_digits(text: str, style: Style) -> str:
    """Each run of more than ``phone_keep_last`` (at least 4) digits as ``****5678``.

    A run can hold several phones with only a space or a dash between them
    (``010-62345678-13800138000``): the phones in it are masked one by one, then what is
    left of the run.
    """
    limit = max(style.keep_last, 4)

    def digits(run: str) -> str:
        return style.digits(run) if sum(c.isdigit() for c in run) > limit else run

    def rest(piece: str) -> str:
        return DIGIT_RUN.sub(lambda m: digits(m.group()), piece)

    def repl(m: re.Match[str]) -> str:
        run = m.group()
        phones = [p for p in find_pii(run) if p.kind in ("mobile", "landline")]
        if not phones:
            return digits(run)
        out, last = [], 0
        for phone in phones:
            out.extend((rest(run[last : phone.start]), digits(phone.text)))
            last = phone.end
        out.append(rest(run[last:]))
        return "".join(out)

    return DIGIT_RUN.sub(repl, text)


def _mask_text_once(text: str, style: Style) -> str:
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
