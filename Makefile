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
	.venv/bin/python bench/bench_checkpoint.py --size 100000 --runs 12
	.venv/bin/python bench/bench_spark_cluster.py --size 1000000
	.venv/bin/python bench/bench_uncertainty.py
	.venv/bin/python bench/bench_whatif.py --sizes 5000 100000 1000000 --runs 5
	.venv/bin/python bench/bench_http.py --enterprises 100000
	.venv/bin/python bench/bench_appeals.py --sizes 10000 100000 --databases sqlite postgresql
	.venv/bin/python bench/bench_burden.py --sizes 20000 100000
	.venv/bin/python bench/bench_policies.py --sizes 100000 1000000
	.venv/bin/python bench/bench_risk.py --rows 1000000 --enterprises 100000
	.venv/bin/python bench/bench_monitoring.py --enterprises 100000 --spark
	.venv/bin/python bench/bench_chains.py --lines 10000000 --pandas
	rm -rf var/bench-nowcast && .venv/bin/jingxin generate --enterprises 20000 --years 2018-2021 --seed 7 --defects 0 var/bench-nowcast/out
	JINGXIN_WAREHOUSE=duckdb:///var/bench-nowcast/nc.duckdb .venv/bin/jingxin ingest-dir var/bench-nowcast/out
	.venv/bin/python bench/bench_nowcast.py --warehouse duckdb:///var/bench-nowcast/nc.duckdb --month 2021-06
	.venv/bin/python bench/bench_medical.py --seeds 1 2
	.venv/bin/python bench/bench_projects.py --sizes 100000 1000000
	.venv/bin/python bench/bench_places.py --draws 1000 --parks 10000
