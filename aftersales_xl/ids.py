"""Record IDs (问题编号): the configured scheme — its pattern, parsing, formatting and the one
way IDs are compared.

Schemes (policy ``[ids]``):

- ``daily`` (default): ``prefix`` + ``YYYYMMDD`` of 接收时间 + per-day sequence,
  ``FW20240521001``;
- ``monthly``: ``prefix`` + ``YYYYMM`` + per-month sequence; with ``prefix = ""`` this is
  the seeds' ``年份+月份+流水号`` form, ``202405001``.

The sequence has ``digits`` digits (3) and simply grows past them: after
``FW20240521999`` comes ``FW202405211000``. Two IDs with the same period and sequence are
the same ID (``FW202405210002`` = ``FW20240521002``). Handing out new IDs is the job of
:mod:`aftersales_xl.jobs.assign_ids`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from .coerce import is_missing, nfkc, to_text
from .config import Policy
from .messages import localise

_PERIOD = {
    "daily": (r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", "%Y%m%d"),
    "monthly": (r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])", "%Y%m"),
}


def id_pattern(policy: Policy) -> re.Pattern[str]:
    """The full-match pattern of a valid ID under the policy's scheme (4+ digit sequences too).

    Groups: ``period`` (``20240521`` / ``202405``) and ``seq``. Case-insensitive prefix.
    """
    period, _ = _PERIOD[policy.id_scheme]
    return re.compile(
        rf"^{re.escape(policy.id_prefix)}(?P<period>{period})(?P<seq>\d{{{policy.id_digits},}})\Z",
        re.IGNORECASE,
    )


def parse_id(record_id: Any, policy: Policy) -> tuple[str, int] | None:
    """``(period, sequence)`` of a valid ID (``("20240521", 1)``), or None if it is not one.

    The period must be a real date (``FW20240231001`` is not valid).
    """
    return id_parser(policy)(record_id)


def id_parser(policy: Policy) -> Callable[[Any], tuple[str, int] | None]:
    """:func:`parse_id` with the pattern compiled once (for long columns)."""
    pattern = id_pattern(policy)
    period_format = _PERIOD[policy.id_scheme][1]

    def parse(record_id: Any) -> tuple[str, int] | None:
        text = normalise_id(record_id)
        m = pattern.match(text) if text is not None else None
        if not m:
            return None
        try:
            datetime.strptime(m.group("period"), period_format)
        except ValueError:
            return None
        return m.group("period"), int(m.group("seq"))

    return parse


def format_id(period: str, seq: int, policy: Policy) -> str:
    """``FW`` + ``20240521`` + ``001`` (the sequence widens past ``digits``)."""
    return f"{policy.id_prefix}{period}{seq:0{policy.id_digits}d}"


def period_of(when: date, policy: Policy) -> str:
    """The period part of an ID for a date: ``20240521`` (daily) or ``202405`` (monthly)."""
    return when.strftime(_PERIOD[policy.id_scheme][1])


def id_example(policy: Policy) -> str:
    """An example ID of the scheme in force, for messages (``FW20240521001``)."""
    return format_id(period_of(date(2024, 5, 21), policy), 1, policy)


def normalise_id(value: Any) -> str | None:
    """An ID cell as compared: text, NFKC, trimmed, upper case; blanks → None.

    IDs typed as numbers (``202405001`` in the monthly scheme) become their digits.
    """
    text = None if is_missing(value) else to_text(value)
    return (nfkc(text).upper() or None) if text else None


def scheme_hint(policy: Policy, lang: str = "zh") -> str:
    """How a valid ID looks, for messages."""
    return localise(_TEXT, "scheme-hint", lang, example=id_example(policy))


_TEXT: dict[str, dict[str, str]] = {
    "scheme-hint": {
        "zh": "应为 {example} 这样的编号（前缀+日期+流水号）；也可留空，自动编号",
        "en": "use an ID like {example} (prefix + date + sequence), or leave it blank to be assigned",
    },
}
