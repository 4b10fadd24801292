"""Routing rules and limits of appeals (`routing.yaml`), validated by pydantic."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jingxin.core.auth import departments
from jingxin.core.workflow.config import load_workflow

ENV_ROUTING = "JINGXIN_APPEALS_ROUTING"
DEFAULT_PATH = Path(__file__).parent / "routing.yaml"
WORKFLOW = "appeal"


class RoutingError(ValueError):
    """A routing file that cannot be used; the message names the file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rule(_Strict):
    category: str
    words: list[str] = []
    department: str

    def matches(self, category: str | None, text: str) -> bool:
        if category != self.category:
            return False
        return not self.words or any(w in text for w in self.words)


class Attachments(_Strict):
    max_files: int = Field(default=5, ge=0, le=50)
    max_file_mb: float = Field(default=10, gt=0, le=100)
    kinds: list[str] = ["pdf", "jpg", "jpeg", "png", "docx", "xlsx"]

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


class Routing(_Strict):
    default: str
    rules: list[Rule] = []
    attachments: Attachments = Attachments()
    low_ratings: list[str] = ["dissatisfied"]

    def department_for(self, category: str | None, title: str, content: str) -> str:
        """The responsible department (承办部门): the first matching rule, else the default."""
        text = f"{title}\n{content}"
        for rule in self.rules:
            if rule.matches(category, text):
                return rule.department
        return self.default


def parse_routing(path: Path) -> Routing:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        routing = Routing.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingError(f"诉求分办规则 {path} 无法读取：{exc}") from exc
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RoutingError(f"诉求分办规则 {path} 有误：{details}") from exc
    known = set(departments())
    categories = set(load_workflow(WORKFLOW).fields["category"].choices)
    problems = [
        f"部门“{d}”不是平台的部门（{'、'.join(sorted(known))}）"
        for d in {routing.default, *(r.department for r in routing.rules)}
        if d not in known
    ]
    problems += [
        f"rules[{i}]: 类别 {r.category!r} 不在诉求类别中"
        for i, r in enumerate(routing.rules)
        if r.category not in categories
    ]
    if problems:
        raise RoutingError(f"诉求分办规则 {path} 有误：{'；'.join(problems)}")
    return routing


@functools.cache
def _load(path: str) -> Routing:
    return parse_routing(Path(path))


def load_routing() -> Routing:
    return _load(os.environ.get(ENV_ROUTING) or str(DEFAULT_PATH))
