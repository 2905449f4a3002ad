"""Measure retrieval quality and speed of the tokeniser / ranking choices on the shipped test set.

    python benchmarks/retrieval_quality.py

Compares, on ``tests/retrieval_set.py`` (32 problems, 97 records + 18 distractors, 64 held-apart queries):
tokenisers — character bigrams + unigrams (what :mod:`aftersales_xl.similarity` uses), bigrams
only, jieba (``lcut_for_search``) and rjieba (``cut``) — and rankers — the hand-written BM25 of
``similarity.bm25_index`` and the ``bm25s`` package — over three field choices (问题描述 alone;
+ 问题分析过程; + 产品/服务模块 and 问题类型). For each it prints hit@3 (a record of the right
problem among the top 3), top-1 accuracy, MRR, and the time to tokenise 100,000 descriptions
(plus the segmenter's load time). jieba, rjieba and bm25s are optional: rows whose package is
not installed are skipped (``pip install jieba rjieba bm25s`` to reproduce the README table).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from retrieval_set import planted_rows, queries  # noqa: E402

from aftersales_xl import similarity  # noqa: E402


def tokenisers() -> dict[str, tuple[Callable[[str], list[str]], float]]:
    """name → (tokenise function, load seconds)."""
    out: dict[str, tuple[Callable[[str], list[str]], float]] = {
        "bigram+unigram": (lambda t: similarity.tokens(t), 0.0),
        "bigram": (lambda t: similarity.tokens(t, unigrams=False), 0.0),
    }
    try:
        t0 = time.perf_counter()
        import jieba

        jieba.setLogLevel(60)
        jieba.initialize()
        load = time.perf_counter() - t0

        def jieba_tok(t: str) -> list[str]:
            return [w for w in jieba.lcut_for_search(similarity.normalise(t)) if w.strip()]

        out["jieba(search)"] = (jieba_tok, load)
    except ImportError:
        pass
    try:
        t0 = time.perf_counter()
        import rjieba

        rjieba.cut("预热")
        load = time.perf_counter() - t0

        def rjieba_tok(t: str) -> list[str]:
            return [w for w in rjieba.cut(similarity.normalise(t)) if w.strip()]

        out["rjieba"] = (rjieba_tok, load)
    except ImportError:
        pass
    return out


def rank_hand(docs: list[list[str]], qs: list[list[str]]) -> list[np.ndarray]:
    index = similarity.bm25_index(docs)
    return [np.argsort(-index.scores(q), kind="stable")[:3] for q in qs]


def rank_bm25s(docs: list[list[str]], qs: list[list[str]]) -> list[np.ndarray]:
    import bm25s

    retriever = bm25s.BM25(k1=similarity.BM25_K1, b=similarity.BM25_B)
    retriever.index(docs, show_progress=False)
    out = []
    for q in qs:
        known = [t for t in q if t in retriever.vocab_dict] or ["\x00"]
        scores = retriever.get_scores(known) if known != ["\x00"] else np.zeros(len(docs))
        out.append(np.argsort(-scores, kind="stable")[:3])
    return out


def main() -> None:
    rows, keys = planted_rows()
    qs = queries()
    fields = {
        "description": lambda r: r["description"],
        "+analysis": lambda r: f"{r['description']} {r['analysis']}",
        "+module+type": lambda r: (
            f"{r['description']} {r['analysis']} {r['module']} {r['problem_type']}"
        ),
    }
    rankers: dict[str, Callable] = {"hand BM25": rank_hand}
    try:
        import bm25s  # noqa: F401

        rankers["bm25s"] = rank_bm25s
    except ImportError:
        pass
    sample = [r["description"] for r in rows] * (100_000 // len(rows) + 1)
    sample = sample[:100_000]
    print(f"{len(set(k for k in keys if k))} problems, {len(rows)} records, {len(qs)} queries\n")
    print(f"{'tokeniser':16} {'ranker':10} {'fields':13} {'hit@3':>7} {'top1':>7} {'MRR':>6}")
    speed = {}
    for tok_name, (tok, load) in tokenisers().items():
        t0 = time.perf_counter()
        for text in sample:
            tok(text)
        speed[tok_name] = (load, time.perf_counter() - t0)
        for field_name, field in fields.items():
            docs = [tok(field(r)) for r in rows]
            qtoks = [tok(q) for q, _ in qs]
            for rank_name, ranker in rankers.items():
                tops = ranker(docs, qtoks)
                hits = top1 = 0
                rr = 0.0
                for (_, key), top in zip(qs, tops, strict=True):
                    got = [keys[i] for i in top]
                    hits += key in got
                    top1 += got[0] == key
                    rr += 1 / (got.index(key) + 1) if key in got else 0
                n = len(qs)
                print(
                    f"{tok_name:16} {rank_name:10} {field_name:13} {hits / n:7.1%} "
                    f"{top1 / n:7.1%} {rr / n:6.3f}"
                )
    print("\ntokenise 100,000 descriptions (seconds), segmenter load (seconds):")
    for name, (load, secs) in speed.items():
        print(f"  {name:16} {secs:6.2f}   load {load:5.2f}")


if __name__ == "__main__":
    main()
