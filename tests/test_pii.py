"""Personal-data detection and redaction: what counts, what does not, and full-width forms."""

from __future__ import annotations

import pytest

from aftersales_xl.pii import contact_unmasked, find_pii, link_has_pii, name_unmasked, redact


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("电话13800138000", ["mobile"]),
        ("电话 139 1234 5678", ["mobile"]),
        ("138.1234.5678", ["mobile"]),
        ("+86 138-0013-8000", ["mobile"]),
        ("电话１３８１２３４５６７８", ["mobile"]),  # full-width digits
        ("座机010-62345678", ["landline"]),
        ("010-6234-5678", ["landline"]),
        ("0755-2345 6789", ["landline"]),
        ("(021)62345678", ["landline"]),
        ("zhang.san@example.com", ["email"]),
        ("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", ["email"]),
        ("身份证11010519491231002X", ["idcard"]),
        ("订单号 110105194912310021", []),  # checksum fails: an order number
        ("版本 V2.1.3，2024.05.21 上线", []),
        ("400-800-1234 服务热线", []),
    ],
)
def test_detection(text, kinds):
    assert [m.kind for m in find_pii(text)] == kinds


def test_redact_keeps_the_last_four_digits_and_the_rest_of_the_text():
    assert redact("回电 13800138000，谢谢") == "回电 ****8000，谢谢"
    assert redact("1 小时") == "1 小时"
    assert "zhang" not in redact("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ")


@pytest.mark.parametrize(
    "text", ["电话138－0013－8000", "１３８．００１３．８０００", "138 0013 8000"]
)
def test_redact_finds_whatever_find_pii_finds(text):
    # the cheap pre-check must not skip what find_pii would mask (full-width separators)
    assert list(find_pii(text)) and "****" in redact(text)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("138****5678", None),
        ("****5678", None),
        ("z***@example.com", None),
        ("13800138000", "phone"),
        ("138 0013 8000", "phone"),
        ("138.1234.5678", "phone"),
        ("zh@example.com", "email"),
        ("ｚｈ＠ｅｘ．ｃｏｍ", "email"),
    ],
)
def test_contact_masked_or_not(value, why):
    assert contact_unmasked(value) == why


@pytest.mark.parametrize(
    ("value", "unmasked"),
    [
        ("张*", False),
        ("李**", False),
        ("张先生", False),
        ("J***", False),
        ("张三", True),
        ("John", True),
    ],
)
def test_name_masked_or_not(value, unmasked):
    assert name_unmasked(value) is unmasked


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("****8000\n****5678", None),  # what mask writes for two phones in one cell
        ("****5678-****8000", None),
        ("****8000\n13912345678", "phone"),  # the second one is still raw
        ("1234\n5678", None),  # a line break ends a digit run
    ],
)
def test_several_contacts_in_one_cell(value, why):
    assert contact_unmasked(value) == why


@pytest.mark.parametrize(
    ("value", "unmasked"),
    [("张*\n李*", False), ("张*、李*", False), ("张*\n李四", True), ("张三/李*", True)],
)
def test_several_names_in_one_cell(value, unmasked):
    assert name_unmasked(value) is unmasked


@pytest.mark.parametrize(
    ("texts", "pii"),
    [
        (("mailto:zhang@example.com",), True),
        (("tel:62345678",), True),
        (("https://crm.example.com/c?phone=13800138000",), True),
        (("https://crm.example.com/c?mail=zhang%40example.com",), True),
        (("https://crm.example.com/tickets/20240521001", "'选项'!A1"), False),
        ((None, ""), False),
    ],
)
def test_link_has_pii(texts, pii):
    assert link_has_pii(*texts) is pii


# a phone just before a masked email is still a phone: the email's local part stops at / 、 (
GLUED = ["13800138000/z***@a.com", "13900139000、l***@qq.com", "电话13700137000(l***@qq.com)"]


@pytest.mark.parametrize("value", GLUED)
def test_a_phone_before_a_masked_email_is_not_swallowed_by_it(value):
    assert contact_unmasked(value) == "phone"
    assert contact_unmasked(value.replace("*", "＊"), "＊") == "phone"  # full-width mask char


def test_phones_before_masked_emails_are_flagged_and_masked_in_real_workbooks(
    tmp_path, form, policy
):
    from builders import cell_ref, record_rows, write_record_xlsx
    from openpyxl import load_workbook

    from aftersales_xl.checking.validate import check_file
    from aftersales_xl.jobs.mask import mask_workbooks

    rows = record_rows(3)
    for row, value in zip(rows, GLUED, strict=True):
        row["contact"] = value
    src = write_record_xlsx(tmp_path / "m2.xlsx", rows)
    refs = [cell_ref("contact", i) for i in range(3)]
    found = check_file(src, form, policy).report.findings
    assert [(f.cell, f.code) for f in found] == [(r, "unmasked-contact") for r in refs]
    [outcome] = mask_workbooks([src], form, policy, out_dir=tmp_path / "masked")
    ws = load_workbook(outcome.output).active
    assert [ws[r].value for r in refs] == [
        "****8000/z***@a.com",
        "****9000、l***@qq.com",
        "电话****7000(l***@qq.com)",
    ]
    assert not [f for f in check_file(outcome.output, form, policy).report.findings]
    [again] = mask_workbooks([outcome.output], form, policy, out_dir=tmp_path / "twice")
    assert again.masked == 0  # idempotent


@pytest.mark.parametrize(
    ("value", "keep", "unmasked"),
    [
        ("欧阳**", 1, False),
        ("司马*", 1, False),
        ("诸葛**", 1, False),
        ("上官先生", 1, False),
        ("欧阳锋", 1, True),
        ("欧阳*\n李四", 1, True),
        ("欧**", 1, False),  # what mask writes
        ("欧阳锋*", 2, True),  # with two characters kept the surname is not special
    ],
)
def test_compound_surnames_may_be_kept_whole(value, keep, unmasked):
    assert name_unmasked(value, keep=keep) is unmasked
