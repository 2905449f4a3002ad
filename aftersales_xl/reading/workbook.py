"""Read a submitted workbook: open it safely, find the form's sheet and header row, yield raw values.

Every spreadsheet quirk the reader handles is named where it is handled:

* the file is inspected by :mod:`aftersales_xl.reading.safety` before any parser runs (format from the
  first bytes, zip-bomb limits, no DOCTYPE, no giant used range or merged area), then opened
  by :mod:`aftersales_xl.reading.opening`;
* values come from python-calamine (fast), padded from A1 (``skip_empty_area=False``) so the
  row and column numbers we report are the physical ones a person sees;
* the sheet is the one the template marker names, else the one whose header matches best;
* the header row may sit under title rows (searched in the first :data:`HEADER_SEARCH_ROWS`);
* headers match tolerantly (:func:`aftersales_xl.forms.normalise_label`);
* blank and formatted-but-empty rows are not records;
* hidden rows holding data, hidden sheets holding data, formulas with no cached value and
  cells showing an Excel error (``#N/A``) are reported (``hidden-data``, ``formula-no-value``,
  ``error-value``), never silently read as blanks.

Values are *raw* here (str, float, int, bool, datetime, date, time, ``None``); turning what staff
typed into typed values is :mod:`aftersales_xl.coerce`'s job.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import python_calamine as pc
from openpyxl.utils import column_index_from_string, get_column_letter

from ..coerce import CellCodes
from ..config import Policy
from ..errors import UnreadableError
from ..findings import Finding, make_finding
from ..forms import FormSpec, normalise_label
from ..messages import localise
from ..pii import cell_text, kinds_named, pii_kinds, redact
from .marker import read_marker
from .opening import (
    HEADER_SEARCH_ROWS,
    Reading,
    fits,
    head,
    sheet_error,
)
from .safety import Inspection

#: rows copied into the values array at a time (see :func:`_body`)
_BATCH = 256
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
    #: the reader's factorisation of the text and list cells of ``frame`` (for coerce.py)
    cell_codes: CellCodes | None = field(default=None, repr=False, compare=False)

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


def _body(
    sheet: pc.CalamineSheet, skip: int, width: int, coded: list[int] = ()
) -> tuple[np.ndarray, _Coder | None]:
    """Rows ``skip`` onwards of a parsed sheet as one ``width``-column object array, padded from A1,
    and the cells of the columns at positions ``coded`` factorised (None if not done).

    The same values as ``sheet.to_python(skip_empty_area=False)[skip:]`` (empty cells ``""``),
    built a few hundred rows at a time from :meth:`~python_calamine.CalamineSheet.iter_rows` so
    that no list of lists is held: faster, and half the memory. ``iter_rows`` pads the rows above
    the used area but not the columns left of it, so each row goes in from the used area's first
    column. The coded cells are factorised while they are fresh in the CPU cache (see
    :class:`_Coder`), which costs a fraction of doing it later.
    """
    start, end = sheet.start, sheet.end
    if start is None or end is None:  # an empty sheet (iter_rows cannot start one)
        return np.empty((0, width), dtype=object), None
    grid = np.empty((max(end[0] + 1 - skip, 0), width), dtype=object)
    coder = _Coder(len(grid), list(coded)) if coded else None
    first_col = start[1]
    try:
        if first_col:
            grid[:, :first_col] = ""
        target = grid[:, first_col:]
        rows = sheet.iter_rows()
        for _ in range(skip):
            next(rows)
        count = 0
        while batch := list(islice(rows, _BATCH)):  # a few hundred rows per numpy assignment
            target[count : count + len(batch)] = batch
            if coder is not None:
                coder.add(grid, count, count + len(batch))
            count += len(batch)
        if coder is not None:
            coder.codes = coder.codes[:count]
        return grid[:count], coder
    except (ValueError, IndexError, StopIteration):  # not the rectangle expected: the plain way
        body = sheet.to_python(skip_empty_area=False)[skip:]
        grid = np.empty((len(body), width), dtype=object)
        if not body:
            return grid, None
        try:
            grid[:] = body
        except ValueError:  # ragged rows: pad them
            grid = np.array([list(r[:width]) + [""] * (width - len(r)) for r in body], dtype=object)
        return grid, None


class _Coder:
    """Factorises the cells of some columns of the values array, a batch of rows at a time.

    ``codes[i, j]`` is the position in ``values`` of the cell in row ``i``, column
    ``columns[j]`` (equal values share one, as in a ``set``; first seen, first coded). Text cells
    equal to an earlier one are also replaced by that one: the same values, but one object each
    instead of 100,000 copies, so every later pass over these columns touches a handful of
    objects, and the copies are freed while still in the CPU cache.
    """

    def __init__(self, rows: int, columns: list[int]) -> None:
        self.columns = columns
        self.codes = np.empty((rows, len(columns)), dtype=np.int64)
        self.values: list = []
        self._code: dict = {}
        self._shared = np.empty(64, dtype=object)  # values as an array (room to grow)

    def add(self, grid: np.ndarray, start: int, stop: int) -> None:
        block = np.ascontiguousarray(grid[start:stop, self.columns])
        flat = block.reshape(-1)  # a view: what is put into flat is put into block
        local, distinct = pd.factorize(flat)  # calamine gives no blanks; a NaN number is -1
        distinct = distinct.tolist()
        known = list(map(self._code.get, distinct))
        new = np.flatnonzero(
            np.fromiter(map(operator.is_, known, repeat(None)), dtype=bool, count=len(known))
        )
        if len(new):  # values not seen in earlier rows
            first = len(self.values)
            for i in new.tolist():
                known[i] = self._code[distinct[i]] = len(self.values)
                self.values.append(distinct[i])
            if len(self.values) > len(self._shared):
                self._shared = np.resize(self._shared, 2 * len(self.values))
            self._shared[first : len(self.values)] = self.values[first:]
        code = np.array([*known, -1], dtype=np.int64)  # local code -1 (NaN) stays -1
        self.codes[start:stop] = code[local].reshape(block.shape)
        # text is never equal to a value of another type: its cells can share one object
        is_text = np.equal(np.fromiter(map(type, distinct), dtype=object, count=len(distinct)), str)
        text = np.append(is_text, False)[local]
        flat[text] = self._shared[code[local[text]]]
        grid[start:stop, self.columns] = block

    def code_of(self, value: Any) -> int | None:
        """The code of ``value`` (None if no cell holds it)."""
        return self._code.get(value)


def _empty_cells(
    values: np.ndarray,
    keys: list[str],
    coded: list[str],
    codes: np.ndarray | None,
    empty_code: int | None,
) -> np.ndarray:
    """``values == ""``: the empty cells (python-calamine gives ``""`` for them); for the coded
    columns read from their codes rather than by comparing 100,000 objects."""
    if codes is None:
        return values == ""
    empty = np.zeros(values.shape, dtype=bool)
    coded_at = {k: j for j, k in enumerate(coded)}
    for i, key in enumerate(keys):
        if key in coded_at:
            if empty_code is not None:
                np.equal(codes[:, coded_at[key]], empty_code, out=empty[:, i])
        else:
            empty[:, i] = values[:, i] == ""
    return empty


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


def _unmapped_pii(
    grid: np.ndarray, unmapped: Mapping[int, str], header_row: int, sheet: str, lang: str
) -> list[Finding]:
    """``pii-in-text`` warnings for phones, emails and ID numbers in columns that are not
    fields of the form (a second 联系电话, an 邮箱 column): nothing there is checked otherwise,
    and ``xlcheck mask`` masks them as free text."""
    out: list[Finding] = []
    for c, label in unmapped.items():
        if c >= grid.shape[1]:
            continue
        for i, value in enumerate(grid[:, c].tolist()):
            text = cell_text(value)  # a phone stored as a number too
            kinds = pii_kinds(text) if text is not None else []
            if kinds:
                r = header_row + 1 + i
                out.append(
                    make_finding(
                        "pii-in-text",
                        lang,
                        sheet=sheet,
                        cell=f"{get_column_letter(c + 1)}{r}",
                        row=r,
                        column=label,
                        what=kinds_named(kinds, lang),
                    )
                )
    return out


def read_form(
    path: str | Path,
    form: FormSpec,
    policy: Policy,
    lang: str = "zh",
    *,
    reading: Reading | None = None,
) -> tuple[FormSheet, list[Finding]]:
    """Find and read the form's table in ``path``.

    ``reading``: the reading of ``path`` begun early (:func:`aftersales_xl.reading.opening.start`,
    e.g. while the CLI imports pandas); used when it was begun for this path, form, limits and
    language, otherwise a reading is begun here.

    Returns the sheet and the structural findings (missing/unknown columns, hidden data,
    formulas without values). Raises :class:`UnreadableError` when the file cannot be read
    at all or holds no sheet that looks like the form.
    """
    path = Path(path)
    if not fits(reading, path, form, policy.limits, lang):
        reading = Reading(path, form, policy.limits, lang)
    insp, book, order, first = reading.result()
    findings: list[Finding] = []
    # in a workbook made from the template (its marker names this form), the template's
    # record sheet is the one, even when another sheet (last month's copy) matches more headers
    ours = read_marker(path) == form.marker
    named = {normalise_label(form.sheet), normalise_label(form.sheet_en)}
    try:
        chosen: tuple[str, pc.CalamineSheet, list[list], int, dict[str, int]] | None = None
        for i, name in enumerate(order):
            parsed, rows = first if i == 0 and first is not None else head(book, name, path, lang)
            hit = find_header(rows, form)
            if hit and (chosen is None or len(hit[1]) > len(chosen[4])):
                chosen = (name, parsed, rows, hit[0], hit[1])
                if len(hit[1]) == len(form.fields) or (ours and normalise_label(name) in named):
                    break
    finally:
        book.close()
    if chosen is None:
        title = form.title_en if lang == "en" else form.title
        msg = localise(_TEXT, "no-form", lang, name=path.name, title=title)
        raise UnreadableError(str(path), "no-form", msg)
    name, parsed, rows, header_idx, columns = chosen
    scan = insp.sheet(name)
    header_row = header_idx + 1
    header = rows[header_idx]
    labels = {k: str(header[c]).strip() for k, c in columns.items()}

    # -- structural findings -------------------------------------------------------------------
    for f in form.fields:
        if f.key not in columns and f.required in ("yes", "unless-pending", "when-done"):
            findings.append(
                make_finding(
                    "missing-column", lang, sheet=name, row=header_row, label=f.title(lang)
                )
            )
    mapped = set(columns.values())
    unmapped: dict[int, str] = {}  # column → its header, redacted (a header can hold a phone)
    for c, value in enumerate(header):
        if c not in mapped and not _is_blank(value):
            label = redact(str(value).strip())
            unmapped[c] = label
            twin = form.match_headers([value])
            code = "duplicate-column" if twin else "unknown-column"
            extra = {}
            if twin:
                key = next(iter(twin))
                extra = {
                    "first": redact(labels[key]),
                    "first_col": get_column_letter(columns[key] + 1),
                }
            findings.append(
                make_finding(
                    code,
                    lang,
                    sheet=name,
                    cell=f"{get_column_letter(c + 1)}{header_row}",
                    row=header_row,
                    column=label,
                    label=label,
                    **extra,
                )
            )

    # -- records: one column per field; rows blank in every field are not records --------------
    # text and list columns (not the record ID: its values are all distinct) are factorised
    # as they are read, for coerce.py (see _Coder)
    coded = [
        k
        for k in columns
        if form.field(k).type in ("text", "list") and form.field(k).check != "record-id"
    ]
    try:
        grid, coder = _body(parsed, header_idx + 1, len(header), [columns[k] for k in coded])
    except Exception:
        raise sheet_error(path, name, lang) from None
    findings += _unmapped_pii(grid, unmapped, header_row, name, lang)
    keys = list(columns)
    positions = list(columns.values())
    # the form's columns side by side (no copy when they are the sheet's columns in order)
    values = grid if positions == list(range(grid.shape[1])) else grid[:, positions]
    codes = coder.codes if coder is not None else None
    empty = _empty_cells(
        values, keys, coded, codes, coder.code_of("") if coder is not None else None
    )
    if empty.any():
        values[empty] = None  # blank cells are None from here on
        if codes is not None:
            codes[empty[:, [keys.index(k) for k in coded]]] = -1
    keep = ~empty.all(axis=1) if keys else np.zeros(len(values), dtype=bool)
    index = np.arange(header_row + 1, header_row + 1 + len(values))
    if not keep.all():
        index = index[keep]
        values = values[keep]
        codes = codes[keep] if codes is not None else None
    frame = pd.DataFrame(
        values, index=pd.Index(index, name="row"), columns=keys, dtype=object, copy=False
    )
    cell_codes = (
        CellCodes(tuple(coded), codes, coder.values, frame.index) if coder is not None else None
    )

    hidden = frozenset()
    if scan is not None:
        hidden = frozenset(r for r in scan.hidden_rows if r in frame.index)
        first_key = next(iter(columns), None)
        for r in sorted(hidden):
            findings.append(
                make_finding(
                    "hidden-data",
                    lang,
                    sheet=name,
                    row=r,
                    cell=f"{get_column_letter(columns[first_key] + 1)}{r}" if first_key else None,
                    detail=localise(_TEXT, "hidden-row", lang),
                )
            )
        col_to_key = {c: k for k, c in columns.items()}
        unread = [(ref, "formula-no-value", {}) for ref in scan.formula_no_value]
        unread += [(ref, "error-value", {"value": shown}) for ref, shown in scan.error_values]
        for ref, code, params in unread:  # cells that read as blank but are not
            col_letters = "".join(ch for ch in ref if ch.isalpha())
            r = int(ref[len(col_letters) :])
            k = col_to_key.get(column_index_from_string(col_letters) - 1)
            if k is not None and r > header_row:
                findings.append(
                    make_finding(
                        code,
                        lang,
                        sheet=name,
                        cell=ref,
                        row=r,
                        column=labels[k] if lang != "en" else form.field(k).label_en,
                        **params,
                    )
                )
    for s in insp.sheets:
        if s.state != "visible" and s.max_row > 0 and s.name != name:
            findings.append(
                make_finding(
                    "hidden-data",
                    lang,
                    sheet=s.name,
                    detail=localise(
                        _TEXT, "hidden-sheet", lang, sheet=s.name, form_sheet=form.sheet
                    ),
                )
            )

    sheet = FormSheet(
        path=path,
        kind=insp.kind,
        sheet=name,
        part=scan.part if scan else None,
        header_row=header_row,
        columns=columns,
        labels=labels,
        frame=frame,
        inspection=insp,
        hidden_rows=hidden,
        cell_codes=cell_codes,
    )
    return sheet, findings


_TEXT: dict[str, dict[str, str]] = {
    "no-form": {
        "zh": "{name} 中找不到{title}的表头：请使用模板 templates/record_form.xlsx 的表头（问题编号、客户名称/编号……）",
        "en": "{name}: no sheet has the {title} headers; use the headers of templates/record_form.xlsx",
    },
    "hidden-row": {
        "zh": "该行被隐藏但有数据，已照常校验：请取消隐藏并确认是否应提交",
        "en": "this row is hidden but holds data; it was checked as usual: unhide it and confirm it belongs",
    },
    "hidden-sheet": {
        "zh": "工作表“{sheet}”被隐藏但有数据，未读取：如其中有记录，请取消隐藏并移到“{form_sheet}”",
        "en": 'sheet "{sheet}" is hidden but holds data and was not read: if it has records, unhide them and move them to "{form_sheet}"',
    },
}
