"""The ``es://`` traffic address of ``understudy shadow`` (parsing and the query; the
reader against a real Elasticsearch node: tests/cli/test_logs_elasticsearch.py)."""

from __future__ import annotations

import pytest

from understudy_cli.shadow.es_traffic import (
    DEFAULT_INDEX,
    EsSource,
    EsTrafficError,
    build_query,
    is_es_address,
    parse_es_address,
)


def test_an_address_with_every_part() -> None:
    source = parse_es_address(
        "ess://es.example.com:9243/logs-*?since=2d&model=m&version=1.0.0&limit=50"
    )
    assert source == EsSource(
        base_url="https://es.example.com:9243",
        index="logs-*",
        since="2d",
        model="m",
        version="1.0.0",
        limit=50,
    )


def test_the_defaults() -> None:
    source = parse_es_address("es://127.0.0.1:9200")
    assert (source.base_url, source.index, source.since, source.limit) == (
        "http://127.0.0.1:9200",
        DEFAULT_INDEX,
        "7d",
        10_000,
    )
    assert source.model is None and source.version is None


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("es://", "expected es://HOST:PORT"),
        ("es://h:port", "the port must be a number"),
        ("es://h:9200?sinse=1d", "unknown parameter"),
        ("es://h:9200?since=yesterday", "since must look like"),
        ("es://h:9200?limit=ten", "limit must be a whole number"),
        ("es://h:9200?limit=0", "limit must be between 1"),
    ],
)
def test_a_malformed_address_is_refused_readably(address: str, message: str) -> None:
    with pytest.raises(EsTrafficError, match=message):
        parse_es_address(address)


def test_only_es_schemes_are_addresses() -> None:
    assert is_es_address("es://h:9200") and is_es_address("ess://h")
    assert not is_es_address("traffic.jsonl") and not is_es_address("http://h:9200")


def test_the_query_keeps_served_requests_of_the_model_oldest_first() -> None:
    body = build_query(EsSource("http://h", model="m", version="2"))
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"event.dataset": "model-api.request"}} in filters
    assert {"term": {"http.response.status_code": 200}} in filters
    assert {"term": {"model.name": "m"}} in filters
    assert {"term": {"model.version": "2"}} in filters
    assert body["sort"] == [{"@timestamp": "asc"}]
