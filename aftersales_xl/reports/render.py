"""Render a :class:`Report` for people (text, grouped per file) or machines (JSON = ``to_dict()``)."""

from __future__ import annotations

import json
from collections import Counter

from ..findings import ERROR, Report
from ..forms import FormSpec
from ..jobs.assign_ids import IdOutcome
from ..jobs.mask import MaskOutcome

_WORDS = {
    "zh": {
        "error": "错误",
        "warning": "警告",
        "errors": "错误",
        "warnings": "警告",
        "ok": "通过",
        "fail": "未通过",
        "unreadable": "无法读取",
        "rows": "条记录",
        "summary": "共 {files} 个文件：{valid} 个通过，{errors} 个错误，{warnings} 个警告",
        "annotated": "已写出批注副本",
        "none": "没有发现问题",
    },
    "en": {
        "error": "error",
        "warning": "warning",
        "errors": "errors",
        "warnings": "warnings",
        "ok": "OK",
        "fail": "FAILED",
        "unreadable": "UNREADABLE",
        "rows": "records",
        "summary": "{files}: {valid}, {errors}, {warnings}",
        "annotated": "annotated copy",
        "none": "no findings",
    },
}


def render_json(report: Report) -> str:
    """Exactly the library's report dict (the JSON contract in the brief)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def render_text(report: Report, lang: str = "zh") -> str:
    """One block per file: a status line, then one line per finding; the run's notes (e.g.
    "no holiday data for 2027") after the summary line."""
    w = _WORDS["en" if lang == "en" else "zh"]
    lines: list[str] = []
    for f in report.files:
        state = w["unreadable"] if f.unreadable else (w["ok"] if f.valid else w["fail"])
        head = f"{f.path}: {state}"
        if not f.unreadable:
            head += f" ({f.rows} {w['rows']}"
            if f.errors or f.warnings:
                head += f", {f.errors} {w['errors']}, {f.warnings} {w['warnings']}"
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
    if lang == "en":  # 1 file, 2 files
        s = {k: f"{v} {k[:-1] if v == 1 else k}" for k, v in s.items()}
    lines.append(w["summary"].format(**s))
    lines.extend(f"* {note}" for note in report.notes)
    return "\n".join(lines)


def render_merge(result, lang: str = "zh") -> str:
    """The merge summary: one line per submission with its notes (a masked file name, what
    the annotated copy does not carry over, a copy that could not be written), then the
    counts and where things went."""
    en = lang == "en"
    lines = []
    seen: Counter[str] = (
        Counter()
    )  # two files can share a masked name: number them, as 来源文件 does
    for f in result.report.files:
        seen[f.path] += 1
        path = f.path if seen[f.path] == 1 else f"{f.path} ({seen[f.path]})"
        if f.unreadable:
            lines.append(f"{path}: {f.findings[0].message}")
        else:
            lines.append(
                f"{path}: {f.rows} "
                + ("records" if en else "条记录")
                + (f", {f.errors} errors" if en else f"，{f.errors} 个错误") * bool(f.errors)
            )
        lines.extend(f"  * {note}" for note in f.notes)
        if f.annotated:
            lines.append(("  → annotated copy: " if en else "  → 批注副本：") + f.annotated)
    masked = sum(result.masked.values())
    if en:
        lines.append(
            f"{result.files} files: {result.added} added, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.rejected_rows} rejected, "
            f"{result.conflicts} in conflict, {masked} cells masked, {result.assigned} IDs assigned"
        )
        lines.append(f"register: {result.register} ({result.total} records)")
        if result.rejected_rows or result.conflicts:
            lines.append("rows kept out are listed in the 待修正 sheet")
        if result.backup:
            lines.append(f"previous version kept as {result.backup}")
    else:
        lines.append(
            f"共 {result.files} 个文件：新增 {result.added}，更新 {result.updated}，未变 {result.unchanged}，"
            f"退回 {result.rejected_rows}，冲突 {result.conflicts}，脱敏 {masked} 处，编号 {result.assigned} 条"
        )
        lines.append(f"总台账：{result.register}（共 {result.total} 条）")
        if result.rejected_rows or result.conflicts:
            lines.append("未合并的行见总台账的“待修正”工作表")
        if result.backup:
            lines.append(f"上一版已备份为 {result.backup}")
    lines.extend(f"* {n}" for n in result.notes)
    return "\n".join(lines)


def _outcome_line(o, text: str, en: bool) -> str:
    """``src → out：text`` for one written workbook, naming its backup when one was kept."""
    where = f"{o.source}" if o.output == o.source else f"{o.source} → {o.output}"
    if o.backup is not None:
        text += (
            f" (original kept as {o.backup.name})" if en else f"（原文件已备份为 {o.backup.name}）"
        )
    return f"{where}: {text}" if en else f"{where}：{text}"


def render_mask(outcomes: list[MaskOutcome], form: FormSpec, lang: str = "zh") -> str:
    """The ``xlcheck mask`` report: per file, counts per field (never values), then a total.

    Counts follow the form's field order, then the other columns by their header text, then
    comments and removed hyperlinks. Notes follow each file: ``[错误]`` ones name personal
    data that was left unmasked. Files with an ``error`` are left out here; the CLI prints
    their one line on stderr.
    """
    en = lang == "en"
    lines: list[str] = []
    for o in outcomes:
        if o.error is not None:
            continue
        sep = ", " if en else "、"
        keys = [k for k in form.keys if o.counts.get(k)]
        keys += [k for k in o.counts if k not in form.keys and o.counts[k]]
        parts = [
            f"{form.field(k).title(lang) if k in form.keys else k} {o.counts[k]}" for k in keys
        ]
        if o.comments:
            parts.append(f"comments {o.comments}" if en else f"批注 {o.comments}")
        emptied = (
            "document properties (author, title, company…) emptied"
            if en
            else "文档属性（作者、标题、公司等）已清空"
        )
        if parts:
            text = f"masked {sep.join(parts)}" if en else f"已脱敏 {sep.join(parts)}"
            if o.properties:
                text += f"; {emptied}" if en else f"；{emptied}"
        elif o.properties:
            text = emptied
        else:
            text = "nothing to mask" if en else "没有需要脱敏的内容"
        if o.links:
            text += (
                f"; {o.links} hyperlink(s) to personal data removed"
                if en
                else f"；移除指向个人信息的超链接 {o.links} 个"
            )
        lines.append(_outcome_line(o, text, en))
        for f in o.notes:
            tag = ""
            if f.severity == ERROR:
                tag = "[error] " if en else "[错误] "
            lines.append(f"  * {tag}{f.message}")
    done = [o for o in outcomes if o.error is None]
    cells = sum(o.masked for o in done)
    failed = len(outcomes) - len(done)
    if en:
        total = f"{len(outcomes)} file(s): {cells} cell(s) masked"
        total += f", {failed} could not be processed" if failed else ""
    else:
        total = f"共 {len(outcomes)} 个文件：脱敏 {cells} 个单元格"
        total += f"，{failed} 个文件无法处理" if failed else ""
    lines.append(total)
    return "\n".join(lines)


def render_ids(outcomes: list[IdOutcome], lang: str = "zh") -> str:
    """The ``xlcheck assign-ids`` report: per file the new IDs, old → new, findings; a total.

    Files with an ``error`` are left out here; the CLI prints their one line on stderr.
    """
    en = lang == "en"
    lines: list[str] = []
    for o in outcomes:
        if o.error is not None:
            continue
        fresh = [c for c in o.assigned if c.old is None]
        if fresh:
            span = _id_spans(fresh, en)
            text = f"{len(fresh)} new ID(s) ({span})" if en else f"新编号 {len(fresh)} 个（{span}）"
        else:
            text = "no blank IDs to fill" if en else "没有需要填写的空编号"
        lines.append(_outcome_line(o, text, en))
        for c in o.reassigned:
            lines.append(
                f"  row {c.row}: {c.old} → {c.record_id} (duplicate replaced)"
                if en
                else f"  第 {c.row} 行：{c.old} → {c.record_id}（重复编号已重新分配）"
            )
        for f in o.findings:
            tag = (
                ("error" if f.severity == ERROR else "warning")
                if en
                else ("错误" if f.severity == ERROR else "警告")
            )
            lines.append(f"  [{tag}] {f.message}  ({f.code})")
    done = [o for o in outcomes if o.error is None]
    new = sum(len(o.assigned) - len(o.reassigned) for o in done)
    again = sum(len(o.reassigned) for o in done)
    errors = sum(1 for o in done for f in o.findings if f.severity == ERROR)
    failed = len(outcomes) - len(done)
    if en:
        total = f"{len(outcomes)} file(s): {new} new ID(s), {again} duplicate(s) renumbered, {errors} error(s)"
        total += f", {failed} could not be processed" if failed else ""
    else:
        total = f"共 {len(outcomes)} 个文件：新编号 {new} 个，重新编号 {again} 个，错误 {errors} 个"
        total += f"，{failed} 个文件无法处理" if failed else ""
    lines.append(total)
    return "\n".join(lines)


def _id_spans(changes: list, en: bool) -> str:
    """The IDs assigned, lowest … highest of each day (month), days in order:
    ``FW20240521001 … FW20240521003；FW20240522001``."""
    by_period: dict[str, list] = {}
    for c in sorted(changes, key=lambda c: (c.period, c.seq, c.record_id)):
        by_period.setdefault(c.period, []).append(c)
    spans = [
        group[0].record_id if len(group) == 1 else f"{group[0].record_id} … {group[-1].record_id}"
        for group in by_period.values()
    ]
    return ("; " if en else "；").join(spans)
