"""SMTP delivery (sending/mail.py) against a real aiosmtpd server on 127.0.0.1: plain,
STARTTLS and SSL with a certificate made in the test, login accepted and refused, a refused
connection; settings from [mail]; the password only from its environment variable and never
in a message."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from smtp_server import PASSWORD, USER, Inbox, LocalController, authenticator, self_signed
from smtp_server import server_context as make_server_context

from aftersales_xl.config import load_policy
from aftersales_xl.errors import ConfigError, XlcheckError
from aftersales_xl.sending.mail import SendError, SmtpSettings, send_message


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "售后服务周报 2024-W21"
    msg["From"] = "xlcheck@example.com"
    msg["To"] = "boss@example.com"
    msg.set_content("正文")
    return msg


def settings(port: int, security: str = "none", user: str = "", **kw) -> SmtpSettings:
    values = dict(
        host="127.0.0.1", port=port, security=security, user=user,
        password_env="XLCHECK_TEST_SMTP_PW", sender="xlcheck@example.com",
        to=("boss@example.com",), cc=("ops@example.com",), timeout_s=5.0,
    )  # fmt: skip
    values.update(kw)
    return SmtpSettings(**values)


@pytest.fixture
def server():
    """Start a server with the given SMTP options; stopped at the end of the test."""
    started = []

    def start(**smtp_options):
        inbox = Inbox()
        controller = LocalController(inbox, **smtp_options)
        controller.start()
        started.append(controller)
        return inbox, controller.port

    yield start
    for c in started:
        c.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_from_policy_reads_the_mail_section(tmp_path: Path) -> None:
    defaults = SmtpSettings.from_policy(load_policy(search_cwd=False))
    assert defaults == SmtpSettings(
        host="", port=587, security="starttls", user="", password_env="XLCHECK_SMTP_PASSWORD",
        sender="", to=(), cc=(), timeout_s=30.0,
    )  # fmt: skip
    cfg = tmp_path / "x.toml"
    cfg.write_text(
        '[mail]\nhost = "smtp.example.com"\nport = 465\nsecurity = "ssl"\nuser = "u@example.com"\n'
        'from = "售后 <xlcheck@example.com>"\nto = ["a@example.com"]\ncc = ["b@example.com"]\n'
        "timeout_s = 10\n",
        "utf-8",
    )
    s = SmtpSettings.from_policy(load_policy(cfg))
    assert (s.host, s.port, s.security, s.sender, s.to, s.cc, s.timeout_s) == (
        "smtp.example.com", 465, "ssl", "售后 <xlcheck@example.com>",
        ("a@example.com",), ("b@example.com",), 10.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "text, key",
    [
        ('[mail]\nsecurity = "tls"\n', "mail.security"),
        ("[mail]\nport = 0\n", "mail.port"),
        ("[mail]\ntimeout_s = 0\n", "mail.timeout_s"),
        ('[mail]\npassword_env = "my password"\n', "mail.password_env"),
        ('[mail]\nto = ["not an address"]\n', "mail.to"),
        ('[mail]\nfrom = "nobody"\n', "mail.from"),
        ('[mail]\npassword = "x"\n', "mail.password"),  # no such key: the file never holds it
        ("[weekly]\nmax_attachment_mb = 0\n", "weekly.max_attachment_mb"),
    ],
)
def test_bad_mail_settings_are_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    cfg = tmp_path / "x.toml"
    cfg.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as e:
        load_policy(cfg, lang="en")
    assert key in str(e.value) and "\n" not in str(e.value)


def test_plain_delivery_uses_the_configured_envelope(server) -> None:
    inbox, port = server()
    send_message(message(), settings(port))
    [(sender, rcpts, data)] = inbox.messages
    assert sender == "xlcheck@example.com"
    assert rcpts == ["boss@example.com", "ops@example.com"]
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Subject"] == "售后服务周报 2024-W21"
    assert parsed.get_content().strip() == "正文"


def test_starttls_with_a_certificate_made_in_the_test_and_login(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    inbox, port = server(
        tls_context=make_server_context(cert, key),
        require_starttls=True,
        authenticator=authenticator,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's CA
    monkeypatch.setenv("XLCHECK_TEST_SMTP_PW", PASSWORD)
    send_message(message(), settings(port, "starttls", USER))
    assert len(inbox.messages) == 1


def test_ssl_from_the_first_byte(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path)
    inbox, port = server(ssl_context=make_server_context(cert, key))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    send_message(message(), settings(port, "ssl"))
    assert len(inbox.messages) == 1


def test_an_untrusted_certificate_is_one_tls_line(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    inbox, port = server(tls_context=make_server_context(cert, key), require_starttls=True)
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")  # a different certificate: not the server's
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    with pytest.raises(SendError) as e:
        send_message(message(), settings(port, "starttls"), lang="en")
    assert str(e.value).startswith(f"TLS with mail server 127.0.0.1:{port} failed")
    assert inbox.messages == []


def test_starttls_asked_of_a_server_without_it(server) -> None:
    _, port = server()
    with pytest.raises(SendError, match="does not offer STARTTLS"):
        send_message(message(), settings(port, "starttls"), lang="en")


def test_login_accepted_and_refused_never_shows_the_password(
    server, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = server(authenticator=authenticator, auth_require_tls=False)
    monkeypatch.setenv("XLCHECK_TEST_SMTP_PW", PASSWORD)
    send_message(message(), settings(port, "none", USER))
    assert len(inbox.messages) == 1

    monkeypatch.setenv("XLCHECK_TEST_SMTP_PW", "wrong-" + PASSWORD)
    for lang in ("zh", "en"):
        with pytest.raises(SendError) as e:
            send_message(message(), settings(port, "none", USER), lang=lang)
        text = str(e.value)
        assert f"127.0.0.1:{port}" in text and "XLCHECK_TEST_SMTP_PW" in text
        assert PASSWORD not in text and "\n" not in text
    assert "refused the login (535)" in text
    assert len(inbox.messages) == 1


def test_a_login_without_the_password_variable_says_which_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XLCHECK_TEST_SMTP_PW", raising=False)
    with pytest.raises(SendError, match="set the environment variable XLCHECK_TEST_SMTP_PW"):
        send_message(message(), settings(free_port(), "none", USER), lang="en")


def test_refused_connection_is_one_line_naming_the_server() -> None:
    port = free_port()
    with pytest.raises(SendError) as e:
        send_message(message(), settings(port), lang="en")
    assert str(e.value).startswith(f"cannot connect to mail server 127.0.0.1:{port}")
    assert isinstance(e.value, XlcheckError) and e.value.exit_code == 2
    with pytest.raises(SendError, match="无法连接邮件服务器"):
        send_message(message(), settings(port))


@pytest.mark.parametrize(
    "change, words",
    [
        ({"host": ""}, "fill in host"),
        ({"sender": ""}, "fill in from"),
        ({"to": (), "cc": ()}, "no recipients"),
    ],
)
def test_incomplete_settings_are_refused_before_connecting(change, words) -> None:
    with pytest.raises(SendError, match=words):
        send_message(message(), settings(free_port(), **change), lang="en")
