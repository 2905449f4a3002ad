"""Policy: the built-in defaults (``defaults.toml``) merged with an optional ``xlcheck.toml``.

Everything a supervisor may want to tune — allowed list values, the ID scheme, the mask
style, SLA targets, calendar additions, daily thresholds, satisfaction buckets, safety
limits — lives here, never as literals in code paths. ``load_policy()`` returns one
:class:`Policy`; pass it down explicitly.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_FILENAME = "xlcheck.toml"


def default_policy_text() -> str:
    """The text of the built-in defaults file (commented TOML)."""
    return resources.files("aftersales_xl").joinpath("defaults.toml").read_text("utf-8")


@dataclass(frozen=True)
class Target:
    """An SLA target: ``amount`` calendar hours (unit ``h``) or working days (unit ``wd``)."""

    amount: float
    unit: str  # "h" | "wd"

    def __str__(self) -> str:
        n = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{n}{self.unit}"


@dataclass(frozen=True)
class Policy:
    """The policy in force. Build with :func:`load_policy`; ``raw`` keeps the merged dict."""

    raw: Mapping[str, Any] = field(repr=False)
    source: str = "defaults"

    # -- lists and statuses ------------------------------------------------------------
    def allowed(self, list_name: str) -> list[str]:
        return list(self.raw["lists"][list_name])

    @property
    def done_statuses(self) -> list[str]:
        return list(self.raw["status"]["done"])

    def is_done(self, status: Any) -> Any:
        """Which records are finished: a boolean Series, True where 处理进度 (``status``, a
        pandas Series of the column as written) is one of ``status.done`` once surrounding
        spaces are stripped; blanks and anything else are not finished. The one definition
        every figure, rule and report uses."""
        done = status.astype("string").str.strip().isin(self.done_statuses)
        return done.fillna(False).astype(bool)

    @property
    def pending_status(self) -> str:
        return str(self.raw["status"]["pending"])

    # -- ids -----------------------------------------------------------------------------
    @property
    def id_scheme(self) -> str:
        return str(self.raw["ids"]["scheme"])

    @property
    def id_prefix(self) -> str:
        return str(self.raw["ids"]["prefix"])

    @property
    def id_digits(self) -> int:
        return int(self.raw["ids"]["digits"])

    # -- sections used by other modules --------------------------------------------------
    @property
    def mask(self) -> Mapping[str, Any]:
        return self.raw["mask"]

    @property
    def daily(self) -> Mapping[str, Any]:
        return self.raw["daily"]

    @property
    def satisfaction(self) -> Mapping[str, Any]:
        return self.raw["satisfaction"]

    @property
    def limits(self) -> Mapping[str, Any]:
        return self.raw["limits"]

    def value(self, dotted: str) -> Any:
        """The setting at ``section.key`` (``"daily.csat_min"``)."""
        section, _, key = dotted.partition(".")
        return self.raw[section][key]

    @property
    def notify(self) -> Mapping[str, Any]:
        """``[notify]``: the daily alerts' channels (secrets come from the env vars named)."""
        return self.raw["notify"]

    @property
    def mail(self) -> Mapping[str, Any]:
        """``[mail]``: SMTP settings (the password comes from the env var ``password_env``)."""
        return self.raw["mail"]

    @property
    def weekly(self) -> Mapping[str, Any]:
        """``[weekly]``: the weekly management email (``max_attachment_mb``)."""
        return self.raw["weekly"]

    @property
    def library(self) -> Mapping[str, Any]:
        """The solution library's settings ([library])."""
        return self.raw["library"]

    @property
    def extra_holidays(self) -> frozenset[date]:
        return frozenset(
            _iso_dates(self.raw["calendar"]["extra_holidays"], "calendar.extra_holidays")
        )

    @property
    def extra_workdays(self) -> frozenset[date]:
        return frozenset(
            _iso_dates(self.raw["calendar"]["extra_workdays"], "calendar.extra_workdays")
        )

    @property
    def covered_years(self) -> frozenset[int]:
        """Years whose holidays the policy lists in full (no "no calendar data" warning)."""
        return frozenset(int(y) for y in self.raw["calendar"]["covered_years"])

    @property
    def working_hours(self) -> tuple[time, time]:
        wh = self.raw["working_hours"]
        return _hhmm(wh["start"], "working_hours.start"), _hhmm(wh["end"], "working_hours.end")

    def sla_target(self, severity: str, kind: str) -> Target | None:
        """Target for ``kind`` ("respond" | "resolve") at ``severity``, or None (no target).

        A missing key or an empty string (``resolve = ""``, the way to switch a default
        target off in ``xlcheck.toml``) means no target.
        """
        spec = self.raw.get("sla", {}).get(severity, {}).get(kind)
        return None if spec in (None, "") else parse_target(spec, f"sla.{severity}.{kind}")


#: the longest target accepted: a year, in calendar hours or in working days
MAX_TARGET = {"h": 8784.0, "wd": 366.0}


def parse_target(spec: Any, key: str = "target") -> Target:
    """Parse ``"4h"``, ``"72h"``, ``"5wd"`` (or a bare number of hours).

    Hours may be fractional (``"0.5h"``); working days are whole days (``"5wd"``), since
    they are counted on the calendar, not converted to hours. A target longer than a year
    (:data:`MAX_TARGET`) is refused as a typo.
    """
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        if math.isfinite(spec) and 0 <= spec <= MAX_TARGET["h"]:
            return Target(float(spec), "h")
        spec = str(spec)
    text = str(spec).strip().lower()
    for unit in ("wd", "h"):
        if text.endswith(unit):
            try:
                amount = float(text[: -len(unit)])
            except ValueError:
                break
            if not math.isfinite(amount) or amount < 0:
                break
            if unit == "wd" and not amount.is_integer():
                raise ConfigError(
                    f'{key} = "{spec}"：工作日数必须是整数，例如 "5wd"',
                    f'{key} = "{spec}": working days must be a whole number, e.g. "5wd"',
                )
            if amount > MAX_TARGET[unit]:
                most = f'"{MAX_TARGET[unit]:g}{unit}"'
                raise ConfigError(
                    f'{key} = "{spec}"：超过一年；最多允许 {most}',
                    f'{key} = "{spec}": longer than a year; the most allowed is {most}',
                )
            return Target(amount, unit)
    raise ConfigError(
        f'{key} = "{spec}"：请写成 "<N>h"（自然小时）或 "<N>wd"（工作日），例如 "24h" 或 "5wd"',
        f'{key} = "{spec}": use "<N>h" (calendar hours) or "<N>wd" (working days), e.g. "24h" or "5wd"',
    )


def _iso_dates(values: Any, key: str) -> list[date]:
    out = []
    if not isinstance(values, list):
        raise ConfigError(
            f'{key} 必须是日期列表，例如 ["2027-01-01"]',
            f'{key} must be a list of dates, e.g. ["2027-01-01"]',
        )
    for v in values:
        if isinstance(v, date) and not isinstance(v, datetime):
            out.append(v)
            continue
        try:
            out.append(date.fromisoformat(str(v)))
        except ValueError:
            raise ConfigError(
                f'{key}："{v}" 不是日期；请写成 YYYY-MM-DD',
                f'{key}: "{v}" is not a date; write it as YYYY-MM-DD',
            ) from None
    return out


def _hhmm(value: Any, key: str) -> time:
    """A local time of day from ``"09:00"`` (or a TOML time literal ``09:00:00``)."""
    shown = value.isoformat() if isinstance(value, time) else value
    if isinstance(value, time):
        parsed: time | None = value
    elif isinstance(value, str):
        try:
            parsed = time.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    else:
        parsed = None
    if parsed is None or parsed.tzinfo is not None:
        raise ConfigError(
            f'{key} = "{shown}"：请按 HH:MM 写本地时间，例如 "09:00"',
            f'{key} = "{shown}": write the local time as HH:MM, e.g. "09:00"',
        )
    return parsed


def _merge(base: dict, override: Mapping, path: str, defaults: Mapping) -> None:
    """Deep-merge ``override`` into ``base``, refusing keys the defaults do not know.

    ``[sla.<severity>]`` tables may be added (for new severities); values inside them are
    checked by :func:`_check` (text like ``"4h"`` or a bare number of hours), not by the
    type of the default. Every other table, ``[lists]`` included, knows its keys, so a
    misspelt one (``chanel``) is refused rather than silently ignored.
    """
    for key, value in override.items():
        where = f"{path}.{key}" if path else key
        if path == "sla":
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{where} 必须是一个表（[{where}]），内含 respond/resolve",
                    f"{where} must be a table ([{where}]) with respond/resolve",
                )
            base.setdefault(key, {}).update(value)
            continue
        if key not in defaults:
            raise _unknown(where, sorted(defaults))
        known = defaults.get(key)
        if isinstance(known, Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{where} 必须是一个表（[{where}]）", f"{where} must be a table ([{where}])"
                )
            base.setdefault(key, {})
            _merge(base[key], value, where, known)
        else:
            if isinstance(known, str) and isinstance(value, time):
                value = value.isoformat(timespec="minutes")  # a TOML time literal, 08:30:00
            if known is not None and type(known) is not type(value):
                numeric = isinstance(known, int | float) and isinstance(value, int | float)
                if not numeric or isinstance(value, bool):
                    zh, en = _KIND_WORDS.get(type(known), ("一个值", "a value"))
                    raise ConfigError(
                        f"{where} 必须是{zh}，例如 {_toml_value(known)}，而不是 {_toml_value(value)}",
                        f"{where} must be {en} like {_toml_value(known)}, not {_toml_value(value)}",
                    )
                if isinstance(known, int) and not float(value).is_integer():
                    raise ConfigError(
                        f"{where} 必须是整数，例如 {known}，而不是 {_toml_value(value)}",
                        f"{where} must be a whole number like {known}, not {_toml_value(value)}",
                    )
                value = int(value) if isinstance(known, int) else float(value)
            base[key] = value


def _unknown(where: str, allowed: list[str]) -> ConfigError:
    """A key the defaults do not know, with the keys allowed beside it."""
    return ConfigError(
        f"未知设置 {where!r}；此处允许：{', '.join(allowed) or '（无）'}",
        f"unknown setting {where!r}; allowed here: {', '.join(allowed) or '(none)'}",
    )


#: what a value of the default's type is called (Chinese, English)
_KIND_WORDS = {
    bool: ("true 或 false", "true or false"),
    int: ("整数", "a whole number"),
    float: ("数字", "a number"),
    str: ("带引号的文字", "text in quotes"),
    list: ("列表", "a list"),
}

#: characters that cannot mask: they would look like data (digits, letters) or break an email
_BAD_MASK_CHARS = "@＠.-+_"


def _check(raw: Mapping[str, Any]) -> None:
    """Semantic checks with messages that name the key and the allowed values."""
    scheme = raw["ids"]["scheme"]
    if scheme not in ("daily", "monthly"):
        raise ConfigError(
            f'ids.scheme = "{scheme}"：允许的值为 "daily", "monthly"',
            f'ids.scheme = "{scheme}": allowed values are "daily", "monthly"',
        )
    if not 1 <= int(raw["ids"]["digits"]) <= 9:
        raise ConfigError("ids.digits 必须在 1 到 9 之间", "ids.digits must be between 1 and 9")
    for name, values in raw["lists"].items():
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise ConfigError(
                f"lists.{name} 必须是非空的文字列表",
                f"lists.{name} must be a non-empty list of text values",
            )
    statuses = ", ".join(raw["lists"]["status"])
    if not raw["status"]["done"]:
        raise ConfigError(
            f'status.done 至少要列出 lists.status 中的一个状态（{statuses}），例如 ["已解决", "已关闭"]',
            f"status.done must name at least one status of lists.status ({statuses}), "
            'e.g. ["已解决", "已关闭"]',
        )
    named = [("status.done", s) for s in raw["status"]["done"]]
    for key, s in named + [("status.pending", raw["status"]["pending"])]:
        if s not in raw["lists"]["status"]:
            raise ConfigError(
                f'{key}："{s}" 不在 lists.status 中（{statuses}）',
                f'{key}: "{s}" is not in lists.status ({statuses})',
            )
    severities = ", ".join(raw["lists"]["severity"])
    for sev, table in raw["sla"].items():
        if sev not in raw["lists"]["severity"]:
            raise ConfigError(
                f"sla.{sev}：不是 lists.severity 中的严重程度；允许：{severities}",
                f"sla.{sev}: not a severity; allowed: {severities}",
            )
        for kind, spec in table.items():
            if kind not in ("respond", "resolve"):
                raise _unknown(f"sla.{sev}.{kind}", ["resolve", "respond"])
            if spec != "":
                parse_target(spec, f"sla.{sev}.{kind}")
    char = str(raw["mask"]["char"])
    if (
        len(char) != 1
        or char.isalnum()
        or char.isspace()
        or not char.isprintable()
        or char in _BAD_MASK_CHARS
    ):
        raise ConfigError(
            f"mask.char = {_toml_value(char)}：请用一个不会被误认为数据的符号，"
            '例如 "*"、"＊" 或 "×"（不能是字母、数字、空格、@、.、-、+ 或 _）',
            f"mask.char = {_toml_value(char)}: use one symbol that cannot be mistaken for "
            'data, e.g. "*", "＊" or "×" (not a letter, digit, space, @, ., -, + or _)',
        )
    for key, top in (("name_keep", 2), ("phone_keep_last", 4), ("email_keep", 3)):
        if not 0 <= raw["mask"][key] <= top:
            raise ConfigError(
                f"mask.{key} 必须是 0 到 {top} 的整数",
                f"mask.{key} must be a whole number from 0 to {top}",
            )
    for key, value in raw["limits"].items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"limits.{key} 必须是正数", f"limits.{key} must be a positive number")
    _check_calendar(raw)
    _check_satisfaction(raw["satisfaction"])
    _check_mail(raw["mail"])
    _check_weekly(raw["weekly"])
    _check_library(raw["library"])
    daily = raw["daily"]
    if daily["first_response_hours"] <= 0:
        raise ConfigError(
            "daily.first_response_hours 必须是正的小时数",
            "daily.first_response_hours must be a positive number of hours",
        )
    for key in ("closure_rate_min", "csat_min", "bad_review_max"):
        if not 0 <= daily[key] <= 100:
            raise ConfigError(
                f"daily.{key} 必须是 0 到 100 之间的百分比",
                f"daily.{key} must be a percentage between 0 and 100",
            )
    _check_daily_report(raw["daily_report"])
    _check_notify(raw["notify"])


def _check_daily_report(section: Mapping[str, Any]) -> None:
    for key in ("first_response_overdue_max", "anomalies_max"):
        if section[key] < 0:
            raise ConfigError(
                f"daily_report.{key} 必须是 0 或正整数",
                f"daily_report.{key} must be a whole number, 0 or more",
            )
    for key in ("anomaly_types", "anomaly_statuses"):
        values = section[key]
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise ConfigError(
                f"daily_report.{key} 必须是非空的文字列表",
                f"daily_report.{key} must be a non-empty list of text values",
            )


#: the alert channels of ``[notify] channels``
NOTIFY_CHANNELS = ("wecom", "dingtalk", "feishu", "email")


def _check_notify(notify: Mapping[str, Any]) -> None:
    allowed = ", ".join(f'"{c}"' for c in NOTIFY_CHANNELS)
    for channel in notify["channels"]:
        if channel not in NOTIFY_CHANNELS:
            raise ConfigError(
                f"notify.channels：{_toml_value(channel)} 不是推送渠道；允许：{allowed}",
                f"notify.channels: {_toml_value(channel)} is not a channel; allowed: {allowed}",
            )
    for key, value in notify.items():
        if key.endswith("_env") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ConfigError(
                f'notify.{key} 必须是环境变量名，例如 "XLCHECK_WECOM_WEBHOOK"（网址和密钥只从环境变量读取）',
                f'notify.{key} must be the name of an environment variable, e.g. "XLCHECK_WECOM_WEBHOOK" '
                "(URLs and secrets are read from the environment only)",
            )
    if not all(isinstance(v, str) and "@" in v for v in notify["email_to"]):
        raise ConfigError(
            'notify.email_to 必须是邮箱地址列表，例如 ["ops@example.com"]',
            'notify.email_to must be a list of email addresses, e.g. ["ops@example.com"]',
        )
    if not 0 < notify["timeout_s"] <= 300:
        raise ConfigError(
            "notify.timeout_s 必须是 1 到 300 之间的秒数",
            "notify.timeout_s must be a number of seconds from 1 to 300",
        )
    if not 0 <= notify["retries"] <= 5:
        raise ConfigError(
            "notify.retries 必须是 0 到 5 之间的整数",
            "notify.retries must be a whole number from 0 to 5",
        )


def _check_calendar(raw: Mapping[str, Any]) -> None:
    start = _hhmm(raw["working_hours"]["start"], "working_hours.start")
    end = _hhmm(raw["working_hours"]["end"], "working_hours.end")
    if start >= end:
        shown = f'start "{raw["working_hours"]["start"]}"', f'end "{raw["working_hours"]["end"]}"'
        raise ConfigError(
            f"working_hours：{shown[0]} 必须早于 {shown[1]}",
            f"working_hours: {shown[0]} must be earlier than {shown[1]}",
        )
    years = raw["calendar"]["covered_years"]
    if not all(isinstance(y, int) and not isinstance(y, bool) and 2000 <= y <= 2100 for y in years):
        raise ConfigError(
            "calendar.covered_years 必须是年份列表，例如 [2027]",
            "calendar.covered_years must be a list of years, e.g. [2027]",
        )
    holidays = set(_iso_dates(raw["calendar"]["extra_holidays"], "calendar.extra_holidays"))
    workdays = set(_iso_dates(raw["calendar"]["extra_workdays"], "calendar.extra_workdays"))
    both = sorted(holidays & workdays)
    if both:
        day = both[0].isoformat()
        raise ConfigError(
            f"calendar：{day} 同时在 extra_holidays 和 extra_workdays 中；只保留在其中一个",
            f"calendar: {day} is in both extra_holidays and extra_workdays; keep it in one of them",
        )


def _check_satisfaction(sat: Mapping[str, Any]) -> None:
    for key in ("good", "bad"):
        values = sat[key]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in values):
            raise ConfigError(
                f"satisfaction.{key} 必须是 1-5 的评分列表，例如 [4, 5]",
                f"satisfaction.{key} must be a list of ratings 1-5, e.g. [4, 5]",
            )
    overlap = sorted(set(sat["good"]) & set(sat["bad"]))
    if overlap:
        raise ConfigError(
            f"satisfaction：评分 {overlap[0]} 同时在 good 和 bad 中；只保留在其中一个",
            f"satisfaction: rating {overlap[0]} is in both good and bad; keep it in one",
        )
    if not 0 <= sat["follow_up_max"] <= 5:
        raise ConfigError(
            "satisfaction.follow_up_max 必须是 0 到 5 之间的评分（0 = 不列回访名单）",
            "satisfaction.follow_up_max must be a rating between 0 and 5 (0 = no follow-up list)",
        )


#: the ``[mail] security`` values: how the SMTP connection is protected
MAIL_SECURITY = ("starttls", "ssl", "none")
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_mail(mail: Mapping[str, Any]) -> None:
    """``[mail]``: security one of :data:`MAIL_SECURITY`, a port 1-65535, a positive
    timeout, an environment-variable name for the password, addresses that look like
    ``name@domain`` (host and addresses may be blank until you send)."""
    if mail["security"] not in MAIL_SECURITY:
        raise ConfigError(
            f'mail.security = "{mail["security"]}"：允许的值为 "starttls", "ssl", "none"',
            f'mail.security = "{mail["security"]}": allowed values are "starttls", "ssl", "none"',
        )
    if not 1 <= mail["port"] <= 65535:
        raise ConfigError(
            "mail.port 必须是 1 到 65535 的端口号（STARTTLS 通常 587，SSL 通常 465）",
            "mail.port must be a port number from 1 to 65535 (587 for STARTTLS, 465 for SSL)",
        )
    if not mail["timeout_s"] > 0:
        raise ConfigError(
            "mail.timeout_s 必须是正的秒数", "mail.timeout_s must be a positive number of seconds"
        )
    if not _ENV_NAME.fullmatch(mail["password_env"]):
        raise ConfigError(
            'mail.password_env 必须是环境变量的名字，例如 "XLCHECK_SMTP_PASSWORD"（密码本身不写在配置文件里）',
            "mail.password_env must be the name of an environment variable, e.g. "
            '"XLCHECK_SMTP_PASSWORD" (the password itself never goes in the policy file)',
        )
    for key in ("to", "cc"):
        for value in mail[key]:
            if not isinstance(value, str) or not _ADDRESS.fullmatch(value.strip()):
                raise ConfigError(
                    f'mail.{key} 必须是邮箱地址列表，例如 ["manager@example.com"]',
                    f'mail.{key} must be a list of email addresses, e.g. ["manager@example.com"]',
                )
    sender = mail["from"].strip()
    if sender and not _ADDRESS.search(sender):
        raise ConfigError(
            'mail.from 必须是邮箱地址，例如 "xlcheck@example.com" 或 "售后 <xlcheck@example.com>"',
            'mail.from must be an email address, e.g. "xlcheck@example.com" or '
            '"After-sales <xlcheck@example.com>"',
        )


def _check_weekly(weekly: Mapping[str, Any]) -> None:
    if not weekly["max_attachment_mb"] > 0:
        raise ConfigError(
            "weekly.max_attachment_mb 必须是正数（MB）",
            "weekly.max_attachment_mb must be a positive number of MB",
        )


def _check_library(lib: Mapping[str, Any]) -> None:
    if not 1 <= lib["min_count"] <= 1000:
        raise ConfigError(
            "library.min_count 必须是 1 到 1000 的整数（例如 2：出现两次即算高频问题）",
            "library.min_count must be a whole number from 1 to 1000 (e.g. 2: twice is recurring)",
        )
    if not 0 < lib["cluster_similarity"] <= 1:
        raise ConfigError(
            "library.cluster_similarity 必须是大于 0、不超过 1 的数字，例如 0.3",
            "library.cluster_similarity must be a number above 0 and at most 1, e.g. 0.3",
        )
    if not 0 <= lib["similar_solved"] <= 10:
        raise ConfigError(
            "library.similar_solved 必须是 0 到 10 的整数（0 = 总台账不加“相似已解决”列）",
            "library.similar_solved must be a whole number from 0 to 10 (0 = no 相似已解决 column)",
        )
    if not 0 < lib["similar_threshold"] <= 1:
        raise ConfigError(
            "library.similar_threshold 必须是大于 0、不超过 1 的数字，例如 0.3",
            "library.similar_threshold must be a number above 0 and at most 1, e.g. 0.3",
        )
    if not 0 <= lib["examples"] <= 20:
        raise ConfigError(
            "library.examples 必须是 0 到 20 的整数",
            "library.examples must be a whole number from 0 to 20",
        )


def load_policy(
    path: str | Path | None = None, *, search_cwd: bool = True, lang: str = "zh"
) -> Policy:
    """Load the defaults, then ``path`` (or ``./xlcheck.toml`` if present) over them.

    A bad file raises :class:`ConfigError` with one line ``<file>: <key> ...: <fix>``, in
    Chinese unless ``lang="en"`` (the exception carries both texts as ``zh`` and ``en``).
    """
    defaults = tomllib.loads(default_policy_text())
    raw = copy.deepcopy(defaults)
    source = "defaults"
    if path is None and search_cwd and Path(CONFIG_FILENAME).is_file():
        path = CONFIG_FILENAME

    def bad(where: object, zh: str, en: str) -> ConfigError:
        return ConfigError(f"{where}: {zh}", f"{where}: {en}", lang=lang)

    if path is not None:
        p = Path(path)
        try:
            # utf-8-sig: Notepad's "UTF-8 with BOM" reads as well as plain UTF-8
            user = tomllib.loads(p.read_text("utf-8-sig"))
        except FileNotFoundError:
            raise bad(
                p,
                "找不到配置文件：请检查路径和文件名",
                "config file not found; check the path and name",
            ) from None
        except IsADirectoryError:
            raise bad(
                p,
                "是文件夹，不是配置文件：请给出 .toml 文件的路径",
                "is a folder, not a config file; give the path of the .toml file",
            ) from None
        except UnicodeDecodeError:
            raise bad(
                p,
                "不是 UTF-8 文本：请另存为 UTF-8（记事本：另存为 → 编码 UTF-8）",
                "not UTF-8 text; save it as UTF-8 (in Notepad: 另存为 → 编码 UTF-8)",
            ) from None
        except tomllib.TOMLDecodeError as e:
            raise bad(
                p, f"不是有效的 TOML（{e}）：请改正该行", f"not valid TOML ({e}); fix that line"
            ) from None
        try:
            _merge(raw, user, "", defaults)
        except ConfigError as e:
            raise bad(p, e.zh, e.en) from None
        # a default [sla.Pn] for a severity the file dropped from lists.severity goes too
        for sev in list(raw["sla"]):
            if sev not in raw["lists"]["severity"] and sev not in user.get("sla", {}):
                del raw["sla"][sev]
        source = str(p)
    try:
        _check(raw)
        policy = Policy(raw=raw, source=source)
        policy.extra_holidays, policy.extra_workdays, policy.working_hours  # noqa: B018 - validate
    except ConfigError as e:
        raise bad(source, e.zh, e.en) from None
    return policy


def policy_to_toml(policy: Policy) -> str:
    """Render the policy in force as TOML (for ``xlcheck config show``)."""
    lines: list[str] = [f"# policy in force (source: {policy.source})"]

    def emit(table: Mapping[str, Any], prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        if prefix and (scalars or not subtables):
            lines.append("")
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in subtables.items():
            emit(v, f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k))

    emit(policy.raw, "")
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    """A TOML key: bare when it can be (``P0``), else quoted (``"高"``)."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(v: Any) -> str:
    """A TOML value; strings use JSON's escapes, which TOML's basic strings share."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):  # JSON escapes every control character TOML forbids but DEL
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, date | time):
        return v.isoformat()
    return repr(v)
