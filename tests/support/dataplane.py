"""The local data plane of the operator's end-to-end tests.

The kwok cluster runs no containers, so the processes the API objects describe run here
on 127.0.0.1 instead: one model-api per model version (v1, v2 and the bad model), and a
shadow router per test whose routing follows the router ConfigMap the operator writes
(the Service URLs in it are swapped for the local model-api of the same version). A
traffic thread keeps real requests flowing through the router, and Prometheus scrapes
the router and every model-api.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from tests.support.processes import ServiceProcess, start_service
from tests.support.prometheus import PrometheusServer

MODEL = "house-prices"
POLL_S = 0.1


class ModelFleet:
    """One model-api process per version, started on first use, shared by the tests."""

    def __init__(self, artifacts: dict[str, Path]) -> None:
        self._artifacts = artifacts
        self._procs: dict[str, ServiceProcess] = {}

    def url(self, version: str) -> str:
        if version not in self._procs:
            self._procs[version] = start_service(
                "understudy_model_api",
                env={
                    "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(self._artifacts[version]),
                    "UNDERSTUDY_MODEL_API_LOG_INPUTS": "false",
                    "UNDERSTUDY_MODEL_API_LOG_LEVEL": "WARNING",
                },
                # a start-up bound, not a speed check: with 8 test sessions on 2 cores (load
                # 13-17) a model-api took over 60 s to answer its first /healthz
                timeout=180,
            )
        return self._procs[version].url

    def targets(self) -> list[str]:
        return [f"127.0.0.1:{p.port}" for p in self._procs.values()]

    def stop(self) -> None:
        for proc in self._procs.values():
            proc.stop()


class DataPlane:
    """A router following ``<rollout>-router``, traffic through it, Prometheus on both."""

    def __init__(
        self,
        *,
        api: client.ApiClient,
        namespace: str,
        configmap: str,
        fleet: ModelFleet,
        prometheus: PrometheusServer,
        records: list[dict[str, Any]],
        workdir: Path,
        target_labels: dict[str, str] | None = None,
        extra_target_groups: Sequence[tuple[list[str], dict[str, str]]] = (),
    ) -> None:
        """``target_labels`` go on the router's and models' targets (e.g. the ``namespace``
        a Kubernetes scrape would add); ``extra_target_groups`` are scraped beside them."""
        self._core = client.CoreV1Api(api)
        self.namespace = namespace
        self.configmap = configmap
        self._fleet = fleet
        self._prometheus = prometheus
        self._records = records
        self._config_path = workdir / "router.json"
        self._target_labels = target_labels or {}
        self._extra_target_groups = list(extra_target_groups)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.router: ServiceProcess | None = None
        self.routed: dict[str, Any] | None = None  # the operator's router.json, last seen
        self.requests_ok = 0

    def start(self) -> DataPlane:
        self._config_path.write_text(json.dumps({"live": None}))
        self.router = start_service(
            "understudy_router",
            env={
                "UNDERSTUDY_ROUTER_CONFIG_FILE": str(self._config_path),
                "UNDERSTUDY_ROUTER_CONFIG_POLL_SECONDS": "0.1",
                "UNDERSTUDY_ROUTER_MODEL_NAME": MODEL,
                "UNDERSTUDY_ROUTER_LOG_LEVEL": "WARNING",
            },
            ready_path="/healthz",
        )
        for target in (self._follow_configmap, self._send_traffic):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)
        return self

    def _scrape_targets(self) -> None:
        assert self.router is not None
        own = [f"127.0.0.1:{self.router.port}", *self._fleet.targets()]
        self._prometheus.set_target_groups([(own, self._target_labels), *self._extra_target_groups])

    def _follow_configmap(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                cm = self._core.read_namespaced_config_map(self.configmap, self.namespace)
            except client.ApiException:
                continue
            raw = (cm.data or {}).get("router.json")
            if raw is None:
                continue
            routed = json.loads(raw)
            if routed == self.routed:
                continue
            local = copy.deepcopy(routed)
            for role in ("live", "candidate"):
                if local.get(role):
                    local[role]["url"] = self._fleet.url(local[role]["version"])
            tmp = self._config_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(local))
            tmp.replace(self._config_path)
            self._scrape_targets()
            self.routed = routed

    def _send_traffic(self) -> None:
        assert self.router is not None
        batch = 5
        i = 0
        with httpx.Client(base_url=self.router.url, timeout=5) as http:
            while not self._stop.is_set():
                records = [self._records[(i + k) % len(self._records)] for k in range(batch)]
                i += batch
                try:
                    r = http.post("/v1/predictions", json={"records": records})
                except httpx.TransportError:
                    self._stop.wait(0.05)
                    continue
                if r.status_code == 200:
                    self.requests_ok += 1
                else:
                    self._stop.wait(0.05)  # no live model configured yet
                self._stop.wait(0.01)  # pace: roughly 300-500 records/s

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.router is not None:
            self.router.stop()
            self._prometheus.set_targets(self._fleet.targets())
