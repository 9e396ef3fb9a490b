"""The chart's Grafana dashboard (helm/understudy/files/grafana-dashboard.json) as a file.

It is generated (tools/dashboard, `make dashboard`), so the committed JSON must be exactly
what the generator writes now; and every query must be scoped to the chosen rollout, or a
panel would mix rollouts. Its queries against a real Prometheus fed by real processes:
tests/install/test_dashboard_live.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.layout import DASHBOARD
from tools.dashboard.build import PHASE_COLORS, VERDICT_COLORS, render
from understudy_operator.core.checks import Verdict
from understudy_operator.core.status import Phase


def dashboard() -> dict[str, Any]:
    board = json.loads(DASHBOARD.read_text())
    assert isinstance(board, dict)
    return board


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def test_the_committed_dashboard_is_the_generators_output() -> None:
    assert DASHBOARD.read_text() == render(), (
        f"{DASHBOARD.name} is not what tools/dashboard writes; run `make dashboard`"
    )


def test_every_panel_queries_the_chosen_datasource() -> None:
    assert panels()
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]


def test_every_query_is_scoped_to_the_chosen_rollout() -> None:
    for panel in panels():
        for target in panel["targets"]:
            expr = target["expr"]
            for selector in re.findall(r"(understudy_\w+)(\{[^}]*\})?", expr):
                name, labels = selector
                if name.startswith("understudy_router_"):
                    want = ['namespace="$namespace"', 'model="$model"']
                else:
                    want = ['rollout_namespace="$namespace"', 'rollout="$rollout"']
                for label in want:
                    assert label in labels, f"{panel['title']}: {name}{labels} lacks {label}"


def test_variables_chain_namespace_rollout_model() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert list(variables) == ["datasource", "namespace", "rollout", "model"]
    assert variables["datasource"]["query"] == "prometheus"
    assert "$namespace" in variables["rollout"]["query"]
    assert "$rollout" in variables["model"]["query"]
    assert variables["model"]["hide"] == 2  # derived from the rollout, not chosen


def test_panel_ids_are_unique_and_panels_fit_the_grid() -> None:
    all_panels = dashboard()["panels"]
    ids = [p["id"] for p in all_panels]
    assert len(set(ids)) == len(ids)
    for p in all_panels:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24, p["title"]


def test_every_phase_and_verdict_has_a_colour() -> None:
    """A phase added to the operator (Canary was) must show on the phase timeline."""
    assert set(PHASE_COLORS) == set(Phase)
    assert set(VERDICT_COLORS) == set(Verdict)
