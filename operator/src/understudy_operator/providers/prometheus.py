"""The Prometheus provider: an instant query over the HTTP API, one number or a named error."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import httpx

from understudy_operator.providers.base import NoDataError, QueryError


class PrometheusProvider:
    """``query(promql) -> float`` against ``{url}/api/v1/query``.

    A vector must hold exactly one series (aggregate with ``sum``/``max``); an empty vector
    or NaN is :class:`NoDataError`; an HTTP, PromQL or connection problem is
    :class:`QueryError` whose message says which.
    """

    def __init__(
        self,
        *,
        url: str,
        timeout_seconds: float = 5.0,
        client: httpx.Client | None = None,
        at: datetime | None = None,
    ) -> None:
        self._url = url.rstrip("/") + "/api/v1/query"
        self._timeout = timeout_seconds
        self._client = client or httpx.Client(timeout=timeout_seconds)
        # Evaluate every query at this instant instead of now (a report over a past window:
        # the evidence's ``offset`` windows then end there).
        self._at = at

    def close(self) -> None:
        self._client.close()

    def query(self, promql: str) -> float:
        return _single_value(self._data(promql), promql)

    def vector(self, promql: str, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        """Every series of ``promql`` keyed by its ``by`` label values (NaN samples left
        out); empty when nothing matched. QueryError as for ``query``."""
        data = self._data(promql)
        if data.get("resultType") != "vector":
            raise QueryError(
                f"expected an instant vector for {promql}, got {data.get('resultType')!r}"
            )
        out: dict[tuple[str, ...], float] = {}
        for series in data.get("result") or []:
            labels = series.get("metric") or {}
            try:
                value = float(series["value"][1])
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise QueryError(f"unreadable sample {series!r} for {promql}") from exc
            if not math.isnan(value):
                out[tuple(str(labels.get(label, "")) for label in by)] = value
        return out

    def _data(self, promql: str) -> dict[str, Any]:
        try:
            params = {"query": promql, "timeout": f"{self._timeout:g}s"}
            if self._at is not None:
                params["time"] = f"{self._at.timestamp():.3f}"
            response = self._client.get(self._url, params=params)
        except httpx.TimeoutException as exc:
            raise QueryError(f"Prometheus at {self._url} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise QueryError(f"Prometheus at {self._url} unreachable: {exc}") from exc
        body = _json(response)
        if response.status_code != 200 or body.get("status") != "success":
            detail = body.get("error") or response.text[:200]
            kind = body.get("errorType", f"HTTP {response.status_code}")
            raise QueryError(f"Prometheus rejected the query ({kind}): {detail}")
        data = body.get("data") or {}
        return data if isinstance(data, dict) else {}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _single_value(data: dict[str, Any], promql: str) -> float:
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar":
        raw = result
    elif kind == "vector":
        if not result:
            raise NoDataError(f"no series for {promql}")
        if len(result) > 1:
            raise QueryError(f"{len(result)} series for {promql}; aggregate to one (sum, max)")
        raw = result[0].get("value")
    else:
        raise QueryError(f"unsupported result type {kind!r} for {promql}; use an instant vector")
    try:
        value = float(raw[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError) as exc:
        raise QueryError(f"unreadable sample {raw!r} for {promql}") from exc
    if math.isnan(value):
        raise NoDataError(f"NaN for {promql} (0/0: no traffic in the range)")
    return value
