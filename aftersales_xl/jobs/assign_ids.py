"""Filling blank 问题编号 deterministically, in frames (:func:`assign_ids`, used by merge) and in
workbooks (:func:`assign_workbooks`, the ``assign-ids`` command). The scheme itself is
:mod:`aftersales_xl.ids`.

:func:`assign_ids` fills blank IDs of several tables at once. For each day (month) it
continues after the highest sequence already used in any of the tables or in ``existing``
(the register's IDs); existing valid IDs are never changed; rows are numbered in order of
接收时间 (falling back to 问题发生时间 when 接收时间 is blank), then table order, then row,
so running it again on the same input gives the same IDs. A 接收时间 that is filled in but
is not a date (``0.4``, ``TRUE``, ``2024-05-21 25:00``) is a ``bad-date`` problem and the
row gets no ID. A copy written to ``-o DIR`` is masked as ``xlcheck mask`` writes it; in
place only the IDs change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ..coerce import is_missing, parse_datetime, to_text
from ..config import Policy
from ..errors import UnreadableError, WriteError, XlcheckError
from ..findings import FileOutcome, Finding, make_finding
from ..forms import FormSpec
from ..ids import format_id, id_parser, normalise_id, period_of, scheme_hint
from ..messages import localise
from ..writing.xlsxpatch import check_distinct_outputs, check_patchable, write_patched


# -- assigning ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class IdChange:
    """A new ID for one row; ``old`` is set when a duplicate ID was replaced.

    ``period`` (``20240521``) and ``seq`` are the parts of ``record_id`` (not compared).
    """

    source: str
    row: int
    record_id: str
    old: str | None = None
    period: str = field(default="", compare=False)
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unusable:
    """A date cell that is filled in but holds no usable date; ``shown`` is its text.

    :func:`assign_workbooks` puts it in the typed frame where typing failed, so that
    :func:`assign_ids` reports the cell instead of taking it for blank.
    """

    shown: str


@dataclass(frozen=True)
class IdProblem:
    """A row that was not numbered or holds a bad ID.

    ``code``: ``"no-date"`` (接收时间 and 问题发生时间 blank), ``"bad-date"`` (the date
    column ``key`` is filled in but is not a date: ``value``), ``"bad-format"`` or
    ``"duplicate-id"`` (``first`` is the (source, row) that uses the ID first).
    """

    source: str
    row: int
    code: str
    value: str | None = None
    first: tuple[str, int] | None = None
    key: str | None = None


class _SheetLike(Protocol):
    sheet: str

    def cell(self, key: str, row: int) -> str: ...


@dataclass
class Assignment:
    """What :func:`assign_ids` decided: the new IDs and the problems, in input order."""

    changes: list[IdChange] = field(default_factory=list)
    problems: list[IdProblem] = field(default_factory=list)

    def for_source(self, source: str) -> dict[int, str]:
        """Row → new ID for one table."""
        return {c.row: c.record_id for c in self.changes if c.source == source}

    @property
    def reassigned(self) -> list[IdChange]:
        """Duplicates that were given a new ID (``old`` → ``record_id``)."""
        return [c for c in self.changes if c.old is not None]

    def findings(
        self, source: str, sheet: _SheetLike, form: FormSpec, policy: Policy, lang: str = "zh"
    ) -> list[Finding]:
        """The problems of one table as findings on their cells (validate's codes).

        Duplicates that were given a new ID (``fix_duplicates``) are not findings any more;
        they are listed in :attr:`reassigned`.
        """
        label = form.field("record_id").title(lang)
        out: list[Finding] = []
        fixed = {(c.source, c.row) for c in self.reassigned}
        for p in self.problems:
            if p.source != source or (p.code == "duplicate-id" and (source, p.row) in fixed):
                continue
            if p.code in ("no-date", "bad-date"):  # at the date cell, not the ID's
                if p.code == "no-date":
                    key, code = "received_at", "required-value"
                    params = {"why": localise(_TEXT, "no-date", lang)}
                else:
                    key, code, params = p.key or "received_at", "bad-date", {"value": p.value}
                out.append(
                    make_finding(
                        code,
                        lang,
                        sheet=sheet.sheet,
                        cell=_cell(sheet, key, p.row),
                        row=p.row,
                        column=form.field(key).title(lang),
                        **params,
                    )
                )
                continue
            common = dict(sheet=sheet.sheet, cell=_cell(sheet, "record_id", p.row), row=p.row)
            if p.code == "bad-format":
                out.append(
                    make_finding(
                        "bad-format",
                        lang,
                        column=label,
                        value=p.value,
                        expected=scheme_hint(policy, lang),
                        **common,
                    )
                )
            else:
                first_source, first_row = p.first or (source, 0)
                other = (
                    str(first_row)
                    if first_source == source
                    else f"{first_row}（{Path(first_source).name}）"
                )
                out.append(
                    make_finding(
                        "duplicate-id", lang, column=label, value=p.value, other=other, **common
                    )
                )
        return out


def _cell(sheet: _SheetLike, key: str, row: int) -> str | None:
    try:
        return sheet.cell(key, row)
    except KeyError:
        return None


def assign_ids(
    batches: Sequence[tuple[str, pd.DataFrame]],
    policy: Policy,
    *,
    existing: Iterable[Any] = (),
    fix_duplicates: bool = False,
) -> Assignment:
    """Decide IDs for the blank 问题编号 cells of every table in ``batches``.

    Each batch is ``(source name, frame)``; the frame is indexed by Excel row and has the
    columns ``record_id``, ``received_at`` and ``occurred_at`` (typed values; raw text dates
    are parsed too; :class:`Unusable` marks a cell that is filled in but not a date).
    ``existing`` holds IDs already taken elsewhere (the register): their sequences are
    continued, never reused. Existing valid IDs are never changed; malformed and duplicate
    ones (the same period and sequence, however many leading zeros) are reported. With
    ``fix_duplicates`` every later use of a duplicated ID (by table order, then row) gets a
    new ID and is listed with its old one.
    """
    result = Assignment()
    parse = id_parser(policy)
    highest: dict[str, int] = {}
    for value in existing:
        _note(parse(value), highest)

    seen: dict[tuple[str, int], tuple[str, int]] = {}
    todo: list[tuple[pd.Timestamp, int, int, str, str | None]] = []
    for order, (source, frame) in enumerate(batches):
        ids = (
            frame["record_id"]
            if "record_id" in frame.columns
            else pd.Series(None, index=frame.index)
        )
        for row in frame.index:
            row = int(row)
            text = normalise_id(ids.get(row))
            old: str | None = None
            if text is not None:
                parsed = parse(text)
                if parsed is None:
                    result.problems.append(IdProblem(source, row, "bad-format", text))
                    continue
                _note(parsed, highest)
                if parsed not in seen:
                    seen[parsed] = (source, row)
                    continue
                result.problems.append(IdProblem(source, row, "duplicate-id", text, seen[parsed]))
                if not fix_duplicates:
                    continue
                old = text
            when = _when(frame, row)
            if isinstance(when, IdProblem):
                result.problems.append(replace(when, source=source, row=row))
                continue
            if when is None:
                result.problems.append(IdProblem(source, row, "no-date", old))
                continue
            todo.append((when, order, row, source, old))

    for when, _order, row, source, old in sorted(todo, key=lambda t: t[:3]):
        period = period_of(when, policy)
        seq = highest.get(period, 0) + 1
        highest[period] = seq
        record_id = format_id(period, seq, policy)
        result.changes.append(IdChange(source, row, record_id, old, period, seq))
    position = {name: i for i, (name, _f) in enumerate(batches)}
    result.changes.sort(key=lambda c: (position[c.source], c.row))
    return result


def _note(parsed: tuple[str, int] | None, highest: dict[str, int]) -> None:
    if parsed is not None:
        period, seq = parsed
        highest[period] = max(highest.get(period, 0), seq)


def _when(frame: pd.DataFrame, row: int) -> pd.Timestamp | IdProblem | None:
    """接收时间 of the row, else (when it is blank) 问题发生时间, as a Timestamp; None when
    both are blank; a ``bad-date`` problem (source and row still to fill in) for the first
    of them that is filled in but not a date."""
    for key in ("received_at", "occurred_at"):
        if key in frame.columns:
            value = frame.at[row, key]
            if is_missing(value):
                continue
            when = _as_timestamp(value)
            if when is None:
                shown = value.shown if isinstance(value, Unusable) else to_text(value)
                return IdProblem("", 0, "bad-date", shown, key=key)
            return when
    return None


def _as_timestamp(value: Any) -> pd.Timestamp | None:
    if isinstance(value, Unusable):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value)
    if isinstance(value, date):
        return pd.Timestamp(datetime(value.year, value.month, value.day))
    parsed = parse_datetime(value)
    return pd.Timestamp(parsed) if parsed is not None else None


# -- whole workbooks ----------------------------------------------------------------------
@dataclass
class IdOutcome(FileOutcome):
    """What numbering did to one workbook (see :class:`FileOutcome`): the IDs given, and
    ``findings`` such as malformed or duplicate IDs (errors: exit 1)."""

    assigned: list[IdChange] = field(default_factory=list)

    @property
    def reassigned(self) -> list[IdChange]:
        return [c for c in self.assigned if c.old is not None]


def assign_workbooks(
    paths: Iterable[Path],
    form: FormSpec,
    policy: Policy,
    *,
    register: Path | None = None,
    out_dir: Path | None = None,
    in_place: bool = False,
    fix_duplicates: bool = False,
    now: datetime | None = None,
    lang: str = "zh",
) -> list[IdOutcome]:
    """Fill blank 问题编号 cells of several workbooks as one run, writing patched copies.

    All readable workbooks are numbered together (:func:`assign_ids`), continuing after the
    IDs of ``register`` (a 总台账 written by merge) when given; each is then written to
    ``out_dir`` (or in place after a backup) with only the 问题编号 cells changed. Files that
    cannot be read or written get an ``error`` line; the others continue (the IDs of a
    readable .xls/.ods, which cannot be written back, still count as taken). Raises
    :class:`~aftersales_xl.errors.UnreadableError` if ``register`` cannot be read.
    """
    from ..coerce import coerce_frame
    from ..reading.opening import distinct_paths
    from ..reading.register import read_register
    from ..reading.workbook import read_form
    from .mask import plan_masking

    paths = distinct_paths(paths)
    check_distinct_outputs(paths, out_dir, in_place, lang)
    existing: list[Any] = []
    if register is not None:
        existing = read_register(register, form, policy, lang=lang)["record_id"].tolist()
    outcomes: list[IdOutcome] = []
    sheets = []
    for path in paths:
        outcome = IdOutcome(Path(path))
        outcomes.append(outcome)
        try:
            sheet, _ = read_form(path, form, policy, lang)
            if "record_id" not in sheet.columns:
                raise _no_id_column(path, form, lang)
            if sheet.part is None or sheet.kind not in ("xlsx", "xlsm"):
                # cannot be written back, but its IDs are taken: never hand them out again
                existing.extend(sheet.frame["record_id"].tolist())
                check_patchable(Path(path), lang, kind=sheet.kind)
        except UnreadableError as e:
            outcome.error, outcome.unreadable = str(e), True
            continue
        except XlcheckError as e:
            outcome.error = str(e)
            continue
        keys = [k for k in ("record_id", "received_at", "occurred_at") if k in sheet.frame.columns]
        coerced = coerce_frame(sheet.frame[keys], form, policy, sheet.date1904)
        typed = _mark_unusable(coerced.typed, coerced.failures)
        sheets.append((outcome, sheet, typed))

    batches = [(str(o.source), typed) for o, _s, typed in sheets]
    result = assign_ids(batches, policy, existing=existing, fix_duplicates=fix_duplicates)
    for outcome, sheet, _typed in sheets:
        name = str(outcome.source)
        outcome.findings = result.findings(name, sheet, form, policy, lang)
        new = [c for c in result.changes if c.source == name]
        if in_place and not new:
            outcome.output = outcome.source
            continue
        cells = {sheet.cell("record_id", c.row): c.record_id for c in new}
        try:
            # a copy is masked as `xlcheck mask` writes it (in place, only the IDs change)
            plan = None if in_place else plan_masking(outcome.source, sheet, form, policy, lang)
            if plan is not None and plan.elsewhere:  # a copy is safe to forward whole, or none
                outcome.findings += plan.notes
                outcome.error = plan.refusal(outcome.source, lang)
                continue
            outcome.output, outcome.backup = write_patched(
                outcome.source,
                str(sheet.part),
                cells if plan is None else {**plan.cells, **cells},
                out_dir=out_dir,
                in_place=in_place,
                now=now,
                lang=lang,
                **({} if plan is None else plan.patch_options()),
            )
            outcome.assigned = new
            if plan is not None:
                outcome.findings += plan.notes + plan.left_in(outcome.output, sheet, lang)
        except XlcheckError as e:
            outcome.error = str(e)
    return outcomes


def _mark_unusable(
    typed: pd.DataFrame, failures: dict[tuple[int, str], tuple[str, dict[str, Any]]]
) -> pd.DataFrame:
    """``typed`` with :class:`Unusable` in the date cells that could not be typed."""
    bad = [(row, key) for (row, key) in failures if key in ("received_at", "occurred_at")]
    if not bad:
        return typed
    typed = typed.copy()
    for key in {k for _r, k in bad}:
        typed[key] = typed[key].astype(object)
    for row, key in bad:
        typed.at[row, key] = Unusable(str(failures[(row, key)][1].get("value", "")))
    return typed


def _no_id_column(path: Path, form: FormSpec, lang: str) -> WriteError:
    label = form.field("record_id").title(lang)
    return WriteError(localise(_TEXT, "no-id-column", lang, name=Path(path).name, label=label))


_TEXT: dict[str, dict[str, str]] = {
    "no-date": {
        "zh": "（没有有效的接收时间或问题发生时间，无法自动编号）",
        "en": " (no valid received or occurred time, so no ID could be assigned)",
    },
    "no-id-column": {
        "zh": "{name}：没有“{label}”列可填写：请按模板加上这一列后再运行",
        "en": '{name}: there is no "{label}" column to fill; add it as in the template and run again',
    },
}
