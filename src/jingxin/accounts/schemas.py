"""Request and response models of the accounts API (and the forms that share them).

Field limits mirror the table columns, so an over-long value is refused with a 422 before it
reaches the database; the rules that depend on the role (which division level, a department
for a liaison, a credit code for an enterprise) are checked in `service.py`, in one place for
the API, the pages and the CLI.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.auth import Role

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$"


class ScopeOut(BaseModel):
    """What the user may see, as the data layer applies it."""

    division: str | None = Field(description="区划代码；为空表示不限")
    division_name: str = Field(description="范围名称")
    department: str | None = Field(default=None, description="联络员所属部门")
    credit_code: str | None = Field(default=None, description="企业用户的统一社会信用代码")
    enterprises: list[str] | None = Field(default=None, description="驻企服务员的服务企业")
    workflows: list[str] | None = Field(default=None, description="财政部门可见的流程（政策兑现）")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    role_label: str
    division_code: str
    department: str | None
    credit_code: str | None
    enterprises: list[str]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class MeOut(UserOut):
    clearance: bool = Field(description="是否可查看敏感字段（税收、负债、涉诉）")
    scope: ScopeOut


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="登录名：字母、数字、._@-，3–64位")
    display_name: str = Field(min_length=1, max_length=100, description="姓名或单位名称")
    role: Role
    division_code: str | None = Field(default=None, pattern=r"^\d{6}$", description="区划代码")
    department: str | None = Field(default=None, max_length=32, description="联络员所属部门")
    credit_code: str | None = Field(default=None, max_length=18, description="企业用户的统一社会信用代码")
    enterprises: list[str] = Field(default_factory=list, max_length=500, description="驻企服务员的服务企业")
    password: str = Field(min_length=1, max_length=128)


class UserUpdate(BaseModel):
    """A partial change: only the fields present are changed."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    division_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    department: str | None = Field(default=None, max_length=32)
    credit_code: str | None = Field(default=None, max_length=18)
    enterprises: list[str] | None = Field(default=None, max_length=500)
    is_active: bool | None = None


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=128)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)
