"""Summary figures of the register: each checked against an independent pandas computation
on a typed register frame spanning six weeks, every status and severity, ratings and none."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from builders import record_row

from aftersales_xl.forms import load_form
from aftersales_xl.reports.summaries import (
    AGE_BUCKETS,
    CATEGORY_DIMENSIONS,
    SUMMARY_SHEETS,
    compute_summaries,
    heading,
)

NOW = datetime(2024, 6, 10, 12, 0)
WEEK_START = datetime(2024, 6, 3)
MERGED_AT = datetime(2024, 6, 10, 9, 0)

STATUSES = ["待处理", "处理中", "已解决", "已关闭", "升级处理"]
SEVERITIES = ["P0", "P1", "P2", "P3"]
TYPES = ["技术故障", "功能咨询", "操作指导", "投诉建议", "退换货", "其他"]
MODULES = ["登录模块", "支付模块", "报表中心"]
OWNERS = ["王工", "李工", None, "赵工"]
RATINGS = [5, 4, 3, 2, 1, None, 5]
#: descriptions Excel would treat as formulas, links or numbers if written carelessly
TRICKY_TEXT = ["=1+1", "＝SUM(A1)", "@cmd", "-5 text", "+86 咨询", "\t制表符开头", "{=A1}",
               "http://example.com/login?next=1", "＠用户", "－3天"]  # fmt: skip
DATETIME_KEYS = ("occurred_at", "received_at", "due_at", "resolved_at")


def register_frame(n: int = 33) -> pd.DataFrame:
    """A typed register frame of ``n`` records received every 29 hours from 2024-05-01.

    Cycles through every status, severity, type, module and owner (one owner blank);
    finished records get a 解决时间 and a rating from 5 down to 1 or none. Record 17 gets
    ID FW20240521001; the first descriptions are formula-like text (:data:`TRICKY_TEXT`).
    """
    rows = []
    per_day: dict[str, int] = {}
    for i in range(n):
        received = datetime(2024, 5, 1, 9, 0) + timedelta(hours=29 * i)
        day = f"{received:%Y%m%d}"
        per_day[day] = per_day.get(day, 0) + 1
        status = STATUSES[i % 5]
        done = status in ("已解决", "已关闭")
        row = record_row(
            record_id=f"FW{day}{per_day[day]:03d}",
            customer="00123" if i == 1 else f"示例科技有限公司/C{i % 7:04d}",
            contact=["****5678", "138****5678", "z***@example.com"][i % 3],
            occurred_at=received - timedelta(minutes=20 + 15 * (i % 5)),
            received_at=received,
            module=MODULES[i % 3],
            problem_type=TYPES[i % 6],
            severity=SEVERITIES[i % 4],
            owner=OWNERS[i % 4],
            status=status,
            description=TRICKY_TEXT[i] if i < len(TRICKY_TEXT) else f"问题描述 {i}",
            analysis="原因已定位" if done else None,
            solution=f"永久方案：处理步骤 {i % 4}" if done else None,
            due_at=received + timedelta(days=2) if i % 2 else None,
            resolved_at=received + timedelta(hours=2 + 7 * (i % 6)) if done else None,
            satisfaction=RATINGS[i % 7] if done else None,
            feedback=f"回访意见 {i}" if done else None,
        )
        row.update(source_file=f"第{i % 3 + 1}组.xlsx", source_row=i + 2, merged_at=MERGED_AT)
        rows.append(row)
    return typed(pd.DataFrame(rows))


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """Cast to the register's dtypes: text ``str``, datetimes ``datetime64[us]``, Int64 numbers."""
    out = df.copy()
    for key in out.columns:
        if key in DATETIME_KEYS or key in ("merged_at", "replaced_at"):
            out[key] = pd.to_datetime(out[key]).astype("datetime64[us]")
        elif key in ("satisfaction", "source_row"):
            out[key] = pd.to_numeric(out[key]).astype("Int64")
        else:
            out[key] = out[key].astype("str")
    return out


@pytest.fixture
def frame() -> pd.DataFrame:
    return register_frame()


@pytest.fixture
def summaries(frame, policy):
    return compute_summaries(frame, policy, NOW, WEEK_START)


def overview_row(summaries, key: str) -> pd.Series:
    table = summaries.overview.set_index("key")
    return table.loc[key]


def test_counts_by_problem_type_match_pandas(frame, summaries, policy):
    table = summaries.categories["problem_type"]
    expected = frame["problem_type"].value_counts()
    assert table["value"].tolist() == policy.allowed("problem_type")  # policy order, zeros kept
    assert dict(zip(table["value"], table["count"], strict=True)) == {
        v: int(expected.get(v, 0)) for v in policy.allowed("problem_type")
    }
    open_ = frame[~frame["status"].isin(policy.done_statuses)]["problem_type"].value_counts()
    assert table["open"].tolist() == [int(open_.get(v, 0)) for v in table["value"]]
    assert table["share_pct"].sum() == pytest.approx(100.0)


def test_every_dimension_has_a_block_and_blank_owner_is_kept(frame, summaries):
    assert list(summaries.categories) == list(CATEGORY_DIMENSIONS)
    owners = summaries.categories["owner"]
    blank = owners[owners["value"].isna()]
    assert blank["count"].tolist() == [int(frame["owner"].isna().sum())]
    assert owners["count"].sum() == len(frame)
    # free-text dimensions: most frequent first, the blank group last
    named = owners.dropna(subset=["value"])
    assert named["count"].tolist() == sorted(named["count"], reverse=True)
    assert owners["value"].isna().tolist()[-1]


def test_closure_rate_whole_register_and_latest_week(frame, summaries, policy):
    done = frame["status"].isin(policy.done_statuses)
    row = overview_row(summaries, "closure_rate")
    assert row["all_value"] == pytest.approx(done.sum() / len(frame) * 100)
    assert row["all_n"] == len(frame)
    week = (frame["received_at"] >= WEEK_START) & (frame["received_at"] < WEEK_START + timedelta(7))
    assert week.sum() > 0
    assert row["week_n"] == week.sum()
    assert row["week_value"] == pytest.approx((done & week).sum() / week.sum() * 100)
    assert "接收" in row["basis"]  # the cohort is stated


def test_csat_and_bad_review_with_rating_count(frame, summaries):
    ratings = frame["satisfaction"].dropna()
    csat = overview_row(summaries, "csat")
    bad = overview_row(summaries, "bad_review")
    assert csat["all_n"] == bad["all_n"] == len(ratings) > 0
    assert csat["all_value"] == pytest.approx((ratings >= 4).sum() / len(ratings) * 100)
    assert bad["all_value"] == pytest.approx((ratings <= 2).sum() / len(ratings) * 100)
    week = frame[
        (frame["resolved_at"] >= WEEK_START) & (frame["resolved_at"] < WEEK_START + timedelta(7))
    ]
    assert csat["week_n"] == week["satisfaction"].notna().sum()


def test_rating_response_rate_beside_the_rates(frame, summaries):
    finished = frame["status"].isin(["已解决", "已关闭"])
    rated = finished & frame["satisfaction"].notna()
    row = overview_row(summaries, "response_rate")
    assert 0 < rated.sum() < finished.sum()  # the fixture has finished records left unrated
    assert row["all_n"] == finished.sum()
    assert row["all_value"] == pytest.approx(rated.sum() / finished.sum() * 100)


def test_labels_follow_the_policy_done_statuses(frame, tmp_path):
    from aftersales_xl.config import load_policy

    path = tmp_path / "xlcheck.toml"
    path.write_text(
        '[lists]\nstatus = ["待处理", "处理中", "已完成", "已关闭", "升级处理"]\n'
        '[status]\ndone = ["已完成", "已关闭"]\n',
        encoding="utf-8",
    )
    policy = load_policy(path)
    s = compute_summaries(frame, policy, NOW, WEEK_START)
    assert overview_row(s, "closed")["label"] == "已完成/已关闭记录数"
    assert "已解决" not in " ".join(s.overview["basis"])


def test_no_ratings_gives_no_rate_and_zero_count(frame, policy):
    unrated = frame.assign(satisfaction=pd.array([pd.NA] * len(frame), dtype="Int64"))
    s = compute_summaries(unrated, policy, NOW, WEEK_START)
    csat = overview_row(s, "csat")
    assert np.isnan(csat["all_value"]) and csat["all_n"] == 0
    assert s.follow_up.empty


def test_average_times_and_sla_rates(frame, summaries, policy):
    response = (frame["received_at"] - frame["occurred_at"]) / pd.Timedelta(hours=1)
    assert overview_row(summaries, "avg_response")["all_value"] == pytest.approx(response.mean())
    done = frame["status"].isin(policy.done_statuses)
    resolve = (frame["resolved_at"] - frame["received_at"])[done] / pd.Timedelta(hours=1)
    row = overview_row(summaries, "avg_resolve")
    assert row["all_value"] == pytest.approx(resolve.mean()) and row["all_n"] == done.sum()
    # P0 must respond within 1 h: every response here is 20-80 minutes
    p0 = frame["severity"] == "P0"
    sla = overview_row(summaries, "sla_respond:P0")
    assert sla["all_n"] == p0.sum()
    assert sla["all_value"] == pytest.approx((response[p0] <= 1).sum() / p0.sum() * 100)
    assert "sla_respond:P3" not in summaries.overview["key"].tolist()  # P3 has no target


def test_weekly_trend_counts_and_backlog(frame, summaries, policy):
    weekly = summaries.weekly
    assert weekly["week"].iloc[0] == "2024-W18" and weekly["week"].iloc[-1] == "2024-W23"
    assert weekly["received"].sum() == len(frame)
    done = frame["status"].isin(policy.done_statuses)
    assert weekly["closed"].sum() == done.sum()
    # backlog at the end of each week, computed directly
    for week in weekly.itertuples():
        end = min(pd.Timestamp(week.week_start) + pd.Timedelta(days=7), pd.Timestamp(NOW))
        received = frame["received_at"] < end
        closed = done & (frame["resolved_at"] < end)
        assert week.backlog == received.sum() - closed.sum(), week.week


def test_weekly_trend_includes_the_current_partial_week(policy):
    frame = register_frame(34)  # the 34th record is received on Monday 2024-06-10, before NOW
    weekly = compute_summaries(frame, policy, NOW, WEEK_START).weekly
    assert weekly["week"].iloc[-1] == "2024-W24"
    assert weekly["received"].iloc[-1] == 1 and weekly["received"].sum() == 34


def test_open_records_by_age_bucket(frame, summaries, policy):
    open_ = frame[~frame["status"].isin(policy.done_statuses)]
    age = (pd.Timestamp(NOW) - open_["received_at"]) / pd.Timedelta(days=1)
    expected = pd.cut(age, [-np.inf, 1, 3, 7, 30, np.inf], labels=[k for k, _ in AGE_BUCKETS])
    aging = summaries.aging.set_index("bucket")
    assert aging.index.tolist() == [k for k, _ in AGE_BUCKETS]
    assert aging["count"].to_dict() == expected.value_counts().to_dict()
    assert aging["count"].sum() == len(open_)
    assert aging[[f"sev:{s}" for s in SEVERITIES]].sum(axis=1).tolist() == aging["count"].tolist()


def test_follow_up_lists_low_ratings_lowest_first(frame, summaries, policy):
    limit = policy.satisfaction["follow_up_max"]
    low = frame[frame["satisfaction"] <= limit]
    follow = summaries.follow_up
    assert sorted(follow["record_id"]) == sorted(low["record_id"].fillna(""))
    assert follow["satisfaction"].tolist() == sorted(follow["satisfaction"].tolist())
    assert list(follow.columns) == [
        "record_id",
        "customer",
        "owner",
        "satisfaction",
        "feedback",
        "resolved_at",
    ]


def test_recurring_groups_with_examples_and_solutions(frame, summaries, policy):
    """Groups are the solution library's clusters (module × type × similar text)."""
    from aftersales_xl.reports.recurring import problem_clusters

    recurring = summaries.recurring
    frame = frame.assign(cluster=problem_clusters(frame, policy))
    counts = frame.groupby(["module", "problem_type", "cluster"]).size()
    top = recurring.iloc[0]
    assert top["count"] == counts.max()
    assert recurring["count"].tolist() == sorted(recurring["count"], reverse=True)
    assert (recurring["count"] >= 2).all()
    for row in recurring.itertuples():
        ids = frame.set_index("record_id")
        cluster = ids.loc[row.example_id_1, "cluster"]
        members = frame[
            (frame["module"] == row.module) & (frame["problem_type"] == row.problem_type)
            & (frame["cluster"] == cluster)
        ]  # fmt: skip
        assert row.count == len(members)
        assert row.example_id_1 in set(members["record_id"])
        if members["solution"].notna().any():  # a record with a solution is shown first
            solution = members.set_index("record_id").loc[row.example_id_1, "solution"]
            assert row.example_solution_1 == solution


def test_pii_in_feedback_is_masked_on_the_written_follow_up_tab(frame, policy, tmp_path):
    import openpyxl

    from aftersales_xl.reports.summary_sheets import write_summary_sheets
    from aftersales_xl.writing.register import with_sla_columns, write_register

    i = frame.index[frame["satisfaction"] == 1][0]
    frame.loc[i, "feedback"] = "请回电 13812345678"
    s = compute_summaries(frame, policy, NOW, WEEK_START)
    path = tmp_path / "总台账.xlsx"
    write_register(
        path,
        with_sla_columns(frame, policy, NOW),
        form=load_form("record"),
        policy=policy,
        now=s.now,
        summary_sheets=lambda wb, cells: write_summary_sheets(wb, cells, s, "zh"),
    )
    ws = openpyxl.load_workbook(path)["满意度跟进"]
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    # the tab's cells pass the workbook boundary (CellWriter), which masks the phone
    assert "13812345678" not in text and "****5678" in text


def test_empty_register(policy):
    empty = register_frame(1).iloc[0:0]
    s = compute_summaries(empty, policy, NOW, WEEK_START)
    assert s.records == 0
    assert overview_row(s, "records")["all_value"] == 0
    assert np.isnan(overview_row(s, "closure_rate")["all_value"])
    assert s.weekly.empty and s.recurring.empty and s.follow_up.empty
    assert s.aging["count"].sum() == 0


def test_headings_for_every_table_column(summaries):
    form_keys = set(load_form().keys)
    tables = [summaries.recurring, summaries.weekly, summaries.aging, summaries.follow_up]
    tables.append(summaries.owners)
    tables += list(summaries.categories.values())
    for table in tables:
        for key in table.columns:
            zh, en = heading(key, "zh"), heading(key, "en")
            assert zh and en
            if not key.startswith("sev:") and key not in form_keys:
                assert zh != key and en != key, key
    assert len(SUMMARY_SHEETS) == 7
