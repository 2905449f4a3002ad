"""Annotated copies of checked workbooks: ``NAME.checked.xlsx`` with flagged cells marked.

``xlcheck validate --annotate DIR`` calls :func:`write_annotated`. The copy keeps the
original sheets, values and formatting; every flagged cell gets a fill (errors light red,
warnings light yellow) and a comment with its message(s); a front sheet ``校验结果``
("Check results") lists every finding with a link to its cell. The original file is
never written to.

The whole copy is redacted, not only the form's table (:func:`redact_workbook`): every
text cell of every sheet (hidden ones too), phones stored as numbers, comments, hyperlinks,
sheet names, headers/footers, drop-down messages, defined names and the document
properties. Annotating an annotated copy again first removes the earlier run's marks
(:func:`remove_old_marks`).

Input kinds and their quirks, each handled in one place:

- ``.xlsx``/``.xltx``: openpyxl, normal mode (rich text kept); saved as ``.xlsx``.
- ``.xlsm``/``.xltm``: openpyxl *without* ``keep_vba``; saved as ``.xlsx`` so macros are
  dropped (see :func:`not_carried_over`).
- ``.xls``/``.xlsb``/``.ods``: openpyxl cannot read them; a new workbook is built from the
  values python-calamine reads (:func:`read_values`), each value at its original A1 cell.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from ..errors import UnreadableError, WriteError
from ..findings import ERROR, WARNING, Finding
from ..pii import cell_text, link_has_pii, redact
from .fileio import atomic_output

OPENPYXL_KINDS = ("xlsx", "xlsm", "xltx", "xltm")
VALUE_ONLY_KINDS = ("xls", "xlsb", "ods")

CHECKED_SUFFIX = ".checked"
COMMENT_AUTHOR = "xlcheck"
COMMENT_SEPARATOR = "—— xlcheck ——"
#: masks personal data in sheet names ("*" is not allowed in a sheet name)
TITLE_MASK_CHAR = "＊"

FILLS = {
    ERROR: PatternFill(fill_type="solid", start_color="FFC7CE", end_color="FFC7CE"),
    WARNING: PatternFill(fill_type="solid", start_color="FFEB9C", end_color="FFEB9C"),
}

MAX_ROW, MAX_COL = 1_048_576, 16_384

LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "sheet": "校验结果",
        "headers": ("严重程度", "单元格", "列", "代码", "说明"),
        "severity": {ERROR: "错误", WARNING: "警告"},
        "summary": "文件：{name}　错误 {errors} 项　警告 {warnings} 项　检查时间：{at}",
        "row": "{sheet} 第 {row} 行",
        "whole_file": "（整个文件）",
        "overwrite": "批注副本 {target} 会覆盖原文件：请为 --annotate 指定另一个文件夹",
        "masked_note": "（本副本中已脱敏显示；请在原表中按上述要求修改）",
        "unreadable": "无法为 {name} 生成批注副本：文件无法读取（{why}）",
        "cannot_write": "无法写入批注副本 {target}：{why}（原文件未改动）",
        "unsupported": "无法为 {name} 生成批注副本：不支持的文件类型“{kind}”",
        "renamed": "批注副本另存为 {name}：{taken} 已是另一个输入文件（{other}）的批注副本",
    },
    "en": {
        "sheet": "Check results",
        "headers": ("Severity", "Cell", "Column", "Code", "Message"),
        "severity": {ERROR: "Error", WARNING: "Warning"},
        "summary": "File: {name} — {errors} errors, {warnings} warnings — checked at {at}",
        "row": "{sheet} row {row}",
        "whole_file": "(whole file)",
        "masked_note": "(shown masked in this copy; fix it in your original as described)",
        "overwrite": "the annotated copy {target} would overwrite the original: "
        "give --annotate another folder",
        "unreadable": "cannot annotate {name}: the file could not be read ({why})",
        "cannot_write": "cannot write the annotated copy {target}: {why} (the original is untouched)",
        "unsupported": 'cannot annotate {name}: unsupported file type "{kind}"',
        "renamed": "the annotated copy is saved as {name}: {taken} is the copy of another "
        "input ({other})",
    },
}

# What an annotated copy may lose, by key; see not_carried_over().
LOSSES: dict[str, dict[str, str]] = {
    "macros": {"zh": "宏（VBA）", "en": "macros (VBA)"},
    "pictures": {"zh": "图片", "en": "pictures"},
    "shapes": {"zh": "形状和文本框", "en": "shapes and text boxes"},
    "controls": {"zh": "表单控件（按钮、复选框等）", "en": "form controls (buttons, check boxes)"},
    "slicers": {"zh": "切片器和日程表", "en": "slicers and timelines"},
    "extensions": {
        "zh": "Excel 2010 及以上的工作表扩展（如引用其他工作表的下拉列表、数据条、迷你图）",
        "en": "Excel 2010+ sheet extensions (e.g. drop-downs that refer to another sheet, "
        "data bars, sparklines)",
    },
    "formatting": {
        "zh": "格式（字体、填充、边框、数字格式、列宽、行高、条件格式）",
        "en": "formatting (fonts, fills, borders, number formats, widths, heights, "
        "conditional formats)",
    },
    "formulas": {"zh": "公式（只保留计算结果）", "en": "formulas (only their results are kept)"},
    "comments": {"zh": "原有批注", "en": "existing comments"},
    "validation": {"zh": "数据验证（下拉列表）", "en": "data validation (drop-downs)"},
    "charts": {"zh": "图表、图片和形状", "en": "charts, pictures and shapes"},
    "hidden": {
        "zh": "行列的隐藏、分组和冻结窗格",
        "en": "hidden or grouped rows and columns, frozen panes",
    },
    "merged": {"zh": "合并单元格", "en": "merged cells"},
    "names": {"zh": "定义的名称和打印设置", "en": "defined names and print settings"},
}

_VALUE_ONLY_LOSSES = (
    "macros",
    "formatting",
    "formulas",
    "comments",
    "validation",
    "charts",
    "hidden",
    "names",
)


@dataclass(frozen=True)
class SheetValues:
    """The values of one sheet as read from a workbook openpyxl cannot open.

    ``rows[0][0]`` sits at the physical cell (``first_row``, ``first_col``), both 1-based,
    so values land at the A1 coordinates a person saw. ``merged`` holds A1 ranges.
    """

    name: str
    rows: list[list[Any]]
    first_row: int = 1
    first_col: int = 1
    hidden: bool = False
    merged: tuple[str, ...] = ()


def input_kind(src: Path) -> str:
    """The input kind of a workbook path: its lower-case suffix without the dot (``xlsx``)."""
    return Path(src).suffix.lower().lstrip(".")


def annotated_name(src: Path, number: int = 1) -> str:
    """The file name of the annotated copy: ``周报.xlsx`` → ``周报.checked.xlsx``.

    Every input kind becomes ``.xlsx`` (``a.xls``/``a.xlsm``/``a.ods`` → ``a.checked.xlsx``);
    an already checked copy keeps its name (``a.checked.xlsx`` → ``a.checked.xlsx``), so
    annotating it beside itself is refused rather than piling up suffixes. ``number`` > 1
    names the copy of a later input whose name clashes: ``a (2).checked.xlsx``. A phone
    number or email in the name is masked (``张先生＊＊＊＊5678.checked.xlsx``).
    """
    stem = Path(src).stem
    if stem.lower().endswith(CHECKED_SUFFIX):
        stem = stem[: -len(CHECKED_SUFFIX)]
    if number > 1:
        stem += f" ({number})"
    # a file name is output too: a phone or email in it is masked (＊: * is not allowed on Windows)
    return redact(stem + CHECKED_SUFFIX + ".xlsx", "＊")


def not_carried_over(kind: str, lang: str = "zh", src: Path | None = None) -> list[str]:
    """What an annotated copy of an input of ``kind`` does not keep, as labels in ``lang``.

    ``.xls``/``.xlsb``/``.ods`` copies are rebuilt from values, so macros, formatting,
    formulas, comments, validation, drawings and layout are all lost (``.ods`` merges too).
    ``.xlsm`` loses its macros. For ``.xlsx``/``.xlsm`` pass ``src`` to also name what
    openpyxl drops and the file actually contains (pictures without Pillow, shapes, form
    controls, slicers, Excel 2010+ sheet extensions); without ``src`` only the certain
    losses are listed.
    """
    kind = kind.lower().lstrip(".")
    lang = lang if lang in LABELS else "zh"
    if kind in VALUE_ONLY_KINDS:
        keys = list(_VALUE_ONLY_LOSSES)
        if kind == "ods":
            keys.append("merged")
    else:
        keys = ["macros"] if kind in ("xlsm", "xltm") else []
        if src is not None and kind in OPENPYXL_KINDS:
            keys += [k for k in _zip_losses(Path(src)) if k not in keys]
    return [LOSSES[k][lang] for k in keys]


def _zip_losses(src: Path) -> list[str]:
    """Features present in an OOXML package that a load/save through openpyxl drops."""
    try:
        with zipfile.ZipFile(src) as zf:
            names = zf.namelist()

            def any_contains(prefix: str, needles: tuple[bytes, ...]) -> bool:
                for name in names:
                    if name.startswith(prefix) and name.endswith(".xml"):
                        data = zf.read(name)
                        if any(n in data for n in needles):
                            return True
                return False

            found = {
                "macros": any(n.lower().endswith("vbaproject.bin") for n in names),
                "pictures": find_spec("PIL") is None
                and any(n.startswith("xl/media/") for n in names),
                "shapes": any_contains("xl/drawings/drawing", (b"<xdr:sp>", b"<xdr:sp ")),
                "controls": any(n.startswith("xl/ctrlProps/") for n in names),
                "slicers": any(n.startswith(("xl/slicers/", "xl/timelines/")) for n in names),
                "extensions": any_contains("xl/worksheets/sheet", (b"<extLst", b":extLst")),
            }
    except (OSError, zipfile.BadZipFile, KeyError):
        return []
    return [k for k, present in found.items() if present]


def read_values(src: Path) -> list[SheetValues]:
    """Every worksheet's values via python-calamine, with their physical offsets and merges.

    Chart sheets are skipped; empty sheets are kept, empty. Calamine's errors propagate.
    """
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    with Path(src).open("rb") as fh:  # from the bytes: a renamed .xls is still read as one
        book = CalamineWorkbook.from_filelike(fh)
    sheets: list[SheetValues] = []
    try:
        for meta in book.sheets_metadata:
            if meta.typ not in (SheetTypeEnum.WorkSheet,):
                continue
            sheet = book.get_sheet_by_name(meta.name)
            start = sheet.start or (0, 0)
            try:
                ranges = sheet.merged_cell_ranges or []
            except Exception:  # not every format reports merges (e.g. .xlsb)
                ranges = []
            merged = tuple(
                f"{get_column_letter(c0 + 1)}{r0 + 1}:{get_column_letter(c1 + 1)}{r1 + 1}"
                for (r0, c0), (r1, c1) in ranges
            )
            sheets.append(
                SheetValues(
                    name=meta.name,
                    rows=sheet.to_python() if sheet.start is not None else [],
                    first_row=start[0] + 1,
                    first_col=start[1] + 1,
                    hidden=meta.visible != SheetVisibleEnum.Visible,
                    merged=merged,
                )
            )
    finally:
        book.close()
    return sheets


def write_annotated(
    src: Path,
    findings: Sequence[Finding],
    out_dir: Path,
    *,
    lang: str = "zh",
    checked_at: datetime | None = None,
    fallback_rows: Callable[[Path], Iterable[SheetValues]] | None = None,
    masked: Mapping[tuple[str, str], str] | None = None,
    kind: str | None = None,
    name: str | None = None,
) -> Path:
    """Write ``out_dir/NAME.checked.xlsx``: a copy of ``src`` with the findings marked.

    ``masked`` maps ``(sheet, "A1")`` → masked text: those cells hold the masked text in the
    copy (names, which :func:`~aftersales_xl.pii.redact` cannot find, are masked this way)
    and their comment says so. Everything else is redacted by :func:`redact_workbook`.
    A hyperlink over a masked cell is removed too. Marks of an earlier xlcheck run are
    removed first (:func:`remove_old_marks`).
    ``kind`` is the format sniffed from the file's bytes (default: from its extension);
    ``name`` the copy's file name (default :func:`annotated_name`).

    Flagged cells get the severity fill and a comment (kept after any existing comment);
    the first, active sheet lists every finding with a link to its cell. ``fallback_rows``
    reads ``.xls``/``.xlsb``/``.ods`` values (default :func:`read_values`). The copy is
    written to a temp file in ``out_dir`` and moved into place. Returns the path written.

    Raises :class:`WriteError` if the copy would replace ``src`` or cannot be written,
    :class:`UnreadableError` if ``src`` cannot be read.
    """
    src, out_dir = Path(src), Path(out_dir)
    text = LABELS.get(lang, LABELS["zh"])
    target = out_dir / (name or annotated_name(src))
    if _same_file(src, target):
        raise WriteError(text["overwrite"].format(target=redact(str(target))))

    kind = kind or input_kind(src)
    if kind in OPENPYXL_KINDS:
        wb = _load_openpyxl(src, text)
        titles = {ws.title: ws.title for ws in wb.worksheets}
    elif kind in VALUE_ONLY_KINDS:
        try:
            sheets = list((fallback_rows or read_values)(src))
        except Exception as e:  # calamine raises several unrelated types
            raise UnreadableError(
                str(src),
                "unreadable",
                text["unreadable"].format(name=redact(src.name), why=type(e).__name__),
            ) from e
        wb, titles = _build_from_values(sheets)
    else:
        raise UnreadableError(
            str(src), "not-a-workbook", text["unsupported"].format(name=redact(src.name), kind=kind)
        )

    remove_old_marks(wb)
    if masked:
        _apply_masks(wb, titles, masked)
    redact_workbook(wb, titles, masked or {})
    _mark_cells(wb, findings, titles, lang, masked_cells=set(masked or ()))
    _add_results_sheet(wb, findings, titles, src.name, lang, checked_at or datetime.now())
    _save_atomically(wb, target, text)
    return target


def _same_file(src: Path, target: Path) -> bool:
    if target.resolve() == src.resolve():
        return True
    try:
        return target.exists() and os.path.samefile(src, target)
    except OSError:
        return False


def _load_openpyxl(src: Path, text: dict[str, Any]) -> Workbook:
    """Load for editing; unsupported-extension warnings are expected (see not_carried_over)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Path(src).open("rb") as fh:  # a file object: openpyxl then ignores the extension
                wb = load_workbook(fh, rich_text=True)
    except Exception as e:  # openpyxl raises many unrelated types on damaged files
        raise UnreadableError(
            str(src),
            "unreadable",
            text["unreadable"].format(name=redact(src.name), why=type(e).__name__),
        ) from e
    wb.template = False
    return wb


def _build_from_values(sheets: Iterable[SheetValues]) -> tuple[Workbook, dict[str, str]]:
    """A new workbook holding each sheet's values at their original A1 coordinates.

    Returns the workbook and a map from original sheet name to the title used (titles
    are only changed when Excel forbids the original).
    """
    wb = Workbook()
    wb.remove(wb.active)
    titles: dict[str, str] = {}
    for sv in sheets:
        title = _safe_title(sv.name, set(titles.values()))
        titles[sv.name] = title
        ws = wb.create_sheet(title)
        for r, row in enumerate(sv.rows, start=sv.first_row):
            for c, value in enumerate(row, start=sv.first_col):
                if value is None or value == "":
                    continue
                _put(ws.cell(row=r, column=c), value)
        for rng in sv.merged:
            with contextlib.suppress(ValueError):
                ws.merge_cells(rng)
        if sv.hidden:
            ws.sheet_state = "hidden"
    if not wb.worksheets:
        wb.create_sheet("Sheet1")
    return wb, titles


def _safe_title(name: str, taken: set[str]) -> str:
    title = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip("'")[:31] or "Sheet"
    base, n = title, 2
    while title in taken:
        title = f"{base[:27]} ({n})"
        n += 1
    return title


def _put(cell: Cell, value: Any) -> None:
    """Set a value as data: dates keep a date format, text never becomes a formula."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = value
    if cell.data_type == "f":  # text such as "=SUM(A1)" read as a value stays text
        cell.data_type = "s"
    if isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm:ss" if value.second else "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, time):
        cell.number_format = "hh:mm:ss"
    elif isinstance(value, timedelta):
        cell.number_format = "[h]:mm:ss"


def _target_cell(ws: Worksheet, cell: str | None) -> Cell | None:
    """The writable cell a finding's A1 reference points at (a merged area's top-left)."""
    if not cell:
        return None
    try:
        row, col = coordinate_to_tuple(cell.replace("$", "").upper())
    except (ValueError, TypeError):
        return None
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        return None
    found = ws.cell(row=row, column=col)
    if isinstance(found, MergedCell):
        for rng in ws.merged_cells.ranges:
            if found.coordinate in rng:
                return ws.cell(row=rng.min_row, column=rng.min_col)
    return found


def _apply_masks(
    wb: Workbook, titles: dict[str, str], masked: Mapping[tuple[str, str], str]
) -> None:
    """Put the masked text into the copy's cells (style kept; stored as text)."""
    for (sheet, ref), text in masked.items():
        ws = _worksheet(wb, titles, sheet)
        target = _target_cell(ws, ref) if ws is not None else None
        if target is not None:
            target.value = text
            target.data_type = "s"


def remove_old_marks(wb: Workbook) -> None:
    """Remove what an earlier xlcheck run added, so a corrected annotated copy can be
    annotated afresh: its results sheets, its part of each comment (the text after
    :data:`COMMENT_SEPARATOR`; a whole comment authored :data:`COMMENT_AUTHOR` that starts
    with a severity tag such as ``[错误]``) and its error/warning fills (solid fills of
    exactly the colours of :data:`FILLS`, unless the cell's named style, e.g. Excel's
    "Bad", gives that fill)."""
    for ws in list(wb.worksheets):
        if _is_results_sheet(ws):
            wb.remove(ws)
    ours = {_fill_colour(f) for f in FILLS.values()}
    for ws in wb.worksheets:
        for cell in list(ws._cells.values()):
            note = cell.comment
            if note is not None and COMMENT_SEPARATOR in (note.text or ""):
                kept = note.text.split(COMMENT_SEPARATOR, 1)[0].rstrip()
                cell.comment = Comment(kept, note.author, note.height, note.width) if kept else None
            elif (
                note is not None
                and note.author == COMMENT_AUTHOR
                and (note.text or "").startswith(_OUR_LINES)
            ):
                cell.comment = None
            if cell.has_style and _fill_colour(cell.fill) in ours and not _style_fill(wb, cell):
                cell.fill = PatternFill()


#: how a comment xlcheck wrote starts: a severity tag (``[错误] …``) or the masked note
_OUR_LINES = tuple(
    {f"[{label}]" for labels in LABELS.values() for label in labels["severity"].values()}
    | {labels["masked_note"] for labels in LABELS.values()}
)


def _is_results_sheet(ws: Worksheet) -> bool:
    """Whether ``ws`` is a results sheet xlcheck made: its title and its header row."""
    base = re.sub(r" \(\d+\)$", "", ws.title)
    if base not in {labels["sheet"] for labels in LABELS.values()}:
        return False
    row = tuple(getattr(ws._cells.get((2, c)), "value", None) for c in range(1, 6))
    return row in {labels["headers"] for labels in LABELS.values()}


def _fill_colour(fill: Any) -> str | None:
    """The RGB colour of a solid fill (``"FFC7CE"``, alpha ignored), else None."""
    colour = fill.fgColor
    if fill.fill_type != "solid" or colour is None or colour.type != "rgb":
        return None
    return str(colour.rgb)[-6:].upper()


def _style_fill(wb: Workbook, cell: Cell) -> bool:
    """Whether the cell's named style (e.g. Excel's "Bad") gives it its fill colour."""
    try:
        named = wb._named_styles[cell._style.xfId]
    except (IndexError, AttributeError):
        return False
    return _fill_colour(named.fill) == _fill_colour(cell.fill)


def redact_workbook(
    wb: Workbook, titles: dict[str, str], masked: Mapping[tuple[str, str], str]
) -> None:
    """Mask every phone, email and ID number left in ``wb`` (:func:`~aftersales_xl.pii.redact`).

    Covers every sheet: text and rich-text cells, formulas (one that still holds personal
    data after redaction becomes its redacted text), phones stored as numbers (→ masked
    text), comments and their authors, headers/footers, drop-down messages, table column
    names; sheet names (masked with :data:`TITLE_MASK_CHAR`; ``titles`` and references in
    formulas and defined names follow), defined names and the document properties.
    Hyperlinks over masked cells or pointing at personal data are removed.
    """
    renamed = _redact_titles(wb)
    for original, title in titles.items():
        titles[original] = renamed.get(title, title)
    over_masked = {
        (titles.get(sheet, sheet), ref.replace("$", "").upper()) for sheet, ref in masked
    }
    for ws in wb.worksheets:
        for cell in list(ws._cells.values()):  # only the cells the file holds (no new ones)
            _redact_cell(cell, renamed)
            link = cell.hyperlink
            if link is not None and (
                (ws.title, cell.coordinate) in over_masked
                or link_has_pii(link.target, link.location, link.display, link.tooltip)
            ):
                cell.hyperlink = None
            note = cell.comment
            if note is not None:
                text = redact(note.text or "")
                author = redact(note.author) if note.author else COMMENT_AUTHOR
                if (text, author) != (note.text or "", note.author or COMMENT_AUTHOR):
                    cell.comment = Comment(text, author, height=note.height, width=note.width)
        _redact_sheet_texts(ws, renamed)
    for names in [wb.defined_names] + [ws.defined_names for ws in wb.worksheets]:
        for defined in names.values():
            if isinstance(defined.attr_text, str):
                defined.attr_text = redact(_retitle(defined.attr_text, renamed))
    _redact_properties(wb)


def _redact_titles(wb: Workbook) -> dict[str, str]:
    """Mask personal data in sheet names; returns old title → new title for those renamed."""
    renamed: dict[str, str] = {}
    taken = set(wb.sheetnames)
    for sheet in wb.worksheets + wb.chartsheets:
        title = sheet.title
        new = redact(title, TITLE_MASK_CHAR)
        if new != title:
            new = _safe_title(new, taken - {title})
            taken.add(new)
            sheet.title = renamed[title] = new
    return renamed


def _retitle(formula: str, renamed: Mapping[str, str]) -> str:
    """``formula`` with references to renamed sheets pointing at their new names."""
    for old, new in renamed.items():
        formula = formula.replace(old, new)
    return formula


def _redact_cell(cell: Cell, renamed: Mapping[str, str]) -> None:
    """Mask the personal data in one cell's value (its style is kept)."""
    value = cell.value
    if isinstance(value, CellRichText):
        plain = str(value)
        if redact(plain) != plain:
            runs = [
                TextBlock(run.font, redact(run.text)) if isinstance(run, TextBlock) else redact(run)
                for run in value
            ]
            joined = "".join(str(run) for run in runs)  # a phone split across runs: plain text
            cell.value = CellRichText(runs) if redact(joined) == joined else redact(plain)
    elif isinstance(value, ArrayFormula):
        text = _retitle(value.text or "", renamed)
        value.text = text
        if redact(text) != text:
            _put(cell, redact(text))
    elif isinstance(value, str):
        text = _retitle(value, renamed) if cell.data_type == "f" else value
        if redact(text) != text:
            _put(cell, redact(text))  # a formula with personal data becomes its text
        elif text != value:
            cell.value = text
    elif isinstance(value, int | float) and not isinstance(value, bool):
        digits = cell_text(value)
        if digits and redact(digits) != digits:  # a phone stored as a number
            _put(cell, redact(digits))
    _cut_to_excel_limit(cell)


#: the most characters an Excel cell holds
EXCEL_CELL_MAX = 32_767


def _cut_to_excel_limit(cell: Cell) -> None:
    """Text over Excel's 32,767 characters is cut (Excel would refuse or repair the copy),
    and a comment on the cell says how long it was and that the submission keeps it whole."""
    value = cell.value
    if not isinstance(value, str | CellRichText) or cell.data_type == "f":
        return
    length = len(str(value))
    if length <= EXCEL_CELL_MAX:
        return
    cell.value = str(value)[:EXCEL_CELL_MAX]
    note = (
        f"此单元格原有 {length:,} 个字符，超过 Excel 上限 32,767：副本中多出的部分已截去，"
        "提交文件中仍完整"
        f"\n(this cell had {length:,} characters, over Excel's 32,767: the rest is cut here)"
    )
    old = cell.comment.text + "\n\n" if cell.comment is not None else ""
    cell.comment = Comment(old + note, "xlcheck")


def _redact_sheet_texts(ws: Worksheet, renamed: Mapping[str, str]) -> None:
    """Headers and footers, drop-down messages and lists, table column names, conditional
    format rules and filter values."""
    hf = ws.HeaderFooter
    for part in (
        hf.oddHeader, hf.oddFooter, hf.evenHeader, hf.evenFooter, hf.firstHeader, hf.firstFooter
    ):  # fmt: skip
        for side in (part.left, part.center, part.right):
            if side.text:
                side.text = redact(side.text)
    for dv in ws.data_validations.dataValidation:
        for attr in ("prompt", "promptTitle", "error", "errorTitle"):
            if getattr(dv, attr):
                setattr(dv, attr, redact(getattr(dv, attr)))
        for attr in ("formula1", "formula2"):
            if getattr(dv, attr):
                setattr(dv, attr, redact(_retitle(getattr(dv, attr), renamed)))
    for table in ws.tables.values():
        for column in table.tableColumns:
            if column.name:  # must equal its (redacted) header cell
                column.name = redact(column.name)
    for cf in ws.conditional_formatting:  # rule formulas such as A1="13399990000"
        for rule in cf.rules:
            rule.formula = [redact(_retitle(f, renamed)) for f in rule.formula or []]
            if rule.text:
                rule.text = redact(rule.text)
    if ws.auto_filter and ws.auto_filter.filterColumn:
        for column in ws.auto_filter.filterColumn:
            filters = column.filters
            if filters is not None:
                for f in filters.filter or []:
                    if f.val:
                        f.val = redact(f.val)


_CORE_TEXT = (
    "creator",
    "lastModifiedBy",
    "title",
    "subject",
    "description",
    "keywords",
    "category",
    "identifier",
    "contentStatus",
    "version",
    "language",
)


#: core properties that may name a person (a name cannot be told from other words): emptied
_PERSONAL_CORE = (
    "creator",
    "lastModifiedBy",
    "title",
    "subject",
    "description",
    "keywords",
    "category",
)


def _redact_properties(wb: Workbook) -> None:
    """The document properties: those that may name a person (author, last modified by,
    title, subject, comments, keywords, category) and every custom property are emptied, as
    in a masked copy; the rest are redacted."""
    props = wb.properties
    for attr in _CORE_TEXT:
        value = getattr(props, attr, None)
        if isinstance(value, str):
            setattr(props, attr, None if attr in _PERSONAL_CORE else redact(value))
    wb.custom_doc_props.props.clear()


def _mark_cells(
    wb: Workbook,
    findings: Sequence[Finding],
    titles: dict[str, str],
    lang: str,
    masked_cells: set[tuple[str, str]] | None = None,
) -> None:
    """Fill each flagged cell by its worst severity and add one comment with its messages."""
    severity_label = LABELS.get(lang, LABELS["zh"])["severity"]
    masked_refs = {(titles.get(sheet, sheet), ref) for sheet, ref in masked_cells or ()}
    grouped: dict[tuple[str, str], tuple[Cell, list[Finding]]] = {}
    for f in findings:
        ws = _worksheet(wb, titles, f.sheet)
        target = _target_cell(ws, f.cell) if ws is not None else None
        if target is None:
            continue
        key = (ws.title, target.coordinate)
        grouped.setdefault(key, (target, []))[1].append(f)

    for cell, items in grouped.values():
        worst = ERROR if any(f.severity == ERROR for f in items) else WARNING
        cell.fill = FILLS[worst]
        lines: list[str] = []
        for f in items:
            line = f"[{severity_label.get(f.severity, f.severity)}] {f.message}"
            if line not in lines:
                lines.append(line)
        if (cell.parent.title, cell.coordinate) in masked_refs:
            lines.append(LABELS.get(lang, LABELS["zh"])["masked_note"])
        body, author = "\n".join(lines), COMMENT_AUTHOR
        if cell.comment is not None and cell.comment.text:  # kept, with its author
            body = f"{cell.comment.text.rstrip()}\n{COMMENT_SEPARATOR}\n{body}"
            author = cell.comment.author or COMMENT_AUTHOR
        body = ILLEGAL_CHARACTERS_RE.sub("", body)
        width, height = _comment_size(body)
        cell.comment = Comment(body, author, height=height, width=width)


def _worksheet(wb: Workbook, titles: dict[str, str], sheet: str | None) -> Worksheet | None:
    if not sheet:
        return None
    title = titles.get(sheet)
    return wb[title] if title in wb.sheetnames else None


def _display_width(text: str) -> int:
    """Columns the text needs: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _comment_size(body: str, width: int = 320) -> tuple[int, int]:
    """(width, height) in pixels so the comment box shows its text without scrolling."""
    per_line = width // 7  # about 7 px per half-width character in the default font
    lines = sum(max(1, -(-_display_width(line) // per_line)) for line in body.split("\n"))
    return width, min(600, 16 * lines + 14)


def _add_results_sheet(
    wb: Workbook,
    findings: Sequence[Finding],
    titles: dict[str, str],
    file_name: str,
    lang: str,
    checked_at: datetime,
) -> None:
    """Insert the first, active sheet: a summary line, then one row per finding."""
    text = LABELS.get(lang, LABELS["zh"])
    title, n = text["sheet"], 2
    while title in wb.sheetnames:
        title = f"{text['sheet']} ({n})"
        n += 1
    ws = wb.create_sheet(title, 0)

    at = checked_at.strftime("%Y-%m-%d %H:%M:%S" + (" %z" if checked_at.tzinfo else ""))
    errors = sum(1 for f in findings if f.severity == ERROR)
    warnings_ = sum(1 for f in findings if f.severity == WARNING)
    _put(
        ws.cell(row=1, column=1),
        text["summary"].format(name=redact(file_name), errors=errors, warnings=warnings_, at=at),
    )
    ws.cell(row=1, column=1).font = Font(bold=True)

    header_font = Font(bold=True)
    header_fill = PatternFill(fill_type="solid", start_color="D9D9D9", end_color="D9D9D9")
    for col, label in enumerate(text["headers"], start=1):
        cell = ws.cell(row=2, column=col, value=label)
        cell.font, cell.fill = header_font, header_fill

    link_font = Font(color="0563C1", underline="single")
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    widths = [_display_width(label) for label in text["headers"]]
    for r, f in enumerate(findings, start=3):
        where, location = _where(f, wb, titles, text)
        values = (
            text["severity"].get(f.severity, f.severity),
            where,
            f.column or "",
            f.code,
            f.message,
        )
        for col, value in enumerate(values, start=1):
            value = redact(value) if isinstance(value, str) else value
            cell = ws.cell(row=r, column=col)
            _put(cell, value)
            cell.alignment = wrap if col == 5 else top
            widths[col - 1] = max(widths[col - 1], _display_width(str(value)))
        if f.severity in FILLS:
            ws.cell(row=r, column=1).fill = FILLS[f.severity]
        if location:
            cell = ws.cell(row=r, column=2)
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=location, display=where)
            cell.font = link_font

    for col, need in enumerate(widths[:4], start=1):
        ws.column_dimensions[get_column_letter(col)].width = min(max(need + 2, 10), 40)
    ws.column_dimensions["E"].width = min(max(widths[4] + 2, 30), 90)
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:E{max(2, len(findings) + 2)}"

    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = sheet is ws
    wb.active = 0


def _where(
    f: Finding, wb: Workbook, titles: dict[str, str], text: dict[str, Any]
) -> tuple[str, str | None]:
    """The place shown for a finding and its internal link target (``'Sheet'!J6``) if any."""
    ws = _worksheet(wb, titles, f.sheet)
    if f.cell:
        shown = f"{f.sheet}!{f.cell}" if f.sheet else f.cell
        target = _target_cell(ws, f.cell) if ws is not None else None
        link = f"{quote_sheetname(ws.title)}!{f.cell.replace('$', '').upper()}" if target else None
        return shown, link
    if f.row and f.sheet:
        link = (
            f"{quote_sheetname(ws.title)}!A{f.row}" if ws is not None and f.row <= MAX_ROW else None
        )
        return text["row"].format(sheet=f.sheet, row=f.row), link
    return (f.sheet or text["whole_file"]), None


def _save_atomically(wb: Workbook, target: Path, text: dict[str, Any]) -> None:
    """Save to a hidden temp file beside ``target``, then move it into place."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            wb.save(tmp)
    except OSError as e:
        raise WriteError(
            text["cannot_write"].format(
                target=redact(str(target)), why=e.strerror or type(e).__name__
            )
        ) from e
