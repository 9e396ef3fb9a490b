"""Leader election (kube/lease.py): the rules as tables, and two electors in this process
against the real API server (marker cluster): hand-over on release, and a holder that sees
someone else in its Lease gives up at once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from pydantic import ValidationError

from tests.support.cluster import K8sCluster
from understudy_operator.kube.lease import LeaderElector, LeaseTiming, Observed
from understudy_operator.settings import OperatorSettings


@pytest.mark.parametrize(
    ("holder", "seen_ago", "free"),
    [
        ("other", 0.0, False),  # just renewed by someone else
        ("other", 14.9, False),  # not yet a whole duration
        ("other", 15.0, True),  # unchanged for the duration: expired
        ("", 0.0, True),  # released
        ("me", 0.0, True),  # ours: renew
    ],
)
def test_a_lease_is_free_when_ours_released_or_unchanged_for_its_duration(
    holder: str, seen_ago: float, free: bool
) -> None:
    observed = Observed(holder=holder, version="1", at=100.0)
    assert observed.free_for("me", now=100.0 + seen_ago, duration=15) is free


@pytest.mark.parametrize(
    ("duration", "deadline", "retry"), [(15, 15, 2), (15, 10, 10), (15, 16, 2), (15, 10, 0)]
)
def test_unsafe_timings_are_refused_at_start(duration: int, deadline: float, retry: float) -> None:
    with pytest.raises(ValueError, match="retry < renew deadline < lease duration"):
        LeaseTiming(duration=duration, renew_deadline=deadline, retry=retry)
    env = {
        "lease_duration_seconds": duration,
        "lease_renew_deadline_seconds": deadline,
        "lease_retry_seconds": retry,
    }
    with pytest.raises(ValidationError):
        OperatorSettings(**env)


def test_settings_name_this_replica() -> None:
    assert OperatorSettings().identity  # host-pid unless the manifests pass the pod name
    assert OperatorSettings(identity="pod-a").identity == "pod-a"


# -- against the real API server ----------------------------------------------------------

# Short for a test, but a renew deadline of 2 s was too short beside the parallel suite: the
# API server's replies took over 2 s there, and the leader lost its Lease mid-test.
FAST = LeaseTiming(duration=8, renew_deadline=6, retry=0.5)


@pytest.fixture
def lease_namespace(k8s_cluster: K8sCluster) -> Iterator[str]:
    name = f"lease-{uuid.uuid4().hex[:6]}"
    assert k8s_cluster.kubectl("create", "namespace", name).returncode == 0
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false")


def _elector(
    cluster: K8sCluster, namespace: str, identity: str, lost: threading.Event
) -> LeaderElector:
    return LeaderElector(
        api=cluster.api_client(),
        namespace=namespace,
        name="op",
        identity=identity,
        timing=FAST,
        on_lost=lost.set,
    )


def _leader(cluster: K8sCluster, namespace: str, lost: threading.Event) -> LeaderElector:
    """Elector "a", running in a thread, once it holds the (new) Lease."""
    a = _elector(cluster, namespace, "a", lost)
    threading.Thread(target=a.run, daemon=True).start()
    assert a.leading.wait(10)
    return a


def _holder(cluster: K8sCluster, namespace: str) -> client.V1LeaseSpec:
    lease = client.CoordinationV1Api(cluster.api_client()).read_namespaced_lease("op", namespace)
    assert lease.spec is not None
    return lease.spec


@pytest.mark.cluster
def test_one_leader_and_a_released_lease_goes_to_the_standby(
    k8s_cluster: K8sCluster, lease_namespace: str
) -> None:
    lost = threading.Event()
    a = _leader(k8s_cluster, lease_namespace, lost)
    b = _elector(k8s_cluster, lease_namespace, "b", lost)
    threading.Thread(target=b.run, daemon=True).start()
    # b keeps seeing a renew: it stays a standby over more than a lease duration.
    time.sleep(FAST.duration + 1)  # longer than a lease: b would have taken an expired one
    assert not b.leading.is_set()
    assert b.last_contact is not None  # it reads the Lease (its readiness)
    assert _holder(k8s_cluster, lease_namespace).holder_identity == "a"
    a.release()
    assert b.leading.wait(FAST.duration)  # it takes a released Lease at its next retry
    spec = _holder(k8s_cluster, lease_namespace)
    assert (spec.holder_identity, spec.lease_transitions) == ("b", 1)
    b.release()
    assert not lost.is_set()


@pytest.mark.cluster
def test_a_leader_that_finds_another_holder_gives_up_at_once(
    k8s_cluster: K8sCluster, lease_namespace: str
) -> None:
    lost = threading.Event()
    a = _leader(k8s_cluster, lease_namespace, lost)
    # Someone (an admin, a split brain) writes another holder into the Lease.
    api = client.CoordinationV1Api(k8s_cluster.api_client())
    api.patch_namespaced_lease("op", lease_namespace, {"spec": {"holderIdentity": "intruder"}})
    assert lost.wait(FAST.renew_deadline)
    assert not a.leading.is_set()
    assert _holder(k8s_cluster, lease_namespace).holder_identity == "intruder"
