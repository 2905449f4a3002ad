"""Terminal text of ``xlcheck search`` (the CLI prints it through its redacting ``echo``)."""

from __future__ import annotations

from typing import Any

from ..messages import shorten

#: characters of the one-line description and solution shown per hit
DESCRIPTION_WIDTH = 60
SOLUTION_WIDTH = 120


def render_search(result: Any, lang: str = "zh") -> str:
    """One block per hit: rank, 问题编号, module / type, status, rating, 解决时间, score, then the
    description and the solution on one line each; or the result's one-line message."""
    en = lang == "en"
    lines = [_t("notes", lang, note=n) for n in result.notes]
    if result.message:
        lines.append(result.message)
        return "\n".join(lines)
    searched = result.candidates
    lines.append(
        f'"{shorten(result.query, 40)}": {len(result.hits)} of {searched} records searched'
        if en
        else f"“{shorten(result.query, 40)}”：在 {searched} 条记录中找到 {len(result.hits)} 条相似记录"
    )
    blank = "—"
    for h in result.hits:
        rating = blank if h.satisfaction is None else str(h.satisfaction)
        head = (
            f"{h.rank}. {h.record_id or blank}  {h.module or blank} / {h.problem_type or blank}  "
            f"{h.status or blank}  "
            + (
                f"resolved {h.resolved_at or blank}  rating {rating}  score {h.score:.1f}"
                if en
                else f"解决时间 {h.resolved_at or blank}  满意度 {rating}  相似度 {h.score:.1f}"
            )
        )
        lines.append(head)
        problem, solution = ("Problem: ", "Solution: ") if en else ("问题：", "方案：")
        lines.append(f"   {problem}{shorten(h.description or blank, DESCRIPTION_WIDTH)}")
        lines.append(f"   {solution}{shorten(h.solution or blank, SOLUTION_WIDTH)}")
    return "\n".join(lines)


def _t(key: str, lang: str, **params: Any) -> str:
    text = {"notes": {"zh": "注意：{note}", "en": "note: {note}"}}[key]
    return text["en" if lang == "en" else "zh"].format(**params)
