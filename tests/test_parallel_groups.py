"""How `make test` splits the suite over xdist workers (tests/support/parallel.py): the
rules, checked on this session's own collection (the tests that share one real node, one
kwok cluster or one PostgreSQL form one group, a module-scoped server's tests their
module's, and the long groups come first), and the scheduling, checked in a real
``pytest -n 2`` run of a small suite (each group runs on one worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.layout import REPO
from tests.support.parallel import REALNODE, group_of


def test_shared_fixtures_put_their_tests_in_one_group(request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        group = group_of(item)
        if item.get_closest_marker("realnode") is not None:
            assert group == REALNODE, item.nodeid
        elif "k8s_cluster" in getattr(item, "fixturenames", ()):
            assert group == "cluster", item.nodeid
        elif "postgres_server" in getattr(item, "fixturenames", ()):
            assert group == "postgres", item.nodeid
        else:
            assert group in ("", item.nodeid.split("::", 1)[0]), item.nodeid
    # this module's own tests use no shared or module-scoped fixture: units of their own
    assert group_of(request.node) == ""


def test_a_module_scoped_server_keeps_its_module_together(
    request: pytest.FixtureRequest,
) -> None:
    module = "tests/shadow_router/test_faults.py"  # its router fixture is module-scoped
    groups = {group_of(i) for i in request.session.items if i.nodeid.startswith(module + "::")}
    if not groups:
        pytest.skip(f"{module} is not collected in this session")
    assert groups == {module}


def test_the_shared_groups_lead_the_collection(request: pytest.FixtureRequest) -> None:
    shared = {REALNODE, "cluster", "postgres"}
    seen_other = False
    for item in request.session.items:
        if group_of(item) in shared:
            assert not seen_other, f"{item.nodeid} comes after a module's own group"
        else:
            seen_other = True


_SMALL_SUITE = {
    "conftest.py": """
        import os, json, pytest
        pytest_plugins = ["tests.support.parallel"]

        def pytest_configure(config):
            config.addinivalue_line("markers", "realnode: uses the real node")

        @pytest.fixture(scope="session")
        def k8s_cluster():
            return "cluster"

        @pytest.fixture(autouse=True)
        def _record_worker(request):
            yield
            line = json.dumps([request.node.nodeid, os.environ["PYTEST_XDIST_WORKER"]])
            with open(os.environ["RUNS_FILE"], "a") as f:
                f.write(line + "\\n")
    """,
    "test_mod.py": """
        import pytest

        @pytest.fixture(scope="module")
        def server():
            return 1

        @pytest.mark.parametrize("n", range(4))
        def test_with_server(server, n):
            pass

        @pytest.mark.parametrize("n", range(4))
        def test_alone(n):
            pass
    """,
    "test_shared.py": """
        import pytest

        @pytest.mark.realnode
        @pytest.mark.parametrize("n", range(3))
        def test_node(n):
            pass

        @pytest.mark.parametrize("n", range(3))
        def test_cluster(k8s_cluster, n):
            pass
    """,
}


def test_xdist_runs_each_group_on_one_worker(tmp_path: Path) -> None:
    """The failing condition this guards: with xdist's own ``xdist_group`` marks under
    pytest 9.2 every test was a unit of its own, and the real node's tests ran on two
    workers at once."""
    for name, text in _SMALL_SUITE.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    runs = tmp_path / "runs.jsonl"
    env = {**os.environ, "RUNS_FILE": str(runs), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "--no-loadscope-reorder",
            "-p",
            "no:cacheprovider",
            "-q",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers: dict[str, set[str]] = defaultdict(set)
    for line in runs.read_text().splitlines():
        nodeid, worker = json.loads(line)
        kind = nodeid.split("::", 1)[1].split("[", 1)[0]
        workers[kind].add(worker)
    assert set(workers) == {"test_with_server", "test_alone", "test_node", "test_cluster"}
    assert len(workers["test_with_server"]) == 1, workers
    assert len(workers["test_node"]) == 1, workers
    assert len(workers["test_cluster"]) == 1, workers
    # both workers ran something: the ungrouped tests are not glued into one unit
    assert len(set().union(*workers.values())) == 2, workers


def test_a_second_collection_names_every_test_the_same(request: pytest.FixtureRequest) -> None:
    """xdist refuses to run when its workers collect different node ids, and they collect at
    different moments: a parameter id made from the clock (``gzip.compress`` writes the time
    into its header; ``mtime=0`` does not) stopped the whole suite once. This collects the
    session's test files again, at least a second later, and compares the ids."""
    ids = [item.nodeid for item in request.session.items]
    files = sorted({nodeid.split("::", 1)[0] for nodeid in ids})
    time.sleep(1.1)  # this session imported every test module before this test began
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    again = {line for line in proc.stdout.splitlines() if "::" in line}
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [nodeid for nodeid in ids if nodeid not in again] == []
