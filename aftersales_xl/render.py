"""Render a :class:`Report` for people (text, grouped per file) or machines (JSON = ``to_dict()``)."""

from __future__ import annotations

import json

from .findings import ERROR, Report

_WORDS = {
    "zh": {"error": "错误", "warning": "警告", "ok": "通过", "fail": "未通过", "unreadable": "无法读取",
           "rows": "条记录", "summary": "共 {files} 个文件：{valid} 个通过，{errors} 个错误，{warnings} 个警告",
           "annotated": "已写出批注副本", "none": "没有发现问题"},
    "en": {"error": "error", "warning": "warning", "ok": "OK", "fail": "FAILED", "unreadable": "UNREADABLE",
           "rows": "records", "summary": "{files} files: {valid} valid, {errors} errors, {warnings} warnings",
           "annotated": "annotated copy", "none": "no findings"},
}


def render_json(report: Report) -> str:
    """Exactly the library's report dict (the JSON contract in the brief)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def render_text(report: Report, lang: str = "zh") -> str:
    """One block per file: a status line, then one line per finding."""
    w = _WORDS["en" if lang == "en" else "zh"]
    lines: list[str] = []
    for f in report.files:
        state = w["unreadable"] if f.unreadable else (w["ok"] if f.valid else w["fail"])
        head = f"{f.path}: {state}"
        if not f.unreadable:
            head += f" ({f.rows} {w['rows']}"
            if f.errors or f.warnings:
                head += f", {f.errors} {w['error']}, {f.warnings} {w['warning']}"
            head += ")"
        lines.append(head)
        for finding in f.findings:
            tag = w["error"] if finding.severity == ERROR else w["warning"]
            lines.append(f"  [{tag}] {finding.message}  ({finding.code})")
        for note in f.notes:
            lines.append(f"  * {note}")
        if f.annotated:
            lines.append(f"  → {w['annotated']}: {f.annotated}")
    s = report.to_dict()["summary"]
    lines.append(w["summary"].format(**s))
    return "\n".join(lines)


def render_merge(result, lang: str = "zh") -> str:
    """The merge summary: one line per submission, then the counts and where things went."""
    en = lang == "en"
    lines = []
    for f in result.report.files:
        if f.unreadable:
            lines.append(f"{f.path}: {f.findings[0].message}")
        else:
            lines.append(f"{f.path}: {f.rows} " + ("records" if en else "条记录")
                         + (f", {f.errors} errors" if en else f"，{f.errors} 个错误") * bool(f.errors))
        if f.annotated:
            lines.append(("  → annotated copy: " if en else "  → 批注副本：") + f.annotated)
    masked = sum(result.masked.values())
    if en:
        lines.append(f"{result.files} files: {result.added} added, {result.updated} updated, "
                     f"{result.unchanged} unchanged, {result.rejected_rows} rejected, "
                     f"{result.conflicts} in conflict, {masked} cells masked, {result.assigned} IDs assigned")
        lines.append(f"register: {result.register} ({result.total} records)")
        if result.rejected_rows or result.conflicts:
            lines.append("rows kept out are listed in the 待修正 sheet")
        if result.backup:
            lines.append(f"previous version kept as {result.backup}")
    else:
        lines.append(f"共 {result.files} 个文件：新增 {result.added}，更新 {result.updated}，未变 {result.unchanged}，"
                     f"退回 {result.rejected_rows}，冲突 {result.conflicts}，脱敏 {masked} 处，编号 {result.assigned} 条")
        lines.append(f"总台账：{result.register}（共 {result.total} 条）")
        if result.rejected_rows or result.conflicts:
            lines.append("未合并的行见总台账的“待修正”工作表")
        if result.backup:
            lines.append(f"上一版已备份为 {result.backup}")
    lines.extend(f"* {n}" for n in result.notes)
    return "\n".join(lines)
