"""Synthetic province generator (合成省份数据生成器).

Writes the files each department of a Zhejiang-like province would send to the platform —
市场监管 registry, 自然资源 land, 税务 tax and VAT invoices, 统计 annual statistics and monthly
快报, 能源 energy, 生态环境 discharge, 电力 monthly and daily power, 经信 parks and park members —
for industrial (B, C, D) and 规上 services enterprises, consistent with one another, calibrated to
the province's published figures (DOMAIN.md §3; docs/generator.md lists each figure and its
source), with the real events of DOMAIN.md §13 in the monthly and daily series, in each
department's own
habits (title and 合计 rows, GBK/GB18030 or UTF-8 with BOM, 千分位, full-width digits, units in
headers), with a seeded share of deliberate defects, all listed in ``manifest.json``.

Row numbering convention (shared with ingestion, which reports the same physical row number):
a row number counts from 1 at the first line of the file, as a spreadsheet or text editor shows
it, including title and header rows. In CSV files the header is line 1 and the first data row is
line 2 (the BOM adds no line; no field contains a line break). In xlsx files it is Excel's row
number: e.g. ``registry.xlsx`` has its title on row 1, the header on row 2, data from row 3 and a
合计 row after the data; ``statistics_YYYY.xlsx`` has a title row, a two-row header (rows 2–3)
and data from row 4. The manifest gives ``title_rows``, ``header_rows``, ``first_data_row`` and
``footer_rows`` of every file. A duplicate's row is that of the later copy.

Entry points: :func:`generate_province` and the ``jingxin generate`` command (:mod:`.cli`).
"""

from jingxin.synth.generator import generate_province, parse_years, plan_jobs
from jingxin.synth.manifest import ROW_NUMBERING, DefectEntry, FileEntry, Manifest

__all__ = [
    "ROW_NUMBERING",
    "DefectEntry",
    "FileEntry",
    "Manifest",
    "generate_province",
    "parse_years",
    "plan_jobs",
]
