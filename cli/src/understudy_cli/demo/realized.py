"""Realized error of live and candidate from the router's ground-truth metrics
(docs/contracts.md, "Ground truth"): what the demo shows beside the analysis runs and
writes into the report.

Two views of the same labels. Per role and version, over every labelled record of that
model (``understudy_router_realized_abs_error_dollars`` sum / count,
``..._realized_squared_error_total``): the MAE a dashboard would show. Paired, over the
records that both models answered (``understudy_router_paired_*``): the like-for-like
comparison the ``realized-error-ratio`` check judges (candidate MAE / live MAE).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from understudy_cli.demo.scrape import Snapshot

ABS_ERROR = "understudy_router_realized_abs_error_dollars"
SQUARED_ERROR = "understudy_router_realized_squared_error_total"
PAIRED_RECORDS = "understudy_router_paired_loss_records_total"
PAIRED_ABS_ERROR = "understudy_router_paired_abs_error_total"
LABELS = "understudy_router_feedback_labels_total"


@dataclass(frozen=True)
class RoleError:
    """One model's realized error over all its labelled records."""

    role: str
    version: str
    records: int
    mae: float
    rmse: float


@dataclass(frozen=True)
class PairedError:
    """Both models' realized error over the same labelled records."""

    live_version: str
    candidate_version: str
    records: int
    live_mae: float
    candidate_mae: float

    @property
    def ratio(self) -> float | None:
        """Candidate MAE / live MAE (what ``realized-error-ratio`` compares with ``max``)."""
        return self.candidate_mae / self.live_mae if self.live_mae > 0 else None


@dataclass(frozen=True)
class Realized:
    by_role: tuple[RoleError, ...] = ()
    paired: tuple[PairedError, ...] = ()
    # The router's label outcomes (applied, duplicate, conflict, unknown_request, ...).
    label_outcomes: tuple[tuple[str, int], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.by_role and not self.paired


def realized_from(snapshot: Snapshot) -> Realized:
    """The realized errors in one scrape of the router's /metrics."""
    by_role = []
    keys = sorted(
        {
            (s.labels.get("role", ""), s.labels.get("version", ""))
            for s in snapshot.select(ABS_ERROR + "_count")
        },
        key=lambda k: (k[0] != "live", k[1]),  # live first
    )
    for role, version in keys:
        count = snapshot.total(ABS_ERROR + "_count", role=role, version=version) or 0.0
        if count <= 0:
            continue
        total = snapshot.total(ABS_ERROR + "_sum", role=role, version=version) or 0.0
        squares = snapshot.total(SQUARED_ERROR, role=role, version=version) or 0.0
        by_role.append(
            RoleError(
                role=role,
                version=version,
                records=int(count),
                mae=total / count,
                rmse=math.sqrt(squares / count),
            )
        )
    paired = []
    pairs = sorted(
        {
            (s.labels.get("live_version", ""), s.labels.get("candidate_version", ""))
            for s in snapshot.select(PAIRED_RECORDS)
        }
    )
    for live_version, candidate_version in pairs:
        match = {"live_version": live_version, "candidate_version": candidate_version}
        records = snapshot.total(PAIRED_RECORDS, **match) or 0.0
        if records <= 0:
            continue
        live = snapshot.total(PAIRED_ABS_ERROR, role="live", **match) or 0.0
        candidate = snapshot.total(PAIRED_ABS_ERROR, role="candidate", **match) or 0.0
        paired.append(
            PairedError(
                live_version=live_version,
                candidate_version=candidate_version,
                records=int(records),
                live_mae=live / records,
                candidate_mae=candidate / records,
            )
        )
    outcomes: dict[str, int] = {}
    for s in snapshot.select(LABELS):
        outcome = s.labels.get("outcome", "")
        outcomes[outcome] = outcomes.get(outcome, 0) + int(s.value)
    return Realized(
        by_role=tuple(by_role),
        paired=tuple(paired),
        label_outcomes=tuple(sorted((k, v) for k, v in outcomes.items() if v)),
    )


def dollars(value: float) -> str:
    """$19.6k, $980, $1.24M: short enough for a table cell."""
    if value >= 999_500:
        return f"${value / 1e6:.2f}M"
    if value >= 1_000:
        return f"${value / 1e3:.1f}k"
    return f"${value:.0f}"


def describe(realized: Realized) -> str:
    """One line: each model's MAE, then the like-for-like comparison."""
    if realized.empty:
        return "realized MAE: no labelled records yet"
    parts = [f"{e.role} {e.version} {dollars(e.mae)} (n={e.records})" for e in realized.by_role]
    line = "realized MAE: " + ", ".join(parts)
    for p in realized.paired:
        ratio = f", ratio {p.ratio:.3f}" if p.ratio is not None else ""
        line += (
            f"; on the same {p.records} records {p.live_version} {dollars(p.live_mae)} vs "
            f"{p.candidate_version} {dollars(p.candidate_mae)}{ratio}"
        )
    return line


def summary(realized: Realized | None) -> dict[str, Any] | None:
    """The realized errors as plain data (summary.json)."""
    if realized is None:
        return None
    return {
        "by_role": [asdict(e) for e in realized.by_role],
        "paired": [{**asdict(p), "ratio": p.ratio} for p in realized.paired],
        "label_outcomes": dict(realized.label_outcomes),
    }
