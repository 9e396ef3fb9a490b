"""pytest plugin: how `make test` splits the suite over pytest-xdist workers.

`make test` runs ``pytest -n N --dist loadgroup --no-loadscope-reorder``: xdist hands each
worker whole groups, in the order of the collection. Most of the suite's time is spent
waiting for real processes (a kubelet starting pods, an operator's analysis windows, a
router's mirrors), not computing, so several workers finish sooner even on two cores.

The groups, one rule each:

* every test marked ``realnode`` is one group: the node is one per machine
  (scripts/realnode.sh takes a lock), so its tests must share one worker's session, and
  the tests that prune podman's image store must not run while the node imports from it;
* every test that uses the kwok cluster (``k8s_cluster``) is one group, so one worker
  starts one control plane instead of each worker its own;
* every test that uses the session's PostgreSQL (``postgres_server``) is one group, for the
  same reason;
* a test that uses a module- or class-scoped fixture (a router, Prometheus, Elasticsearch
  started once per module) goes with its module, so that server starts once;
* every other test is a unit of its own, handed to whichever worker is free (a module of
  slow tests, such as the demo's whole rollouts, is spread over the workers). The
  session-scoped servers they use (model-api processes, the operator tests' Prometheus)
  start once per worker: seconds each.

The longest groups are moved to the front of the collection: a worker that picks up the
real node's 17 minutes last would leave the others idle at the end. Without ``-n`` (a plain
``pytest``) the markers and the order change nothing but that order.
"""

from __future__ import annotations

import pytest

REALNODE = "realnode"
# Groups of shared session fixtures, after the real node's, longest first (the order
# they are handed out in).
SHARED_GROUPS = (
    ("k8s_cluster", "cluster"),
    ("postgres_server", "postgres"),
)


def group_of(item: pytest.Item) -> str:
    """The xdist group of a collected test: the real node's, a shared fixture's, its
    module's, or "" (none: the test is a unit of its own)."""
    if item.get_closest_marker("realnode") is not None:
        return REALNODE
    fixtures = getattr(item, "fixturenames", ())
    for fixture, group in SHARED_GROUPS:
        if fixture in fixtures:
            return group
    if _uses_a_module_fixture(item):
        return item.nodeid.split("::", 1)[0]
    return ""


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        defs and defs[-1].scope in ("module", "class", "package")
        for defs in info.name2fixturedefs.values()
    )


def _rank(group: str) -> int:
    order = [REALNODE, *(name for _, name in SHARED_GROUPS)]
    return order.index(group) if group in order else len(order)


# tryfirst: xdist's worker appends the group to each node id in its own
# pytest_collection_modifyitems, which must see the markers added here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    groups = {id(item): group_of(item) for item in items}
    for item in items:
        if groups[id(item)]:
            item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
    # A stable sort: within a rank, collection order stays.
    items.sort(key=lambda item: _rank(groups[id(item)]))
