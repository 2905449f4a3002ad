"""Cells of a form-style sheet found by their Excel defined names (the daily report).

A form-style sheet (``layout = "sheet"`` in its spec) names every input and computed cell,
so code never depends on where a cell sits: :func:`named_cell` is the cell a name points
at, :func:`named_rows` the rows of cells of a table's named range. The workbook is opened
with openpyxl after the safety gate (:func:`aftersales_xl.reading.safety.inspect`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.workbook.workbook import Workbook

from ..errors import UnreadableError
from ..messages import localise
from ..pii import redact
from .safety import inspect


def open_named(
    path: str | Path, limits: Mapping[str, Any], lang: str = "zh", *, data_only: bool = True
) -> Workbook:
    """``path`` opened with openpyxl once it has passed the safety gate (``limits``).

    ``data_only`` reads formulas' cached results (what a person sees). Raises
    :class:`UnreadableError` when the file is not a readable workbook.
    """
    path = Path(path)
    inspect(path, limits, lang)
    try:
        return openpyxl.load_workbook(path, data_only=data_only)
    except Exception:  # openpyxl raises zip, xml and key errors for broken files
        name = redact(path.name)
        raise UnreadableError(
            str(path),
            "not-a-workbook",
            localise(_TEXT, "not-a-workbook", lang, name=name),
        ) from None


def _destination(wb: Workbook, name: str) -> tuple[Any, str] | None:
    defined = wb.defined_names.get(name)
    if defined is None:
        return None
    for sheet, ref in defined.destinations:
        if sheet in wb.sheetnames:
            return wb[sheet], ref.replace("$", "")
    return None


def named_cell(wb: Workbook, name: str) -> Any | None:
    """The (top-left) cell the defined name ``name`` points at, or None if there is none."""
    found = _destination(wb, name)
    if found is None:
        return None
    ws, ref = found
    return ws[ref.split(":")[0]]


def named_rows(wb: Workbook, name: str) -> list[tuple[Any, ...]]:
    """The rows of cells of the range ``name`` points at (empty if there is none)."""
    found = _destination(wb, name)
    if found is None:
        return []
    ws, ref = found
    if ":" not in ref:
        return [(ws[ref],)]
    return [tuple(row) for row in ws[ref]]


def filled(value: Any) -> bool:
    """True for a cell value a person typed (not None, not blank text)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


_TEXT: dict[str, dict[str, str]] = {
    "not-a-workbook": {
        "zh": "{name} 无法打开：请在 Excel 中打开并另存为 .xlsx",
        "en": "{name} cannot be opened: open it in Excel and save it as .xlsx",
    },
}
