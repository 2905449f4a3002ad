"""Form specs: load ``schemas/<form>.toml``, match headers tolerantly, build the pandera schema.

The spec is the one source of truth for a form: the schema here, the Excel template
(``template.py``) and the README field table are all generated from it.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .config import Policy

FIELD_TYPES = ("text", "list", "datetime", "rating")
REQUIRED_KINDS = ("yes", "no", "unless-pending", "when-done", "expected-when-done")


# -- the form's workbook: what xlcheck writes and recognises -------------------------------
MARKER_PROPERTY = "xlcheck-form"
"""Name of the custom document property holding ``form.marker``."""
MARKER_NAME = "_xlcheck_form"
"""Workbook-level defined name whose formula is ``="<form.marker>"``."""
INSTRUCTIONS_SHEET = {"zh": "填写说明", "en": "Instructions"}
"""Name of the instructions sheet per language; readers must never take records from it."""
LISTS_SHEET = "_lists"
"""Hidden sheet holding drop-down values too long (or with commas) for an inline list."""


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    label_en: str
    type: str
    required: str = "no"
    check: str | None = None
    list: str | None = None
    aliases: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    width: int = 12
    help: str = ""
    help_en: str = ""
    example: str = ""

    def title(self, lang: str = "zh") -> str:
        return self.label_en if lang == "en" else self.label


@dataclass(frozen=True)
class FormSpec:
    name: str
    version: str
    title: str
    title_en: str
    sheet: str
    sheet_en: str
    fields: tuple[FieldSpec, ...]

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    def field(self, key: str) -> FieldSpec:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def by_check(self, check: str) -> list[FieldSpec]:
        return [f for f in self.fields if f.check == check]

    def pii_scanned(self) -> list[FieldSpec]:
        """Text fields searched for phones, emails and ID numbers: every free-form text field
        (``check = "pii-text"`` or no check), i.e. all but IDs and the contact fields."""
        return [f for f in self.fields if f.type == "text" and f.check in (None, "pii-text")]

    @property
    def marker(self) -> str:
        """The hidden marker written into templates: ``aftersales-xl:record:1``."""
        return f"aftersales-xl:{self.name}:{self.version}"

    def match_headers(self, cells: list[Any]) -> dict[str, int]:
        """Map field key → 0-based column index for a row of header cells (first match wins)."""
        lookup = _label_lookup(self)
        found: dict[str, int] = {}
        for idx, cell in enumerate(cells):
            key = lookup.get(normalise_label(cell))
            if key is not None and key not in found:
                found[key] = idx
        return found


_DECORATION = re.compile(r"[\(\[【<《][^\)\]】>》]*[\)\]】>》]|[*＊※:：\s]")


def normalise_label(value: Any) -> str:
    """Header text as compared: NFKC (full → half width), no spaces, ``*``, ``（必填）``, case."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return _DECORATION.sub("", text).lower()


@cache
def _label_lookup(form: FormSpec) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for f in form.fields:  # canonical labels first so an alias can never shadow one
        lookup.setdefault(normalise_label(f.label), f.key)
        lookup.setdefault(normalise_label(f.label_en), f.key)
        lookup.setdefault(normalise_label(f.key), f.key)
    for f in form.fields:
        for alias in f.aliases:
            lookup.setdefault(normalise_label(alias), f.key)
    return lookup


@cache
def load_form(name: str = "record") -> FormSpec:
    """Load and check the spec ``schemas/<name>.toml``."""
    try:
        text = resources.files("aftersales_xl.schemas").joinpath(f"{name}.toml").read_text("utf-8")
    except FileNotFoundError:
        raise KeyError(f"no form spec named {name!r}") from None
    data = tomllib.loads(text)
    fields = []
    for raw in data["fields"]:
        raw = dict(raw)
        raw["aliases"] = tuple(raw.get("aliases", ()))
        spec = FieldSpec(**raw)
        if spec.type not in FIELD_TYPES:
            raise ValueError(
                f"{name}.toml: field {spec.key}: type {spec.type!r} not in {FIELD_TYPES}"
            )
        if spec.required not in REQUIRED_KINDS:
            raise ValueError(
                f"{name}.toml: field {spec.key}: required {spec.required!r} not in {REQUIRED_KINDS}"
            )
        fields.append(spec)
    form = data["form"]
    return FormSpec(fields=tuple(fields), **{k: str(v) for k, v in form.items()})


REQUIRED_WORDING: dict[str, dict[str, str]] = {
    "zh": {
        "yes": "必填",
        "no": "选填",
        "unless-pending": "必填（{pending}时可空）",
        "when-done": "{done}时必填",
        "expected-when-done": "{done}时应填",
    },
    "en": {
        "yes": "required",
        "no": "optional",
        "unless-pending": "required unless {pending}",
        "when-done": "required once {done}",
        "expected-when-done": "expected once {done}",
    },
}


def required_wording(policy: Policy, lang: str = "zh") -> dict[str, str]:
    """How each ``required`` kind reads to staff, naming the statuses in force."""
    done = "/".join(policy.done_statuses)
    return {
        kind: phrase.format(done=done, pending=policy.pending_status)
        for kind, phrase in REQUIRED_WORDING.get(lang, REQUIRED_WORDING["zh"]).items()
    }


def field_table_markdown(form: FormSpec, policy: Policy) -> str:
    """The README's field table, generated from the spec (a test keeps README in sync)."""
    req = required_wording(policy)
    rows = ["| 表头 | key | type | 必填 | 规则 / 可选值 |", "|---|---|---|---|---|"]
    for f in form.fields:
        rule = f.help
        if f.list:
            rule = " / ".join(policy.allowed(f.list))
        elif f.type == "rating":
            rule = f"{f.min}–{f.max} 的整数；{f.help}"
        rows.append(f"| {f.label} | `{f.key}` | {f.type} | {req[f.required]} | {rule} |")
    return "\n".join(rows)
