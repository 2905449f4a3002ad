"""Personal data detection: mainland phones, emails, ID-card numbers; "is this masked?" tests.

Detection lives here so that validation (``unmasked-contact``, ``pii-in-text``), masking
(``mask.py``) and every message (:func:`redact`) agree on what counts as personal data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

MOBILE = r"(?:\+?86[\s.-]?)?1[3-9]\d(?:[\s.-]?\d{4}){2}"
LANDLINE = r"(?:\(0\d{2,3}\)|0\d{2,3}[\s-]?)[2-9]\d{2,3}[\s-]?\d{4}(?:-\d{1,5})?"
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
IDCARD = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"

# order matters: ID cards before phones so an ID number is not read as digits+phone
_PATTERN = re.compile(
    rf"(?P<idcard>(?<![0-9A-Za-z]){IDCARD}(?![0-9A-Za-z]))"
    rf"|(?P<email>{EMAIL})"
    rf"|(?P<mobile>(?<![0-9]){MOBILE}(?![0-9]))"
    rf"|(?P<landline>(?<![0-9]){LANDLINE}(?![0-9]))"
)

#: nothing to redact without one of these (``\d`` takes full-width digits too; the separators
#: include their full-width forms, as find_pii reads the text half-width)
_REDACT_HINT = re.compile(r"\d{5}|\d[\s\-().－．（）]\d|[@＠]")

#: full-width ASCII (Ｐ１３８＠…) and the ideographic space → half-width, one character for one,
#: so matches found on the translated text have the original's positions
_HALF_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def half_width(text: str) -> str:
    """``text`` with full-width ASCII characters as their half-width forms (same length)."""
    return text.translate(_HALF_WIDTH)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

KIND_LABELS = {
    "zh": {"mobile": "手机号", "landline": "固定电话", "email": "邮箱", "idcard": "身份证号"},
    "en": {
        "mobile": "a mobile number",
        "landline": "a landline number",
        "email": "an email address",
        "idcard": "an ID-card number",
    },
}


@dataclass(frozen=True)
class Match:
    kind: str  # mobile | landline | email | idcard
    start: int
    end: int
    text: str


def idcard_valid(number: str) -> bool:
    """GB 11643 checksum of an 18-character ID-card number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def find_pii(text: str) -> Iterator[Match]:
    """Unmasked personal data in ``text`` (ID numbers only when their checksum is valid).

    Full-width digits and ``＠`` count too (matched on :func:`half_width`; ``Match.text`` is
    the original slice).
    """
    for m in _PATTERN.finditer(half_width(text)):
        kind = m.lastgroup or ""
        if kind == "idcard" and not idcard_valid(m.group()):
            continue
        yield Match(kind, m.start(), m.end(), text[m.start() : m.end()])


def mask_match(m: Match, char: str = "*", keep_last: int = 4, email_keep: int = 1) -> str:
    """The masked form of one match: phones ``****5678``, emails ``z***@example.com``."""
    if m.kind == "email":
        local, _, domain = half_width(m.text).partition("@")
        return local[:email_keep] + char * max(3, len(local) - email_keep) + "@" + domain
    if m.kind == "idcard":
        return m.text[:1] + char * 13 + m.text[-4:]
    digits = re.sub(r"\D", "", m.text)
    return char * 4 + digits[-keep_last:] if keep_last else char * 8


def pii_kinds(text: str) -> list[str]:
    """The sorted kinds of personal data in ``text`` (empty when there is none)."""
    if not _REDACT_HINT.search(text):
        return []
    return sorted({m.kind for m in find_pii(text)})


def kinds_named(kinds: Iterable[str], lang: str = "zh") -> str:
    """``["email", "mobile"]`` → ``邮箱、手机号`` (``an email address, a mobile number``)."""
    labels = KIND_LABELS.get(lang, KIND_LABELS["zh"])
    return (", " if lang == "en" else "、").join(labels[k] for k in kinds)


def cell_text(value: object) -> str | None:
    """The text a cell shows for personal-data purposes, or None when it holds nothing to scan.

    Text is returned as is; whole numbers (phones stored as numbers: ``13800138000.0``)
    without the ``.0``; dates, times, booleans and blanks (None, NaN, NaT, pd.NA) give None.
    """
    if value is None or isinstance(value, bool | date | time):  # datetime, Timestamp, NaT too
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
        if value != value:  # NaN-like (numpy)
            return None
    except TypeError:  # pd.NA: its truth value is undefined
        return None
    except ValueError:
        pass
    return str(value)


def redact(text: str, char: str = "*") -> str:
    """Mask every phone, email and ID-card number in ``text`` (used on anything echoed)."""
    if not text or not _REDACT_HINT.search(text):
        return text
    out, last = [], 0
    for m in find_pii(text):
        out.append(text[last : m.start])
        out.append(mask_match(m, char))
        last = m.end
    out.append(text[last:])
    return "".join(out)


def redact_tree(data: Any, char: str = "*") -> Any:
    """``data`` (JSON-like: dicts, lists, tuples, scalars) with every string — keys included —
    passed through :func:`redact`; other scalars as they are."""
    if isinstance(data, str):
        return redact(data, char)
    if isinstance(data, Mapping):
        return {redact_tree(k, char): redact_tree(v, char) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_tree(v, char) for v in data]
    return data


#: a run of 5+ digits, spaces/dashes/brackets allowed between them but not a line break
#: (Alt+Enter separates contacts); shared with mask.py so what mask writes is exactly what
#: this accepts as masked
DIGIT_RUN = re.compile(r"\+?\(?\d(?:(?:[^\S\r\n]|[\-().])*\d){4,}")
HONORIFICS = ("先生", "女士", "小姐", "老师", "经理", "总", "工")
#: common two-character surnames: with ``name_keep = 1`` the whole surname may stay (``欧阳**``)
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙",
    "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐", "端木", "轩辕",
})  # fmt: skip
#: what separates several names in one 联系人 cell (``张三\n李四``, ``张三、李四``, ``张三/李四``)
NAME_SEPARATOR = re.compile(r"[\r\n、/,，;；|]+")
#: link schemes whose target is a contact by definition
_CONTACT_SCHEMES = ("mailto:", "tel:", "sms:", "callto:")


def link_has_pii(*texts: str | None) -> bool:
    """True when a hyperlink's target, location, text or tooltip carries personal data: a
    ``mailto:``/``tel:``/``sms:`` target, or a phone, email or ID number anywhere in it
    (percent-encoding such as ``%40`` undone first)."""
    for text in texts:
        if not text:
            continue
        plain = unquote(str(text)).strip()
        if plain.lower().startswith(_CONTACT_SCHEMES) or any(True for _ in find_pii(plain)):
            return True
    return False


@lru_cache(maxsize=8)
def _email_any(char: str) -> re.Pattern[str]:
    """Emails whose local part may hold the mask character, and nothing that separates two
    contacts (``/``, ``、``, brackets, spaces), so ``13800138000/z***@a.com`` is a phone and
    an email, not one masked email."""
    local = "[A-Za-z0-9._%+\\-" + re.escape(half_width(char)) + "]+@"
    return re.compile(EMAIL.replace("[A-Za-z0-9._%+\\-]+@", local))


def loose_emails(text: str, char: str = "*") -> Iterator[re.Match[str]]:
    """Email-like addresses as :func:`contact_unmasked` sees them (the local part may hold
    the mask ``char``), found on :func:`half_width` text so ``ｚｈａｎｇ＠…`` counts;
    positions are the original's."""
    return _email_any(char).finditer(half_width(text))


def contact_unmasked(value: str, char: str = "*", keep_last: int = 4) -> str | None:
    """Why a 联系方式 value is not masked (``"phone"`` / ``"email"``), or None if it is.

    A phone may show at most ``keep_last`` trailing digits (``****5678``) or the usual
    middle mask (``138****5678``): any run of more than ``keep_last`` digits, spaces and
    dashes ignored, is unmasked. An email's local part must contain the mask character; it
    is ASCII letters, digits, ``._%+-`` and that character only, so a phone before a masked
    email (``13800138000/z***@a.com``) is still a phone.
    """
    pattern = _email_any(char)
    for m in pattern.finditer(half_width(value)):
        local = m.group().split("@", 1)[0]
        if half_width(char) not in local:
            return "email"
    stripped = pattern.sub("", half_width(value))
    for m in DIGIT_RUN.finditer(stripped):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) > max(keep_last, 4):
            return "phone"
    return None


def name_unmasked(value: str, char: str = "*", keep: int = 1) -> bool:
    """True when a 联系人 value shows more than ``keep`` characters of a name.

    ``张*``, ``李**``, ``J***``, ``张先生`` (surname + honorific) are masked; ``张三`` is not.
    With ``keep = 1`` a two-character surname (:data:`COMPOUND_SURNAMES`) counts as one
    character: ``欧阳**`` and ``司马先生`` are masked. Several names in one cell
    (:data:`NAME_SEPARATOR`: line breaks, ``、``, ``/``, ``,``…) are judged one by one:
    ``张*\n李*`` is masked, ``张*\n李四`` is not.
    """
    return any(_one_name_unmasked(part, char, keep) for part in NAME_SEPARATOR.split(value))


def _one_name_unmasked(value: str, char: str, keep: int) -> bool:
    text = "".join(value.split())
    if not text:
        return False
    if keep == 1 and text[:2] in COMPOUND_SURNAMES:
        text = text[1:]  # the surname counts as one character
    for h in HONORIFICS:
        if text.endswith(h) and len(text) > len(h):
            text = text[: -len(h)]
            if len(text) <= keep:
                return False
            break
    visible = [c for c in text if c != char and c not in "＊.·"]
    return len(visible) > keep
