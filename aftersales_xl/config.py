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
                    f'{key} = "{spec}": working days must be a whole number, e.g. "5wd"'
                )
            if amount > MAX_TARGET[unit]:
                raise ConfigError(
                    f'{key} = "{spec}": longer than a year; the most allowed is '
                    f'"{MAX_TARGET[unit]:g}{unit}"'
                )
            return Target(amount, unit)
    raise ConfigError(
        f'{key} = "{spec}": use "<N>h" (calendar hours) or "<N>wd" (working days), e.g. "24h" or "5wd"'
    )


def _iso_dates(values: Any, key: str) -> list[date]:
    out = []
    if not isinstance(values, list):
        raise ConfigError(f'{key} must be a list of dates, e.g. ["2027-01-01"]')
    for v in values:
        if isinstance(v, date) and not isinstance(v, datetime):
            out.append(v)
            continue
        try:
            out.append(date.fromisoformat(str(v)))
        except ValueError:
            raise ConfigError(f'{key}: "{v}" is not a date; write it as YYYY-MM-DD') from None
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
        raise ConfigError(f'{key} = "{shown}": write the local time as HH:MM, e.g. "09:00"')
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
                raise ConfigError(f"{where} must be a table ([{where}]) with respond/resolve")
            base.setdefault(key, {}).update(value)
            continue
        if key not in defaults:
            allowed = ", ".join(sorted(defaults)) or "(none)"
            raise ConfigError(f"unknown setting {where!r}; allowed here: {allowed}")
        known = defaults.get(key)
        if isinstance(known, Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where} must be a table ([{where}])")
            base.setdefault(key, {})
            _merge(base[key], value, where, known)
        else:
            if isinstance(known, str) and isinstance(value, time):
                value = value.isoformat(timespec="minutes")  # a TOML time literal, 08:30:00
            if known is not None and type(known) is not type(value):
                numeric = isinstance(known, int | float) and isinstance(value, int | float)
                if not numeric or isinstance(value, bool):
                    raise ConfigError(
                        f"{where} must be {_KIND_WORDS.get(type(known), 'a value')} like "
                        f"{_toml_value(known)}, not {_toml_value(value)}"
                    )
                if isinstance(known, int) and not float(value).is_integer():
                    raise ConfigError(
                        f"{where} must be a whole number like {known}, not {_toml_value(value)}"
                    )
                value = int(value) if isinstance(known, int) else float(value)
            base[key] = value


_KIND_WORDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text in quotes",
    list: "a list",
}

#: characters that cannot mask: they would look like data (digits, letters) or break an email
_BAD_MASK_CHARS = "@＠.-+_"


def _check(raw: Mapping[str, Any]) -> None:
    """Semantic checks with messages that name the key and the allowed values."""
    if raw["ids"]["scheme"] not in ("daily", "monthly"):
        raise ConfigError(
            f'ids.scheme = "{raw["ids"]["scheme"]}": allowed values are "daily", "monthly"'
        )
    if not 1 <= int(raw["ids"]["digits"]) <= 9:
        raise ConfigError("ids.digits must be between 1 and 9")
    for name, values in raw["lists"].items():
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise ConfigError(f"lists.{name} must be a non-empty list of text values")
    if not raw["status"]["done"]:
        raise ConfigError(
            f"status.done must name at least one status of lists.status "
            f'({", ".join(raw["lists"]["status"])}), e.g. ["已解决", "已关闭"]'
        )
    for s in raw["status"]["done"] + [raw["status"]["pending"]]:
        if s not in raw["lists"]["status"]:
            raise ConfigError(
                f'status: "{s}" is not in lists.status ({", ".join(raw["lists"]["status"])})'
            )
    for sev, table in raw["sla"].items():
        if sev not in raw["lists"]["severity"]:
            raise ConfigError(
                f"sla.{sev}: not a severity; allowed: {', '.join(raw['lists']['severity'])}"
            )
        for kind, spec in table.items():
            if kind not in ("respond", "resolve"):
                raise ConfigError(
                    f"unknown setting 'sla.{sev}.{kind}'; allowed here: resolve, respond"
                )
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
            f"mask.char = {_toml_value(char)}: use one symbol that cannot be mistaken for "
            'data, e.g. "*", "＊" or "×" (not a letter, digit, space, @, ., -, + or _)'
        )
    for key, top in (("name_keep", 2), ("phone_keep_last", 4), ("email_keep", 3)):
        if not 0 <= raw["mask"][key] <= top:
            raise ConfigError(f"mask.{key} must be a whole number from 0 to {top}")
    for key, value in raw["limits"].items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"limits.{key} must be a positive number")
    _check_calendar(raw)
    _check_satisfaction(raw["satisfaction"])
    daily = raw["daily"]
    if daily["first_response_hours"] <= 0:
        raise ConfigError("daily.first_response_hours must be a positive number of hours")
    for key in ("closure_rate_min", "csat_min", "bad_review_max"):
        if not 0 <= daily[key] <= 100:
            raise ConfigError(f"daily.{key} must be a percentage between 0 and 100")


def _check_calendar(raw: Mapping[str, Any]) -> None:
    start = _hhmm(raw["working_hours"]["start"], "working_hours.start")
    end = _hhmm(raw["working_hours"]["end"], "working_hours.end")
    if start >= end:
        raise ConfigError(
            f'working_hours: start "{raw["working_hours"]["start"]}" must be earlier than '
            f'end "{raw["working_hours"]["end"]}"'
        )
    years = raw["calendar"]["covered_years"]
    if not all(isinstance(y, int) and not isinstance(y, bool) and 2000 <= y <= 2100 for y in years):
        raise ConfigError("calendar.covered_years must be a list of years, e.g. [2027]")
    holidays = set(_iso_dates(raw["calendar"]["extra_holidays"], "calendar.extra_holidays"))
    workdays = set(_iso_dates(raw["calendar"]["extra_workdays"], "calendar.extra_workdays"))
    both = sorted(holidays & workdays)
    if both:
        raise ConfigError(
            f"calendar: {both[0].isoformat()} is in both extra_holidays and extra_workdays; "
            "keep it in one of them"
        )


def _check_satisfaction(sat: Mapping[str, Any]) -> None:
    for key in ("good", "bad"):
        values = sat[key]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in values):
            raise ConfigError(f"satisfaction.{key} must be a list of ratings 1-5, e.g. [4, 5]")
    overlap = sorted(set(sat["good"]) & set(sat["bad"]))
    if overlap:
        raise ConfigError(
            f"satisfaction: rating {overlap[0]} is in both good and bad; keep it in one"
        )
    if not 0 <= sat["follow_up_max"] <= 5:
        raise ConfigError(
            "satisfaction.follow_up_max must be a rating between 0 and 5 (0 = no follow-up list)"
        )


def load_policy(path: str | Path | None = None, *, search_cwd: bool = True) -> Policy:
    """Load the defaults, then ``path`` (or ``./xlcheck.toml`` if present) over them."""
    defaults = tomllib.loads(default_policy_text())
    raw = copy.deepcopy(defaults)
    source = "defaults"
    if path is None and search_cwd and Path(CONFIG_FILENAME).is_file():
        path = CONFIG_FILENAME
    if path is not None:
        p = Path(path)
        try:
            # utf-8-sig: Notepad's "UTF-8 with BOM" reads as well as plain UTF-8
            user = tomllib.loads(p.read_text("utf-8-sig"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{p}: is a folder, not a config file") from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{p}: not UTF-8 text; save it as UTF-8 (in Notepad: 另存为 → 编码 UTF-8)"
            ) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML ({e})") from None
        try:
            _merge(raw, user, "", defaults)
        except ConfigError as e:
            raise ConfigError(f"{p}: {e}") from None
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
        raise ConfigError(f"{source}: {e}") from None
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
