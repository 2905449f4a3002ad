"""SLA figures per record, SLA findings for the validator, satisfaction and closure rates,
and the "How figures are computed" text — table-driven, with the 2024 holiday seasons."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from builders import cell_ref, data_row_number, record_row, write_record_xlsx

from aftersales_xl.config import load_policy
from aftersales_xl.findings import make_finding
from aftersales_xl.sla import (
    SLA_COLUMNS,
    breaches,
    closure_figures,
    figures_doc,
    fmt_pct,
    format_target,
    satisfaction_figures,
    sla_findings,
    sla_frame,
    sla_register_columns,
)
from aftersales_xl.workcal import WorkCalendar

NOW = datetime(2024, 12, 31, 12, 0)


def ts(text: str | None) -> pd.Timestamp:
    return pd.NaT if text is None else pd.Timestamp(text)


def frame(rows: list[tuple], first_row: int = 2) -> pd.DataFrame:
    """Rows of (severity, occurred_at, received_at, resolved_at), indexed like Excel rows."""
    return pd.DataFrame(
        {
            "severity": [r[0] for r in rows],
            "occurred_at": pd.Series([ts(r[1]) for r in rows], dtype="datetime64[us]").values,
            "received_at": pd.Series([ts(r[2]) for r in rows], dtype="datetime64[us]").values,
            "resolved_at": pd.Series([ts(r[3]) for r in rows], dtype="datetime64[us]").values,
        },
        index=range(first_row, first_row + len(rows)),
    )


# (severity, occurred, received, resolved) -> (response target, response status,
#  resolve target, resolve status, resolve over-hours)
# fmt: off
TARGET_CASES = [
    # P0: respond 1h, resolve 24h — exactly on target is met
    (("P0", "2024-05-21 10:00", "2024-05-21 11:00", "2024-05-22 11:00"),
     ("1h", "met", "24h", "met", None)),
    (("P0", "2024-05-21 10:00", "2024-05-21 11:01", "2024-05-22 12:31"),
     ("1h", "breached", "24h", "breached", 1.5)),
    # P1: respond 4h, resolve 72h
    (("P1", "2024-05-21 10:00", "2024-05-21 14:00", "2024-05-24 14:00"),
     ("4h", "met", "72h", "met", None)),
    (("P1", "2024-05-21 10:00", "2024-05-21 14:30", "2024-05-24 16:30"),
     ("4h", "breached", "72h", "breached", 2.0)),
    # P2: respond 24h, resolve 5 working days (Tue 05-21 14:30 → Tue 05-28 14:30)
    (("P2", "2024-05-21 10:00", "2024-05-22 10:00", "2024-05-28 14:30"),
     ("24h", "met", "5wd", "met", None)),
    (("P2", "2024-05-21 10:00", "2024-05-22 10:30", "2024-05-29 11:00"),
     ("24h", "breached", "5wd", "breached", 0.5)),
    # P3: long-term, no target; times still measured
    (("P3", "2024-05-01 10:00", "2024-06-01 10:00", "2024-12-01 10:00"),
     (None, "—", None, "—", None)),
    # Spring Festival 2024: Fri 02-09 + 5 working days = Thu 02-22 (Sun 02-18 is 调休)
    (("P2", "2024-02-09 09:00", "2024-02-09 10:00", "2024-02-22 10:00"),
     ("24h", "met", "5wd", "met", None)),
    (("P2", "2024-02-09 09:00", "2024-02-09 10:00", "2024-02-22 12:00"),
     ("24h", "met", "5wd", "breached", 2.0)),
    # hour targets do not pause for holidays: P1 72h across the Spring Festival
    (("P1", "2024-02-09 09:00", "2024-02-09 10:00", "2024-02-12 11:00"),
     ("4h", "met", "72h", "breached", 1.0)),
    # National Day 2024: Fri 09-27 + 5 working days = Thu 10-10 (Sun 09-29 is 调休)
    (("P2", "2024-09-27 09:00", "2024-09-27 10:00", "2024-10-10 10:00"),
     ("24h", "met", "5wd", "met", None)),
    (("P2", "2024-09-27 09:00", "2024-09-27 10:00", "2024-10-11 10:00"),
     ("24h", "met", "5wd", "breached", 24.0)),
    # Mon 09-30 09:30 + 5 working days = Sat 10-12 09:30 (调休)
    (("P2", "2024-09-30 09:00", "2024-09-30 09:30", "2024-10-12 09:00"),
     ("24h", "met", "5wd", "met", None)),
    # times out of order or missing: no status (time-order / required-value report those)
    (("P1", "2024-05-21 10:00", "2024-05-21 09:00", "2024-05-21 08:00"),
     ("4h", "—", "72h", "—", None)),
    (("P1", None, None, None), (None, "—", None, "—", None)),
    (("P9", "2024-05-21 10:00", "2024-05-21 11:00", None), (None, "—", None, "—", None)),
    ((None, "2024-05-21 10:00", "2024-05-21 11:00", None), (None, "—", None, "—", None)),
]
# fmt: on


@pytest.mark.parametrize(("row", "expected"), TARGET_CASES)
def test_targets_per_severity(row: tuple, expected: tuple, policy) -> None:
    out = sla_frame(frame([row]), policy, NOW).iloc[0]
    got = (
        out["response_target"],
        out["response_status"],
        out["resolve_target"],
        out["resolve_status"],
        None if pd.isna(out["resolve_over_hours"]) else round(out["resolve_over_hours"], 2),
    )
    assert got == expected


def test_hours_and_due_times(policy) -> None:
    df = frame(
        [
            ("P2", "2024-09-27 08:00", "2024-09-27 10:00", "2024-10-11 10:00"),
            ("P0", "2024-05-21 10:00", "2024-05-21 10:30", "2024-05-21 16:00"),
        ],
        first_row=6,
    )
    out = sla_frame(df, policy, NOW)
    assert out.index.tolist() == [6, 7]
    assert out["response_hours"].tolist() == [2.0, 0.5]
    assert out["resolve_hours"].tolist() == [336.0, 5.5]
    assert out["resolve_due"].tolist() == [ts("2024-10-10 10:00"), ts("2024-05-22 10:30")]
    assert out["response_due"].tolist() == [ts("2024-09-28 08:00"), ts("2024-05-21 11:00")]


@pytest.mark.parametrize(
    ("now", "status", "over"),
    [
        (datetime(2024, 5, 22, 9, 30), "open", None),
        (datetime(2024, 5, 24, 9, 30), "open", None),  # exactly at the due time
        (datetime(2024, 5, 24, 12, 30), "overdue", 3.0),
        (pd.Timestamp("2024-05-24 04:30", tz="UTC"), "overdue", 3.0),  # 12:30 in China
    ],
)
def test_open_record_is_measured_against_the_given_now(now, status: str, over) -> None:
    policy = load_policy(search_cwd=False)
    df = frame([("P1", "2024-05-21 09:00", "2024-05-21 09:30", None)])
    out = sla_frame(df, policy, now).iloc[0]
    assert out["resolve_status"] == status
    assert out["resolve_due"] == ts("2024-05-24 09:30")
    assert (None if pd.isna(out["resolve_over_hours"]) else out["resolve_over_hours"]) == over
    assert pd.isna(out["resolve_hours"])


def test_year_without_calendar_data_warns_once_via_the_callers_calendar(policy) -> None:
    cal = WorkCalendar.from_policy(policy)
    df = frame(
        [
            ("P2", "2031-01-03 09:00", "2031-01-03 10:00", None),
            ("P2", "2031-03-03 09:00", "2031-03-03 10:00", "2031-03-10 10:00"),
        ]
    )
    out = sla_frame(df, policy, datetime(2031, 1, 6), cal)
    assert out["resolve_due"].tolist() == [ts("2031-01-10 10:00"), ts("2031-03-10 10:00")]
    assert [w.year for w in cal.warnings] == [2031]


def test_text_and_object_columns_are_parsed(policy) -> None:
    df = pd.DataFrame(
        {
            "severity": [" P0 "],
            "occurred_at": ["2024-05-21 10:00"],
            "received_at": [datetime(2024, 5, 21, 12, 0)],
            "resolved_at": ["不是日期"],
        }
    )
    out = sla_frame(df, policy, datetime(2024, 5, 21, 13, 0)).iloc[0]
    assert (out["response_status"], out["resolve_status"]) == ("breached", "open")


def test_many_rows(policy) -> None:
    """A year's register in one call; every row agrees with the one-row answer."""
    n = 20_000
    received = pd.Series(pd.date_range("2024-01-01", periods=n, freq="27min")).astype(
        "datetime64[us]"
    )
    sevs = pd.Series(["P0", "P1", "P2", "P3"] * (n // 4))
    df = pd.DataFrame(
        {
            "severity": sevs,
            "occurred_at": received - pd.Timedelta(hours=3),
            "received_at": received,
            "resolved_at": received + pd.Timedelta(hours=50),
        }
    )
    out = sla_frame(df, policy, NOW)
    assert len(out) == n
    assert out["response_status"].value_counts().to_dict() == {
        "breached": n // 4,  # P0: 3h > 1h
        "met": n // 2,  # P1 (4h), P2 (24h)
        "—": n // 4,  # P3
    }
    for i in (0, 1, 2, 3, 4_567, 9_998, 19_999):
        one = sla_frame(df.iloc[[i]], policy, NOW).iloc[0]
        assert one.equals(out.iloc[i])


# -- findings for the validator --------------------------------------------------------


def test_sla_findings_mark_the_time_cells(policy) -> None:
    df = frame(
        [
            ("P1", "2024-05-21 09:00", "2024-05-21 09:30", "2024-05-21 11:00"),  # fine
            ("P0", "2024-05-21 09:00", "2024-05-21 12:30", "2024-05-21 13:00"),  # slow response
            ("P2", "2024-09-27 09:00", "2024-09-27 10:00", "2024-10-11 10:00"),  # late 5wd
            ("P1", "2024-12-20 09:00", "2024-12-20 09:30", None),  # open, overdue at NOW
            ("P3", "2024-01-01 09:00", "2024-03-01 09:00", None),  # no target
        ]
    )
    found = sla_findings(df, policy, None, NOW)
    assert [(f.row, f.field) for f in found] == [
        (3, "received_at"),
        (4, "resolved_at"),
        (5, "resolved_at"),
    ]
    assert found[0].params == {
        "kind": "响应",
        "priority": "P0",
        "target": "1 小时",
        "actual": "3.5 小时",
    }
    assert found[1].params["target"] == "5 个工作日"
    assert found[1].params["actual"] == "336.0 小时（期限 2024-10-10 10:00）"
    assert found[2].params["actual"] == "仍未解决，已超期 194.5 小时（期限 2024-12-23 09:30）"

    en = sla_findings(df, policy, None, NOW, "en")
    assert en[0].params == {
        "kind": "response",
        "priority": "P0",
        "target": "1 h",
        "actual": "3.5 h",
    }
    assert en[2].params["actual"] == "still open, 194.5 h past due (due 2024-12-23 09:30)"

    closed_only = sla_findings(df, policy, None, NOW, include_open=False)
    assert [(f.row, f.field) for f in closed_only] == [(3, "received_at"), (4, "resolved_at")]


def test_sla_finding_message(policy) -> None:
    df = frame([("P0", "2024-05-21 09:00", "2024-05-21 12:30", "2024-05-21 13:00")])
    (found,) = sla_findings(df, policy, None, NOW)
    finding = make_finding(
        "sla-breach", sheet="问题记录表", cell="L2", row=2, column="接收时间", **found.params
    )
    assert finding.severity == "warning"
    assert finding.message == "问题记录表!L2 接收时间: 响应超时：P0 目标 1 小时，实际 3.5 小时"


def read_records(path: Path, form) -> pd.DataFrame:
    """Read a built record workbook the plain pandas way: header row 1, index = Excel row."""
    raw = pd.read_excel(path, engine="calamine")
    labels = {f.label: f.key for f in form.fields}
    df = raw.rename(columns=labels)
    df.index = [data_row_number(i) for i in range(len(df))]
    return df


def test_real_workbook_round_trip(tmp_path: Path, policy, form) -> None:
    """Records in a real .xlsx → findings at the physical cells → SLA columns written back."""
    rows = [
        record_row(),  # P1, responded in 20 min, solved in 90 min
        record_row(
            severity="P0",
            occurred_at=datetime(2024, 9, 27, 8, 0),
            received_at=datetime(2024, 9, 27, 10, 0),
            resolved_at=datetime(2024, 9, 27, 12, 0),
        ),
        record_row(
            severity="P2",
            received_at=datetime(2024, 9, 27, 10, 0),
            occurred_at=datetime(2024, 9, 27, 9, 0),
            resolved_at=None,
            status="处理中",
            satisfaction=None,
        ),
    ]
    path = write_record_xlsx(tmp_path / "records.xlsx", rows)
    df = read_records(path, form)
    assert pd.api.types.is_datetime64_any_dtype(df["received_at"])

    now = datetime(2024, 10, 10, 12, 0)  # 2 h past the 5-working-day due time
    found = sla_findings(df, policy, WorkCalendar.from_policy(policy), now)
    assert [(cell_ref(f.field, f.row - 2), f.params["kind"]) for f in found] == [
        (cell_ref("received_at", 1), "响应"),
        (cell_ref("resolved_at", 2), "解决"),
    ]

    register = pd.concat([df, sla_register_columns(sla_frame(df, policy, now))], axis=1)
    out = tmp_path / "register.xlsx"
    register.to_excel(out, index=False, engine="openpyxl")
    ws = openpyxl.load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert header[-10:] == [zh for zh, _ in SLA_COLUMNS.values()]
    assert header[-10:] == ["响应时长(小时)", "响应目标", "响应期限", "响应结果", "响应超时(小时)",
                            "解决时长(小时)", "解决目标", "解决期限", "解决结果", "超时(小时)"]  # fmt: skip
    values = [[c.value for c in row][-10:] for row in ws.iter_rows(min_row=2)]
    assert values == [
        [0.3, "4 小时", datetime(2024, 5, 21, 13, 10), "达标", None,
         1.5, "72 小时", datetime(2024, 5, 24, 9, 30), "达标", None],
        [2.0, "1 小时", datetime(2024, 9, 27, 9, 0), "超时", 1.0,
         2.0, "24 小时", datetime(2024, 9, 28, 10, 0), "达标", None],
        [1.0, "24 小时", datetime(2024, 9, 28, 9, 0), "达标", None,
         None, "5 个工作日", datetime(2024, 10, 10, 10, 0), "未解决(已超期)", 2.0],
    ]  # fmt: skip


def test_register_columns_in_english(policy) -> None:
    df = frame([("P2", "2024-09-27 09:00", "2024-09-27 10:00", None)])
    out = sla_register_columns(sla_frame(df, policy, NOW), "en")
    assert list(out.columns) == [en for _, en in SLA_COLUMNS.values()]
    assert out.iloc[0]["Resolution result"] == "open, overdue"
    assert out.iloc[0]["Response target"] == "24 h"


def test_breaches_helper(policy) -> None:
    df = frame(
        [
            ("P1", "2024-05-21 09:00", "2024-05-21 09:30", "2024-05-21 11:00"),
            ("P0", "2024-05-21 09:00", "2024-05-21 12:30", "2024-05-21 13:00"),
            ("P1", "2024-12-20 09:00", "2024-12-20 09:30", None),
        ]
    )
    assert breaches(sla_frame(df, policy, NOW)).index.tolist() == [3, 4]


@pytest.mark.parametrize(
    ("target", "zh", "en"),
    [
        ("1h", "1 小时", "1 h"),
        ("0.5h", "0.5 小时", "0.5 h"),
        ("5wd", "5 个工作日", "5 working days"),
        (None, "—", "—"),
    ],
)
def test_format_target(target, zh: str, en: str) -> None:
    assert (format_target(target), format_target(target, "en")) == (zh, en)


# -- satisfaction and closure ------------------------------------------------------------


def sat_frame(ratings: list, statuses: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"satisfaction": ratings, "status": statuses}, index=range(2, 2 + len(ratings))
    )


@pytest.mark.parametrize(
    ("ratings", "statuses", "expected"),
    [
        # ratings 1-5 once each: CSAT = 4,5 of 5 = 40 %; bad = 1,2 of 5 = 40 %
        ([1, 2, 3, 4, 5], ["已解决"] * 5, (5, 40.0, 40.0, 100.0, (2, 3, 4))),
        # 8 of 10 ratings good, one bad; two finished records not rated → response 10/12
        ([5] * 6 + [4, 4, 3, 1, None, None], ["已关闭"] * 12,
         (10, 80.0, 10.0, 10 / 12 * 100, (10, 11))),
        # text and out-of-scale values are not ratings; a rating on an unfinished record counts
        # in CSAT but not in the response rate
        (["5", 4.5, 6, 0, "好评", 2], ["已解决", "已解决", "已解决", "处理中", "已解决", "处理中"],
         (2, 50.0, 50.0, 25.0, (7,))),
        # no ratings at all: every rate is None ("—"), never a division by zero
        ([None, None], ["已解决", "处理中"], (0, None, None, 0.0, ())),
        ([], [], (0, None, None, None, ())),
    ],
)  # fmt: skip
def test_satisfaction(ratings, statuses, expected, policy) -> None:
    s = satisfaction_figures(sat_frame(ratings, statuses), policy)
    assert (s.count, s.csat_pct, s.bad_pct, s.response_rate_pct, s.follow_up_rows) == expected


def test_no_ratings_render_as_dash(policy) -> None:
    s = satisfaction_figures(sat_frame([None], ["处理中"]), policy)
    assert [fmt_pct(s.csat_pct), fmt_pct(s.bad_pct), fmt_pct(s.response_rate_pct)] == ["—"] * 3
    assert fmt_pct(None) == "—"
    assert fmt_pct(95.0) == "95.0%"
    assert fmt_pct(100 * 2 / 3) == "66.7%"


def test_satisfaction_buckets_come_from_the_policy(tmp_path: Path) -> None:
    cfg = tmp_path / "x.toml"
    cfg.write_text("[satisfaction]\ngood = [5]\nbad = [1]\nfollow_up_max = 2\n", encoding="utf-8")
    s = satisfaction_figures(sat_frame([1, 2, 3, 4, 5], ["已解决"] * 5), load_policy(cfg))
    assert (s.good, s.bad, s.csat_pct, s.bad_pct, s.follow_up_rows) == (1, 1, 20.0, 20.0, (2, 3))


def test_closure_rate_of_the_received_cohort(policy) -> None:
    df = pd.DataFrame(
        {
            "received_at": pd.to_datetime(
                ["2024-04-30 23:59", "2024-05-01 00:00", "2024-05-15 12:00",
                 "2024-05-31 23:59", "2024-05-31 10:00", "2024-06-01 00:00", None]
            ),
            "status": ["已解决", "已解决", "已关闭", "处理中", "升级处理", "已解决", "已解决"],
        }
    )  # fmt: skip
    c = closure_figures(df, policy, date(2024, 5, 1), date(2024, 5, 31))
    assert (c.received, c.closed, c.rate_pct) == (4, 2, 50.0)
    assert (c.period_start, c.period_end) == (date(2024, 5, 1), date(2024, 5, 31))
    empty = closure_figures(df, policy, date(2023, 1, 1), date(2023, 1, 31))
    assert (empty.received, empty.closed, fmt_pct(empty.rate_pct)) == (0, 0, "—")


# -- documentation -----------------------------------------------------------------------


def test_figures_doc_states_each_formula() -> None:
    doc = figures_doc()
    assert doc.startswith("## How figures are computed\n")
    for phrase in [
        "Response time = 接收时间 − 问题发生时间",
        "resolution time = 解决时间 − 接收时间",
        "CSAT % = ratings in `satisfaction.good` (default 4–5) ÷ all ratings × 100",
        "bad-review % = ratings in `satisfaction.bad` (default 1–2) ÷ all ratings × 100",
        "Closure rate % = records received in the period",
        "make-up working days 调休",
        "N-th working day after the clock-start date",
        "shown as `—`",
    ]:
        assert phrase in doc
