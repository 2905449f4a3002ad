"""Service-level figures: per-record response/resolution times against the policy's targets,
satisfaction rates and the closure rate.

Every figure is defined by the first paragraph of its function's docstring;
:func:`figures_doc` turns those paragraphs into the README section "How figures are
computed", so the code and the documentation say the same thing. Nothing here reads the
clock: "now" is always passed in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .config import Policy, Target
from .messages import localise
from .workcal import WorkCalendar

DASH = "—"
HOUR = pd.Timedelta(hours=1)

#: Register columns added by :func:`sla_register_columns`: key -> (Chinese, English) header.
SLA_COLUMNS: dict[str, tuple[str, str]] = {
    "response_hours": ("响应时长(小时)", "Response (h)"),
    "response_target": ("响应目标", "Response target"),
    "response_due": ("响应期限", "Response due"),
    "response_status": ("响应结果", "Response result"),
    "response_over_hours": ("响应超时(小时)", "Response over by (h)"),
    "resolve_hours": ("解决时长(小时)", "Resolution (h)"),
    "resolve_target": ("解决目标", "Resolution target"),
    "resolve_due": ("解决期限", "Resolution due"),
    "resolve_status": ("解决结果", "Resolution result"),
    # labels of registers already written are kept: a renamed column would read as a new one
    "resolve_over_hours": ("超时(小时)", "Over by (h)"),
}

#: SLA status values in :func:`sla_frame` -> (Chinese, English) label for people.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "met": ("达标", "met"),
    "breached": ("超时", "breached"),
    "open": ("未解决(未超期)", "open, within target"),
    "overdue": ("未解决(已超期)", "open, overdue"),
    DASH: (DASH, DASH),
}


# -- formatting --------------------------------------------------------------------------


def fmt_pct(value: float | None) -> str:
    """A percentage is shown with one decimal (`95.0%`); a rate with no denominator
    (no records, no ratings) is `None` and is shown as `—`, never as 0 %.
    """
    return DASH if value is None or pd.isna(value) else f"{value:.1f}%"


def fmt_hours(hours: float | None, lang: str = "zh") -> str:
    """Hours with one decimal: ``3.5 小时`` / ``3.5 h``; missing → ``—``."""
    if hours is None or pd.isna(hours):
        return DASH
    return localise(_TEXT, "hours", lang, hours=hours)


def format_target(target: Target | str | None, lang: str = "zh") -> str:
    """A target for people: ``24 小时`` / ``5 个工作日`` (``24 h`` / ``5 working days``)."""
    if target is None or (isinstance(target, str) and target in ("", DASH)):
        return DASH
    if isinstance(target, str):
        from .config import parse_target

        target = parse_target(target)
    n = int(target.amount) if float(target.amount).is_integer() else target.amount
    if target.unit == "wd":
        return localise(_TEXT, "target-working-days", lang, n=n)
    return localise(_TEXT, "target-hours", lang, n=n)


def status_label(status: str, lang: str = "zh") -> str:
    """The person-facing label of an SLA status value (``met`` → ``达标``)."""
    zh, en = STATUS_LABELS.get(status, (status, status))
    return en if lang == "en" else zh


# -- per-record SLA ----------------------------------------------------------------------


def _times(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[us]")
    col = df[column]
    if not pd.api.types.is_datetime64_any_dtype(col):
        col = pd.to_datetime(col, errors="coerce")
    if col.dt.tz is not None:
        col = col.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    return col


def _stripped(col: pd.Series) -> pd.Series:
    """``col.astype("string").str.strip()`` as far as membership tests and the text of filled
    cells go: a column of text and blanks is trimmed once per distinct value and stays an object
    column (None for blanks); anything else takes the pandas string path."""
    if col.dtype == object:
        values = col.tolist()
        distinct = set(values)
        distinct.discard(None)
        if all(type(v) is str for v in distinct):
            trimmed = {v: v.strip() for v in distinct}
            return pd.Series(list(map(trimmed.get, values)), index=col.index, dtype=object)
    return col.astype("string").str.strip()


def _naive(now: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(now)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("Asia/Shanghai").tz_localize(None)
    return ts


def _due(start: pd.Series, target: Target, calendar: WorkCalendar) -> pd.Series:
    if target.unit == "wd":
        return calendar.add_working_days_series(start, int(target.amount))
    return start + pd.Timedelta(hours=target.amount)


def sla_frame(
    df: pd.DataFrame,
    policy: Policy,
    now: datetime | pd.Timestamp,
    calendar: WorkCalendar | None = None,
) -> pd.DataFrame:
    """Response time = 接收时间 − 问题发生时间 and resolution time = 解决时间 − 接收时间,
    in calendar hours. Each is compared with the severity's target: an hours target
    is due that many hours after the start (问题发生时间 for response, 接收时间 for
    resolution); a working-days target is due as in `add_working_days` below. "met" = finished
    at or before the due time, "breached" = after it (over by = finish − due, in hours);
    a record with no 解决时间 is "open" while `now` ≤ due and "overdue" after it (over by
    = now − due). "—" = no target for the severity, a time missing, or times out of order.

    ``df`` has columns ``occurred_at``, ``received_at``, ``resolved_at`` (datetimes, NaT
    when blank; text is parsed, unparseable text counts as blank) and ``severity``
    (normalised, e.g. ``"P1"``); its index (the Excel row number) is kept. ``now`` is
    naive local time (China), supplied by the caller. Working-day arithmetic uses
    ``calendar`` (built from the policy if omitted; pass one to collect its warnings).

    Returns columns ``response_hours``, ``response_target``, ``response_due``,
    ``response_status``, ``response_over_hours``, ``resolve_hours``, ``resolve_target``,
    ``resolve_due``, ``resolve_status``, ``resolve_over_hours``. Targets are text such as
    ``"4h"``/``"5wd"`` (``None`` if no target); statuses are ``met``/``breached``/``open``/
    ``overdue``/``—`` (see :data:`STATUS_LABELS`); hours are floats (NaN when not
    applicable).
    """
    cal = calendar if calendar is not None else WorkCalendar.from_policy(policy)
    now_ts = _naive(now)
    occurred = _times(df, "occurred_at")
    received = _times(df, "received_at")
    resolved = _times(df, "resolved_at")
    if "severity" in df.columns:
        severity = _stripped(df["severity"])
    else:
        severity = pd.Series(pd.NA, index=df.index, dtype="string")

    out = pd.DataFrame(index=df.index)
    out["response_hours"] = (received - occurred) / HOUR
    out["resolve_hours"] = (resolved - received) / HOUR

    for kind, start, finish in (
        ("respond", occurred, received),
        ("resolve", received, resolved),
    ):
        prefix = "response" if kind == "respond" else "resolve"
        target_col = pd.Series([None] * len(df), index=df.index, dtype=object)
        due = pd.Series(pd.NaT, index=df.index, dtype=start.dtype)
        targets: dict[Target, list[str]] = {}
        for sev in policy.allowed("severity"):
            target = policy.sla_target(sev, kind)
            if target is not None:
                targets.setdefault(target, []).append(sev)
        for target, sevs in targets.items():
            rows = severity.isin(sevs).fillna(False).astype(bool) & start.notna()
            if rows.any():
                due.loc[rows] = _due(start[rows], target, cal)
                target_col.loc[rows] = str(target)

        has_target = due.notna()
        done = has_target & finish.notna()
        in_order = finish >= start
        met = done & in_order & (finish <= due)
        breached = done & in_order & (finish > due)
        status = pd.Series(DASH, index=df.index, dtype=object)
        status[met] = "met"
        status[breached] = "breached"
        over = ((finish - due) / HOUR).where(breached)
        if kind == "resolve":
            pending = has_target & finish.isna()
            status[pending & (due >= now_ts)] = "open"
            overdue = pending & (due < now_ts)
            status[overdue] = "overdue"
            over = over.where(~overdue, (now_ts - due) / HOUR)
        out[f"{prefix}_target"] = target_col
        out[f"{prefix}_due"] = due
        out[f"{prefix}_status"] = status
        out[f"{prefix}_over_hours"] = over.astype(float)

    return out[
        [
            "response_hours",
            "response_target",
            "response_due",
            "response_status",
            "response_over_hours",
            "resolve_hours",
            "resolve_target",
            "resolve_due",
            "resolve_status",
            "resolve_over_hours",
        ]
    ]


def breaches(sla: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`sla_frame` result that missed a target: response breached,
    or resolution breached or overdue."""
    mask = (sla["response_status"] == "breached") | sla["resolve_status"].isin(
        ["breached", "overdue"]
    )
    return sla[mask]


class SlaFinding(NamedTuple):
    """One SLA miss for the validator: the Excel row, the field whose cell to mark
    (``received_at`` for response, ``resolved_at`` for resolution) and the parameters of
    message code ``sla-breach``: ``kind``, ``priority`` (the record's 严重程度, e.g. "P0";
    not called ``severity``, which :func:`~aftersales_xl.findings.make_finding` takes as
    the finding's own severity), ``target`` and ``actual``, already in the report language."""

    row: Any
    field: str
    params: dict[str, str]


def sla_findings(
    df: pd.DataFrame,
    policy: Policy,
    calendar: WorkCalendar | None,
    now: datetime | pd.Timestamp,
    lang: str = "zh",
    *,
    include_open: bool = True,
) -> list[SlaFinding]:
    """SLA misses as ``(row, field, params)`` for ``make_finding("sla-breach", ...)``:
    a breached response at the 接收时间 cell, a breached resolution (and, with
    ``include_open``, an open record past its due time) at the 解决时间 cell.

    ``df`` is as for :func:`sla_frame`, indexed by Excel row number.
    """
    sla = sla_frame(df, policy, now, calendar)
    wanted = ["breached", "overdue"] if include_open else ["breached"]
    respond = (sla["response_status"] == "breached").to_numpy()
    resolve = sla["resolve_status"].isin(wanted).to_numpy()
    hits = np.flatnonzero(respond | resolve)  # the rows of breaches(sla) that give a finding
    if not len(hits):
        return []
    severity = (
        _stripped(df["severity"]).to_numpy()[hits].tolist()
        if "severity" in df.columns
        else [""] * len(hits)
    )
    part = sla.iloc[hits]
    targets: dict[tuple[str, Any], str] = {}

    def target_text(kind: str, target: Any) -> str:
        if (kind, target) not in targets:
            targets[(kind, target)] = format_target(target, lang)
        return targets[(kind, target)]

    def due_notes(column: str) -> list[str]:
        when = np.datetime_as_string(part[column].to_numpy().astype("datetime64[m]"), unit="m")
        return [localise(_TEXT, "due", lang, due=w.replace("T", " ")) for w in when.tolist()]

    response_due, resolve_due = due_notes("response_due"), due_notes("resolve_due")
    out: list[SlaFinding] = []
    for i, (row, sev, r_target, r_hours, s_status, s_target, s_hours, s_over) in enumerate(
        zip(
            part.index.tolist(),
            severity,
            part["response_target"].tolist(),
            part["response_hours"].tolist(),
            part["resolve_status"].tolist(),
            part["resolve_target"].tolist(),
            part["resolve_hours"].tolist(),
            part["resolve_over_hours"].tolist(),
            strict=True,
        )
    ):
        if respond[hits[i]]:
            actual = fmt_hours(r_hours, lang)
            if str(r_target).endswith("wd"):
                actual += response_due[i]
            out.append(
                SlaFinding(
                    row,
                    "received_at",
                    _kind_params(
                        "respond", str(sev), target_text("respond", r_target), actual, lang
                    ),
                )
            )
        if resolve[hits[i]]:
            if s_status == "overdue":
                over = fmt_hours(s_over, lang)
                actual = localise(_TEXT, "still-open", lang, over=over)
            else:
                actual = fmt_hours(s_hours, lang)
            if str(s_target).endswith("wd") or s_status == "overdue":
                actual += resolve_due[i]
            out.append(
                SlaFinding(
                    row,
                    "resolved_at",
                    _kind_params(
                        "resolve", str(sev), target_text("resolve", s_target), actual, lang
                    ),
                )
            )
    return out


def _kind_params(kind: str, severity: str, target: str, actual: str, lang: str) -> dict[str, str]:
    """:func:`_params` with the target already formatted."""
    return {
        "kind": localise(_TEXT, f"kind-{kind}", lang),
        "priority": severity,
        "target": target,
        "actual": actual,
    }


def sla_register_columns(sla: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The :data:`SLA_COLUMNS` of a :func:`sla_frame` result, ready to write beside the
    register: headers in ``lang``, hours rounded to 0.1, targets and statuses as words."""
    out = pd.DataFrame(index=sla.index)
    i = 1 if lang == "en" else 0
    for key, labels in SLA_COLUMNS.items():
        col = sla[key]
        if key.endswith("_hours"):
            col = col.round(1)
        elif key.endswith("_target"):
            col = col.map(lambda t: format_target(t, lang) if isinstance(t, str) else DASH)
        elif key.endswith("_status"):
            col = col.map(lambda s: status_label(s, lang))
        out[labels[i]] = col
    return out


# -- satisfaction and closure ------------------------------------------------------------


@dataclass(frozen=True)
class Satisfaction:
    """Satisfaction figures; every rate is ``None`` when its denominator is 0."""

    count: int  # valid ratings (whole numbers 1-5)
    good: int  # ratings in policy satisfaction.good
    bad: int  # ratings in policy satisfaction.bad
    rated_resolved: int  # finished records that have a rating
    resolved: int  # finished records (status in status.done)
    csat_pct: float | None
    bad_pct: float | None
    response_rate_pct: float | None
    follow_up_rows: tuple[Any, ...]  # index labels (Excel rows) with rating <= follow_up_max


@dataclass(frozen=True)
class Closure:
    """Closure rate of one cohort: records received from ``period_start`` to ``period_end``."""

    received: int
    closed: int
    rate_pct: float | None
    period_start: date
    period_end: date


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole * 100


def satisfaction_figures(df: pd.DataFrame, policy: Policy) -> Satisfaction:
    """CSAT % = ratings in `satisfaction.good` (default 4–5) ÷ all ratings × 100;
    bad-review % = ratings in `satisfaction.bad` (default 1–2) ÷ all ratings × 100;
    response rate % = finished records (处理进度 in `status.done`, default 已解决/已关闭)
    that have a rating ÷ finished records × 100; the follow-up list is every record rated
    ≤ `satisfaction.follow_up_max` (default 3). A rating is a whole number 1–5 in
    客户满意度; anything else is not counted. Each rate is shown with its count; with no
    ratings the rates are "—".

    ``df`` has columns ``satisfaction`` (numbers, NaN when blank) and ``status``.
    """
    sat = policy.satisfaction
    if "satisfaction" in df.columns:
        ratings = pd.to_numeric(df["satisfaction"], errors="coerce")
    else:
        ratings = pd.Series(float("nan"), index=df.index)
    valid = ratings.isin([1, 2, 3, 4, 5])
    rated = ratings[valid]
    count = int(valid.sum())
    good = int(rated.isin(list(sat["good"])).sum())
    bad = int(rated.isin(list(sat["bad"])).sum())
    if "status" in df.columns:
        finished = policy.is_done(df["status"])
    else:
        finished = pd.Series(False, index=df.index)
    resolved = int(finished.sum())
    rated_resolved = int((finished & valid).sum())
    follow_up = tuple(rated.index[rated <= sat["follow_up_max"]].tolist())
    return Satisfaction(
        count=count,
        good=good,
        bad=bad,
        rated_resolved=rated_resolved,
        resolved=resolved,
        csat_pct=_pct(good, count),
        bad_pct=_pct(bad, count),
        response_rate_pct=_pct(rated_resolved, resolved),
        follow_up_rows=follow_up,
    )


def closure_figures(
    df: pd.DataFrame, policy: Policy, period_start: date, period_end: date
) -> Closure:
    """Closure rate % = records received in the period (接收时间 on a date from
    `period_start` to `period_end`, both included) whose 处理进度 is in `status.done`
    (default 已解决/已关闭) ÷ records received in the period × 100; "—" if none was received.

    ``df`` has columns ``received_at`` and ``status``; the status is as written in the
    records, so a record closed after the period still counts as closed.
    """
    start, end = _as_date(period_start), _as_date(period_end)
    day = _times(df, "received_at").dt.normalize()
    in_period = (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))
    if "status" in df.columns:
        finished = policy.is_done(df["status"])
    else:
        finished = pd.Series(False, index=df.index)
    received = int(in_period.sum())
    closed = int((in_period & finished).sum())
    return Closure(received, closed, _pct(closed, received), start, end)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# -- cohorts and period figures (pure: masks and series in, numbers out) -------------------

#: SLA outcomes that are known: counted in SLA met %
KNOWN_OUTCOMES = ("met", "breached", "overdue")


@dataclass(frozen=True)
class SlaMet:
    """SLA met % of one group of records: ``met`` of ``known`` (see :func:`sla_met`)."""

    met: int
    known: int  # met + breached + overdue
    pending: int  # open within target: outcome not known yet, not counted
    pct: float | None


def received_in(df: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.Series:
    """Cohorts: a period's *received cohort* is the records whose 接收时间 falls in
    [start, end) (records received in the period, whatever happened to them since); its
    *resolved cohort* is the finished records (处理进度 in `status.done`) whose 解决时间 falls in
    [start, end). Counts, closure rate, average response time and SLA met % of a period are
    over its received cohort; resolved/closed count, average resolution time, CSAT,
    bad-review rate and rating response rate over its resolved cohort. The whole register
    is one cohort of every record.

    ``start``/``end`` None = unbounded (every record with a 接收时间). Returns a boolean mask.
    """
    received = _times(df, "received_at")
    mask = received.notna()
    if start is not None:
        mask &= received >= pd.Timestamp(start)
    if end is not None:
        mask &= received < pd.Timestamp(end)
    return mask.fillna(False).astype(bool)


def resolved_in(
    df: pd.DataFrame, policy: Policy, start: datetime | None, end: datetime | None
) -> pd.Series:
    """The resolved cohort of [start, end) (see :func:`received_in`): finished records
    (处理进度 in `status.done`) with 解决时间 in the period; ``None`` bounds = unbounded, and
    the unbounded cohort is every finished record (with or without 解决时间)."""
    finished = done_mask(df, policy)
    if start is None and end is None:
        return finished
    resolved = _times(df, "resolved_at")
    mask = finished & resolved.notna()
    if start is not None:
        mask &= resolved >= pd.Timestamp(start)
    if end is not None:
        mask &= resolved < pd.Timestamp(end)
    return mask.fillna(False).astype(bool)


def done_mask(df: pd.DataFrame, policy: Policy) -> pd.Series:
    """Records whose 处理进度 is in `status.done` (default 已解决/已关闭)."""
    if "status" not in df.columns:
        return pd.Series(False, index=df.index)
    return policy.is_done(df["status"])


def sla_met(status: pd.Series, rows: pd.Series | None = None) -> SlaMet:
    """SLA met % = records whose outcome is "met" ÷ records whose outcome is known ("met",
    "breached", or "overdue": still open after its due time) × 100. Records still open within
    their target (outcome not known yet) and records without a target ("—", e.g. P3: shown
    as "无目标 / no target" with its count) are left out, so the rate does not fall as the day
    goes on merely because recent records are still being worked on; it moves only when an
    outcome becomes known (a record is resolved, or passes its due time unresolved). Shown with
    the number of records with a known outcome; "—" when there are none. The overall rate
    (all severities) is the same ratio over every severity that has a target.

    ``status`` is a ``response_status``/``resolve_status`` column of :func:`sla_frame`;
    ``rows`` an optional boolean mask (the cohort).
    """
    if rows is not None:
        status = status[rows.reindex(status.index, fill_value=False).astype(bool)]
    known = status.isin(KNOWN_OUTCOMES)
    n_known = int(known.sum())
    met = int(status.eq("met").sum())
    pending = int(status.eq("open").sum())
    return SlaMet(met, n_known, pending, _pct(met, n_known))


def average_hours(hours: pd.Series, rows: pd.Series | None = None) -> tuple[float | None, int]:
    """Average response time = the mean of 接收时间 − 问题发生时间 in hours over the cohort's
    records with both times in order; average resolution time = the mean of 解决时间 − 接收时间
    over the cohort's finished records (处理进度 in `status.done`) with both times in order.
    Shown with the number of records averaged; "—" when there are none.

    ``hours`` is ``response_hours``/``resolve_hours`` of :func:`sla_frame`; negative values
    (times out of order) and NaN are skipped. Returns ``(mean or None, count)``.
    """
    if rows is not None:
        hours = hours[rows.reindex(hours.index, fill_value=False).astype(bool)]
    valid = hours[hours >= 0].dropna()
    return (None if valid.empty else float(valid.mean()), int(len(valid)))


def overdue_open(sla: pd.DataFrame, rows: pd.Series | None = None) -> int:
    """Open past due = records without 解决时间 whose resolution due time (as in
    :func:`sla_frame`) is before `now` (resolution result "未解决(已超期)"), counted as of the
    统计时间; a cohort's figure counts its records that are open past due now."""
    status = sla["resolve_status"]
    if rows is not None:
        status = status[rows.reindex(status.index, fill_value=False).astype(bool)]
    return int(status.eq("overdue").sum())


def _on_dates(times: pd.Series, period_start: date, period_end: date) -> pd.Series:
    """True where a time falls on a date from ``period_start`` to ``period_end`` (both in)."""
    day = times.dt.normalize()
    start, end = pd.Timestamp(_as_date(period_start)), pd.Timestamp(_as_date(period_end))
    return ((day >= start) & (day <= end)).fillna(False).astype(bool)


# -- the monitoring daily report ------------------------------------------------------------


@dataclass(frozen=True)
class FirstResponse:
    """First-response figures of one cohort; hours are ``None`` when no record has a time."""

    count: int  # records of the cohort with a response time
    mean_hours: float | None
    max_hours: float | None
    over_rows: tuple[Any, ...]  # index labels (Excel rows) over the limit, longest first
    limit_hours: float

    @property
    def over(self) -> int:
        return len(self.over_rows)


def first_response_figures(
    df: pd.DataFrame,
    policy: Policy,
    period_start: date,
    period_end: date,
    limit_hours: float | None = None,
    calendar: WorkCalendar | None = None,
) -> FirstResponse:
    """First response of the records received in the period (接收时间 on a date from
    `period_start` to `period_end`, both included): response time as in `sla_frame`
    (接收时间 − 问题发生时间, calendar hours, counted only when both times are there and in
    order); average = their mean, longest = their maximum, over the threshold = those longer
    than `daily.first_response_hours` (default 2 h; exactly 2 h is within it). With no such
    record the average and the longest are "—" and the sample is 0.

    ``df`` is as for :func:`sla_frame`; ``limit_hours`` overrides the policy's threshold;
    ``calendar`` is the run's working calendar (collecting its warnings).
    """
    limit = float(policy.daily["first_response_hours"] if limit_hours is None else limit_hours)
    cohort = df[_on_dates(_times(df, "received_at"), period_start, period_end)]
    # the response time has one definition (sla_frame); "now" plays no part in it
    end_of_period = datetime.combine(_as_date(period_end), datetime.max.time())
    hours = sla_frame(cohort, policy, end_of_period, calendar)["response_hours"]
    hours = hours[hours.notna() & (hours >= 0)]
    if hours.empty:
        return FirstResponse(0, None, None, (), limit)
    over = hours[hours > limit].sort_values(ascending=False, kind="stable")
    return FirstResponse(
        count=int(len(hours)),
        mean_hours=float(hours.mean()),
        max_hours=float(hours.max()),
        over_rows=tuple(over.index.tolist()),
        limit_hours=limit,
    )


def resolved_satisfaction(
    df: pd.DataFrame, policy: Policy, period_start: date, period_end: date
) -> Satisfaction:
    """Satisfaction of the records resolved in the period (解决时间 on a date from
    `period_start` to `period_end`, both included): CSAT % and bad-review % exactly as in
    `satisfaction_figures`, over those records' ratings only (a rating is given once a
    problem is solved, so the day it was solved is the day it counts for).

    ``df`` has columns ``resolved_at``, ``satisfaction`` and ``status``.
    """
    cohort = df[_on_dates(_times(df, "resolved_at"), period_start, period_end)]
    return satisfaction_figures(cohort, policy)


def threshold_status(actual: float | None, threshold: float, rule: str) -> str | None:
    """A daily-report metric's 状态: "normal" (正常) while the actual value is within its
    threshold — at most the threshold for a ceiling (rule "max": first response ≤ 2 h,
    bad-review rate ≤ 15 %, counts ≤ their maximum), at least it for a floor (rule "min":
    closure rate ≥ 95 %, CSAT ≥ 80 %) — otherwise "warning" (预警); no actual value (no
    sample) → None, shown "—". Values are compared rounded to 9 decimals, so 19 of 20 closed
    is exactly 95 %.
    """
    if actual is None or pd.isna(actual):
        return None
    a, t = round(float(actual), 9), round(float(threshold), 9)
    within = a <= t if rule == "max" else a >= t
    return "normal" if within else "warning"


# -- documentation -----------------------------------------------------------------------

_DOCUMENTED: list[tuple[str, Callable[..., Any]]] = [
    ("Response and resolution time, SLA status (`sla_frame`)", sla_frame),
    ("Working days (`WorkCalendar.is_workday`)", WorkCalendar.is_workday),
    ("Working hours (`WorkCalendar.in_working_hours`)", WorkCalendar.in_working_hours),
    ("Working-day due time (`add_working_days`)", WorkCalendar.add_working_days),
    ("Cohorts (`received_in`, `resolved_in`)", received_in),
    ("Average times (`average_hours`)", average_hours),
    ("SLA met % (`sla_met`)", sla_met),
    ("Open past due (`overdue_open`)", overdue_open),
    ("Satisfaction (`satisfaction_figures`)", satisfaction_figures),
    ("Closure rate (`closure_figures`)", closure_figures),
    ("Daily first response (`first_response_figures`)", first_response_figures),
    ("Daily satisfaction (`resolved_satisfaction`)", resolved_satisfaction),
    ("Daily status (`threshold_status`)", threshold_status),
    ("Percentages (`fmt_pct`)", fmt_pct),
]


def figures_doc() -> str:
    """The Markdown section "How figures are computed", built from the first paragraph of
    the docstring of each function that defines a figure."""
    lines = [
        "## How figures are computed",
        "",
        "Defaults shown; every target, bucket and status list comes from the policy "
        "(`xlcheck config show`).",
        "",
    ]
    for title, func in _DOCUMENTED:
        doc = inspect.getdoc(func) or ""
        first = " ".join(doc.split("\n\n", 1)[0].split())
        lines.append(f"- **{title}**: {first}")
    return "\n".join(lines) + "\n"


_TEXT: dict[str, dict[str, str]] = {
    "hours": {"zh": "{hours:.1f} 小时", "en": "{hours:.1f} h"},
    "target-working-days": {"zh": "{n} 个工作日", "en": "{n} working days"},
    "target-hours": {"zh": "{n} 小时", "en": "{n} h"},
    "due": {"zh": "（期限 {due}）", "en": " (due {due})"},
    "still-open": {"zh": "仍未解决，已超期 {over}", "en": "still open, {over} past due"},
    "kind-respond": {"zh": "响应", "en": "response"},
    "kind-resolve": {"zh": "解决", "en": "resolution"},
}
