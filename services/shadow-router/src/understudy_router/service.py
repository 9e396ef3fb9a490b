"""The shadow router's core: answer from live, offer a mirror job, judge the candidate.

The HTTP layer (app.py) and the config sources (config_sources.py) are thin edges
around :class:`ShadowRouter`; everything here runs on the event loop thread.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client.core import Metric

from understudy_common.compare import Tolerance

from .canary import answered_by_candidate
from .comparison import CANDIDATE_ERROR, CANDIDATE_TIMEOUT, ComparisonWindows, predictions_of
from .config import ConfigError, RoutingConfig, parse_config
from .feedback.service import Feedback
from .metrics import (
    CANDIDATE,
    CANDIDATE_OK,
    LIVE,
    LIVE_ERROR,
    LIVE_OK,
    RouterMetrics,
)
from .mirror import LoopMirror
from .mirror_process import MirrorProcess
from .recording import MirrorJob, MirrorRecorder, exchange
from .settings import RouterSettings
from .upstreams import UpstreamClient, UpstreamPool, UpstreamTimeout, UpstreamUnreachable

logger = logging.getLogger("understudy_router")

# Response headers of the live answer that reach the client unchanged.
PASSED_HEADERS = ("content-type", "retry-after")


@dataclass(frozen=True)
class Route:
    """The config in force and the clients serving it; replaced whole on every change."""

    config: RoutingConfig
    live: UpstreamClient | None
    candidate: UpstreamClient | None
    tolerance: Tolerance
    # 1 for the first config applied, +1 per change; 0: none yet.
    generation: int
    # Where the config came from, e.g. "env", "file:/etc/router.json", "configmap:ns/name".
    source: str
    applied_at: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What the client gets back."""

    status: int
    body: bytes
    headers: dict[str, str]
    # Whether a mirror job was queued for this request (for the request log).
    mirrored: bool = False
    # Whose answer this is: "live", or "candidate" for a request a canary weight sent there.
    answered_by: str = LIVE


_NO_ROUTE = Route(
    config=RoutingConfig(live=None),
    live=None,
    candidate=None,
    tolerance=Tolerance(),
    generation=0,
    source="none",
    applied_at="",
)


def error_answer(status: int, code: str, message: str, *, version: str = "") -> Answer:
    body = json.dumps({"error": code, "message": message}).encode()
    headers = {"content-type": "application/json"}
    if version:
        headers["x-model-version"] = version
    return Answer(status=status, body=body, headers=headers)


class ShadowRouter:
    """Routes prediction requests; owns the upstream clients, mirror workers and windows."""

    def __init__(
        self,
        *,
        settings: RouterSettings,
        metrics: RouterMetrics,
        windows: ComparisonWindows,
        feedback: Feedback | None = None,
    ) -> None:
        self._settings = settings
        # Ground truth: where the live and compared candidate predictions are recorded.
        self._feedback = feedback
        self._metrics = metrics
        self._windows = windows
        self._pool = UpstreamPool(max_connections=settings.live_max_connections)
        # Judging, counting and logging the candidate's answers (recording.py).
        self._recorder = MirrorRecorder(metrics=metrics)
        # Where mirror jobs go: workers on this event loop, or a process of their own
        # (settings.mirror_process; mirror_process.py). Same bound, same counting.
        self._mirror: LoopMirror | MirrorProcess
        if settings.mirror_process:
            self._mirror = MirrorProcess(settings=settings, on_done=self.compared)
            self._mirror.on_lost = self._recorder.count_dropped
        else:
            self._mirror = LoopMirror(
                workers=settings.mirror_workers,
                queue_size=settings.mirror_queue_size,
                handle=self._send_mirror,
            )
        self.route = _NO_ROUTE
        # The last rejected document's error, shown on GET /v1/routing.
        self.last_rejection: str | None = None
        # The last document offered: outcome (applied, unchanged, rejected), source, time.
        self.last_reload: dict[str, str | None] | None = None
        # A config source not read yet (the ConfigMap before its first list): not ready.
        self.pending_source: str | None = None
        model = metrics.model
        metrics.mirror_inflight.labels(model).set_function(lambda: self._mirror.inflight)
        metrics.mirror_queue_depth.labels(model).set_function(lambda: self._mirror.depth)
        metrics.set_config(self.route.config)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._mirror.start()

    async def mirror_families(self) -> list[Metric]:
        """The mirror process's metric families, to merge into /metrics (none in-loop)."""
        return await self._mirror.families()

    async def stop(self) -> None:
        await self._mirror.stop()
        await self._pool.aclose()

    # -- configuration -------------------------------------------------------------------

    def offer_document(self, raw: str | bytes | None, *, source: str) -> bool:
        """Apply a routing config document from ``source``; keep the last good one if bad."""
        try:
            if raw is None:
                raise ConfigError("routing config document is missing")
            config = parse_config(raw)
        except ConfigError as exc:
            self.last_rejection = f"{source}: {exc}"
            self._note_reload("rejected", source, error=str(exc))
            self._metrics.config_reloads.labels(
                self._metrics.model, source_kind(source), "rejected"
            ).inc()
            logger.error(
                "rejected routing config from %s, keeping generation %d: %s",
                source,
                self.route.generation,
                exc,
                extra={"understudy.config.source": source},
            )
            return False
        self.apply(config, source=source)
        return True

    def apply(self, config: RoutingConfig, *, source: str) -> None:
        old = self.route
        kind = source_kind(source)
        if config == old.config and old.generation > 0:
            self._metrics.config_reloads.labels(self._metrics.model, kind, "unchanged").inc()
            self._note_reload("unchanged", source)
            return
        live = self._pool.get(config.live.url) if config.live else None
        candidate = self._pool.get(config.candidate.url) if config.candidate else None
        versions = (
            config.live.version if config.live else "",
            config.candidate.version if config.candidate else "",
        )
        if versions != self._windows.versions:
            # KS is per (live, candidate) pair: a new candidate starts from empty windows.
            self._windows.reset(live_version=versions[0], candidate_version=versions[1])
        self.route = Route(
            config=config,
            live=live,
            candidate=candidate,
            tolerance=config.tolerance.to_tolerance(),
            generation=old.generation + 1,
            source=source,
            applied_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        self._pool.keep_only(c.url for c in (live, candidate) if c is not None)
        self._metrics.set_config(config)
        self._metrics.config_reloads.labels(self._metrics.model, kind, "applied").inc()
        self.last_rejection = None
        self._note_reload("applied", source)
        logger.info(
            "routing config generation %d from %s: live %s, candidate %s, mirror %s%%",
            self.route.generation,
            source,
            versions[0] or "(none)",
            versions[1] or "(none)",
            config.mirror_percent,
            extra={"understudy.config": config.model_dump(mode="json")},
        )

    def _note_reload(self, outcome: str, source: str, *, error: str | None = None) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.last_reload = {"outcome": outcome, "source": source, "at": at, "error": error}

    # -- the request path ------------------------------------------------------------------

    async def live_model(self, *, request_id: str) -> Answer:
        """``GET /v1/model`` of the live upstream, passed through.

        Metadata, not the hot path: a short-lived httpx client is fine here and keeps the
        predictions client (POST only) small.
        """
        live = self.route.config.live
        if live is None:
            return error_answer(503, "upstream_unavailable", "no live model is configured")
        timeout = self.route.config.timeouts.live_seconds
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(
                    live.url.rstrip("/") + "/v1/model", headers={"x-request-id": request_id}
                )
        except httpx.TimeoutException:
            message = f"live model at {live.url} did not answer within {timeout:g}s"
            return error_answer(504, "upstream_timeout", message, version=live.version)
        except httpx.HTTPError as exc:
            message = f"live model at {live.url}: {type(exc).__name__}: {exc}"
            return error_answer(502, "upstream_error", message, version=live.version)
        headers = {
            "content-type": response.headers.get("content-type", "application/json"),
            "x-model-version": live.version,
        }
        return Answer(status=response.status_code, body=response.content, headers=headers)

    async def predict(
        self,
        *,
        body: bytes,
        content_type: str | None,
        request_id: str,
        sticky: Callable[[str], str | None] | None = None,
    ) -> Answer:
        """Answer one prediction request. ``sticky(header)`` returns the request's value of
        a header (None: absent); read only when a canary weight is set."""
        route = self.route
        config = route.config
        if route.live is None or config.live is None:
            self._metrics.requests.labels(self._metrics.model, "none", LIVE, LIVE_ERROR).inc()
            return error_answer(503, "upstream_unavailable", "no live model is configured")
        live_version = config.live.version
        headers = {"x-request-id": request_id}
        if content_type is not None:
            headers["content-type"] = content_type
        if config.weight > 0 and route.candidate is not None:
            key = (sticky(config.sticky_header) if sticky else None) or request_id
            if answered_by_candidate(key, config.weight):
                return await self._candidate_answers(route, body=body, headers=headers)
        started = time.perf_counter()
        try:
            response = await route.live.post(
                content=body, headers=headers, timeout=config.timeouts.live_seconds
            )
        except UpstreamTimeout as exc:
            return self._live_failed(504, "upstream_timeout", exc, live_version, started)
        except UpstreamUnreachable as exc:
            return self._live_failed(502, "upstream_error", exc, live_version, started)
        self._metrics.observe_upstream(
            role="live", version=live_version, seconds=time.perf_counter() - started
        )
        status = response.status
        self._metrics.requests.labels(
            self._metrics.model, live_version, LIVE, LIVE_OK if status < 500 else LIVE_ERROR
        ).inc()
        out_headers = {k: v for k in PASSED_HEADERS if (v := response.headers.get(k)) is not None}
        out_headers["x-model-version"] = live_version
        if self._feedback is not None and 200 <= status < 300:
            self._feedback.record_live(
                request_id=request_id, version=live_version, body=response.content
            )
        mirrored = False
        if 200 <= status < 300 and route.candidate is not None and config.candidate is not None:
            percent = config.mirror_percent
            if percent >= 100 or (percent > 0 and random.random() * 100 < percent):
                mirrored = self._offer_mirror(
                    route=route,
                    request_id=request_id,
                    body=body,
                    content_type=content_type,
                    live_body=response.content,
                )
        return Answer(status=status, body=response.content, headers=out_headers, mirrored=mirrored)

    async def _candidate_answers(
        self, route: Route, *, body: bytes, headers: dict[str, str]
    ) -> Answer:
        """A canary request: the candidate's answer goes to the client as it is — its 4xx
        and 5xx too, and 504/502 when it times out or cannot be reached. No fallback to
        live (as Argo Rollouts and Flagger): a fallback would hide the very failures the
        canary step must count, and double the latency of a failing request. Nothing is
        mirrored or compared (live is not asked)."""
        config = route.config
        assert route.candidate is not None and config.candidate is not None
        assert config.live is not None
        version = config.candidate.version
        live_version = config.live.version
        m = self._metrics
        started = time.perf_counter()
        try:
            response = await route.candidate.post(
                content=body, headers=headers, timeout=config.timeouts.candidate_seconds
            )
        except (UpstreamTimeout, UpstreamUnreachable) as exc:
            timeout = isinstance(exc, UpstreamTimeout)
            m.observe_upstream(
                role=CANDIDATE,
                version=version,
                seconds=time.perf_counter() - started,
                answered_by=CANDIDATE,
            )
            outcome = CANDIDATE_TIMEOUT if timeout else CANDIDATE_ERROR
            m.requests.labels(m.model, live_version, CANDIDATE, outcome).inc()
            logger.warning("candidate upstream failed on a canary request: %s", exc)
            code = "upstream_timeout" if timeout else "upstream_error"
            failed = error_answer(
                504 if timeout else 502, code, f"candidate model {version}: {exc}", version=version
            )
            return replace(failed, answered_by=CANDIDATE)
        m.observe_upstream(
            role=CANDIDATE,
            version=version,
            seconds=time.perf_counter() - started,
            answered_by=CANDIDATE,
        )
        status = response.status
        outcome = CANDIDATE_OK if status < 500 else CANDIDATE_ERROR
        m.requests.labels(m.model, live_version, CANDIDATE, outcome).inc()
        # Not recorded for labels: the ground-truth checks pair live and candidate on the
        # mirrored requests, as in the shadow (a canary answer has no live prediction).
        out_headers = {k: v for k in PASSED_HEADERS if (v := response.headers.get(k)) is not None}
        out_headers["x-model-version"] = version
        return Answer(
            status=status, body=response.content, headers=out_headers, answered_by=CANDIDATE
        )

    def _live_failed(
        self, status: int, code: str, exc: Exception, live_version: str, started: float
    ) -> Answer:
        self._metrics.observe_upstream(
            role="live", version=live_version, seconds=time.perf_counter() - started
        )
        self._metrics.requests.labels(self._metrics.model, live_version, LIVE, LIVE_ERROR).inc()
        logger.warning("live upstream failed (%s): %s", code, exc)
        return error_answer(status, code, f"live model {live_version}: {exc}", version=live_version)

    def _offer_mirror(
        self,
        *,
        route: Route,
        request_id: str,
        body: bytes,
        content_type: str | None,
        live_body: bytes,
    ) -> bool:
        assert route.candidate is not None and route.config.candidate is not None
        assert route.config.live is not None
        live = predictions_of(live_body)
        if live is None:
            logger.warning("live answer has no predictions list; not mirrored")
            return False
        candidate_version = route.config.candidate.version
        job = MirrorJob(
            request_id=request_id,
            body=body,
            content_type=content_type,
            live_version=route.config.live.version,
            live_predictions=live.values,
            live_labels=live.labels,
            candidate=route.candidate,
            candidate_version=candidate_version,
            timeout=route.config.timeouts.candidate_seconds,
            tolerance=route.tolerance,
            slice_field=route.config.slice_field,
        )
        if self._mirror.offer(job):
            return True
        self._recorder.count_dropped(candidate_version)
        return False

    # -- the mirror path (background workers) -------------------------------------------------

    async def _send_mirror(self, job: MirrorJob) -> None:
        candidate = await self._recorder.record(job, await exchange(job))
        if candidate is not None:
            self.compared(
                job.request_id,
                job.live_version,
                job.candidate_version,
                job.live_predictions,
                candidate,
            )

    def compared(
        self,
        request_id: str,
        live_version: str,
        candidate_version: str,
        live: tuple[float, ...],
        candidate: tuple[float, ...],
    ) -> None:
        """A mirrored answer was compared (here or in the mirror process): the router's own
        evidence - the KS windows, the candidate's feedback rows - takes it in."""
        self._windows.add(
            live_version=live_version,
            candidate_version=candidate_version,
            live=live,
            candidate=candidate,
        )
        if self._feedback is not None:
            self._feedback.record_candidate(
                request_id=request_id, version=candidate_version, predictions=candidate
            )

    # -- read-only views ---------------------------------------------------------------------

    def routing_view(self) -> dict[str, Any]:
        """``GET /v1/routing``: what the router routes to, and how its config got there."""
        route = self.route
        config = route.config
        return {
            # A live model is configured: predictions are answered (else 503).
            "configured": self.configured,
            "live_version": config.live.version if config.live else None,
            "candidate_version": config.candidate.version if config.candidate else None,
            # Requests are copied to a candidate (one is configured and mirror_percent > 0).
            "mirroring": config.mirroring,
            "mirror_percent": config.mirror_percent if config.candidate else 0.0,
            # Percentage of requests the candidate answers (a canary step), sticky per key.
            "weight": config.weight if config.candidate else 0.0,
            "config": config.model_dump(mode="json") if route.generation else None,
            "generation": route.generation,
            "source": route.source,
            "applied_at": route.applied_at or None,
            # The configured source not read yet, e.g. "configmap:ns/name" (readyz is 503).
            "waiting_for": self.pending_source,
            "last_reload": self.last_reload,
            "last_rejection": self.last_rejection,
            "mirror": {
                "workers": self._settings.mirror_workers,
                "queue_size": self._settings.mirror_queue_size,
                "inflight": self._mirror.inflight,
                "queue_depth": self._mirror.depth,
                # The mirror process's pid (settings.mirror_process), else None.
                "process": self._mirror.pid,
            },
        }

    @property
    def mirror_jobs(self) -> int:
        """Mirror jobs waiting or in flight (0: every offered mirror is done)."""
        return self._mirror.inflight + self._mirror.depth

    @property
    def configured(self) -> bool:
        """A live model is configured (predictions are routed, not answered 503)."""
        return self.route.live is not None

    @property
    def ready(self) -> bool:
        """Serving: every config source has been read once, whatever it held."""
        return self.pending_source is None


def source_kind(source: str) -> str:
    """The low-cardinality label of a source description ("file:/x" -> "file")."""
    return source.partition(":")[0]
