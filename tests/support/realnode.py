"""The real node for tests marked ``realnode``: images built by scripts/images.sh, a
control plane plus one real kubelet node started by scripts/realnode.sh, and the helpers
the tests use on it (helm installs, client pods inside the cluster, Prometheus queries).

Host state (an address on lo, the pod bridge, iptables rules, cgroups, mounts) is changed
by scripts/realnode.sh under a lock and always restored by ``realnode.sh down``, which the
session fixture runs in its finalizer. One test session at a time per machine: the fixture
holds ``/run/understudy/realnode-session.lock`` for the whole session.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import K8sCluster

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
CHART = REPO / "helm" / "understudy"
KIND_VALUES = CHART / "ci" / "kind-values.yaml"
TRAFFIC_SCRIPT = SCRIPTS / "node" / "traffic.py"
SESSION_LOCK = Path("/run/understudy/realnode-session.lock")
NODE_NAME = "realnode"
CLUSTER_NAME = "realnode"


def model_api_pods(role: str) -> str:
    """The label selector of the chart's or operator's model-api pods in ``role``."""
    return f"app.kubernetes.io/name=model-api,app.kubernetes.io/component={role}"


# Every real-node test module's marks. The first test also waits for the session's node
# (image import included) on two busy cores, hence the long timeout.
REAL_NODE_MARKS = (
    pytest.mark.realnode,
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
)
# The images scripts/images.sh builds (docker.io/ is what the kubelet normalises to).
MODEL_API = "understudy/model-api"
CLIENT_IMAGE = f"{MODEL_API}:bare"  # has Python: runs the in-cluster client scripts

# What every real-node install sets on top of the kind values: no log pipeline (the
# Elasticsearch, Kibana and Fluent Bit images cannot be made here) and images never pulled.
REALNODE_VALUES: dict[str, Any] = {
    "logging": {"enabled": False},
    "operator": {"image": {"pullPolicy": "Never"}},
    "router": {"image": {"pullPolicy": "Never"}},
}


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(extra or {})}


def run_script(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _in_podman_env(
    tool: str, args: tuple[str, ...], env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """``tool ARGS`` with scripts/podman-env.sh sourced first (podman's store of the tests)."""
    return subprocess.run(
        ["bash", "-c", f'source {SCRIPTS}/podman-env.sh && {tool} "$@"', tool, *args],
        capture_output=True,
        text=True,
        env=env or script_env(),
        check=False,
    )


def podman(*args: str, tool: str = "podman") -> str:
    """``podman ARGS`` (or ``buildah``) on the store of scripts/podman-env.sh: its stdout,
    stripped; a non-zero exit fails the test with its stderr."""
    r = _in_podman_env(tool, args, None)
    assert r.returncode == 0, f"{tool} {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def image_exists(ref: str, env: dict[str, str] | None = None) -> bool:
    """Whether podman's store has ``ref``."""
    r = _in_podman_env("podman", ("image", "exists", ref), env)
    assert r.returncode in (0, 1), f"podman image exists {ref}: exit {r.returncode} {r.stderr}"
    return r.returncode == 0


def build_images(env: dict[str, str]) -> None:
    """scripts/images.sh build, unless every image is there (`make test` has just run
    `make images`; after a code change outside `make test`, run `make images`)."""
    listed = run_script(str(SCRIPTS / "images.sh"), "list", env=env, timeout=60)
    refs = listed.stdout.split()
    if refs and all(image_exists(ref, env) for ref in refs):
        return
    r = run_script(str(SCRIPTS / "images.sh"), "build", env=env, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"scripts/images.sh build failed:\n{r.stderr[-4000:]}")


class SessionLock:
    """One real-node test session per machine (blocks while another one runs)."""

    def __init__(self, path: Path = SESSION_LOCK) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)

    def __enter__(self) -> SessionLock:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def real_node_session(helm_home: Path) -> Iterator[K8sCluster]:
    """Build the images, start the node, yield the cluster, always tear it down."""
    env = script_env(
        {
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }
    )
    build_images(env)
    tools = ok(run_script(str(SCRIPTS / "k8s-tools.sh"), "node", "skaffold", env=env, timeout=3600))
    bin_dir = Path(tools.strip().splitlines()[-1])
    with SessionLock():
        up = run_script(str(SCRIPTS / "realnode.sh"), "up", CLUSTER_NAME, env=env, timeout=900)
        try:
            if up.returncode != 0:
                raise RuntimeError(f"scripts/realnode.sh up failed:\n{up.stderr[-6000:]}")
            yield K8sCluster(
                kubeconfig=Path(up.stdout.strip().splitlines()[-1]),
                bin_dir=bin_dir,
                name=CLUSTER_NAME,
                owned=True,
                env={**env, "PATH": f"{bin_dir}:{env.get('PATH', '')}"},
            )
        finally:
            down = run_script(
                str(SCRIPTS / "realnode.sh"), "down", CLUSTER_NAME, env=env, timeout=600
            )
            if down.returncode != 0:
                print(f"warning: realnode.sh down failed:\n{down.stderr[-2000:]}")


def tree_operator_values(env: dict[str, str]) -> dict[str, Any]:
    """Chart values that run the operator of this working tree on the running node.

    The session's images are built once (``build_images``) and may predate the tree; a test
    of the operator's own behaviour builds it again, under a tag named by its inputs, through
    ``scripts/images.sh skaffold`` (podman's layer cache: the dependency layer is reused) and
    that imports it into the node as ``understudy/operator:<image id>``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "operator", "libs", "uv.lock"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    digest = hashlib.sha256()
    for name in sorted(listed):
        if (REPO / name).is_file():
            digest.update(name.encode() + b"\0" + (REPO / name).read_bytes())
    ref = f"docker.io/understudy/operator:tree-{digest.hexdigest()[:16]}"
    ok(
        run_script(
            str(SCRIPTS / "images.sh"),
            "skaffold",
            "operator/Dockerfile",
            env={**env, "IMAGE": ref},
            timeout=1800,
        )
    )
    inspect = f"source {SCRIPTS}/podman-env.sh && podman image inspect --format '{{{{.Id}}}}' {ref}"
    image_id = ok(
        subprocess.run(
            ["bash", "-c", inspect], env=env, capture_output=True, text=True, check=False
        )
    ).strip()
    return {"operator": {"image": {"tag": image_id, "pullPolicy": "Never"}}}


# -- waiting ---------------------------------------------------------------------------------


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, poll: float = 1.0) -> Any:
    """Poll ``check`` until it returns something truthy; its last value names the failure."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last and last is not None:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


# -- installs --------------------------------------------------------------------------------


def new_namespace(cluster: K8sCluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    ok(cluster.kubectl("create", "namespace", name))
    return name


def helm_install(
    cluster: K8sCluster,
    *,
    release: str,
    namespace: str,
    values_dir: Path,
    values: dict[str, Any] | None = None,
    timeout: str = "5m",
) -> None:
    """helm install --wait with the kind values + REALNODE_VALUES (+ ``values``)."""
    files = ["-f", str(KIND_VALUES)]
    for i, extra in enumerate((REALNODE_VALUES, values or {})):
        path = values_dir / f"{release}-{i}.yaml"
        path.write_text(yaml.safe_dump(extra))
        files += ["-f", str(path)]
    r = cluster.helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        *files,
        "--wait",
        "--timeout",
        timeout,
        timeout=600,
    )
    if r.returncode != 0:
        pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout
        events = cluster.kubectl("get", "events", "-n", namespace).stdout
        raise AssertionError(f"helm install failed:\n{r.stderr}\n{pods}\n{events[-3000:]}")


def pods(cluster: K8sCluster, namespace: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", "pods", "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", selector]
    return list(json.loads(ok(cluster.kubectl(*args)))["items"])


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# -- inside the cluster ----------------------------------------------------------------------


def service_get(cluster: K8sCluster, namespace: str, service: str, path: str) -> Any:
    """GET through the API server's service proxy (the API server reaches the pod on the
    node's bridge); returns the decoded JSON."""
    raw = f"/api/v1/namespaces/{namespace}/services/{service}/proxy/{path.lstrip('/')}"
    return json.loads(ok(cluster.kubectl("get", "--raw", raw)))


def prometheus_query(cluster: K8sCluster, namespace: str, service: str, promql: str) -> list[Any]:
    from urllib.parse import quote

    answer = service_get(
        cluster, namespace, f"http:{service}:9090", f"api/v1/query?query={quote(promql)}"
    )
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def records_for_traffic(limit: int = 200) -> list[dict[str, Any]]:
    from understudy_model.data import holdout_records, load_ames, split_holdout

    return holdout_records(split_holdout(load_ames()), limit=limit)


def start_traffic(
    cluster: K8sCluster,
    *,
    namespace: str,
    url: str,
    requests: int,
    max_seconds: float,
    workers: int = 4,
    name: str = "traffic",
) -> str:
    """A client pod inside the cluster sending predictions to ``url`` (scripts/node/traffic.py);
    returns the pod name. Bounded by ``requests`` and ``max_seconds``."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-client", "namespace": namespace},
        "data": {
            "traffic.py": TRAFFIC_SCRIPT.read_text(),
            "records.json": json.dumps(records_for_traffic()),
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            # restricted Pod Security Standard: the client runs in restricted namespaces too
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "client",
                    "image": CLIENT_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["python", "/client/traffic.py"],
                    "args": [
                        f"--url={url}",
                        "--records=/client/records.json",
                        f"--requests={requests}",
                        f"--max-seconds={max_seconds}",
                        f"--workers={workers}",
                    ],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "client", "mountPath": "/client"}],
                }
            ],
            "volumes": [{"name": "client", "configMap": {"name": f"{name}-client"}}],
        },
    }
    docs = yaml.safe_dump_all([config, pod])
    ok(cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=docs))
    return name


def traffic_summary(cluster: K8sCluster, namespace: str, pod: str, timeout: float) -> Any:
    """Wait for the client pod to finish; its last stdout line (JSON)."""

    def finished() -> str | None:
        phase = ok(
            cluster.kubectl("get", "pod", pod, "-n", namespace, "-o", "jsonpath={.status.phase}")
        )
        return phase if phase in ("Succeeded", "Failed") else None

    wait_until(finished, timeout=timeout, what=f"client pod {pod}")
    logs = ok(cluster.kubectl("logs", pod, "-n", namespace, "-c", "client"))
    lines = [line for line in logs.splitlines() if line.startswith('{"sent"')]
    assert lines, logs[-3000:]
    return json.loads(lines[-1])


def traffic_progress(cluster: K8sCluster, namespace: str, pod: str) -> dict[str, Any]:
    """The running client pod's latest progress line: {"progress": {status: n}, "errors": ...}."""

    def latest() -> dict[str, Any] | None:
        logs = cluster.kubectl("logs", pod, "-n", namespace, "-c", "client").stdout
        lines = [line for line in logs.splitlines() if line.startswith('{"progress"')]
        return json.loads(lines[-1]) if lines else None

    return dict(wait_until(latest, timeout=30, what=f"progress of {pod}"))
