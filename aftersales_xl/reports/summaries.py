"""Summary tabs of the master register, computed fresh from the whole register frame.

:func:`compute_summaries` returns a :class:`Summaries` of plain DataFrames (testable without
Excel); :mod:`aftersales_xl.reports.summary_sheets` writes them as the tabs listed in :data:`SUMMARY_SHEETS`.
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
from ..sla import (
    average_hours,
    closure_figures,
    format_target,
    overdue_open,
    received_in,
    resolved_in,
    satisfaction_figures,
    sla_frame,
    sla_met,
)
from ..workcal import WorkCalendar
from .recurring import problem_clusters

OVERVIEW_SHEET = "概览"
CATEGORY_SHEET = "分类统计"
OWNER_SHEET = "负责人统计"
RECURRING_SHEET = "高频问题"
TREND_SHEET = "周趋势"
AGING_SHEET = "未结账龄"
FOLLOW_UP_SHEET = "满意度跟进"
#: the summary tabs in the order they follow 总台账
SUMMARY_SHEETS = (
    OVERVIEW_SHEET,
    CATEGORY_SHEET,
    OWNER_SHEET,
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

    ``overview``: one row per KPI — ``key, block ("received"|"resolved"), label, label_en,
    unit ("count"|"pct"|"hours"), all_value, all_n, week_value, week_n, prev_value, prev_n,
    change, basis, basis_en``. ``block`` names the cohort the row counts (see
    :func:`~aftersales_xl.sla.received_in`): records received in the period, or records
    resolved in it; ``all`` = the whole register, ``week`` = the latest week, ``prev`` = the
    week before it, ``change`` = week − prev (percentage points for rates). A value is NaN
    when it has no denominator (shown "—"), ``*_n`` is the count it is computed over
    (ratings for CSAT, records with a known outcome for SLA met %).
    ``categories``: dimension → ``value, count, open, share_pct`` (value NaN = blank).
    ``owners``: per 处理负责人 (NaN = blank) ``records, open, overdue, respond_pct,
    respond_n, resolve_pct, resolve_n, avg_resolve, avg_resolve_n, csat_pct, csat_n``.
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
    owners: pd.DataFrame
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
        owners=_owners(frame, sla, done, policy),
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

#: the periods of 概览, in column order: whole register, latest week, the week before
PERIODS = ("all", "week", "prev")
#: the cohort blocks of 概览: received cohort (by 接收时间), resolved cohort (by 解决时间)
BLOCKS = ("received", "resolved")


def _overview(
    frame: pd.DataFrame,
    sla: pd.DataFrame,
    done: pd.Series,
    policy: Policy,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """概览's rows: the received-cohort block, then the resolved-cohort block; each row has a
    value and count for the whole register, the latest week and the week before, and the
    change (latest − previous; percentage points for rates)."""
    bounds = {"all": (None, None), "week": (start, end), "prev": (start - 7 * _DAY, start)}
    received = {p: received_in(frame, *b) for p, b in bounds.items()}
    received["all"] = pd.Series(True, index=frame.index)  # every record, dated or not
    resolved = {p: resolved_in(frame, policy, *b) for p, b in bounds.items()}
    sat = policy.satisfaction
    words = {
        "good": "/".join(map(str, sat["good"])),
        "bad": "/".join(map(str, sat["bad"])),
        "max": sat["follow_up_max"],
        "done": "/".join(policy.done_statuses),
    }
    rows: list[dict[str, Any]] = []

    def add(
        key: str,
        block: str,
        unit: str,
        figure: Any,
        names: tuple[str, str, str, str] | None = None,
    ) -> None:
        """One row: ``figure(period) -> (value, count)`` for each period."""
        label, label_en, basis, basis_en = names or _METRICS[key.split(":", 1)[0]]
        row: dict[str, Any] = {
            "key": key, "block": block, "label": label.format(**words),
            "label_en": label_en.format(**words), "unit": unit,
        }  # fmt: skip
        for period in PERIODS:
            value, n = figure(period)
            row[f"{period}_value"], row[f"{period}_n"] = _num(value), _num(n)
        row["change"] = row["week_value"] - row["prev_value"]
        row["basis"], row["basis_en"] = basis.format(**words), basis_en.format(**words)
        rows.append(row)

    # received cohort -----------------------------------------------------------------------
    def closure(period: str) -> tuple[Any, Any]:
        if period == "all":
            dated = _times(frame, "received_at").dropna()
            if dated.empty:
                return None, 0
            c = closure_figures(frame, policy, dated.min().date(), dated.max().date())
        else:
            first, stop = bounds[period]
            c = closure_figures(frame, policy, first.date(), (stop - _DAY).date())
        return c.rate_pct, c.received

    add("records", "received", "count", lambda p: (int(received[p].sum()), None))
    add("open", "received", "count", lambda p: (int((received[p] & ~done).sum()), None))
    add("overdue", "received", "count", lambda p: (overdue_open(sla, received[p]), None))
    add("closure_rate", "received", "pct", closure)
    add(
        "avg_response",
        "received",
        "hours",
        lambda p: average_hours(sla["response_hours"], received[p]),
    )
    severity = _text(frame, "severity")
    severities = policy.allowed("severity")
    for kind, column in (("respond", "response_status"), ("resolve", "resolve_status")):
        status = sla[column]
        base, base_en, basis, basis_en = _METRICS[f"sla_{kind}"]
        with_target = [s for s in severities if policy.sla_target(s, kind) is not None]
        if with_target:
            of_target = severity.isin(with_target).fillna(False).astype(bool)
            add(
                f"sla_{kind}",
                "received",
                "pct",
                lambda p, st=status, m=of_target: _met(st, received[p] & m),
                (f"{base}（全部有目标的级别）", f"{base_en} (all with a target)", basis, basis_en),
            )
        for sev in severities:
            of_sev = severity.eq(sev).fillna(False).astype(bool)
            target = policy.sla_target(sev, kind)
            if target is not None:
                add(
                    f"sla_{kind}:{sev}",
                    "received",
                    "pct",
                    lambda p, st=status, m=of_sev: _met(st, received[p] & m),
                    (
                        f"{base} {sev}（目标 {format_target(target)}）",
                        f"{base_en} {sev} (target {format_target(target, 'en')})",
                        f"同上，仅 {sev}",
                        f"as above, {sev} only",
                    ),
                )
            elif any(policy.sla_target(sev, k) is not None for k in ("respond", "resolve")):
                add(  # a target for the other kind only
                    f"no_target_{kind}:{sev}",
                    "received",
                    "count",
                    lambda p, m=of_sev: (int((received[p] & m).sum()), None),
                    _no_target_names(sev, kind),
                )
    for sev in severities:
        if all(policy.sla_target(sev, k) is None for k in ("respond", "resolve")):
            of_sev = severity.eq(sev).fillna(False).astype(bool)
            add(
                f"no_target:{sev}",
                "received",
                "count",
                lambda p, m=of_sev: (int((received[p] & m).sum()), None),
                _no_target_names(sev, None),
            )

    # resolved cohort -----------------------------------------------------------------------
    add("closed", "resolved", "count", lambda p: (int(resolved[p].sum()), None))
    add(
        "avg_resolve",
        "resolved",
        "hours",
        lambda p: average_hours(sla["resolve_hours"], resolved[p]),
    )
    sats = {p: satisfaction_figures(frame[resolved[p]], policy) for p in PERIODS}
    add("csat", "resolved", "pct", lambda p: (sats[p].csat_pct, sats[p].count))
    add("bad_review", "resolved", "pct", lambda p: (sats[p].bad_pct, sats[p].count))
    add(
        "response_rate",
        "resolved",
        "pct",
        lambda p: (sats[p].response_rate_pct, sats[p].resolved),
    )
    add("follow_up", "resolved", "count", lambda p: (len(sats[p].follow_up_rows), None))
    return pd.DataFrame(rows, columns=_OVERVIEW_COLUMNS)


_OVERVIEW_COLUMNS = [
    "key", "block", "label", "label_en", "unit",
    *[f"{p}_{x}" for p in PERIODS for x in ("value", "n")],
    "change", "basis", "basis_en",
]  # fmt: skip


def _met(status: pd.Series, rows: pd.Series) -> tuple[float | None, int]:
    m = sla_met(status, rows)
    return m.pct, m.known


def _no_target_names(sev: str, kind: str | None) -> tuple[str, str, str, str]:
    """Labels of a severity without target (``kind`` None: neither response nor resolution)."""
    if kind is None:
        return (
            f"{sev} 无目标 / no target",
            f"{sev}: no target",
            f"{sev} 没有响应和解决目标，不计入达标率；数值 = 该批次中 {sev} 的记录数",
            f"{sev} has no response or resolution target and is not in the SLA rates; "
            f"value = its records in the cohort",
        )
    zh, en = ("响应", "response") if kind == "respond" else ("解决", "resolution")
    return (
        f"{sev} {zh}无目标 / no target",
        f"{sev}: no {en} target",
        f"{sev} 没有{zh}目标，不计入{zh}达标率；数值 = 该批次中 {sev} 的记录数",
        f"{sev} has no {en} target and is not in that SLA rate; value = its records in the cohort",
    )


# -- per owner ------------------------------------------------------------------------------


def _owners(
    frame: pd.DataFrame, sla: pd.DataFrame, done: pd.Series, policy: Policy
) -> pd.DataFrame:
    """Per 处理负责人 over the whole register: records, open, open past due, response and
    resolution SLA met % (known outcomes, with their counts), average resolution time of
    finished records, CSAT % with the rating count. Most records first; blank owner last."""
    columns = [
        "owner", "records", "open", "overdue", "respond_pct", "respond_n",
        "resolve_pct", "resolve_n", "avg_resolve", "avg_resolve_n", "csat_pct", "csat_n",
    ]  # fmt: skip
    owner = _text(frame, "owner")
    if frame.empty:
        return pd.DataFrame(columns=columns)
    order = owner.value_counts(dropna=False)
    keys = sorted(order.index, key=lambda v: (pd.isna(v), -int(order[v]), str(v)))
    rows = []
    for value in keys:
        mine = owner.isna() if pd.isna(value) else owner.eq(value).fillna(False).astype(bool)
        resp = sla_met(sla["response_status"], mine)
        reso = sla_met(sla["resolve_status"], mine)
        avg, avg_n = average_hours(sla["resolve_hours"], mine & done)
        sat = satisfaction_figures(frame[mine & done], policy)
        rows.append({
            "owner": value, "records": int(mine.sum()), "open": int((mine & ~done).sum()),
            "overdue": overdue_open(sla, mine),
            "respond_pct": _num(resp.pct), "respond_n": resp.known,
            "resolve_pct": _num(reso.pct), "resolve_n": reso.known,
            "avg_resolve": _num(avg), "avg_resolve_n": avg_n,
            "csat_pct": _num(sat.csat_pct), "csat_n": sat.count,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


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
            "description": None if pd.isna(first) else first,
            "count": int(g.count), "open": int(g.open),
        }  # fmt: skip
        for i in range(1, EXAMPLES + 1):
            if i <= len(examples):
                ex = examples.iloc[i - 1]
                row[f"example_id_{i}"] = ex["record_id"]
                row[f"example_solution_{i}"] = None if pd.isna(ex["solution"]) else ex["solution"]
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
        "feedback": _text(picked, "feedback"),
        "resolved_at": _times(picked, "resolved_at"),
    }, columns=columns)  # fmt: skip
    table = table.sort_values(
        ["satisfaction", "resolved_at", "record_id"], na_position="last", kind="stable"
    )
    return table.reset_index(drop=True)


# -- helpers ------------------------------------------------------------------------------


def _done(frame: pd.DataFrame, policy: Policy) -> pd.Series:
    if "status" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return policy.is_done(frame["status"])


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

_KNOWN = "只计结果已知的记录，未到期的未结记录不计入"
_KNOWN_EN = "only records whose outcome is known; open records still within target are left out"
_METRICS: dict[str, tuple[str, str, str, str]] = {
    # key: (label, label_en, basis, basis_en); "received" rows count the records received in
    # the period (接收时间), "resolved" rows the records resolved in it (解决时间)
    "records": (
        "接收记录数",
        "Records received",
        "该期间接收的记录（全部台账：全部记录）",
        "records received in the period (whole register: every record)",
    ),
    "open": (
        "其中仍未结",
        "of which still open",
        "该期间接收、处理进度仍不是{done}的记录（按统计时间）",
        "received in the period and still not resolved/closed (as of the 统计时间)",
    ),
    "overdue": (
        "其中未结且已超期",
        "of which open past due",
        "该期间接收、没有解决时间且已过解决期限的记录（按统计时间）",
        "received in the period, no 解决时间 and past the resolution due time (as of the 统计时间)",
    ),
    "closure_rate": (
        "结案率",
        "Closure rate",
        "该期间接收的记录中现为{done}的占比；计数 = 该期间接收的记录数",
        "records received in the period that are now resolved/closed; "
        "count = records received in the period",
    ),
    "avg_response": (
        "平均响应时长(小时)",
        "Average response (h)",
        "接收时间 − 问题发生时间，该期间接收的记录；计数 = 有两个时间的记录数",
        "received − occurred, records received in the period; count = records with both times",
    ),
    "sla_respond": (
        "响应达标率",
        "Response SLA met",
        "按时响应 ÷（按时 + 超时）；计数 = 分母",
        "responded on time ÷ (on time + late); count = the denominator",
    ),
    "sla_resolve": (
        "解决达标率",
        "Resolution SLA met",
        "按时解决 ÷（按时 + 超时 + 未解决已超期）；" + _KNOWN + "；计数 = 分母",
        "resolved on time ÷ (on time + late + open past due); "
        + _KNOWN_EN
        + "; count = the denominator",
    ),
    "closed": (
        "{done}记录数",
        "Resolved/closed",
        "解决时间在该期间的{done}记录（全部台账：全部已结记录）",
        "finished records with 解决时间 in the period (whole register: every finished record)",
    ),
    "avg_resolve": (
        "平均解决时长(小时)",
        "Average resolution (h)",
        "解决时间 − 接收时间，该期间解决的记录；计数 = 参与计算的记录数",
        "resolved − received, records resolved in the period; count = records averaged",
    ),
    "csat": (
        "满意度(CSAT)",
        "CSAT",
        "{good} 分评价 ÷ 全部评价，该期间解决的记录；计数 = 评价数",
        "ratings {good} ÷ all ratings, records resolved in the period; count = ratings",
    ),
    "bad_review": (
        "差评率",
        "Bad-review rate",
        "{bad} 分评价 ÷ 全部评价，该期间解决的记录；计数 = 评价数",
        "ratings {bad} ÷ all ratings, records resolved in the period; count = ratings",
    ),
    "response_rate": (
        "评价回收率",
        "Rating response rate",
        "该期间解决的记录中有满意度评分的占比；计数 = 该期间解决的记录数",
        "records resolved in the period that have a rating; count = records resolved",
    ),
    "follow_up": (
        "待回访(低分)",
        "Follow-up (low ratings)",
        "该期间解决、满意度 ≤ {max} 分的记录数，名单见“满意度跟进”",
        "records resolved in the period rated {max} or lower; the list is in 满意度跟进",
    ),
}

_HEADINGS: dict[str, tuple[str, str]] = {
    "metric": ("指标", "Metric"),
    "all_value": ("全部台账", "Whole register"),
    "all_n": ("计数", "Count"),
    "week_value": ("最近一周", "Latest week"),
    "week_n": ("计数", "Count"),
    "prev_value": ("前一周", "Week before"),
    "prev_n": ("计数", "Count"),
    "change": ("变化", "Change"),
    "basis": ("口径", "Basis"),
    "block:received": (
        "按接收时间（接收批次）：该期间接收的记录",
        "By received time (received cohort): records received in the period",
    ),
    "block:resolved": (
        "按解决时间（解决批次）：该期间解决/关闭的记录",
        "By resolution time (resolved cohort): records resolved/closed in the period",
    ),
    "cohort:received": ("接收", "received"),
    "cohort:resolved": ("解决", "resolved"),
    "sla-note": (
        "达标率只计结果已知的记录（达标、超时、未解决已超期），未到期的未结记录不计入，所以同一天内不会因"
        "记录仍在处理而下降；变化 = 最近一周 − 前一周（比率为百分点）。",
        "SLA met % counts only records whose outcome is known (met, breached, open past due); "
        "open records still within target are left out, so the rate does not drop during the day "
        "while records are being worked on. Change = latest week − week before (rates in "
        "percentage points).",
    ),
    "owner-title": ("负责人统计（全部台账）", "By owner (whole register)"),
    "owner": ("处理负责人", "Owner"),
    "records": ("记录数", "Records"),
    "overdue": ("未结且已超期", "Open past due"),
    "respond_pct": ("响应达标率", "Response SLA met"),
    "respond_n": ("计数", "Count"),
    "resolve_pct": ("解决达标率", "Resolution SLA met"),
    "resolve_n": ("计数", "Count"),
    "avg_resolve": ("平均解决时长(小时)", "Average resolution (h)"),
    "avg_resolve_n": ("计数", "Count"),
    "csat_pct": ("满意度(CSAT)", "CSAT"),
    "csat_n": ("评价数", "Ratings"),
    "owner-note": (
        "达标率只计结果已知的记录（达标、超时、未解决已超期）；满意度按已结记录的评价；每个比率旁为其计数。",
        "SLA met % counts records whose outcome is known (met, breached, open past due); CSAT "
        "over the ratings of finished records; every rate has its count beside it.",
    ),
    "(unassigned)": ("（未指定）", "(unassigned)"),
    "aging-x": ("记录数", "Records"),
    "trend-chart": ("每周接收、解决与积压", "Received, closed and backlog per week"),
    "aging-chart": ("未结记录账龄（按严重程度）", "Open records by age and severity"),
    "aging-y": ("账龄（自接收时间起）", "Age (since received)"),
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
