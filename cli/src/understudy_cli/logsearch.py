"""Search the router's comparison events in Elasticsearch: what Kibana's saved search
"disagreements" shows, from the command line (``understudy logs``).

The query is built by a pure function (``build_search``) over the fields the router
writes (docs/contracts.md, "Logs") and the index template maps
(k8s/base/fluent-bit/index-template.json); only ``search_comparisons`` talks to
Elasticsearch, with one plain ``POST <index>/_search``. Plain HTTP rather than the
official client: the request is the same for Elasticsearch 7.10 to 8.x (the tests run a
real 7.10 node, the chart deploys 8.17) and for OpenSearch, which the official 8.x client
refuses to talk to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_INDEX = "understudy-logs-*"
COMPARISON_DATASET = "shadow-router.comparison"
SINCE_PATTERN = re.compile(r"^[1-9][0-9]*[smhd]$")


@dataclass(frozen=True)
class ComparisonQuery:
    # How far back, in Elasticsearch date math units: "15m", "1h", "2d".
    since: str = "1h"
    candidate_version: str | None = None
    # Only events where at least one record disagreed beyond the tolerance.
    disagreements_only: bool = False
    # One request (the X-Request-ID the router carried to both models).
    request_id: str | None = None
    limit: int = 20

    def __post_init__(self) -> None:
        if not SINCE_PATTERN.match(self.since):
            raise ValueError(f"since must look like 15m, 1h or 2d, got {self.since!r}")
        if not 1 <= self.limit <= 10_000:
            raise ValueError(f"limit must be between 1 and 10000, got {self.limit}")


@dataclass(frozen=True)
class ComparisonEvent:
    timestamp: str
    request_id: str
    live_version: str
    candidate_version: str
    outcome: str
    live_predictions: tuple[float, ...]
    candidate_predictions: tuple[float, ...]
    abs_diffs: tuple[float, ...]

    @property
    def max_abs_diff(self) -> float | None:
        return max(self.abs_diffs, default=None)


@dataclass
class SearchResult:
    total: int
    outcomes: dict[str, int] = field(default_factory=dict)
    events: list[ComparisonEvent] = field(default_factory=list)


def build_search(query: ComparisonQuery) -> dict[str, Any]:
    """The ``_search`` body: filters only (no scoring), newest first, outcome counts."""
    filters: list[dict[str, Any]] = [
        {"term": {"event.dataset": COMPARISON_DATASET}},
        {"range": {"@timestamp": {"gte": f"now-{query.since}"}}},
    ]
    if query.candidate_version:
        filters.append({"term": {"understudy.candidate.version": query.candidate_version}})
    if query.disagreements_only:
        filters.append({"term": {"understudy.agree": False}})
    if query.request_id:
        filters.append({"term": {"http.request.id": query.request_id}})
    return {
        "query": {"bool": {"filter": filters}},
        "sort": [{"@timestamp": {"order": "desc"}}],
        "size": query.limit,
        "track_total_hits": True,
        "aggs": {"outcomes": {"terms": {"field": "understudy.outcome", "size": 10}}},
    }


def _floats(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(float(v) for v in value if isinstance(v, int | float))


def get_field(source: dict[str, Any], dotted: str) -> Any:
    """A field written flat (``"understudy.outcome": ...``) or nested by an ingest step."""
    if dotted in source:
        return source[dotted]
    node: Any = source
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_response(response: dict[str, Any]) -> SearchResult:
    hits = response.get("hits") or {}
    total = hits.get("total") or {}
    buckets = ((response.get("aggregations") or {}).get("outcomes") or {}).get("buckets") or []
    result = SearchResult(
        total=int(total.get("value", 0)) if isinstance(total, dict) else int(total),
        outcomes={str(b["key"]): int(b["doc_count"]) for b in buckets},
    )
    for hit in hits.get("hits") or []:
        src = hit.get("_source") or {}
        result.events.append(
            ComparisonEvent(
                timestamp=str(get_field(src, "@timestamp") or ""),
                request_id=str(get_field(src, "http.request.id") or ""),
                live_version=str(get_field(src, "understudy.live.version") or ""),
                candidate_version=str(get_field(src, "understudy.candidate.version") or ""),
                outcome=str(get_field(src, "understudy.outcome") or ""),
                live_predictions=_floats(get_field(src, "understudy.live.predictions")),
                candidate_predictions=_floats(get_field(src, "understudy.candidate.predictions")),
                abs_diffs=_floats(get_field(src, "understudy.abs_diff")),
            )
        )
    return result


class SearchError(Exception):
    """Elasticsearch could not be reached, refused the search, or is not Elasticsearch."""


def search_comparisons(
    http: httpx.Client, *, es_url: str, index: str, query: ComparisonQuery
) -> SearchResult:
    """Run the search; every failure is a :class:`SearchError` with a readable message."""
    return parse_response(run_search(http, es_url=es_url, index=index, body=build_search(query)))


def run_search(
    http: httpx.Client, *, es_url: str, index: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST <index>/_search`` with ``body``; the answer, or a :class:`SearchError`."""
    url = f"{es_url.rstrip('/')}/{quote(index, safe='*,-_.')}/_search"
    return es_call(http, "POST", url, es_url=es_url, json=body)


def es_call(
    http: httpx.Client, method: str, url: str, *, es_url: str, **kwargs: Any
) -> dict[str, Any]:
    """One search-shaped Elasticsearch request (``_search``, ``_search/scroll``): its
    answer, or a :class:`SearchError` that says whether Elasticsearch was unreachable,
    refused (its own error type and reason), or was not Elasticsearch at all."""
    try:
        response = http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise SearchError(f"cannot reach Elasticsearch at {es_url}: {exc}") from exc
    try:
        answer = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        answer = None
    # An Elasticsearch error is {"error": {"type", "reason", "root_cause"}, "status"}; any
    # other answer (HTML, another service's JSON) means the URL is not Elasticsearch.
    error = answer.get("error") if isinstance(answer, dict) else None
    if response.is_error and isinstance(error, dict):
        raise SearchError(
            f"Elasticsearch at {es_url} refused the search ({response.status_code}): "
            f"{_error_text(error)}"
        )
    if response.is_error or not isinstance(answer, dict) or "hits" not in answer:
        raise SearchError(
            f"{es_url} does not answer as Elasticsearch (HTTP {response.status_code}, "
            f"{response.headers.get('content-type', 'no content type')})"
        )
    return answer


def _error_text(error: dict[str, Any]) -> str:
    """``type: reason`` of an Elasticsearch error (its most specific cause)."""
    causes = error.get("root_cause")
    first = causes[0] if isinstance(causes, list) and causes else None
    cause = first if isinstance(first, dict) else error
    return f"{cause.get('type', 'error')}: {cause.get('reason', '')}"


def when(timestamp: str) -> str:
    """``2026-11-26T06:22:34.545+00:00`` as ``2026-11-26 06:22:34.545`` (UTC, ms)."""
    try:
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp[:23]
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]


def format_result(result: SearchResult) -> str:
    """A plain table a person can read in a terminal or paste into an issue."""
    lines = [
        f"{result.total} comparison events"
        + (
            ": " + ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
            if result.outcomes
            else ""
        )
    ]
    if not result.events:
        return lines[0]
    lines.append(
        f"{'time (UTC)':23}  {'request id':34}  {'live':>8} {'cand':>8}  {'outcome':17}"
        f"  {'live $':>10}  {'candidate $':>11}  {'max |diff| $':>12}"
    )
    for e in result.events:
        live = f"{e.live_predictions[0]:,.0f}" if e.live_predictions else "—"
        cand = f"{e.candidate_predictions[0]:,.0f}" if e.candidate_predictions else "—"
        more = f" (+{len(e.live_predictions) - 1})" if len(e.live_predictions) > 1 else ""
        diff = f"{e.max_abs_diff:,.0f}" if e.max_abs_diff is not None else "—"
        lines.append(
            f"{when(e.timestamp):23}  {e.request_id[:34]:34}  {e.live_version:>8} "
            f"{e.candidate_version:>8}  {e.outcome:17}  {live + more:>10}  "
            f"{cand:>11}  {diff:>12}"
        )
    return "\n".join(lines)
