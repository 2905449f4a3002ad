"""Filling the monitoring daily report (系统监控日报表) by its defined names.

The report is a small form-style sheet: :mod:`aftersales_xl.writing.template` writes the
blank form from ``schemas/daily_report.toml``; here openpyxl opens that form (or an
existing report, so that everything people typed stays as it is), sets the computed cells
by name and saves the whole workbook atomically. :meth:`NamedForm.put` is the only place a
cell is set: every string passes :func:`~aftersales_xl.pii.redact` and formula-like text is
stored as text with Excel's quote prefix, as :class:`~aftersales_xl.writing.cells.CellWriter`
does for the workbooks written with xlsxwriter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, MergedCell

from ..errors import WriteError
from ..messages import localise
from ..pii import redact
from ..reading.named import filled, named_cell, named_rows, open_named
from .cells import FORMULA_PREFIXES
from .fileio import atomic_output


class NamedForm:
    """An opened form-style workbook whose cells are read and set by defined name."""

    def __init__(self, path: Path, limits: Mapping[str, Any], lang: str = "zh") -> None:
        self.path = Path(path)
        self.lang = lang
        self.wb = open_named(self.path, limits, lang, data_only=False)

    # -- reading ----------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        cell = named_cell(self.wb, name)
        return None if cell is None else cell.value

    def rows(self, name: str) -> list[tuple[Any, ...]]:
        """The values of a table's rows (every row of the named range)."""
        return [tuple(c.value for c in row) for row in named_rows(self.wb, name)]

    def filled_rows(self, name: str) -> list[tuple[Any, ...]]:
        """The rows of a table that hold anything."""
        return [row for row in self.rows(name) if any(filled(v) for v in row)]

    # -- setting: the one place a cell of the report is set ---------------------------------------
    @staticmethod
    def put(cell: Any, value: Any) -> None:
        """Set one cell: None clears it; text is redacted and never becomes a formula; dates,
        datetimes and numbers are stored as such (the form's number format stays)."""
        if isinstance(cell, MergedCell):  # only a merged area's top-left cell holds a value
            return
        if value is None or (isinstance(value, str) and value == ""):
            cell.value = None
            return
        if isinstance(value, str):
            text = ILLEGAL_CHARACTERS_RE.sub("", redact(value))
            cell.value = text
            cell.data_type = "s"
            if text.startswith(FORMULA_PREFIXES):
                cell.quotePrefix = True
            return
        if isinstance(value, bool):
            cell.value = bool(value)
        elif isinstance(value, datetime | date | time | int | float):
            cell.value = value
        else:
            raise TypeError(f"cannot write a {type(value).__name__} into the report")

    def set(self, name: str, value: Any) -> None:
        """Set the cell the defined name points at (a name the form lacks is an error)."""
        cell = named_cell(self.wb, name)
        if cell is None:
            raise WriteError(
                localise(_TEXT, "no-name", self.lang, path=redact(self.path.name), name=name)
            )
        self.put(cell, value)

    def set_table(self, name: str, rows: Sequence[Sequence[Any]]) -> int:
        """Replace a table's content with ``rows`` (the rest of its rows cleared); returns how
        many rows did not fit."""
        cells = named_rows(self.wb, name)
        for i, row_cells in enumerate(cells):
            values = rows[i] if i < len(rows) else ()
            for j, cell in enumerate(row_cells):
                self.put(cell, values[j] if j < len(values) else None)
        return max(0, len(rows) - len(cells))

    def append_rows(self, name: str, rows: Sequence[Sequence[Any]]) -> int:
        """Write ``rows`` into the first empty rows of a table; returns how many did not fit."""
        cells = [r for r in named_rows(self.wb, name) if not any(filled(c.value) for c in r)]
        for row_cells, values in zip(cells, rows, strict=False):
            for j, cell in enumerate(row_cells):
                self.put(cell, values[j] if j < len(values) else None)
        return max(0, len(rows) - len(cells))

    def save(self, target: Path) -> Path:
        """Write the workbook to ``target`` atomically (a reader never sees half a file)."""
        target = Path(target)
        try:
            with atomic_output(target) as tmp:
                self.wb.save(tmp)
        except OSError as e:
            raise WriteError(
                localise(
                    _TEXT,
                    "write-failed",
                    self.lang,
                    path=redact(str(target)),
                    reason=e.strerror or type(e).__name__,
                )
            ) from None
        return target


_TEXT: dict[str, dict[str, str]] = {
    "no-name": {
        "zh": "{path} 缺少单元格名称 {name}：不是当前模板生成的日报，请删除后重新生成",
        "en": "{path} lacks the cell name {name}: not made from the current template; delete it and run again",
    },
    "write-failed": {
        "zh": "{path} 无法写入（{reason}）；原有文件未改动",
        "en": "{path} could not be written ({reason}); any existing file is untouched",
    },
}
