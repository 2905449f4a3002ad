"""The README and --help stay true to the code: every command documented, generated sections in sync."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aftersales_xl.cli import cli
from aftersales_xl.config import load_policy
from aftersales_xl.forms import field_table_markdown, load_form
from aftersales_xl.reading.register import HISTORY_SHEET, REGISTER_SHEET, REJECTED_SHEET
from aftersales_xl.sla import figures_doc

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += commands(cmd, f"{prefix}{name} ")
        else:
            out.append((f"{prefix}{name}", cmd))
    return out


@pytest.mark.parametrize("name", [n for n, _ in commands(cli)])
def test_every_command_has_help_with_an_example_and_is_in_the_readme(name):
    res = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert res.exit_code == 0
    assert "Example:" in res.output, f"xlcheck {name} --help has no example"
    assert f"xlcheck {name}" in README, f"README does not document xlcheck {name}"


def test_readme_opens_with_the_two_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    main_job, tests = blocks[0].strip(), blocks[1].strip()
    assert (
        main_job.startswith("python3 -m venv .venv")
        and "xlcheck merge sample_workbooks/" in main_job
    )
    assert tests.startswith("python3 -m venv .venv") and tests.endswith(".venv/bin/pytest -q")
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "pytest" in ci


def section(name: str) -> str:
    m = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", README, flags=re.S)
    assert m, f"README lacks the {name} section"
    return m.group(1)


def test_readme_field_table_is_generated_from_the_spec():
    policy = load_policy(search_cwd=False)
    assert section("field-table") == field_table_markdown(load_form(), policy)


def test_readme_explains_figures_exactly_as_the_code_documents_them():
    assert section("figures-doc").strip() == figures_doc().strip()


def test_readme_lists_every_register_sheet_and_finding_code():
    from aftersales_xl.findings import CODES

    for sheet in (
        REGISTER_SHEET,
        "概览",
        "分类统计",
        "负责人统计",
        "高频问题",
        "周趋势",
        "未结账龄",
        "满意度跟进",
        REJECTED_SHEET,
        HISTORY_SHEET,
    ):
        assert f"| `{sheet}` |" in README
    for code in CODES:
        assert f"| `{code}` |" in README, code
