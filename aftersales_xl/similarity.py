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
- :func:`nearest` finds, for each query text, the most similar target texts of its group
  (总台账's 相似已解决), by the same vectors and prefix filtering.

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
    out: list[str] = []
    for cjk, word in _RUN.findall(normalise(text)):
        if not cjk:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            if unigrams:
                out.extend(cjk)
            out.extend(map(str.__add__, cjk[:-1], cjk[1:]))
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

    def __init__(self, *, unigrams: bool = True) -> None:
        self.terms: dict[str, int] = {}
        self.unigrams = unigrams
        self._memo: dict[str, np.ndarray] = {}

    def ids_of(self, toks: Iterable[str]) -> np.ndarray:
        terms = self.terms
        get = terms.get
        out = []
        for t in toks:
            i = get(t)
            if i is None:
                i = terms[t] = len(terms)
            out.append(i)
        return np.array(out, dtype=np.int64)

    def ids(self, text: str | None) -> np.ndarray:
        """The term ids of :func:`tokens` of ``text`` (new terms get new ids)."""
        key = text or ""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.ids_of(tokens(key, unigrams=self.unigrams))
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
    texts: Sequence[str | Sequence[str | None] | None],
    groups: Sequence[Hashable] | None = None,
    *,
    threshold: float = CLUSTER_SIMILARITY,
    unigrams: bool = False,
) -> np.ndarray:
    """A cluster label (0, 1, …; -1 for a text with no terms) for each text.

    A text may be a tuple of fields (description, analysis, solution): the same as the
    fields joined with spaces, but each distinct field is tokenised once.

    Texts are compared only within their group (``groups[i]``, e.g. ``(module, type)``;
    None: all one group), as L2-normalised tf-idf vectors (tf dampened as 1 + ln tf, idf
    ``ln((1 + N) / (1 + df)) + 1`` over all texts) of :func:`tokens` (bigrams only unless
    ``unigrams``). Identical normalised texts are one point, weighted by how often they
    occur. In each group, points are taken most frequent first (then in input order): an
    unassigned point starts a cluster with every unassigned point whose cosine to it is
    ≥ ``threshold``; then each point of a cluster of two or more moves to the cluster whose
    centroid it is most similar to (if that similarity is ≥ ``threshold``). Labels are
    numbered by first occurrence in ``texts``.

    Vectorised for a year's register: the vectors are compressed rows and columns per group,
    and a point's neighbours are found by prefix filtering (only points sharing one of its
    heaviest terms can reach ``threshold``; their exact cosine is then computed), so the cost
    follows the rare terms, not the number of pairs.
    """
    n = len(texts)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    group_list = [None] * n if groups is None else list(groups)
    point_of: dict[tuple[Hashable, tuple[str, ...]], int] = {}
    point_fields: list[tuple[str, ...]] = []
    point_group: list[Hashable] = []
    member = np.full(n, -1, dtype=np.int64)
    for i, (g, t) in enumerate(zip(group_list, texts, strict=True)):
        fields = (t,) if t is None or isinstance(t, str) else tuple(t)
        key_fields = tuple(f for f in fields if f)
        if not key_fields:
            continue
        key = (g, key_fields)
        p = point_of.get(key)
        if p is None:
            p = point_of[key] = len(point_fields)
            point_fields.append(key_fields)
            point_group.append(g)
        member[i] = p
    n_points = len(point_fields)
    if n_points == 0:
        return labels
    vocab = Vocabulary(unigrams=unigrams)
    rows = [
        vocab.ids(f[0]) if len(f) == 1 else np.concatenate([vocab.ids(x) for x in f])
        for f in point_fields
    ]
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=n_points)
    count = np.bincount(member[member >= 0], minlength=n_points).astype(np.float64)
    empty = lengths == 0
    if empty.all():
        return labels
    v = max(len(vocab.terms), 1)
    flat = np.concatenate(rows)
    key = np.repeat(np.arange(n_points, dtype=np.int64), lengths) * v + flat
    pairs, tf = np.unique(key, return_counts=True)
    pt, term = pairs // v, pairs % v
    # document frequency over records (a point stands for count[p] records)
    n_docs = float(count[~empty].sum())
    df = np.bincount(term, weights=count[pt], minlength=v)
    idf = np.log((1 + n_docs) / (1 + df)) + 1
    w = (1 + np.log(tf)) * idf[term]
    w /= np.sqrt(np.bincount(pt, weights=w * w, minlength=n_points))[pt]
    row_ptr = np.zeros(n_points + 1, dtype=np.int64)
    np.cumsum(np.bincount(pt, minlength=n_points), out=row_ptr[1:])
    group_id: dict[Hashable, int] = {}
    gids = np.fromiter((group_id.setdefault(g, len(group_id)) for g in point_group), dtype=np.int64)
    point_label = np.full(n_points, -1, dtype=np.int64)
    next_label = 0
    order = np.argsort(gids, kind="stable")
    bounds = np.searchsorted(gids[order], np.arange(len(group_id) + 1))
    for gi in range(len(group_id)):
        pts = order[bounds[gi] : bounds[gi + 1]]
        pts = pts[~empty[pts]]
        if not len(pts):
            continue
        local = _cluster_group(pts, row_ptr, term, w, count[pts], threshold)
        point_label[pts] = local + next_label
        next_label += int(local.max()) + 1
    raw = np.where(member >= 0, point_label[np.maximum(member, 0)], -1)
    renumber: dict[int, int] = {}
    for i, lab in enumerate(raw.tolist()):
        if lab >= 0:
            labels[i] = renumber.setdefault(lab, len(renumber))
    return labels


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, e)`` for each pair (vectorised)."""
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return offsets + np.arange(total, dtype=np.int64)


class _Group:
    """One group's unit vectors as compressed rows (points) and columns (terms)."""

    def __init__(self, pts: np.ndarray, row_ptr: np.ndarray, term: np.ndarray, w: np.ndarray):
        idx = _ranges(row_ptr[pts], row_ptr[pts + 1])
        lens = row_ptr[pts + 1] - row_ptr[pts]
        self.m = len(pts)
        self.row_ptr = np.zeros(self.m + 1, dtype=np.int64)
        np.cumsum(lens, out=self.row_ptr[1:])
        self.row_point = np.repeat(np.arange(self.m, dtype=np.int64), lens)
        self.terms, self.row_term = np.unique(term[idx], return_inverse=True)
        uniq = self.terms
        self.row_w = w[idx]
        self.n_terms = len(uniq)
        by_term = np.argsort(self.row_term, kind="stable")
        self.col_ptr = np.zeros(self.n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.row_term, minlength=self.n_terms), out=self.col_ptr[1:])
        self.col_point = self.row_point[by_term]
        self._col_w = self.row_w[by_term]
        self.lookup = np.zeros(self.n_terms, dtype=np.float64)

    def local_terms(self, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global term ids → this group's (those the group has), and which were kept."""
        pos = np.searchsorted(self.terms, terms)
        keep = (pos < len(self.terms)) & (self.terms[np.minimum(pos, len(self.terms) - 1)] == terms)
        return pos[keep], keep

    def row(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.row_ptr[p], self.row_ptr[p + 1]
        return self.row_term[lo:hi], self.row_w[lo:hi]

    def neighbours(
        self, terms: np.ndarray, weights: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points whose cosine with the unit vector (``terms``, ``weights``) may reach
        ``threshold``, and their exact cosines."""
        heavy = np.argsort(-weights, kind="stable")
        rest = np.sqrt(np.cumsum((weights[heavy] ** 2)[::-1])[::-1])  # norm from j on
        k = int(np.searchsorted(-rest, -threshold, side="left"))  # first j with rest < t
        k = max(1, min(k, len(heavy)))
        prefix = heavy[:k]
        starts, ends = self.col_ptr[terms[prefix]], self.col_ptr[terms[prefix] + 1]
        posted = self.col_point[_ranges(starts, ends)]
        if not len(posted):
            return posted, np.zeros(0)
        # upper bound: the prefix terms' exact share plus at most the rest's norm
        partial = np.bincount(
            posted, weights=self._col_w[_ranges(starts, ends)] * np.repeat(weights[prefix],
                                                                          ends - starts),
            minlength=self.m,
        )  # fmt: skip
        rest_norm = float(rest[k]) if k < len(rest) else 0.0
        cand = np.flatnonzero(partial + rest_norm >= threshold - 1e-9)
        if not len(cand):
            return cand, np.zeros(0)
        self.lookup[terms] = weights
        idx = _ranges(self.row_ptr[cand], self.row_ptr[cand + 1])
        lens = self.row_ptr[cand + 1] - self.row_ptr[cand]
        dots = np.bincount(
            np.repeat(np.arange(len(cand)), lens),
            weights=self.row_w[idx] * self.lookup[self.row_term[idx]],
            minlength=len(cand),
        )
        self.lookup[terms] = 0.0
        return cand, dots

    def best(
        self, terms: np.ndarray, weights: np.ndarray, threshold: float, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The points of the ``k`` best cosines ≥ ``threshold`` (with them; unordered).

        First the points sharing the heaviest terms (those that can reach 0.6); the k-th best
        cosine found there raises the bar, so the exact pass only looks at points that can
        still beat it — near-duplicates make the second pass small."""
        seed = max(threshold, 0.6)
        cand, sims = self.neighbours(terms, weights, seed)
        bar = threshold
        if len(sims) >= k:
            bar = max(threshold, float(np.partition(sims, len(sims) - k)[len(sims) - k]))
        if bar < seed:
            cand, sims = self.neighbours(terms, weights, bar)
        ok = sims >= bar - 1e-9
        return cand[ok], sims[ok]


def _cluster_group(
    pts: np.ndarray,
    row_ptr: np.ndarray,
    term: np.ndarray,
    w: np.ndarray,
    count: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """Leader clustering + one centroid re-assignment of one group's points (see :func:`cluster`)."""
    g = _Group(pts, row_ptr, term, w)
    m = g.m
    labels = np.full(m, -1, dtype=np.int64)
    eps = 1e-9
    leaders = 0
    for p in np.lexsort((np.arange(m), -count)).tolist():
        if labels[p] >= 0:
            continue
        cand, sims = g.neighbours(*g.row(p), threshold)
        grab = cand[(sims >= threshold - eps) & (labels[cand] < 0)]
        labels[grab] = leaders
        labels[p] = leaders
        leaders += 1
    if leaders == 1:
        return labels
    # one re-assignment pass over the centroids of clusters of two or more points
    sizes = np.bincount(labels, minlength=leaders)
    best = np.where(sizes[labels] == 1, 1.0, -np.inf)
    best_label = labels.copy()
    by_label = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_label], np.arange(leaders + 1))
    for lab in np.flatnonzero(sizes > 1).tolist():
        members = by_label[starts[lab] : starts[lab + 1]]
        idx = _ranges(g.row_ptr[members], g.row_ptr[members + 1])
        lens = g.row_ptr[members + 1] - g.row_ptr[members]
        scaled = g.row_w[idx] * np.repeat(count[members], lens)
        terms, inverse = np.unique(g.row_term[idx], return_inverse=True)
        centre = np.bincount(inverse, weights=scaled, minlength=len(terms))
        centre /= np.sqrt((centre * centre).sum())
        cand, sims = g.neighbours(terms, centre, threshold)
        better = sims > best[cand] + 1e-12
        best[cand[better]] = sims[better]
        best_label[cand[better]] = lab
    moved = best >= threshold - eps
    labels[moved] = best_label[moved]
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)


def nearest(
    queries: Sequence[str | Sequence[str | None] | None],
    query_groups: Sequence[Hashable],
    targets: Sequence[str | Sequence[str | None] | None],
    target_groups: Sequence[Hashable],
    *,
    k: int = 3,
    threshold: float = 0.25,
    unigrams: bool = False,
) -> list[list[tuple[int, float]]]:
    """For each query, up to ``k`` targets of its group with tf-idf cosine ≥ ``threshold``,
    most similar first, as ``(target index, cosine)``; of targets with the same text, the
    later ones (newer in a register) first.

    Texts are as in :func:`cluster` (a string or a tuple of fields); each distinct (group,
    normalised text) is compared once, idf counted over the distinct texts. Found by the same
    prefix filtering as :func:`cluster`, with the k-th best cosine raising the bar.
    """

    def key(t: str | Sequence[str | None] | None) -> tuple[str, ...]:
        fields = (t,) if t is None or isinstance(t, str) else tuple(t)
        return tuple(normalise(f) for f in fields)

    t_index: dict[tuple[Hashable, tuple[str, ...]], int] = {}
    t_members: list[list[int]] = []
    t_text: list[tuple[str, ...]] = []
    t_group: list[Hashable] = []
    for i, (t, g) in enumerate(zip(targets, target_groups, strict=True)):
        kk = (g, key(t))
        u = t_index.get(kk)
        if u is None:
            u = t_index[kk] = len(t_members)
            t_members.append([])
            t_text.append(kk[1])
            t_group.append(g)
        t_members[u].append(i)
    q_index: dict[tuple[Hashable, tuple[str, ...]], int] = {}
    q_of: list[int] = []
    q_text: list[tuple[str, ...]] = []
    q_group: list[Hashable] = []
    for t, g in zip(queries, query_groups, strict=True):
        kk = (g, key(t))
        u = q_index.get(kk)
        if u is None:
            u = q_index[kk] = len(q_text)
            q_text.append(kk[1])
            q_group.append(g)
        q_of.append(u)
    found = _nearest_unique(
        q_text, q_group, t_text, t_group, k=k, threshold=threshold, unigrams=unigrams
    )
    expanded: list[list[tuple[int, float]]] = []
    for hits in found:
        out: list[tuple[int, float]] = []
        for u, sim in hits:
            out.extend((i, sim) for i in reversed(t_members[u]))
            if len(out) >= k:
                break
        expanded.append(out[:k])
    return [expanded[u] for u in q_of]


def _nearest_unique(
    queries: Sequence[str | Sequence[str | None] | None],
    query_groups: Sequence[Hashable],
    targets: Sequence[str | Sequence[str | None] | None],
    target_groups: Sequence[Hashable],
    *,
    k: int = 3,
    threshold: float = 0.25,
    unigrams: bool = False,
) -> list[list[tuple[int, float]]]:
    """:func:`nearest` over distinct texts."""
    texts = [*targets, *queries]
    n_t = len(targets)
    vocab = Vocabulary(unigrams=unigrams)
    rows = []
    for t in texts:
        fields = (t,) if t is None or isinstance(t, str) else tuple(t)
        ids = [vocab.ids(f) for f in fields if f]
        rows.append(np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64))
    out: list[list[tuple[int, float]]] = [[] for _ in queries]
    n = len(texts)
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=n)
    if not len(queries) or not n_t or not lengths.sum():
        return out
    v = max(len(vocab.terms), 1)
    key = np.repeat(np.arange(n, dtype=np.int64), lengths) * v + np.concatenate(rows)
    pairs, tf = np.unique(key, return_counts=True)
    pt, term = pairs // v, pairs % v
    df = np.bincount(term, minlength=v)
    n_docs = int((lengths > 0).sum())
    w = (1 + np.log(tf)) * (np.log((1 + n_docs) / (1 + df)) + 1)[term]
    w /= np.sqrt(np.bincount(pt, weights=w * w, minlength=n))[pt]
    row_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pt, minlength=n), out=row_ptr[1:])
    by_group: dict[Hashable, list[int]] = {}
    for i, g in enumerate(target_groups):
        if lengths[i]:
            by_group.setdefault(g, []).append(i)
    built: dict[Hashable, _Group] = {}
    for q, g in enumerate(query_groups):
        qi = n_t + q
        if not lengths[qi] or g not in by_group:
            continue
        grp = built.get(g)
        if grp is None:
            grp = built[g] = _Group(np.asarray(by_group[g], dtype=np.int64), row_ptr, term, w)
        lo, hi = row_ptr[qi], row_ptr[qi + 1]
        local, keep = grp.local_terms(term[lo:hi])
        if not len(local):
            continue
        cand, sims = grp.best(local, w[lo:hi][keep], threshold, k)
        order = np.lexsort((cand, -sims))[:k]
        members = by_group[g]
        out[q] = [
            (members[int(c)], float(s)) for c, s in zip(cand[order], sims[order], strict=True)
        ]
    return out
