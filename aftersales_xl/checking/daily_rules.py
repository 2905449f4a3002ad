"""The checks of a filled monitoring daily report (系统监控日报表), found by its marker.

Every cell is found by its defined name (the form spec ``schemas/daily_report.toml``), and
every finding names the physical cell, with the same codes and JSON contract as the record
form:

* ``required-value`` — 报表日期, 填写人, 填写时间 and each metric's 阈值 / 实际值 / 状态 blank;
  a cell missing from a 异常情况 row that has anything in it (备注 may stay blank);
* ``bad-date`` — 报表日期, 填写时间, 发现时间 not a date and time;
* ``bad-format`` / ``out-of-range`` — a 阈值 / 实际值 / 样本数 that is not a number (or ``—``),
  a percentage outside 0–100 %, negative hours, a count that is not a whole number ≥ 0;
* ``not-in-list`` — a 状态 other than 正常 / 预警 / —, an 异常类型 or 处理状态 not in the policy lists;
* ``status-inconsistent`` — a 状态 that its 实际值 and 阈值 contradict (a 正常 beside an 88 %
  closure rate), decided by :func:`aftersales_xl.sla.threshold_status` as ``xlcheck daily`` does;
* ``late-report`` (warning) — 填写时间 after 09:00 of the day after 报表日期 (the seed's deadline);
* ``pii-in-text`` (warning) — a phone, email or ID-card number typed anywhere on the sheet.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from ..coerce import parse_datetime
from ..config import Policy
from ..errors import UnreadableError
from ..findings import FileReport, Finding, make_finding
from ..forms import FormSpec, MetricSpec, defined_name
from ..messages import localise, shorten
from ..pii import kinds_named, pii_kinds
from ..reading.named import filled, named_cell, named_rows, open_named
from ..sla import DASH, threshold_status
from .validate import Checked, shown_path

#: the deadline of a report: this time on the day after its 报表日期 (seed 001 step 1)
DEADLINE = time(9, 0)


def check_daily_file(
    path: str | Path, form: FormSpec, policy: Policy, *, lang: str = "zh"
) -> Checked:
    """Check one filled daily report. Never raises for bad input: an unreadable file gives an
    ``unreadable`` finding with ``cell: null``. ``rows`` counts the filled 异常情况 rows."""
    path = Path(path)
    report = FileReport(path=shown_path(path), form=form.name)
    try:
        wb = open_named(path, policy.limits, lang)
    except UnreadableError as e:
        report.unreadable, report.form = True, None
        report.findings.append(make_finding("unreadable", lang, detail=str(e)))
        return Checked(report)
    rules = _Rules(wb, form, policy, lang)
    rules.run()
    report.sheet = rules.sheet
    report.rows = rules.anomaly_rows
    report.findings = sorted(rules.findings, key=lambda f: (f.row or 0, _col(f.cell)))
    return Checked(report)


def _col(cell: str | None) -> tuple[int, str]:
    letters = (cell or "").rstrip("0123456789")
    return (len(letters), letters)


class _Rules:
    def __init__(self, wb: Any, form: FormSpec, policy: Policy, lang: str) -> None:
        assert form.sheet_form is not None
        self.wb, self.form, self.spec, self.policy, self.lang = (
            wb,
            form,
            form.sheet_form,
            policy,
            lang,
        )
        self.findings: list[Finding] = []
        self.sheet: str | None = None
        self.anomaly_rows = 0
        self.en = lang == "en"

    # -- helpers ---------------------------------------------------------------------------------
    def add(
        self, code: str, cell: Any, column: str | None, severity: str | None = None, **params
    ) -> None:
        self.findings.append(
            make_finding(
                code,
                self.lang,
                sheet=cell.parent.title,
                cell=cell.coordinate,
                row=cell.row,
                column=column,
                severity=severity,
                **params,
            )
        )

    def cell(self, key: str, part: str | None = None) -> Any:
        found = named_cell(self.wb, defined_name(self.form, key, part))
        if found is not None and self.sheet is None:
            self.sheet = found.parent.title
        return found

    def required(self, cell: Any, column: str) -> bool:
        """True if the cell is filled; a ``required-value`` finding otherwise."""
        if filled(cell.value):
            return True
        self.add("required-value", cell, column)
        return False

    def when(self, cell: Any, column: str) -> datetime | None:
        value = cell.value
        parsed = parse_datetime(value) if filled(value) else None
        if filled(value) and parsed is None:
            self.add("bad-date", cell, column, value=shorten(value))
        return parsed

    def part_label(self, metric: MetricSpec, part: str) -> str:
        label = next(
            (en if self.en else zh) for key, zh, en in self.spec.metric_columns if key == part
        )
        return f"{metric.title(self.lang)} · {label}"

    # -- the rules ----------------------------------------------------------------------------------
    def run(self) -> None:
        header: dict[str, Any] = {}
        for c in self.spec.header:
            cell = self.cell(c.key)
            if cell is None:
                continue
            if c.required:
                self.required(cell, c.title(self.lang))
            header[c.key] = self.when(cell, c.title(self.lang)) if c.type != "text" else cell.value
        self._deadline(header)
        for metric in self.spec.metrics:
            self._metric(metric)
        self._anomalies()
        self._pii()

    def _deadline(self, header: dict[str, Any]) -> None:
        day, at = header.get("report_date"), header.get("filled_at")
        if not isinstance(day, datetime) or not isinstance(at, datetime):
            return
        deadline = datetime.combine(day.date() + timedelta(days=1), DEADLINE)
        if at > deadline:
            cell = self.cell("filled_at")
            self.add(
                "late-report",
                cell,
                self.spec.cell("filled_at").title(self.lang),
                value=at.strftime("%Y-%m-%d %H:%M"),
                deadline=deadline.strftime("%Y-%m-%d %H:%M"),
            )

    def _number(self, metric: MetricSpec, part: str, *, dash_ok: bool) -> tuple[bool, Any]:
        """(ok, value) of a metric's number cell: the value (None for ``—``) when usable."""
        cell = self.cell(metric.key, part)
        if cell is None:
            return False, None
        label = self.part_label(metric, part)
        if not self.required(cell, label):
            return False, None
        value = cell.value
        if isinstance(value, str):
            text = value.strip()
            if text == DASH and dash_ok:
                return True, None
            try:
                if metric.unit == "pct" and part != "count" and text.endswith("%"):
                    value = float(text[:-1]) / 100
                else:
                    value = float(text.split()[0]) if text else None
            except (ValueError, IndexError):
                value = None
        if not isinstance(value, int | float) or isinstance(value, bool):
            expected = localise(_TEXT, "number-or-dash", self.lang)
            self.add("bad-format", cell, label, value=shorten(cell.value), expected=expected)
            return False, None
        unit = "count" if part == "count" else metric.unit
        problem = None
        if unit == "pct" and not 0 <= value <= 1:
            problem = "0%–100%"
        elif unit == "hours" and value < 0:
            problem = localise(_TEXT, "not-negative", self.lang)
        elif unit == "count" and (value < 0 or not float(value).is_integer()):
            problem = localise(_TEXT, "whole-number", self.lang)
        if problem is not None:
            self.add("out-of-range", cell, label, value=shorten(cell.value), expected=problem)
            return False, None
        return True, float(value)

    def _metric(self, metric: MetricSpec) -> None:
        ok_t, threshold = self._number(metric, "threshold", dash_ok=False)
        ok_a, actual = self._number(metric, "actual", dash_ok=True)
        count_cell = self.cell(metric.key, "count")
        if count_cell is not None and filled(count_cell.value):
            self._number(metric, "count", dash_ok=False)
        cell = self.cell(metric.key, "status")
        if cell is None:
            return
        label = self.part_label(metric, "status")
        if not self.required(cell, label):
            return
        allowed = self.spec.all_list_values("metric_status")
        status = str(cell.value).strip()
        if status not in allowed:
            self.add(
                "not-in-list", cell, label, value=shorten(cell.value), allowed=" / ".join(allowed)
            )
            return
        if not (ok_t and ok_a):
            return
        expected = threshold_status(actual, threshold, metric.rule)
        zh, en = (
            self.spec.own_list("metric_status", "zh"),
            self.spec.own_list("metric_status", "en"),
        )
        assert zh is not None and en is not None
        index = {"normal": 0, "warning": 1, None: 2}[expected]
        if status in (zh[index], en[index]):
            return
        shown_expected = (en if self.en else zh)[index]
        if actual is None:
            detail = localise(
                _TEXT, "status-no-sample", self.lang, expected=shown_expected, status=status
            )
        else:
            side = (
                ("≤" if metric.rule == "max" else "≥")
                if expected == "normal"
                else (">" if metric.rule == "max" else "<")
            )
            a, t = _shown(actual, metric.unit), _shown(threshold, metric.unit)
            detail = localise(
                _TEXT,
                "status-against-threshold",
                self.lang,
                actual=a,
                side=side,
                threshold=t,
                expected=shown_expected,
                status=status,
            )
        self.add("status-inconsistent", cell, label, detail=detail)

    def _anomalies(self) -> None:
        table = self.spec.table("anomalies")
        for cells in named_rows(self.wb, defined_name(self.form, table.key)):
            if not any(filled(c.value) for c in cells):
                continue
            self.anomaly_rows += 1
            for cell, column in zip(cells, table.columns, strict=False):
                label = f"{table.heading(self.lang)} · {column.title(self.lang)}"
                if column.required and not self.required(cell, label):
                    continue
                if not filled(cell.value):
                    continue
                if column.type == "datetime":
                    self.when(cell, label)
                elif column.type == "list" and column.list:
                    allowed = self._list(column.list)
                    if str(cell.value).strip() not in allowed:
                        self.add(
                            "not-in-list",
                            cell,
                            label,
                            value=shorten(cell.value),
                            allowed=" / ".join(allowed),
                        )

    def _list(self, name: str) -> list[str]:
        own = self.spec.all_list_values(name)
        return own if own else [str(v) for v in self.policy.value(name)]

    def _pii(self) -> None:
        if self.sheet is None:
            return
        for row in self.wb[self.sheet].iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    kinds = pii_kinds(cell.value)
                    if kinds:
                        self.add("pii-in-text", cell, None, what=kinds_named(kinds, self.lang))


def _shown(value: float, unit: str) -> str:
    if unit == "pct":
        return f"{value * 100:.1f}%"
    if unit == "hours":
        return f"{value:.2f} h"
    return f"{value:g}"


_TEXT: dict[str, dict[str, str]] = {
    "number-or-dash": {
        "zh": "数字；没有样本时写 —",
        "en": "a number, or — when there is no sample",
    },
    "not-negative": {"zh": "不能为负数", "en": "≥ 0"},
    "whole-number": {"zh": "0 或正整数", "en": "a whole number ≥ 0"},
    "status-no-sample": {
        "zh": "实际值为 —（无样本），状态应为“{expected}”，而不是“{status}”",
        "en": "the actual value is — (no sample), so the status is “{expected}”, not “{status}”",
    },
    "status-against-threshold": {
        "zh": "实际值 {actual} {side} 阈值 {threshold}，状态应为“{expected}”，而不是“{status}”",
        "en": "the actual value {actual} is {side} the threshold {threshold}, so the status is "
        "“{expected}”, not “{status}”",
    },
}
