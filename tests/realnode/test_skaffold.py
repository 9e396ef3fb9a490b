"""skaffold against the real node, without Docker: `skaffold run` and one `skaffold dev`
rebuild cycle with the "realnode" profile (scripts/skaffold-podman.sh). The profile's
custom builder (`scripts/images.sh skaffold`) builds the three images with podman from the
repository's Dockerfiles and imports each into the node's containerd under the
NAME:<image id> tag that skaffold deploys; the chart is deployed with helm.

The kind workflow (`skaffold dev` on a kind context, Docker) is what users with Docker run;
it is not exercised here (no Docker engine on these machines)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import K8sCluster
from tests.support.realnode import (
    REAL_NODE_MARKS,
    REPO,
    SCRIPTS,
    pod_ready,
    podman,
    pods,
    wait_until,
)

pytestmark = list(REAL_NODE_MARKS)

NAMESPACE = "understudy"  # skaffold.yaml's release namespace
RELEASE = "app.kubernetes.io/instance=understudy"
# component label -> skaffold artifact; the live model-api pods are the operator's, made
# from the model-api image skaffold hands to the chart's ModelRollout.
ARTIFACTS = {
    "operator": "understudy/operator",
    "router": "understudy/shadow-router",
    "live": "understudy/model-api",
}
# what the dev test changes (in a copy of the repository): a file the router image installs
ROUTER_SOURCE = Path("services/shadow-router/src/understudy_router/__init__.py")


def _env(cluster: K8sCluster) -> dict[str, str]:
    return {**cluster.env, "KUBECONFIG": str(cluster.kubeconfig)}


def _running(cluster: K8sCluster) -> dict[str, list[dict[str, Any]]]:
    """component -> its running pods (chart's and operator's) in the release namespace."""
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods(cluster, NAMESPACE):
        if pod["status"].get("phase") != "Running" or pod["metadata"].get("deletionTimestamp"):
            continue
        component = pod["metadata"]["labels"].get("app.kubernetes.io/component", "")
        out.setdefault(component, []).append(pod)
    return out


def _tags_used(output: str) -> dict[str, str]:
    """skaffold's own "Tags used in deployment:" lines: artifact -> deployed tag."""
    return dict(re.findall(r"^ - (understudy/[\w-]+) -> (\S+)$", output, re.M))


def _working_containers() -> set[str]:
    return set(podman("ps", "--external", "--all", "--quiet", "--no-trunc").split())


def _assert_runs_what_skaffold_built(pod: dict[str, Any], tag: str) -> None:
    """The pod runs ``tag`` (NAME:<image id>), the image the profile's builder made in
    podman, and the container's image is that very image (same id)."""
    (container,) = pod["spec"]["containers"]
    assert container["image"] == tag, (container["image"], tag)
    image_id = tag.rsplit(":", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{64}", image_id), tag
    built = podman(
        "image", "inspect", "--format", '{{.Id}} {{index .Labels "dev.understudy.built-by"}}', tag
    )
    assert built == f"{image_id} skaffold", f"{tag} in podman: {built}"
    (status,) = pod["status"]["containerStatuses"]
    assert status["ready"], status
    assert status["imageID"].endswith(f"sha256:{image_id}"), (status["imageID"], tag)


@pytest.fixture
def skaffold_cleanup(real_node: K8sCluster) -> Iterator[None]:
    yield
    subprocess.run(
        ["bash", str(SCRIPTS / "skaffold-podman.sh"), "delete"],
        capture_output=True,
        env=_env(real_node),
        timeout=600,
        check=False,
    )
    real_node.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s")


def test_skaffold_run_builds_with_podman_and_deploys_on_the_real_node(
    real_node: K8sCluster, skaffold_cleanup: None
) -> None:
    containers_before = _working_containers()
    start = time.monotonic()
    r = subprocess.run(
        ["bash", str(SCRIPTS / "skaffold-podman.sh"), "run", "--status-check=true"],
        capture_output=True,
        text=True,
        env=_env(real_node),
        timeout=1800,
        check=False,
    )
    print(f"skaffold run: {time.monotonic() - start:.0f} s")
    if r.returncode != 0:
        pods_now = real_node.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide").stdout
        raise AssertionError(f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{pods_now}")
    tags = _tags_used(r.stdout)
    assert sorted(tags) == sorted(ARTIFACTS.values()), r.stdout[-3000:]

    # the live model-api pods come from the operator, after the chart's pods are Ready
    def all_ready() -> dict[str, list[dict[str, Any]]] | None:
        found = _running(real_node)
        ready = all(found.get(c) and all(map(pod_ready, found[c])) for c in ARTIFACTS)
        return found if ready else None

    running = wait_until(all_ready, timeout=180, what=f"Ready pods of {sorted(ARTIFACTS)}")
    for component, artifact in ARTIFACTS.items():
        for pod in running[component]:
            _assert_runs_what_skaffold_built(pod, tags[artifact])
    everything = pods(real_node, NAMESPACE)
    assert all(pod_ready(p) for p in everything if p["status"].get("phase") != "Succeeded")
    assert _working_containers() <= containers_before, "build containers left behind"


def _repository_copy(dest: Path) -> Path:
    """The repository's files as git sees them (tracked and untracked, not ignored)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_skaffold_dev_rebuilds_and_redeploys_after_a_change(
    real_node: K8sCluster, skaffold_cleanup: None, tmp_path: Path
) -> None:
    repo = _repository_copy(tmp_path / "repo")
    log = tmp_path / "skaffold-dev.log"
    containers_before = _working_containers()
    start = time.monotonic()
    with log.open("w") as out:
        dev = subprocess.Popen(
            [
                "bash",
                str(repo / "scripts" / "skaffold-podman.sh"),
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
        print(f"skaffold dev, first deploy: {time.monotonic() - start:.0f} s")
        first = _tags_used(log.read_text())
        (router,) = _running(real_node)["router"]
        _assert_runs_what_skaffold_built(router, first["understudy/shadow-router"])

        changed = time.monotonic()
        source = repo / ROUTER_SOURCE
        source.write_text(f"{source.read_text()}# changed by {__name__} at {time.time()}\n")

        def rolled() -> str | None:
            tags = _tags_used(log.read_text()).get("understudy/shadow-router")
            if dev.poll() is not None:
                raise AssertionError(f"skaffold dev ended:\n{log.read_text()[-4000:]}")
            routers = _running(real_node).get("router", [])
            if tags == first["understudy/shadow-router"] or len(routers) != 1:
                return None
            return tags if routers[0]["spec"]["containers"][0]["image"] == tags else None

        new = wait_until(rolled, timeout=900, what="the rebuilt router deployed", poll=2)
        print(f"skaffold dev, change to the new router running: {time.monotonic() - changed:.0f} s")
        (router,) = _running(real_node)["router"]
        _assert_runs_what_skaffold_built(router, new)
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGINT)  # skaffold dev deletes what it deployed
            try:
                dev.wait(timeout=300)
            except subprocess.TimeoutExpired:
                os.killpg(dev.pid, signal.SIGKILL)
                dev.wait()
    assert dev.returncode == 0, log.read_text()[-4000:]
    releases = real_node.helm("list", "-n", NAMESPACE, "-q", timeout=60)
    assert releases.stdout.strip() == "", "skaffold dev left its release installed"
    assert _working_containers() <= containers_before, "build containers left behind"
