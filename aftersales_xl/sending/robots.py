"""Chat-robot alerts: 企业微信 group robot, 钉钉 custom robot (加签), 飞书 bot webhook; and
the "email" channel through :mod:`aftersales_xl.sending.mail`.

Webhook URLs and signing secrets come only from the environment variables the ``[notify]``
section names (``wecom_webhook_env``…), never from the config file or the command line, and
never appear in a message: a failure names the channel and what went wrong, nothing else.
HTTP is the standard library's ``urllib`` with a timeout (``timeout_s``) and a bounded retry
(``retries``) for refused connections, timeouts and 5xx / 429 replies; an error code in the
robot's JSON reply (``errcode``, ``code``, ``StatusCode`` not 0) is a failure, not retried.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..config import Policy
from ..errors import XlcheckError
from ..messages import localise
from ..pii import redact

ROBOTS = ("wecom", "dingtalk", "feishu")
LABELS = {
    "wecom": ("企业微信", "WeCom"),
    "dingtalk": ("钉钉", "DingTalk"),
    "feishu": ("飞书", "Feishu"),
    "email": ("邮件", "email"),
}
_sleep = time.sleep  # replaced in tests


class RobotError(XlcheckError):
    """A robot did not take the message: one line naming the channel, no URL or secret."""


@dataclass(frozen=True)
class Delivery:
    """What happened on one channel."""

    channel: str
    ok: bool
    target: str
    sent_at: datetime
    detail: str = ""

    def channel_label(self, lang: str = "zh") -> str:
        zh, en = LABELS[self.channel]
        return en if lang == "en" else zh

    def result_text(self, lang: str = "zh") -> str:
        if self.ok:
            return localise(_TEXT, "sent", lang)
        return localise(_TEXT, "failed", lang, detail=self.detail)

    def line(self, lang: str = "zh") -> str:
        """The one line a failing channel prints."""
        return f"{self.channel_label(lang)}: {self.result_text(lang)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ok": self.ok,
            "target": self.target,
            "sent_at": self.sent_at.isoformat(timespec="seconds"),
            "detail": self.detail,
        }


# -- signatures and bodies -----------------------------------------------------------------------
def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 加签: HMAC-SHA256 of ``"{timestamp}\\n{secret}"`` keyed with the secret, base64,
    then URL-encoded (the ``sign`` query parameter beside ``timestamp``, in milliseconds)."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """飞书 签名校验: HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"`` over an empty
    message, base64 (``sign`` in the body beside ``timestamp``, in seconds)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def robot_request(
    channel: str, url: str, text: str, secret: str | None = None, *, now: float | None = None
) -> tuple[str, dict[str, Any]]:
    """The URL to post to and the JSON body ``channel``'s robot expects for a text message."""
    text = redact(text)
    stamp = time.time() if now is None else now
    if channel == "wecom":
        return url, {"msgtype": "text", "text": {"content": text}}
    if channel == "dingtalk":
        if secret:
            ms = int(stamp * 1000)
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            url = f"{url}{sep}timestamp={ms}&sign={dingtalk_sign(secret, ms)}"
        return url, {"msgtype": "text", "text": {"content": text}}
    if channel == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            seconds = int(stamp)
            body = {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds), **body}
        return url, body
    raise ValueError(f"unknown robot {channel!r}")


def _reply_error(reply: Any) -> str | None:
    """The error a robot's JSON reply reports, or None when it took the message."""
    if not isinstance(reply, dict):
        return "reply is not a JSON object"
    for key, msg_key in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        if key in reply and reply[key] not in (0, "0"):
            return f"{key} {reply[key]}: {str(reply.get(msg_key, ''))[:80]}"
    return None


def post_json(url: str, body: Mapping[str, Any], *, timeout: float, retries: int, lang: str) -> Any:
    """POST ``body`` as JSON and return the parsed reply; raise :class:`RobotError` (without
    the URL) when every attempt failed. Refusals, timeouts and 5xx / 429 are retried."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    reason = ""
    for attempt in range(retries + 1):
        if attempt:
            _sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read(1_000_000)
        except urllib.error.HTTPError as e:
            reason = f"HTTP {e.code}"
            if e.code >= 500 or e.code == 429:
                continue
            break
        except TimeoutError:
            reason = localise(_TEXT, "timed-out", lang, timeout=timeout)
            continue
        except urllib.error.URLError as e:
            inner = e.reason
            if isinstance(inner, TimeoutError | socket.timeout):
                reason = localise(_TEXT, "timed-out", lang, timeout=timeout)
            elif isinstance(inner, ConnectionRefusedError):
                reason = localise(_TEXT, "connection-refused", lang)
            else:
                reason = getattr(inner, "strerror", None) or type(inner).__name__
            continue
        except OSError as e:
            reason = e.strerror or type(e).__name__
            continue
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RobotError(localise(_TEXT, "reply-not-json", lang)) from None
    tries = retries + 1
    key = "attempts" if tries > 1 else "attempt"
    raise RobotError(localise(_TEXT, key, lang, reason=reason, tries=tries))


def send_robot(
    channel: str,
    text: str,
    policy: Policy,
    env: Mapping[str, str],
    *,
    lang: str = "zh",
    now: float | None = None,
) -> None:
    """Post ``text`` to ``channel``'s robot (URL and secret from the environment)."""
    notify = policy.raw["notify"]
    url_var = notify[f"{channel}_webhook_env"]
    url = env.get(url_var, "").strip()
    if not url:
        raise RobotError(localise(_TEXT, "webhook-not-set", lang, var=url_var))
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise RobotError(localise(_TEXT, "webhook-not-http", lang, var=url_var))
    secret = None
    secret_var = notify.get(f"{channel}_secret_env")
    if secret_var:
        secret = env.get(secret_var, "").strip() or None
    target, body = robot_request(channel, url, text, secret, now=now)
    reply = post_json(
        target, body, timeout=float(notify["timeout_s"]), retries=int(notify["retries"]), lang=lang
    )
    error = _reply_error(reply)
    if error is not None:
        raise RobotError(localise(_TEXT, "robot-error", lang, error=redact(error)))


def send_email(subject: str, body: str, policy: Policy, lang: str = "zh") -> tuple[str, ...]:
    """Send the alert by mail to ``[notify] email_to`` (default ``[mail] to``); returns them."""
    from .mail import SmtpSettings, send_message

    settings = SmtpSettings.from_policy(policy)
    email_to = tuple(policy.raw["notify"]["email_to"])
    if email_to:
        settings = replace(settings, to=email_to, cc=())
    message = email.message.EmailMessage()
    message["Subject"] = redact(subject)
    message["From"] = settings.sender or settings.user or "xlcheck"
    message["To"] = ", ".join(settings.to)
    if settings.cc:
        message["Cc"] = ", ".join(settings.cc)
    message.set_content(redact(body))
    send_message(message, settings, lang=lang)
    return (*settings.to, *settings.cc)


def notify_all(
    subject: str,
    body: str,
    policy: Policy,
    *,
    env: Mapping[str, str],
    lang: str = "zh",
    clock: Any = datetime.now,
) -> list[Delivery]:
    """Send one alert to every channel of ``[notify] channels``, each tried whatever happened
    to the others; one :class:`Delivery` per channel, in the configured order."""
    from .mail import SendError

    out: list[Delivery] = []
    for channel in policy.raw["notify"]["channels"]:
        sent_at = clock().replace(microsecond=0)
        target = localise(_TEXT, "group-robot", lang)
        try:
            if channel == "email":
                target = ", ".join(send_email(subject, body, policy, lang))
            else:
                send_robot(channel, body, policy, env, lang=lang)
        except (RobotError, SendError) as e:
            out.append(Delivery(channel, False, target, sent_at, redact(str(e))))
        except XlcheckError as e:  # a bad [mail] section: that channel fails, the others go on
            out.append(Delivery(channel, False, target, sent_at, redact(str(e))))
        else:
            out.append(Delivery(channel, True, target, sent_at))
    return out


_TEXT: dict[str, dict[str, str]] = {
    "sent": {"zh": "成功", "en": "sent"},
    "failed": {"zh": "失败：{detail}", "en": "failed: {detail}"},
    "timed-out": {"zh": "{timeout:g} 秒内无响应", "en": "timed out after {timeout:g} s"},
    "connection-refused": {"zh": "连接被拒绝", "en": "connection refused"},
    "reply-not-json": {"zh": "回复不是 JSON", "en": "reply is not JSON"},
    "attempts": {"zh": "{reason}（共尝试 {tries} 次）", "en": "{reason} ({tries} attempts)"},
    "attempt": {"zh": "{reason}（共尝试 {tries} 次）", "en": "{reason} ({tries} attempt)"},
    "webhook-not-set": {
        "zh": "未设置环境变量 {var}（机器人 Webhook 地址）",
        "en": "environment variable {var} (the webhook URL) is not set",
    },
    "webhook-not-http": {"zh": "{var} 不是 http(s) 地址", "en": "{var} is not an http(s) URL"},
    "robot-error": {"zh": "机器人返回错误 {error}", "en": "{error}"},
    "group-robot": {"zh": "群机器人", "en": "group robot"},
}
