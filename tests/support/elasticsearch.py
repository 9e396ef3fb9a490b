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
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.processes import REPO_ROOT

RUNNER = "org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner"
PORTS = range(9201, 9299)  # the runner refuses HTTP ports from 9299 up
READY_TIMEOUT_S = 90
POLL_S = 0.1
HEAP = "512m"


class ElasticsearchUnavailable(RuntimeError):
    """The jars are missing or the node did not start; the message says why."""


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


class ElasticsearchNode:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = workdir / "elasticsearch.log"

    def start(self) -> ElasticsearchNode:
        java = shutil.which("java")
        if java is None:
            raise ElasticsearchUnavailable("java not found: the Elasticsearch tests need a JDK")
        lib = jars_dir()
        port = _free_port_in(PORTS)
        self.url = f"http://127.0.0.1:{port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
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
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready()
        # A test node must not refuse shards (or turn indices read-only) because the
        # machine's disk is fuller than Elasticsearch's production watermarks (85-95%).
        self.request(
            "PUT",
            "/_cluster/settings",
            json={"persistent": {"cluster.routing.allocation.disk.threshold_enabled": False}},
        )
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise ElasticsearchUnavailable(f"elasticsearch exited:\n{self.logs()[-3000:]}")
            try:
                health = httpx.get(
                    f"{self.url}/_cluster/health",
                    params={"wait_for_status": "green", "timeout": "1s"},
                    timeout=3,
                )
                if health.status_code == 200 and health.json().get("status") == "green":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(POLL_S)  # readiness polling interval
        raise ElasticsearchUnavailable(
            f"elasticsearch not ready in {READY_TIMEOUT_S}s:\n{self.logs()[-3000:]}"
        )

    def logs(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One API call; a non-2xx answer fails with Elasticsearch's own error text."""
        response = httpx.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        if response.is_error:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=30)

    def __enter__(self) -> ElasticsearchNode:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
