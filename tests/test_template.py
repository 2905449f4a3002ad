"""The record form template: generated from the spec + policy, read back with openpyxl."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils import get_column_letter

from aftersales_xl.cli import cli
from aftersales_xl.config import load_policy
from aftersales_xl.errors import WriteError
from aftersales_xl.forms import load_form
from aftersales_xl.writing.template import (
    DATETIME_FORMAT,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    MARKER_NAME,
    MARKER_PROPERTY,
    read_marker,
    write_template,
)

COMMITTED = Path(__file__).resolve().parents[1] / "templates" / "record_form.xlsx"
FORM = load_form("record")


@pytest.fixture(scope="module")
def policy():
    return load_policy(search_cwd=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory, policy) -> Path:
    return write_template(tmp_path_factory.mktemp("tpl") / "record_form.xlsx", FORM, policy)


@pytest.fixture(scope="module")
def wb(generated):
    return openpyxl.load_workbook(generated)


def list_values(formula1: str) -> list[str]:
    """'"a,b,c"' → ['a', 'b', 'c']."""
    assert formula1.startswith('"') and formula1.endswith('"'), formula1
    return formula1[1:-1].split(",")


def validations_by_column(ws) -> dict[str, object]:
    """Column letter → the one data validation covering that column's data block."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            assert rng.min_col == rng.max_col, f"one validation per column, got {rng.coord}"
            out[get_column_letter(rng.min_col)] = dv
    return out


def columns(ws) -> dict[str, tuple[float | None, str]]:
    """Column letter → (width, number format), expanding openpyxl's grouped ranges."""
    out = {}
    for dim in ws.column_dimensions.values():
        for idx in range(dim.min, dim.max + 1):
            out[get_column_letter(idx)] = (dim.width, dim.number_format)
    return out


def snapshot(path: Path) -> dict:
    """Everything a person or a reader sees in a template, compared instead of bytes."""
    book = openpyxl.load_workbook(path)
    sheets = {}
    for ws in book.worksheets:
        sheets[ws.title] = {
            "state": ws.sheet_state,
            "cells": {
                c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None
            },
            "header_formats": [(c.number_format, c.font.b) for c in ws[1]],
            "columns": columns(ws),
            "validations": sorted(
                (
                    str(dv.sqref),
                    dv.type,
                    dv.formula1,
                    dv.formula2,
                    dv.promptTitle,
                    dv.prompt,
                    dv.error,
                )
                for dv in ws.data_validations.dataValidation
            ),
            "freeze_panes": ws.freeze_panes,
            "autofilter": ws.auto_filter.ref,
        }
    return {
        "sheets": list(book.sheetnames),
        "content": sheets,
        "defined_names": {n: d.attr_text for n, d in book.defined_names.items()},
        "custom": {p.name: p.value for p in book.custom_doc_props.props},
    }


# -- the record sheet ----------------------------------------------------------------------


def test_record_sheet_headers_are_the_spec_labels_in_order(wb):
    ws = wb[FORM.sheet]
    assert wb.sheetnames[0] == FORM.sheet
    assert [c.value for c in ws[1]] == [f.label for f in FORM.fields]
    assert all(c.font.b for c in ws[1])
    assert all(c.fill.fgColor.rgb not in (None, "00000000") for c in ws[1])
    assert all(c.alignment.wrap_text for c in ws[1])


def test_record_sheet_has_no_data_rows(wb):
    ws = wb[FORM.sheet]
    assert ws.max_row == 1
    assert all(c.value is None for row in ws.iter_rows(min_row=2, max_row=1001) for c in row)


def test_header_row_frozen_and_filtered(wb):
    ws = wb[FORM.sheet]
    last = get_column_letter(len(FORM.fields))
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{last}1"


def test_drop_downs_hold_exactly_the_policy_values(wb, policy):
    dvs = validations_by_column(wb[FORM.sheet])
    list_fields = [(i, f) for i, f in enumerate(FORM.fields, 1) if f.type == "list"]
    assert [f.key for _, f in list_fields] == ["channel", "problem_type", "severity", "status"]
    for idx, field in list_fields:
        letter = get_column_letter(idx)
        dv = dvs[letter]
        assert dv.type == "list"
        assert str(dv.sqref) == f"{letter}2:{letter}1001"
        assert list_values(dv.formula1) == policy.allowed(field.list)
        assert dv.showErrorMessage and dv.errorStyle in (None, "stop")
        assert all(v in dv.error for v in policy.allowed(field.list))  # error names allowed values


def test_rating_is_a_whole_number_from_1_to_5(wb):
    dvs = validations_by_column(wb[FORM.sheet])
    letter = get_column_letter(FORM.keys.index("satisfaction") + 1)
    dv = dvs[letter]
    assert (dv.type, dv.formula1, dv.formula2) == ("whole", "1", "5")
    assert dv.operator in (None, "between")  # "between" is the OOXML default
    assert str(dv.sqref) == f"{letter}2:{letter}1001"


def test_every_column_with_help_shows_it_as_input_message(wb):
    dvs = validations_by_column(wb[FORM.sheet])
    for idx, field in enumerate(FORM.fields, 1):
        dv = dvs.get(get_column_letter(idx))
        if not field.help:
            assert dv is None
            continue
        assert dv.showInputMessage
        assert (dv.promptTitle, dv.prompt) == (field.label, field.help)
    assert dvs["C"].prompt.count("张*") == 1  # 联系人: masked example
    assert "****5678" in dvs["D"].prompt  # 联系方式: masked example


def test_widths_and_number_formats_follow_the_spec(wb):
    cols = columns(wb[FORM.sheet])
    fmt = {f.key: cols[get_column_letter(i)] for i, f in enumerate(FORM.fields, 1)}
    for i, field in enumerate(FORM.fields, 1):
        width, _ = cols[get_column_letter(i)]
        assert int(width) == field.width, field.key
    assert {k for k, (_, nf) in fmt.items() if nf == DATETIME_FORMAT} == {
        "occurred_at",
        "received_at",
        "due_at",
        "resolved_at",
    }
    assert fmt["record_id"][1] == "@"
    assert fmt["contact"][1] == "@"
    assert fmt["description"][1] == "General"


# -- instructions and marker -------------------------------------------------------------


def test_instructions_sheet_lists_every_field_values_and_one_example(wb, policy):
    ws = wb[INSTRUCTIONS_SHEET["zh"]]
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    for field in FORM.fields:
        assert field.label in values
    for name in ("channel", "problem_type", "severity", "status"):
        assert " / ".join(policy.allowed(name)) in values
    example_rows = [r for r in ws.iter_rows() if r[0].value == FORM.field("record_id").example]
    assert len(example_rows) == 1
    row = example_rows[0]
    assert row[FORM.keys.index("channel")].value == "电话"
    assert row[FORM.keys.index("satisfaction")].value == 5
    assert str(row[FORM.keys.index("occurred_at")].value) == "2024-05-21 09:10:00"


def test_marker_readable_cheaply_and_via_openpyxl(generated, wb):
    assert read_marker(generated) == "aftersales-xl:record:1" == FORM.marker
    assert {p.name: p.value for p in wb.custom_doc_props.props} == {MARKER_PROPERTY: FORM.marker}
    assert wb.defined_names[MARKER_NAME].attr_text == f'"{FORM.marker}"'


def test_marker_falls_back_to_the_defined_name(generated, tmp_path):
    stripped = tmp_path / "no_custom_props.xlsx"
    book = openpyxl.load_workbook(generated)
    book.custom_doc_props.props.clear()
    book.save(stripped)
    assert read_marker(stripped) == FORM.marker


def test_read_marker_of_foreign_files_is_none(tmp_path):
    plain = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(plain)
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip at all")
    assert read_marker(plain) is None
    assert read_marker(junk) is None
    assert read_marker(tmp_path / "missing.xlsx") is None


# -- THE KEY TEST: the committed template is what the spec generates now ---------------------


def test_committed_template_matches_the_spec(generated):
    assert COMMITTED.is_file(), "run: xlcheck template record -o templates/record_form.xlsx"
    assert snapshot(COMMITTED) == snapshot(generated), (
        "templates/record_form.xlsx is stale; regenerate it with "
        "`xlcheck template record -o templates/record_form.xlsx --force`"
    )


# -- policy, language, writing -----------------------------------------------------------


def test_custom_policy_list_shows_in_the_drop_down(tmp_path):
    cfg = tmp_path / "xlcheck.toml"
    cfg.write_text('[lists]\nchannel = ["电话", "微信群", "其他"]\n', "utf-8")
    out = write_template(tmp_path / "t.xlsx", FORM, load_policy(cfg))
    dvs = validations_by_column(openpyxl.load_workbook(out)[FORM.sheet])
    assert list_values(dvs["E"].formula1) == ["电话", "微信群", "其他"]


def test_list_too_long_or_with_commas_uses_a_hidden_range(tmp_path):
    long_values = [f"很长的渠道名称第{i}号，含逗号" for i in range(30)]
    cfg = tmp_path / "xlcheck.toml"
    cfg.write_text(
        "[lists]\nchannel = [" + ", ".join(f'"{v}"' for v in long_values) + "]\n", "utf-8"
    )
    out = write_template(tmp_path / "t.xlsx", FORM, load_policy(cfg))
    book = openpyxl.load_workbook(out)
    dv = validations_by_column(book[FORM.sheet])["E"]
    assert dv.type == "list"
    assert dv.formula1 == f"'{LISTS_SHEET}'!$A$1:$A$30"
    hidden = book[LISTS_SHEET]
    assert hidden.sheet_state == "hidden"
    assert [c.value for c in hidden["A"]] == long_values
    assert len(dv.error) <= 255


def test_english_template(tmp_path, policy):
    out = write_template(tmp_path / "en.xlsx", FORM, policy, lang="en")
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [FORM.sheet_en, INSTRUCTIONS_SHEET["en"]]
    ws = book[FORM.sheet_en]
    assert [c.value for c in ws[1]] == [f.label_en for f in FORM.fields]
    assert validations_by_column(ws)["A"].prompt == FORM.field("record_id").help_en
    assert read_marker(out) == FORM.marker


def test_refuses_to_overwrite_without_permission(tmp_path, policy):
    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"precious")
    with pytest.raises(WriteError, match="--force"):
        write_template(target, FORM, policy, overwrite=False)
    assert target.read_bytes() == b"precious"
    write_template(target, FORM, policy, overwrite=True)
    assert read_marker(target) == FORM.marker
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.xlsx"]  # no temp file left


def test_failed_build_keeps_the_existing_file_and_no_temp_file(tmp_path, policy, monkeypatch):
    target = write_template(tmp_path / "form.xlsx", FORM, policy)
    before = target.read_bytes()

    def crash(tmp, *args):
        Path(tmp).write_bytes(b"PK half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("aftersales_xl.writing.template._build", crash)
    with pytest.raises(WriteError, match="No space left"):
        write_template(target, FORM, policy)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["form.xlsx"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_template_is_readable_by_the_group_per_umask(tmp_path, policy):
    old = os.umask(0o022)
    try:
        out = write_template(tmp_path / "form.xlsx", FORM, policy)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's owner-only 0o600


def test_rejects_a_non_xlsx_name(tmp_path, policy):
    with pytest.raises(WriteError, match=r"\.xlsx"):
        write_template(tmp_path / "form.xls", FORM, policy)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_overwrite_without_force(tmp_path):
    target = tmp_path / "form.xlsx"
    target.write_bytes(b"precious")
    runner = CliRunner()
    result = runner.invoke(cli, ["template", "record", "-o", str(target)])
    assert result.exit_code == 2
    assert "--force" in result.stderr and result.stdout == ""
    assert target.read_bytes() == b"precious"

    result = runner.invoke(
        cli, ["template", "record", "-o", str(target), "--force", "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert str(target) in result.stdout
    assert openpyxl.load_workbook(target).sheetnames[0] == FORM.sheet_en


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_libreoffice_opens_it_and_keeps_the_marker(generated, tmp_path):
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path / "out"),
            str(generated),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    resaved = tmp_path / "out" / generated.name
    assert read_marker(resaved) == FORM.marker
    ws = openpyxl.load_workbook(resaved)[FORM.sheet]
    assert [c.value for c in ws[1]] == [f.label for f in FORM.fields]
    assert len(validations_by_column(ws)) == len(
        validations_by_column(openpyxl.load_workbook(generated)[FORM.sheet])
    )
