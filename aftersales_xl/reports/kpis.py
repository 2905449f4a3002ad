"""The figures of one period (an ISO week for the weekly email), as one frozen record.

:func:`period_figures` is pure: the register frame, the period, the policy, ``now`` and the
working calendar in, a :class:`PeriodFigures` out; nothing reads the clock or a file. Every
figure is built on the definitions in :mod:`aftersales_xl.sla` — the cohorts
(:func:`~aftersales_xl.sla.received_in`, :func:`~aftersales_xl.sla.resolved_in`),
:func:`~aftersales_xl.sla.sla_met`, :func:`~aftersales_xl.sla.average_hours`,
:func:`~aftersales_xl.sla.closure_figures`, :func:`~aftersales_xl.sla.satisfaction_figures` —
the functions the register's summary tabs use, so the email and the workbook agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ..config import Policy
from ..sla import (
    average_hours,
    closure_figures,
    done_mask,
    received_in,
    resolved_in,
    satisfaction_figures,
    sla_frame,
    sla_met,
)
from ..workcal import WorkCalendar

_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class Rate:
    """A percentage and the count it is computed over; ``pct`` is None when ``n`` is 0."""

    pct: float | None
    n: int


@dataclass(frozen=True)
class Mean:
    """A mean in hours and the number of records averaged; ``hours`` is None when ``n`` is 0."""

    hours: float | None
    n: int


@dataclass(frozen=True)
class PeriodFigures:
    """The figures of the period ``[start, end)``; see :func:`period_figures` for each cohort.

    ``sla_response`` / ``sla_resolve`` map each severity that has a target to its
    :class:`Rate`. The ``*_rows`` fields are the frame's index labels (Excel rows of the
    register) behind the lists of the weekly email, so lists and counts agree.
    """

    start: datetime
    end: datetime
    as_of: datetime  # min(end, now): the moment "open at period end" is measured
    received: int
    closed: int
    open_at_end: int
    closure: Rate  # closure rate of the received cohort, n = received
    response: Mean  # mean response hours, received cohort
    resolution: Mean  # mean resolution hours, resolved-in-period cohort
    sla_response: dict[str, Rate]
    sla_resolve: dict[str, Rate]
    csat: Rate  # n = ratings of records resolved in the period
    bad_review: Rate
    open_past_due: int
    open_rows: tuple[Any, ...]
    past_due_rows: tuple[Any, ...]
    follow_up_rows: tuple[Any, ...]

    @property
    def ratings(self) -> int:
        """Ratings counted in CSAT % and bad-review % (records resolved in the period)."""
        return self.csat.n

    @property
    def empty(self) -> bool:
        """Nothing happened in the period: no record received and none closed in it."""
        return self.received == 0 and self.closed == 0


def period_figures(
    frame: pd.DataFrame,
    start: datetime,
    end: datetime,
    policy: Policy,
    now: datetime,
    calendar: WorkCalendar | None = None,
    *,
    sla: pd.DataFrame | None = None,
) -> PeriodFigures:
    """The figures of the period from ``start`` (included) to ``end`` (excluded), both
    midnights, as known at ``now``. Cohorts:

    - **received**: records whose 接收时间 is in ``[start, end)``.
    - **closed**: records whose 处理进度 is in ``status.done`` and whose 解决时间 is in the
      period (the resolved-in-period cohort).
    - **open at period end**: records received before ``as_of = min(end, now)`` and not
      closed by then — not in ``status.done``, or done with a 解决时间 at or after ``as_of``
      (a done record without 解决时间 counts as closed when received, as in 周趋势).
    - **closure rate** (:func:`~aftersales_xl.sla.closure_figures`): of the received cohort,
      the share whose 处理进度 is in ``status.done`` now; n = received.
    - **mean response** hours (接收时间 − 问题发生时间) over the received cohort; **mean
      resolution** hours (解决时间 − 接收时间) over the resolved-in-period cohort; each over
      the records whose two times are in order, with that count.
    - **SLA met %** per severity with a target, for response and for resolution, over the
      received cohort, counting only records whose outcome is known at ``now`` ("met",
      "breached", or still open past its due time); n = those records.
    - **CSAT %** and **bad-review %** (:func:`~aftersales_xl.sla.satisfaction_figures`) over
      the ratings of the resolved-in-period cohort; n = those ratings; the follow-up rows are
      its records rated ≤ ``satisfaction.follow_up_max``.
    - **open past due**: records open at period end whose resolution due time (from
      :func:`~aftersales_xl.sla.sla_frame`) is before ``as_of``.

    ``frame`` is the typed register frame (see :func:`~aftersales_xl.reading.register.read_register`);
    ``sla`` may pass its :func:`~aftersales_xl.sla.sla_frame` at ``now`` to reuse it across
    periods.
    """
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    as_of = min(end_ts, pd.Timestamp(now))
    if sla is None:
        sla = sla_frame(frame, policy, now, calendar)
    received_at = _times(frame, "received_at")
    resolved_at = _times(frame, "resolved_at")
    done = done_mask(frame, policy)

    received = received_in(frame, start_ts, end_ts)
    closed = resolved_in(frame, policy, start_ts, end_ts)
    closed_at = resolved_at.where(resolved_at.notna(), received_at).where(done)
    open_at_end = (received_at < as_of) & ~(closed_at < as_of)
    past_due = open_at_end & (sla["resolve_due"] < as_of)

    last_day = (end_ts - pd.Timedelta(microseconds=1)).date()
    c = closure_figures(frame, policy, start_ts.date(), last_day)

    severity = _text(frame, "severity")
    sla_rates: dict[str, dict[str, Rate]] = {"respond": {}, "resolve": {}}
    for sev in policy.allowed("severity"):
        of_sev = received & severity.eq(sev).fillna(False).astype(bool)
        for kind, status in (
            ("respond", sla["response_status"]),
            ("resolve", sla["resolve_status"]),
        ):
            if policy.sla_target(sev, kind) is None:
                continue
            met = sla_met(status, of_sev)
            sla_rates[kind][sev] = Rate(met.pct, met.known)

    sat = satisfaction_figures(frame[closed], policy)
    return PeriodFigures(
        start=start_ts.to_pydatetime(),
        end=end_ts.to_pydatetime(),
        as_of=as_of.to_pydatetime(),
        received=int(received.sum()),
        closed=int(closed.sum()),
        open_at_end=int(open_at_end.sum()),
        closure=Rate(c.rate_pct, c.received),
        response=Mean(*average_hours(sla["response_hours"], received)),
        resolution=Mean(*average_hours(sla["resolve_hours"], closed)),
        sla_response=sla_rates["respond"],
        sla_resolve=sla_rates["resolve"],
        csat=Rate(sat.csat_pct, sat.count),
        bad_review=Rate(sat.bad_pct, sat.count),
        open_past_due=int(past_due.sum()),
        open_rows=tuple(frame.index[open_at_end.to_numpy()].tolist()),
        past_due_rows=tuple(frame.index[past_due.to_numpy()].tolist()),
        follow_up_rows=sat.follow_up_rows,
    )


def iso_week_bounds(label: str) -> tuple[datetime, datetime]:
    """``"2024-W21"`` → (Monday 2024-05-20 00:00, Monday 2024-05-27 00:00); ValueError if bad."""
    text = label.strip().upper()
    year, sep, week = text.partition("-W")
    if not sep or not (year.isdigit() and week.isdigit()):
        raise ValueError(label)
    monday = datetime.fromisocalendar(int(year), int(week), 1)
    return monday, monday + timedelta(days=7)


def iso_week_label(start: datetime) -> str:
    """The ISO week label of the week containing ``start`` (``2024-W21``)."""
    iso = start.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _text(frame: pd.DataFrame, key: str) -> pd.Series:
    if key not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[key].astype("string").str.strip()


def _times(frame: pd.DataFrame, key: str) -> pd.Series:
    if key not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    col = frame[key]
    return (
        col if pd.api.types.is_datetime64_any_dtype(col) else pd.to_datetime(col, errors="coerce")
    )
