"""Months of real use: the three-way merge against the register's hidden merge state.

Eight weeks on real workbooks: two staff members keep one working workbook each (from week 2
on, the copy ``merge --return`` sent back, edited with openpyxl), append rows and change old
ones, and resubmit it whole; the supervisor edits 总台账 with openpyxl between merges (and
once LibreOffice re-saves it). After every merge 总台账 is compared cell by cell with an
independent model of what it must hold, and 待修正 with the conflicts the model expects.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from builders import libreoffice_resave, record_rows, write_record_xlsx
from click.testing import CliRunner

from aftersales_xl.cli import cli
from aftersales_xl.forms import load_form
from aftersales_xl.jobs.merge import merge
from aftersales_xl.reading.register import STATE_SHEET, read_state
from aftersales_xl.reports.render import render_merge

FORM = load_form()
FIELDS = [k for k in FORM.keys if k != "record_id"]
LABEL = {f.key: f.label for f in FORM.fields}
KEY = {f.label: f.key for f in FORM.fields}
START = datetime(2024, 6, 3, 9, 0)
#: raw personal data put into the submissions: none of it may reach anything merge writes
CANARY_PHONE = "13912345678"
CANARY_EMAIL = "zhang.san@example.com"
CANARY_ID = "110101199003074514"
CANARIES = (CANARY_PHONE, CANARY_EMAIL, CANARY_ID, "139 1234 5678")


def norm(value: Any) -> Any:
    """A cell as compared: datetimes to the second, whole floats as ints, blank as None."""
    if isinstance(value, datetime):
        return (value + timedelta(microseconds=500_000)).replace(microsecond=0)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None if value == "" else value


def register_records(path: Path) -> dict[str, dict[str, Any]]:
    """总台账 as ID → {field key: value}, read back with openpyxl (IDs must be unique)."""
    ws = openpyxl.load_workbook(path)["总台账"]
    rows = list(ws.iter_rows(values_only=True))
    keys = [KEY.get(h) for h in rows[0]]
    out: dict[str, dict[str, Any]] = {}
    for row in rows[1:]:
        rec = {k: norm(v) for k, v in zip(keys, row, strict=False) if k}
        if rec.get("record_id") is None:
            continue
        assert rec["record_id"] not in out, f"record {rec['record_id']} twice in 总台账"
        out[rec.pop("record_id")] = rec
    return out


def fix_list(path: Path, code: str = "edit-conflict") -> list[tuple[str, str]]:
    ws = openpyxl.load_workbook(path)["待修正"]
    return [(r[2], r[4]) for r in ws.iter_rows(min_row=2, values_only=True) if r[3] == code]


def edit_register(path: Path, edits: dict[str, dict[str, Any]], delete: str | None = None):
    """The supervisor's hand edits: ``{ID: {key: value}}``, and one record deleted."""
    wb = openpyxl.load_workbook(path)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    col = {KEY[h]: i + 1 for i, h in enumerate(header) if h in KEY}
    for r in range(ws.max_row, 1, -1):
        rid = ws.cell(r, col["record_id"]).value
        for key, value in edits.get(rid, {}).items():
            ws.cell(r, col[key]).value = value
        if rid == delete:
            ws.delete_rows(r)
    wb.save(path)


@dataclass
class Staff:
    """One staff member's working workbook: rows in order, each with its ID once known."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)


@dataclass
class Model:
    """What 总台账 must hold: per record its fields, and the version last merged from its
    source (each record here comes from one staff workbook)."""

    register: dict[str, dict[str, Any]] = field(default_factory=dict)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: list[tuple[str, str, Any, Any, Any]] = field(default_factory=list)

    def merge(self, staff: list[Staff], prefer: str | None = None) -> None:
        """The rules of the issue, applied to the model (IDs of new rows filled in after)."""
        self.conflicts = []
        for s in staff:
            for rid, row in zip(s.ids, s.rows, strict=True):
                if rid is None or rid not in self.register:
                    continue
                reg, last = self.register[rid], self.last[rid]
                for k in FIELDS:
                    sub, now, was = row[k], reg[k], last[k]
                    if sub in (was, now):
                        last[k] = sub
                    elif now == was or prefer == "submission":
                        reg[k] = last[k] = sub
                    elif prefer == "register":
                        last[k] = sub
                    else:
                        self.conflicts.append((rid, LABEL[k], was, now, sub))

    def add(self, rid: str, row: dict[str, Any]) -> None:
        self.register[rid] = {k: row[k] for k in FIELDS}
        self.last[rid] = dict(self.register[rid])


def shown(value: Any) -> str:
    if value is None:
        return "（空）"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


class Weeks:
    """The simulation: folders, staff workbooks, the register and the model."""

    def __init__(self, tmp: Path, form, policy):
        self.tmp, self.form, self.policy = tmp, form, policy
        self.register = tmp / "office" / "总台账.xlsx"
        self.register.parent.mkdir()
        self.inbox = tmp / "inbox"
        self.inbox.mkdir()
        self.back = tmp / "back"
        self.staff = [Staff("zhang.xlsx"), Staff("li.xlsx")]
        self.model = Model()
        self.week = 0
        self.serial = 0
        self.outputs: list[str] = []

    def new_rows(self, s: Staff, n: int, **overrides: Any) -> list[dict[str, Any]]:
        start = datetime(2024, 5, 20, 9, 0) + timedelta(days=7 * self.week, hours=len(s.rows))
        rows = record_rows(n, start=start, **overrides)
        for row in rows:
            self.serial += 1
            row["customer"] = f"客户{self.serial:03d}/C{self.serial:04d}"
            row["description"] = f"问题 {self.serial}：登录后页面空白"
        return rows

    def submit(self, s: Staff, append: list[dict[str, Any]], change: dict[str, dict]) -> Path:
        """Week 1: a new workbook; later: the returned copy, edited with openpyxl."""
        path = self.inbox / s.name
        for rid, values in change.items():
            s.rows[s.ids.index(rid)].update(values)
        if not s.rows:
            write_record_xlsx(path, append)
        else:
            shutil.copyfile(self.back / s.name, path)
            wb = openpyxl.load_workbook(path)
            ws = wb[FORM.sheet]
            header = [c.value for c in ws[1]]
            col = {KEY[h]: i + 1 for i, h in enumerate(header) if h in KEY}
            for r in range(2, ws.max_row + 1):
                rid = ws.cell(r, col["record_id"]).value
                for key, value in change.get(rid, {}).items():
                    ws.cell(r, col[key]).value = value
            for row in append:
                ws.append([row.get(KEY.get(h)) for h in header])
            wb.save(path)
        s.rows += append
        s.ids += [None] * len(append)
        return path

    def merge(self, paths: list[Path], prefer: str | None = None, **kw: Any):
        result = merge(
            paths,
            self.register,
            self.form,
            self.policy,
            now=START + timedelta(days=7 * self.week),
            prefer=prefer,
            return_dir=self.back,
            **kw,
        )
        self.outputs.append(render_merge(result))
        self.outputs.append(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        if kw.get("dry_run"):
            return result
        self.model.merge(self.staff, prefer)
        for s in self.staff:  # the IDs staff get back
            ws = openpyxl.load_workbook(self.back / s.name)[FORM.sheet]
            ids = [r[0] for r in ws.iter_rows(min_row=2, values_only=True) if any(r)]
            assert len(ids) == len(s.rows)
            for i, rid in enumerate(ids):
                assert rid, f"{s.name} row {i + 2} came back without 问题编号"
                if s.ids[i] is None:
                    s.ids[i] = rid
                    self.model.add(rid, s.rows[i])
                else:
                    assert s.ids[i] == rid
        return result

    def check(self) -> None:
        """总台账 cell by cell against the model; 待修正's conflicts with their three values."""
        got = register_records(self.register)
        assert sorted(got) == sorted(self.model.register)
        for rid, expected in self.model.register.items():
            diff = {k: (got[rid][k], v) for k, v in expected.items() if got[rid][k] != v}
            assert not diff, f"week {self.week}, {rid}: (register, expected) {diff}"
        listed = fix_list(self.register)
        assert sorted(label for label, _m in listed) == sorted(c[1] for c in self.model.conflicts)
        for rid, label, was, now, sub in self.model.conflicts:
            (message,) = [m for lab, m in listed if lab == label and rid in m]
            for value in (was, now, sub):
                assert f"“{shown(value)}”" in message, (value, message)
        assert read_state(self.register, self.policy).state is not None


def submission(tmp: Path, rows: list[dict[str, Any]], **options: Any) -> Path:
    """``in/a.xlsx`` under ``tmp``, holding ``rows``."""
    (tmp / "in").mkdir(exist_ok=True)
    return write_record_xlsx(tmp / "in" / "a.xlsx", rows, **options)


def files_of(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_eight_weeks_of_real_use(tmp_path, form, policy):
    w = Weeks(tmp_path, form, policy)
    zhang, li = w.staff
    reg = w.register

    # week 1: two new workbooks; a raw phone, email and ID-card number among them
    w.week = 1
    rows_z = w.new_rows(zhang, 3)
    rows_z[2]["contact"] = CANARY_PHONE
    rows_z[2]["remarks"] = f"客户邮箱 {CANARY_EMAIL} 身份证 {CANARY_ID}"
    rows_l = w.new_rows(li, 3)
    paths = [w.submit(zhang, rows_z, {}), w.submit(li, rows_l, {})]
    # the model stores what masking makes of them, as staff get them back
    zhang.rows[2]["contact"] = "****5678"
    zhang.rows[2]["remarks"] = "客户邮箱 z***@example.com 身份证 1*************4514"
    result = w.merge(paths)
    assert (result.added, result.exit_code) == (6, 0)
    w.check()
    z1, z2, z3 = zhang.ids
    l1, l2, l3 = li.ids

    # the supervisor reassigns z1 by hand; staff resubmit z1 unchanged: the edit stays
    edit_register(reg, {z1: {"owner": "主管指派-赵工"}})
    w.model.register[z1]["owner"] = "主管指派-赵工"
    w.week = 2
    paths = [
        w.submit(zhang, w.new_rows(zhang, 2), {z2: {"analysis": "日志显示会话过期"}}),
        w.submit(li, w.new_rows(li, 1), {}),
    ]
    result = w.merge(paths)
    assert (result.added, result.updated, result.exit_code) == (3, 1, 0)
    w.check()
    z4, z5 = zhang.ids[3:5]

    # both sides change z2, in different fields: both kept, 变更记录 says so
    edit_register(reg, {z2: {"feedback": "主管回访：满意"}})
    w.model.register[z2]["feedback"] = "主管回访：满意"
    w.week = 3
    paths = [
        w.submit(zhang, w.new_rows(zhang, 1), {z2: {"solution": "清除缓存后恢复"}}),
        w.submit(li, w.new_rows(li, 1), {l2: {"satisfaction": 4}}),
    ]
    result = w.merge(paths)
    assert (result.updated, result.edit_conflicts) == (2, 0)
    w.check()
    history = openpyxl.load_workbook(reg)["变更记录"]
    notes = [r[2] for r in history.iter_rows(min_row=2, values_only=True) if r[3] == z2]
    assert notes[-1] == "解决方案（总台账中手工修改的 客户反馈 保留）"

    # the same field changed on both sides: a conflict with three values, the register's kept;
    # z5's description edited by staff: the ID from the returned copy keeps it one record
    edit_register(reg, {l1: {"module": "支付模块"}})
    w.model.register[l1]["module"] = "支付模块"
    w.week = 4
    paths = [
        w.submit(
            zhang, w.new_rows(zhang, 1), {z5: {"description": "问题 5：登录后页面空白（偶发）"}}
        ),
        w.submit(li, [], {l1: {"module": "报表模块"}}),
    ]
    result = w.merge(paths)
    assert (result.edit_conflicts, result.exit_code) == (1, 1)
    assert w.model.conflicts == [(l1, "产品/服务模块", "登录模块", "支付模块", "报表模块")]
    w.check()
    assert len(w.model.register) == len(register_records(reg)) == 12

    # z3 deleted by hand: a dry run says it would come back and writes nothing
    edit_register(reg, {}, delete=z3)
    w.week = 5
    paths = [w.submit(zhang, [], {}), w.submit(li, w.new_rows(li, 1), {})]
    before = files_of(tmp_path)
    dry = w.merge(paths, prefer="submission", dry_run=True)
    assert files_of(tmp_path) == before
    assert (dry.restored, dry.added, dry.updated) == (1, 1, 1)
    assert dry.by_source["li.xlsx"].outcome == {"new": 1, "updated": 1, "unchanged": 4}
    assert dry.by_source["zhang.xlsx"].outcome == {"unchanged": 7, "restored": 1}
    assert "试运行" in w.outputs[-2] and "li.xlsx：将新增 1，更新 1" in w.outputs[-2]
    # the real merge restores z3 and settles the conflict with the submission's value
    result = w.merge(paths, prefer="submission")
    assert (result.restored, result.restored_ids, result.settled) == (1, [z3], 1)
    assert "恢复 1" in w.outputs[-2]
    w.check()

    # a hand note, then LibreOffice re-saves the register (where installed): state survives
    edit_register(reg, {l2: {"remarks": "主管备注：已电话回访"}})
    w.model.register[l2]["remarks"] = "主管备注：已电话回访"
    resaved = libreoffice_resave(reg, tmp_path / "lo")
    if resaved is not None:
        shutil.copyfile(resaved, reg)
        assert openpyxl.load_workbook(reg)[STATE_SHEET].sheet_state in ("hidden", "veryHidden")
        assert read_state(reg, policy).state is not None
    w.week = 6
    paths = [
        w.submit(zhang, w.new_rows(zhang, 1), {z1: {"analysis": "二次排查：浏览器插件冲突"}}),
        w.submit(li, [], {}),
    ]
    result = w.merge(paths)
    assert not any("隐藏工作表" in n for n in result.notes)
    w.check()

    # another same-field conflict, settled the other way: the register's value stays, and
    # staff resubmitting their value the week after is no conflict any more
    edit_register(reg, {l3: {"owner": "钱工"}})
    w.model.register[l3]["owner"] = "钱工"
    w.week = 7
    paths = [w.submit(zhang, [], {}), w.submit(li, [], {l3: {"owner": "孙工"}})]
    result = w.merge(paths, prefer="register")
    assert (result.settled, result.edit_conflicts) == (1, 0)
    w.check()
    w.week = 8
    paths = [w.submit(zhang, w.new_rows(zhang, 1), {}), w.submit(li, [], {})]
    result = w.merge(paths)
    assert (result.edit_conflicts, result.updated, result.exit_code) == (0, 0, 0)
    w.check()
    assert register_records(reg)[l3]["owner"] == "钱工"

    # idempotent: the same submissions again change nothing
    first = register_records(reg)
    again = merge(paths, reg, form, policy, now=START + timedelta(days=56))
    assert (again.added, again.updated, again.restored, again.edit_conflicts) == (0, 0, 0, 0)
    assert register_records(reg) == first

    # privacy: nothing merge wrote holds the raw phone, email or ID-card number
    written = [reg, *sorted(w.back.iterdir())]
    texts = list(w.outputs)
    for path in written:
        with zipfile.ZipFile(path) as z:
            texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    for canary in CANARIES:
        assert not any(canary in t for t in texts), canary


def test_returned_copies_change_only_ids_and_contacts(tmp_path, form, policy):
    rows = record_rows(2)
    rows[0]["contact"] = CANARY_PHONE
    src = submission(tmp_path, rows, title_rows=2)
    register = tmp_path / "总台账.xlsx"
    result = merge([src], register, form, policy, now=START, return_dir=tmp_path / "back")
    assert result.returned == [("a.xlsx", str(tmp_path / "back" / "a.xlsx"), 2)]
    before = openpyxl.load_workbook(src)[FORM.sheet]
    after = openpyxl.load_workbook(tmp_path / "back" / "a.xlsx")[FORM.sheet]
    changed = {
        c.coordinate: c.value
        for row in after.iter_rows()
        for c in row
        if c.value != before[c.coordinate].value
    }
    ids = sorted(register_records(register))
    assert changed == {"A4": ids[0], "A5": ids[1], "D4": "****5678"}
    with zipfile.ZipFile(tmp_path / "back" / "a.xlsx") as z:
        assert not any(CANARY_PHONE.encode() in z.read(n) for n in z.namelist())


def test_a_lost_or_altered_state_falls_back_to_the_old_rule_with_a_note(tmp_path, form, policy):
    src = submission(tmp_path, record_rows(2))
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    rid = sorted(register_records(register))[0]

    # a fingerprint changed in the hidden sheet: not trusted
    wb = openpyxl.load_workbook(register)
    ws = wb[STATE_SHEET]
    text = ws.cell(3, 1).value
    ws.cell(3, 1).value = text[:-1] + ("a" if text[-1] != "a" else "b")
    wb.save(register)
    assert read_state(register, policy).problem == "mismatch"
    edit_register(register, {rid: {"owner": "主管指派"}})
    result = merge([src], register, form, policy, now=START)
    assert [n for n in result.notes if "不符" in n] and result.updated == 1
    assert register_records(register)[rid]["owner"] == "王工"  # the old rule: submission wins
    assert read_state(register, policy).state is not None  # and the state is recorded again

    # the sheet removed by a tool that drops very-hidden sheets: "lost", same fallback
    wb = openpyxl.load_workbook(register)
    del wb[STATE_SHEET]
    wb.save(register)
    assert read_state(register, policy).problem == "lost"
    result = merge([src], register, form, policy, now=START)
    assert any("隐藏工作表已丢失" in n for n in result.notes)

    # the state back: a hand edit now survives the same resubmission
    edit_register(register, {rid: {"owner": "主管指派"}})
    result = merge([src], register, form, policy, now=START)
    assert (result.updated, result.unchanged, result.notes) == (0, 2, [])
    assert register_records(register)[rid]["owner"] == "主管指派"


def test_a_register_without_state_gains_one(tmp_path, form, policy):
    src = submission(tmp_path, record_rows(2))
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    # as a register written before the state existed: no sheet, no keywords
    wb = openpyxl.load_workbook(register)
    del wb[STATE_SHEET]
    wb.properties.keywords = None
    wb.save(register)
    assert read_state(register, policy).problem is None
    result = merge([src], register, form, policy, now=START)
    assert (result.unchanged, result.notes) == (2, [])
    state = read_state(register, policy).state
    assert state is not None and {s for _r, s in state.entries} == {"a.xlsx"}


def test_dry_run_on_the_command_line_writes_nothing(tmp_path, form, policy):
    src = submission(tmp_path, record_rows(3))
    register = tmp_path / "reg" / "总台账.xlsx"
    runner = CliRunner()
    args = ["merge", str(src), "--register", str(register)]
    result = runner.invoke(cli, [*args, "--dry-run", "--return", str(tmp_path / "back")])
    assert result.exit_code == 0, result.output
    assert "a.xlsx：将新增 3" in result.output
    assert not (tmp_path / "reg").exists() and not (tmp_path / "back").exists()
    assert runner.invoke(cli, args).exit_code == 0
    before = files_of(tmp_path)
    result = runner.invoke(cli, [*args, "--dry-run", "--format", "json", "--annotate", "x"])
    [per] = json.loads(result.output)["per_file"]
    assert (per["source"], per["outcome"]) == ("a.xlsx", {"unchanged": 3})
    assert files_of(tmp_path) == before


@pytest.mark.parametrize("prefer", ["submission", "register"])
def test_prefer_on_the_command_line(tmp_path, form, policy, prefer):
    rows = record_rows(1)
    src = submission(tmp_path, rows)
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    (rid,) = register_records(register)
    edit_register(register, {rid: {"owner": "主管"}})
    rows[0]["record_id"] = rid
    rows[0]["owner"] = "员工"
    write_record_xlsx(src, rows)
    args = ["merge", str(src), "--register", str(register)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "冲突 1" in result.output
    assert register_records(register)[rid]["owner"] == "主管"
    result = CliRunner().invoke(cli, [*args, "--prefer", prefer])
    assert result.exit_code == 0, result.output
    expected = "员工" if prefer == "submission" else "主管"
    assert register_records(register)[rid]["owner"] == expected


def test_a_merge_killed_while_writing_leaves_rows_and_state_together(
    tmp_path, form, policy, monkeypatch
):
    rows = record_rows(2)
    src = submission(tmp_path, rows)
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    rid = sorted(register_records(register))[0]
    edit_register(register, {rid: {"owner": "主管指派"}})
    before = register.read_bytes()
    rows[1]["analysis"] = "员工补充的分析"
    write_record_xlsx(src, rows)

    import aftersales_xl.writing.fileio as fileio

    def boom(*_args: Any, **_kw: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", boom)
    with pytest.raises(Exception):  # noqa: B017 - any failure, as long as nothing is lost
        merge([src], register, form, policy, now=START, keep=0)
    monkeypatch.undo()
    assert register.read_bytes() == before
    result = merge([src], register, form, policy, now=START)
    assert (result.updated, result.unchanged, result.notes) == (1, 1, [])
    assert register_records(register)[rid]["owner"] == "主管指派"


def test_a_deleted_record_comes_back_from_a_backup_or_is_named(tmp_path, form, policy):
    a = submission(tmp_path, record_rows(2))
    register = tmp_path / "总台账.xlsx"
    merge([a], register, form, policy, now=START)
    # a row the supervisor typed in, numbered by the next merge, then deleted with another one
    wb = openpyxl.load_workbook(register)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    typed = record_rows(1, start=datetime(2024, 5, 23, 8, 0))[0]
    typed["customer"] = "电话客户/C0900"
    ws.append([norm(typed.get(KEY.get(h))) if h in KEY else None for h in header])
    wb.save(register)
    merge([a], register, form, policy, now=START + timedelta(days=1))
    records = register_records(register)
    assert len(records) == 3
    hand = next(r for r, rec in records.items() if rec["customer"] == "电话客户/C0900")
    first = sorted(records)[0]
    merge([a], register, form, policy, now=START + timedelta(days=2))  # a backup holding both
    edit_register(register, {}, delete=hand)
    edit_register(register, {}, delete=first)
    other = tmp_path / "other.xlsx"
    write_record_xlsx(other, record_rows(1, start=datetime(2024, 5, 24, 8, 0)))
    result = merge([other], register, form, policy, now=START + timedelta(days=3))
    assert (result.restored, sorted(result.restored_ids)) == (2, sorted([hand, first]))
    assert register_records(register)[hand] == records[hand]
    assert register_records(register)[first] == records[first]

    # without a backup, a history row or a submission holding it, a record is named
    for backup in tmp_path.glob("总台账.bak-*.xlsx"):
        backup.unlink()
    edit_register(register, {}, delete=hand)
    result = merge([other], register, form, policy, now=START + timedelta(days=4), lang="en")
    assert result.restored == 0
    assert [n for n in result.notes if hand in n and "could not be restored" in n]
    # the state still knows it, so it is looked for again next time
    state = read_state(register, policy).state
    assert state is not None and (hand, "") in state.entries


def test_a_workbook_renamed_from_week_to_week_keeps_the_hand_edits(tmp_path, form, policy):
    (tmp_path / "in").mkdir()
    rows = record_rows(2)
    week1 = write_record_xlsx(tmp_path / "in" / "张工_0603.xlsx", rows)
    register = tmp_path / "总台账.xlsx"
    merge([week1], register, form, policy, now=START, return_dir=tmp_path / "back")
    ids = sorted(register_records(register))
    edit_register(register, {ids[0]: {"owner": "主管指派"}})
    for row, rid in zip(rows, ids, strict=True):
        row["record_id"] = rid
    rows[0]["feedback"] = "客户确认已恢复"
    week2 = write_record_xlsx(tmp_path / "in" / "张工_0610.xlsx", rows)
    result = merge([week2], register, form, policy, now=START + timedelta(days=7))
    assert (result.updated, result.unchanged, result.edit_conflicts) == (1, 1, 0)
    got = register_records(register)[ids[0]]
    assert (got["owner"], got["feedback"]) == ("主管指派", "客户确认已恢复")
    state = read_state(register, policy).state
    assert state is not None and {s for _r, s in state.entries} == {"张工_0610.xlsx"}


def test_a_conflict_shows_the_last_merged_text_from_a_backup(tmp_path, form, policy):
    rows = record_rows(1)
    rows[0]["analysis"] = "初步判断：缓存问题"
    src = submission(tmp_path, rows)
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    (rid,) = register_records(register)
    merge([src], register, form, policy, now=START + timedelta(days=1))  # a backup holds it
    edit_register(register, {rid: {"analysis": "主管：已确认是网络问题"}})
    rows[0]["record_id"] = rid
    rows[0]["analysis"] = "员工：更新了缓存配置"
    write_record_xlsx(src, rows)
    result = merge([src], register, form, policy, now=START + timedelta(days=2))
    assert result.edit_conflicts == 1
    ((label, message),) = fix_list(register)
    assert label == "问题分析过程"
    for value in ("初步判断：缓存问题", "主管：已确认是网络问题", "员工：更新了缓存配置"):
        assert f"“{value}”" in message
    # without any backup, the overwritten free text cannot be shown, and the line says so
    for backup in tmp_path.glob("总台账.bak-*.xlsx"):
        backup.unlink()
    result = merge([src], register, form, policy, now=START + timedelta(days=3), keep=0)
    ((label, message),) = fix_list(register)
    assert "未保存原值" in message and "初步判断" not in message


def test_a_contact_conflict_shows_masked_values_only(tmp_path, form, policy):
    rows = record_rows(1)
    src = submission(tmp_path, rows)
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    (rid,) = register_records(register)
    merge([src], register, form, policy, now=START)  # a backup holding the merged contact
    edit_register(register, {rid: {"contact": "13700001111"}})  # typed in raw by hand
    rows[0].update(record_id=rid, contact=CANARY_PHONE)
    write_record_xlsx(src, rows)
    result = merge([src], register, form, policy, now=START, lang="zh")
    ((label, message),) = fix_list(register)
    assert label == "联系方式" and result.edit_conflicts == 1
    assert "“138****8000”" in message and "“****1111”" in message and "“****5678”" in message
    with zipfile.ZipFile(register) as z:
        for name in z.namelist():
            data = z.read(name)
            assert CANARY_PHONE.encode() not in data and b"13700001111" not in data


def test_a_customer_corrected_by_hand_is_kept_not_a_clash(tmp_path, form, policy):
    rows = record_rows(1)
    src = submission(tmp_path, rows)
    register = tmp_path / "总台账.xlsx"
    merge([src], register, form, policy, now=START)
    (rid,) = register_records(register)
    edit_register(register, {rid: {"customer": "示例客户01（更正）/C0001"}})
    rows[0].update(record_id=rid, feedback="已回访")
    write_record_xlsx(src, rows)
    result = merge([src], register, form, policy, now=START)
    assert (result.rejected_rows, result.updated) == (0, 1)
    got = register_records(register)[rid]
    assert (got["customer"], got["feedback"]) == ("示例客户01（更正）/C0001", "已回访")
    # a row whose customer differs from what was merged is still refused as another record
    rows[0]["customer"] = "别的客户/C0999"
    write_record_xlsx(src, rows)
    result = merge([src], register, form, policy, now=START)
    assert result.rejected_rows == 1 and fix_list(register, "duplicate-id")
