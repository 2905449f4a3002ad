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
class SearchIndex:
    """The records of one register (display fields) and their BM25 index."""

    digest: str
    records: list[dict[str, Any]]
    index: similarity.TermIndex

    def __len__(self) -> int:
        return len(self.records)


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


def records_from_frame(frame: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The display records and the indexed text of each row of a typed register frame."""
    n = len(frame)

    def column(key: str) -> list[Any]:
        if key not in frame.columns:
            return [None] * n
        return frame[key].tolist()

    cols = {key: column(key) for key in {*RECORD_FIELDS, *INDEXED_FIELDS}}
    records = []
    texts = []
    for i in range(n):
        rec = {key: _plain(key, cols[key][i]) for key in RECORD_FIELDS}
        records.append(rec)
        texts.append(" ".join(_text(cols[key][i]) for key in INDEXED_FIELDS))
    return records, texts


def build_index(records: list[dict[str, Any]], texts: Sequence[str], digest: str) -> SearchIndex:
    """The BM25 index of ``texts`` (one per record)."""
    return SearchIndex(
        digest, records, similarity.bm25_index([similarity.tokens(t) for t in texts])
    )


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
        raise UnreadableError(str(register), "not-found", _t("not-found", lang, path=register.name))
    digest = file_digest(register)
    cached = _read_cache(cache_path(register), digest)
    if cached is not None:
        return cached, "reused"
    from ..reading.register import read_register  # pandas + calamine: only when rebuilding

    frame = read_register(register, form, policy, lang=lang)
    records, texts = records_from_frame(frame)
    built = build_index(records, texts, digest)
    try:
        _write_cache(cache_path(register), built)
    except OSError as e:
        if notes is not None:
            notes.append(_t("cache-not-written", lang, path=cache_path(register).name, detail=e))
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
        raise EmptyQueryError(_t("empty-query", lang, query=query.strip()[:20]))
    notes: list[str] = []
    idx, how = load_index(register, form, policy, lang=lang, notes=notes)
    result = SearchResult(register, query, [], len(idx), 0, how, notes=notes)
    if not len(idx):
        result.message = _t("no-records", lang, path=register.name)
        return result
    keep = candidates(idx.records, policy.done_statuses, include_open, module, problem_type)
    result.candidates = int(keep.sum())
    if not result.candidates:
        done = "、".join(policy.done_statuses)
        if module or problem_type:
            result.message = _t("none-in-filter", lang)
        elif include_open:
            result.message = _t("no-records", lang, path=register.name)
        else:
            result.message = _t("none-solved", lang, records=len(idx), done=done)
        return result
    scores = idx.index.scores(terms)
    scores = np.where(keep, scores, 0.0)
    ranked = _top(scores, top)
    result.hits = [_hit(rank, float(scores[i]), idx.records[i]) for rank, i in enumerate(ranked, 1)]
    if not result.hits:
        result.message = _t("nothing-similar", lang)
    return result


def candidates(
    records: Sequence[dict[str, Any]],
    done: Sequence[str],
    include_open: bool,
    module: str | None,
    problem_type: str | None,
) -> np.ndarray:
    """Boolean mask of the records searched: status in ``done`` (unless ``include_open``),
    module / type containing the normalised filter text."""
    done_set = set(done)
    keep = np.ones(len(records), dtype=bool)
    if not include_open:
        keep &= _matches(records, "status", lambda v: v in done_set)
    for key, wanted in (("module", module), ("problem_type", problem_type)):
        text = similarity.normalise(wanted) if wanted else ""
        if text:
            keep &= _matches(records, key, lambda v, t=text: t in similarity.normalise(v))
    return keep


def _matches(records: Sequence[dict[str, Any]], key: str, test: Any) -> np.ndarray:
    """``test`` applied once per distinct value of ``key``, as a mask over ``records``."""
    values = [rec[key] for rec in records]
    verdict = {v: bool(test(v)) for v in set(values)}
    return np.fromiter((verdict[v] for v in values), dtype=bool, count=len(values))


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


def _hit(rank: int, score: float, rec: dict[str, Any]) -> Hit:
    return Hit(rank=rank, score=score, **rec)


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
    }
    rows = [[rec[k] for k in RECORD_FIELDS] for rec in idx.records]
    arrays = idx.index.to_arrays()
    with atomic_output(path) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh,
            meta=_json_bytes(meta),
            records=_json_bytes(rows),
            **{f"index_{k}": v for k, v in arrays.items()},
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
            rows = json.loads(bytes(data["records"]).decode("utf-8"))
            index = similarity.TermIndex.from_arrays(
                {k: data[f"index_{k}"] for k in ("terms", "indptr", "docs", "weights", "n_docs")}
            )
    except Exception:  # noqa: BLE001 - any unreadable cache is rebuilt, never trusted
        return None
    if index.n_docs != len(rows):
        return None
    records = [dict(zip(RECORD_FIELDS, row, strict=True)) for row in rows]
    return SearchIndex(digest, records, index)


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


def _t(key: str, lang: str, **params: Any) -> str:
    entry = _TEXT[key]
    return (entry.get(lang) or entry["zh"]).format(**params)
