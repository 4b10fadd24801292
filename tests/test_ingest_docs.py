"""docs/data-exchange.md is generated from contracts.yaml and must be up to date."""

from __future__ import annotations

from jingxin.core.contracts import load_contracts
from jingxin.ingest.docs import DOC_PATH, render_data_exchange


def test_data_exchange_doc_is_up_to_date():
    expected = render_data_exchange()
    assert DOC_PATH.read_text(encoding="utf-8") == expected, (
        "docs/data-exchange.md is stale: run `python -m jingxin.ingest.docs --write`"
    )


def test_doc_has_a_section_and_a_row_per_column_for_every_source():
    text = render_data_exchange()
    for src in load_contracts().sources.values():
        assert f"### {src.id}：{src.title}" in text
        for col in src.columns:
            assert f"| {col.header} |" in text
