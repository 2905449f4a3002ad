"""Build the hostile and damaged input corpus: ``python tests/hostile/make_corpus.py DIR``.

Every case is made by code here (no committed binaries): raw OOXML packages written part by
part with :mod:`zipfile` where the damage is in the bytes, openpyxl for the rest. Each
:class:`Case` says what a command must do with it:

* ``read`` — the file is read as a record workbook (exit 0 or 1);
* ``refused`` — it is refused as unreadable, with one line saying what to do (exit 2);
* ``either`` — either of those, as long as it is clean (no traceback, budget kept).

``secrets`` are raw personal values planted in the case: none may appear in anything a
command writes (stdout, stderr, JSON, every XML part of every produced workbook, file names).
"""

from __future__ import annotations

import io
import os
import random
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PHONE = "13800138000"
PHONE2 = "13912345678"
EMAIL = "zhang.san@example.com"
IDCARD = "110101199003071233"
NAME = "欧阳锋"
#: every raw value planted anywhere in the corpus
SECRETS = (PHONE, PHONE2, EMAIL, IDCARD, NAME)

HEADERS = [
    "问题编号", "客户名称/编号", "联系人", "联系方式", "反馈渠道", "问题发生时间", "产品/服务模块",
    "问题类型", "问题描述", "严重程度", "处理负责人", "接收时间", "处理进度", "问题分析过程",
    "解决方案", "预计解决时间", "解决时间", "客户满意度", "客户反馈", "关联产品/服务", "备注",
]  # fmt: skip
COL = {label: i for i, label in enumerate(HEADERS)}


def record(i: int = 1, **changes: Any) -> list[Any]:
    """A valid, masked record as the row's cell values (dates typed as text)."""
    day = 1 + (i % 27)
    values: dict[str, Any] = {
        "问题编号": "",
        "客户名称/编号": f"示例科技/C{i:04d}",
        "联系人": "张*",
        "联系方式": "138****8000",
        "反馈渠道": "电话",
        "问题发生时间": f"2024-05-{day:02d} 09:10",
        "产品/服务模块": "登录模块",
        "问题类型": "技术故障",
        "问题描述": f"登录提示账号已锁定 {i}",
        "严重程度": "P1",
        "处理负责人": "王工",
        "接收时间": f"2024-05-{day:02d} 09:30",
        "处理进度": "已解决",
        "问题分析过程": "密码连续输错",
        "解决方案": "永久方案：后台解锁",
        "预计解决时间": f"2024-05-{day:02d} 18:00",
        "解决时间": f"2024-05-{day:02d} 11:00",
        "客户满意度": 5,
        "客户反馈": "处理及时",
        "关联产品/服务": "V2.1",
        "备注": "",
    }
    values.update(changes)
    return [values[h] for h in HEADERS]


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str  # "read" | "refused" | "either"
    what: str
    secrets: tuple[str, ...] = ()
    #: strings planted as formula-like or URL text: never a formula or a live link in outputs
    payloads: tuple[str, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)
    #: a command whose answer differs from ``expect`` (e.g. mask refusing a copy with PII left)
    expect_for: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# raw OOXML


def col_letters(index: int) -> str:
    """Column letters of a 1-based column number."""
    out = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def cell_xml(ref: str | None, value: Any) -> str:
    r = f' r="{ref}"' if ref else ""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c{r} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c{r}><v>{value}</v></c>"
    text = escape(str(value))
    return f'<c{r} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def row_xml(r: int, values: Sequence[Any], *, implicit: bool = False, attrs: str = "") -> str:
    cells = "".join(
        cell_xml(None if implicit else f"{col_letters(c + 1)}{r}", v) for c, v in enumerate(values)
    )
    return f'<row r="{r}"{attrs}>{cells}</row>'


def sheet_xml(rows: str, *, before: str = "", after: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"{before}<sheetData>{rows}</sheetData>{after}</worksheet>"
    )


def basic_rows(n: int = 2) -> str:
    return row_xml(1, HEADERS) + "".join(row_xml(2 + i, record(i + 1)) for i in range(n))


_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFFF2CC"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/>'
    '<xf numFmtId="11" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    "</styleSheet>"
)
_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>xlcheck tests</dc:creator></cp:coreProperties>'
)
_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Microsoft Excel</Application></Properties>"
)


def workbook_xml(sheet: str = "问题记录表", *, pr: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<workbookPr{pr}/><sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )


def raw_parts(sheet: str | bytes, **overrides: str | bytes) -> dict[str, str | bytes]:
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": _CT,
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": workbook_xml(),
        "xl/_rels/workbook.xml.rels": _WB_RELS,
        "xl/styles.xml": _STYLES,
        "xl/worksheets/sheet1.xml": sheet,
        "docProps/core.xml": _CORE,
        "docProps/app.xml": _APP,
    }
    parts.update(overrides)
    return parts


def write_zip(path: Path, parts: dict[str, str | bytes], level: int = 6) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, data in parts.items():
            z.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return path


def raw_xlsx(path: Path, rows: str | None = None, *, before: str = "", after: str = "", **overrides: str | bytes) -> Path:  # fmt: skip
    sheet = sheet_xml(basic_rows() if rows is None else rows, before=before, after=after)
    return write_zip(path, raw_parts(sheet, **overrides))


def stream_sheet(path: Path, pieces: Iterable[str], **overrides: str | bytes) -> Path:
    """A package whose sheet1.xml is written piece by piece (big sheets, little memory)."""
    parts = raw_parts(b"", **overrides)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, data in parts.items():
            if name == "xl/worksheets/sheet1.xml":
                with z.open(name, "w", force_zip64=True) as out:
                    for piece in pieces:
                        out.write(piece.encode("utf-8"))
            else:
                z.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return path


_SHEET_HEAD, _SHEET_TAIL = sheet_xml("\x00").split("\x00")


def _sheet_pieces(head_rows: str, body: Iterable[str], after: str = "") -> Iterable[str]:
    yield _SHEET_HEAD.replace("</sheetData>", "")
    yield head_rows
    yield from body
    yield "</sheetData>" + after + "</worksheet>"


# ---------------------------------------------------------------------------------------------
# the cases

Builder = Callable[[Path], Case]
BUILDERS: list[Builder] = []


def case(fn: Builder) -> Builder:
    BUILDERS.append(fn)
    return fn


def _doctype(part: str, payload: str) -> str:
    return '<?xml version="1.0"?>\n' + payload + "\n" + part.split("\n", 1)[1]


LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
XXE = '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PARAM = '<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>'


@case
def entity_workbook(d: Path) -> Case:
    p = raw_xlsx(
        d / "entity_workbook.xlsx", **{"xl/workbook.xml": _doctype(workbook_xml(), LAUGHS)}
    )
    return Case("entity_workbook", p, "refused", "billion laughs in xl/workbook.xml")


@case
def entity_sheet(d: Path) -> Case:
    sheet = sheet_xml(basic_rows())
    p = raw_xlsx(d / "entity_sheet.xlsx", **{"xl/worksheets/sheet1.xml": _doctype(sheet, XXE)})
    return Case("entity_sheet", p, "refused", "external entity in the worksheet")


@case
def entity_core(d: Path) -> Case:
    p = raw_xlsx(d / "entity_core.xlsx", **{"docProps/core.xml": _doctype(_CORE, PARAM)})
    return Case("entity_core", p, "refused", "parameter entity in docProps/core.xml")


@case
def entity_styles_utf16(d: Path) -> Case:
    text = _doctype(_STYLES, XXE).replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    p = raw_xlsx(
        d / "entity_styles_utf16.xlsx", **{"xl/styles.xml": b"\xff\xfe" + text.encode("utf-16-le")}
    )
    return Case("entity_styles_utf16", p, "refused", "UTF-16 external entity in xl/styles.xml")


@case
def entity_unlisted_part(d: Path) -> Case:
    body = '<?xml version="1.0"?>\n<!-- a comment first -->' + XXE + "<x>&xxe;</x>"
    p = raw_xlsx(d / "entity_unlisted_part.xlsx", **{"xl/extra/unlisted.xml": body})
    return Case("entity_unlisted_part", p, "refused", "entity after a comment in an unlisted part")


@case
def zip_bomb(d: Path) -> Case:
    pad = "<!-- " + " " * (64 << 20) + " -->"
    p = raw_xlsx(d / "zip_bomb.xlsx", rows=basic_rows() + pad)
    return Case("zip_bomb", p, "refused", "a 64 MB worksheet compressed to a few hundred KB")


@case
def lying_sizes(d: Path) -> Case:
    """The central directory says the worksheet is 100 bytes; it is far bigger."""
    p = raw_xlsx(d / "lying_sizes.xlsx", rows=basic_rows(200))
    data = bytearray(p.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    at = data.find(b"PK\x01\x02")
    while at != -1:
        n = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + n] == name:
            data[at + 24 : at + 28] = (100).to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    p.write_bytes(bytes(data))
    return Case("lying_sizes", p, "refused", "declared uncompressed size smaller than the data")


@case
def many_parts(d: Path) -> Case:
    parts = raw_parts(sheet_xml(basic_rows()))
    parts.update({f"xl/media/junk{i}.bin": b"" for i in range(20_000)})
    p = write_zip(d / "many_parts.xlsx", parts, level=1)
    return Case("many_parts", p, "refused", "20,000 zip members")


def _good_bytes(d: Path) -> bytes:
    tmp = raw_xlsx(d / ".good.tmp", rows=basic_rows(50))
    data = tmp.read_bytes()
    tmp.unlink()
    return data


@case
def truncated(d: Path) -> Case:
    data = _good_bytes(d)
    p = d / "truncated.xlsx"
    p.write_bytes(data[: len(data) // 2])
    return Case("truncated", p, "refused", "an xlsx cut in half")


@case
def renamed_csv(d: Path) -> Case:
    p = d / "renamed_csv.xlsx"
    p.write_text(",".join(HEADERS) + "\n" + ",".join(map(str, record(1))) + "\n", encoding="utf-8")
    return Case("renamed_csv", p, "refused", "a CSV named .xlsx")


@case
def renamed_html(d: Path) -> Case:
    p = d / "renamed_html.xls"
    p.write_text(
        "<html><body><table><tr><td>问题编号</td></tr></table></body></html>", encoding="utf-8"
    )
    return Case("renamed_html", p, "refused", "an HTML page named .xls")


@case
def encrypted(d: Path) -> Case:
    """An OLE/CFB header with an EncryptionInfo directory entry (how Excel saves a password)."""
    sector = 512
    header = bytearray(sector)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    header[0x1A:0x1C] = (3).to_bytes(2, "little")
    header[0x1C:0x1E] = b"\xfe\xff"
    header[0x1E:0x20] = (9).to_bytes(2, "little")
    header[0x30:0x34] = (0).to_bytes(4, "little")
    directory = bytearray(sector)
    for i, name in enumerate(("Root Entry", "EncryptionInfo", "EncryptedPackage")):
        raw = (name + "\0").encode("utf-16-le")
        directory[i * 128 : i * 128 + len(raw)] = raw
        directory[i * 128 + 64 : i * 128 + 66] = len(raw).to_bytes(2, "little")
    p = d / "encrypted.xlsx"
    p.write_bytes(bytes(header) + bytes(directory) + os.urandom(4096))
    return Case("encrypted", p, "refused", "password-protected (CFB with EncryptionInfo)")


@case
def empty(d: Path) -> Case:
    p = d / "empty.xlsx"
    p.write_bytes(b"")
    return Case("empty", p, "refused", "a 0-byte file")


@case
def not_a_workbook_zip(d: Path) -> Case:
    p = write_zip(d / "not_a_workbook_zip.xlsx", {"readme.txt": "hello"})
    return Case("not_a_workbook_zip", p, "refused", "a zip that is no workbook")


@case
def ods(d: Path) -> Case:
    def cell(v: Any) -> str:
        if isinstance(v, int):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        if v == "":
            return "<table:table-cell/>"
        return f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p></table:table-cell>'

    rows = "".join(
        "<table:table-row>" + "".join(cell(v) for v in vals) + "</table:table-row>"
        for vals in (HEADERS, record(1), record(2))
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="问题记录表">{rows}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    p = d / "records.ods"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return Case(
        "ods",
        p,
        "either",
        "an OpenDocument spreadsheet (read, or refused cleanly where a copy cannot be written)",
    )


@case
def xlsm_macros(d: Path) -> Case:
    ct = _CT.replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    ).replace(
        "</Types>",
        '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>',
    )
    rels = _WB_RELS.replace(
        "</Relationships>",
        '<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>',
    )
    p = raw_xlsx(
        d / "macros.xlsm",
        **{
            "[Content_Types].xml": ct,
            "xl/_rels/workbook.xml.rels": rels,
            "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 1020,
        },
    )
    return Case("xlsm_macros", p, "read", "an .xlsm with a VBA project")


# -- blow-ups that pass a size check ----------------------------------------------------------


@case
def implicit_wide_tall(d: Path) -> Case:
    """Cells and rows without ``r``: 16,384 cells in one row, 150,000 rows below."""
    rnd = random.Random(15)
    wide = (
        "<row>" + "".join(f"<c><v>{rnd.randrange(10**6)}</v></c>" for _ in range(16_384)) + "</row>"
    )
    body = (f"<row><c><v>{rnd.randrange(10**9)}</v></c></row>" for _ in range(150_000))
    head = row_xml(1, HEADERS, implicit=True).replace(' r="1"', "") + row_xml(
        2, record(1), implicit=True
    ).replace(' r="2"', "")
    p = stream_sheet(d / "implicit_wide_tall.xlsx", _sheet_pieces(head + wide, body))
    return Case(
        "implicit_wide_tall", p, "refused", "implicit positions spread 16,384 wide and 150,000 tall"
    )


@case
def implicit_cells_numbered_rows(d: Path) -> Case:
    """Rows numbered, cells without ``r``: one row 16,384 wide, the table 2,000 rows tall."""
    rnd = random.Random(16)
    head = row_xml(1, HEADERS, implicit=True) + row_xml(2, record(1), implicit=True)
    wide = (
        '<row r="3">'
        + "".join(f"<c><v>{rnd.randrange(10**6)}</v></c>" for _ in range(16_384))
        + "</row>"
    )
    body = (f'<row r="{r}"><c><v>{rnd.randrange(10**9)}</v></c></row>' for r in range(4, 2_001))
    p = stream_sheet(d / "implicit_cells_numbered_rows.xlsx", _sheet_pieces(head + wide, body))
    return Case(
        "implicit_cells_numbered_rows", p, "refused", "rows numbered, cells implicit, 16,384 wide"
    )


@case
def implicit_positions_small(d: Path) -> Case:
    """A small sheet written without any ``r`` (as some generators do): it must read normally."""
    rows = "".join(
        f"<row>{''.join(cell_xml(None, v) if v != '' else '<c/>' for v in vals)}</row>"
        for vals in (HEADERS, record(1), record(2))
    )
    p = raw_xlsx(d / "implicit_positions_small.xlsx", rows=rows)
    return Case(
        "implicit_positions_small", p, "read", "a small sheet with no r attributes anywhere"
    )


@case
def far_row(d: Path) -> Case:
    rows = basic_rows() + row_xml(1_048_576, ["远处的一个值"])
    p = raw_xlsx(d / "far_row.xlsx", rows=rows)
    return Case("far_row", p, "refused", "one cell with data on row 1,048,576")


@case
def far_column(d: Path) -> Case:
    rows = row_xml(1, HEADERS) + row_xml(2, record(1)) + '<row r="3"><c r="XFD3"><v>1</v></c></row>'
    p = raw_xlsx(d / "far_column.xlsx", rows=rows)
    return Case("far_column", p, "either", "one cell in column XFD (16,384 columns by 3 rows)")


@case
def merged_200k(d: Path) -> Case:
    merges = "".join(
        f'<mergeCell ref="{col_letters(1 + 2 * (i % 8000))}{10 + i // 8000}:{col_letters(2 + 2 * (i % 8000))}{10 + i // 8000}"/>'
        for i in range(200_000)
    )
    p = raw_xlsx(d / "merged_200k.xlsx", after=f'<mergeCells count="200000">{merges}</mergeCells>')
    return Case("merged_200k", p, "refused", "200,000 merged ranges")


@case
def formatted_rows_to_limit(d: Path) -> Case:
    body = (f'<row r="{r}" s="1" customFormat="1"/>' for r in range(4, 1_048_577))
    p = stream_sheet(d / "formatted_rows_to_limit.xlsx", _sheet_pieces(basic_rows(), body))
    return Case(
        "formatted_rows_to_limit", p, "either", "formatted empty rows down to row 1,048,576"
    )


@case
def formatted_cells_rows(d: Path) -> Case:
    """Empty formatted cells (a style, no value) in 21 columns down to row 200,000."""
    body = (
        f'<row r="{r}">'
        + "".join(f'<c r="{col_letters(c)}{r}" s="1"/>' for c in range(1, 22))
        + "</row>"
        for r in range(4, 200_001)
    )
    p = stream_sheet(d / "formatted_cells_rows.xlsx", _sheet_pieces(basic_rows(), body))
    return Case(
        "formatted_cells_rows", p, "either", "empty styled cells in 21 columns down to row 200,000"
    )


# -- content -------------------------------------------------------------------------------------


@case
def formula_no_cache(d: Path) -> Case:
    row = row_xml(2, record(1)).replace(
        '<c r="F2" t="inlineStr"><is><t xml:space="preserve">2024-05-02 09:10</t></is></c>',
        '<c r="F2"><f>NOW()-1</f></c>',
    )
    p = raw_xlsx(d / "formula_no_cache.xlsx", rows=row_xml(1, HEADERS) + row)
    return Case("formula_no_cache", p, "read", "a date formula saved without a cached value")


def _openpyxl_book(rows: Sequence[Sequence[Any]] | None = None):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "问题记录表"
    ws.append(HEADERS)
    for row in rows if rows is not None else (record(1), record(2)):
        ws.append(list(row))
    return wb, ws


@case
def hidden_rows_and_sheet(d: Path) -> Case:
    wb, ws = _openpyxl_book([record(1), record(2, 备注=f"联系 {PHONE}"), record(3)])
    ws.row_dimensions[3].hidden = True
    other = wb.create_sheet("隐藏表")
    other.append(["姓名", "电话"])
    other.append([NAME, PHONE])
    other.sheet_state = "hidden"
    p = d / "hidden_rows_and_sheet.xlsx"
    wb.save(p)
    return Case(
        "hidden_rows_and_sheet",
        p,
        "read",
        "a hidden row and a hidden sheet with data (mask and assign-ids refuse a copy: the "
        "hidden sheet holds PII)",
        (PHONE, NAME),
        expect_for={"mask": "refused", "assign-ids": "refused"},
    )


@case
def date1904(d: Path) -> Case:
    from datetime import datetime

    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb, ws = _openpyxl_book(
        [record(1, 问题发生时间=datetime(2024, 5, 2, 9, 10), 接收时间=datetime(2024, 5, 2, 9, 30))]
    )
    wb.epoch = CALENDAR_MAC_1904
    for c in ("F2", "L2"):
        ws[c].number_format = "yyyy-mm-dd hh:mm"
    p = d / "date1904.xlsx"
    wb.save(p)
    return Case("date1904", p, "read", "the 1904 date system")


@case
def phone_scientific(d: Path) -> Case:
    rows = (
        row_xml(1, HEADERS)
        + row_xml(2, record(1, 联系方式=13800138000.0)).replace('<c r="D2">', '<c r="D2" s="2">')
        + row_xml(3, record(2, 联系方式="1.38001E+10"))
    )
    p = raw_xlsx(d / "phone_scientific.xlsx", rows=rows)
    return Case(
        "phone_scientific", p, "read", "a phone stored as a number shown as 1.38E+10", (PHONE,)
    )


@case
def rich_text(d: Path) -> Case:
    sst = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        f'<si><r><rPr><b/></rPr><t>登录失败 </t></r><r><t xml:space="preserve">请回电 {PHONE}</t></r></si></sst>'
    )
    row = row_xml(2, record(1)).replace(
        '<c r="I2" t="inlineStr"><is><t xml:space="preserve">登录提示账号已锁定 1</t></is></c>',
        '<c r="I2" t="s"><v>0</v></c>',
    )
    ct = _CT.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = _WB_RELS.replace(
        "</Relationships>",
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    p = raw_xlsx(
        d / "rich_text.xlsx",
        rows=row_xml(1, HEADERS) + row,
        **{
            "xl/sharedStrings.xml": sst,
            "[Content_Types].xml": ct,
            "xl/_rels/workbook.xml.rels": rels,
        },
    )
    return Case("rich_text", p, "read", "rich text runs, a phone split over runs", (PHONE,))


@case
def long_cell(d: Path) -> Case:
    text = "很长的描述" * 8_000  # 40,000 characters
    p = raw_xlsx(
        d / "long_cell.xlsx",
        rows=row_xml(1, HEADERS)
        + row_xml(2, record(1, 问题描述=text))
        + row_xml(3, record(2, 问题分析过程="无效日期", 问题发生时间="2024-13-45 25:61")),
    )
    return Case(
        "long_cell",
        p,
        "read",
        "a 40,000-character cell (over Excel's 32,767)",
        tags=frozenset({"long"}),
    )


@case
def control_escapes(d: Path) -> Case:
    rows = (
        row_xml(1, HEADERS)
        + row_xml(
            2,
            record(
                1,
                问题描述="第一行_x000B_第二行_x0001_尾",
                客户名称="示例_x000C_科技/C0001",
                备注="_x001F_",
            ),
        )
        + row_xml(3, record(2))
    )
    p = raw_xlsx(d / "control_escapes.xlsx", rows=rows)
    return Case("control_escapes", p, "read", "_x000B_-style escapes of control characters")


@case
def control_raw_bytes(d: Path) -> Case:
    rows = (
        row_xml(1, HEADERS)
        + row_xml(2, record(1, 问题描述="坏\x01字节\x0b在这"))
        + row_xml(3, record(2))
    )
    p = raw_xlsx(d / "control_raw_bytes.xlsx", rows=rows)
    return Case("control_raw_bytes", p, "refused", "raw control bytes (not well-formed XML)")


@case
def nan_number(d: Path) -> Case:
    row = row_xml(2, record(1)).replace('<c r="R2"><v>5</v></c>', '<c r="R2"><v>NaN</v></c>')
    row3 = row_xml(3, record(2)).replace('<c r="R3"><v>5</v></c>', '<c r="R3"><v>INF</v></c>')
    p = raw_xlsx(d / "nan_number.xlsx", rows=row_xml(1, HEADERS) + row + row3)
    return Case("nan_number", p, "either", "numeric cells holding NaN and INF")


FORMULA_TEXT = (
    "=1+1",
    "+SUM(1,2)",
    "-2+3",
    "@SUM(1)",
    "\t=1+2",
    "\r=3+4",
    "＝5+6",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/x","点我")',
)
URLS = ("http://evil.example/steal", "www.evil.example", "file:///etc/passwd", "mailto:a@b.cn")


@case
def formula_text(d: Path) -> Case:
    rows = [row_xml(1, HEADERS)]
    for i, text in enumerate(FORMULA_TEXT + URLS):
        rows.append(row_xml(2 + i, record(i + 1, 问题描述=text, 备注=text, 客户反馈=text)))
    p = raw_xlsx(d / "formula_text.xlsx", rows="".join(rows))
    return Case(
        "formula_text",
        p,
        "read",
        "formula-like text, DDE payloads and URLs as text",
        payloads=FORMULA_TEXT + URLS,
    )


@case
def bad_date(d: Path) -> Case:
    rows = row_xml(1, HEADERS) + row_xml(
        2, record(1, 问题发生时间="2024-02-30 10:00", 接收时间="昨天下午")
    )
    p = raw_xlsx(d / "bad_date.xlsx", rows=rows)
    return Case("bad_date", p, "read", "impossible and unparseable dates typed as text")


@case
def pii_everywhere(d: Path) -> Case:
    """Raw personal data outside the record sheet's cells: other sheets, header/footer,
    conditional formats, a sheet name, document properties."""
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.styles import PatternFill

    wb, ws = _openpyxl_book(
        [record(1, 联系人=NAME, 联系方式=PHONE), record(2, 备注=f"邮件 {EMAIL}")]
    )
    ws.oddHeader.center.text = f"经办 {PHONE2}"
    ws.oddFooter.left.text = f"{EMAIL}"
    ws.conditional_formatting.add(
        "D2:D10",
        FormulaRule(formula=[f'$D2="{PHONE}"'], fill=PatternFill("solid", fgColor="FF0000")),
    )
    other = wb.create_sheet("客户名单")
    other.append(["姓名", "电话", "邮箱", "身份证"])
    other.append([NAME, PHONE, EMAIL, IDCARD])
    wb.create_sheet(PHONE2).append(["备用"])
    wb.properties.title = f"客户 {PHONE}"
    wb.properties.creator = EMAIL
    wb.properties.keywords = IDCARD
    wb.properties.subject = NAME
    wb.custom_doc_props.append(StringProperty(name="联系人电话", value=PHONE2))
    p = d / "pii_everywhere.xlsx"
    wb.save(p)
    app = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>Microsoft Excel</Application><Manager>{NAME} {PHONE}</Manager><Company>{EMAIL}</Company></Properties>"
    )
    _replace_part(p, "docProps/app.xml", app)
    return Case(
        "pii_everywhere",
        p,
        "either",
        "PII in other sheets, header/footer, conditional formats, a sheet name and document properties",
        SECRETS,
        tags=frozenset({"pii"}),
    )


def _replace_part(path: Path, name: str, data: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == name else src.read(info))
    path.write_bytes(buf.getvalue())


@case
def phone_file_name(d: Path) -> Case:
    p = raw_xlsx(d / f"{PHONE}.xlsx")
    return Case("phone_file_name", p, "read", "a file named with a phone number", (PHONE,))


@case
def email_file_name(d: Path) -> Case:
    p = raw_xlsx(d / f"{EMAIL}.xlsx")
    return Case("email_file_name", p, "read", "a file named with an email address", (EMAIL,))


@case
def fifo(d: Path) -> Case:
    p = d / "pipe.xlsx"
    os.mkfifo(p)
    return Case("fifo", p, "refused", "a FIFO (named pipe) given as the input")


@case
def directory_named_xlsx(d: Path) -> Case:
    p = d / "folder.xlsx"
    p.mkdir()
    (p / "inner.txt").write_text("x")
    return Case(
        "directory_named_xlsx",
        p,
        "either",
        "a folder named like a workbook (read as a folder: no workbooks in it)",
    )


@case
def clean(d: Path) -> Case:
    p = raw_xlsx(d / "clean.xlsx", rows=basic_rows(5))
    return Case("clean", p, "read", "a clean record workbook (control case)")


def build_corpus(directory: str | Path, only: Iterable[str] | None = None) -> list[Case]:
    """Write every case into ``directory`` (created if needed); ``only`` limits it to those names."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    wanted = set(only) if only is not None else None
    return [b(d) for b in BUILDERS if wanted is None or b.__name__ in wanted]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tests/hostile/make_corpus.py DIR", file=sys.stderr)
        return 2
    for c in build_corpus(argv[0]):
        print(f"{c.expect:8} {c.name:30} {c.what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
