"""Message catalogue: one sentence per finding code, Chinese by default, English with ``--lang en``.

Each message says what is wrong and how to fix it. Values echoed into a message are
passed through :func:`aftersales_xl.pii.redact` first, so no phone number, email or
ID-card number from the input can reach a report.

Other texts (errors, notes, labels) stay beside the code that says them, in that module's
``_TEXT`` table (key -> ``{"zh": ..., "en": ...}``), and are looked up with :func:`localise`:
the zh/en choice is made in one place, never inline.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .pii import redact

LANGS = ("zh", "en")

CATALOGUE: dict[str, dict[str, str]] = {
    "missing-column": {
        "zh": "缺少必需的列“{label}”：请按模板补上这一列的表头",
        "en": 'required column "{label}" is missing: add it with the template\'s header',
    },
    "unknown-column": {
        "zh": "表头“{label}”不是本表单的字段，已忽略：如是笔误请改为模板中的名称",
        "en": 'header "{label}" is not a field of this form and was ignored: rename it if it is a typo',
    },
    "duplicate-column": {
        "zh": "表头“{label}”与 {first_col} 列“{first}”是同一个字段，只读取了 {first_col} 列，本列未校验：请合并为一列",
        "en": 'header "{label}" is the same field as column {first_col} "{first}"; only column {first_col} was read and this one was not checked: merge them into one',
    },
    "required-value": {
        "zh": "必填，不能为空{why}",
        "en": "is required and is blank{why}",
    },
    "not-in-list": {
        "zh": "“{value}”不在可选值 {allowed} 中：请从下拉列表选择",
        "en": '"{value}" is not one of {allowed}: pick a value from the drop-down',
    },
    "bad-format": {
        "zh": "“{value}”格式不对：{expected}",
        "en": '"{value}" has the wrong format: {expected}',
    },
    "bad-date": {
        "zh": "“{value}”不是有效的日期时间：请写成 2024-05-21 14:30 或使用 Excel 日期",
        "en": '"{value}" is not a valid date and time: write it as 2024-05-21 14:30 or use an Excel date',
    },
    "out-of-range": {
        "zh": "“{value}”超出范围：{expected}",
        "en": '"{value}" is out of range: {expected}',
    },
    "duplicate-id": {
        "zh": "问题编号“{value}”与第 {other} 行重复：每个问题编号只能用一次，请清空后由合并重新编号",
        "en": 'record ID "{value}" repeats row {other}: each ID is used once; clear it and let merge assign one',
    },
    "unmasked-contact": {
        "zh": "{what}未脱敏：{fix}（可运行 xlcheck mask 自动处理）",
        "en": "{what} is not masked: {fix} (xlcheck mask does this for you)",
    },
    "pii-in-text": {
        "zh": "文字中含有{what}：请删除或脱敏（可运行 xlcheck mask 自动处理）",
        "en": "the text contains {what}: remove or mask it (xlcheck mask does this for you)",
    },
    "time-order": {
        "zh": "{this}（{value}）早于{other}（{other_value}）：请核对两个时间",
        "en": "{this} ({value}) is earlier than {other} ({other_value}): check both times",
    },
    "status-inconsistent": {
        "zh": "{detail}",
        "en": "{detail}",
    },
    "sla-breach": {
        "zh": "{kind}超时：{priority} 目标 {target}，实际 {actual}",
        "en": "{kind} missed its target: {priority} target {target}, took {actual}",
    },
    "unreadable": {
        "zh": "无法读取：{detail}",
        "en": "cannot be read: {detail}",
    },
    "hidden-data": {
        "zh": "{detail}",
        "en": "{detail}",
    },
    "formula-no-value": {
        "zh": "是公式但没有保存计算结果：请在 Excel 中打开、重新计算并保存，或改为直接填写数值",
        "en": "is a formula with no saved result: open it in Excel, recalculate and save, or type the value",
    },
    "error-value": {
        "zh": "显示错误值 {value}，读不出内容：请改正公式或直接填写数值",
        "en": "shows the error {value}, so it has no value: fix the formula or type the value",
    },
    "conflict": {
        "zh": "{detail}",
        "en": "{detail}",
    },
    "late-report": {
        "zh": "填写时间 {value} 晚于截止时间 {deadline}（报表日期次日 09:00）：日报须在截止前填写",
        "en": "filled in at {value}, after the deadline {deadline} (09:00 the day after the report date): fill the report in before the deadline",
    },
}


def localise(table: Mapping[str, Mapping[str, str]], key: str, lang: str, **params: Any) -> str:
    """The text ``table[key]`` in ``lang``, filled in with ``params`` (``str.format``).

    ``table`` is a module's ``_TEXT``: message key -> ``{"zh": ..., "en": ...}``. A language the
    entry does not have (or has empty) falls back to Chinese, the staff's language. The one
    lookup every module's own table goes through, so no module chooses a language inline.
    """
    entry = table[key]
    return (entry.get(lang) or entry["zh"]).format(**params)


def place(sheet: str | None, cell: str | None, column: str | None) -> str:
    """``问题记录表!J6 严重程度: `` — the prefix that names where a finding is."""
    parts = []
    if sheet and cell:
        parts.append(f"{sheet}!{cell}")
    elif sheet:
        parts.append(sheet)
    if column:
        parts.append(column)
    return (" ".join(parts) + ": ") if parts else ""


def message(
    code: str, lang: str = "zh", *, sheet=None, cell=None, column=None, **params: Any
) -> str:
    templates = CATALOGUE[code]
    template = templates.get(lang) or templates["zh"]
    safe = {
        k: (_redacted(v) if len(v) <= 200 else redact(v)) if isinstance(v, str) else v
        for k, v in params.items()
    }
    return place(sheet, cell, column) + template.format_map(_Blank(safe))


#: :func:`redact` remembered for the texts a run repeats in thousands of messages (the
#: expected format, the allowed values, the fix), each of which it would scan again
_redacted = lru_cache(maxsize=4096)(redact)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def shorten(value: Any, limit: int = 40) -> str:
    """A cell value as echoed in a message: one line, at most ``limit`` characters, redacted."""
    text = redact(" ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
