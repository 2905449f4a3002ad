"""Write REAL record workbooks for tests (and for ``sample_workbooks/make_samples.py``).

Tests describe a workbook the way staff would make one — a title row, a renamed header, a
date typed as text, a phone typed as a number, trailing formatted rows — and get a real
``.xlsx`` written by openpyxl or xlsxwriter, so readers are exercised on actual files.

Rows are dicts keyed by field key (``record_row()`` gives a complete valid one). A value is
written as given: a ``datetime`` becomes a real Excel date (or text / a serial number, see
``values_as``), a ``str`` stays text even when it looks like a date or a number, an ``int``
or ``float`` becomes a number. ``None`` and ``""`` leave the cell empty.

Physical coordinates: with ``title_rows=t`` the header is on Excel row ``t + 1`` and data row
``i`` (0-based) on row ``t + 2 + i``; :func:`cell_ref` computes the ``"J6"`` a finding names.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel

from aftersales_xl.forms import FormSpec, load_form

Engine = Literal["openpyxl", "xlsxwriter"]
DateMode = Literal["native", "text", "serial"]

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M"
#: fixed document timestamp so xlsxwriter output is byte-for-byte reproducible
FIXED_CREATED = datetime(2024, 6, 1, 9, 0, 0)

_BASE_ROW: dict[str, Any] = {
    "record_id": None,
    "customer": "示例科技有限公司/C0012",
    "contact_name": "张*",
    "contact": "138****8000",
    "channel": "电话",
    "occurred_at": datetime(2024, 5, 21, 9, 10),
    "module": "登录模块",
    "problem_type": "技术故障",
    "description": "客户登录时提示“账号已锁定”",
    "severity": "P1",
    "owner": "王工",
    "received_at": datetime(2024, 5, 21, 9, 30),
    "status": "已解决",
    "analysis": "密码连续输错5次触发锁定",
    "solution": "永久方案：后台解锁并指导重置密码",
    "due_at": datetime(2024, 5, 22, 18, 0),
    "resolved_at": datetime(2024, 5, 21, 11, 0),
    "satisfaction": 5,
    "feedback": "处理及时",
    "product_version": "V2.1",
    "remarks": None,
}


def record_row(**overrides: Any) -> dict[str, Any]:
    """A complete, valid, masked record keyed by field key, with ``overrides`` applied.

    Defaults: a P1 problem received 20 minutes after it occurred, status 已解决 with analysis,
    solution, 解决时间 90 minutes after receipt and satisfaction 5; 问题编号 blank (assigned
    at merge). Unknown keys raise ``KeyError`` so a typo cannot silently test nothing.
    """
    keys = load_form().keys
    unknown = [k for k in overrides if k not in keys]
    if unknown:
        raise KeyError(f"not record field keys: {unknown}; known: {keys}")
    row = {k: _BASE_ROW.get(k) for k in keys}
    row.update(overrides)
    return row


def record_rows(
    n: int, *, start: datetime = datetime(2024, 5, 21, 9, 10), **overrides: Any
) -> list[dict[str, Any]]:
    """``n`` distinct valid records (customers C0001…, times 5 h 7 min apart), ``overrides`` on each.

    Each is received 20 minutes after it occurred and resolved 90 minutes after receipt, well
    inside every default SLA target.
    """
    rows = []
    for i in range(n):
        occurred = start + i * timedelta(hours=5, minutes=7)
        received = occurred + timedelta(minutes=20)
        base = {
            "customer": f"示例客户{i + 1:02d}/C{i + 1:04d}",
            "occurred_at": occurred,
            "received_at": received,
            "resolved_at": received + timedelta(minutes=90),
            "due_at": received + timedelta(days=1),
        }
        base.update(overrides)
        rows.append(record_row(**base))
    return rows


def excel_serial(value: datetime | date, *, date1904: bool = False) -> float:
    """The Excel serial number of ``value`` (1900 or 1904 date system)."""
    epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
    return float(to_excel(value, epoch))


def column_keys(
    headers: Sequence[str] | Mapping[str, str | None] | None = None, form: FormSpec | None = None
) -> list[tuple[str, str | None]]:
    """The columns a workbook will have, as ``(header text, field key or None)`` in order.

    ``headers`` is None (the spec labels in spec order), a mapping ``field key → header text``
    that renames some columns (``None`` drops that column), or the exact list of header texts
    (each matched to a field with the form's tolerant header matching; unmatched ones get None).
    """
    form = form or load_form()
    if headers is None:
        return [(f.label, f.key) for f in form.fields]
    if isinstance(headers, Mapping):
        unknown = [k for k in headers if k not in form.keys]
        if unknown:
            raise KeyError(f"not record field keys: {unknown}")
        cols = []
        for f in form.fields:
            text = headers.get(f.key, f.label)
            if text is not None:
                cols.append((text, f.key))
        return cols
    texts = list(headers)
    matched = form.match_headers(texts)
    by_index = {idx: key for key, idx in matched.items()}
    return [(text, by_index.get(i)) for i, text in enumerate(texts)]


def header_row_number(title_rows: int = 0) -> int:
    """The Excel row number of the header row."""
    return title_rows + 1


def data_row_number(index: int, title_rows: int = 0) -> int:
    """The Excel row number of data row ``index`` (0-based)."""
    return title_rows + 2 + index


def cell_ref(
    key: str,
    index: int,
    *,
    title_rows: int = 0,
    start_col: int = 0,
    headers: Sequence[str] | Mapping[str, str | None] | None = None,
    form: FormSpec | None = None,
) -> str:
    """The ``"J6"`` address of field ``key`` in data row ``index`` of a built workbook."""
    cols = column_keys(headers, form)
    for i, (_, k) in enumerate(cols):
        if k == key:
            return f"{get_column_letter(start_col + i + 1)}{data_row_number(index, title_rows)}"
    raise KeyError(f"field {key!r} has no column in this layout")


def _value_for(row: Mapping[str, Any], header: str, key: str | None) -> Any:
    if key is not None and key in row:
        return row[key]
    return row.get(header)


def _prepare(value: Any, mode: str, date1904: bool) -> tuple[str, Any]:
    """Classify a value for writing: ("blank"|"date"|"number"|"text", value)."""
    if value is None or value == "":
        return "blank", None
    if isinstance(value, bool):
        raise TypeError("booleans are not record values")
    if isinstance(value, datetime | date):
        if mode == "text":
            fmt = TEXT_DATE_FORMAT if isinstance(value, datetime) else "%Y-%m-%d"
            return "text", value.strftime(fmt)
        if mode == "serial":
            return "number", excel_serial(value, date1904=date1904)
        if mode != "native":
            raise ValueError(f"values_as must be native, text or serial, not {mode!r}")
        return "date", value
    if isinstance(value, int | float):
        return "number", value
    return "text", str(value)


def _title_lines(form: FormSpec, title_rows: int) -> list[str]:
    lines = [form.title, "填报部门：售后服务部    填报人：李*    填报日期：2024-05-27"]
    lines += [f"说明{i}：请勿修改表头" for i in range(1, max(0, title_rows - 2) + 1)]
    return lines[:title_rows]


def write_record_xlsx(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    engine: Engine = "openpyxl",
    title_rows: int = 0,
    start_col: int = 0,
    headers: Sequence[str] | Mapping[str, str | None] | None = None,
    sheet: str | None = None,
    extra_sheets: Mapping[str, Sequence[Sequence[Any]]] | None = None,
    extra_sheets_first: bool = False,
    date1904: bool = False,
    formatted_empty_rows: int = 0,
    hidden_rows: Sequence[int] = (),
    values_as: DateMode | Mapping[str, DateMode] = "native",
    form: FormSpec | None = None,
) -> Path:
    """Write a record workbook and return its path.

    - ``title_rows``: rows above the header; the first holds the form title merged across the
      columns, the second a "填报部门…填报日期" line, further ones notes.
    - ``start_col``: 0-based column of the first field (blank columns to its left).
    - ``headers``: see :func:`column_keys` (e.g. ``{"contact_name": "联系人*"}``).
    - ``sheet``: record sheet name (default: the form's, 问题记录表).
    - ``extra_sheets``: ``{name: rows}`` other sheets, after the record sheet unless
      ``extra_sheets_first``.
    - ``date1904``: use the 1904 date system.
    - ``formatted_empty_rows``: trailing rows with fill and borders but no values.
    - ``hidden_rows``: 0-based data-row indices to hide.
    - ``values_as``: how ``datetime`` values are written — ``"native"`` (real Excel dates),
      ``"text"`` (``2024-05-21 14:30``) or ``"serial"`` (a bare serial number); a mapping
      ``field key → mode`` sets it per column (others native).
    """
    path = Path(path)
    form = form or load_form()
    cols = column_keys(headers, form)
    sheet = sheet or form.sheet
    header_r0 = title_rows  # 0-based row index of the header

    def mode_for(key: str | None) -> str:
        if isinstance(values_as, Mapping):
            return values_as.get(key or "", "native")
        return values_as

    grid: list[list[tuple[str, Any]]] = [
        [_prepare(_value_for(row, text, key), mode_for(key), date1904) for text, key in cols]
        for row in rows
    ]
    layout = {
        "cols": cols,
        "grid": grid,
        "title_lines": _title_lines(form, title_rows),
        "header_r0": header_r0,
        "start_col": start_col,
        "widths": {f.key: f.width for f in form.fields},
        "formatted_empty_rows": formatted_empty_rows,
        "hidden": [header_r0 + 1 + i for i in hidden_rows],
    }
    extra = dict(extra_sheets or {})
    if engine == "openpyxl":
        _write_openpyxl(path, sheet, layout, extra, extra_sheets_first, date1904)
    elif engine == "xlsxwriter":
        _write_xlsxwriter(path, sheet, layout, extra, extra_sheets_first, date1904)
    else:
        raise ValueError(f"engine must be openpyxl or xlsxwriter, not {engine!r}")
    return path


def _write_openpyxl(
    path: Path, sheet: str, layout: dict, extra: dict, extra_first: bool, date1904: bool
) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Border, Font, PatternFill, Side

    wb = Workbook()
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    wb.properties.created = FIXED_CREATED
    ws = wb.active
    ws.title = sheet
    c0 = layout["start_col"] + 1  # 1-based first column
    ncols = len(layout["cols"])
    for r, line in enumerate(layout["title_lines"], start=1):
        ws.cell(r, c0, line).font = Font(bold=r == 1, size=14 if r == 1 else 11)
        if r == 1 and ncols > 1:
            ws.merge_cells(start_row=1, start_column=c0, end_row=1, end_column=c0 + ncols - 1)
    hr = layout["header_r0"] + 1
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    for i, (text, key) in enumerate(layout["cols"]):
        cell = ws.cell(hr, c0 + i, text)
        cell.font = Font(bold=True)
        cell.fill = head_fill
        ws.column_dimensions[get_column_letter(c0 + i)].width = layout["widths"].get(key, 12)
    for r_off, values in enumerate(layout["grid"], start=1):
        for i, (kind, value) in enumerate(values):
            if kind == "blank":
                continue
            cell = ws.cell(hr + r_off, c0 + i)
            if kind == "text":
                cell.value = value
                cell.data_type = "s"  # text stays text: never a formula, never a number
            else:
                cell.value = value
            if kind == "date":
                cell.number_format = DATETIME_FORMAT
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    fill = PatternFill("solid", fgColor="FFF2CC")
    first_empty = hr + len(layout["grid"]) + 1
    for r in range(first_empty, first_empty + layout["formatted_empty_rows"]):
        for i in range(ncols):
            cell = ws.cell(r, c0 + i)
            cell.fill = fill
            cell.border = border
    for r0 in layout["hidden"]:
        ws.row_dimensions[r0 + 1].hidden = True
    for name, rows in extra.items():
        other = wb.create_sheet(name, 0 if extra_first else None)
        for row in rows:
            other.append(list(row))
    wb.save(path)


def _write_xlsxwriter(
    path: Path, sheet: str, layout: dict, extra: dict, extra_first: bool, date1904: bool
) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "date_1904": date1904,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": FIXED_CREATED})
    title_fmt = wb.add_format({"bold": True, "font_size": 14, "align": "center"})
    head_fmt = wb.add_format({"bold": True, "bg_color": "#DDEBF7"})
    date_fmt = wb.add_format({"num_format": DATETIME_FORMAT})
    empty_fmt = wb.add_format({"bg_color": "#FFF2CC", "border": 1, "border_color": "#999999"})

    def add_extra() -> None:
        for name, rows in extra.items():
            other = wb.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if value is not None:
                        other.write(r, c, value)

    if extra_first:
        add_extra()
    ws = wb.add_worksheet(sheet)
    c0 = layout["start_col"]
    ncols = len(layout["cols"])
    for r, line in enumerate(layout["title_lines"]):
        if r == 0 and ncols > 1:
            ws.merge_range(0, c0, 0, c0 + ncols - 1, line, title_fmt)
        else:
            ws.write_string(r, c0, line)
    hr = layout["header_r0"]
    for i, (text, key) in enumerate(layout["cols"]):
        ws.write_string(hr, c0 + i, text, head_fmt)
        ws.set_column(c0 + i, c0 + i, layout["widths"].get(key, 12))
    for r_off, values in enumerate(layout["grid"], start=1):
        for i, (kind, value) in enumerate(values):
            r, c = hr + r_off, c0 + i
            if kind == "text":
                ws.write_string(r, c, value)
            elif kind == "number":
                ws.write_number(r, c, value)
            elif kind == "date":
                ws.write_datetime(r, c, value, date_fmt)
    first_empty = hr + len(layout["grid"]) + 1
    for r in range(first_empty, first_empty + layout["formatted_empty_rows"]):
        for i in range(ncols):
            ws.write_blank(r, c0 + i, None, empty_fmt)
    for r0 in layout["hidden"]:
        ws.set_row(r0, None, None, {"hidden": True})
    if not extra_first:
        add_extra()
    wb.close()


def workbook_values(path: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's cell values as read back by openpyxl, normalised for comparison.

    Datetimes are rounded to the second and floats to 6 decimals (LibreOffice writes serials
    with 15 significant digits); trailing empty cells and rows are dropped. Use it to compare
    workbooks by content, never by bytes.
    """
    from openpyxl import load_workbook

    def norm(v: Any) -> Any:
        if isinstance(v, datetime):
            return (v + timedelta(microseconds=500_000)).replace(microsecond=0)
        if isinstance(v, float):
            return int(v) if v.is_integer() else round(v, 6)
        return v

    wb = load_workbook(path, data_only=True)
    out: dict[str, list[tuple[Any, ...]]] = {}
    for ws in wb.worksheets:
        rows = []
        for row in ws.iter_rows(values_only=True):
            values = [norm(v) for v in row]
            while values and values[-1] is None:
                values.pop()
            rows.append(tuple(values))
        while rows and not rows[-1]:
            rows.pop()
        out[ws.title] = rows
    wb.close()
    return out


def soffice_path() -> str | None:
    """The LibreOffice executable (``soffice`` / ``libreoffice``) on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def libreoffice_resave(
    path: str | Path, out_dir: str | Path, *, timeout: float = 180
) -> Path | None:
    """Open ``path`` in headless LibreOffice Calc and save it as ``.xlsx`` into ``out_dir``.

    Returns the new file (same stem as ``path``), or None when LibreOffice is not installed so
    callers can skip. ``out_dir`` must differ from ``path``'s folder (the name is kept). Uses a
    throw-away LibreOffice profile so parallel runs do not fight over one. Raises
    ``RuntimeError`` when LibreOffice runs but writes nothing.
    """
    exe = soffice_path()
    if exe is None:
        return None
    src = Path(path).resolve()
    out = Path(out_dir).resolve()
    if out == src.parent:
        raise ValueError(
            "out_dir must differ from the source folder: LibreOffice keeps the file name"
        )
    out.mkdir(parents=True, exist_ok=True)
    target = out / (src.stem + ".xlsx")
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        cmd = [
            exe,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            str(src),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if not target.is_file():
        raise RuntimeError(
            f"LibreOffice did not write {target.name} (exit {proc.returncode}): {proc.stderr.strip()[:300]}"
        )
    return target
