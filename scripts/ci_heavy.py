"""Run the heavy tests (marker `heavy`) that fit in what is left of CI's time limit.

Why: CI stops a run at 90 minutes, and on a slow or shared machine `make test` alone can take
twice its idle time; the heavy tests (18 minutes on an idle two-core machine) then push the whole
run past the limit, and a run that is stopped proves nothing. So the heavy modules are taken in
order of importance while the projected time fits; the projection scales each module's measured
idle time by how much slower this machine ran `make test` than on the reference machine. Modules
left out are printed with the reason, never dropped silently, and `make test-heavy` runs them all.

Usage (from `.ci/run`): python scripts/ci_heavy.py --started EPOCH --make-test-seconds S
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

# CI's own limit, and the margin kept for noise (this is the last phase).
LIMIT_MINUTES = 90
MARGIN_MINUTES = 12

# `make test` on the reference machine (2 cores, idle, 2026-12-01): 18.0 minutes.
REFERENCE_MAKE_TEST_MINUTES = 18.0

# pytest's start and collection with two workers, idle.
STARTUP_MINUTES = 0.7

# Heavy modules in order of importance, with the idle minutes each took on the reference machine
# (setup, call and teardown summed from `--durations=0`; all 11 took 18 minutes of wall time on
# 2026-12-01). A module's tests stay on one worker.
MODULES: list[tuple[str, float]] = [
    ("tests/test_jobs_server.py", 2.8),  # CLI writes handed to a running server; one killed mid-job
    ("tests/test_jobs_workers.py", 0.7),  # two server processes share sessions, caches and queue
    ("tests/test_resilience.py", 0.8),  # several processes: throttles, logout, outage drill
    ("tests/test_evaluation_whatif.py", 3.1),  # what-if equals a stored run on Spark
    ("tests/test_evaluation_backends.py", 1.3),  # whole evaluations on Spark local mode
    ("tests/test_spark_cluster.py", 3.1),  # a Spark standalone cluster
    ("tests/test_monitoring_backends.py", 0.1),
    ("tests/test_chains_backends.py", 2.5),
    ("tests/test_evaluation_fidelity.py", 0.5),  # 100k-enterprise fidelity
    ("tests/test_synth.py", 0.3),  # 100k calibration from files
    ("tests/test_web_schemathesis.py", 11.7),  # every route as every role
]


# A heavy module not listed above (a new one) is run last, with this estimate.
UNLISTED_MINUTES = 5.0


def heavy_modules() -> list[tuple[str, float]]:
    """`MODULES`, then any other test module that uses the `heavy` marker."""
    listed = {m for m, _ in MODULES}
    found = sorted(
        str(p) for p in Path("tests").glob("test_*.py") if "mark.heavy" in p.read_text(encoding="utf-8")
    )
    return [*MODULES, *((m, UNLISTED_MINUTES) for m in found if m not in listed)]


def choose(remaining_minutes: float, slowdown: float) -> tuple[list[str], list[str]]:
    """The modules whose projected time fits, in order. Each module runs on one of two workers:
    the projection puts it on the less loaded one and takes the longer of the two."""
    chosen: list[str] = []
    skipped: list[str] = []
    workers = [STARTUP_MINUTES, STARTUP_MINUTES]
    for module, minutes in heavy_modules():
        lighter = workers.index(min(workers))
        trial = list(workers)
        trial[lighter] += minutes
        if max(trial) * slowdown <= remaining_minutes:
            chosen.append(module)
            workers = trial
        else:
            skipped.append(module)
    return chosen, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--started", type=float, required=True, help="CI start, seconds since the epoch")
    parser.add_argument("--make-test-seconds", type=float, required=True)
    args = parser.parse_args()

    elapsed = (time.time() - args.started) / 60
    remaining = LIMIT_MINUTES - MARGIN_MINUTES - elapsed
    slowdown = max(1.0, args.make_test_seconds / 60 / REFERENCE_MAKE_TEST_MINUTES)
    chosen, skipped = choose(remaining, slowdown)
    print(
        f"heavy tests: {elapsed:.1f} min used of {LIMIT_MINUTES}, {remaining:.1f} min left after the "
        f"{MARGIN_MINUTES}-min margin; this machine ran make test {slowdown:.2f}x the reference time"
    )
    for module in skipped:
        print(f"  not run for time (run `make test-heavy`): {module}")
    if not chosen:
        return 0
    command = [
        ".venv/bin/pytest",
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "-q",
        "-m",
        "heavy",
        "--durations=20",
        *chosen,
    ]
    print("  " + " ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
