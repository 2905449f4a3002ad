"""Chinese-aware text similarity for the solution library: normalise, tokenise, rank, cluster.

Pure functions over texts and numpy arrays (no I/O, no pandas), so the search job, the
library workbook, the register's 高频问题 tab and the merge's 相似已解决 column all use one
definition of "the same problem":

- :func:`normalise` folds full-width to half-width (NFKC: ``１２３`` → ``123``, ``ＡＰＰ`` →
  ``app``), case, and turns punctuation, symbols and white space into single spaces.
- :func:`tokens` cuts the normalised text into overlapping **character bigrams plus single
  characters** of each Chinese run, and whole words of each Latin/digit run. Bigrams carry
  most of the meaning (``定位``, ``失败``); single characters keep a one-character typo or a
  short query from missing entirely. Word order does not matter (a bag of tokens), so
  ``定位失败 打卡`` and ``打卡定位失败`` have the same tokens. Chosen over jieba / rjieba word
  segmentation by the measurements in the README (``benchmarks/retrieval_quality.py``):
  equal or better top-3 hits on the shipped test set, no dictionary to load (jieba takes
  ~0.6 s to load, which alone breaks the 1 s search goal) and no extra dependency.
- :class:`TermIndex` is an inverted index in compressed-column form (numpy arrays: for each
  term the documents holding it and a weight). :func:`bm25_index` fills it with Okapi BM25
  weights (k1 = 1.2, b = 0.75) so a query's scores are one gather and one ``bincount``;
  :func:`cosine_index` with L2-normalised tf-idf weights, so the same gather gives cosine
  similarity between documents.
- :func:`cluster` groups texts that say the same thing within each group (module × type):
  leader clustering on tf-idf cosine followed by one centroid re-assignment pass, so a
  cluster is everything close to its centre (no single-link chaining from one problem to
  the next through a record that mentions both).

The arrays of a :class:`TermIndex` are plain numbers (``to_arrays`` / ``from_arrays``), so an
index can be cached with ``numpy.savez`` and loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: BM25 parameters (Robertson/Zaragoza defaults; measured, see the README)
BM25_K1 = 1.2
BM25_B = 0.75
#: the tokeniser name stored with cached indexes (a different one invalidates the cache)
TOKENISER = "cjk-bigram-unigram/1"

# a run of Chinese (CJK unified ideographs, extension A, compatibility) characters, or of
# other letters / digits (Latin words, numbers, error codes such as e1003)
_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"([{_CJK_CHARS}]+)|([^\\W_{_CJK_CHARS}]+)")


_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str | None) -> str:
    """``text`` folded for matching: NFKC (full-width → half-width), case-folded, every run of
    punctuation, symbols, white space and control characters replaced by one space, trimmed.

    ``"打卡，定位失败！ＡＰＰ １２３"`` → ``"打卡 定位失败 app 123"``.
    """
    if not text:
        return ""
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).strip()


def tokens(text: str | None, *, unigrams: bool = True) -> list[str]:
    """The match tokens of ``text`` (see the module docstring), in text order.

    Each Chinese run gives its character bigrams and (with ``unigrams``) its characters; a run
    of one character gives that character. Each Latin/digit run gives itself as one token.
    """
    norm = normalise(text)
    out: list[str] = []
    for m in _RUN.finditer(norm):
        cjk = m.group(1)
        if cjk is None:
            out.append(m.group(2))
            continue
        if len(cjk) == 1:
            out.append(cjk)
            continue
        if unigrams:
            out.extend(cjk)
        out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return out


def has_terms(text: str | None) -> bool:
    """True if ``text`` has anything to match on (not only punctuation, symbols or spaces)."""
    return bool(tokens(text))


@dataclass
class TermIndex:
    """An inverted index: ``vocab`` term → id; the documents holding term ``t`` are
    ``docs[indptr[t]:indptr[t + 1]]`` with weights ``weights[...]`` (compressed columns)."""

    vocab: dict[str, int]
    indptr: np.ndarray  # int64, len(vocab) + 1
    docs: np.ndarray  # int32
    weights: np.ndarray  # float32
    n_docs: int

    def scores(self, query: Mapping[str, float] | Iterable[str]) -> np.ndarray:
        """Every document's score for ``query``: the sum over its terms of the term's weight
        in the document (times the query weight when ``query`` maps term → weight).
        A BM25 index gives BM25 scores; a cosine index given a unit vector gives cosines."""
        weighted = query if isinstance(query, Mapping) else dict.fromkeys(query, 1.0)
        parts_docs: list[np.ndarray] = []
        parts_w: list[np.ndarray] = []
        for term, qw in weighted.items():
            t = self.vocab.get(term)
            if t is None:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            parts_docs.append(self.docs[lo:hi])
            parts_w.append(self.weights[lo:hi] * np.float32(qw))
        if not parts_docs:
            return np.zeros(self.n_docs, dtype=np.float64)
        return np.bincount(
            np.concatenate(parts_docs),
            weights=np.concatenate(parts_w),
            minlength=self.n_docs,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as plain numeric arrays (for ``numpy.savez``; terms as UTF-8 bytes)."""
        terms = "\n".join(sorted(self.vocab, key=self.vocab.__getitem__)).encode("utf-8")
        return {
            "terms": np.frombuffer(terms, dtype=np.uint8),
            "indptr": self.indptr,
            "docs": self.docs,
            "weights": self.weights,
            "n_docs": np.array([self.n_docs], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TermIndex:
        """The index :meth:`to_arrays` stored."""
        text = bytes(arrays["terms"]).decode("utf-8")
        terms = text.split("\n") if text else []
        return cls(
            vocab={t: i for i, t in enumerate(terms)},
            indptr=np.asarray(arrays["indptr"]),
            docs=np.asarray(arrays["docs"]),
            weights=np.asarray(arrays["weights"]),
            n_docs=int(arrays["n_docs"][0]),
        )


def _compress(
    vocab: dict[str, int], term_ids: np.ndarray, doc_ids: np.ndarray, weights: np.ndarray, n: int
) -> TermIndex:
    order = np.argsort(term_ids, kind="stable")
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
    return TermIndex(
        vocab=vocab,
        indptr=indptr,
        docs=doc_ids[order].astype(np.int32),
        weights=weights[order].astype(np.float32),
        n_docs=n,
    )


def bm25_index(
    docs_tokens: Sequence[Sequence[str]], *, k1: float = BM25_K1, b: float = BM25_B
) -> TermIndex:
    """A BM25 index of the documents (each a list of tokens).

    Weight of term t in document d: ``idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl))``
    with ``idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`` (never negative).
    """
    vocab = Vocabulary()
    return bm25_from_ids([vocab.ids_of(toks) for toks in docs_tokens], vocab.terms, k1=k1, b=b)


class Vocabulary:
    """Term → id, filled as texts are seen; :meth:`ids` memoises each distinct text, so a
    register's repeated module names, types and analyses are tokenised once."""

    def __init__(self) -> None:
        self.terms: dict[str, int] = {}
        self._memo: dict[str, np.ndarray] = {}

    def ids_of(self, toks: Iterable[str]) -> np.ndarray:
        setdefault, terms = self.terms.setdefault, self.terms
        return np.fromiter((setdefault(t, len(terms)) for t in toks), dtype=np.int64)

    def ids(self, text: str | None) -> np.ndarray:
        """The term ids of :func:`tokens` of ``text`` (new terms get new ids)."""
        key = text or ""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.ids_of(tokens(key))
        return found


def bm25_from_ids(
    docs: Sequence[np.ndarray],
    vocab: dict[str, int],
    *,
    k1: float = BM25_K1,
    b: float = BM25_B,
) -> TermIndex:
    """:func:`bm25_index` of documents given as arrays of term ids of ``vocab`` (vectorised:
    one sort of the (document, term) pairs, no per-document Python work)."""
    n, v = len(docs), max(len(vocab), 1)
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n)
    if n == 0 or not lengths.sum():
        empty = np.zeros(0, dtype=np.int64)
        return _compress(vocab, empty, empty.astype(np.int32), empty.astype(np.float64), n)
    flat = np.concatenate(docs)
    key = np.repeat(np.arange(n, dtype=np.int64), lengths) * v + flat
    pairs, tf = np.unique(key, return_counts=True)
    doc_ids, term_ids = pairs // v, pairs % v
    tf = tf.astype(np.float64)
    df = np.bincount(term_ids, minlength=len(vocab)).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    avgdl = max(float(lengths.mean()), 1e-9)
    norm = k1 * (1 - b + b * lengths[doc_ids] / avgdl)
    weights = idf[term_ids] * tf * (k1 + 1) / (tf + norm)
    return _compress(vocab, term_ids, doc_ids.astype(np.int32), weights, n)


def idf_table(docs_tokens: Iterable[Iterable[str]]) -> tuple[dict[str, float], int]:
    """Smoothed idf ``ln((1 + N) / (1 + df)) + 1`` of every term, and N."""
    df: Counter[str] = Counter()
    n = 0
    for toks in docs_tokens:
        df.update(set(toks))
        n += 1
    return {t: math.log((1 + n) / (1 + c)) + 1 for t, c in df.items()}, n


def tfidf_vector(toks: Iterable[str], idf: Mapping[str, float], default_idf: float) -> dict:
    """The L2-normalised tf-idf vector (term → weight; tf dampened as 1 + ln tf)."""
    vec = {t: (1 + math.log(c)) * idf.get(t, default_idf) for t, c in Counter(toks).items()}
    norm = math.sqrt(sum(w * w for w in vec.values()))
    return {t: w / norm for t, w in vec.items()} if norm else {}


def cosine_index(vectors: Sequence[Mapping[str, float]]) -> TermIndex:
    """An index whose :meth:`TermIndex.scores` for a unit vector are cosine similarities."""
    vocab: dict[str, int] = {}
    term_ids: list[int] = []
    doc_ids: list[int] = []
    weights: list[float] = []
    for d, vec in enumerate(vectors):
        for term, w in vec.items():
            term_ids.append(vocab.setdefault(term, len(vocab)))
            doc_ids.append(d)
            weights.append(w)
    return _compress(
        vocab,
        np.asarray(term_ids, dtype=np.int64),
        np.asarray(doc_ids, dtype=np.int32),
        np.asarray(weights, dtype=np.float64),
        len(vectors),
    )


#: default cosine similarity at or above which two descriptions are one problem (measured on
#: the shipped test set; policy ``library.cluster_similarity``)
CLUSTER_SIMILARITY = 0.3


def cluster(
    texts: Sequence[str | None],
    groups: Sequence[Hashable] | None = None,
    *,
    threshold: float = CLUSTER_SIMILARITY,
    unigrams: bool = False,
) -> np.ndarray:
    """A cluster label (0, 1, …; -1 for a text with no terms) for each text.

    Texts are compared only within their group (``groups[i]``, e.g. ``(module, type)``;
    None: all one group). Identical normalised texts are one point, weighted by how often
    they occur. In each group, points are taken most frequent first (then in input order):
    an unassigned point starts a cluster with every unassigned point whose tf-idf cosine to
    it is ≥ ``threshold``; then each point moves to the cluster whose centroid it is most
    similar to (if that similarity is ≥ ``threshold``). Labels are numbered by first
    occurrence in ``texts``, so the result does not depend on the group order.
    """
    n = len(texts)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    groups = [None] * n if groups is None else list(groups)
    toks = [tokens(t, unigrams=unigrams) for t in texts]
    idf, n_docs = idf_table(toks)
    default_idf = math.log(1 + n_docs) + 1
    # unique (group, normalised text) points
    point_of: dict[tuple[Hashable, tuple[str, ...]], int] = {}
    point_group: list[Hashable] = []
    point_tokens: list[list[str]] = []
    weight: list[int] = []
    members: list[int] = []
    for g, tk in zip(groups, toks, strict=True):
        if not tk:
            members.append(-1)
            continue
        key = (g, tuple(sorted(tk)))
        p = point_of.get(key)
        if p is None:
            p = point_of[key] = len(point_group)
            point_group.append(g)
            point_tokens.append(tk)
            weight.append(0)
        weight[p] += 1
        members.append(p)
    by_group: dict[Hashable, list[int]] = {}
    for p, g in enumerate(point_group):
        by_group.setdefault(g, []).append(p)
    point_label = np.full(len(point_group), -1, dtype=np.int64)
    next_label = 0
    for points in by_group.values():
        vectors = [tfidf_vector(point_tokens[p], idf, default_idf) for p in points]
        local = _cluster_points(vectors, [weight[p] for p in points], threshold)
        point_label[points] = local + next_label
        next_label += int(local.max()) + 1 if len(local) else 0
    raw = np.array([point_label[p] if p >= 0 else -1 for p in members], dtype=np.int64)
    # renumber by first occurrence
    renumber: dict[int, int] = {}
    for i, lab in enumerate(raw.tolist()):
        if lab >= 0:
            labels[i] = renumber.setdefault(lab, len(renumber))
    return labels


def _cluster_points(
    vectors: Sequence[Mapping[str, float]], weights: Sequence[int], threshold: float
) -> np.ndarray:
    """Leader clustering + one centroid re-assignment over unit vectors (see :func:`cluster`)."""
    m = len(vectors)
    labels = np.full(m, -1, dtype=np.int64)
    if m == 0:
        return labels
    index = cosine_index(vectors)
    order = sorted(range(m), key=lambda p: (-weights[p], p))
    leaders: list[int] = []
    for p in order:
        if labels[p] >= 0:
            continue
        sims = index.scores(vectors[p])
        grab = (sims >= threshold - 1e-9) & (labels < 0)
        grab[p] = True
        labels[grab] = len(leaders)
        leaders.append(p)
    if len(leaders) == 1:
        return labels
    # one re-assignment pass: each point to its most similar centroid
    best = np.full(m, -np.inf)
    best_label = labels.copy()
    w = np.asarray(weights, dtype=np.float64)
    for lab in range(len(leaders)):
        centroid: Counter[str] = Counter()
        for p in np.flatnonzero(labels == lab).tolist():
            for t, v in vectors[p].items():
                centroid[t] += v * w[p]
        norm = math.sqrt(sum(v * v for v in centroid.values()))
        sims = index.scores({t: v / norm for t, v in centroid.items()})
        better = sims > best + 1e-12
        best[better] = sims[better]
        best_label[better] = lab
    moved = best >= threshold - 1e-9
    labels[moved] = best_label[moved]
    # renumber densely (a cluster may have lost all its points)
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)
