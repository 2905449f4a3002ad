"""Summary tabs of the master register, computed fresh from the whole register frame.

:func:`compute_summaries` returns a :class:`Summaries` of plain DataFrames (testable without
Excel); :mod:`aftersales_xl.register` writes them as the tabs listed in :data:`SUMMARY_SHEETS`.
The figures themselves — response/resolution times and SLA status, CSAT and bad-review
rates, closure rate — come from :mod:`aftersales_xl.sla`, so the register, the daily report
and the weekly email agree. Nothing here reads the clock: ``now`` and ``week_start`` are
passed in.

The input frame is the typed register: ``occurred_at``/``received_at``/``resolved_at`` as
datetimes, ``satisfaction`` as numbers, the other form keys as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..config import Policy
from ..forms import load_form
from ..pii import redact
from ..sla import closure_figures, format_target, satisfaction_figures, sla_frame
from ..workcal import WorkCalendar
from .recurring import problem_clusters

OVERVIEW_SHEET = "概览"
CATEGORY_SHEET = "分类统计"
RECURRING_SHEET = "高频问题"
TREND_SHEET = "周趋势"
AGING_SHEET = "未结账龄"
FOLLOW_UP_SHEET = "满意度跟进"
#: the summary tabs in the order they follow 总台账
SUMMARY_SHEETS = (
    OVERVIEW_SHEET,
    CATEGORY_SHEET,
    RECURRING_SHEET,
    TREND_SHEET,
    AGING_SHEET,
    FOLLOW_UP_SHEET,
)

#: dimensions of 分类统计, in order (form field keys)
CATEGORY_DIMENSIONS = ("problem_type", "severity", "status", "owner", "module")
#: open-record age buckets: (key, upper bound in days, inclusive); the last has no bound
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("age_0_1", 1),
    ("age_1_3", 3),
    ("age_3_7", 7),
    ("age_7_30", 30),
    ("age_30_plus", float("inf")),
)
#: how many example records 高频问题 shows per group
EXAMPLES = 3
#: the 周趋势 chart shows at most this many most recent weeks (the table shows all)
CHART_WEEKS = 26

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Summaries:
    """Everything the summary tabs show, as data.

    ``overview``: one row per KPI — ``key, label, label_en, unit ("count"|"pct"|"hours"),
    all_value, all_n, week_value, week_n, basis, basis_en``; a value is NaN when it has no
    denominator (shown "—"), ``*_n`` is the count it is computed over (ratings for CSAT).
    ``categories``: dimension → ``value, count, open, share_pct`` (value NaN = blank).
    ``recurring``: ``rank, module, problem_type, description, count, open`` and up to three
    ``example_id_i`` / ``example_solution_i``. ``weekly``: ``week, week_start, received,
    closed, backlog``. ``aging``: ``bucket`` (a key of :data:`AGE_BUCKETS` or ``age_unknown``),
    ``count`` and one column per severity (``sev:P0``…). ``follow_up``: ``record_id, customer,
    owner, satisfaction, feedback, resolved_at``.
    """

    now: datetime
    week_start: datetime
    week_end: datetime
    records: int
    overview: pd.DataFrame
    categories: dict[str, pd.DataFrame]
    recurring: pd.DataFrame
    weekly: pd.DataFrame
    aging: pd.DataFrame
    follow_up: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


def compute_summaries(
    frame: pd.DataFrame,
    policy: Policy,
    now: datetime,
    week_start: datetime | date,
    *,
    calendar: WorkCalendar | None = None,
    top_n: int = 20,
    min_count: int | None = None,
    lang: str = "zh",
) -> Summaries:
    """Compute every summary of the register ``frame`` as of ``now``.

    ``week_start`` is the first day of the latest week (its time of day is ignored); the
    latest week runs seven days from it. ``top_n`` / ``min_count`` bound 高频问题 (recurring
    problems seen at least ``min_count`` times; default ``library.min_count``). ``calendar`` is used for
    working-day SLA targets; its warnings (years without holiday data) end up in ``notes``
    (in ``lang``).
    """
    cal = calendar if calendar is not None else WorkCalendar.from_policy(policy)
    now_ts = pd.Timestamp(now)
    start = pd.Timestamp(week_start).normalize()
    end = start + 7 * _DAY
    sla = sla_frame(frame, policy, now_ts, cal)
    done = _done(frame, policy)
    return Summaries(
        now=now_ts.to_pydatetime(),
        week_start=start.to_pydatetime(),
        week_end=end.to_pydatetime(),
        records=len(frame),
        overview=_overview(frame, sla, done, policy, start, end),
        categories={dim: _category(frame, dim, done, policy) for dim in CATEGORY_DIMENSIONS},
        recurring=_recurring(
            frame,
            done,
            top_n,
            int(policy.library["min_count"]) if min_count is None else min_count,
            policy,
        ),
        weekly=_weekly(frame, done, now_ts, start),
        aging=_aging(frame, done, policy, now_ts),
        follow_up=_follow_up(frame, policy),
        notes=tuple(cal.warning_messages(lang)),
    )


# -- overview ----------------------------------------------------------------------------


def _overview(
    frame: pd.DataFrame,
    sla: pd.DataFrame,
    done: pd.Series,
    policy: Policy,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    received = _times(frame, "received_at")
    resolved = _times(frame, "resolved_at")
    in_week = (received >= start) & (received < end)
    resolved_in_week = done & (resolved >= start) & (resolved < end)
    week_days = (start.date(), (end - _DAY).date())
    rows: list[dict[str, Any]] = []

    def add(key: str, unit: str, whole: tuple[Any, Any], week: tuple[Any, Any]) -> None:
        label, label_en, basis, basis_en = _METRICS[key]
        sat = policy.satisfaction
        words = {
            "good": "/".join(map(str, sat["good"])),
            "bad": "/".join(map(str, sat["bad"])),
            "max": sat["follow_up_max"],
            "done": "/".join(policy.done_statuses),
        }
        rows.append({
            "key": key, "label": label.format(**words), "label_en": label_en, "unit": unit,
            "all_value": _num(whole[0]), "all_n": _num(whole[1]),
            "week_value": _num(week[0]), "week_n": _num(week[1]),
            "basis": basis.format(**words), "basis_en": basis_en.format(**words),
        })  # fmt: skip

    add("records", "count", (len(frame), None), (int(in_week.sum()), None))
    add("open", "count", (int((~done).sum()), None), (int((in_week & ~done).sum()), None))
    add("closed", "count", (int(done.sum()), None), (int(resolved_in_week.sum()), None))
    dated = received.dropna()
    if dated.empty:
        whole_closure: tuple[Any, Any] = (None, 0)
    else:
        c = closure_figures(frame, policy, dated.min().date(), dated.max().date())
        whole_closure = (c.rate_pct, c.received)
    c = closure_figures(frame, policy, *week_days)
    add("closure_rate", "pct", whole_closure, (c.rate_pct, c.received))

    response = sla["response_hours"].where(sla["response_hours"] >= 0)
    resolve = sla["resolve_hours"].where(done & (sla["resolve_hours"] >= 0))
    add("avg_response", "hours", _mean(response), _mean(response[in_week]))
    add("avg_resolve", "hours", _mean(resolve), _mean(resolve[resolved_in_week]))

    severity = _text(frame, "severity")
    for sev in policy.allowed("severity"):
        of_sev = severity.eq(sev).fillna(False).astype(bool)
        for kind, status in (
            ("respond", sla["response_status"]),
            ("resolve", sla["resolve_status"]),
        ):
            target = policy.sla_target(sev, kind)
            if target is None:
                continue
            label, label_en, basis, basis_en = _METRICS[f"sla_{kind}"]
            whole, week = _sla_met(of_sev, status), _sla_met(of_sev & in_week, status)
            rows.append({
                "key": f"sla_{kind}:{sev}", "label": f"{label} {sev}（目标 {format_target(target)}）",
                "label_en": f"{label_en} {sev} (target {format_target(target, 'en')})", "unit": "pct",
                "all_value": _num(whole[0]), "all_n": whole[1],
                "week_value": _num(week[0]), "week_n": week[1],
                "basis": basis, "basis_en": basis_en,
            })  # fmt: skip

    whole_sat = satisfaction_figures(frame, policy)
    week_sat = satisfaction_figures(frame[resolved_in_week], policy)
    add("csat", "pct", (whole_sat.csat_pct, whole_sat.count), (week_sat.csat_pct, week_sat.count))
    add(
        "bad_review",
        "pct",
        (whole_sat.bad_pct, whole_sat.count),
        (week_sat.bad_pct, week_sat.count),
    )
    add(
        "response_rate",
        "pct",
        (whole_sat.response_rate_pct, whole_sat.resolved),
        (week_sat.response_rate_pct, week_sat.resolved),
    )
    add(
        "follow_up",
        "count",
        (len(whole_sat.follow_up_rows), None),
        (len(week_sat.follow_up_rows), None),
    )
    return pd.DataFrame(rows)


def _sla_met(rows: pd.Series, status: pd.Series) -> tuple[float | None, int]:
    """SLA met % (概览, per severity, response and resolution) = records whose outcome is "met"
    ÷ records whose outcome is decided ("met", "breached", or "overdue": still open after its
    due time) × 100; records open within their target and records without a target ("—") are
    not counted. Shown with the number of decided records; "—" when there are none.
    """
    decided = rows & status.isin(("met", "breached", "overdue"))
    n = int(decided.sum())
    return (None if n == 0 else int((decided & status.eq("met")).sum()) / n * 100, n)


def _mean(hours: pd.Series) -> tuple[float | None, int]:
    """Average response time (概览) = the mean of 接收时间 − 问题发生时间 in hours over records with
    both times in order; average resolution time = the mean of 解决时间 − 接收时间 over finished
    records (处理进度 in `status.done`) with both times in order. Shown with the number of records
    averaged; "—" when there are none.
    """
    valid = hours.dropna()
    return (None if valid.empty else float(valid.mean()), int(len(valid)))


# -- categories, recurring problems ----------------------------------------------------------


def _category(frame: pd.DataFrame, dim: str, done: pd.Series, policy: Policy) -> pd.DataFrame:
    """Counts per value of ``dim``: list fields in policy order (zeros kept), others by count."""
    values = _text(frame, dim)
    total = len(frame)
    counts = values.value_counts(dropna=False)
    open_counts = values[~done].value_counts(dropna=False)
    field_list = load_form().field(dim).list
    if field_list:
        listed = policy.allowed(field_list)
        extra = [v for v in counts.index if v not in listed]
        order = listed + extra
    else:
        order = list(counts.index)
    table = pd.DataFrame({"value": pd.Series(order, dtype=object)})
    table["count"] = [int(counts.get(v, 0)) for v in order]
    table["open"] = [int(open_counts.get(v, 0)) for v in order]
    if not field_list:
        table = table.assign(_blank=table["value"].isna())
        table = table.sort_values(
            ["_blank", "count", "value"], ascending=[True, False, True], kind="stable"
        )
        table = table.drop(columns="_blank").reset_index(drop=True)
    table["share_pct"] = [np.nan if total == 0 else c / total * 100 for c in table["count"]]
    return table


def _recurring(
    frame: pd.DataFrame, done: pd.Series, top_n: int, min_count: int, policy: Policy
) -> pd.DataFrame:
    """Recurring problems seen at least ``min_count`` times, most frequent first: records of
    one module × problem type clustered by similar description, analysis and solution
    (:func:`~aftersales_xl.reports.recurring.problem_clusters`, the solution library's
    definition), each with its description and up to :data:`EXAMPLES` example records (those
    with a solution first, newest first). Records without a description form one group per
    module × type."""
    columns = ["rank", "module", "problem_type", "description", "count", "open"]
    for i in range(1, EXAMPLES + 1):
        columns += [f"example_id_{i}", f"example_solution_{i}"]
    labels = problem_clusters(frame, policy) if len(frame) else np.zeros(0, dtype=np.int64)
    work = pd.DataFrame({
        "module": _text(frame, "module"), "problem_type": _text(frame, "problem_type"),
        "record_id": _text(frame, "record_id"), "solution": _text(frame, "solution"),
        "description": _text(frame, "description"),
        "received_at": _times(frame, "received_at"), "open": ~done,
        "cluster": labels,
    }).dropna(subset=["module", "problem_type"])  # fmt: skip
    if work.empty:
        return pd.DataFrame(columns=columns)
    groups = (
        work.groupby(["module", "problem_type", "cluster"], sort=False)
        .agg(count=("record_id", "size"), open=("open", "sum"))
        .reset_index()
    )
    groups = groups[groups["count"] >= min_count]
    groups = groups.sort_values(
        ["count", "module", "problem_type", "cluster"], ascending=[False, True, True, True]
    )
    groups = groups.head(top_n).reset_index(drop=True)
    work = work.assign(_no_solution=work["solution"].isna()).sort_values(
        ["_no_solution", "received_at", "record_id"],
        ascending=[True, False, True],
        na_position="last",
    )
    rows = []
    for rank, g in enumerate(groups.itertuples(index=False), start=1):
        members = work[(work["module"] == g.module) & (work["problem_type"] == g.problem_type)
                       & (work["cluster"] == g.cluster)]  # fmt: skip
        examples = members.head(EXAMPLES)
        first = examples["description"].iloc[0]
        row: dict[str, Any] = {
            "rank": rank, "module": g.module, "problem_type": g.problem_type,
            "description": None if pd.isna(first) else redact(first),
            "count": int(g.count), "open": int(g.open),
        }  # fmt: skip
        for i in range(1, EXAMPLES + 1):
            if i <= len(examples):
                ex = examples.iloc[i - 1]
                row[f"example_id_{i}"] = ex["record_id"]
                row[f"example_solution_{i}"] = (
                    None if pd.isna(ex["solution"]) else redact(ex["solution"])
                )
            else:
                row[f"example_id_{i}"] = row[f"example_solution_{i}"] = None
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# -- weekly trend, open-record ageing, follow-up -------------------------------------------------


def _weekly(
    frame: pd.DataFrame, done: pd.Series, now: pd.Timestamp, week_start: pd.Timestamp
) -> pd.DataFrame:
    """Per ISO week: records received, records closed (已解决/已关闭 by 解决时间) and the
    backlog — records received before the week's end (or ``now``, if earlier) and not yet
    closed by then. A finished record without 解决时间 counts as closed when received."""
    columns = ["week", "week_start", "received", "closed", "backlog"]
    received = _times(frame, "received_at")
    if received.dropna().empty:
        return pd.DataFrame(columns=columns)
    closed_at = _times(frame, "resolved_at").where(done)
    closed_at = closed_at.where(~(done & closed_at.isna()), received)

    def monday(ts: pd.Timestamp) -> pd.Timestamp:
        return ts.normalize() - pd.Timedelta(days=ts.weekday())

    first = monday(received.min())
    last = max(monday(week_start), monday(min(received.max(), now)))
    weeks = pd.date_range(first, last, freq="7D")
    rec_sorted = np.sort(received.dropna().to_numpy())
    closed_sorted = np.sort(closed_at.dropna().to_numpy())
    rows = []
    for start in weeks:
        end = start + 7 * _DAY
        cutoff = min(end, now)
        iso = start.isocalendar()
        n_received = np.searchsorted(rec_sorted, end.to_datetime64()) - np.searchsorted(
            rec_sorted, start.to_datetime64()
        )
        n_closed = np.searchsorted(closed_sorted, end.to_datetime64()) - np.searchsorted(
            closed_sorted, start.to_datetime64()
        )
        backlog = np.searchsorted(rec_sorted, cutoff.to_datetime64()) - np.searchsorted(
            closed_sorted, cutoff.to_datetime64()
        )
        rows.append({
            "week": f"{iso.year}-W{iso.week:02d}", "week_start": start.to_pydatetime(),
            "received": int(n_received), "closed": int(n_closed), "backlog": int(max(backlog, 0)),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _aging(frame: pd.DataFrame, done: pd.Series, policy: Policy, now: pd.Timestamp) -> pd.DataFrame:
    """Open records (处理进度 not in status.done) by days since 接收时间, and by severity."""
    severities = policy.allowed("severity")
    open_ = frame[~done]
    age = (now - _times(open_, "received_at")) / _DAY
    bounds = [-np.inf] + [b for _, b in AGE_BUCKETS]
    bucket = pd.cut(age, bounds, right=True, labels=[k for k, _ in AGE_BUCKETS]).astype(object)
    bucket = bucket.where(age.notna(), "age_unknown")
    severity = _text(open_, "severity")
    keys = [k for k, _ in AGE_BUCKETS] + (
        ["age_unknown"] if (bucket == "age_unknown").any() else []
    )
    rows = []
    for key in keys:
        in_bucket = bucket == key
        row: dict[str, Any] = {"bucket": key, "count": int(in_bucket.sum())}
        for sev in severities:
            row[f"sev:{sev}"] = int((in_bucket & severity.eq(sev).fillna(False)).sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=["bucket", "count", *[f"sev:{s}" for s in severities]])


def _follow_up(frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Records rated ≤ satisfaction.follow_up_max, lowest rating first (feedback redacted)."""
    columns = ["record_id", "customer", "owner", "satisfaction", "feedback", "resolved_at"]
    rows = list(satisfaction_figures(frame, policy).follow_up_rows)
    picked = frame.loc[rows]
    table = pd.DataFrame({
        "record_id": _text(picked, "record_id"), "customer": _text(picked, "customer"),
        "owner": _text(picked, "owner"),
        "satisfaction": pd.to_numeric(picked["satisfaction"], errors="coerce").astype("Int64"),
        "feedback": _text(picked, "feedback").map(lambda v: v if pd.isna(v) else redact(v)),
        "resolved_at": _times(picked, "resolved_at"),
    }, columns=columns)  # fmt: skip
    table = table.sort_values(
        ["satisfaction", "resolved_at", "record_id"], na_position="last", kind="stable"
    )
    return table.reset_index(drop=True)


# -- helpers ------------------------------------------------------------------------------


def _done(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    status = _text(frame, "status")
    return status.isin(policy.done_statuses).fillna(False).astype(bool)


def _text(frame: pd.DataFrame, key: str) -> pd.Series:
    """A text column stripped, blanks as NaN (object dtype, so groupby keeps real values)."""
    if key not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=object)
    col = frame[key].astype(object)
    text = col.map(
        lambda v: np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
    )
    return text.where(text.ne(""), np.nan).astype(object)


def _times(frame: pd.DataFrame, key: str) -> pd.Series:
    if key not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    col = frame[key]
    return (
        col if pd.api.types.is_datetime64_any_dtype(col) else pd.to_datetime(col, errors="coerce")
    )


def _num(value: Any) -> float:
    return np.nan if value is None or pd.isna(value) else float(value)


# -- labels -------------------------------------------------------------------------------

_METRICS: dict[str, tuple[str, str, str, str]] = {
    # key: (label, label_en, basis, basis_en)
    "records": (
        "记录数",
        "Records",
        "全部：台账中的全部记录；本周：本周接收的记录",
        "all: every record; week: records received this week",
    ),
    "open": (
        "未结记录",
        "Open",
        "处理进度不是{done}；本周：本周接收且仍未结的记录",
        "status not resolved/closed; week: received this week and still open",
    ),
    "closed": (
        "{done}",
        "Resolved/closed",
        "全部：已结记录；本周：解决时间在本周的已结记录",
        "all: finished records; week: finished with 解决时间 this week",
    ),
    "closure_rate": (
        "结案率",
        "Closure rate",
        "接收批次口径：该期间接收的记录中现为{done}的占比；计数 = 该期间接收的记录数",
        "cohort: records received in the period that are now resolved/closed; "
        "count = records received in the period",
    ),
    "avg_response": (
        "平均响应时长(小时)",
        "Average response (h)",
        "接收时间 − 问题发生时间；本周：本周接收的记录；计数 = 有两个时间的记录数",
        "received − occurred; week: received this week; count = records with both times",
    ),
    "avg_resolve": (
        "平均解决时长(小时)",
        "Average resolution (h)",
        "解决时间 − 接收时间，已结记录；本周：解决时间在本周；计数 = 参与计算的记录数",
        "resolved − received, finished records; week: resolved this week; count = records averaged",
    ),
    "sla_respond": (
        "响应达标率",
        "Response SLA met",
        "按时响应 ÷ 有结果的记录；本周：本周接收；计数 = 有结果的记录数",
        "responded on time ÷ records with an outcome; week: received this week; "
        "count = records with an outcome",
    ),
    "sla_resolve": (
        "解决达标率",
        "Resolution SLA met",
        "按时解决 ÷（按时 + 超时 + 未解决已超期）；本周：本周接收；计数 = 分母",
        "resolved on time ÷ (on time + late + open past due); week: received this week; "
        "count = the denominator",
    ),
    "csat": (
        "满意度(CSAT)",
        "CSAT",
        "{good} 分评价 ÷ 全部评价；本周：解决时间在本周的记录；计数 = 评价数",
        "ratings {good} ÷ all ratings; week: records resolved this week; count = ratings",
    ),
    "bad_review": (
        "差评率",
        "Bad-review rate",
        "{bad} 分评价 ÷ 全部评价；本周：解决时间在本周的记录；计数 = 评价数",
        "ratings {bad} ÷ all ratings; week: records resolved this week; count = ratings",
    ),
    "response_rate": (
        "评价回收率",
        "Rating response rate",
        "已结记录中有满意度评分的占比；本周：解决时间在本周的记录；计数 = 已结记录数",
        "finished records that have a rating ÷ finished records; week: resolved this week; "
        "count = finished records",
    ),
    "follow_up": (
        "待回访(低分)",
        "Follow-up (low ratings)",
        "满意度 ≤ {max} 分的记录数，见“满意度跟进”",
        "records rated {max} or lower; see 满意度跟进",
    ),
}

_HEADINGS: dict[str, tuple[str, str]] = {
    "metric": ("指标", "Metric"),
    "all_value": ("全部台账", "Whole register"),
    "all_n": ("计数", "Count"),
    "week_value": ("最近一周", "Latest week"),
    "week_n": ("计数", "Count"),
    "basis": ("口径", "Basis"),
    "value": ("分类", "Value"),
    "count": ("数量", "Count"),
    "open": ("未结", "Open"),
    "share_pct": ("占比", "Share"),
    "rank": ("排名", "Rank"),
    "week": ("ISO 周", "ISO week"),
    "week_start": ("周一", "Monday"),
    "received": ("接收", "Received"),
    "closed": ("解决/关闭", "Closed"),
    "backlog": ("周末积压", "Backlog at week end"),
    "bucket": ("账龄", "Age"),
    "age_0_1": ("≤1天", "≤1 day"),
    "age_1_3": ("1–3天", "1–3 days"),
    "age_3_7": ("3–7天", "3–7 days"),
    "age_7_30": ("7–30天", "7–30 days"),
    "age_30_plus": (">30天", ">30 days"),
    "age_unknown": ("接收时间缺失", "No received time"),
    "(blank)": ("（空白）", "(blank)"),
    "overview-title": ("概览", "Overview"),
    CATEGORY_SHEET: ("分类统计", "Counts by category"),
    "recurring-title": (
        "高频问题（产品模块 × 问题类型 × 相似描述，与解决方案库同一口径）",
        "Recurring problems (module × type × similar description, as in the solution library)",
    ),
    "trend-title": ("周趋势：接收与解决", "Weekly trend: received vs closed"),
    "aging-title": ("未结记录账龄", "Open records by age"),
    "follow-up-title": ("满意度跟进（低分回访名单）", "Satisfaction follow-up (low ratings)"),
    "as-of": (
        "统计时间 {now}；最近一周 {week}；共 {records} 条记录",
        "As of {now}; latest week {week}; {records} records",
    ),
}
for _i in range(1, EXAMPLES + 1):
    _HEADINGS[f"example_id_{_i}"] = (f"示例{_i} 问题编号", f"Example {_i} ID")
    _HEADINGS[f"example_solution_{_i}"] = (f"示例{_i} 解决方案", f"Example {_i} solution")


def heading(key: str, lang: str = "zh") -> str:
    """The label people see for a summary column or key: form fields use the form's label."""
    if key.startswith("sev:"):
        return key[4:]
    pair = _HEADINGS.get(key)
    if pair is None:
        try:
            return load_form().field(key).title(lang)
        except KeyError:
            return key
    return pair[1] if lang == "en" else pair[0]
