"""How `make test` splits the suite over xdist workers (tests/support/parallel.py), checked
on this session's own collection: the tests that share one real node, one kwok cluster
or one PostgreSQL go to one worker, the rest by module, and the long groups come first."""

from __future__ import annotations

import pytest

from tests.support.parallel import REALNODE, group_of


def _group_marks(item: pytest.Item) -> list[str]:
    return [str(mark.args[0]) for mark in item.iter_markers("xdist_group")]


def test_every_collected_test_carries_exactly_its_group(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    assert request.node in items
    wrong = [
        item.nodeid
        for item in items
        if _group_marks(item) != ([group_of(item)] if group_of(item) else [])
    ]
    assert wrong == []


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
