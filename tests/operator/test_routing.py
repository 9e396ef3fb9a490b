"""router_document: the router's config (router.json) for a shadow spec, as the router reads it."""

from __future__ import annotations

from understudy_operator.core import parse_spec
from understudy_operator.core.routing import router_document
from understudy_router.config import config_from_dict

SPEC = {
    "model": {"name": "house-prices", "version": "2.0.0"},
    "shadow": {
        "mirrorPercent": 25,
        "tolerance": {"relative": 0.2, "absolute": 500},
        "timeouts": {"live": "1500ms", "candidate": "3s"},
    },
}
SHADOW = parse_spec(SPEC)


def test_the_document_is_the_contracts_router_json() -> None:
    doc = router_document(
        SHADOW, live=("http://live:8000", "1.0.0"), candidate=("http://cand:8000", "2.0.0")
    )
    assert doc == {
        "live": {"url": "http://live:8000", "version": "1.0.0"},
        "candidate": {"url": "http://cand:8000", "version": "2.0.0"},
        "mirror_percent": 25.0,
        "tolerance": {"relative": 0.2, "absolute": 500.0},
        "timeouts": {"live_seconds": 1.5, "candidate_seconds": 3.0},
    }
    parsed = config_from_dict(doc)  # and the router reads it back the same
    assert (parsed.mirror_percent, parsed.timeouts.candidate_seconds) == (25.0, 3.0)


def test_no_candidate_is_no_mirroring() -> None:
    doc = router_document(SHADOW, live=("http://live:8000", "1.0.0"), candidate=None)
    assert doc["candidate"] is None
    assert config_from_dict(doc).candidate is None


def test_a_slice_field_is_written_only_when_given_and_the_router_reads_it() -> None:
    pairs = {"live": ("http://live:8000", "1.0.0"), "candidate": ("http://cand:8000", "2.0.0")}
    assert "slice_field" not in router_document(SHADOW, **pairs)
    sliced = parse_spec({**SPEC, "analysis": {"slices": {"field": "Neighborhood"}}})
    doc = router_document(sliced, **pairs)
    assert doc["slice_field"] == "Neighborhood"
    assert config_from_dict(doc).slice_field == "Neighborhood"


def test_a_canary_weight_is_a_document_the_router_reads_back() -> None:
    spec = parse_spec(
        {**SPEC, "canary": {"stickyHeader": "X-Client", "steps": [{"setWeight": 10}]}}
    )
    doc = router_document(
        spec, live=("http://live:8000", "1.0.0"), candidate=("http://cand:8000", "2.0.0"), weight=10
    )
    parsed = config_from_dict(doc)  # one boundary: the operator writes, the router reads
    assert (parsed.weight, parsed.sticky_header, parsed.mirror_percent) == (10, "x-client", 25)
    off = parse_spec(
        {**SPEC, "shadow": {"enabled": False}, "canary": {"steps": [{"setWeight": 5}]}}
    )
    no_shadow = router_document(
        off, live=("http://live:8000", "1.0.0"), candidate=("http://cand:8000", "2.0.0"), weight=5
    )
    assert config_from_dict(no_shadow).mirror_percent == 0  # nothing mirrored, 5% answered
