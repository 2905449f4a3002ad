"""The weekly management email (xlcheck weekly): built from a real register on disk, the
.eml parsed back with the standard library, every KPI checked against an independent pandas
computation, delivery to a real SMTP server on 127.0.0.1 with the sent-log, a privacy
canary, and the HTML in headless Chromium at 375 px and 1024 px."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest
from builders import record_row
from click.testing import CliRunner
from openpyxl import load_workbook
from smtp_server import Inbox, LocalController

from aftersales_xl.cli import cli
from aftersales_xl.config import load_policy
from aftersales_xl.forms import load_form
from aftersales_xl.jobs.weekly import WeeklyError, build_weekly, run_weekly, subject_line
from aftersales_xl.reading.register import REGISTER_SHEET
from aftersales_xl.reports.kpis import period_figures
from aftersales_xl.reports.mail_render import environment
from aftersales_xl.writing.register import with_sla_columns, write_register

NOW = datetime(2024, 5, 27, 8, 30)  # Monday morning after 2024-W21
W21 = datetime(2024, 5, 20)
W20 = datetime(2024, 5, 13)
DAY = timedelta(days=1)
STATUSES = ["待处理", "处理中", "已解决", "已关闭", "升级处理", "已解决"]
SEVERITIES = ["P0", "P1", "P2", "P3", "P1"]
RATINGS = [5, 4, 3, 2, 1, None, 5, 4]
MODULES = ["登录模块", "支付模块"]
TYPES = ["技术故障", "功能咨询", "技术故障"]
#: hour targets only, so the test computes every due time itself: (respond h, resolve h)
TARGETS = {"P0": (1, 24), "P1": (4, 72), "P2": (24, 120)}
POLICY_TOML = '[sla.P2]\nrespond = "24h"\nresolve = "120h"\n'

CANARY = ["13800138000", "13912345678", "zhang.san@example.com", "11010519491231002X", "张三丰"]


def register_rows() -> list[dict]:
    """Records received every 17 hours from 2024-04-01 to NOW, none from 04-15 to 05-06 (so
    2024-W17 is a week with no records); every status, severity and rating cycles."""
    rows, i = [], 0
    received = datetime(2024, 4, 1, 9, 0)
    while received < NOW:
        if not datetime(2024, 4, 15) <= received < datetime(2024, 5, 6):
            status = STATUSES[i % len(STATUSES)]
            done = status in ("已解决", "已关闭")
            rows.append(
                record_row(
                    record_id=f"FW{received:%Y%m%d}{i % 1000:03d}",
                    customer=f"示例客户/C{i % 9:04d}",
                    occurred_at=received - timedelta(minutes=10 + 47 * (i % 7)),
                    received_at=received,
                    severity=SEVERITIES[i % len(SEVERITIES)],
                    module=MODULES[i % 2],
                    problem_type=TYPES[i % 3],
                    status=status,
                    owner="王工" if i % 4 else "李工",
                    solution=f"永久方案：步骤 {i % 3}" if done else None,
                    resolved_at=received + timedelta(hours=1 + 11 * (i % 8)) if done else None,
                    satisfaction=RATINGS[i % len(RATINGS)] if done else None,
                    feedback=f"回访 {i}" if done else None,
                    description=f"问题描述 {i}",
                )
            )
            i += 1
        received += timedelta(hours=17)
    return rows


def typed(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for key in frame.columns:
        if key in ("occurred_at", "received_at", "due_at", "resolved_at", "merged_at"):
            frame[key] = pd.to_datetime(frame[key]).astype("datetime64[us]")
        elif key in ("satisfaction", "source_row"):
            frame[key] = pd.array(frame[key].tolist(), dtype="Int64")
        else:
            frame[key] = frame[key].astype(object).where(frame[key].notna(), None)
    return frame


def write_test_register(path: Path, rows: list[dict], policy, now: datetime = NOW) -> Path:
    rows = [
        dict(r, source_file="组1.xlsx", source_row=n + 2, merged_at=now) for n, r in enumerate(rows)
    ]
    frame = (
        typed(rows)
        if rows
        else typed([dict(record_row(), source_file="x", source_row=1, merged_at=now)]).iloc[:0]
    )
    form = load_form()
    write_register(path, with_sla_columns(frame, policy, now), form=form, policy=policy, now=now)
    return path


@pytest.fixture
def hours_policy(tmp_path: Path):
    cfg = tmp_path / "xlcheck.toml"
    cfg.write_text(POLICY_TOML, "utf-8")
    return cfg, load_policy(cfg)


@pytest.fixture
def register(tmp_path: Path, hours_policy) -> Path:
    return write_test_register(tmp_path / "总台账.xlsx", register_rows(), hours_policy[1])


def expected(frame: pd.DataFrame, start: datetime, now: datetime = NOW) -> dict:
    """Every KPI of the week from ``start``, computed here with pandas alone."""
    end = start + 7 * DAY
    as_of = min(end, now)
    rec, res, occ = frame["received_at"], frame["resolved_at"], frame["occurred_at"]
    done = frame["status"].isin(["已解决", "已关闭"])
    received = (rec >= start) & (rec < end)
    closed = done & (res >= start) & (res < end)
    open_end = (rec < as_of) & ~(done & (res.fillna(rec) < as_of))
    h = pd.Timedelta(hours=1)
    out = {
        "received": int(received.sum()),
        "closed": int(closed.sum()),
        "open_at_end": int(open_end.sum()),
        "closure": (done & received).sum() / received.sum() * 100 if received.any() else None,
        "response": ((rec - occ) / h)[received].mean() if received.any() else None,
        "response_n": int(received.sum()),
        "resolution": ((res - rec) / h)[closed].mean() if closed.any() else None,
        "resolution_n": int(closed.sum()),
    }
    sla_resp, sla_res, past_due = {}, {}, pd.Series(False, index=frame.index)
    for sev, (r_h, s_h) in TARGETS.items():
        of = received & frame["severity"].eq(sev)
        met = rec <= occ + pd.Timedelta(hours=r_h)
        sla_resp[sev] = (met[of].mean() * 100 if of.any() else None, int(of.sum()))
        due = rec + pd.Timedelta(hours=s_h)
        known = of & (res.notna() | (due < now))
        on_time = res.notna() & (res <= due)
        sla_res[sev] = (on_time[known].mean() * 100 if known.any() else None, int(known.sum()))
        past_due |= open_end & frame["severity"].eq(sev) & (due < as_of)
    ratings = frame.loc[closed, "satisfaction"].dropna().astype(int)
    out.update(
        sla_response=sla_resp,
        sla_resolve=sla_res,
        csat=(ratings >= 4).mean() * 100 if len(ratings) else None,
        bad=(ratings <= 2).mean() * 100 if len(ratings) else None,
        ratings=len(ratings),
        open_past_due=int(past_due.sum()),
        follow_up=sorted(frame.index[closed & (frame["satisfaction"] <= 3).fillna(False)]),
    )
    return out


def approx(value):
    return None if value is None else pytest.approx(value)


def read_frame(register: Path, policy) -> pd.DataFrame:
    from aftersales_xl.reading.register import read_register

    return read_register(register, load_form(), policy)


def parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def parts(msg: EmailMessage) -> tuple[str, str, EmailMessage]:
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    [attachment] = list(msg.iter_attachments())
    return text, html, attachment


def sheet_rows(data: bytes, sheet: str = REGISTER_SHEET) -> list[tuple]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    rows = [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    wb.close()
    return rows


# -- the figures ----------------------------------------------------------------------------


@pytest.mark.parametrize("start", [W21, W20, datetime(2024, 4, 22), datetime(2024, 4, 8)])
def test_every_kpi_equals_an_independent_pandas_computation(register, hours_policy, start):
    policy = hours_policy[1]
    frame = read_frame(register, policy)
    f = period_figures(frame, start, start + 7 * DAY, policy, NOW)
    e = expected(frame, start)
    assert (f.received, f.closed, f.open_at_end, f.open_past_due) == (
        e["received"], e["closed"], e["open_at_end"], e["open_past_due"],
    )  # fmt: skip
    assert f.closure.pct == approx(e["closure"]) and f.closure.n == e["received"]
    assert (f.response.hours, f.response.n) == (approx(e["response"]), e["response_n"])
    assert (f.resolution.hours, f.resolution.n) == (approx(e["resolution"]), e["resolution_n"])
    for sev in TARGETS:
        pct, n = e["sla_response"][sev]
        assert (f.sla_response[sev].pct, f.sla_response[sev].n) == (approx(pct), n), sev
        pct, n = e["sla_resolve"][sev]
        assert (f.sla_resolve[sev].pct, f.sla_resolve[sev].n) == (approx(pct), n), sev
    assert "P3" not in f.sla_response  # no target, no rate
    assert (f.csat.pct, f.bad_review.pct, f.ratings) == (
        approx(e["csat"]), approx(e["bad"]), e["ratings"],
    )  # fmt: skip
    assert sorted(f.follow_up_rows) == e["follow_up"]


def test_the_week_figures_agree_with_the_registers_overview_tab(register, hours_policy):
    """概览's "latest week" column and the email count the same cohorts for the KPIs both show."""
    from aftersales_xl.reports.summaries import compute_summaries

    policy = hours_policy[1]
    frame = read_frame(register, policy)
    f = period_figures(frame, W21, W21 + 7 * DAY, policy, NOW)
    table = compute_summaries(frame, policy, NOW, W21).overview.set_index("key")

    def week(key):
        value, n = table.at[key, "week_value"], table.at[key, "week_n"]
        return (None if pd.isna(value) else pytest.approx(value), None if pd.isna(n) else int(n))

    assert week("records")[0] == f.received and week("closed")[0] == f.closed
    assert week("closure_rate") == (approx(f.closure.pct), f.closure.n)
    assert week("avg_response") == (approx(f.response.hours), f.response.n)
    assert week("avg_resolve") == (approx(f.resolution.hours), f.resolution.n)
    for sev, rate in f.sla_response.items():
        assert week(f"sla_respond:{sev}") == (approx(rate.pct), rate.n)
    for sev, rate in f.sla_resolve.items():
        assert week(f"sla_resolve:{sev}") == (approx(rate.pct), rate.n)
    assert week("csat") == (approx(f.csat.pct), f.csat.n)
    assert week("bad_review") == (approx(f.bad_review.pct), f.bad_review.n)


def test_the_test_data_exercises_every_figure(register, hours_policy):
    e = expected(read_frame(register, hours_policy[1]), W21)
    assert e["received"] > 5 and e["closed"] > 3 and e["open_at_end"] > 2 and e["ratings"] > 2
    assert e["open_past_due"] > 0 and e["follow_up"]
    assert any(n for _, n in e["sla_resolve"].values())


# -- the message ----------------------------------------------------------------------------


def test_eml_subject_both_parts_kpis_and_previous_week(tmp_path, register, hours_policy):
    cfg, policy = hours_policy
    result = run_weekly(register, load_form(), policy, now=NOW, week="2024-W21")
    assert result.eml == tmp_path / "outbox" / "总台账-2024-W21.eml"  # outbox/ beside the register
    msg = parse(result.eml)
    assert msg["Subject"] == "售后服务周报 2024-W21（05-20 至 05-26）"
    assert msg.get_content_type() == "multipart/mixed"
    text, html, attachment = parts(msg)
    frame = read_frame(register, policy)
    this, prev = expected(frame, W21), expected(frame, W20)

    def pct(v):
        return "—" if v is None else f"{v:.1f}%"

    lines = text.splitlines()
    assert "指标 | 2024-W21 | 2024-W20 | 变化" in lines
    for label, a, b in (
        ("接收", this["received"], prev["received"]),
        ("解决/关闭", this["closed"], prev["closed"]),
        ("周末未结", this["open_at_end"], prev["open_at_end"]),
        ("超期未结", this["open_past_due"], prev["open_past_due"]),
    ):
        assert f"{label} | {a} | {b} | {a - b:+d}" in lines
    closure = next(line for line in lines if line.startswith("结案率 |"))
    assert closure.startswith(f"结案率 | {pct(this['closure'])} (接收 {this['received']})")
    assert f"| {pct(prev['closure'])} (接收 {prev['received']}) |" in closure
    assert closure.endswith(f"{this['closure'] - prev['closure']:+.1f} pp")
    csat = next(line for line in lines if line.startswith("满意度(CSAT) |"))
    assert f"{pct(this['csat'])} (评价 {this['ratings']})" in csat
    resp_p1 = next(line for line in lines if line.startswith("响应达标率 P1"))
    assert f"{pct(this['sla_response']['P1'][0])} (n={this['sla_response']['P1'][1]})" in resp_p1
    assert f"{this['response']:.1f} 小时 (n={this['response_n']})" in text
    # the HTML part carries the same table and is mail-client safe
    assert "<table" in html and "<script" not in html.lower()
    assert f"{pct(this['csat'])}" in html and "W20" in html
    # the 8-week chart: oldest to newest, W17 (no records) shown as zeros
    chart = [line for line in lines if re.match(r"2024-W\d\d  ", line)]
    assert [line[:8] for line in chart] == [f"2024-W{w}" for w in range(14, 22)]
    assert chart[3].startswith("2024-W17  接收 0 / 解决/关闭 0")
    assert attachment.get_filename() == "总台账.xlsx"


def test_attachment_opens_and_holds_the_expected_rows(register, hours_policy):
    policy = hours_policy[1]
    frame = read_frame(register, policy)
    whole = build_weekly(register, load_form(), policy, now=NOW, week="2024-W21")
    [att] = list(whole.message.iter_attachments())
    rows = sheet_rows(att.get_content())
    ids = [r[0] for r in rows[1:]]
    assert ids == frame["record_id"].tolist()
    assert whole.attachment_bytes == len(att.get_content())

    week = build_weekly(register, load_form(), policy, now=NOW, week="2024-W21", attach="week")
    [att] = list(week.message.iter_attachments())
    assert att.get_filename() == "总台账-2024-W21.xlsx"
    in_week = (frame["received_at"] >= W21) & (frame["received_at"] < W21 + 7 * DAY)
    data = att.get_content()
    assert [r[0] for r in sheet_rows(data)[1:]] == frame.loc[in_week, "record_id"].tolist()
    wb = load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames[:8] == [
        "总台账", "概览", "分类统计", "负责人统计", "高频问题", "周趋势", "未结账龄", "满意度跟进",
    ]  # fmt: skip
    wb.close()


def test_lists_open_top_past_due_follow_up_and_recurring(register, hours_policy):
    policy = hours_policy[1]
    frame = read_frame(register, policy)
    built = build_weekly(register, load_form(), policy, now=NOW, week="2024-W21")
    f = built.figures
    text = built.text
    section = text.split("== 未结的 P0/P1 记录（截至周末） ==")[1].split("==")[0]
    open_top = [r for r in f.open_rows if frame.at[r, "severity"] in ("P0", "P1")]
    assert open_top and all(frame.at[r, "record_id"] in section for r in open_top)
    past = text.split("== 超期未结记录（截至周末） ==")[1].split("==")[0]
    assert all(frame.at[r, "record_id"] in past for r in f.past_due_rows) and "超期" in past
    follow = text.split("== 满意度回访名单（评分 ≤ 3） ==")[1]
    for r in f.follow_up_rows:
        assert f"{frame.at[r, 'record_id']} · {frame.at[r, 'satisfaction']} 分" in follow
    recurring = text.split("== 本周高频问题及解决方案 ==")[1].split("==")[0]
    assert "登录模块 · 技术故障" in recurring and "解决方案: 永久方案" in recurring


def test_alerts_name_each_metric_past_a_daily_threshold(tmp_path, register):
    cfg = tmp_path / "strict.toml"
    cfg.write_text(POLICY_TOML + "[daily]\ncsat_min = 99.0\nbad_review_max = 1.0\n"
                   "closure_rate_min = 100.0\nfirst_response_hours = 0.1\n", "utf-8")  # fmt: skip
    built = build_weekly(register, load_form(), load_policy(cfg), now=NOW, week="2024-W21")
    assert [a.split(" ")[0] for a in built.alerts] == ["平均响应时长", "结案率", "满意度", "差评率"]
    assert "超出日报阈值的指标" in built.text and "⚠" in built.text


def test_a_week_with_no_records_is_a_real_short_email(register, hours_policy):
    built = build_weekly(register, load_form(), hours_policy[1], now=NOW, week="2024-W17")
    assert built.figures.received == 0 and built.figures.closed == 0
    assert built.subject == "售后服务周报 2024-W17（04-22 至 04-28）"
    assert "本周没有接收或解决任何记录" in built.text and "本周没有接收或解决任何记录" in built.html
    assert "接收 | 0 | " in built.text


def test_an_empty_register_and_the_default_week(tmp_path, hours_policy):
    policy = hours_policy[1]
    empty = write_test_register(tmp_path / "空台账.xlsx", [], policy)
    built = build_weekly(empty, load_form(), policy, now=NOW)
    assert built.week == "2024-W21"  # the last complete ISO week before NOW
    assert built.figures.received == 0 and "本周没有接收或解决任何记录" in built.text
    [att] = list(built.message.iter_attachments())
    assert len(sheet_rows(att.get_content())) == 1  # the header only


def test_english_subject_and_year_boundary():
    assert subject_line("2020-W53", datetime(2020, 12, 28), "en") == (
        "After-sales weekly report 2020-W53 (12-28 to 01-03)"
    )


def test_the_mail_environment_escapes_and_redacts():
    env = environment()
    assert env.autoescape is True
    out = env.from_string("{{ v }}").render(v="<b>13800138000</b>")
    assert out == "&lt;b&gt;****8000&lt;/b&gt;"


# -- the command line, delivery, the sent-log ---------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, ["weekly", *args], catch_exceptions=False)


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = LocalController(inbox)
    controller.start()
    yield inbox, controller.port
    controller.stop()


def mail_config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "mail.toml"
    cfg.write_text(
        POLICY_TOML + f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "xlcheck@example.com"\nto = ["boss@example.com"]\ncc = ["ops@example.com"]\n',
        "utf-8",
    )
    return cfg


def test_send_then_rerun_sends_nothing_and_force_resends(tmp_path, register, smtp):
    inbox, port = smtp
    cfg = mail_config(tmp_path, port)
    args = ["--register", str(register), "--week", "2024-W21", "--send", "--config", str(cfg)]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "已发送给 2 位收件人" in res.output
    [(sender, rcpts, data)] = inbox.messages
    assert (sender, rcpts) == ("xlcheck@example.com", ["boss@example.com", "ops@example.com"])
    sent = email.message_from_bytes(data, policy=email.policy.default)
    assert sent["Subject"] == "售后服务周报 2024-W21（05-20 至 05-26）"
    assert sent["To"] == "boss@example.com" and sent["Cc"] == "ops@example.com"
    log = [json.loads(x) for x in (tmp_path / "outbox" / "sent-log.jsonl").read_text().splitlines()]
    assert [(e["week"], e["register"], e["recipients"]) for e in log] == [
        ("2024-W21", "总台账.xlsx", 2)
    ]

    again = invoke(*args)
    assert again.exit_code == 0 and "已于" in again.output and "--force" in again.output
    assert len(inbox.messages) == 1  # the scheduler fired twice: management got one mail
    assert invoke(*args, "--force").exit_code == 0
    assert len(inbox.messages) == 2
    other = invoke(*[a if a != "2024-W21" else "2024-W20" for a in args])
    assert other.exit_code == 0 and len(inbox.messages) == 3  # another week is sent


def test_failed_send_keeps_the_eml_and_exits_2(tmp_path, register):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = mail_config(tmp_path, port)
    res = CliRunner().invoke(
        cli, ["weekly", "--register", str(register), "--week", "2024-W21", "--send",
              "--config", str(cfg), "--lang", "en"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert (tmp_path / "outbox" / "总台账-2024-W21.eml").is_file()
    assert not (tmp_path / "outbox" / "sent-log.jsonl").exists()
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and f"cannot connect to mail server 127.0.0.1:{port}" in err[0]
    assert "message file is kept" in err[0]


def test_dry_run_prints_subject_recipients_size_and_kpis_and_writes_nothing(
    tmp_path, register, hours_policy
):
    cfg = mail_config(tmp_path, 2525)
    html = tmp_path / "preview.html"
    res = invoke("--register", str(register), "--week", "2024-W21", "--dry-run",
                 "--config", str(cfg), "--html", str(html))  # fmt: skip
    assert res.exit_code == 0
    out = res.output
    assert "主题: 售后服务周报 2024-W21（05-20 至 05-26）" in out
    assert "收件人: b***@example.com" in out  # the terminal masks addresses too
    assert re.search(r"附件: 总台账\.xlsx \(\d+\.\d KB\)", out)
    assert "指标 | 2024-W21 | 2024-W20 | 变化" in out and "结案率 |" in out
    assert not (tmp_path / "outbox").exists()
    assert html.read_text("utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    "attach, fix", [("all", "--attach week"), ("week", "调大 max_attachment_mb")]
)
def test_attachment_size_guard_says_what_to_do(tmp_path, register, hours_policy, attach, fix):
    import copy
    import dataclasses

    policy = hours_policy[1]
    raw = copy.deepcopy(dict(policy.raw))
    raw["weekly"]["max_attachment_mb"] = 0.001  # ~1 KB, as if the register were huge
    small = dataclasses.replace(policy, raw=raw)
    with pytest.raises(WeeklyError) as e:
        run_weekly(register, load_form(), small, now=NOW, week="2024-W21", attach=attach)
    assert "max_attachment_mb = 0.001 MB" in str(e.value) and fix in str(e.value)
    assert e.value.exit_code == 2
    assert not (tmp_path / "outbox").exists()  # no mail that would bounce


def test_bad_week_and_missing_register_exit_2(tmp_path, register):
    res = CliRunner().invoke(cli, ["weekly", "--register", str(register), "--week", "2024-21"])
    assert res.exit_code == 2 and "2024-W21" in res.stderr
    res = CliRunner().invoke(cli, ["weekly", "--register", str(tmp_path / "nope.xlsx")])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1


def test_json_output(tmp_path, register, hours_policy):
    res = invoke("--register", str(register), "--week", "2024-W21", "--format", "json",
                 "--config", str(hours_policy[0]), "--lang", "en")  # fmt: skip
    data = json.loads(res.output)
    assert data["subject"] == "After-sales weekly report 2024-W21 (05-20 to 05-26)"
    assert data["eml"].endswith("总台账-2024-W21.eml") and data["sent"] is False
    assert data["kpis"][0]["key"] == "received" and data["attachment"]["name"] == "总台账.xlsx"
    text, html, _ = parts(parse(Path(data["eml"])))
    assert "This week's key figures (vs last week)" in text and "Open P0/P1 records" in text
    assert '<html lang="en">' in html and "Satisfaction follow-up (ratings ≤ 3)" in html


# -- privacy canary ---------------------------------------------------------------------------


def plant_canaries(register: Path) -> None:
    """Raw phones, an email, an ID-card number and a name typed into 总台账 cells by hand,
    in records the email lists (an open P0 of the week, a badly rated one)."""
    wb = load_workbook(register)
    ws = wb[REGISTER_SHEET]
    header = [c.value for c in ws[1]]
    col = {name: header.index(name) + 1 for name in header}
    rows = [r for r in range(2, ws.max_row + 1)
            if ws.cell(r, col["接收时间"]).value and W21 <= ws.cell(r, col["接收时间"]).value < NOW]  # fmt: skip
    for r in rows:
        ws.cell(r, col["联系人"]).value = "张三丰"
        ws.cell(r, col["联系方式"]).value = "13800138000"
        ws.cell(
            r, col["问题描述"]
        ).value = "客户 13912345678 zhang.san@example.com 11010519491231002X"
        ws.cell(r, col["客户反馈"]).value = "请回电 13912345678 或 zhang.san@example.com"
        ws.cell(r, col["解决方案"]).value = "永久方案：已电话 13800138000 确认"
    ws.cell(1, ws.max_column + 1).value = "主管备注"
    ws.cell(rows[0], ws.max_column).value = "身份证 11010519491231002X 手机 13800138000"
    wb.save(register)


def every_text(eml: Path) -> list[str]:
    """Headers, both bodies, the attachment's file name and every XML part inside it."""
    msg = parse(eml)
    texts = [str(k) + ": " + str(v) for k, v in msg.items()]
    for part in msg.walk():
        texts += [str(v) for v in part.values()]
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
        elif not part.is_multipart():
            with zipfile.ZipFile(io.BytesIO(part.get_content())) as z:
                texts += [z.read(n).decode("utf-8") for n in z.namelist()]
    texts.append(eml.read_bytes().decode("ascii", "replace"))
    return texts


@pytest.mark.parametrize("attach", ["all", "week"])
def test_canary_no_raw_contact_data_anywhere_in_the_message(
    tmp_path, register, hours_policy, attach
):
    plant_canaries(register)
    html = tmp_path / "p.html"
    args = ["--register", str(register), "--week", "2024-W21", "--attach", attach,
            "--config", str(hours_policy[0]), "--html", str(html)]  # fmt: skip
    res = CliRunner().invoke(cli, ["weekly", *args])
    dry = CliRunner().invoke(cli, ["weekly", *args, "--dry-run", "--format", "json"])
    assert res.exit_code == 0 and dry.exit_code == 0, res.stderr
    eml = tmp_path / "outbox" / "总台账-2024-W21.eml"
    texts = every_text(eml) + [res.output, res.stderr, dry.output, html.read_text("utf-8")]
    blob = "\n".join(texts)
    assert "****8000" in blob and "z***@example.com" in blob  # the records are there, masked
    for raw in CANARY:
        assert raw not in blob, raw


# -- the HTML in a real browser -----------------------------------------------------------------

HARNESS = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="mail" style="width:{width}px;height:900px;border:0" srcdoc="{srcdoc}"></iframe>
<script>
window.addEventListener('load', function () {{
  var w = document.getElementById('mail').contentWindow, d = w.document.documentElement;
  var r = {{scroll: Math.max(d.scrollWidth, w.document.body.scrollWidth), inner: w.innerWidth,
           resources: w.performance.getEntriesByType('resource').map(function (e) {{ return e.name; }})}};
  var p = document.createElement('pre');
  p.textContent = ['PROBE', JSON.stringify(r), 'END'].join('|');
  document.body.appendChild(p);
}});
</script></body></html>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if exe := shutil.which(name):
            return exe
    pytest.skip("chromium is not installed")


def test_html_fits_375_and_1024_px_without_external_requests(tmp_path, register, hours_policy):
    """The email is measured inside an iframe of the phone's / desktop's width (headless
    Chromium's window is at least 500 px wide), and screenshotted at that width."""
    import html as html_lib

    exe = chromium()
    built = build_weekly(register, load_form(), hours_policy[1], now=NOW, week="2024-W21")
    body = built.html
    # nothing a mail client would fetch or run
    assert not re.search(r"<script|<img|<link|<iframe|@import|url\(|src=|https?://", body, re.I)
    mail = tmp_path / "mail.html"
    mail.write_text(body, "utf-8")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND"]  # fmt: skip
    for width in (375, 1024):
        page = tmp_path / f"harness-{width}.html"
        page.write_text(
            HARNESS.format(width=width, srcdoc=html_lib.escape(body, quote=True)), "utf-8"
        )
        dom = subprocess.run(
            [*flags, "--window-size=1200,1000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        ).stdout  # fmt: skip
        m = re.search(r"PROBE\|(\{.*?\})\|END", dom)
        assert m, f"chromium gave no probe result at {width} px"
        probe = json.loads(html_lib.unescape(m.group(1)))
        assert probe["inner"] == width
        assert probe["scroll"] <= width, f"horizontal overflow at {width} px: {probe}"
        assert probe["resources"] == []
        shot = tmp_path / f"weekly-{width}.png"
        subprocess.run(
            [*flags, f"--window-size={width},2400", f"--screenshot={shot}", mail.as_uri()],
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert shot.is_file() and shot.stat().st_size > 1000


def test_templates_are_package_data_found_by_importlib_resources():
    import tomllib
    from importlib import resources

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert "aftersales_xl.templates" in project["packages"]
    assert project["package-dir"]["aftersales_xl.templates"] == "templates"
    assert "*.j2" in project["package-data"]["aftersales_xl.templates"]
    found = resources.files("aftersales_xl.templates")
    assert {"weekly.html.j2", "weekly.txt.j2"} <= {p.name for p in found.iterdir()}


def test_the_weekly_job_on_the_sample_workbooks(tmp_path, samples_dir):
    """The README's whole weekly job: merge the samples, then the week's email into out/outbox/."""
    register = tmp_path / "out" / "总台账.xlsx"
    merged = CliRunner().invoke(cli, ["merge", str(samples_dir), "--register", str(register)])
    assert merged.exit_code == 2 and register.is_file()  # sample 08 is deliberately not a workbook
    res = invoke("--register", str(register), "--week", "2024-W21")
    assert res.exit_code == 0, res.output
    eml = tmp_path / "out" / "outbox" / "总台账-2024-W21.eml"
    assert eml.is_file() and str(eml) in res.output
    text, _, attachment = parts(parse(eml))
    assert "接收 | " in text and attachment.get_filename() == "总台账.xlsx"
