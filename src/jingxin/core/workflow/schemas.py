"""Response and request models of the work-items API (待办与办理)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.workflow.config import WorkflowDef, load_workflow
from jingxin.core.workflow.models import WorkItem, WorkStep


class ClockOut(BaseModel):
    name: str
    label: str
    status: str = Field(description="idle 未开始、running 计时中、paused 暂停、stopped 已停止")
    working_days: int
    started_at: datetime | None
    due_at: datetime | None
    overdue: bool
    met: bool | None = Field(description="已停止的时限是否按时完成")


class ActionOut(BaseModel):
    name: str
    label: str
    required: list[str]
    optional: list[str]
    comment_required: bool


class WorkItemOut(BaseModel):
    id: int
    workflow: str
    workflow_title: str
    title: str
    state: str
    state_label: str
    level: str
    level_label: str
    division_code: str
    credit_code: str | None
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    clocks: list[ClockOut]
    actions: list[ActionOut] = Field(description="当前用户现在可以执行的步骤")


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor_name: str
    actor_role: str | None
    action: str
    label: str
    from_state: str | None
    to_state: str | None
    from_level: int | None
    to_level: int | None
    comment: str
    changes: dict[str, Any]


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str | None] = Field(default_factory=dict, max_length=50)
    comment: str = Field(default="", max_length=2000, description="办理意见（理由）")
    version: int | None = Field(default=None, ge=1, le=2**31, description="看到的版本号；已被他人更新时拒绝")


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="事项所属区划；企业用户可省略"
    )
    credit_code: str | None = Field(
        default=None, min_length=18, max_length=18, description="统一社会信用代码"
    )
    fields: dict[str, str | None] = Field(default_factory=dict, max_length=50)
    comment: str = Field(default="", max_length=2000)
    key: str | None = Field(
        default=None, min_length=1, max_length=64, description="请求编号：重试时不重复提交"
    )


def item_out(item: WorkItem, user: Any, now: datetime) -> WorkItemOut:
    from jingxin.core.workflow.events import item_title
    from jingxin.core.workflow.service import allowed_transitions

    definition: WorkflowDef = load_workflow(item.workflow)
    level = definition.escalation.levels[item.level]
    clocks = []
    for c in item.clocks:
        cdef = definition.clocks.get(c.name)
        clocks.append(
            ClockOut(
                name=c.name,
                label=cdef.label if cdef else c.name,
                status=c.status,
                working_days=c.working_days,
                started_at=c.started_at,
                due_at=c.due_at,
                overdue=c.status == "running" and c.due_at is not None and c.due_at <= now,
                met=c.met,
            )
        )
    actions = [
        ActionOut(
            name=name,
            label=definition.transitions[name].label,
            required=definition.transitions[name].required,
            optional=definition.transitions[name].optional,
            comment_required=definition.transitions[name].comment_required,
        )
        for name in allowed_transitions(item, user)
    ]
    return WorkItemOut(
        id=item.id,
        workflow=item.workflow,
        workflow_title=definition.title,
        title=item_title(definition, item),
        state=item.state,
        state_label=definition.states[item.state].label,
        level=level.key,
        level_label=level.label,
        division_code=item.division_code,
        credit_code=item.credit_code,
        fields=item.fields,
        created_at=item.created_at,
        updated_at=item.updated_at,
        closed_at=item.closed_at,
        version=item.version,
        clocks=clocks,
        actions=actions,
    )


def step_out(step: WorkStep) -> StepOut:
    return StepOut.model_validate(step)
