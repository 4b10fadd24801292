"""Job kinds (作业类型): what long work the platform knows how to run, and who may start it.

A scenario declares a kind once, in a module listed in `KIND_MODULES` (or any module imported
before the server starts), by calling `register_kind(JobKind(...))`. See the package docstring
of `jingxin.core.jobs` for an example.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jingxin.core.auth import ALL_ROLES, Role

if TYPE_CHECKING:
    from jingxin.core.jobs.runner import JobContext
    from jingxin.core.scope import Scope

# Modules that register job kinds when imported (each scenario adds its own).
KIND_MODULES: tuple[str, ...] = (
    "jingxin.jobs.kinds",
    "jingxin.jobs.platform_kinds",
    "jingxin.ops.backup_kind",
    "jingxin.monitoring.jobs",
    "jingxin.nowcast.jobs",
    "jingxin.risk.jobs",
    "jingxin.chains.jobs",
)


class JobRefused(ValueError):
    """A job that cannot be started as asked; the message is Chinese and safe to show."""


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    - `name`: stable id stored with each job (`ingest.file`, `evaluation.run`).
    - `title`: Chinese name shown on the jobs page.
    - `run(ctx)`: does the work; reports through `ctx.progress`/`ctx.log`; returns a JSON-able
      dict, the job's result. It must write its result atomically (one warehouse transaction),
      because a job whose process died is run again from the start.
    - `params`: a pydantic model the job's parameters are validated against at submission.
    - `roles`: who may start it; `check(params, scope)` may refuse (raise `JobRefused`) what a
      user's scope does not cover, e.g. a county analyst evaluating another county.
    - `max_attempts`: how many times it is started in all when its process dies mid-job.
    - `describe(params)`: the job's title, e.g. "归集 税务 tax_2021.csv".
    """

    name: str
    title: str
    run: Callable[[JobContext], dict[str, Any]]
    params: type[BaseModel]
    roles: frozenset[Role] = ALL_ROLES
    check: Callable[[Any, Scope], None] | None = None
    max_attempts: int = 2
    describe: Callable[[Any], str] | None = None
    scheduled: bool = field(default=True)
    """Whether admins may put this kind on a schedule."""

    def title_for(self, params: BaseModel) -> str:
        return (self.describe(params) if self.describe else self.title)[:200]


_kinds: dict[str, JobKind] = {}
_loaded = False


def register_kind(kind: JobKind) -> JobKind:
    """Make `kind` known (registering the same name again replaces it, for reloads)."""
    _kinds[kind.name] = kind
    return kind


def load_kinds(modules: Iterable[str] = KIND_MODULES) -> None:
    global _loaded
    for name in modules:
        importlib.import_module(name)
    _loaded = True


def get_kind(name: str) -> JobKind:
    if not _loaded:
        load_kinds()
    try:
        return _kinds[name]
    except KeyError:
        raise JobRefused(f"未知的作业类型 {name!r}；可用：{'、'.join(sorted(_kinds))}") from None


def all_kinds() -> list[JobKind]:
    if not _loaded:
        load_kinds()
    return sorted(_kinds.values(), key=lambda k: k.name)
