"""The weekly management email (``xlcheck weekly``): one ISO week of the register, as a
MIME message with an HTML body, a plain-text alternative and the register attached.

:func:`build_weekly` reads the register and builds the :class:`WeeklyEmail` (nothing written);
:func:`run_weekly` delivers it: the ``.eml`` into the outbox folder (default: ``outbox/``
beside the register), over SMTP with ``send=True``, recorded in the outbox's sent-log so a
scheduler that fires twice never mails management twice.

Every figure is :func:`~aftersales_xl.reports.kpis.period_figures`; both bodies are rendered
through :mod:`~aftersales_xl.reports.mail_render` (autoescape, every value redacted); the
attachment is written by :func:`~aftersales_xl.writing.register.write_register` from the
register frame with contact data masked again (:func:`~aftersales_xl.masking.mask_frame`), so
every cell passes the :class:`~aftersales_xl.writing.cells.CellWriter`.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import Policy
from ..errors import WriteError, XlcheckError
from ..forms import FormSpec
from ..masking import mask_frame
from ..pii import redact
from ..reading.register import read_history, read_register
from ..reports.kpis import PeriodFigures, iso_week_bounds, iso_week_label, period_figures
from ..reports.mail_render import render
from ..reports.summaries import compute_summaries
from ..reports.summary_sheets import write_summary_sheets
from ..sending.mail import SendError, SmtpSettings, send_message
from ..sla import DASH, fmt_hours, fmt_pct, format_target, sla_frame
from ..workcal import WorkCalendar
from ..writing.fileio import atomic_output
from ..writing.register import with_sla_columns, write_register

#: weeks shown in the email's chart (this week and the seven before it)
CHART_WEEKS = 8
#: records listed per section; the rest are counted ("… and 12 more, see the attachment")
LIST_MAX = 20
#: recurring-problem groups shown, and solutions shown per group
RECURRING_MAX = 5
SENT_LOG = "sent-log.jsonl"
ATTACH_MODES = ("all", "week")
_XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class WeeklyError(XlcheckError):
    """The weekly email cannot be built as asked (bad week, attachment too big)."""


@dataclass(frozen=True)
class KpiRow:
    """One line of the KPI table, already formatted: this week, the previous week, the change."""

    key: str
    label: str
    this: str
    this_n: str
    prev: str
    prev_n: str
    change: str
    alert: bool = False


@dataclass
class WeeklyEmail:
    """The built message and what it was built from."""

    week: str
    start: datetime
    end: datetime
    subject: str
    message: EmailMessage
    html: str
    text: str
    figures: PeriodFigures
    previous: PeriodFigures
    kpis: list[KpiRow]
    kpi_lines: list[str]
    alerts: list[str]
    attachment_name: str | None
    attachment_bytes: int
    to: tuple[str, ...]
    cc: tuple[str, ...]

    def eml_bytes(self) -> bytes:
        """The message as an RFC 5322 file (CRLF line ends), as any mail client opens it."""
        return self.message.as_bytes(policy=email.policy.SMTP)


@dataclass
class WeeklyResult:
    """What :func:`run_weekly` did; :meth:`lines` says it to people, :meth:`to_dict` to programs."""

    email: WeeklyEmail | None
    week: str
    eml: Path | None = None
    html: Path | None = None
    sent: bool = False
    already_sent: str | None = None  # when the week was sent before (and not resent)
    error: str | None = None  # the SMTP failure (the .eml is still written)
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 2 if self.error else 0

    def to_dict(self) -> dict[str, Any]:
        e = self.email
        return {
            "week": self.week,
            "subject": e.subject if e else None,
            "to": list(e.to) if e else [],
            "cc": list(e.cc) if e else [],
            "eml": str(self.eml) if self.eml else None,
            "html": str(self.html) if self.html else None,
            "attachment": (
                {"name": e.attachment_name, "bytes": e.attachment_bytes}
                if e and e.attachment_name
                else None
            ),
            "sent": self.sent,
            "already_sent": self.already_sent,
            "dry_run": self.dry_run,
            "error": self.error,
            "kpis": [
                {
                    "key": k.key,
                    "label": k.label,
                    "week": k.this,
                    "week_n": k.this_n,
                    "previous": k.prev,
                    "previous_n": k.prev_n,
                    "change": k.change,
                    "alert": k.alert,
                }
                for k in (e.kpis if e else [])
            ],  # fmt: skip
            "alerts": list(e.alerts) if e else [],
        }

    def lines(self, lang: str = "zh") -> list[str]:
        """The terminal report: the dry-run preview, or what was written and sent."""
        t = _words(lang)
        e = self.email
        out: list[str] = []
        if self.already_sent is not None:
            return [t["already_sent"].format(week=self.week, when=self.already_sent)]
        if e is not None and self.dry_run:
            out.append(f"{t['subject']}: {e.subject}")
            out.append(f"{t['to']}: {', '.join(e.to) or t['not_set']}")
            out.append(f"{t['cc']}: {', '.join(e.cc) or DASH}")
            if e.attachment_name:
                out.append(f"{t['attachment']}: {e.attachment_name} ({_size(e.attachment_bytes)})")
            else:
                out.append(f"{t['attachment']}: {DASH}")
            out.append("")
            out.extend(e.kpi_lines)
            if e.alerts:
                out.append("")
                out.append(t["alerts"])
                out.extend(f"- {a}" for a in e.alerts)
        if self.html is not None:
            out.append(t["html_written"].format(path=self.html))
        if self.eml is not None:
            out.append(t["eml_written"].format(path=self.eml))
        if self.sent and e is not None:
            out.append(t["sent"].format(n=len(e.to) + len(e.cc)))
        out.extend(self.notes)
        return out

    def failure(self, lang: str = "zh") -> str | None:
        """The one line for stderr when sending failed (the .eml is kept), else None."""
        if not self.error:
            return None
        return _words(lang)["send_failed"].format(error=self.error)


# -- the week ---------------------------------------------------------------------------


def resolve_week(
    week: str | None, now: datetime, lang: str = "zh"
) -> tuple[str, datetime, datetime]:
    """``(label, Monday 00:00, next Monday 00:00)`` of ``week`` (``2024-W21``), or of the last
    complete ISO week before ``now`` when ``week`` is None."""
    if week is None:
        monday = (now - timedelta(days=now.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        start = monday - timedelta(days=7)
        return iso_week_label(start), start, start + timedelta(days=7)
    try:
        start, end = iso_week_bounds(week)
    except ValueError:
        raise WeeklyError(_words(lang)["bad_week"].format(week=week)) from None
    return iso_week_label(start), start, end


def subject_line(label: str, start: datetime, lang: str = "zh") -> str:
    """``售后服务周报 2024-W21（05-20 至 05-26）`` / ``After-sales weekly report 2024-W21 (05-20 to 05-26)``."""
    last = start + timedelta(days=6)
    return _words(lang)["subject_line"].format(label=label, start=start, last=last)


# -- building ---------------------------------------------------------------------------


def build_weekly(
    register: str | Path,
    form: FormSpec,
    policy: Policy,
    *,
    now: datetime,
    week: str | None = None,
    attach: str = "all",
    lang: str = "zh",
) -> WeeklyEmail:
    """Build the email of ``week`` (default: the last complete ISO week before ``now``).

    ``attach`` is ``"all"`` (the whole register: 总台账 with every record, the summary tabs
    for this week, 变更记录) or ``"week"`` (the records received in the week and summary tabs
    computed over them). Raises :class:`~aftersales_xl.errors.UnreadableError` for a register
    that cannot be read and :class:`WeeklyError` for a bad week or an attachment over
    ``[weekly] max_attachment_mb``.
    """
    if attach not in ATTACH_MODES:
        raise ValueError(f"attach must be one of {ATTACH_MODES}, not {attach!r}")
    register = Path(register)
    label, start, end = resolve_week(week, now, lang)
    top = policy.allowed("severity")[:2]  # the two most severe levels (P0/P1 by default)
    t = dict(_words(lang))
    t["open_top"] = t["open_top"].format(sevs="/".join(top))
    t["follow_up"] = t["follow_up"].format(max=policy.satisfaction["follow_up_max"])
    frame = read_register(register, form, policy, lang=lang)
    calendar = WorkCalendar.from_policy(policy)
    sla = sla_frame(frame, policy, now, calendar)
    this = period_figures(frame, start, end, policy, now, calendar, sla=sla)
    prev = period_figures(frame, start - timedelta(days=7), start, policy, now, calendar, sla=sla)

    kpis = _kpi_rows(this, prev, policy, lang)
    alerts = _alerts(this, policy, lang)
    kpi_lines = _kpi_lines(kpis, label, iso_week_label(start - timedelta(days=7)), lang)
    chart = _chart(frame, start, policy, now, calendar, sla, label)
    settings = SmtpSettings.from_policy(policy)

    name, data = _attachment(register, frame, form, policy, now, start, end, label, attach, lang)
    limit_mb = float(policy.weekly["max_attachment_mb"])
    if len(data) > limit_mb * 1024 * 1024:
        key = "too_big_week" if attach == "week" else "too_big"
        raise WeeklyError(t[key].format(size=_size(len(data)), limit=f"{limit_mb:g}"))

    subject = subject_line(label, start, lang)
    last = start + timedelta(days=6)
    week_records = frame[_received_in(frame, start, end)]
    context = {
        "t": t,
        "html_lang": t["html_lang"],
        "subject": subject,
        "title": subject,
        "period_line": t["period"].format(
            start=f"{start:%Y-%m-%d}", end=f"{last:%Y-%m-%d}", now=f"{now:%Y-%m-%d %H:%M}"
        ),
        "week_short": label[-3:],
        "prev_short": iso_week_label(start - timedelta(days=7))[-3:],
        "empty": this.empty,
        "alerts": alerts,
        "kpis": kpis,
        "kpi_lines": kpi_lines,
        "chart": chart,
        "recurring": _recurring(week_records, policy, now, start, calendar),
        "generated": f"{now:%Y-%m-%d %H:%M}",
        "attachment": {"name": name, "size": _size(len(data))},
        "notes": calendar.warning_messages(lang),
    }
    open_rows = [r for r in this.open_rows if _text_at(frame, r, "severity") in top]
    for key, rows in (("open_top", open_rows), ("past_due", list(this.past_due_rows))):
        items = [_record_item(frame, sla, r, this.as_of, lang) for r in rows]
        items.sort(key=lambda i: (i["_sort"], i["record_id"] or ""))
        context[key] = items[:LIST_MAX]
        context[f"{key}_more"] = max(len(items) - LIST_MAX, 0)
    follow = [_follow_item(frame, r) for r in this.follow_up_rows]
    follow.sort(key=lambda i: (i["rating"], i["record_id"] or ""))
    context["follow_up"] = follow[:LIST_MAX]
    context["follow_up_more"] = max(len(follow) - LIST_MAX, 0)

    html = render("weekly.html.j2", **context)
    text = render("weekly.txt.j2", **context)
    message = _message(subject, text, html, name, data, settings, now, label)
    return WeeklyEmail(
        week=label, start=start, end=end, subject=subject, message=message, html=html,
        text=text, figures=this, previous=prev, kpis=kpis, kpi_lines=kpi_lines, alerts=alerts,
        attachment_name=name, attachment_bytes=len(data), to=settings.to, cc=settings.cc,
    )  # fmt: skip


def _message(
    subject: str,
    text: str,
    html: str,
    name: str,
    data: bytes,
    settings: SmtpSettings,
    now: datetime,
    label: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = redact(subject)
    if settings.sender:
        msg["From"] = settings.sender
    if settings.to:
        msg["To"] = ", ".join(settings.to)
    if settings.cc:
        msg["Cc"] = ", ".join(settings.cc)
    msg["Date"] = email.utils.format_datetime(now.astimezone())
    msg["Message-ID"] = email.utils.make_msgid(idstring=f"weekly-{label}", domain="xlcheck.local")
    msg["X-Xlcheck-Week"] = label
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(data, maintype=_XLSX[0], subtype=_XLSX[1], filename=name)
    return msg


def _attachment(
    register: Path,
    frame: pd.DataFrame,
    form: FormSpec,
    policy: Policy,
    now: datetime,
    start: datetime,
    end: datetime,
    label: str,
    attach: str,
    lang: str,
) -> tuple[str, bytes]:
    """``(file name, xlsx bytes)``: the register rewritten through the register writer."""
    if attach == "week":
        frame = frame[_received_in(frame, start, end)]
    masked, _, _ = mask_frame(frame, form, policy)  # a hand-typed phone or name in 总台账 too
    extras = [c for c in masked.columns if c not in form.keys and c not in _PROVENANCE]
    if attach == "week":
        history = None
        name = f"{redact(register.stem)}-{label}.xlsx"
    else:
        history = read_history(register, form, policy, lang=lang)
        history, _, _ = mask_frame(history, form, policy)
        name = f"{redact(register.stem)}.xlsx"
    calendar = WorkCalendar.from_policy(policy)
    summaries = compute_summaries(masked, policy, now, start, calendar=calendar, lang=lang)
    rows = with_sla_columns(masked, policy, now, calendar=calendar, lang=lang)
    with tempfile.TemporaryDirectory(prefix="xlcheck-weekly-") as tmp:
        path = Path(tmp) / "attachment.xlsx"
        write_register(
            path, rows, form=form, policy=policy, now=summaries.now,
            summary_sheets=lambda wb, cells: write_summary_sheets(wb, cells, summaries, lang),
            history=history, extra_columns=extras, lang=lang,
        )  # fmt: skip
        return name, path.read_bytes()


_PROVENANCE = ("source_file", "source_row", "merged_at")


# -- the email's content ------------------------------------------------------------------


def _kpi_rows(this: PeriodFigures, prev: PeriodFigures, policy: Policy, lang: str) -> list[KpiRow]:
    t = _words(lang)
    daily = policy.daily
    rows: list[KpiRow] = []

    def n_text(n: int, unit: str = "n") -> str:
        return t[unit].format(n=n)

    def count(key: str, a: int, b: int) -> None:
        rows.append(KpiRow(key, t[key], str(a), "", str(b), "", f"{a - b:+d}"))

    def pct(key: str, label: str, a, b, unit: str = "n", alert: bool = False) -> None:
        change = DASH if a.pct is None or b.pct is None else f"{a.pct - b.pct:+.1f} pp"
        rows.append(KpiRow(key, label, fmt_pct(a.pct), n_text(a.n, unit), fmt_pct(b.pct),
                           n_text(b.n, unit), change, alert))  # fmt: skip

    def hours(key: str, a, b, alert: bool = False) -> None:
        change = DASH if a.hours is None or b.hours is None else f"{a.hours - b.hours:+.1f} h"
        rows.append(KpiRow(key, t[key], fmt_hours(a.hours, lang), n_text(a.n),
                           fmt_hours(b.hours, lang), n_text(b.n), change, alert))  # fmt: skip

    count("received", this.received, prev.received)
    count("closed", this.closed, prev.closed)
    count("open_at_end", this.open_at_end, prev.open_at_end)
    closure_low = this.closure.pct is not None and this.closure.pct < daily["closure_rate_min"]
    pct("closure", t["closure"], this.closure, prev.closure, "n_received", closure_low)
    slow = this.response.hours is not None and this.response.hours > daily["first_response_hours"]
    hours("response", this.response, prev.response, slow)
    hours("resolution", this.resolution, prev.resolution)
    for kind, mine, theirs in (
        ("respond", this.sla_response, prev.sla_response),
        ("resolve", this.sla_resolve, prev.sla_resolve),
    ):
        for sev, rate in mine.items():
            target = format_target(policy.sla_target(sev, kind), lang)
            label = t[f"sla_{kind}"].format(sev=sev, target=target)
            pct(f"sla_{kind}:{sev}", label, rate, theirs[sev])
    low = this.csat.pct is not None and this.csat.pct < daily["csat_min"]
    pct("csat", t["csat"], this.csat, prev.csat, "n_ratings", low)
    high = this.bad_review.pct is not None and this.bad_review.pct > daily["bad_review_max"]
    pct("bad_review", t["bad_review"], this.bad_review, prev.bad_review, "n_ratings", high)
    count("open_past_due", this.open_past_due, prev.open_past_due)
    return rows


def _alerts(this: PeriodFigures, policy: Policy, lang: str) -> list[str]:
    """Every metric of the week past a ``[daily]`` threshold, as one sentence each."""
    t = _words(lang)
    d = policy.daily
    out = []
    if this.response.hours is not None and this.response.hours > d["first_response_hours"]:
        out.append(t["alert_response"].format(
            value=fmt_hours(this.response.hours, lang), limit=fmt_hours(d["first_response_hours"], lang)
        ))  # fmt: skip
    if this.closure.pct is not None and this.closure.pct < d["closure_rate_min"]:
        out.append(t["alert_closure"].format(
            value=fmt_pct(this.closure.pct), limit=fmt_pct(d["closure_rate_min"]), n=this.closure.n
        ))  # fmt: skip
    if this.csat.pct is not None and this.csat.pct < d["csat_min"]:
        out.append(t["alert_csat"].format(
            value=fmt_pct(this.csat.pct), limit=fmt_pct(d["csat_min"]), n=this.csat.n
        ))  # fmt: skip
    if this.bad_review.pct is not None and this.bad_review.pct > d["bad_review_max"]:
        out.append(t["alert_bad"].format(
            value=fmt_pct(this.bad_review.pct), limit=fmt_pct(d["bad_review_max"]), n=this.bad_review.n
        ))  # fmt: skip
    return out


def _kpi_lines(rows: list[KpiRow], week: str, prev_week: str, lang: str) -> list[str]:
    """The KPI table as text lines (the plain-text body and ``--dry-run``)."""
    t = _words(lang)
    out = [f"{t['metric']} | {week} | {prev_week} | {t['change']}"]
    for k in rows:
        this = f"{k.this} ({k.this_n})" if k.this_n else k.this
        prev = f"{k.prev} ({k.prev_n})" if k.prev_n else k.prev
        mark = " ⚠" if k.alert else ""
        out.append(f"{k.label} | {this}{mark} | {prev} | {k.change}")
    return out


def _chart(
    frame: pd.DataFrame,
    start: datetime,
    policy: Policy,
    now: datetime,
    calendar: WorkCalendar,
    sla: pd.DataFrame,
    label: str,
) -> list[dict[str, Any]]:
    """The last :data:`CHART_WEEKS` weeks, oldest first: received, closed and open at week
    end (each :func:`period_figures`), with bar lengths in % of the largest value."""
    weeks = []
    for i in range(CHART_WEEKS - 1, -1, -1):
        s = start - timedelta(days=7 * i)
        f = period_figures(frame, s, s + timedelta(days=7), policy, now, calendar, sla=sla)
        weeks.append((iso_week_label(s), f.received, f.closed, f.open_at_end))
    top = max([1] + [max(w[1:]) for w in weeks])
    out = []
    for week, received, closed, backlog in weeks:
        out.append({
            "week": week, "current": week == label,
            "received": received, "closed": closed, "backlog": backlog,
            "received_pct": round(received / top * 100), "closed_pct": round(closed / top * 100),
            "backlog_pct": round(backlog / top * 100),
            "bar": "#" * round(received / top * 20),
        })  # fmt: skip
    return out


def _recurring(
    week_records: pd.DataFrame,
    policy: Policy,
    now: datetime,
    start: datetime,
    calendar: WorkCalendar,
) -> list[dict[str, Any]]:
    """The week's most frequent module × problem-type groups (seen at least twice) with
    their solutions, as the register's 高频问题 tab computes them."""
    if week_records.empty:
        return []
    table = compute_summaries(
        week_records, policy, now, start, calendar=calendar, top_n=RECURRING_MAX
    ).recurring
    out = []
    for row in table.to_dict("records"):
        solutions = []
        for i in range(1, 4):
            s = row.get(f"example_solution_{i}")
            if isinstance(s, str) and s.strip() and s.strip() not in solutions:
                solutions.append(s.strip())
        out.append({
            "module": row["module"], "problem_type": row["problem_type"],
            "count": int(row["count"]), "open": int(row["open"]), "solutions": solutions,
        })  # fmt: skip
    return out


def _record_item(
    frame: pd.DataFrame, sla: pd.DataFrame, row: Any, as_of: datetime, lang: str
) -> dict[str, Any]:
    t = _words(lang)
    received = frame.at[row, "received_at"]
    due = sla.at[row, "resolve_due"]
    over = None
    if pd.notna(due) and due < pd.Timestamp(as_of):
        over = t["over"].format(
            h=fmt_hours((pd.Timestamp(as_of) - due) / pd.Timedelta(hours=1), lang)
        )
    age = None
    if pd.notna(received):
        days = (pd.Timestamp(as_of) - received) / pd.Timedelta(days=1)
        age = t["age"].format(d=f"{days:.1f}")
    description = _text_at(frame, row, "description")
    if description and len(description) > 80:
        description = description[:79] + "…"
    severity = _text_at(frame, row, "severity") or DASH
    return {
        "record_id": _text_at(frame, row, "record_id") or DASH,
        "severity": severity,
        "status": _text_at(frame, row, "status") or DASH,
        "customer": _text_at(frame, row, "customer") or DASH,
        "module": _text_at(frame, row, "module") or DASH,
        "description": description,
        "owner": _text_at(frame, row, "owner") or DASH,
        "received": f"{received:%m-%d %H:%M}" if pd.notna(received) else DASH,
        "due": f"{due:%m-%d %H:%M}" if pd.notna(due) else None,
        "over": over,
        "age": age,
        "_sort": (severity, received if pd.notna(received) else pd.Timestamp.max),
    }


def _follow_item(frame: pd.DataFrame, row: Any) -> dict[str, Any]:
    resolved = frame.at[row, "resolved_at"] if "resolved_at" in frame.columns else None
    feedback = _text_at(frame, row, "feedback")
    if feedback and len(feedback) > 120:
        feedback = feedback[:119] + "…"
    return {
        "record_id": _text_at(frame, row, "record_id") or DASH,
        "rating": int(frame.at[row, "satisfaction"]),
        "customer": _text_at(frame, row, "customer") or DASH,
        "feedback": feedback,
        "owner": _text_at(frame, row, "owner") or DASH,
        "resolved": f"{resolved:%m-%d %H:%M}"
        if resolved is not None and pd.notna(resolved)
        else DASH,
    }


def _text_at(frame: pd.DataFrame, row: Any, key: str) -> str | None:
    if key not in frame.columns:
        return None
    value = frame.at[row, key]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _received_in(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.Series:
    received = (
        frame["received_at"]
        if "received_at" in frame.columns
        else pd.Series(pd.NaT, index=frame.index)
    )
    received = pd.to_datetime(received, errors="coerce")
    return (received >= pd.Timestamp(start)) & (received < pd.Timestamp(end))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(n / 1024, 0.1):.1f} KB"


def _words(lang: str) -> dict[str, str]:
    """The texts of :data:`_TEXT` in ``lang`` (Chinese for a language it does not have): the one
    lookup of this module's words, a table laid out language-first because the email's
    template reads it whole (``t.kpi_note``)."""
    return _TEXT.get(lang) or _TEXT["zh"]


# -- delivery -----------------------------------------------------------------------------


def default_outbox(register: str | Path) -> Path:
    """The outbox used without ``--outbox``: ``outbox/`` beside the register
    (``out/总台账.xlsx`` → ``out/outbox/``), whatever folder the scheduler starts in."""
    return Path(register).parent / "outbox"


def eml_name(register: str | Path, week: str) -> str:
    """``总台账-2024-W21.eml``: one file per register and week (a rerun replaces it)."""
    return f"{redact(Path(register).stem)}-{week}.eml"


def sent_before(outbox: Path, register: str | Path, week: str) -> str | None:
    """When the sent-log says this register's ``week`` was sent (ISO time), else None."""
    log = outbox / SENT_LOG
    if not log.is_file():
        return None
    name = redact(Path(register).name)
    when = None
    for line in log.read_text("utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash is not a record of a send
        if isinstance(entry, dict) and entry.get("week") == week and entry.get("register") == name:
            when = str(entry.get("sent_at"))
    return when


def _log_sent(
    outbox: Path, register: Path, built: WeeklyEmail, eml: Path, now: datetime, server: str
) -> None:
    entry = {
        "week": built.week, "register": redact(register.name), "sent_at": now.isoformat(timespec="seconds"),
        "eml": eml.name, "recipients": len(built.to) + len(built.cc), "server": server,
    }  # fmt: skip
    with (outbox / SENT_LOG).open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def run_weekly(
    register: str | Path,
    form: FormSpec,
    policy: Policy,
    *,
    now: datetime,
    week: str | None = None,
    outbox: str | Path | None = None,
    send: bool = False,
    force: bool = False,
    dry_run: bool = False,
    html: str | Path | None = None,
    attach: str = "all",
    lang: str = "zh",
) -> WeeklyResult:
    """Build the week's email and deliver it as asked.

    - ``dry_run``: build only (and write ``html`` if given); nothing else is written or sent.
    - default: write ``<outbox>/<register>-<week>.eml`` (outbox default :func:`default_outbox`).
    - ``send``: also deliver it over SMTP (``[mail]``) and append a line to the outbox's
      ``sent-log.jsonl``. If that log already records this register's week, nothing is built,
      written or sent (``already_sent`` says when) unless ``force``. A failed send keeps the
      ``.eml`` and returns the one-line reason in ``error`` (exit code 2).
    """
    register = Path(register)
    t = _words(lang)
    label, _, _ = resolve_week(week, now, lang)
    box = Path(outbox) if outbox is not None else default_outbox(register)
    if send and not force and not dry_run:
        when = sent_before(box, register, label)
        if when is not None:
            return WeeklyResult(None, label, already_sent=when)
    built = build_weekly(register, form, policy, now=now, week=label, attach=attach, lang=lang)
    result = WeeklyResult(built, label, dry_run=dry_run)
    if html is not None:
        result.html = _write(Path(html), built.html.encode("utf-8"), lang)
    if dry_run:
        return result
    if not send and sent_before(box, register, label) is not None:
        result.notes.append(t["written_not_sent"])
    try:
        box.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WriteError(t["no_outbox"].format(path=box, detail=e.strerror or e)) from None
    result.eml = _write(box / eml_name(register, label), built.eml_bytes(), lang)
    if send:
        settings = SmtpSettings.from_policy(policy)
        try:
            send_message(built.message, settings, lang=lang)
        except SendError as e:
            result.error = str(e)
            return result
        result.sent = True
        _log_sent(box, register, built, result.eml, now, settings.server)
    return result


def _write(path: Path, data: bytes, lang: str) -> Path:
    try:
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        raise WriteError(
            _words(lang)["cannot_write"].format(path=path, detail=e.strerror or e)
        ) from None
    return path


# -- words ----------------------------------------------------------------------------------

_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "subject_line": "售后服务周报 {label}（{start:%m-%d} 至 {last:%m-%d}）",
        "html_lang": "zh-CN",
        "period": "统计周期 {start} 至 {end}（周一至周日）；生成于 {now}",
        "empty_week": "本周没有接收或解决任何记录。以下为与上周的对比和积压情况。",
        "alerts": "超出日报阈值的指标",
        "kpis": "本周关键指标（与上周对比）",
        "metric": "指标",
        "change": "变化",
        "kpi_note": "接收 = 本周接收的记录；解决 = 解决时间在本周的已解决/已关闭记录；结案率、平均响应、达标率按本周接收的记录计算；平均解决时长、满意度按本周解决的记录计算。n = 参与计算的记录数或评价数。",
        "received": "接收",
        "closed": "解决/关闭",
        "open_at_end": "周末未结",
        "closure": "结案率",
        "response": "平均响应时长",
        "resolution": "平均解决时长",
        "sla_respond": "响应达标率 {sev}（目标 {target}）",
        "sla_resolve": "解决达标率 {sev}（目标 {target}）",
        "csat": "满意度(CSAT)",
        "bad_review": "差评率",
        "open_past_due": "超期未结",
        "n": "n={n}",
        "n_received": "接收 {n}",
        "n_ratings": "评价 {n}",
        "chart": "近 8 周趋势：接收、解决与积压",
        "backlog": "积压",
        "recurring": "本周高频问题及解决方案",
        "times": "{n} 次",
        "still_open": "{n} 条未结",
        "solution": "解决方案",
        "open_top": "未结的 {sevs} 记录（截至周末）",
        "past_due": "超期未结记录（截至周末）",
        "follow_up": "满意度回访名单（评分 ≤ {max}）",
        "rating": "{n} 分",
        "none": "无",
        "more": "……另有 {n} 条，见附件",
        "received_at": "接收",
        "resolved_at": "解决",
        "owner": "负责人",
        "due": "期限",
        "over": "超期 {h}",
        "age": "已 {d} 天",
        "attached": "附件：{name}（{size}），联系人和联系方式均已脱敏。",
        "footer": "本邮件由 xlcheck 于 {now} 根据总台账自动生成。",
        "alert_response": "平均响应时长 {value}，超过日报阈值 {limit}",
        "alert_closure": "结案率 {value}（接收 {n}），低于日报阈值 {limit}",
        "alert_csat": "满意度 {value}（评价 {n}），低于日报阈值 {limit}",
        "alert_bad": "差评率 {value}（评价 {n}），高于日报阈值 {limit}",
        "bad_week": "--week {week!r} 不是 ISO 周：请写成 2024-W21（年份-W周数）",
        "too_big": "附件 {size} 超过 [weekly] max_attachment_mb = {limit} MB，邮件可能被退回：请改用 --attach week 只附本周记录，或在 xlcheck.toml 中调大 max_attachment_mb",
        "too_big_week": "本周记录的附件 {size} 仍超过 [weekly] max_attachment_mb = {limit} MB：请在 xlcheck.toml 中调大 max_attachment_mb（确认邮件服务器允许），或把台账拆分",
        "no_outbox": "无法创建发件箱文件夹 {path}（{detail}）：请检查路径，或用 --outbox 指定可写的文件夹",
        "cannot_write": "无法写入 {path}（{detail}）：请检查文件夹是否可写",
        "subject": "主题",
        "to": "收件人",
        "cc": "抄送",
        "not_set": "（未设置：[mail] to）",
        "attachment": "附件",
        "html_written": "HTML 预览已写入：{path}",
        "eml_written": "邮件已写入：{path}",
        "sent": "已发送给 {n} 位收件人，并记入发送日志",
        "send_failed": "发送失败：{error}；邮件文件已保留，可稍后重试（--send）或手动发送",
        "already_sent": "{week} 的周报已于 {when} 发送，本次不再发送；如需重发请加 --force",
        "written_not_sent": "注意：本周周报此前已发送；本次只写入邮件文件，未发送",
    },
    "en": {
        "subject_line": "After-sales weekly report {label} ({start:%m-%d} to {last:%m-%d})",
        "html_lang": "en",
        "period": "Week {start} to {end} (Monday to Sunday); generated {now}",
        "empty_week": "No record was received or resolved this week. Below: the comparison with last week and the backlog.",
        "alerts": "Metrics past the daily-report thresholds",
        "kpis": "This week's key figures (vs last week)",
        "metric": "Metric",
        "change": "Change",
        "kpi_note": "Received = records received this week; closed = resolved/closed with 解决时间 this week; closure rate, average response and SLA met % over the records received this week; average resolution and satisfaction over the records resolved this week. n = records or ratings counted.",
        "received": "Received",
        "closed": "Closed",
        "open_at_end": "Open at week end",
        "closure": "Closure rate",
        "response": "Average response",
        "resolution": "Average resolution",
        "sla_respond": "Response SLA met {sev} (target {target})",
        "sla_resolve": "Resolution SLA met {sev} (target {target})",
        "csat": "CSAT",
        "bad_review": "Bad-review rate",
        "open_past_due": "Open past due",
        "n": "n={n}",
        "n_received": "received {n}",
        "n_ratings": "ratings {n}",
        "chart": "Last 8 weeks: received, closed and backlog",
        "backlog": "Backlog",
        "recurring": "This week's recurring problems and their solutions",
        "times": "{n} times",
        "still_open": "{n} open",
        "solution": "Solution",
        "open_top": "Open {sevs} records (at week end)",
        "past_due": "Open records past due (at week end)",
        "follow_up": "Satisfaction follow-up (ratings ≤ {max})",
        "rating": "rated {n}",
        "none": "None",
        "more": "… and {n} more, see the attachment",
        "received_at": "Received",
        "resolved_at": "Resolved",
        "owner": "Owner",
        "due": "Due",
        "over": "over by {h}",
        "age": "{d} days old",
        "attached": "Attached: {name} ({size}); contacts are masked.",
        "footer": "Generated by xlcheck from the master register at {now}.",
        "alert_response": "Average response {value}, above the daily threshold {limit}",
        "alert_closure": "Closure rate {value} (received {n}), below the daily threshold {limit}",
        "alert_csat": "CSAT {value} (ratings {n}), below the daily threshold {limit}",
        "alert_bad": "Bad-review rate {value} (ratings {n}), above the daily threshold {limit}",
        "bad_week": "--week {week!r} is not an ISO week: write it as 2024-W21 (year-Wweek)",
        "too_big": "the attachment is {size}, over [weekly] max_attachment_mb = {limit} MB, and would likely bounce: use --attach week to attach this week's records only, or raise max_attachment_mb in xlcheck.toml",
        "too_big_week": "this week's records alone make a {size} attachment, over [weekly] max_attachment_mb = {limit} MB: raise max_attachment_mb in xlcheck.toml (if your mail server allows it) or split the register",
        "no_outbox": "cannot create the outbox folder {path} ({detail}): check the path or give a writable folder with --outbox",
        "cannot_write": "cannot write {path} ({detail}): check the folder is writable",
        "subject": "Subject",
        "to": "To",
        "cc": "Cc",
        "not_set": "(not set: [mail] to)",
        "attachment": "Attachment",
        "html_written": "HTML preview written: {path}",
        "eml_written": "Message written: {path}",
        "sent": "Sent to {n} recipient(s) and recorded in the sent-log",
        "send_failed": "sending failed: {error}; the message file is kept: retry with --send or send it by hand",
        "already_sent": "the {week} report was already sent at {when}; nothing sent now (--force resends)",
        "written_not_sent": "note: this week's report was sent before; this run only wrote the message file",
    },
}
