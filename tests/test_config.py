"""Policy file: defaults from the seeds, an xlcheck.toml overriding every section, bad files
named by key, and ``xlcheck config show``."""

from __future__ import annotations

import tomllib
from datetime import date, time
from pathlib import Path

import pytest
from click.testing import CliRunner

from aftersales_xl.cli import cli
from aftersales_xl.config import Policy, Target, load_policy, parse_target, policy_to_toml
from aftersales_xl.errors import ConfigError

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")

EVERYTHING = """\
[lists]
channel = ["电话", "邮件", "企业微信"]
problem_type = ["技术故障", "其他"]
severity = ["P0", "P1", "P2", "P3", "P4"]
status = ["新建", "处理中", "已完成", "已关闭"]

[status]
done = ["已完成", "已关闭"]
pending = "新建"

[ids]
scheme = "monthly"
prefix = "SH"
digits = 4

[mask]
char = "#"
name_keep = 0
phone_keep_last = 3
email_keep = 2

[sla.P0]
respond = "0.5h"
resolve = "8h"

[sla.P1]
respond = 2
resolve = "3wd"

[sla.P2]
respond = "48h"
resolve = ""

[sla.P3]
resolve = "30wd"

[sla.P4]
respond = "1wd"

[calendar]
extra_holidays = ["2024-12-31", 2024-12-30]
extra_workdays = ["2024-10-05"]

[working_hours]
start = "08:30"
end = "17:30"

[daily]
first_response_hours = 1
closure_rate_min = 90
csat_min = 85.5
bad_review_max = 10.0

[satisfaction]
good = [5]
bad = [1, 2, 3]
follow_up_max = 2

[limits]
max_file_mb = 50
max_zip_members = 100
max_uncompressed_mb = 512
max_compression_ratio = 50
max_cells = 1000000
max_merged_cells = 500000
max_annotate_cells = 800000
"""


def write(tmp_path: Path, text: str, name: str = "xlcheck.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_the_seeds(policy) -> None:
    assert policy.source == "defaults"
    assert policy.allowed("severity") == ["P0", "P1", "P2", "P3"]
    assert policy.allowed("channel") == ["电话", "在线客服", "邮件", "现场", "公众号", "其他"]
    assert policy.done_statuses == ["已解决", "已关闭"]
    assert policy.pending_status == "待处理"
    assert (policy.id_scheme, policy.id_prefix, policy.id_digits) == ("daily", "FW", 3)
    targets = {
        sev: (policy.sla_target(sev, "respond"), policy.sla_target(sev, "resolve"))
        for sev in ["P0", "P1", "P2", "P3"]
    }
    assert targets == {
        "P0": (Target(1, "h"), Target(24, "h")),
        "P1": (Target(4, "h"), Target(72, "h")),
        "P2": (Target(24, "h"), Target(5, "wd")),
        "P3": (None, None),
    }
    assert policy.working_hours == (time(9), time(18))
    assert policy.extra_holidays == frozenset() == policy.extra_workdays
    assert dict(policy.daily) == {
        "first_response_hours": 2,
        "closure_rate_min": 95.0,
        "csat_min": 80.0,
        "bad_review_max": 15.0,
    }
    assert dict(policy.satisfaction) == {"good": [4, 5], "bad": [1, 2], "follow_up_max": 3}


def test_xlcheck_toml_in_the_current_folder_overrides_every_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, EVERYTHING)
    monkeypatch.chdir(tmp_path)
    p = load_policy()
    assert p.source == "xlcheck.toml"
    # [lists] and [status]
    assert p.allowed("channel") == ["电话", "邮件", "企业微信"]
    assert p.allowed("problem_type") == ["技术故障", "其他"]
    assert p.allowed("severity") == ["P0", "P1", "P2", "P3", "P4"]
    assert p.allowed("status") == ["新建", "处理中", "已完成", "已关闭"]
    assert (p.done_statuses, p.pending_status) == (["已完成", "已关闭"], "新建")
    # [ids] and [mask]
    assert (p.id_scheme, p.id_prefix, p.id_digits) == ("monthly", "SH", 4)
    assert dict(p.mask) == {"char": "#", "name_keep": 0, "phone_keep_last": 3, "email_keep": 2}
    # [sla.*]: changed, given as a bare number of hours, switched off, added, new severity
    assert [
        (sev, str(p.sla_target(sev, "respond")), str(p.sla_target(sev, "resolve")))
        for sev in p.allowed("severity")
    ] == [
        ("P0", "0.5h", "8h"),
        ("P1", "2h", "3wd"),
        ("P2", "48h", "None"),
        ("P3", "None", "30wd"),
        ("P4", "1wd", "None"),
    ]
    # [calendar] (text and TOML dates) and [working_hours]
    assert p.extra_holidays == {date(2024, 12, 31), date(2024, 12, 30)}
    assert p.extra_workdays == {date(2024, 10, 5)}
    assert p.working_hours == (time(8, 30), time(17, 30))
    # [daily], [satisfaction], [limits]
    assert dict(p.daily) == {
        "first_response_hours": 1,
        "closure_rate_min": 90.0,
        "csat_min": 85.5,
        "bad_review_max": 10.0,
    }
    assert isinstance(p.daily["closure_rate_min"], float)
    assert dict(p.satisfaction) == {"good": [5], "bad": [1, 2, 3], "follow_up_max": 2}
    assert dict(p.limits) == {
        "max_file_mb": 50,
        "max_zip_members": 100,
        "max_uncompressed_mb": 512,
        "max_compression_ratio": 50,
        "max_cells": 1_000_000,
        "max_merged_cells": 500_000,
        "max_annotate_cells": 800_000,
        "max_merged_ranges": 20_000,  # not in the file: the default
    }


def test_partial_file_keeps_the_other_defaults(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, '[sla.P1]\nresolve = "3wd"\n', "team.toml"))
    assert p.source.endswith("team.toml")
    assert str(p.sla_target("P1", "resolve")) == "3wd"
    assert str(p.sla_target("P1", "respond")) == "4h"
    assert p.allowed("status") == ["待处理", "处理中", "已解决", "已关闭", "升级处理"]


def test_dropping_a_severity_drops_its_default_targets(tmp_path: Path) -> None:
    p = load_policy(write(tmp_path, '[lists]\nseverity = ["P0", "P1", "P2"]\n'))
    assert sorted(p.raw["sla"]) == ["P0", "P1", "P2"]


def test_explicit_path_wins_and_cwd_search_can_be_off(tmp_path, monkeypatch) -> None:
    write(tmp_path, '[ids]\nprefix = "CWD"\n')
    other = write(tmp_path, '[ids]\nprefix = "ARG"\n', "other.toml")
    monkeypatch.chdir(tmp_path)
    assert load_policy().id_prefix == "CWD"
    assert load_policy(other).id_prefix == "ARG"
    assert load_policy(search_cwd=False).id_prefix == "FW"


BAD_FILES = [
    # (file text, words both messages keep verbatim — key, value, allowed values —,
    #  words of the Chinese message (the default), words of the English one)
    ("[ids]\nschem = \"daily\"\n", ["'ids.schem'", "digits, prefix, scheme"], ["未知设置", "此处允许"], ["unknown setting", "allowed here"]),
    ("[colours]\nred = 1\n", ["'colours'", "calendar", "working_hours"], ["此处允许"], ["allowed here"]),
    ("[sla.P0]\nrespnd = \"1h\"\n", ["'sla.P0.respnd'", "resolve, respond"], ["此处允许"], ["allowed here"]),
    ("[sla.P5]\nrespond = \"1h\"\n", ["sla.P5", "P0, P1, P2, P3"], ["严重程度"], ["not a severity"]),
    ("[ids]\ndigits = \"3\"\n", ["ids.digits", '"3"'], ["整数"], ["whole number"]),
    ("[ids]\ndigits = 3.5\n", ["ids.digits", "3.5"], ["整数"], ["whole number"]),
    ("[daily]\ncsat_min = \"80\"\n", ["daily.csat_min", '"80"', "80.0"], ["数字"], ["a number"]),
    ("[lists]\nchannel = \"电话\"\n", ["lists.channel", '"电话"'], ["列表"], ["a list"]),
    ("[mask]\nname_keep = true\n", ["mask.name_keep", "true"], ["整数"], ["whole number"]),
    ("[working_hours]\nstart = 9\n", ["working_hours.start", '"09:00"'], ["带引号的文字"], ["text in quotes"]),
    ("[sla.P2]\nresolve = \"5days\"\n", ["sla.P2.resolve", "5days", '"<N>h"', '"<N>wd"'], ["工作日"], ["working days"]),
    ("[sla.P2]\nresolve = \"5.5wd\"\n", ["sla.P2.resolve", "5.5wd", '"5wd"'], ["整数"], ["whole number"]),
    ("[sla.P0]\nrespond = \"-1h\"\n", ["sla.P0.respond", "-1h", '"<N>h"'], ["请写成"], ["use"]),
    ("[sla.P0]\nrespond = \"nanh\"\n", ["sla.P0.respond", "nanh", '"<N>h"'], ["请写成"], ["use"]),
    ("[sla]\nP0 = \"1h\"\n", ["sla.P0", "[sla.P0]"], ["表"], ["table"]),
    ("[calendar]\nextra_holidays = [\"2024-13-01\"]\n", ["calendar.extra_holidays", "2024-13-01", "YYYY-MM-DD"], ["不是日期"], ["not a date"]),
    ("[calendar]\nextra_workdays = [\"10/5/2024\"]\n", ["calendar.extra_workdays", "10/5/2024", "YYYY-MM-DD"], ["不是日期"], ["not a date"]),
    ("[calendar]\nextra_holidays = [2024-12-31T00:00:00]\n", ["calendar.extra_holidays", "YYYY-MM-DD"], ["不是日期"], ["not a date"]),
    ("[calendar]\nextra_holidays = [\"2024-10-05\"]\nextra_workdays = [\"2024-10-05\"]\n",
     ["calendar", "2024-10-05", "extra_holidays", "extra_workdays"], ["同时在"], ["in both"]),
    ("[working_hours]\nstart = \"9点\"\n", ["working_hours.start", "9点", "HH:MM"], ["本地时间"], ["local time"]),
    ("[working_hours]\nstart = \"19:00\"\n", ["working_hours", '"19:00"', '"18:00"'], ["早于"], ["earlier"]),
    ("[ids]\nscheme = \"weekly\"\n", ["ids.scheme", '"weekly"', '"daily", "monthly"'], ["允许的值"], ["allowed values"]),
    ("[status]\npending = \"新建\"\n", ["status.pending", '"新建"', "lists.status", "待处理, 处理中"], ["不在"], ["is not in"]),
    ("[mask]\nchar = \"**\"\n", ["mask.char", '"**"', '"*"', '"＊"', '"×"'], ["一个", "符号"], ["one symbol"]),
    ("[satisfaction]\ngood = [4, 6]\n", ["satisfaction.good", "1-5", "[4, 5]"], ["评分"], ["ratings"]),
    ("[satisfaction]\nbad = [3, 4]\n", ["satisfaction", "good", "bad"], ["评分 4"], ["rating 4"]),
    ("[satisfaction]\nfollow_up_max = 9\n", ["satisfaction.follow_up_max"], ["0 到 5"], ["0 and 5"]),
    ("[daily]\nclosure_rate_min = 120\n", ["daily.closure_rate_min"], ["0 到 100"], ["0 and 100"]),
    ("[limits]\nmax_cells = 0\n", ["limits.max_cells"], ["正数"], ["positive"]),
    ("[ids\nscheme = 1\n", ["TOML", "line 1"], ["不是有效的 TOML"], ["not valid TOML"]),
    ("[lists]\nchanel = [\"电话\"]\n", ["'lists.chanel'", "channel, problem_type"], ["此处允许"], ["allowed here"]),
    ("[sla.P2]\nresolve = \"70000wd\"\n", ["sla.P2.resolve", "70000wd", '"366wd"'], ["超过一年"], ["longer than a year"]),
    ("[sla.P2]\nresolve = \"1e30h\"\n", ["sla.P2.resolve", "1e30h"], ["超过一年"], ["longer than a year"]),
    ("[sla.P2]\nresolve = 3000000\n", ["sla.P2.resolve", "3000000", '"<N>h"'], ["请写成"], ["use"]),
    ("[working_hours]\nstart = \"09:00+08:00\"\n", ["working_hours.start", "09:00+08:00", "HH:MM"], ["本地时间"], ["local time"]),
    ("[mask]\nchar = \"8\"\n", ["mask.char", '"8"'], ["不能是字母、数字"], ["not a letter, digit"]),
    ("[mask]\nchar = \"\\u0000\"\n", ["mask.char", '"\\u0000"'], ["一个", "符号"], ["one symbol"]),
    ("[mask]\nphone_keep_last = 11\n", ["mask.phone_keep_last"], ["0 到 4"], ["0 to 4"]),
    ("[status]\ndone = []\n", ["status.done", "lists.status"], ["至少"], ["at least one"]),
    ("[calendar]\ncovered_years = [\"2027\"]\n", ["calendar.covered_years", "[2027]"], ["年份"], ["years"]),
]  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("text", "both", "zh", "en"), BAD_FILES)
def test_bad_config_names_the_key_and_what_is_allowed(
    tmp_path, text: str, both, zh, en, lang: str
) -> None:
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(ConfigError) as exc:
        load_policy(path) if lang == "zh" else load_policy(path, lang="en")
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ")
    assert "\n" not in msg
    for word in both + (zh if lang == "zh" else en):
        assert word in msg


@pytest.mark.parametrize(
    ("lang", "words"),
    [("zh", ["找不到配置文件", "路径"]), ("en", ["config file not found", "path"])],
)
def test_missing_config_file(tmp_path: Path, lang: str, words) -> None:
    with pytest.raises(ConfigError) as exc:
        load_policy(tmp_path / "nope.toml", lang=lang)
    assert str(exc.value).startswith(f"{tmp_path / 'nope.toml'}: ")
    assert all(word in str(exc.value) for word in words)
    with pytest.raises(ConfigError, match="是文件夹"):
        load_policy(tmp_path)


@pytest.mark.parametrize(
    ("spec", "target"),
    [("4h", Target(4, "h")), (" 72H ", Target(72, "h")), ("0.5h", Target(0.5, "h")),
     ("5wd", Target(5, "wd")), (24, Target(24, "h")), (1.5, Target(1.5, "h"))],
)  # fmt: skip
def test_parse_target(spec, target: Target) -> None:
    assert parse_target(spec) == target


# -- xlcheck config show ---------------------------------------------------------------


def test_policy_to_toml_round_trips(tmp_path: Path) -> None:
    original = load_policy(write(tmp_path, EVERYTHING, "in.toml"))
    shown = policy_to_toml(original)
    again = load_policy(write(tmp_path, shown, "out.toml"))
    assert tomllib.loads(shown)["ids"]["prefix"] == "SH"
    assert again.raw == original.raw
    for sev in original.allowed("severity"):
        for kind in ("respond", "resolve"):
            assert again.sla_target(sev, kind) == original.sla_target(sev, kind)
    assert again.extra_holidays == original.extra_holidays
    assert again.working_hours == original.working_hours


def test_policy_with_chinese_severities_and_odd_text_round_trips(tmp_path: Path) -> None:
    text = (
        '[lists]\nseverity = ["高", "中", "P 3"]\nchannel = ["电话\\n微信", "引号\\"和\\\\", "删\\u007f"]\n'
        '[sla."高"]\nrespond = "1h"\n[sla."P 3"]\nresolve = "5wd"\n'
    )
    original = load_policy(write(tmp_path, text, "in.toml"))
    again = load_policy(write(tmp_path, policy_to_toml(original), "out.toml"))
    assert again.raw == original.raw
    assert again.allowed("channel") == ["电话\n微信", '引号"和\\', "删\x7f"]
    assert again.sla_target("高", "respond") == Target(1.0, "h")


def test_config_saved_with_a_bom_or_in_gbk(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff[satisfaction]\nfollow_up_max = 2\n".encode())
    assert load_policy(path).satisfaction["follow_up_max"] == 2
    path.write_bytes('[ids]\nprefix = "售后"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="请另存为 UTF-8"):
        load_policy(path)
    with pytest.raises(ConfigError, match="save it as UTF-8"):
        load_policy(path, lang="en")


def test_whole_hours_and_toml_times_are_accepted(tmp_path: Path) -> None:
    text = "[daily]\nfirst_response_hours = 1.5\n[working_hours]\nstart = 08:30:00\n"
    policy = load_policy(write(tmp_path, text, "t.toml"))
    assert policy.daily["first_response_hours"] == 1.5
    assert policy.working_hours[0] == time(8, 30)


def test_cli_config_show_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("# policy in force (source: defaults)\n")
    shown = tomllib.loads(result.stdout)
    assert shown["sla"]["P2"] == {"respond": "24h", "resolve": "5wd"}
    assert shown["sla"]["P3"] == {}
    assert shown["satisfaction"]["good"] == [4, 5]
    assert shown["working_hours"] == {"start": "09:00", "end": "18:00"}


def test_cli_config_show_with_config(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[sla.P1]\nresolve = "3wd"\n[mask]\nchar = "#"\n', "team.toml")
    result = CliRunner().invoke(cli, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["sla"]["P1"] == {"respond": "4h", "resolve": "3wd"}
    assert shown["mask"]["char"] == "#"
    assert f"source: {cfg}" in result.stdout


def test_cli_config_show_picks_up_xlcheck_toml(tmp_path, monkeypatch) -> None:
    write(tmp_path, '[ids]\nprefix = "SH"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["config", "show"])
    assert tomllib.loads(result.stdout)["ids"]["prefix"] == "SH"


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ('[sla.P2]\nresolve = "5days"\n', ["sla.P2.resolve", "请写成"], ["sla.P2.resolve", "use"]),
        ('[ids]\nscheme = "weekly"\n', ["ids.scheme", "允许的值"], ["ids.scheme", "allowed values"]),
        ("[colour]\nx = 1\n", ["'colour'", "此处允许"], ["'colour'", "allowed here"]),
        ("[calendar]\nextra_holidays = [\"2024-13-01\"]\n", ["2024-13-01", "不是日期"], ["2024-13-01", "not a date"]),
        ('[working_hours]\nend = "18点"\n', ["working_hours.end", "本地时间"], ["working_hours.end", "local time"]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", [["config", "show"], ["template", "-o", "t.xlsx"]])
def test_cli_bad_file_exits_2_in_the_language_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command, text: str, zh, en
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text, "bad.toml")
    for lang, words in (([], zh), (["--lang", "zh"], zh), (["--lang", "en"], en)):
        result = CliRunner().invoke(cli, [*command, "--config", "bad.toml", *lang])
        assert result.exit_code == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("xlcheck: bad.toml: ")
        for word in words:
            assert word in lines[0]
    assert not (tmp_path / "t.xlsx").exists()


def test_cli_config_show_bad_file_prints_the_readme_line(tmp_path, monkeypatch) -> None:
    """The two lines the README shows, word for word: Chinese by default, English on request."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[ids]\nscheme = "weekly"\n', "bad.toml")
    zh = CliRunner().invoke(cli, ["config", "show", "--config", "bad.toml"])
    en = CliRunner().invoke(cli, ["config", "show", "--config", "bad.toml", "--lang", "en"])
    assert zh.stderr == 'xlcheck: bad.toml: ids.scheme = "weekly"：允许的值为 "daily", "monthly"\n'
    assert (
        en.stderr
        == 'xlcheck: bad.toml: ids.scheme = "weekly": allowed values are "daily", "monthly"\n'
    )
    for result in (zh, en):
        assert result.exit_code == 2
        assert isinstance(result.exception, SystemExit)  # no traceback, no internal error
        assert "Traceback" not in result.output
        assert result.stderr.strip() in README


def test_cli_config_show_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["config", "show", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "xlcheck config show" in result.stdout


def test_lazily_parsed_properties_carry_both_languages(policy) -> None:
    """A Policy built by hand (not through load_policy) still fails in one line, both texts."""
    raw = {**policy.raw, "working_hours": {"start": "9点", "end": "18:00"}}
    with pytest.raises(ConfigError) as exc:
        Policy(raw=raw).working_hours  # noqa: B018
    assert str(exc.value) == exc.value.zh
    assert "working_hours.start" in exc.value.zh and "本地时间" in exc.value.zh
    assert "working_hours.start" in exc.value.en and "local time" in exc.value.en
