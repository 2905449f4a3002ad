"""forms.py: the record form's spec (fields in the brief's order), tolerant header matching,
the field groups other modules rely on, and the wording generated from spec and policy."""

from __future__ import annotations

import pytest

from aftersales_xl.config import load_policy
from aftersales_xl.forms import (
    FIELD_TYPES,
    REQUIRED_KINDS,
    field_table_markdown,
    load_form,
    normalise_label,
    required_wording,
)

#: the brief's table "The record form (default field set)", in its order
BRIEF_TABLE = [
    ("问题编号", "record_id", "text"),
    ("客户名称/编号", "customer", "text"),
    ("联系人", "contact_name", "text"),
    ("联系方式", "contact", "text"),
    ("反馈渠道", "channel", "list"),
    ("问题发生时间", "occurred_at", "datetime"),
    ("产品/服务模块", "module", "text"),
    ("问题类型", "problem_type", "list"),
    ("问题描述", "description", "text"),
    ("严重程度", "severity", "list"),
    ("处理负责人", "owner", "text"),
    ("接收时间", "received_at", "datetime"),
    ("处理进度", "status", "list"),
    ("问题分析过程", "analysis", "text"),
    ("解决方案", "solution", "text"),
    ("预计解决时间", "due_at", "datetime"),
    ("解决时间", "resolved_at", "datetime"),
    ("客户满意度", "satisfaction", "rating"),
    ("客户反馈", "feedback", "text"),
    ("关联产品/服务", "product_version", "text"),
    ("备注", "remarks", "text"),
]


def test_record_form_fields_are_the_brief_table_in_order(form):
    assert [(f.label, f.key, f.type) for f in form.fields] == BRIEF_TABLE
    assert form.keys == [key for _, key, _ in BRIEF_TABLE]
    assert (form.name, form.sheet, form.sheet_en, form.title) == (
        "record",
        "问题记录表",
        "Records",
        "售后服务问题记录表",
    )
    assert form.marker == "aftersales-xl:record:1"


def test_required_kinds_follow_the_brief(form):
    required = {f.key: f.required for f in form.fields}
    assert [k for k, v in required.items() if v == "yes"] == [
        "customer",
        "channel",
        "occurred_at",
        "module",
        "problem_type",
        "description",
        "severity",
        "received_at",
        "status",
    ]
    assert required["owner"] == "unless-pending"
    assert required["solution"] == required["resolved_at"] == "when-done"
    assert required["analysis"] == "expected-when-done"
    assert required["record_id"] == required["due_at"] == required["satisfaction"] == "no"
    assert all(f.type in FIELD_TYPES and f.required in REQUIRED_KINDS for f in form.fields)


def test_satisfaction_is_a_rating_1_to_5(form):
    spec = form.field("satisfaction")
    assert (spec.type, spec.min, spec.max) == ("rating", 1, 5)


def test_load_form_refuses_unknown_names(form):
    assert load_form("record") == form
    with pytest.raises(KeyError, match="nope"):
        load_form("nope")
    with pytest.raises(KeyError):
        form.field("not_a_field")


def test_titles_per_language(form):
    spec = form.field("contact")
    assert (spec.title(), spec.title("zh"), spec.title("en")) == (
        "联系方式",
        "联系方式",
        "Contact details",
    )


# -- header matching ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "key"),
    [
        pytest.param("联系人", "contact_name", id="canonical"),
        pytest.param("联系人*", "contact_name", id="star"),
        pytest.param("＊联系人", "contact_name", id="full-width-star"),
        pytest.param("※联系人", "contact_name", id="reference-mark"),
        pytest.param("联系方式（脱敏）", "contact", id="full-width-brackets"),
        pytest.param("联系方式(脱敏)", "contact", id="brackets"),
        pytest.param(" 反馈渠道 (必填)", "channel", id="spaces-and-required"),
        pytest.param("【必填】问题描述", "description", id="lenticular-brackets"),
        pytest.param("问题 描述", "description", id="inner-space"),
        pytest.param("问题描述：", "description", id="trailing-colon"),
        pytest.param("\u3000备注\u3000", "remarks", id="ideographic-spaces"),
        pytest.param("客户名称／编号", "customer", id="full-width-slash"),
        pytest.param("Record ID", "record_id", id="english-label"),
        pytest.param("RECORD ID", "record_id", id="english-upper"),
        pytest.param("record_id", "record_id", id="key"),
        pytest.param("Ｓｅｖｅｒｉｔｙ", "severity", id="full-width-english"),
        pytest.param("优先级", "severity", id="alias"),
        pytest.param("电话", "contact", id="alias-phone"),
        pytest.param("负责人", "owner", id="alias-owner"),
        pytest.param("满意度", "satisfaction", id="alias-rating"),
        pytest.param("工单号", "record_id", id="alias-ticket"),
        pytest.param("contact", "contact", id="key-beats-another-fields-alias"),
    ],
)
def test_match_headers_normalises_and_knows_aliases(form, header, key):
    assert form.match_headers([header]) == {key: 0}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("随便写的列", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(42, id="number"),
        pytest.param("联系人2", id="suffix-digit"),
    ],
)
def test_match_headers_ignores_what_is_not_a_header(form, header):
    assert form.match_headers([header]) == {}


def test_match_headers_maps_columns_and_first_match_wins(form):
    cells = [None, "联系人", "优先级", "联系人*", "严重程度", "说明"]
    assert form.match_headers(cells) == {"contact_name": 1, "severity": 2, "remarks": 5}


def test_no_alias_shadows_a_canonical_label(form):
    canonical = {}
    for f in form.fields:
        for text in (f.label, f.label_en, f.key):
            canonical[normalise_label(text)] = f.key
    for f in form.fields:
        for alias in f.aliases:
            owner = canonical.get(normalise_label(alias), f.key)
            assert form.match_headers([alias]) == {owner: 0}, alias


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("联系方式（脱敏）", "联系方式"),
        (" Record ID* ", "recordid"),
        ("客户名称／编号", "客户名称/编号"),
        (None, ""),
        (5, "5"),
    ],
)
def test_normalise_label(value, expected):
    assert normalise_label(value) == expected


# -- field groups ---------------------------------------------------------------------------------
def test_pii_scanned_is_every_free_text_field(form):
    assert [f.key for f in form.pii_scanned()] == [
        "customer",
        "module",
        "description",
        "owner",
        "analysis",
        "solution",
        "feedback",
        "product_version",
        "remarks",
    ]


@pytest.mark.parametrize(
    ("check", "keys"),
    [
        ("record-id", ["record_id"]),
        ("masked-name", ["contact_name"]),
        ("masked-contact", ["contact"]),
        ("pii-text", ["description", "analysis", "solution", "feedback", "remarks"]),
        ("nonexistent", []),
    ],
)
def test_by_check(form, check, keys):
    assert [f.key for f in form.by_check(check)] == keys


# -- wording from spec and policy -------------------------------------------------------------------
def test_required_wording_names_the_statuses_in_force(policy):
    assert required_wording(policy) == {
        "yes": "必填",
        "no": "选填",
        "unless-pending": "必填（待处理时可空）",
        "when-done": "已解决/已关闭时必填",
        "expected-when-done": "已解决/已关闭时应填",
    }
    assert required_wording(policy, "en") == {
        "yes": "required",
        "no": "optional",
        "unless-pending": "required unless 待处理",
        "when-done": "required once 已解决/已关闭",
        "expected-when-done": "expected once 已解决/已关闭",
    }


@pytest.fixture
def custom_policy(tmp_path):
    config = tmp_path / "xlcheck.toml"
    config.write_text(
        '[lists]\nseverity = ["S1", "S2"]\nstatus = ["新建", "处理中", "完成"]\n'
        '[status]\ndone = ["完成"]\npending = "新建"\n',
        encoding="utf-8",
    )
    return load_policy(config)


def test_required_wording_follows_a_custom_policy(custom_policy):
    wording = required_wording(custom_policy)
    assert wording["unless-pending"] == "必填（新建时可空）"
    assert wording["when-done"] == "完成时必填"


def test_field_table_markdown(form, policy):
    lines = field_table_markdown(form, policy).splitlines()
    assert lines[:2] == ["| 表头 | key | type | 必填 | 规则 / 可选值 |", "|---|---|---|---|---|"]
    assert len(lines) == 2 + len(form.fields)
    assert [line.split(" | ")[0].lstrip("| ") for line in lines[2:]] == [
        label for label, _, _ in BRIEF_TABLE
    ]
    by_key = {line.split("`")[1]: line for line in lines[2:]}
    assert by_key["severity"] == "| 严重程度 | `severity` | list | 必填 | P0 / P1 / P2 / P3 |"
    assert (
        by_key["owner"] == "| 处理负责人 | `owner` | text | 必填（待处理时可空） | 待处理时可暂空 |"
    )
    assert by_key["satisfaction"] == (
        "| 客户满意度 | `satisfaction` | rating | 选填 | 1–5 的整数；1–5 分，解决后填写 |"
    )
    assert by_key["remarks"] == "| 备注 | `remarks` | text | 选填 |  |"


def test_field_table_markdown_follows_the_policy(form, custom_policy):
    by_key = {
        line.split("`")[1]: line
        for line in field_table_markdown(form, custom_policy).splitlines()[2:]
    }
    assert by_key["severity"] == "| 严重程度 | `severity` | list | 必填 | S1 / S2 |"
    assert by_key["solution"].split(" | ")[3] == "完成时必填"
