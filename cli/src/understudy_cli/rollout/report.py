"""``report NAME``: the demo's report (report.md, summary.json, the live-vs-candidate plot)
for a rollout in a cluster.

The window is the candidate's shadow: from ``status.analysis.startedAt`` to now while the
rollout is still judging (Shadowing, Canary, AwaitingApproval, Paused), or to the decision
(``phaseSince``) once it is RolledBack. Every query is evaluated by Prometheus *at* the
window's end (its ``time`` parameter), so a rolled-back candidate whose pods are gone is
still reported from the samples Prometheus kept. The checks are the operator's own (the
core's ``measure_all`` and ``decide``, as ``dry-run`` runs them) over that whole window; the
report also lists the operator's last recorded run from the status.

A Promoted rollout is refused: its status no longer names the version it replaced, and
the window's "live" would be ambiguous.

The plot needs the request pairs, which only the router's comparison logs hold: with
``--es URL`` they are read from Elasticsearch (``understudy logs``' search), else the
report says none were read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from understudy_cli.demo.report import PredictionPair, plot_pairs, write_report
from understudy_cli.logsearch import DEFAULT_INDEX, ComparisonQuery, SearchError, search_comparisons
from understudy_cli.rollout.dryrun import dry_run
from understudy_cli.rollout.errors import EXIT_API, EXIT_REFUSED, PluginError
from understudy_operator.core import Phase, RolloutStatus, parse_spec
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource

# Phases whose window is still open (it ends now).
OPEN = frozenset({Phase.SHADOWING, Phase.CANARY, Phase.AWAITING_APPROVAL, Phase.PAUSED})
MAX_PAIRS = 10_000


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    candidate: str
    live: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def window_of(obj: dict[str, Any], *, now: datetime) -> Window:
    """The shadow window of the rollout (PluginError EXIT_REFUSED when it has none)."""
    status = RolloutStatus.from_dict(obj.get("status"))
    name = obj["metadata"]["name"]
    if status.phase == Phase.PROMOTED:
        raise PluginError(
            f"{name} is Promoted: its status no longer names the version it replaced; "
            "report a rollout while it is judged or after a rollback",
            EXIT_REFUSED,
        )
    start = status.analysis.started_at
    if start is None or not status.candidate_version or not status.stable_version:
        raise PluginError(
            f"{name} has no shadow window yet (phase {status.phase}): no candidate was shadowed",
            EXIT_REFUSED,
        )
    end = now if status.phase in OPEN else (status.phase_since or now)
    return Window(start, end, status.candidate_version, status.stable_version)


def _as_judged(obj: dict[str, Any]) -> dict[str, Any]:
    """The rollout as if its analysis were running, so the core judges the window whatever
    became of it (the report's question is "what does the evidence say")."""
    status = dict(obj.get("status") or {})
    status["phase"] = str(Phase.SHADOWING)
    return {**obj, "status": status}


def comparison_pairs(
    es_url: str, window: Window, spec: Any, *, now: datetime
) -> list[PredictionPair]:
    minutes = math.ceil((now - window.start).total_seconds() / 60) + 1
    query = ComparisonQuery(
        since=f"{minutes}m", candidate_version=window.candidate, limit=MAX_PAIRS
    )
    try:
        with httpx.Client(timeout=30) as http:
            found = search_comparisons(http, es_url=es_url, index=DEFAULT_INDEX, query=query)
    except SearchError as exc:
        raise PluginError(f"Elasticsearch: {exc}", EXIT_API) from None
    rel, absolute = spec.shadow.tolerance.relative, spec.shadow.tolerance.absolute
    pairs = []
    for event in found.events:
        for live, candidate in zip(
            event.live_predictions, event.candidate_predictions, strict=False
        ):
            agree = abs(candidate - live) <= max(absolute, rel * abs(live))
            pairs.append(PredictionPair(live, candidate, agree))
    return pairs


def write_rollout_report(
    obj: dict[str, Any],
    *,
    prometheus_url: str,
    es_url: str | None,
    out_dir: Path,
    now: datetime,
) -> Path:
    """Writes ``<out_dir>/<namespace>-<name>-<time>/`` and returns its report.md."""
    meta = obj["metadata"]
    spec = parse_spec(obj.get("spec") or {})
    status = RolloutStatus.from_dict(obj.get("status"))
    window = window_of(obj, now=now)
    provider = PrometheusProvider(url=prometheus_url, at=window.end)
    try:
        judged = dry_run(_as_judged(obj), source=PromQLSource(provider), now=window.end)
    finally:
        provider.close()
    if judged.source_failed:
        raise PluginError(f"Prometheus at {prometheus_url} could not be asked", EXIT_API)
    assert judged.decision is not None  # judged as Shadowing: there is always a decision
    result = judged.decision
    run_dir = out_dir / f"{meta['namespace']}-{meta['name']}-{now:%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    window_checks = [c.to_dict() for c in result.status.analysis.checks]
    runs = []
    if status.analysis.checks:  # what the operator itself recorded last
        runs.append(
            {
                "number": status.analysis.runs,
                "at": _since(window.start, status.analysis.last_run_at or window.end),
                "verdict": "recorded",
                "samples": status.analysis.samples,
                "checks": [c.to_dict() for c in status.analysis.checks],
            }
        )
    runs.append(
        {
            "number": "window",
            "at": window.seconds,
            "verdict": str(result.run_verdict) if result.run_verdict else "-",
            "samples": result.status.analysis.samples,
            "checks": window_checks,
        }
    )
    plot = None
    pairs: list[PredictionPair] = []
    if es_url:
        pairs = comparison_pairs(es_url, window, spec, now=now)
        plot = plot_pairs(
            pairs,
            path=run_dir / "live-vs-candidate.png",
            live_version=window.live,
            candidate_version=window.candidate,
            tolerance_relative=spec.shadow.tolerance.relative or None,
        )
    settings = {
        "rollout": f"{meta['namespace']}/{meta['name']}",
        "window": {"start": _ts(window.start), "end": _ts(window.end)},
        "prometheus": prometheus_url,
        "elasticsearch": es_url or "not read (--es)",
        "analysis": {"checks": [c.name for c in spec.analysis.checks]},
    }
    report = write_report(
        path=run_dir / "report.md",
        title=f"Shadow rollout of {window.candidate} beside {window.live} ({meta['name']})",
        settings=settings,
        runs=runs,
        outcome=str(status.phase),
        message=status.message,
        plot=plot,
        traffic={
            "compared requests read from Elasticsearch": len(pairs) if es_url else "not read",
            "window (s)": round(window.seconds, 1),
        },
    )
    summary = {
        "rollout": meta["name"],
        "namespace": meta["namespace"],
        "phase": str(status.phase),
        "message": status.message,
        "live_version": window.live,
        "candidate_version": window.candidate,
        "window": settings["window"],
        "window_verdict": str(result.run_verdict) if result.run_verdict else None,
        "samples": result.status.analysis.samples,
        "checks": window_checks,
        "pairs": len(pairs),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return report


def _since(start: datetime, at: datetime) -> float:
    return max(0.0, (at - start).total_seconds())


def _ts(value: datetime) -> str:
    """As the operator writes its status' times (full precision, Z)."""
    return value.isoformat().replace("+00:00", "Z")
