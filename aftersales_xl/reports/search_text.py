"""Terminal text of ``xlcheck search`` (the CLI prints it through its redacting ``echo``)."""

from __future__ import annotations

from typing import Any

from ..messages import localise, shorten

#: characters of the one-line description and solution shown per hit
DESCRIPTION_WIDTH = 60
SOLUTION_WIDTH = 120


def render_search(result: Any, lang: str = "zh") -> str:
    """One block per hit: rank, 问题编号, module / type, status, rating, 解决时间, score, then the
    description and the solution on one line each; or the result's one-line message."""
    lines = [localise(_TEXT, "note", lang, note=n) for n in result.notes]
    if result.message:
        lines.append(result.message)
        return "\n".join(lines)
    lines.append(
        localise(
            _TEXT,
            "found",
            lang,
            query=shorten(result.query, 40),
            hits=len(result.hits),
            searched=result.candidates,
        )
    )
    blank = "—"
    problem, solution = localise(_TEXT, "problem", lang), localise(_TEXT, "solution", lang)
    for h in result.hits:
        rating = blank if h.satisfaction is None else str(h.satisfaction)
        head = (
            f"{h.rank}. {h.record_id or blank}  {h.module or blank} / {h.problem_type or blank}  "
            f"{h.status or blank}  "
            + localise(
                _TEXT,
                "hit-figures",
                lang,
                resolved=h.resolved_at or blank,
                rating=rating,
                score=h.score,
            )
        )
        lines.append(head)
        lines.append(f"   {problem}{shorten(h.description or blank, DESCRIPTION_WIDTH)}")
        lines.append(f"   {solution}{shorten(h.solution or blank, SOLUTION_WIDTH)}")
    return "\n".join(lines)


_TEXT: dict[str, dict[str, str]] = {
    "note": {"zh": "注意：{note}", "en": "note: {note}"},
    "found": {
        "zh": "“{query}”：在 {searched} 条记录中找到 {hits} 条相似记录",
        "en": '"{query}": {hits} of {searched} records searched',
    },
    "hit-figures": {
        "zh": "解决时间 {resolved}  满意度 {rating}  相似度 {score:.1f}",
        "en": "resolved {resolved}  rating {rating}  score {score:.1f}",
    },
    "problem": {"zh": "问题：", "en": "Problem: "},
    "solution": {"zh": "方案：", "en": "Solution: "},
}
