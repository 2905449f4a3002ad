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
  extension because the content types must match it.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from defusedxml import ElementTree

from .errors import WriteError

PATCHABLE_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")

_CHUNK = 1 << 20
_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOC = "/officeDocument"
_DOC_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_STRICT_REL_ID = "{http://purl.oclc.org/ooxml/officeDocument/relationships}id"

_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*("[^"]*"|'[^']*')""")
_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet\b")
_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4})_")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")


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
def check_patchable(path: Path) -> None:
    """Raise :class:`WriteError` unless ``path`` is a workbook whose cells can be patched."""
    if path.suffix.lower() not in PATCHABLE_SUFFIXES:
        raise WriteError(
            f"{path.name}: {path.suffix or 'this file type'} cannot be written back cell by cell; "
            "open it in Excel or WPS, save it as .xlsx, and run the command on that copy"
        )


def sheet_parts(path: Path) -> dict[str, str]:
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
        raise WriteError(f"{path.name}: the workbook structure cannot be read ({type(e).__name__})") from None


def sheet_part(path: Path, sheet: str) -> str:
    """The zip member holding worksheet ``sheet``; :class:`WriteError` if there is none."""
    parts = sheet_parts(path)
    if sheet not in parts:
        raise WriteError(f"{path.name}: no worksheet named {sheet!r}")
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
def patch_cells(src: Path, dst: Path, sheet_part: str, changes: Mapping[str, str | None]) -> None:
    """Copy workbook ``src`` to ``dst`` with the cells in ``changes`` set to new text.

    ``changes`` maps A1 references of worksheet part ``sheet_part`` to the new text (written
    as an inline string, keeping the cell's style) or ``None`` (the cell's value is removed,
    its style kept). Every other zip member is copied unchanged. ``dst`` may be ``src``.
    The output is verified before it replaces ``dst``; on any failure :class:`WriteError`
    is raised and ``dst`` is left as it was.
    """
    src, dst = Path(src), Path(dst)
    check_patchable(src)
    if dst.suffix.lower() != src.suffix.lower():
        raise WriteError(
            f"{dst.name}: the output must keep the input's extension {src.suffix} "
            "(the workbook's content types, e.g. macros in .xlsm, depend on it)"
        )
    if not dst.parent.is_dir():
        raise WriteError(f"{dst.parent}: output folder does not exist")
    by_row = _group_changes(changes)
    sheet_name = _name_of_part(src, sheet_part)

    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".~{dst.stem}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write_copy(src, tmp, sheet_part, by_row)
        _verify(src, tmp, sheet_part, sheet_name, by_row)
        if src.exists():
            shutil.copymode(src, tmp)
        os.replace(tmp, dst)
    except WriteError:
        tmp.unlink(missing_ok=True)
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{dst.name}: could not be written ({type(e).__name__}: {e.strerror or ''})".rstrip(": ()") + ")") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def _name_of_part(src: Path, part: str) -> str:
    for name, p in sheet_parts(src).items():
        if p == part:
            return name
    raise WriteError(f"{src.name}: {part} is not a worksheet of this workbook")


# -- copying the package ---------------------------------------------------------------------
def _clone_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    new.comment = info.comment
    new.file_size = info.file_size
    return new


def _write_copy(src: Path, tmp: Path, part: str, by_row: dict[int, dict[int, str | None]]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", allowZip64=True) as zout:
        zout.comment = zin.comment
        infos = zin.infolist()
        if part not in {i.filename for i in infos}:
            raise WriteError(f"{src.name}: {part} is missing from the workbook")
        for info in infos:
            new = _clone_info(info)
            big = info.file_size > zipfile.ZIP64_LIMIT // 2
            with zin.open(info) as fin, zout.open(new, "w", force_zip64=big) as fout:
                if info.filename == part:
                    _SheetRewriter(fin, fout, by_row, src.name).run()
                else:
                    shutil.copyfileobj(fin, fout, _CHUNK)


# -- streaming the worksheet XML -----------------------------------------------------------
class _SheetRewriter:
    """Copy a worksheet part, replacing/inserting cells of the rows in ``by_row``."""

    def __init__(self, fin: IO[bytes], fout: IO[bytes], by_row: dict[int, dict[int, str | None]], label: str):
        self.fin, self.fout, self.label = fin, fout, label
        self.pending = dict(sorted(by_row.items()))  # rows still to write
        self.buf = bytearray()
        self.eof = False
        self.emitted = 0  # buf[:emitted] has been written out
        self.p = b""
        self.col_styles: list[tuple[int, int, bytes]] = []

    # buffer handling ------------------------------------------------------------------
    def _fill(self, keep_from: int) -> int:
        """Flush what is final, drop it from the buffer, read one more chunk.

        Returns the shift applied to buffer offsets (callers subtract it).
        """
        if self.eof:
            raise WriteError(f"{self.label}: the worksheet XML ends unexpectedly")
        shift = min(keep_from, self.emitted)
        if shift:
            self.fout.write(self.buf[: self.emitted])
            del self.buf[:shift]
            self.emitted -= shift
        chunk = self.fin.read(_CHUNK)
        if not chunk:
            self.eof = True
        self.buf += chunk
        return shift

    def _emit_upto(self, pos: int, replacement: bytes = b"", skip_to: int | None = None) -> None:
        """Write buf[emitted:pos], then ``replacement``; continue after ``skip_to`` (or pos)."""
        self.fout.write(self.buf[self.emitted : pos])
        if replacement:
            self.fout.write(replacement)
        self.emitted = pos if skip_to is None else skip_to

    def _search(self, pattern: re.Pattern[bytes], pos: int) -> tuple[re.Match[bytes], int]:
        """Find ``pattern`` at or after ``pos``, reading more as needed; returns (match, pos)."""
        while True:
            m = pattern.search(self.buf, pos)
            # a match touching the buffer's end may be cut short: read on unless at EOF
            if m and (m.end() < len(self.buf) or self.eof):
                return m, pos
            if self.eof:
                raise WriteError(f"{self.label}: the worksheet XML is not well formed")
            pos -= self._fill(pos)

    # main loop ------------------------------------------------------------------------
    def run(self) -> None:
        while not self.eof and len(self.buf) < 4096:
            self._fill(0)
        root = _ROOT.search(self.buf)
        self.p = (root.group(1) + b":") if root and root.group(1) else b""
        p = re.escape(self.p)
        open_sd = re.compile(rb"<" + p + rb"sheetData\b[^>]*?(/?)>")
        m, _ = self._search(open_sd, 0)
        self._patch_head(m.start())
        m, _ = self._search(open_sd, 0)
        if m.group(1):  # <sheetData/>: no rows at all
            body = b"<" + self.p + b"sheetData>" + self._new_rows(None) + b"</" + self.p + b"sheetData>"
            self._emit_upto(m.start(), body, m.end())
        else:
            self._rows(m.end())
        if self.pending:
            raise WriteError(f"{self.label}: could not place every changed cell")
        self.fout.write(self.buf[self.emitted :])
        self.emitted = len(self.buf)
        shutil.copyfileobj(self.fin, self.fout, _CHUNK)

    def _patch_head(self, end: int) -> None:
        """Widen ``<dimension ref>`` to cover new cells; read the column styles."""
        head = bytes(self.buf[:end])
        for m in re.finditer(rb"<" + re.escape(self.p) + rb"col\b[^>]*>", head):
            a = _attrs(m.group())
            if b"style" in a and b"min" in a and b"max" in a:
                self.col_styles.append((int(a[b"min"]), int(a[b"max"]), a[b"style"]))
        dim = re.search(rb"(<" + re.escape(self.p) + rb'dimension\b[^>]*?\sref=")([^"]*)(")', head)
        wanted = [(r, c) for r, cols in self.pending.items() for c, v in cols.items() if v is not None]
        if not dim or not wanted:
            return
        new_ref = _widen(dim.group(2).decode("ascii", "replace"), wanted)
        if new_ref is not None:
            self._emit_upto(dim.start(2), new_ref.encode("ascii"), dim.end(2))

    def _rows(self, pos: int) -> None:
        p = re.escape(self.p)
        nxt = re.compile(rb"<" + p + rb"row\b|</" + p + rb"sheetData\s*>")
        tag_end = re.compile(rb">")
        row_end = re.compile(rb"</" + p + rb"row\s*>")
        last_row = 0
        while True:
            m, pos = self._search(nxt, pos)
            start = m.start()
            if m.group().startswith(b"</"):
                if self.pending:
                    self._emit_upto(start, self._new_rows(None))
                return
            t, start = self._search(tag_end, m.end())
            start_tag_end = t.end()
            start -= 0
            # _search may have shifted the buffer: recompute the row start from the tag end
            row_start = self.buf.rfind(b"<", 0, t.start() + 1)
            while self.buf[row_start + 1 : row_start + 1 + len(self.p) + 3] != self.p + b"row":
                row_start = self.buf.rfind(b"<", 0, row_start)
            if self.buf[t.start() - 1 : t.start()] == b"/":
                row_stop = start_tag_end
            else:
                e, _ = self._search(row_end, start_tag_end)
                row_stop = e.end()
                row_start = self._relocate(row_start, start_tag_end, e)
                start_tag_end = self.buf.find(b">", row_start) + 1
            start_tag = bytes(self.buf[row_start:start_tag_end])
            attrs = _attrs(start_tag)
            number = int(attrs[b"r"]) if b"r" in attrs else last_row + 1
            last_row = number
            before = self._new_rows(number)
            if number in self.pending or b"r" not in attrs:
                element = bytes(self.buf[row_start:row_stop])
                self._emit_upto(row_start, before + self._patch_row(element, number, attrs), row_stop)
            elif before:
                self._emit_upto(row_start, before)
            pos = row_stop

    def _relocate(self, row_start: int, tag_end: int, end_match: re.Match[bytes]) -> int:
        """After a buffer shift the row start moved too; find it again before the end tag."""
        if row_start >= 0 and self.buf[row_start : row_start + 2 + len(self.p)] == b"<" + self.p + b"r":
            return row_start
        prefix = b"<" + self.p + b"row"
        i = self.buf.rfind(prefix, 0, end_match.start())
        while i >= 0 and self.buf[i + len(prefix) : i + len(prefix) + 1] not in (b" ", b">", b"/", b"\t", b"\n", b"\r"):
            i = self.buf.rfind(prefix, 0, i)
        return i

    # building XML ---------------------------------------------------------------------
    def _new_rows(self, before: int | None) -> bytes:
        """Rows to insert that do not exist in the file, numbered below ``before`` (None: all)."""
        out = bytearray()
        for number in list(self.pending):
            if before is not None and number >= before:
                break
            cells = self.pending.pop(number)
            body = b"".join(
                self._cell(column_letters(c) + str(number), None, v, self._style_for(c, {}))
                for c, v in sorted(cells.items())
                if v is not None
            )
            if body:
                out += b"<" + self.p + b'row r="' + str(number).encode() + b'">' + body
                out += b"</" + self.p + b"row>"
        return bytes(out)

    def _patch_row(self, element: bytes, number: int, row_attrs: dict[bytes, bytes]) -> bytes:
        p = re.escape(self.p)
        changes = self.pending.pop(number, {})
        tag_end = element.index(b">") + 1
        self_closing = element[tag_end - 2 : tag_end] == b"/>"
        start_tag = element[: tag_end - 2] + b">" if self_closing else element[:tag_end]
        if b"r" not in row_attrs:
            start_tag = start_tag[: 1 + len(self.p) + 3] + b' r="' + str(number).encode() + b'"' + start_tag[1 + len(self.p) + 3 :]
        inner = b"" if self_closing else element[tag_end : element.rindex(b"<")]
        cell_re = re.compile(rb"<" + p + rb"c\b[^>]*?(?:/>|>.*?</" + p + rb"c\s*>)", re.S)
        pieces: list[tuple[int | None, bytes]] = []  # (column or None for non-cell bytes, bytes)
        last, col = 0, 0
        for m in cell_re.finditer(inner):
            if m.start() > last:
                pieces.append((None, inner[last : m.start()]))
            a = _attrs(m.group()[: m.group().index(b">") + 1])
            col = split_ref(a[b"r"].decode())[1] if b"r" in a else col + 1
            pieces.append((col, m.group()))
            last = m.end()
        if last < len(inner):
            pieces.append((None, inner[last:]))
        row_style = row_attrs.get(b"s") if row_attrs.get(b"customFormat") in (b"1", b"true") else None
        out: list[bytes] = []
        todo = dict(sorted(changes.items()))
        for c, raw in pieces:
            if c is None:
                out.append(raw)
                continue
            for new_c in [k for k in todo if k < c]:
                value = todo.pop(new_c)
                if value is not None:
                    style = row_style or self._style_for(new_c, {})
                    out.append(self._cell(column_letters(new_c) + str(number), None, value, style))
            ref = column_letters(c) + str(number)
            if c in todo:
                out.append(self._cell(ref, raw, todo.pop(c), None))
            else:
                out.append(self._with_ref(raw, ref))
        tail: list[bytes] = []
        for new_c, value in todo.items():
            if value is not None:
                style = row_style or self._style_for(new_c, {})
                tail.append(self._cell(column_letters(new_c) + str(number), None, value, style))
        # new cells after the last cell, before any trailing non-cell content (extLst)
        idx = max((i for i, (c, _) in enumerate(pieces) if c is not None), default=-1)
        if idx == -1:
            out = tail + out
        else:
            pos = sum(1 for c, _ in pieces[: idx + 1])  # out has one entry per piece plus inserts
            pos += len(out) - len(pieces)
            out[pos:pos] = tail
        start_tag = _widen_spans(start_tag, [c for c, v in changes.items() if v is not None])
        return start_tag + b"".join(out) + b"</" + self.p + b"row>"

    def _style_for(self, col: int, _unused: dict) -> bytes | None:
        for lo, hi, style in self.col_styles:
            if lo <= col <= hi:
                return style
        return None

    def _with_ref(self, raw: bytes, ref: str) -> bytes:
        """An untouched cell; gains an explicit r= only if it had none."""
        head = raw[: raw.index(b">") + 1]
        if b" r=" in head or b"\tr=" in head or b"\nr=" in head:
            return raw
        n = 1 + len(self.p) + 1
        return raw[:n] + b' r="' + ref.encode() + b'"' + raw[n:]

    def _cell(self, ref: str, old: bytes | None, value: str | None, style: bytes | None) -> bytes:
        """The new ``<c>`` element for ``ref`` (keeps ``s=`` and other attributes of ``old``)."""
        kept: list[tuple[bytes, bytes]] = []
        if old is not None:
            if re.search(rb"<" + re.escape(self.p) + rb"f\b", old):
                raise WriteError(f"{self.label}: cell {ref} holds a formula; it was not changed (replace it with its value first)")
            head = old[: old.index(b">") + 1]
            kept = [(k, v) for k, v in _attr_items(head) if k not in (b"r", b"t", b"cm", b"vm")]
        elif style is not None:
            kept = [(b"s", style)]
        attrs = b' r="' + ref.encode() + b'"' + b"".join(b" " + k + b'="' + v + b'"' for k, v in kept)
        c = b"<" + self.p + b"c"
        if value is None:
            return c + attrs + b"/>"
        p = self.p
        text = _xml_text(value).encode("utf-8")
        return (
            c + attrs + b' t="inlineStr"><' + p + b'is><' + p + b't xml:space="preserve">' + text
            + b"</" + p + b"t></" + p + b"is></" + p + b"c>"
        )


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


# -- verification ----------------------------------------------------------------------------
def _verify(src: Path, out: Path, part: str, sheet: str, by_row: dict[int, dict[int, str | None]]) -> None:
    """Reopen ``out``: other members identical, the sheet's cells as expected. Else WriteError."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        ia, ib = a.infolist(), b.infolist()
        if [i.filename for i in ia] != [i.filename for i in ib]:
            raise WriteError(f"{out.name}: verification failed: the parts of the workbook differ")
        for x, y in zip(ia, ib, strict=True):
            if x.filename != part and (x.CRC, x.file_size) != (y.CRC, y.file_size):
                raise WriteError(f"{out.name}: verification failed: {x.filename} changed")
        bad = b.testzip()
        if bad is not None:
            raise WriteError(f"{out.name}: verification failed: {bad} is damaged")
    try:
        import python_calamine

        before = _grid(python_calamine.CalamineWorkbook.from_path(str(src)), sheet)
        after = _grid(python_calamine.CalamineWorkbook.from_path(str(out)), sheet)
    except Exception as e:  # noqa: BLE001 - any reader failure means the output is not trustworthy
        raise WriteError(f"{out.name}: verification failed: the written workbook cannot be read back ({type(e).__name__})") from None
    for (r, c), new in ((rc, v) for r, cols in by_row.items() for rc, v in (((r, c), v) for c, v in cols.items())):
        before[(r, c)] = new if new not in (None, "") else None
        if before[(r, c)] is None:
            del before[(r, c)]
    if before != after:
        diff = sorted(set(before.items()) ^ set(after.items()), key=lambda kv: kv[0])[:1]
        where = f"{column_letters(diff[0][0][1])}{diff[0][0][0]}" if diff else "?"
        raise WriteError(f"{out.name}: verification failed: cell {where} does not hold the expected value")


def _grid(wb: Any, sheet: str) -> dict[tuple[int, int], Any]:
    """Non-empty cells of ``sheet`` as {(row, column): value}, 1-based."""
    rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return {
        (r, c): v
        for r, values in enumerate(rows, start=1)
        for c, v in enumerate(values, start=1)
        if v != ""
    }
