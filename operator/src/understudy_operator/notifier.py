"""Webhook notifications (spec.notifications), sent in the background so they never hold
up a reconcile.

The reconcile calls :meth:`Notifier.notify` after it wrote a status; that only puts the
deliveries on this process's own asyncio loop (one daemon thread) and returns. Each
delivery reads the webhook URL from its Secret, POSTs the body, and retries a failed
attempt (connection error, timeout, 5xx, 408, 429) with exponential backoff; a 4xx
other than those is final. Deliveries to different webhooks, or of different rollouts, run
concurrently, so one webhook that hangs (each attempt ends at its timeout) delays neither
the reconcile nor other webhooks. One rollout's notifications to one webhook go one after
the other, in the order they were made: a receiver (a chat channel) never sees
"Deploying → Promoted" before "Pending → Deploying" because the first was being retried.
The price is that a hanging webhook holds back that rollout's later notifications to it
until the earlier ones succeed or give up. At most ``max_pending`` deliveries wait or run
at once; beyond that a new one is dropped.

Outcomes are counted in ``understudy_operator_notifications_total{outcome}`` (delivered,
failed, dropped); a failed delivery is also a Warning Event on the rollout (a dropped one
only a log line: recording an Event there would be API I/O on the reconcile's thread).

Delivery guarantee: at most once across operator restarts (pending deliveries live in
memory only and are lost when the process stops; a restarted operator does not re-send
phase changes it did not make itself), at least once per attempt series within a process
(an attempt that timed out may still have been processed: the body's ``id`` is the same
for every attempt, for receivers that drop duplicates).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from kubernetes import client

from understudy_operator.core.notifications import (
    Notification,
    NotifyOn,
    body,
    events_of,
    message,
)
from understudy_operator.core.spec import RolloutSpec
from understudy_operator.core.types import Decision
from understudy_operator.kube.events import EventRecorder
from understudy_operator.kube.resources import RolloutRef
from understudy_operator.metrics import OperatorMetrics

log = logging.getLogger(__name__)
# Answers worth another attempt; any other 4xx is the receiver saying no for good.
RETRYABLE_4XX = frozenset({408, 429})
MAX_BACKOFF_SECONDS = 60.0


class DeliveryError(Exception):
    """One attempt failed; ``final`` when retrying cannot help."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class Delivery:
    ref: RolloutRef
    notification: Notification
    event: NotifyOn
    body: dict[str, Any]


class Notifier:
    def __init__(
        self,
        *,
        api: client.ApiClient,
        metrics: OperatorMetrics,
        attempts: int,
        backoff_seconds: float,
        max_pending: int,
    ) -> None:
        self._core = client.CoreV1Api(api)
        self._events = EventRecorder(api)
        self._metrics = metrics
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._max_pending = max_pending
        self._pending = 0
        self._guard = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        # The newest delivery per (rollout, webhook): the next one waits for it.
        self._last: dict[tuple[str, str, str], asyncio.Task[None]] = {}

    # -- lifecycle (the operator's main) --------------------------------------------------

    def start(self) -> Notifier:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what is pending (lost: at most once) and end the thread."""
        if not self._thread.is_alive():
            return

        def cancel_all() -> None:
            for task in list(self._tasks):
                task.cancel()
            self._loop.call_later(0.1, self._loop.stop)

        self._loop.call_soon_threadsafe(cancel_all)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._client = httpx.AsyncClient()
        self._loop.run_forever()

    # -- the reconcile's side: never waits --------------------------------------------------

    def notify(
        self, *, ref: RolloutRef, spec: RolloutSpec, decision: Decision, now: datetime
    ) -> None:
        """Queue the notifications ``decision`` calls for; returns at once."""
        for event in events_of(decision):
            generic = message(
                event=event,
                namespace=ref.namespace,
                name=ref.name,
                uid=ref.uid,
                decision=decision,
                now=now,
            )
            for n in spec.notifications:
                if event in n.on:
                    self._submit(
                        Delivery(ref=ref, notification=n, event=event, body=body(n.format, generic))
                    )

    def _submit(self, delivery: Delivery) -> None:
        with self._guard:
            full = self._pending >= self._max_pending
            if not full:
                self._pending += 1
        if full:
            self._metrics.notifications.labels("dropped").inc()
            log.warning(
                "notification %s of %s/%s dropped: %d deliveries pending",
                delivery.notification.name,
                delivery.ref.namespace,
                delivery.ref.name,
                self._max_pending,
            )
            return
        self._loop.call_soon_threadsafe(self._spawn, delivery)

    def _spawn(self, delivery: Delivery) -> None:
        key = (delivery.ref.namespace, delivery.ref.name, delivery.notification.name)
        task = self._loop.create_task(self._deliver_after(self._last.get(key), delivery))
        self._last[key] = task
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if self._last.get(key) is t:
                del self._last[key]

        task.add_done_callback(done)

    async def _deliver_after(self, previous: asyncio.Task[None] | None, d: Delivery) -> None:
        if previous is not None:
            # Its outcome does not matter (it counted itself); only that it is over.
            await asyncio.wait([previous])
        await self._deliver(d)

    # -- the background side ----------------------------------------------------------------

    async def _deliver(self, d: Delivery) -> None:
        n = d.notification
        why = ""
        attempt = 0
        try:
            for attempt in range(1, self._attempts + 1):
                try:
                    url = await asyncio.to_thread(self._url, d)
                    await self._post(url, d.body, timeout=n.timeout_seconds)
                except DeliveryError as exc:
                    why = str(exc)
                    log.info("notification %s attempt %d failed: %s", n.name, attempt, why)
                    if exc.final or attempt == self._attempts:
                        break
                    await asyncio.sleep(
                        min(self._backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                    )
                    continue
                self._metrics.notifications.labels("delivered").inc()
                log.info(
                    "notification %s of %s/%s delivered (attempt %d)",
                    n.name,
                    d.ref.namespace,
                    d.ref.name,
                    attempt,
                )
                return
            self._metrics.notifications.labels("failed").inc()
            await asyncio.to_thread(self._failed, d, f"{why} (after {attempt} attempts)")
        finally:
            with self._guard:
                self._pending -= 1

    def _url(self, d: Delivery) -> str:
        n = d.notification
        where = f"Secret {d.ref.namespace}/{n.secret_name} key {n.secret_key}"
        try:
            secret = self._core.read_namespaced_secret(n.secret_name, d.ref.namespace)
        except client.ApiException as exc:
            raise DeliveryError(f"cannot read {where}: {exc.status} {exc.reason}") from exc
        raw = (secret.data or {}).get(n.secret_key)
        if raw is None:
            raise DeliveryError(f"{where} does not exist")
        url = base64.b64decode(raw).decode().strip()
        if not url.startswith(("http://", "https://")):
            raise DeliveryError(f"{where} is not an http(s) URL", final=True)
        return url

    async def _post(self, url: str, payload: dict[str, Any], *, timeout: float) -> None:
        try:
            response = await self._client.post(url, json=payload, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"no answer within {timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"cannot connect: {exc}") from exc
        code = response.status_code
        if code < 300:
            return
        final = 400 <= code < 500 and code not in RETRYABLE_4XX
        raise DeliveryError(f"HTTP {code}: {response.text[:200]}", final=final)

    def _failed(self, d: Delivery, why: str) -> None:
        text = f"webhook {d.notification.name} not notified of {d.event}: {why}"
        log.warning("%s/%s: %s", d.ref.namespace, d.ref.name, text)
        try:
            self._events.record(
                ref=d.ref,
                type_="Warning",
                reason="NotificationFailed",
                message=text,
                now=datetime.now(UTC),
            )
        except client.ApiException as exc:
            log.warning("cannot record the NotificationFailed event: %s", exc)
