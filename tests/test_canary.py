"""The privacy canary: raw contact data planted everywhere in the input never leaves the tool.

A phone number, an email and an ID-card number are put into a file name, a sheet name, a
header, a cell comment, hyperlinks and free text (and a full name into 联系人); then every
command runs on those workbooks through the real CLI, and everything it produced is scanned:
stdout, stderr, the JSON document, the names of the files it wrote and every part of every
workbook it wrote. The count of raw values found must be zero.

This proves the boundaries by construction (the terminal's ``echo``, ``XlcheckError``, the
cell writer, the annotated copy's redaction): a new command joins ``COMMANDS`` when it lands.
"""

from __future__ import annotations

import email
import email.policy
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from builders import record_row, write_record_xlsx
from click.testing import CliRunner
from openpyxl.comments import Comment

from aftersales_xl.cli import cli

PHONE = "13812345678"
EMAIL = "canary.person@example.com"
IDCARD = "11010519491231002X"  # checksum-valid
NAME = "欧阳锋锐"  # a full name typed into 联系人

#: what must never appear, in any of the forms it could take in a file or a message
RAW = {
    "phone": [PHONE, "138 1234 5678", "138-1234-5678"],
    "email": [EMAIL, "canary.person", quote(EMAIL), "canary.person%40"],
    "idcard": [IDCARD, IDCARD.lower(), "110105194912"],
    "name": [NAME, "阳锋锐"],
}


def plant(folder: Path) -> list[Path]:
    """Two submissions full of raw contact data, their file names included."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        record_row(
            contact_name=NAME,
            contact=PHONE,
            description=f"客户来电 {PHONE}，身份证 {IDCARD}，邮箱 {EMAIL}",
            feedback=f"请回邮件 {EMAIL}",
            remarks="见链接",
            satisfaction=2,
        ),
        record_row(contact_name="张三", contact=EMAIL, status="处理中", resolved_at=None,
                   satisfaction=None, solution=None, analysis=None),
    ]  # fmt: skip
    first = write_record_xlsx(folder / f"客户{PHONE}.xlsx", rows)
    wb = openpyxl.load_workbook(first)
    ws = wb["问题记录表"]
    # a header the form does not know, holding data
    col = ws.max_column + 1
    ws.cell(row=1, column=col, value=f"备用电话{PHONE}")
    ws.cell(row=2, column=col, value=f"{EMAIL} / {IDCARD}")
    # a comment and hyperlinks
    ws["I2"].comment = Comment(f"客户手机 {PHONE}，邮箱 {EMAIL}", "staff")
    ws["U2"].hyperlink = f"mailto:{EMAIL}"
    ws["U3"].value = "回拨"
    ws["U3"].hyperlink = f"tel:{PHONE}"
    # a sheet whose name and cells hold personal data
    other = wb.create_sheet(f"回访{PHONE}")
    other.append(["客户", "电话", "证件"])
    other.append(["王先生", PHONE, IDCARD])
    wb.save(first)
    second = write_record_xlsx(
        folder / f"{EMAIL}.xlsx",
        [record_row(contact=f"{PHONE}", description=f"电话 {PHONE}", customer="另一客户/C9")],
    )
    return [first, second]


def run(args: list[str]) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def produced(folder: Path) -> list[tuple[str, str]]:
    """``(where, text)`` for every file under ``folder``: its name, every part of a zip, and
    every header, body and attachment (decoded; a workbook unzipped) of an email."""
    out: list[tuple[str, str]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out.append((f"file name {path.name}", path.name))
        out += _contents(path.name, path.read_bytes())
    return out


def _contents(where: str, data: bytes) -> list[tuple[str, str]]:
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [(f"{where}!{n}", z.read(n).decode("utf-8", "replace")) for n in z.namelist()]
    if where.endswith(".eml"):
        msg = email.message_from_bytes(data, policy=email.policy.default)
        out = [(f"{where} headers", "\n".join(f"{k}: {v}" for k, v in msg.items()))]
        for i, part in enumerate(msg.walk()):
            if part.is_multipart():
                continue
            name = part.get_filename() or f"part {i} ({part.get_content_type()})"
            out.append((f"{where} {name} name", name))
            out += _contents(f"{where}/{name}", part.get_payload(decode=True) or b"")
        return out
    return [(where, data.decode("utf-8", "replace"))]


def leaks(texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(where, kind)`` of every raw value found."""
    found = []
    for where, text in texts:
        for kind, forms in RAW.items():
            if any(f in text for f in forms):
                found.append((where, kind))
    return found


def _validate(src: list[Path], out: Path) -> list[str]:
    return ["validate", *map(str, src)]


def _validate_json(src: list[Path], out: Path) -> list[str]:
    return ["validate", *map(str, src), "--format", "json"]


def _validate_en(src: list[Path], out: Path) -> list[str]:
    return ["validate", *map(str, src), "--lang", "en"]


def _annotate(src: list[Path], out: Path) -> list[str]:
    return ["validate", *map(str, src), "--annotate", str(out / "checked")]


def _mask(src: list[Path], out: Path) -> list[str]:
    return ["mask", *map(str, src), "-o", str(out / "masked")]


def _assign_ids(src: list[Path], out: Path) -> list[str]:
    return ["assign-ids", *map(str, src), "-o", str(out / "numbered")]


def _merge(src: list[Path], out: Path) -> list[str]:
    return [
        "merge", *map(str, src), "--register", str(out / "总台账.xlsx"),
        "--annotate", str(out / "checked"),
    ]  # fmt: skip


def _merge_return(src: list[Path], out: Path) -> list[str]:
    return [*_merge(src, out), "--return", str(out / "back")]


def _merge_dry_run(src: list[Path], out: Path) -> list[str]:
    _register(src, out)
    return [*_merge(src, out), "--dry-run", "--lang", "en"]


def _merge_json(src: list[Path], out: Path) -> list[str]:
    return [*_merge(src, out), "--format", "json"]


def _template(src: list[Path], out: Path) -> list[str]:
    return ["template", "record", "-o", str(out / "form.xlsx")]


def _config(src: list[Path], out: Path) -> list[str]:
    cfg = out.parent / "xlcheck.toml"
    cfg.write_text(f'[lists]\nchannel = ["电话", "热线{PHONE}", "邮件{EMAIL}"]\n', "utf-8")
    return ["config", "show", "--config", str(cfg)]


def _register(src: list[Path], out: Path) -> Path:
    """The register merged from the planted submissions (for the commands that read one)."""
    register = out / "总台账.xlsx"
    if not register.exists():
        code, _stdout, _stderr = run(["merge", *map(str, src), "--register", str(register)])
        assert code in (0, 1) and register.exists()
    return register


def _weekly(src: list[Path], out: Path) -> list[str]:
    register = _register(src, out)
    return [
        "weekly", "--register", str(register), "--week", "2024-W21",
        "--outbox", str(out / "outbox"), "--html", str(out / "preview.html"),
    ]  # fmt: skip


def _weekly_dry_run(src: list[Path], out: Path) -> list[str]:
    return [*_weekly(src, out)[:5], "--dry-run", "--format", "json"]


def _daily(src: list[Path], out: Path) -> list[str]:
    register = _register(src, out)
    return [
        "daily", "--register", str(register), "--date", "2024-05-21", "-o", str(out / "日报.xlsx"),
    ]  # fmt: skip


def _daily_json(src: list[Path], out: Path) -> list[str]:
    return [*_daily(src, out), "--format", "json"]


def _validate_daily(src: list[Path], out: Path) -> list[str]:
    code, _stdout, _stderr = run(_daily(src, out))
    assert code in (0, 1) and (out / "日报.xlsx").exists()
    return ["validate", str(out / "日报.xlsx"), "--annotate", str(out / "checked")]


def _template_daily(src: list[Path], out: Path) -> list[str]:
    return ["template", "daily", "-o", str(out / "daily.xlsx")]


def _search(src: list[Path], out: Path) -> list[str]:
    register = _register(src, out)
    return ["search", "登录 锁定", "--register", str(register), "--open"]


def _search_json(src: list[Path], out: Path) -> list[str]:
    return [*_search(src, out), "--format", "json", "--lang", "en"]


def _library(src: list[Path], out: Path) -> list[str]:
    register = _register(src, out)
    return ["library", "--register", str(register), "-o", str(out / "解决方案库.xlsx")]


COMMANDS: dict[str, Callable[[list[Path], Path], list[str]]] = {
    "validate": _validate,
    "validate --format json": _validate_json,
    "validate --lang en": _validate_en,
    "validate --annotate": _annotate,
    "mask -o": _mask,
    "assign-ids -o": _assign_ids,
    "merge": _merge,
    "merge --format json": _merge_json,
    "merge --return": _merge_return,
    "merge --dry-run": _merge_dry_run,
    "template": _template,
    "config show": _config,
    "daily": _daily,
    "daily --format json": _daily_json,
    "validate a daily report --annotate": _validate_daily,
    "template daily": _template_daily,
    "search": _search,
    "search --format json": _search_json,
    "library": _library,
    "weekly": _weekly,
    "weekly --dry-run --format json": _weekly_dry_run,
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_raw_contact_data_leaves_any_command(tmp_path, command):
    src = plant(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    args = COMMANDS[command](src, out)
    code, stdout, stderr = run(args)
    assert code in (0, 1, 2) and "Traceback" not in stdout + stderr
    # the command did its job on these files (a canary on a refusal would prove nothing)
    assert "无法读取" not in stdout and "UNREADABLE" not in stdout, stdout
    texts = [("stdout", stdout), ("stderr", stderr), *produced(out)]
    assert leaks(texts) == []
    if command != "config show":
        assert produced(out) or command.startswith("validate") and "--annotate" not in command


def test_the_canary_finds_what_it_is_looking_for(tmp_path):
    """The scan itself: the planted inputs hold every raw value (else a zero proves nothing)."""
    src = plant(tmp_path / "in")
    kinds = {kind for _, kind in leaks(produced(tmp_path / "in"))}
    assert kinds == set(RAW)
    assert {where.split("!")[0] for where, _ in leaks(produced(tmp_path / "in"))} >= {
        f"file name {p.name}" for p in src
    }
