"""Routing config parsing and validation, and the process settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from understudy_router.config import ConfigError, RoutingConfig, parse_config
from understudy_router.settings import RouterSettings

LIVE = {"url": "http://127.0.0.1:8001", "version": "1.0.0"}
CANDIDATE = {"url": "http://127.0.0.1:8002", "version": "2.0.0"}
FULL = {
    "live": LIVE,
    "candidate": CANDIDATE,
    "mirror_percent": 100,
    "tolerance": {"relative": 0.10, "absolute": 10000},
    "timeouts": {"live_seconds": 2.0, "candidate_seconds": 2.0},
}


def with_(**changes: Any) -> str:
    return json.dumps({**FULL, **changes})


def test_contract_example_parses() -> None:
    config = parse_config(json.dumps(FULL))
    assert config.live is not None and config.live.url == "http://127.0.0.1:8001"
    assert config.candidate is not None and config.candidate.version == "2.0.0"
    assert config.mirror_percent == 100
    assert config.tolerance.to_tolerance().absolute == 10000
    assert config.timeouts.candidate_seconds == 2.0
    assert config.mirroring


@pytest.mark.parametrize(
    ("doc", "check"),
    [
        (json.dumps({"live": LIVE}), lambda c: c.candidate is None and not c.mirroring),
        (with_(candidate=None), lambda c: c.candidate is None),
        (with_(mirror_percent=0), lambda c: not c.mirroring),
        (with_(mirror_percent=12.5), lambda c: c.info_labels()["mirror_percent"] == "12.5"),
        (with_(mirror_percent=100.0), lambda c: c.info_labels()["mirror_percent"] == "100"),
        (json.dumps({"live": None}), lambda c: c.live is None),
        (
            with_(live={"url": "http://live.ns.svc:8080/", "version": "1"}),
            lambda c: c.live.url == "http://live.ns.svc:8080",
        ),
        (
            with_(candidate={"url": "https://h/prefix", "version": "2"}),
            lambda c: c.candidate.url == "https://h/prefix",
        ),
        (with_(tolerance={"relative": 0}), lambda c: c.tolerance.absolute == 10000),
        (json.dumps({"live": LIVE}), lambda c: c.timeouts.live_seconds == 2.0),
        (json.dumps({"live": LIVE}), lambda c: c.slice_field is None),
        (with_(slice_field=None), lambda c: c.slice_field is None),
        (with_(slice_field="Neighborhood"), lambda c: c.slice_field == "Neighborhood"),
        (with_(slice_field="a.b-c_9"), lambda c: c.slice_field == "a.b-c_9"),
        (with_(slice_field="x" * 64), lambda c: c.slice_field == "x" * 64),
    ],
)
def test_valid_configs(doc: str, check: Any) -> None:
    assert check(parse_config(doc))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("{}", "live: Field required"),
        (with_(mirror_percent=101), "mirror_percent: Input should be less than or equal to 100"),
        (with_(mirror_percent=-1), "mirror_percent"),
        (with_(mirror_percent="50"), "mirror_percent: Input should be a valid number"),
        (with_(mirror_percent=True), "mirror_percent"),
        (with_(live={"url": "ftp://x", "version": "1"}), "live.url"),
        (with_(live={"url": "127.0.0.1:8001", "version": "1"}), "live.url"),
        (with_(live={"url": "http://:8001", "version": "1"}), "live.url"),
        (with_(live={"url": "http://h:99999", "version": "1"}), "bad port"),
        (with_(live={"url": "http://h/?q=1", "version": "1"}), "query or fragment"),
        (with_(live={"url": "http://h", "version": ""}), "live.version"),
        (with_(live={"url": "http://h", "version": 1}), "live.version"),
        (with_(live={"url": "http://h"}), "live.version: Field required"),
        (with_(candidate={"url": 5, "version": "2"}), "candidate.url"),
        (with_(tolerance={"relative": -0.1}), "tolerance.relative"),
        (with_(tolerance={"absolute": -1}), "tolerance.absolute"),
        (with_(tolerance={"absolute": "10"}), "tolerance.absolute"),
        (with_(timeouts={"live_seconds": 0}), "timeouts.live_seconds"),
        (with_(timeouts={"candidate_seconds": -2}), "timeouts.candidate_seconds"),
        (with_(mirror_percents=5), "mirror_percents: Extra inputs are not permitted"),
        (with_(live={**LIVE, "weight": 1}), "live.weight"),
        (with_(slice_field="Sale Type"), "slice_field: Value error, must be 1-64 letters"),
        (with_(slice_field=""), "slice_field: Value error, must be 1-64 letters"),
        (with_(slice_field="x" * 65), "slice_field: Value error, must be 1-64 letters"),
        (with_(slice_field="Région"), "got 'Région'"),
        (with_(slice_field='a"b'), "slice_field"),
        (with_(slice_field="prediction"), "'prediction' is a slice the router always exports"),
        (with_(slice_field="all"), "slice_field: Value error, 'all' is a slice"),
        (with_(slice_field=5), "slice_field: Input should be a valid string"),
        (with_(slice_field=["a"]), "slice_field"),
    ],
)
def test_invalid_configs_say_what_is_wrong(doc: str | bytes, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    assert message in str(caught.value)


def test_info_labels_of_a_config_without_candidate() -> None:
    labels = RoutingConfig.model_validate({"live": LIVE}).info_labels()
    assert labels == {
        "live_url": "http://127.0.0.1:8001",
        "live_version": "1.0.0",
        "candidate_url": "",
        "candidate_version": "",
        "mirror_percent": "100",
        "weight": "0",
    }


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNDERSTUDY_ROUTER_CONFIGMAP", "understudy/house-prices-router")
    monkeypatch.setenv("UNDERSTUDY_ROUTER_MIRROR_WORKERS", "3")
    settings = RouterSettings()
    assert settings.configmap_ref == ("understudy", "house-prices-router")
    assert settings.mirror_workers == 3
    assert settings.config_file is None


@pytest.mark.parametrize(
    "env",
    [
        {"UNDERSTUDY_ROUTER_CONFIGMAP": "no-namespace"},
        {"UNDERSTUDY_ROUTER_CONFIGMAP": "a/b/c"},
        {"UNDERSTUDY_ROUTER_CONFIGMAP": "a/b", "UNDERSTUDY_ROUTER_CONFIG_FILE": "/tmp/x.json"},
        {"UNDERSTUDY_ROUTER_MIRROR_WORKERS": "0"},
        {"UNDERSTUDY_ROUTER_MIRROR_QUEUE_SIZE": "-1"},
    ],
)
def test_bad_settings_fail_at_start(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError):
        RouterSettings()
