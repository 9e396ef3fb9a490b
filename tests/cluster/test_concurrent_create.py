"""Two kwok clusters created at the same moment both come up (scripts/cluster.sh).

kwokctl picks every component's port by probing for one that is free now and binds it only
when the component starts, so two `kwokctl create cluster` at once chose the same ports and
one API server never became ready. That happened under `make test`'s parallel workers (the
kwok cluster's worker and the real node's started together: all 204 cluster tests errored).
cluster.sh now creates one cluster at a time; this test creates two at once, for real.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.cluster import SCRIPTS
from tests.support.realnode import run_script, script_env

pytestmark = pytest.mark.cluster


def _cluster_sh(*args: str) -> subprocess.CompletedProcess[str]:
    env = script_env({"UNDERSTUDY_CLUSTER_NODES": "1"})
    return run_script(str(SCRIPTS / "cluster.sh"), *args, env=env, timeout=600)


def test_two_clusters_created_at_once_both_become_ready() -> None:
    tools = run_script(str(SCRIPTS / "k8s-tools.sh"), env=script_env(), timeout=1800)
    assert tools.returncode == 0, tools.stderr[-2000:]
    # the "ut-<pid>-" prefix: the cluster fixture reaps these if this process dies first
    names = [f"ut-{os.getpid()}-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            ups = list(pool.map(lambda name: _cluster_sh("up", name), names))
        for name, up in zip(names, ups, strict=True):
            assert up.returncode == 0, f"{name}: {up.stderr[-3000:]}"
            assert _cluster_sh("status", name).returncode == 0, name
    finally:
        for name in names:
            _cluster_sh("down", name)
