"""One reconcile of one ModelRollout: read it, measure, decide (core), act, write status.

Handlers call :meth:`Reconciler.reconcile`; it reads the object fresh from the API under a
per-object lock (timer and change handlers may fire together), carries out the decision's
actions before writing the status, and writes the status with the object's
resourceVersion as a precondition, so two writers can never both count the same run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from understudy_operator.core import (
    SIGNAL_ANNOTATIONS,
    CheckResult,
    Decision,
    MetricsSource,
    Phase,
    RolloutSpec,
    RolloutStatus,
    Signal,
    SpecError,
    Verdict,
    parse_spec,
    read_signals,
    run_step,
)
from understudy_operator.kube import GROUP, PLURAL, VERSION
from understudy_operator.kube.actuator import KubeActuator, WorkloadRejected
from understudy_operator.kube.events import EventRecorder
from understudy_operator.kube.resources import RolloutRef
from understudy_operator.metrics import OperatorMetrics
from understudy_operator.notifier import Notifier
from understudy_operator.settings import OperatorSettings

log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 3
WARNING_REASONS = frozenset(
    {
        "AnalysisFailed",
        "AnalysisRunFailed",
        "AnalysisPaused",
        "Aborted",
        "InvalidSpec",
        "AnalysisSkipped",
    }
)


class InvalidSpec(Exception):
    """The ModelRollout's spec cannot be acted on (status says why)."""


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    status_written: bool


class Reconciler:
    def __init__(
        self,
        *,
        api: client.ApiClient,
        settings: OperatorSettings,
        source: MetricsSource,
        metrics: OperatorMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notifier: Notifier | None = None,
    ) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._actuator = KubeActuator(api=api, settings=settings)
        self._events = EventRecorder(api)
        self._source = source
        self._metrics = metrics
        self._clock = clock
        self._notifier = notifier
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._phases: dict[str, Phase] = {}

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def forget(self, namespace: str, name: str) -> None:
        key = f"{namespace}/{name}"
        with self._guard:
            self._locks.pop(key, None)
            self._phases.pop(key, None)
            self._metrics.set_phases(self._phases)
            self._metrics.forget_rollout(namespace, name)

    def reconcile(self, namespace: str, name: str) -> Outcome | None:
        started = time.perf_counter()
        try:
            with self._lock(f"{namespace}/{name}"):
                for attempt in range(1, CONFLICT_ATTEMPTS + 1):
                    try:
                        return self._reconcile(namespace, name)
                    except client.ApiException as exc:
                        # Someone (kopf's bookkeeping, a user) wrote the object since we
                        # read it: decide again on fresh data; actions are idempotent.
                        if exc.status != 409 or attempt == CONFLICT_ATTEMPTS:
                            self._metrics.reconcile_errors.labels("api").inc()
                            raise
                raise AssertionError("unreachable")
        finally:
            self._metrics.reconcile_duration.observe(time.perf_counter() - started)

    def _reconcile(self, namespace: str, name: str) -> Outcome | None:
        obj = self._get(namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        meta = obj["metadata"]
        ref = RolloutRef(namespace=namespace, name=name, uid=meta["uid"])
        status = RolloutStatus.from_dict(obj.get("status"))
        now = self._clock()
        try:
            spec = parse_spec(obj.get("spec") or {})
        except SpecError as exc:
            self._invalid(obj, ref, status, str(exc), now)
            raise InvalidSpec(str(exc)) from exc

        signals = read_signals(annotations=meta.get("annotations") or {}, spec=spec, status=status)
        try:
            decision = run_step(
                spec=spec,
                status=status,
                source=self._source,
                actuator=self._actuator.for_rollout(ref, spec),
                namespace=namespace,
                now=now,
                signals=signals,
            ).decision
            stable = decision.status.stable_version
            if decision.status.phase == Phase.PROMOTED and not decision.actions and stable:
                # a changed spec.template (or replicas) reaches the live pods
                self._actuator.refresh_live(ref, spec, stable)
        except WorkloadRejected as exc:  # spec.template values only the API server checks
            self._invalid(obj, ref, status, str(exc), now)
            raise InvalidSpec(str(exc)) from exc
        new_status = replace(decision.status, observed_generation=meta.get("generation"))
        written = self._write_status(obj, new_status)
        self._clear_signals(ref, obj, decision.consumed)
        self._report(ref, spec, decision, now)
        if written and self._notifier is not None:  # once per stored decision, in the background
            self._notifier.notify(ref=ref, spec=spec, decision=decision, now=now)
        return Outcome(decision=decision, status_written=written)

    # -- API ------------------------------------------------------------------------------

    def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self._custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj if isinstance(obj, dict) else None

    def _write_status(self, obj: dict[str, Any], status: RolloutStatus) -> bool:
        body = status.to_dict()
        if _same(obj.get("status") or {}, body):
            return False
        meta = obj["metadata"]
        self._custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            meta["namespace"],
            PLURAL,
            meta["name"],
            {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": body},
            _content_type="application/merge-patch+json",
        )
        return True

    def _clear_signals(
        self, ref: RolloutRef, obj: dict[str, Any], consumed: frozenset[Signal]
    ) -> None:
        present = obj["metadata"].get("annotations") or {}
        keys = [SIGNAL_ANNOTATIONS[s] for s in consumed if SIGNAL_ANNOTATIONS[s] in present]
        if not keys:
            return
        self._custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            ref.namespace,
            PLURAL,
            ref.name,
            {"metadata": {"annotations": dict.fromkeys(keys)}},
            _content_type="application/merge-patch+json",
        )

    def _invalid(
        self,
        obj: dict[str, Any],
        ref: RolloutRef,
        status: RolloutStatus,
        message: str,
        now: datetime,
    ) -> None:
        self._metrics.reconcile_errors.labels("invalid_spec").inc()
        # Published on every attempt (a restarted operator has no memory of it): the
        # UnderstudyRolloutFailed alert and the dashboard's phase timeline read it.
        model = ((obj.get("spec") or {}).get("model") or {}).get("name")
        self._publish(ref, model=str(model or ""), phase=Phase.FAILED, checks=())
        if status.phase == Phase.FAILED and status.message == message:
            return
        failed = replace(status, phase=Phase.FAILED, message=message, phase_since=now)
        self._write_status(obj, failed.with_conditions(now))
        self._events.record(
            ref=ref, type_="Warning", reason="InvalidSpec", message=message, now=now
        )
        log.error("invalid spec of %s/%s: %s", ref.namespace, ref.name, message)

    # -- reporting ------------------------------------------------------------------------

    def _publish(
        self, ref: RolloutRef, *, model: str, phase: Phase, checks: tuple[CheckResult, ...]
    ) -> None:
        """The rollout's phase and last checks in the operator's metrics."""
        with self._guard:
            self._phases[f"{ref.namespace}/{ref.name}"] = phase
            self._metrics.set_phases(self._phases)
            self._metrics.set_rollout(
                namespace=ref.namespace, name=ref.name, model=model, phase=phase, checks=checks
            )

    def _report(
        self, ref: RolloutRef, spec: RolloutSpec, decision: Decision, now: datetime
    ) -> None:
        model = spec.model.name
        status = decision.status
        self._publish(ref, model=model, phase=status.phase, checks=status.analysis.checks)
        rollout = {"namespace": ref.namespace, "name": ref.name, "model": model}
        if decision.run_verdict is not None:
            self._metrics.count_run(**rollout, verdict=decision.run_verdict)
        promoted = decision.previous_phase == Phase.PROMOTING
        if promoted and decision.status.phase == Phase.PROMOTED:
            self._metrics.count_promotion(**rollout)
        if decision.phase_changed and any(a.kind == "rollback" for a in decision.actions):
            self._metrics.count_rollback(**rollout, reason=decision.reason)
        changed = decision.phase_changed or decision.step_changed
        notable = changed or decision.run_verdict == Verdict.FAIL
        extra = {
            "kubernetes.namespace": ref.namespace,
            "understudy.rollout": ref.name,
            "understudy.phase": str(decision.status.phase),
            "understudy.reason": decision.reason,
            "understudy.actions": [str(a) for a in decision.actions],
        }
        if decision.run_verdict is not None or changed:
            log.info("%s/%s: %s", ref.namespace, ref.name, decision.message, extra=extra)
        if notable:
            type_ = "Warning" if decision.reason in WARNING_REASONS else "Normal"
            self._events.record(
                ref=ref, type_=type_, reason=decision.reason, message=decision.message, now=now
            )


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether merge-patching ``wanted`` would change nothing (None deletes a key)."""
    return _pruned(current) == _pruned(wanted)


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value
