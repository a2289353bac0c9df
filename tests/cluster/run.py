#!/usr/bin/env python3
"""Runs the cluster tests, tests/cluster/test_*.py: several hridd nodes on
one PostgreSQL database.

    python3 tests/cluster/run.py                      # all files
    python3 tests/cluster/run.py test_two_nodes.py    # some files or tests

Unless HRID_TEST_PG names a cluster already, starts a throw-away one
(tests/pgcluster.py) for the run.  The tests run through tests/api/run.py
(its fixtures, its output: "N passed, N failed"); when no cluster can be
started, says why and counts the suite as skipped.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)

import pgcluster  # noqa: E402


def api_runner():
    spec = importlib.util.spec_from_file_location(
        "api_run", os.path.join(TESTS, "api", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv):
    run = api_runner()
    if os.environ.get("HRID_TEST_PG"):
        return run.main(argv, here=HERE)
    ok, why = pgcluster.available()
    if not ok:
        print(f"SKIP cluster: {why}")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    with pgcluster.Cluster() as c:
        os.environ["HRID_TEST_PG"] = c.base
        return run.main(argv, here=HERE)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
