"""Write new cell text into an .xlsx/.xlsm without re-saving the workbook through a library.

An openpyxl load-and-save drops text boxes, header pictures, rich text, x14 drop-downs,
Power Query parts and macros. :func:`patch_cells` instead rewrites only the target
``<c>`` elements of one worksheet part, streaming it row by row, and copies every other
zip member unchanged (same content, order, dates and compression). The result goes to a
temporary file beside the destination, is read back with python-calamine and compared
with the source, and only then is moved into place.

Quirks handled here, by name:

- *prefixed namespace*: some writers spell the main namespace ``<x:row>``/``<x:c>``;
- *rows or cells without r=*: the position is implied; a row we touch gets explicit refs;
- *new cells* take the row's style (``customFormat``) or else the column's style so
  borders and number formats of the column still apply, and are inserted in column order;
- *text that looks like an escape* (``_x000D_``) and control characters are encoded the
  way Excel does (``_x005F_x000D_``, ``_x0001_``);
- *macro-enabled workbooks* (.xlsm) keep ``vbaProject.bin``; the output keeps the input's
  extension because the content types must match it;
- *old text in the shared-strings table*: a replaced cell's old string stays in
  ``sharedStrings.xml``; masking asks for it to be emptied (``scrub_shared_strings``)
  when no other cell uses it, so personal data does not survive inside the file;
- *formulas* in a target cell are refused (the value would break ``calcChain.xml``);
- *hyperlinks* (``mailto:``…) over a masked cell would keep the old contact in the sheet's
  relationships: ``drop_hyperlinks`` removes those ``<hyperlink>`` elements and every
  relationship no remaining hyperlink uses;
- *cell comments* (legacy ``comments1.xml`` and threaded comments) are rewritten comment by
  comment through ``comment_text``; a comment whose text spans several formatted runs keeps
  them when the change fits run by run, else its new text goes into the first run.

:func:`write_patched` adds the file handling around it: ``-o DIR`` copies, ``--in-place``
with a ``NAME.bak-YYYYmmdd-HHMMSS.xlsx`` backup, refusal while Excel's ``~$NAME.xlsx`` (or
LibreOffice's ``.~lock.NAME#``) lock file exists. .xls/.ods inputs are refused with a
message asking for an .xlsx copy.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import pairwise, zip_longest
from pathlib import Path
from typing import IO, Any

from defusedxml import ElementTree

from ..errors import WriteError
from ..messages import localise
from ..pii import redact
from .fileio import atomic_output, backup_copy, refuse_if_open_in_excel

PATCHABLE_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")

_CHUNK = 1 << 20
_SPOOL = 32 << 20  # a patched sheet up to this size stays in memory
_KEEP_ALL_BACKUPS = 1 << 30  # --in-place backups are the user's: never rotated away
_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOC = "/officeDocument"
_DOC_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_STRICT_REL_ID = "{http://purl.oclc.org/ooxml/officeDocument/relationships}id"

_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*("[^"]*"|'[^']*')""")
_CELL_COLUMN = re.compile(rb"""(?:^|\s)r\s*=\s*["']\$?([A-Z]{1,3})\$?\d""")
_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet\b")
_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4})_")
_HYPERLINK_TAG = re.compile(rb"<(?:[\w.-]+:)?hyperlink\b[^>]*>")
_RELATIONSHIP = re.compile(
    rb"<(?:[\w.-]+:)?Relationship\b[^>]*?(?:/>|>.*?</(?:[\w.-]+:)?Relationship\s*>)", re.S
)
_XML_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_HYPERLINK_TYPE = b"/hyperlink"
_COMMENT_TYPES = {"/comments": False, "/threadedComment": True}  # rel type end → threaded
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")


_TEXT: dict[str, dict[str, str]] = {
    "not-patchable": {
        "zh": "{name}：{suffix} 文件不能逐格写回：请在 Excel 或 WPS 中打开并另存为 .xlsx，再对该副本运行",
        "en": "{name}: {suffix} files cannot be written back cell by cell; open it in Excel or WPS, "
        "save it as .xlsx, and run the command on that copy",
    },
    "structure": {
        "zh": "{name}：无法读取工作簿结构（{detail}）：请在 Excel 中打开并另存为 .xlsx",
        "en": "{name}: the workbook structure cannot be read ({detail}); open it in Excel and save as .xlsx",
    },
    "no-sheet": {
        "zh": "{name}：没有名为“{sheet}”的工作表",
        "en": '{name}: no worksheet named "{sheet}"',
    },
    "not-worksheet": {
        "zh": "{name}：{part} 不是该工作簿的工作表",
        "en": "{name}: {part} is not a worksheet of this workbook",
    },
    "extension": {
        "zh": "{name}：输出文件须保持输入的扩展名 {suffix}（工作簿的内容类型，如 .xlsm 的宏，取决于它）",
        "en": "{name}: the output must keep the input's extension {suffix} "
        "(the workbook's content types, e.g. macros in .xlsm, depend on it)",
    },
    "no-folder": {
        "zh": "{folder}：输出文件夹不存在",
        "en": "{folder}: output folder does not exist",
    },
    "malformed": {
        "zh": "{name}：工作表 XML 不完整或格式不对，未写出任何内容",
        "en": "{name}: the worksheet XML is not well formed; nothing was written",
    },
    "formula": {
        "zh": "{name}：单元格 {ref} 是公式，未修改：请先把公式改为数值再运行",
        "en": "{name}: cell {ref} holds a formula and was not changed; replace the formula with its value and run again",
    },
    "write-failed": {
        "zh": "{name}：无法写出（{reason}）",
        "en": "{name}: could not be written ({reason})",
    },
    "verify": {
        "zh": "{name}：写出后核对失败（{detail}），未保存",
        "en": "{name}: verification failed ({detail}); nothing was saved",
    },
    "same-folder": {
        "zh": "{name}：输出文件夹就是源文件所在的文件夹：请换一个文件夹，或用 --in-place（会先备份）",
        "en": "{name}: the output folder is the source's own folder; choose another folder, "
        "or use --in-place (which keeps a backup first)",
    },
    "same-output": {
        "zh": "{first} 和 {second} 会写到同一个输出文件 {target}，未写出任何文件："
        "请分两次运行（用不同的 -o 文件夹），或先给其中一个改名",
        "en": "{first} and {second} would both be written to {target}; nothing was written: "
        "run them separately (different -o folders) or rename one",
    },
}


def _error(key: str, lang: str, **params: Any) -> WriteError:
    """A :class:`WriteError` with the catalogue sentence in ``lang`` (Chinese by default)."""
    return WriteError(localise(_TEXT, key, lang, **params))


# -- cell references ---------------------------------------------------------------------
def column_index(letters: str) -> int:
    """``"A"`` → 1, ``"AA"`` → 27."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(index: int) -> str:
    """1 → ``"A"``, 27 → ``"AA"``."""
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def split_ref(ref: str) -> tuple[int, int]:
    """``"J6"`` → (row 6, column 10); raises ValueError for anything else."""
    m = _REF.match(ref)
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(m.group(2)), column_index(m.group(1))


# -- locating a worksheet part -------------------------------------------------------------
def check_patchable(path: Path, lang: str = "zh", *, kind: str | None = None) -> None:
    """Raise :class:`WriteError` unless ``path`` is a workbook whose cells can be patched.

    .xlsx/.xlsm (and the .xltx/.xltm templates) are patched in place of their cells;
    .xls, .ods and anything else must first be saved as .xlsx by the user. ``kind`` is the
    format found from the file's bytes (``"xls"`` for an .xls renamed to .xlsx), if known.
    """
    suffix = f".{kind}" if kind else path.suffix
    if suffix.lower() not in PATCHABLE_SUFFIXES:
        raise _error("not-patchable", lang, name=path.name, suffix=suffix or "?")


def sheet_parts(path: Path, lang: str = "zh") -> dict[str, str]:
    """Worksheet name → zip member (``"xl/worksheets/sheet1.xml"``), in workbook order."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            wb_part = _office_document(z, names)
            wb_dir = posixpath.dirname(wb_part)
            rels_part = posixpath.join(wb_dir, "_rels", posixpath.basename(wb_part) + ".rels")
            targets = {}
            for rel in ElementTree.fromstring(z.read(rels_part)).iter(f"{_REL_NS}Relationship"):
                if rel.get("TargetMode") == "External":
                    continue
                targets[rel.get("Id")] = _resolve(wb_dir, rel.get("Target", ""))
            out: dict[str, str] = {}
            for el in ElementTree.fromstring(z.read(wb_part)).iter():
                if el.tag.rsplit("}", 1)[-1] != "sheet":
                    continue
                rid = el.get(_DOC_REL_ID) or el.get(_STRICT_REL_ID)
                part = targets.get(rid or "")
                if part in names:
                    out[el.get("name", "")] = part
            return out
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as e:
        raise _error("structure", lang, name=path.name, detail=type(e).__name__) from None


def sheet_part(path: Path, sheet: str, lang: str = "zh") -> str:
    """The zip member holding worksheet ``sheet``; :class:`WriteError` if there is none."""
    parts = sheet_parts(path, lang)
    if sheet not in parts:
        raise _error("no-sheet", lang, name=path.name, sheet=sheet)
    return parts[sheet]


def _office_document(z: zipfile.ZipFile, names: set[str]) -> str:
    if "_rels/.rels" in names:
        for rel in ElementTree.fromstring(z.read("_rels/.rels")).iter(f"{_REL_NS}Relationship"):
            if rel.get("Type", "").endswith(_OFFICE_DOC):
                return _resolve("", rel.get("Target", ""))
    return "xl/workbook.xml"


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(base_dir, target))


# -- the public entry point ----------------------------------------------------------------
def patch_cells(
    src: Path,
    dst: Path,
    sheet_part: str,
    changes: Mapping[str, str | None],
    *,
    scrub_shared_strings: bool = False,
    drop_hyperlinks: Iterable[str] = (),
    comment_text: Callable[[str], str] | None = None,
    replace_parts: Mapping[str, bytes] | None = None,
    lang: str = "zh",
) -> None:
    """Copy workbook ``src`` to ``dst`` with the cells in ``changes`` set to new text.

    ``replace_parts`` maps other zip members to their new bytes (masking replaces the
    document properties this way, see :func:`scrubbed_properties`).

    ``changes`` maps A1 references of worksheet part ``sheet_part`` to the new text (written
    as an inline string, keeping the cell's style) or ``None`` (the cell's value is removed,
    its style kept). Every other zip member is copied unchanged. ``dst`` may be ``src``.

    A replaced cell's old text stays in the shared-strings table, unused. With
    ``scrub_shared_strings`` (masking: the old text is personal data) every such entry no
    other cell of the workbook still uses is emptied, so the old text is gone from the file.

    ``drop_hyperlinks`` (A1 references) removes every hyperlink of the sheet over one of
    those cells, and its relationship when no other hyperlink uses it. ``comment_text``
    maps the text of each comment of the sheet to its new text (see :func:`sheet_comments`).

    The output is verified before it replaces ``dst``: the other parts unchanged, the cells
    as asked, no hyperlink left over a dropped cell nor one without its relationship, the
    comments still the same comments. On any failure :class:`WriteError` is raised and
    ``dst`` is left as it was.
    """
    src, dst = Path(src), Path(dst)
    check_patchable(src, lang)
    if dst.suffix.lower() != src.suffix.lower():
        raise _error("extension", lang, name=dst.name, suffix=src.suffix)
    if not dst.parent.is_dir():
        raise _error("no-folder", lang, folder=dst.parent)
    by_row = _group_changes(changes)
    drop = {_cell_of(ref) for ref in drop_hyperlinks}
    sheet_name = _name_of_part(src, sheet_part, lang)

    try:
        with atomic_output(dst) as tmp:
            edits = _Edits(
                sheet_part, by_row, drop, scrub_shared_strings, comment_text, replace_parts
            )
            _write_copy(src, tmp, edits, lang)
            _verify(src, tmp, sheet_name, edits, lang)
    except WriteError:
        raise
    except ValueError:
        raise _error("malformed", lang, name=src.name) from None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise _error("write-failed", lang, name=dst.name, reason=reason) from None


def _cell_of(ref: str) -> tuple[int, int]:
    try:
        return split_ref(ref.replace("$", "").upper())
    except ValueError:
        raise WriteError(f"internal: {ref!r} is not an A1 cell reference") from None


def _group_changes(changes: Mapping[str, str | None]) -> dict[int, dict[int, str | None]]:
    by_row: dict[int, dict[int, str | None]] = {}
    for ref, value in changes.items():
        try:
            row, col = split_ref(ref)
        except ValueError:
            raise WriteError(f"internal: {ref!r} is not an A1 cell reference") from None
        if value is not None and not isinstance(value, str):
            raise WriteError(f"internal: the new value for {ref} must be text")
        by_row.setdefault(row, {})[col] = value
    return by_row


def _name_of_part(src: Path, part: str, lang: str) -> str:
    for name, p in sheet_parts(src, lang).items():
        if p == part:
            return name
    raise _error("not-worksheet", lang, name=src.name, part=part)


# -- copying the package ---------------------------------------------------------------------
def _clone_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    new.comment = info.comment
    new.file_size = info.file_size
    return new


class _Edits:
    """What one patch does to the package, and (filled in while writing) which parts changed."""

    def __init__(
        self,
        part: str,
        by_row: dict[int, dict[int, str | None]],
        drop: set[tuple[int, int]],
        scrub: bool,
        comment_text: Callable[[str], str] | None,
        extra: Mapping[str, bytes] | None = None,
    ):
        self.part, self.by_row, self.drop = part, by_row, drop
        self.scrub, self.comment_text = scrub, comment_text
        self.extra = dict(extra or {})  # other members replaced whole (document properties)
        self.shared_strings: str | None = None  # the string table, when it was scrubbed
        self.rels: str | None = None  # the sheet's relationships, when links were dropped
        self.comments: dict[str, bool] = {}  # comment parts rewritten → threaded?

    @property
    def changed(self) -> set[str]:
        """The members other than the sheet part that were rewritten."""
        parts = {self.shared_strings, self.rels, *self.comments, *self.extra}
        return {p for p in parts if p is not None}


def _write_copy(src: Path, tmp: Path, edits: _Edits, lang: str) -> None:
    """Write the patched package to ``tmp``; records the other changed members in ``edits``."""
    part = edits.part
    with zipfile.ZipFile(src) as zin, tempfile.SpooledTemporaryFile(_SPOOL) as sheet_xml:
        infos = zin.infolist()
        names = {i.filename for i in infos}
        if part not in names:
            raise _error("not-worksheet", lang, name=src.name, part=part)
        with zin.open(part) as fin:
            rewriter = _SheetRewriter(fin, sheet_xml, edits.by_row, src.name, lang, edits.drop)
            rewriter.run()
        replaced: dict[str, bytes] = {}
        if edits.scrub and rewriter.replaced_shared:
            replaced = _scrub_shared_strings(
                src, zin, part, sheet_xml, set(rewriter.replaced_shared)
            )
            edits.shared_strings = next(iter(replaced), None)
        rels = _rels_part(part)
        unused = rewriter.dropped_links - rewriter.kept_links
        if unused and rels in names:
            replaced[rels] = _drop_relationships(zin.read(rels), unused)
            edits.rels = rels
        if edits.comment_text is not None:
            for target, threaded in _comment_parts(zin, part, names).items():
                data = zin.read(target)
                new = _rewrite_comments(data, threaded, edits.comment_text)
                if new != data:
                    replaced[target] = new
                    edits.comments[target] = threaded
        replaced.update((k, v) for k, v in edits.extra.items() if k in names)
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zout:
            zout.comment = zin.comment
            for info in infos:
                new = _clone_info(info)
                big = info.file_size > zipfile.ZIP64_LIMIT // 2
                with zout.open(new, "w", force_zip64=big) as fout:
                    if info.filename == part:
                        sheet_xml.seek(0)
                        shutil.copyfileobj(sheet_xml, fout, _CHUNK)
                    elif info.filename in replaced:
                        fout.write(replaced[info.filename])
                    else:
                        with zin.open(info) as fin:
                            shutil.copyfileobj(fin, fout, _CHUNK)


# -- hyperlinks and comments of a sheet --------------------------------------------------------
def _rels_part(part: str) -> str:
    """``xl/worksheets/sheet1.xml`` → ``xl/worksheets/_rels/sheet1.xml.rels``."""
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def _relationships(zin: zipfile.ZipFile, part: str, names: set[str]) -> list[dict[str, str]]:
    """The relationships of ``part`` (``Id``, ``Type``, ``Target``, ``TargetMode``)."""
    rels = _rels_part(part)
    if rels not in names:
        return []
    root = ElementTree.fromstring(zin.read(rels))
    return [dict(rel.attrib) for rel in root.iter(f"{_REL_NS}Relationship")]


def _comment_parts(zin: zipfile.ZipFile, part: str, names: set[str]) -> dict[str, bool]:
    """The comment parts of a worksheet part → whether they hold threaded comments."""
    out: dict[str, bool] = {}
    for rel in _relationships(zin, part, names):
        for suffix, threaded in _COMMENT_TYPES.items():
            if rel.get("Type", "").endswith(suffix) and rel.get("TargetMode") != "External":
                target = _resolve(posixpath.dirname(part), rel.get("Target", ""))
                if target in names:
                    out[target] = threaded
    return out


def _link_id(attrs: dict[bytes, bytes]) -> str | None:
    """The relationship id (``r:id``, whatever its prefix) of a ``<hyperlink>`` tag."""
    for key, value in attrs.items():
        if key.endswith(b":id"):
            return value.decode("utf-8", "replace")
    return None


def _hyperlink_tags(stream: IO[bytes]) -> Iterator[dict[bytes, bytes]]:
    """The attributes of every ``<hyperlink>`` of a worksheet part, read in chunks."""
    tail = b""
    while True:
        chunk = stream.read(_CHUNK)
        buf = tail + chunk
        cut = len(buf) if not chunk else max(buf.rfind(b"<"), 0)  # a tag may run past the chunk
        for m in _HYPERLINK_TAG.finditer(buf, 0, cut):
            yield _attrs(m.group())
        tail = buf[cut:]
        if not chunk:
            return


def _range_of(ref: bytes | None) -> tuple[int, int, int, int] | None:
    """``b"D2:E5"`` → (2, 4, 5, 5) as (first row, first col, last row, last col)."""
    try:
        a, _, b = (ref or b"").decode("ascii").replace("$", "").upper().partition(":")
        r1, c1 = split_ref(a)
        r2, c2 = split_ref(b or a)
    except (UnicodeDecodeError, ValueError):
        return None
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _covers(ref: bytes | None, cells: set[tuple[int, int]]) -> bool:
    """Whether the range ``ref`` covers one of ``cells`` ((row, col) pairs)."""
    area = _range_of(ref)
    if area is None or not cells:
        return False
    r1, c1, r2, c2 = area
    if (r2 - r1 + 1) * (c2 - c1 + 1) <= len(cells):
        return any((r, c) in cells for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))
    return any(r1 <= r <= r2 and c1 <= c <= c2 for r, c in cells)


def links_covering(refs: Iterable[str], cells: Iterable[str]) -> int:
    """How many hyperlinks over ``refs`` (``"D2"``, ``"D2:E5"``) cover one of ``cells`` (A1
    references), i.e. how many ``drop_hyperlinks=cells`` removes."""
    wanted = {_cell_of(c) for c in cells}
    return sum(1 for ref in refs if _covers(ref.encode("ascii", "replace"), wanted))


def sheet_hyperlinks(path: Path, part: str, lang: str = "zh") -> list[tuple[str, tuple[str, ...]]]:
    """Every hyperlink of worksheet ``part``: ``(ref, texts)``, ``texts`` being its target
    (from the relationships), location, display text and tooltip (those present)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            targets = {r.get("Id"): r.get("Target", "") for r in _relationships(z, part, names)}
            with z.open(part) as f:
                tags = list(_hyperlink_tags(f))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as e:
        raise _error("structure", lang, name=Path(path).name, detail=type(e).__name__) from None
    out = []
    for a in tags:
        texts = [targets.get(_link_id(a) or "", "")]
        texts += [_unescape(a.get(k, b"").decode("utf-8", "replace")) for k in _LINK_TEXTS]
        out.append((a.get(b"ref", b"").decode("ascii", "replace"), tuple(t for t in texts if t)))
    return out


_LINK_TEXTS = (b"location", b"display", b"tooltip")


def sheet_comments(path: Path, part: str, lang: str = "zh") -> dict[str, str]:
    """``ref`` → text of every comment of worksheet ``part`` (legacy notes, and threaded
    comments under ``"ref#n"`` keys, ``n`` counting from 1 for replies)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            out: dict[str, str] = {}
            for target, threaded in _comment_parts(z, part, names).items():
                for ref, texts in _comments(z.read(target), threaded):
                    key, n = ref, 1
                    while key in out:
                        n += 1
                        key = f"{ref}#{n}"
                    out[key] = "".join(t for _m, t in texts)
            return out
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError) as e:
        raise _error("structure", lang, name=Path(path).name, detail=type(e).__name__) from None


def _comment_items(threaded: bool) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Patterns of one comment element and of a text run inside it."""
    item, text = (b"threadedComment", b"text") if threaded else (b"comment", b"t")
    p = rb"<(?:[\w.-]+:)?"
    end = rb"</(?:[\w.-]+:)?"
    return (
        re.compile(p + item + rb"\b([^>]*?)(?:/>|>(.*?)" + end + item + rb"\s*>)", re.S),
        re.compile(p + text + rb"\b[^>]*?(?:/>|>(.*?)" + end + text + rb"\s*>)", re.S),
    )


def _comments(
    data: bytes, threaded: bool
) -> Iterator[tuple[str, list[tuple[re.Match[bytes], str]]]]:
    """Each comment of a comments part: its ref and its text runs (match, text)."""
    item, run = _comment_items(threaded)
    for m in item.finditer(data):
        ref = _attrs(m.group(1)).get(b"ref", b"").decode("ascii", "replace")
        inner = m.group(2) or b""
        texts = [
            (r, _unescape((r.group(1) or b"").decode("utf-8", "replace")))
            for r in run.finditer(inner)
        ]
        yield ref, texts


def _rewrite_comments(data: bytes, threaded: bool, new_text: Callable[[str], str]) -> bytes:
    """The comments part with each comment's text replaced by ``new_text(text)``."""
    item, run = _comment_items(threaded)
    out, last = bytearray(), 0
    for m in item.finditer(data):
        inner = m.group(2)
        if not inner:
            continue
        runs = [
            (r, _unescape((r.group(1) or b"").decode("utf-8", "replace")))
            for r in run.finditer(inner)
        ]
        old = "".join(t for _r, t in runs)
        new = new_text(old)
        if new == old or not runs:
            continue
        pieces = [new_text(t) for _r, t in runs]
        if "".join(pieces) != new:  # a phone spanning two runs: the whole text in one run
            first = next((i for i, (r, _t) in enumerate(runs) if r.group(1) is not None), 0)
            pieces = ["" for _ in runs]
            pieces[first] = new
        body, pos = bytearray(), 0
        for (r, text), piece in zip(runs, pieces, strict=True):
            if piece == text or r.group(1) is None:
                continue
            body += inner[pos : r.start(1)] + _escape(piece).encode("utf-8")
            pos = r.end(1)
        body += inner[pos:]
        out += data[last : m.start(2)] + body
        last = m.end(2)
    out += data[last:]
    return bytes(out)


def _drop_relationships(data: bytes, ids: set[str]) -> bytes:
    """A relationships part without the hyperlink relationships ``ids``."""

    def keep(m: re.Match[bytes]) -> bytes:
        a = _attrs(m.group()[: m.group().index(b">") + 1])
        rid = a.get(b"Id", b"").decode("utf-8", "replace")
        return b"" if rid in ids and a.get(b"Type", b"").endswith(_HYPERLINK_TYPE) else m.group()

    return _RELATIONSHIP.sub(keep, data)


def _unescape(text: str) -> str:
    """XML character data as text (the five entities and character references)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
        return _ENTITIES[name]

    return _XML_ENTITY.sub(one, text) if "&" in text else text


def _escape(text: str) -> str:
    """Text as XML character data (Excel's ``_xHHHH_`` escapes are left as they are)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- shared strings left behind ----------------------------------------------------------------
_SHARED_REF = re.compile(rb"<(?:[\w.-]+:)?c\b([^>]*)>\s*<(?:[\w.-]+:)?v>\s*(\d+)\s*<")


def _scrub_shared_strings(
    src: Path, zin: zipfile.ZipFile, part: str, patched: IO[bytes], candidates: set[int]
) -> dict[str, bytes]:
    """``{shared-strings part: new bytes}`` with the ``candidates`` no cell uses emptied."""
    sst = _shared_strings_part(zin)
    if sst is None:
        return {}
    used: set[int] = set()
    for other in set(sheet_parts(src).values()) - {part}:
        with zin.open(other) as f:
            used |= _shared_refs(f, candidates)
    patched.seek(0)
    used |= _shared_refs(patched, candidates)
    unused = candidates - used
    if not unused:
        return {}
    data = zin.read(sst)
    root = re.search(rb"<(?:([\w.-]+):)?sst\b", data)
    prefix = (root.group(1) + b":") if root and root.group(1) else b""
    p = re.escape(prefix)
    item = re.compile(rb"<" + p + rb"si\b[^>]*?(?:/>|>.*?</" + p + rb"si\s*>)", re.S)
    out, last = bytearray(), 0
    for index, m in enumerate(item.finditer(data)):
        if index in unused:
            out += data[last : m.start()] + b"<%ssi><%st/></%ssi>" % (prefix, prefix, prefix)
            last = m.end()
    out += data[last:]
    return {sst: bytes(out)}


def _shared_refs(stream: IO[bytes], candidates: set[int]) -> set[int]:
    """The ``candidates`` that some ``t="s"`` cell of a worksheet part refers to."""
    found: set[int] = set()
    tail = b""
    while True:
        chunk = stream.read(_CHUNK)
        buf = tail + chunk
        cut = len(buf) if not chunk else buf.rfind(b"</") + 1
        if cut <= 0:
            cut = 0
        for m in _SHARED_REF.finditer(buf, 0, cut):
            if re.search(rb"\bt\s*=\s*[\"']s[\"']", m.group(1)):
                index = int(m.group(2))
                if index in candidates:
                    found.add(index)
        tail = buf[cut:]
        if not chunk:
            return found


def _shared_strings_part(zin: zipfile.ZipFile) -> str | None:
    names = set(zin.namelist())
    wb_part = _office_document(zin, names)
    wb_dir = posixpath.dirname(wb_part)
    rels = posixpath.join(wb_dir, "_rels", posixpath.basename(wb_part) + ".rels")
    if rels not in names:
        return None
    for rel in ElementTree.fromstring(zin.read(rels)).iter(f"{_REL_NS}Relationship"):
        if rel.get("Type", "").endswith("/sharedStrings"):
            target = _resolve(wb_dir, rel.get("Target", ""))
            return target if target in names else None
    return None


# -- streaming the worksheet XML -----------------------------------------------------------
class _SheetRewriter:
    """Copy a worksheet part, replacing or inserting the cells of the rows in ``pending``.

    The part is read in chunks into ``buf``; ``buf[:emitted]`` has been written out.
    Rows without changes are copied as they are, in large spans.
    """

    def __init__(
        self,
        fin: IO[bytes],
        fout: IO[bytes],
        by_row: dict[int, dict[int, str | None]],
        label: str,
        lang: str,
        drop: set[tuple[int, int]] | None = None,
    ):
        self.fin, self.fout, self.label, self.lang = fin, fout, label, lang
        self.drop = drop or set()  # cells whose hyperlinks are removed
        self.dropped_links: set[str] = set()  # relationship ids of removed hyperlinks
        self.kept_links: set[str] = set()  # ... and of the hyperlinks kept
        self.pending = dict(sorted(by_row.items()))
        self.buf = bytearray()
        self.eof = False
        self.emitted = 0
        self.p = b""
        self.col_styles: list[tuple[int, int, bytes]] = []
        self.replaced_shared: Counter[int] = Counter()  # shared-string indices of replaced cells

    # buffer handling ------------------------------------------------------------------
    def _read(self) -> None:
        if self.eof:
            raise _error("malformed", self.lang, name=self.label)
        chunk = self.fin.read(_CHUNK)
        self.eof = not chunk
        self.buf += chunk

    def _find(self, pattern: re.Pattern[bytes], pos: int) -> re.Match[bytes]:
        """The next match of ``pattern`` at or after ``pos``, reading more input as needed."""
        start = pos
        while True:
            m = pattern.search(self.buf, start)
            if m and (m.end() < len(self.buf) or self.eof):
                return m
            if self.eof:
                raise _error("malformed", self.lang, name=self.label)
            start = max(pos, len(self.buf) - 256)
            self._read()

    def _emit(self, upto: int, insert: bytes = b"", resume: int | None = None) -> None:
        """Write ``buf[emitted:upto]`` and ``insert``; continue copying from ``resume``."""
        self.fout.write(self.buf[self.emitted : upto])
        self.fout.write(insert)
        self.emitted = upto if resume is None else resume

    def _compact(self, pos: int) -> int:
        """Drop the finished part of the buffer before ``pos``; returns the new ``pos``."""
        if pos < _CHUNK:
            return pos
        self._emit(pos)
        del self.buf[:pos]
        self.emitted = 0
        return 0

    # main loop ------------------------------------------------------------------------
    def run(self) -> None:
        root = self._find(_ROOT, 0)
        self.p = (root.group(1) + b":") if root.group(1) else b""
        p = re.escape(self.p)
        sheet_data = self._find(re.compile(rb"<" + p + rb"sheetData\b[^>]*?(/?)>"), root.end())
        self._head(sheet_data.start())
        if sheet_data.group(1):  # <sheetData/>: no rows at all
            body = b"<%ssheetData>%s</%ssheetData>" % (self.p, self._new_rows(None), self.p)
            self._emit(sheet_data.start(), body, sheet_data.end())
        else:
            self._rows(sheet_data.end())
        if self.pending:
            raise _error("malformed", self.lang, name=self.label)
        if self.drop:
            self._drop_hyperlinks()
        self._emit(len(self.buf))
        shutil.copyfileobj(self.fin, self.fout, _CHUNK)

    def _drop_hyperlinks(self) -> None:
        """Remove the ``<hyperlink>`` elements over ``drop`` cells (all of ``<hyperlinks>``
        when none is left: an empty one is not allowed)."""
        while not self.eof:  # what follows </sheetData> is small: read all of it
            self._read()
        p = re.escape(self.p)
        block = re.compile(
            rb"(<" + p + rb"hyperlinks\b[^>]*>)(.*?)(</" + p + rb"hyperlinks\s*>)", re.S
        ).search(self.buf, self.emitted)
        if block is None:
            return
        link = re.compile(
            rb"<" + p + rb"hyperlink\b[^>]*?(?:/>|>.*?</" + p + rb"hyperlink\s*>)", re.S
        )
        kept, removed = bytearray(), 0
        for m in link.finditer(block.group(2)):
            attrs = _attrs(m.group()[: m.group().index(b">") + 1])
            rid = _link_id(attrs)
            if _covers(attrs.get(b"ref"), self.drop):
                removed += 1
                if rid:
                    self.dropped_links.add(rid)
                continue
            if rid:
                self.kept_links.add(rid)
            kept += m.group()
        if not removed:
            return
        new = block.group(1) + bytes(kept) + block.group(3) if kept else b""
        self._emit(block.start(), new, block.end())

    def _head(self, end: int) -> None:
        """Read the column styles; widen ``<dimension ref>`` to cover new cells."""
        p = re.escape(self.p)
        head = bytes(self.buf[:end])
        for m in re.finditer(rb"<" + p + rb"col\b[^>]*>", head):
            a = _attrs(m.group())
            if b"style" in a and b"min" in a and b"max" in a:
                self.col_styles.append((int(a[b"min"]), int(a[b"max"]), a[b"style"]))
        dim = re.search(rb"<" + p + rb'dimension\b[^>]*?\sref="([^"]*)"', head)
        wanted = [
            (r, c) for r, cols in self.pending.items() for c, v in cols.items() if v is not None
        ]
        if dim and wanted:
            new_ref = _widen(dim.group(1).decode("ascii", "replace"), wanted)
            if new_ref is not None:
                self._emit(dim.start(1), new_ref.encode("ascii"), dim.end(1))

    def _rows(self, pos: int) -> None:
        p = re.escape(self.p)
        next_row = re.compile(rb"<" + p + rb"row\b|</" + p + rb"sheetData\s*>")
        tag_end = re.compile(rb">")
        row_end = re.compile(rb"</" + p + rb"row\s*>")
        last = 0
        while True:
            if not self.pending:
                # nothing left to change: the remaining rows are copied as they are by run()
                # (a row without r= keeps following the one before it, numbered or not)
                return
            pos = self._compact(pos)
            m = self._find(next_row, pos)
            start = m.start()
            if self.buf[start + 1 : start + 2] == b"/":  # </sheetData>
                if self.pending:
                    self._emit(start, self._new_rows(None))
                return
            t = self._find(tag_end, m.end())
            if self.buf[t.start() - 1 : t.start()] == b"/":
                stop = t.end()
            else:
                stop = self._find(row_end, t.end()).end()
            attrs = _attrs(bytes(self.buf[start : t.end()]))
            number = int(attrs[b"r"]) if b"r" in attrs else last + 1
            last = number
            before = self._new_rows(number)
            if number in self.pending or b"r" not in attrs:
                row = self._patch_row(bytes(self.buf[start:stop]), number, attrs)
                self._emit(start, before + row, stop)
            elif before:
                self._emit(start, before)
            pos = stop

    # building XML ---------------------------------------------------------------------
    def _new_rows(self, before: int | None) -> bytes:
        """Rows to insert that the file lacks, numbered below ``before`` (None: all)."""
        out = bytearray()
        while self.pending:
            number = next(iter(self.pending))
            if before is not None and number >= before:
                break
            cells = self.pending.pop(number)
            body = b"".join(
                self._cell(column_letters(c) + str(number), None, v, self._column_style(c))
                for c, v in cells.items()
                if v is not None
            )
            if body:
                out += b"<" + self.p + b'row r="' + str(number).encode() + b'">' + body
                out += b"</" + self.p + b"row>"
        return bytes(out)

    def _patch_row(self, element: bytes, number: int, row_attrs: dict[bytes, bytes]) -> bytes:
        """``element`` (a whole ``<row>``) with this row's changes applied."""
        p = re.escape(self.p)
        changes = dict(sorted(self.pending.pop(number, {}).items()))
        tag_end = element.index(b">") + 1
        self_closing = element[tag_end - 2 : tag_end] == b"/>"
        start_tag = element[: tag_end - 2] + b">" if self_closing else element[:tag_end]
        if b"r" not in row_attrs:
            n = 1 + len(self.p) + 3
            start_tag = start_tag[:n] + b' r="' + str(number).encode() + b'"' + start_tag[n:]
        inner = b"" if self_closing else element[tag_end : element.rindex(b"<")]
        row_style = (
            row_attrs.get(b"s") if row_attrs.get(b"customFormat") in (b"1", b"true") else None
        )

        def new_cell(col: int, value: str) -> bytes:
            style = row_style or self._column_style(col)
            return self._cell(column_letters(col) + str(number), None, value, style)

        cell_re = re.compile(rb"<" + p + rb"c\b([^>]*?)(?:/>|>.*?</" + p + rb"c\s*>)", re.S)
        added = [c for c, v in changes.items() if v is not None]
        out: list[bytes] = []
        order: list[int] = []  # columns in the order written, checked below
        after_last_cell = 0
        last, col = 0, 0
        has_ref: re.Match[bytes] | None = None
        for m in cell_re.finditer(inner):
            if not changes and has_ref:
                break  # the rest of the row is copied as it is
            out.append(inner[last : m.start()])
            raw = m.group()
            has_ref = _CELL_COLUMN.search(m.group(1))
            col = column_index(has_ref.group(1).decode("ascii")) if has_ref else col + 1
            if changes and next(iter(changes)) < col:
                for c in [c for c in changes if c < col]:
                    value = changes.pop(c)
                    if value is not None:
                        out.append(new_cell(c, value))
                        order.append(c)
            if col in changes:
                ref = column_letters(col) + str(number)
                out.append(self._cell(ref, raw, changes.pop(col), None))
            elif has_ref:
                out.append(raw)
            else:
                n = 1 + len(self.p) + 1
                ref = column_letters(col) + str(number)
                out.append(raw[:n] + b' r="' + ref.encode() + b'"' + raw[n:])
            order.append(col)
            after_last_cell = len(out)
            last = m.end()
        out.append(inner[last:])
        tail = [c for c, v in changes.items() if v is not None]
        out[after_last_cell:after_last_cell] = [new_cell(c, changes[c]) for c in tail]
        order.extend(tail)
        if any(a >= b for a, b in pairwise(order)):
            raise _error("malformed", self.lang, name=self.label)
        return _widen_spans(start_tag, added) + b"".join(out) + b"</" + self.p + b"row>"

    def _column_style(self, col: int) -> bytes | None:
        for lo, hi, style in self.col_styles:
            if lo <= col <= hi:
                return style
        return None

    def _cell(self, ref: str, old: bytes | None, value: str | None, style: bytes | None) -> bytes:
        """The new ``<c>`` for ``ref``; keeps ``s=`` and other attributes of ``old``."""
        p = self.p
        kept: list[tuple[bytes, bytes]] = []
        if old is not None:
            if re.search(rb"<" + re.escape(p) + rb"f\b", old):
                raise _error("formula", self.lang, name=self.label, ref=ref)
            old_attrs = _attr_items(old[: old.index(b">") + 1])
            if (b"t", b"s") in old_attrs:
                v = re.search(rb"<" + re.escape(p) + rb"v>\s*(\d+)", old)
                if v:
                    self.replaced_shared[int(v.group(1))] += 1
            kept = [(k, v) for k, v in old_attrs if k not in (b"r", b"t", b"cm", b"vm")]
        elif style is not None:
            kept = [(b"s", style)]
        attrs = (
            b' r="' + ref.encode() + b'"' + b"".join(b" " + k + b'="' + v + b'"' for k, v in kept)
        )
        if value is None:
            return b"<" + p + b"c" + attrs + b"/>"
        text = _xml_text(value).encode("utf-8")
        inline = b'<%sc%s t="inlineStr"><%sis><%st xml:space="preserve">%s</%st></%sis></%sc>'
        return inline % (p, attrs, p, p, text, p, p, p)


def _attr_items(tag: bytes) -> list[tuple[bytes, bytes]]:
    return [(m.group(1), m.group(2)[1:-1]) for m in _ATTR.finditer(tag)]


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    return dict(_attr_items(tag))


def _widen(ref: str, cells: Iterable[tuple[int, int]]) -> str | None:
    """The dimension ``ref`` grown to include ``cells``; None if it already does."""
    try:
        a, _, b = ref.partition(":")
        r1, c1 = split_ref(a.replace("$", ""))
        r2, c2 = split_ref((b or a).replace("$", ""))
    except ValueError:
        return None
    nr1, nc1, nr2, nc2 = r1, c1, r2, c2
    for r, c in cells:
        nr1, nc1, nr2, nc2 = min(nr1, r), min(nc1, c), max(nr2, r), max(nc2, c)
    if (nr1, nc1, nr2, nc2) == (r1, c1, r2, c2):
        return None
    return f"{column_letters(nc1)}{nr1}:{column_letters(nc2)}{nr2}"


def _widen_spans(start_tag: bytes, cols: list[int]) -> bytes:
    m = re.search(rb'(\sspans=")(\d+):(\d+)(")', start_tag)
    if not m or not cols:
        return start_tag
    lo, hi = min(int(m.group(2)), *cols), max(int(m.group(3)), *cols)
    return start_tag[: m.start(2)] + f"{lo}:{hi}".encode() + start_tag[m.end(3) :]


def _xml_text(value: str) -> str:
    """Text as the content of ``<t>``: XML-escaped, Excel's ``_xHHHH_`` escapes applied."""
    value = _ESCAPE_LIKE.sub(r"_x005F_\1_", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


# -- where the output goes -------------------------------------------------------------------
def output_for(src: Path, out_dir: Path | None, in_place: bool, lang: str = "zh") -> Path:
    """Where the patched copy of ``src`` goes: ``out_dir/NAME`` (``name`` if given) or, in
    place, ``src`` itself.

    Refuses an output folder that is the source's own folder (that would overwrite the
    original without a backup) and a destination that is open in Excel.
    """
    src = Path(src)
    if in_place:
        dst = src
    else:
        if out_dir is None:
            raise ValueError("out_dir is required unless in_place")
        if Path(out_dir).resolve() == src.parent.resolve():
            raise _error("same-folder", lang, name=src.name)
        dst = Path(out_dir) / copy_name(src)
    refuse_if_open_in_excel(dst, lang)
    return dst


def copy_name(src: Path) -> str:
    """The file name of a copy written from ``src``: its own name, with a phone number, email
    or ID-card number in it masked (``＊``, as ``*`` cannot be in a Windows file name) — a file
    name is output too."""
    return redact(Path(src).name, "＊")


def check_distinct_outputs(
    paths: Iterable[Path], out_dir: Path | None, in_place: bool, lang: str = "zh"
) -> None:
    """Raise :class:`WriteError` (one line) when two inputs would be written to one file.

    With ``-o DIR`` every input goes to ``DIR/NAME``, so two inputs named alike (compared
    case-insensitively, as Windows and macOS do) would overwrite each other. In place,
    only the same file given twice would, and inputs are expected to be de-duplicated.
    """
    if in_place or out_dir is None:
        return
    seen: dict[str, Path] = {}
    for path in paths:
        key = copy_name(Path(path)).casefold()
        if key in seen:
            raise _error(
                "same-output",
                lang,
                first=seen[key],
                second=path,
                target=Path(out_dir) / copy_name(Path(path)),
            )
        seen[key] = Path(path)


def write_patched(
    src: Path,
    sheet_part: str,
    changes: Mapping[str, str | None],
    *,
    out_dir: Path | None = None,
    in_place: bool = False,
    now: datetime | None = None,
    scrub_shared_strings: bool = False,
    drop_hyperlinks: Iterable[str] = (),
    comment_text: Callable[[str], str] | None = None,
    replace_parts: Mapping[str, bytes] | None = None,
    lang: str = "zh",
) -> tuple[Path, Path | None]:
    """Patch ``src`` into ``out_dir`` (created if needed) or in place after a backup.

    Returns ``(output, backup)``; ``backup`` is None unless ``in_place``. See
    :func:`patch_cells` for ``scrub_shared_strings``, ``drop_hyperlinks`` and
    ``comment_text``. The backup is a
    plain copy of the original, made before anything is written, and removed again if the
    write fails (the original is then untouched).
    """
    src = Path(src)
    check_patchable(src, lang)
    dst = output_for(src, out_dir, in_place, lang)
    backup: Path | None = None
    try:
        if in_place:
            backup = backup_copy(src, keep=_KEEP_ALL_BACKUPS, now=now)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _error(
            "write-failed", lang, name=dst.name, reason=e.strerror or type(e).__name__
        ) from None
    try:
        patch_cells(
            src,
            dst,
            sheet_part,
            changes,
            scrub_shared_strings=scrub_shared_strings,
            drop_hyperlinks=drop_hyperlinks,
            comment_text=comment_text,
            replace_parts=replace_parts,
            lang=lang,
        )
    except BaseException:
        if backup is not None:
            backup.unlink(missing_ok=True)
        raise
    return dst, backup


# -- document properties -----------------------------------------------------------------------
#: core.xml / app.xml elements that name people or describe the content (emptied by masking)
_PERSONAL_PROPERTIES = re.compile(
    rb"<((?:\w+:)?(?:title|subject|creator|keywords|description|lastModifiedBy|category|"
    rb"contentStatus|Manager|Company|HyperlinkBase))(\s[^>]*)?>.*?</\1\s*>",
    re.S,
)
_CUSTOM_PROPERTY = re.compile(rb"<(?:\w+:)?property\b.*?</(?:\w+:)?property\s*>", re.S)
PROPERTY_PARTS = ("docProps/core.xml", "docProps/app.xml", "docProps/custom.xml")


def scrubbed_properties(src: Path) -> dict[str, bytes]:
    """The document-property parts of ``src`` with everything that may name a person emptied:
    title, subject, author, keywords, comments, last modified by, category, status (core.xml),
    manager, company, hyperlink base (app.xml) and every custom property (custom.xml). Names
    cannot be told from other words, so these are emptied rather than searched. Only parts
    that change are returned."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(src) as z:
        names = set(z.namelist())
        for part in PROPERTY_PARTS:
            if part not in names or z.getinfo(part).file_size > (4 << 20):
                continue
            data = z.read(part)
            if part.endswith("custom.xml"):
                new = _CUSTOM_PROPERTY.sub(b"", data)
            else:
                new = _PERSONAL_PROPERTIES.sub(
                    lambda m: b"<" + m.group(1) + (m.group(2) or b"") + b"/>", data
                )
            if new != data:
                out[part] = new
    return out


# -- verification ----------------------------------------------------------------------------
def _verify(src: Path, out: Path, sheet: str, edits: _Edits, lang: str) -> None:
    """Reopen ``out``: other members identical, the sheet's cells, links and comments as
    expected. Else WriteError."""
    part, by_row, also_changed = edits.part, edits.by_row, edits.changed
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        ia, ib = a.infolist(), b.infolist()
        if [i.filename for i in ia] != [i.filename for i in ib]:
            raise _error("verify", lang, name=redact(src.name), detail="parts")
        for x, y in zip(ia, ib, strict=True):
            changed = (x.CRC, x.file_size) != (y.CRC, y.file_size)
            untouched = x.filename != part or not (by_row or edits.drop)
            if changed and untouched and x.filename not in also_changed:
                raise _error("verify", lang, name=redact(src.name), detail=x.filename)
        bad = b.testzip()
        if bad is not None:
            raise _error("verify", lang, name=redact(src.name), detail=bad)
        try:
            if edits.drop:
                _verify_links(a, b, part, edits.drop)
            for target, threaded in edits.comments.items():
                _verify_comments(a.read(target), b.read(target), threaded)
        except (ValueError, KeyError, ElementTree.ParseError):
            raise _error("verify", lang, name=redact(src.name), detail="links/comments") from None
    if not by_row and not edits.shared_strings:
        return  # no cell was to change: the rows were copied byte for byte (CRCs checked above)
    # the changed sheet; and every sheet when a shared part (the string table) changed too
    others = [n for n in sheet_parts(src, lang) if n != sheet] if edits.shared_strings else []
    names = [sheet, *others]
    try:
        import python_calamine

        book_a = python_calamine.CalamineWorkbook.from_path(str(src))
        book_b = python_calamine.CalamineWorkbook.from_path(str(out))
        for name in names:
            _compare(
                _grid(book_a, name), _grid(book_b, name), by_row if name == sheet else {}, src, lang
            )
    except WriteError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure means the output is not trustworthy
        raise _error("verify", lang, name=redact(src.name), detail=type(e).__name__) from None


def _verify_links(
    src: zipfile.ZipFile, out: zipfile.ZipFile, part: str, drop: set[tuple[int, int]]
) -> None:
    """No hyperlink left over a dropped cell; every remaining one keeps its relationship."""
    had = {r.get("Id") for r in _relationships(src, part, set(src.namelist()))}
    has = {r.get("Id") for r in _relationships(out, part, set(out.namelist()))}
    with out.open(part) as f:
        for attrs in _hyperlink_tags(f):
            rid = _link_id(attrs)
            if _covers(attrs.get(b"ref"), drop) or (rid in had and rid not in has):
                raise ValueError("hyperlink")


def _verify_comments(before: bytes, after: bytes, threaded: bool) -> None:
    """The rewritten comments part is well formed and holds the same comments, in order."""
    ElementTree.fromstring(after)
    refs_before = [ref for ref, _t in _comments(before, threaded)]
    if [ref for ref, _t in _comments(after, threaded)] != refs_before:
        raise ValueError("comments")


def _compare(
    before: list[list[Any]],
    after: list[list[Any]],
    by_row: dict[int, dict[int, str | None]],
    src: Path,
    lang: str,
) -> None:
    """Raise unless ``after`` is ``before`` with the changes applied (trailing blanks ignored);
    the error names the user's file ``src``, never the temporary copy."""
    for r, cols in by_row.items():
        while len(before) < r:
            before.append([])
        row = before[r - 1]
        for c, value in cols.items():
            row.extend([""] * (c - len(row)))
            row[c - 1] = value or ""
    for r in range(max(len(before), len(after))):
        a = before[r] if r < len(before) else []
        b = after[r] if r < len(after) else []
        if a != b and _trimmed(a) != _trimmed(b):
            c = next(i for i, (x, y) in enumerate(zip_longest(a, b, fillvalue="")) if x != y)
            raise _error(
                "verify", lang, name=redact(src.name), detail=f"{column_letters(c + 1)}{r + 1}"
            )


def _trimmed(values: list[Any]) -> list[Any]:
    end = len(values)
    while end and values[end - 1] == "":
        end -= 1
    return values[:end]


def _grid(wb: Any, sheet: str) -> list[list[Any]]:
    """All cells of ``sheet`` from A1, row by row (empty cells are ``""``)."""
    return wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
