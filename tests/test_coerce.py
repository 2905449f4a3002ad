"""coerce.py's named quirks, one table per quirk: what staff type, and what it must become.

The module docstring names each quirk; every row here is one of them (or its refusal). The
last tests type whole frames (both the fast factorised way and the cell-by-cell way) and a
real workbook, so the quirks hold where the validator meets them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest
from builders import excel_serial, record_row, write_record_xlsx

from aftersales_xl.coerce import (
    as_text,
    coerce_frame,
    is_missing,
    map_unique,
    nfkc,
    normalise_choice,
    parse_datetime,
    parse_rating,
    to_text,
)
from aftersales_xl.reading.workbook import read_form

MAY21_1430 = datetime(2024, 5, 21, 14, 30)
MAY21 = datetime(2024, 5, 21)
SEVERITY = ["P0", "P1", "P2", "P3"]
CHANNEL = ["电话", "在线客服", "邮件", "现场", "公众号", "其他"]


# -- dates ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "date1904", "expected"),
    [
        pytest.param(MAY21_1430, False, MAY21_1430, id="real-datetime"),
        pytest.param(date(2024, 5, 21), False, MAY21, id="real-date-is-midnight"),
        pytest.param(excel_serial(MAY21_1430), False, MAY21_1430, id="serial-1900"),
        pytest.param(
            excel_serial(MAY21_1430, date1904=True), True, MAY21_1430, id="serial-1904-system"
        ),
        pytest.param(45433, False, MAY21, id="serial-int-1900"),
        pytest.param(45433, True, datetime(2028, 5, 22), id="same-serial-1904-is-1462-days-on"),
        pytest.param("45433", False, MAY21, id="serial-typed-as-text"),
        pytest.param("45433.5", False, datetime(2024, 5, 21, 12, 0), id="serial-text-with-time"),
        pytest.param(45433.99999999, False, datetime(2024, 5, 22), id="serial-float-noise"),
        pytest.param("2024-05-21 14:30", False, MAY21_1430, id="iso-dash"),
        pytest.param("2024/5/21 14:30", False, MAY21_1430, id="slash-no-zero-pad"),
        pytest.param("2024年5月21日 14:30", False, MAY21_1430, id="chinese-ymd"),
        pytest.param("2024年5月21日14时30分", False, MAY21_1430, id="chinese-hour-minute"),
        pytest.param("2024-05-2114:30", False, MAY21_1430, id="date-glued-to-time"),
        pytest.param("2024-05-21T14:30", False, MAY21_1430, id="iso-T"),
        pytest.param("2024-05-21 14:30:15", False, datetime(2024, 5, 21, 14, 30, 15), id="seconds"),
        pytest.param("2024.5.21", False, MAY21, id="dotted-date-only"),
        pytest.param("2024.5.21 14:30", False, MAY21_1430, id="dotted-with-time"),
        pytest.param("20240521", False, MAY21, id="compact"),
        pytest.param("20240521 14:30", False, MAY21_1430, id="compact-with-time"),
        pytest.param("２０２４年５月２１日 １４：３０", False, MAY21_1430, id="full-width-digits"),
        pytest.param("  2024-05-21 14:30  ", False, MAY21_1430, id="surrounding-space"),
        pytest.param("2024-02-29", False, datetime(2024, 2, 29), id="leap-day"),
    ],
)
def test_dates_are_parsed(value, date1904, expected):
    assert parse_datetime(value, date1904=date1904) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2024-02-30", id="feb-30"),
        pytest.param("2023-02-29", id="not-a-leap-year"),
        pytest.param("2024/13/45", id="month-13-day-45"),
        pytest.param("2024-05-21 25:00", id="hour-25"),
        pytest.param("2024-05-21 14:61", id="minute-61"),
        pytest.param("明天上午", id="words"),
        pytest.param("5/21", id="no-year"),
        pytest.param("", id="empty-text"),
        pytest.param("1989-12-31", id="before-1990"),
        pytest.param("2101-01-01", id="after-2100"),
        pytest.param(datetime(1900, 1, 1), id="real-date-out-of-range"),
        pytest.param(5.0, id="small-number-is-1900"),
        pytest.param(0, id="serial-zero"),
        pytest.param(-1.0, id="negative-serial"),
        pytest.param(3e6, id="serial-beyond-9999"),
        pytest.param(True, id="boolean"),
        pytest.param(time(14, 30), id="time-without-date"),
        pytest.param(None, id="none"),
    ],
)
def test_impossible_dates_are_refused_not_guessed(value):
    assert parse_datetime(value) is None


# -- lists ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "allowed", "expected"),
    [
        pytest.param("P1", SEVERITY, "P1", id="exact"),
        pytest.param("p1", SEVERITY, "P1", id="lower-case"),
        pytest.param("P1重要", SEVERITY, "P1", id="code-then-label"),
        pytest.param("P1-重要", SEVERITY, "P1", id="code-dash-label"),
        pytest.param("p1 (重要)", SEVERITY, "P1", id="code-space-bracketed-label"),
        pytest.param("Ｐ１", SEVERITY, "P1", id="full-width-letters-digits"),
        pytest.param("\u3000P2\u3000", SEVERITY, "P2", id="full-width-spaces"),
        pytest.param("P12", SEVERITY, None, id="longer-code-is-not-P1"),
        pytest.param("P1a", SEVERITY, None, id="code-glued-to-letter"),
        pytest.param("P5", SEVERITY, None, id="not-in-list"),
        pytest.param("紧急", SEVERITY, None, id="label-only"),
        pytest.param("电话", CHANNEL, "电话", id="chinese-exact"),
        pytest.param(" 在线客服 ", CHANNEL, "在线客服", id="chinese-trimmed"),
        pytest.param("电话咨询", CHANNEL, None, id="chinese-never-prefix-matched"),
        pytest.param("", SEVERITY, None, id="empty"),
        pytest.param(None, SEVERITY, None, id="none"),
    ],
)
def test_list_values_are_matched_tolerantly(value, allowed, expected):
    assert normalise_choice(value, allowed) == expected


# -- ratings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(5, (5, None), id="int"),
        pytest.param(5.0, (5, None), id="float-whole"),
        pytest.param("5", (5, None), id="text"),
        pytest.param("5分", (5, None), id="with-fen"),
        pytest.param("5分(满意)", (5, None), id="with-label"),
        pytest.param("4分（满意）", (4, None), id="full-width-brackets"),
        pytest.param("５分", (5, None), id="full-width-digit"),
        pytest.param(" 3 ", (3, None), id="spaces"),
        pytest.param(1, (1, None), id="lowest"),
        pytest.param(7, (None, "out-of-range"), id="above-range"),
        pytest.param(0, (None, "out-of-range"), id="zero"),
        pytest.param("6分", (None, "out-of-range"), id="text-above-range"),
        pytest.param(4.5, (None, "bad-format"), id="half-point"),
        pytest.param("4.5分", (None, "bad-format"), id="half-point-text"),
        pytest.param("满意", (None, "bad-format"), id="words"),
        pytest.param("五分", (None, "bad-format"), id="chinese-numeral"),
        pytest.param(True, (None, "bad-format"), id="boolean"),
    ],
)
def test_ratings(value, expected):
    assert parse_rating(value, 1, 5) == expected


def test_rating_range_comes_from_the_caller():
    assert parse_rating(10, 0, 10) == (10, None)
    assert parse_rating(0, 0, 10) == (0, None)
    assert parse_rating(11, 0, 10) == (None, "out-of-range")


# -- text -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(13800138000.0, "13800138000", id="phone-stored-as-float"),
        pytest.param(13800138000, "13800138000", id="phone-stored-as-int"),
        pytest.param("13800138000", "13800138000", id="phone-as-text"),
        pytest.param("NA", "NA", id="NA-stays-NA"),
        pytest.param("N/A", "N/A", id="N/A-stays"),
        pytest.param("0123", "0123", id="leading-zero-kept"),
        pytest.param("  客户A  ", "客户A", id="trimmed"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="spaces-only"),
        pytest.param(None, None, id="none"),
        pytest.param(float("nan"), None, id="nan"),
        pytest.param(1.5, "1.5", id="fraction"),
        pytest.param(0.0, "0", id="zero-float"),
        pytest.param(True, "TRUE", id="boolean"),
        pytest.param(MAY21_1430, "2024-05-21 14:30", id="datetime"),
        pytest.param(MAY21, "2024-05-21", id="midnight-datetime-is-a-date"),
        pytest.param(date(2024, 5, 21), "2024-05-21", id="date"),
        pytest.param(time(14, 30), "14:30", id="time"),
        pytest.param(timedelta(hours=2), "2:00:00", id="duration"),
    ],
)
def test_to_text(value, expected):
    assert to_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(13800138000.0, "13800138000", id="phone-stored-as-float"),
        pytest.param(np.float64(13800138000.0), "13800138000", id="numpy-float"),
        pytest.param(np.int64(7), "7", id="numpy-int"),
        pytest.param(1e20, "100000000000000000000", id="never-scientific"),
        pytest.param(1.25, "1.25", id="fraction"),
        pytest.param("NA", "NA", id="NA-stays-NA"),
        pytest.param("0123", "0123", id="leading-zero-kept"),
        pytest.param(" kept ", " kept ", id="text-as-typed"),
        pytest.param(True, "True", id="boolean"),
        pytest.param(MAY21_1430, "2024-05-21 14:30", id="datetime"),
        pytest.param(
            datetime(2024, 5, 21, 14, 30, 15), "2024-05-21 14:30:15", id="datetime-seconds"
        ),
        pytest.param(date(2024, 5, 21), "2024-05-21", id="date"),
    ],
)
def test_as_text(value, expected):
    assert as_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, True, id="none"),
        pytest.param(float("nan"), True, id="nan"),
        pytest.param(np.float32("nan"), True, id="numpy-nan"),
        pytest.param(pd.NA, True, id="pd-NA"),
        pytest.param(pd.NaT, True, id="NaT"),
        pytest.param("", False, id="empty-text-is-a-value"),
        pytest.param("NA", False, id="NA-text-is-a-value"),
        pytest.param(0, False, id="zero"),
        pytest.param(0.0, False, id="zero-float"),
    ],
)
def test_is_missing(value, expected):
    assert is_missing(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Ｐ１", "P1", id="full-width-letters"),
        pytest.param("２０２４", "2024", id="full-width-digits"),
        pytest.param("\u3000客户\u3000", "客户", id="ideographic-space-trimmed"),
        pytest.param("（满意）", "(满意)", id="full-width-brackets"),
        pytest.param("１３８－００１３", "138-0013", id="full-width-dash"),
    ],
)
def test_nfkc(value, expected):
    assert nfkc(value) == expected


def test_map_unique_calls_once_per_distinct_value_and_keeps_none():
    calls = []

    def upper(v):
        calls.append(v)
        return v.upper()

    assert map_unique(["a", None, "b", "a", "a"], upper) == ["A", None, "B", "A", "A"]
    assert sorted(calls) == ["a", "b"]


# -- whole frames -----------------------------------------------------------------------------
def _frame(**columns):
    """A raw frame as read_form gives it: object columns, physical row numbers from 2."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.Index(range(2, 2 + n), name="row"), dtype=object)


def test_frame_text_columns_phone_numbers_na_and_zeros(form, policy):
    raw = _frame(
        contact=[13800138000.0, "138****8000", None, 13912345678],  # mixed: cell by cell
        customer=["NA", "0123", "  客户A ", "   "],  # all text: factorised
        record_id=["fw20240521001", None, "ＦＷ20240521002", "FW20240521003"],
    )
    c = coerce_frame(raw, form, policy)
    assert c.typed["contact"].tolist() == ["13800138000", "138****8000", None, "13912345678"]
    assert c.typed["customer"].tolist() == ["NA", "0123", "客户A", None]
    assert c.typed["record_id"].tolist() == [
        "FW20240521001",
        None,
        "FW20240521002",
        "FW20240521003",
    ]
    assert c.failures == {}
    assert c.typed.index.tolist() == [2, 3, 4, 5]


def test_frame_list_columns_normalise_and_report_the_cell(form, policy):
    raw = _frame(
        severity=["p1", "P1重要", "P1-重要", "P5", None],
        channel=["电话", "微信群", " 邮件 ", None, "现场"],
    )
    c = coerce_frame(raw, form, policy)
    assert c.typed["severity"].tolist() == ["P1", "P1", "P1", None, None]
    assert c.typed["channel"].tolist() == ["电话", None, "邮件", None, "现场"]
    assert sorted(c.failures.items()) == [
        ((3, "channel"), ("not-in-list", {"value": "微信群", "allowed": "/".join(CHANNEL)})),
        ((5, "severity"), ("not-in-list", {"value": "P5", "allowed": "P0/P1/P2/P3"})),
    ]


def test_frame_list_column_of_numbers_goes_cell_by_cell(form, policy):
    raw = _frame(severity=[1, "P2", None])
    c = coerce_frame(raw, form, policy)
    assert c.typed["severity"].tolist() == [None, "P2", None]
    assert c.failures == {
        (2, "severity"): ("not-in-list", {"value": "1", "allowed": "P0/P1/P2/P3"})
    }


def test_frame_dates_all_forms_and_failures(form, policy):
    raw = _frame(
        occurred_at=[
            MAY21_1430,
            excel_serial(MAY21_1430),
            "2024年5月21日 14:30",
            "2024-02-30",
            None,
            "2024/13/45",
        ]
    )
    c = coerce_frame(raw, form, policy)
    got = c.typed["occurred_at"]
    assert str(got.dtype) == "datetime64[ns]"
    assert got.tolist()[:3] == [pd.Timestamp(MAY21_1430)] * 3
    assert got.isna().tolist() == [False, False, False, True, True, True]
    assert c.failures == {
        (5, "occurred_at"): ("bad-date", {"value": "2024-02-30"}),
        (7, "occurred_at"): ("bad-date", {"value": "2024/13/45"}),
    }


def test_frame_dates_use_the_workbooks_date_system(form, policy):
    serial = excel_serial(MAY21_1430, date1904=True)
    c = coerce_frame(_frame(occurred_at=[serial]), form, policy, date1904=True)
    assert c.typed["occurred_at"].tolist() == [pd.Timestamp(MAY21_1430)]
    c = coerce_frame(_frame(occurred_at=[serial]), form, policy, date1904=False)
    assert c.typed["occurred_at"].tolist() == [pd.Timestamp(MAY21_1430 - timedelta(days=1462))]


def test_frame_ratings(form, policy):
    raw = _frame(satisfaction=[5, "5分", "5分(满意)", 7, 4.5, None, "满意"])
    c = coerce_frame(raw, form, policy)
    assert str(c.typed["satisfaction"].dtype) == "Int64"
    assert c.typed["satisfaction"].tolist() == [5, 5, 5, pd.NA, pd.NA, pd.NA, pd.NA]
    assert sorted(c.failures.items()) == [
        ((5, "satisfaction"), ("out-of-range", {"value": "7"})),
        ((6, "satisfaction"), ("bad-format", {"value": "4.5"})),
        ((8, "satisfaction"), ("bad-format", {"value": "满意"})),
    ]


def test_frame_fast_and_cell_by_cell_ways_agree(form, policy):
    """The same text column typed as all text (factorised) and with one number in it (cell
    by cell) gives the same values for the text cells."""
    texts = ["NA", "0123", " a ", None, "", "NA"]
    fast = coerce_frame(_frame(module=texts), form, policy).typed["module"].tolist()
    slow = coerce_frame(_frame(module=[*texts, 5.0]), form, policy).typed["module"].tolist()
    assert fast == ["NA", "0123", "a", None, None, "NA"]
    assert slow == [*fast, "5"]


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter"])
def test_a_real_workbook_keeps_phones_zeros_and_na(tmp_path, form, policy, engine):
    rows = [
        record_row(contact=13800138000, product_version="0123", feedback="NA"),
        record_row(
            contact="138****8000",
            occurred_at="２０２４年５月２１日 14:30",
            received_at=excel_serial(datetime(2024, 5, 21, 15, 0)),
            satisfaction="5分(满意)",
            severity="P1-重要",
        ),
    ]
    path = write_record_xlsx(tmp_path / "r.xlsx", rows, engine=engine)
    sheet, _ = read_form(path, form, policy)
    c = coerce_frame(sheet.frame, form, policy, sheet.date1904)
    t = c.typed
    assert t["contact"].tolist() == ["13800138000", "138****8000"]
    assert t["product_version"].tolist() == ["0123", "V2.1"]
    assert t["feedback"].tolist() == ["NA", "处理及时"]
    assert t["occurred_at"].tolist() == [
        pd.Timestamp(2024, 5, 21, 9, 10),
        pd.Timestamp(MAY21_1430),
    ]
    assert t["received_at"].tolist()[1] == pd.Timestamp(2024, 5, 21, 15, 0)
    assert t["satisfaction"].tolist() == [5, 5] and t["severity"].tolist() == ["P1", "P1"]
    assert c.failures == {}
