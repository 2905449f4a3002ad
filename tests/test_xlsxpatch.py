"""Cell patching keeps everything else of the workbook: parts, sheets, formats, drop-downs."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import python_calamine
import xlsxwriter
from openpyxl.styles import PatternFill

from aftersales_xl.errors import LockedError, WriteError
from aftersales_xl.writing import xlsxpatch
from aftersales_xl.writing.xlsxpatch import (
    check_patchable,
    patch_cells,
    sheet_part,
    sheet_parts,
    write_patched,
)

SHEET = "问题记录表"

X14_VALIDATION = (
    b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
    b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    b'<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    b'<x14:dataValidation type="list" allowBlank="1" showErrorMessage="1"><x14:formula1>'
    b"<xm:f>\xe9\x80\x89\xe9\xa1\xb9!$A$1:$A$6</xm:f></x14:formula1><xm:sqref>E2:E100</xm:sqref>"
    b"</x14:dataValidation></x14:dataValidations></ext></extLst>"
)
MC_ROOT = (
    b' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac"'
    b' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'
)
# a 1x1 transparent PNG for a header picture
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)


def rezip(path: Path, replace: dict[str, bytes]) -> None:
    """Rewrite ``path`` with some members replaced (order and other members kept)."""
    with zipfile.ZipFile(path) as z:
        members = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            z.writestr(info, replace.get(info.filename, data))


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def grid(path: Path, sheet: str = SHEET) -> list[list]:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)


@pytest.fixture
def rich_xlsx(tmp_path: Path) -> Path:
    """An Excel-like workbook: shared strings, a text box, a comment, rich text, a header
    picture, a list drop-down, an x14 cross-sheet drop-down, mc:Ignorable, x14ac rows."""
    path = tmp_path / "rich.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(SHEET)
    lists = wb.add_worksheet("选项")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm", "bg_color": "#FFF2CC"})
    bold = wb.add_format({"bold": True})
    for c, h in enumerate(["问题编号", "联系人", "联系方式", "问题描述", "反馈渠道", "接收时间"]):
        ws.write_string(0, c, h, bold)
    ws.write_string(1, 1, "张三丰")
    ws.write_number(1, 2, 13800138000)
    ws.write_string(1, 3, "客户电话13800138000")
    ws.write_string(1, 4, "电话")
    ws.write_number(1, 5, 45433.5, date_fmt)
    ws.write_string(2, 0, "FW20240521001")
    ws.write_string(2, 1, "李四")
    ws.write_string(2, 2, "lisi@example.com")
    ws.write_rich_string(2, 3, "加粗", bold, "说明", "文字")
    ws.write_number(2, 5, 45434.25, date_fmt)
    ws.insert_textbox("H2", "填写说明：联系方式须脱敏")
    ws.write_comment("B2", "请只写姓")
    ws.data_validation("E2:E50", {"validate": "list", "source": ["电话", "邮件", "现场"]})
    ws.set_header("&L&G", {"image_left": "logo.png", "image_data_left": io.BytesIO(PNG)})
    ws.set_column(2, 2, 18)
    for r, v in enumerate(["电话", "在线客服", "邮件", "现场", "公众号", "其他"]):
        lists.write_string(r, 0, v)
    wb.close()
    part = "xl/worksheets/sheet1.xml"
    xml = members(path)[part]
    xml = xml.replace(b"<worksheet ", b"<worksheet" + MC_ROOT + b" ", 1)
    xml = re.sub(rb'(<row r="\d+")', rb'\1 x14ac:dyDescent="0.25"', xml)
    xml = xml.replace(b"</worksheet>", X14_VALIDATION + b"</worksheet>")
    rezip(path, {part: xml})
    return path


def test_sheet_parts_resolves_workbook_relationships(rich_xlsx: Path) -> None:
    assert sheet_parts(rich_xlsx) == {
        SHEET: "xl/worksheets/sheet1.xml",
        "选项": "xl/worksheets/sheet2.xml",
    }
    with pytest.raises(WriteError, match="没有名为“Sheet9”的工作表"):
        sheet_part(rich_xlsx, "Sheet9")
    with pytest.raises(WriteError, match='no worksheet named "Sheet9"'):
        sheet_part(rich_xlsx, "Sheet9", lang="en")


def test_patch_changes_only_the_target_cells(rich_xlsx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "rich.xlsx"
    out.parent.mkdir()
    before = grid(rich_xlsx)
    part = sheet_part(rich_xlsx, SHEET)
    patch_cells(
        rich_xlsx, out, part, {"B2": "张**", "C2": "****8000", "A2": "FW20240521002", "C3": None}
    )

    after = grid(out)
    expected = [list(r) for r in before]
    expected[1][0:3] = ["FW20240521002", "张**", "****8000"]
    expected[2][2] = ""
    assert after == expected
    assert grid(out, "选项") == grid(rich_xlsx, "选项")


def test_patch_keeps_every_other_part_byte_identical(rich_xlsx: Path, tmp_path: Path) -> None:
    out = tmp_path / "masked.xlsx"
    part = sheet_part(rich_xlsx, SHEET)
    patch_cells(rich_xlsx, out, part, {"B2": "张**", "C2": "****8000"})
    src, dst = members(rich_xlsx), members(out)
    assert list(dst) == list(src)  # same parts, same order
    assert {n for n in src if src[n] != dst[n]} == {part}
    # the text box, comment, header picture and shared strings are among the copied parts
    assert any(n.startswith("xl/drawings/drawing") for n in dst)
    assert any(n.startswith("xl/comments") for n in dst)
    assert any(n.startswith("xl/media/") for n in dst)


def test_patch_keeps_sheet_xml_outside_the_cells(rich_xlsx: Path, tmp_path: Path) -> None:
    out = tmp_path / "masked.xlsx"
    part = sheet_part(rich_xlsx, SHEET)
    patch_cells(rich_xlsx, out, part, {"B2": "张**", "D3": "已改"})
    old, new = members(rich_xlsx)[part], members(out)[part]
    assert X14_VALIDATION in new  # the x14 cross-sheet drop-down
    assert new.startswith(old[: old.index(b"<sheetData>")])  # root with mc:Ignorable, views, cols
    assert new.endswith(old[old.index(b"</sheetData>") :])  # validations, drawing, header, extLst
    assert new.count(b'x14ac:dyDescent="0.25"') == old.count(b'x14ac:dyDescent="0.25"')
    # the changed cell kept its style and became an inline string
    assert re.search(rb'<c r="B2"( s="\d+")? t="inlineStr"><is><t xml:space="preserve">', new)


@pytest.mark.filterwarnings("ignore:Data Validation extension is not supported")
def test_patched_copy_keeps_formats_and_validation_as_openpyxl_sees_them(
    rich_xlsx: Path, tmp_path: Path
) -> None:
    out = tmp_path / "masked.xlsx"
    patch_cells(rich_xlsx, out, sheet_part(rich_xlsx, SHEET), {"B2": "张**"})
    a = openpyxl.load_workbook(rich_xlsx)[SHEET]
    b = openpyxl.load_workbook(out)[SHEET]
    assert b["F2"].number_format == a["F2"].number_format == "yyyy-mm-dd hh:mm"
    assert b["F2"].fill.fgColor.rgb == a["F2"].fill.fgColor.rgb
    assert b["A1"].font.bold and b.column_dimensions["C"].width == a.column_dimensions["C"].width
    assert [(str(v.sqref), v.formula1) for v in b.data_validations.dataValidation] == [
        ("E2:E50", '"电话,邮件,现场"')
    ]
    assert b["B2"].comment is not None and b["B2"].value == "张**"


def test_new_cells_go_in_column_order_and_new_rows_in_row_order(tmp_path: Path) -> None:
    src = tmp_path / "sparse.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["B2"], ws["D2"], ws["A5"] = "b", "d", "a5"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    patch_cells(
        src,
        out,
        sheet_part(src, SHEET),
        {"C2": "c", "A2": "a", "E2": "e", "B4": "new", "A7": "end", "A1": "top"},
    )
    assert grid(out) == [
        ["top", "", "", "", ""],
        ["a", "b", "c", "d", "e"],
        ["", "", "", "", ""],
        ["", "new", "", "", ""],
        ["a5", "", "", "", ""],
        ["", "", "", "", ""],
        ["end", "", "", "", ""],
    ]
    xml = members(out)[sheet_part(src, SHEET)].decode()
    assert re.findall(r'<row r="(\d+)"', xml) == ["1", "2", "4", "5", "7"]
    assert re.findall(r'<c r="([A-Z]+)2"', xml) == ["A", "B", "C", "D", "E"]
    assert '<dimension ref="A1:E7"' in xml


def test_new_cell_takes_the_column_format(tmp_path: Path) -> None:
    src = tmp_path / "colfmt.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = "问题编号"
    ws.column_dimensions["A"].number_format = "@"
    ws.column_dimensions["A"].fill = PatternFill("solid", fgColor="FFDDEBF7")
    ws["B2"] = "x"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    patch_cells(src, out, sheet_part(src, SHEET), {"A2": "FW20240521001"})
    cell = openpyxl.load_workbook(out)[SHEET]["A2"]
    assert cell.value == "FW20240521001"
    assert cell.number_format == "@"
    assert cell.fill.fgColor.rgb == "FFDDEBF7"


def test_text_is_escaped_and_reads_back_exactly(tmp_path: Path) -> None:
    src = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.active["A1"] = "x"
    wb.save(src)
    tricky = "  <a & b> _x000D_ 行1\n行2\r\t末尾  "
    out = tmp_path / "out.xlsx"
    patch_cells(src, out, sheet_part(src, SHEET), {"A2": tricky})
    assert grid(out)[1][0] == tricky
    assert openpyxl.load_workbook(out)[SHEET]["A2"].value.startswith("  <a & b> ")


def test_prefixed_namespace_and_rows_without_r(tmp_path: Path) -> None:
    src = tmp_path / "prefixed.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.save(src)
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{ns}"><x:sheetData>'
        '<x:row><x:c t="inlineStr"><x:is><x:t>a1</x:t></x:is></x:c></x:row>'
        "<x:row><x:c><x:v>1</x:v></x:c><x:c><x:v>2</x:v></x:c></x:row>"
        "<x:row><x:c><x:v>3</x:v></x:c></x:row>"
        "</x:sheetData></x:worksheet>"
    ).encode()
    part = sheet_part(src, SHEET)
    rezip(src, {part: xml})
    out = tmp_path / "out.xlsx"
    patch_cells(src, out, part, {"B2": "b2", "C1": "c1"})
    assert grid(out) == [["a1", "", "c1"], [1.0, "b2", ""], [3.0, "", ""]]
    assert b'<x:c r="C1"' in members(out)[part]


def test_empty_sheet_data(tmp_path: Path) -> None:
    src = tmp_path / "empty.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.create_sheet("其他")["A1"] = "keep"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    patch_cells(src, out, sheet_part(src, SHEET), {"B3": "new"})
    assert grid(out) == [["", ""], ["", ""], ["", "new"]]
    assert grid(out, "其他") == [["keep"]]


def test_in_place_replaces_the_file(rich_xlsx: Path) -> None:
    patch_cells(rich_xlsx, rich_xlsx, sheet_part(rich_xlsx, SHEET), {"B3": "李*"})
    assert grid(rich_xlsx)[2][1] == "李*"
    assert [p.name for p in rich_xlsx.parent.iterdir()] == ["rich.xlsx"]  # no temp file left


def test_failed_verification_writes_nothing(rich_xlsx: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(xlsxpatch, "_xml_text", lambda value: "WRONG")
    out = tmp_path / "out" / "rich.xlsx"
    out.parent.mkdir()
    with pytest.raises(WriteError, match=r"写出后核对失败（B2）"):
        patch_cells(rich_xlsx, out, sheet_part(rich_xlsx, SHEET), {"B2": "张**"})
    assert list(out.parent.iterdir()) == []


def test_existing_output_is_untouched_when_writing_fails(rich_xlsx: Path, tmp_path: Path) -> None:
    src = tmp_path / "formula.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.active["A2"] = "=1+1"
    wb.save(src)
    out = tmp_path / "out" / "formula.xlsx"
    out.parent.mkdir()
    out.write_bytes(b"previous output")
    with pytest.raises(WriteError, match="单元格 A2 是公式，未修改"):
        patch_cells(src, out, sheet_part(src, SHEET), {"A2": "FW20240521001"})
    assert out.read_bytes() == b"previous output"
    assert [p.name for p in out.parent.iterdir()] == ["formula.xlsx"]


def test_xlsm_keeps_its_macros_and_extension(tmp_path: Path) -> None:
    src = tmp_path / "macro.xlsm"
    vba = tmp_path / "vbaProject.bin"
    vba.write_bytes(b"\xd0\xcf\x11\xe0 not a real project, copied as is")
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet(SHEET)
    ws.write_string(0, 0, "联系人")
    ws.write_string(1, 0, "张三")
    wb.add_vba_project(str(vba))
    wb.close()
    out = tmp_path / "out" / "macro.xlsm"
    out.parent.mkdir()
    patch_cells(src, out, sheet_part(src, SHEET), {"A2": "张*"})
    assert members(out)["xl/vbaProject.bin"] == vba.read_bytes()
    assert grid(out) == [["联系人"], ["张*"]]
    with pytest.raises(WriteError, match="keep the input's extension .xlsm"):
        patch_cells(
            src, tmp_path / "out" / "macro.xlsx", sheet_part(src, SHEET), {"A2": "张*"}, lang="en"
        )


@pytest.mark.parametrize("name", ["old.xls", "calc.ods", "data.csv"])
def test_formats_that_cannot_be_patched_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(WriteError, match="另存为 .xlsx"):
        check_patchable(tmp_path / name)
    with pytest.raises(WriteError, match="save it as .xlsx"):
        check_patchable(tmp_path / name, lang="en")


def test_libreoffice_saved_sample_can_be_patched(samples_dir: Path, tmp_path: Path) -> None:
    src = samples_dir / "06_libreoffice_saved.xlsx"
    name, part = next(iter(sheet_parts(src).items()))
    before = grid(src, name)
    out = tmp_path / src.name
    patch_cells(src, out, part, {"A2": "FW20240521009"})
    after = grid(out, name)
    before[1][0] = "FW20240521009"
    assert after == before


# -- output folder, in place, lock files -----------------------------------------------------
def test_write_patched_into_a_new_folder(rich_xlsx: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "masked" / "week21"
    out, backup = write_patched(
        rich_xlsx, sheet_part(rich_xlsx, SHEET), {"B2": "张**"}, out_dir=out_dir
    )
    assert (out, backup) == (out_dir / "rich.xlsx", None)
    assert grid(out)[1][1] == "张**"
    assert grid(rich_xlsx)[1][1] == "张三丰"  # the original is never touched


def test_output_folder_may_not_be_the_source_folder(rich_xlsx: Path) -> None:
    with pytest.raises(WriteError, match="--in-place"):
        write_patched(
            rich_xlsx, sheet_part(rich_xlsx, SHEET), {"B2": "张**"}, out_dir=rich_xlsx.parent
        )
    assert grid(rich_xlsx)[1][1] == "张三丰"


def test_in_place_keeps_a_backup_first(rich_xlsx: Path) -> None:
    original = rich_xlsx.read_bytes()
    out, backup = write_patched(
        rich_xlsx,
        sheet_part(rich_xlsx, SHEET),
        {"B2": "张**"},
        in_place=True,
        now=datetime(2024, 5, 21, 14, 30, 5),
    )
    assert out == rich_xlsx
    assert backup == rich_xlsx.with_name("rich.bak-20240521-143005.xlsx")
    assert backup.read_bytes() == original
    assert grid(rich_xlsx)[1][1] == "张**"
    _, second = write_patched(
        rich_xlsx,
        sheet_part(rich_xlsx, SHEET),
        {"B3": "李*"},
        in_place=True,
        now=datetime(2024, 5, 21, 14, 30, 5),
    )
    assert second.name == "rich.bak-20240521-143005-2.xlsx"


@pytest.mark.parametrize("lock", ["~$rich.xlsx", ".~lock.rich.xlsx#"])
def test_in_place_refused_while_the_file_is_open(rich_xlsx: Path, lock: str) -> None:
    (rich_xlsx.parent / lock).write_bytes(b"owner")
    original = rich_xlsx.read_bytes()
    with pytest.raises(LockedError, match="正在被其他程序打开（Excel/WPS/LibreOffice"):
        write_patched(rich_xlsx, sheet_part(rich_xlsx, SHEET), {"B2": "张**"}, in_place=True)
    assert rich_xlsx.read_bytes() == original
    assert sorted(p.name for p in rich_xlsx.parent.iterdir()) == sorted([lock, "rich.xlsx"])


def test_failed_in_place_write_removes_its_backup(tmp_path: Path) -> None:
    src = tmp_path / "formula.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.active["A2"] = "=1+1"
    wb.save(src)
    original = src.read_bytes()
    with pytest.raises(WriteError):
        write_patched(src, sheet_part(src, SHEET), {"A2": "x"}, in_place=True)
    assert src.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["formula.xlsx"]


# -- old text left in the shared-strings table -------------------------------------------------
def shared_strings(path: Path) -> str:
    return members(path)["xl/sharedStrings.xml"].decode()


def test_scrub_removes_replaced_text_nothing_else_uses(tmp_path: Path) -> None:
    src = tmp_path / "shared.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet(SHEET)
    other = wb.add_worksheet("其他")
    ws.write_string(0, 0, "联系人")
    ws.write_string(1, 0, "张三丰")  # only here: must disappear from the file
    ws.write_string(2, 0, "王五")  # also on the other sheet: must stay there
    ws.write_string(3, 0, "王五")
    other.write_string(0, 0, "王五")
    wb.close()
    part = sheet_part(src, SHEET)
    out = tmp_path / "out" / "shared.xlsx"
    out.parent.mkdir()
    patch_cells(src, out, part, {"A2": "张**", "A3": "王*"}, scrub_shared_strings=True)
    assert "张三丰" not in shared_strings(out)
    assert "王五" in shared_strings(out)
    assert grid(out) == [["联系人"], ["张**"], ["王*"], ["王五"]]
    assert grid(out, "其他") == [["王五"]]
    # without scrubbing the old text is merely unused
    plain = tmp_path / "out2" / "shared.xlsx"
    plain.parent.mkdir()
    patch_cells(src, plain, part, {"A2": "张**"})
    assert "张三丰" in shared_strings(plain)


# -- hyperlinks and comments ---------------------------------------------------------------------
@pytest.fixture
def linked_xlsx(tmp_path: Path) -> Path:
    """Hyperlinks as Excel writes them: mailto/tel/https targets in the sheet's relationships,
    an internal link (location only), one range link; and a comment holding a phone."""
    path = tmp_path / "links.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(SHEET)
    wb.add_worksheet("选项")
    for c, h in enumerate(["问题编号", "联系人", "联系方式", "问题描述", "备注"]):
        ws.write_string(0, c, h)
    ws.write_url(1, 2, "mailto:zhang.san@example.com", string="zhang.san@example.com")
    ws.write_url(2, 2, "mailto:TEL", string="13800138000")  # xlsxwriter knows no tel:
    ws.write_url(1, 3, "https://crm.example.com/tickets/42", string="工单 42")
    ws.write_url(1, 4, "internal:'选项'!A1", string="见选项")
    ws.write_url(3, 3, "https://example.com/a", string="a")
    ws.write_url(4, 3, "mailto:lisi@corp.cn", string="lisi@corp.cn")
    ws.write_comment("B2", "客户说可以打 13800138000，或发 lisi@corp.cn")
    wb.close()
    rels, part = "xl/worksheets/_rels/sheet1.xml.rels", "xl/worksheets/sheet1.xml"
    rezip(
        path,
        {
            rels: members(path)[rels].replace(b"mailto:TEL", b"tel:13800138000"),
            part: members(path)[part].replace(b'ref="D5"', b'ref="D5:E5"'),
        },
    )
    return path


def links(path: Path) -> dict[str, tuple[str | None, str | None]]:
    ws = openpyxl.load_workbook(path)[SHEET]
    return {
        c.coordinate: (c.hyperlink.target, c.hyperlink.location)
        for row in ws.iter_rows()
        for c in row
        if c.hyperlink is not None
    }


def test_dropped_hyperlinks_lose_their_relationship_too(linked_xlsx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    patch_cells(
        linked_xlsx,
        out,
        "xl/worksheets/sheet1.xml",
        {"C2": "z***@example.com", "C3": "****8000"},
        drop_hyperlinks=["C2", "C3", "E2"],
    )
    assert links(out) == {
        "D2": ("https://crm.example.com/tickets/42", None),
        "D4": ("https://example.com/a", None),
        "D5": ("mailto:lisi@corp.cn", None),
        "E5": ("mailto:lisi@corp.cn", None),
    }
    before, after = members(linked_xlsx), members(out)
    rels = "xl/worksheets/_rels/sheet1.xml.rels"
    assert b"zhang.san" not in after[rels] and b"13800138000" not in after[rels]
    assert b"crm.example.com" in after[rels]
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"xl/worksheets/sheet1.xml", rels}
    assert grid(out)[1][2] == "z***@example.com"


def test_dropping_every_hyperlink_removes_the_element(linked_xlsx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    patch_cells(
        linked_xlsx,
        out,
        "xl/worksheets/sheet1.xml",
        {},
        drop_hyperlinks=["C2", "C3", "D2", "E2", "D4", "E5"],
    )
    xml = members(out)["xl/worksheets/sheet1.xml"]
    assert b"hyperlink" not in xml  # an empty <hyperlinks/> is not allowed
    assert links(out) == {}
    rels = members(out)["xl/worksheets/_rels/sheet1.xml.rels"]
    assert b"/hyperlink" not in rels and b"comments1.xml" in rels  # the comments still linked
    assert openpyxl.load_workbook(out)[SHEET]["B2"].comment is not None


def test_comment_text_is_rewritten_and_verified(linked_xlsx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    patch_cells(
        linked_xlsx,
        out,
        "xl/worksheets/sheet1.xml",
        {},
        comment_text=lambda t: t.replace("13800138000", "****8000").replace("lisi", "l***"),
    )
    comment = openpyxl.load_workbook(out)[SHEET]["B2"].comment
    assert comment.text == "客户说可以打 ****8000，或发 l***@corp.cn"
    assert xlsxpatch.sheet_comments(out, "xl/worksheets/sheet1.xml") == {
        "B2": "客户说可以打 ****8000，或发 l***@corp.cn"
    }
    before, after = members(linked_xlsx), members(out)
    assert {n for n in before if before[n] != after[n]} == {"xl/comments1.xml"}


def test_a_phone_split_across_comment_runs_is_rewritten_whole(tmp_path: Path) -> None:
    path = tmp_path / "runs.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(SHEET)
    ws.write_string(0, 0, "问题编号")
    ws.write_comment("A1", "PLACEHOLDER")
    wb.close()
    xml = members(path)["xl/comments1.xml"]
    runs = b'<r><t xml:space="preserve">call 138</t></r><r><rPr><b/></rPr><t>00138000</t></r>'
    xml = re.sub(rb"<text>.*?</text>", b"<text>" + runs + b"</text>", xml, flags=re.S)
    rezip(path, {"xl/comments1.xml": xml})
    out = tmp_path / "out.xlsx"
    fix = lambda t: t.replace("13800138000", "****8000")  # noqa: E731
    patch_cells(path, out, "xl/worksheets/sheet1.xml", {}, comment_text=fix)
    assert openpyxl.load_workbook(out)[SHEET]["A1"].comment.text == "call ****8000"


def test_two_inputs_for_one_output_are_refused(tmp_path: Path) -> None:
    a, b = Path("a/x.xlsx"), Path("b/X.xlsx")
    with pytest.raises(WriteError, match="会写到同一个输出文件"):
        xlsxpatch.check_distinct_outputs([a, b], tmp_path / "out", in_place=False)
    xlsxpatch.check_distinct_outputs([a, Path("b/y.xlsx")], tmp_path / "out", in_place=False)
    xlsxpatch.check_distinct_outputs([a, b], None, in_place=True)


def test_threaded_comments_are_rewritten_too(linked_xlsx: Path, tmp_path: Path) -> None:
    """Excel 365 keeps a comment thread in xl/threadedComments/ besides the legacy note."""
    threaded = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<ThreadedComments '
        b'xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        b'<threadedComment ref="B2" dT="2024-05-21T09:00:00.00" personId="{1}" id="{2}">'
        b"<text>\xe5\x9b\x9e\xe7\x94\xb5 13912345678 &amp; ok</text></threadedComment>"
        b'<threadedComment ref="B2" dT="2024-05-21T09:05:00.00" personId="{1}" id="{3}" '
        b'parentId="{2}"><text>done</text></threadedComment></ThreadedComments>'
    )
    rels = "xl/worksheets/_rels/sheet1.xml.rels"
    link = (
        b'<Relationship Id="rIdT" Target="../threadedComments/threadedComment1.xml" Type="'
        b'http://schemas.microsoft.com/office/2017/10/relationships/threadedComment"/>'
    )
    with zipfile.ZipFile(linked_xlsx) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts[rels] = parts[rels].replace(b"</Relationships>", link + b"</Relationships>")
    parts["xl/threadedComments/threadedComment1.xml"] = threaded
    with zipfile.ZipFile(linked_xlsx, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    out = tmp_path / "out.xlsx"
    fix = lambda t: t.replace("13800138000", "****8000").replace("13912345678", "****5678")  # noqa: E731
    patch_cells(linked_xlsx, out, "xl/worksheets/sheet1.xml", {}, comment_text=fix)
    assert xlsxpatch.sheet_comments(out, "xl/worksheets/sheet1.xml") == {
        "B2": "客户说可以打 ****8000，或发 lisi@corp.cn",
        "B2#2": "回电 ****5678 & ok",
        "B2#3": "done",
    }
    assert b"13912345678" not in b"".join(members(out).values())


def test_a_link_left_without_its_relationship_fails_verification(
    linked_xlsx: Path, tmp_path: Path, monkeypatch
) -> None:
    every_link = re.compile(rb"<Relationship [^>]*/hyperlink\"[^>]*/>")
    monkeypatch.setattr(
        xlsxpatch, "_drop_relationships", lambda data, ids: every_link.sub(b"", data)
    )
    out = tmp_path / "out.xlsx"
    with pytest.raises(WriteError, match="核对失败"):
        patch_cells(linked_xlsx, out, "xl/worksheets/sheet1.xml", {}, drop_hyperlinks=["C2"])
    assert not out.exists()
