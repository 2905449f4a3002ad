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
    layout: str = "table"  # "table": one record per row; "sheet": a form-style sheet
    sheet_form: SheetForm | None = None  # the cells, metrics and tables of a "sheet" form

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


# -- form-style sheets (the daily report) ------------------------------------------------------
SHEET_CELL_TYPES = ("date", "datetime", "text")
TABLE_COLUMN_TYPES = ("text", "list", "datetime", "hours")
METRIC_UNITS = ("hours", "pct", "count")
METRIC_RULES = ("max", "min")
TABLE_ROLES = ("computed", "input", "log")


@dataclass(frozen=True)
class SheetCell:
    """One labelled cell of a form-style sheet's header block (报表日期, 填写人...)."""

    key: str
    label: str
    label_en: str
    type: str
    role: str  # "input" (people type it) | "computed" (xlcheck writes it)
    required: bool = False
    help: str = ""
    help_en: str = ""

    def title(self, lang: str = "zh") -> str:
        return self.label_en if lang == "en" else self.label


@dataclass(frozen=True)
class MetricSpec:
    """One metric row: 阈值 from the policy setting ``threshold`` (``daily.csat_min``); ``rule`` "max" means normal
    while 实际值 ≤ 阈值, "min" normal while 实际值 ≥ 阈值; ``note`` is its 说明 (cohort)."""

    key: str
    label: str
    label_en: str
    unit: str
    threshold: str
    rule: str
    note: str = ""
    note_en: str = ""

    def title(self, lang: str = "zh") -> str:
        return self.label_en if lang == "en" else self.label

    def threshold_value(self, policy: Policy) -> float:
        """The 阈值 as the cell holds it: hours, a whole count, or a fraction for a percentage
        (policy ``95.0`` → ``0.95``, shown ``95.0%``)."""
        value = float(policy.value(self.threshold))
        return value / 100 if self.unit == "pct" else value


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    label_en: str
    type: str = "text"
    list: str | None = None
    required: bool = False

    def title(self, lang: str = "zh") -> str:
        return self.label_en if lang == "en" else self.label


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    title_en: str
    role: str
    rows: int
    columns: tuple[ColumnSpec, ...]

    def heading(self, lang: str = "zh") -> str:
        return self.title_en if lang == "en" else self.title


@dataclass(frozen=True)
class SheetForm:
    """The layout of a form-style sheet: header cells, metric rows, tables, a notes cell."""

    widths: tuple[int, ...]
    header: tuple[SheetCell, ...]
    metric_columns: tuple[tuple[str, str, str], ...]  # (part, label, label_en)
    metrics: tuple[MetricSpec, ...]
    tables: tuple[TableSpec, ...]
    lists: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (name, zh, en values)
    labels: tuple[tuple[str, str], ...]  # extra labels of [form]: (key, text)

    def label(self, key: str, lang: str = "zh") -> str:
        found = dict(self.labels)
        return found.get(f"{key}_en", found[key]) if lang == "en" else found[key]

    def cell(self, key: str) -> SheetCell:
        return next(c for c in self.header if c.key == key)

    def metric(self, key: str) -> MetricSpec:
        return next(m for m in self.metrics if m.key == key)

    def table(self, key: str) -> TableSpec:
        return next(t for t in self.tables if t.key == key)

    def own_list(self, name: str, lang: str = "zh") -> list[str] | None:
        """Values of a list this spec defines (``[lists]``), or None if it defines none."""
        for list_name, zh, en in self.lists:
            if list_name == name:
                return list(en if lang == "en" else zh)
        return None

    def all_list_values(self, name: str) -> list[str]:
        """Every language's values of a spec list (a filled report may use either)."""
        for list_name, zh, en in self.lists:
            if list_name == name:
                return [*zh, *(v for v in en if v not in zh)]
        return []


def defined_name(form: FormSpec, key: str, part: str | None = None) -> str:
    """The Excel defined name of a form-style sheet's cell: ``daily_filled_by``,
    ``daily_closure_rate_actual``; a table's body range: ``daily_anomalies``."""
    return f"{form.name}_{key}" + (f"_{part}" if part else "")


def _sheet_form(name: str, data: dict[str, Any]) -> SheetForm:
    """The ``sheet`` layout of spec ``name`` (header, metrics, tables), checked."""

    def bad(what: str) -> ValueError:
        return ValueError(f"{name}.toml: {what}")

    header = tuple(SheetCell(**raw) for raw in data.get("header", ()))
    for c in header:
        if c.type not in SHEET_CELL_TYPES or c.role not in ("input", "computed"):
            raise bad(f"header {c.key}: type {c.type!r} / role {c.role!r}")
    metrics = tuple(MetricSpec(**raw) for raw in data.get("metrics", ()))
    for m in metrics:
        if m.unit not in METRIC_UNITS or m.rule not in METRIC_RULES:
            raise bad(f"metric {m.key}: unit {m.unit!r} / rule {m.rule!r}")
    tables = []
    for raw in data.get("tables", ()):
        raw = dict(raw)
        columns = tuple(ColumnSpec(**c) for c in raw.pop("columns"))
        table = TableSpec(columns=columns, **raw)
        if table.role not in TABLE_ROLES or any(c.type not in TABLE_COLUMN_TYPES for c in columns):
            raise bad(f"table {table.key}: role or column type")
        tables.append(table)
    lists_raw = data.get("lists", {})
    lists = tuple(
        (key, tuple(values), tuple(lists_raw.get(f"{key}_en", values)))
        for key, values in lists_raw.items()
        if not key.endswith("_en")
    )
    form = data["form"]
    widths = tuple(int(w) for w in str(form.get("widths", "")).split(",") if w.strip())
    labels = tuple(
        (k, str(v))
        for k, v in form.items()
        if k not in ("name", "version", "layout", "widths") and not k.startswith(("title", "sheet"))
    )
    return SheetForm(
        widths=widths,
        header=header,
        metric_columns=tuple(
            (c["key"], c["label"], c["label_en"]) for c in data.get("metric_columns", ())
        ),
        metrics=metrics,
        tables=tuple(tables),
        lists=lists,
        labels=labels,
    )


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


#: form name -> spec file stem, where they differ (``daily`` is ``schemas/daily_report.toml``)
SPEC_FILES = {"daily": "daily_report"}


@cache
def load_form(name: str = "record") -> FormSpec:
    """Load and check the spec ``schemas/<name>.toml`` (``daily``: ``daily_report.toml``)."""
    stem = SPEC_FILES.get(name, name)
    try:
        text = resources.files("aftersales_xl.schemas").joinpath(f"{stem}.toml").read_text("utf-8")
    except FileNotFoundError:
        raise KeyError(f"no form spec named {name!r}") from None
    data = tomllib.loads(text)
    form = data["form"]
    if form.get("layout") == "sheet":
        return FormSpec(
            name=str(form["name"]),
            version=str(form["version"]),
            title=str(form["title"]),
            title_en=str(form["title_en"]),
            sheet=str(form["sheet"]),
            sheet_en=str(form["sheet_en"]),
            fields=(),
            layout="sheet",
            sheet_form=_sheet_form(stem, data),
        )
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
