"""Working calendar: statutory holidays, make-up working days (调休), config additions, the
no-data fallback and working-day due times — checked against ``chinese_calendar`` itself."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar
import pandas as pd
import pytest

from aftersales_xl.config import load_policy
from aftersales_xl.workcal import WorkCalendar


def days(start: str, end: str) -> list[date]:
    d, last = date.fromisoformat(start), date.fromisoformat(end)
    out = []
    while d <= last:
        out.append(d)
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        # Spring Festival 2024: off 02-10..02-17, make-up working days Sun 02-04 and Sun 02-18
        ("2024-02-04", True),
        ("2024-02-09", True),
        ("2024-02-10", False),
        ("2024-02-12", False),  # a Monday inside the holiday
        ("2024-02-17", False),
        ("2024-02-18", True),
        ("2024-02-19", True),
        # National Day 2024: off 10-01..10-07, make-up Sun 09-29 and Sat 10-12
        ("2024-09-28", False),
        ("2024-09-29", True),
        ("2024-10-01", False),
        ("2024-10-07", False),
        ("2024-10-08", True),
        ("2024-10-12", True),
        ("2024-10-13", False),
    ],
)
def test_statutory_days(day: str, workday: bool) -> None:
    d = date.fromisoformat(day)
    assert chinese_calendar.is_workday(d) is workday  # the data itself agrees with the table
    cal = WorkCalendar()
    assert cal.is_workday(d) is workday
    assert cal.warnings == []


@pytest.mark.parametrize(
    ("start", "end"), [("2024-01-25", "2024-02-29"), ("2024-09-20", "2024-10-20")]
)
def test_every_day_matches_chinese_calendar(start: str, end: str) -> None:
    cal = WorkCalendar()
    assert [cal.is_workday(d) for d in days(start, end)] == [
        chinese_calendar.is_workday(d) for d in days(start, end)
    ]


def test_datetime_and_timestamp_inputs_are_days() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(datetime(2024, 10, 12, 23, 59)) is True
    assert cal.is_workday(pd.Timestamp("2024-10-01 10:00")) is False


def test_config_extra_days_override_the_statutory_calendar(tmp_path, monkeypatch) -> None:
    (tmp_path / "xlcheck.toml").write_text(
        '[calendar]\nextra_holidays = ["2024-05-20"]\nextra_workdays = ["2024-10-05"]\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    cal = WorkCalendar.from_policy(load_policy())
    assert cal.is_workday(date(2024, 5, 20)) is False  # a Monday made a company holiday
    assert cal.is_workday(date(2024, 10, 5)) is True  # a National Day date made a workday
    assert cal.is_workday(date(2024, 5, 21)) is True


def test_year_without_data_warns_once_and_falls_back_to_monday_to_friday() -> None:
    cal = WorkCalendar()
    assert not cal.has_data(2031)
    week = days("2031-01-05", "2031-01-11")  # Sunday .. Saturday
    assert [cal.is_workday(d) for d in week] == [False, True, True, True, True, True, False]
    assert cal.is_workday(date(2031, 10, 1)) is True  # no National Day data: a plain Wednesday
    assert len(cal.warnings) == 1
    assert cal.warnings[0].year == 2031
    zh, en = cal.warning_messages("zh")[0], cal.warning_messages("en")[0]
    assert zh.startswith("2031 年没有法定节假日数据，已按周一至周五计算工作日")
    assert "chinesecalendar" in zh and "[calendar]" in zh
    assert en.startswith("no statutory holiday data for 2031")
    assert "Monday to Friday" in en
    assert str(cal.warnings[0]) == zh


def test_each_missing_year_warns_separately_and_covered_years_never() -> None:
    cal = WorkCalendar()
    cal.is_workday(date(2024, 1, 2))
    cal.is_workday(date(2032, 1, 2))
    cal.is_workday(date(2031, 1, 2))
    cal.is_workday(date(2031, 6, 2))
    assert [w.year for w in cal.warnings] == [2032, 2031]
    assert [m[:4] for m in cal.warning_messages()] == ["2031", "2032"]


def test_a_covered_year_has_no_warning_but_one_listed_day_does_not_cover_it() -> None:
    # one company day off in 2031 says nothing about 2031's Spring Festival: still warned
    cal = WorkCalendar(extra_holidays=[date(2031, 1, 1)])
    assert cal.is_workday(date(2031, 1, 1)) is False
    assert cal.is_workday(date(2031, 1, 2)) is True
    assert [w.year for w in cal.warnings] == [2031]
    # the policy says 2031 is listed in full: no warning
    cal = WorkCalendar(extra_holidays=[date(2031, 1, 1)], covered_years=[2031])
    assert cal.is_workday(date(2031, 1, 1)) is False
    assert cal.is_workday(date(2031, 1, 2)) is True
    assert cal.warnings == []


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Friday before the National Day week: Sun 09-29 (调休), Mon 09-30, then 10-08..10-10
        ("2024-09-27 10:00", 5, "2024-10-10 10:00"),
        ("2024-09-27 10:00", 2, "2024-09-30 10:00"),
        ("2024-09-27 10:00", 3, "2024-10-08 10:00"),
        # received after working hours: the clock starts at 09:00 on the next working day
        ("2024-09-27 18:00", 5, "2024-10-11 09:00"),
        ("2024-09-27 23:30", 1, "2024-09-30 09:00"),
        # received on a rest day / a holiday
        ("2024-09-28 11:00", 1, "2024-09-30 09:00"),
        # clock starts Tue 10-08 09:00; then 10-09, 10-10, 10-11 and Sat 10-12 (调休)
        ("2024-10-03 11:00", 4, "2024-10-12 09:00"),
        ("2024-10-03 11:00", 5, "2024-10-14 09:00"),
        ("2024-10-03 11:00", 0, "2024-10-08 09:00"),
        # received before working hours on a working day: from 09:00 that day
        ("2024-09-30 07:15", 1, "2024-10-08 09:00"),
        # Spring Festival 2024: Fri 02-09 → next working day is Sun 02-18 (调休)
        ("2024-02-09 14:00", 1, "2024-02-18 14:00"),
        ("2024-02-09 14:00", 5, "2024-02-22 14:00"),
        ("2024-02-03 10:00", 1, "2024-02-05 09:00"),  # Sat 02-03 → clock starts Sun 02-04
        # ordinary week
        ("2024-05-21 14:30", 5, "2024-05-28 14:30"),
        # year without data: Mon–Fri
        ("2031-01-03 10:00", 1, "2031-01-06 10:00"),
    ],
)
def test_add_working_days(start: str, n: int, due: str) -> None:
    cal = WorkCalendar()
    expected = datetime.fromisoformat(due)
    assert cal.add_working_days(datetime.fromisoformat(start), n) == expected
    series = pd.Series([pd.Timestamp(start)], index=[7]).astype("datetime64[us]")
    result = cal.add_working_days_series(series, n)
    assert result.index.tolist() == [7]
    assert result.iloc[0] == pd.Timestamp(expected)


def test_working_hours_come_from_the_policy() -> None:
    cal = WorkCalendar(working_hours=(time(8, 30), time(17, 30)))
    assert cal.add_working_days(datetime(2024, 9, 27, 17, 45), 1) == datetime(2024, 9, 30, 8, 30)
    assert cal.add_working_days(datetime(2024, 9, 27, 8, 0), 1) == datetime(2024, 9, 29, 8, 30)


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_series_agrees_with_scalar_rule_everywhere(unit: str) -> None:
    """Every 3 hours across both 2024 holiday seasons, for several N, plus NaT."""
    starts = list(pd.date_range("2024-02-01", "2024-02-25", freq="3h")) + list(
        pd.date_range("2024-09-25 01:00", "2024-10-15", freq="3h")
    )
    series = pd.Series([*starts, pd.NaT]).astype(f"datetime64[{unit}]")
    cal = WorkCalendar()
    for n in (0, 1, 5):
        got = cal.add_working_days_series(series, n)
        assert pd.isna(got.iloc[-1])
        want = [pd.Timestamp(cal.add_working_days(s, n)) for s in starts]
        assert got.iloc[:-1].tolist() == want


def test_series_with_no_times() -> None:
    cal = WorkCalendar()
    assert cal.add_working_days_series(pd.Series([], dtype="datetime64[us]"), 5).empty
    assert cal.add_working_days_series(pd.Series([pd.NaT, pd.NaT]), 5).isna().all()
