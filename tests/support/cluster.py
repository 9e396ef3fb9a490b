"""pytest plugin: a real Kubernetes control plane for tests marked ``cluster``.

Load it from tests/conftest.py with ``pytest_plugins = ["tests.support.cluster"]``.

The session-scoped ``k8s_cluster`` fixture yields a :class:`K8sCluster`:

* If ``UNDERSTUDY_KUBECONFIG`` is set (or ``KUBECONFIG`` together with
  ``UNDERSTUDY_USE_KUBECONFIG=1``), that cluster (kind, a real one, ...) is reused as is
  and never torn down.
* Otherwise ``scripts/k8s-tools.sh`` provides the pinned binaries (building them from the
  Go module proxy the first time: that takes a long while, so CI should run
  ``make k8s-tools`` before pytest), and ``scripts/cluster.sh up`` starts a kwokctl
  binary-runtime cluster with a unique name: real etcd, kube-apiserver,
  kube-controller-manager and kube-scheduler on 127.0.0.1, fake kwok nodes whose pods
  become Ready. It is deleted when the session ends.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
VERSIONS_FILE = SCRIPTS / "k8s-versions.env"

# How long to wait for a reused cluster's /readyz (an owned one is awaited by cluster.sh).
READY_TIMEOUT_S = 120.0
_OWNED_PREFIX = "ut"


def pinned_versions() -> dict[str, str]:
    """The versions pinned in scripts/k8s-versions.env, e.g. {"K8S_VERSION": "v1.36.3"}."""
    versions: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        m = re.match(r"^\s*([A-Z0-9_]+)=(\S+)", line)
        if m:
            versions[m.group(1)] = m.group(2).strip("\"'")
    return versions


@dataclass
class K8sCluster:
    """Handle on a running cluster for tests."""

    kubeconfig: Path
    bin_dir: Path | None
    name: str | None = None
    owned: bool = False
    env: dict[str, str] = field(default_factory=dict)
    #: the pins of scripts/k8s-versions.env (K8S_VERSION, ETCD_VERSION, ...)
    versions: dict[str, str] = field(default_factory=pinned_versions)

    def _tool(self, name: str) -> str:
        if self.bin_dir is not None and (self.bin_dir / name).exists():
            return str(self.bin_dir / name)
        found = shutil.which(name)
        if found is None:
            raise FileNotFoundError(f"{name} not found (run scripts/k8s-tools.sh)")
        return found

    def _run(
        self, tool: str, args: tuple[str, ...], input: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self._tool(tool), *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; never raises on a non-zero exit."""
        return self._run("kubectl", ("--kubeconfig", str(self.kubeconfig), *args), input, timeout)

    def helm(
        self, *args: str, input: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run helm against this cluster; never raises on a non-zero exit."""
        return self._run("helm", ("--kubeconfig", str(self.kubeconfig), *args), input, timeout)

    def install_crd(self, path: Path) -> None:
        """Apply a CRD for real (a dry run cannot create a CRD and an object of it at once)
        and wait until it is served."""
        import yaml

        applied = self.kubectl("apply", "--server-side", "-f", str(path))
        assert applied.returncode == 0, applied.stderr
        crd = yaml.safe_load(path.read_text())["metadata"]["name"]
        ready = self.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
        assert ready.returncode == 0, ready.stderr

    def api_client(self) -> Any:
        """A fresh ``kubernetes.client.ApiClient`` configured from the kubeconfig."""
        from kubernetes import config as k8s_config

        return k8s_config.new_client_from_config(config_file=str(self.kubeconfig))

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            r = self.kubectl("get", "--raw", "/readyz", timeout=30)
            if r.returncode == 0 and r.stdout.strip() == "ok":
                return
            last = (r.stderr or r.stdout).strip()
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster {self.kubeconfig} not ready: {last}")
            time.sleep(0.5)


def _script(
    *args: str, env: dict[str, str], timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_clusters(bin_dir: Path, env: dict[str, str]) -> None:
    """Delete clusters left by earlier sessions that died before their teardown."""
    cache = Path(env.get("UNDERSTUDY_CACHE") or Path.home() / ".cache" / "understudy")
    kwok_env = {**env, "KWOK_WORKDIR": str(cache / "kwok")}
    r = subprocess.run(
        [str(bin_dir / "kwokctl"), "get", "clusters"],
        capture_output=True,
        text=True,
        env=kwok_env,
        check=False,
        timeout=60,
    )
    for name in r.stdout.split():
        m = re.fullmatch(rf"{_OWNED_PREFIX}-(\d+)-[0-9a-f]+", name)
        if m and not _pid_alive(int(m.group(1))):
            _script(str(SCRIPTS / "cluster.sh"), "down", name, env=env, timeout=300)


def _external_kubeconfig() -> Path | None:
    path = os.environ.get("UNDERSTUDY_KUBECONFIG")
    if not path and os.environ.get("UNDERSTUDY_USE_KUBECONFIG") == "1":
        path = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
    if not path:
        return None
    # KUBECONFIG may be a list; the first existing file is the one we use.
    for p in path.split(os.pathsep):
        if p and Path(p).expanduser().is_file():
            return Path(p).expanduser()
    raise pytest.UsageError(f"kubeconfig {path!r} not found")


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[K8sCluster]:
    helm_home = tmp_path_factory.mktemp("helm-home")
    env = {
        **os.environ,
        # keep helm's repo cache/config out of the user's home
        "HELM_CACHE_HOME": str(helm_home / "cache"),
        "HELM_CONFIG_HOME": str(helm_home / "config"),
        "HELM_DATA_HOME": str(helm_home / "data"),
    }

    external = _external_kubeconfig()
    if external is not None:
        # Reuse: kubectl/helm from the tool cache if already there, else from PATH.
        tools = _script(
            str(SCRIPTS / "k8s-tools.sh"), env={**env, "UNDERSTUDY_K8S_TOOLS_NO_BUILD": "1"}
        )
        bin_dir = Path(tools.stdout.strip()) if tools.returncode == 0 else None
        cluster = K8sCluster(kubeconfig=external, bin_dir=bin_dir, env=env)
        cluster.wait_ready()
        yield cluster
        return

    tools = _script(str(SCRIPTS / "k8s-tools.sh"), env=env)
    if tools.returncode != 0:
        pytest.fail(f"scripts/k8s-tools.sh failed:\n{tools.stderr[-4000:]}", pytrace=False)
    bin_dir = Path(tools.stdout.strip().splitlines()[-1])
    _reap_stale_clusters(bin_dir, env)

    name = f"{_OWNED_PREFIX}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    up = _script(str(SCRIPTS / "cluster.sh"), "up", name, env=env, timeout=600)
    if up.returncode != 0:
        _script(str(SCRIPTS / "cluster.sh"), "down", name, env=env, timeout=300)
        pytest.fail(f"scripts/cluster.sh up {name} failed:\n{up.stderr[-4000:]}", pytrace=False)
    cluster = K8sCluster(
        kubeconfig=Path(up.stdout.strip().splitlines()[-1]),
        bin_dir=bin_dir,
        name=name,
        owned=True,
        env=env,
    )
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        down = _script(str(SCRIPTS / "cluster.sh"), "down", name, env=env, timeout=300)
        if down.returncode != 0:
            print(f"warning: cluster.sh down {name} failed:\n{down.stderr[-2000:]}")
