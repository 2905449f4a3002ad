"""Masking rules, idempotence, and masked copies of real workbooks that keep everything else."""

from __future__ import annotations

import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import python_calamine
from builders import record_row, record_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersales_xl.config import Policy, load_policy
from aftersales_xl.jobs.mask import mask_workbooks
from aftersales_xl.masking import CONTACT, NAME, TEXT, mask_frame, mask_value
from aftersales_xl.pii import contact_unmasked, find_pii, name_unmasked

RAW = {
    "names": ["张三丰", "李四", "欧阳娜娜", "John Smith"],
    "phones": ["13800138000", "13912345678", "010-62345678", "13700137000"],
    "emails": ["zhang.san@example.com", "lisi@corp.cn"],
    "id": "11010519491231002X",
}


# -- the rules, one by one -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三丰", "张**"),
        ("李四", "李*"),
        ("欧阳娜娜", "欧***"),
        ("John Smith", "J*** *****"),
        (" 张三 ", "张*"),
        ("张三先生", "张*先生"),
        ("王总工", "王*工"),
        # already masked: unchanged
        ("张*", "张*"),
        ("李**", "李**"),
        ("J***", "J***"),
        ("张先生", "张先生"),
        ("王总", "王总"),
    ],
)
def test_contact_name(value: str, masked: str, policy: Policy) -> None:
    assert mask_value(NAME, value, policy) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13800138000", "****8000"),
        ("138 0013 8000", "****8000"),
        ("+86 138-0013-8000", "****8000"),
        ("010-62345678", "****5678"),
        ("(010) 6234 5678", "****5678"),
        ("0755-86012345-801", "****5801"),
        ("zhang@example.com", "z***@example.com"),
        ("zhang.san@163.com", "z***@163.com"),
        ("邮箱:lisi@corp.cn", "邮箱:l***@corp.cn"),
        ("13800138000 / zhang@example.com", "****8000 / z***@example.com"),
        ("13800138000,13912345678", "****8000,****5678"),
        ("QQ 123456789", "QQ ****6789"),
        # already masked: unchanged
        ("****5678", "****5678"),
        ("138****5678", "138****5678"),
        ("z***@example.com", "z***@example.com"),
        ("5678", "5678"),
    ],
)
def test_contact(value: str, masked: str, policy: Policy) -> None:
    assert mask_value(CONTACT, value, policy) == masked


@pytest.mark.parametrize("number", [13800138000, 13800138000.0, 8613800138000.0])
def test_phones_stored_as_numbers(number: float, policy: Policy) -> None:
    assert mask_value(CONTACT, number, policy) == "****8000"
    assert mask_value(TEXT, number, policy) == "****8000"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("客户电话13800138000，请回电", "客户电话****8000，请回电"),
        ("座机 010-62345678 转客服", "座机 ****5678 转客服"),
        ("发到 zhang.san@example.com 了", "发到 z***@example.com 了"),
        ("身份证 11010519491231002X 已核验", "身份证 1*************002X 已核验"),
        # order numbers and other digits are not personal data
        ("订单号 202405210012345678 已退款", "订单号 202405210012345678 已退款"),
        ("订单 20240501001，版本 V2.1，耗时 45 分钟", "订单 20240501001，版本 V2.1，耗时 45 分钟"),
        ("身份证 110105194912310021 校验位不对", "身份证 110105194912310021 校验位不对"),
        ("没有个人信息", "没有个人信息"),
    ],
)
def test_free_text(value: str, masked: str, policy: Policy) -> None:
    assert mask_value(TEXT, value, policy) == masked


def test_blank_and_dates_are_left_alone(policy: Policy) -> None:
    assert mask_value(CONTACT, None, policy) == ""
    assert mask_value(TEXT, "   ", policy) == "   "
    assert mask_value(TEXT, datetime(2024, 5, 21), policy) == ""
    with pytest.raises(ValueError, match="unknown mask kind"):
        mask_value("phone", "13800138000", policy)


def test_mask_style_is_policy(tmp_path: Path) -> None:
    cfg = tmp_path / "xlcheck.toml"
    cfg.write_text(
        '[mask]\nchar = "#"\nname_keep = 1\nphone_keep_last = 3\nemail_keep = 2\n', "utf-8"
    )
    policy = load_policy(cfg)
    assert mask_value(NAME, "张三丰", policy) == "张##"
    assert mask_value(CONTACT, "13800138000", policy) == "####000"
    assert mask_value(CONTACT, "zhang@example.com", policy) == "zh###@example.com"
    assert mask_value(TEXT, "电话13800138000", policy) == "电话####000"
    assert mask_value(CONTACT, "####000", policy) == "####000"


# -- idempotence, and agreement with what the validator calls masked ---------------------------
_pieces = st.sampled_from(
    [
        "13800138000", "+86 139 1234 5678", "010-62345678", "(0755)86012345", "12345",
        "zhang@example.com", "a.b@x.cn", "@", "*", "****", " ", "-", "/", ",", "，",
        "张", "三", "丰", "先生", "总", "J", "ohn", "11010519491231002X", "2024052100123",
        "订单", "电话", "邮箱:", "0", "9", "\n", "、", "李四",
    ]
)  # fmt: skip
_texts = st.lists(_pieces, max_size=8).map("".join) | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(value=_texts)
def test_masking_is_idempotent_and_satisfies_the_validator(value: str) -> None:
    policy = load_policy(search_cwd=False)
    name = mask_value(NAME, value, policy)
    contact = mask_value(CONTACT, value, policy)
    text = mask_value(TEXT, value, policy)
    assert mask_value(NAME, name, policy) == name
    assert mask_value(CONTACT, contact, policy) == contact
    assert mask_value(TEXT, text, policy) == text
    assert not name_unmasked(name)
    assert contact_unmasked(contact) is None
    assert list(find_pii(text)) == []


# -- frames ------------------------------------------------------------------------------------
def test_mask_frame_returns_only_changes_and_counts(form, policy: Policy) -> None:
    frame = pd.DataFrame(
        {
            "contact_name": ["张三丰", "李*", None],
            "contact": [13800138000.0, "****5678", "lisi@corp.cn"],
            "description": ["电话13912345678", "订单 20240501001", None],
            "occurred_at": [datetime(2024, 5, 21, 9, 10)] * 3,
        },
        index=pd.Index([3, 4, 6], name="row"),
        dtype=object,
    )
    masked, changes, counts = mask_frame(frame, form, policy)
    assert changes == {
        (3, "contact_name"): "张**",
        (3, "contact"): "****8000",
        (6, "contact"): "l***@corp.cn",
        (3, "description"): "电话****5678",
    }
    assert counts == Counter({"contact": 2, "contact_name": 1, "description": 1})
    assert masked.loc[4].tolist() == frame.loc[4].tolist()
    assert masked.at[3, "contact"] == "****8000"
    assert frame.at[3, "contact"] == 13800138000.0  # the input frame is not modified


# -- real workbooks ----------------------------------------------------------------------------
def unmasked_rows() -> list[dict]:
    rows = record_rows(4)
    rows[0].update(contact_name=RAW["names"][0], contact=RAW["phones"][0])
    rows[1].update(
        contact_name=RAW["names"][1], contact=13912345678, description=f"客户身份证{RAW['id']}"
    )
    rows[2].update(contact_name=RAW["names"][3], contact=f"{RAW['phones'][2]} / {RAW['emails'][0]}")
    rows[3].update(remarks=f"回电 {RAW['phones'][3]}，邮件 {RAW['emails'][1]}", feedback="满意")
    return rows


def read_grid(path: Path, sheet: str = "问题记录表") -> list[list]:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def all_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def assert_no_raw_pii(text: str) -> None:
    for value in [*RAW["names"][:2], *RAW["phones"], *RAW["emails"], RAW["id"], "13912345678"]:
        assert value not in text


def test_masked_copy_of_a_real_workbook(
    make_workbook, form, policy: Policy, tmp_path: Path
) -> None:
    src = make_workbook(
        unmasked_rows(), title_rows=1, extra_sheets={"统计": [["渠道", "数量"], ["电话", 3]]}
    )
    out_dir = tmp_path / "masked"
    [outcome] = mask_workbooks([src], form, policy, out_dir=out_dir)
    assert outcome.error is None and outcome.output == out_dir / src.name
    assert outcome.counts == Counter(
        {"contact_name": 3, "contact": 3, "description": 1, "remarks": 1}
    )

    before, after = read_grid(src), read_grid(outcome.output)
    header = before[1]
    col = {label: header.index(label) for label in ("联系人", "联系方式", "问题描述", "备注")}
    changed = {
        (r, c) for r, row in enumerate(before) for c, v in enumerate(row) if after[r][c] != v
    }
    assert changed == {
        (2, col["联系人"]), (3, col["联系人"]), (4, col["联系人"]),
        (2, col["联系方式"]), (3, col["联系方式"]), (4, col["联系方式"]),
        (3, col["问题描述"]), (5, col["备注"]),
    }  # fmt: skip
    assert [after[r][col["联系人"]] for r in (2, 3, 4, 5)] == ["张**", "李*", "J*** *****", "张*"]
    assert [after[r][col["联系方式"]] for r in (2, 3, 4)] == [
        "****8000",
        "****5678",
        "****5678 / z***@example.com",
    ]
    assert after[3][col["问题描述"]] == "客户身份证1*************002X"
    assert after[5][col["备注"]] == "回电 ****7000，邮件 l***@corp.cn"
    assert read_grid(outcome.output, "统计") == read_grid(src, "统计")
    assert_no_raw_pii(all_text(outcome.output))  # not even in the shared-strings table
    assert "张三丰" in all_text(src)  # the original is untouched


def test_masking_a_masked_workbook_changes_nothing(
    make_workbook, form, policy, tmp_path: Path
) -> None:
    src = make_workbook(unmasked_rows())
    [first] = mask_workbooks([src], form, policy, out_dir=tmp_path / "once")
    [second] = mask_workbooks([first.output], form, policy, out_dir=tmp_path / "twice")
    assert second.counts == Counter() and second.error is None
    assert read_grid(second.output) == read_grid(first.output)


def test_mask_keeps_formats_and_drop_downs(make_workbook, form, policy, tmp_path: Path) -> None:
    import openpyxl
    from openpyxl.worksheet.datavalidation import DataValidation

    src = make_workbook(unmasked_rows())
    wb = openpyxl.load_workbook(src)
    ws = wb["问题记录表"]
    dv = DataValidation(type="list", formula1='"P0,P1,P2,P3"', allow_blank=True)
    dv.add("J2:J200")
    ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    wb.save(src)
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "out")
    a, b = (
        openpyxl.load_workbook(src)["问题记录表"],
        openpyxl.load_workbook(outcome.output)["问题记录表"],
    )
    assert [(str(v.sqref), v.formula1) for v in b.data_validations.dataValidation] == [
        ("J2:J200", '"P0,P1,P2,P3"')
    ]
    assert b.freeze_panes == "A2"
    assert b["F2"].number_format == a["F2"].number_format
    assert [b.column_dimensions[c].width for c in "ABCD"] == [
        a.column_dimensions[c].width for c in "ABCD"
    ]
    assert b["A1"].font.bold and b["A1"].fill.fgColor.rgb == a["A1"].fill.fgColor.rgb


def test_in_place_with_backup(make_workbook, form, policy) -> None:
    src = make_workbook(unmasked_rows())
    original = src.read_bytes()
    [outcome] = mask_workbooks(
        [src], form, policy, in_place=True, now=datetime(2024, 5, 21, 18, 0, 0)
    )
    assert outcome.output == src
    assert outcome.backup == src.with_name("records.bak-20240521-180000.xlsx")
    assert outcome.backup.read_bytes() == original
    assert_no_raw_pii(all_text(src))
    # nothing left to mask: the file is not touched again, no second backup
    [again] = mask_workbooks([src], form, policy, in_place=True)
    assert again.backup is None and again.masked == 0
    assert len(list(src.parent.glob("records.bak-*.xlsx"))) == 1


def test_unreadable_and_unwritable_inputs_do_not_stop_the_others(
    make_workbook, form, policy, tmp_path
) -> None:
    good = make_workbook(unmasked_rows(), name="good.xlsx")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    locked = make_workbook(unmasked_rows(), name="locked.xlsx")
    (tmp_path / "~$locked.xlsx").write_bytes(b"owner")
    outcomes = mask_workbooks([broken, locked, good], form, policy, in_place=True)
    assert [(o.source.name, o.unreadable, o.error is not None) for o in outcomes] == [
        ("broken.xlsx", True, True),
        ("locked.xlsx", False, True),
        ("good.xlsx", False, False),
    ]
    assert "正在被其他程序打开（Excel/WPS/LibreOffice" in outcomes[1].error
    assert "张三丰" in all_text(locked)
    for o in outcomes:
        assert_no_raw_pii(o.error or "")


def test_record_row_defaults_are_already_masked(form, policy) -> None:
    # the builders' default record is masked, so it never shows up in counts
    frame = pd.DataFrame([record_row()], index=[2], dtype=object)
    assert mask_frame(frame, form, policy)[1] == {}


# -- the command -------------------------------------------------------------------------------
def run(*args: str):
    from click.testing import CliRunner

    from aftersales_xl.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_mask_folder_prints_counts_and_continues_past_bad_files(
    make_workbook, tmp_path
) -> None:
    subs = tmp_path / "submissions"
    subs.mkdir()
    make_workbook(unmasked_rows(), name="submissions/a.xlsx")
    make_workbook(record_rows(2), name="submissions/b.xlsx")
    (subs / "c.xlsx").write_bytes(b"not a workbook at all")
    (subs / "~$a.xlsx").write_bytes(b"lock file of an open workbook: skipped as input")
    result = run("mask", subs, "-o", tmp_path / "masked")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == f"{subs / 'a.xlsx'} → {tmp_path / 'masked' / 'a.xlsx'}：已脱敏 联系人 3、联系方式 3、问题描述 1、备注 1"
        "；文档属性（作者、标题、公司等）已清空"
    )
    assert lines[1].endswith("b.xlsx：文档属性（作者、标题、公司等）已清空")
    assert lines[-1] == "共 3 个文件：脱敏 8 个单元格，1 个文件无法处理"
    assert len(result.stderr.splitlines()) == 1 and "c.xlsx" in result.stderr
    assert sorted(p.name for p in (tmp_path / "masked").iterdir()) == ["a.xlsx", "b.xlsx"]
    assert_no_raw_pii(result.stdout + result.stderr)
    assert_no_raw_pii(all_text(tmp_path / "masked" / "a.xlsx"))


def test_cli_mask_in_place_and_english(make_workbook) -> None:
    src = make_workbook(unmasked_rows())
    result = run("mask", src, "--in-place", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"{src}: masked Contact name 3, Contact details 3, Description 1, Remarks 1; "
        "document properties (author, title, company…) emptied (original kept as records.bak-"
    )
    assert_no_raw_pii(all_text(src))
    assert len(list(src.parent.glob("records.bak-*.xlsx"))) == 1


def test_cli_mask_in_place_refused_while_open_in_excel(make_workbook) -> None:
    src = make_workbook(unmasked_rows())
    (src.parent / "~$records.xlsx").write_bytes(b"owner")
    result = run("mask", src, "--in-place")
    assert result.exit_code == 2
    assert (
        result.stderr.count("\n") == 1
        and "正在被其他程序打开（Excel/WPS/LibreOffice" in result.stderr
    )
    assert "张三丰" in all_text(src)


@pytest.mark.parametrize("extra", [[], ["--in-place", "-o", "out"]])
def test_cli_mask_needs_exactly_one_destination(make_workbook, extra) -> None:
    result = run("mask", make_workbook(), *extra)
    assert result.exit_code == 2 and "-o" in result.stderr


# -- several contacts in one cell --------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        (CONTACT, "13800138000\n13912345678", "****8000\n****5678"),  # Alt+Enter
        (CONTACT, "13800138000 13912345678", "****8000 ****5678"),
        (CONTACT, "010-62345678-13800138000", "****5678-****8000"),
        (CONTACT, "62345678 13800138000", "****5678 ****8000"),
        (CONTACT, "123456789\n987654321", "****6789\n****4321"),
        (CONTACT, "138 0013 8000", "****8000"),  # one phone written with spaces
        (NAME, "张三\n李四", "张*\n李*"),
        (NAME, "张三、李四", "张*、李*"),
        (NAME, "张三先生/李四女士", "张*先生/李*女士"),
        (NAME, "Smith, John", "S****, J***"),
        (NAME, "欧阳 娜娜", "欧* **"),  # a space is not a separator
    ],
)
def test_each_contact_in_a_cell_is_masked_on_its_own(kind, value, masked, policy) -> None:
    assert mask_value(kind, value, policy) == masked
    assert mask_value(kind, masked, policy) == masked


# -- hyperlinks ----------------------------------------------------------------------------------
def linked_workbook(path: Path, form) -> Path:
    """A real record workbook (xlsxwriter) whose contact cells carry mailto links, as Excel
    makes them when an address is typed; a tel: link on 问题描述; a harmless https link."""
    import xlsxwriter

    row = record_row(contact_name="张三丰", description="客户电话13800138000")
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(form.sheet)
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for c, f in enumerate(form.fields):
        ws.write_string(0, c, f.label)
        value = row[f.key]
        if isinstance(value, datetime):
            ws.write_datetime(1, c, value, when)
        elif isinstance(value, int | float):
            ws.write_number(1, c, value)
        elif value:
            ws.write_string(1, c, value)
    col = {f.key: c for c, f in enumerate(form.fields)}
    ws.write_url(1, col["contact"], "mailto:zhang.san@example.com", string="zhang.san@example.com")
    ws.write_url(1, col["description"], "mailto:TEL", string="客户电话13800138000")
    ws.write_url(1, col["customer"], "https://crm.example.com/c/12", string="示例科技/C0012")
    ws.write_url(1, col["owner"], "mailto:lisi@corp.cn", string="王工")  # link text is no PII
    wb.close()
    with zipfile.ZipFile(path) as z:
        parts = {i: z.read(i) for i in z.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():  # xlsxwriter has no tel: links; Excel does
            z.writestr(info, data.replace(b"mailto:TEL", b"tel:13800138000"))
    return path


def hyperlinks(path: Path, sheet: str = "问题记录表") -> dict[str, str]:
    import openpyxl

    ws = openpyxl.load_workbook(path)[sheet]
    return {c.coordinate: c.hyperlink.target for r in ws.iter_rows() for c in r if c.hyperlink}


def test_masked_cells_and_links_to_personal_data_lose_their_hyperlinks(
    form, policy, tmp_path: Path
) -> None:
    src = linked_workbook(tmp_path / "links.xlsx", form)
    assert set(hyperlinks(src)) == {"B2", "D2", "I2", "K2"}
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "out")
    assert outcome.error is None and outcome.links == 3
    assert hyperlinks(outcome.output) == {"B2": "https://crm.example.com/c/12"}
    text = all_text(outcome.output)
    for raw in ("zhang.san@example.com", "13800138000", "lisi@corp.cn", "张三丰"):
        assert raw not in text
    assert read_grid(outcome.output)[1][3] == "z***@example.com"
    # masking the masked copy finds nothing more: no link left to a contact
    [again] = mask_workbooks([outcome.output], form, policy, out_dir=tmp_path / "again")
    assert again.masked == 0 and again.links == 0


# -- the record sheet outside the form's columns; comments; other sheets -------------------------
def busy_workbook(make_workbook, other_sheet: bool = True) -> Path:
    """Extra columns (an unknown 邮箱, a second 联系方式 column 手机, a second 联系人 column),
    a phone in the title row and in a comment, and (``other_sheet``) a 通讯录 sheet holding
    contacts."""
    import openpyxl
    from openpyxl.comments import Comment

    headers = [f.label for f in form_fields()] + ["邮箱", "手机", "客户联系人", ""]
    rows = record_rows(2)
    rows[0].update({"邮箱": "wang.wu@example.com", "手机": 13912345678, "客户联系人": "王五"})
    rows[1].update({"邮箱": "没有", "手机": "13700137000\n010-62345678", "": "电话13500135000"})
    src = make_workbook(
        rows,
        headers=headers,
        title_rows=1,
        extra_sheets={"通讯录": [["赵六", "13600136000"], ["孙七", "zhao.liu@example.com"]]}
        if other_sheet
        else {"备查": [["无个人信息"]]},
    )
    wb = openpyxl.load_workbook(src)
    ws = wb["问题记录表"]
    ws["A1"] = "问题记录表（热线 13300133000）"
    ws["C3"].comment = Comment("客户说可以打 13800138000", "客服")
    wb.save(src)
    return src


def form_fields():
    from aftersales_xl.forms import load_form

    return load_form().fields


RECORD_SHEET_RAW = [
    "wang.wu@example.com", "13912345678", "王五", "13700137000", "62345678",
    "13500135000", "13300133000", "13800138000",
]  # fmt: skip


def test_pii_outside_the_form_columns_is_masked(
    make_workbook, form, policy, tmp_path: Path
) -> None:
    import openpyxl

    src = busy_workbook(make_workbook, other_sheet=False)
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "out")
    assert outcome.error is None
    assert outcome.counts == Counter(
        {"邮箱": 1, "手机": 2, "客户联系人": 1, "Y 列": 1, "表头及以上各行": 1}
    )
    assert outcome.comments == 1
    after = read_grid(outcome.output)
    assert after[0][0] == "问题记录表（热线 ****3000）"
    assert [r[21:25] for r in after[2:4]] == [
        ["w***@example.com", "****5678", "王*", ""],
        ["没有", "****7000\n****5678", "", "电话****5000"],
    ]
    ws = openpyxl.load_workbook(outcome.output)["问题记录表"]
    assert ws["C3"].comment.text == "客户说可以打 ****8000"
    text = all_text(outcome.output)  # not even in the shared-strings table
    for raw in RECORD_SHEET_RAW:
        assert raw not in text
    # the second contact columns say so; the unknown one is masked as free text
    notes = {(n.code, n.cell): n.message for n in outcome.findings if n.severity == "warning"}
    assert "不是本表单的字段" in notes[("unknown-column", "V2")]
    assert "是第二个“联系方式”列（第一个在 D 列）" in notes[("duplicate-column", "W2")]
    assert "是第二个“联系人”列（第一个在 C 列）" in notes[("duplicate-column", "X2")]
    assert len(notes) == 3
    assert not outcome.pii_left
    assert read_grid(outcome.output, "备查") == read_grid(src, "备查")


def test_personal_data_on_another_sheet_refuses_the_copy(
    make_workbook, form, policy, tmp_path: Path
) -> None:
    """A masked copy must be safe to forward whole: with personal data on a sheet mask does
    not change, no copy is written, and the line says where and what."""
    src = busy_workbook(make_workbook)
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "out")
    assert outcome.output is None and not (tmp_path / "out" / src.name).exists()
    assert "工作表“通讯录”中有未脱敏的个人信息（手机号 1 处、邮箱 1 处）" in outcome.error
    assert "未写出副本" in outcome.error and "13600136000" not in outcome.error
    [left] = [n for n in outcome.findings if n.severity == "error"]
    assert left.message.startswith("工作表“通讯录”中有未脱敏的个人信息（手机号 1 处、邮箱 1 处）")


def test_cli_mask_refuses_a_copy_that_would_keep_pii(make_workbook, tmp_path: Path) -> None:
    src = busy_workbook(make_workbook)
    result = run("mask", src, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "工作表“通讯录”" in result.stderr
    assert "13600136000" not in result.output and "zhao.liu" not in result.output


def test_comments_and_links_on_other_sheets_are_reported(tmp_path: Path, form, policy) -> None:
    import openpyxl
    from builders import write_record_xlsx
    from openpyxl.comments import Comment

    src = write_record_xlsx(tmp_path / "a.xlsx", record_rows(1), extra_sheets={"备查": [["x"]]})
    wb = openpyxl.load_workbook(src)
    wb["备查"]["A2"].comment = Comment("客户手机 13712345678", "王工")  # on an empty cell
    wb["备查"]["A1"].hyperlink = "mailto:li.si@example.com"
    wb.save(src)
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "out")
    [left] = [n for n in outcome.findings if n.severity == "error"]
    assert left.message.startswith("工作表“备查”中有未脱敏的个人信息（手机号 1 处、邮箱 1 处）")
    assert outcome.pii_left and "13712345678" not in left.message


# -- inputs given twice, outputs that would collide ----------------------------------------------
def test_cli_mask_refuses_two_inputs_for_one_output(make_workbook, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = make_workbook(unmasked_rows(), name="a/x.xlsx")
    b = make_workbook(record_rows(1), name="b/x.xlsx")
    result = run("mask", a, b, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "会写到同一个输出文件" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_mask_handles_a_file_given_twice_once(make_workbook, tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    src = make_workbook(unmasked_rows(), name="subs/a.xlsx")
    result = run("mask", src.parent, src, src.parent / ".." / "subs" / "a.xlsx", "--in-place")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "共 1 个文件：脱敏 8 个单元格"
    assert len(list(src.parent.glob("a.bak-*.xlsx"))) == 1


def test_masked_outside_form_gives_the_cells_for_an_annotated_copy(
    make_workbook, form, policy
) -> None:
    from aftersales_xl.jobs.mask import masked_outside_form
    from aftersales_xl.reading.workbook import read_form

    src = busy_workbook(make_workbook)
    sheet, _ = read_form(src, form, policy)
    cells = masked_outside_form(src, sheet, form, policy)
    assert cells["A1"] == "问题记录表（热线 ****3000）"
    assert cells["V3"] == "w***@example.com" and cells["X3"] == "王*"
    assert set(cells) == {"A1", "V3", "W3", "X3", "W4", "Y4"}


def test_a_workbook_made_from_the_template_is_masked_not_refused(
    tmp_path: Path, form, policy
) -> None:
    """The template's 填写说明 sheet names the fields (联系人 above 联系方式…), and its example
    row is masked already: neither is personal data left on another sheet."""
    import shutil

    import openpyxl

    from aftersales_xl.jobs.check import masked_names_elsewhere
    from aftersales_xl.reading.workbook import read_form

    src = tmp_path / "from_template.xlsx"
    shutil.copy(Path(__file__).resolve().parent.parent / "templates" / "record_form.xlsx", src)
    wb = openpyxl.load_workbook(src)
    ws = wb["问题记录表"]
    row = record_rows(1, contact_name="张三丰", contact="13800138000")[0]
    for c, f in enumerate(form.fields, start=1):
        value = row[f.key]
        ws.cell(2, c, value)
    wb.save(src)
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "out")
    assert outcome.error is None and outcome.counts["contact_name"] == 1
    sheet, _ = read_form(src, form, policy)
    assert masked_names_elsewhere(sheet, form, policy) == {}
