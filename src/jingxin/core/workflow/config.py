"""Workflow declarations (流程定义) in YAML, validated by pydantic, and their loader.

A scenario declares its work in one file `<package>/workflows/<id>.yaml` (the core ships the
first, `definitions/appeal.yaml`, the 企业码 appeal 诉求直办): the fields a case carries, its
states, the transitions between them and who may take each, the clocks (response, resolution)
with their limits in working days, the levels a case escalates through, and which events
become notifications for whom. Nothing about a scenario's flow is code.

Roles in a transition:
- a platform role (`enterprise`, `service_staff`, `county_analyst`, ...): a user with that role
  whose region scope covers the case (`jingxin.core.scope.Scope`);
- `handler`: the roles of the level the case is at now (county, then city, then province after
  escalation), again only within scope.

A folder named by `JINGXIN_WORKFLOWS` is searched before the packaged ones, so a deployment can
replace a declaration (e.g. other limits) without touching the code.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jingxin.core.auth import Role
from jingxin.core.calendar import CalendarError, OfficeHours

HANDLER = "handler"
SYSTEM_EVENTS = ("assigned", "due_soon", "overdue", "escalated")
ENV_WORKFLOWS_DIR = "JINGXIN_WORKFLOWS"
DEFINITIONS_DIR = Path(__file__).parent / "definitions"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")

Recipient = Literal["handlers", "previous_handlers", "enterprise", "creator", "takers"]
"""Who a notification goes to: the handlers of the case's level (or of the level it left), the
enterprise it concerns, whoever started it, or `takers`: the people in scope whose role may take
a step from the state the case is in now (e.g. the finance bureau of a list awaiting payment)."""
Channel = Literal["inbox", "email"]
LevelKey = Literal["county", "city", "province"]


class WorkflowConfigError(ValueError):
    """A declaration that cannot be used; the message says which file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldDef(_Strict):
    """A field a case carries (诉求标题, 复杂程度, 答复内容, ...)."""

    label: str
    type: Literal["text", "choice", "date"] = "text"
    """`date`: a day written YYYY-MM-DD (a milestone's deadline, say)."""
    max_length: int = Field(default=2000, ge=1, le=20000)
    choices: dict[str, str] = {}

    @model_validator(mode="after")
    def _choices(self) -> FieldDef:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"选择字段“{self.label}”须列出 choices")
        return self


class StateDef(_Strict):
    label: str
    final: bool = False
    pauses: list[str] = []
    """Clocks that stand still while a case is in this state (e.g. waiting for the enterprise)."""


class ClockDef(_Strict):
    """A clock (时限): started and stopped by transitions, limited in working days."""

    label: str
    starts_on: list[str]
    stops_on: list[str]
    working_days: int | None = Field(default=None, ge=0, le=366)
    by_field: str | None = None
    """A field whose value picks the limit from `working_days_by` (e.g. complexity)."""
    working_days_by: dict[str, int] = {}
    due_field: str | None = None
    """A date field holding this case's own deadline (a project's planned 开工 plus its grace):
    when the case carries it, the clock is due at the close of that day (the next working day
    when it is not one), counted in working days from the clock's start; otherwise the limit
    above applies."""
    due_soon_hours: float = Field(default=4, ge=0)
    """Working hours before the deadline at which handlers are told it is due soon."""
    escalates: bool = True

    @model_validator(mode="after")
    def _limit(self) -> ClockDef:
        if self.working_days is None:
            raise ValueError(f"时限“{self.label}”须给出 working_days（by_field 未填值时的默认天数）")
        if self.by_field and not self.working_days_by:
            raise ValueError(f"时限“{self.label}”按字段 {self.by_field} 取值，须给出 working_days_by")
        return self

    def limit_for(self, fields: dict[str, object]) -> int:
        if self.by_field:
            value = fields.get(self.by_field)
            if isinstance(value, str) and value in self.working_days_by:
                return self.working_days_by[value]
        assert self.working_days is not None
        return self.working_days


class LevelDef(_Strict):
    """A level of handling: who handles a case while it is at this level."""

    key: LevelKey
    label: str
    roles: list[Role]


class EscalationDef(_Strict):
    levels: list[LevelDef]
    again_after_working_days: int = Field(default=1, ge=1, le=30)
    """A case still overdue this many working days after an escalation goes up again."""


class StartDef(_Strict):
    label: str
    roles: list[str]
    required: list[str] = []
    optional: list[str] = []
    event: str | None = "assigned"


class TransitionDef(_Strict):
    label: str
    from_: list[str] = Field(alias="from")
    to: str
    roles: list[str]
    required: list[str] = []
    optional: list[str] = []
    comment_required: bool = False
    event: str | None = None


class NotifyRule(_Strict):
    """Who is told of an event, what they read, and the channels used unless a user chose.

    `title` and `body` are `string.Template` texts: $title (the case's title field or its
    number), $workflow, $state, $clock, $due (Beijing time), $level, $actor, $comment."""

    to: list[Recipient]
    title: str
    body: str = ""
    channels: list[Channel] = ["inbox", "email"]


class OfficeHoursDef(_Strict):
    opens: str = "08:30"
    closes: str = "17:30"


class WorkflowDef(_Strict):
    id: str
    version: int = Field(ge=1)
    title: str
    title_field: str | None = None
    office_hours: OfficeHoursDef = OfficeHoursDef()
    fields: dict[str, FieldDef]
    initial: str
    states: dict[str, StateDef]
    start: StartDef
    transitions: dict[str, TransitionDef]
    clocks: dict[str, ClockDef] = {}
    escalation: EscalationDef
    notify: dict[str, NotifyRule] = {}
    # The page that takes this workflow's steps when they move more than the case (money
    # against a budget, say): the generic work pages and API then refuse to take them.
    managed_by: str | None = None

    @model_validator(mode="after")
    def _references(self) -> WorkflowDef:
        problems: list[str] = []
        if not _ID.match(self.id):
            problems.append(f"id {self.id!r} 只能用小写字母、数字和下划线")
        if self.initial not in self.states:
            problems.append(f"initial 状态 {self.initial!r} 未在 states 中定义")
        roles = {r.value for r in Role} | {HANDLER}
        actions = {"start", *self.transitions}
        for name, t in self.transitions.items():
            if not _ID.match(name):
                problems.append(f"transition {name!r} 只能用小写字母、数字和下划线")
            for s in [*t.from_, t.to]:
                if s not in self.states:
                    problems.append(f"transition {name}: 状态 {s!r} 未定义")
            problems += [f"transition {name}: 角色 {r!r} 未知" for r in t.roles if r not in roles]
            problems += [
                f"transition {name}: 字段 {f!r} 未定义"
                for f in [*t.required, *t.optional]
                if f not in self.fields
            ]
            if t.event and t.event not in self.notify:
                problems.append(f"transition {name}: 事件 {t.event!r} 未在 notify 中配置")
        problems += [f"start: 角色 {r!r} 未知" for r in self.start.roles if r not in roles - {HANDLER}]
        problems += [
            f"start: 字段 {f!r} 未定义"
            for f in [*self.start.required, *self.start.optional]
            if f not in self.fields
        ]
        for name, c in self.clocks.items():
            problems += [
                f"clock {name}: 动作 {a!r} 未定义" for a in [*c.starts_on, *c.stops_on] if a not in actions
            ]
            if c.by_field and c.by_field not in self.fields:
                problems.append(f"clock {name}: 字段 {c.by_field!r} 未定义")
            if c.due_field and (c.due_field not in self.fields or self.fields[c.due_field].type != "date"):
                problems.append(f"clock {name}: due_field {c.due_field!r} 须为已定义的 date 字段")
        for name, state in self.states.items():
            problems += [f"state {name}: 时限 {c!r} 未定义" for c in state.pauses if c not in self.clocks]
        if self.title_field and self.title_field not in self.fields:
            problems.append(f"title_field {self.title_field!r} 未定义")
        keys = [lv.key for lv in self.escalation.levels]
        order = ["county", "city", "province"]
        if not keys or keys != sorted(keys, key=order.index) or len(set(keys)) != len(keys):
            problems.append("escalation.levels 须按 county、city、province 由低到高排列，且不重复")
        for event in SYSTEM_EVENTS:
            if event not in self.notify:
                problems.append(f"notify 须配置系统事件 {event}")
        try:
            OfficeHours.parse(self.office_hours.opens, self.office_hours.closes)
        except CalendarError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("；".join(problems))
        return self

    @property
    def hours(self) -> OfficeHours:
        return OfficeHours.parse(self.office_hours.opens, self.office_hours.closes)

    def level_index(self, key: str) -> int:
        for i, level in enumerate(self.escalation.levels):
            if level.key == key:
                return i
        raise KeyError(key)

    def fingerprint(self) -> str:
        """A hash of the declaration, stored with each case so it can be traced to its rules."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _search_dirs() -> list[Path]:
    dirs: list[Path] = []
    extra = os.environ.get(ENV_WORKFLOWS_DIR)
    if extra:
        dirs.append(Path(extra))
    dirs.append(DEFINITIONS_DIR)
    package_root = Path(__file__).resolve().parents[2]
    dirs += sorted(p for p in package_root.glob("*/workflows") if p.is_dir())
    return dirs


def parse_workflow(path: Path) -> WorkflowDef:
    """Read and check one declaration; every problem is reported with the file's name."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkflowConfigError(f"流程定义 {path} 无法读取：{exc}") from exc
    try:
        definition = WorkflowDef.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '文件'}: {e['msg']}" for e in exc.errors()
        )
        raise WorkflowConfigError(f"流程定义 {path} 有误：{details}") from exc
    if definition.id != path.stem:
        raise WorkflowConfigError(f"流程定义 {path}：id {definition.id!r} 须与文件名 {path.stem!r} 一致")
    return definition


@functools.cache
def _load(workflow_id: str, dirs: tuple[Path, ...]) -> WorkflowDef:
    for folder in dirs:
        path = folder / f"{workflow_id}.yaml"
        if path.is_file():
            return parse_workflow(path)
    raise WorkflowConfigError(f"找不到流程定义 {workflow_id!r}（已查找 {', '.join(str(d) for d in dirs)}）")


def load_workflow(workflow_id: str) -> WorkflowDef:
    """The declaration of `workflow_id` (cached; the first folder that has it wins)."""
    if not _ID.match(workflow_id):
        raise WorkflowConfigError(f"流程标识 {workflow_id!r} 不合法")
    return _load(workflow_id, tuple(_search_dirs()))


def available_workflows() -> list[str]:
    """Ids of every declaration found, sorted."""
    return sorted({p.stem for d in _search_dirs() if d.is_dir() for p in d.glob("*.yaml")})
