# The two commands of the README: `make demo` and `make test`.
.PHONY: setup demo test test-heavy lint bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/jingxin demo

test: setup
	bash scripts/services.sh
	.venv/bin/pytest -n 2 --dist loadgroup -q -m "not heavy" --durations=20

# Tests that start clusters or several servers and need minutes each (marker `heavy`).
test-heavy: setup
	bash scripts/services.sh
	.venv/bin/pytest -n 2 --dist loadgroup -q -m heavy --durations=20

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy src/jingxin

bench: setup
	bash scripts/services.sh
	.venv/bin/python bench/bench_generate.py 1000000
	.venv/bin/python bench/bench_ingest.py --rows 1000000
	.venv/bin/python bench/bench_evaluation.py --sizes 100000 1000000 --backends duckdb spark
	.venv/bin/python bench/bench_spark_cluster.py --size 1000000
	.venv/bin/python bench/bench_uncertainty.py
	.venv/bin/python bench/bench_http.py --enterprises 100000
