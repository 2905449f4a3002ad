"""Start reading a workbook safely: step 1 of the safety scan, then python-calamine parsing the
first candidate sheet in a helper thread.

Step 1 (:func:`aftersales_xl.reading.safety.inspect_in_two_steps`: format, size and zip limits, the used
area of every worksheet) always finishes before python-calamine opens the file, which aborts the
interpreter on a huge used range. The parse releases the GIL, so whatever the caller does
meanwhile runs alongside it: :func:`aftersales_xl.reading.workbook.read_form` completes the safety scan,
and ``xlcheck validate`` first imports pandas, pandera and numpy (about half a second). That is
why this module imports none of them, nor openpyxl.

:func:`start` begins reading a file and keeps the :class:`Reading` for the next ``read_form`` of
that file, which takes it (:func:`take`) instead of starting its own; a reading never taken is
closed by :meth:`Reading.discard` (or at the end of a ``with`` block).
Also here: :func:`expand_paths`, which files a command reads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import python_calamine as pc

from ..errors import UnreadableError
from ..forms import INSTRUCTIONS_SHEET, LISTS_SHEET, FormSpec, normalise_label
from .safety import Inspection, inspect_in_two_steps, refuse_special

HEADER_SEARCH_ROWS = 30

#: a parsed sheet with its first :data:`HEADER_SEARCH_ROWS` rows
Head = tuple[pc.CalamineSheet, list[list]]


class Reading:
    """One workbook being read: step 1 of the safety scan done (or refused) on creation,
    python-calamine opening it and parsing its first candidate sheet in a helper thread.

    A refusal (missing file, unsafe or damaged workbook) is kept and raised by :meth:`result`,
    so the file is reported where it would have been without the early start.
    """

    def __init__(self, path: Path, form: FormSpec, limits: Mapping[str, Any], lang: str) -> None:
        self.path, self.form, self.limits, self.lang = path, form, limits, lang
        self._refused: Exception | None = None
        self._parse: _Background | None = None
        try:
            refuse_special(path, lang)  # a FIFO or a device: say what it is, never open it
            if not path.is_file():
                msg = {
                    "zh": f"{path}: 找不到文件：请检查路径和文件名",
                    "en": f"{path}: file not found: check the path and name",
                }
                raise UnreadableError(str(path), "missing", msg.get(lang, msg["zh"]))
            self._finish_inspection = inspect_in_two_steps(path, limits, lang)
        except Exception as e:  # noqa: BLE001 - raised by result(), where the file is reported
            self._refused = e
            return
        # the used area is known to be safe: python-calamine may open the file now
        self._parse = _Background(_open_first_sheet, path, form, lang)

    def result(self) -> tuple[Inspection, pc.CalamineWorkbook, list[str], Head | None]:
        """Complete the safety scan in this thread while python-calamine parses, then return
        ``(inspection, book, candidate sheets, first sheet's head or None)``; the caller closes
        the book. Raises :class:`UnreadableError` when the file cannot be read."""
        if self._refused is not None:
            raise self._refused
        parse, self._parse = self._parse, None
        try:
            insp = self._finish_inspection()
        except BaseException:
            parse.discard(lambda opened: opened[0].close())
            raise
        book, order, first = parse.result()
        return insp, book, order, first

    def discard(self) -> None:
        """Drop the reading if no one took it: wait for python-calamine and close the workbook
        (a no-op once :meth:`result` has run)."""
        parse, self._parse = self._parse, None
        if parse is not None:
            parse.discard(lambda opened: opened[0].close())

    def __enter__(self) -> Reading:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def start(path: str | Path, form: FormSpec, limits: Mapping[str, Any], lang: str = "zh") -> Reading:
    """Begin reading ``path``: step 1 of the safety scan runs here, python-calamine parses in a
    helper thread. Hand the reading to :func:`aftersales_xl.reading.workbook.read_form`
    (``reading=``) — or to the job that calls it — and discard it when done
    (``with start(...) as early:``), a no-op once it was used."""
    return Reading(Path(path), form, limits, lang)


def fits(
    reading: Reading | None, path: str | Path, form: FormSpec, limits: Mapping[str, Any], lang: str
) -> bool:
    """Whether ``reading`` was begun for ``path`` with this form, limits and language."""
    return (
        reading is not None
        and reading.path == Path(path)
        and (reading.form, reading.lang) == (form, lang)
        and reading.limits == limits
    )


def _open(path: Path, lang: str) -> pc.CalamineWorkbook:
    """Open with python-calamine, turning its errors into one plain-language UnreadableError."""
    try:
        return _open_by_content(path)
    except pc.PasswordError:
        msg = {
            "zh": f"{path.name} 设有打开密码：请在 Excel 中取消密码后另存为 .xlsx 再提交",
            "en": f"{path.name} is password-protected: remove the password in Excel, save as .xlsx and resubmit",
        }
        raise UnreadableError(str(path), "encrypted", msg.get(lang, msg["zh"])) from None
    except Exception:  # calamine raises several types (ZipError, XmlError, CalamineError...)
        msg = {
            "zh": f"{path.name} 已损坏或不是 Excel 工作簿：请在 Excel 中打开并另存为 .xlsx 后重新提交",
            "en": f"{path.name} is damaged or not an Excel workbook: open it in Excel, save as .xlsx and resubmit",
        }
        raise UnreadableError(str(path), "corrupt", msg.get(lang, msg["zh"])) from None


def _open_by_content(path: Path) -> pc.CalamineWorkbook:
    """The workbook with the parser its bytes call for (a renamed .xls still reads).

    ``from_filelike`` picks the parser from the bytes, trying each format in turn;
    ``from_path`` picks it from the extension, which for a file named as what it is comes to
    the same parser, reads the file without calling back into Python (so it does not wait for
    the GIL, which the safety scan holds while python-calamine opens the file in a helper
    thread) and is tried first; whatever it cannot open is opened from the bytes.
    """
    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except Exception:  # noqa: BLE001 - the bytes decide, as below
        pass
    with path.open("rb") as fh:
        return pc.CalamineWorkbook.from_filelike(fh)


def head(book: pc.CalamineWorkbook, name: str, path: Path, lang: str) -> Head:
    """Parse sheet ``name``; return it with its first :data:`HEADER_SEARCH_ROWS` rows, padded from A1."""
    try:
        sheet = book.get_sheet_by_name(name)
        return sheet, sheet.to_python(skip_empty_area=False, nrows=HEADER_SEARCH_ROWS)
    except Exception:
        raise sheet_error(path, name, lang) from None


def sheet_error(path: Path, name: str, lang: str) -> UnreadableError:
    """The one-line error for a sheet python-calamine cannot read."""
    msg = {
        "zh": f"{path.name} 的工作表“{name}”无法读取：请在 Excel 中打开并另存为 .xlsx",
        "en": f'{path.name}: sheet "{name}" cannot be read: open it in Excel and save as .xlsx',
    }
    return UnreadableError(str(path), "corrupt", msg.get(lang, msg["zh"]))


def _candidate_sheets(book: pc.CalamineWorkbook, form: FormSpec) -> list[str]:
    """The sheets that may hold the form, in the order they are tried: the template's own helper
    sheets (instructions repeat the headers) are never records; the template's record sheet
    name first, then visible sheets, in workbook order."""
    skip = {normalise_label(n) for n in (*INSTRUCTIONS_SHEET.values(), LISTS_SHEET)}
    metas = [
        m
        for m in book.sheets_metadata
        if str(m.typ).endswith("WorkSheet") and normalise_label(m.name) not in skip
    ]
    wanted = {normalise_label(form.sheet), normalise_label(form.sheet_en)}
    metas.sort(
        key=lambda m: (
            normalise_label(m.name) not in wanted,
            not str(m.visible).endswith("Visible"),
        )
    )
    return [m.name for m in metas]


def _open_first_sheet(
    path: Path, form: FormSpec, lang: str
) -> tuple[pc.CalamineWorkbook, list[str], Head | None]:
    """Open the workbook and parse the first candidate sheet: ``(book, candidates, first)``."""
    book = _open(path, lang)
    try:
        order = _candidate_sheets(book, form)
        return book, order, head(book, order[0], path, lang) if order else None
    except BaseException:
        book.close()
        raise


class _Background:
    """``fn(*args)`` running in a helper thread; :meth:`result` waits for it and returns its
    value or raises its exception."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._outcome: tuple[bool, Any] = (False, None)
        self._thread = threading.Thread(
            target=self._run, args=(fn, args), name="xlcheck-parse", daemon=True
        )
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            self._outcome = (True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread by result()
            self._outcome = (False, exc)

    def result(self) -> Any:
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value

    def discard(self, cleanup: Callable[[Any], None]) -> None:
        """Wait for the helper and clean up its value; its outcome is not wanted any more."""
        self._thread.join()
        ok, value = self._outcome
        if ok:
            cleanup(value)


def expand_paths(args: list[str | Path]) -> list[Path]:
    """Files as given; folders → every workbook in them (sorted), skipping ``~$`` lock files
    and hidden files, and xlcheck's own outputs (``*.checked.xlsx``, ``*.bak-…`` backups).
    Unknown extensions inside folders are skipped; named files are kept
    (their format is judged from their bytes). A file reached twice (``DIR DIR/a.xlsx``)
    is listed once, where it first appears."""
    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.name.startswith(("~$", ".")) or not child.is_file():
                    continue
                if child.suffix.lower() in WORKBOOK_SUFFIXES and not _OUR_OUTPUT.search(child.name):
                    out.append(child)
        else:
            out.append(p)
    return distinct_paths(out)


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
#: files xlcheck itself writes next to submissions: annotated copies and backups
_OUR_OUTPUT = re.compile(r"\.checked\.|\.bak-\d{8}-\d{6}")


def distinct_paths(paths: Iterable[str | Path]) -> list[Path]:
    """``paths`` in order without repeats: two spellings of one file (``a/x.xlsx`` and
    ``a/../a/x.xlsx``, a symbolic link and its target) count once, the first one kept."""
    seen: set[Path] = set()
    out: list[Path] = []
    for p in map(Path, paths):
        try:
            key = p.resolve()
        except (OSError, RuntimeError):  # a symlink loop: keep it as given
            key = p.absolute()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
