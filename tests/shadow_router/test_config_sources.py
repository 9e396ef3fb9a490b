"""Config sources: the polled file and the ConfigMap watch (its API faked at the boundary).

The ConfigMap watch against a real API server is in test_configmap_cluster.py; here the
kubernetes client's ``list_namespaced_config_map`` and ``Watch.stream`` are replaced by
scripted fakes, to drive the paths a live server rarely shows: resume from the last
resourceVersion, 410 Gone (list again), dropped connections (retry), deletion.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from understudy_router.config_sources import ConfigMapSource, FileSource

DOC = json.dumps({"live": {"url": "http://127.0.0.1:1", "version": "1"}})


class Recorder:
    def __init__(self) -> None:
        self.docs: list[tuple[str | bytes | None, str]] = []

    def __call__(self, raw: str | bytes | None, *, source: str) -> bool:
        self.docs.append((raw, source))
        return True


# -- file ------------------------------------------------------------------------------------


def test_file_source_reads_changes_only(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_text(DOC)
    seen = Recorder()
    source = FileSource(path=path, interval=0.5, on_document=seen)
    source.check()
    source.check()
    assert seen.docs == [(DOC.encode(), f"file:{path}")]
    # Touched with the same content: not delivered again.
    os.utime(path, ns=(1, 1))
    source.check()
    assert len(seen.docs) == 1
    # Replaced (same size, different content, as an atomic rename does).
    other = DOC.replace('"1"}', '"2"}')
    tmp = tmp_path / "router.tmp"
    tmp.write_text(other)
    os.replace(tmp, path)
    source.check()
    assert seen.docs[-1] == (other.encode(), f"file:{path}")


def test_file_source_keeps_quiet_about_a_missing_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "absent.json"
    seen = Recorder()
    source = FileSource(path=path, interval=0.5, on_document=seen)
    source.check()
    source.check()
    assert seen.docs == []
    assert caplog.text.count("does not exist") == 1
    path.write_text(DOC)
    source.check()
    assert seen.docs == [(DOC.encode(), f"file:{path}")]


# -- ConfigMap -------------------------------------------------------------------------------


def configmap(raw: str | None, version: str, key: str = "router.json") -> SimpleNamespace:
    return SimpleNamespace(
        data=None if raw is None else {key: raw},
        metadata=SimpleNamespace(resource_version=version),
    )


def event(kind: str, raw: str | None, version: str) -> dict[str, Any]:
    return {
        "type": kind,
        "object": configmap(raw, version),
        "raw_object": {"metadata": {"resourceVersion": version}},
    }


class ApiError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class FakeApi:
    """Stands in for CoreV1Api: answers list calls from a script."""

    def __init__(self, lists: list[Any]) -> None:
        self.lists = lists
        self.list_calls: list[dict[str, Any]] = []

    def list_namespaced_config_map(self, namespace: str, **kwargs: Any) -> Any:
        self.list_calls.append({"namespace": namespace, **kwargs})
        item = self.lists.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class FakeWatch:
    """Stands in for kubernetes.watch.Watch: each stream() plays the next scripted stream."""

    def __init__(self, streams: list[list[Any]], source: ConfigMapSource | None = None) -> None:
        self.streams = streams
        self.calls: list[dict[str, Any]] = []
        self.source = source

    def __call__(self) -> FakeWatch:
        return self

    def stream(self, func: Any, namespace: str, **kwargs: Any) -> Any:
        self.calls.append({"namespace": namespace, **kwargs})
        if not self.streams:
            assert self.source is not None
            self.source._stop.set()  # script exhausted: end the loop
            return
        for item in self.streams.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item

    def stop(self) -> None:
        pass


def listed(items: list[Any], version: str) -> SimpleNamespace:
    return SimpleNamespace(items=items, metadata=SimpleNamespace(resource_version=version))


def make_source(api: FakeApi, watch: FakeWatch, seen: Recorder) -> ConfigMapSource:
    source = ConfigMapSource(
        namespace="understudy",
        name="house-prices-router",
        key="router.json",
        on_document=seen,
        api_factory=lambda: api,
        watch_factory=watch,
        max_backoff=0.01,
    )
    watch.source = source
    return source


def test_configmap_list_then_watch_resumes_from_last_version() -> None:
    doc2 = DOC.replace('"1"}', '"2"}')
    api = FakeApi([listed([configmap(DOC, "10")], "10")])
    watch = FakeWatch(
        [
            [event("MODIFIED", doc2, "11"), event("BOOKMARK", None, "15")],
            [event("MODIFIED", doc2, "16")],  # same document again: not re-delivered
        ]
    )
    seen = Recorder()
    make_source(api, watch, seen).run()
    source = "configmap:understudy/house-prices-router"
    assert seen.docs == [(DOC, source), (doc2, source)]
    assert api.list_calls[0]["field_selector"] == "metadata.name=house-prices-router"
    assert [c["resource_version"] for c in watch.calls] == ["10", "15", "16"]
    assert all(c["field_selector"] == "metadata.name=house-prices-router" for c in watch.calls)


def test_configmap_gone_lists_again_and_errors_retry() -> None:
    doc3 = DOC.replace('"1"}', '"3"}')
    api = FakeApi(
        [
            listed([configmap(DOC, "10")], "10"),
            ConnectionError("api server restarting"),
            listed([configmap(doc3, "40")], "40"),
        ]
    )
    watch = FakeWatch([[ApiError(410)], [ConnectionResetError("dropped")]])
    seen = Recorder()
    source = make_source(api, watch, seen)
    source.run()
    assert [raw for raw, _ in seen.docs] == [DOC, doc3]
    # 410 cleared the resourceVersion (relist); the failed relist was retried.
    assert len(api.list_calls) == 3
    assert [c["resource_version"] for c in watch.calls] == ["10", "40", "40"]


def test_configmap_missing_key_and_deletion_are_delivered_as_missing() -> None:
    api = FakeApi([listed([], "5")])
    watch = FakeWatch(
        [
            [
                {
                    "type": "ADDED",
                    "object": configmap("{}", "6", key="other.json"),
                    "raw_object": {"metadata": {"resourceVersion": "6"}},
                },
                event("MODIFIED", DOC, "7"),
                event("DELETED", DOC, "8"),
                event("ADDED", DOC, "9"),
            ]
        ]
    )
    seen = Recorder()
    make_source(api, watch, seen).run()
    # Absent at list time: nothing delivered; key missing: None; re-added after delete: again.
    assert [raw for raw, _ in seen.docs] == [None, DOC, DOC]


def test_configmap_reports_each_list_after_its_document_absent_or_not() -> None:
    """on_listed comes after the listed document: readiness never precedes the routing."""
    order: list[str] = []
    api = FakeApi([listed([], "5"), ConnectionError("api server restarting"), listed([], "7")])
    watch = FakeWatch([[ApiError(410)]])
    source = ConfigMapSource(
        namespace="understudy",
        name="house-prices-router",
        key="router.json",
        on_document=lambda raw, *, source: order.append("document") is None,
        api_factory=lambda: api,
        watch_factory=watch,
        max_backoff=0.01,
        on_listed=lambda: order.append("listed"),
    )
    watch.source = source
    source.run()
    assert order == ["listed", "listed"]  # the ConfigMap is absent: no document, still listed

    order.clear()
    api = FakeApi([listed([configmap(DOC, "10")], "10")])
    watch = FakeWatch([])
    source = ConfigMapSource(
        namespace="understudy",
        name="house-prices-router",
        key="router.json",
        on_document=lambda raw, *, source: order.append("document") is None,
        api_factory=lambda: api,
        watch_factory=watch,
        on_listed=lambda: order.append("listed"),
    )
    watch.source = source
    source.run()
    assert order == ["document", "listed"]
