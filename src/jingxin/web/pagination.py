"""Page numbers for list pages, keeping the current filters in the previous/next links."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class Pager:
    page: int
    per_page: int
    total: int
    prev_url: str | None
    next_url: str | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @classmethod
    def build(cls, request: Request, page: int, per_page: int, total: int) -> Pager:
        pages = max(1, -(-total // per_page))

        def url(number: int) -> str:
            target = request.url.include_query_params(page=number)
            return f"{target.path}?{target.query}"

        return cls(
            page=page,
            per_page=per_page,
            total=total,
            prev_url=url(page - 1) if page > 1 else None,
            next_url=url(page + 1) if page < pages else None,
        )


def page_offset(page: int, per_page: int) -> int:
    return (max(1, page) - 1) * per_page
