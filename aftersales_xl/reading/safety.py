"""Safety gate: decide what a submitted file is, and whether it is safe to parse, before any parser sees it.

:func:`inspect` runs before python-calamine or openpyxl touch a file. It identifies the format from
the file's first bytes (never its extension), applies the size limits of ``Policy.limits``, and
either returns an :class:`Inspection` or raises :class:`~aftersales_xl.errors.UnreadableError`
whose ``reason`` is a stable word and whose one-line message (Chinese, or English with
``lang="en"``) names the file and says what to do. Messages never echo file content.

What is checked, by format:

* **xlsx / xlsm** (zip): file size; before anything is decompressed, the member count, the sum of
  declared uncompressed sizes and the compression ratio of every member over 1 MiB (zip bombs);
  duplicate or encrypted members. Then every member is streamed once: XML parts (any member that
  starts like XML, whatever its name) are refused if their prolog carries ``<!DOCTYPE`` or
  ``<!ENTITY`` (Excel never writes them; a DOCTYPE can only come before the root element, so the
  prolog is enough), and every member is read to its end so a truncated or corrupt member shows up
  as a CRC error. ``xl/workbook.xml`` and its relationships are parsed with defusedxml for the date
  system, sheet names, states and parts. Each worksheet part is pre-scanned in big streamed chunks
  for its used area (last row, widest column), merged ranges, hidden rows and formulas saved
  without a value; a used area over ``max_cells`` (python-calamine allocates the dense bounding box
  and aborts the interpreter) or a merged range over ``max_merged_cells`` (openpyxl materialises
  every merged cell) is refused as ``too-many-cells``. Features an openpyxl load/save would drop
  are listed in :attr:`Inspection.would_lose`.
* **ods** (zip with ``mimetype`` + ``content.xml``): the zip checks, the DOCTYPE check and
  ODF encryption only; sheets come from the caller (python-calamine), so ``sheets`` is empty
  and ``date1904`` is False (the reader gets dates from python-calamine).
* **xls** (OLE2/CFB): the file-size limit, password protection of OOXML saved as CFB
  (an ``EncryptionInfo`` stream) and the presence of a ``Workbook``/``Book`` stream only;
  ``sheets`` is empty and ``date1904`` is False, as for ods. RC4-encrypted legacy .xls files are not detected here (the reader's own
  error covers them).

Known limits of the streamed pre-scan: rows are taken to be in order (the used area's last row is
the last ``<row r=...>``/``<c r=...>`` of each chunk, as Excel and every mainstream writer
produce). Positions written without ``r`` (allowed by the spec) are counted, as upper bounds: a
bare ``<row>`` adds one row, a row of bare ``<c>`` cells is as wide as its cell count (a row
longer than a chunk is measured piecewise), and the used area is at least the number of cells
present. Also refused here, for every command alike: raw control characters in any XML part
(not well-formed: no copy could be written back) and numeric cells holding ``NaN``/``INF``
(openpyxl cannot load them); a FIFO or device is refused before it is opened.

Reasons: ``empty``, ``not-a-workbook``, ``encrypted``, ``truncated`` (incomplete or corrupt),
``too-big``, ``unsafe-xml``, ``too-many-cells``, and ``cannot-open`` (missing file, no permission,
not a regular file).
"""

from __future__ import annotations

import codecs
import contextlib
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from ..errors import UnreadableError

MiB = 1 << 20

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

#: worksheet parts are decompressed this many bytes at a time
CHUNK_SIZE = 1 * MiB
#: bytes kept from one chunk to the next, longer than any one cell (a formula is at most 8,192
#: characters) so that nothing the scan looks for can be cut in two
OVERLAP = 64 * 1024
#: an XML prolog (declaration, comments) longer than this is refused as unsafe
PROLOG_LIMIT = 64 * 1024
#: workbook.xml and .rels parts are parsed whole; Excel's are a few KB
META_PART_LIMIT = 64 * MiB
#: the compression-ratio check applies to members at least this big once decompressed
RATIO_MIN_SIZE = 1 * MiB
#: used when ``limits`` has no ``max_merged_cells``
DEFAULT_MAX_MERGED_CELLS = 1_000_000
#: used when ``limits`` has no ``max_merged_ranges``
DEFAULT_MAX_MERGED_RANGES = 20_000
#: the sheet size of Excel 2007 and later
EXCEL_MAX_ROW = 1_048_576
EXCEL_MAX_COL = 16_384

#: stable names for :attr:`Inspection.would_lose`, in the order they are reported
FEATURES = (
    "macros",
    "shapes",
    "pictures",
    "charts",
    "header-footer-pictures",
    "x14-data-validations",
    "x14-conditional-formats",
    "sparklines",
    "pivot-tables",
    "slicers",
    "external-links",
    "power-query",
    "data-connections",
    "threaded-comments",
    "form-controls",
    "sheet-protection",
    "workbook-protection",
)

_LANGS = ("zh", "en")

_MESSAGES: dict[str, dict[str, str]] = {
    "cannot-open": {
        "zh": "{name}：无法打开这个文件（不存在、没有权限或正被其他程序占用）：请确认文件还在，关闭正在使用它的程序后重试",
        "en": "{name}: the file cannot be opened (missing, no permission, or in use by another program): check that it is there, close programs using it and try again",
    },
    "cannot-open/special": {
        "zh": "{name}：这不是普通文件，而是{what}，无法作为工作簿读取：请给出 Excel 工作簿文件本身的路径",
        "en": "{name}: this is not a regular file but {what} and cannot be read as a workbook: give the path of the Excel workbook file itself",
    },
    "empty": {
        "zh": "{name}：文件是空的：可能上传或复制还没有完成，请等完成后重新复制，或请提交人重新发送",
        "en": "{name}: the file is empty: the upload or copy may not have finished; wait for it to finish and copy it again, or ask the sender to send it again",
    },
    "not-a-workbook/text": {
        "zh": "{name}：这是改了扩展名的文本/CSV 文件，不是 Excel 工作簿：请用 Excel 打开后“另存为”Excel 工作簿（.xlsx）再提交",
        "en": "{name}: this is a text/CSV file with a workbook's extension, not an Excel workbook: open it in Excel and use Save As > Excel Workbook (.xlsx)",
    },
    "not-a-workbook/html": {
        "zh": "{name}：这是网页（HTML/XML）格式的文件，只是扩展名像 Excel：请用 Excel 打开后“另存为”Excel 工作簿（.xlsx）再提交",
        "en": "{name}: this is a web page (HTML/XML) with a workbook's extension, not an Excel workbook: open it in Excel and use Save As > Excel Workbook (.xlsx)",
    },
    "not-a-workbook/zip": {
        "zh": "{name}：这是压缩包或其他 Office 文档，不是 Excel 工作簿：请提交用 Excel 保存的 .xlsx 文件",
        "en": "{name}: this is a zip archive or another Office document, not an Excel workbook: submit a .xlsx file saved by Excel",
    },
    "not-a-workbook/cfb": {
        "zh": "{name}：这是其他 Office 文档（如 Word），不是 Excel 工作簿：请提交用 Excel 保存的 .xlsx 文件",
        "en": "{name}: this is another Office document (such as Word), not an Excel workbook: submit a .xlsx file saved by Excel",
    },
    "not-a-workbook/unknown": {
        "zh": "{name}：不是 Excel 工作簿（无法识别的文件格式）：请用 Excel 另存为 .xlsx 后再提交",
        "en": "{name}: not an Excel workbook (unrecognised file format): save it as .xlsx in Excel and submit it again",
    },
    "encrypted": {
        "zh": "{name}：文件设置了打开密码，无法检查：请在 Excel 中去掉密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）并保存后再提交",
        "en": "{name}: the file is password-protected and cannot be checked: remove the password in Excel (File > Info > Protect Workbook > Encrypt with Password, clear it), save and submit it again",
    },
    "truncated": {
        "zh": "{name}：文件不完整或已损坏（常见于上传或复制没有完成）：请等上传完成后重新复制；仍然不行请提交人用 Excel 重新保存后发送",
        "en": "{name}: the file is incomplete or damaged (often an unfinished upload or copy): wait for the upload to finish and copy it again; if that fails, ask the sender to save it again in Excel and resend it",
    },
    "truncated/control": {
        "zh": "{name}：文件内含 Excel 不允许的控制字符（XML 不完整或已损坏），无法读取：请用 Excel 打开（允许修复）后另存为新的 .xlsx 再提交",
        "en": "{name}: the file holds control characters Excel does not allow (its XML is damaged) and cannot be read: open it in Excel (let it repair the file), save it as a new .xlsx and submit that",
    },
    "truncated/number": {
        "zh": "{name}：工作表“{sheet}”的 {ref} 存的数字是 {value}，Excel 不能保存这样的数字（文件已损坏或由其他程序生成）：请在该单元格重新输入正确的值并保存后再提交",
        "en": '{name}: cell {ref} of sheet "{sheet}" holds the number {value}, which Excel cannot hold (the file is damaged or was made by another program): type the right value into that cell, save and submit it again',
    },
    "too-big/file": {
        "zh": "{name}：文件大小 {size} MB，超过安全上限 {limit} MB：请删除多余内容或拆分成几个文件后再提交",
        "en": "{name}: the file is {size} MB, over the safety limit of {limit} MB: remove unneeded content or split it into several files",
    },
    "too-big/members": {
        "zh": "{name}：工作簿内部部件过多（{count} 个，上限 {limit} 个），出于安全原因不读取：请用 Excel 另存为新的 .xlsx 后再提交",
        "en": "{name}: the workbook has too many internal parts ({count}, limit {limit}) and is not read for safety: save it as a new .xlsx in Excel and submit that",
    },
    "too-big/uncompressed": {
        "zh": "{name}：解压后大小 {size} MB，超过安全上限 {limit} MB：请删除多余内容或拆分成几个文件后再提交",
        "en": "{name}: the content is {size} MB once unpacked, over the safety limit of {limit} MB: remove unneeded content or split it into several files",
    },
    "too-big/part": {
        "zh": "{name}：工作簿结构部件大得异常（{size} MB），出于安全原因不读取：请用 Excel 另存为新的 .xlsx 后再提交",
        "en": "{name}: a structural part of the workbook is abnormally large ({size} MB) and is not read for safety: save it as a new .xlsx in Excel and submit that",
    },
    "too-big/ratio": {
        "zh": "{name}：内容压缩比异常（约 {ratio}:1，上限 {limit}:1），疑似“压缩炸弹”，出于安全原因不读取：请用 Excel 另存为新的 .xlsx 后再提交",
        "en": "{name}: the content is compressed abnormally tightly (about {ratio}:1, limit {limit}:1), like a zip bomb, and is not read for safety: save it as a new .xlsx in Excel and submit that",
    },
    "unsafe-xml": {
        "zh": "{name}：文件内含 Excel 不会写入的 XML 声明（DOCTYPE/ENTITY），出于安全原因不读取：请用 Excel 打开后另存为新的 .xlsx 再提交",
        "en": "{name}: the file contains XML declarations Excel never writes (DOCTYPE/ENTITY) and is not read for safety: open it in Excel, save it as a new .xlsx and submit that",
    },
    "too-many-cells/area": {
        "zh": "{name}：工作表“{sheet}”的使用区域一直延伸到 {ref}（约 {cells} 个单元格，上限 {limit}）：请删除表格外远处的零散单元格（选中多余的行和列后删除）并保存后再提交",
        "en": '{name}: the used area of sheet "{sheet}" reaches {ref} (about {cells} cells, limit {limit}): delete the stray cells far outside the table (select the extra rows and columns and delete them), save and submit it again',
    },
    "too-many-cells/merged-count": {
        "zh": "{name}：工作表“{sheet}”有 {count} 个以上合并单元格区域（上限 {limit}）：请取消不必要的合并（全选后“取消合并单元格”）并保存后再提交",
        "en": '{name}: sheet "{sheet}" has over {count} merged ranges (limit {limit}): unmerge them (select all, Unmerge Cells), save and submit it again',
    },
    "too-many-cells/merged": {
        "zh": "{name}：工作表“{sheet}”的合并单元格（到 {ref} 为止）共覆盖约 {cells} 个单元格，上限 {limit}：请取消这些合并并保存后再提交",
        "en": '{name}: the merged ranges of sheet "{sheet}" (up to {ref}) cover about {cells} cells (limit {limit}): unmerge them, save and submit it again',
    },
}


# --------------------------------------------------------------------------------------------
# public results


@dataclass(frozen=True)
class SheetScan:
    """What the pre-scan learnt about one worksheet, without trusting ``<dimension>``."""

    name: str
    part: str | None  # zip member path, e.g. "xl/worksheets/sheet1.xml" (None for xls/ods)
    state: str  # "visible" | "hidden" | "veryHidden"
    max_row: int  # 0 if empty
    max_col: int  # 1-based column index, 0 if empty
    hidden_rows: frozenset[int]
    formula_no_value: tuple[str, ...]  # A1 refs of formulas saved without a cached value
    merged: tuple[str, ...]  # ranges like "A1:U1"
    #: ``(A1 ref, shown error)`` of cells holding an Excel error value (``#N/A``, ``#REF!``…),
    #: which python-calamine reads as blank
    error_values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Inspection:
    """A file that passed the safety gate: its kind, date system, sheets and fragile features."""

    path: Path
    kind: str  # "xlsx" | "xlsm" | "xls" | "ods"
    date1904: bool
    sheets: tuple[SheetScan, ...]
    would_lose: tuple[str, ...]

    def sheet(self, name: str) -> SheetScan | None:
        """The scan of sheet ``name`` (exact, else case-insensitive as Excel matches), or None."""
        for s in self.sheets:
            if s.name == name:
                return s
        folded = name.casefold()
        return next((s for s in self.sheets if s.name.casefold() == folded), None)


# --------------------------------------------------------------------------------------------
# refusals


class _Refused(Exception):
    """Internal: a check failed; :func:`inspect` turns it into an :class:`UnreadableError`."""

    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def _error(path: Path, lang: str, key: str, **params: Any) -> UnreadableError:
    """The :class:`UnreadableError` for message ``key`` ("reason" or "reason/variant")."""
    templates = _MESSAGES[key]
    text = templates[lang if lang in _LANGS else "zh"]
    if key == "cannot-open/special":
        params = {**params, "what": _SPECIAL_KINDS["en" if lang == "en" else "zh"][params["what"]]}
    message = text.format(name=path.name, **params)  # UnreadableError redacts it
    return UnreadableError(str(path), key.split("/", 1)[0], message)


def _fmt_mb(n_bytes: float) -> str:
    mb = n_bytes / MiB
    return f"{mb:,.0f}" if mb >= 10 else f"{mb:,.1f}"


def _fmt_n(n: float) -> str:
    return f"{n:,.0f}"


# --------------------------------------------------------------------------------------------
# format sniffing


def sniff(path: Path) -> str:
    """What a file is, from its bytes: "zip" | "cfb" | "cfb-encrypted" | "empty" | "html" | "text" | "unknown".

    "cfb-encrypted" is an OLE2 compound file with an ``EncryptionInfo`` stream (how Excel saves a
    password-protected .xlsx); "html" covers HTML, XML and MHT web pages saved with a workbook
    extension; "text" is CSV or other plain text. Raises ``OSError`` if the file cannot be read.
    """
    with open(path, "rb") as f:
        head = f.read(8192)
        kind = _sniff_head(head)
        if kind == "cfb":
            names = _cfb_stream_names(f, (_ENCRYPTION_INFO,))
            return "cfb-encrypted" if _ENCRYPTION_INFO in names else "cfb"
    return kind


def _sniff_head(head: bytes) -> str:
    """Classify by the first bytes; CFB files come back as "cfb" (encryption not yet checked)."""
    if not head.strip(b"\x00 \t\r\n"):
        return "empty"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(CFB_MAGIC):
        return "cfb"
    return _sniff_text(head)


_MARKUP_START = ("<", "mime-version:")


def _sniff_text(head: bytes) -> str:
    """ "html", "text" or "unknown" for a head that is neither zip nor CFB."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[: len(head) // 2 * 2].decode("utf-16", "ignore")
    elif b"\x00" in head:
        return "unknown"
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
                break
            except UnicodeDecodeError:
                continue
        else:
            return "unknown"
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith(_MARKUP_START):
        return "html"
    printable = sum(1 for c in text if c.isprintable() or c in "\t\r\n")
    return "text" if text and printable >= 0.95 * len(text) else "unknown"


def _utf16_name(name: str) -> bytes:
    return (name + "\0").encode("utf-16-le")


_ENCRYPTION_INFO = _utf16_name("EncryptionInfo")
_WORKBOOK_STREAMS = (_utf16_name("Workbook"), _utf16_name("Book"))


def _cfb_cut_short(f: IO[bytes], size: int) -> bool:
    """True if the CFB header puts the first directory sector beyond the end of the file
    (an upload or copy that stopped part-way), rather than naming no workbook stream."""
    f.seek(0)
    header = f.read(512)
    if len(header) < 512:
        return True
    shift = int.from_bytes(header[0x1E:0x20], "little")
    first_dir = int.from_bytes(header[0x30:0x34], "little")
    if not 7 <= shift <= 16 or first_dir >= 0xFFFFFFFA:
        return False  # not a header we can reason about: say what we saw
    return (first_dir + 1) << shift >= size


def _cfb_stream_names(f: IO[bytes], wanted: Iterable[bytes]) -> set[bytes]:
    """Which of the UTF-16LE stream names in ``wanted`` are directory entries of the CFB file ``f``.

    A directory entry is 128 bytes at a 128-byte-aligned file offset (sectors are 512 or 4096
    bytes and start after a header of one sector), its name first and the name's byte length
    (terminator included) at offset 64, so a name that merely occurs in cell text is not counted.
    Chunks are multiples of 128 bytes, so an entry never straddles two chunks.
    """
    wanted = tuple(wanted)
    found: set[bytes] = set()
    f.seek(0)
    chunk_size = 8 * MiB  # a multiple of 128
    base = 0
    while len(found) < len(wanted):
        chunk = f.read(chunk_size)
        if not chunk:
            break
        for needle in wanted:
            if needle in found:
                continue
            at = chunk.find(needle)
            while at != -1:
                if (base + at) % 128 == 0 and chunk[at + 64 : at + 66] == struct.pack(
                    "<H", len(needle)
                ):
                    found.add(needle)
                    break
                at = chunk.find(needle, at + 1)
        base += len(chunk)
    return found


# --------------------------------------------------------------------------------------------
# XML prolog check


def _prolog_verdict(head: bytes, at_eof: bool) -> bool | None:
    """True if the XML prolog in ``head`` declares a DOCTYPE or ENTITY, False if it is clean (or the
    bytes are not XML at all), None if more bytes are needed to decide."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            encoding = "utf-16"
        else:
            encoding = "utf-16-le" if head[:1] == b"<" else "utf-16-be"
        text = head[: len(head) // 2 * 2].decode(encoding, "ignore")
    else:
        text = head.decode("latin-1")  # markup characters are ASCII in every encoding Excel uses
    text = text.lstrip("\ufeff\xef\xbb\xbf")
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return False if at_eof else None
        if text[i] != "<":
            return False  # not XML; a parser would not accept it either
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end == -1:
                return False if at_eof else None
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end == -1:
                return False if at_eof else None
            i = end + 3
        elif text.startswith("<!", i):
            if n - i < 9 and not at_eof:
                return None
            word = text[i + 2 : i + 9].upper()
            return word.startswith(("DOCTYPE", "ENTITY"))
        else:
            return False  # the root element: a DOCTYPE can no longer follow


def _read_checked_head(stream: IO[bytes], step: int) -> bytes:
    """Read the start of a zip member until its XML prolog is judged; refuse DOCTYPE/ENTITY.

    Returns the bytes read (the caller continues from there).
    """
    head = b""
    step = max(1, min(step, PROLOG_LIMIT))
    while True:
        chunk = stream.read(step)
        head += chunk
        verdict = _prolog_verdict(head, at_eof=not chunk)
        if verdict is None and len(head) >= PROLOG_LIMIT:
            verdict = True  # a prolog this long is not something Excel writes
        if verdict is True:
            raise _Refused("unsafe-xml")
        if verdict is False:
            return head


# --------------------------------------------------------------------------------------------
# streamed worksheet scan


def _col_index(letters: bytes | str) -> int:
    """1-based column number of column letters ("A" -> 1, "XFD" -> 16384)."""
    n = 0
    for ch in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + (ch & 0xDF) - 64
    return n


def col_letters(index: int) -> str:
    """Column letters of a 1-based column number (16384 -> "XFD")."""
    out = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _wider_pattern(max_col: int) -> re.Pattern[bytes] | None:
    """A regex matching cell references whose column lies right of ``max_col`` (None: none can).

    Excel's own sheets never match it after the first row, so it costs one fast pass per chunk.
    """
    letters = col_letters(max_col)
    n = len(letters)
    any_letter = "[A-Za-z]"  # lower-case references are unusual but parsers accept them
    alts = []
    if n < 3:
        alts.append(f"{any_letter}{{{n + 1},3}}")
    for i, ch in enumerate(letters):
        if ch != "Z":
            nxt = chr(ord(ch) + 1)
            rest = f"{any_letter}{{{n - i - 1}}}" if n - i - 1 else ""
            same = "".join(f"[{c}{c.lower()}]" for c in letters[:i])
            alts.append(f"{same}[{nxt}-Z{nxt.lower()}-z]{rest}")
    if not alts:
        return None
    return re.compile(rb' r="(' + "|".join(alts).encode() + rb")\d")


_ROW_R = re.compile(rb'\sr="(\d{1,10})"')
_CELL_REF = re.compile(rb'<c\s[^>]{0,256}?\br="([A-Za-z]{1,3})(\d{1,10})"')
_HIDDEN_GUARD = re.compile(rb'hidden="')
#: a row or cell tag without an ``r`` attribute: its position is implied by the ones before it
_IMPLICIT_ROW = re.compile(rb"<row(?:>|/>|\s(?![^>]*\br=)[^>]*>)")
_IMPLICIT_CELL = re.compile(rb"<c(?:>|/>|\s(?![^>]*\br=)[^>]*>)")
#: a cached number Excel cannot hold (python-calamine reads it, openpyxl raises on it)
_NOT_A_NUMBER = re.compile(
    rb"<v>\s*([+-]?(?:[Nn][Aa][Nn]|[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?))\s*</v>"
)
_HIDDEN_ROW = re.compile(rb'<row\s[^>]{0,512}?\shidden="(?:1|true)"')
_FORMULA_GUARD = re.compile(rb"<f[\s>/]")
_FORMULA_END = re.compile(rb"</f>(?:<v\s*/>|<v></v>)?</c>")
_SELF_CLOSED_END = re.compile(rb"/>(?:<v\s*/>|<v></v>)?</c>")
_HAS_F = re.compile(rb"<f[\s>/]")
_VALUE = re.compile(rb"<v(?:\s[^>]*)?>[^<]")
_STR_TYPE = re.compile(rb'^<c\s[^>]*\bt="str"')
_ERROR_GUARD = re.compile(rb'\st="e"')
_ERROR_CELL = re.compile(rb'<c\s[^>]{0,256}?\st="e"[^>]{0,256}?>')
_ERROR_VALUE = re.compile(rb"<v>(#[A-Z][A-Z0-9/_]{0,14}[!?]?)</v>")  # #N/A, #DIV/0!, #NAME?
_MERGE = re.compile(
    rb'<mergeCell\s[^>]{0,256}?\bref="\$?([A-Za-z]{1,3})\$?(\d{1,10})(?::\$?([A-Za-z]{1,3})\$?(\d{1,10}))?"'
)
_TAIL_FEATURES = (
    (b"<legacyDrawingHF", "header-footer-pictures"),
    (b"<x14:dataValidation", "x14-data-validations"),
    (b"<x14:conditionalFormatting", "x14-conditional-formats"),
    (b"<x14:sparklineGroup", "sparklines"),
)
_SHEET_PROTECTION = re.compile(rb'<sheetProtection\s[^>]*\bsheet="(?:1|true)"')


@dataclass
class _SheetFacts:
    """Accumulates what the streamed scan of one worksheet part finds.

    ``area`` scans for the used area (refused when over ``max_cells``); ``details`` for hidden
    rows, value-less formulas, merged ranges (refused when over ``max_merged_cells``) and
    features. :func:`inspect` does both in one pass; :func:`inspect_in_two_steps` does the area
    first and the details afterwards, over the same windows.
    """

    max_cells: float
    max_merged_cells: float
    max_merged_ranges: float = float("inf")
    area: bool = True
    details: bool = True
    windows: int = 0  # windows scanned so far
    max_row: int = 0
    max_col: int = 0
    hidden_rows: set[int] = field(default_factory=set)
    formulas: dict[str, None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    merged: dict[str, None] = field(default_factory=dict)
    merged_cells: int = 0  # cells covered by the merged ranges so far
    features: set[str] = field(default_factory=set)
    rows_have_r: bool | None = None
    row_count: int = 0
    implicit_rows: int = 0  # rows without r= after numbered ones (each one row further down)
    implicit_cells: bool = False  # cells without r= seen: widths are counted, not read
    cell_count: int = 0
    data_started: bool = False
    in_tail: bool = False
    _wider: re.Pattern[bytes] | None = None

    def __post_init__(self) -> None:
        self._wider = _wider_pattern(0)

    # -- one window of the stream ----------------------------------------------------------
    def window(self, buf: bytes, limit: int) -> None:
        """Scan ``buf``; only the first ``limit`` bytes are new (the rest returns next time).

        Everything found is idempotent (maxima, sets), so the overlap being scanned twice is
        harmless, and every pattern is shorter than the overlap, so nothing is missed.
        """
        self.windows += 1
        # `<row ` is every row tag with attributes (`<rowBreaks` in the tail does not match); the
        # data ends after the last one, so `</sheetData` is only looked for from there on
        last_row = buf.rfind(b"<row ")
        tail_from = 0 if self.in_tail else self._tail_start(buf, max(last_row, 0))
        data_end = len(buf) if tail_from is None else tail_from
        if not self.in_tail and data_end:
            if last_row >= data_end:
                last_row = buf.rfind(b"<row ", 0, data_end)
            self._data(buf, data_end, min(limit, data_end), last_row)
        if tail_from is not None:
            self.in_tail = True
            if self.details:
                self._tail(buf, tail_from)
        if self.details:
            self._merges(buf)
        if self.area:
            self._check_area()

    def _tail_start(self, buf: bytes, search_from: int) -> int | None:
        """Where the part after ``</sheetData>`` starts in ``buf``, or None if not reached."""
        if not self.data_started:
            s = buf.find(b"<sheetData")
            if s != -1:
                e = buf.find(b">", s)
                if e != -1:
                    self.data_started = True
                    if buf[e - 1 : e] == b"/":
                        return e + 1  # <sheetData/>: an empty sheet
        t = buf.find(b"</sheetData", search_from)
        return None if t == -1 else t

    def _data(self, buf: bytes, end: int, count_end: int, last_row: int) -> None:
        """Used area, hidden rows and value-less formulas in ``buf[:end]`` (cells only)."""
        if self.area:
            self._area(buf, end, count_end, last_row)
        if self.details:
            self._details(buf, end)

    def _area(self, buf: bytes, end: int, count_end: int, last_row: int) -> None:
        """The used area: the last row and the widest column in ``buf[:end]``."""
        if self.rows_have_r is None:  # decided by the first row tag: do rows carry r="N"?
            first = buf.find(b"<row", 0, end)
            close = buf.find(b">", first, end) if first != -1 else -1
            if close != -1:
                self.rows_have_r = _ROW_R.search(buf, first, close) is not None
        if self.rows_have_r is False:  # rows numbered implicitly: count them
            self.row_count += buf.count(b"<row", 0, count_end + 3)
            self.max_row = max(self.max_row, self.row_count)
        else:
            if last_row != -1:  # rows are in order: the chunk's last row tag is its highest
                close = buf.find(b">", last_row, end)
                m = _ROW_R.search(buf, last_row, close) if close != -1 else None
                if m:
                    self.max_row = max(self.max_row, int(m.group(1)) + self.implicit_rows)
            # a row without r= after numbered ones is one further down: counted as such, so
            # numbered rows followed by 100,000 bare <row> tags are as tall as they are
            stop = min(count_end + 4, end)
            # Excel writes <row r="…"> every time: the regex runs only when counts leave it open
            implicit = (
                len(_IMPLICIT_ROW.findall(buf, 0, stop))
                if b"<row>" in buf[:stop]
                or b"<row/>" in buf[:stop]
                or buf.count(b"<row ", 0, stop) != buf.count(b'<row r="', 0, stop)
                else 0
            )
            if implicit:
                self.implicit_rows += implicit
                self.max_row += implicit
        # every cell present counts, whatever its position
        spaced, bare, empty = (buf.count(t, 0, count_end) for t in (b"<c ", b"<c>", b"<c/"))
        self.cell_count += spaced + bare + empty
        if not self.implicit_cells and (
            bare or empty or _has_implicit_cell(buf, count_end, spaced)
        ):
            self.implicit_cells = True
        if self.implicit_cells:  # positions implied: the widest row is its count of cells
            self.max_col = max(
                self.max_col,
                max(
                    sum(seg.count(t) for t in (b"<c ", b"<c>", b"<c/"))
                    for seg in buf[:end].split(b"<row")
                ),
            )
        widest = self.max_col
        q = buf.rfind(b"<c ", 0, end)
        if q != -1:
            m = _CELL_REF.match(buf, q)
            if m:
                self.max_row = max(self.max_row, int(m.group(2)))
                widest = max(widest, _col_index(m.group(1)))
        # widest column: a regex for columns right of the widest seen so far rarely matches
        if self._wider is not None:
            found = self._wider.findall(buf, 0, end)
            if found:
                widest = max(widest, max(_col_index(x) for x in set(found)))
        if widest > self.max_col:
            self.max_col = widest
            self._wider = _wider_pattern(widest)

    def _details(self, buf: bytes, end: int) -> None:
        """Hidden rows, value-less formulas and error values in ``buf[:end]``; control bytes and
        NaN/INF numbers refused (here, in the step that overlaps python-calamine's parse: they
        cost python-calamine nothing, and the reading is refused before it is used)."""
        _refuse_hazards(buf, end)
        if _HIDDEN_GUARD.search(buf, 0, end):
            for m in _HIDDEN_ROW.finditer(buf, 0, end):
                r = _ROW_R.search(m.group())
                if r:
                    self.hidden_rows.add(int(r.group(1)))
        if _FORMULA_GUARD.search(buf, 0, end):
            for pattern in (_FORMULA_END, _SELF_CLOSED_END):
                for m in pattern.finditer(buf, 0, end):
                    self._formula_candidate(buf, m.start(), m.end())
        if _ERROR_GUARD.search(buf, 0, end):
            for m in _ERROR_CELL.finditer(buf, 0, end):
                self._error_cell(buf, m.start(), m.end())

    def _error_cell(self, buf: bytes, start: int, body: int) -> None:
        """A ``t="e"`` cell: record its reference and the error it shows.

        A cell whose end lies beyond this window is seen whole in the next one (the overlap is
        longer than any cell).
        """
        close = buf.find(b"</c>", body, body + OVERLAP)
        ref = _CELL_REF.match(buf, start)
        if close == -1 or ref is None:
            return
        shown = _ERROR_VALUE.search(buf, body, close)
        key = (ref.group(1) + ref.group(2)).decode().upper()
        self.errors[key] = shown.group(1).decode("utf-8", "replace") if shown else "#VALUE!"

    def _formula_candidate(self, buf: bytes, at: int, end: int) -> None:
        """A cell closing right after its formula (or an empty ``<v>``): record it if it has no value."""
        start = buf.rfind(b"<c ", 0, at)
        if start == -1:
            return  # the cell began before this window; an earlier window saw all of it
        cell = buf[start:end]
        if not _HAS_F.search(cell) or _VALUE.search(cell):
            return
        if _STR_TYPE.match(cell) and b"<v" in cell:
            return  # t="str" with an empty <v>: the formula's cached value is ""
        m = _CELL_REF.match(cell)
        if m:
            self.formulas[(m.group(1) + m.group(2)).decode().upper()] = None

    def _tail(self, buf: bytes, start: int) -> None:
        for needle, feature in _TAIL_FEATURES:
            if buf.find(needle, start) != -1:
                self.features.add(feature)
        if buf.find(b"<sheetProtection", start) != -1 and _SHEET_PROTECTION.search(buf, start):
            self.features.add("sheet-protection")

    def _merges(self, buf: bytes) -> None:
        for m in _MERGE.finditer(buf):
            c1, r1, c2, r2 = m.groups()
            c2, r2 = c2 or c1, r2 or r1
            ref = ((c1 + r1).decode() + (":" + (c2 + r2).decode() if m.group(3) else "")).upper()
            if ref in self.merged:
                continue
            self.merged[ref] = None
            if len(self.merged) > self.max_merged_ranges:
                # openpyxl checks every merged range against every other when it loads them
                raise _Refused(
                    "too-many-cells/merged-count",
                    count=_fmt_n(self.max_merged_ranges),
                    limit=_fmt_n(self.max_merged_ranges),
                )
            rows = abs(int(r2) - int(r1)) + 1
            cols = abs(_col_index(c2) - _col_index(c1)) + 1
            # the total counts: openpyxl makes an object for every merged cell, so six ranges
            # just under the limit cost as much as one six times over it
            self.merged_cells += rows * cols
            if self.merged_cells > self.max_merged_cells:
                raise _Refused(
                    "too-many-cells/merged",
                    ref=ref,
                    cells=_fmt_n(self.merged_cells),
                    limit=_fmt_n(self.max_merged_cells),
                )

    def _check_area(self) -> None:
        """Refuse a used area over ``max_cells``, or one reaching outside Excel's grid."""
        cells = max(self.max_row * self.max_col, self.cell_count)
        if cells > self.max_cells or self.max_row > EXCEL_MAX_ROW or self.max_col > EXCEL_MAX_COL:
            raise _Refused(
                "too-many-cells/area",
                ref=f"{col_letters(self.max_col)}{self.max_row}",
                cells=_fmt_n(cells),
                limit=_fmt_n(self.max_cells),
            )


def _has_implicit_cell(buf: bytes, end: int, spaced: int) -> bool:
    """Whether one of the ``spaced`` ``<c …>`` tags of ``buf[:end]`` has no ``r=`` (a bare
    ``<c>``/``<c/>`` the caller has counted already); counted first (Excel writes ``<c r=``
    first in every cell), the slower regex only when the counts leave it open."""
    if spaced == buf.count(b'<c r="', 0, end):
        return False
    return _IMPLICIT_CELL.search(buf, 0, end) is not None


#: every control byte XML 1.0 forbids → \x01 (itself one), everything else unchanged
_CONTROL_TABLE = bytes(1 if (b < 0x20 and b not in (0x09, 0x0A, 0x0D)) else b for b in range(256))


def _has_control_bytes(data: bytes, end: int | None = None) -> bool:
    return b"\x01" in (data if end is None else data[:end]).translate(_CONTROL_TABLE)


def _refuse_hazards(buf: bytes, end: int) -> None:
    """Refuse what no command could write back: raw control characters (the XML is not
    well-formed; Excel repairs such a file) and cached numbers Excel cannot hold (NaN, INF)."""
    if _has_control_bytes(buf, end):
        raise _Refused("truncated/control")
    for m in _NOT_A_NUMBER.finditer(buf, 0, end):
        start = buf.rfind(b"<c", 0, m.start())
        tag_end = buf.find(b">", start, m.start()) if start != -1 else -1
        tag = buf[start : tag_end + 1] if tag_end != -1 else b""
        kind = re.search(rb'\st="(\w+)"', tag)
        if kind is not None and kind.group(1) != b"n":
            continue  # text cached as "NaN" is text
        ref = re.search(rb'\br="([A-Za-z]{1,3}\d{1,7})"', tag)
        raise _Refused(
            "truncated/number",
            ref=ref.group(1).decode().upper() if ref else "?",
            value=m.group(1).decode(),
        )


def _scan_worksheet(
    stream: IO[bytes], facts: _SheetFacts, chunk_size: int, windows: int | None = None
) -> _SheetFacts:
    """Stream one worksheet part through ``facts`` in ``chunk_size`` pieces (prolog checked first),
    stopping after ``windows`` windows if given."""
    overlap = OVERLAP
    buf = _read_checked_head(stream, max(chunk_size, 4096))
    while windows is None or facts.windows < windows:
        chunk = stream.read(chunk_size)
        if chunk:
            buf += chunk
            if len(buf) <= overlap:
                continue
            facts.window(buf, len(buf) - overlap)
            buf = buf[-overlap:]
        else:
            facts.window(buf, len(buf))
            break
    return facts


# --------------------------------------------------------------------------------------------
# zip workbooks


_NS_REL = "relationships"
_MEMBER_FEATURES = (
    # (lower-case member path prefix, feature)
    ("xl/vbaproject.bin", "macros"),
    ("xl/macrosheets/", "macros"),
    ("xl/charts/", "charts"),
    ("xl/pivottables/", "pivot-tables"),
    ("xl/pivotcache/", "pivot-tables"),
    ("xl/slicers/", "slicers"),
    ("xl/slicercaches/", "slicers"),
    ("xl/timelines/", "slicers"),
    ("xl/timelinecaches/", "slicers"),
    ("xl/externallinks/", "external-links"),
    ("xl/connections.xml", "data-connections"),
    ("xl/querytables/", "data-connections"),
    ("xl/threadedcomments/", "threaded-comments"),
    ("xl/activex/", "form-controls"),
    ("xl/ctrlprops/", "form-controls"),
)
_DRAWING_NEEDLES = {
    b"<xdr:sp>": "shapes",
    b"<xdr:sp ": "shapes",
    b"<xdr:pic>": "pictures",
    b"<xdr:pic ": "pictures",
    b"<c:chart ": "charts",
}
_MASHUP_NEEDLES = {b"DataMashup": "power-query", "DataMashup".encode("utf-16-le"): "power-query"}

#: what zipfile/zlib raise on a damaged archive ("zip file version 24.2" is a NotImplementedError)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    struct.error,
    NotImplementedError,
    ValueError,
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(el: Element, local: str, ns_hint: str | None = None) -> str | None:
    """Attribute by local name (any namespace; with ``ns_hint``, only namespaces containing it)."""
    for key, value in el.attrib.items():
        if _local(key) != local:
            continue
        if ns_hint is None or (key.startswith("{") and ns_hint in key):
            return value
    return None


def _drain(
    stream: IO[bytes], head: bytes, needles: Mapping[bytes, str], chunk_size: int
) -> set[str]:
    """Read ``stream`` to its end (so zipfile verifies the CRC), reporting which needles occur."""
    found: set[str] = set()
    keep = max((len(n) for n in needles), default=1) - 1
    tail = b""
    chunk = head
    xml = head.lstrip()[:1] == b"<" and b"\x00" not in head[:4]  # not UTF-16
    while chunk:
        if xml and _has_control_bytes(chunk):  # e.g. sharedStrings.xml: not well-formed
            raise _Refused("truncated/control")
        if needles:
            window = tail + chunk
            for needle, feature in needles.items():
                if feature not in found and needle in window:
                    found.add(feature)
            tail = window[-keep:] if keep else b""
        chunk = stream.read(chunk_size)
    return found


class _Zip:
    """A zip workbook being inspected: member lookup (case-insensitive, as OPC part names are)."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.infos = [i for i in zf.infolist() if not i.is_dir()]
        self.by_lower = {i.filename.lower(): i for i in self.infos}

    def info(self, name: str) -> zipfile.ZipInfo | None:
        return self.by_lower.get(name.lstrip("/").lower())

    def read_meta(self, info: zipfile.ZipInfo) -> bytes:
        """Read a small structural part whole, after its prolog check."""
        if info.file_size > META_PART_LIMIT:
            raise _Refused("too-big/part", size=_fmt_mb(info.file_size))
        with self.zf.open(info) as stream:
            head = _read_checked_head(stream, 4096)
            return head + stream.read()

    def parse(self, info: zipfile.ZipInfo) -> Element:
        return SafeET.fromstring(self.read_meta(info))

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """``Id -> (Type, resolved target part)`` of ``part``'s relationships (empty if none)."""
        folder, base = posixpath.split(part)
        info = self.info(posixpath.join(folder, "_rels", base + ".rels"))
        if info is None:
            return {}
        out = {}
        for rel in self.parse(info):
            if _local(rel.tag) != "Relationship" or rel.get("TargetMode") == "External":
                continue
            target = unquote(rel.get("Target", ""))
            if target.startswith("/"):
                resolved = posixpath.normpath(target.lstrip("/"))
            else:
                resolved = posixpath.normpath(posixpath.join(folder, target))
            out[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
        return out


def _check_zip_limits(z: _Zip, limits: Mapping[str, float]) -> None:
    """Refuse before decompressing: member count, total size, ratio, encryption, odd members."""
    max_members = limits["max_zip_members"]
    if len(z.infos) > max_members:
        raise _Refused("too-big/members", count=_fmt_n(len(z.infos)), limit=_fmt_n(max_members))
    total = sum(i.file_size for i in z.infos)
    if total > limits["max_uncompressed_mb"] * MiB:
        raise _Refused(
            "too-big/uncompressed", size=_fmt_mb(total), limit=_fmt_n(limits["max_uncompressed_mb"])
        )
    max_ratio = limits["max_compression_ratio"]
    for i in z.infos:
        if i.file_size >= RATIO_MIN_SIZE and i.file_size > max_ratio * max(i.compress_size, 1):
            ratio = i.file_size / max(i.compress_size, 1)
            raise _Refused("too-big/ratio", ratio=_fmt_n(ratio), limit=_fmt_n(max_ratio))
    if any(i.flag_bits & 0x1 for i in z.infos):
        raise _Refused("encrypted")
    if len(z.by_lower) != len(z.infos):
        raise _Refused(
            "truncated"
        )  # duplicate member names: parsers would disagree on which to read
    if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in z.infos):
        raise _Refused("not-a-workbook/zip")


def _workbook_part(z: _Zip) -> str | None:
    """The main workbook part: the package's officeDocument relationship, else xl/workbook.xml."""
    for rel_type, target in z.rels("").values():
        if rel_type.endswith("/officeDocument") and z.info(target):
            return target
    return "xl/workbook.xml" if z.info("xl/workbook.xml") else None


def _inspect_ooxml(
    path: Path,
    z: _Zip,
    workbook_part: str,
    limits: Mapping[str, float],
    chunk_size: int,
    staged: bool = False,
) -> Inspection | Callable[[], Inspection]:
    """The inspection of an xlsx/xlsm package; with ``staged``, the function completing it (see
    :func:`inspect_in_two_steps`)."""
    workbook_info = z.info(workbook_part)
    assert workbook_info is not None
    root = z.parse(workbook_info)
    rels = z.rels(workbook_info.filename)
    features: set[str] = set()
    date1904 = False
    planned: list[tuple[str, str, str]] = []  # (name, state, member)
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "workbookPr":
            date1904 = (el.get("date1904") or "").lower() in ("1", "true")
        elif tag == "workbookProtection":
            if any(
                (el.get(a) or "").lower() in ("1", "true")
                for a in ("lockStructure", "lockWindows", "lockRevision")
            ) or any("password" in k.lower() or "hash" in k.lower() for k in el.attrib):
                features.add("workbook-protection")
        elif tag == "sheet":
            rid = _attr(el, "id", _NS_REL)
            rel = rels.get(rid or "")
            if rel is None:
                raise _Refused("truncated")  # a sheet whose part is not listed: damaged package
            rel_type, target = rel
            if not rel_type.endswith("/worksheet"):
                continue  # chart sheets, dialog sheets: no cells to read
            info = z.info(target)
            if info is None:
                raise _Refused("truncated")
            state = el.get("state") or "visible"
            planned.append(
                (
                    el.get("name") or "",
                    state if state in ("hidden", "veryHidden") else "visible",
                    info.filename,
                )
            )

    max_cells = float(limits["max_cells"])
    max_merged = float(limits.get("max_merged_cells", DEFAULT_MAX_MERGED_CELLS))
    max_ranges = float(limits.get("max_merged_ranges", DEFAULT_MAX_MERGED_RANGES))
    facts: dict[str, _SheetFacts] = {}
    sheet_of = {member: name for name, _, member in planned}
    scanned: list[tuple[str, int | None]] = []  # (worksheet, windows scanned; None: all of it)
    kept: dict[str, _Recorder] = {}  # what the first step read, for the second
    try:
        for info in z.infos:
            with z.zf.open(info) as stream:
                if info.filename in sheet_of:
                    sheet = facts[info.filename] = _SheetFacts(
                        max_cells, max_merged, max_ranges, details=not staged
                    )
                    scanned.append((info.filename, 0))
                    if staged:  # the second step reads the same bytes again from memory
                        stream = kept[info.filename] = _Recorder(stream, KEEP_FOR_SECOND_STEP)
                    try:
                        _scan_worksheet(stream, sheet, chunk_size)
                    except _Refused as refusal:
                        refusal.params.setdefault("sheet", sheet_of[info.filename])
                        raise
                    finally:
                        scanned[-1] = (info.filename, sheet.windows)
                    scanned[-1] = (info.filename, None)
                    features |= sheet.features
                    continue
                head = _read_checked_head(stream, 4096)
                lower = info.filename.lower()
                if lower.startswith("xl/drawings/") and lower.endswith(".xml"):
                    needles = _DRAWING_NEEDLES
                elif lower.startswith("customxml/item") and not lower.startswith(
                    "customxml/itemprops"
                ):
                    needles = _MASHUP_NEEDLES
                else:
                    needles = {}
                features |= _drain(stream, head, needles, chunk_size)
            for prefix, feature in _MEMBER_FEATURES:
                if info.filename.lower().startswith(prefix):
                    features.add(feature)
    except Exception:
        if staged:  # a merged range the details would have refused earlier is the answer
            _sheet_details(
                path,
                scanned,
                kept,
                sheet_of,
                max_cells,
                max_merged,
                chunk_size,
                strict=False,
                max_ranges=max_ranges,
            )
        raise

    def inspection() -> Inspection:
        sheets = tuple(
            SheetScan(
                name=name,
                part=member,
                state=state,
                max_row=facts[member].max_row,
                max_col=facts[member].max_col,
                hidden_rows=frozenset(facts[member].hidden_rows),
                formula_no_value=tuple(facts[member].formulas),
                merged=tuple(facts[member].merged),
                error_values=tuple(facts[member].errors.items()),
            )
            for name, state, member in planned
        )
        kind = "xlsm" if "macros" in features else "xlsx"
        would_lose = tuple(f for f in FEATURES if f in features)
        return Inspection(
            path=path, kind=kind, date1904=date1904, sheets=sheets, would_lose=would_lose
        )

    if not staged:
        return inspection()

    def second_step() -> Inspection:
        details = _sheet_details(
            path,
            scanned,
            kept,
            sheet_of,
            max_cells,
            max_merged,
            chunk_size,
            strict=True,
            max_ranges=max_ranges,
        )
        kept.clear()
        for member, found in details.items():
            facts[member].hidden_rows, facts[member].formulas = found.hidden_rows, found.formulas
            facts[member].errors = found.errors
            facts[member].merged = found.merged
            features.update(found.features)
        return inspection()

    return second_step


def _sheet_details(
    path: Path,
    scanned: list[tuple[str, int | None]],
    kept: Mapping[str, _Recorder],
    sheet_of: Mapping[str, str],
    max_cells: float,
    max_merged: float,
    chunk_size: int,
    *,
    strict: bool,
    max_ranges: float = DEFAULT_MAX_MERGED_RANGES,
) -> dict[str, _SheetFacts]:
    """The second step of :func:`inspect_in_two_steps`: scan the worksheets again, for their
    details only (hidden rows, value-less formulas, merged ranges, features), each over the
    windows the first step scanned, from the bytes it ``kept`` (else decompressed again).

    Refuses a merged range over the limit as the one-pass scan would. With ``strict``, any other
    failure is raised too; without, the scan just stops there (the first step's failure, being
    replayed, is the answer).
    """
    out: dict[str, _SheetFacts] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            z = _Zip(zf)
            for member, windows in scanned:
                info = z.info(member)
                if info is None:
                    raise _Refused("truncated")
                found = out[member] = _SheetFacts(max_cells, max_merged, max_ranges, area=False)
                recorded = kept.get(member)
                with (
                    contextlib.nullcontext(_Replay(recorded.pieces))
                    if recorded is not None and recorded.pieces is not None
                    else z.zf.open(info)
                ) as stream:
                    try:
                        _scan_worksheet(stream, found, chunk_size, windows)
                    except _Refused as refusal:
                        refusal.params.setdefault("sheet", sheet_of[member])
                        raise
    except _Refused as refusal:
        if strict or refusal.key.startswith("too-many-cells/merged"):
            raise
    except Exception:
        if strict:
            raise
    return out


#: decompressed worksheet bytes the first step of :func:`inspect_in_two_steps` keeps for the
#: second (a bigger part is decompressed again)
KEEP_FOR_SECOND_STEP = 256 * MiB


class _Recorder:
    """A stream that keeps what is read from it, up to ``budget`` bytes (``pieces`` is None once
    over budget), so that the same sequence of reads can be replayed by :class:`_Replay`."""

    def __init__(self, stream: IO[bytes], budget: int) -> None:
        self.stream = stream
        self.budget = budget
        self.pieces: list[bytes] | None = []

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if self.pieces is not None:
            self.budget -= len(data)
            if self.budget < 0:
                self.pieces = None
            else:
                self.pieces.append(data)
        return data


class _Replay:
    """Gives back what a :class:`_Recorder` read, one piece per ``read`` call (the scan makes the
    same calls again), then ``b""``."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = iter(pieces)

    def read(self, size: int = -1) -> bytes:
        return next(self._pieces, b"")


def _inspect_ods(path: Path, z: _Zip, chunk_size: int) -> Inspection:
    mimetype_info = z.info("mimetype")
    assert mimetype_info is not None
    with z.zf.open(mimetype_info) as stream:
        mimetype = stream.read(256)
    if not mimetype.strip().startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        raise _Refused("not-a-workbook/zip")
    encrypted = False
    for info in z.infos:
        with z.zf.open(info) as stream:
            head = _read_checked_head(stream, 4096)
            needles = (
                {b"encryption-data": "encrypted"}
                if info.filename == "META-INF/manifest.xml"
                else {}
            )
            encrypted |= bool(_drain(stream, head, needles, chunk_size))
    if encrypted:
        raise _Refused("encrypted")
    return Inspection(path=path, kind="ods", date1904=False, sheets=(), would_lose=())


def _declared_member_count(path: Path) -> int | None:
    """The member count in the zip's end-of-central-directory record (zip64 aware), or None.

    Read before :class:`zipfile.ZipFile` builds one object per member, so a central directory
    listing millions of members is refused without being loaded.
    """
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - (22 + 0xFFFF + 20)))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at == -1 or len(tail) < at + 22:
            return None
        count = struct.unpack_from("<H", tail, at + 10)[0]
        if count != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
            return count
        (zip64_at,) = struct.unpack_from("<Q", tail, at - 20 + 8)
        f.seek(zip64_at)
        record = f.read(56)
        if len(record) < 40 or not record.startswith(b"PK\x06\x06"):
            return None
        return struct.unpack_from("<Q", record, 32)[0]


def _inspect_zip(
    path: Path, limits: Mapping[str, float], chunk_size: int, staged: bool = False
) -> Inspection | Callable[[], Inspection]:
    try:
        declared = _declared_member_count(path)
        if declared is not None and declared > limits["max_zip_members"]:
            raise _Refused(
                "too-big/members",
                count=_fmt_n(declared),
                limit=_fmt_n(limits["max_zip_members"]),
            )
        with zipfile.ZipFile(path) as zf:
            z = _Zip(zf)
            _check_zip_limits(z, limits)
            part = _workbook_part(z)
            if part is not None:
                return _inspect_ooxml(path, z, part, limits, chunk_size, staged)
            if z.info("mimetype") and z.info("content.xml"):
                return _inspect_ods(path, z, chunk_size)
            raise _Refused("not-a-workbook/zip")
    except _Refused:
        raise
    except DefusedXmlException:
        raise _Refused("unsafe-xml") from None
    except (ParseError, UnicodeDecodeError, *_ZIP_ERRORS):
        raise _Refused("truncated") from None


# --------------------------------------------------------------------------------------------
# entry point


_SPECIAL_KINDS = {
    "zh": {
        "fifo": "命名管道（FIFO）",
        "dir": "文件夹",
        "chr": "字符设备",
        "blk": "块设备",
        "sock": "套接字",
        "other": "特殊文件",
    },
    "en": {
        "fifo": "a named pipe (FIFO)",
        "dir": "a folder",
        "chr": "a character device",
        "blk": "a block device",
        "sock": "a socket",
        "other": "a special file",
    },
}


def _special_key(mode: int) -> str:
    for test, key in (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISDIR, "dir"),
        (stat.S_ISCHR, "chr"),
        (stat.S_ISBLK, "blk"),
        (stat.S_ISSOCK, "sock"),
    ):
        if test(mode):
            return key
    return "other"


def special_kind(mode: int, lang: str = "zh") -> str:
    """What a non-regular file is, in words ("命名管道（FIFO）", "a folder"...)."""
    return _SPECIAL_KINDS["en" if lang == "en" else "zh"][_special_key(mode)]


def refuse_special(path: str | Path, lang: str = "zh") -> None:
    """Raise the ``cannot-open`` :class:`UnreadableError` saying what ``path`` is when it exists
    but is not a regular file (a FIFO, a device, a socket); do nothing otherwise. Reading a
    FIFO blocks until something writes to it, so this is checked before any ``open``."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise _error(p, lang, "cannot-open/special", what=_special_key(mode))


def inspect(
    path: str | Path, limits: Mapping[str, float], lang: str = "zh", *, chunk_size: int = CHUNK_SIZE
) -> Inspection:
    """Decide whether ``path`` is a workbook that is safe to parse, and pre-scan it.

    ``limits`` is ``Policy.limits`` (``max_file_mb``, ``max_zip_members``, ``max_uncompressed_mb``,
    ``max_compression_ratio``, ``max_cells``; optional ``max_merged_cells``). ``lang`` picks the
    message language ("zh" or "en"); ``chunk_size`` is how much of a worksheet part is
    decompressed at a time. Raises :class:`UnreadableError` for any file that cannot be read
    safely, and no other exception for bad input.
    """
    p = Path(path)
    try:
        result = _inspect(p, limits, chunk_size, staged=False)
    except _Refused as refusal:
        raise _error(p, lang, refusal.key, **refusal.params) from None
    assert isinstance(result, Inspection)
    return result


def inspect_in_two_steps(
    path: str | Path, limits: Mapping[str, float], lang: str = "zh", *, chunk_size: int = CHUNK_SIZE
) -> Callable[[], Inspection]:
    """:func:`inspect` in two steps, so that a parser can read the file while the second runs.

    This call makes every check that reading the file safely depends on (format, size and zip
    limits, XML prologs, every member read to its end, the used area of every worksheet) and
    raises what :func:`inspect` would. The function returned completes the worksheet scan
    (hidden rows, formulas saved without a value, merged ranges, features) and returns the same
    :class:`Inspection` as :func:`inspect`, or raises the :class:`UnreadableError` that
    :func:`inspect` would have raised: a merged range over ``max_merged_cells`` (a problem for
    openpyxl, which materialises every merged cell, not for python-calamine) is refused then.
    The second step releases the GIL while decompressing and may run in any thread.
    """
    p = Path(path)
    try:
        result = _inspect(p, limits, chunk_size, staged=True)
    except _Refused as refusal:
        raise _error(p, lang, refusal.key, **refusal.params) from None
    if isinstance(result, Inspection):
        return lambda: result

    def second_step() -> Inspection:
        try:
            try:
                return result()
            except DefusedXmlException:
                raise _Refused("unsafe-xml") from None
            except (ParseError, UnicodeDecodeError, *_ZIP_ERRORS):
                raise _Refused("truncated") from None
        except _Refused as refusal:
            raise _error(p, lang, refusal.key, **refusal.params) from None

    return second_step


def _inspect(
    p: Path, limits: Mapping[str, float], chunk_size: int, staged: bool
) -> Inspection | Callable[[], Inspection]:
    """:func:`inspect` (``staged``: :func:`inspect_in_two_steps`), refusals as :class:`_Refused`."""
    try:
        st = p.stat()
        size = st.st_size
        if not stat.S_ISREG(st.st_mode):  # opening a FIFO would wait for a writer forever
            raise _Refused("cannot-open/special", what=_special_key(st.st_mode))
        if size == 0:
            raise _Refused("empty")
        if size > limits["max_file_mb"] * MiB:
            raise _Refused("too-big/file", size=_fmt_mb(size), limit=_fmt_n(limits["max_file_mb"]))
        with open(p, "rb") as f:
            kind = _sniff_head(f.read(8192))
            if kind == "cfb":
                names = _cfb_stream_names(f, (_ENCRYPTION_INFO, *_WORKBOOK_STREAMS))
                if _ENCRYPTION_INFO in names:
                    raise _Refused("encrypted")
                if not names & set(_WORKBOOK_STREAMS):
                    raise _Refused("truncated" if _cfb_cut_short(f, size) else "not-a-workbook/cfb")
                return Inspection(path=p, kind="xls", date1904=False, sheets=(), would_lose=())
    except OSError:
        raise _Refused("cannot-open") from None
    if kind == "empty":
        raise _Refused("empty")
    if kind != "zip":
        raise _Refused(f"not-a-workbook/{kind}")
    return _inspect_zip(p, limits, chunk_size, staged)


__all__ = [
    "FEATURES",
    "Inspection",
    "SheetScan",
    "col_letters",
    "inspect",
    "inspect_in_two_steps",
    "refuse_special",
    "sniff",
    "special_kind",
]
