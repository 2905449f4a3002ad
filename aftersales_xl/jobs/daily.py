"""``xlcheck daily``: the monitoring daily report (系统监控日报表) computed from the register.

One run, for one calendar day (default: yesterday):

1. read the register (:func:`~aftersales_xl.reading.register.read_register`); a file that is
   not an xlcheck register, or a day outside the register's range, stops here (exit 2);
2. compute each metric with the SLA module (:mod:`aftersales_xl.sla`, one definition each:
   :func:`~aftersales_xl.sla.first_response_figures`, :func:`~aftersales_xl.sla.closure_figures`,
   :func:`~aftersales_xl.sla.resolved_satisfaction`) and set its 状态 with
   :func:`~aftersales_xl.sla.threshold_status` against the policy's thresholds;
3. with ``notify``, push one message listing every warning and every overdue record to the
   configured channels (:mod:`aftersales_xl.sending.robots`); a failing channel is reported and
   the others are still tried;
4. fill the report by its defined names (:class:`~aftersales_xl.writing.daily_report.NamedForm`)
   — on the existing report for that day when ``output`` is one, so what people typed
   (填写人, 填写时间, the 异常情况 rows, 备注) is kept — and save it atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import Policy
from ..errors import WriteError, XlcheckError
from ..forms import FormSpec, MetricSpec, defined_name, load_form
from ..pii import redact
from ..reading.marker import read_marker
from ..reading.register import read_register
from ..sla import (
    DASH,
    closure_figures,
    first_response_figures,
    fmt_hours,
    fmt_pct,
    resolved_satisfaction,
    threshold_status,
)
from ..workcal import WorkCalendar
from ..writing.daily_report import NamedForm
from ..writing.fileio import refuse_if_open_in_excel
from ..writing.template import sheet_list_values, write_template


class DayOutOfRange(XlcheckError):
    """The day asked for is outside what the register covers."""


@dataclass(frozen=True)
class Metric:
    """One metric row as written: values in the cell's unit (hours, a count, or a fraction
    for a percentage); ``actual`` None means no sample (shown ``—``)."""

    key: str
    label: str
    unit: str
    rule: str
    threshold: float
    actual: float | None
    count: int
    status: str | None  # "normal" | "warning" | None

    def shown(self, value: float | None, lang: str = "zh") -> str:
        if value is None:
            return DASH
        if self.unit == "hours":
            return fmt_hours(value, lang)
        if self.unit == "pct":
            return fmt_pct(value * 100)
        return str(int(value))

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "threshold": self.threshold,
            "actual": self.actual,
            "shown": self.shown(self.actual, lang),
            "count": self.count,
            "status": self.status,
        }


@dataclass(frozen=True)
class OverdueRecord:
    record_id: str
    severity: str
    response_hours: float
    owner: str


@dataclass
class DailyResult:
    day: date
    day_kind: str  # "workday" | "rest-day" | "make-up-workday"
    output: Path
    metrics: list[Metric]
    overdue: list[OverdueRecord]
    refreshed: bool = False  # an existing report for the day was refreshed, typed cells kept
    deliveries: list[Any] = field(default_factory=list)  # sending.robots.Delivery
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[Metric]:
        return [m for m in self.metrics if m.status == "warning"]

    @property
    def failed(self) -> list[Any]:
        return [d for d in self.deliveries if not d.ok]

    def exit_code(self, fail_on_warning: bool = False) -> int:
        """2 when a channel failed; 1 with ``fail_on_warning`` and a metric warning; else 0."""
        if self.failed:
            return 2
        return 1 if fail_on_warning and self.warnings else 0

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "day_kind": self.day_kind,
            "output": redact(str(self.output)),
            "refreshed": self.refreshed,
            "metrics": [m.to_dict(lang) for m in self.metrics],
            "warnings": [m.key for m in self.warnings],
            "overdue": [
                {
                    "record_id": o.record_id,
                    "severity": o.severity,
                    "response_hours": round(o.response_hours, 2),
                    "owner": o.owner,
                }
                for o in self.overdue
            ],
            "notify": [d.to_dict() for d in self.deliveries],
            "notes": list(self.notes),
        }


def register_range(df: pd.DataFrame) -> tuple[date, date] | None:
    """The days a register covers: from the first 接收时间 to the later of the last
    接收时间 and the last 合并时间 (the register knows every day up to its last merge, so a
    quiet day before it is a day with no records, not an unknown one). None if empty."""
    received = pd.to_datetime(df["received_at"], errors="coerce").dropna()
    if received.empty:
        return None
    merged = pd.to_datetime(df.get("merged_at"), errors="coerce")
    last = received.max()
    if merged is not None and merged.notna().any():
        last = max(last, merged.max())
    return received.min().date(), last.date()


def day_kind(day: date, calendar: WorkCalendar) -> str:
    """ "workday", "rest-day" (weekend or statutory holiday), or "make-up-workday" (调休)."""
    if calendar.is_workday(day):
        return "make-up-workday" if day.weekday() >= 5 else "workday"
    return "rest-day"


def compute_metrics(
    df: pd.DataFrame,
    form: FormSpec,
    policy: Policy,
    day: date,
    anomalies: int,
    lang: str = "zh",
    calendar: WorkCalendar | None = None,
) -> tuple[list[Metric], tuple[Any, ...]]:
    """Every metric of the daily form for ``day`` and the Excel rows of the records whose
    first response is over the threshold (longest first). ``anomalies`` is the number of
    filled 异常情况 rows (typed by people into the report)."""
    spec = form.sheet_form
    assert spec is not None
    response = first_response_figures(df, policy, day, day, calendar=calendar)
    closure = closure_figures(df, policy, day, day)
    sat = resolved_satisfaction(df, policy, day, day)

    def pct(value: float | None) -> float | None:
        return None if value is None else value / 100

    figures: dict[str, tuple[float | None, int]] = {
        "first_response_avg": (response.mean_hours, response.count),
        "first_response_max": (response.max_hours, response.count),
        "first_response_overdue": (
            float(response.over) if response.count else None,
            response.count,
        ),
        "closure_rate": (pct(closure.rate_pct), closure.received),
        "csat": (pct(sat.csat_pct), sat.count),
        "bad_review_rate": (pct(sat.bad_pct), sat.count),
        "system_anomalies": (float(anomalies), anomalies),
    }
    metrics = []
    for m in spec.metrics:
        actual, count = figures[m.key]
        threshold = m.threshold_value(policy)
        metrics.append(
            Metric(
                m.key,
                m.title(lang),
                m.unit,
                m.rule,
                threshold,
                actual,
                count,
                threshold_status(actual, threshold, m.rule),
            )
        )
    return metrics, response.over_rows


def daily_report(
    register: str | Path,
    output: str | Path,
    policy: Policy,
    *,
    day: date | None = None,
    now: datetime,
    lang: str = "zh",
    notify: bool = False,
    env: Mapping[str, str] | None = None,
) -> DailyResult:
    """Compute the daily report of ``day`` (default: the day before ``now``) from
    ``register`` and write it to ``output``; see the module docstring for the steps.

    Raises :class:`~aftersales_xl.errors.UnreadableError` when the register is not an xlcheck
    register, :class:`DayOutOfRange` for a day outside it, :class:`WriteError` when
    ``output`` exists and is not this day's report or cannot be written.
    """
    form = load_form("daily")
    record_form = load_form("record")
    day = day or (now.date() - timedelta(days=1))
    output = Path(output)
    text = _words(lang)
    if output.suffix.lower() != ".xlsx":
        raise WriteError(text["suffix"].format(path=redact(str(output))))
    refuse_if_open_in_excel(output, lang)

    existing: NamedForm | None = None
    if output.exists():
        if read_marker(output) != form.marker:
            raise WriteError(text["not-a-report"].format(path=redact(str(output))))
        existing = NamedForm(output, policy.limits, lang)
        written = _as_date(existing.get(defined_name(form, "report_date")))
        if written is not None and written != day:
            raise WriteError(
                text["other-day"].format(
                    path=redact(str(output)), written=written.isoformat(), day=day.isoformat()
                )
            )

    df = read_register(register, record_form, policy, lang=lang)
    covered = register_range(df)
    name = redact(Path(register).name)
    if covered is None:
        raise DayOutOfRange(text["empty"].format(register=name))
    if not covered[0] <= day <= covered[1]:
        raise DayOutOfRange(
            text["out-of-range"].format(
                register=name,
                day=day.isoformat(),
                first=covered[0].isoformat(),
                last=covered[1].isoformat(),
            )
        )

    anomalies = len(existing.filled_rows(defined_name(form, "anomalies"))) if existing else 0
    calendar = WorkCalendar.from_policy(policy)
    metrics, over_rows = compute_metrics(df, form, policy, day, anomalies, lang, calendar)
    overdue = [_overdue(df, row, policy) for row in over_rows]
    result = DailyResult(
        day=day,
        day_kind=day_kind(day, calendar),
        output=output,
        metrics=metrics,
        overdue=overdue,
        refreshed=existing is not None,
        notes=calendar.warning_messages(lang),
    )

    if notify:
        from ..sending.robots import notify_all

        if not policy.notify["channels"]:
            result.notes.append(text["no-channels"])
        elif result.warnings or result.overdue:
            subject, body = alert_message(result, lang)
            result.deliveries = notify_all(
                subject, body, policy, env=os.environ if env is None else env, lang=lang
            )
        else:
            result.notes.append(text["nothing-to-send"])

    report = existing
    with tempfile.TemporaryDirectory(prefix=".xlcheck-daily-") as tmp:
        if report is None:
            blank = write_template(Path(tmp) / "daily_report.xlsx", form, policy, lang)
            report = NamedForm(blank, policy.limits, lang)
        _fill(report, form, policy, result, name, now, lang)
        report.save(output)
    return result


def _fill(
    report: NamedForm,
    form: FormSpec,
    policy: Policy,
    result: DailyResult,
    source: str,
    now: datetime,
    lang: str,
) -> None:
    """Set every computed cell; typed cells are left as they are."""
    spec = form.sheet_form
    assert spec is not None
    statuses = sheet_list_values(form, policy, "metric_status", lang)
    label = {"normal": statuses[0], "warning": statuses[1], None: statuses[2]}
    report.set(defined_name(form, "report_date"), datetime.combine(result.day, datetime.min.time()))
    report.set(defined_name(form, "generated_at"), now.replace(microsecond=0))
    report.set(defined_name(form, "source"), source)
    for metric in result.metrics:
        m: MetricSpec = spec.metric(metric.key)
        report.set(defined_name(form, m.key, "threshold"), metric.threshold)
        report.set(
            defined_name(form, m.key, "actual"), DASH if metric.actual is None else metric.actual
        )
        report.set(defined_name(form, m.key, "status"), label[metric.status])
        report.set(defined_name(form, m.key, "count"), metric.count)
        report.set(defined_name(form, m.key, "note"), m.note_en if lang == "en" else m.note)
    rows: list[tuple[Any, ...]] = [
        (o.record_id, o.severity, o.response_hours, o.owner) for o in result.overdue
    ]
    capacity = spec.table("overdue").rows
    if len(rows) > capacity:
        more = len(rows) - capacity + 1
        rows = rows[: capacity - 1] + [("…", _words(lang)["more"].format(n=more))]
    report.set_table(defined_name(form, "overdue"), rows)
    if result.deliveries:
        methods = dict(
            zip(
                ("wecom", "dingtalk", "feishu", "email"),
                sheet_list_values(form, policy, "push_method", lang),
                strict=True,
            )
        )
        report.append_rows(
            defined_name(form, "alerts"),
            [
                (d.target, methods[d.channel], d.sent_at, d.result_text(lang))
                for d in result.deliveries
            ],
        )


def _overdue(df: pd.DataFrame, row: Any, policy: Policy) -> OverdueRecord:
    rec = df.loc[row]

    def text(key: str) -> str:
        value = rec.get(key)
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)

    hours = (pd.Timestamp(rec["received_at"]) - pd.Timestamp(rec["occurred_at"])) / pd.Timedelta(
        hours=1
    )
    return OverdueRecord(text("record_id"), text("severity"), float(hours), text("owner"))


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def alert_message(result: DailyResult, lang: str = "zh") -> tuple[str, str]:
    """The one alert of a run: a subject and a body listing each warning and each overdue
    record ID (``客户反馈响应超时-FW20240521003``). Built here only; every line redacted."""
    t = _words(lang)
    subject = t["subject"].format(day=result.day.isoformat(), n=len(result.warnings))
    lines = [subject]
    for m in result.warnings:
        rule = "≤" if m.rule == "max" else "≥"
        lines.append(
            t["warning-line"].format(
                label=m.label,
                actual=m.shown(m.actual, lang),
                rule=rule,
                threshold=m.shown(m.threshold, lang),
                count=m.count,
            )
        )
    if result.overdue:
        lines.append(t["overdue-title"])
        for o in result.overdue:
            lines.append(
                t["overdue-line"].format(
                    id=o.record_id or "?",
                    severity=o.severity,
                    hours=fmt_hours(o.response_hours, lang),
                )
            )
    lines.append(t["report-line"].format(name=result.output.name))
    return redact(subject), "\n".join(redact(line) for line in lines)


def render_daily(result: DailyResult, lang: str = "zh") -> str:
    """The terminal summary: the day, each metric with its status, warnings, deliveries."""
    t = _words(lang)
    kind = t[result.day_kind]
    lines = [
        t["header"].format(day=result.day.isoformat(), kind=kind, path=result.output)
        + (t["refreshed"] if result.refreshed else "")
    ]
    for m in result.metrics:
        status = {"normal": t["normal"], "warning": t["warning"], None: DASH}[m.status]
        rule = "≤" if m.rule == "max" else "≥"
        lines.append(
            f"  {m.label}: {m.shown(m.actual, lang)} ({rule} {m.shown(m.threshold, lang)}, "
            f"{t['sample']} {m.count}) {status}"
        )
    if result.warnings:
        lines.append(t["warnings"].format(n=len(result.warnings)))
        lines += [f"  {t['warning']}: {m.label}" for m in result.warnings]
    if result.overdue:
        lines.append(t["overdue-title"])
        lines += [
            "  "
            + t["overdue-line"].format(
                id=o.record_id or "?", severity=o.severity, hours=fmt_hours(o.response_hours, lang)
            )
            for o in result.overdue
        ]
    for d in result.deliveries:
        lines.append(t["sent"].format(channel=d.channel_label(lang), result=d.result_text(lang)))
    lines += result.notes
    return "\n".join(lines)


def _words(lang: str) -> dict[str, str]:
    """The texts of :data:`_TEXT` in ``lang`` (Chinese for a language it does not have): the one
    lookup of this module's words."""
    return _TEXT.get(lang) or _TEXT["zh"]


_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "suffix": "{path}：日报须保存为 .xlsx 文件",
        "not-a-report": "{path} 已存在且不是 xlcheck 日报：请换一个 -o 文件名（不会覆盖它）",
        "other-day": "{path} 是 {written} 的日报，不是 {day} 的：请换一个 -o 文件名，或加 --date {written}",
        "empty": "总台账 {register} 中没有带接收时间的记录：无法生成日报",
        "out-of-range": "{day} 不在总台账 {register} 的范围内（{first} 至 {last}）：请换一个 --date，或先合并当天的记录",
        "nothing-to-send": "没有预警或超时工单，未推送",
        "no-channels": "未配置推送渠道（xlcheck.toml 的 [notify] channels），未推送",
        "subject": "【系统监控日报表】{day} 预警 {n} 项",
        "warning-line": "· {label}：实际 {actual}，阈值 {rule} {threshold}（样本 {count}）",
        "overdue-title": "超时工单（首次响应超过阈值）：",
        "overdue-line": "客户反馈响应超时-{id}（{severity}，{hours}）",
        "report-line": "日报：{name}",
        "more": "另有 {n} 条，见总台账",
        "header": "系统监控日报表 {day}（{kind}）→ {path}",
        "refreshed": "（已刷新计算值，保留手填内容）",
        "workday": "工作日",
        "rest-day": "休息日/节假日",
        "make-up-workday": "调休工作日",
        "normal": "正常",
        "warning": "预警",
        "sample": "样本",
        "warnings": "预警 {n} 项：",
        "sent": "推送 {channel}：{result}",
    },
    "en": {
        "suffix": "{path}: the report must be saved as an .xlsx file",
        "not-a-report": "{path} exists and is not an xlcheck daily report: give another -o name (it is not overwritten)",
        "other-day": "{path} is the report of {written}, not {day}: give another -o name, or --date {written}",
        "empty": "the register {register} holds no records with a received time: no report can be made",
        "out-of-range": "{day} is outside the register {register} ({first} to {last}): give another --date, or merge that day's records first",
        "nothing-to-send": "no warnings and no overdue records: nothing was sent",
        "no-channels": "no channels configured ([notify] channels in xlcheck.toml): nothing was sent",
        "subject": "[Daily monitoring report] {day}: {n} warning(s)",
        "warning-line": "- {label}: {actual}, threshold {rule} {threshold} (sample {count})",
        "overdue-title": "Records over the first-response threshold:",
        "overdue-line": "Customer feedback response overdue-{id} ({severity}, {hours})",
        "report-line": "Report: {name}",
        "more": "{n} more, see the register",
        "header": "Daily monitoring report {day} ({kind}) → {path}",
        "refreshed": " (computed cells refreshed, typed cells kept)",
        "workday": "working day",
        "rest-day": "rest day / holiday",
        "make-up-workday": "make-up working day",
        "normal": "normal",
        "warning": "warning",
        "sample": "sample",
        "warnings": "{n} warning(s):",
        "sent": "sent via {channel}: {result}",
    },
}
