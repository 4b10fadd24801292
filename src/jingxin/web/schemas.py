"""Response models shared by the JSON API of every scenario."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, how many match in all, and where this page starts."""

    items: list[T]
    total: int = Field(ge=0, description="符合条件的总条数")
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)


class Message(BaseModel):
    detail: str


class ProblemOut(BaseModel):
    """A 422 answer: either FastAPI's list of invalid fields, or one Chinese sentence saying why
    the content was refused (e.g. an uploaded file)."""

    detail: str | list[dict[str, Any]]
