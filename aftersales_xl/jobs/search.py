"""``xlcheck search``: find how a problem was solved before, in the master register.

The register's records are indexed once (:mod:`aftersales_xl.similarity`: character bigrams
and characters, BM25 over 问题描述 + 问题分析过程 + 产品/服务模块 + 问题类型) and the index is
cached beside the register as ``.<register name>.search-cache`` (for ``总台账.xlsx``:
``.总台账.xlsx.search-cache``), a numpy ``.npz`` archive of plain arrays (loaded with
``allow_pickle=False``, so a planted file cannot run code) holding the register's SHA-256, the
tokeniser name and the records' display fields. A search hashes the register's bytes: when
the hash, the cache format or the tokeniser differ, the index is rebuilt and the cache
rewritten (atomically); otherwise only the cache is read, and neither pandas nor the
workbook parser is imported. Deleting the file is always safe: the next search rebuilds it.
A cache that cannot be written (read-only folder) only costs the rebuild next time.

Only records whose 处理进度 is in ``status.done`` (已解决 / 已关闭) are candidates unless
``include_open``; the status is kept in the cache and the policy applied at query time, so a
changed policy needs no rebuild. The cache holds what the register holds (already masked);
what is shown passes the CLI's redacting ``echo`` as well.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import similarity
from ..config import Policy
from ..errors import UnreadableError, XlcheckError
from ..forms import FormSpec
from ..messages import localise

#: bump when the cache layout changes (an old cache is then rebuilt)
CACHE_FORMAT = 1
CACHE_SUFFIX = ".search-cache"
#: the display fields kept per record, in this order
RECORD_FIELDS = (
    "record_id",
    "module",
    "problem_type",
    "status",
    "description",
    "solution",
    "resolved_at",
    "satisfaction",
)
#: fields whose text is indexed
INDEXED_FIELDS = ("description", "analysis", "module", "problem_type")


class EmptyQueryError(XlcheckError):
    """The query has nothing to match on (only punctuation, symbols or spaces): exit 2."""


def cache_path(register: str | Path) -> Path:
    """The cache file of ``register``: ``.<name>.search-cache`` in the same folder."""
    register = Path(register)
    return register.with_name(f".{register.name}{CACHE_SUFFIX}")


@dataclass
class Codes:
    """A text column as integer codes into its distinct ``values`` (None = blank)."""

    codes: np.ndarray  # int32
    values: list[str | None]

    @classmethod
    def of(cls, column: Sequence[str | None]) -> Codes:
        seen: dict[str | None, int] = {}
        codes = np.fromiter(
            (seen.setdefault(v, len(seen)) for v in column), dtype=np.int32, count=len(column)
        )
        return cls(codes, list(seen))

    def mask(self, test: Any) -> np.ndarray:
        """Rows whose value passes ``test`` (called once per distinct value)."""
        verdict = np.array([bool(test(v)) for v in self.values] or [False], dtype=bool)
        return verdict[self.codes]


@dataclass
class SearchIndex:
    """One register's records and their BM25 index. Status, module and type are integer
    codes (filters are array operations); each record's display fields are one JSON row in
    ``rows`` (offsets in ``offsets``), decoded only for the records shown."""

    digest: str
    status: Codes
    module: Codes
    problem_type: Codes
    rows: bytes
    offsets: np.ndarray  # int64, len + 1
    index: similarity.TermIndex

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def record(self, i: int) -> dict[str, Any]:
        """The display fields of record ``i``."""
        row = json.loads(self.rows[self.offsets[i] : self.offsets[i + 1]].decode("utf-8"))
        return dict(zip(RECORD_FIELDS, row, strict=True))


@dataclass(frozen=True)
class Hit:
    """One ranked record."""

    rank: int
    score: float
    record_id: str | None
    module: str | None
    problem_type: str | None
    status: str | None
    description: str | None
    solution: str | None
    resolved_at: str | None  # "YYYY-MM-DD HH:MM"
    satisfaction: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(self.score, 3),
            "record_id": self.record_id,
            "module": self.module,
            "problem_type": self.problem_type,
            "status": self.status,
            "description": self.description,
            "solution": self.solution,
            "resolved_at": self.resolved_at,
            "satisfaction": self.satisfaction,
        }


@dataclass
class SearchResult:
    """What :func:`search` found. ``message`` explains an empty result (no records, none
    solved, none in the filters, nothing similar); ``cache`` is ``"built"`` or ``"reused"``;
    ``candidates`` counts the records searched (after the status and filters)."""

    register: Path
    query: str
    hits: list[Hit]
    records: int
    candidates: int
    cache: str
    message: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "register": str(self.register),
            "query": self.query,
            "records": self.records,
            "candidates": self.candidates,
            "cache": self.cache,
            "message": self.message,
            "notes": list(self.notes),
            "results": [h.to_dict() for h in self.hits],
        }


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes (hex)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_index(frame: Any, digest: str) -> SearchIndex:
    """The index of a typed register frame (:func:`~aftersales_xl.reading.register.read_register`):
    BM25 over :data:`INDEXED_FIELDS`, each distinct field text tokenised once."""
    n = len(frame)

    def column(key: str) -> list[Any]:
        if key not in frame.columns:
            return [None] * n
        if key == "resolved_at":
            return [None if v is None else str(v) for v in _stamps(frame[key])]
        return [_plain(key, v) for v in frame[key].tolist()]

    cols = {key: column(key) for key in RECORD_FIELDS}
    vocab = similarity.Vocabulary()
    fields = [cols[key] if key in cols else column(key) for key in INDEXED_FIELDS]
    docs = [np.concatenate([vocab.ids(field[i]) for field in fields]) for i in range(n)]
    encoded = [
        json.dumps([cols[key][i] for key in RECORD_FIELDS], ensure_ascii=False).encode("utf-8")
        for i in range(n)
    ]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return SearchIndex(
        digest=digest,
        status=Codes.of(cols["status"]),
        module=Codes.of(cols["module"]),
        problem_type=Codes.of(cols["problem_type"]),
        rows=b"".join(encoded),
        offsets=offsets,
        index=similarity.bm25_from_ids(docs, vocab.terms),
    )


def _stamps(series: Any) -> list[str | None]:
    """A datetime column as ``YYYY-MM-DD HH:MM`` text (None when blank)."""
    import pandas as pd

    text = pd.to_datetime(series, errors="coerce").dt.strftime("%Y-%m-%d %H:%M")
    return [None if isinstance(v, float) or v is None or v is pd.NA else v for v in text.tolist()]


def load_index(
    register: Path,
    form: FormSpec,
    policy: Policy,
    *,
    lang: str = "zh",
    notes: list[str] | None = None,
) -> tuple[SearchIndex, str]:
    """The register's index from its cache when the cache is current, else built from the
    register (and the cache rewritten). Returns the index and ``"reused"`` / ``"built"``.

    Raises :class:`UnreadableError` if the register does not exist or cannot be read.
    """
    if not register.is_file():
        raise UnreadableError(
            str(register), "not-found", localise(_TEXT, "not-found", lang, path=register.name)
        )
    digest = file_digest(register)
    cached = _read_cache(cache_path(register), digest)
    if cached is not None:
        return cached, "reused"
    from ..reading.register import read_register  # pandas + calamine: only when rebuilding

    built = build_index(read_register(register, form, policy, lang=lang), digest)
    try:
        _write_cache(cache_path(register), built)
    except OSError as e:
        if notes is not None:
            notes.append(
                localise(_TEXT, "cache-not-written", lang, path=cache_path(register).name, detail=e)
            )
    return built, "built"


def search(
    register: str | Path,
    query: str,
    form: FormSpec,
    policy: Policy,
    *,
    top: int = 5,
    module: str | None = None,
    problem_type: str | None = None,
    include_open: bool = False,
    lang: str = "zh",
) -> SearchResult:
    """Rank the register's solved records (every record with ``include_open``) by BM25
    similarity to ``query`` and return the best ``top`` with a score above 0.

    ``module`` / ``problem_type`` keep records whose 产品/服务模块 / 问题类型 contains the given
    text (normalised: width, case and punctuation folded). Raises :class:`EmptyQueryError`
    when the query has nothing to match on, :class:`UnreadableError` when the register
    cannot be read.
    """
    register = Path(register)
    terms = similarity.tokens(query)
    if not terms:
        raise EmptyQueryError(localise(_TEXT, "empty-query", lang, query=query.strip()[:20]))
    notes: list[str] = []
    idx, how = load_index(register, form, policy, lang=lang, notes=notes)
    result = SearchResult(register, query, [], len(idx), 0, how, notes=notes)
    if not len(idx):
        result.message = localise(_TEXT, "no-records", lang, path=register.name)
        return result
    keep = candidates(idx, policy.done_statuses, include_open, module, problem_type)
    result.candidates = int(keep.sum())
    if not result.candidates:
        done = "、".join(policy.done_statuses)
        if module or problem_type:
            result.message = localise(_TEXT, "none-in-filter", lang)
        elif include_open:
            result.message = localise(_TEXT, "no-records", lang, path=register.name)
        else:
            result.message = localise(_TEXT, "none-solved", lang, records=len(idx), done=done)
        return result
    scores = idx.index.scores(terms)
    scores = np.where(keep, scores, 0.0)
    ranked = _top(scores, top)
    result.hits = [
        Hit(rank=rank, score=float(scores[i]), **idx.record(i)) for rank, i in enumerate(ranked, 1)
    ]
    if not result.hits:
        result.message = localise(_TEXT, "nothing-similar", lang)
    return result


def candidates(
    idx: SearchIndex,
    done: Sequence[str],
    include_open: bool,
    module: str | None,
    problem_type: str | None,
) -> np.ndarray:
    """Boolean mask of the records searched: status in ``done`` (unless ``include_open``),
    module / type containing the normalised filter text."""
    done_set = set(done)
    keep = np.ones(len(idx), dtype=bool)
    if not include_open:
        keep &= idx.status.mask(lambda v: v in done_set)
    for codes, wanted in ((idx.module, module), (idx.problem_type, problem_type)):
        text = similarity.normalise(wanted) if wanted else ""
        if text:
            keep &= codes.mask(lambda v, t=text: t in similarity.normalise(v))
    return keep


def _top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` best scores above 0, best first (ties: register order)."""
    positive = np.flatnonzero(scores > 0)
    if not len(positive) or k <= 0:
        return []
    if len(positive) > k:
        part = np.argpartition(-scores[positive], k - 1)[:k]
        positive = positive[part]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order].tolist()


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _plain(key: str, value: Any) -> Any:
    """A register value as JSON keeps it: text, ``YYYY-MM-DD HH:MM``, int or None."""
    try:
        if value is None or value != value:  # NaN, NaT, NA
            return None
    except (TypeError, ValueError):  # pd.NA compares ambiguously
        return None
    if key == "resolved_at":
        return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)
    if key == "satisfaction":
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return str(value)


# -- the cache file ----------------------------------------------------------------------------
def _write_cache(path: Path, idx: SearchIndex) -> None:
    """Write the index and records as a numpy archive of plain arrays, atomically."""
    from ..writing.fileio import atomic_output

    meta = {
        "format": CACHE_FORMAT,
        "tokeniser": similarity.TOKENISER,
        "digest": idx.digest,
        "fields": list(RECORD_FIELDS),
        "status": idx.status.values,
        "module": idx.module.values,
        "problem_type": idx.problem_type.values,
    }
    arrays = {f"index_{k}": v for k, v in idx.index.to_arrays().items()}
    with atomic_output(path) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh,
            meta=_json_bytes(meta),
            rows=np.frombuffer(idx.rows, dtype=np.uint8),
            offsets=idx.offsets,
            status=idx.status.codes,
            module=idx.module.codes,
            problem_type=idx.problem_type.codes,
            **arrays,
        )


def _read_cache(path: Path, digest: str) -> SearchIndex | None:
    """The cached index if the file is a current cache of a register with ``digest``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if (
                meta.get("format") != CACHE_FORMAT
                or meta.get("tokeniser") != similarity.TOKENISER
                or meta.get("digest") != digest
                or meta.get("fields") != list(RECORD_FIELDS)
            ):
                return None
            idx = SearchIndex(
                digest=digest,
                status=Codes(data["status"], meta["status"]),
                module=Codes(data["module"], meta["module"]),
                problem_type=Codes(data["problem_type"], meta["problem_type"]),
                rows=data["rows"].tobytes(),
                offsets=data["offsets"],
                index=similarity.TermIndex.from_arrays(
                    {
                        k: data[f"index_{k}"]
                        for k in ("terms", "indptr", "docs", "weights", "n_docs")
                    }
                ),
            )
    except Exception:  # noqa: BLE001 - any unreadable cache is rebuilt, never trusted
        return None
    return idx if _consistent(idx) else None


def _consistent(idx: SearchIndex) -> bool:
    """Every array of a loaded cache fits the others (a damaged file is rebuilt, not used)."""
    n, ix = len(idx), idx.index
    if ix.n_docs != n or idx.offsets[-1] != len(idx.rows) or len(ix.indptr) != len(ix.vocab) + 1:
        return False
    if ix.indptr[-1] != len(ix.docs) or len(ix.docs) != len(ix.weights):
        return False
    if len(ix.docs) and (ix.docs.min() < 0 or ix.docs.max() >= n):
        return False
    for codes in (idx.status, idx.module, idx.problem_type):
        if len(codes.codes) != n:
            return False
        if n and (codes.codes.min() < 0 or codes.codes.max() >= len(codes.values)):
            return False
    return True


def _json_bytes(data: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(data, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


_TEXT: dict[str, dict[str, str]] = {
    "not-found": {
        "zh": "找不到总台账 {path}：请检查 --register 的路径",
        "en": "register {path} not found: check the --register path",
    },
    "empty-query": {
        "zh": '查询“{query}”中没有可匹配的文字（只有标点或空格）：请输入问题描述中的词，例如 xlcheck search "打卡 定位失败"',
        "en": 'the query "{query}" has nothing to match on (only punctuation or spaces): give words '
        'of a problem description, e.g. xlcheck search "打卡 定位失败"',
    },
    "no-records": {
        "zh": "总台账 {path} 中还没有记录，无可搜索的内容",
        "en": "the register {path} holds no records yet; there is nothing to search",
    },
    "none-solved": {
        "zh": "总台账中的 {records} 条记录都还没有{done}，没有可参考的解决方案；加 --open 可搜索未结记录",
        "en": "none of the register's {records} records is {done} yet, so there is no solution to "
        "show; add --open to search open records",
    },
    "none-in-filter": {
        "zh": "没有符合 --module / --type 条件的记录：请检查筛选条件",
        "en": "no record matches --module / --type: check the filters",
    },
    "nothing-similar": {
        "zh": "没有找到相似的记录：换个说法或减少关键词再试",
        "en": "no similar record found: try other words or fewer of them",
    },
    "cache-not-written": {
        "zh": "搜索缓存 {path} 无法写入（{detail}），下次搜索会重新建立索引",
        "en": "the search cache {path} could not be written ({detail}); the next search rebuilds the index",
    },
}
