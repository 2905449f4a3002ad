"""Alert delivery: 企业微信 / 钉钉 / 飞书 webhooks against a real HTTP server on 127.0.0.1, and
email against a real SMTP server (aiosmtpd); secrets only from the environment."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openpyxl
import pytest
from click.testing import CliRunner
from test_daily import (
    EMAIL,
    IDCARD,
    PHONE,
    holiday_records,
    named,
    write_register,
    xml_parts,
)

from aftersales_xl import sending
from aftersales_xl.cli import cli
from aftersales_xl.config import Policy, load_policy
from aftersales_xl.sending import robots
from aftersales_xl.sending.mail import SendError, SmtpSettings, send_message
from aftersales_xl.sending.robots import dingtalk_sign, feishu_sign, notify_all

SECRET = "SEC-test-signing-secret-000"
KEY = "robot-key-abc123"


class Robot(BaseHTTPRequestHandler):
    """Answers like the three robots; the 钉钉 path checks the 加签 signature."""

    received: list[dict] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
        self.received.append({"path": url.path, "query": query, "body": body})
        reply: dict = {"errcode": 0, "errmsg": "ok"}
        if url.path == "/slow":
            time.sleep(1.5)
        elif url.path == "/error":
            reply = {"errcode": 93000, "errmsg": "invalid webhook url"}
        elif url.path == "/dingtalk":
            ts = query.get("timestamp", "")
            string = f"{ts}\n{SECRET}".encode()
            expect = base64.b64encode(
                hmac.new(SECRET.encode(), string, hashlib.sha256).digest()
            ).decode()
            fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3_600_000
            if query.get("sign") != expect or not fresh:
                reply = {"errcode": 310000, "errmsg": "sign not match"}
        elif url.path == "/feishu":
            ts = body.get("timestamp", "")
            expect = base64.b64encode(
                hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
            ).decode()
            reply = (
                {"code": 0, "msg": "success"}
                if body.get("sign") == expect
                else {"code": 19021, "msg": "sign match fail"}
            )
        elif url.path == "/down":
            self.send_response(503)
            self.end_headers()
            return
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    Robot.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(robots, "_sleep", slept.append)
    return slept


def policy_with(**notify) -> Policy:
    base = load_policy(search_cwd=False)
    raw = copy.deepcopy(dict(base.raw))
    raw["notify"] = {**raw["notify"], **notify}
    return Policy(raw=raw, source="test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dingtalk_signature_is_the_documented_hmac():
    ts = 1700000000000
    digest = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert dingtalk_sign(SECRET, ts) == urllib.parse.quote_plus(base64.b64encode(digest).decode())
    assert "%" in dingtalk_sign(SECRET, ts) or "+" not in dingtalk_sign(SECRET, ts)
    assert feishu_sign(SECRET, 1700000000)


def test_each_robot_gets_the_json_body_it_expects(server):
    policy = policy_with(channels=["wecom", "dingtalk", "feishu"])
    env = {
        "XLCHECK_WECOM_WEBHOOK": f"{server}/wecom?key={KEY}",
        "XLCHECK_DINGTALK_WEBHOOK": f"{server}/dingtalk?access_token={KEY}",
        "XLCHECK_DINGTALK_SECRET": SECRET,
        "XLCHECK_FEISHU_WEBHOOK": f"{server}/feishu",
        "XLCHECK_FEISHU_SECRET": SECRET,
    }
    out = notify_all("标题", f"预警\n客户反馈响应超时-FW20240521003 {PHONE}", policy, env=env)
    assert [(d.channel, d.ok, d.detail) for d in out] == [
        ("wecom", True, ""),
        ("dingtalk", True, ""),
        ("feishu", True, ""),
    ]
    wecom, ding, feishu = Robot.received
    assert wecom["query"] == {"key": KEY}
    assert wecom["body"] == {
        "msgtype": "text",
        "text": {"content": "预警\n客户反馈响应超时-FW20240521003 ****5678"},
    }
    assert ding["query"]["access_token"] == KEY and set(ding["query"]) == {
        "access_token",
        "timestamp",
        "sign",
    }
    assert ding["body"]["msgtype"] == "text" and "FW20240521003" in ding["body"]["text"]["content"]
    assert feishu["body"]["msg_type"] == "text"
    assert "FW20240521003" in feishu["body"]["content"]["text"]
    assert PHONE not in json.dumps([r["body"] for r in Robot.received], ensure_ascii=False)


def test_a_wrong_dingtalk_secret_is_refused_by_the_server_and_reported(server):
    policy = policy_with(channels=["dingtalk"])
    env = {
        "XLCHECK_DINGTALK_WEBHOOK": f"{server}/dingtalk?access_token={KEY}",
        "XLCHECK_DINGTALK_SECRET": "wrong",
    }
    (d,) = notify_all("s", "b", policy, env=env)
    assert not d.ok and "310000" in d.detail
    assert KEY not in d.detail and "wrong" not in d.detail


def test_error_reply_refused_timeout_and_5xx_are_failures_and_the_others_still_go(
    server, no_backoff
):
    policy = policy_with(channels=["wecom", "dingtalk", "feishu"], retries=2)
    port = free_port()  # nothing listens there: connection refused
    env = {
        "XLCHECK_WECOM_WEBHOOK": f"{server}/error?key={KEY}",
        "XLCHECK_DINGTALK_WEBHOOK": f"http://127.0.0.1:{port}/robot/send?access_token={KEY}",
        "XLCHECK_FEISHU_WEBHOOK": f"{server}/feishu-no-secret",
    }
    out = notify_all("s", "b", policy, env=env)
    assert [(d.channel, d.ok) for d in out] == [
        ("wecom", False),
        ("dingtalk", False),
        ("feishu", True),
    ]
    assert "93000" in out[0].detail
    assert "连接被拒绝" in out[1].detail and "3" in out[1].detail
    assert len(no_backoff) == 2  # the refused channel was retried twice, the error reply not
    for d in out:
        assert KEY not in d.detail and str(port) not in d.detail


def test_timeout_and_server_error(server):
    raw = policy_with(channels=["wecom"], retries=1)
    raw.raw["notify"]["timeout_s"] = 0.3
    (d,) = notify_all("s", "b", raw, env={"XLCHECK_WECOM_WEBHOOK": f"{server}/slow"})
    assert not d.ok and "0.3" in d.detail
    (d,) = notify_all("s", "b", raw, env={"XLCHECK_WECOM_WEBHOOK": f"{server}/down"})
    assert not d.ok and "HTTP 503" in d.detail
    (d,) = notify_all("s", "b", raw, env={})
    assert not d.ok and "XLCHECK_WECOM_WEBHOOK" in d.detail


# -- email through a real SMTP server --------------------------------------------------------


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def mail_policy(port: int, **notify) -> Policy:
    policy = policy_with(**notify)
    policy.raw["mail"] = {
        **policy.raw["mail"],
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "xlcheck@example.com",
        "to": ["lead@example.com"],
    }
    return policy


def test_email_channel_sends_through_smtp(smtp):
    sink, port = smtp
    policy = mail_policy(port, channels=["email"], email_to=["ops@example.com"])
    (d,) = notify_all("【系统监控日报表】预警", f"正文 {PHONE} {EMAIL}", policy, env={})
    assert d.ok, d.detail
    (envelope,) = sink.messages
    assert envelope.rcpt_tos == ["ops@example.com"]
    data = envelope.content.decode("utf-8", "replace")
    assert PHONE not in data and EMAIL not in data


def test_send_message_errors_name_the_server_and_no_secret(monkeypatch):
    import email.message

    port = free_port()
    settings = SmtpSettings(
        "127.0.0.1", port, "none", "", "X", "a@example.com", ("b@example.com",), (), 2
    )
    msg = email.message.EmailMessage()
    msg["Subject"] = "s"
    msg.set_content("b")
    with pytest.raises(SendError, match=f"127.0.0.1:{port}"):
        send_message(msg, settings)
    assert sending  # the package imports


# -- end to end: xlcheck daily --notify ------------------------------------------------------------


def test_daily_notify_end_to_end(server, tmp_path, smtp):
    sink, port = smtp
    register = write_register(tmp_path / "总台账.xlsx", holiday_records())
    config = tmp_path / "xlcheck.toml"
    config.write_text(
        '[notify]\nchannels = ["wecom", "dingtalk", "email"]\n'
        f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "xlcheck@example.com"\nto = ["lead@example.com"]\n',
        "utf-8",
    )
    out = tmp_path / "d.xlsx"
    env = {
        "XLCHECK_WECOM_WEBHOOK": f"{server}/wecom?key={KEY}",
        "XLCHECK_DINGTALK_WEBHOOK": f"{server}/error?access_token={KEY}",
        "XLCHECK_DINGTALK_SECRET": SECRET,
    }
    result = CliRunner().invoke(
        cli,
        [
            "daily",
            "--register",
            str(register),
            "--date",
            "2024-10-01",
            "-o",
            str(out),
            "--notify",
            "--config",
            str(config),
        ],
        env=env,
    )
    assert result.exit_code == 2, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("xlcheck:")]
    assert len(failed) == 1 and "钉钉" in failed[0]
    assert out.is_file()  # the report is still written
    bodies = [r["body"]["text"]["content"] for r in Robot.received]
    assert len(bodies) == 2 and "客户反馈响应超时-FW20241001003" in bodies[0]
    assert len(sink.messages) == 1
    wb = openpyxl.load_workbook(out)
    rows = [tuple(c.value for c in r) for r in named(wb, "daily_alerts")]
    assert [(r[1], r[3].split("：")[0]) for r in rows[:3]] == [
        ("企业微信", "成功"),
        ("钉钉", "失败"),
        ("邮件", "成功"),
    ]
    sent = json.dumps([r["body"] for r in Robot.received], ensure_ascii=False)
    everything = result.output + sent + xml_parts(out)
    everything += "".join(m.content.decode("utf-8", "replace") for m in sink.messages)
    for raw in (PHONE, EMAIL, IDCARD, KEY, SECRET):
        assert raw not in everything, raw
    assert "lead@example.com" not in xml_parts(out)


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[notify]\nchannels = ["slack"]\n', "notify.channels"),
        (
            '[notify]\nwecom_webhook_env = "https://qyapi.weixin.qq.com/x?key=1"\n',
            "wecom_webhook_env",
        ),
        ("[notify]\nretries = 9\n", "notify.retries"),
        ('[notify]\nemail_to = ["not-an-address"]\n', "notify.email_to"),
        ('[mail]\nsecurity = "tls"\n', None),
    ],
)
def test_bad_notify_settings_are_refused_with_the_key(tmp_path, toml, needle):
    from aftersales_xl.errors import ConfigError

    path = tmp_path / "x.toml"
    path.write_text(toml, "utf-8")
    if needle is None:  # [mail] is checked where it is used
        with pytest.raises(ConfigError, match="mail.security"):
            SmtpSettings.from_policy(load_policy(path))
        return
    with pytest.raises(ConfigError, match=needle):
        load_policy(path)


def test_smtp_settings_from_the_mail_section():
    s = SmtpSettings.from_policy(load_policy(search_cwd=False))
    assert (s.host, s.port, s.security, s.password_env, s.to, s.timeout_s) == (
        "",
        587,
        "starttls",
        "XLCHECK_SMTP_PASSWORD",
        (),
        30.0,
    )
