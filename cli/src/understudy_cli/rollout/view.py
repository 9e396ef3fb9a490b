"""A ModelRollout as the demo's screen (demo/display.py's View and table): phase, versions,
counters, the analysis runs × checks (value, interval, threshold, verdict) and conditions.

The status holds the checks of the last run only; :class:`RunHistory` keeps every run seen
while watching (``get -w``), so the table grows one row per analysis run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.table import Table

from understudy_cli.demo.display import View, render

# Counters of status.analysis shown in the header, in this order.
COUNTERS = ("runs", "successful", "failed", "inconclusive", "undecided", "samples")
# Where a traffic weight or step may live in a status (canary steps add them); shown when
# present, whatever wrote them.
TRAFFIC_KEYS = (("weight",), ("canary", "weight"), ("step",), ("canary", "step"))


class RunHistory:
    """The analysis runs seen so far, one row per ``analysis.lastRunAt``."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._seen: set[tuple[str | None, str]] = set()

    def add(self, status: dict[str, Any]) -> None:
        analysis = status.get("analysis") or {}
        checks = analysis.get("checks") or []
        last = analysis.get("lastRunAt")
        key = (status.get("candidateVersion"), str(last))
        if not last or not checks or key in self._seen:
            return
        self._seen.add(key)
        self.rows.append(
            {
                "number": analysis.get("runs", 0),
                "verdict": analysis.get("lastVerdict") or "—",
                "samples": analysis.get("samples"),
                "checks": checks,
            }
        )


def _traffic(status: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in TRAFFIC_KEYS:
        value: Any = status
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float | str) and path[-1] not in found:
            found[path[-1]] = value
    return found


def _age(since: str | None) -> float:
    if not since:
        return 0.0
    start = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return max(0.0, (datetime.now(UTC) - start).total_seconds())


def rollout_view(obj: dict[str, Any], history: RunHistory) -> View:
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    meta = obj["metadata"]
    history.add(status)
    analysis = status.get("analysis") or {}
    counters = {k: analysis[k] for k in COUNTERS if analysis.get(k) is not None}
    if analysis.get("skipped"):
        counters["analysis"] = "skipped by request"
    model = (spec.get("model") or {}).get("name", "?")
    return View(
        title=f"{meta['namespace']}/{meta['name']} · model {model} · desired "
        f"{(spec.get('model') or {}).get('version', '?')}",
        phase=status.get("phase") or "Pending",
        elapsed=_age(status.get("phaseSince")),
        stable=status.get("stableVersion") or "—",
        candidate=status.get("candidateVersion") or "—",
        traffic=_traffic(status),
        runs=list(history.rows),
        counters=counters,
        message=status.get("message") or "",
    )


def conditions_table(obj: dict[str, Any]) -> Table:
    table = Table(title="conditions", expand=True)
    for column in ("type", "status", "reason", "since"):
        table.add_column(column)
    for c in (obj.get("status") or {}).get("conditions") or []:
        table.add_row(
            c.get("type", ""),
            c.get("status", ""),
            c.get("reason", ""),
            c.get("lastTransitionTime") or "",
        )
    return table


def screen(obj: dict[str, Any], history: RunHistory) -> Group:
    """What ``get`` prints: the demo's screen for this rollout, then its conditions."""
    return Group(render(rollout_view(obj, history)), conditions_table(obj))
