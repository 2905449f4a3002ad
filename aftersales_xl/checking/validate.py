"""Validate record workbooks: pandera for per-column rules, vectorised pandas for cross-field rules.

Pipeline for one file: :func:`workbook.read_form` (safe open, sheet, header, raw values) →
:func:`coerce.coerce_frame` (typed values, cells that could not be typed) → the pandera schema
built from the spec (:func:`build_schema`, ``lazy=True``) → cross-field rules → findings with the
physical cell. Every rule's failure is translated into a :class:`Finding` in this module only.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .. import pii
from ..coerce import Coerced, ColumnFacts, coerce_with_facts
from ..config import Policy
from ..errors import UnreadableError
from ..findings import ERROR, WARNING, FileReport, Finding, make_finding
from ..forms import FieldSpec, FormSpec
from ..ids import id_pattern, parse_id, scheme_hint
from ..messages import localise, shorten
from ..pii import redact
from ..reading.opening import Reading
from ..reading.workbook import FormSheet, read_form
from ..sla import sla_findings
from ..workcal import WorkCalendar

REQUIRED_ALWAYS = ("yes",)

# pandera sets up its pandas backend on its first validation (importing its data-synthesis
# strategies, and hypothesis when that is installed: ~0.1 s); do it here, with the imports,
# so that the first file checked does not pay for it
pa.DataFrameSchema().validate(pd.DataFrame())


@dataclass
class Checked:
    """Everything one file's check produced: the report, the sheet read and its typed values."""

    report: FileReport
    sheet: FormSheet | None = None
    typed: pd.DataFrame | None = None
    error_rows: set[int] = field(default_factory=set)


# -- schema -----------------------------------------------------------------------------------
def build_schema(
    form: FormSpec, policy: Policy, keys: Iterable[str]
) -> tuple[pa.DataFrameSchema, dict]:
    """The pandera schema for the columns present, and ``{(key, check_number): code}``."""
    columns: dict[str, pa.Column] = {}
    codes: dict[tuple[str, int], str] = {}
    for key in keys:
        spec = form.field(key)
        checks: list[pa.Check] = []
        if spec.type == "list":
            checks.append(pa.Check.isin(policy.allowed(spec.list or key)))
            codes[(key, 0)] = "not-in-list"
        elif spec.type == "rating":
            checks.append(pa.Check.in_range(spec.min or 1, spec.max or 5))
            codes[(key, 0)] = "out-of-range"
        elif spec.check == "record-id":
            # the pattern, and a real date in it (FW20240231001 is not an ID)
            checks.append(pa.Check(_id_check(policy), element_wise=False))
            codes[(key, 0)] = "bad-format"
        columns[key] = pa.Column(None, nullable=spec.required not in REQUIRED_ALWAYS, checks=checks)
    return pa.DataFrameSchema(columns, strict=False, coerce=False), codes


def _id_check(policy: Policy) -> Callable[[pd.Series], pd.Series]:
    """The vectorised check "blank, or ``parse_id`` accepts it" for a record-ID column.

    An ID that is already in its normal form (ASCII, trimmed, upper case: as typed by
    :func:`coerce.coerce_frame`) is matched against :func:`ids.id_pattern` directly, and the
    real-date test of its period is made once per distinct period (``parse_id`` of the first
    such ID); any other value goes through :func:`ids.parse_id` itself.
    """
    pattern = id_pattern(policy)

    def check(series: pd.Series) -> pd.Series:
        match = pattern.match
        periods: dict[str, bool] = {}
        out = []
        for v in series.tolist():
            if v is None:
                out.append(True)
            elif type(v) is str and v.isascii() and v and v == v.strip().upper():
                m = match(v)
                if m is None:
                    out.append(False)
                else:
                    period = m.group("period")
                    ok = periods.get(period)
                    if ok is None:
                        ok = periods[period] = parse_id(v, policy) is not None
                    out.append(ok)
            else:
                out.append(parse_id(v, policy) is not None)
        return pd.Series(out, index=series.index, dtype=bool)

    return check


def _schema_failures(
    typed: pd.DataFrame,
    form: FormSpec,
    policy: Policy,
    present: dict[str, np.ndarray] | None = None,
) -> list[tuple[int, str, str, object]]:
    """Run pandera lazily; return ``(row, key, code, value)`` per failing cell.

    Pandera gets only the columns that can fail (a check, or blanks not allowed): a nullable
    column without checks never yields a failure case. A column whose only rule is "not blank"
    is handed over as its blank/filled pattern when ``present`` knows it (a float column: the same
    failure cases, and pandera's null test then needs no look at 100,000 scattered strings).
    """
    keys = [k for k in typed.columns if _can_fail(form.field(k))]
    schema, codes = build_schema(form, policy, keys)
    present = present or {}
    columns = {
        k: np.where(present[k], _FILLED, np.nan)
        if k in present and _only_required(form.field(k))
        else typed[k]
        for k in keys
    }
    try:
        schema.validate(pd.DataFrame(columns, index=typed.index), lazy=True, inplace=True)
    except pa.errors.SchemaErrors as e:
        out = []
        for rec in e.failure_cases.itertuples(index=False):
            if rec.index is None or rec.column is None or rec.index != rec.index:  # None/NaN
                continue
            if rec.check == "not_nullable":
                code = "required-value"
            else:
                code = codes.get((rec.column, int(rec.check_number)), "bad-format")
            out.append((int(rec.index), rec.column, code, rec.failure_case))
        return out
    return []


#: what pandera sees in a filled cell of a column whose only rule is "not blank" (a blank is NaN)
_FILLED = 1.0


def _only_required(spec: FieldSpec) -> bool:
    """Whether :func:`build_schema` gives field ``spec`` no check but "not blank"."""
    return spec.required in REQUIRED_ALWAYS and spec.type == "text" and spec.check != "record-id"


def _can_fail(spec: FieldSpec) -> bool:
    """Whether :func:`build_schema` gives field ``spec`` any check (blanks refused, or a rule)."""
    return (
        spec.required in REQUIRED_ALWAYS
        or spec.type in ("list", "rating")
        or spec.check == "record-id"
    )


def shown_path(path: str | Path) -> str:
    """``path`` as reports show it: a phone number or email in a file or folder name is masked
    (``张先生13812345678.xlsx`` → ``张先生****5678.xlsx``), as everywhere else."""
    return redact(str(path))


# -- one file ---------------------------------------------------------------------------------
def check_file(
    path: str | Path,
    form: FormSpec,
    policy: Policy,
    *,
    lang: str = "zh",
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    reading: Reading | None = None,
) -> Checked:
    """Validate one workbook. Never raises for bad input: unreadable files give an ``unreadable``
    finding with ``cell: null``.

    ``calendar`` is the run's working calendar; when it is given, its "no holiday data"
    warnings are the caller's to report once for the run, otherwise they are this file's notes.
    ``reading``: a reading of ``path`` begun early (see :func:`~aftersales_xl.reading.workbook.read_form`).
    """
    with _collector_paused():
        return _check_file(Path(path), form, policy, lang, now, calendar, reading)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one file is checked.

    Reading a big sheet creates millions of objects and no reference cycles; left running, the
    collector would walk them all again and again (about a tenth of the run on 100,000 rows).
    Memory is still freed by reference counting; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_file(
    path: Path,
    form: FormSpec,
    policy: Policy,
    lang: str,
    now: datetime | None,
    calendar: WorkCalendar | None = None,
    reading: Reading | None = None,
) -> Checked:
    report = FileReport(path=shown_path(path), form=form.name)
    if report.path != str(path):
        report.notes.append(localise(_TEXT, "pii-in-file-name", lang))
    try:
        sheet, structural = read_form(path, form, policy, lang, reading=reading)
    except UnreadableError as e:
        report.unreadable = True
        report.form = None
        report.findings.append(make_finding("unreadable", lang, detail=str(e)))
        return Checked(report)
    report.sheet = sheet.sheet
    checked_distinct = [
        f.key
        for f in (
            *form.by_check("masked-name"),
            *form.by_check("masked-contact"),
            *form.pii_scanned(),
        )
    ]
    coerced, facts = coerce_with_facts(
        sheet.frame, form, policy, sheet.date1904, checked_distinct, sheet.cell_codes
    )
    # whitespace-only rows are not records either
    typed = coerced.typed
    blank = _blank_rows(typed, facts.present)
    if blank is not None:
        dropped = set(sheet.frame.index[blank])
        typed = typed[~blank]
        sheet.frame = sheet.frame[~blank]
        facts = facts.subset(~blank)
        # a hidden row of spaces is no record: it holds no data to warn about
        structural = [f for f in structural if not (f.code == "hidden-data" and f.row in dropped)]
        sheet.hidden_rows = sheet.hidden_rows - dropped
    report.rows = len(typed)
    rules = _rule_findings(
        sheet,
        Coerced(typed, coerced.failures),
        form,
        policy,
        lang,
        now,
        report.notes,
        facts,
        calendar,
    )
    # a cell showing #N/A or a formula without a result reads as blank: its own finding says
    # what is wrong, so "required, cannot be blank" is not added on top of it
    unread = {f.cell for f in structural if f.code in _UNREAD_CELL_CODES}
    if unread:
        rules = [f for f in rules if not (f.code == "required-value" and f.cell in unread)]
    findings = structural + rules
    findings.sort(key=lambda f: (f.row is not None, f.row or 0, _col_order(f.cell)))
    report.findings = findings
    error_rows = {f.row for f in findings if f.severity == ERROR and f.row and f.cell}
    return Checked(report, sheet, typed, error_rows)


#: structural findings about a cell whose value could not be read (it is blank in the frame)
_UNREAD_CELL_CODES = frozenset({"error-value", "formula-no-value"})


def _blank_rows(typed: pd.DataFrame, present: dict[str, np.ndarray]) -> np.ndarray | None:
    """Which rows are blank in every typed column, or None if no row is.

    Stops at the first column that leaves no row blank (usually the first one); ``present``
    gives the filled cells of the columns where they are known.
    """
    if not len(typed.columns):
        return np.ones(len(typed), dtype=bool) if len(typed) else None
    blank: np.ndarray | None = None
    for key in typed.columns:
        na = ~present[key] if key in present else typed[key].isna().to_numpy()
        blank = na if blank is None else blank & na
        if not blank.any():
            return None
    return blank


def _col_order(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (0, "")
    letters = cell.rstrip("0123456789")  # an A1 reference: the letters, in one C-level call
    if not letters.isalpha():
        letters = "".join(c for c in cell if c.isalpha())
    return (len(letters), letters)


def rule_findings(
    sheet: FormSheet,
    coerced: Coerced,
    form: FormSpec,
    policy: Policy,
    lang: str = "zh",
    now: datetime | None = None,
    notes: list[str] | None = None,
) -> list[Finding]:
    """All cell findings for a typed record table: coercion failures, schema, cross-field rules."""
    return _rule_findings(sheet, coerced, form, policy, lang, now, notes, ColumnFacts())


def _rule_findings(
    sheet: FormSheet,
    coerced: Coerced,
    form: FormSpec,
    policy: Policy,
    lang: str,
    now: datetime | None,
    notes: list[str] | None,
    facts: ColumnFacts,
    calendar: WorkCalendar | None = None,
) -> list[Finding]:
    """:func:`rule_findings`, given what typing learnt about the columns (:class:`ColumnFacts`)."""
    typed = coerced.typed
    notes = notes if notes is not None else []
    out: list[Finding] = []
    seen: set[tuple[int, str]] = set()
    rows = typed.index.to_numpy()
    letters = {key: sheet.cell(key, 0)[:-1] for key in typed.columns}
    columns = {key: sheet.label(key, form, lang) for key in typed.columns}
    sheet_name = sheet.sheet

    def add(code: str, row: int, key: str, severity: str | None = None, **params) -> None:
        if (row, key) in seen and severity != WARNING:
            return
        seen.add((row, key))
        # a key whose column is missing (e.g. an SLA finding on an absent 解决时间) has no cell
        letter = letters.get(key)
        out.append(
            make_finding(
                code,
                lang,
                sheet=sheet_name,
                cell=f"{letter}{row}" if letter else None,
                row=row,
                column=columns.get(key) or form.field(key).title(lang),
                severity=severity,
                **params,
            )
        )

    # 1. cells that could not be typed (bad-date, not-in-list, rating format)
    if coerced.failures:
        kept = _still_there([row for row, _ in coerced.failures], rows)
        expected = {}
        for ((row, key), (code, params)), keep in zip(coerced.failures.items(), kept, strict=True):
            if keep:
                if key not in expected:
                    expected[key] = _expected(form, policy, key, lang)
                add(code, row, key, **params, expected=expected[key])

    # 2. pandera: required, list membership, ID format, rating range
    for row, key, code, value in _schema_failures(typed, form, policy, facts.present):
        params = {"value": shorten(value) if value is not None else ""}
        if code == "required-value":
            params["why"] = ""
        add(code, row, key, **params, expected=_expected(form, policy, key, lang))

    # 3. cross-field rules (masks are plain numpy arrays, computed once per column)
    cols = set(typed.columns)
    present = dict(facts.present)

    def filled(key: str) -> np.ndarray:
        if key not in present:
            present[key] = typed[key].notna().to_numpy()
        return present[key]

    if "status" in cols:
        status = typed["status"]
        done = policy.is_done(status).to_numpy()
        known_status = filled("status")
        pending = (status == policy.pending_status).to_numpy()
    else:
        status = None
        done = known_status = pending = np.zeros(len(typed), dtype=bool)

    done_words = "/".join(policy.done_statuses)

    def conditional_required(key: str, mask: np.ndarray, why_key: str, severity=None):
        if key not in cols:
            return
        why = localise(_TEXT, why_key, lang, pending=policy.pending_status, done=done_words)
        for row in rows[mask & ~filled(key)].tolist():
            add("required-value", row, key, severity=severity, why=why)

    for spec in form.fields:
        if spec.required == "unless-pending":
            conditional_required(spec.key, known_status & ~pending, "why-unless-pending")
        elif spec.required == "when-done":
            conditional_required(spec.key, done, "why-when-done")
        elif spec.required == "expected-when-done":
            conditional_required(spec.key, done, "why-expected-when-done", severity=WARNING)

    if status is not None:
        open_ = known_status & ~done
        if "resolved_at" in cols:
            hits = np.flatnonzero(open_ & filled("resolved_at"))
            for row, value in zip(
                rows[hits].tolist(), status.to_numpy()[hits].tolist(), strict=True
            ):
                add(
                    "status-inconsistent",
                    row,
                    "status",
                    detail=localise(_TEXT, "open-but-resolved", lang, value=value, done=done_words),
                )
        if "satisfaction" in cols:
            for row in rows[open_ & filled("satisfaction")].tolist():
                add(
                    "status-inconsistent",
                    row,
                    "satisfaction",
                    detail=localise(_TEXT, "open-but-rated", lang),
                )

    _time_order(typed, cols, add, form, lang)
    _duplicate_ids(typed, cols, add)
    _masking(typed, form, policy, add, lang, facts.distinct)

    if {"severity", "occurred_at", "received_at"} <= cols:
        shared = calendar is not None
        calendar = calendar if shared else WorkCalendar.from_policy(policy)
        # a record marked done without 解决时间 already has a required-value error; it is not "open"
        unmeasured = (
            set(rows[done & ~filled("resolved_at")].tolist()) if "resolved_at" in cols else set()
        )
        for row, key, params in sla_findings(
            typed, policy, calendar, now or datetime.now(), lang, include_open=now is not None
        ):
            if not (key == "resolved_at" and row in unmeasured):
                add("sla-breach", row, key, severity=WARNING, **params)
        if not shared:
            notes.extend(calendar.warning_messages(lang))
    return out


def _still_there(failing: list, rows: np.ndarray) -> list[bool]:
    """Which of the rows ``failing`` are still among ``rows`` (blank rows are dropped after typing)."""
    if rows.dtype.kind in "iu" and all(type(row) is int for row in failing):
        return np.isin(np.asarray(failing, dtype=rows.dtype), rows).tolist()
    present = set(rows.tolist())  # not an Excel row number index
    return [row in present for row in failing]


def _expected(form: FormSpec, policy: Policy, key: str, lang: str) -> str:
    spec = form.field(key)
    if spec.check == "record-id":
        return scheme_hint(policy, lang)
    if spec.type == "rating":
        return localise(_TEXT, "expected-rating", lang, min=spec.min, max=spec.max)
    return ""


def _time_order(
    typed: pd.DataFrame, cols: set[str], add: Callable, form: FormSpec, lang: str
) -> None:
    pairs = (("received_at", "occurred_at"), ("resolved_at", "received_at"))
    for later, earlier in pairs:
        if later not in cols or earlier not in cols:
            continue
        bad = np.flatnonzero((typed[later] < typed[earlier]).to_numpy())
        if not len(bad):
            continue
        rows = typed.index.to_numpy()[bad].tolist()
        this, other = form.field(later).title(lang), form.field(earlier).title(lang)
        for row, value, other_value in zip(
            rows, _minutes(typed[later], bad), _minutes(typed[earlier], bad), strict=True
        ):
            add(
                "time-order",
                row,
                later,
                this=this,
                other=other,
                value=value,
                other_value=other_value,
            )


def _minutes(times: pd.Series, at: np.ndarray) -> list[str]:
    """``f"{t:%Y-%m-%d %H:%M}"`` of the datetimes ``times`` at positions ``at``, in one call."""
    stamps = np.datetime_as_string(times.to_numpy()[at].astype("datetime64[m]"), unit="m")
    return [s.replace("T", " ") for s in stamps.tolist()]


def _duplicate_ids(typed: pd.DataFrame, cols: set[str], add: Callable) -> None:
    if "record_id" not in cols:
        return
    ids = typed["record_id"].dropna()
    values = ids.tolist()
    if len(set(values)) == len(values):  # the usual case, in one C-level pass
        return
    repeated = ids.duplicated(keep=False).to_numpy()
    first: dict[str, int] = {}
    for row, value in zip(
        ids.index[repeated].tolist(), ids.to_numpy()[repeated].tolist(), strict=True
    ):
        if value not in first:
            first[value] = row
        else:
            add("duplicate-id", row, "record_id", value=value, other=int(first[value]))


def _flagged(
    col: pd.Series, judge: Callable[[str], Any], distinct: set[str] | None
) -> Iterator[tuple[int, Any]]:
    """``(row, verdict)`` for each filled cell of ``col`` whose verdict is truthy, in row order.

    ``judge`` runs once per distinct value (``distinct``, when the caller knows them); rows are
    looked up only for the values it flags.
    """
    values = col.to_numpy()
    if distinct is None:
        distinct = set(values.tolist())
    verdicts = {v: verdict for v in distinct if isinstance(v, str) and (verdict := judge(v))}
    if not verdicts:
        return
    hits = np.flatnonzero(col.isin(list(verdicts)).to_numpy())
    for row, value in zip(col.index.to_numpy()[hits].tolist(), values[hits].tolist(), strict=True):
        yield row, verdicts[value]


def _masking(
    typed: pd.DataFrame,
    form: FormSpec,
    policy: Policy,
    add: Callable,
    lang: str,
    distinct: dict[str, set[str]],
) -> None:
    mask = policy.mask
    for spec in form.by_check("masked-name"):
        if spec.key not in typed.columns:
            continue
        judge = lambda v: pii.name_unmasked(v, mask["char"], mask["name_keep"])  # noqa: E731
        for row, _ in _flagged(typed[spec.key], judge, distinct.get(spec.key)):
            add(
                "unmasked-contact",
                row,
                spec.key,
                what=spec.title(lang),
                fix=localise(_TEXT, "fix-name", lang),
            )
    for spec in form.by_check("masked-contact"):
        if spec.key not in typed.columns:
            continue
        judge = lambda v: pii.contact_unmasked(v, mask["char"], mask["phone_keep_last"])  # noqa: E731
        for row, kind in _flagged(typed[spec.key], judge, distinct.get(spec.key)):
            fix = localise(_TEXT, "fix-email" if kind == "email" else "fix-phone", lang)
            add("unmasked-contact", row, spec.key, what=spec.title(lang), fix=fix)
    for spec in form.pii_scanned():
        if spec.key not in typed.columns:
            continue
        for row, kinds in _flagged(typed[spec.key], pii.pii_kinds, distinct.get(spec.key)):
            add(
                "pii-in-text",
                row,
                spec.key,
                severity=WARNING,
                what=pii.kinds_named(kinds, lang),
            )


_TEXT: dict[str, dict[str, str]] = {
    "pii-in-file-name": {
        "zh": "文件名中含有手机号或邮箱，报告中已遮盖：请给文件改名",
        "en": "the file name holds a phone number or email, masked in this report: rename the file",
    },
    "why-unless-pending": {
        "zh": "（处理进度不是“{pending}”时必填）",
        "en": " (required unless the status is {pending})",
    },
    "why-when-done": {"zh": "（{done}时必填）", "en": " (required once {done})"},
    "why-expected-when-done": {"zh": "（{done}时应填写）", "en": " (expected once {done})"},
    "open-but-resolved": {
        "zh": "处理进度为“{value}”却已填写解决时间：已解决请改为{done}，否则清空解决时间",
        "en": 'status is "{value}" but a resolution time is filled in: '
        "set the status to {done}, or clear the resolution time",
    },
    "open-but-rated": {
        "zh": "问题尚未解决就填写了客户满意度：解决后再回访评分",
        "en": "a satisfaction rating is given before the problem is resolved: rate it after resolution",
    },
    "expected-rating": {"zh": "{min}–{max} 的整数", "en": "a whole number {min}–{max}"},
    "fix-name": {
        "zh": "只保留姓，其余用*代替，如 张*",
        "en": "keep the first letter only, e.g. Z*",
    },
    "fix-email": {
        "zh": "邮箱只留首字母和域名，如 z***@example.com",
        "en": "show only the first letter and the domain, e.g. z***@example.com",
    },
    "fix-phone": {
        "zh": "电话只留后4位，如 ****5678",
        "en": "show only the last 4 digits, e.g. ****5678",
    },
}
