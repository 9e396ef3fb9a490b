"""approve, abort, resume, retry, promote --skip-analysis: each writes the signal
annotation the operator reads (core/signals.py: SIGNAL_ANNOTATIONS, read_signals) with the
candidate's version as its value, so a signal meant for one candidate never applies to a
later one. The operator acts on it at its next reconcile and clears it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from understudy_cli.rollout.errors import EXIT_REFUSED, PluginError
from understudy_cli.rollout.kube import Rollouts
from understudy_operator.core import IN_FLIGHT, SIGNAL_ANNOTATIONS, Phase, Signal

# Before a promotion is under way; a promotion in flight completes (core/README.md).
STEERABLE = IN_FLIGHT - {Phase.PROMOTING}


@dataclass(frozen=True)
class Rule:
    phases: frozenset[Phase]  # where the signal does something
    done: str  # what the operator will do, for the user


RULES = {
    Signal.APPROVE: Rule(STEERABLE, "promote it once its analysis has passed"),
    Signal.ABORT: Rule(STEERABLE, "roll it back now; the stable version stays live"),
    Signal.RESUME: Rule(
        frozenset({Phase.PAUSED, Phase.ROLLED_BACK}),
        "continue the paused analysis (or retry the rolled-back candidate)",
    ),
    Signal.RETRY: Rule(
        frozenset({Phase.ROLLED_BACK, Phase.FAILED}),
        "shadow the candidate again with fresh counters",
    ),
    Signal.PROMOTE: Rule(STEERABLE, "promote it now, without a passed analysis"),
}


def send(
    rollouts: Rollouts,
    name: str,
    signal: Signal,
    *,
    confirm: Callable[[str], bool] | None = None,
) -> str:
    """Annotate the rollout with ``signal``; the line to print. PluginError(EXIT_REFUSED)
    when the phase does not allow it or ``confirm`` says no."""
    obj = rollouts.get(name)
    status: dict[str, Any] = obj.get("status") or {}
    phase = Phase(status["phase"]) if status.get("phase") in set(Phase) else Phase.PENDING
    rule = RULES[signal]
    if phase not in rule.phases:
        allowed = ", ".join(sorted(str(p) for p in rule.phases))
        raise PluginError(
            f'{signal} does not apply to modelrollout "{name}" in phase {phase} '
            f"(only in {allowed}): {status.get('message') or 'no message'}",
            EXIT_REFUSED,
        )
    candidate = status.get("candidateVersion")
    if confirm is not None and not confirm(
        f"{signal} {candidate or 'the candidate'} of {rollouts.namespace}/{name}: "
        f"{rule.done}. Continue?"
    ):
        raise PluginError("not confirmed; nothing changed", EXIT_REFUSED)
    rollouts.annotate(name, {SIGNAL_ANNOTATIONS[signal]: candidate or "true"})
    what = f"candidate {candidate}" if candidate else "the rollout"
    return (
        f"modelrollout {rollouts.namespace}/{name}: {signal} sent for {what} "
        f"(phase {phase}); the operator will {rule.done}"
    )
