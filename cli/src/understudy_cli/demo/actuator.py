"""The local actuator: what the Kubernetes actuator does with Deployments and a
ConfigMap, done here with a router config file and local processes.

- start shadow: the candidate model-api process runs; the router config names it.
- promote: the router's live upstream becomes the candidate process, mirroring
  stops, and the old live process is stopped once the router has switched.
- roll back: mirroring stops and the candidate process is stopped; live is untouched.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from understudy_cli.demo.supervisor import Child, Supervisor
from understudy_operator.core import RolloutSpec, router_document


@dataclass
class Upstream:
    version: str
    child: Child

    @property
    def url(self) -> str:
        assert self.child.url is not None
        return self.child.url


class RouterConfigError(RuntimeError):
    pass


class LocalActuator:
    def __init__(
        self, *, supervisor: Supervisor, config_path: Path, router_url: str, spec: RolloutSpec
    ) -> None:
        self.supervisor = supervisor
        self.config_path = config_path
        self.router_url = router_url
        self.spec = spec
        self.live: Upstream | None = None
        self.candidate: Upstream | None = None
        # Percent of requests the candidate answers (a canary step); 0 in the shadow.
        self.weight = 0.0

    def routing(self) -> dict[str, Any]:
        return router_document(
            self.spec,
            live=(self.live.url, self.live.version) if self.live else None,
            candidate=(self.candidate.url, self.candidate.version) if self.candidate else None,
            weight=self.weight,
        )

    def write_config(self) -> None:
        """Replace the config file atomically: the router never reads half a file."""
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.routing(), indent=2))
        os.replace(tmp, self.config_path)

    def apply(self, *, timeout: float = 15.0) -> None:
        """Write the config and wait until the router reports it is in force."""
        self.write_config()
        want_live = self.live.version if self.live else None
        want_candidate = self.candidate.version if self.candidate else None
        want_weight = self.weight if self.candidate else 0.0
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = httpx.get(self.router_url + "/v1/routing", timeout=2).json()
                config = last.get("config") or {}
                live = (config.get("live") or {}).get("version")
                candidate = (config.get("candidate") or {}).get("version")
                weight = config.get("weight", 0.0)
                if live == want_live and candidate == want_candidate and weight == want_weight:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)  # the router polls its file; nothing to wait on here
        raise RouterConfigError(
            f"router did not switch to live={want_live} candidate={want_candidate} "
            f"within {timeout:.0f}s; it reports {last}"
        )

    def start_shadow(self, candidate: Upstream, *, weight: float = 0.0) -> None:
        """Mirror to ``candidate``; with ``weight`` > 0 it also answers that share."""
        self.candidate = candidate
        self.weight = weight
        self.apply()

    def promote(self) -> None:
        if self.candidate is None:
            raise RuntimeError("promote without a candidate")
        old_live, self.live, self.candidate = self.live, self.candidate, None
        self.weight = 0.0
        self.apply()
        if old_live is not None:
            self.supervisor.stop(old_live.child)

    def rollback(self) -> None:
        old_candidate, self.candidate = self.candidate, None
        self.weight = 0.0
        self.apply()
        if old_candidate is not None:
            self.supervisor.stop(old_candidate.child)
