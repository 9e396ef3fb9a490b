"""A real Elasticsearch node on 127.0.0.1 for tests (scripts/elasticsearch.sh fetches it).

Elasticsearch 7.10.2, the OSS modules, started by org.codelibs' cluster runner in one JVM
from jars on Maven Central: there is no Debian package of Elasticsearch and no container
engine here. The runner takes the HTTP port as ``baseHttpPort + 1`` and only below 9300,
so a free port is searched in 9201-9298.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import REPO_ROOT, LoggedServer

RUNNER = "org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner"
PORTS = range(9201, 9299)  # the runner refuses HTTP ports from 9299 up
READY_TIMEOUT_S = 90
HEAP = "512m"


class ElasticsearchUnavailable(RuntimeError):
    """No JDK, no jars or no free port for the node; the message says why."""


def jars_dir() -> Path:
    """The jar folder scripts/elasticsearch.sh provides (fetching it when missing)."""
    script = REPO_ROOT / "scripts" / "elasticsearch.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise ElasticsearchUnavailable(f"{script} failed:\n{result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def _free_port_in(ports: range) -> int:
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ElasticsearchUnavailable(f"no free port in {ports.start}-{ports.stop - 1}")


class ElasticsearchNode(LoggedServer):
    name = "elasticsearch"
    stop_timeout = 30.0

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.url = ""

    def start(self) -> ElasticsearchNode:
        java = shutil.which("java")
        if java is None:
            raise ElasticsearchUnavailable("java not found: the Elasticsearch tests need a JDK")
        lib = jars_dir()
        port = _free_port_in(PORTS)
        self.url = f"http://127.0.0.1:{port}"
        self.launch(
            [
                java,
                f"-Xms{HEAP}",
                f"-Xmx{HEAP}",
                "-cp",
                f"{lib}/*",
                RUNNER,
                "-basePath",
                str(self.workdir / "node"),
                "-numOfNode",
                "1",
                "-baseHttpPort",
                str(port - 1),
                "-clusterName",
                f"understudy-tests-{port}",
            ]
        )
        self.wait_until(self._green, "green", timeout=READY_TIMEOUT_S)
        # A test node must not refuse shards (or turn indices read-only) because the
        # machine's disk is fuller than Elasticsearch's production watermarks (85-95%).
        self.request(
            "PUT",
            "/_cluster/settings",
            json={"persistent": {"cluster.routing.allocation.disk.threshold_enabled": False}},
        )
        return self

    def _green(self) -> bool:
        try:
            health = httpx.get(
                f"{self.url}/_cluster/health",
                params={"wait_for_status": "green", "timeout": "1s"},
                timeout=3,
            )
        except httpx.HTTPError:
            return False
        return health.status_code == 200 and health.json().get("status") == "green"

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One API call; a non-2xx answer fails with Elasticsearch's own error text."""
        response = httpx.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        if response.is_error:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body
