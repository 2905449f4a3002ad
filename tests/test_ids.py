"""Record IDs: the pattern, filling blank IDs across files and a register, duplicates, reruns."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import openpyxl
import pandas as pd
import pytest
import python_calamine
from builders import record_rows

from aftersales_xl.config import Policy, load_policy
from aftersales_xl.ids import id_pattern, parse_id
from aftersales_xl.jobs.assign_ids import IdChange, IdProblem, assign_ids, assign_workbooks

D = datetime


def frame(*rows: tuple, start: int = 2) -> pd.DataFrame:
    """Rows of (record_id, received_at, occurred_at), Excel rows from ``start``."""
    data = [
        {"record_id": r[0], "received_at": pd.Timestamp(r[1]) if r[1] else pd.NaT,
         "occurred_at": pd.Timestamp(r[2]) if len(r) > 2 and r[2] else pd.NaT}
        for r in rows
    ]  # fmt: skip
    return pd.DataFrame(data, index=pd.RangeIndex(start, start + len(rows), name="row"))


def ids(assignment) -> list[tuple[str, int, str]]:
    return [(c.source, c.row, c.record_id) for c in assignment.changes]


@pytest.fixture
def monthly(tmp_path: Path) -> Policy:
    cfg = tmp_path / "monthly.toml"
    cfg.write_text('[ids]\nscheme = "monthly"\nprefix = ""\n', "utf-8")
    return load_policy(cfg)


# -- the pattern -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("FW20240521001", ("20240521", 1)),
        ("FW20240521999", ("20240521", 999)),
        ("FW202405211000", ("20240521", 1000)),
        ("fw20240521002", ("20240521", 2)),
        (" FW20240521003 ", ("20240521", 3)),
        ("ＦＷ20240521004", ("20240521", 4)),
        ("FW2024052101", None),  # 2-digit sequence
        ("FW20240231001", None),  # no 31 February
        ("FW20241321001", None),
        ("XX20240521001", None),
        ("FW-20240521-001", None),
        ("20240521001", None),
        (None, None),
    ],
)
def test_parse_daily_id(value, parsed, policy: Policy) -> None:
    assert parse_id(value, policy) == parsed


def test_id_pattern_is_what_validate_checks(policy: Policy) -> None:
    pattern = id_pattern(policy)
    assert pattern.match("FW20240521001") and pattern.match("FW202405211000")
    assert not pattern.match("FW20240521001X") and not pattern.match("FW2024052101")


def test_monthly_scheme_of_the_seeds(monthly: Policy) -> None:
    assert parse_id("202405001", monthly) == ("202405", 1)
    assert parse_id(202405012.0, monthly) == ("202405", 12)  # typed as a number
    assert parse_id("FW20240521001", monthly) is None
    result = assign_ids(
        [
            (
                "a.xlsx",
                frame(("202405007", D(2024, 5, 2)), (None, D(2024, 5, 30)), (None, D(2024, 6, 1))),
            )
        ],
        monthly,
    )
    assert ids(result) == [("a.xlsx", 3, "202405008"), ("a.xlsx", 4, "202406001")]


# -- assigning ---------------------------------------------------------------------------------
def test_blank_ids_are_numbered_per_day_in_order_of_receipt(policy: Policy) -> None:
    f = frame(
        (None, D(2024, 5, 21, 15, 0)),
        (None, D(2024, 5, 21, 9, 0)),
        (None, D(2024, 5, 22, 8, 0)),
        (None, None, D(2024, 5, 21, 12, 0)),  # no 接收时间: 问题发生时间 is used
    )
    result = assign_ids([("a.xlsx", f)], policy)
    assert ids(result) == [
        ("a.xlsx", 2, "FW20240521003"),
        ("a.xlsx", 3, "FW20240521001"),
        ("a.xlsx", 4, "FW20240522001"),
        ("a.xlsx", 5, "FW20240521002"),
    ]
    assert result.problems == []


def test_sequences_continue_after_the_file_other_files_and_the_register(policy: Policy) -> None:
    a = frame(("FW20240521004", D(2024, 5, 21, 8)), (None, D(2024, 5, 21, 10)))
    b = frame(
        ("FW20240521009", D(2024, 5, 21, 9)), (None, D(2024, 5, 21, 10)), (None, D(2024, 5, 23, 1))
    )
    existing = ["FW20240523041", "FW20240521002", "not an id", None]
    result = assign_ids([("a.xlsx", a), ("b.xlsx", b)], policy, existing=existing)
    # same time in both files: file order, then row, decides
    assert ids(result) == [
        ("a.xlsx", 3, "FW20240521010"),
        ("b.xlsx", 3, "FW20240521011"),
        ("b.xlsx", 4, "FW20240523042"),
    ]


def test_sequence_widens_past_999(policy: Policy) -> None:
    f = frame(
        ("FW20240521998", D(2024, 5, 21, 8)), (None, D(2024, 5, 21, 9)), (None, D(2024, 5, 21, 10))
    )
    assert [c.record_id for c in assign_ids([("a", f)], policy).changes] == [
        "FW20240521999",
        "FW202405211000",
    ]
    g = frame((None, D(2024, 5, 21, 11)))
    assert ids(assign_ids([("g", g)], policy, existing=["FW202405211000"])) == [
        ("g", 2, "FW202405211001")
    ]


def test_rerun_gives_the_same_ids_and_a_filled_file_gets_none(policy: Policy) -> None:
    batches = [
        ("a.xlsx", frame((None, D(2024, 5, 21, 10)), (None, D(2024, 5, 21, 9)))),
        ("b.xlsx", frame((None, D(2024, 5, 21, 9, 30)), ("FW20240521001", D(2024, 5, 21, 8)))),
    ]
    first = assign_ids(batches, policy)
    assert ids(first) == ids(assign_ids(batches, policy))
    filled = []
    for name, f in batches:
        f = f.copy()
        for row, new in first.for_source(name).items():
            f.at[row, "record_id"] = new
        filled.append((name, f))
    assert assign_ids(filled, policy).changes == []


def test_bad_and_dateless_rows_are_reported_not_changed(policy: Policy) -> None:
    f = frame(
        ("FW2024052101", D(2024, 5, 21, 8)),  # malformed
        ("FW20240521099X", D(2024, 5, 21, 8)),
        (None, None, None),  # nothing to date it by
        (None, D(2024, 5, 21, 9)),
    )
    result = assign_ids([("a.xlsx", f)], policy)
    assert ids(result) == [("a.xlsx", 5, "FW20240521001")]  # malformed IDs do not count
    assert result.problems == [
        IdProblem("a.xlsx", 2, "bad-format", "FW2024052101"),
        IdProblem("a.xlsx", 3, "bad-format", "FW20240521099X"),
        IdProblem("a.xlsx", 4, "no-date"),
    ]


def test_duplicates_are_reported_and_fixed_only_when_asked(policy: Policy) -> None:
    a = frame(("FW20240521001", D(2024, 5, 21, 8)), ("FW20240521001", D(2024, 5, 21, 9)))
    b = frame(("FW20240521001", D(2024, 5, 21, 7)), (None, D(2024, 5, 21, 10)))
    batches = [("a.xlsx", a), ("b.xlsx", b)]
    plain = assign_ids(batches, policy)
    assert plain.problems == [
        IdProblem("a.xlsx", 3, "duplicate-id", "FW20240521001", ("a.xlsx", 2)),
        IdProblem("b.xlsx", 2, "duplicate-id", "FW20240521001", ("a.xlsx", 2)),
    ]
    assert ids(plain) == [("b.xlsx", 3, "FW20240521002")]

    fixed = assign_ids(batches, policy, fix_duplicates=True)
    assert fixed.reassigned == [
        IdChange("a.xlsx", 3, "FW20240521003", old="FW20240521001"),
        IdChange("b.xlsx", 2, "FW20240521002", old="FW20240521001"),
    ]
    assert ids(fixed) == [
        ("a.xlsx", 3, "FW20240521003"),
        ("b.xlsx", 2, "FW20240521002"),
        ("b.xlsx", 3, "FW20240521004"),
    ]


# -- real workbooks ----------------------------------------------------------------------------
def read_ids(path: Path) -> list:
    rows = (
        python_calamine.CalamineWorkbook.from_path(str(path))
        .get_sheet_by_name("问题记录表")
        .to_python()
    )
    return [r[0] for r in rows[1:]]


def write_register(path: Path, form, record_ids: list[str]) -> Path:
    """A minimal 总台账 as merge writes it: the form's columns, then provenance."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "总台账"
    ws.append([f.label for f in form.fields] + ["来源文件", "来源行", "合并时间"])
    for i, (rid, row) in enumerate(zip(record_ids, record_rows(len(record_ids)), strict=True)):
        ws.append(
            [rid if f.key == "record_id" else row[f.key] for f in form.fields]
            + ["a.xlsx", i + 2, D(2024, 5, 25)]
        )
    wb.save(path)
    return path


def test_assign_ids_in_real_workbooks_with_a_register(
    make_workbook, form, policy, tmp_path: Path
) -> None:
    # received on 21 May: a at 09:30, 14:37, 19:44; b at 08:20, 13:27
    first = make_workbook(record_rows(3), name="a.xlsx")
    second = make_workbook(
        record_rows(2, start=D(2024, 5, 21, 8)), name="b.xlsx", engine="xlsxwriter"
    )
    register = write_register(tmp_path / "总台账.xlsx", form, ["FW20240521007", "FW20240520003"])
    out = tmp_path / "numbered"
    outcomes = assign_workbooks([first, second], form, policy, register=register, out_dir=out)
    assert [(o.source.name, o.error) for o in outcomes] == [("a.xlsx", None), ("b.xlsx", None)]
    assert read_ids(out / "a.xlsx") == ["FW20240521009", "FW20240521011", "FW20240521012"]
    assert read_ids(out / "b.xlsx") == ["FW20240521008", "FW20240521010"]
    assert read_ids(first) == ["", "", ""]  # the originals are untouched
    # every other cell is as it was
    a = (
        python_calamine.CalamineWorkbook.from_path(str(first))
        .get_sheet_by_name("问题记录表")
        .to_python()
    )
    b = (
        python_calamine.CalamineWorkbook.from_path(str(out / "a.xlsx"))
        .get_sheet_by_name("问题记录表")
        .to_python()
    )
    assert [r[1:] for r in a] == [r[1:] for r in b]
    # a rerun on the numbered copies assigns nothing
    again = assign_workbooks(
        [out / "a.xlsx", out / "b.xlsx"], form, policy, out_dir=tmp_path / "again"
    )
    assert [o.assigned for o in again] == [[], []]


def test_findings_name_the_cells(make_workbook, form, policy, tmp_path: Path) -> None:
    rows = record_rows(3)
    rows[0]["record_id"] = "FW20240521001"
    rows[1]["record_id"] = "FW20240521001"
    rows[2].update(received_at=None, occurred_at=None)
    a = make_workbook(rows, name="a.xlsx", title_rows=1)
    b = make_workbook(record_rows(1, record_id="FW2024052101"), name="b.xlsx")
    outcomes = assign_workbooks([a, b], form, policy, out_dir=tmp_path / "out", lang="zh")
    got = [[(f.code, f.cell) for f in o.findings] for o in outcomes]
    assert got == [[("duplicate-id", "A4"), ("required-value", "L5")], [("bad-format", "A2")]]
    assert "与第 3 行重复" in outcomes[0].findings[0].message
    assert "FW20240521001" in outcomes[0].findings[0].message
    assert "无法自动编号" in outcomes[0].findings[1].message
    en = assign_workbooks([b], form, policy, out_dir=tmp_path / "en", lang="en")
    assert "FW20240521001" in en[0].findings[0].message  # the example of a valid ID
    c = make_workbook(record_rows(1, record_id="FW20240521001"), name="c.xlsx")
    across = assign_workbooks([a, c], form, policy, out_dir=tmp_path / "across")
    assert [(f.code, f.cell) for f in across[1].findings] == [("duplicate-id", "A2")]
    assert "与第 3（a.xlsx） 行重复" in across[1].findings[0].message


def test_fix_duplicates_across_files_in_place(make_workbook, form, policy, tmp_path: Path) -> None:
    a = make_workbook(record_rows(1, record_id="FW20240521001"), name="a.xlsx")
    b = make_workbook(record_rows(1, record_id="FW20240521001"), name="b.xlsx")
    outcomes = assign_workbooks(
        [a, b], form, policy, in_place=True, fix_duplicates=True, now=D(2024, 6, 1)
    )
    assert outcomes[0].assigned == [] and outcomes[0].backup is None  # nothing to change in a
    assert [(c.old, c.record_id) for c in outcomes[1].reassigned] == [
        ("FW20240521001", "FW20240521002")
    ]
    assert read_ids(b) == ["FW20240521002"]
    assert outcomes[1].backup == tmp_path / "b.bak-20240601-000000.xlsx"
    assert read_ids(outcomes[1].backup) == ["FW20240521001"]
    assert outcomes[1].findings == []  # fixed, so no longer a finding


def test_a_file_without_the_id_column_is_refused(
    make_workbook, form, policy, tmp_path: Path
) -> None:
    a = make_workbook(record_rows(1), name="a.xlsx", headers={"record_id": None})
    [outcome] = assign_workbooks([a], form, policy, out_dir=tmp_path / "out")
    assert outcome.error is not None and "没有“问题编号”列" in outcome.error
    assert not (tmp_path / "out" / "a.xlsx").exists()


# -- the command -------------------------------------------------------------------------------
def run(*args):
    from click.testing import CliRunner

    from aftersales_xl.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_assign_ids_with_register(make_workbook, form, tmp_path: Path) -> None:
    a = make_workbook(record_rows(2), name="a.xlsx")
    register = write_register(tmp_path / "总台账.xlsx", form, ["FW20240521005"])
    result = run("assign-ids", a, "--register", register, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{a} → {tmp_path / 'out' / 'a.xlsx'}：新编号 2 个（FW20240521006 … FW20240521007）",
        "共 1 个文件：新编号 2 个，重新编号 0 个，错误 0 个",
    ]
    assert read_ids(tmp_path / "out" / "a.xlsx") == ["FW20240521006", "FW20240521007"]


def test_cli_duplicates_exit_1_until_fixed(make_workbook, tmp_path: Path) -> None:
    rows = record_rows(2, record_id="FW20240521001")
    a = make_workbook(rows, name="a.xlsx")
    result = run("assign-ids", a, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "[错误] 问题记录表!A3 问题编号: 问题编号“FW20240521001”与第 2 行重复" in result.stdout
    fixed = run("assign-ids", a, "--in-place", "--fix-duplicates", "--lang", "en")
    assert fixed.exit_code == 0, fixed.output
    assert (
        "  row 3: FW20240521001 → FW20240521002 (duplicate replaced)" in fixed.stdout.splitlines()
    )
    assert read_ids(a) == ["FW20240521001", "FW20240521002"]


def test_cli_unreadable_register_is_one_line_exit_2(make_workbook, tmp_path: Path) -> None:
    bad = tmp_path / "总台账.xlsx"
    bad.write_bytes(b"garbage")
    result = run("assign-ids", make_workbook(), "--register", bad, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("xlcheck: ")


def test_ids_in_an_ods_count_although_it_cannot_be_written(
    make_workbook, form, policy, tmp_path: Path, soffice: str
) -> None:
    import subprocess

    xlsx = make_workbook(record_rows(1, record_id="FW20240521004"), name="old.xlsx")
    with TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [soffice, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
             "--convert-to", "ods", "--outdir", str(tmp_path / "ods"), str(xlsx)],
            capture_output=True, timeout=180, check=True,
        )  # fmt: skip
    ods = tmp_path / "ods" / "old.ods"
    new = make_workbook(record_rows(1), name="new.xlsx")
    outcomes = assign_workbooks([ods, new], form, policy, out_dir=tmp_path / "out")
    assert "另存为 .xlsx" in outcomes[0].error and not outcomes[0].unreadable
    assert read_ids(tmp_path / "out" / "new.xlsx") == ["FW20240521005"]


# -- audit fixes -------------------------------------------------------------------------------
def test_the_same_period_and_sequence_is_the_same_id(policy: Policy) -> None:
    f = frame(
        ("FW20240521002", D(2024, 5, 21, 8)),
        ("FW202405210002", D(2024, 5, 21, 9)),  # a leading zero more: still the same ID
        (None, D(2024, 5, 21, 10)),
    )
    result = assign_ids([("a.xlsx", f)], policy)
    assert result.problems == [
        IdProblem("a.xlsx", 3, "duplicate-id", "FW202405210002", ("a.xlsx", 2))
    ]
    assert ids(result) == [("a.xlsx", 4, "FW20240521003")]


@pytest.mark.parametrize("bad", [0.4, True, -5, 1e9, "2024-05-21 25:00"])
def test_an_unusable_received_time_is_a_bad_date_not_a_blank(
    bad, make_workbook, form, policy, tmp_path: Path
) -> None:
    src = make_workbook(record_rows(2), name="a.xlsx")
    wb = openpyxl.load_workbook(src)
    wb["问题记录表"]["L3"] = bad  # 接收时间 of the second record; 问题发生时间 is fine
    wb.save(src)
    [outcome] = assign_workbooks([src], form, policy, out_dir=tmp_path / "out")
    assert [(f.code, f.cell) for f in outcome.findings] == [("bad-date", "L3")]
    assert "不是有效的日期时间" in outcome.findings[0].message
    assert read_ids(tmp_path / "out" / "a.xlsx") == ["FW20240521001", ""]  # no fallback


def test_summary_names_the_lowest_and_highest_id_of_each_day(make_workbook, tmp_path: Path) -> None:
    rows = record_rows(3)  # received 21 May; the first one moved to 22 May
    rows[0].update(received_at=D(2024, 5, 22, 8), occurred_at=D(2024, 5, 22, 7))
    a = make_workbook(rows, name="a.xlsx")
    result = run("assign-ids", a, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(
        "：新编号 3 个（FW20240521001 … FW20240521002；FW20240522001）"
    )


def test_cli_a_file_given_twice_is_numbered_once(make_workbook, tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    a = make_workbook(record_rows(2), name="subs/a.xlsx")
    result = run("assign-ids", a.parent, a, "--in-place")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{a}：新编号 2 个（FW20240521001 … FW20240521002）"
        f"（原文件已备份为 {next(a.parent.glob('a.bak-*.xlsx')).name}）",
        "共 1 个文件：新编号 2 个，重新编号 0 个，错误 0 个",
    ]
    assert read_ids(a) == ["FW20240521001", "FW20240521002"]


def test_cli_two_inputs_for_one_output_are_refused_before_writing(
    make_workbook, tmp_path: Path
) -> None:
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
    a = make_workbook(record_rows(1), name="x/a.xlsx")
    b = make_workbook(record_rows(1), name="y/a.xlsx")
    result = run("assign-ids", a, b, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "会写到同一个输出文件" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_numbered_copy_is_masked_in_place_only_the_ids_change(
    make_workbook, form, policy, tmp_path: Path
) -> None:
    rows = record_rows(2)
    rows[0]["contact"], rows[0]["contact_name"] = "13800138000", "张三丰"
    rows[1]["description"] = "客户手机 13912345678 无法登录"
    src = make_workbook(rows, name="华东13800138000.xlsx")
    [copy] = assign_workbooks([src], form, policy, out_dir=tmp_path / "out")
    # the copy is safe to send back: contacts masked as `xlcheck mask` writes them, and its
    # file name too; the IDs are filled
    assert copy.output.name == "华东＊＊＊＊8000.xlsx" and copy.exit_code == 0
    ws = openpyxl.load_workbook(copy.output)["问题记录表"]
    assert [ws["A2"].value, ws["A3"].value] == ["FW20240521001", "FW20240521002"]
    assert (ws["C2"].value, ws["D2"].value) == ("张**", "****8000")
    assert ws["I3"].value == "客户手机 ****5678 无法登录"
    # in place, the user's own file: only 问题编号 changes
    [same] = assign_workbooks([src], form, policy, in_place=True)
    ws = openpyxl.load_workbook(src)["问题记录表"]
    assert ws["A2"].value == "FW20240521001" and ws["D2"].value == "13800138000"
    assert same.backup is not None
