"""Recurring problems of the register: records clustered by what they say, within module × type.

One definition for the solution library (``xlcheck library``, :mod:`.library_sheet`) and the
register's 高频问题 tab, so the two agree:

- **Cluster** (:func:`problem_clusters`): records with the same 产品/服务模块 and 问题类型 whose
  问题描述 + 问题分析过程 + 解决方案 are similar (:func:`aftersales_xl.similarity.cluster`:
  character-bigram tf-idf cosine ≥ ``library.cluster_similarity``, leader clustering with a
  centroid pass). Description alone is not enough: staff describe one problem in words that
  share few characters (``付款完成订单仍显示待支付`` / ``支付成功后订单状态未更新``), while its
  analysis and solution are written alike; records without either are matched on what
  they have. Records without module, type or description are left out.
- A **recurring problem** is a cluster of at least ``library.min_count`` records.

:func:`library_table` gives one row per recurring problem, most frequent first. Nothing here
reads the clock or a file.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from .. import similarity
from ..config import Policy
from ..messages import localise
from ..pii import redact

#: the columns of :func:`library_table`, in order
LIBRARY_COLUMNS = (
    "rank",
    "module",
    "problem_type",
    "count",
    "open",
    "first_seen",
    "last_seen",
    "description",
    "solution",
    "solution_basis",
    "mean_rating",
    "ratings",
    "example_ids",
    "tags",
)
#: labels of the library sheet's columns: key -> (zh, en)
LIBRARY_HEADINGS: dict[str, tuple[str, str]] = {
    "rank": ("排名", "Rank"),
    "module": ("产品/服务模块", "Module"),
    "problem_type": ("问题类型", "Problem type"),
    "count": ("次数", "Times"),
    "open": ("未结", "Open"),
    "first_seen": ("首次出现", "First seen"),
    "last_seen": ("最近出现", "Last seen"),
    "description": ("代表描述", "Representative description"),
    "solution": ("解决方案", "Solution"),
    "solution_basis": ("方案依据", "Why this solution"),
    "mean_rating": ("平均满意度", "Mean rating"),
    "ratings": ("评分数", "Ratings"),
    "example_ids": ("示例问题编号", "Example IDs"),
    "tags": ("标签", "Tags"),
}
#: keywords per problem in its tags
KEYWORDS = 3
#: the label staff give a permanent fix (seed 000: 临时方案 / 永久方案)
PERMANENT = "永久方案"


def problem_clusters(frame: pd.DataFrame, policy: Policy) -> np.ndarray:
    """A cluster label per row of the register frame (-1: no module, type or description)."""
    module, ptype = _column(frame, "module"), _column(frame, "problem_type")
    desc = _column(frame, "description")
    analysis, solution = _column(frame, "analysis"), _column(frame, "solution")
    texts = [
        (d, a, s) if m and t and d else None
        for m, t, d, a, s in zip(module, ptype, desc, analysis, solution, strict=True)
    ]
    groups = list(zip(module, ptype, strict=True))
    return similarity.cluster(texts, groups, threshold=float(policy.library["cluster_similarity"]))


def similar_solved(
    frame: pd.DataFrame, policy: Policy
) -> tuple[list[str | None], list[str | None]]:
    """总台账's 相似已解决 column and its cell comments, one per row of ``frame``.

    For each open record (处理进度 not in status.done) with a 问题描述: up to
    ``library.similar_solved`` 问题编号 of finished records of the same module × type whose
    问题描述 has tf-idf cosine ≥ ``library.similar_threshold`` with its own (bigrams and
    characters, :func:`aftersales_xl.similarity.nearest`; an open record rarely has an analysis
    yet, so descriptions are compared with descriptions), most similar first, joined by ``、``; the
    comment lists each as ``ID：first line of its 解决方案``. Other rows get None.
    """
    n = len(frame)
    k = int(policy.library["similar_solved"])
    ids: list[str | None] = [None] * n
    notes: list[str | None] = [None] * n
    if not k or not n:
        return ids, notes
    done = set(policy.done_statuses)
    col = {key: _column(frame, key) for key in (
        "record_id", "module", "problem_type", "description", "analysis", "solution", "status",
    )}  # fmt: skip
    targets = [i for i in range(n) if col["status"][i] in done and col["description"][i]
               and col["record_id"][i]]  # fmt: skip
    queries = [i for i in range(n) if col["status"][i] not in done and col["description"][i]]
    if not targets or not queries:
        return ids, notes

    def text(i: int) -> str | None:
        return col["description"][i]

    def group(i: int) -> tuple[str | None, str | None]:
        return col["module"][i], col["problem_type"][i]

    found = similarity.nearest(
        [text(i) for i in queries], [group(i) for i in queries],
        [text(i) for i in targets], [group(i) for i in targets],
        k=k, threshold=float(policy.library["similar_threshold"]), unigrams=True,
    )  # fmt: skip
    for q, hits in zip(queries, found, strict=True):
        rows = [targets[t] for t, _ in hits if targets[t] != q]
        if not rows:
            continue
        ids[q] = "、".join(col["record_id"][i] for i in rows)
        notes[q] = redact("\n".join(
            f"{col['record_id'][i]}：{_first_line(col['solution'][i])}" for i in rows
        ))  # fmt: skip
    return ids, notes


def _first_line(text: str | None) -> str:
    line = next((x.strip() for x in (text or "").splitlines() if x.strip()), "")
    return line or "—"


def library_table(frame: pd.DataFrame, policy: Policy, *, lang: str = "zh") -> pd.DataFrame:
    """One row per recurring problem (:data:`LIBRARY_COLUMNS`), most frequent first (then most
    recently seen, then module and type).

    - ``count`` records in the cluster, ``open`` those whose 处理进度 is not in status.done;
    - ``first_seen`` / ``last_seen``: earliest / latest 问题发生时间 (接收时间 when blank);
    - ``description``: the member closest to the cluster's centre (tf-idf cosine);
    - ``solution``: the 解决方案 (normalised for comparison) that closed most of the finished
      members when at least two share it; else the latest one labelled 永久方案; else the
      latest one. ``solution_basis`` says which (``3 条记录采用`` / ``最近的永久方案`` /
      ``最近的方案``);
    - ``mean_rating`` over the members rated (``ratings``: how many), None when none;
    - ``example_ids``: up to ``library.examples`` 问题编号, most recent first, joined by ``、``;
    - ``tags``: ``#module #type #keyword…``: the cluster's most distinctive description bigrams.
    """
    labels = problem_clusters(frame, policy)
    min_count = int(policy.library["min_count"])
    examples = int(policy.library["examples"])
    done = set(policy.done_statuses)
    cols = {key: _column(frame, key) for key in (
        "record_id", "module", "problem_type", "description", "solution", "status",
    )}  # fmt: skip
    seen = _times(frame, "occurred_at").fillna(_times(frame, "received_at"))
    seen_list = seen.tolist()
    resolved = _times(frame, "resolved_at").tolist()
    ratings = (
        pd.to_numeric(frame["satisfaction"], errors="coerce").astype("float64").tolist()
        if "satisfaction" in frame.columns
        else [None] * len(frame)
    )
    desc_tokens = [similarity.tokens(d, unigrams=False) for d in cols["description"]]
    idf, n_docs = similarity.idf_table(desc_tokens)
    default_idf = math.log(1 + n_docs) + 1
    members: dict[int, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        if lab >= 0:
            members.setdefault(lab, []).append(i)
    rows = []
    for idx in members.values():
        if len(idx) < min_count:
            continue
        by_recent = sorted(idx, key=lambda i: (_ts(seen_list[i]), cols["record_id"][i] or ""),
                           reverse=True)  # fmt: skip
        solution, basis = _solution(idx, cols, resolved, done, lang)
        rated = [ratings[i] for i in idx if not _nan(ratings[i])]
        times = [seen_list[i] for i in idx if not pd.isna(seen_list[i])]
        rows.append({
            "module": cols["module"][idx[0]], "problem_type": cols["problem_type"][idx[0]],
            "count": len(idx), "open": sum(cols["status"][i] not in done for i in idx),
            "first_seen": min(times) if times else None,
            "last_seen": max(times) if times else None,
            "description": redact(_representative(idx, desc_tokens, idf, default_idf,
                                                  cols["description"])),
            "solution": None if solution is None else redact(solution),
            "solution_basis": basis,
            "mean_rating": round(sum(rated) / len(rated), 2) if rated else None,
            "ratings": len(rated),
            "example_ids": "、".join(cols["record_id"][i] for i in by_recent[:examples]
                                    if cols["record_id"][i]),
            "tags": redact(_tags(idx, cols, desc_tokens, idf)),
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=[c for c in LIBRARY_COLUMNS if c != "rank"])
    if table.empty:
        return pd.DataFrame(columns=list(LIBRARY_COLUMNS))
    table["_last"] = pd.to_datetime(table["last_seen"])
    table = table.sort_values(
        ["count", "_last", "module", "problem_type"],
        ascending=[False, False, True, True],
        na_position="last",
        kind="stable",
    ).drop(columns="_last")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def _solution(
    idx: list[int], cols: dict[str, list], resolved: list, done: set[str], lang: str
) -> tuple[str | None, str | None]:
    finished = [i for i in idx if cols["status"][i] in done and cols["solution"][i]]
    if not finished:
        return None, None
    counts = Counter(similarity.normalise(cols["solution"][i]) for i in finished)
    (top, n), *rest = counts.most_common()
    latest = sorted(finished, key=lambda i: _ts(resolved[i]), reverse=True)
    if n >= 2 and (not rest or rest[0][1] < n):
        chosen = next(i for i in latest if similarity.normalise(cols["solution"][i]) == top)
        return cols["solution"][chosen], localise(_TEXT, "basis-shared", lang, n=n)
    permanent = [i for i in latest if PERMANENT in cols["solution"][i]]
    if permanent:
        return cols["solution"][permanent[0]], localise(_TEXT, "basis-permanent", lang)
    return cols["solution"][latest[0]], localise(_TEXT, "basis-latest", lang)


def _representative(
    idx: list[int],
    desc_tokens: list[list[str]],
    idf: dict[str, float],
    default_idf: float,
    descriptions: list[str | None],
) -> str:
    """The description closest to the centre of the cluster's descriptions."""
    vectors = [similarity.tfidf_vector(desc_tokens[i], idf, default_idf) for i in idx]
    centre: Counter[str] = Counter()
    for vec in vectors:
        centre.update(vec)
    scores = [sum(w * centre[t] for t, w in vec.items()) for vec in vectors]
    best = max(range(len(idx)), key=lambda k: (scores[k], -k))
    return descriptions[idx[best]] or ""


def _tags(
    idx: list[int], cols: dict[str, list], desc_tokens: list[list[str]], idf: dict[str, float]
) -> str:
    """``#module #type #kw1 #kw2 #kw3``: bigrams in most of the cluster's descriptions,
    the rarer in the register the better; a keyword inside an earlier one's text is skipped."""
    df: Counter[str] = Counter()
    for i in idx:
        df.update(set(desc_tokens[i]))
    ranked = sorted(df, key=lambda t: (-df[t] * idf.get(t, 1.0), t))
    words: list[str] = []
    for t in ranked:
        if df[t] < 2 and words:
            break
        if any(t in w or w in t for w in words):
            continue
        words.append(t)
        if len(words) == KEYWORDS:
            break
    head = [cols["module"][idx[0]], cols["problem_type"][idx[0]]]
    return " ".join(f"#{w}" for w in [*head, *words] if w)


def _column(frame: pd.DataFrame, key: str) -> list[str | None]:
    """A text column as stripped ``str`` or None (blank)."""
    if key not in frame.columns:
        return [None] * len(frame)
    out = []
    for v in frame[key].tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(None)
        else:
            text = str(v).strip()
            out.append(text or None)
    return out


def _times(frame: pd.DataFrame, key: str) -> pd.Series:
    if key not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    return pd.to_datetime(frame[key], errors="coerce")


def _ts(value: Any) -> pd.Timestamp:
    return pd.Timestamp.min if value is None or pd.isna(value) else pd.Timestamp(value)


def _nan(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


#: 方案依据: why the library shows this solution for a problem
_TEXT: dict[str, dict[str, str]] = {
    "basis-shared": {"zh": "{n} 条记录采用", "en": "{n} records"},
    "basis-permanent": {"zh": "最近的永久方案", "en": "latest permanent fix"},
    "basis-latest": {"zh": "最近的方案", "en": "latest"},
}
