"""Where the humans' signals live on a ModelRollout, and reading them (pure).

One place for the annotation names: the operator reads and clears them
(reconcile.py), ``kubectl understudy`` writes them (understudy_cli/rollout/signals.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.status import RolloutStatus
from understudy_operator.core.types import Signal, Signals

ANNOTATION_PREFIX = "rollouts.understudy.dev"
SIGNAL_ANNOTATIONS = {s: f"{ANNOTATION_PREFIX}/{s.value}" for s in Signal}


def read_signals(
    *, annotations: Mapping[str, str], spec: RolloutSpec, status: RolloutStatus
) -> Signals:
    """Each signal: its annotation "true" or the candidate version; approve also
    spec.approvedVersion."""
    cand = status.candidate_version

    def on(signal: Signal) -> bool:
        value = (annotations.get(SIGNAL_ANNOTATIONS[signal]) or "").strip()
        return value.lower() == "true" or (cand is not None and value == cand)

    approved_in_spec = cand is not None and spec.approved_version == cand
    return Signals(
        approve=on(Signal.APPROVE) or approved_in_spec,
        abort=on(Signal.ABORT),
        resume=on(Signal.RESUME),
        retry=on(Signal.RETRY),
        promote=on(Signal.PROMOTE),
    )
