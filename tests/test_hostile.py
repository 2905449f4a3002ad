"""Every command on every hostile case, each run a child process under resource limits.

The corpus is built by ``tests/hostile/make_corpus.py`` into a temporary folder; each command
(validate text/json/--annotate, mask -o, assign-ids -o, merge) runs on each case *together
with a clean companion file* as ``python -m aftersales_xl.cli`` under ``RLIMIT_AS`` and a 60 s
wall timeout, with its peak memory from ``ru_maxrss``. Every run must: read the file (exit
0/1) or refuse it (exit 2) with one line naming it and saying what to do, as the case expects;
print no traceback; still process the companion; stay within 500 MB (time is recorded, and
only a generous bound is asserted: no tight timings in tests); and leave no planted raw value
(phone, email, ID-card number, name) in its output, any produced file's name or any XML part
of any produced workbook; no produced workbook holds a formula made from input text or a live
link from URL-like text. The figures are printed at the end (``pytest -s``) and quoted in the
README's "Reliability" section.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile.make_corpus import BUILDERS, build_corpus  # noqa: E402
from hostile.runner import BUDGET_MB, COMMANDS, figures, run_matrix  # noqa: E402

CASES = [b.__name__ for b in BUILDERS]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> dict[tuple[str, str], object]:
    work = tmp_path_factory.mktemp("hostile")
    corpus = build_corpus(work / "corpus")
    runs = run_matrix(corpus, work / "runs")
    print("\n" + figures(runs))
    return {(r.case.name, r.command): r for r in runs}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_every_command_on_every_case(matrix, case: str, command: str) -> None:
    run = matrix[(case, command)]
    assert run.problems == [], (run.rc, run.stdout[-2000:], run.stderr[-2000:])
    assert run.max_rss_mb <= BUDGET_MB


def test_refusals_are_the_same_for_every_reading_command(matrix) -> None:
    """A file validate calls unreadable is unreadable for every command, and the other way
    round (a copy that cannot be written is not a file that could not be read)."""
    mixed = []
    for case in CASES:
        json_run = matrix[(case, "validate-json")]
        if json_run.case.expect != "either":
            continue
        outcomes = {
            cmd: matrix[(case, cmd)].outcome for cmd in ("validate", "validate-json", "merge")
        }
        if len(set(outcomes.values())) > 1:
            mixed.append((case, outcomes))
    assert mixed == []


# -- the same refusals in-process, one case at a time (fast, precise reasons) ------------------
GATE_REASONS = {
    "entity_workbook": "unsafe-xml",
    "entity_sheet": "unsafe-xml",
    "entity_core": "unsafe-xml",
    "entity_styles_utf16": "unsafe-xml",
    "entity_unlisted_part": "unsafe-xml",
    "zip_bomb": "too-big",
    "lying_sizes": "truncated",
    "many_parts": "too-big",
    "truncated": "truncated",
    "renamed_csv": "not-a-workbook",
    "renamed_html": "not-a-workbook",
    "encrypted": "encrypted",
    "empty": "empty",
    "not_a_workbook_zip": "not-a-workbook",
    "implicit_wide_tall": "too-many-cells",
    "implicit_cells_numbered_rows": "too-many-cells",
    "far_row": "too-many-cells",
    "merged_200k": "too-many-cells",
    "formatted_rows_to_limit": "too-many-cells",
    "control_raw_bytes": "truncated",
    "nan_number": "truncated",
    "fifo": "cannot-open",
}


@pytest.mark.parametrize("name", sorted(GATE_REASONS))
def test_the_safety_gate_refuses_with_its_reason(tmp_path: Path, name: str, policy) -> None:
    from aftersales_xl.errors import UnreadableError
    from aftersales_xl.reading.safety import inspect

    [case] = build_corpus(tmp_path, only=[name])
    with pytest.raises(UnreadableError) as refused:
        inspect(case.path, policy.limits)
    assert refused.value.reason == GATE_REASONS[name]
    message = str(refused.value)
    assert message.count("\n") == 0 and message.startswith(case.path.name)
    assert "：请" in message or "：" in message


def test_a_fifo_is_named_for_what_it_is(tmp_path: Path, form, policy) -> None:
    from aftersales_xl.errors import UnreadableError
    from aftersales_xl.reading.workbook import read_form

    [case] = build_corpus(tmp_path, only=["fifo"])
    with pytest.raises(UnreadableError, match="命名管道（FIFO）"):
        read_form(case.path, form, policy)
    with pytest.raises(UnreadableError, match=r"a named pipe \(FIFO\)"):
        read_form(case.path, form, policy, lang="en")


def test_small_sheets_without_r_attributes_still_read(tmp_path: Path, form, policy) -> None:
    from aftersales_xl.reading.workbook import read_form

    [case] = build_corpus(tmp_path, only=["implicit_positions_small"])
    sheet, _findings = read_form(case.path, form, policy)
    assert list(sheet.frame.index) == [2, 3]


def test_masked_copy_names_and_properties(tmp_path: Path) -> None:
    import zipfile

    from aftersales_xl.writing.xlsxpatch import copy_name, scrubbed_properties

    # ＊, not *: a copy's name must be a valid Windows file name too
    assert copy_name(Path("13800138000.xlsx")) == "＊＊＊＊8000.xlsx"
    assert "zhang.san" not in copy_name(Path("zhang.san@example.com.xlsx"))
    assert copy_name(Path("周报.xlsx")) == "周报.xlsx"
    [case] = build_corpus(tmp_path, only=["pii_everywhere"])
    parts = scrubbed_properties(case.path)
    assert set(parts) == {"docProps/core.xml", "docProps/app.xml", "docProps/custom.xml"}
    with zipfile.ZipFile(case.path) as z:
        assert b"13800138000" in z.read("docProps/app.xml")
    for data in parts.values():
        for raw in (b"13800138000", b"13912345678", b"zhang.san", "欧阳锋".encode()):
            assert raw not in data


def test_no_message_quotes_none_for_a_cell_of_spaces(tmp_path: Path, form, policy) -> None:
    """A date or rating cell holding only spaces shows nothing: it is blank (required-value
    where the field is required), never a bad date quoting “None”; a bad date quotes the text."""
    from datetime import datetime

    from hostile.make_corpus import HEADERS, raw_xlsx, record, row_xml

    from aftersales_xl.checking.validate import check_file

    rows = row_xml(1, HEADERS) + row_xml(
        2, record(1, 问题发生时间="   ", 客户满意度="  ", 接收时间="2024-02-30 10:00")
    )
    path = raw_xlsx(tmp_path / "spaces.xlsx", rows=rows)
    report = check_file(path, form, policy, now=datetime(2024, 6, 1)).report
    found = [(f.cell, f.code) for f in report.findings if f.cell in ("F2", "L2", "R2")]
    assert found == [("F2", "required-value"), ("L2", "bad-date")]
    assert all("None" not in f.message for f in report.findings)
    assert "“2024-02-30 10:00”" in next(f.message for f in report.findings if f.cell == "L2")
