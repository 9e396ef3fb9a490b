"""The operator's probes (health.py) over real HTTP: /readyz for a single operator, a
leader and a standby; /healthz fails once the leader-election loop has stopped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client

from understudy_operator.health import Health, serve
from understudy_operator.kube.lease import LeaderElector, LeaseTiming


@pytest.fixture
def elector() -> LeaderElector:
    """Never run here: the tests set the state its loop would."""
    return LeaderElector(
        api=client.ApiClient(),
        namespace="ns",
        name="op",
        identity="me",
        timing=LeaseTiming(duration=15, renew_deadline=10, retry=2),
        on_lost=lambda: None,
    )


@pytest.fixture
def probe() -> Iterator[tuple[Health, str]]:
    health = Health(watching=threading.Event(), elector=None)
    server = serve(health, host="127.0.0.1", port=0)
    yield health, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def get(url: str) -> tuple[int, object]:
    response = httpx.get(url, timeout=5)
    return response.status_code, response.json()


def test_a_single_operator_is_ready_once_kopf_watches(probe: tuple[Health, str]) -> None:
    health, url = probe
    assert get(f"{url}/readyz") == (503, {"role": "single", "watching": False})
    health.watching.set()
    assert get(f"{url}/readyz") == (200, {"role": "single", "watching": True})
    assert get(f"{url}/healthz") == (200, {"status": "ok"})
    assert get(f"{url}/nope")[0] == 404


def test_a_standby_is_ready_while_it_reads_the_lease_and_a_leader_once_it_watches(
    probe: tuple[Health, str], elector: LeaderElector
) -> None:
    health, url = probe
    health.elector = elector
    assert get(f"{url}/readyz")[0] == 503  # has not read the Lease yet
    elector.last_contact = time.monotonic()
    assert get(f"{url}/readyz") == (
        200,
        {"role": "standby", "watching": False, "leaseReadable": True},
    )
    elector.last_contact = time.monotonic() - 15  # a whole lease duration without the API
    assert get(f"{url}/readyz")[0] == 503
    elector.leading.set()
    assert get(f"{url}/readyz") == (503, {"role": "leader", "watching": False})
    health.watching.set()
    assert get(f"{url}/readyz") == (200, {"role": "leader", "watching": True})


def test_liveness_fails_when_the_election_loop_died(probe: tuple[Health, str]) -> None:
    health, url = probe
    health.loop = threading.Thread(target=lambda: None)
    health.loop.start()
    health.loop.join()
    assert get(f"{url}/healthz") == (503, {"status": "leader election loop stopped"})
