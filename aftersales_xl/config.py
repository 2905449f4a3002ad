"""Policy: the built-in defaults (``defaults.toml``) merged with an optional ``xlcheck.toml``.

Everything a supervisor may want to tune — allowed list values, the ID scheme, the mask
style, SLA targets, calendar additions, daily thresholds, satisfaction buckets, safety
limits — lives here, never as literals in code paths. ``load_policy()`` returns one
:class:`Policy`; pass it down explicitly.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
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
        return frozenset(_iso_dates(self.raw["calendar"]["extra_holidays"], "calendar.extra_holidays"))

    @property
    def extra_workdays(self) -> frozenset[date]:
        return frozenset(_iso_dates(self.raw["calendar"]["extra_workdays"], "calendar.extra_workdays"))

    @property
    def working_hours(self) -> tuple[time, time]:
        wh = self.raw["working_hours"]
        return _hhmm(wh["start"], "working_hours.start"), _hhmm(wh["end"], "working_hours.end")

    def sla_target(self, severity: str, kind: str) -> Target | None:
        """Target for ``kind`` ("respond" | "resolve") at ``severity``, or None (no target)."""
        spec = self.raw.get("sla", {}).get(severity, {}).get(kind)
        return None if spec in (None, "") else parse_target(spec, f"sla.{severity}.{kind}")


def parse_target(spec: Any, key: str = "target") -> Target:
    """Parse ``"4h"``, ``"72h"``, ``"5wd"`` (or a bare number of hours)."""
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Target(float(spec), "h")
    text = str(spec).strip().lower()
    for unit in ("wd", "h"):
        if text.endswith(unit):
            try:
                amount = float(text[: -len(unit)])
            except ValueError:
                break
            if amount < 0:
                break
            return Target(amount, unit)
    raise ConfigError(f'{key} = "{spec}": use "<N>h" (calendar hours) or "<N>wd" (working days), e.g. "24h" or "5wd"')


def _iso_dates(values: Any, key: str) -> list[date]:
    out = []
    for v in values:
        if isinstance(v, date):
            out.append(v)
            continue
        try:
            out.append(date.fromisoformat(str(v)))
        except ValueError:
            raise ConfigError(f'{key}: "{v}" is not a date; write it as YYYY-MM-DD') from None
    return out


def _hhmm(value: Any, key: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f'{key} = "{value}": write the time as HH:MM, e.g. "09:00"') from None


def _merge(base: dict, override: Mapping, path: str, defaults: Mapping) -> None:
    """Deep-merge ``override`` into ``base``, refusing keys the defaults do not know.

    ``[sla.<severity>]`` tables and ``[lists]`` may gain new keys (new severities/lists).
    """
    open_tables = {"sla", "lists"}
    for key, value in override.items():
        where = f"{path}.{key}" if path else key
        if key not in defaults and path not in open_tables and not path.startswith("sla"):
            allowed = ", ".join(sorted(defaults)) or "(none)"
            raise ConfigError(f"unknown setting {where!r}; allowed here: {allowed}")
        known = defaults.get(key)
        if isinstance(known, Mapping) or (path == "sla" and isinstance(value, Mapping)):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where} must be a table ([{where}])")
            base.setdefault(key, {})
            _merge(base[key], value, where, known or {"respond": 0, "resolve": 0})
        else:
            if known is not None and type(known) is not type(value):
                numeric = isinstance(known, int | float) and isinstance(value, int | float)
                if not numeric or isinstance(value, bool):
                    raise ConfigError(
                        f"{where} must be a {type(known).__name__} like {known!r}, not {value!r}"
                    )
            base[key] = value


def _check(raw: Mapping[str, Any]) -> None:
    """Semantic checks with messages that name the key and the allowed values."""
    if raw["ids"]["scheme"] not in ("daily", "monthly"):
        raise ConfigError(f'ids.scheme = "{raw["ids"]["scheme"]}": allowed values are "daily", "monthly"')
    if not 1 <= int(raw["ids"]["digits"]) <= 9:
        raise ConfigError("ids.digits must be between 1 and 9")
    for name, values in raw["lists"].items():
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"lists.{name} must be a non-empty list of text values")
    for s in raw["status"]["done"] + [raw["status"]["pending"]]:
        if s not in raw["lists"]["status"]:
            raise ConfigError(f'status: "{s}" is not in lists.status ({", ".join(raw["lists"]["status"])})')
    for sev, table in raw["sla"].items():
        if sev not in raw["lists"]["severity"]:
            raise ConfigError(f"sla.{sev}: not a severity; allowed: {', '.join(raw['lists']['severity'])}")
        for kind, spec in table.items():
            if kind not in ("respond", "resolve"):
                raise ConfigError(f"unknown setting 'sla.{sev}.{kind}'; allowed here: resolve, respond")
            parse_target(spec, f"sla.{sev}.{kind}")
    for key in ("char",):
        if len(str(raw["mask"][key])) != 1:
            raise ConfigError("mask.char must be a single character, e.g. \"*\"")
    for key, value in raw["limits"].items():
        if not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"limits.{key} must be a positive number")


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
            user = tomllib.loads(p.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: not valid TOML ({e})") from None
        try:
            _merge(raw, user, "", defaults)
        except ConfigError as e:
            raise ConfigError(f"{p}: {e}") from None
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

    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, date | time):
            return v.isoformat()
        return repr(v)

    def emit(table: Mapping[str, Any], prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        if prefix and (scalars or not subtables):
            lines.append("")
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {fmt(v)}")
        for k, v in subtables.items():
            emit(v, f"{prefix}.{k}" if prefix else k)

    emit(policy.raw, "")
    return "\n".join(lines) + "\n"
