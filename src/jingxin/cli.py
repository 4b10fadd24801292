"""The `jingxin` command line. Each scenario package registers its own commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    help="数字经信平台命令行：生成、入库、评价、服务。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Scenario packages that add commands, each through `register(app)` in its cli module.
SCENARIOS = ("synth", "ingest", "evaluation", "web", "jobs")

for _name in SCENARIOS:
    importlib.import_module(f"jingxin.{_name}.cli").register(app)
importlib.import_module("jingxin.core.workflow.cli").register(app)
importlib.import_module("jingxin.exchange.cli").register(app)
importlib.import_module("jingxin.appeals.cli").register(app)  # appeals, arrears
importlib.import_module("jingxin.policies.cli").register(app)
importlib.import_module("jingxin.demo").register(app)
importlib.import_module("jingxin.ops.cli").register(app)
importlib.import_module("jingxin.core.spark.cli").register(app)
importlib.import_module("jingxin.risk.cli").register(app)
importlib.import_module("jingxin.monitoring.cli").register(app)  # 运行监测
importlib.import_module("jingxin.nowcast.cli").register(app)
importlib.import_module("jingxin.medical.cli").register(app)  # 医疗物资, 5G
importlib.import_module("jingxin.projects.cli").register(app)  # 工业投资与项目
importlib.import_module("jingxin.cultivation.cli").register(app)  # 梯队培育
importlib.import_module("jingxin.chains.cli").register(app)  # 十大标志性产业链
importlib.import_module("jingxin.places.cli").register(app)  # 县域制造业高质量发展评价
importlib.import_module("jingxin.parks.cli").register(app)  # 小微企业园星级评定
