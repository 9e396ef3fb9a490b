"""``understudy shadow --traffic es://...``: replay the inputs model-api logged.

model-api writes one JSON event per prediction request (``event.dataset:
model-api.request``); with ``UNDERSTUDY_MODEL_API_LOG_INPUTS=true`` the event carries the
request's records under ``inputs`` (docs/contracts.md, "Logs"), and Fluent Bit ships it to
Elasticsearch. This module reads those records back, oldest first, so a candidate can be
shadowed on last week's real requests.

The address::

    es://HOST:PORT[/INDEX]?since=7d&model=NAME&version=V&limit=N     (ess:// for https)

``INDEX`` defaults to the chart's ``understudy-logs-*``; ``since`` (default 7d) is
Elasticsearch date math like ``understudy logs --since``; ``model``/``version`` keep the
requests one model (version) served; ``limit`` (default 10000, at most 1,000,000) bounds
the records read. Only requests answered 200 are replayed: a request the live model
refused would be refused again, and its inputs are logged only to explain the refusal.

Plain HTTP with the scroll API, like ``understudy logs`` (logsearch.py): the same
requests work on Elasticsearch 7.10–8.x and OpenSearch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from understudy_cli.logsearch import DEFAULT_INDEX, SINCE_PATTERN, SearchError, es_call

SCHEMES = {"es": "http", "ess": "https"}
REQUEST_DATASET = "model-api.request"
DEFAULT_SINCE = "7d"
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 1_000_000
PAGE = 1_000
QUERY_KEYS = {"since", "model", "version", "limit"}


class EsTrafficError(ValueError):
    """The address is malformed, Elasticsearch cannot be read, or it holds no inputs."""


@dataclass(frozen=True)
class EsSource:
    base_url: str
    index: str = DEFAULT_INDEX
    since: str = DEFAULT_SINCE
    model: str | None = None
    version: str | None = None
    limit: int = DEFAULT_LIMIT

    def describe(self) -> str:
        which = " ".join(x for x in (self.model, self.version) if x) or "every model"
        return f"{self.base_url}/{self.index} ({which}, last {self.since})"


def is_es_address(text: str) -> bool:
    return text.split("://", 1)[0] in SCHEMES and "://" in text


def parse_es_address(text: str) -> EsSource:
    """The source an ``es://`` / ``ess://`` address names (EsTrafficError if malformed)."""
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise EsTrafficError(f"{text}: expected es://HOST:PORT[/INDEX][?since=7d&model=...]")
    try:
        port = parts.port
    except ValueError:
        raise EsTrafficError(f"{text}: the port must be a number") from None
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(query) - QUERY_KEYS)
    if unknown:
        raise EsTrafficError(
            f"{text}: unknown parameter(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(QUERY_KEYS))})"
        )
    values = {key: query[key][-1] for key in query}
    since = values.get("since", DEFAULT_SINCE)
    if not SINCE_PATTERN.match(since):
        raise EsTrafficError(f"{text}: since must look like 15m, 1h or 7d, got {since!r}")
    try:
        limit = int(values.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise EsTrafficError(f"{text}: limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise EsTrafficError(f"{text}: limit must be between 1 and {MAX_LIMIT}, got {limit}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    base = f"{SCHEMES[parts.scheme]}://{host}" + (f":{port}" if port else "")
    return EsSource(
        base_url=base,
        index=parts.path.strip("/") or DEFAULT_INDEX,
        since=since,
        model=values.get("model") or None,
        version=values.get("version") or None,
        limit=limit,
    )


def build_query(source: EsSource) -> dict[str, Any]:
    """The ``_search`` body: served requests, oldest first. Whether one logged its inputs
    is checked on each hit, not with an ``exists`` query: ``inputs`` is a ``flattened``
    field, which Elasticsearch 7.10 OSS and OpenSearch cannot index (the test node maps it
    as a stored, unindexed object), and ``exists`` finds nothing there."""
    filters: list[dict[str, Any]] = [
        {"term": {"event.dataset": REQUEST_DATASET}},
        {"term": {"http.response.status_code": 200}},
        {"range": {"@timestamp": {"gte": f"now-{source.since}"}}},
    ]
    if source.model:
        filters.append({"term": {"model.name": source.model}})
    if source.version:
        filters.append({"term": {"model.version": source.version}})
    return {
        "size": PAGE,
        "query": {"bool": {"filter": filters}},
        "sort": [{"@timestamp": "asc"}],
        "_source": ["inputs"],
    }


@dataclass
class EsRecords:
    records: list[dict[str, Any]]
    # Where each record came from: "<index>/<id> record j".
    origins: list[str]
    # Served requests found without inputs (model-api's input logging was off).
    without_inputs: int = 0


def read_es_records(source: EsSource, *, client: httpx.Client | None = None) -> EsRecords:
    """The logged records, oldest first, at most ``source.limit``."""
    own = client is None
    http = client or httpx.Client(base_url=source.base_url, timeout=30)
    out = EsRecords([], [])
    scroll_id: str | None = None
    try:
        first = f"/{source.index}/_search"
        page = _call(http, "POST", first, params={"scroll": "1m"}, json=build_query(source))
        while True:
            scroll_id = page.get("_scroll_id") or scroll_id
            hits = page.get("hits", {}).get("hits", [])
            for hit in hits:
                inputs = (hit.get("_source") or {}).get("inputs")
                if inputs is None:
                    out.without_inputs += 1
                    continue
                batch = inputs if isinstance(inputs, list) else [inputs]
                for j, record in enumerate(batch):
                    if len(out.records) >= source.limit:
                        return out
                    out.records.append(record)
                    out.origins.append(f"{hit.get('_index')}/{hit.get('_id')} record {j}")
            if not hits or scroll_id is None:
                return out
            page = _call(
                http, "POST", "/_search/scroll", json={"scroll": "1m", "scroll_id": scroll_id}
            )
    finally:
        if scroll_id is not None:
            # Free the scroll context at once rather than after its minute.
            with contextlib.suppress(httpx.HTTPError):
                http.request("DELETE", "/_search/scroll", json={"scroll_id": scroll_id})
        if own:
            http.close()


def _call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return es_call(http, method, path, es_url=str(http.base_url), **kwargs)
    except SearchError as exc:
        raise EsTrafficError(str(exc)) from None
