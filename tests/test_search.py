"""xlcheck search: ranking solved records of a real register, the cache beside it, the
one-line answers for an empty register / nothing solved / a punctuation-only query, and the
privacy canary (raw contact data typed into the register never reaches stdout, stderr or JSON)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from builders import record_row
from click.testing import CliRunner
from retrieval_set import planted_rows, queries

from aftersales_xl.cli import cli
from aftersales_xl.forms import load_form
from aftersales_xl.jobs import search as search_job
from aftersales_xl.jobs.search import EmptyQueryError, cache_path, search
from aftersales_xl.writing.register import with_sla_columns, write_register

NOW = datetime(2024, 6, 10, 12, 0)
PHONE, EMAIL, IDCARD = "13800138000", "zhang.san@example.com", "11010519491231002X"
CANARIES = (PHONE, EMAIL, IDCARD, "张三丰")


def register_frame(rows: list[dict]) -> pd.DataFrame:
    """A typed register frame of ``rows`` (field-key dicts over :func:`record_row`): IDs
    FW<received date><seq>, provenance filled in."""
    full = [record_row(**r) for r in rows]
    seq: dict[str, int] = {}
    for r in full:
        day = r["received_at"].strftime("%Y%m%d")
        seq[day] = seq.get(day, 0) + 1
        r["record_id"] = r["record_id"] or f"FW{day}{seq[day]:03d}"
    frame = pd.DataFrame(full, columns=load_form().keys)
    frame["source_file"] = "第1组.xlsx"
    frame["source_row"] = range(2, len(frame) + 2)
    frame["merged_at"] = NOW - timedelta(hours=3)
    for key in ("occurred_at", "received_at", "resolved_at", "due_at", "merged_at"):
        frame[key] = pd.to_datetime(frame[key]).astype("datetime64[us]")
    for key in ("satisfaction", "source_row"):
        frame[key] = pd.to_numeric(frame[key]).astype("Int64")
    for key in frame.columns:
        if frame[key].dtype == object:
            frame[key] = frame[key].astype("str")
    return frame


def write_planted(path: Path, rows: list[dict], policy, form) -> Path:
    """Write ``rows`` as a real register with the project's register writer."""
    frame = register_frame(rows)
    write_register(path, with_sla_columns(frame, policy, NOW), form=form, policy=policy, now=NOW)
    return path


def plant_raw_contact(path: Path, row: int = 2) -> None:
    """Type raw contact data into 总台账 by hand (as a supervisor might): description of
    ``row``, and 联系人 / 联系方式."""
    wb = openpyxl.load_workbook(path)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    col = {label: header.index(label) + 1 for label in ("问题描述", "联系人", "联系方式")}
    desc = ws.cell(row, col["问题描述"])
    desc.value = f"{desc.value}，回电 {PHONE} / {EMAIL} / 身份证 {IDCARD}"
    ws.cell(row, col["联系人"]).value = "张三丰"
    ws.cell(row, col["联系方式"]).value = PHONE
    wb.save(path)


@pytest.fixture
def planted(tmp_path, policy, form) -> tuple[Path, list[str | None]]:
    rows, keys = planted_rows()
    return write_planted(tmp_path / "总台账.xlsx", rows, policy, form), keys


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_top_hits_are_the_right_problem_on_a_real_register(planted, policy, form):
    path, keys = planted
    by_id = {f"row{i}": k for i, k in enumerate(keys)}
    result = search(path, "定位失败 打卡", form, policy)
    assert result.cache == "built" and len(result.hits) == 5
    descs = [h.description for h in result.hits[:4]]
    rows, _ = planted_rows()
    gps = {r["description"] for r, k in zip(rows, keys, strict=True) if k == "gps"}
    assert set(descs) == gps
    first = result.hits[0]
    assert first.status == "已解决" and first.module == "考勤打卡"
    assert first.solution and first.resolved_at and first.satisfaction in (3, 4, 5)
    assert by_id  # the planted keys line up with the rows


def test_word_order_and_width_give_the_same_ranking(planted, policy, form):
    path, _ = planted
    """Bigrams across a word boundary (卡定) change scores slightly, never the match: the
    four records of the problem come first whichever way the query is written."""
    ids = [{h.record_id for h in search(path, q, form, policy, top=4).hits} for q in
           ("打卡定位失败", "定位失败 打卡", "打卡，定位失败！", "ＡＰＰ 打卡 定位 失败", "打卡定为失败")]  # fmt: skip
    assert all(found == ids[0] for found in ids) and len(ids[0]) == 4


def test_retrieval_quality_through_the_register(planted, policy, form):
    """The shipped queries against the register as written and read back: ≥ 90 % top-3."""
    path, keys = planted
    rows, _ = planted_rows()
    key_of = {}
    frame = register_frame(rows)
    for rid, key in zip(frame["record_id"], keys, strict=True):
        key_of[rid] = key
    hits = 0
    for q, key in queries():
        top = [key_of[h.record_id] for h in search(path, q, form, policy, top=3).hits]
        hits += key in top
    assert hits / len(queries()) >= 0.9


def test_cache_is_reused_and_rebuilt_when_the_register_changes(planted, policy, form):
    path, _ = planted
    assert search(path, "退款没到账", form, policy).cache == "built"
    cache = cache_path(path)
    assert cache.name == ".总台账.xlsx.search-cache" and cache.is_file()
    assert search(path, "退款没到账", form, policy).cache == "reused"
    wb = openpyxl.load_workbook(path)
    ws = wb["总台账"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("问题描述") + 1).value = "独一无二的测试描述甲乙丙"
    wb.save(path)
    result = search(path, "甲乙丙", form, policy)
    assert result.cache == "built" and result.hits[0].description == "独一无二的测试描述甲乙丙"
    cache.write_bytes(b"not a cache")  # a broken or planted cache is rebuilt, never trusted
    assert search(path, "甲乙丙", form, policy).cache == "built"
    cache.unlink()
    assert search(path, "甲乙丙", form, policy).cache == "built"


def test_only_solved_records_unless_open(tmp_path, policy, form):
    rows = [
        {"description": "打印机卡纸", "status": "处理中", "solution": None, "resolved_at": None,
         "satisfaction": None, "analysis": None},
        {"description": "打印机卡纸无法打印", "status": "已关闭"},
        {"description": "账号锁定"},
    ]  # fmt: skip
    path = write_planted(tmp_path / "台账.xlsx", rows, policy, form)
    solved = search(path, "打印机卡纸", form, policy)
    assert [h.description for h in solved.hits] == ["打印机卡纸无法打印"]
    assert solved.candidates == 2
    both = search(path, "打印机卡纸", form, policy, include_open=True)
    assert [h.status for h in both.hits] == ["处理中", "已关闭"]


def test_module_and_type_filters(planted, policy, form):
    path, _ = planted
    hits = search(path, "失败", form, policy, module="登录", top=50).hits
    assert hits and {h.module for h in hits} == {"登录模块"}
    hits = search(path, "怎么", form, policy, problem_type="功能咨询", top=50).hits
    assert hits and {h.problem_type for h in hits} == {"功能咨询"}
    none = search(path, "失败", form, policy, module="不存在的模块")
    assert none.hits == [] and "--module" in none.message


def test_empty_register_no_solved_records_and_punctuation_query(tmp_path, policy, form):
    empty = write_planted(tmp_path / "空.xlsx", [], policy, form)
    assert "还没有记录" in search(empty, "打卡", form, policy).message
    open_only = write_planted(
        tmp_path / "未结.xlsx",
        [{"status": "处理中", "solution": None, "resolved_at": None, "satisfaction": None}],
        policy,
        form,
    )
    message = search(open_only, "登录", form, policy).message
    assert "1 条记录都还没有已解决、已关闭" in message and "--open" in message
    with pytest.raises(EmptyQueryError):
        search(open_only, "，。！？", form, policy)


def test_cli_one_line_answers_without_traceback(tmp_path, policy, form):
    empty = write_planted(tmp_path / "空.xlsx", [], policy, form)
    res = run("search", "打卡", "--register", str(empty))
    assert res.exit_code == 0 and res.output.strip().count("\n") == 0
    assert "还没有记录" in res.output
    res = run("search", "？！…", "--register", str(empty))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "没有可匹配的文字" in res.output and res.output.strip().count("\n") == 0
    res = run("search", "打卡", "--register", str(tmp_path / "没有.xlsx"))
    assert res.exit_code == 2 and "找不到总台账" in res.output
    res = run("search", "nothing", "--register", str(empty), "--lang", "en")
    assert res.exit_code == 0 and "holds no records" in res.output


def test_cli_text_and_json(planted):
    path, _ = planted
    res = run("search", "退款 没到账", "--register", str(path), "--top", "2")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    n = len(planted_rows()[0])
    assert lines[0].startswith(f"“退款 没到账”：在 {n} 条记录中找到 2 条相似记录")
    assert lines[1].startswith("1. FW2024") and "支付结算 / 技术故障" in lines[1]
    assert "解决时间 2024-" in lines[1] and "满意度" in lines[1]
    assert lines[2].startswith("   问题：") and lines[3].startswith("   方案：")
    res = run("search", "退款 没到账", "--register", str(path), "--format", "json")
    doc = json.loads(res.output)
    assert doc["cache"] == "reused" and len(doc["results"]) == 5
    first = doc["results"][0]
    assert set(first) == {"rank", "score", "record_id", "module", "problem_type", "status",
                          "description", "solution", "resolved_at", "satisfaction"}  # fmt: skip
    assert first["module"] == "支付结算" and first["rank"] == 1


def test_canary_raw_contact_data_never_reaches_the_output(planted):
    path, _ = planted
    plant_raw_contact(path)
    runner = CliRunner()
    outputs = []
    for fmt in ("text", "json"):
        res = runner.invoke(
            cli, ["search", "定位失败", "--register", str(path), "--format", fmt, "--top", "50"]
        )
        assert res.exit_code == 0
        outputs += [res.stdout, res.stderr]
    assert "****8000" in outputs[0]  # the record is found, its phone masked
    for text in outputs:
        for canary in CANARIES:
            assert canary not in text


def test_query_without_index_terms_scores_nothing(planted, policy, form):
    path, _ = planted
    result = search(path, "zzzqqq", form, policy)
    assert result.hits == [] and "没有找到相似的记录" in result.message


def test_top_ties_keep_register_order():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 0.5])
    assert search_job._top(scores, 3) == [1, 3, 2]
    assert search_job._top(np.zeros(3), 3) == []
