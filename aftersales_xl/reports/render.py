"""Render a :class:`Report` for people (text, grouped per file) or machines (JSON = ``to_dict()``)."""

from __future__ import annotations

import json
from collections import Counter

from ..findings import ERROR, FileOutcome, Report
from ..forms import FormSpec
from ..messages import localise


def render_json(report: Report) -> str:
    """Exactly the library's report dict (the JSON contract in the brief)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


def render_text(report: Report, lang: str = "zh") -> str:
    """One block per file: a status line, then one line per finding; the run's notes (e.g.
    "no holiday data for 2027") after the summary line."""

    def w(key: str) -> str:
        return localise(_TEXT, key, lang)

    lines: list[str] = []
    for f in report.files:
        state = w("unreadable") if f.unreadable else (w("ok") if f.valid else w("fail"))
        head = f"{f.path}: {state}"
        if not f.unreadable:
            head += f" ({f.rows} {w('rows')}"
            if f.errors or f.warnings:
                head += f", {f.errors} {w('errors')}, {f.warnings} {w('warnings')}"
            head += ")"
        lines.append(head)
        for finding in f.findings:
            tag = w("error") if finding.severity == ERROR else w("warning")
            lines.append(f"  [{tag}] {finding.message}  ({finding.code})")
        for note in f.notes:
            lines.append(f"  * {note}")
        if f.annotated:
            lines.append(f"  → {w('annotated')}: {f.annotated}")
    s = report.to_dict()["summary"]
    counts = {k: _count(k, v, lang) for k, v in s.items()}
    lines.append(localise(_TEXT, "summary", lang, **counts))
    lines.extend(f"* {note}" for note in report.notes)
    return "\n".join(lines)


def _count(key: str, n: int, lang: str) -> str:
    """A summary figure as the summary line says it: ``3`` in Chinese (the words are in the
    line), ``3 files`` / ``1 file`` in English ("valid" has no plural)."""
    one = f"count-{key}-one"
    return localise(_TEXT, one if n == 1 and one in _TEXT else f"count-{key}", lang, n=n)


def render_merge(result, lang: str = "zh") -> str:
    """The merge summary: one line per submission with its notes (a masked file name, what
    the annotated copy does not carry over, a copy that could not be written), then the
    counts and where things went."""

    def t(key: str, **params) -> str:
        return localise(_TEXT, key, lang, **params)

    lines = []
    seen: Counter[str] = (
        Counter()
    )  # two files can share a masked name: number them, as 来源文件 does
    per_file = list(getattr(result, "per_file", None) or [])
    for i, f in enumerate(result.report.files):
        seen[f.path] += 1
        path = f.path if seen[f.path] == 1 else f"{f.path} ({seen[f.path]})"
        per = per_file[i] if i < len(per_file) else None
        if f.unreadable:
            lines.append(f"{path}: {f.findings[0].message}")
        elif per is None:
            lines.append(
                f"{path}: "
                + t("merge-rows", rows=f.rows)
                + t("merge-errors", errors=f.errors) * bool(f.errors)
            )
        else:
            lines.append(f"{path}: {_file_outcome(f.rows, per, lang)}")
        lines.extend(f"  * {note}" for note in f.notes)
        if f.annotated:
            if per is not None and not per.kept_out:  # every row went in: the copy is for reference
                lines.append("  → " + t("copy-for-reference", copy=f.annotated))
            else:
                lines.append("  → " + t("copy-to-fix", copy=f.annotated))
    masked = sum(result.masked.values())
    restored = getattr(result, "restored", 0)
    edit_conflicts = getattr(result, "edit_conflicts", 0)
    dry_run = getattr(result, "dry_run", False)
    for per in per_file if dry_run else []:
        kinds = ("new", "updated", "unchanged", "conflicts", "restored", "rejected")
        counts = {k: per.outcome[k] for k in kinds}  # a Counter: a count it lacks is 0
        lines.append("  " + t("dry-run-file", name=per.source, **counts))
    lines.append(
        (t("dry-run") if dry_run else "")
        + t(
            "merge-totals",
            files=result.files,
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
            rejected=result.rejected_rows,
            conflicts=result.conflicts + edit_conflicts,
            restored=restored,
            masked=masked,
            assigned=result.assigned,
        )
    )
    lines.append(t("register", register=result.register, total=result.total))
    if (result.rejected_rows or result.conflicts or edit_conflicts) and dry_run:
        lines.append(t("kept-out-would-be-listed"))
    elif result.rejected_rows or result.conflicts or edit_conflicts:
        lines.append(t("kept-out-listed"))
    if result.backup:
        lines.append(t("register-backup", backup=result.backup))
    for _source, copy, n in getattr(result, "returned", ()):
        lines.append(t("returned-copy", n=n, copy=copy))
    lines.extend(f"* {n}" for n in result.notes)
    return "\n".join(lines)


def _file_outcome(rows: int, per, lang: str) -> str:
    """One submission's line: rows merged and kept out (errors), and apart from them the
    problems fixed on the way in (masked contact data), so a file whose only findings were
    unmasked phones reads as merged, not as rejected."""
    if not per.kept_out:
        text = localise(_TEXT, "all-merged" if rows else "no-records", lang, rows=rows)
    else:
        counts = {"merged": per.merged, "kept_out": per.kept_out, "errors": per.errors}
        text = localise(_TEXT, "some-kept-out", lang, rows=rows, **counts)
    fixed = sum(per.fixed.values())
    if fixed:
        contact_only = set(per.fixed) <= {"contact", "contact_name"}
        key = "fixed-contacts" if contact_only else "fixed-personal-data"
        text += localise(_TEXT, key, lang, fixed=fixed)
    return text


def _outcome_line(o, text: str, lang: str) -> str:
    """``src → out：text`` for one written workbook, naming its backup when one was kept."""
    where = f"{o.source}" if o.output == o.source else f"{o.source} → {o.output}"
    if o.backup is not None:
        text += localise(_TEXT, "original-backup", lang, name=o.backup.name)
    return localise(_TEXT, "outcome-line", lang, where=where, text=text)


def render_mask(outcomes: list[FileOutcome], form: FormSpec, lang: str = "zh") -> str:
    """The ``xlcheck mask`` report: per file, counts per field (never values), then a total.

    Counts follow the form's field order, then the other columns by their header text, then
    comments and removed hyperlinks. Notes follow each file: ``[错误]`` ones name personal
    data that was left unmasked. Files with an ``error`` are left out here; the CLI prints
    their one line on stderr.
    """

    def t(key: str, **params) -> str:
        return localise(_TEXT, key, lang, **params)

    lines: list[str] = []
    for o in outcomes:
        if o.error is not None:
            continue
        sep = t("count-separator")
        keys = [k for k in form.keys if o.counts.get(k)]
        keys += [k for k in o.counts if k not in form.keys and o.counts[k]]
        parts = [
            f"{form.field(k).title(lang) if k in form.keys else k} {o.counts[k]}" for k in keys
        ]
        if o.comments:
            parts.append(t("comments", n=o.comments))
        text = t("masked", parts=sep.join(parts)) if parts else ""
        if o.properties:
            text = t("properties-emptied-after", text=text) if text else t("properties-emptied")
        text = text or t("nothing-to-mask")
        if o.links:
            text += t("links-removed", n=o.links)
        lines.append(_outcome_line(o, text, lang))
        for f in o.findings:
            tag = f"[{t('error')}] " if f.severity == ERROR else ""
            lines.append(f"  * {tag}{f.message}")
    done = [o for o in outcomes if o.error is None]
    cells = sum(o.masked for o in done)
    failed = len(outcomes) - len(done)
    total = t("mask-total", files=len(outcomes), cells=cells)
    total += t("not-processed", failed=failed) if failed else ""
    lines.append(total)
    return "\n".join(lines)


def render_ids(outcomes: list[FileOutcome], lang: str = "zh") -> str:
    """The ``xlcheck assign-ids`` report: per file the new IDs, old → new, findings; a total.

    Files with an ``error`` are left out here; the CLI prints their one line on stderr.
    """

    def t(key: str, **params) -> str:
        return localise(_TEXT, key, lang, **params)

    lines: list[str] = []
    for o in outcomes:
        if o.error is not None:
            continue
        fresh = [c for c in o.assigned if c.old is None]
        if fresh:
            text = t("new-ids", n=len(fresh), span=_id_spans(fresh, lang))
        else:
            text = t("no-blank-ids")
        lines.append(_outcome_line(o, text, lang))
        for c in o.reassigned:
            lines.append("  " + t("id-reassigned", row=c.row, old=c.old, new=c.record_id))
        for f in o.findings:
            tag = t("error") if f.severity == ERROR else t("warning")
            lines.append(f"  [{tag}] {f.message}  ({f.code})")
    done = [o for o in outcomes if o.error is None]
    new = sum(len(o.assigned) - len(o.reassigned) for o in done)
    again = sum(len(o.reassigned) for o in done)
    errors = sum(1 for o in done for f in o.findings if f.severity == ERROR)
    failed = len(outcomes) - len(done)
    total = t("ids-total", files=len(outcomes), new=new, again=again, errors=errors)
    total += t("not-processed", failed=failed) if failed else ""
    lines.append(total)
    return "\n".join(lines)


def _id_spans(changes: list, lang: str) -> str:
    """The IDs assigned, lowest … highest of each day (month), days in order:
    ``FW20240521001 … FW20240521003；FW20240522001``."""
    by_period: dict[str, list] = {}
    for c in sorted(changes, key=lambda c: (c.period, c.seq, c.record_id)):
        by_period.setdefault(c.period, []).append(c)
    spans = [
        group[0].record_id if len(group) == 1 else f"{group[0].record_id} … {group[-1].record_id}"
        for group in by_period.values()
    ]
    return localise(_TEXT, "span-separator", lang).join(spans)


_TEXT: dict[str, dict[str, str]] = {
    # validate's report (render_text)
    "error": {"zh": "错误", "en": "error"},
    "warning": {"zh": "警告", "en": "warning"},
    "errors": {"zh": "错误", "en": "errors"},
    "warnings": {"zh": "警告", "en": "warnings"},
    "ok": {"zh": "通过", "en": "OK"},
    "fail": {"zh": "未通过", "en": "FAILED"},
    "unreadable": {"zh": "无法读取", "en": "UNREADABLE"},
    "rows": {"zh": "条记录", "en": "records"},
    "annotated": {"zh": "已写出批注副本", "en": "annotated copy"},
    "summary": {
        "zh": "共 {files} 个文件：{valid} 个通过，{errors} 个错误，{warnings} 个警告",
        "en": "{files}: {valid}, {errors}, {warnings}",
    },
    "count-files": {"zh": "{n}", "en": "{n} files"},
    "count-files-one": {"zh": "{n}", "en": "{n} file"},
    "count-valid": {"zh": "{n}", "en": "{n} valid"},
    "count-errors": {"zh": "{n}", "en": "{n} errors"},
    "count-errors-one": {"zh": "{n}", "en": "{n} error"},
    "count-warnings": {"zh": "{n}", "en": "{n} warnings"},
    "count-warnings-one": {"zh": "{n}", "en": "{n} warning"},
    # merge (render_merge)
    "merge-rows": {"zh": "{rows} 条记录", "en": "{rows} records"},
    "merge-errors": {"zh": "，{errors} 个错误", "en": ", {errors} errors"},
    "all-merged": {"zh": "{rows} 条记录，全部并入", "en": "{rows} records, all merged"},
    "no-records": {"zh": "0 条记录", "en": "0 records"},
    "some-kept-out": {
        "zh": "{rows} 条记录：并入 {merged} 条，{kept_out} 条未并入（{errors} 个错误，见“待修正”）",
        "en": "{rows} records: {merged} merged, {kept_out} kept out "
        "({errors} errors, listed in 待修正)",
    },
    "fixed-contacts": {
        "zh": "；{fixed} 处联系方式已脱敏后并入",
        "en": "; {fixed} contact cells masked and merged",
    },
    "fixed-personal-data": {
        "zh": "；{fixed} 处联系方式或个人信息已脱敏后并入",
        "en": "; {fixed} cells of contact or personal data masked and merged",
    },
    "copy-for-reference": {
        "zh": "批注副本（供提交人改正原表，记录均已并入）：{copy}",
        "en": "annotated copy (for the sender's own sheet; every row merged): {copy}",
    },
    "copy-to-fix": {
        "zh": "批注副本（需改正后重新提交的行）：{copy}",
        "en": "annotated copy (rows to fix and send again): {copy}",
    },
    "dry-run-file": {
        "zh": "{name}：将新增 {new}，更新 {updated}，未变 {unchanged}，"
        "冲突 {conflicts}，恢复 {restored}，退回 {rejected}",
        "en": "{name}: would add {new}, update {updated}, leave {unchanged} unchanged, "
        "{conflicts} in conflict, restore {restored}, {rejected} rejected",
    },
    "dry-run": {"zh": "试运行，未写入任何文件：", "en": "dry run, nothing written: "},
    "merge-totals": {
        "zh": "共 {files} 个文件：新增 {added}，更新 {updated}，未变 {unchanged}，"
        "退回 {rejected}，冲突 {conflicts}，恢复 {restored}，脱敏 {masked} 处，编号 {assigned} 条",
        "en": "{files} files: {added} added, {updated} updated, {unchanged} unchanged, "
        "{rejected} rejected, {conflicts} in conflict, {restored} restored, "
        "{masked} cells masked, {assigned} IDs assigned",
    },
    "register": {
        "zh": "总台账：{register}（共 {total} 条）",
        "en": "register: {register} ({total} records)",
    },
    "kept-out-would-be-listed": {
        "zh": "未合并的行和冲突的字段将列入总台账的“待修正”工作表",
        "en": "rows kept out and fields in conflict would be listed in the 待修正 sheet",
    },
    "kept-out-listed": {
        "zh": "未合并的行和冲突的字段见总台账的“待修正”工作表",
        "en": "rows kept out and fields in conflict are listed in the 待修正 sheet",
    },
    "register-backup": {
        "zh": "上一版已备份为 {backup}",
        "en": "previous version kept as {backup}",
    },
    "returned-copy": {
        "zh": "已填回 {n} 个问题编号的副本（请发回给提交人）：{copy}",
        "en": "copy with {n} IDs filled in, to send back: {copy}",
    },
    # mask and assign-ids (render_mask, render_ids)
    "outcome-line": {"zh": "{where}：{text}", "en": "{where}: {text}"},
    "original-backup": {
        "zh": "（原文件已备份为 {name}）",
        "en": " (original kept as {name})",
    },
    "count-separator": {"zh": "、", "en": ", "},
    "comments": {"zh": "批注 {n}", "en": "comments {n}"},
    "masked": {"zh": "已脱敏 {parts}", "en": "masked {parts}"},
    "nothing-to-mask": {"zh": "没有需要脱敏的内容", "en": "nothing to mask"},
    "properties-emptied": {
        "zh": "文档属性（作者、标题、公司等）已清空",
        "en": "document properties (author, title, company…) emptied",
    },
    "properties-emptied-after": {
        "zh": "{text}；文档属性（作者、标题、公司等）已清空",
        "en": "{text}; document properties (author, title, company…) emptied",
    },
    "links-removed": {
        "zh": "；移除指向个人信息的超链接 {n} 个",
        "en": "; {n} hyperlink(s) to personal data removed",
    },
    "mask-total": {
        "zh": "共 {files} 个文件：脱敏 {cells} 个单元格",
        "en": "{files} file(s): {cells} cell(s) masked",
    },
    "not-processed": {"zh": "，{failed} 个文件无法处理", "en": ", {failed} could not be processed"},
    "new-ids": {"zh": "新编号 {n} 个（{span}）", "en": "{n} new ID(s) ({span})"},
    "no-blank-ids": {"zh": "没有需要填写的空编号", "en": "no blank IDs to fill"},
    "id-reassigned": {
        "zh": "第 {row} 行：{old} → {new}（重复编号已重新分配）",
        "en": "row {row}: {old} → {new} (duplicate replaced)",
    },
    "ids-total": {
        "zh": "共 {files} 个文件：新编号 {new} 个，重新编号 {again} 个，错误 {errors} 个",
        "en": "{files} file(s): {new} new ID(s), {again} duplicate(s) renumbered, "
        "{errors} error(s)",
    },
    "span-separator": {"zh": "；", "en": "; "},
}
