"""Chain segments (产业链环节) as editable reference data, and the goods classifier.

`segments.yaml` splits each flagship chain of ``reference/data/chains.yaml`` into upstream,
midstream and downstream segments by GB/T 4754-2017 codes and product keywords, each with its
source. A county may add sub-chains (细分产业链). The file is checked on load; a broken entry
stops with an error naming the file, the entry and how to fix it.

Goods names of VAT invoices (发票货物名称, e.g. ``*纺织产品*涤纶低弹丝 150D``) are tokenised
with jieba, the keywords added to its dictionary so that a keyword is one token; a goods name
belongs to the (chain, segment) of the longest keyword among its tokens (ties: file order).
The rule and its evidence (the tokens, the keyword) are returned with every classification.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jingxin import reference

SEGMENT_ORDER = ("upstream", "midstream", "downstream")
SEGMENT_LABEL = {"upstream": "上游", "midstream": "中游", "downstream": "下游"}
DEFAULT_FILE = "segments.yaml"


class DefinitionError(ValueError):
    """Bad chain definition: says which file, which entry, what and how to fix it."""


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    industry_codes: tuple[str, ...] = Field(min_length=1)
    keywords: tuple[str, ...] = Field(min_length=1)
    source: str = Field(min_length=3)

    def matches_industry(self, code: str) -> bool:
        return any(code.startswith(p) for p in self.industry_codes)


class SubChain(Segment):
    chain: str
    county: str


@dataclass(frozen=True)
class ChainDef:
    """One flagship chain with its segments in order (upstream → downstream)."""

    id: str
    name: str
    segments: tuple[Segment, ...]

    def segment(self, segment_id: str) -> Segment:
        for s in self.segments:
            if s.id == segment_id:
                return s
        raise KeyError(f"chain {self.id} has no segment {segment_id!r}")


@dataclass(frozen=True)
class Definitions:
    chains: tuple[ChainDef, ...]
    subchains: tuple[SubChain, ...]
    source_file: str

    def chain(self, chain_id: str) -> ChainDef:
        for c in self.chains:
            if c.id == chain_id:
                return c
        known = "、".join(c.id for c in self.chains)
        raise KeyError(f"未知产业链 {chain_id!r}；可选：{known}")

    def keyword_owner(self) -> dict[str, tuple[str, str]]:
        """keyword → (chain id, segment id)."""
        return {kw: (c.id, s.id) for c in self.chains for s in c.segments for kw in s.keywords}

    def segment_rows(self) -> list[dict[str, object]]:
        """One row per (chain, segment): for tables, joins and pages."""
        return [
            {
                "chain_id": c.id,
                "chain_name": c.name,
                "segment_id": s.id,
                "segment_name": s.name,
                "position": SEGMENT_ORDER.index(s.id) if s.id in SEGMENT_ORDER else k,
                "industry_codes": ",".join(s.industry_codes),
                "keywords": "、".join(s.keywords),
                "source": s.source,
            }
            for c in self.chains
            for k, s in enumerate(c.segments)
        ]


def _classes_under(codes: tuple[str, ...]) -> set[str]:
    """Industry classes (4 digits) of the project's table covered by the given prefixes; a
    division without classes in the table stands for itself."""
    table = [i.code for i in reference.industries()]
    out: set[str] = set()
    for p in codes:
        under = {c for c in table if c.startswith(p) and (len(c) == 4 or c == p)}
        if not under:
            raise KeyError(p)
        leaves = {c for c in under if not any(o != c and o.startswith(c) for o in under)}
        out |= leaves
    return out


def parse_definitions(text: str, source_file: str = DEFAULT_FILE) -> Definitions:
    """Parse and check `segments.yaml` text against the reference chains and industries."""
    where = source_file
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{where}: 不是合法的 YAML：{exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("chains"), dict):
        raise DefinitionError(f"{where}: 顶层应有 chains: 映射（产业链 id → 环节列表）")
    ref = {c.id: c for c in reference.chains()}
    chains: list[ChainDef] = []
    owner: dict[str, str] = {}
    for chain_id, items in raw["chains"].items():
        if chain_id not in ref:
            raise DefinitionError(
                f"{where}: chains.{chain_id}: 不是 reference/data/chains.yaml 中的产业链；可选 {sorted(ref)}"
            )
        if not isinstance(items, list) or not items:
            raise DefinitionError(f"{where}: chains.{chain_id}: 应为非空的环节列表")
        segs = []
        for k, item in enumerate(items):
            try:
                seg = Segment.model_validate(item)
            except ValidationError as exc:
                raise DefinitionError(
                    f"{where}: chains.{chain_id}[{k}]: {exc.errors()[0]['msg']}"
                    f"（字段 {exc.errors()[0]['loc']}）"
                ) from None
            for kw in seg.keywords:
                label = f"{chain_id}.{seg.id}"
                if kw in owner:
                    raise DefinitionError(
                        f"{where}: chains.{chain_id}[{k}] 关键词「{kw}」已属于 {owner[kw]}；"
                        "一个关键词只能属于一个环节，请删去其一"
                    )
                owner[kw] = label
            segs.append(seg)
        chain = ref[chain_id]
        _check_partition(where, chain_id, chain.industry_codes, chain.keywords, segs)
        chains.append(ChainDef(chain_id, chain.name, tuple(segs)))
    missing = sorted(set(ref) - {c.id for c in chains})
    if missing:
        raise DefinitionError(f"{where}: 缺少产业链 {missing} 的环节定义；每条标志性产业链都需分环节")
    subs: list[SubChain] = []
    for k, item in enumerate(raw.get("subchains") or []):
        try:
            sub = SubChain.model_validate(item)
        except ValidationError as exc:
            raise DefinitionError(
                f"{where}: subchains[{k}]: {exc.errors()[0]['msg']}（字段 {exc.errors()[0]['loc']}）"
            ) from None
        if sub.chain not in ref:
            raise DefinitionError(f"{where}: subchains[{k}].chain: 未知产业链 {sub.chain!r}")
        if sub.county not in set(reference.county_codes()):
            raise DefinitionError(f"{where}: subchains[{k}].county: {sub.county!r} 不是本省县级区划代码")
        parent = next(c for c in chains if c.id == sub.chain)
        stray = [kw for kw in sub.keywords if kw not in {w for s in parent.segments for w in s.keywords}]
        if stray:
            raise DefinitionError(
                f"{where}: subchains[{k}] 关键词 {stray} 不在 {sub.chain} 的环节中；请先加入环节"
            )
        subs.append(sub)
    return Definitions(tuple(chains), tuple(subs), source_file)


def _check_partition(where: str, chain_id: str, codes, keywords, segs: list[Segment]) -> None:
    try:
        whole = _classes_under(tuple(codes))
        parts = [_classes_under(s.industry_codes) for s in segs]
    except KeyError as exc:
        raise DefinitionError(
            f"{where}: chains.{chain_id}: 行业代码 {exc.args[0]} 不在 industries.csv 中"
        ) from None
    seen: set[str] = set()
    for s, part in zip(segs, parts, strict=True):
        twice = part & seen
        if twice:
            raise DefinitionError(f"{where}: chains.{chain_id}.{s.id}: 行业 {sorted(twice)} 同时属于两个环节")
        seen |= part
    if seen != whole:
        raise DefinitionError(
            f"{where}: chains.{chain_id}: 环节行业代码应正好覆盖产业链的行业代码；"
            f"缺 {sorted(whole - seen)}，多 {sorted(seen - whole)}"
        )
    words = {w for s in segs for w in s.keywords}
    lost = [kw for kw in keywords if kw not in words]
    if lost:
        raise DefinitionError(f"{where}: chains.{chain_id}: 产业链关键词 {lost} 未放入任何环节")


@cache
def _load(path: str | None) -> Definitions:
    if path is None:
        text = files("jingxin.chains").joinpath("data", DEFAULT_FILE).read_text(encoding="utf-8")
        return parse_definitions(text, f"jingxin/chains/data/{DEFAULT_FILE}")
    return parse_definitions(Path(path).read_text(encoding="utf-8"), path)


def definitions(path: str | Path | None = None) -> Definitions:
    """The chain segments in force (the packaged file, or a county's own file)."""
    return _load(None if path is None else str(path))


# ---- goods classification (货物名称 → 产业链环节) -------------------------------------------

_jieba_lock = threading.Lock()
_tokenizers: dict[str, object] = {}


def _tokenizer(defs: Definitions):
    import jieba

    with _jieba_lock:
        tok = _tokenizers.get(defs.source_file)
        if tok is None:
            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            for kw in defs.keyword_owner():
                tok.add_word(kw, freq=200000)  # a keyword stays one token
            _tokenizers[defs.source_file] = tok
    return tok


_PREFIX = re.compile(r"^\*[^*]*\*")


def product_part(goods: str) -> str:
    """The product part of an e-invoice goods name: without the ``*税收分类简称*`` prefix."""
    return _PREFIX.sub("", goods.strip())


@dataclass(frozen=True)
class GoodsMatch:
    goods: str
    tokens: tuple[str, ...]
    keyword: str | None
    chain_id: str | None
    segment_id: str | None

    @property
    def evidence(self) -> str:
        if self.keyword is None:
            return f"货物名称「{self.goods}」分词为 {'/'.join(self.tokens)}，未命中任何产业链关键词"
        return (
            f"货物名称「{self.goods}」分词为 {'/'.join(self.tokens)}，命中关键词「{self.keyword}」"
            f"→ {self.chain_id}.{self.segment_id}"
        )


def classify_goods(names: list[str], defs: Definitions | None = None) -> list[GoodsMatch]:
    """Classify distinct goods names (a dictionary, not fact rows) by the longest keyword."""
    defs = defs or definitions()
    owner = defs.keyword_owner()
    order = {kw: k for k, kw in enumerate(owner)}
    tok = _tokenizer(defs)
    out = []
    for name in names:
        tokens = tuple(t for t in tok.lcut(product_part(name)) if t.strip())
        hits = [t for t in tokens if t in owner]
        if hits:
            kw = min(hits, key=lambda t: (-len(t), order[t]))
            c, s = owner[kw]
            out.append(GoodsMatch(name, tokens, kw, c, s))
        else:
            out.append(GoodsMatch(name, tokens, None, None, None))
    return out
