"""Findings are data: one record per problem, one report per run; ``to_dict()`` is the JSON contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .messages import message

ERROR = "error"
WARNING = "warning"

# code -> default severity. Stable kebab-case codes (see BRIEF contracts); add, never rename.
CODES: dict[str, str] = {
    "missing-column": ERROR,
    "unknown-column": WARNING,
    "duplicate-column": WARNING,
    "required-value": ERROR,
    "not-in-list": ERROR,
    "bad-format": ERROR,
    "bad-date": ERROR,
    "out-of-range": ERROR,
    "duplicate-id": ERROR,
    "unmasked-contact": ERROR,
    "pii-in-text": WARNING,
    "time-order": ERROR,
    "status-inconsistent": ERROR,
    "sla-breach": WARNING,
    "unreadable": ERROR,
    "hidden-data": WARNING,
    "formula-no-value": ERROR,
    "error-value": ERROR,
    "conflict": ERROR,
    "late-report": WARNING,
    "edit-conflict": ERROR,
}


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    sheet: str | None
    cell: str | None
    row: int | None
    column: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_finding(
    code: str,
    lang: str = "zh",
    *,
    sheet: str | None = None,
    cell: str | None = None,
    row: int | None = None,
    column: str | None = None,
    severity: str | None = None,
    **params: Any,
) -> Finding:
    """Build a finding whose message comes from the catalogue in ``messages.py``.

    ``params`` fill the message template; never pass a raw contact value or PII here.
    """
    text = message(code, lang, sheet=sheet, cell=cell, column=column, **params)
    return Finding(severity or CODES[code], code, sheet, cell, row, column, text)


@dataclass
class FileReport:
    path: str
    form: str | None = "record"
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    sheet: str | None = None
    unreadable: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. "macros are not carried over"
    annotated: str | None = None  # path of the annotated copy, when one was written
    write_failed: bool = False  # an output asked for (the annotated copy) could not be written

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)

    @property
    def valid(self) -> bool:
        return self.errors == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "form": self.form,
            "rows": self.rows,
            "valid": self.valid,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
            "annotated": self.annotated,
        }


@dataclass
class Report:
    files: list[FileReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the whole run, e.g. calendar data

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(f.warnings for f in self.files)

    @property
    def any_unreadable(self) -> bool:
        return any(f.unreadable for f in self.files)

    def exit_code(self) -> int:
        """0 = no error findings; 1 = error findings; 2 = an input could not be read at all,
        or an output asked for could not be written."""
        if self.any_unreadable or any(f.write_failed for f in self.files):
            return 2
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [f.to_dict() for f in self.files],
            "summary": {
                "files": len(self.files),
                "valid": sum(1 for f in self.files if f.valid),
                "errors": self.errors,
                "warnings": self.warnings,
            },
            "notes": list(self.notes),
        }


@dataclass
class FileOutcome:
    """What a job that writes workbooks (mask, assign-ids) did to one input.

    ``error`` (one line) means nothing was written for it; ``findings`` are what the job
    reports about it (error findings: something the user must fix). :attr:`exit_code` is the
    contract's 0/1/2 for this file; a run exits with the highest of its files'.
    """

    source: Path
    output: Path | None = None
    backup: Path | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    unreadable: bool = False

    @property
    def exit_code(self) -> int:
        """2: not written (unreadable, or the output could not be written); 1: error findings;
        0: done."""
        if self.error is not None:
            return 2
        return 1 if any(f.severity == ERROR for f in self.findings) else 0
