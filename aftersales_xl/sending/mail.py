"""SMTP delivery of a built :class:`email.message.EmailMessage`, with settings from ``[mail]``.

The password is read only from the environment variable named by ``[mail] password_env``
(default ``XLCHECK_SMTP_PASSWORD``) at the moment of sending: never from the policy file,
never from the command line, never kept in :class:`SmtpSettings` and never in a message.
Every failure (connection, TLS, authentication, refused recipients) is one
:class:`SendError` line naming the server and the fix.

TLS uses :func:`ssl.create_default_context`: the system's trusted certificates, host name
checked. A company CA is trusted by pointing ``SSL_CERT_FILE`` at its PEM file.
"""

from __future__ import annotations

import email.message
import os
import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

from ..errors import XlcheckError
from ..messages import localise


class SendError(XlcheckError):
    """A message could not be delivered: one line naming the server, never a secret."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to deliver: the ``[mail]`` section of the policy.

    ``security`` is ``"starttls"`` (plain connection upgraded with STARTTLS, usually port
    587), ``"ssl"`` (TLS from the first byte, usually 465) or ``"none"`` (no encryption: a
    relay on the local network only). ``user`` blank means no login. ``password_env`` is the
    *name* of the environment variable holding the password, not the password.
    """

    host: str
    port: int
    security: str  # "starttls" | "ssl" | "none"
    user: str
    password_env: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    timeout_s: float

    @classmethod
    def from_policy(cls, policy: Any) -> SmtpSettings:
        """The settings of ``policy``'s ``[mail]`` section (validated by the policy loader)."""
        mail = policy.mail
        return cls(
            host=str(mail["host"]).strip(),
            port=int(mail["port"]),
            security=str(mail["security"]),
            user=str(mail["user"]).strip(),
            password_env=str(mail["password_env"]),
            sender=str(mail["from"]).strip(),
            to=tuple(str(a).strip() for a in mail["to"]),
            cc=tuple(str(a).strip() for a in mail["cc"]),
            timeout_s=float(mail["timeout_s"]),
        )

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every address the message goes to (``to`` then ``cc``)."""
        return self.to + self.cc

    @property
    def server(self) -> str:
        """``host:port`` as messages name the server."""
        return f"{self.host}:{self.port}"


def send_message(
    message: email.message.EmailMessage, settings: SmtpSettings, *, lang: str = "zh"
) -> None:
    """Deliver ``message`` over SMTP to ``settings.to`` + ``settings.cc`` from ``settings.sender``.

    The envelope comes from ``settings`` (not from the message's headers), so a Bcc never
    leaks and the configured recipients are exactly who receives it. Raises
    :class:`SendError` (one line, in ``lang``) when the settings are incomplete, the password
    variable is unset, or the server cannot be reached, the TLS handshake fails, the login is
    refused or a recipient is refused. Nothing is retried: the caller keeps the ``.eml``.
    """
    server = settings.server
    if not settings.host:
        raise SendError(localise(_TEXT, "no-host", lang))
    if not settings.sender:
        raise SendError(localise(_TEXT, "no-sender", lang))
    if not settings.recipients:
        raise SendError(localise(_TEXT, "no-recipients", lang))
    password: str | None = None
    if settings.user:
        password = os.environ.get(settings.password_env)
        if not password:
            raise SendError(
                localise(_TEXT, "no-password", lang, server=server, env=settings.password_env)
            )
    context = ssl.create_default_context()
    step = "connect"
    try:
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with smtp:
            smtp.ehlo()
            if settings.security == "starttls":
                step = "starttls"
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user:
                step = "login"
                assert password is not None
                smtp.login(settings.user, password)
            step = "send"
            refused = smtp.send_message(
                message, from_addr=settings.sender, to_addrs=list(settings.recipients)
            )
            if refused:
                raise SendError(
                    localise(_TEXT, "refused-some", lang, server=server, n=len(refused))
                )
    except SendError:
        raise
    except smtplib.SMTPAuthenticationError as e:
        raise SendError(
            localise(
                _TEXT, "auth", lang, server=server, code=e.smtp_code, env=settings.password_env
            )
        ) from None
    except smtplib.SMTPNotSupportedError:
        key = "no-starttls" if step == "starttls" else "no-auth"
        raise SendError(localise(_TEXT, key, lang, server=server)) from None
    except smtplib.SMTPRecipientsRefused:
        raise SendError(localise(_TEXT, "refused-all", lang, server=server)) from None
    except smtplib.SMTPSenderRefused as e:
        raise SendError(
            localise(_TEXT, "sender-refused", lang, server=server, code=e.smtp_code)
        ) from None
    except (ssl.SSLError, ssl.CertificateError) as e:
        reason = getattr(e, "reason", None) or type(e).__name__
        raise SendError(localise(_TEXT, "tls", lang, server=server, detail=reason)) from None
    except smtplib.SMTPResponseException as e:
        raise SendError(localise(_TEXT, "smtp", lang, server=server, code=e.smtp_code)) from None
    except TimeoutError:
        raise SendError(
            localise(_TEXT, "timeout", lang, server=server, s=f"{settings.timeout_s:g}")
        ) from None
    except (smtplib.SMTPException, OSError) as e:
        detail = getattr(e, "strerror", None) or type(e).__name__
        raise SendError(localise(_TEXT, "connect", lang, server=server, detail=detail)) from None


_TEXT: dict[str, dict[str, str]] = {
    "no-host": {
        "zh": "未设置邮件服务器：请在 xlcheck.toml 的 [mail] 中填写 host（以及 port、from、to）",
        "en": "no mail server set: fill in host (and port, from, to) under [mail] in xlcheck.toml",
    },
    "no-sender": {
        "zh": "未设置发件人：请在 xlcheck.toml 的 [mail] 中填写 from",
        "en": "no sender set: fill in from under [mail] in xlcheck.toml",
    },
    "no-recipients": {
        "zh": "没有收件人：请在 xlcheck.toml 的 [mail] 中填写 to（或 cc）",
        "en": "no recipients: fill in to (or cc) under [mail] in xlcheck.toml",
    },
    "no-password": {
        "zh": "邮件服务器 {server} 需要密码：请设置环境变量 {env}（密码不写在配置文件或命令行中）",
        "en": "mail server {server} needs a password: set the environment variable {env} "
        "(never in the policy file or on the command line)",
    },
    "connect": {
        "zh": "无法连接邮件服务器 {server}（{detail}）：请检查 [mail] host/port 和网络",
        "en": "cannot connect to mail server {server} ({detail}): check [mail] host/port "
        "and the network",
    },
    "timeout": {
        "zh": "邮件服务器 {server} 在 {s} 秒内没有响应：请检查 [mail] host/port，或调大 timeout_s",
        "en": "mail server {server} did not answer within {s} s: check [mail] host/port or "
        "raise timeout_s",
    },
    "tls": {
        "zh": "与邮件服务器 {server} 的 TLS 握手失败（{detail}）：请检查 [mail] security/port，"
        "或用 SSL_CERT_FILE 指定公司的根证书",
        "en": "TLS with mail server {server} failed ({detail}): check [mail] security/port, "
        "or point SSL_CERT_FILE at your company's CA certificate",
    },
    "no-starttls": {
        "zh": '邮件服务器 {server} 不支持 STARTTLS：请改用 security = "ssl"（端口 465），'
        "或确认服务器地址",
        "en": 'mail server {server} does not offer STARTTLS: use security = "ssl" (port 465) '
        "or check the server",
    },
    "no-auth": {
        "zh": "邮件服务器 {server} 不接受登录（未提供 AUTH）：请启用 STARTTLS/SSL，或清空 [mail] user",
        "en": "mail server {server} offers no login (no AUTH): use STARTTLS/SSL, or leave "
        "[mail] user blank",
    },
    "auth": {
        "zh": "邮件服务器 {server} 拒绝登录（{code}）：请检查 [mail] user 和环境变量 {env} 中的密码",
        "en": "mail server {server} refused the login ({code}): check [mail] user and the "
        "password in the environment variable {env}",
    },
    "refused-all": {
        "zh": "邮件服务器 {server} 拒绝了全部收件人：请检查 [mail] to/cc",
        "en": "mail server {server} refused every recipient: check [mail] to/cc",
    },
    "refused-some": {
        "zh": "邮件服务器 {server} 拒绝了 {n} 个收件人（其余已发送）：请检查 [mail] to/cc",
        "en": "mail server {server} refused {n} recipient(s) (the others got it): check "
        "[mail] to/cc",
    },
    "sender-refused": {
        "zh": "邮件服务器 {server} 拒绝了发件人（{code}）：请检查 [mail] from 是否允许该账号使用",
        "en": "mail server {server} refused the sender ({code}): check [mail] from is allowed "
        "for that account",
    },
    "smtp": {
        "zh": "邮件服务器 {server} 拒绝了邮件（{code}）：请联系邮件管理员；邮件已保存在发件箱文件夹",
        "en": "mail server {server} rejected the message ({code}): ask the mail administrator; "
        "the message is kept in the outbox folder",
    },
}
