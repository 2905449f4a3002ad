"""The blank Excel form staff fill in, generated from the field spec and the policy.

``write_template`` writes one ``.xlsx`` with xlsxwriter:

* the record sheet (``问题记录表``): the header row in spec order (bold, filled, wrapped,
  frozen, with an autofilter), column widths from the spec, a date-time number format on
  date columns, text format (``@``) on identifier-like text columns so phone numbers,
  IDs and versions never turn into numbers, and — on the data block rows 2..1001 — one
  data validation per column: a drop-down for list fields (values from the policy), a
  whole number 1–5 for the rating, and an input message from ``field.help`` everywhere;
* the instructions sheet (``填写说明``): how to fill, one row per field, the allowed
  values, and the single example row (kept here so it is never read as a record);
* a marker of the form and version (``form.marker``) in a custom document property and a
  workbook-level defined name, which :func:`read_marker` reads back cheaply.

The output is deterministic (fixed creation date), so the committed template can be
compared with what the spec generates now.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException
from xlsxwriter.utility import xl_rowcol_to_cell

from ..config import Policy
from ..errors import WriteError
from ..forms import (
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    MARKER_NAME,
    MARKER_PROPERTY,
    FieldSpec,
    FormSpec,
    required_wording,
)
from ..reading.marker import read_marker  # noqa: F401 - the template's marker, read back
from .fileio import atomic_output

DATA_ROWS = 1000
"""Rows under the header (2..1001) that carry the validations and input messages."""
CREATED = datetime(2024, 1, 1, 0, 0, 0)
"""Fixed creation date so that regenerating the template gives the same workbook."""

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_FORMAT = "@"
LANGS = ("zh", "en")

_INLINE_LIST_MAX = 255  # Excel's limit for an inline drop-down list ("a,b,c")

_TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "{title} · 填写说明",
        "how_title": "填写方法",
        "how": [
            "1. 在“{sheet}”工作表中填写，每行一条问题记录，从第 2 行开始；不要改动、合并或删除表头。",
            "2. 带下拉箭头的列请从列表中选择；时间写成 2024-05-21 14:30，也可使用 Excel 日期。",
            "3. 联系人、联系方式必须脱敏（如 张*、****5678）；问题描述等文字中不要写电话、邮箱、身份证号。",
            "4. 问题编号可以留空，合并到总台账时自动编号。",
            "5. 选中单元格可看到该列的填写提示；下面的示例仅供参考，不会被当作记录读取。",
            "6. 填好后可运行 xlcheck validate 文件名.xlsx 自查。",
        ],
        "fields_title": "字段说明",
        "fields_header": ("表头", "必填", "说明", "示例"),
        "lists_title": "下拉列表可选值",
        "lists_header": ("表头", "可选值"),
        "example_title": "示例（一行完整记录，仅供参考，请在“{sheet}”中填写）",
        "error_title": "输入有误",
        "list_error": "请从下拉列表中选择：{values}",
        "rating_error": "请填写 {min}–{max} 的整数",
        "exists": "{path} 已存在：如要覆盖请加 --force",
        "suffix": "{path}：模板须保存为 .xlsx 文件",
        "write_failed": "{path} 无法写入（{reason}）；原有文件未改动",
    },
    "en": {
        "title": "{title}: how to fill",
        "how_title": "How to fill",
        "how": [
            '1. Fill the "{sheet}" sheet, one problem per row from row 2; do not change, merge or delete the header.',
            "2. Pick list columns from the drop-down; write times as 2024-05-21 14:30 or use an Excel date.",
            "3. Contact name and details must be masked (e.g. Z*, ****5678); no phone, email or ID numbers in free text.",
            "4. Record ID may stay blank: it is assigned when merged into the master register.",
            "5. Select a cell to see the column's hint; the example below is for reference and is never read as a record.",
            "6. When done, run xlcheck validate yourfile.xlsx to check it.",
        ],
        "fields_title": "Fields",
        "fields_header": ("Header", "Required", "Notes", "Example"),
        "lists_title": "Drop-down values",
        "lists_header": ("Header", "Allowed values"),
        "example_title": 'Example (one complete record, for reference only; fill in "{sheet}")',
        "error_title": "Invalid value",
        "list_error": "Pick one of: {values}",
        "rating_error": "Enter a whole number from {min} to {max}",
        "exists": "{path} exists: add --force to overwrite it",
        "suffix": "{path}: a template must be saved as an .xlsx file",
        "write_failed": "{path} could not be written ({reason}); any existing file is untouched",
    },
}


def write_template(
    path: str | Path,
    form: FormSpec,
    policy: Policy,
    lang: str = "zh",
    *,
    overwrite: bool = True,
) -> Path:
    """Write the blank form for ``form`` (lists from ``policy``) to ``path``; return the path.

    The workbook is written to a hidden temporary file beside ``path`` and moved into
    place with :func:`os.replace`, so a reader never sees half a file. With
    ``overwrite=False`` an existing ``path`` raises :class:`WriteError` and is left alone.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    text = _TEXT[lang]
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise WriteError(text["suffix"].format(path=path))
    if path.exists() and not overwrite:
        raise WriteError(text["exists"].format(path=path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            _build(tmp, form, policy, lang)
    except (OSError, XlsxWriterException) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise WriteError(text["write_failed"].format(path=path, reason=reason)) from None
    return path


# -- building the workbook ---------------------------------------------------------------


def _build(target: Path, form: FormSpec, policy: Policy, lang: str) -> None:
    """Write the whole workbook to ``target`` (a fresh file)."""
    sheet_name = _own(form.sheet, form.sheet_en, lang)
    title = _own(form.title, form.title_en, lang)
    wb = xlsxwriter.Workbook(str(target), {"strings_to_formulas": False, "strings_to_urls": False})
    try:
        wb.set_properties(
            {
                "title": title,
                "subject": form.marker,
                "author": "aftersales-xl",
                "comments": f"xlcheck template {form.name} (schemas/{form.name}.toml)",
                "created": CREATED,
            }
        )
        wb.set_custom_property(MARKER_PROPERTY, form.marker)
        _check(wb.define_name(MARKER_NAME, f'="{form.marker}"'), "define_name")

        if form.layout == "sheet" and form.sheet_form is not None:
            _write_sheet_form(wb, wb.add_worksheet(sheet_name), form, policy, lang, title)
            return
        fmt = _Formats(wb)
        records = wb.add_worksheet(sheet_name)
        guide = wb.add_worksheet(INSTRUCTIONS_SHEET[lang])
        lists = _ListSources(wb, policy)

        _write_record_sheet(records, form, policy, lang, fmt, lists)
        _write_instructions(guide, form, policy, lang, fmt, sheet_name, title)
        records.activate()
    finally:
        wb.close()


class _Formats:
    """The cell formats shared by both sheets."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.header = wb.add_format(
            {
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "text_wrap": True,
                "align": "center",
                "valign": "vcenter",
            }
        )
        self.datetime = wb.add_format({"num_format": DATETIME_FORMAT})
        self.text = wb.add_format({"num_format": TEXT_FORMAT})
        self.free_text = wb.add_format({"text_wrap": True, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.section = wb.add_format({"bold": True, "font_size": 12})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})

    def column(self, field: FieldSpec) -> Any:
        """The column format of a field's data cells (None: General)."""
        if field.type == "datetime":
            return self.datetime
        if field.type == "text":
            return self.free_text if _is_free_text(field) else self.text
        return None


class _ListSources:
    """Where each drop-down takes its values: inline ``"a,b,c"`` or a hidden-sheet range.

    Excel limits an inline list to 255 characters and cannot hold a value with a comma;
    such lists go to the hidden ``_lists`` sheet (created only when needed).
    """

    def __init__(self, wb: xlsxwriter.Workbook, policy: Policy) -> None:
        self._wb = wb
        self._policy = policy
        self._sheet: Any = None
        self._columns: dict[str, str] = {}

    def source(self, list_name: str) -> list[str] | str:
        """The ``source`` option for the list ``list_name``."""
        values = self._policy.allowed(list_name)
        if _fits_inline(values):
            return values
        if list_name not in self._columns:
            if self._sheet is None:
                self._sheet = self._wb.add_worksheet(LISTS_SHEET)
                self._sheet.hide()
            col = len(self._columns)
            for row, value in enumerate(values):
                self._sheet.write_string(row, col, value)
            first = xl_rowcol_to_cell(0, col, row_abs=True, col_abs=True)
            last = xl_rowcol_to_cell(len(values) - 1, col, row_abs=True, col_abs=True)
            self._columns[list_name] = f"='{LISTS_SHEET}'!{first}:{last}"
        return self._columns[list_name]


def _write_record_sheet(
    ws: Any, form: FormSpec, policy: Policy, lang: str, fmt: _Formats, lists: _ListSources
) -> None:
    """Header row, column widths and formats, validations and input messages; no data rows."""
    last_col = len(form.fields) - 1
    ws.set_row(0, 30)
    for col, field in enumerate(form.fields):
        ws.set_column(col, col, field.width, fmt.column(field))
        ws.write_string(0, col, field.title(lang), fmt.header)
        options = _validation(field, policy, lang, lists)
        if options is not None:
            _check(ws.data_validation(1, col, DATA_ROWS, col, options), f"validation {field.key}")
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, 0, last_col)
    ws.repeat_rows(0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)


def _validation(field: FieldSpec, policy: Policy, lang: str, lists: _ListSources) -> dict | None:
    """The data-validation options of one column, or None when it needs none."""
    text = _TEXT[lang]
    hint = _own(field.help, field.help_en, lang)
    options: dict[str, Any] = {}
    if hint:
        options["input_title"] = _clip(field.title(lang), 32)
        options["input_message"] = _clip(hint, 255)
    if field.type == "list" and field.list:
        values = policy.allowed(field.list)
        options.update(
            validate="list",
            source=lists.source(field.list),
            error_title=_clip(text["error_title"], 32),
            error_message=_clip(text["list_error"].format(values=" / ".join(values)), 255),
        )
    elif field.type == "rating":
        low, high = _rating_bounds(field)
        options.update(
            validate="integer",
            criteria="between",
            minimum=low,
            maximum=high,
            error_title=_clip(text["error_title"], 32),
            error_message=_clip(text["rating_error"].format(min=low, max=high), 255),
        )
    elif hint:
        options["validate"] = "any"
    else:
        return None
    return options


def _write_instructions(
    ws: Any, form: FormSpec, policy: Policy, lang: str, fmt: _Formats, sheet: str, title: str
) -> None:
    """Title, how to fill, one row per field, allowed values, and the single example row."""
    text = _TEXT[lang]
    table_widths = (16, 26, 56, 26)
    for col, field in enumerate(form.fields):
        width = max(field.width, table_widths[col]) if col < len(table_widths) else field.width
        ws.set_column(col, col, width)

    row = 0
    ws.write_string(row, 0, text["title"].format(title=title), fmt.title)
    row += 2
    ws.write_string(row, 0, text["how_title"], fmt.section)
    for line in text["how"]:
        row += 1
        ws.write_string(row, 0, line.format(sheet=sheet))

    row += 2
    ws.write_string(row, 0, text["fields_title"], fmt.section)
    row += 1
    _write_header(ws, row, text["fields_header"], fmt)
    required = required_wording(policy, lang)
    for field in form.fields:
        row += 1
        ws.write_string(row, 0, field.title(lang))
        ws.write_string(row, 1, required[field.required])
        hint = _own(field.help, field.help_en, lang)
        if hint:
            ws.write_string(row, 2, hint, fmt.wrap)
        if field.example:
            ws.write_string(row, 3, field.example)

    row += 2
    ws.write_string(row, 0, text["lists_title"], fmt.section)
    row += 1
    _write_header(ws, row, text["lists_header"], fmt)
    for field in form.fields:
        if field.type == "list" and field.list:
            row += 1
            ws.write_string(row, 0, field.title(lang))
            ws.write_string(row, 1, " / ".join(policy.allowed(field.list)))

    row += 2
    ws.write_string(row, 0, text["example_title"].format(sheet=sheet), fmt.section)
    row += 1
    _write_header(ws, row, [f.title(lang) for f in form.fields], fmt)
    row += 1
    for col, field in enumerate(form.fields):
        _write_example(ws, row, col, field, fmt)


def _write_header(ws: Any, row: int, labels: Any, fmt: _Formats) -> None:
    for col, label in enumerate(labels):
        ws.write_string(row, col, label, fmt.header)


def _write_example(ws: Any, row: int, col: int, field: FieldSpec, fmt: _Formats) -> None:
    """One example cell, typed as staff would enter it (real date-time, whole-number rating)."""
    value = field.example
    if not value:
        return
    if field.type == "datetime":
        try:
            ws.write_datetime(row, col, datetime.strptime(value, "%Y-%m-%d %H:%M"), fmt.datetime)
            return
        except ValueError:
            pass
    if field.type == "rating" and value.isdigit():
        ws.write_number(row, col, int(value))
        return
    ws.write_string(row, col, value, fmt.column(field) if field.type == "text" else None)


# -- form-style sheets (the daily report) -----------------------------------------------------

#: number formats of a form-style sheet's cells by type / unit, per language
SHEET_FORMATS: dict[str, dict[str, str]] = {
    "zh": {"hours": '0.0" 小时"', "pct": "0.0%", "count": "0", "date": "yyyy-mm-dd"},
    "en": {"hours": '0.0" h"', "pct": "0.0%", "count": "0", "date": "yyyy-mm-dd"},
}
_SHEET_COLUMNS = 6  # A..F: label/value pairs three to a row, metric label + five parts
_EARLIEST = datetime(2000, 1, 1)


def sheet_list_values(form: FormSpec, policy: Policy, name: str, lang: str = "zh") -> list[str]:
    """A form-style sheet's drop-down values: the spec's own list, else the policy setting
    ``name`` (``daily_report.anomaly_types``)."""
    assert form.sheet_form is not None
    own = form.sheet_form.own_list(name, lang)
    return own if own is not None else list(policy.value(name))


def _write_sheet_form(
    wb: xlsxwriter.Workbook, ws: Any, form: FormSpec, policy: Policy, lang: str, title: str
) -> None:
    """The form-style sheet: title, header pairs, metric rows, tables and a notes cell, each
    input / computed cell an Excel defined name (:func:`~aftersales_xl.forms.defined_name`),
    printed landscape one page wide."""
    from ..forms import defined_name

    spec = form.sheet_form
    assert spec is not None
    text = _TEXT[lang]
    numbers = SHEET_FORMATS[lang]
    base = {"border": 1, "valign": "vcenter"}
    f_title = wb.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    f_section = wb.add_format({"bold": True, "font_size": 12, "bottom": 2})
    f_label = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "text_wrap": True})
    f_head = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "align": "center"})

    def cell_format(kind: str, role: str) -> Any:
        props: dict[str, Any] = dict(base)
        if role == "input":
            props["bg_color"] = "#FFF2CC"  # where people type
        if kind == "datetime":
            props["num_format"] = DATETIME_FORMAT
        elif kind in numbers:
            props["num_format"] = numbers[kind]
        elif kind == "note":
            props.update(text_wrap=True, font_size=9, valign="top")
        else:
            props.update(text_wrap=True, num_format=TEXT_FORMAT)
        return wb.add_format(props)

    formats: dict[tuple[str, str], Any] = {}

    def fmt(kind: str, role: str) -> Any:
        if (kind, role) not in formats:
            formats[(kind, role)] = cell_format(kind, role)
        return formats[(kind, role)]

    def name(key: str, row: int, col: int, last_row: int | None = None, last_col: int = 0) -> None:
        ref = xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)
        if last_row is not None:
            ref += ":" + xl_rowcol_to_cell(last_row, last_col, row_abs=True, col_abs=True)
        _check(wb.define_name(key, f"='{ws.name}'!{ref}"), f"define_name {key}")

    def validate(row: int, col: int, last_row: int, kind: str, hint: str, label: str, values=None):
        options: dict[str, Any] = {}
        if hint:
            options.update(input_title=_clip(label, 32), input_message=_clip(hint, 255))
        if values is not None:
            options.update(
                validate="list",
                source=values,
                error_title=_clip(text["error_title"], 32),
                error_message=_clip(text["list_error"].format(values=" / ".join(values)), 255),
            )
        elif kind in ("date", "datetime"):
            options.update(validate="date", criteria=">=", value=_EARLIEST)
        elif kind == "hours":
            options.update(validate="decimal", criteria=">=", value=0)
        elif hint:
            options["validate"] = "any"
        else:
            return
        _check(ws.data_validation(row, col, last_row, col, options), f"validation {label}")

    for col, width in enumerate(spec.widths):
        ws.set_column(col, col, width)
    last = _SHEET_COLUMNS - 1
    ws.set_row(0, 30)
    ws.merge_range(0, 0, 0, last, title, f_title)

    row = 2
    for i, cell in enumerate(spec.header):
        col = (i % 3) * 2
        if i and not i % 3:
            row += 1
        ws.write_string(row, col, cell.title(lang), f_label)
        ws.write_blank(row, col + 1, None, fmt(cell.type, cell.role))
        name(defined_name(form, cell.key), row, col + 1)
        hint = _own(cell.help, cell.help_en, lang)
        validate(row, col + 1, row, cell.type, hint, cell.title(lang))

    row += 2
    ws.write_string(row, 0, spec.label("metrics_title", lang), f_section)
    row += 1
    ws.write_string(row, 0, spec.label("metric_label", lang), f_head)
    for col, (_part, zh, en) in enumerate(spec.metric_columns, start=1):
        ws.write_string(row, col, _own(zh, en, lang), f_head)
    status_values = sheet_list_values(form, policy, "metric_status", lang)
    first_metric_row = row + 1
    for metric in spec.metrics:
        row += 1
        ws.set_row(row, 36)
        ws.write_string(row, 0, metric.title(lang), f_label)
        for col, (part, _zh, _en) in enumerate(spec.metric_columns, start=1):
            kind = {"threshold": metric.unit, "actual": metric.unit, "count": "count"}.get(
                part, "note" if part == "note" else "text"
            )
            cell_fmt = fmt(kind, "computed")
            if part == "note":
                ws.write_string(row, col, _own(metric.note, metric.note_en, lang), cell_fmt)
            elif part == "threshold":
                ws.write_number(row, col, metric.threshold_value(policy), cell_fmt)
            else:
                ws.write_blank(row, col, None, cell_fmt)
            name(defined_name(form, metric.key, part), row, col)
            if part == "status":
                validate(row, col, row, "list", "", metric.title(lang), status_values)

    status_col = 1 + [part for part, *_ in spec.metric_columns].index("status")
    f_warning = wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"})
    ws.conditional_format(
        first_metric_row,
        status_col,
        row,
        status_col,
        {"type": "cell", "criteria": "==", "value": f'"{status_values[1]}"', "format": f_warning},
    )

    for table in spec.tables:
        row += 2
        ws.write_string(row, 0, table.heading(lang), f_section)
        row += 1
        widest = len(table.columns) - 1
        for col, column in enumerate(table.columns):
            if col == widest and col < last:
                ws.merge_range(row, col, row, last, column.title(lang), f_head)
            else:
                ws.write_string(row, col, column.title(lang), f_head)
        first = row + 1
        role = "input" if table.role == "input" else "computed"
        for r in range(first, first + table.rows):
            for col, column in enumerate(table.columns):
                kind = "list" if column.type == "list" else column.type
                cell_fmt = fmt("text" if kind == "list" else kind, role)
                if col == widest and col < last:
                    ws.merge_range(r, col, r, last, None, cell_fmt)
                else:
                    ws.write_blank(r, col, None, cell_fmt)
        row = first + table.rows - 1
        name(defined_name(form, table.key), first, 0, row, widest)
        if table.role == "input":
            for col, column in enumerate(table.columns):
                values = sheet_list_values(form, policy, column.list, lang) if column.list else None
                validate(first, col, row, column.type, "", column.title(lang), values)

    row += 2
    ws.set_row(row, 48)
    ws.write_string(row, 0, spec.label("notes_label", lang), f_label)
    ws.merge_range(row, 1, row, last, None, fmt("text", "input"))
    name(defined_name(form, "notes"), row, 1)

    ws.hide_gridlines(2)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.print_area(0, 0, row, last)
    ws.activate()


# -- helpers -----------------------------------------------------------------------------


def _own(zh: str, en: str, lang: str) -> str:
    """One of the form's own texts (its sheet name, title, a hint, a note), which the form's
    spec holds in both languages side by side: the one place this module picks between them
    (its own words are in :data:`_TEXT`, by language)."""
    return en if lang == "en" else zh


def _is_free_text(field: FieldSpec) -> bool:
    """Free text (scanned for PII) wraps; other text columns are identifiers kept as text."""
    return field.check == "pii-text"


def _rating_bounds(field: FieldSpec) -> tuple[int, int]:
    return (1 if field.min is None else field.min, 5 if field.max is None else field.max)


def _fits_inline(values: list[str]) -> bool:
    """True if Excel can hold the list inline as ``"a,b,c"``."""
    if any("," in v or '"' in v for v in values):
        return False
    return _utf16_len(",".join(values)) <= _INLINE_LIST_MAX


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _clip(text: str, limit: int) -> str:
    """``text`` cut to Excel's ``limit`` (UTF-16 units), ending with … when cut."""
    if _utf16_len(text) <= limit:
        return text
    out = ""
    for ch in text:
        if _utf16_len(out + ch) > limit - 1:
            break
        out += ch
    return out + "…"


def _check(rc: int, what: str) -> None:
    """xlsxwriter reports a rejected call by return code; never let one pass silently."""
    if rc != 0:
        raise ValueError(f"xlsxwriter rejected {what} (code {rc})")
