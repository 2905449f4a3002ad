"""SMTP mail for reports and alerts (the ``[mail]`` policy section).

The agreed API shared by the weekly report and the daily alerts: :class:`SmtpSettings`
(``from_policy``), :func:`send_message` and :class:`SendError`. The password is read only
from the environment variable ``[mail] password_env`` names, at send time, and never appears
in a message.
"""

from __future__ import annotations

import email.message
import os
import smtplib
import ssl
from dataclasses import dataclass

from ..config import Policy
from ..errors import ConfigError, XlcheckError
from ..pii import redact

SECURITY = ("starttls", "ssl", "none")


class SendError(XlcheckError):
    """A message could not be sent: one line naming the server, never a secret."""


@dataclass(frozen=True)
class SmtpSettings:
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
    def from_policy(cls, policy: Policy) -> SmtpSettings:
        """The settings of the ``[mail]`` section (``from`` is :attr:`sender`)."""
        mail = policy.raw["mail"]
        security = str(mail["security"])
        if security not in SECURITY:
            allowed = ", ".join(f'"{s}"' for s in SECURITY)
            raise ConfigError(
                f'mail.security = "{security}"：允许的值为 {allowed}',
                f'mail.security = "{security}": allowed values are {allowed}',
            )
        return cls(
            host=str(mail["host"]),
            port=int(mail["port"]),
            security=security,
            user=str(mail["user"]),
            password_env=str(mail["password_env"]),
            sender=str(mail["from"]),
            to=tuple(str(a) for a in mail["to"]),
            cc=tuple(str(a) for a in mail["cc"]),
            timeout_s=float(mail["timeout_s"]),
        )


def send_message(
    message: email.message.EmailMessage, settings: SmtpSettings, *, lang: str = "zh"
) -> None:
    """Send ``message`` to ``settings.to`` and ``settings.cc`` through the SMTP server.

    Raises :class:`SendError` (one line naming ``host:port`` and what to check) when the
    server is not set, cannot be reached, refuses the login or the message.
    """
    en = lang == "en"
    server = f"{settings.host}:{settings.port}"
    recipients = [*settings.to, *settings.cc]
    if not settings.host:
        raise SendError(
            "mail.host is not set: give the SMTP server in xlcheck.toml [mail]"
            if en
            else "未设置 mail.host：请在 xlcheck.toml 的 [mail] 中填写 SMTP 服务器"
        )
    if not recipients:
        raise SendError(
            "no recipients: set [mail] to (or [notify] email_to)"
            if en
            else "没有收件人：请设置 [mail] to（或 [notify] email_to）"
        )
    password = None
    if settings.user:
        password = os.environ.get(settings.password_env)
        if not password:
            raise SendError(
                f"{server}: the environment variable {settings.password_env} holding the SMTP "
                "password is not set"
                if en
                else f"{server}：未设置保存 SMTP 密码的环境变量 {settings.password_env}"
            )
    try:
        context = ssl.create_default_context()
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if settings.user and password:
                smtp.login(settings.user, password)
            smtp.send_message(message, from_addr=settings.sender or None, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as e:
        raise SendError(
            f"{server}: login refused (SMTP {e.smtp_code}): check [mail] user and the password"
            if en
            else f"{server}：登录被拒绝（SMTP {e.smtp_code}）：请检查 [mail] user 和密码"
        ) from None
    except smtplib.SMTPResponseException as e:
        raise SendError(
            f"{server}: the server refused the message (SMTP {e.smtp_code})"
            if en
            else f"{server}：服务器拒收邮件（SMTP {e.smtp_code}）"
        ) from None
    except (smtplib.SMTPException, OSError) as e:
        reason = redact(getattr(e, "strerror", None) or type(e).__name__)
        raise SendError(
            f"{server}: could not send ({reason}): check [mail] host, port and security"
            if en
            else f"{server}：发送失败（{reason}）：请检查 [mail] 的 host、port 和 security"
        ) from None
