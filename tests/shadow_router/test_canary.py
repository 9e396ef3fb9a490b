"""The canary split's rule (understudy_router.canary) and its routing-config fields."""

from __future__ import annotations

import math

import pytest

from understudy_router.canary import BUCKETS, answered_by_candidate, bucket_of
from understudy_router.config import ConfigError, config_from_dict

LIVE = {"url": "http://127.0.0.1:8001", "version": "1.0.0"}
CAND = {"url": "http://127.0.0.1:8002", "version": "2.0.0"}
KEYS = [f"req-{i}" for i in range(20_000)]


def test_the_bucket_is_a_fixed_function_of_the_key() -> None:
    # Fixed values: every replica and every restart must put a key in the same bucket
    # (Python's hash() of a str is salted per process and would not).
    # Pinned: a change of the hash moves clients between models on an upgrade.
    assert [bucket_of(k) for k in ("a", "req-1", "client-42")] == [3343, 3243, 5024]
    assert all(0 <= bucket_of(k) < BUCKETS for k in KEYS[:1000])
    assert len({bucket_of(k) for k in KEYS}) > 8_000  # sequential keys spread out


@pytest.mark.parametrize("weight", [1, 10, 50, 90])
def test_the_share_sent_to_the_candidate_is_the_weight(weight: float) -> None:
    n = len(KEYS)
    share = sum(answered_by_candidate(k, weight) for k in KEYS) / n
    p = weight / 100
    # 5 binomial standard deviations: a wrong share fails, chance alone ~1 in 3.5 million.
    assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / n)


def test_raising_the_weight_only_adds_keys_and_the_ends_are_exact() -> None:
    at_10 = {k for k in KEYS if answered_by_candidate(k, 10)}
    at_50 = {k for k in KEYS if answered_by_candidate(k, 50)}
    assert at_10 < at_50  # a client on the candidate at 10% stays there at 50%
    assert not any(answered_by_candidate(k, 0) for k in KEYS[:500])
    assert all(answered_by_candidate(k, 100) for k in KEYS[:500])


def test_weight_and_sticky_header_in_the_routing_config() -> None:
    config = config_from_dict(
        {"live": LIVE, "candidate": CAND, "weight": 10, "sticky_header": "X-Understudy-Key"}
    )
    assert config.weight == 10 and config.sticky_header == "x-understudy-key"
    assert config.info_labels()["weight"] == "10"
    plain = config_from_dict({"live": LIVE, "candidate": CAND})
    assert plain.weight == 0 and plain.sticky_header == "x-understudy-key"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"weight": 101}, "weight: Input should be less than or equal to 100"),
        ({"weight": -1}, "weight: Input should be greater than or equal to 0"),
        ({"weight": "10"}, "weight: Input should be a valid number"),
        ({"weight": 10, "candidate": None}, "weight 10 needs a candidate to answer"),
        ({"sticky_header": "X Key"}, "sticky_header: Value error, must be an HTTP header name"),
        ({"sticky_header": ""}, "sticky_header: Value error, must be an HTTP header name"),
    ],
)
def test_a_bad_canary_field_rejects_the_document(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"live": LIVE, "candidate": CAND, **extra})
    assert message in str(caught.value)
