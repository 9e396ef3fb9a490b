"""Search the router's ground-truth events in Elasticsearch (``understudy logs --worse``):
the labelled records where the candidate was further from the true value than live.

Each ``shadow-router.feedback`` event (docs/contracts.md, "Ground truth") carries one
labelled record: the true value and, per model that answered it, the prediction and the
absolute error. "Worse" compares two fields of one document, which a term or range query
cannot: a small Painless script filter does (Painless ships with every Elasticsearch
7.x/8.x and OpenSearch distribution), and a script sort puts the largest gap first. The
transport and error handling are ``logsearch.run_search``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from understudy_cli.logsearch import SINCE_PATTERN, get_field, run_search, when

FEEDBACK_DATASET = "shadow-router.feedback"
LIVE_ABS = "understudy.live.abs_error"
CANDIDATE_ABS = "understudy.candidate.abs_error"
# |e_candidate| - |e_live| of a document with both (the paired loss difference d).
_GAP = f"doc['{CANDIDATE_ABS}'].value - doc['{LIVE_ABS}'].value"
_BOTH = f"doc['{CANDIDATE_ABS}'].size() != 0 && doc['{LIVE_ABS}'].size() != 0"
WORSE_SCRIPT = f"{_BOTH} && {_GAP} > 0"


@dataclass(frozen=True)
class FeedbackQuery:
    since: str = "1h"
    candidate_version: str | None = None
    request_id: str | None = None
    # Only records where the candidate's absolute error exceeds live's (largest gap first);
    # else every labelled record both models answered, newest first.
    worse_only: bool = True
    limit: int = 20

    def __post_init__(self) -> None:
        if not SINCE_PATTERN.match(self.since):
            raise ValueError(f"since must look like 15m, 1h or 2d, got {self.since!r}")
        if not 1 <= self.limit <= 10_000:
            raise ValueError(f"limit must be between 1 and 10000, got {self.limit}")


@dataclass(frozen=True)
class FeedbackEvent:
    timestamp: str
    request_id: str
    record: int | None
    actual: float | None
    live_version: str
    candidate_version: str
    live_prediction: float | None
    candidate_prediction: float | None
    live_abs_error: float | None
    candidate_abs_error: float | None

    @property
    def gap(self) -> float | None:
        """How much further off the candidate was (|e_candidate| - |e_live|)."""
        if self.live_abs_error is None or self.candidate_abs_error is None:
            return None
        return self.candidate_abs_error - self.live_abs_error


@dataclass
class FeedbackResult:
    total: int
    events: list[FeedbackEvent] = field(default_factory=list)
    worse_only: bool = True


def build_feedback_search(query: FeedbackQuery) -> dict[str, Any]:
    """The ``_search`` body: filters only, paired records, the worst gap (or newest) first."""
    filters: list[dict[str, Any]] = [
        {"term": {"event.dataset": FEEDBACK_DATASET}},
        {"range": {"@timestamp": {"gte": f"now-{query.since}"}}},
        {"exists": {"field": LIVE_ABS}},
        {"exists": {"field": CANDIDATE_ABS}},
    ]
    if query.candidate_version:
        filters.append({"term": {"understudy.candidate.version": query.candidate_version}})
    if query.request_id:
        filters.append({"term": {"http.request.id": query.request_id}})
    if query.worse_only:
        filters.append({"script": {"script": {"lang": "painless", "source": WORSE_SCRIPT}}})
        sort: list[dict[str, Any]] = [
            {
                "_script": {
                    "type": "number",
                    "order": "desc",
                    "script": {"lang": "painless", "source": _GAP},
                }
            },
            {"@timestamp": {"order": "desc"}},
        ]
    else:
        sort = [{"@timestamp": {"order": "desc"}}]
    return {
        "query": {"bool": {"filter": filters}},
        "sort": sort,
        "size": query.limit,
        "track_total_hits": True,
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_feedback_response(response: dict[str, Any], *, worse_only: bool) -> FeedbackResult:
    hits = response.get("hits") or {}
    total = hits.get("total") or {}
    result = FeedbackResult(
        total=int(total.get("value", 0)) if isinstance(total, dict) else int(total),
        worse_only=worse_only,
    )
    for hit in hits.get("hits") or []:
        src = hit.get("_source") or {}
        record = _number(get_field(src, "understudy.record"))
        result.events.append(
            FeedbackEvent(
                timestamp=str(get_field(src, "@timestamp") or ""),
                request_id=str(get_field(src, "http.request.id") or ""),
                record=int(record) if record is not None else None,
                actual=_number(get_field(src, "understudy.actual")),
                live_version=str(get_field(src, "understudy.live.version") or ""),
                candidate_version=str(get_field(src, "understudy.candidate.version") or ""),
                live_prediction=_number(get_field(src, "understudy.live.prediction")),
                candidate_prediction=_number(get_field(src, "understudy.candidate.prediction")),
                live_abs_error=_number(get_field(src, LIVE_ABS)),
                candidate_abs_error=_number(get_field(src, CANDIDATE_ABS)),
            )
        )
    return result


def search_feedback(
    http: httpx.Client, *, es_url: str, index: str, query: FeedbackQuery
) -> FeedbackResult:
    """Run the search; every failure is a ``logsearch.SearchError``."""
    body = build_feedback_search(query)
    answer = run_search(http, es_url=es_url, index=index, body=body)
    return parse_feedback_response(answer, worse_only=query.worse_only)


def _dollars(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def format_feedback_result(result: FeedbackResult) -> str:
    what = (
        "labelled records where the candidate was worse than live"
        if result.worse_only
        else "labelled records answered by both models"
    )
    lines = [f"{result.total} {what}"]
    if not result.events:
        return lines[0]
    lines.append(
        f"{'time (UTC)':23}  {'request id':34} {'rec':>3}  {'live':>8} {'cand':>8}"
        f"  {'actual $':>10}  {'live $':>10}  {'candidate $':>11}  {'live |e| $':>10}"
        f"  {'cand |e| $':>10}  {'worse by $':>10}"
    )
    for e in result.events:
        record = "—" if e.record is None else str(e.record)
        lines.append(
            f"{when(e.timestamp):23}  {e.request_id[:34]:34} {record:>3}  "
            f"{e.live_version:>8} {e.candidate_version:>8}  {_dollars(e.actual):>10}  "
            f"{_dollars(e.live_prediction):>10}  {_dollars(e.candidate_prediction):>11}  "
            f"{_dollars(e.live_abs_error):>10}  {_dollars(e.candidate_abs_error):>10}  "
            f"{_dollars(e.gap):>10}"
        )
    return "\n".join(lines)
