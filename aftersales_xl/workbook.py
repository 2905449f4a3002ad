"""Read a submitted workbook: open it safely, find the form's sheet and header row, yield raw values.

Every spreadsheet quirk the reader handles is named where it is handled:

* the file is inspected by :mod:`aftersales_xl.safety` before any parser runs (format from the
  first bytes, zip-bomb limits, no DOCTYPE, no giant used range or merged area);
* values come from python-calamine (fast), padded from A1 (``skip_empty_area=False``) so the
  row and column numbers we report are the physical ones a person sees;
* the sheet is the one the template marker names, else the one whose header matches best;
* the header row may sit under title rows (searched in the first :data:`HEADER_SEARCH_ROWS`);
* headers match tolerantly (:func:`aftersales_xl.forms.normalise_label`);
* blank and formatted-but-empty rows are not records;
* hidden rows holding data, hidden sheets holding data, formulas with no cached value are
  reported (``hidden-data``, ``formula-no-value``), never silently read as blanks.

Values are *raw* here (str, float, int, bool, datetime, date, time, ``None``); turning what staff
typed into typed values is :mod:`aftersales_xl.coerce`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine as pc
from openpyxl.utils import column_index_from_string, get_column_letter

from .config import Policy
from .errors import UnreadableError
from .findings import Finding, make_finding
from .forms import FormSpec, normalise_label
from .safety import Inspection, inspect
from .template import INSTRUCTIONS_SHEET, LISTS_SHEET

HEADER_SEARCH_ROWS = 30
MIN_HEADER_MATCHES = 4


@dataclass
class FormSheet:
    """The form's table as found in one workbook."""

    path: Path
    kind: str  # xlsx | xlsm | xls | ods
    sheet: str
    part: str | None  # zip member of the sheet (xlsx/xlsm), for cell patching
    header_row: int  # 1-based physical row of the header
    columns: dict[str, int]  # field key -> 0-based physical column index
    labels: dict[str, str]  # field key -> header text as found in the file
    frame: pd.DataFrame  # index: physical Excel row numbers; columns: field keys; raw values
    inspection: Inspection
    hidden_rows: frozenset[int] = field(default_factory=frozenset)

    @property
    def date1904(self) -> bool:
        return self.inspection.date1904

    def cell(self, key: str, row: int) -> str:
        """The A1 reference of field ``key`` at physical ``row`` (``"J6"``)."""
        return f"{get_column_letter(self.columns[key] + 1)}{row}"

    def label(self, key: str, form: FormSpec, lang: str = "zh") -> str:
        """The column name shown in findings: the file's own header text (or the spec's)."""
        if lang == "en":
            return form.field(key).label_en
        return self.labels.get(key) or form.field(key).label


def _open(path: Path, lang: str) -> pc.CalamineWorkbook:
    """Open with python-calamine, turning its errors into one plain-language UnreadableError."""
    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except pc.PasswordError:
        msg = {"zh": f"{path.name} 设有打开密码：请在 Excel 中取消密码后另存为 .xlsx 再提交",
               "en": f"{path.name} is password-protected: remove the password in Excel, save as .xlsx and resubmit"}
        raise UnreadableError(str(path), "encrypted", msg.get(lang, msg["zh"])) from None
    except Exception:  # calamine raises several types (ZipError, XmlError, CalamineError...)
        msg = {"zh": f"{path.name} 已损坏或不是 Excel 工作簿：请在 Excel 中打开并另存为 .xlsx 后重新提交",
               "en": f"{path.name} is damaged or not an Excel workbook: open it in Excel, save as .xlsx and resubmit"}
        raise UnreadableError(str(path), "corrupt", msg.get(lang, msg["zh"])) from None


def _head(book: pc.CalamineWorkbook, name: str, path: Path, lang: str) -> tuple[pc.CalamineSheet, list[list]]:
    """Parse sheet ``name``; return it with its first :data:`HEADER_SEARCH_ROWS` rows, padded from A1."""
    try:
        sheet = book.get_sheet_by_name(name)
        return sheet, sheet.to_python(skip_empty_area=False, nrows=HEADER_SEARCH_ROWS)
    except Exception:
        raise _sheet_error(path, name, lang) from None


def _sheet_error(path: Path, name: str, lang: str) -> UnreadableError:
    msg = {"zh": f"{path.name} 的工作表“{name}”无法读取：请在 Excel 中打开并另存为 .xlsx",
           "en": f'{path.name}: sheet "{name}" cannot be read: open it in Excel and save as .xlsx'}
    return UnreadableError(str(path), "corrupt", msg.get(lang, msg["zh"]))


def _body(sheet: pc.CalamineSheet, skip: int, width: int) -> np.ndarray:
    """Rows ``skip`` onwards of a parsed sheet as one ``width``-column object array, padded from A1.

    The same values as ``sheet.to_python(skip_empty_area=False)[skip:]`` (empty cells ``""``),
    built row by row from :meth:`~python_calamine.CalamineSheet.iter_rows` so that no list of
    lists is held: faster, and half the memory. ``iter_rows`` pads the rows above the used area
    but not the columns left of it, so each row goes in from the used area's first column.
    """
    start, end = sheet.start, sheet.end
    if start is None or end is None:  # an empty sheet (iter_rows cannot start one)
        return np.empty((0, width), dtype=object)
    grid = np.empty((max(end[0] + 1 - skip, 0), width), dtype=object)
    first_col = start[1]
    try:
        if first_col:
            grid[:, :first_col] = ""
        target = grid[:, first_col:]
        rows = sheet.iter_rows()
        for _ in range(skip):
            next(rows)
        count = 0
        for count, row in enumerate(rows, 1):
            target[count - 1] = row
        return grid[:count]
    except (ValueError, IndexError, StopIteration):  # not the rectangle expected: the plain way
        body = sheet.to_python(skip_empty_area=False)[skip:]
        grid = np.empty((len(body), width), dtype=object)
        if not body:
            return grid
        try:
            grid[:] = body
        except ValueError:  # ragged rows: pad them
            grid = np.array([list(r[:width]) + [""] * (width - len(r)) for r in body], dtype=object)
        return grid


def find_header(rows: list[list], form: FormSpec) -> tuple[int, dict[str, int]] | None:
    """The 0-based index of the row that best matches the form's headers, with its column map."""
    best: tuple[int, dict[str, int]] | None = None
    for idx, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = form.match_headers(row)
        if len(found) >= MIN_HEADER_MATCHES and (best is None or len(found) > len(best[1])):
            best = (idx, found)
    return best


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_form(
    path: str | Path,
    form: FormSpec,
    policy: Policy,
    lang: str = "zh",
) -> tuple[FormSheet, list[Finding]]:
    """Find and read the form's table in ``path``.

    Returns the sheet and the structural findings (missing/unknown columns, hidden data,
    formulas without values). Raises :class:`UnreadableError` when the file cannot be read
    at all or holds no sheet that looks like the form.
    """
    path = Path(path)
    if not path.is_file():
        msg = {"zh": f"{path}: 找不到文件：请检查路径和文件名", "en": f"{path}: file not found: check the path and name"}
        raise UnreadableError(str(path), "missing", msg.get(lang, msg["zh"]))
    insp = inspect(path, policy.limits, lang)
    book = _open(path, lang)
    findings: list[Finding] = []
    try:
        # the template's own helper sheets (instructions repeat the headers) are never records;
        # the template's record sheet name first, then visible sheets, in workbook order
        skip = {normalise_label(n) for n in (*INSTRUCTIONS_SHEET.values(), LISTS_SHEET)}
        metas = [m for m in book.sheets_metadata
                 if str(m.typ).endswith("WorkSheet") and normalise_label(m.name) not in skip]
        wanted = {normalise_label(form.sheet), normalise_label(form.sheet_en)}
        metas.sort(key=lambda m: (normalise_label(m.name) not in wanted, not str(m.visible).endswith("Visible")))
        names = [m.name for m in metas]
        order = names
        chosen: tuple[str, pc.CalamineSheet, list[list], int, dict[str, int]] | None = None
        for name in order:
            parsed, rows = _head(book, name, path, lang)
            hit = find_header(rows, form)
            if hit and (chosen is None or len(hit[1]) > len(chosen[4])):
                chosen = (name, parsed, rows, hit[0], hit[1])
                if len(hit[1]) == len(form.fields):
                    break
    finally:
        book.close()
    if chosen is None:
        msg = {"zh": f"{path.name} 中找不到{form.title}的表头：请使用模板 templates/record_form.xlsx 的表头（问题编号、客户名称/编号……）",
               "en": f"{path.name}: no sheet has the {form.title_en} headers; use the headers of templates/record_form.xlsx"}
        raise UnreadableError(str(path), "no-form", msg.get(lang, msg["zh"]))
    name, parsed, rows, header_idx, columns = chosen
    scan = insp.sheet(name)
    header_row = header_idx + 1
    header = rows[header_idx]
    labels = {k: str(header[c]).strip() for k, c in columns.items()}

    # -- structural findings -------------------------------------------------------------------
    for f in form.fields:
        if f.key not in columns and f.required in ("yes", "unless-pending", "when-done"):
            findings.append(make_finding("missing-column", lang, sheet=name, row=header_row,
                                         label=f.title(lang)))
    mapped = set(columns.values())
    for c, value in enumerate(header):
        if c not in mapped and not _is_blank(value):
            findings.append(make_finding("unknown-column", lang, sheet=name,
                                         cell=f"{get_column_letter(c + 1)}{header_row}",
                                         row=header_row, column=str(value).strip(),
                                         label=str(value).strip()))

    # -- records: one column per field; rows blank in every field are not records --------------
    try:
        grid = _body(parsed, header_idx + 1, len(header))
    except Exception:
        raise _sheet_error(path, name, lang) from None
    keys = list(columns)
    positions = list(columns.values())
    # the form's columns side by side (no copy when they are the sheet's columns in order)
    values = grid if positions == list(range(grid.shape[1])) else grid[:, positions]
    empty = values == ""
    if empty.any():
        values[empty] = None  # blank cells are None from here on
    keep = ~empty.all(axis=1) if keys else np.zeros(len(values), dtype=bool)
    index = np.arange(header_row + 1, header_row + 1 + len(values))
    if not keep.all():
        index = index[keep]
        values = values[keep]
    frame = pd.DataFrame(values, index=pd.Index(index, name="row"), columns=keys, dtype=object, copy=False)

    hidden = frozenset()
    if scan is not None:
        hidden = frozenset(r for r in scan.hidden_rows if r in frame.index)
        first_key = next(iter(columns), None)
        for r in sorted(hidden):
            findings.append(make_finding(
                "hidden-data", lang, sheet=name, row=r,
                cell=f"{get_column_letter(columns[first_key] + 1)}{r}" if first_key else None,
                detail=("该行被隐藏但有数据，已照常校验：请取消隐藏并确认是否应提交" if lang != "en"
                        else "this row is hidden but holds data; it was checked as usual: unhide it and confirm it belongs"),
            ))
        col_to_key = {c: k for k, c in columns.items()}
        for ref in scan.formula_no_value:
            col_letters = "".join(ch for ch in ref if ch.isalpha())
            r = int(ref[len(col_letters):])
            k = col_to_key.get(column_index_from_string(col_letters) - 1)
            if k is not None and r > header_row:
                findings.append(make_finding("formula-no-value", lang, sheet=name, cell=ref, row=r,
                                             column=labels[k] if lang != "en" else form.field(k).label_en))
    for s in insp.sheets:
        if s.state != "visible" and s.max_row > 0 and s.name != name:
            findings.append(make_finding(
                "hidden-data", lang, sheet=s.name,
                detail=(f"工作表“{s.name}”被隐藏但有数据，未读取：如其中有记录，请取消隐藏并移到“{form.sheet}”"
                        if lang != "en" else
                        f'sheet "{s.name}" is hidden but holds data and was not read: if it has records, unhide them and move them to "{form.sheet}"'),
            ))

    sheet = FormSheet(path=path, kind=insp.kind, sheet=name, part=scan.part if scan else None,
                      header_row=header_row, columns=columns, labels=labels, frame=frame,
                      inspection=insp, hidden_rows=hidden)
    return sheet, findings


def expand_paths(args: list[str | Path]) -> list[Path]:
    """Files as given; folders → every workbook in them (sorted), skipping ``~$`` lock files
    and hidden files, and xlcheck's own outputs (``*.checked.xlsx``, ``*.bak-…`` backups).
    Unknown extensions inside folders are skipped; named files are kept
    (their format is judged from their bytes)."""
    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.name.startswith(("~$", ".")) or not child.is_file():
                    continue
                if child.suffix.lower() in WORKBOOK_SUFFIXES and not _OUR_OUTPUT.search(child.name):
                    out.append(child)
        else:
            out.append(p)
    return out


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
#: files xlcheck itself writes next to submissions: annotated copies and backups
_OUR_OUTPUT = re.compile(r"\.checked\.|\.bak-\d{8}-\d{6}")
