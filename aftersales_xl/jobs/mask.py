"""The mask job: masked copies of whole workbooks (``xlcheck mask``), and the one
:class:`MaskPlan` of what masking a workbook changes, which ``assign-ids -o`` and
``merge --return`` write too, so every copy xlcheck writes is masked the same way.

The rules for one value are :mod:`aftersales_xl.masking`'s. A workbook also has masked, on
the record sheet: every column the form does not know and the rows above the header
(free-text rule; a second column under a header of a contact field, e.g. ``邮箱`` beside
``联系电话``, by that field's rule), the cell comments, and the hyperlinks over masked cells
or pointing at personal data (removed); document properties that may name a person are
emptied. A masked copy must be safe to forward whole: when personal data sits where masking
cannot reach (another sheet, a sheet name, a header/footer, a conditional format, a
drop-down list), no copy is written and one line says where.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..config import Policy
from ..errors import UnreadableError, XlcheckError
from ..findings import ERROR, WARNING, FileOutcome, Finding
from ..forms import FormSpec
from ..masking import CONTACT, NAME, TEXT, Style, mask_frame, mask_text
from ..messages import localise
from ..pii import (
    KIND_LABELS,
    cell_text,
    find_pii,
    link_has_pii,
    redact,
)
from ..writing.xlsxpatch import (
    check_distinct_outputs,
    check_patchable,
    column_letters,
    links_covering,
    scrubbed_properties,
    sheet_comments,
    sheet_hyperlinks,
    write_patched,
)


# -- whole workbooks ----------------------------------------------------------------------
@dataclass
class MaskOutcome(FileOutcome):
    """What masking did to one workbook (see :class:`FileOutcome`); ``findings`` are the
    columns not recognised (warnings) and personal data left unmasked (errors: exit 1)."""

    #: masked cells per field key, or per header text for columns the form does not know
    counts: Counter[str] = field(default_factory=Counter)
    comments: int = 0  # cell comments masked
    links: int = 0  # hyperlinks removed
    properties: bool = False  # personal document properties emptied in the copy

    @property
    def masked(self) -> int:
        """Cells masked."""
        return sum(self.counts.values())

    @property
    def pii_left(self) -> bool:
        """Whether personal data was found that this run did not mask (see ``findings``)."""
        return any(f.severity == ERROR for f in self.findings)


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
    (:func:`aftersales_xl.writing.xlsxpatch.write_patched`); every other part of the workbook is
    kept. Personal data this cannot mask (on other sheets, or left in a comment) is an
    error note on the outcome. A file that cannot be read or written gets an ``error``
    line and the others continue. In place, a file with nothing to mask is left alone (no
    backup, no write). The same file given twice is masked once; two inputs that would be
    written to the same output file raise :class:`~aftersales_xl.errors.WriteError` before
    anything is written.
    """
    from ..reading.opening import distinct_paths
    from ..reading.workbook import read_form

    paths = distinct_paths(paths)
    check_distinct_outputs(paths, out_dir, in_place, lang)
    outcomes = []
    for path in paths:
        outcome = MaskOutcome(Path(path))
        outcomes.append(outcome)
        try:
            sheet, _findings = read_form(path, form, policy, lang)
            if sheet.part is None or sheet.kind not in ("xlsx", "xlsm"):
                check_patchable(Path(path), lang, kind=sheet.kind)
            plan = plan_masking(Path(path), sheet, form, policy, lang)
            outcome.counts, outcome.findings = plan.counts, plan.notes
            outcome.comments, outcome.links = plan.comments, plan.links
            outcome.properties = bool(plan.properties)
            if plan.elsewhere:  # a masked copy must be safe to forward whole: none rather than half
                outcome.error = plan.refusal(Path(path), lang)
                continue
            if in_place and not plan.changes_anything:
                outcome.output = Path(path)
                continue
            outcome.output, outcome.backup = write_patched(
                Path(path),
                str(sheet.part),
                plan.cells,
                out_dir=out_dir,
                in_place=in_place,
                now=now,
                lang=lang,
                **plan.patch_options(),
            )
            outcome.findings += plan.left_in(outcome.output, sheet, lang)
        except UnreadableError as e:
            outcome.error, outcome.unreadable = str(e), True
        except XlcheckError as e:
            outcome.error = str(e)
    return outcomes


@dataclass
class MaskPlan:
    """What masking one workbook changes, before anything is written: the cell texts (record
    table, columns outside the form, rows above the header), the masked counts per column,
    the comments to mask, the hyperlinks to drop, and the notes about what it cannot mask.
    ``assign-ids`` writes the same plan beside its IDs, so every copy xlcheck writes is masked."""

    cells: dict[str, str]
    counts: Counter[str]
    notes: list[Finding]
    comments: int
    drop: set[str]
    links: int
    style: Style
    #: personal data a copy would keep where masking cannot reach (another sheet, a sheet
    #: name, a header/footer, a conditional format, a drop-down): no copy is written then
    elsewhere: list[Finding] = field(default_factory=list)
    #: document properties that may name a person, emptied: part name → new bytes
    properties: dict[str, bytes] = field(default_factory=dict)

    @property
    def changes_anything(self) -> bool:
        return bool(self.cells or self.comments or self.links or self.properties)

    def refusal(self, path: Path, lang: str) -> str:
        """The one line for a workbook whose copy would still hold personal data."""
        return _refusal(path, self.elsewhere, lang)

    def patch_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~aftersales_xl.writing.xlsxpatch.write_patched`
        that carry this plan besides its cells."""
        style = self.style
        return {
            "scrub_shared_strings": True,
            "drop_hyperlinks": self.drop if self.links else (),
            "comment_text": (lambda t: mask_text(TEXT, t, style)) if self.comments else None,
            "replace_parts": self.properties,
        }

    def left_in(self, written: Path, sheet: Any, lang: str) -> list[Finding]:
        """An error note if the written copy still holds personal data in a comment."""
        left = _pii_in_comments(written, str(sheet.part), lang)
        return [_note_comments_left(sheet.sheet, left, lang)] if left else []


def plan_masking(path: Path, sheet: Any, form: FormSpec, policy: Policy, lang: str) -> MaskPlan:
    """The :class:`MaskPlan` for ``path``, whose record sheet ``sheet`` was read by
    :func:`~aftersales_xl.reading.workbook.read_form`."""
    style = Style.of(policy)
    _, changes, counts = mask_frame(sheet.frame, form, policy)
    cells = {sheet.cell(key, row): text for (row, key), text in changes.items()}
    rest = _mask_rest_of_workbook(Path(path), sheet, form, style, lang)
    cells.update(rest.cells)
    counts.update(rest.counts)
    links = sheet_hyperlinks(Path(path), str(sheet.part), lang)
    drop = {ref for ref, texts in links if link_has_pii(*texts)} | set(cells)
    n_links = links_covering((ref for ref, _t in links), drop)
    elsewhere = [n for n in rest.notes if n.code == "pii-in-text" and n.severity == ERROR]
    elsewhere += _pii_outside_cells(Path(path), sheet, lang)
    notes = [n for n in rest.notes if n not in elsewhere] + elsewhere
    return MaskPlan(
        cells, counts, notes, rest.comments, drop, n_links, style,
        elsewhere=elsewhere, properties=scrubbed_properties(Path(path)),
    )  # fmt: skip


# -- the record sheet outside the form's columns, comments and the other sheets -----------------
def masked_outside_form(
    path: Path, sheet: Any, form: FormSpec, policy: Policy, lang: str = "zh"
) -> dict[str, str]:
    """``"A1"`` → masked text for the cells of the record sheet outside the form's columns
    (unknown columns, rows above the header) that hold personal data, as ``mask`` writes
    them; ``sheet`` is the ``workbook.FormSheet`` read from ``path``. For annotated copies."""
    return _mask_rest_of_workbook(Path(path), sheet, form, Style.of(policy), lang).cells


@dataclass
class _Rest:
    """What to mask on the record sheet beyond the form's cells, and what is left to report."""

    cells: dict[str, str] = field(default_factory=dict)  # A1 → masked text
    counts: Counter[str] = field(default_factory=Counter)  # header text → cells
    comments: int = 0  # comments holding personal data
    notes: list[Finding] = field(default_factory=list)


def _mask_rest_of_workbook(
    path: Path, sheet: Any, form: FormSpec, style: Style, lang: str
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
                values = grid.to_python()
                found_on[name] = Counter(
                    m.kind
                    for row in values
                    for value in row
                    if (text := cell_text(value)) is not None
                    for m in find_pii(text)
                )
                names = _name_cells(values, form, name)
                if names:
                    found_on[name]["name"] += names
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
        if mask_text(TEXT, text, style) != text
    )
    return rest


def _mask_record_sheet(
    grid: Any, sheet: Any, form: FormSpec, style: Style, lang: str, rest: _Rest
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
        # a blank header is shown by its letter in Chinese; in English the "(column X)" below says it
        shown = redact(label) or (
            _t("column-letter", lang, letter=column_letters(c + 1)) if lang != "en" else ""
        )
        if not shown or shown in titles or shown in labels.values():
            shown = _t("label-and-column", lang, label=shown, letter=column_letters(c + 1))
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
                done[(kind, text)] = mask_text(kind, text, style)
            if done[(kind, text)] != text:
                rest.cells[f"{column_letters(c + 1)}{r}"] = done[(kind, text)]
                if above:
                    above_header += 1
                else:
                    rest.counts[labels[c]] += 1
    if above_header:  # counted after the columns
        rest.counts[_t("above-header", lang)] = above_header


_NAME_HEADERS = ("姓名", "名字", "客户姓名", "联系人姓名", "name")


def name_columns(rows: list[list[Any]], form: FormSpec, sheet: str = "") -> list[tuple[int, int]]:
    """``(row, column)`` (0-based) of the unmasked names under a header that names a person
    (姓名, 联系人…: a masked-name field's labels) in the first 30 rows of a sheet: names
    cannot be recognised anywhere else. The template's own helper sheets (填写说明, the lists)
    name the fields, not people, and are skipped."""
    from ..forms import normalise_label
    from ..pii import name_unmasked
    from ..writing.template import INSTRUCTIONS_SHEET, LISTS_SHEET

    helpers = {normalise_label(n) for n in (*INSTRUCTIONS_SHEET.values(), LISTS_SHEET)}
    if sheet and normalise_label(sheet) in helpers:
        return []
    out: list[tuple[int, int]] = []
    for r, row in enumerate(rows[:30]):
        for c, value in enumerate(row):
            if not isinstance(value, str) or not value.strip():
                continue
            key = next(iter(form.match_headers([value])), None)
            if key is None and value.strip().lower() not in _NAME_HEADERS:
                continue
            if key is not None and form.field(key).check != NAME:
                continue
            out += [
                (r2, c)
                for r2 in range(r + 1, len(rows))
                if c < len(rows[r2])
                and (text := cell_text(rows[r2][c])) is not None
                and name_unmasked(text)
            ]
        if out:
            break
    return out


def _name_cells(rows: list[list[Any]], form: FormSpec, sheet: str = "") -> int:
    """How many names :func:`name_columns` finds on another sheet."""
    return len(name_columns(rows, form, sheet))


_HEADER_FOOTER = re.compile(rb"<(?:\w+:)?headerFooter\b.*?</(?:\w+:)?headerFooter\s*>", re.S)
_CONDITIONAL = re.compile(
    rb"<(?:\w+:)?conditionalFormatting\b.*?</(?:\w+:)?conditionalFormatting\s*>", re.S
)
_DATA_VALIDATION = re.compile(
    rb"<(?:\w+:)?dataValidations\b.*?</(?:\w+:)?dataValidations\s*>", re.S
)
_TAG = re.compile(r"<[^>]*>")


def _pii_outside_cells(path: Path, sheet: Any, lang: str) -> list[Finding]:
    """Personal data the copy would keep outside any cell: in sheet names and defined names
    (xl/workbook.xml), and in any sheet's header/footer, conditional-format rules and
    drop-down lists."""
    import zipfile
    from html import unescape

    places: list[str] = []
    try:
        with zipfile.ZipFile(path) as z:
            members = set(z.namelist())
            book = z.read("xl/workbook.xml") if "xl/workbook.xml" in members else b""
            if any(find_pii(unescape(_TAG.sub(" ", book.decode("utf-8", "replace"))))):
                places.append(_t("place-book-names", lang))
            if any(any(find_pii(s.name)) for s in sheet.inspection.sheets) and not places:
                places.append(_t("place-sheet-names", lang))
            for scan in sheet.inspection.sheets:
                if not scan.part or scan.part not in members:
                    continue
                info = z.getinfo(scan.part)
                if info.file_size > (64 << 20):
                    continue
                data = z.read(scan.part)
                for pattern, what in (
                    (_HEADER_FOOTER, "header-footer"),
                    (_CONDITIONAL, "conditional-formats"),
                    (_DATA_VALIDATION, "data-validation"),
                ):
                    for m in pattern.finditer(data):
                        text = unescape(_TAG.sub(" ", m.group().decode("utf-8", "replace")))
                        if any(find_pii(text)):
                            label = _t(what, lang)
                            places.append(_t("place-of-sheet", lang, label=label, sheet=scan.name))
                            break
    except (OSError, zipfile.BadZipFile, KeyError):
        return []
    return [
        Finding(
            ERROR,
            "pii-in-text",
            sheet.sheet,
            None,
            None,
            None,
            redact(_t("pii-in-place", lang, place=place)),
        )
        for place in dict.fromkeys(places)
    ]


def _refusal(path: Path, notes: list[Finding], lang: str) -> str:
    """The one line for a workbook whose masked copy would still hold personal data."""
    where = _t("note-separator", lang).join(n.message for n in notes)
    return redact(_t("refusal", lang, name=path.name, where=where))


def _pii_in_comments(path: Path, part: str, lang: str) -> int:
    """How many comments of the written sheet still hold personal data."""
    return sum(1 for text in sheet_comments(path, part, lang).values() if any(find_pii(text)))


def _kinds(found: Counter[str], lang: str) -> str:
    labels = {**KIND_LABELS.get(lang, KIND_LABELS["zh"]), "name": _t("a-name", lang)}
    return _t("kind-separator", lang).join(
        _t("kind-count", lang, kind=labels[k], n=n) for k, n in found.items()
    )


def _note_other_sheet(name: str, found: Counter[str], lang: str) -> Finding:
    text = _t("other-sheet", lang, name=name, kinds=_kinds(found, lang))
    return Finding(ERROR, "pii-in-text", name, None, None, None, redact(text))


def _note_comments_left(sheet: str, n: int, lang: str) -> Finding:
    return Finding(ERROR, "pii-in-text", sheet, None, None, None, _t("comments-left", lang, n=n))


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
        rule = field_name if spec.check in (NAME, CONTACT) else _t("free-text", lang)
        text = _t(
            "second-column", lang, label=label, field=field_name, first_col=first_col, rule=rule
        )
    else:
        text = _t("unknown-column", lang, label=label)
    return Finding(WARNING, code, sheet.sheet, cell, sheet.header_row, label, text)


_TEXT: dict[str, dict[str, str]] = {
    "column-letter": {"zh": "{letter} 列", "en": "column {letter}"},
    "label-and-column": {"zh": "{label}（{letter} 列）", "en": "{label} (column {letter})"},
    "above-header": {"zh": "表头及以上各行", "en": "rows above the header"},
    "place-book-names": {"zh": "工作表名称或区域名称", "en": "sheet or range names"},
    "place-sheet-names": {"zh": "工作表名称", "en": "sheet names"},
    "header-footer": {"zh": "页眉页脚", "en": "header/footer"},
    "conditional-formats": {"zh": "条件格式", "en": "conditional formats"},
    "data-validation": {"zh": "数据验证（下拉列表）", "en": "data validation lists"},
    "place-of-sheet": {"zh": "工作表“{sheet}”的{label}", "en": '{label} of sheet "{sheet}"'},
    "pii-in-place": {"zh": "{place}中有个人信息", "en": "personal data in {place}"},
    "note-separator": {"zh": "；", "en": "; "},
    "refusal": {
        "zh": "{name}：记录表单元格以外还有个人信息（{where}），无法在副本中脱敏，未写出副本："
        "请手动删除或脱敏后重新运行",
        "en": "{name}: personal data outside the record sheet's cells ({where}) cannot be "
        "masked in a copy: no copy written; delete or mask it by hand and run again",
    },
    "a-name": {"zh": "姓名", "en": "a name"},
    "kind-separator": {"zh": "、", "en": ", "},
    "kind-count": {"zh": "{kind} {n} 处", "en": "{n} × {kind}"},
    "other-sheet": {
        "zh": "工作表“{name}”中有未脱敏的个人信息（{kinds}）：本命令只脱敏记录表，请手动删除或脱敏",
        "en": 'sheet "{name}" holds personal data ({kinds}) that was not masked: '
        "only the record sheet is masked; remove or mask it by hand",
    },
    "comments-left": {
        "zh": "批注中有 {n} 处手机号/邮箱未脱敏：请手动修改",
        "en": "{n} cell comment(s) still hold a phone number or email: edit them by hand",
    },
    "free-text": {"zh": "自由文本", "en": "free text"},
    "second-column": {
        "zh": "“{label}”是第二个“{field}”列（第一个在 {first_col} 列），按{rule}规则脱敏：每个字段请只保留一列",
        "en": '"{label}" is a second "{field}" column (the first is column {first_col}); '
        "masked by the {rule} rule: keep one column per field",
    },
    "unknown-column": {
        "zh": "表头“{label}”不是本表单的字段：其中的手机号、邮箱、身份证号按自由文本脱敏",
        "en": 'header "{label}" is not a field of this form; phones, emails and ID numbers in '
        "it are masked as free text",
    },
}


def _t(key: str, lang: str, **params: Any) -> str:
    return localise(_TEXT, key, lang, **params)
