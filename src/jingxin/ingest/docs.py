# ruff: noqa: E501  (the Markdown template below keeps its table rows on one line each)
"""The data exchange specification (数据交换规范, docs/data-exchange.md), generated.

The per-source tables come straight from `contracts.yaml`, the same file ingestion enforces,
so the document a department reads cannot drift from what the platform accepts; a test fails
when the committed document is stale. Regenerate with:

    python -m jingxin.ingest.docs --write
"""

from __future__ import annotations

import sys
from pathlib import Path

from jingxin.core.contracts import Column, Source, load_contracts
from jingxin.ingest.parse import YEAR_RANGE
from jingxin.ingest.readers import FOOTER_PATTERN

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "data-exchange.md"

TYPE_NAMES = {
    "credit_code": "统一社会信用代码（18位）",
    "text": "文本",
    "county": "区县代码（6位，90个县级单位之一）",
    "industry": "行业代码（GB/T 4754-2017，2～4位）",
    "date": "日期",
    "month": "年月",
    "year": "年度",
    "decimal": "数值",
    "integer": "整数",
    "boolean": "是/否",
}
FAMILY_NAMES = {
    "money": "金额",
    "area": "面积",
    "electricity": "电量",
    "energy": "能耗",
    "mass": "质量",
    "people": "人数",
}
PERIOD_NAMES = {
    "year": "年度：批次期间取自“{header}”列，如 2021（跨年为 2020..2021）",
    "month": "月度：批次期间取自“{header}”列，如 2021-03 或 2021-01..2021-12",
    "date": "日：批次期间取自“{header}”列，如 2021-03-01..2021-03-31",
}

INTRO = f"""# 数据交换规范（Data exchange specification）

> 本文件由 `python -m jingxin.ingest.docs --write` 根据 `src/jingxin/core/contracts.yaml` 生成，
> 请勿手工编辑；修改规则请改 contracts.yaml 或 `jingxin.ingest.docs`，测试会检查本文件是否最新。

各部门（税务、电力、自然资源、统计、生态环境、市场监管等）向平台报送数据文件，平台按本规范
归集（数据归集）：识别表头、统一单位、逐列校验，合格行入库，问题行隔离并说明原因。每个文件
入库为一个**批次**（batch），可追溯到文件和行号。

## 1. 通用规则（General rules）

### 1.1 文件格式与编码（Formats and encodings）

- Excel：`.xlsx`（也接受 `.xlsm`），读取第一个含表头的工作表（封面、填表说明页自动跳过）。
  旧版 `.xls` 及 `.ods` 无法在读取前核验大小，不予接收：请在 Excel 或 WPS 中另存为 `.xlsx`。
{{limits}}- CSV：`.csv`（也接受 `.txt`、`.tsv`），逗号或制表符分隔，含逗号的单元格用英文双引号括起。
- CSV 编码自动识别：有 UTF-8 BOM → UTF-8；否则先按 UTF-8 严格解码，失败再按 **GB18030**
  （兼容 GBK、GB2312）解码；带 UTF-16 BOM 的“Unicode 文本”也可读取。都失败则整份退回。
- 全角字符自动转半角（Unicode NFKC）：全角数字 `１２３`、全角字母、全角空格、全角括号 `（）`
  均视同半角；单元格首尾空格忽略。
- 数值可带千分位逗号（`1,234,567.89`），也可用科学计数法（`1.2E+07`）。

### 1.2 表头行（Header row）

- 表头行须在文件**前 10 行**内；其上方可有标题行、填报单位、日期等，自动跳过。
- 表头按“标准表头”或“别名”识别（见第 2 节各表），忽略空格、换行、全角/半角差异和必填星号
  （`*统一社会信用代码`）。
- Excel 合并单元格的两行表头（上行为分组名或纵向合并的列名，下行为列名）可自动识别。
- 缺少必填列 → 整份退回，提示缺少的列及可接受的表头。同一列出现两次（如既有“统一社会信用代码”
  又有“信用代码”）→ 整份退回。表头不在规范中的列忽略，但保存在问题行的原始数据中。

### 1.3 单位与换算（Units and conversion）

- 每个数值列有规定单位（见各表“单位”列）。表头可在括号中注明单位：`实缴税收(元)`、
  `用电量（万千瓦时）`、`用地面积【平方米】`、`综合能耗(单位:万吨标准煤)`。
- 表头未注明单位 → 按规定单位理解。注明的单位与规定单位相同 → 直接使用；属于同一类且可换算
  → 按下表自动换算为规定单位（如 元 → 万元 ×0.0001，万千瓦时 → 千瓦时 ×10000）；
  无法识别或不能换算（如“用电量(吨)”）→ **整份退回**，提示列名和规定单位。单位从不混用。
- 单元格内带单位文字：与表头单位相同（如表头为万元、单元格为 `12万元`）可接受；不同（如表头
  为万元、单元格为 `12345元`）→ 该行退回，原因“单位与表头不符”。

{{units}}

### 1.4 数据类型（Types）

| 类型 | 可接受的写法 | 存储 |
|---|---|---|
| 统一社会信用代码 | 18位，数字和大写字母（不含 I、O、Z、S、V），第18位为 GB 32100-2015 校验位；小写字母和空格自动规范 | 文本 |
| 区县代码 | 浙江省 90 个县级单位的 6 位代码（GB/T 2260）；12 位统计用区划代码末 6 位为 0 时取前 6 位 | 文本 |
| 行业代码 | GB/T 4754-2017 的 2～4 位数字代码（`C1711` 视同 `1711`）；参考表未细分的大类，其下 3～4 位代码按大类校验 | 文本 |
| 日期 | `2021-03-15`、`2021/3/15`、`20210315`、`2021年3月15日`、Excel 日期单元格或日期序列号；年份 {YEAR_RANGE[0]}～{YEAR_RANGE[1]} | 日期 |
| 年月 | `2021-03`、`2021/3`、`202103`、`2021年3月`，或每月 1 日的 Excel 日期 | 该月 1 日 |
| 年度 | `2021`、`2021年`；{YEAR_RANGE[0]}～{YEAR_RANGE[1]} | 整数 |
| 数值 | `1234.5`、`1,234.5`、`-3`、`1.2E+07` | 按规定单位存储的小数 |
| 整数 | 同数值，但不得有小数 | 整数 |
| 是/否 | `是`/`否`、`Y`/`N`、`1`/`0`（也接受 Excel 逻辑值 TRUE/FALSE） | 布尔 |
| 文本 | 任意文字；有“取值范围”的只能填所列值之一 | 文本 |

空白单元格表示“未填”：必填列为空则该行退回；选填列为空则存为空值（不是 0）。

### 1.5 键与重复（Keys and duplicates）

- 每个数据源有**键**（见各表），如税收为“统一社会信用代码 + 年度”。同一文件中键相同的行：
  第一次出现的行正常处理，**第二次及以后**出现的行退回，原因“与第N行重复”（N 为第一次出现的行号）。
- 键按解析后的值比较：`2021-01` 与 `202101` 是同一个月。

### 1.6 非数据行：合计行、注释行、空行（Totals, notes and blank rows）

- 第一个非空单元格为“合计”“总计”“小计”“共计”（可带冒号或括号），或以“注:”“注1、”“备注:”
  “说明:”“填表人:”“制表日期:”等开头的行，是**合计/注释行**；完全空白的行是**空行**。
- 这些行出现在任何位置都不作为数据：不入库、不退回、**不计入数据行数**；合计/注释行在入库结果中
  列出（“第N行为合计/注释行，未作为数据”），便于核对。识别规则（去空格后的正则）：
  `{FOOTER_PATTERN}`

### 1.7 行号（Row numbering）

- 行号是文件中的**物理行号**：从 1 开始，标题行、表头行、空行都计数，与 Excel 左侧行号或文本
  编辑器的行号一致（CSV 单元格内换行时，取该行开始的行号）。入库事实的 `source_row`、问题行的
  `row_number` 都用此行号。

### 1.8 问题行隔离（Quarantine of rejected rows）

- 逐列校验（必填 → 类型 → 单元格单位 → 取值范围/允许值 → 代码校验 → 键重复），**一行的所有问题
  都会列出**，每个问题一条：行号、列（标准表头）、原值、原因（说明错在哪里、如何修改）。
- 字段数与表头不符的行（常见于被截断的最后一行，或单元格内有未加引号的逗号）整行退回，列为“整行”。
- 有任何问题的行整行退回，不入库；其原始内容（表头 → 单元格的 JSON）保存在 `rejected_rows`。
  `jingxin batch 批次号 --rejected-csv 问题行.csv` 导出问题行（UTF-8 带 BOM，可用 Excel 打开），
  改正后可重新提交整个文件。
- 每个文件：**接收行数 + 退回行数 = 数据行数**。

### 1.9 整份退回（Files refused whole）

以下情况文件整份退回，不写入任何数据，返回明确的中文说明：文件无法读取或编码无法识别；前 10 行
找不到表头；缺少必填列；同一列出现两次；表头单位无法识别或不能换算；没有数据行。

### 1.10 批次、重复提交与更正（Batches, resubmission and corrections）

- 每个文件入库为一个批次：数据源、期间、文件名、内容哈希（SHA-256）、数据行数、接收数、退回数、
  提交人、时间。批次记录、入库事实和问题行在**同一个事务**中写入：要么全部成功，要么全部不写。
- **重复提交**：同一数据源再次提交内容完全相同的文件（哈希相同，文件名不论），不产生任何变化，返回已有批次
  （即使该批次已被更正替代；要恢复旧数据，请把它作为新的更正文件修改后提交）。
- **期间**：年度、月度、日数据取自期间列（见各表）；登记类数据（市场主体登记、用地）为 `current`，
  也可用 `--period` 指定。
- **更正**：同一数据源、同一期间再次提交（内容不同）的文件是更正批次，**替代**原批次：原批次记
  `superseded_by`（被替代），新批次记 `supersedes`（替代）。不删除任何数据；现行数据
  （`current()`）只含未被替代的批次，过去的评价可按当时的批次重算。
- 所有行都被退回的批次只登记、不替代原批次，以免一份全错的文件覆盖有效数据。

### 1.11 命令行（CLI）

```
jingxin ingest tax 2021年税收.xlsx [--period P] [--json]   # 归集一个文件
jingxin ingest-dir out/province [--json]                   # 按依赖顺序归集一个文件夹
jingxin batches [--source tax] [--json]                    # 批次列表
jingxin batch 12 [--json] [--rejected-csv 问题行.csv]        # 一个批次及其问题行
```

退出码：0 完成（可能有问题行）；1 批次不存在；2 文件整份退回；3 仓库正被其他进程写入。

## 2. 各数据源（Sources）
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _range(col: Column) -> str:
    if col.allowed:
        return "、".join(col.allowed)
    if col.min is None and col.max is None:
        return "—"

    def fmt(x: float) -> str:
        return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"

    low = fmt(col.min) if col.min is not None else "—"
    high = fmt(col.max) if col.max is not None else "—"
    return f"{low} ～ {high}"


def _units_table() -> str:
    contracts = load_contracts()
    families: dict[str, list[str]] = {}
    for name, unit in contracts.units.items():
        families.setdefault(unit.family, []).append(name)
    lines = ["| 类别 | 单位（相对换算系数） |", "|---|---|"]
    for family, names in families.items():
        parts = [f"{n}（{contracts.units[n].factor:g}）" for n in names]
        lines.append(f"| {FAMILY_NAMES.get(family, family)} | {'、'.join(parts)} |")
    return "可识别的单位（同一类别内可互相换算；系数为相对于该类基准单位的倍数）：\n\n" + "\n".join(lines)


def render_source(src: Source) -> str:
    period = (
        PERIOD_NAMES[src.column(src.period).type].format(header=src.column(src.period).header)
        if src.period
        else "无期间列：登记类数据，批次期间为 current（或 --period 指定）"
    )
    key = " + ".join(src.column(k).header for k in src.key)
    lines = [
        f"### {src.id}：{src.title}",
        "",
        f"- 报送部门：{src.department}",
        f"- 期间：{period}",
        f"- 键（同一文件内不得重复）：{key}",
        f"- 入库表：`{src.table}`",
        *(f"- 说明：{note}" for note in src.notes),
        "",
        "| 标准表头 | 别名 | 类型 | 单位 | 必填 | 取值范围 |",
        "|---|---|---|---|---|---|",
    ]
    for col in src.columns:
        aliases = "、".join(col.aliases) or "—"
        lines.append(
            f"| {_cell(col.header)} | {_cell(aliases)} | {TYPE_NAMES[col.type]} | {col.unit or '—'} "
            f"| {'是' if col.required else '否'} | {_cell(_range(col))} |"
        )
    return "\n".join(lines)


def _limits_text() -> str:
    """The size limits at their defaults (the platform's settings can change them)."""
    from jingxin.core.settings import Settings
    from jingxin.ingest.limits import IngestLimits, mib

    lim = IngestLimits()
    upload = Settings.model_fields["upload_max_bytes"].default
    return (
        f"- 大小上限（平台默认值，可由配置调整）：上传不超过 {mib(upload)}；每个文件不超过 {lim.max_rows:,} 行、"
        f"{lim.max_columns} 列、{lim.max_cells:,} 个单元格；\n  CSV 每行不超过 {mib(lim.max_line_bytes)}；"
        f"`.xlsx` 解压后不超过 {mib(lim.max_expanded_bytes)}、压缩比不超过 {lim.max_zip_ratio:g} 倍、"
        f"工作表不超过 {lim.max_sheets} 个。\n  超过上限的文件整份退回，并说明是哪一项上限。\n"
        f"- 拒收行超过数据行的 {lim.max_rejected_share:.0%}（且不少于 {lim.rejected_floor:,} 行）的文件整份退回，"
        "不逐行入库：退回说明列出最常见的问题。\n"
    )


def render_data_exchange() -> str:
    """The whole of docs/data-exchange.md."""
    sources = "\n\n".join(render_source(s) for s in load_contracts().sources.values())
    intro = INTRO.replace("{units}", _units_table()).replace("{limits}", _limits_text())
    return intro + "\n" + sources + "\n"


def main(argv: list[str]) -> int:
    text = render_data_exchange()
    if "--write" in argv:
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
