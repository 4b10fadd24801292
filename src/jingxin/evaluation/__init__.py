"""亩均效益综合评价 (per-mu efficiency evaluation) of enterprises, services and parks.

The province sets the frame (浙政发〔2018〕5号); each county sets weights, reference values and
class shares. So the indicator systems are data (`systems/*.yaml`, validated by `config.py`),
and the engine (`population.py` → `compute.py` → `classes.py` → `policy.py`, orchestrated by
`runs.evaluate`) is Ibis expressions that run unchanged on DuckDB, PostgreSQL and PySpark.
`runs.py` stores a run with the exact configuration and batches it read; `service.py` is what
the web app calls; `explain.py` turns a result into sentences a business owner understands;
`export.py` writes CSV and the Excel workbook a county bureau publishes.
"""

from jingxin.evaluation.config import System, list_systems, load_system
from jingxin.evaluation.runs import evaluate, run_evaluation

__all__ = ["System", "evaluate", "list_systems", "load_system", "run_evaluation"]
