"""Merge validated submissions into the master register (总台账), never losing a record.

The register is read first (:func:`register.read_register`, with any column a supervisor added
by hand), contact data typed into it or into 变更记录 by hand is masked, and rows added by hand
without 问题编号 are numbered. Then, for each submitted row, in this order:

1. rows with error findings are kept out and listed in 待修正 (``unmasked-contact`` and
   ``pii-in-text`` do not keep a row out: masking fixes them);
2. contact data and free-text PII are masked (:func:`mask.mask_frame`);
3. rows without 问题编号 that share a natural key (customer + 问题发生时间 + 问题描述) are one
   record: the register's record with that key (of several, the one with exactly this
   content, else the lowest ID), else the ID a row of this run gives it, else one new ID
   (:func:`ids.assign_ids`, continuing the register's sequences);
4. the same ID arriving with different contents in one run is a conflict: every version is
   kept out and listed in 待修正 field by field; identical copies merge once. IDs with the
   same period and sequence are one ID (``FW202405210002`` = ``FW20240521002``), stored as
   the register writes it, else in the canonical form;
5. an ID already in the register is merged per field, three ways, against the fingerprints
   of the version last merged from the same source (the register's very-hidden state sheet,
   :class:`~aftersales_xl.reading.register.MergeState`): a field unchanged in the submission
   since then stays as 总台账 has it (a hand edit survives), a field changed in the
   submission only is applied (the replaced version goes to 变更记录 with the time, source and
   fields), a field changed on both sides to different values is an ``edit-conflict`` in
   待修正 with the three values and the register's value kept (``prefer`` settles it).
   Without a trusted state for the record and source, every changed field is applied.
   Unchanged rows keep their provenance and hand-added columns, so merging the same
   submissions twice keeps every row, ID and value (only the clock-driven SLA figures of open
   records move).

Records are never deleted: one deleted from 总台账 by hand is missed against the state and
put back (from a backup, 变更记录 or this run's rows). The register and its state are written
to one temporary file and moved over the old one; the previous version is kept as a backup;
a lock file stops two merges at once (a lock left by a merge that was killed is noticed and
removed). ``return_dir`` gets each submission back with its assigned IDs filled in and its
contact data masked (patched cell by cell); ``dry_run`` decides everything and writes nothing.
"""

from __future__ import annotations

import glob
import os
import re
import socket
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ..checking.validate import Checked
from ..coerce import is_missing
from ..config import Policy
from ..errors import LockedError, WriteError, XlcheckError
from ..findings import ERROR, Report
from ..forms import FormSpec
from ..ids import format_id, id_pattern, normalise_id, parse_id
from ..masking import TEXT, mask_frame, mask_value
from ..messages import localise, shorten
from ..pii import cell_text, redact
from ..reading.opening import expand_paths
from ..reading.register import (
    DERIVED_COLUMNS,
    HISTORY_SHEET,
    PROVENANCE,
    REGISTER_SHEET,
    REJECTED_SHEET,
    MergeState,
    RejectedRow,
    StateRead,
    canonical,
    field_print,
    read_history,
    read_register,
    read_state,
    record_print,
    split_prints,
)
from ..reports.recurring import similar_solved
from ..reports.summaries import compute_summaries
from ..reports.summary_sheets import write_summary_sheets
from ..sla import SLA_COLUMNS
from ..workcal import WorkCalendar
from ..writing.fileio import backup_copy, backup_paths, prune_backups, refuse_if_open_in_excel
from ..writing.register import with_sla_columns, write_register
from ..writing.xlsxpatch import (
    check_distinct_outputs,
    check_patchable,
    write_patched,
)
from .assign_ids import assign_ids
from .check import check_paths

#: findings that masking fixes: they never keep a row out of the register
FIXED_BY_MASKING = frozenset({"unmasked-contact", "pii-in-text"})
#: a record without ID is the same record as a register row with these equal
NATURAL_KEY = ("customer", "occurred_at", "description")
#: an incoming row with a register ID updates that record only if these agree
IDENTITY = ("customer", "occurred_at")
#: a lock without a pid (a merge killed while taking it) is stale after this long
_EMPTY_LOCK_GRACE = timedelta(minutes=1)


@dataclass
class FileMerge:
    """What one merge did with one submission (in the order of ``report.files``).

    ``kept_out`` = rows not merged (blocking errors, conflicts, an ID of another record);
    ``errors`` = the blocking error findings behind them; ``fixed`` = cells masked on the way
    in (contact data, personal data in free text), per field key — problems the merge fixed,
    which keep no row out; ``fixed_findings`` = the findings masking fixed. ``outcome`` counts
    its records by what happened to them: new / updated / unchanged / conflicts / restored /
    rejected (what ``--dry-run`` prints). ``source`` is its name as in 来源文件.
    """

    source: str = ""
    rows: int = 0
    kept_out: int = 0
    errors: int = 0
    fixed: Counter = field(default_factory=Counter)
    fixed_findings: int = 0
    outcome: Counter = field(default_factory=Counter)

    @property
    def merged(self) -> int:
        """Rows that went in (added, updated or already there unchanged)."""
        return max(self.rows - self.kept_out, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "merged": self.merged,
            "kept_out": self.kept_out,
            "errors": self.errors,
            "fixed": dict(self.fixed),
            "fixed_findings": self.fixed_findings,
            "outcome": dict(self.outcome),
        }


@dataclass
class MergeResult:
    """What one merge did. ``report`` is the validation report of the submissions.

    ``masked`` counts the submitted cells masked per field key; ``masked_in_register`` the
    cells of 总台账 / 变更记录 typed in by hand that were masked (per column). ``skipped``
    names the given workbooks that were not merged because they are another xlcheck register.
    """

    register: Path
    report: Report
    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    conflicts: int = 0
    masked: Counter = field(default_factory=Counter)
    masked_in_register: Counter = field(default_factory=Counter)
    assigned: int = 0
    total: int = 0
    backup: Path | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: fields changed both in 总台账 and in a submission to different values (listed in 待修正)
    edit_conflicts: int = 0
    #: such fields settled this run by ``--prefer``
    settled: int = 0
    #: records deleted from 总台账 by hand and put back, and their IDs
    restored: int = 0
    restored_ids: list[str] = field(default_factory=list)
    #: one per submission, in the order of ``report.files``
    per_file: list[FileMerge] = field(default_factory=list)
    #: ``--return`` copies written: (source, copy, IDs filled in); copies that failed
    returned: list[tuple[str, str, int]] = field(default_factory=list)
    return_failed: int = 0
    dry_run: bool = False

    @property
    def by_source(self) -> dict[str, FileMerge]:
        """:attr:`per_file` by source name (as in 来源文件)."""
        return {f.source: f for f in self.per_file}

    @property
    def exit_code(self) -> int:
        """2 if a submission could not be read or its annotated or returned copy could not be
        written, 1 if any row was kept out, a field is in conflict or a workbook was skipped
        as a register, else 0."""
        if self.report.exit_code() == 2 or self.return_failed:
            return 2
        kept_out = self.rejected_rows or self.conflicts or self.edit_conflicts
        return 1 if (kept_out or self.skipped) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "register": str(self.register),
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected_rows,
            "conflicts": self.conflicts,
            "edit_conflicts": self.edit_conflicts,
            "settled": self.settled,
            "restored": self.restored,
            "restored_ids": list(self.restored_ids),
            "per_file": [f.to_dict() for f in self.per_file],
            "returned": [{"source": s, "copy": c, "ids": n} for s, c, n in self.returned],
            "dry_run": self.dry_run,
            "ids_assigned": self.assigned,
            "masked": dict(self.masked),
            "masked_in_register": dict(self.masked_in_register),
            "total": self.total,
            "backup": str(self.backup) if self.backup else None,
            "notes": list(self.notes),
            "skipped": list(self.skipped),
            "validation": self.report.to_dict(),
        }


# -- locking ------------------------------------------------------------------------------------
class MergeLock:
    """An exclusive lock file beside the register (``.总台账.xlsx.lock``).

    The lock records the pid and host of the merge holding it. A lock whose merge is no longer
    running on this host (killed, power cut) is stale: it is removed with one line passed to
    ``notify`` (default: stderr) and the lock is taken. Once held, temporary files a killed
    merge left beside the register (``.总台账.xlsx.*.tmp``, older than the lock) are deleted.
    """

    def __init__(
        self, register: Path, lang: str = "zh", notify: Callable[[str], None] | None = None
    ):
        self.register = Path(register)
        self.path = self.register.with_name(f".{self.register.name}.lock")
        self.lang = lang
        self.notify = notify or (lambda line: print(line, file=sys.stderr))

    def __enter__(self) -> MergeLock:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not self._remove_if_stale():
                raise LockedError(self._held_message()) from None
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:  # another merge took it in the meantime
                raise LockedError(self._held_message()) from None
        with os.fdopen(fd, "w") as f:
            f.write(
                f"pid {os.getpid()} host {socket.gethostname()} "
                f"at {datetime.now().isoformat(timespec='seconds')}\n"
            )
        self._remove_leftovers()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.path.unlink(missing_ok=True)

    def _held_message(self) -> str:
        try:
            since = datetime.fromtimestamp(self.path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        except OSError:
            since = "?"
        return localise(_TEXT, "lock-held", self.lang, since=since, path=self.path)

    def _remove_if_stale(self) -> bool:
        """Remove the lock if the merge that took it is not running on this host any more."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
            age = datetime.now() - datetime.fromtimestamp(self.path.stat().st_mtime)
        except FileNotFoundError:
            return True  # released meanwhile
        except OSError:
            return False
        pid = re.search(r"\bpid (\d+)", text)
        host = re.search(r"\bhost (\S+)", text)
        if pid is None:
            stale = not text.strip() and age > _EMPTY_LOCK_GRACE
        elif host is not None and host.group(1) != socket.gethostname():
            stale = False  # another computer's merge: its pid means nothing here
        else:
            stale = not _pid_alive(int(pid.group(1)))
        if not stale:
            return False
        try:
            if self.path.read_text(encoding="utf-8", errors="replace") != text:
                return False  # taken again meanwhile
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            return False
        why = (
            localise(_TEXT, "lock-pid-gone", self.lang, pid=pid.group(1))
            if pid
            else localise(_TEXT, "lock-empty-old", self.lang)
        )
        self.notify(localise(_TEXT, "lock-removed", self.lang, name=self.path.name, why=why))
        return True

    def _remove_leftovers(self) -> None:
        """Delete the register's temporary files (and its backups') older than this lock: only a
        merge holding the lock writes them, so they are what a killed merge left behind."""
        try:
            since = self.path.stat().st_mtime
        except OSError:
            return
        reg = self.register
        patterns = (
            f".{glob.escape(reg.name)}.*.tmp",
            f".{glob.escape(reg.stem)}.bak-*{glob.escape(reg.suffix)}.*.tmp",
        )
        for pattern in patterns:
            for leftover in reg.parent.glob(pattern):
                try:
                    if leftover.is_file() and leftover.stat().st_mtime < since:
                        leftover.unlink()
                except OSError:
                    pass


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when it cannot be told)."""
    if pid <= 0:
        return True
    if os.name == "nt":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only the existence check is made
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    try:
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    except Exception:  # noqa: BLE001 - when in doubt, the lock is not stale
        return True


# -- comparing records --------------------------------------------------------------------------
#: a value as compared between a submission and the register (blank, second, int)
_canon = canonical


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
    notify: Callable[[str], None] | None = None,
    prefer: str | None = None,
    return_dir: Path | None = None,
    dry_run: bool = False,
) -> MergeResult:
    """Merge the submissions in ``paths`` into ``register`` (created if missing).

    ``now`` stamps 合并时间 and measures open records; ``week_start`` (default: the last
    complete week) picks the overview's "latest week". The register itself and any other
    xlcheck register among ``paths`` are skipped with a note (another register is also listed
    in ``skipped``, so the exit code is 1); :class:`XlcheckError` when that leaves nothing
    to merge. ``notify`` gets one-line notices meant for stderr (a stale lock removed); by
    default they are printed there.

    ``prefer`` (``"submission"`` / ``"register"``) settles the fields changed on both sides to
    different values, which are otherwise listed in 待修正 with the register's value kept.
    ``return_dir`` receives a copy of each submission with the assigned 问题编号 filled in
    and contact data masked. ``dry_run`` reads and decides everything but writes nothing
    (no register, backup, lock, annotated or returned copy): the result says what would
    happen.
    """
    register = Path(register)
    now = now.replace(microsecond=0)
    if prefer not in (None, "submission", "register"):
        raise ValueError(f"prefer must be 'submission' or 'register', not {prefer!r}")
    paths, notes, skipped = _submissions(paths, register, lang)
    options = dict(
        now=now,
        week_start=week_start or default_week_start(now),
        lang=lang,
        annotate_dir=annotate_dir,
        keep=keep,
        on_file=on_file,
        debug=debug,
        prefer=prefer,
        return_dir=None if dry_run else return_dir,
        dry_run=dry_run,
    )
    if dry_run:
        result = _merge_locked(paths, register, form, policy, **options)
    else:
        if return_dir is not None:
            check_distinct_outputs(paths, Path(return_dir), False, lang)
        _make_folder(register, lang)
        refuse_if_open_in_excel(register, lang)
        with MergeLock(register, lang, notify):
            result = _merge_locked(paths, register, form, policy, **options)
    result.notes[:0] = notes
    result.skipped = skipped
    return result


def _make_folder(register: Path, lang: str) -> None:
    """Create the register's folder, or say in one line why it cannot be."""
    try:
        register.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        detail = localise(_TEXT, "path-part-is-file", lang)
        if not isinstance(e, FileExistsError | NotADirectoryError):
            detail = e.strerror or str(e)
        raise WriteError(
            localise(_TEXT, "cannot-create-register", lang, folder=register.parent, detail=detail)
        ) from None


def _submissions(
    paths: Iterable[str | Path], register: Path, lang: str
) -> tuple[list[Path], list[str], list[str]]:
    """The workbooks to merge, a note for each one skipped because it is a register (the
    register itself, or the same file by another path, or another xlcheck register), and the
    names of the other registers skipped (their records are not merged: exit code 1)."""
    given = expand_paths(list(paths))
    kept: list[Path] = []
    notes: list[str] = []
    skipped: list[str] = []
    for p in given:
        name = redact(p.name)
        if _same_path(p, register):
            notes.append(localise(_TEXT, "submission-is-register", lang, name=name))
        elif _is_register_workbook(p):
            skipped.append(name)
            notes.append(localise(_TEXT, "submission-is-other-register", lang, name=name))
        else:
            kept.append(p)
    if given and not kept:
        notes_text = localise(_TEXT, "note-separator", lang).join(notes)
        raise XlcheckError(localise(_TEXT, "nothing-to-merge", lang, notes=notes_text))
    return kept, notes, skipped


def _sheet_xml(name: str) -> re.Pattern[bytes]:
    """Finds the sheet called ``name`` in ``xl/workbook.xml``."""
    return re.compile(rb"<(?:\w+:)?sheet\b[^>]*\bname=[\"']" + re.escape(name.encode()) + rb"[\"']")


_REGISTER_SHEETS_XML = [_sheet_xml(n) for n in (REGISTER_SHEET, REJECTED_SHEET, HISTORY_SHEET)]
#: the document property :func:`register.write_register` sets (Excel and LibreOffice keep it)
_MERGE_PROPERTY_XML = re.compile(rb"<(?:\w+:)?description>\s*xlcheck merge\s*</")


def _is_register_workbook(path: Path) -> bool:
    """Whether ``path`` is a register written by xlcheck: an .xlsx with a 总台账 sheet and
    either the document property ``xlcheck merge`` or the register's 待修正 and 变更记录
    sheets too. A submission that merely has a sheet called 总台账 is merged. Only the zip's
    small XML parts are read; anything unreadable is left for the validator to judge."""
    if not path.is_file():  # a FIFO would block the open below; the validator says what it is
        return False
    try:
        with zipfile.ZipFile(path) as z:
            book = _small_part(z, "xl/workbook.xml")
            register, *others = (bool(x.search(book)) for x in _REGISTER_SHEETS_XML)
            if not register:
                return False
            return all(others) or bool(
                _MERGE_PROPERTY_XML.search(_small_part(z, "docProps/core.xml"))
            )
    except Exception:  # noqa: BLE001 - not a zip, damaged: not a register
        return False


def _small_part(z: zipfile.ZipFile, name: str) -> bytes:
    """The bytes of part ``name`` of the zip, or b"" when it is missing or over 1 MB."""
    try:
        info = z.getinfo(name)
    except KeyError:
        return b""
    return z.read(info) if info.file_size < 1 << 20 else b""


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
    prefer: str | None = None,
    return_dir: Path | None = None,
    dry_run: bool = False,
) -> MergeResult:
    keys = form.keys
    prov = list(PROVENANCE)
    exists = register.is_file()
    old = read_register(register, form, policy, lang=lang) if exists else _empty(keys + prov)
    history = read_history(register, form, policy, lang=lang) if exists else None
    found_state = (
        read_state(register, policy, lang=lang, inspected=True) if exists else StateRead(None)
    )
    extras = [c for c in old.columns if c not in keys and c not in prov]

    checked: list[Checked] = list(
        check_paths(
            paths,
            form,
            policy,
            lang=lang,
            now=now,
            annotate_dir=None if dry_run else annotate_dir,
            annotate_only_failed=True,
            on_file=on_file,
            debug=debug,
        )
    )
    result = MergeResult(register=register, report=Report([c.report for c in checked]))
    result.dry_run = dry_run
    result.files = len(checked)
    names = _source_names([c.report.path for c in checked])
    result.per_file = [FileMerge(source=name) for name in names]
    rejected: list[RejectedRow] = []
    if found_state.problem:
        result.notes.append(_state_note(found_state.problem, lang))

    # 0. the register as read: contact data typed in by hand is masked
    old, counts = _mask_register(old, form, policy, extras)
    result.masked_in_register.update(counts)
    if history is not None:
        history, _changes, counts = mask_frame(history, form, policy)
        result.masked_in_register.update(counts)
    if result.masked_in_register:
        n = sum(result.masked_in_register.values())
        result.notes.append(localise(_TEXT, "register-masked", lang, n=n))

    # 1. keep out rows with blocking errors; mask the rest
    batches: list[tuple[str, pd.DataFrame, Checked]] = []
    batch_file: list[FileMerge] = []  # the FileMerge of each batch
    for c, source, per in zip(checked, names, result.per_file, strict=True):
        blocking = [
            f for f in c.report.findings if f.severity == ERROR and f.code not in FIXED_BY_MASKING
        ]
        per.errors = len(blocking)
        per.fixed_findings = sum(1 for f in c.report.findings if f.code in FIXED_BY_MASKING)
        rejected += [RejectedRow.from_finding(source, f) for f in blocking]
        if c.typed is None:
            continue
        per.rows = len(c.typed)
        if any(
            f.row is None or f.code == "missing-column" for f in blocking
        ):  # file-level: all out
            result.rejected_rows += len(c.typed)
            per.kept_out = len(c.typed)
            per.outcome["rejected"] += len(c.typed)
            continue
        bad_rows = {f.row for f in blocking}
        result.rejected_rows += len(bad_rows)
        per.kept_out = len(bad_rows)
        if bad_rows:
            per.outcome["rejected"] += len(bad_rows)
        frame = c.typed[~c.typed.index.isin(bad_rows)]
        frame = frame.reindex(columns=keys)
        masked, _changes, counts = mask_frame(frame, form, policy)
        result.masked.update(counts)
        per.fixed.update(counts)
        batches.append((source, masked, c))
        batch_file.append(per)

    # 2. identity: rows added to the register by hand get IDs, records deleted by hand come
    # back, then the rows without ID
    submitted = [rid for _s, f, _c in batches for rid in f["record_id"] if not is_missing(rid)]
    old = _number_register_rows(old, policy, submitted, result, lang)
    id_key = _id_keys(policy)
    result.notes.extend(_repeated_ids(old, id_key, lang))
    old = old.reset_index(drop=True)
    state = found_state.state
    fields = [k for k in keys if k != "record_id"]
    if state is not None:
        old = _restore_deleted(
            old, state, batches, history, register, form, policy, result, now, lang
        )

    sources_of: dict[str, list[str]] = {}  # ID → sources with a remembered version (lazily)

    def base_of(stored: str, source: str, last_source: Any) -> tuple[dict[str, str] | None, str]:
        """The fingerprints last merged from ``source`` for the record stored as ``stored``
        (the state is keyed by the ID as 总台账 holds it), split only when asked, and the
        source they are remembered under. A source the state does not know for the record (a
        workbook renamed from one week to the next) takes the version remembered under the
        register's 来源文件 of the record, else under any other source of it."""
        if state is None or state.fields != tuple(fields):
            return None, source
        prints = state.entries.get((stored, source))
        if not prints:
            if not sources_of:
                for rid, src in state.entries:
                    if src:
                        sources_of.setdefault(rid, []).append(src)
            known = sorted(sources_of.get(stored, ()))
            if not known:
                return None, source
            source = last_source if last_source in known else known[0]
            prints = state.entries[(stored, source)]
        return (split_prints(prints, state.fields) or None), source

    unnumbered = _resolve_blank_ids(batches, old, keys, policy, submitted)

    # 3. one version per ID in this run; different versions (two files, or twice) conflict.
    # IDs with the same period and sequence are one ID (FW202405210002 = FW20240521002): it
    # is stored as the register writes it, else in its canonical form
    records = old.to_dict("records")
    position: dict[Any, int] = {}  # ID key -> its record; typed twice by hand: the first
    for i, rec in enumerate(records):
        if not is_missing(rec["record_id"]):
            position.setdefault(id_key(rec["record_id"]), i)
    versions: dict[Any, list[_Version]] = {}
    for b, ((source, _frame, c), recs) in enumerate(zip(batches, unnumbered.records, strict=True)):
        for row, rec in recs.items():
            if not is_missing(rec["record_id"]):  # blank: no usable date, validate reported it
                versions.setdefault(id_key(rec["record_id"]), []).append((b, source, row, rec, c))
    incoming: dict[str, _Version] = {}
    for key, found in versions.items():
        rid = records[position[key]]["record_id"] if key in position else _canonical_id(key, policy)
        for v in found:
            v[3]["record_id"] = rid
        if any(_changed_fields(found[0][3], v[3], keys) for v in found[1:]):
            result.conflicts += len(found)
            for v in found:
                batch_file[v[0]].kept_out += 1
                batch_file[v[0]].outcome["conflicts"] += 1
            by_key = any((v[0], v[2]) in unnumbered.rows for v in found)
            # an ID this run would have handed out means nothing to the sender: not named
            shown = None if rid in unnumbered.new_ids else rid
            rejected += _conflict_rows(shown, found, keys, form, lang, by_key)
        else:
            incoming[rid] = found[0]
    result.assigned = len(unnumbered.new_ids & incoming.keys())

    # 4. update or add: three-way per field where the state knows the version last merged
    # from the source, else (no state yet) the submission's changed fields win as before
    entries: dict[tuple[str, str], str] = {}
    if state is not None and state.fields == tuple(fields):
        entries = dict(state.entries)
    elif state is not None:  # the form's fields changed: the records are kept, not the prints
        entries = dict.fromkeys(state.entries, "")
    recover = _Recovery(old, history, policy, form, id_key, backup_paths(register), lang)
    pending: list[tuple] = []  # edit conflicts, listed once their last merged values are found
    back = set(result.restored_ids)  # counted per file too, under the file that carries them
    new_rows: list[dict[str, Any]] = []
    replaced: list[dict[str, Any]] = []
    for rid, (b, source, row, rec, c) in incoming.items():
        counter = batch_file[b].outcome
        values = {k: rec[k] for k in keys}
        values.update(source_file=source, source_row=int(row), merged_at=now)
        if id_key(rid) not in position:
            new_rows.append(values)
            entries[(rid, source)] = record_print(rec, fields)
            result.added += 1
            counter["new"] += 1
            continue
        before = records[position[id_key(rid)]]
        stored = before["record_id"]
        base, remembered = base_of(stored, source, before.get("source_file"))
        # a customer or occurrence time corrected by hand in 总台账 is no clash when the row
        # still carries what was last merged from it
        as_merged = base is not None and all(field_print(rec[k]) == base[k] for k in IDENTITY)
        if _changed_fields(before, rec, IDENTITY) and not as_merged:
            # the ID belongs to another record in the register: never overwrite that one
            result.rejected_rows += 1
            batch_file[b].kept_out += 1
            counter["rejected"] += 1
            rejected.append(_clash_row(rid, source, row, c, form, lang))
            continue
        if stored in back:
            counter["restored"] += 1
        plan = _three_way(before, rec, fields, base, prefer)
        prints = plan.prints
        if plan.conflicts:
            result.edit_conflicts += len(plan.conflicts)
            counter["conflicts"] += len(plan.conflicts)
            assert base is not None  # a conflict needs a remembered version
            pending += [
                (stored, k, base[k], before[k], rec[k], source, row, c) for k in plan.conflicts
            ]
        result.settled += plan.settled
        entries[(stored, source)] = prints
        entries.pop((stored, ""), None)
        if remembered != source:  # the renamed workbook's old name is not kept alongside
            entries.pop((stored, remembered), None)
        if not plan.applied:
            result.unchanged += 1
            counter["unchanged"] += 1
            continue
        changed = "、".join(form.field(k).title(lang) for k in plan.applied)
        if plan.kept:
            kept = "、".join(form.field(k).title(lang) for k in plan.kept)
            changed += localise(_TEXT, "hand-edits-kept", lang, kept=kept)
        replaced.append(
            {
                "replaced_at": now,
                "replaced_by": source,
                "changed_fields": changed,
                **{k: before[k] for k in keys + prov},
            }
        )
        updated = dict(before)  # the supervisor's columns and edits of other fields stay
        updated.update({k: rec[k] for k in plan.applied})
        updated.update(source_file=source, source_row=int(row), merged_at=now)
        records[position[id_key(rid)]] = updated
        result.updated += 1
        counter["updated"] += 1
    if pending:
        last = recover.values([(p[0], p[1], p[2]) for p in pending])
        rejected += [
            _edit_conflict_row(stored, k, was, now_value, sub, source, row, c, form, lang)
            for (stored, k, _fp, now_value, sub, source, row, c), was in zip(
                pending, last, strict=True
            )
        ]
    new_rows.sort(key=lambda r: _id_order(r["record_id"], policy))
    merged = _typed(pd.DataFrame(records + new_rows, columns=keys + prov + extras), form)
    if replaced:
        new_history = pd.DataFrame(replaced)
        history = (
            new_history
            if history is None or history.empty
            else pd.concat([history, new_history], ignore_index=True)
        )
    result.total = len(merged)
    known = {rid for rid, _s in entries}
    for rid in merged["record_id"].dropna():
        if rid not in known:
            entries[(rid, "")] = ""
    new_state = MergeState(tuple(fields), entries)
    if result.settled:
        result.notes.append(
            localise(_TEXT, "settled-by-prefer", lang, prefer=prefer, n=result.settled)
        )

    # 5. figures and the write
    if dry_run:
        return result
    calendar = WorkCalendar.from_policy(policy)
    with_sla = with_sla_columns(merged, policy, now, calendar=calendar, lang=lang)
    summaries = compute_summaries(merged, policy, now, week_start, calendar=calendar, lang=lang)
    result.notes.extend(calendar.warning_messages(lang))
    # 相似已解决: what fixed the same problem before, on open records (library.similar_solved)
    similar_ids, similar_notes = similar_solved(merged, policy)
    derived = DERIVED_COLUMNS if policy.library["similar_solved"] else {}
    with_sla["similar_solved"] = similar_ids
    if exists:  # old backups go only once the new register is in place
        result.backup = backup_copy(register, keep, prune=False)
    cut = write_register(
        register,
        with_sla,
        form=form,
        policy=policy,
        now=summaries.now,
        summary_sheets=lambda workbook, cells: write_summary_sheets(
            workbook, cells, summaries, lang
        ),
        rejected=rejected,
        history=history,
        extra_columns=extras,
        state=new_state,
        sla_columns={**SLA_COLUMNS, **derived},
        comments={"similar_solved": similar_notes},
        lang=lang,
    )
    for sheet, cell, length in cut or ():
        result.notes.append(
            f"{sheet}!{cell}: the text had {length:,} characters; Excel holds at most 32,767: "
            "the rest was cut (the submission keeps it whole)"
            if lang == "en"
            else f"{sheet}!{cell}：文字共 {length:,} 个字符，Excel 单元格最多 32,767 个：多出的部分已截去（提交文件中仍完整）"
        )
    prune_backups(register, keep)
    if return_dir is not None:
        in_register = {id_key(r) for r in merged["record_id"].dropna()}
        _write_returns(
            batches, unnumbered, in_register, id_key, form, policy, return_dir, result, lang
        )
    return result


@dataclass
class _Plan:
    """What the three-way merge of one incoming row decided, field by field."""

    applied: list[str]  # the submission's value goes in
    kept: list[str]  # changed in the register only (by hand): kept
    conflicts: list[str]  # changed on both sides to different values: register kept, listed
    prints: str  # the fingerprints to remember as last merged from this source
    settled: int = 0  # conflicts settled by --prefer


def _three_way(
    before: dict[str, Any],
    rec: dict[str, Any],
    fields: Sequence[str],
    base: dict[str, str] | None,
    prefer: str | None,
) -> _Plan:
    """Decide each field of an incoming row against the register's record ``before`` and
    ``base``, the fingerprints of the version last merged from the same source (None: this
    source's version is not known, so every changed field of the submission is applied)."""
    applied: list[str] = []
    kept: list[str] = []
    conflicts: list[str] = []
    prints: list[str] = []
    settled = 0
    for k in fields:
        s_fp = field_print(rec.get(k))
        b_fp = base.get(k) if base is not None else None
        same = _canon(before.get(k)) == _canon(rec.get(k))
        if b_fp is None:  # no memory of this field: today's rule
            if not same:
                applied.append(k)
        elif s_fp == b_fp:  # unchanged since last merged from this source: nothing happens
            if not same:
                kept.append(k)
        elif same:  # both sides made the same change
            pass
        elif field_print(before.get(k)) == b_fp:  # changed in the submission only
            applied.append(k)
        elif prefer == "submission":
            applied.append(k)
            settled += 1
        elif prefer == "register":
            kept.append(k)
            settled += 1
        else:
            conflicts.append(k)
            prints.append(b_fp)  # still undecided: the same conflict comes back next time
            continue
        prints.append(s_fp)
    return _Plan(applied, kept, conflicts, "".join(prints), settled)


class _Recovery:
    """The value a fingerprint stands for, when the register still has it somewhere: an older
    version of the record in 变更记录, another record's value of the same field, a value of
    the field's list, or the record in a backup of the register. The state keeps fingerprints
    only, so a value typed once and overwritten by hand before any backup held it cannot be
    shown again."""

    def __init__(
        self,
        old: pd.DataFrame,
        history: pd.DataFrame | None,
        policy: Policy,
        form: FormSpec,
        id_key: Callable[[str], Any],
        backups: Sequence[Path] = (),
        lang: str = "zh",
    ):
        self.old, self.history, self.policy, self.form = old, history, policy, form
        self.id_key, self.backups, self.lang = id_key, list(backups), lang
        self._columns: dict[str, dict[str, Any]] = {}

    def values(self, wanted: Sequence[tuple[str, str, str]]) -> list[tuple[bool, Any]]:
        """For each ``(record ID, field, fingerprint)``: ``(True, value)`` when a value with
        that fingerprint is found, else ``(False, None)``. Backups (newest first) are read only
        for what the register itself cannot tell, and only until everything is found."""
        out = [self._in_register(rid, key, prints) for rid, key, prints in wanted]
        missing = {i for i, (found, _v) in enumerate(out) if not found}
        for backup in reversed(self.backups):
            if not missing:
                break
            ids = {self.id_key(wanted[i][0]) for i in missing}
            try:
                frame = read_register(backup, self.form, self.policy, lang=self.lang)
            except XlcheckError:
                continue
            near = [not is_missing(r) and self.id_key(r) in ids for r in frame["record_id"]]
            frame, _c, _n = mask_frame(frame[near], self.form, self.policy)
            versions: dict[Any, list[dict[str, Any]]] = {}
            for rec in frame.to_dict("records"):
                versions.setdefault(self.id_key(rec["record_id"]), []).append(rec)
            for i in sorted(missing):
                rid, key, prints = wanted[i]
                for rec in versions.get(self.id_key(rid), ()):
                    if field_print(rec.get(key)) == prints:
                        out[i] = (True, rec.get(key))
                        missing.discard(i)
                        break
        return out

    def _in_register(self, rid: str, key: str, prints: str) -> tuple[bool, Any]:
        history = self.history
        if history is not None and not history.empty:
            mine = history[
                history["record_id"].map(
                    lambda r: not is_missing(r) and self.id_key(r) == self.id_key(rid)
                )
            ]
            for v in reversed(mine[key].tolist()):
                if field_print(v) == prints:
                    return True, v
        if key not in self._columns:
            table: dict[str, Any] = {}
            spec = self.form.field(key)
            candidates = list(self.old[key].dropna().unique())
            if spec.type == "list" and spec.list:
                candidates += list(self.policy.allowed(spec.list))
            for v in candidates:
                table.setdefault(field_print(v), v)
            table.setdefault(field_print(None), None)
            self._columns[key] = table
        table = self._columns[key]
        return (True, table[prints]) if prints in table else (False, None)


def _shown(value: Any) -> str:
    """A value as a conflict line shows it: dates to the minute, blank as “（空）”."""
    v = _canon(value)
    if v is None or v == "":
        return "（空）"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    return shorten(v, 60)


def _edit_conflict_row(
    rid: str,
    key: str,
    last: tuple[bool, Any],
    now_value: Any,
    submitted: Any,
    source: str,
    row: int,
    c: Checked,
    form: FormSpec,
    lang: str,
) -> RejectedRow:
    """The 待修正 line of a field changed both in 总台账 and in the submission, with the
    three values (contact data in them is masked: the register holds it masked, the
    submission was masked before the merge, and the sheet writer redacts again)."""
    label = form.field(key).title(lang)
    cell = c.sheet.cell(key, int(row)) if c.sheet and key in c.sheet.columns else None
    found, value = last
    last_text = f"“{_shown(value)}”" if found else localise(_TEXT, "last-not-kept", lang)
    msg = localise(
        _TEXT,
        "edit-conflict",
        lang,
        rid=rid,
        label=label,
        last=last_text,
        now=_shown(now_value),
        submitted=_shown(submitted),
    ).replace("“（空）”", localise(_TEXT, "blank-quoted", lang))
    return RejectedRow(
        source, f"{c.report.sheet}!{cell}" if cell else None, label, "edit-conflict", msg
    )


def _state_note(problem: str, lang: str) -> str:
    return localise(_TEXT, "state-lost" if problem == "lost" else "state-mismatch", lang)


def _restore_deleted(
    old: pd.DataFrame,
    state: MergeState,
    batches: list[tuple[str, pd.DataFrame, Checked]],
    history: pd.DataFrame | None,
    register: Path,
    form: FormSpec,
    policy: Policy,
    result: MergeResult,
    now: datetime,
    lang: str,
) -> pd.DataFrame:
    """Put back the records the state knows but 总台账 no longer holds (deleted by hand).

    The version put back is the one closest to the version last merged (most fields with the
    remembered fingerprints) among: the record in the newest backups, its latest version in
    变更记录, and this run's submitted rows with its ID or its customer + occurrence time +
    description. A record found nowhere is named in a note (its state is kept, so it is
    looked for again next time)."""
    id_key = _id_keys(policy)
    stored = set(old["record_id"].dropna())
    # the state is keyed by the IDs as written: only the others need comparing by ID key
    unknown = [(rid, prints) for (rid, _s), prints in state.entries.items() if rid not in stored]
    if not unknown:
        return old
    present = {id_key(r) for r in stored}
    wanted: dict[Any, tuple[str, list[str]]] = {}
    for rid, prints in unknown:
        k = id_key(rid)
        if k not in present:
            wanted.setdefault(k, (rid, []))[1].append(prints)
    if not wanted:
        return old
    keys, prov = form.keys, list(PROVENANCE)
    columns = list(old.columns)
    fields = list(state.fields)
    candidates: dict[Any, list[tuple[int, dict[str, Any]]]] = {}  # key -> (rank, record)

    def offer(rank: int, rec: dict[str, Any]) -> None:
        k = id_key(rec["record_id"]) if not is_missing(rec.get("record_id")) else None
        if k in wanted:
            candidates.setdefault(k, []).append((rank, rec))

    for backup in reversed(backup_paths(register)):
        if all(k in candidates for k in wanted):
            break
        try:
            frame = read_register(backup, form, policy, lang=lang)
        except XlcheckError:
            continue
        frame, _c, _n = mask_frame(frame, form, policy)
        near = frame["record_id"].map(lambda r: not is_missing(r) and id_key(r) in wanted)
        for rec in frame[near].to_dict("records"):
            offer(3, rec)
    if history is not None and not history.empty:
        near = history["record_id"].map(lambda r: not is_missing(r) and id_key(r) in wanted)
        for rec in history[near].to_dict("records"):
            offer(1, {k: rec.get(k) for k in keys + prov})
    # submitted rows: by ID, or by the remembered fingerprints of the natural key
    natural = {}
    for rid, prints_list in wanted.values():
        for prints in prints_list:
            split = split_prints(prints, fields)
            if all(n in split for n in NATURAL_KEY):
                natural[tuple(split[n] for n in NATURAL_KEY)] = rid
    for source, frame, _c in batches:
        for row, rec in frame.to_dict("index").items():
            rid = rec["record_id"]
            if is_missing(rid):
                fp = tuple(field_print(rec.get(n)) for n in NATURAL_KEY)
                if fp not in natural:
                    continue
                rid = natural[fp]
            version = {**rec, "record_id": rid, "source_file": source, "source_row": int(row)}
            version["merged_at"] = None
            offer(2, version)

    restored, lost = [], []
    for k, (rid, prints_list) in wanted.items():
        found = candidates.get(k)
        if not found:
            lost.append(rid)
            continue
        splits = [s for p in prints_list if (s := split_prints(p, fields))]

        def score(item: tuple[int, dict[str, Any]], splits=splits) -> tuple[int, int]:
            rank, rec = item
            best = max(
                (sum(field_print(rec.get(f)) == s[f] for f in fields) for s in splits), default=0
            )
            return best, rank

        _rank, rec = max(found, key=score)
        row = {c: rec.get(c) for c in columns}
        row["record_id"] = rid
        if row.get("merged_at") is None or is_missing(row.get("merged_at")):
            row["merged_at"] = now
        restored.append(row)
    if lost:
        shown = localise(_TEXT, "list-separator", lang).join(sorted(lost))
        result.notes.append(localise(_TEXT, "deleted-not-restored", lang, ids=shown))
    if not restored:
        return old
    restored.sort(key=lambda r: _id_order(r["record_id"], policy))
    result.restored += len(restored)
    ids = [r["record_id"] for r in restored]
    result.restored_ids.extend(ids)
    shown = localise(_TEXT, "list-separator", lang).join(ids)
    result.notes.append(localise(_TEXT, "deleted-restored", lang, n=len(ids), ids=shown))
    frame = pd.DataFrame(restored, columns=columns)
    return pd.concat([old, frame.astype(object)], ignore_index=True)


def _write_returns(
    batches: list[tuple[str, pd.DataFrame, Checked]],
    unnumbered: _Unnumbered,
    in_register: set[Any],
    id_key: Callable[[str], Any],
    form: FormSpec,
    policy: Policy,
    out_dir: Path,
    result: MergeResult,
    lang: str,
) -> None:
    """``--return DIR``: each submission again, with the 问题编号 the merge gave its rows
    filled in and its contact data masked, patched cell by cell (every other part of the
    workbook as it was), so that next week's submission carries the IDs."""
    from .mask import plan_masking

    for b, ((source, _frame, c), recs) in enumerate(zip(batches, unnumbered.records, strict=True)):
        sheet = c.sheet
        try:
            if sheet is None or sheet.part is None or sheet.kind not in ("xlsx", "xlsm"):
                check_patchable(Path(c.report.path), lang, kind=getattr(sheet, "kind", None))
                raise WriteError(source)  # pragma: no cover - check_patchable raised already
            if "record_id" not in sheet.columns:
                raise _no_id_column(Path(source), form, lang)
            src = Path(sheet.path)
            # masked as `xlcheck mask` writes it, the IDs filled in, nothing else changed
            plan = plan_masking(src, sheet, form, policy, lang)
            if plan.elsewhere:  # a copy is safe to forward whole, or none
                raise WriteError(plan.refusal(src, lang))
            cells: dict[str, str | None] = dict(plan.cells)
            ids = 0
            for row, rec in recs.items():
                rid = rec["record_id"]
                if (
                    (b, row) in unnumbered.rows
                    and not is_missing(rid)
                    and id_key(rid) in in_register
                ):
                    cells[sheet.cell("record_id", int(row))] = str(rid)
                    ids += 1
            # the copy's name without the personal data of the input's name (xlsxpatch.copy_name)
            dst, _backup = write_patched(
                src, str(sheet.part), cells, out_dir=out_dir, lang=lang, **plan.patch_options()
            )
            result.returned.append((source, str(dst), ids))
        except (XlcheckError, OSError) as e:
            result.return_failed += 1
            detail = redact(str(e) if isinstance(e, XlcheckError) else (e.strerror or str(e)))
            result.notes.append(
                localise(_TEXT, "return-not-written", lang, source=source, detail=detail)
            )


def _no_id_column(path: Path, form: FormSpec, lang: str) -> WriteError:
    label = form.field("record_id").title(lang)
    return WriteError(localise(_TEXT, "no-id-column", lang, name=path.name, label=label))


#: one submitted version of a record: (batch number, source name, Excel row, values by key,
#: its check)
_Version = tuple[int, str, int, dict[str, Any], Checked]


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


def _mask_register(
    old: pd.DataFrame, form: FormSpec, policy: Policy, extras: Sequence[str]
) -> tuple[pd.DataFrame, Counter]:
    """总台账 as read with contact data and free-text PII masked, also in the columns added by
    hand (as free text); the number of cells masked per column."""
    out, _changes, counts = mask_frame(old, form, policy)
    # a phone or email typed into 问题编号 by hand is not an ID: masked like free text
    ids = out["record_id"].tolist()
    for i, value in enumerate(ids):
        if isinstance(value, str) and parse_id(value, policy) is None and redact(value) != value:
            ids[i] = redact(value, str(policy.mask["char"]))
            counts[form.field("record_id").label] += 1
    out["record_id"] = pd.Series(ids, index=out.index, dtype=object)
    for name in extras:
        column = out[name].tolist()
        for i, value in enumerate(column):
            text = cell_text(value)
            if text is not None and (masked := mask_value(TEXT, value, policy)) != text:
                column[i] = masked
                counts[name] += 1
        out[name] = pd.Series(column, index=out.index, dtype=object)
    return out, counts


def _number_register_rows(
    old: pd.DataFrame, policy: Policy, submitted: list[str], result: MergeResult, lang: str
) -> pd.DataFrame:
    """Give IDs to register rows added by hand without one (continuing the sequences of the
    register and of the submitted IDs); a note says how many, and which rows could not be."""
    blank = old["record_id"].isna()
    if not blank.any():
        return old
    assignment = assign_ids(
        [(REGISTER_SHEET, old[blank])],
        policy,
        existing=[*old["record_id"].dropna().tolist(), *submitted],
    )
    new_ids = assignment.for_source(REGISTER_SHEET)
    out = old.copy()
    for row, rid in new_ids.items():
        out.at[row, "record_id"] = rid
    if new_ids:
        result.notes.append(localise(_TEXT, "register-rows-numbered", lang, n=len(new_ids)))
    left = [str(row) for row in out.index[out["record_id"].isna()]]
    if left:
        rows = localise(_TEXT, "list-separator", lang).join(left)
        result.notes.append(localise(_TEXT, "register-rows-unnumbered", lang, rows=rows))
    return out


@dataclass
class _Unnumbered:
    """The submitted rows by batch (Excel row → values, IDs filled in), which of them came
    without ID (as batch number, Excel row), and the new IDs they were given."""

    records: list[dict[int, dict[str, Any]]] = field(default_factory=list)
    rows: set[tuple[int, int]] = field(default_factory=set)
    new_ids: set[str] = field(default_factory=set)


def _resolve_blank_ids(
    batches: list[tuple[str, pd.DataFrame, Checked]],
    old: pd.DataFrame,
    keys: Sequence[str],
    policy: Policy,
    submitted: list[str],
) -> _Unnumbered:
    """Fill in the blank 问题编号 of the submitted rows: every row with the same natural key
    gets the same ID — the register's record with that key (of several, the one with
    exactly this content, else the lowest ID), else the lowest ID a row of this run gives that
    key, else one new ID for the whole group."""
    content = [k for k in keys if k != "record_id"]
    out = _Unnumbered(records=[frame.to_dict("index") for _s, frame, _c in batches])
    rows = [
        (b, row, _natural_key(rec), rec)
        for b, recs in enumerate(out.records)
        for row, rec in recs.items()
    ]
    # the register's records by natural key, looked at only where a row without ID may match
    wanted = [key for _b, _r, key, rec in rows if key and is_missing(rec["record_id"])]
    near = old["customer"].isin({k[0] for k in wanted}) & old["occurred_at"].isin(
        {k[1] for k in wanted}
    )
    in_register: dict[tuple, list[tuple[str, dict[str, Any]]]] = {}
    for rec in old[near].to_dict("records"):
        key = _natural_key(rec)
        if key is not None and not is_missing(rec["record_id"]):
            in_register.setdefault(key, []).append((rec["record_id"], rec))
    for candidates in in_register.values():
        if len(candidates) > 1:
            candidates.sort(key=lambda c: _id_order(c[0], policy))
    id_key = _id_keys(policy)
    registered_ids = old["record_id"].dropna().tolist()
    registered = {id_key(i) for i in registered_ids}

    fills: list[dict[int, str]] = [{} for _ in batches]  # per batch: Excel row -> ID
    given: dict[tuple, list[str]] = {}  # IDs the submissions give a natural key
    groups: dict[Any, list[tuple[int, int]]] = {}  # rows still without ID: (batch, row)
    for b, row, key, rec in rows:
        rid = rec["record_id"]
        if not is_missing(rid):
            if key is not None:
                given.setdefault(key, []).append(rid)
            continue
        out.rows.add((b, row))
        if key in in_register:
            candidates = in_register[key]
            exact = (i for i, r in candidates if not _changed_fields(r, rec, content))
            fills[b][row] = next(exact, candidates[0][0])
        else:  # a row with an incomplete key is a record of its own
            groups.setdefault(key if key is not None else (b, row), []).append((b, row))

    # a register ID given to the key counts only if it is that customer's problem of that time
    # (else the row giving it is refused as a clash, see _clash_row)
    asked = {id_key(i) for key in groups if key in given for i in given[key]} & registered
    picked = [not is_missing(i) and id_key(i) in asked for i in old["record_id"]] if asked else []
    identity = {
        id_key(rec["record_id"]): tuple(_canon(rec[k]) for k in IDENTITY)
        for rec in (old[picked].to_dict("records") if asked else ())
    }
    new_groups = []
    for key, members in groups.items():
        ids = [i for i in given.get(key, ()) if identity.get(id_key(i), key[:2]) == key[:2]]
        if ids:
            rid = min(ids, key=lambda i: _id_order(i, policy))
            for b, row in members:
                fills[b][row] = rid
        else:
            new_groups.append(members)
    if new_groups:  # one new ID per group, decided on its first row
        first_rows: dict[int, list[int]] = {}
        for members in new_groups:
            b, row = members[0]
            first_rows.setdefault(b, []).append(row)
        # tables are named by batch number: two files may show the same (masked) name
        tables = [(str(b), batches[b][1].loc[picked]) for b, picked in first_rows.items()]
        assignment = assign_ids(tables, policy, existing=[*registered_ids, *submitted])
        decided = {b: assignment.for_source(str(b)) for b in first_rows}
        for members in new_groups:
            b, row = members[0]
            rid = decided[b].get(row)
            if rid is None:
                continue  # no usable date: validate reported the row as an error already
            out.new_ids.add(rid)
            for b2, r in members:
                fills[b2][r] = rid
    for recs, fill in zip(out.records, fills, strict=True):
        for row, rid in fill.items():
            recs[row]["record_id"] = rid
    return out


def _natural_key(rec: dict[str, Any]) -> tuple | None:
    """customer + 问题发生时间 + 问题描述 as compared, or None when one of them is blank."""
    key = tuple(_canon(rec.get(k)) for k in NATURAL_KEY)
    return None if any(v is None or v == "" for v in key) else key


def _id_keys(policy: Policy) -> Callable[[str], Any]:
    """What makes two IDs one: ``(period, sequence)`` of an ID of the policy's pattern
    (FW202405210002 and FW20240521002 are one ID), else the ID's text."""
    pattern = id_pattern(policy)

    def key(record_id: str) -> Any:
        m = pattern.match(str(record_id))
        return (m["period"], int(m["seq"])) if m else record_id

    return key


def _canonical_id(key: Any, policy: Policy) -> str:
    """The ID of an :func:`_id_keys` key as IDs are written: FW20240521002."""
    if isinstance(key, tuple):
        return str(normalise_id(format_id(*key, policy)))
    return key


def _repeated_ids(old: pd.DataFrame, id_key: Callable[[str], Any], lang: str) -> list[str]:
    """A note for each ID that 总台账 (indexed by Excel row) holds more than once, typed in
    twice by hand: every row is kept, and an update goes to the first."""
    rows: dict[Any, list[tuple[int, str]]] = {}
    for row, rid in old["record_id"].dropna().items():
        rows.setdefault(id_key(rid), []).append((int(row), rid))
    notes = []
    for found in rows.values():
        if len(found) < 2:
            continue
        rid, first = redact(str(found[0][1])), found[0][0]  # it may be a phone typed there
        at = localise(_TEXT, "list-separator", lang).join(str(r) for r, _ in found)
        notes.append(
            localise(_TEXT, "repeated-id", lang, rid=rid, n=len(found), rows=at, first=first)
        )
    return notes


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
    msg = localise(_TEXT, "id-clash", lang, rid=rid)
    return RejectedRow(
        source, f"{c.report.sheet}!{cell}" if cell else None, label, "duplicate-id", msg
    )


def _source_names(shown: list[str]) -> list[str]:
    """来源文件 values, one per file in order (``shown``: the paths as reports show them,
    contact data masked): the file name, or the path when two files in different folders
    share a name; names that still coincide (names alike once masked) are numbered
    ``张****8000.xlsx (2)``."""
    paths = [Path(p) for p in shown]
    counts = Counter(p.name for p in paths)
    whole = Counter(str(p) for p in paths)
    names = [p.name if counts[p.name] == 1 or whole[str(p)] > 1 else str(p) for p in paths]
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _conflict_rows(
    rid: str | None,
    versions: list[_Version],
    keys: Sequence[str],
    form: FormSpec,
    lang: str,
    by_key: bool,
) -> list[RejectedRow]:
    """One 待修正 line per differing field per version (every version, however many); values
    are not echoed (they may be PII). ``by_key``: some versions had no ID and were matched on
    customer + occurrence time + description; ``rid`` None: the record has no ID yet."""
    first = versions[0][3]
    differing = sorted(
        {k for *_, rec, _c in versions[1:] for k in _changed_fields(first, rec, keys)},
        key=keys.index,
    )
    sources = list(dict.fromkeys(v[1] for v in versions))
    files = localise(_TEXT, "list-separator", lang).join(sources)
    n = len(versions)
    if not by_key:
        what = localise(_TEXT, "conflict-record", lang, rid=rid)
    else:
        what = localise(
            _TEXT, "conflict-same-problem-id" if rid else "conflict-same-problem", lang, rid=rid
        )
    out = []
    for _b, source, row, _rec, c in versions:
        for k in differing:
            label = form.field(k).title(lang)
            cell = c.sheet.cell(k, int(row)) if c.sheet and k in c.sheet.columns else None
            msg = localise(_TEXT, "versions-differ", lang, what=what, n=n, files=files, label=label)
            out.append(
                RejectedRow(
                    source, f"{c.report.sheet}!{cell}" if cell else None, label, "conflict", msg
                )
            )
    return out


_TEXT: dict[str, dict[str, str]] = {
    "lock-held": {
        "zh": "另一个合并正在进行（{since} 开始）：请等它结束；如确认没有合并在运行，删除 {path} 后重试",
        "en": "another merge is running (since {since}): wait for it; if none is, delete {path} and retry",
    },
    "lock-pid-gone": {
        "zh": "pid {pid} 已不在运行",
        "en": "pid {pid} is no longer running",
    },
    "lock-empty-old": {
        "zh": "锁文件为空，且已存在超过 1 分钟",
        "en": "it was empty and older than a minute",
    },
    "lock-removed": {
        "zh": "xlcheck: 删除了上次中断的合并留下的锁文件 {name}（{why}）",
        "en": "xlcheck: removed the lock file {name} left by an interrupted merge ({why})",
    },
    "path-part-is-file": {
        "zh": "路径中有一部分是文件而不是文件夹",
        "en": "part of the path is a file, not a folder",
    },
    "cannot-create-register": {
        "zh": "无法在 {folder} 中创建总台账（{detail}）：请给 --register 一个文件夹中的 .xlsx 路径",
        "en": "cannot create the register in {folder} ({detail}): give --register the path "
        "of an .xlsx file in a folder",
    },
    "submission-is-register": {
        "zh": "{name} 是总台账本身，不是提交文件，未合并",
        "en": "{name} is the register itself, not a submission: not merged",
    },
    "submission-is-other-register": {
        "zh": "{name} 是 xlcheck 生成的总台账，不是提交文件，已跳过（其中的记录未合并）",
        "en": "{name} is a register written by xlcheck, not a submission: skipped "
        "(its records were not merged)",
    },
    "note-separator": {"zh": "；", "en": "; "},
    "list-separator": {"zh": "、", "en": ", "},
    "nothing-to-merge": {
        "zh": "{notes}：没有可合并的提交文件",
        "en": "{notes}: nothing to merge",
    },
    "register-masked": {
        "zh": "总台账/变更记录中手工填写的 {n} 处联系方式或个人信息已脱敏",
        "en": "{n} cells of contact data or personal information typed into the register by hand were masked",
    },
    "hand-edits-kept": {
        "zh": "（总台账中手工修改的 {kept} 保留）",
        "en": " (hand edits in the register kept: {kept})",
    },
    "settled-by-prefer": {
        "zh": "按 --prefer {prefer} 处理了 {n} 处两边都改过的字段",
        "en": "{n} fields changed on both sides were settled by --prefer {prefer}",
    },
    "last-not-kept": {
        "zh": "（未保存原值，只有指纹）",
        "en": "(not kept: only its fingerprint is)",
    },
    "edit-conflict": {
        "zh": "问题编号 {rid} 的“{label}”在总台账和本文件中都被修改：上次合并 {last}，"
        "总台账现为 “{now}”，本文件为 “{submitted}”。已保留总台账的值；"
        "请改正其中一边，或用 merge --prefer submission（或 --prefer register）决定",
        "en": "record {rid}, {label}: changed both in the register and in this file. Last merged "
        "{last}, register now “{now}”, this file “{submitted}”. "
        "The register's value is kept; correct one side, or run merge --prefer submission "
        "(or --prefer register) to settle it",
    },
    # a blank value as the edit-conflict line shows it, quotes included
    "blank-quoted": {"zh": "“（空）”", "en": "(blank)"},
    "state-lost": {
        "zh": "总台账中记录上次合并内容的隐藏工作表已丢失（文件可能被其他软件另存过）：本次按旧规则合并"
        "（提交中改过的内容覆盖总台账），合并后重新记录",
        "en": "the register's hidden merge-state sheet is gone (the file was probably saved by "
        "another program): this merge follows the old rule (changed submitted fields replace "
        "the register's) and records the state again",
    },
    "state-mismatch": {
        "zh": "总台账中记录上次合并内容的隐藏工作表与台账不符（被修改或来自另一个文件）：本次按旧规则合并"
        "（提交中改过的内容覆盖总台账），合并后重新记录",
        "en": "the register's hidden merge-state sheet does not match it (edited, or taken from "
        "another file): this merge follows the old rule (changed submitted fields replace the "
        "register's) and records the state again",
    },
    "deleted-not-restored": {
        "zh": "总台账中被删除的记录 {ids} 在备份、变更记录和本次提交中都找不到，无法恢复：请从其他备份中找回",
        "en": "records {ids} were deleted from the register and are in no backup, no history "
        "row and no submission: they could not be restored; recover them from another backup",
    },
    "deleted-restored": {
        "zh": "总台账中被手工删除的 {n} 条记录已恢复：{ids}（记录不能删除；如确需作废，请把状态改为“已关闭”并在备注中说明）",
        "en": "{n} records deleted from the register by hand were restored: {ids} "
        "(records are never deleted; to retire one, close it and say why in a remark)",
    },
    "return-not-written": {
        "zh": "{source}：未能写出带编号的副本（{detail}）",
        "en": "{source}: the copy with IDs could not be written ({detail})",
    },
    "no-id-column": {
        "zh": "{name}：没有“{label}”列，无法填回问题编号",
        "en": '{name}: there is no "{label}" column to fill in the IDs',
    },
    "register-rows-numbered": {
        "zh": "总台账中手工添加的 {n} 条记录没有问题编号，已编号",
        "en": "{n} records added to the register by hand had no ID and were numbered",
    },
    "register-rows-unnumbered": {
        "zh": "总台账第 {rows} 行没有问题编号，也没有可用的接收时间/问题发生时间，无法编号：请补上时间",
        "en": "register rows {rows} have no ID and no usable received/occurred time, "
        "so they could not be numbered: add the time",
    },
    "repeated-id": {
        "zh": "总台账中问题编号 {rid} 出现了 {n} 次（第 {rows} 行）：各行都保留，"
        "提交的更新只写入第 {first} 行；请删除或改正多余的行",
        "en": "the register holds record ID {rid} {n} times (rows {rows}): every row is "
        "kept and updates go to row {first} only; delete or correct the extra rows",
    },
    "id-clash": {
        "zh": "问题编号 {rid} 在总台账中属于另一条记录（客户或问题发生时间不同）：请清空本行编号后重新提交，合并时会重新编号",
        "en": "record ID {rid} belongs to another record in the register (different customer or occurrence "
        "time): clear this row's ID and resubmit; merge will assign a new one",
    },
    "conflict-record": {"zh": "问题编号 {rid} ", "en": "record {rid}"},
    "conflict-same-problem": {
        "zh": "同一问题（客户、问题发生时间、问题描述相同）",
        "en": "the same problem (same customer, occurrence time and description)",
    },
    "conflict-same-problem-id": {
        "zh": "同一问题（客户、问题发生时间、问题描述相同，即问题编号 {rid}）",
        "en": "the same problem (same customer, occurrence time and description: record {rid})",
    },
    "versions-differ": {
        "zh": "{what}在 {files} 中有 {n} 个内容不同的版本（{label}）：都未合并，请核对后只保留正确的一份",
        "en": "{what} comes in {n} differing versions in {files} ({label}): none was merged; keep only the right one",
    },
}
