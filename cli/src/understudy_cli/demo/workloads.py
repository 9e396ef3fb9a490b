"""Local workloads: model-api processes and the router. The core's ``Actuator`` port for
the demo: ``observe`` and ``apply`` do with processes and a router config file what the
operator's actuator does with Deployments and a ConfigMap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from understudy_cli.demo.actuator import LocalActuator, Upstream
from understudy_cli.demo.supervisor import Supervisor, free_port, python_module
from understudy_operator.core import Action, ActionKind, Observed, RolloutSpec, RolloutStatus


class LocalWorkloads:
    def __init__(
        self,
        *,
        supervisor: Supervisor,
        spec: RolloutSpec,
        artifacts: Mapping[str, Path],
        router_port: int | None = None,
        on_router_started: Callable[[str], None] | None = None,
        feedback_store: str | None = None,
        router_env: Mapping[str, str] | None = None,
    ) -> None:
        self.supervisor = supervisor
        # UNDERSTUDY_ROUTER_FEEDBACK_STORE for the router (None: the router's default).
        self.feedback_store = feedback_store
        # More router settings (e.g. a classifier's probability histogram edges).
        self.router_env = dict(router_env or {})
        self.artifacts = dict(artifacts)

        self.router_port = router_port or free_port()
        self.router_url = f"http://127.0.0.1:{self.router_port}"
        self.on_router_started = on_router_started or (lambda url: None)
        self.actuator = LocalActuator(
            supervisor=supervisor,
            config_path=supervisor.run_dir / "router.json",
            router_url=self.router_url,
            spec=spec,
        )
        self.router_started = False
        # The candidate process once started, before and while the router mirrors to it.
        self._pending_candidate: Upstream | None = None

    # -- processes -----------------------------------------------------------------------

    def _start_model_api(self, version: str, role: str) -> Upstream:
        if version not in self.artifacts:
            raise KeyError(f"no artifact for version {version}; known: {sorted(self.artifacts)}")
        port = free_port()
        child = self.supervisor.start(
            f"model-api-{version}-{role}",
            python_module("understudy_model_api"),
            env={
                "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(self.artifacts[version]),
                "UNDERSTUDY_MODEL_API_HOST": "127.0.0.1",
                "UNDERSTUDY_MODEL_API_PORT": str(port),
            },
            url=f"http://127.0.0.1:{port}",
            ready_path="/readyz",
        )
        return Upstream(version=version, child=child)

    def _start_router(self) -> None:
        self.actuator.write_config()
        self.supervisor.start(
            "shadow-router",
            python_module("understudy_router"),
            env={
                "UNDERSTUDY_ROUTER_CONFIG_FILE": str(self.actuator.config_path),
                "UNDERSTUDY_ROUTER_HOST": "127.0.0.1",
                "UNDERSTUDY_ROUTER_PORT": str(self.router_port),
                "UNDERSTUDY_ROUTER_CONFIG_POLL_SECONDS": "0.2",
                **(
                    {"UNDERSTUDY_ROUTER_FEEDBACK_STORE": self.feedback_store}
                    if self.feedback_store
                    else {}
                ),
                **self.router_env,
            },
            url=self.router_url,
            ready_path="/readyz",
        )
        self.router_started = True
        self.on_router_started(self.router_url)

    def model_api_urls(self) -> list[str]:
        """The running model-api processes (live, and the candidate once started)."""
        ups = (self.actuator.live, self._pending_candidate, self.actuator.candidate)
        urls = {u.child.url for u in ups if u is not None and u.child.alive()}
        return sorted(url for url in urls if url)

    # -- the Actuator port ------------------------------------------------------------

    def observe(self, status: RolloutStatus) -> Observed:
        live = self.actuator.live
        candidate = self._pending_candidate
        return Observed(
            live_version=live.version if live is not None and live.child.alive() else None,
            candidate_ready=candidate is not None and candidate.child.alive(),
        )

    def apply(self, action: Action, status: RolloutStatus) -> None:
        if action.kind in (ActionKind.START_SHADOW, ActionKind.SET_WEIGHT):
            # The weight is the status' (0 in the shadow, a canary step's at that step).
            self.start_shadow(action.version, weight=status.canary.weight)
            return
        handler = {
            ActionKind.DEPLOY_LIVE: self.deploy_live,
            ActionKind.DEPLOY_CANDIDATE: self.deploy_candidate,
            ActionKind.PROMOTE: self.promote,
            ActionKind.FINISH_PROMOTION: self.finish_promotion,
            ActionKind.ROLLBACK: self.rollback,
        }.get(action.kind)
        if handler is not None:  # PAUSE / AWAIT_APPROVAL change nothing in the data plane
            handler(action.version)

    # -- the actions (each idempotent) --------------------------------------------------

    def deploy_live(self, version: str) -> None:
        live = self.actuator.live
        if live is None or live.version != version or not live.child.alive():
            self.actuator.live = self._start_model_api(version, "live")
            if live is not None:
                self.supervisor.stop(live.child)
        if not self.router_started:
            self._start_router()
        else:
            self.actuator.apply()

    def deploy_candidate(self, version: str) -> None:
        current = self._pending_candidate
        if current is not None and current.version == version and current.child.alive():
            return
        if current is not None:
            self.supervisor.stop(current.child)
        self._pending_candidate = self._start_model_api(version, "candidate")

    def start_shadow(self, version: str, *, weight: float = 0.0) -> None:
        candidate = self._pending_candidate
        if candidate is None or candidate.version != version:
            self.deploy_candidate(version)
            candidate = self._pending_candidate
        assert candidate is not None
        if self.actuator.candidate is not candidate or self.actuator.weight != weight:
            self.actuator.start_shadow(candidate, weight=weight)

    def promote(self, version: str) -> None:
        live = self.actuator.live
        if live is not None and live.version == version:
            return  # already promoted (a repeated action)
        self.actuator.promote()
        self._pending_candidate = None

    def finish_promotion(self, version: str) -> None:
        self.actuator.candidate = None
        self.actuator.apply()

    def rollback(self, version: str) -> None:
        self.actuator.rollback()
        if self._pending_candidate is not None:
            self.supervisor.stop(self._pending_candidate.child)
            self._pending_candidate = None
