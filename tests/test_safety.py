"""The safety gate on real files: what each file is, and which files are refused and why.

Never open the XFD1048576 workbook with python-calamine: it aborts the interpreter.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from aftersales_xl.errors import UnreadableError
from aftersales_xl.reading import safety
from aftersales_xl.reading.safety import Inspection, inspect, sniff

SHEET1 = "xl/worksheets/sheet1.xml"

Edit = Callable[[bytes], bytes] | bytes | None


@pytest.fixture
def limits(policy) -> Mapping[str, Any]:
    return policy.limits


# --------------------------------------------------------------------------------------------
# builders: real workbooks, then byte-level edits of their zip members


def openpyxl_book(path: Path, *, epoch=None) -> Path:
    """记录 (visible, hidden row 3, formula without cached value in D7, merged title), plus a
    hidden and a very hidden sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "记录"
    ws["A1"] = "售后问题记录"
    ws.merge_cells("A1:C1")
    ws.append(["问题编号", "客户名称/编号", "严重程度"])
    for i in range(3, 9):
        ws.append([f"FW20240521{i:03d}", "C0012", "P1"])
    ws.row_dimensions[3].hidden = True
    ws["D7"] = "=1+1"
    hidden = wb.create_sheet("旧数据")
    hidden.sheet_state = "hidden"
    hidden["A1"] = 1
    very = wb.create_sheet("配置")
    very.sheet_state = "veryHidden"
    if epoch is not None:
        wb.epoch = epoch
    wb.save(path)
    return path


def xlsxwriter_book(path: Path, **options: Any) -> Path:
    wb = xlsxwriter.Workbook(str(path), options)
    ws = wb.add_worksheet("问题记录表")
    ws.write_row(0, 0, ["问题编号", "客户名称/编号", "严重程度", "合计"])
    ws.write_row(1, 0, ["FW20240521001", "C0012", "P1"])
    ws.write_formula("D2", "=1+1", None, 2)
    ws.set_row(4, None, None, {"hidden": True})
    ws.write("E6", "末")
    wb.close()
    return path


def rewrite(
    src: Path,
    dst: Path,
    edits: Mapping[str, Edit] | None = None,
    add: Mapping[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Copy a zip member by member: ``edits`` maps a member to new bytes, a function of the old
    bytes, or None (drop it); ``add`` appends members."""
    edits = dict(edits or {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            edit = edits.pop(info.filename, data)
            if edit is None:
                continue
            zout.writestr(info.filename, edit(data) if callable(edit) else edit)
        assert not edits, f"members not in the zip: {list(edits)}"
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def cfb_file(*streams: str, extra: bytes = b"") -> bytes:
    """A minimal OLE2 compound file: a 512-byte header, then one directory sector whose 128-byte
    entries name ``streams`` (after the root entry), then ``extra``."""

    def entry(name: str) -> bytes:
        raw = (name + "\0").encode("utf-16-le")
        return raw.ljust(64, b"\0") + struct.pack("<H", len(raw)) + b"\2".ljust(62, b"\0")

    header = safety.CFB_MAGIC.ljust(512, b"\0")
    directory = b"".join(entry(n) for n in ("Root Entry", *streams)).ljust(512, b"\0")
    return header + directory + extra


def refused(path: Path, limits: Mapping[str, Any], reason: str, lang: str = "zh", **kw: Any) -> str:
    """Assert ``inspect`` refuses ``path`` for ``reason`` with a one-line message naming the file."""
    with pytest.raises(UnreadableError) as caught:
        inspect(path, limits, lang, **kw)
    err = caught.value
    assert err.reason == reason, str(err)
    assert err.path == str(path)
    message = str(err)
    assert path.name in message
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------
# good workbooks


def test_openpyxl_workbook_is_scanned(tmp_path, limits):
    result = inspect(openpyxl_book(tmp_path / "records.xlsx"), limits)

    assert isinstance(result, Inspection)
    assert (result.kind, result.date1904, result.would_lose) == ("xlsx", False, ())
    assert [(s.name, s.state, s.part) for s in result.sheets] == [
        ("记录", "visible", "xl/worksheets/sheet1.xml"),
        ("旧数据", "hidden", "xl/worksheets/sheet2.xml"),
        ("配置", "veryHidden", "xl/worksheets/sheet3.xml"),
    ]
    records = result.sheet("记录")
    assert (records.max_row, records.max_col) == (8, 4)
    assert records.hidden_rows == frozenset({3})
    assert records.formula_no_value == ("D7",)
    assert records.merged == ("A1:C1",)
    assert (result.sheet("配置").max_row, result.sheet("配置").max_col) == (0, 0)
    assert result.sheet("no such sheet") is None


def test_xlsxwriter_workbook_formula_with_cached_value_is_fine(tmp_path, limits):
    result = inspect(xlsxwriter_book(tmp_path / "records.xlsx"), limits)

    assert (result.kind, result.date1904) == ("xlsx", False)
    (sheet,) = result.sheets
    assert (sheet.name, sheet.part, sheet.state) == (
        "问题记录表",
        "xl/worksheets/sheet1.xml",
        "visible",
    )
    assert (sheet.max_row, sheet.max_col) == (6, 5)
    assert sheet.hidden_rows == frozenset({5})
    assert sheet.formula_no_value == ()
    assert sheet.merged == ()


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter"])
def test_1904_date_system_is_detected(tmp_path, limits, engine):
    path = tmp_path / "mac.xlsx"
    if engine == "openpyxl":
        openpyxl_book(path, epoch=CALENDAR_MAC_1904)
    else:
        xlsxwriter_book(path, date_1904=True)
    assert inspect(path, limits).date1904 is True


def test_sheet_lookup_ignores_case_like_excel(tmp_path, limits):
    wb = openpyxl.Workbook()
    wb.active.title = "Records"
    wb.save(tmp_path / "en.xlsx")
    assert inspect(tmp_path / "en.xlsx", limits).sheet("records").name == "Records"


def test_xlsm_is_recognised_by_its_vba_project(tmp_path, limits):
    src = openpyxl_book(tmp_path / "plain.xlsx")
    path = rewrite(
        src, tmp_path / "macro.xlsm", add={"xl/vbaProject.bin": safety.CFB_MAGIC + b"\0" * 504}
    )
    result = inspect(path, limits)
    assert result.kind == "xlsm"
    assert result.would_lose == ("macros",)


def test_features_openpyxl_would_lose_are_listed(tmp_path, limits):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "x"
    ws.protection.sheet = True
    wb.security = openpyxl.workbook.protection.WorkbookProtection(lockStructure=True)
    wb.save(tmp_path / "plain.xlsx")
    x14 = (
        b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
        b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        b'<x14:dataValidations count="1"><x14:dataValidation type="list"/></x14:dataValidations>'
        b"</ext></extLst></worksheet>"
    )
    mashup = '<?xml version="1.0" encoding="utf-16"?><DataMashup xmlns="x">AAAA</DataMashup>'
    path = rewrite(
        tmp_path / "plain.xlsx",
        tmp_path / "rich.xlsx",
        edits={
            SHEET1: lambda x: x.replace(
                b"</worksheet>", b'<legacyDrawingHF r:id="rId9"/>' + x14
            ).replace(b"<worksheet ", b'<worksheet xmlns:r="urn:r" ', 1)
        },
        add={
            "xl/drawings/drawing1.xml": b'<xdr:wsDr xmlns:xdr="urn:x"><xdr:twoCellAnchor>'
            b'<xdr:sp macro=""><xdr:txBody/></xdr:sp><xdr:pic><xdr:blipFill/></xdr:pic>'
            b"</xdr:twoCellAnchor></xdr:wsDr>",
            "xl/externalLinks/externalLink1.xml": b'<externalLink xmlns="urn:x"/>',
            "xl/pivotTables/pivotTable1.xml": b'<pivotTableDefinition xmlns="urn:x"/>',
            "customXml/item1.xml": b"\xff\xfe" + mashup.encode("utf-16-le"),
        },
    )
    assert inspect(path, limits).would_lose == (
        "shapes",
        "pictures",
        "header-footer-pictures",
        "x14-data-validations",
        "pivot-tables",
        "external-links",
        "power-query",
        "sheet-protection",
        "workbook-protection",
    )


def test_formula_cached_empty_string_is_a_value_but_shared_formula_child_is_not(tmp_path, limits):
    src = xlsxwriter_book(tmp_path / "src.xlsx")
    cells = (
        b'<row r="8"><c r="A8" t="str"><f>IF(1,"","x")</f><v></v></c>'
        b'<c r="B8"><f t="shared" ref="B8:B9" si="0">A1</f><v>3</v></c></row>'
        b'<row r="9"><c r="B9"><f t="shared" si="0"/></c></row></sheetData>'
    )
    path = rewrite(
        src, tmp_path / "formulas.xlsx", edits={SHEET1: lambda x: x.replace(b"</sheetData>", cells)}
    )
    sheet = inspect(path, limits).sheets[0]
    assert sheet.formula_no_value == ("B9",)
    assert sheet.max_row == 9


def test_rows_without_r_attribute_are_counted(tmp_path, limits):
    src = xlsxwriter_book(tmp_path / "src.xlsx")
    path = rewrite(
        src,
        tmp_path / "no_r.xlsx",
        edits={SHEET1: lambda x: re.sub(rb'(<row|<c) r="[A-Z]*\d+"', rb"\1", x)},
    )
    # four row elements, numbered implicitly (cells without r are not measured for width)
    assert inspect(path, limits).sheets[0].max_row == 4


# --------------------------------------------------------------------------------------------
# files that are not workbooks, or not whole


def test_empty_file(tmp_path, limits):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    message = refused(path, limits, "empty")
    assert "重新复制" in message
    assert sniff(path) == "empty"


def test_csv_renamed_to_xlsx(tmp_path, limits):
    path = tmp_path / "records.xlsx"
    path.write_text("问题编号,联系方式\nFW20240521001,13812345678\n", encoding="utf-8")
    message = refused(path, limits, "not-a-workbook")
    assert "另存为" in message and "CSV" in message
    assert "13812345678" not in message  # never echo content
    assert sniff(path) == "text"
    english = refused(path, limits, "not-a-workbook", lang="en")
    assert "Save As" in english


def test_html_renamed_to_xls(tmp_path, limits):
    path = tmp_path / "export.xls"
    path.write_text(
        "<html><body><table><tr><td>FW20240521001</td></tr></table></body></html>", "utf-8"
    )
    message = refused(path, limits, "not-a-workbook")
    assert "网页" in message
    assert sniff(path) == "html"


def test_unknown_binary_and_other_zip_are_not_workbooks(tmp_path, limits):
    blob = tmp_path / "photo.xlsx"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    refused(blob, limits, "not-a-workbook")
    assert sniff(blob) == "unknown"
    archive = tmp_path / "docs.xlsx"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("word/document.xml", "<w:document xmlns:w='urn:w'/>")
    refused(archive, limits, "not-a-workbook")


def test_truncated_upload(tmp_path, limits):
    good = openpyxl_book(tmp_path / "full.xlsx").read_bytes()
    path = tmp_path / "half.xlsx"
    path.write_bytes(good[: len(good) // 2])
    assert sniff(path) == "zip"
    message = refused(path, limits, "truncated")
    assert "上传" in message


def test_corrupt_member_fails_its_crc(tmp_path, limits):
    src = xlsxwriter_book(tmp_path / "src.xlsx")
    stored = rewrite(src, tmp_path / "stored.xlsx", compression=zipfile.ZIP_STORED)
    data = bytearray(stored.read_bytes())
    at = data.index(b"FW20240521001")  # inside the shared strings, stored uncompressed
    data[at : at + 2] = b"XX"
    path = tmp_path / "corrupt.xlsx"
    path.write_bytes(bytes(data))
    refused(path, limits, "truncated")


def test_missing_file(tmp_path, limits):
    refused(tmp_path / "gone.xlsx", limits, "cannot-open")


# --------------------------------------------------------------------------------------------
# compound files: legacy .xls and password-protected workbooks


def test_password_protected_workbook(tmp_path, limits):
    path = tmp_path / "locked.xlsx"
    path.write_bytes(cfb_file("EncryptionInfo", "EncryptedPackage"))
    assert sniff(path) == "cfb-encrypted"
    message = refused(path, limits, "encrypted")
    assert "密码" in message
    assert "password" in refused(path, limits, "encrypted", lang="en")


def test_legacy_xls_is_size_checked_only(tmp_path, limits):
    path = tmp_path / "old.xls"
    # "EncryptionInfo" as cell text (unaligned) is not a stream name
    path.write_bytes(cfb_file("Workbook", extra=b"\0\0\0" + "EncryptionInfo\0".encode("utf-16-le")))
    assert sniff(path) == "cfb"
    result = inspect(path, limits)
    assert (result.kind, result.sheets, result.would_lose) == ("xls", (), ())
    refused(path, {**limits, "max_file_mb": 0.0001}, "too-big")


def test_word_document_renamed_to_xls(tmp_path, limits):
    path = tmp_path / "letter.xls"
    path.write_bytes(cfb_file("WordDocument"))
    refused(path, limits, "not-a-workbook")


def test_xls_cut_short_is_truncated_not_another_document(tmp_path, limits, soffice):
    import subprocess

    wb = openpyxl.Workbook()
    for r in range(300):
        wb.active.append([f"FW20240521{r:03d}", "C0012", "问题描述" * 5])
    wb.save(tmp_path / "full.xlsx")
    subprocess.run(
        [soffice, "--headless", "--convert-to", "xls", "--outdir", str(tmp_path / "xls"),
         str(tmp_path / "full.xlsx")],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    whole = (tmp_path / "xls" / "full.xls").read_bytes()
    assert inspect(tmp_path / "xls" / "full.xls", limits).kind == "xls"
    cut = tmp_path / "cut.xls"
    cut.write_bytes(whole[: len(whole) // 3])  # an upload that stopped a third of the way
    refused(cut, limits, "truncated")


# --------------------------------------------------------------------------------------------
# unsafe content


@pytest.mark.parametrize(
    "member", [SHEET1, "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "docProps/core.xml"]
)
def test_doctype_in_any_xml_part_is_refused(tmp_path, limits, member):
    src = openpyxl_book(tmp_path / "src.xlsx")
    doctype = b'<?xml version="1.0"?><!-- note --><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>'
    path = rewrite(
        src,
        tmp_path / "doctype.xlsx",
        edits={member: lambda x: doctype + re.sub(rb"^<\?xml[^>]*\?>", b"", x)},
    )
    message = refused(path, limits, "unsafe-xml")
    assert "DOCTYPE" in message


def test_doctype_in_utf16_part_is_refused(tmp_path, limits):
    src = openpyxl_book(tmp_path / "src.xlsx")
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE worksheet><worksheet/>'
    path = rewrite(
        src, tmp_path / "utf16.xlsx", edits={SHEET1: b"\xff\xfe" + text.encode("utf-16-le")}
    )
    refused(path, limits, "unsafe-xml")


def test_too_many_zip_members(tmp_path, limits):
    src = openpyxl_book(tmp_path / "src.xlsx")
    path = rewrite(
        src, tmp_path / "many.xlsx", add={f"xl/media/pad{i}.bin": b"x" for i in range(40)}
    )
    message = refused(path, {**limits, "max_zip_members": 30}, "too-big")
    assert "30" in message
    assert inspect(path, limits).kind == "xlsx"  # fine under the default limit


def test_zip_bomb_by_compression_ratio(tmp_path, limits):
    src = openpyxl_book(tmp_path / "src.xlsx")
    path = rewrite(
        src, tmp_path / "bomb.xlsx", add={"xl/media/blank.bin": b" " * (50 * 1024 * 1024)}
    )
    assert path.stat().st_size < 1024 * 1024
    message = refused(path, limits, "too-big")
    assert "压缩" in message


def test_declared_uncompressed_size_and_file_size_limits(tmp_path, limits):
    path = openpyxl_book(tmp_path / "records.xlsx")
    refused(path, {**limits, "max_uncompressed_mb": 0.01}, "too-big")
    message = refused(path, {**limits, "max_file_mb": 0.001}, "too-big", lang="en")
    assert "MB" in message


def test_stray_cell_at_xfd1048576(tmp_path, limits):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "问题记录表"
    ws["A1"] = "问题编号"
    ws["XFD1048576"] = "x"
    path = tmp_path / "stray.xlsx"
    wb.save(path)
    assert path.stat().st_size < 10_000
    message = refused(path, limits, "too-many-cells")
    assert "XFD1048576" in message and "问题记录表" in message and "删除" in message
    assert "XFD1048576" in refused(path, limits, "too-many-cells", lang="en")


def test_merged_range_covering_the_sheet(tmp_path, limits):
    src = openpyxl_book(tmp_path / "src.xlsx")
    path = rewrite(
        src,
        tmp_path / "merged.xlsx",
        edits={SHEET1: lambda x: x.replace(b'ref="A1:C1"', b'ref="A1:XFD1048576"')},
    )
    message = refused(path, limits, "too-many-cells")
    assert "A1:XFD1048576" in message and "合并" in message


def test_many_merged_ranges_each_under_the_limit_are_refused_in_total(tmp_path, limits):
    # six ranges of 20 columns × 40,000 rows = 800,000 cells each: 4.8 million in all
    ranges = b"".join(
        b'<mergeCell ref="A%d:T%d"/>' % (1 + i * 40_000, (i + 1) * 40_000) for i in range(6)
    )
    path = rewrite(
        openpyxl_book(tmp_path / "src.xlsx"),
        tmp_path / "many.xlsx",
        edits={SHEET1: lambda x: x.replace(b'<mergeCell ref="A1:C1" />', ranges)},
    )
    assert ranges in zipfile.ZipFile(path).read(SHEET1)
    message = refused(path, limits, "too-many-cells")
    assert "合并" in message


def test_messages_do_not_echo_a_phone_number_in_the_file_name(tmp_path, limits):
    path = tmp_path / "张先生13812345678.xlsx"
    path.write_bytes(b"")
    with pytest.raises(UnreadableError) as caught:
        inspect(path, limits)
    assert "13812345678" not in str(caught.value)
    assert "****5678" in str(caught.value)


# --------------------------------------------------------------------------------------------
# OpenDocument spreadsheets


def ods_file(
    path: Path,
    content: bytes = b'<office:document-content xmlns:office="urn:o"/>',
    manifest: bytes = b'<manifest:manifest xmlns:manifest="urn:m"/>',
) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def test_ods_gets_zip_and_xml_checks_only(tmp_path, limits):
    result = inspect(ods_file(tmp_path / "libre.ods"), limits)
    assert (result.kind, result.sheets, result.date1904) == ("ods", (), False)
    refused(ods_file(tmp_path / "dtd.ods", content=b"<!DOCTYPE x><x/>"), limits, "unsafe-xml")
    locked = ods_file(tmp_path / "locked.ods", manifest=b"<m><manifest:encryption-data/></m>")
    refused(locked, limits, "encrypted")


# --------------------------------------------------------------------------------------------
# the streamed scan across chunk boundaries


def test_scan_is_the_same_whatever_the_chunk_boundaries(tmp_path, limits, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "记录"
    for r in range(1, 401):
        ws.append([f"FW20240521{r:03d}", "C0012", "P1", "问题描述" * (r % 7), r])
    for r in (5, 137, 288, 399):
        ws.row_dimensions[r].hidden = True
    for ref in ("F9", "F150", "F333"):
        ws[ref] = "=E1*2"
    ws["AB250"] = "stray"
    for ref, shown in (("G10", "#N/A"), ("G201", "#DIV/0!"), ("B398", "#REF!")):
        ws[ref] = shown  # openpyxl stores these as error cells (t="e")
    for rng in ("A1:B1", "C200:D201", "A390:E390"):
        ws.merge_cells(rng)
    path = tmp_path / "long.xlsx"
    wb.save(path)

    whole = inspect(path, limits).sheets[0]
    assert (whole.max_row, whole.max_col) == (400, 28)
    assert whole.hidden_rows == frozenset({5, 137, 288, 399})
    assert whole.formula_no_value == ("F9", "F150", "F333")
    assert whole.error_values == (("G10", "#N/A"), ("G201", "#DIV/0!"), ("B398", "#REF!"))
    assert set(whole.merged) == {"A1:B1", "C200:D201", "A390:E390"}
    assert safety.inspect_in_two_steps(path, limits)().sheets[0] == whole

    monkeypatch.setattr(safety, "OVERLAP", 300)  # longer than any cell in this sheet
    for chunk_size in (7, 61, 997, 4096):
        assert inspect(path, limits, chunk_size=chunk_size).sheets[0] == whole, chunk_size
        assert safety.inspect_in_two_steps(path, limits, chunk_size=chunk_size)().sheets[0] == whole


def test_stray_cell_found_across_chunk_boundaries(tmp_path, limits, monkeypatch):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, 3000):
        ws.cell(r, 1, r)
    ws["XFD2999"] = "x"  # 2999 x 16384 cells > 30,000,000
    wb.save(tmp_path / "wide.xlsx")
    monkeypatch.setattr(safety, "OVERLAP", 200)
    assert "XFD2999" in refused(tmp_path / "wide.xlsx", limits, "too-many-cells", chunk_size=13)
