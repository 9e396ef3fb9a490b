"""The Kubernetes actuator: carries out the core's actions on API objects.

Every write is a server-side apply with field manager ``understudy-operator`` (create or
update in one idempotent call) or a delete that ignores "already gone"; so an action
repeated after a crash changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from kubernetes import client

from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.status import RolloutStatus
from understudy_operator.core.types import Action, ActionKind, Observed
from understudy_operator.kube import resources
from understudy_operator.kube.resources import Role, RolloutRef
from understudy_operator.settings import OperatorSettings

log = logging.getLogger(__name__)
FIELD_MANAGER = "understudy-operator"
# Holds a Deployment's replicas between the operator's last apply with them and the HPA's
# first write (_hand_replicas_over).
HANDOVER_MANAGER = "understudy-operator-handover"
# On each model Deployment: the hash of what was last applied for it (refresh_live).
APPLIED_HASH = "understudy.dev/applied-hash"
APPLY = "application/apply-patch+yaml"
# kube-apiserver 1.36 answers an applied object with a field its schema lacks with a 500
# whose message starts so (measured: tests/operator/test_pod_template_cluster.py).
TYPED_PATCH_FAILED = "failed to create typed patch object"


class ActuatorError(RuntimeError):
    """An action cannot be carried out as things stand (the message says why)."""


class WorkloadRejected(ActuatorError):
    """The API server refused the Deployment built from the spec (spec.template values the
    CRD cannot check, e.g. a toleration's operator); the message is the server's."""


def _json(response: Any) -> dict[str, Any]:
    return json.loads(response.data)


class RolloutActuator:
    """The core's ``Actuator`` port for one ModelRollout (``KubeActuator.for_rollout``)."""

    def __init__(self, kube: KubeActuator, *, ref: RolloutRef, spec: RolloutSpec) -> None:
        self._kube = kube
        self._ref = ref
        self._spec = spec

    def observe(self, status: RolloutStatus) -> Observed:
        return self._kube.observe(self._ref, status)

    def apply(self, action: Action, status: RolloutStatus) -> None:
        self._kube.apply(action, ref=self._ref, spec=self._spec, status=status)


class KubeActuator:
    def __init__(self, *, api: client.ApiClient, settings: OperatorSettings) -> None:
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._policy = client.PolicyV1Api(api)
        self._autoscaling = client.AutoscalingV2Api(api)
        self._settings = settings

    def for_rollout(self, ref: RolloutRef, spec: RolloutSpec) -> RolloutActuator:
        return RolloutActuator(self, ref=ref, spec=spec)

    # -- reading -----------------------------------------------------------------------

    def _deployment(self, ref: RolloutRef, role: Role) -> dict[str, Any] | None:
        try:
            return _json(
                self._apps.read_namespaced_deployment(
                    ref.workload(role), ref.namespace, _preload_content=False
                )
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def observe(self, ref: RolloutRef, status: RolloutStatus) -> Observed:
        live = self._deployment(ref, "live")
        live_version = resources.deployment_version(live) if resources.rolled_out(live) else None
        candidate_ready = False
        if status.candidate_version is not None:
            cand = self._deployment(ref, "candidate")
            candidate_ready = resources.rolled_out(cand) and (
                resources.deployment_version(cand) == status.candidate_version
            )
        return Observed(live_version=live_version, candidate_ready=candidate_ready)

    # -- writing -----------------------------------------------------------------------

    def apply(
        self, action: Action, *, ref: RolloutRef, spec: RolloutSpec, status: RolloutStatus
    ) -> None:
        """Carry out one action; ``status`` is the status the decision leads to."""
        v = action.version
        kind = action.kind
        if kind == ActionKind.DEPLOY_LIVE:
            self._ensure_workload(ref, "live", spec, v, self._image_for(spec, v))
            self._route(ref, spec, live=v, candidate=None)
        elif kind == ActionKind.DEPLOY_CANDIDATE:
            self._route(ref, spec, live=self._stable(status), candidate=None)
            self._ensure_workload(ref, "candidate", spec, v, self._image_for(spec, v))
        elif kind == ActionKind.START_SHADOW:
            self._route(ref, spec, live=self._stable(status), candidate=v)
        elif kind == ActionKind.PROMOTE:
            self._promote(ref, spec, v)
        elif kind == ActionKind.FINISH_PROMOTION:
            self._route(ref, spec, live=v, candidate=None)
            self._remove_candidate(ref)
        elif kind == ActionKind.ROLLBACK:
            self._route(ref, spec, live=self._stable(status), candidate=None)
            self._remove_candidate(ref)
        # PAUSE and AWAIT_APPROVAL change nothing in the data plane.
        log.info(
            "applied %s for %s/%s", action, ref.namespace, ref.name, extra={"action": str(action)}
        )

    @staticmethod
    def _stable(status: RolloutStatus) -> str:
        if status.stable_version is None:
            raise ActuatorError("no stable version to route live traffic to")
        return status.stable_version

    def _image_for(self, spec: RolloutSpec, version: str) -> str:
        if spec.model.version == version and spec.model.image:
            return spec.model.image
        return self._settings.model_image.format(version=version)

    def _promote(self, ref: RolloutRef, spec: RolloutSpec, version: str) -> None:
        """Roll the live Deployment to the candidate's pod template (maxUnavailable 0)."""
        cand = self._deployment(ref, "candidate")
        image = resources.deployment_image(cand) if cand else None
        if image is None or resources.deployment_version(cand) != version:
            image = self._image_for(spec, version)
        self._ensure_workload(ref, "live", spec, version, image)

    def refresh_live(self, ref: RolloutRef, spec: RolloutSpec, version: str) -> bool:
        """While nothing is in flight: apply the live workload again if the spec's pods
        changed since it was last applied (spec.template, replicas, disruptionBudget,
        autoscaling), keeping the image it runs. The applied objects' hash, in an annotation
        of the Deployment, makes the unchanged case a single read."""
        live = self._deployment(ref, "live")
        image = resources.deployment_image(live)
        if image is None or resources.deployment_version(live) != version:
            return False
        annotations = (live or {}).get("metadata", {}).get("annotations") or {}
        if annotations.get(APPLIED_HASH) == self._workload(ref, "live", spec, version, image)[0]:
            return False
        self._ensure_workload(ref, "live", spec, version, image)
        log.info("applied changed pods of %s/%s to the live workload", ref.namespace, ref.name)
        return True

    def _workload(
        self, ref: RolloutRef, role: Role, spec: RolloutSpec, version: str, image: str
    ) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """(hash, Deployment, PDB, HPA or None) of one role."""
        body = resources.deployment(
            ref=ref, role=role, spec=spec, version=version, image=image, settings=self._settings
        )
        pdb = resources.disruption_budget(ref=ref, role=role, spec=spec)
        hpa = resources.autoscaler(ref=ref, role=role, spec=spec)
        blob = json.dumps([body, pdb, hpa], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16], body, pdb, hpa

    def _ensure_workload(
        self, ref: RolloutRef, role: Role, spec: RolloutSpec, version: str, image: str
    ) -> None:
        digest, body, pdb, hpa = self._workload(ref, role, spec, version, image)
        body["metadata"]["annotations"] = {APPLIED_HASH: digest}
        name = ref.workload(role)
        if hpa is not None:
            self._hand_replicas_over(ref, role)
        try:
            # An unknown field inside spec.template (kept by the CRD's
            # x-kubernetes-preserve-unknown-fields) is an error, never silently dropped:
            # server-side apply cannot type it (a 500, below); Strict for the rest.
            self._apps.patch_namespaced_deployment(
                name,
                ref.namespace,
                body,
                field_manager=FIELD_MANAGER,
                field_validation="Strict",
                force=True,
                _content_type=APPLY,
            )
        except client.ApiException as exc:
            if exc.status in (400, 422) or TYPED_PATCH_FAILED in (exc.body or ""):
                raise WorkloadRejected(
                    f"the API server rejected Deployment {name} built from spec.template: "
                    f"{_reason(exc)}"
                ) from None
            raise
        svc = resources.service(ref=ref, role=role, spec=spec, port=self._settings.model_port)
        self._core.patch_namespaced_service(
            name, ref.namespace, svc, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
        )
        self._policy.patch_namespaced_pod_disruption_budget(
            name, ref.namespace, pdb, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
        )
        if hpa is None:
            _delete(self._autoscaling.delete_namespaced_horizontal_pod_autoscaler, name, ref)
        else:
            self._autoscaling.patch_namespaced_horizontal_pod_autoscaler(
                name,
                ref.namespace,
                hpa,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type=APPLY,
            )

    def _hand_replicas_over(self, ref: RolloutRef, role: Role) -> None:
        """Before the first apply without ``replicas``: a second field manager takes a share
        of the field at its current value. Server-side apply resets a field its only owner
        stops applying (replicas to 1, before the HPA acts); shared, it keeps its value
        until the HPA controller writes it."""
        current = self._deployment(ref, role)
        if current is None or FIELD_MANAGER not in resources.replicas_managers(current):
            return
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": ref.workload(role), "namespace": ref.namespace},
            "spec": {"replicas": current["spec"]["replicas"]},
        }
        # Not forced: the same value is shared ownership, never a conflict.
        self._apps.patch_namespaced_deployment(
            ref.workload(role),
            ref.namespace,
            body,
            field_manager=HANDOVER_MANAGER,
            _content_type=APPLY,
        )

    def _route(
        self, ref: RolloutRef, spec: RolloutSpec, *, live: str, candidate: str | None
    ) -> None:
        config = resources.router_config(
            ref=ref,
            spec=spec,
            settings=self._settings,
            live_version=live,
            candidate_version=candidate,
        )
        name = resources.router_configmap_name(ref=ref, spec=spec, settings=self._settings)
        body = resources.router_configmap(ref=ref, name=name, spec=spec, config=config)
        self._core.patch_namespaced_config_map(
            name, ref.namespace, body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
        )

    def _remove_candidate(self, ref: RolloutRef) -> None:
        name = ref.workload("candidate")
        # The budget and the autoscaler first: a PDB whose pods' Deployment is gone warns
        # (CalculateExpectedPodCountFailed, seen on the real node).
        for delete in (
            self._autoscaling.delete_namespaced_horizontal_pod_autoscaler,
            self._policy.delete_namespaced_pod_disruption_budget,
            self._apps.delete_namespaced_deployment,
            self._core.delete_namespaced_service,
        ):
            _delete(delete, name, ref)


def _delete(delete: Any, name: str, ref: RolloutRef) -> None:
    """Delete one owned object; already gone is fine."""
    try:
        delete(name, ref.namespace, propagation_policy="Background")
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def _reason(exc: client.ApiException) -> str:
    """The API server's own message of a refused write (its Status body)."""
    try:
        return str(json.loads(exc.body or "")["message"])
    except (TypeError, ValueError, KeyError):
        return f"{exc.status} {exc.reason}"
