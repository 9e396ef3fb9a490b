"""Where the routing config comes from: the environment, a file, or a Kubernetes ConfigMap.

Each source hands raw documents to a callback ``on_document(raw, source=...)``
(``ShadowRouter.offer_document``), which validates them and keeps the last good
config if one is bad. ``raw`` is None when the document vanished (file or key
deleted) - that is rejected too: the router keeps routing rather than stop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class OnDocument(Protocol):
    def __call__(self, raw: str | bytes | None, *, source: str) -> bool: ...


class FileSource:
    """Polls a file's identity (inode, size, mtime) and re-reads it when that changes.

    Writers should replace the file atomically (write a temp file, rename it); a
    half-written file is merely rejected once and picked up complete on the next poll.
    """

    def __init__(self, *, path: Path, interval: float, on_document: OnDocument) -> None:
        self.path = path
        self.source = f"file:{path}"
        self._interval = interval
        self._on_document = on_document
        self._stat: tuple[int, int, int] | None = None
        self._digest: bytes | None = None
        self._missing_logged = False

    def check(self) -> None:
        """Read the file if it changed since the last check (cheap when it did not)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_logged:
                logger.warning("routing config file %s does not exist; keeping config", self.path)
                self._missing_logged = True
            self._stat = None
            return
        self._missing_logged = False
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        if identity == self._stat:
            return
        self._stat = identity
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            logger.error("cannot read routing config file %s: %s", self.path, exc)
            return
        digest = hashlib.sha256(raw).digest()
        if digest == self._digest:
            return  # touched, not changed
        self._digest = digest
        self._on_document(raw, source=self.source)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.check()
            except Exception:
                logger.exception("routing config file check failed")


# -- Kubernetes --------------------------------------------------------------------------


def core_v1_api(kubeconfig: Path | None) -> Any:
    """A CoreV1Api from a kubeconfig file, or from the pod's service account."""
    from kubernetes import client
    from kubernetes import config as k8s_config

    if kubeconfig is not None:
        return client.CoreV1Api(k8s_config.new_client_from_config(config_file=str(kubeconfig)))
    configuration = client.Configuration()
    k8s_config.load_incluster_config(client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


def _new_watch() -> Any:
    from kubernetes import watch

    return watch.Watch()


class ConfigMapSource:
    """Watches one ConfigMap through the API server in a thread; resumes, relists, retries.

    List (to get the current document and a resourceVersion), then watch from that
    resourceVersion with a field selector on the name; every ADDED/MODIFIED event
    delivers the key's value to the event loop. A watch that ends (server timeout)
    resumes from the last resourceVersion seen; 410 Gone means it is too old: list
    again. Any other failure (API server down, network) reconnects with backoff.
    """

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        key: str,
        on_document: OnDocument,
        api_factory: Callable[[], Any],
        watch_factory: Callable[[], Any] = _new_watch,
        watch_seconds: int = 300,
        max_backoff: float = 30.0,
        on_listed: Callable[[], None] | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.key = key
        self.source = f"configmap:{namespace}/{name}"
        self._on_document = on_document
        self._api_factory = api_factory
        self._watch_factory = watch_factory
        self._watch_seconds = watch_seconds
        self._max_backoff = max_backoff
        # Called (on the loop, after the listed document) once each list has been read:
        # the router knows its routing, present or not.
        self._on_listed = on_listed
        self._stop = threading.Event()
        self._watch: Any = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_raw: str | None = None
        # resourceVersion the next watch resumes from; None: list first.
        self.resource_version: str | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self.run, name="configmap-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """The watch loop (runs until :meth:`stop`); public so tests can drive it."""
        backoff = 0.5
        api = None
        while not self._stop.is_set():
            try:
                if api is None:
                    api = self._api_factory()
                if self.resource_version is None:
                    self._list(api)
                self._watch_once(api)
                backoff = 0.5
            except Exception as exc:
                if getattr(exc, "status", None) == 410:
                    logger.info("ConfigMap watch %s expired (410 Gone); listing again", self.source)
                    self.resource_version = None
                    continue
                logger.warning(
                    "ConfigMap watch %s failed (%s: %s); retrying in %.1fs",
                    self.source,
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                api = None if getattr(exc, "status", None) in (401, 403) else api
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    def _selector(self) -> str:
        return f"metadata.name={self.name}"

    def _list(self, api: Any) -> None:
        listed = api.list_namespaced_config_map(
            self.namespace, field_selector=self._selector(), _request_timeout=30
        )
        self.resource_version = listed.metadata.resource_version
        if listed.items:
            self._deliver(listed.items[0])
        else:
            logger.warning("ConfigMap %s not found; keeping the current config", self.source)
        if self._on_listed is not None:
            self._call(self._on_listed)

    def _watch_once(self, api: Any) -> None:
        self._watch = self._watch_factory()
        stream = self._watch.stream(
            api.list_namespaced_config_map,
            self.namespace,
            field_selector=self._selector(),
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=self._watch_seconds,
            # A silent, dead connection must not hang the watch forever.
            _request_timeout=(10, self._watch_seconds + 30),
        )
        for event in stream:
            if self._stop.is_set():
                break
            kind = event.get("type")
            raw_object = event.get("raw_object") or {}
            version = (raw_object.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
            if kind in ("ADDED", "MODIFIED"):
                self._deliver(event["object"])
            elif kind == "DELETED":
                logger.warning("ConfigMap %s was deleted; keeping the current config", self.source)
                self._last_raw = None

    def _deliver(self, obj: Any) -> None:
        data = getattr(obj, "data", None) or {}
        raw = data.get(self.key)
        if raw is not None and raw == self._last_raw:
            return
        self._last_raw = raw
        self._call(lambda: self._on_document(raw, source=self.source))

    def _call(self, fn: Callable[[], object]) -> None:
        # In order on the event loop (a listed document is applied before on_listed runs).
        if self._loop is None:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)
