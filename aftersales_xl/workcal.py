"""Working calendar: mainland-China statutory holidays and make-up working days (调休).

The statutory data comes from the ``chinesecalendar`` package (``import chinese_calendar``,
years 2004–2026 in version 1.11); ``[calendar] extra_holidays`` / ``extra_workdays`` in the
policy add to it. A year the package does not cover falls back to Monday–Friday and is
reported once, on :attr:`WorkCalendar.warnings` — never silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import chinese_calendar
import pandas as pd

from .messages import localise

if TYPE_CHECKING:
    from .config import Policy

DEFAULT_WORKING_HOURS = (time(9, 0), time(18, 0))


@dataclass(frozen=True)
class CalendarWarning:
    """A year for which no statutory holiday data exists; working days there are Mon–Fri."""

    year: int

    def message(self, lang: str = "zh") -> str:
        """The warning as a sentence in ``lang`` ("zh" or "en") that says what to do."""
        return localise(_TEXT, "no-holiday-data", lang, year=self.year)

    def __str__(self) -> str:
        return self.message("zh")


def _since_midnight(t: time) -> pd.Timedelta:
    return pd.Timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def _as_date(day: date | datetime | pd.Timestamp) -> date:
    return day.date() if isinstance(day, datetime) else day


class WorkCalendar:
    """Which days are working days, and day arithmetic on them.

    One calendar object per run: it caches answers and collects one
    :class:`CalendarWarning` per year that had to fall back to Monday–Friday.
    """

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        working_hours: tuple[time, time] = DEFAULT_WORKING_HOURS,
        covered_years: Iterable[int] = (),
    ) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.working_hours = working_hours
        self.warnings: list[CalendarWarning] = []
        # years the policy says it lists in full: the user has filled the gap, no warning
        self._config_years = frozenset(covered_years)
        self._has_data: dict[int, bool] = {}
        self._workday: dict[date, bool] = {}

    @classmethod
    def from_policy(cls, policy: Policy) -> WorkCalendar:
        """A calendar with the policy's extra holidays/workdays and working hours."""
        return cls(
            policy.extra_holidays,
            policy.extra_workdays,
            policy.working_hours,
            policy.covered_years,
        )

    def has_data(self, year: int) -> bool:
        """True if ``chinesecalendar`` has statutory holiday data for ``year``."""
        if year not in self._has_data:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
            except NotImplementedError:
                self._has_data[year] = False
            else:
                self._has_data[year] = True
        return self._has_data[year]

    def is_workday(self, day: date | datetime) -> bool:
        """A day is a working day if it is in `calendar.extra_workdays`; otherwise not if it
        is in `calendar.extra_holidays`; otherwise as the mainland-China statutory calendar
        says (package `chinesecalendar`: weekends and public holidays off, make-up working
        days 调休 on); in a year without statutory data, Monday to Friday, with one warning
        per such year (not given for a year in `calendar.covered_years`).
        """
        day = _as_date(day)
        cached = self._workday.get(day)
        if cached is not None:
            return cached
        if day in self.extra_workdays:
            answer = True
        elif day in self.extra_holidays:
            answer = False
        elif self.has_data(day.year):
            answer = bool(chinese_calendar.is_workday(day))
        else:
            answer = day.weekday() < 5
            warning = CalendarWarning(day.year)
            if day.year not in self._config_years and warning not in self.warnings:
                self.warnings.append(warning)
        self._workday[day] = answer
        return answer

    def warning_messages(self, lang: str = "zh") -> list[str]:
        """The collected warnings as sentences in ``lang``, one per year, oldest first."""
        return [w.message(lang) for w in sorted(self.warnings, key=lambda w: w.year)]

    def next_workday(self, day: date | datetime) -> date:
        """The first working day strictly after ``day``."""
        day = _as_date(day) + timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_workdays(self, day: date | datetime, n: int) -> date:
        """The ``n``-th working day strictly after ``day`` (``day`` itself when ``n`` is 0)."""
        day = _as_date(day)
        for _ in range(int(n)):
            day = self.next_workday(day)
        return day

    def in_working_hours(self, when: datetime) -> bool:
        """Working hours are `working_hours.start` ≤ t < `working_hours.end` on a working day
        (default 09:00 ≤ t < 18:00): a record received at exactly 09:00 starts its clock then;
        one received at exactly 18:00 (or later, or on a day off) starts it at 09:00 on the
        next working day, one received before 09:00 on a working day at 09:00 that day. So a P2
        record received Friday 18:00 is counted from Monday 09:00 (the next working day).
        """
        ts = pd.Timestamp(when)
        open_, close = self.working_hours
        return self.is_workday(ts.date()) and open_ <= ts.time() < close

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Due time of an N-working-day target: the clock starts at `start` if that is a
        working day within `working_hours` (default 09:00–18:00), at the start of working
        hours if `start` is earlier that day, otherwise at the start of working hours on the
        next working day (see `in_working_hours`: 09:00 ≤ t < 18:00). The due time is that
        same time of day on the N-th working day after the clock-start date (so a Friday
        before a holiday week is due after it).

        Example: received Friday 2024-09-27 10:00 with 5 working days → due
        2024-10-10 10:00 (working days 09-29 调休, 09-30, 10-08, 10-09, 10-10).
        """
        ts = pd.Timestamp(start)
        day, clock = ts.date(), ts.time()
        open_, close = self.working_hours
        if self.is_workday(day) and clock < close:
            clock = max(clock, open_)
        else:
            day, clock = self.next_workday(day), open_
        due_day = self.add_workdays(day, n)
        return datetime.combine(due_day, clock)

    def add_working_days_series(self, starts: pd.Series, n: int) -> pd.Series:
        """:meth:`add_working_days` over a datetime Series (NaT stays NaT).

        Calendar lookups run once per distinct date, so 100,000 rows cost no more than
        the few hundred days they fall on.
        """
        starts = pd.to_datetime(starts)
        if starts.dt.tz is not None:
            raise ValueError("times must be naive local (China) times")
        if not starts.notna().any():  # nothing to look up (pandas cannot map with an empty table)
            return starts.copy()
        day = starts.dt.normalize()
        clock = starts - day
        open_, close = (_since_midnight(t) for t in self.working_hours)

        days = pd.DatetimeIndex(day.dropna().unique())
        workday = pd.Series([self.is_workday(d) for d in days], index=days, dtype=bool)
        following = pd.Series(
            [pd.Timestamp(self.next_workday(d)) for d in days], index=days, dtype=starts.dtype
        )

        in_hours = day.map(workday).fillna(False).astype(bool) & (clock < close)
        start_day = day.where(in_hours, day.map(following))
        start_clock = clock.clip(lower=open_).where(in_hours, open_)

        start_days = pd.DatetimeIndex(start_day.dropna().unique())
        due_days = pd.Series(
            [pd.Timestamp(self.add_workdays(d, n)) for d in start_days],
            index=start_days,
            dtype=starts.dtype,
        )
        due = start_day.map(due_days) + start_clock
        return due.where(starts.notna())


_TEXT: dict[str, dict[str, str]] = {
    "no-holiday-data": {
        "zh": "{year} 年没有法定节假日数据，已按周一至周五计算工作日：请升级 chinesecalendar "
        "，或在 xlcheck.toml 的 [calendar] 中补充该年的 extra_holidays / extra_workdays "
        "并把年份加入 covered_years",
        "en": "no statutory holiday data for {year}; working days were counted as "
        "Monday to Friday: upgrade chinesecalendar, or list that year's holidays in "
        "extra_holidays / extra_workdays under [calendar] in xlcheck.toml and add "
        "the year to covered_years",
    },
}
