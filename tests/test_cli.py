"""The CLI contract of every command, through click's CliRunner: exit codes 0 / 1 / 2, what goes
to stdout (the report) and what to stderr (one-line errors), ``--format json`` equal to the
library's own dict, ``--lang en``, bad usage and missing files.

The installed click (8.2+) keeps stderr apart in every result: ``result.stdout`` is stdout only,
``result.stderr`` stderr only (``mix_stderr`` is gone).
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from builders import record_row, record_rows, write_record_xlsx
from click.testing import CliRunner

from aftersales_xl.cli import cli
from aftersales_xl.config import policy_to_toml
from aftersales_xl.jobs.check import validate_paths
from aftersales_xl.jobs.merge import merge

PHONE, EMAIL, ID_CARD = "13912345678", "wang.wu@example.com", "11010519491231002X"


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def lines(text: str) -> list[str]:
    return text.splitlines()


def usage_error(result) -> str:
    """The one ``Error:`` line of a click usage error (on stderr, nothing on stdout)."""
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in lines(result.stderr) if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def one_line_error(result) -> str:
    """The one line an XlcheckError becomes: exit 2, ``xlcheck: …`` on stderr."""
    assert result.exit_code == 2, result.output
    (line,) = lines(result.stderr)
    assert line.startswith("xlcheck: ") and "Traceback" not in line
    return line


@pytest.fixture
def books(tmp_path: Path) -> dict[str, Path]:
    """A clean workbook, one with a warning only, one with an error, and a file that is no
    workbook, each in its own file."""
    folder = tmp_path / "in"
    folder.mkdir()
    out = {
        "good": write_record_xlsx(folder / "good.xlsx", record_rows(2)),
        "warn": write_record_xlsx(folder / "warn.xlsx", [record_row(analysis=None)]),
        "bad": write_record_xlsx(folder / "bad.xlsx", [record_row(severity="P5")]),
    }
    junk = folder / "junk.xlsx"
    junk.write_text("问题编号,客户\nFW1,a\n", encoding="utf-8")
    out["junk"] = junk
    return out


# -- validate -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("names", "code"),
    [
        pytest.param(["good"], 0, id="clean"),
        pytest.param(["good", "warn"], 0, id="warnings-allowed"),
        pytest.param(["good", "bad"], 1, id="error-finding"),
        pytest.param(["bad", "junk"], 2, id="unreadable-beats-errors"),
    ],
)
def test_validate_exit_codes_report_on_stdout_only(books, names, code):
    result = run("validate", *(books[n] for n in names))
    assert result.exit_code == code
    assert result.stderr == ""
    assert lines(result.stdout)[0].startswith(f"{books[names[0]]}: ")
    assert lines(result.stdout)[-1].startswith(f"共 {len(names)} 个文件：")


def test_validate_text_lines(books):
    result = run("validate", books["good"], books["bad"])
    assert lines(result.stdout) == [
        f"{books['good']}: 通过 (2 条记录)",
        f"{books['bad']}: 未通过 (1 条记录, 1 错误, 0 警告)",
        "  [错误] 问题记录表!J2 严重程度: “P5”不在可选值 P0/P1/P2/P3 中：请从下拉列表选择  (not-in-list)",
        "共 2 个文件：1 个通过，1 个错误，0 个警告",
    ]


def test_validate_lang_en(books):
    result = run("validate", books["bad"], "--lang", "en")
    assert result.exit_code == 1
    assert lines(result.stdout) == [
        f"{books['bad']}: FAILED (1 records, 1 errors, 0 warnings)",
        '  [error] 问题记录表!J2 Severity: "P5" is not one of P0/P1/P2/P3: pick a value from the '
        "drop-down  (not-in-list)",
        "1 file: 0 valid, 1 error, 0 warnings",
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_validate_json_is_the_library_report(books, form, policy, lang):
    paths = [books["good"], books["warn"], books["bad"], books["junk"]]
    result = run("validate", *paths, "--format", "json", "--lang", lang)
    assert result.exit_code == 2 and result.stderr == ""
    doc = json.loads(result.stdout)
    # every record is resolved, so the clock cannot change a finding
    lib = validate_paths(paths, form, policy, lang=lang, now=datetime(2024, 6, 1)).to_dict()
    assert doc == lib
    assert [(f["path"], f["valid"]) for f in doc["files"]] == [
        (str(books["good"]), True),
        (str(books["warn"]), True),
        (str(books["bad"]), False),
        (str(books["junk"]), False),
    ]


def test_validate_folder_argument(books):
    result = run("validate", books["good"].parent, "--format", "json")
    names = [Path(f["path"]).name for f in json.loads(result.stdout)["files"]]
    assert names == ["bad.xlsx", "good.xlsx", "junk.xlsx", "warn.xlsx"]


def test_validate_missing_file_is_exit_2_and_named(tmp_path, books):
    missing = tmp_path / "nope.xlsx"
    result = run("validate", missing, books["good"])
    assert result.exit_code == 2 and result.stderr == ""
    assert lines(result.stdout)[:2] == [
        f"{missing}: 无法读取",
        f"  [错误] 无法读取：{missing}: 找不到文件：请检查路径和文件名  (unreadable)",
    ]
    assert lines(result.stdout)[2] == f"{books['good']}: 通过 (2 条记录)"  # the run went on


def test_validate_an_empty_folder_is_bad_usage(tmp_path):
    (tmp_path / "empty").mkdir()
    assert usage_error(run("validate", tmp_path / "empty")) == (
        "Error: no workbooks found in the given paths"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["validate"], "Missing argument", id="no-paths"),
        pytest.param(["validate", "x.xlsx", "--format", "xml"], "'--format'", id="bad-format"),
        pytest.param(["validate", "x.xlsx", "--lang", "fr"], "'--lang'", id="bad-lang"),
        pytest.param(["validate", "x.xlsx", "--nope"], "--nope", id="unknown-option"),
        pytest.param(["merge", "x.xlsx"], "'--register'", id="merge-without-register"),
        pytest.param(
            ["merge", "x.xlsx", "--register", "r.xlsx", "--keep", "-1"], "--keep", id="bad-keep"
        ),
        pytest.param(["template", "weekly"], "FORM", id="unknown-form"),
        pytest.param(["bogus"], "No such command 'bogus'", id="unknown-command"),
    ],
)
def test_bad_usage_is_exit_2_with_one_error_line(args, says):
    assert says in usage_error(run(*args))


# -- a bad --config -------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["config", "show"], ["validate", "x.xlsx"], ["template"]])
def test_a_bad_config_file_is_one_line_naming_the_key(tmp_path, command):
    config = tmp_path / "bad.toml"
    config.write_text("[lists]\nseverity = 5\n", encoding="utf-8")
    result = run(*command, "--config", config)
    line = one_line_error(result)
    assert str(config) in line and "lists.severity" in line and result.stdout == ""


def test_a_missing_config_file_is_exit_2_naming_it(tmp_path):
    missing = tmp_path / "nope.toml"
    line = one_line_error(run("config", "show", "--config", missing))
    assert line == f"xlcheck: {missing}: 找不到配置文件：请检查路径和文件名"


def test_config_show_prints_the_policy_as_toml(tmp_path, policy, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./xlcheck.toml: the built-in defaults
    result = run("config", "show")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == policy_to_toml(policy)
    assert tomllib.loads(result.stdout)["lists"]["severity"] == ["P0", "P1", "P2", "P3"]
    config = tmp_path / "x.toml"
    config.write_text('[lists]\nseverity = ["S1", "S2"]\n', encoding="utf-8")
    shown = tomllib.loads(run("config", "show", "--config", config).stdout)
    assert shown["lists"]["severity"] == ["S1", "S2"]


# -- template ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "said", "sheets"),
    [
        ("zh", "已生成模板：{}", ["问题记录表", "填写说明"]),
        ("en", "Template written: {}", ["Records", "Instructions"]),
    ],
)
def test_template_writes_once_and_refuses_to_overwrite(tmp_path, lang, said, sheets):
    out = tmp_path / "form.xlsx"
    result = run("template", "record", "-o", out, "--lang", lang)
    assert (result.exit_code, result.stdout, result.stderr) == (0, said.format(out) + "\n", "")
    assert openpyxl.load_workbook(out).sheetnames == sheets
    before = out.read_bytes()
    line = one_line_error(run("template", "-o", out, "--lang", lang))
    assert str(out) in line and "--force" in line
    assert out.read_bytes() == before
    assert run("template", "-o", out, "--force", "--lang", lang).exit_code == 0


# -- mask / assign-ids ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["mask", "assign-ids"])
@pytest.mark.parametrize(
    ("extra", "zh", "en"),
    [
        pytest.param(
            [],
            "请二选一：-o 文件夹 或 --in-place",
            "give either -o DIR or --in-place",
            id="neither",
        ),
        pytest.param(
            ["--in-place", "-o", "OUT"],
            "请二选一：-o 文件夹 或 --in-place",
            "give either -o DIR or --in-place",
            id="both",
        ),
    ],
)
def test_mask_and_assign_ids_need_exactly_one_destination(tmp_path, books, command, extra, zh, en):
    extra = [str(tmp_path / "o") if a == "OUT" else a for a in extra]
    assert usage_error(run(command, books["good"], *extra)) == f"Error: {zh}"
    assert usage_error(run(command, books["good"], *extra, "--lang", "en")) == f"Error: {en}"
    assert not (tmp_path / "o").exists()


def test_mask_exit_codes_and_streams(tmp_path, books):
    out = tmp_path / "masked"
    unmasked = write_record_xlsx(tmp_path / "un.xlsx", [record_row(contact=PHONE)])
    result = run("mask", books["good"], unmasked, "-o", out)
    assert result.exit_code == 0 and result.stderr == ""
    assert lines(result.stdout) == [
        f"{books['good']} → {out / 'good.xlsx'}：文档属性（作者、标题、公司等）已清空",
        f"{unmasked} → {out / 'un.xlsx'}：已脱敏 联系方式 1；文档属性（作者、标题、公司等）已清空",
        "共 2 个文件：脱敏 1 个单元格",
    ]
    # personal data on another sheet, which mask does not change: no copy (a masked copy is
    # safe to forward whole, or there is none), one line on stderr, exit 2
    wb = openpyxl.load_workbook(books["good"])
    wb.create_sheet("通讯录")["A1"] = PHONE
    wb.save(books["good"])
    result = run("mask", books["good"], "-o", tmp_path / "again", "--lang", "en")
    assert result.exit_code == 2 and "no copy written" in result.stderr
    assert PHONE not in result.stdout + result.stderr
    assert not (tmp_path / "again" / "good.xlsx").exists()


def test_mask_missing_file_is_exit_2_named_on_stderr(tmp_path, books):
    missing = tmp_path / "nope.xlsx"
    result = run("mask", missing, books["good"], "-o", tmp_path / "m")
    assert result.exit_code == 2
    assert lines(result.stderr) == [f"xlcheck: {missing}: 找不到文件：请检查路径和文件名"]
    assert lines(result.stdout)[-1] == "共 2 个文件：脱敏 0 个单元格，1 个文件无法处理"
    assert (tmp_path / "m" / "good.xlsx").is_file()  # the other file was still written


def test_assign_ids_exit_codes_and_streams(tmp_path, books):
    out = tmp_path / "numbered"
    result = run("assign-ids", books["good"], "-o", out)
    assert result.exit_code == 0 and result.stderr == ""
    assert lines(result.stdout) == [
        f"{books['good']} → {out / 'good.xlsx'}：新编号 2 个（FW20240521001 … FW20240521002）",
        "共 1 个文件：新编号 2 个，重新编号 0 个，错误 0 个",
    ]
    dup = write_record_xlsx(tmp_path / "dup.xlsx", record_rows(2, record_id="FW20240521001"))
    result = run("assign-ids", dup, "-o", tmp_path / "n2", "--lang", "en")
    assert result.exit_code == 1 and result.stderr == ""
    assert "(duplicate-id)" in result.stdout
    assert lines(result.stdout)[-1].endswith("1 error(s)")


def test_assign_ids_missing_file_is_exit_2_named_on_stderr(tmp_path):
    missing = tmp_path / "nope.xlsx"
    result = run("assign-ids", missing, "-o", tmp_path / "n", "--lang", "en")
    assert result.exit_code == 2
    assert lines(result.stderr) == [f"xlcheck: {missing}: file not found: check the path and name"]


# -- merge ---------------------------------------------------------------------------------------------
def test_merge_exit_codes_and_streams(tmp_path, books):
    register = tmp_path / "总台账.xlsx"
    result = run("merge", books["good"], "--register", register)
    assert result.exit_code == 0 and result.stderr == ""
    assert lines(result.stdout) == [
        f"{books['good']}: 2 条记录，全部并入",
        "共 1 个文件：新增 2，更新 0，未变 0，退回 0，冲突 0，恢复 0，脱敏 0 处，编号 2 条",
        f"总台账：{register}（共 2 条）",
    ]
    result = run("merge", books["bad"], "--register", register, "--lang", "en")
    assert result.exit_code == 1 and result.stderr == ""
    assert (
        "1 rejected" in result.stdout
        and "rows kept out and fields in conflict are listed" in result.stdout
    )
    result = run("merge", books["junk"], books["good"], "--register", register)
    assert result.exit_code == 2 and result.stderr == ""
    assert lines(result.stdout)[0].startswith(f"{books['junk']}: 无法读取")


def test_merge_json_is_the_library_result(tmp_path, books, form, policy):
    paths = [books["good"], books["bad"]]
    result = run("merge", *paths, "--register", tmp_path / "cli.xlsx", "--format", "json")
    assert result.exit_code == 1 and result.stderr == ""
    doc = json.loads(result.stdout)
    lib = merge(paths, tmp_path / "lib.xlsx", form, policy, now=datetime(2024, 6, 1)).to_dict()
    assert doc["register"] == str(tmp_path / "cli.xlsx")
    assert {**doc, "register": None} == {**lib, "register": None}
    assert (doc["added"], doc["rejected"], doc["ids_assigned"]) == (2, 1, 2)


def test_merge_missing_file_is_exit_2_and_named(tmp_path, books):
    missing = tmp_path / "nope.xlsx"
    result = run("merge", missing, books["good"], "--register", tmp_path / "r.xlsx")
    assert result.exit_code == 2 and result.stderr == ""
    assert lines(result.stdout)[0] == (
        f"{missing}: 无法读取：{missing}: 找不到文件：请检查路径和文件名"
    )


# -- the group -------------------------------------------------------------------------------------------
def test_version_and_help():
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, "xlcheck, version 0.3.0\n")
    result = run("--help")
    assert result.exit_code == 0 and result.stderr == ""
    for command in ("validate", "merge", "mask", "assign-ids", "template", "config"):
        assert command in result.stdout


# -- nothing personal on either stream ----------------------------------------------------------------------
def test_no_phone_email_or_id_number_on_stdout_or_stderr(tmp_path):
    """A phone in the file name, personal data in the cells: every command's both streams."""
    rows = [
        record_row(
            contact_name="王五",
            contact=PHONE,
            description=f"回电 {PHONE}，邮箱 {EMAIL}，身份证 {ID_CARD}",
        ),
        record_row(severity=f"P5 {PHONE}", customer=EMAIL),
    ]
    path = write_record_xlsx(tmp_path / f"王{PHONE}.xlsx", rows)
    runs = [
        run("validate", path),
        run("validate", path, "--format", "json", "--lang", "en"),
        run("validate", path, tmp_path / f"缺{PHONE}.xlsx"),
        run("mask", path, "-o", tmp_path / "m"),
        run("assign-ids", path, "-o", tmp_path / "n"),
        run("assign-ids", tmp_path / f"缺{PHONE}.xlsx", "-o", tmp_path / "n2"),
        run("merge", path, "--register", tmp_path / "r.xlsx", "--format", "json"),
        run("merge", path, "--register", tmp_path / "r.xlsx"),
    ]
    for result in runs:
        assert result.exit_code in (0, 1, 2)
        for secret in (PHONE, EMAIL, ID_CARD, "王五"):
            assert secret not in result.stdout and secret not in result.stderr
    assert "王****5678.xlsx" in runs[0].stdout  # the file is still named, masked
