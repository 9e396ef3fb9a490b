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
``pytest``) nothing changes but that order.

Why not xdist's own ``xdist_group`` marks: xdist 3.8 passes a mark to its scheduler by
appending ``@group`` to the node id through ``item._nodeid``, which pytest 9.2 no longer
reads (the id lives in ``item._id``), so the marks were silently ignored and the real
node's tests were split over workers. Here the workers write each test's group to a file
after collection and the controller's scheduler (the ``pytest_xdist_make_scheduler`` hook)
reads it: public hooks only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler import LoadScopeScheduling
    from xdist.workermanage import WorkerController

REALNODE = "realnode"
# Groups of shared session fixtures, after the real node's, longest first (the order
# they are handed out in).
SHARED_GROUPS = (
    ("k8s_cluster", "cluster"),
    ("postgres_server", "postgres"),
)
# The controller's directory for the workers' group files, passed in each workerinput.
_GROUPS_DIR = "understudy_groups_dir"
_GROUPS_KEY = pytest.StashKey[str]()


def group_of(item: pytest.Item) -> str:
    """The group of a collected test: the real node's, a shared fixture's, its module's,
    or "" (none: the test is a unit of its own)."""
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


_ORDER = (REALNODE, *(name for _, name in SHARED_GROUPS))


def _rank(group: str) -> int:
    return _ORDER.index(group) if group in _ORDER else len(_ORDER)


def _scheduled_in_groups(config: pytest.Config) -> bool:
    """True in the controller of ``-n N --dist loadgroup``."""
    return bool(config.getoption("numprocesses", None)) and (
        config.getoption("dist", None) == "loadgroup"
    )


def pytest_configure(config: pytest.Config) -> None:
    if _scheduled_in_groups(config) and not hasattr(config, "workerinput"):
        config.stash[_GROUPS_KEY] = tempfile.mkdtemp(prefix="understudy-xdist-groups-")


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_GROUPS_KEY, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: WorkerController) -> None:
    directory = node.config.stash.get(_GROUPS_KEY, None)
    if directory is not None:
        node.workerinput[_GROUPS_DIR] = directory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {id(item): group_of(item) for item in items}
    # A stable sort: within a rank, collection order stays.
    items.sort(key=lambda item: _rank(groups[id(item)]))
    workerinput = getattr(config, "workerinput", {})
    if _GROUPS_DIR in workerinput:
        by_id = {item.nodeid: groups[id(item)] for item in items if groups[id(item)]}
        path = Path(workerinput[_GROUPS_DIR]) / f"{workerinput['workerid']}.json"
        # Written before xdist's collectionfinish is sent, so before the controller
        # schedules; renamed into place so the controller never reads half a file.
        path.with_suffix(".tmp").write_text(json.dumps(by_id))
        path.with_suffix(".tmp").replace(path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    directory = config.stash.get(_GROUPS_KEY, None)
    if directory is None:
        return None
    groups_dir = Path(directory)
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with this module's groups as the scopes: a grouped
        test's scope is its group, every other test is a scope of its own."""

        def __init__(self, config: pytest.Config, log: Producer) -> None:
            super().__init__(config, log)
            self.groups: dict[str, str] = {}

        def schedule(self) -> None:
            if not self.groups:
                for path in sorted(groups_dir.glob("*.json")):
                    self.groups.update(json.loads(path.read_text()))
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)
