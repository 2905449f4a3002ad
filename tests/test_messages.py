"""The message tables: every module's ``_TEXT`` says each thing in Chinese and English with the
same placeholders, and :func:`messages.localise` is the one lookup (Chinese when a language has
no entry)."""

from __future__ import annotations

import importlib
import pkgutil
from string import Formatter
from typing import Any

import pytest

import aftersales_xl
from aftersales_xl.messages import LANGS, localise


def _tables() -> dict[str, dict[str, Any]]:
    """Module name -> its module-level ``_TEXT`` dict, for every module of the package."""
    found = {}
    for info in pkgutil.walk_packages(aftersales_xl.__path__, "aftersales_xl."):
        table = vars(importlib.import_module(info.name)).get("_TEXT")
        if isinstance(table, dict):
            found[info.name] = table
    return found


def _by_key(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``key -> {lang: text}``; a table written the other way round (``lang -> key -> text``,
    as writing/template.py's sheet texts) is turned round first."""
    if set(table) == set(LANGS):
        keys = [k for lang in LANGS for k in table[lang]]
        return {k: {lang: table[lang][k] for lang in LANGS if k in table[lang]} for k in keys}
    return table


def _placeholders(value: Any) -> set[str]:
    """The ``{names}`` a text fills in (of every text in it, for a list or tuple of texts)."""
    if isinstance(value, str):
        return {name for _, name, _, _ in Formatter().parse(value) if name is not None}
    if isinstance(value, (list, tuple)):
        return set().union(*(_placeholders(v) for v in value))
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values()))
    return set()


TABLES = _tables()
ENTRIES = [
    pytest.param(entry, id=f"{module.removeprefix('aftersales_xl.')}:{key}")
    for module, table in TABLES.items()
    for key, entry in _by_key(table).items()
]


def test_the_tables_are_found():
    """The modules whose texts moved into a table are all seen (the scan is not silently empty)."""
    expected = {
        "cli",
        "ids",
        "workcal",
        "checking.validate",
        "jobs.check",
        "jobs.assign_ids",
        "reading.register",
        "reading.workbook",
        "writing.xlsxpatch",
        "writing.cells",
        "writing.register",
    }
    assert {f"aftersales_xl.{m}" for m in expected} <= set(TABLES)


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_entry_has_both_languages_with_the_same_placeholders(entry):
    assert sorted(entry) == sorted(LANGS)
    assert all(entry[lang] for lang in LANGS)
    assert _placeholders(entry["zh"]) == _placeholders(entry["en"])


TABLE = {
    "greeting": {"zh": "你好，{name}", "en": "hello, {name}"},
    "only-zh": {"zh": "仅中文 {n:,}"},
    "blank-en": {"zh": "中文", "en": ""},
}


def test_localise_picks_the_language_and_fills_in():
    assert localise(TABLE, "greeting", "zh", name="李*") == "你好，李*"
    assert localise(TABLE, "greeting", "en", name="Li*") == "hello, Li*"


def test_localise_falls_back_to_chinese():
    assert localise(TABLE, "greeting", "fr", name="李*") == "你好，李*"
    assert localise(TABLE, "only-zh", "en", n=12345) == "仅中文 12,345"
    assert localise(TABLE, "blank-en", "en") == "中文"


def test_localise_of_a_real_table():
    from aftersales_xl.cli import _TEXT

    assert localise(_TEXT, "no-workbooks", "en") == "no workbooks found in the given paths"
    assert localise(_TEXT, "no-workbooks", "zh") == "没有找到工作簿"
