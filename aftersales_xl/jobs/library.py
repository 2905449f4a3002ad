"""``xlcheck library``: the solution library workbook (解决方案库.xlsx) from the master register.

Reads 总台账 (:func:`~aftersales_xl.reading.register.read_register`), groups the records
into recurring problems (:func:`~aftersales_xl.reports.recurring.library_table`: similar
description, analysis and solution within module × type) and writes one row per problem
(:func:`~aftersales_xl.reports.library_sheet.write_library`). The register is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import Policy
from ..errors import WriteError
from ..forms import FormSpec
from ..messages import localise
from ..reading.register import read_register
from ..reports.library_sheet import write_library
from ..reports.recurring import library_table
from ..writing.fileio import refuse_if_open_in_excel


@dataclass
class LibraryResult:
    """What :func:`build_library` wrote: ``problems`` rows covering ``covered`` of the
    register's ``records`` records."""

    output: Path
    records: int
    problems: int
    covered: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "records": self.records,
            "problems": self.problems,
            "records_in_problems": self.covered,
        }


def build_library(
    register: str | Path,
    output: str | Path,
    form: FormSpec,
    policy: Policy,
    *,
    now: datetime,
    lang: str = "zh",
) -> LibraryResult:
    """Write the solution library of ``register`` to ``output`` (replaced atomically).

    Raises :class:`UnreadableError` for an unreadable register, :class:`LockedError` when
    ``output`` is open in Excel, :class:`WriteError` when it cannot be written or is the
    register itself.
    """
    register, output = Path(register), Path(output)
    if output.resolve() == register.resolve():
        raise WriteError(localise(_TEXT, "same-file", lang, path=output.name))
    frame = read_register(register, form, policy, lang=lang)
    table = library_table(frame, policy, lang=lang)
    refuse_if_open_in_excel(output, lang)
    write_library(output, table, source=register.name, records=len(frame), now=now, lang=lang)
    covered = int(table["count"].sum()) if len(table) else 0
    return LibraryResult(output, len(frame), len(table), covered)


def render_library(result: LibraryResult, lang: str = "zh") -> str:
    """One line: where the library went and what it holds."""
    return localise(
        _TEXT,
        "library-written",
        lang,
        output=result.output,
        problems=result.problems,
        covered=result.covered,
        records=result.records,
    )


_TEXT: dict[str, dict[str, str]] = {
    "library-written": {
        "zh": "已生成解决方案库：{output}（{problems} 个高频问题，涵盖 {records} 条记录中的 {covered} 条）",
        "en": "Solution library written: {output} — {problems} recurring problems "
        "covering {covered} of {records} records",
    },
    "same-file": {
        "zh": "-o {path} 是总台账本身：请给解决方案库另一个文件名，例如 解决方案库.xlsx",
        "en": "-o {path} is the register itself: give the library another name, e.g. 解决方案库.xlsx",
    },
}
