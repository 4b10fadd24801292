"""The home page (首页): who you are, what you may see, where to go; and a health check."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from jingxin.web.deps import CurrentUser
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.templating import nav_for, render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["系统"])

NAV_HINTS = {
    "evaluation": "亩均效益综合评价：企业、园区与县（市、区）的评价结果与排名。",
    "datahub": "上传部门数据文件，查看入库批次、拒收行及原因。",
    "users": "开设账号、分配角色与数据范围、停用与重置密码。",
    "audit": "登录、导出、下载、敏感字段查看与用户变更的全部记录。",
}


@pages.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    shortcuts = [
        dict(item, hint=NAV_HINTS.get(item["key"], ""))
        for item in nav_for(request, user)
        if item["key"] != "home"
    ]
    return render(request, "home/index.html", {"page_title": "首页", "shortcuts": shortcuts})


class Health(BaseModel):
    status: str


@api.get("/health", response_model=Health, summary="健康检查")
def health() -> Health:
    """For monitoring: answers without login while the process serves requests."""
    return Health(status="ok")


scenario = WebScenario(
    name="home",
    pages=pages,
    api=api,
    nav=(NavItem("home", "首页", "/", order=10, icon="⌂"),),
    templates=None,
)
