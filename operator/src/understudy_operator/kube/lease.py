"""Leader election on a coordination.k8s.io Lease, the way client-go's leaderelection does it.

Only the holder of the Lease runs kopf: a standby process campaigns, and starts its handlers
only once it holds the Lease, so it never reconciles. The holder renews every ``retry``
seconds; when it has not renewed for ``renew_deadline`` seconds it calls ``on_lost`` (the
operator then exits at once, like controller-runtime, and the kubelet restarts it as a
standby). A standby takes the Lease when its record has not changed for ``duration`` seconds
*as timed by the standby's own monotonic clock* (observed time, not the holder's
``renewTime``), so clock skew between nodes does not matter; only the rates of the clocks.
Because ``renew_deadline < duration``, a holder that lost contact stops before anyone else
may start. A cleanly stopping holder releases the Lease (empty holder), so a rolling update
hands over at once.

Takeover after the holder dies (SIGKILL, node lost): at most ``duration + retry`` seconds
after the standby last saw the Lease renewed. Writes use the Lease's resourceVersion, so two
candidates can never both win the same transition.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseTiming:
    """Seconds; ``duration`` is whole seconds (the Lease's leaseDurationSeconds is an int)."""

    duration: int
    renew_deadline: float
    retry: float

    def __post_init__(self) -> None:
        if not 0 < self.retry < self.renew_deadline < self.duration:
            raise ValueError(
                "leader election needs 0 < retry < renew deadline < lease duration, got "
                f"{self.retry} / {self.renew_deadline} / {self.duration}"
            )


@dataclass(frozen=True)
class Observed:
    """A Lease record as this process saw it, and when (monotonic seconds)."""

    holder: str
    version: str
    at: float

    def free_for(self, identity: str, *, now: float, duration: float) -> bool:
        """May ``identity`` take the Lease now? Ours, released (no holder) or not renewed
        for ``duration`` seconds of our own clock."""
        return self.holder in ("", identity) or now - self.at >= duration


def _micro_time(moment: datetime) -> str:
    # MicroTime wants exactly six fractional digits; isoformat() drops them at .000000.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaign for, hold and release one Lease (``run`` in a thread of its own)."""

    def __init__(
        self,
        *,
        api: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming,
        on_lost: Callable[[], None],
        on_change: Callable[[bool], None] = lambda leading: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Its own connection pool, without urllib3's retries: a call must end within the
        # timeout given (a retried one would outlive the renew deadline).
        config = copy.deepcopy(api.configuration)
        config.retries = False
        # Any: the Lease travels as raw JSON dicts both ways (see _read).
        self._api: Any = client.CoordinationV1Api(client.ApiClient(config))
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self._on_lost = on_lost
        self._on_change = on_change
        self._clock = clock
        self._observed: Observed | None = None
        self._lock = threading.Lock()  # one writer: the loop or release()
        self.leading = threading.Event()
        self.stopped = threading.Event()
        #: monotonic time of the last successful read or write of the Lease
        self.last_contact: float | None = None

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Campaign until leading, then renew until stopped or lost."""
        renewed = 0.0  # when the last successful renewal *started* (conservative)
        while not self.stopped.is_set():
            started = self._clock()
            if self.leading.is_set():
                # Each call may use only what is left of the renew deadline, so the
                # holder gives up before a standby may take over, however slow the API.
                budget = renewed + self.timing.renew_deadline - started
                if budget <= 0 or not self._try_acquire_or_renew(timeout=budget / 2):
                    if self._clock() - renewed >= self.timing.renew_deadline:
                        self._lose(f"not renewed for {self._clock() - renewed:.1f}s")
                        return
                else:
                    renewed = started
            elif self._try_acquire_or_renew(timeout=self.timing.renew_deadline / 2):
                renewed = started
                log.info(
                    "leader election: %s now holds Lease %s/%s",
                    self.identity,
                    self.namespace,
                    self.name,
                )
                self.leading.set()
                self._on_change(True)
            self.stopped.wait(self.timing.retry)

    def stop(self) -> None:
        self.stopped.set()

    def release(self) -> None:
        """Give the Lease up (empty holder) so a standby takes it without waiting it out."""
        self.stop()
        with self._lock:
            if not self.leading.is_set():
                return
            try:
                timeout = self.timing.renew_deadline / 2
                lease = self._read(timeout)
                spec = (lease or {}).get("spec") or {}
                if lease is not None and spec.get("holderIdentity") == self.identity:
                    lease["spec"] = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1}
                    self._write(lease, create=False, timeout=timeout)
                log.info("leader election: released Lease %s/%s", self.namespace, self.name)
            except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                log.warning("leader election: could not release the Lease (it expires): %s", exc)
            self.leading.clear()
            self._on_change(False)

    def _lose(self, why: str) -> None:
        log.error("leader election: lost Lease %s/%s: %s", self.namespace, self.name, why)
        self.stopped.set()
        self.leading.clear()
        self._on_change(False)
        self._on_lost()

    # -- one step -------------------------------------------------------------------------

    def _try_acquire_or_renew(self, *, timeout: float) -> bool:
        """One attempt; True when this process holds the Lease afterwards."""
        with self._lock:
            if self.stopped.is_set():
                return False
            try:
                return self._step(timeout)
            except client.ApiException as exc:
                if exc.status != 409:  # 409: another candidate wrote first; just not us
                    log.warning("leader election: API %s: %s", exc.status, exc.reason)
                return False
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                log.warning("leader election: API unreachable: %s", exc)
                return False
            except Exception:  # the loop must go on: a leader that cannot renew steps down
                log.exception("leader election: unexpected error")
                return False

    def _step(self, timeout: float) -> bool:
        lease = self._read(timeout)
        now = self._clock()
        self.last_contact = now
        if lease is None:
            self._write(self._record(None), create=True, timeout=timeout)
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        version = lease["metadata"]["resourceVersion"]
        if self._observed is None or self._observed.version != version:
            self._observed = Observed(holder=holder, version=version, at=now)
        if not self._observed.free_for(self.identity, now=now, duration=self.timing.duration):
            if self.leading.is_set():  # someone else holds it: we must stop at once
                self._lose(f"now held by {holder}")
            return False
        self._write(self._record(lease), create=False, timeout=timeout)
        self.last_contact = self._clock()
        return True

    def _record(self, lease: dict[str, Any] | None) -> dict[str, Any]:
        now = _micro_time(datetime.now(UTC))
        spec = dict((lease or {}).get("spec") or {})
        taking_over = spec.get("holderIdentity") != self.identity
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=self.timing.duration,
            renewTime=now,
        )
        if taking_over:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if lease is not None else 0
            )
        metadata = (
            {"name": self.name, "namespace": self.namespace}
            if lease is None
            else lease["metadata"]  # keeps resourceVersion: the write is conditional
        )
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    # -- API ------------------------------------------------------------------------------

    def _read(self, timeout: float) -> dict[str, Any] | None:
        try:
            # Raw JSON: the times go back unchanged (the client's datetimes would lose
            # the six fractional digits MicroTime needs).
            response = self._api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=timeout, _preload_content=False
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        lease: dict[str, Any] = json.loads(response.data)
        return lease

    def _write(self, body: dict[str, Any], *, create: bool, timeout: float) -> None:
        if create:
            self._api.create_namespaced_lease(self.namespace, body, _request_timeout=timeout)
        else:
            self._api.replace_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=timeout
            )
        self._observed = None  # our own write: the next read starts a fresh observation
