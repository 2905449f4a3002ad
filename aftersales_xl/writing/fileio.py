"""Writing output files safely: atomic replacement, rotating backups, Excel's lock files.

- :func:`atomic_output` — write to a hidden temporary file beside the target and move it
  into place only when the write succeeded, so a crash or an error never leaves a
  half-written workbook and never touches the old one.
- :func:`backup_copy` — keep ``NAME.bak-YYYYmmdd-HHMMSS.xlsx`` beside a file before it is
  replaced, and only the newest *N* of them.
- :func:`excel_lock_path` / :func:`refuse_if_open_in_excel` — Excel (and WPS, LibreOffice)
  leave a lock file beside a workbook they have open; replacing the workbook under them
  loses the user's edits or fails on Windows, so writers refuse first.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..errors import LockedError

__all__ = [
    "atomic_output",
    "backup_copy",
    "prune_backups",
    "backup_paths",
    "excel_lock_path",
    "find_lock_file",
    "refuse_if_open_in_excel",
]

_BACKUP_STAMP = "%Y%m%d-%H%M%S"

_TEXT = {
    "locked": {
        "zh": "{name} 正在被其他程序打开（Excel/WPS/LibreOffice，发现锁文件 {lock}）：请先关闭该文件再运行",
        "en": "{name} is open in another program (Excel/WPS/LibreOffice: lock file {lock} found): "
        "close it and run again",
    },
}


@contextlib.contextmanager
def atomic_output(path: str | Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically.

    Write the whole file to the yielded path (by name: xlsxwriter, openpyxl, shutil all
    accept it). When the ``with`` block ends normally the file gets its permissions —
    ``mode`` if given, else the existing target's mode, else what a newly created file gets
    (``0o666 & ~umask``; ``mkstemp`` alone would leave it owner-only) — is flushed to disk
    and replaces ``path`` with :func:`os.replace`. If the block raises anything (including
    ``KeyboardInterrupt``), the temporary file is deleted, ``path`` is left exactly as it
    was and the exception propagates.

    The temporary file is hidden (``.NAME.xxxx.tmp``) and in the same folder, so the move
    is a rename on one file system and folder scans skip it. The folder must exist;
    :class:`OSError` from creating the temporary file or moving it propagates.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, mode if mode is not None else _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def backup_copy(
    path: str | Path, keep: int, *, now: datetime | None = None, prune: bool = True
) -> Path | None:
    """Copy ``path`` to ``NAME.bak-YYYYmmdd-HHMMSS.SUFFIX`` beside it; keep the newest ``keep``.

    The copy keeps the file's modification time and permissions (a private register stays
    private) and is written atomically, so a backup is never partial. A second backup in the
    same second gets ``-2``, ``-3``… after the stamp. After copying, older backups *of this
    file* (same name pattern) beyond the newest ``keep`` are deleted; other files are never
    touched. Returns the backup's path, or None when there is nothing to back up (``path``
    does not exist) or backups are off (``keep == 0``: nothing is copied or deleted). With
    ``prune=False`` nothing is deleted: call :func:`prune_backups` once the new version of
    ``path`` is safely in place, so a failed write never costs an old backup.
    Raises :class:`ValueError` for a negative ``keep`` and :class:`OSError` if the copy fails
    (no backup is deleted then).
    """
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, not {keep}")
    path = Path(path)
    if keep == 0 or not path.is_file():
        return None
    stamp = (now or datetime.now()).strftime(_BACKUP_STAMP)
    backup = path.with_name(f"{path.stem}.bak-{stamp}{path.suffix}")
    n = 2
    while backup.exists():
        backup = path.with_name(f"{path.stem}.bak-{stamp}-{n}{path.suffix}")
        n += 1
    with atomic_output(backup, mode=path.stat().st_mode & 0o777) as tmp:
        shutil.copy2(path, tmp)
    if prune:
        prune_backups(path, keep)
    return backup


def prune_backups(path: str | Path, keep: int) -> None:
    """Delete the backups of ``path`` beyond the newest ``keep`` (none when ``keep == 0``)."""
    if keep > 0:
        for old in backup_paths(path)[:-keep]:
            old.unlink(missing_ok=True)


def backup_paths(path: str | Path) -> list[Path]:
    """The backups :func:`backup_copy` made of ``path`` that exist now, oldest first."""
    path = Path(path)
    pattern = re.compile(
        re.escape(path.stem) + r"\.bak-(\d{8}-\d{6})(?:-(\d+))?" + re.escape(path.suffix)
    )
    found: list[tuple[str, int, Path]] = []
    try:
        children = list(path.parent.iterdir())
    except FileNotFoundError:
        return []
    for child in children:
        m = pattern.fullmatch(child.name)
        if m and child.is_file():
            found.append((m.group(1), int(m.group(2) or 1), child))
    return [p for _, _, p in sorted(found)]


def excel_lock_path(path: str | Path) -> Path:
    """The lock file Excel and WPS create beside a workbook they have open: ``~$NAME.xlsx``."""
    path = Path(path)
    return path.with_name(f"~${path.name}")


def find_lock_file(path: str | Path) -> Path | None:
    """The lock file of an office program that has ``path`` open, or None.

    Checks ``~$NAME`` (Excel, WPS), the same with the first one or two characters of a long
    name dropped (how Office names the owner file of long names), and LibreOffice's
    ``.~lock.NAME#``.
    """
    path = Path(path)
    name = path.name
    candidates = [excel_lock_path(path).name]
    candidates += [f"~${name[k:]}" for k in (1, 2) if len(Path(name[k:]).stem) > 1]
    candidates.append(f".~lock.{name}#")
    for candidate in candidates:
        lock = path.with_name(candidate)
        if lock.exists():
            return lock
    return None


def refuse_if_open_in_excel(path: str | Path, lang: str = "zh") -> None:
    """Raise :class:`LockedError` (a one-line message) while ``path`` is open in Excel/WPS/LibreOffice."""
    lock = find_lock_file(path)
    if lock is not None:
        text = _TEXT["locked"]
        raise LockedError(text.get(lang, text["zh"]).format(name=Path(path).name, lock=lock.name))


# -- helpers ---------------------------------------------------------------------------------


def _mode_for(target: Path) -> int:
    """The existing target's permission bits, or those of a newly created file."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # the only portable way to read the umask is to set it and put it back
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_file(path: Path) -> None:
    """Flush the file's data to disk before the rename makes it the real file."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
