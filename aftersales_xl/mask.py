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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd

from .config import Policy
from .errors import UnreadableError, XlcheckError
from .findings import ERROR, WARNING, Finding
from .forms import FormSpec
from .pii import (
    DIGIT_RUN,
    HONORIFICS,
    KIND_LABELS,
    NAME_SEPARATOR,
    cell_text,
    contact_unmasked,
    find_pii,
    half_width,
    link_has_pii,
    loose_emails,
    mask_match,
    name_unmasked,
    redact,
)
from .xlsxpatch import (
    check_distinct_outputs,
    check_patchable,
    column_letters,
    links_covering,
    sheet_comments,
    sheet_hyperlinks,
    write_patched,
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
    #: masked cells per field key, or per header text for columns the form does not know
    counts: Counter[str] = field(default_factory=Counter)
    comments: int = 0  # cell comments masked
    links: int = 0  # hyperlinks removed
    #: columns not recognised (warnings); personal data left unmasked (errors: exit 1)
    notes: list[Finding] = field(default_factory=list)
    error: str | None = None
    unreadable: bool = False

    @property
    def masked(self) -> int:
        """Cells masked."""
        return sum(self.counts.values())

    @property
    def pii_left(self) -> bool:
        """Whether personal data was found that this run did not mask (see ``notes``)."""
        return any(f.severity == ERROR for f in self.notes)


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

    Only the masked cells, comments and hyperlinks change
    (:func:`aftersales_xl.xlsxpatch.write_patched`); every other part of the workbook is
    kept. Personal data this cannot mask (on other sheets, or left in a comment) is an
    error note on the outcome. A file that cannot be read or written gets an ``error``
    line and the others continue. In place, a file with nothing to mask is left alone (no
    backup, no write). The same file given twice is masked once; two inputs that would be
    written to the same output file raise :class:`~aftersales_xl.errors.WriteError` before
    anything is written.
    """
    from .fileio import distinct_paths
    from .workbook import read_form

    paths = distinct_paths(paths)
    check_distinct_outputs(paths, out_dir, in_place, lang)
    style = _Style.of(policy)
    outcomes = []
    for path in paths:
        outcome = MaskOutcome(Path(path))
        outcomes.append(outcome)
        try:
            sheet, _findings = read_form(path, form, policy, lang)
            if sheet.part is None or sheet.kind not in ("xlsx", "xlsm"):
                check_patchable(Path(path), lang, kind=sheet.kind)
            _, changes, outcome.counts = mask_frame(sheet.frame, form, policy)
            cells = {sheet.cell(key, row): text for (row, key), text in changes.items()}
            rest = _mask_rest_of_workbook(Path(path), sheet, form, style, lang)
            cells.update(rest.cells)
            outcome.counts.update(rest.counts)
            outcome.notes = rest.notes
            outcome.comments = rest.comments
            links = sheet_hyperlinks(Path(path), str(sheet.part), lang)
            drop = {ref for ref, texts in links if link_has_pii(*texts)} | set(cells)
            outcome.links = links_covering((ref for ref, _t in links), drop)
            if in_place and not (cells or rest.comments or outcome.links):
                outcome.output = Path(path)
                continue
            outcome.output, outcome.backup = write_patched(
                Path(path),
                str(sheet.part),
                cells,
                out_dir=out_dir,
                in_place=in_place,
                now=now,
                scrub_shared_strings=True,
                drop_hyperlinks=drop if outcome.links else (),
                comment_text=(lambda t: _mask_text(TEXT, t, style)) if rest.comments else None,
                lang=lang,
            )
            left = _pii_in_comments(outcome.output, str(sheet.part), lang)
            if left:
                outcome.notes.append(_note_comments_left(sheet.sheet, left, lang))
        except UnreadableError as e:
            outcome.error, outcome.unreadable = str(e), True
        except XlcheckError as e:
            outcome.error = str(e)
    return outcomes


# -- the record sheet outside the form's columns, comments and the other sheets -----------------
def masked_outside_form(
    path: Path, sheet: Any, form: FormSpec, policy: Policy, lang: str = "zh"
) -> dict[str, str]:
    """``"A1"`` → masked text for the cells of the record sheet outside the form's columns
    (unknown columns, rows above the header) that hold personal data, as ``mask`` writes
    them; ``sheet`` is the ``workbook.FormSheet`` read from ``path``. For annotated copies."""
    return _mask_rest_of_workbook(Path(path), sheet, form, _Style.of(policy), lang).cells


@dataclass
class _Rest:
    """What to mask on the record sheet beyond the form's cells, and what is left to report."""

    cells: dict[str, str] = field(default_factory=dict)  # A1 → masked text
    counts: Counter[str] = field(default_factory=Counter)  # header text → cells
    comments: int = 0  # comments holding personal data
    notes: list[Finding] = field(default_factory=list)


_ABOVE_HEADER = {"zh": "表头及以上各行", "en": "rows above the header"}


def _mask_rest_of_workbook(
    path: Path, sheet: Any, form: FormSpec, style: _Style, lang: str
) -> _Rest:
    """Mask the record sheet's unknown columns, the rows above its header and its comments;
    count the personal data on the other sheets (``sheet`` is a ``workbook.FormSheet``).

    Sheets the safety scan found empty, and a record sheet with nothing outside the form's
    columns, are not parsed again.
    """
    import python_calamine as pc

    rest = _Rest()
    mapped = set(sheet.columns.values())
    found_on: dict[str, Counter[str]] = {}  # other sheets → personal data found on them
    todo = []
    for scan in sheet.inspection.sheets:
        if scan.name == sheet.sheet:
            if sheet.header_row > 1 or any(c not in mapped for c in range(scan.max_col)):
                todo.append(scan.name)
        elif scan.max_row > 0:
            todo.append(scan.name)
    if todo:
        try:
            book = pc.CalamineWorkbook.from_path(str(path))
        except Exception as e:  # noqa: BLE001 - read_form read it a moment ago
            raise UnreadableError(
                str(path), "corrupt", f"{path.name}: {type(e).__name__}"
            ) from None
        try:
            worksheets = {m.name for m in book.sheets_metadata if str(m.typ).endswith("WorkSheet")}
            for name in (n for n in todo if n in worksheets):
                grid = book.get_sheet_by_name(name)
                if name == sheet.sheet:
                    _mask_record_sheet(grid, sheet, form, style, lang, rest)
                    continue
                found_on[name] = Counter(
                    m.kind
                    for row in grid.to_python()
                    for value in row
                    if (text := cell_text(value)) is not None
                    for m in find_pii(text)
                )
        finally:
            book.close()
    # comments and links of the other sheets (a sheet may hold nothing else)
    for scan in sheet.inspection.sheets:
        if scan.name == sheet.sheet or not scan.part:
            continue
        texts = [*sheet_comments(path, scan.part, lang).values()]
        texts += [t for _ref, link in sheet_hyperlinks(path, scan.part, lang) for t in link]
        found = found_on.setdefault(scan.name, Counter())
        found.update(m.kind for text in texts for m in find_pii(unquote(text)))
    for name, found in found_on.items():
        if found:
            rest.notes.append(_note_other_sheet(name, found, lang))
    rest.comments = sum(
        1
        for text in sheet_comments(path, str(sheet.part), lang).values()
        if _mask_text(TEXT, text, style) != text
    )
    return rest


def _mask_record_sheet(
    grid: Any, sheet: Any, form: FormSpec, style: _Style, lang: str, rest: _Rest
) -> None:
    """Free text found outside the form's columns of the record sheet, masked in place."""
    mapped = set(sheet.columns.values())
    header_row = sheet.header_row
    width = grid.width if grid.end is not None else 0
    extra = [c for c in range(width) if c not in mapped]
    if not extra and header_row == 1:
        return
    rows = grid.to_python(skip_empty_area=False, **({} if extra else {"nrows": header_row}))
    header = rows[header_row - 1] if len(rows) >= header_row else []
    titles = {form.field(k).title(lang) for k in form.keys}
    kinds, labels = {}, {}
    for c in extra:
        label = str(header[c]).strip() if c < len(header) and header[c] is not None else ""
        twin = next(iter(form.match_headers([label])), None) if label else None
        spec = form.field(twin) if twin is not None else None
        kinds[c] = spec.check if spec is not None and spec.check in (NAME, CONTACT) else TEXT
        shown = redact(label) or (f"{column_letters(c + 1)} 列" if lang != "en" else "")
        if not shown or shown in titles or shown in labels.values():
            letter = column_letters(c + 1)
            shown = f"{shown}（{letter} 列）" if lang != "en" else f"{shown} (column {letter})"
        labels[c] = shown.strip()
        if label:
            first = sheet.columns.get(twin) if twin is not None else None
            rest.notes.append(_note_column(sheet, c, label, spec, first, lang))
    done: dict[tuple[str, str], str] = {}
    above_header = 0
    for r, row in enumerate(rows, start=1):
        above = r <= header_row
        for c, value in enumerate(row):
            if not above and c in mapped:
                continue
            text = cell_text(value)
            if text is None:
                continue
            kind = TEXT if above else kinds[c]
            if (kind, text) not in done:
                done[(kind, text)] = _mask_text(kind, text, style)
            if done[(kind, text)] != text:
                rest.cells[f"{column_letters(c + 1)}{r}"] = done[(kind, text)]
                if above:
                    above_header += 1
                else:
                    rest.counts[labels[c]] += 1
    if above_header:  # counted after the columns
        rest.counts[_ABOVE_HEADER["en" if lang == "en" else "zh"]] = above_header


def _pii_in_comments(path: Path, part: str, lang: str) -> int:
    """How many comments of the written sheet still hold personal data."""
    return sum(1 for text in sheet_comments(path, part, lang).values() if any(find_pii(text)))


def _kinds(found: Counter[str], lang: str) -> str:
    labels = KIND_LABELS["en" if lang == "en" else "zh"]
    if lang == "en":
        return ", ".join(f"{n} × {labels[k]}" for k, n in found.items())
    return "、".join(f"{labels[k]} {n} 处" for k, n in found.items())


def _note_other_sheet(name: str, found: Counter[str], lang: str) -> Finding:
    if lang == "en":
        text = (
            f'sheet "{name}" holds personal data ({_kinds(found, lang)}) that was not masked: '
            "only the record sheet is masked; remove or mask it by hand"
        )
    else:
        text = f"工作表“{name}”中有未脱敏的个人信息（{_kinds(found, lang)}）：本命令只脱敏记录表，请手动删除或脱敏"
    return Finding(ERROR, "pii-in-text", name, None, None, None, redact(text))


def _note_comments_left(sheet: str, n: int, lang: str) -> Finding:
    text = (
        f"{n} cell comment(s) still hold a phone number or email: edit them by hand"
        if lang == "en"
        else f"批注中有 {n} 处手机号/邮箱未脱敏：请手动修改"
    )
    return Finding(ERROR, "pii-in-text", sheet, None, None, None, text)


def _note_column(
    sheet: Any, c: int, label: str, spec: Any, first: int | None, lang: str
) -> Finding:
    """The note for a column the form does not map: unknown, or a second column of a field."""
    cell = f"{column_letters(c + 1)}{sheet.header_row}"
    label = redact(label)
    code = "unknown-column"
    if spec is not None and first is not None:
        code = "duplicate-column"
        field_name, first_col = spec.title(lang), column_letters(first + 1)
        rule = (
            field_name
            if spec.check in (NAME, CONTACT)
            else ("free text" if lang == "en" else "自由文本")
        )
        text = (
            f'"{label}" is a second "{field_name}" column (the first is column {first_col}); '
            f"masked by the {rule} rule: keep one column per field"
            if lang == "en"
            else f"“{label}”是第二个“{field_name}”列（第一个在 {first_col} 列），按{rule}规则脱敏：每个字段请只保留一列"
        )
    else:
        text = (
            f'header "{label}" is not a field of this form; phones, emails and ID numbers in it are masked as free text'
            if lang == "en"
            else f"表头“{label}”不是本表单的字段：其中的手机号、邮箱、身份证号按自由文本脱敏"
        )
    return Finding(WARNING, code, sheet.sheet, cell, sheet.header_row, label, text)


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
    """Each name of the cell masked (names split at :data:`~aftersales_xl.pii.NAME_SEPARATOR`)."""
    if not name_unmasked(text, style.char, style.name_keep):
        return text
    out, last = [], 0
    for m in NAME_SEPARATOR.finditer(text):
        out.extend((_mask_one_name(text[last : m.start()], style), m.group()))
        last = m.end()
    out.append(_mask_one_name(text[last:], style))
    return "".join(out).strip()


def _mask_one_name(text: str, style: _Style) -> str:
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


def _mask_digits(text: str, style: _Style) -> str:
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
