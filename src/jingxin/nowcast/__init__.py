"""现时预测 (nowcast): 规上工业增加值 growth before the statistics bureau publishes it."""

from __future__ import annotations

from typing import Any


def briefing_section(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The monthly briefing's nowcast section (`jingxin.nowcast.briefing.briefing_section`),
    imported late so that importing the package stays light."""
    from jingxin.nowcast.briefing import briefing_section as section

    return section(*args, **kwargs)
