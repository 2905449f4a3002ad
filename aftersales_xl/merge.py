"""Merge validated submissions into the master register (总台账), never losing a record.

For each submitted row, in this order:

1. rows with error findings are kept out and listed in 待修正 (``unmasked-contact`` and
   ``pii-in-text`` do not keep a row out: masking fixes them);
2. contact data and free-text PII are masked (:func:`mask.mask_frame`);
3. a row without 问题编号 that matches a register record on customer + 问题发生时间 + 问题描述
   is that record; other blank IDs are assigned (:func:`ids.assign_ids`, continuing the
   register's sequences);
4. the same ID arriving with different content from two files of one run is a conflict: every
   version is kept out and listed in 待修正 field by field;
5. an ID already in the register replaces the register's row when its content changed; the
   replaced version goes to 变更记录 with the time and source. Unchanged rows keep their
   provenance, so merging the same submissions twice leaves 总台账 as it was.

Records are never deleted. The register is written to a temporary file and moved over the old
one; the previous version is kept as a backup; a lock file stops two merges at once.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Policy
from .errors import LockedError
from .fileio import backup_copy, refuse_if_open_in_excel
from .findings import ERROR, Report
from .forms import FormSpec
from .ids import assign_ids, parse_id
from .mask import mask_frame
from .register import (
    PROVENANCE,
    RejectedRow,
    read_history,
    read_register,
    with_sla_columns,
    write_register,
)
from .summaries import compute_summaries
from .validate import Checked, check_paths
from .workbook import expand_paths
from .workcal import WorkCalendar

#: findings that masking fixes: they never keep a row out of the register
FIXED_BY_MASKING = frozenset({"unmasked-contact", "pii-in-text"})
#: a record without ID is the same record as a register row with these equal
NATURAL_KEY = ("customer", "occurred_at", "description")
#: an incoming row with a register ID updates that record only if these agree
IDENTITY = ("customer", "occurred_at")


@dataclass
class MergeResult:
    """What one merge did. ``report`` is the validation report of the submissions."""

    register: Path
    report: Report
    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    conflicts: int = 0
    masked: Counter = field(default_factory=Counter)
    assigned: int = 0
    total: int = 0
    backup: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """2 if a submission could not be read, 1 if any row was kept out, else 0."""
        if self.report.any_unreadable:
            return 2
        return 1 if (self.rejected_rows or self.conflicts) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "register": str(self.register),
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected_rows,
            "conflicts": self.conflicts,
            "ids_assigned": self.assigned,
            "masked": dict(self.masked),
            "total": self.total,
            "backup": str(self.backup) if self.backup else None,
            "validation": self.report.to_dict(),
        }


# -- locking ------------------------------------------------------------------------------------
class MergeLock:
    """An exclusive lock file beside the register (``.总台账.xlsx.lock``)."""

    def __init__(self, register: Path, lang: str = "zh"):
        self.path = register.with_name(f".{register.name}.lock")
        self.lang = lang

    def __enter__(self) -> MergeLock:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            since = datetime.fromtimestamp(self.path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            msg = (
                f"另一个合并正在进行（{since} 开始）：请等它结束；如确认没有合并在运行，删除 {self.path} 后重试"
                if self.lang != "en"
                else f"another merge is running (since {since}): wait for it; if none is, delete {self.path} and retry"
            )
            raise LockedError(msg) from None
        with os.fdopen(fd, "w") as f:
            f.write(f"pid {os.getpid()} at {datetime.now().isoformat(timespec='seconds')}\n")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.path.unlink(missing_ok=True)


# -- comparing records --------------------------------------------------------------------------
def _canon(value: Any) -> Any:
    """A value as compared between a submission and the register (blank, second, int)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)
    if isinstance(value, datetime):
        return value.replace(microsecond=0, tzinfo=None)
    if hasattr(value, "item"):  # numpy scalars
        return _canon(value.item())
    return value


def _changed_fields(old: dict[str, Any], new: dict[str, Any], keys: Sequence[str]) -> list[str]:
    return [k for k in keys if _canon(old.get(k)) != _canon(new.get(k))]


def default_week_start(now: datetime) -> datetime:
    """Monday 00:00 of the last complete Monday–Sunday week before ``now``."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday - timedelta(days=7)


# -- the merge ----------------------------------------------------------------------------------
def merge(
    paths: Iterable[str | Path],
    register: str | Path,
    form: FormSpec,
    policy: Policy,
    *,
    now: datetime,
    week_start: datetime | None = None,
    lang: str = "zh",
    annotate_dir: Path | None = None,
    keep: int = 5,
    on_file: Callable[[Path], None] | None = None,
    debug: bool = False,
) -> MergeResult:
    """Merge the submissions in ``paths`` into ``register`` (created if missing).

    ``now`` stamps 合并时间 and measures open records; ``week_start`` (default: the last
    complete week) picks the overview's "latest week".
    """
    register = Path(register)
    register.parent.mkdir(parents=True, exist_ok=True)
    now = now.replace(microsecond=0)
    # the register (or a backup of it) kept among the submissions is never merged into itself
    paths = [p for p in expand_paths(list(paths)) if not _same_path(p, register)]
    refuse_if_open_in_excel(register, lang)
    with MergeLock(register, lang):
        return _merge_locked(
            paths,
            register,
            form,
            policy,
            now=now,
            week_start=week_start or default_week_start(now),
            lang=lang,
            annotate_dir=annotate_dir,
            keep=keep,
            on_file=on_file,
            debug=debug,
        )


def _merge_locked(
    paths,
    register: Path,
    form: FormSpec,
    policy: Policy,
    *,
    now: datetime,
    week_start: datetime,
    lang: str,
    annotate_dir,
    keep: int,
    on_file,
    debug,
) -> MergeResult:
    keys = form.keys
    prov = list(PROVENANCE)
    exists = register.is_file()
    old = (
        read_register(register, form, policy, lang=lang).reset_index(drop=True)
        if exists
        else _empty(keys + prov)
    )
    history = read_history(register, form, policy, lang=lang) if exists else None

    checked: list[Checked] = list(
        check_paths(
            paths,
            form,
            policy,
            lang=lang,
            now=now,
            annotate_dir=annotate_dir,
            annotate_only_failed=True,
            on_file=on_file,
            debug=debug,
        )
    )
    result = MergeResult(register=register, report=Report([c.report for c in checked]))
    result.files = len(checked)
    names = _source_names([Path(c.report.path) for c in checked])
    rejected: list[RejectedRow] = []

    # 1. keep out rows with blocking errors; mask the rest
    batches: list[tuple[str, pd.DataFrame, Checked]] = []
    for c in checked:
        source = names[c.report.path]
        blocking = [
            f for f in c.report.findings if f.severity == ERROR and f.code not in FIXED_BY_MASKING
        ]
        rejected += [RejectedRow.from_finding(source, f) for f in blocking]
        if c.typed is None:
            continue
        if any(
            f.row is None or f.code == "missing-column" for f in blocking
        ):  # file-level: all out
            result.rejected_rows += len(c.typed)
            continue
        bad_rows = {f.row for f in blocking}
        result.rejected_rows += len(bad_rows)
        frame = c.typed[~c.typed.index.isin(bad_rows)]
        frame = frame.reindex(columns=keys)
        masked, _changes, counts = mask_frame(frame, form, policy)
        result.masked.update(counts)
        batches.append((source, masked, c))

    # 2. identity: blank IDs matching register records on the natural key take their IDs,
    #    one to one in order (two records may share a key), then new IDs for the rest
    by_key = _natural_index(old)
    for _source, frame, _c in batches:
        ids = frame["record_id"].tolist()
        naturals = zip(*(frame[k].tolist() for k in NATURAL_KEY), strict=True)
        frame["record_id"] = [
            rid if rid is not None else _take(by_key, tuple(map(_canon, nat)))
            for rid, nat in zip(ids, naturals, strict=True)
        ]
    assignment = assign_ids(
        [(s, f) for s, f, _ in batches], policy, existing=old["record_id"].dropna().tolist()
    )
    for source, frame, _c in batches:
        new_ids = assignment.for_source(source)
        if new_ids:
            frame["record_id"] = [
                new_ids.get(row, rid)
                for row, rid in zip(frame.index.tolist(), frame["record_id"].tolist(), strict=True)
            ]
    result.assigned = len(assignment.changes)

    # 3. one version per ID in this run; different versions from two files are a conflict
    Version = tuple[str, int, dict[str, Any], Checked]
    incoming: dict[str, Version] = {}
    conflicted: dict[str, list[Version]] = {}
    for source, frame, c in batches:
        for row, rec in frame.to_dict("index").items():
            rid = rec["record_id"]
            if rid is None or rid != rid:
                continue  # no usable date: validate already reported it as an error
            if rid in conflicted:
                conflicted[rid].append((source, row, rec, c))
            elif rid in incoming:
                first = incoming[rid]
                if _changed_fields(first[2], rec, keys):
                    conflicted[rid] = [first, (source, row, rec, c)]
                    del incoming[rid]
            else:
                incoming[rid] = (source, row, rec, c)
    for rid, versions in conflicted.items():
        result.conflicts += len(versions)
        rejected += _conflict_rows(rid, versions, keys, form, lang)

    # 4. update or add
    records = old.to_dict("records")
    position = {
        rec["record_id"]: i for i, rec in enumerate(records) if rec["record_id"] is not None
    }
    new_rows: list[dict[str, Any]] = []
    replaced: list[dict[str, Any]] = []
    for rid, (source, row, rec, c) in incoming.items():
        values = {k: rec[k] for k in keys}
        values.update(source_file=source, source_row=int(row), merged_at=now)
        if rid in position:
            before = records[position[rid]]
            if _changed_fields(before, rec, IDENTITY):
                # the ID belongs to another record in the register: never overwrite that one
                result.rejected_rows += 1
                rejected.append(_clash_row(rid, source, row, c, form, lang))
                continue
            changed = _changed_fields(before, rec, keys)
            if not changed:
                result.unchanged += 1
                continue
            replaced.append(
                {
                    "replaced_at": now,
                    "replaced_by": source,
                    "changed_fields": "、".join(form.field(k).title(lang) for k in changed),
                    **{k: before[k] for k in keys + prov},
                }
            )
            records[position[rid]] = values
            result.updated += 1
        else:
            new_rows.append(values)
            result.added += 1
    new_rows.sort(key=lambda r: _id_order(r["record_id"], policy))
    merged = _typed(pd.DataFrame(records + new_rows, columns=keys + prov), form)
    if replaced:
        new_history = pd.DataFrame(replaced)
        history = (
            new_history
            if history is None or history.empty
            else pd.concat([history, new_history], ignore_index=True)
        )
    result.total = len(merged)

    # 5. figures and the write
    calendar = WorkCalendar.from_policy(policy)
    with_sla = with_sla_columns(merged, policy, now, calendar=calendar, lang=lang)
    summaries = compute_summaries(merged, policy, now, week_start, calendar=calendar, lang=lang)
    result.notes.extend(calendar.warning_messages(lang))
    if exists:
        result.backup = backup_copy(register, keep)
    write_register(
        register,
        with_sla,
        form=form,
        policy=policy,
        summaries=summaries,
        rejected=rejected,
        history=history,
        lang=lang,
    )
    return result


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _typed(frame: pd.DataFrame, form: FormSpec) -> pd.DataFrame:
    """Column dtypes as the register writer expects them (dates, Int64 ratings, object text)."""
    out = frame.copy()
    for spec in form.fields:
        if spec.type == "datetime":
            out[spec.key] = pd.to_datetime(out[spec.key]).astype("datetime64[ns]")
        elif spec.type == "rating":
            out[spec.key] = pd.array(out[spec.key].map(_canon), dtype="Int64")
        else:
            out[spec.key] = out[spec.key].astype(object).where(out[spec.key].notna(), None)
    out["merged_at"] = pd.to_datetime(out["merged_at"]).astype("datetime64[ns]")
    out["source_row"] = pd.array(out["source_row"].map(_canon), dtype="Int64")
    return out.reset_index(drop=True)


def _natural_index(old: pd.DataFrame) -> dict[tuple, list[str]]:
    """Register IDs by natural key (customer, occurred time, description), in register order."""
    out: dict[tuple, list[str]] = {}
    columns = [old[k].tolist() for k in NATURAL_KEY]
    for rid, *nat in zip(old["record_id"].tolist(), *columns, strict=True):
        if rid is not None and rid == rid:
            out.setdefault(tuple(map(_canon, nat)), []).append(rid)
    return out


def _take(by_key: dict[tuple, list[str]], key: tuple) -> str | None:
    """The next unused register ID with this natural key, or None."""
    ids = by_key.get(key)
    return ids.pop(0) if ids else None


def _id_order(record_id: str, policy: Policy) -> tuple:
    """Sort IDs by period then sequence number, so FW…999 comes before FW…1000."""
    parsed = parse_id(record_id, policy)
    return (0, parsed[0], parsed[1]) if parsed else (1, record_id, 0)


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _clash_row(
    rid: str, source: str, row: int, c: Checked, form: FormSpec, lang: str
) -> RejectedRow:
    cell = (
        c.sheet.cell("record_id", int(row)) if c.sheet and "record_id" in c.sheet.columns else None
    )
    label = form.field("record_id").title(lang)
    msg = (
        f"问题编号 {rid} 在总台账中属于另一条记录（客户或问题发生时间不同）：请清空本行编号后重新提交，合并时会重新编号"
        if lang != "en"
        else f"record ID {rid} belongs to another record in the register (different customer or occurrence "
        "time): clear this row's ID and resubmit; merge will assign a new one"
    )
    return RejectedRow(
        source, f"{c.report.sheet}!{cell}" if cell else None, label, "duplicate-id", msg
    )


def _source_names(paths: list[Path]) -> dict[str, str]:
    """来源文件 values: the file name, or the path as given when two files share a name."""
    counts = Counter(p.name for p in paths)
    return {str(p): (p.name if counts[p.name] == 1 else str(p)) for p in paths}


def _conflict_rows(
    rid: str, versions: list, keys: Sequence[str], form: FormSpec, lang: str
) -> list[RejectedRow]:
    """One 待修正 line per differing field per version; values are not echoed (they may be PII)."""
    first = versions[0][2]
    differing = sorted(
        {k for _, _, rec, _ in versions[1:] for k in _changed_fields(first, rec, keys)},
        key=keys.index,
    )
    files = "、".join(v[0] for v in versions) if lang != "en" else ", ".join(v[0] for v in versions)
    out = []
    for source, row, _rec, c in versions:
        for k in differing:
            label = form.field(k).title(lang)
            cell = c.sheet.cell(k, int(row)) if c.sheet and k in c.sheet.columns else None
            msg = (
                f"问题编号 {rid} 在 {files} 中内容不同（{label}）：两份都未合并，请核对后只保留正确的一份"
                if lang != "en"
                else f"record {rid} differs between {files} ({label}): neither was merged; keep only the right one"
            )
            out.append(
                RejectedRow(
                    source, f"{c.report.sheet}!{cell}" if cell else None, label, "conflict", msg
                )
            )
    return out
