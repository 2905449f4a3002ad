"""The master register workbook: written to tmp_path, read back with openpyxl (what a person
opening it in Excel sees) and with :func:`read_register` (what the next merge sees)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter
from test_summaries import MERGED_AT, NOW, WEEK_START, register_frame, typed

from aftersales_xl.config import load_policy
from aftersales_xl.errors import UnreadableError, WriteError
from aftersales_xl.findings import make_finding
from aftersales_xl.reading.register import (
    HISTORY_SHEET,
    REGISTER_SHEET,
    REJECTED_SHEET,
    RejectedRow,
    history_columns,
    read_history,
    read_register,
    register_columns,
)
from aftersales_xl.reports.summaries import SUMMARY_SHEETS, compute_summaries
from aftersales_xl.reports.summary_sheets import write_summary_sheets
from aftersales_xl.sla import SLA_COLUMNS
from aftersales_xl.writing.cells import FORMULA_PREFIXES
from aftersales_xl.writing.register import with_sla_columns, write_register
from aftersales_xl.writing.template import LISTS_SHEET


def tabs(summaries, lang="zh"):
    """write_register's summary-tab arguments for ``summaries`` (what merge passes)."""
    return {
        "now": summaries.now,
        "summary_sheets": lambda wb, cells: write_summary_sheets(wb, cells, summaries, lang),
    }


PROVENANCE_LABELS = ["来源文件", "来源行", "合并时间"]
HISTORY_LABELS = ["变更时间", "变更来源", "变更字段"]
EARLIER = datetime(2024, 6, 3, 9, 0)


def history_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Three replaced versions: FW20240521001 as 待处理 (replaced on 06-03) and as 处理中
    (replaced at MERGED_AT), and FW20240502001 whose old description was a web address."""
    old = frame.iloc[[17, 17, 1]].reset_index(drop=True)
    old.loc[0, ["owner", "analysis", "solution", "feedback"]] = np.nan
    old.loc[0:1, ["resolved_at"]] = pd.NaT
    old.loc[0:1, "satisfaction"] = pd.NA
    old.loc[0, "status"] = "待处理"
    old.loc[1, "status"] = "处理中"
    old.loc[2, "description"] = "http://example.com/a?b=1"
    old.loc[2, "remarks"] = "@张工 跟进"
    old.loc[0, "merged_at"] = datetime(2024, 5, 27, 9, 0)
    old.loc[1:2, "merged_at"] = EARLIER
    meta = pd.DataFrame({
        "replaced_at": [EARLIER, MERGED_AT, MERGED_AT],
        "replaced_by": ["第2组.xlsx", "第3组.xlsx", "第2组.xlsx"],
        "changed_fields": ["处理负责人、处理进度", "处理进度、问题分析过程、解决方案、解决时间、客户满意度",
                           "问题描述、备注"],
    })  # fmt: skip
    return typed(pd.concat([meta, old], axis=1))


def write(path: Path, frame: pd.DataFrame, policy, form, **kwargs) -> Path:
    """Compute summaries and SLA columns for ``frame`` and write the register to ``path``."""
    summaries = compute_summaries(frame, policy, NOW, WEEK_START)
    write_register(
        path, with_sla_columns(frame, policy, NOW), form=form, policy=policy,
        **tabs(summaries), **kwargs,
    )  # fmt: skip
    return path


@pytest.fixture
def frame() -> pd.DataFrame:
    return register_frame()


@pytest.fixture
def register(tmp_path, frame, policy, form) -> Path:
    finding = make_finding("not-in-list", sheet="问题记录表", cell="J6", row=6, column="严重程度",
                           value="P5", allowed="P0/P1/P2/P3")  # fmt: skip
    return write(
        tmp_path / "总台账.xlsx", frame, policy, form,
        rejected=[RejectedRow.from_finding("第3组.xlsx", finding)], history=history_frame(frame),
    )  # fmt: skip


@pytest.fixture
def book(register):
    return openpyxl.load_workbook(register)


def row_of(ws, record_id: str) -> int:
    for cell in ws["A"]:
        if cell.value == record_id:
            return cell.row
    raise AssertionError(f"{record_id} not in register")


def column_of(ws, label: str) -> int:
    return [c.value for c in ws[1]].index(label) + 1


# -- layout --------------------------------------------------------------------------------


def test_sheet_order_and_names(book):
    assert book.sheetnames == [REGISTER_SHEET, *SUMMARY_SHEETS, REJECTED_SHEET, HISTORY_SHEET]
    assert book.sheetnames[1:8] == [
        "概览",
        "分类统计",
        "负责人统计",
        "高频问题",
        "周趋势",
        "未结账龄",
        "满意度跟进",
    ]
    assert book.active.title == REGISTER_SHEET


def test_header_is_form_labels_then_sla_then_provenance(book, form):
    header = [c.value for c in book[REGISTER_SHEET][1]]
    sla_labels = [zh for zh, _ in SLA_COLUMNS.values()]
    assert header == [f.label for f in form.fields] + sla_labels + PROVENANCE_LABELS


def test_header_frozen_autofilter_and_widths(book, form, frame):
    ws = book[REGISTER_SHEET]
    assert ws.freeze_panes == "B2"  # header row and the 问题编号 column stay in view
    last = get_column_letter(len(form.fields) + len(SLA_COLUMNS) + 3)
    assert ws.auto_filter.ref == f"A1:{last}{len(frame) + 1}"
    # adjacent columns of equal width are stored as one <col min max> range
    widths = {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}
    for i, field in enumerate(form.fields, start=1):
        assert widths[i] == pytest.approx(field.width, abs=1), field.key


def test_rows_are_written_in_frame_order(book, frame):
    ws = book[REGISTER_SHEET]
    assert [ws.cell(r, 1).value for r in range(2, len(frame) + 2)] == frame["record_id"].tolist()
    assert ws.max_row == len(frame) + 1


# -- cell types ------------------------------------------------------------------------------


def test_no_formula_cell_and_no_hyperlink_anywhere(book):
    for ws in book.worksheets:
        assert not ws._hyperlinks, ws.title
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}"
                assert cell.hyperlink is None


@pytest.mark.parametrize("text", ["=1+1", "＝SUM(A1)", "@cmd", "-5 text", "+86 咨询", "\t制表符开头",
                                  "{=A1}", "＠用户", "－3天"])  # fmt: skip
def test_formula_like_text_is_quoted_text(book, frame, text):
    ws = book[REGISTER_SHEET]
    record_id = frame.loc[frame["description"] == text, "record_id"].item()
    cell = ws.cell(row_of(ws, record_id), column_of(ws, "问题描述"))
    assert cell.data_type == "s" and cell.value == text
    assert cell.quotePrefix  # Excel shows it with a leading ' and never evaluates it


def test_url_text_is_plain_text(book, frame):
    ws = book[REGISTER_SHEET]
    url = "http://example.com/login?next=1"
    record_id = frame.loc[frame["description"] == url, "record_id"].item()
    cell = ws.cell(row_of(ws, record_id), column_of(ws, "问题描述"))
    assert cell.value == url and cell.data_type == "s" and cell.hyperlink is None
    assert not cell.quotePrefix  # only formula-like text gets the prefix


def test_ids_phones_and_leading_zeros_stay_text(book):
    ws = book[REGISTER_SHEET]
    row = row_of(ws, "FW20240521001")
    assert ws.cell(row, 1).data_type == "s"
    contacts = {ws.cell(r, column_of(ws, "联系方式")).value for r in range(2, ws.max_row + 1)}
    assert {"****5678", "138****5678", "z***@example.com"} <= contacts
    customers = [c for c in ws[get_column_letter(column_of(ws, "客户名称/编号"))][1:]]
    zero = [c for c in customers if c.value == "00123"]
    assert zero and zero[0].data_type == "s"


def test_dates_are_dates_with_minute_format(book, frame):
    ws = book[REGISTER_SHEET]
    first = frame.iloc[0]
    for label, key in (
        ("问题发生时间", "occurred_at"),
        ("接收时间", "received_at"),
        ("合并时间", "merged_at"),
    ):
        cell = ws.cell(2, column_of(ws, label))
        assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm", label
        assert cell.value == first[key].to_pydatetime()


def test_numbers_are_numbers(book, frame):
    ws = book[REGISTER_SHEET]
    rated = frame.index[frame["satisfaction"].notna()][0]
    cell = ws.cell(rated + 2, column_of(ws, "客户满意度"))
    assert cell.data_type == "n" and cell.value == frame.loc[rated, "satisfaction"]
    assert ws.cell(2, column_of(ws, "来源行")).value == 2
    hours = ws.cell(2, column_of(ws, "响应时长(小时)"))
    assert hours.data_type == "n" and hours.value == pytest.approx(20 / 60, abs=0.05)


def test_list_columns_keep_their_dropdowns(book, form, policy, frame):
    ws = book[REGISTER_SHEET]
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    for i, field in enumerate(form.fields, start=1):
        if field.type != "list":
            continue
        letter = get_column_letter(i)
        dv = validations[f"{letter}2:{letter}{len(frame) + 1}"]
        assert dv.type == "list"
        assert dv.formula1 == '"' + ",".join(policy.allowed(field.list)) + '"'
    rating = form.keys.index("satisfaction") + 1
    letter = get_column_letter(rating)
    assert validations[f"{letter}2:{letter}{len(frame) + 1}"].type == "whole"


def test_long_list_goes_to_a_hidden_sheet(tmp_path, frame, form):
    config = tmp_path / "xlcheck.toml"
    types = [f"问题类型选项{i:02d}" for i in range(40)] + [
        "技术故障",
        "功能咨询",
        "操作指导",
        "投诉建议",
        "退换货",
        "其他",
    ]
    config.write_text(
        "[lists]\nproblem_type = [" + ", ".join(f'"{t}"' for t in types) + "]\n", "utf-8"
    )
    policy = load_policy(config)
    book = openpyxl.load_workbook(write(tmp_path / "r.xlsx", frame, policy, form))
    assert book.sheetnames[-1] == LISTS_SHEET and book[LISTS_SHEET].sheet_state == "hidden"
    assert [c.value for c in book[LISTS_SHEET]["A"]] == types
    ws = book[REGISTER_SHEET]
    letter = get_column_letter(form.keys.index("problem_type") + 1)
    dv = next(d for d in ws.data_validations.dataValidation if str(d.sqref).startswith(letter))
    assert dv.formula1 == f"'{LISTS_SHEET}'!$A$1:$A${len(types)}"


def test_english_headers(tmp_path, frame, policy, form):
    summaries = compute_summaries(frame, policy, NOW, WEEK_START)
    path = tmp_path / "en.xlsx"
    write_register(path, with_sla_columns(frame, policy, NOW, lang="en"), form=form, policy=policy,
                   **tabs(summaries, "en"), lang="en")  # fmt: skip
    ws = openpyxl.load_workbook(path)[REGISTER_SHEET]
    header = [c.value for c in ws[1]]
    assert header[0] == "Record ID" and header[-3:] == ["Source file", "Source row", "Merged at"]
    assert [label for _, label in register_columns(form, SLA_COLUMNS, "en")] == header
    assert "met" in {c.value for c in ws[get_column_letter(header.index("Response result") + 1)]}


# -- rejected rows, history, summaries on the sheets -------------------------------------------


def test_rejected_sheet(book):
    rows = list(book[REJECTED_SHEET].iter_rows(values_only=True))
    assert rows[0] == ("来源文件", "单元格", "列", "代码", "说明")
    assert rows[1][:4] == ("第3组.xlsx", "问题记录表!J6", "严重程度", "not-in-list")
    assert "P5" in rows[1][4]


def test_history_sheet_layout(book, form):
    ws = book[HISTORY_SHEET]
    header = [c.value for c in ws[1]]
    assert header == HISTORY_LABELS + [f.label for f in form.fields] + PROVENANCE_LABELS
    assert ws.freeze_panes == "E2"  # header and 变更时间 … 问题编号 stay in view
    assert ws.max_row == 4
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [(r["问题编号"], r["处理进度"], r["变更来源"]) for r in rows] == [
        ("FW20240521001", "待处理", "第2组.xlsx"),
        ("FW20240521001", "处理中", "第3组.xlsx"),
        ("FW20240502001", "处理中", "第2组.xlsx"),
    ]
    assert rows[1]["变更字段"] == "处理进度、问题分析过程、解决方案、解决时间、客户满意度"
    assert rows[0]["处理负责人"] is None and rows[0]["解决时间"] is None
    assert rows[0]["合并时间"] == datetime(2024, 5, 27, 9, 0)


def test_history_cells_are_typed_like_the_register(book):
    ws = book[HISTORY_SHEET]
    cols = {c.value: c.column for c in ws[1]}
    changed_at = ws.cell(2, cols["变更时间"])
    assert changed_at.is_date and changed_at.number_format == "yyyy-mm-dd hh:mm"
    assert changed_at.value == EARLIER
    assert ws.cell(2, cols["接收时间"]).is_date
    assert ws.cell(2, cols["来源行"]).data_type == "n" and ws.cell(2, cols["来源行"]).value == 19
    old_customer = ws.cell(4, cols["客户名称/编号"])  # leading zeros survive as text
    assert old_customer.value == "00123" and old_customer.data_type == "s"
    assert ws.cell(4, cols["联系方式"]).value == "138****5678"
    formula_like = ws.cell(4, cols["备注"])
    assert formula_like.value == "@张工 跟进" and formula_like.quotePrefix
    url = ws.cell(4, cols["问题描述"])
    assert url.value == "http://example.com/a?b=1" and url.hyperlink is None
    assert not ws.data_validations.dataValidation  # a log, not a form to fill in


def test_history_round_trip_is_lossless(register, frame, form, policy):
    back = read_history(register, form, policy)
    assert list(back.columns) == [key for key, _ in history_columns(form)]
    assert back.index.tolist() == [2, 3, 4] and back.index.name == "excel_row"
    pd.testing.assert_frame_equal(back.reset_index(drop=True), history_frame(frame))


def test_history_accumulates_across_merges(tmp_path, register, frame, form, policy):
    """read → append this run's replaced versions → write → read gives all rows, unchanged."""
    first = read_history(register, form, policy)
    current = read_register(register, form, policy)
    replaced = current[current["record_id"] == "FW20240521001"].assign(
        replaced_at=datetime(2024, 6, 17, 9, 0), replaced_by="第4组.xlsx", changed_fields="客户反馈"
    )[list(first.columns)]
    history = pd.concat([first, replaced], ignore_index=True)
    path = write(tmp_path / "next.xlsx", current, policy, form, history=history)
    again = read_history(path, form, policy)
    assert len(again) == 4
    pd.testing.assert_frame_equal(again.reset_index(drop=True), history)
    pd.testing.assert_frame_equal(again.iloc[:3], first)  # earlier history kept as it was


def test_register_without_history_gives_an_empty_typed_frame(
    tmp_path, register, frame, form, policy
):
    expected = history_frame(frame).dtypes.to_dict()
    plain = write(tmp_path / "plain.xlsx", frame, policy, form)  # history=None
    assert openpyxl.load_workbook(plain)[HISTORY_SHEET].max_row == 1  # the header only
    empty = read_history(plain, form, policy)
    assert empty.empty and empty.dtypes.to_dict() == expected
    book = openpyxl.load_workbook(register)
    del book[HISTORY_SHEET]
    book.save(register)
    empty = read_history(register, form, policy)
    assert empty.empty and list(empty.columns) == [key for key, _ in history_columns(form)]
    assert empty.dtypes.to_dict() == expected
    # and it can be written back: the sheet reappears with its header only
    again = write(tmp_path / "again.xlsx", frame, policy, form, history=empty)
    assert openpyxl.load_workbook(again)[HISTORY_SHEET].max_row == 1


def test_history_with_a_damaged_header_is_refused_not_dropped(register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[HISTORY_SHEET]
    ws.cell(1, 2).value = "来源"
    book.save(register)
    with pytest.raises(UnreadableError) as e:
        read_history(register, form, policy)
    assert e.value.reason == "unknown-layout"
    assert "变更记录" in str(e.value) and "变更来源" in str(e.value)


def test_bad_date_in_history_names_the_cell(register, form, policy):
    book = openpyxl.load_workbook(register)
    book[HISTORY_SHEET]["A3"].value = "昨天"
    book.save(register)
    with pytest.raises(UnreadableError) as e:
        read_history(register, form, policy, lang="en")
    assert e.value.reason == "bad-register-value" and "A3" in str(e.value)


def test_history_frame_lacking_columns_is_refused_before_writing(register, frame, form, policy):
    before = register.read_bytes()
    broken = history_frame(frame).drop(columns=["changed_fields"])
    with pytest.raises(ValueError, match="changed_fields"):
        write(register, frame, policy, form, history=broken)
    assert register.read_bytes() == before


def test_english_history_labels(tmp_path, frame, policy, form):
    summaries = compute_summaries(frame, policy, NOW, WEEK_START)
    path = tmp_path / "en.xlsx"
    write_register(path, with_sla_columns(frame, policy, NOW, lang="en"), form=form, policy=policy,
                   **tabs(summaries, "en"), history=history_frame(frame), lang="en")  # fmt: skip
    header = [c.value for c in openpyxl.load_workbook(path)[HISTORY_SHEET][1]]
    assert header[:4] == ["Changed at", "Changed by", "Changed fields", "Record ID"]
    assert header == [label for _, label in history_columns(form, "en")]
    back = read_history(path, form, policy, lang="en")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), history_frame(frame))


def test_overview_sheet_shows_rates_with_counts(book, frame, policy):
    ws = book["概览"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}
    ratings = frame["satisfaction"].dropna()
    csat = rows["满意度(CSAT)"]
    assert csat[1] == pytest.approx((ratings >= 4).sum() / len(ratings))  # an Excel percentage
    assert csat[2] == len(ratings)
    done = frame["status"].isin(policy.done_statuses)
    assert rows["结案率"][1] == pytest.approx(done.sum() / len(frame))
    assert rows["结案率"][2] == len(frame)
    cell = next(c for c in ws["B"] if c.value == csat[1])
    assert cell.number_format == "0.0%"


def test_overview_without_ratings_shows_dash(tmp_path, frame, policy, form):
    unrated = frame.assign(satisfaction=pd.array([pd.NA] * len(frame), dtype="Int64"))
    ws = openpyxl.load_workbook(write(tmp_path / "r.xlsx", unrated, policy, form))["概览"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}
    assert rows["满意度(CSAT)"][1:5] == ("—", 0, "—", 0)
    assert rows["差评率"][1:3] == ("—", 0)


def test_category_sheet_counts(book, frame):
    rows = list(book["分类统计"].iter_rows(values_only=True))
    start = rows.index(("问题类型", None, None, None))
    assert rows[start + 1] == ("分类", "数量", "未结", "占比")
    counts = frame["problem_type"].value_counts()
    for value, count, _open, _share in rows[start + 2 : start + 8]:
        assert count == counts.get(value, 0)
    owners = rows[rows.index(("处理负责人", None, None, None)) :]
    assert any(r[0] == "（空白）" for r in owners)


def test_trend_and_aging_sheets_have_native_charts(book, register):
    assert len(book["周趋势"]._charts) == 1 and len(book["未结账龄"]._charts) == 1
    trend = list(book["周趋势"].iter_rows(min_row=3, values_only=True))
    assert trend[0] == ("ISO 周", "周一", "接收", "解决/关闭", "周末积压")
    assert trend[1][0] == "2024-W18" and isinstance(trend[1][1], datetime)
    aging = [r[0] for r in book["未结账龄"].iter_rows(min_row=4, max_col=1, values_only=True)]
    assert aging == ["≤1天", "1–3天", "3–7天", "7–30天", ">30天"]
    from zipfile import ZipFile

    with ZipFile(register) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        xml = "".join(z.read(n).decode() for n in charts)
    assert len(charts) == 2 and "<c:barChart>" in xml and "<c:lineChart>" in xml


def test_follow_up_sheet(book, frame, policy):
    rows = list(book["满意度跟进"].iter_rows(min_row=3, values_only=True))
    assert rows[0][:5] == ("问题编号", "客户名称/编号", "处理负责人", "客户满意度", "客户反馈")
    low = frame[frame["satisfaction"] <= policy.satisfaction["follow_up_max"]]
    assert sorted(r[0] for r in rows[1:]) == sorted(low["record_id"])


# -- reading back ------------------------------------------------------------------------------


def test_read_register_round_trip_is_lossless(register, frame, form, policy):
    back = read_register(register, form, policy)
    assert back.index.tolist() == list(range(2, len(frame) + 2))  # Excel row numbers
    assert list(back.columns) == [*form.keys, "source_file", "source_row", "merged_at"]
    pd.testing.assert_frame_equal(back.reset_index(drop=True), typed(frame))


def test_write_read_write_read_is_idempotent(tmp_path, register, form, policy):
    first = read_register(register, form, policy)
    again = read_register(write(tmp_path / "again.xlsx", first, policy, form), form, policy)
    pd.testing.assert_frame_equal(again, first)


def test_read_register_numbers_typed_into_text_columns(register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    ws.cell(2, column_of(ws, "联系方式")).value = 5678
    ws.cell(3, column_of(ws, "问题编号")).value = 20240501002
    ws.cell(4, column_of(ws, "客户满意度")).value = "4"
    book.save(register)
    back = read_register(register, form, policy)
    assert back.loc[2, "contact"] == "5678"
    assert back.loc[3, "record_id"] == "20240501002"
    assert back.loc[4, "satisfaction"] == 4


def test_read_register_takes_hand_typed_ratings_and_ids_like_a_submission(register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    ws.cell(2, column_of(ws, "客户满意度")).value = "5分"
    ws.cell(3, column_of(ws, "客户满意度")).value = " 2 分(不满意)"
    ws.cell(4, column_of(ws, "问题编号")).value = " fw20240501003 "
    book.save(register)
    back = read_register(register, form, policy)
    assert back.loc[2, "satisfaction"] == 5 and back.loc[3, "satisfaction"] == 2
    assert back.loc[4, "record_id"] == "FW20240501003"
    ws.cell(2, column_of(ws, "客户满意度")).value = "很好"  # not a rating at all: still refused
    book.save(register)
    with pytest.raises(UnreadableError, match="很好"):
        read_register(register, form, policy)


def test_columns_added_by_hand_are_read_and_written_back(tmp_path, register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    end = ws.max_column
    ws.insert_cols(2)  # a column inserted between the form's columns, and three at the end
    ws.cell(1, 2).value = "主管标记"
    ws.cell(3, 2).value = "重点"
    ws.cell(1, end + 2).value = "回访日期"
    ws.cell(2, end + 2).value = datetime(2024, 6, 1, 0, 0)
    ws.cell(2, end + 2).number_format = "yyyy-mm-dd"
    ws.cell(4, end + 3).value = 3  # a column without a header
    ws.cell(1, end + 4).value = "主管标记"  # the same header twice
    ws.cell(5, end + 4).value = "复查"
    book.save(register)
    back = read_register(register, form, policy)
    extras = ["主管标记", "回访日期", f"列{get_column_letter(end + 3)}", "主管标记 (2)"]
    assert list(back.columns) == [*form.keys, "source_file", "source_row", "merged_at", *extras]
    assert back.loc[3, "主管标记"] == "重点" and back.loc[2, "主管标记"] is None
    assert back.loc[4, extras[2]] == 3 and back.loc[5, "主管标记 (2)"] == "复查"

    again = write(tmp_path / "again.xlsx", back, policy, form, extra_columns=extras)
    ws = openpyxl.load_workbook(again)[REGISTER_SHEET]
    header = [c.value for c in ws[1]]
    assert header[-7:] == [*PROVENANCE_LABELS, *extras]
    assert ws.cell(3, header.index("主管标记") + 1).value == "重点"
    day = ws.cell(2, header.index("回访日期") + 1)
    assert day.value == datetime(2024, 6, 1) and day.is_date
    assert ws.cell(4, len(header) - 1).value == 3
    reread = read_register(again, form, policy)
    pd.testing.assert_frame_equal(reread, back, check_dtype=False)


def test_read_register_skips_empty_rows_and_keeps_row_numbers(register, form, policy, frame):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    for cell in ws[3]:
        cell.value = None
    book.save(register)
    back = read_register(register, form, policy)
    assert len(back) == len(frame) - 1 and 3 not in back.index and back.index[1] == 4


def test_missing_register_sheet_is_unreadable(tmp_path, form, policy):
    path = tmp_path / "other.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.save(path)
    with pytest.raises(UnreadableError, match="总台账") as e:
        read_register(path, form, policy)
    assert e.value.reason == "no-register-sheet"


def test_unknown_layout_names_missing_columns(register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    ws.cell(1, column_of(ws, "严重程度")).value = "紧急度X"
    ws.cell(1, column_of(ws, "来源文件")).value = None
    book.save(register)
    with pytest.raises(UnreadableError) as e:
        read_register(register, form, policy)
    assert e.value.reason == "unknown-layout"
    assert "严重程度" in str(e.value) and "来源文件" in str(e.value)


def test_not_a_workbook(tmp_path, form, policy):
    path = tmp_path / "总台账.xlsx"
    path.write_text("not a zip", "utf-8")
    with pytest.raises(UnreadableError) as e:
        read_register(path, form, policy, lang="en")
    assert e.value.reason == "not-a-workbook" and "总台账.xlsx" in str(e.value)


def test_missing_register_file(tmp_path, form, policy):
    with pytest.raises(UnreadableError) as e:
        read_register(tmp_path / "nope.xlsx", form, policy)
    assert "nope.xlsx" in str(e.value)
    assert e.value.reason == "not-found"
    with pytest.raises(UnreadableError) as e:
        read_history(tmp_path / "nope.xlsx", form, policy)
    assert e.value.reason == "not-found"


def test_bad_date_in_register_names_the_cell_without_pii(register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    col = column_of(ws, "接收时间")
    ws.cell(5, col).value = "找 13812345678"
    ws.cell(1, ws.max_column + 1).value = "主管备注"  # a column added by hand too
    ws.cell(2, ws.max_column).value = "复查"
    book.save(register)
    with pytest.raises(UnreadableError) as e:
        read_register(register, form, policy)
    assert e.value.reason == "bad-register-value"
    assert f"{get_column_letter(col)}5" in str(e.value) and "13812345678" not in str(e.value)
    assert str(e.value).startswith(register.name)  # the file is named, not the added column


# -- atomic write -------------------------------------------------------------------------------


def test_rewrite_replaces_atomically_and_leaves_no_temp_files(
    tmp_path, register, frame, form, policy
):
    os.chmod(register, 0o640)
    write(register, frame.iloc[:5], policy, form)
    assert len(read_register(register, form, policy)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["总台账.xlsx"]
    assert register.stat().st_mode & 0o777 == 0o640


def test_failed_write_keeps_the_old_register(tmp_path, register, frame, form, policy):
    before = register.read_bytes()
    summaries = compute_summaries(frame, policy, NOW, WEEK_START)
    with pytest.raises(ValueError, match="response_hours"):  # SLA columns not added
        write_register(register, frame, form=form, policy=policy, **tabs(summaries))
    broken = with_sla_columns(frame, policy, NOW).astype({"received_at": object})
    broken.loc[0, "received_at"] = "not a date"
    with pytest.raises((ValueError, TypeError)):
        write_register(register, broken, form=form, policy=policy, **tabs(summaries))
    assert register.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["总台账.xlsx"]


def test_failure_while_writing_keeps_the_old_register_and_no_temp_file(
    tmp_path, register, frame, form, policy, monkeypatch
):
    """Simulated crash after the temporary workbook was started, before the move."""
    before = register.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr("aftersales_xl.writing.register._write_history_sheet", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write(register, frame.iloc[:3], policy, form)
    assert register.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["总台账.xlsx"]
    assert len(read_register(register, form, policy)) == len(frame)


def test_unwritable_folder_is_a_write_error(tmp_path, frame, form, policy):
    with pytest.raises(WriteError, match="missing.xlsx"):
        write(tmp_path / "no-such-folder" / "missing.xlsx", frame, policy, form)


def test_formula_prefixes_cover_full_width_forms():
    for prefix in ("=", "+", "-", "@", "{=", "\t", "\r", "＝", "＋", "－", "＠"):
        assert prefix.startswith(FORMULA_PREFIXES)


def test_empty_register_round_trip(tmp_path, frame, form, policy):
    empty = frame.iloc[0:0]
    path = write(tmp_path / "empty.xlsx", empty, policy, form)
    ws = openpyxl.load_workbook(path)[REGISTER_SHEET]
    assert ws.max_row == 1 and ws.data_validations.dataValidation  # drop-downs ready for row 2
    back = read_register(path, form, policy)
    assert back.empty
    assert back.dtypes.to_dict() == typed(frame).dtypes.to_dict()


def test_a_column_added_under_a_field_alias_never_takes_the_field(register, frame, form, policy):
    book = openpyxl.load_workbook(register)
    for name in (REGISTER_SHEET, HISTORY_SHEET):
        ws = book[name]
        for label, alias in (("联系方式", "电话"), ("处理进度", "状态"), ("客户满意度", "评分")):
            at = [c.value for c in ws[1]].index(label) + 1
            ws.insert_cols(at)
            ws.cell(1, at, alias)
            ws.cell(2, at, "手工")
    book.save(register)
    back = read_register(register, form, policy)
    expected = read_register(
        write(register.with_name("fresh.xlsx"), frame, policy, form), form, policy
    )
    pd.testing.assert_frame_equal(back[form.keys], expected[form.keys], check_dtype=False)
    assert [c for c in back.columns if c not in expected.columns] == ["电话", "状态", "评分"]
    assert back.iloc[0]["电话"] == "手工"
    history = read_history(register, form, policy)
    assert history["status"].tolist() == history_frame(frame)["status"].tolist()


def test_a_header_added_by_hand_is_read_with_its_contact_data_masked(register, form, policy):
    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    ws.cell(1, ws.max_column + 1, "回访 13912345678 / li.si@example.com")
    ws.cell(2, ws.max_column, "已回访")
    book.save(register)
    back = read_register(register, form, policy)
    (extra,) = back.columns[len(form.keys) + 3 :]
    assert "13912345678" not in extra and "li.si@example.com" not in extra
    assert extra.startswith("回访 ****5678")


def test_times_durations_and_booleans_added_by_hand_are_written_back_as_read(
    tmp_path, register, form, policy
):
    from datetime import time, timedelta

    book = openpyxl.load_workbook(register)
    ws = book[REGISTER_SHEET]
    end = ws.max_column
    for offset, (label, value, number_format) in enumerate(
        (
            ("回访时刻", time(14, 30), "hh:mm"),
            ("通话时长", timedelta(hours=1, minutes=15), "[h]:mm:ss"),
            ("已回访", True, "General"),
        ),
        start=1,
    ):
        ws.cell(1, end + offset, label)
        ws.cell(2, end + offset, value).number_format = number_format
    book.save(register)
    back = read_register(register, form, policy)
    extras = ["回访时刻", "通话时长", "已回访"]
    again = write(tmp_path / "again.xlsx", back, policy, form, extra_columns=extras)
    ws = openpyxl.load_workbook(again)[REGISTER_SHEET]
    at, length, done = (column_of(ws, label) for label in extras)
    assert ws.cell(2, at).value == time(14, 30) and ws.cell(2, at).number_format == "hh:mm"
    assert ws.cell(2, length).value == timedelta(hours=1, minutes=15)
    assert ws.cell(2, done).value is True and ws.cell(2, done).data_type == "b"
    reread = read_register(again, form, policy)
    pd.testing.assert_frame_equal(reread[extras], back[extras])
