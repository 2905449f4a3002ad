"""Reading a workbook begun early (aftersales_xl.reading.opening), as ``xlcheck validate`` does for its
first file: read_form gives what it gives without the hand-off, a refused file is refused the
same way, and a reading nobody takes leaves no file open."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from builders import record_row, record_rows, write_record_xlsx
from click.testing import CliRunner

from aftersales_xl.cli import cli
from aftersales_xl.errors import UnreadableError
from aftersales_xl.reading import opening
from aftersales_xl.reading.workbook import read_form

needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")


def is_open(path: Path) -> bool:
    """Whether this process holds ``path`` open (Linux)."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the descriptor listing the folder, already gone
            held.add(os.readlink(fd))
    return str(path.resolve()) in held


@pytest.fixture
def opened(monkeypatch) -> list[Path]:
    """The files python-calamine was started on, in order."""
    calls: list[Path] = []
    real = opening._open_first_sheet

    def counting(path, *args):
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(opening, "_open_first_sheet", counting)
    return calls


def untidy_workbook(tmp_path: Path) -> Path:
    """Title rows, a hidden row with data, a hidden extra sheet, a wrong value and a phone in
    an unknown column: every part of what read_form returns has something in it."""
    import openpyxl

    rows = [*record_rows(3), record_row(severity="P5", channel="飞鸽")]
    path = write_record_xlsx(
        tmp_path / "untidy.xlsx",
        rows,
        title_rows=2,
        hidden_rows=[1],
        extra_sheets={"旧记录": [["问题编号"], ["FW20240101001"]]},
    )
    wb = openpyxl.load_workbook(path)
    wb["旧记录"].sheet_state = "hidden"
    ws = wb["问题记录表"]
    ws.cell(row=3, column=ws.max_column + 1, value="备用电话")
    ws.cell(row=4, column=ws.max_column, value="13812345678")
    wb.save(path)
    return path


def test_read_form_with_a_reading_handed_over_equals_read_form_alone(
    tmp_path, form, policy, opened
):
    path = untidy_workbook(tmp_path)
    alone, alone_findings = read_form(path, form, policy)
    with opening.start(path, form, policy.limits, "zh") as early:
        handed, handed_findings = read_form(path, form, policy, reading=early)
    # the early reading was used: python-calamine opened the file once for each read_form
    assert opened == [path, path]
    assert handed_findings == alone_findings
    assert [(f.sheet, f.cell, f.code) for f in alone_findings] == [
        ("问题记录表", "V3", "unknown-column"),
        ("问题记录表", "V4", "pii-in-text"),
        ("问题记录表", "A5", "hidden-data"),
        ("旧记录", None, "hidden-data"),
    ]
    pd.testing.assert_frame_equal(handed.frame, alone.frame)
    for attr in ("kind", "sheet", "part", "header_row", "columns", "labels", "inspection"):
        assert getattr(handed, attr) == getattr(alone, attr), attr
    assert handed.hidden_rows == alone.hidden_rows and alone.hidden_rows
    a, h = alone.cell_codes, handed.cell_codes
    assert (h.keys, h.values) == (a.keys, a.values) and (h.codes == a.codes).all()


def test_a_reading_for_other_settings_is_not_used(make_workbook, form, policy, opened):
    path = make_workbook()
    with opening.start(path, form, policy.limits, "zh") as early:
        # another language: its own reading
        sheet, _ = read_form(path, form, policy, lang="en", reading=early)
        assert len(sheet.frame) == 3 and opened == [path, path]
        assert not opening.fits(early, path, form, policy.limits, "en")
        assert opening.fits(early, path, form, policy.limits, "zh")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: d / "gone.xlsx", id="missing"),
        pytest.param(lambda d: d, id="a folder"),
        pytest.param(lambda d: (d / "notes.xlsx").write_text("not a workbook") and d / "notes.xlsx",
                     id="not a workbook"),
    ],
)  # fmt: skip
def test_a_refused_file_is_refused_the_same_way_through_a_hand_off(
    tmp_path, form, policy, opened, make
):
    path = make(tmp_path)
    with pytest.raises(UnreadableError) as alone:
        read_form(path, form, policy, lang="en")
    with (
        opening.start(path, form, policy.limits, "en") as early,
        pytest.raises(UnreadableError) as handed,
    ):
        read_form(path, form, policy, lang="en", reading=early)
    assert (handed.value.reason, str(handed.value)) == (alone.value.reason, str(alone.value))
    assert opened == []  # refused by the safety scan's first step: python-calamine never ran


@needs_proc
def test_a_reading_nobody_takes_leaves_no_file_open(make_workbook, form, policy):
    path = make_workbook()
    with opening.start(path, form, policy.limits, "zh") as early:
        early._parse.result()  # python-calamine has the file open now
        assert is_open(path)
    assert not is_open(path)


@needs_proc
def test_the_cli_closes_its_early_reading_when_validation_fails(make_workbook, monkeypatch):
    import aftersales_xl.jobs.check as validate_module

    path = make_workbook()

    def boom(*_a, **_k):
        raise RuntimeError("surprise")

    monkeypatch.setattr(validate_module, "check_file", boom)
    res = CliRunner().invoke(cli, ["validate", str(path)])
    assert res.exit_code == 2 and "--debug" in res.stdout
    assert not is_open(path)


def test_the_cli_reports_an_unreadable_first_file_and_checks_the_rest(make_workbook, tmp_path):
    good = make_workbook(record_rows(2))
    res = CliRunner().invoke(
        cli,
        ["validate", str(tmp_path / "gone.xlsx"), str(good), "--format", "json", "--lang", "en"],
    )
    assert res.exit_code == 2, res.output

    files = json.loads(res.stdout)["files"]
    assert files[0]["findings"][0]["code"] == "unreadable"
    assert "file not found" in files[0]["findings"][0]["message"]
    assert files[1]["rows"] == 2 and files[1]["findings"] == []
