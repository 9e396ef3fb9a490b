"""The session's real node (see tests/support/realnode.py): one per test session, started
on first use and always torn down, leaving the host as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.cluster import K8sCluster
from tests.support.realnode import real_node_session


@pytest.fixture(scope="session")
def real_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[K8sCluster]:
    if os.geteuid() != 0:
        pytest.skip("the real node changes host networking and cgroups: run as root")
    try:
        yield from real_node_session(tmp_path_factory.mktemp("helm-home"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
