"""spec.notifications end to end: the operator process (with its ServiceAccount's RBAC)
against a real API server, the webhook URL in a real Secret, and real HTTP receivers on
127.0.0.1 (tests/support/webhook.py): one that answers, one that fails twice and then
recovers, one that hangs. The first version of a rollout goes live without Prometheus
(Pending → Deploying → Promoted), which is enough phase changes to notify about.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import K8sCluster
from tests.support.dataplane import MODEL
from tests.support.operator import OperatorFactory
from tests.support.processes import free_port
from tests.support.webhook import Receiver
from understudy_operator.core import parse_spec
from understudy_operator.core.notifications import NotifyOn
from understudy_operator.kube import GROUP, PLURAL, VERSION
from understudy_operator.kube.resources import RolloutRef
from understudy_operator.metrics import OperatorMetrics
from understudy_operator.notifier import Delivery, Notifier

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

# Retries: 4 attempts, 1s, 2s, 4s apart; nothing here queries Prometheus (first versions).
NOTIFIER_ENV = {
    "UNDERSTUDY_OPERATOR_NOTIFICATION_ATTEMPTS": "4",
    "UNDERSTUDY_OPERATOR_NOTIFICATION_BACKOFF_SECONDS": "1",
}
NO_PROMETHEUS = "http://127.0.0.1:9"


class Cluster:
    def __init__(self, cluster: K8sCluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        api = cluster.api_client()
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    def secret(self, name: str, url: str) -> None:
        r = self.cluster.kubectl(
            "create", "secret", "generic", name, f"--from-literal=url={url}", "-n", self.namespace
        )
        assert r.returncode == 0, r.stderr

    def apply(self, name: str, hooks: list[dict[str, Any]]) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelRollout",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "model": {"name": MODEL, "version": "1.0.0", "image": "model-api:1.0.0"},
                "notifications": hooks,
            },
        }
        r = self.cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
        assert r.returncode == 0, r.stderr

    def phase(self, name: str) -> str | None:
        obj: Any = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return (obj.get("status") or {}).get("phase")

    def events(self, name: str, reason: str) -> list[Any]:
        return self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name},reason={reason}"
        ).items


def hook(name: str, secret: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "urlFrom": {"secretKeyRef": {"name": secret, "key": "url"}}, **extra}


def wait(what: str, predicate: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.25)  # polling interval
    raise AssertionError(f"timed out waiting for {what}")


def notifications_total(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "understudy_operator_notifications":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["outcome"]] = sample.value
    return out


@pytest.fixture
def cluster(crd: K8sCluster, namespace: str) -> Cluster:
    return Cluster(crd, namespace)


def test_phase_changes_reach_a_json_and_a_slack_webhook_and_503s_are_retried(
    cluster: Cluster, start_operator: OperatorFactory
) -> None:
    port = free_port()
    with Receiver() as ok, Receiver(fail_first=2) as flaky:
        cluster.secret("ok-hook", ok.url)
        cluster.secret("flaky-hook", flaky.url)
        operator = start_operator(
            namespace=cluster.namespace,
            prometheus_url=NO_PROMETHEUS,
            env={**NOTIFIER_ENV, "UNDERSTUDY_OPERATOR_METRICS_PORT": str(port)},
        )
        cluster.apply(
            "house-prices",
            [
                hook("team", "ok-hook", events=["PhaseChanged"]),
                hook("chat", "flaky-hook", format="slack"),
            ],
        )
        wait("Promoted", lambda: cluster.phase("house-prices") == "Promoted")
        promoted = ok.wait_for(
            "the Promoted notification",
            lambda r: [b for b in r.delivered if b["phase"] == "Promoted"],
        )[0]
        seen = f"delivered {ok.delivered}; operator log: {operator.logs()[-4000:]}"
        # Usually Pending -> Deploying -> Promoted. When the first status write loses to
        # kopf's own write (409) and the retry finds the Deployment already rolled out
        # (kwok's pods become Ready at once), Pending -> Promoted is the only stored change
        # and so the only notification.
        phases = [b["phase"] for b in ok.delivered]
        assert phases in (["Deploying", "Promoted"], ["Promoted"]), seen
        assert promoted["event"] == "PhaseChanged"
        assert promoted["previousPhase"] == ("Deploying" if len(phases) == 2 else "Pending")
        assert promoted["namespace"] == cluster.namespace
        assert promoted["rollout"] == "house-prices"
        assert promoted["stableVersion"] == "1.0.0"
        assert promoted["message"] == "1.0.0 is live (first version, no shadow analysis)"
        # The flaky one answered 503 twice, then 200: every notification still arrives, and
        # in the order made (the second waited for the first's retries).
        texts = flaky.wait_for(
            "the Slack notifications",
            lambda r: [b["text"] for b in r.delivered] if len(r.delivered) == len(phases) else None,
        )
        if len(phases) == 2:
            assert f"*{cluster.namespace}/house-prices*: Pending → *Deploying*" in texts[0], seen
        assert "→ *Promoted*\n1.0.0 is live" in texts[-1], seen
        assert len(flaky.attempts) == 2 + len(phases)  # 2 refused, then each delivered once
        assert flaky.attempts[0] in flaky.delivered  # the same body retried
        outcomes = wait(
            "the metric",
            lambda: (m := notifications_total(port)).get("delivered") == 2 * len(phases) and m,
        )
        assert outcomes.get("failed", 0) == 0
        assert not cluster.events("house-prices", "NotificationFailed")


def test_a_hanging_webhook_delays_neither_its_rollout_nor_others_and_is_recorded(
    cluster: Cluster, start_operator: OperatorFactory
) -> None:
    port = free_port()
    with Receiver(hang=True) as hanging, Receiver() as ok:
        cluster.secret("hanging-hook", hanging.url)
        cluster.secret("ok-hook", ok.url)
        operator = start_operator(
            namespace=cluster.namespace,
            prometheus_url=NO_PROMETHEUS,
            env={**NOTIFIER_ENV, "UNDERSTUDY_OPERATOR_METRICS_PORT": str(port)},
        )
        # Each hanging delivery takes 4 attempts of 5s plus 1+2+4s of backoff: ~27s.
        cluster.apply("stuck", [hook("slow", "hanging-hook", timeout="5s")])
        cluster.apply("other", [hook("team", "ok-hook")])
        wait("both live", lambda: cluster.phase("stuck") == cluster.phase("other") == "Promoted")
        ok.wait_for(
            "the other rollout's Promoted notification",
            lambda r: any(b["phase"] == "Promoted" for b in r.delivered),
        )
        # By now the stuck rollout went through two phases while its first notification
        # was still being attempted: the reconcile did not wait for the webhook.
        assert hanging.attempts, "the hanging webhook was never called"
        assert not cluster.events("stuck", "NotificationFailed")
        failed = wait(
            "the NotificationFailed event", lambda: cluster.events("stuck", "NotificationFailed")
        )
        assert failed[0].type == "Warning"
        assert "webhook slow not notified of PhaseChanged: no answer within 5s" in (
            failed[0].message
        )
        assert "(after 4 attempts)" in failed[0].message
        outcomes = wait("the metric", lambda: (m := notifications_total(port)).get("failed") and m)
        assert outcomes["failed"] >= 1
        # The other rollout's phase changes, each delivered once and counted once. (Under
        # load a first reconcile may be retried after the Deployment became ready, and
        # Pending -> Promoted is then its only change.)
        phases = [b["phase"] for b in ok.delivered]
        assert phases in (["Deploying", "Promoted"], ["Promoted"]), operator.logs()[-4000:]
        assert outcomes["delivered"] == len(ok.delivered)
        assert not cluster.events("other", "NotificationFailed")


def test_one_rollouts_notifications_to_one_webhook_arrive_in_order_despite_retries(
    cluster: Cluster,
) -> None:
    """The notifier in this process (its Secret read from the real API server): the first
    notification is refused once and retried after 3 s; the second, made meanwhile, waits
    for it instead of overtaking it. Another rollout's notification to the same receiver
    does not wait."""
    with Receiver(fail_first=1) as flaky:
        cluster.secret("flaky-hook", flaky.url)
        (webhook,) = parse_spec(
            {
                "model": {"name": MODEL, "version": "1.0.0"},
                "notifications": [hook("chat", "flaky-hook")],
            }
        ).notifications
        notifier = Notifier(
            api=cluster.cluster.api_client(),
            metrics=OperatorMetrics(CollectorRegistry()),
            attempts=3,
            backoff_seconds=3,  # the other rollout has 3 s to overtake the retry
            max_pending=10,
        ).start()
        try:
            ref = RolloutRef(namespace=cluster.namespace, name="house-prices", uid="u-1")
            other = RolloutRef(namespace=cluster.namespace, name="other", uid="u-2")

            def send(to: RolloutRef, phase: str) -> None:
                notifier._submit(
                    Delivery(
                        ref=to,
                        notification=webhook,
                        event=NotifyOn.PHASE_CHANGED,
                        body={"phase": phase, "rollout": to.name},
                    )
                )

            send(ref, "Deploying")
            flaky.wait_for("the first attempt", lambda r: r.attempts)
            send(ref, "Promoted")
            send(other, "Deploying")
            flaky.wait_for("all three", lambda r: len(r.delivered) == 3)
        finally:
            notifier.stop()
    delivered = [(b["rollout"], b["phase"]) for b in flaky.delivered]
    # The other rollout went first: it did not wait behind house-prices' retry.
    assert delivered[0] == ("other", "Deploying")
    assert [p for r, p in delivered if r == "house-prices"] == ["Deploying", "Promoted"]
    assert len(flaky.attempts) == 4  # one refused, three delivered
