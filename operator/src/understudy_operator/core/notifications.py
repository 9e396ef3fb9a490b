"""What a rollout's ``spec.notifications`` asks for, and the message of one notification.

Pure: the operator's notifier (operator/notify/) reads the URL from the Secret and sends;
this module only says *whether* a decision is worth a notification and *what* it says, in
the generic JSON body or the Slack-compatible one (``{"text": ...}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from understudy_operator.core.checks import Verdict
from understudy_operator.core.types import Decision


class NotifyOn(StrEnum):
    PHASE_CHANGED = "PhaseChanged"  # the rollout entered another phase
    RUN_FAILED = "AnalysisRunFailed"  # an analysis run failed (before or at the rollback)


class Format(StrEnum):
    JSON = "json"  # the generic body below, for any webhook receiver
    SLACK = "slack"  # {"text": ...}: Slack incoming webhooks, Mattermost, Teams' Slack mode


@dataclass(frozen=True)
class Notification:
    name: str  # for Events and logs
    secret_name: str  # the Secret in the rollout's namespace holding the webhook URL
    secret_key: str
    format: Format = Format.JSON
    on: frozenset[NotifyOn] = frozenset(NotifyOn)
    timeout_seconds: float = 5.0  # one attempt; the notifier retries with backoff


def events_of(decision: Decision) -> tuple[NotifyOn, ...]:
    """What ``decision`` is, in notification terms (possibly both, possibly nothing)."""
    found = []
    if decision.phase_changed:
        found.append(NotifyOn.PHASE_CHANGED)
    if decision.run_verdict == Verdict.FAIL:
        found.append(NotifyOn.RUN_FAILED)
    return tuple(found)


def message(
    *,
    event: NotifyOn,
    namespace: str,
    name: str,
    uid: str,
    decision: Decision,
    now: datetime,
) -> dict[str, Any]:
    """The generic JSON body. ``id`` is the same for every attempt of one notification,
    so a receiver can drop the duplicate a timed-out-but-processed attempt leads to."""
    st = decision.status
    at = now.isoformat().replace("+00:00", "Z")
    return {
        "id": f"{uid}/{event}/{st.phase}/{at}",
        "event": str(event),
        "namespace": namespace,
        "rollout": name,
        "phase": str(st.phase),
        "previousPhase": str(decision.previous_phase),
        "reason": decision.reason,
        "message": decision.message,
        "stableVersion": st.stable_version,
        "candidateVersion": st.candidate_version,
        "time": at,
        "checks": [c.to_dict() for c in st.analysis.checks],
    }


def body(fmt: Format, generic: dict[str, Any]) -> dict[str, Any]:
    """The request body in ``fmt``, from the generic message."""
    if fmt == Format.JSON:
        return generic
    where = f"{generic['namespace']}/{generic['rollout']}"
    if generic["event"] == NotifyOn.PHASE_CHANGED:
        head = f"*{where}*: {generic['previousPhase']} → *{generic['phase']}*"
    else:
        head = f"*{where}*: analysis run failed ({generic['phase']})"
    return {"text": f"{head}\n{generic['message']}"}
