"""Start a real service process (``python -m <module>``) on a free port and wait for it.

Used by the integration tests of every HTTP service::

    from tests.support.processes import start_service

    env = {"UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(v1)}
    with start_service("understudy_model_api", env=env) as svc:
        httpx.get(f"{svc.url}/v1/model")
        assert "model-api.request" in svc.logs()

How the process learns its port: the helper binds port 0 to pick a free port and then

* replaces ``{port}`` in every ``env`` value and every ``args`` item, and
* sets ``<port_env>`` (default: the module name upper-cased plus ``_PORT``, e.g.
  ``UNDERSTUDY_MODEL_API_PORT`` for ``understudy_model_api``) to it, and ``<prefix>_HOST``
  to ``127.0.0.1``: the pydantic-settings convention of every Understudy service.

Between closing the probe socket and the child binding it another process may take the
port; start-up is then retried on a fresh port (a bounded number of times).
stdout and stderr are merged and collected by a reader thread; ``logs()`` returns them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
# How often to poll the readiness route while the service starts.
POLL_INTERVAL_S = 0.05
# Start-up attempts when the chosen port was taken by someone else meanwhile.
PORT_ATTEMPTS = 3
# How long a service the tests start may take to be ready: start-up (imports; a model-api
# also loads its artifact) on two cores shared with the parallel suite has taken over 60 s.
BUSY_START_TIMEOUT_S = 180
_ADDRESS_IN_USE = ("address already in use", "errno 98")


class ServiceStartError(RuntimeError):
    """The service exited or never became ready; the message carries its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One running service process; a context manager that stops it on exit."""

    def __init__(self, *, module: str, popen: subprocess.Popen[str], port: int) -> None:
        self.module = module
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._popen = popen
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"{module}-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._popen.stdout is not None
        for line in self._popen.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def logs(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        with self._lock:
            return "\n".join(self._lines)

    def json_logs(self) -> list[dict[str, Any]]:
        """The lines of :meth:`logs` that are JSON objects, parsed."""
        with self._lock:
            lines = list(self._lines)
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def terminate(self) -> None:
        """Send SIGTERM and return at once (graceful-shutdown tests wait themselves)."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit and for its output to be read; its exit code."""
        code = self._popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        self.terminate()
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            return self.wait(timeout)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def default_port_env(module: str) -> str:
    return module.split(".")[0].upper() + "_PORT"


def _substitute(value: str, port: int) -> str:
    return value.replace("{port}", str(port))


def _launch(
    module: str,
    *,
    env: dict[str, str],
    args: Sequence[str],
    port_env: str,
    port: int,
) -> ServiceProcess:
    host_env = port_env.removesuffix("_PORT") + "_HOST"
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        host_env: "127.0.0.1",
        port_env: str(port),
        **{k: _substitute(v, port) for k, v in env.items()},
    }
    popen = subprocess.Popen(
        [sys.executable, "-m", module, *(_substitute(a, port) for a in args)],
        cwd=REPO_ROOT,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    return ServiceProcess(module=module, popen=popen, port=port)


def _wait_ready(service: ServiceProcess, *, ready_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if service.returncode is not None:
                service.wait(timeout=5)
                raise ServiceStartError(
                    f"{service.module} exited with code {service.returncode} before it was "
                    f"ready; its output:\n{service.logs()}"
                )
            try:
                response = client.get(service.url + ready_path)
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return
                last_problem = f"{ready_path} answered {response.status_code}"
            time.sleep(POLL_INTERVAL_S)  # readiness polling interval, not a fixed wait
    service.stop()
    raise ServiceStartError(
        f"{service.module} was not ready within {timeout:g}s ({last_problem}); "
        f"its output:\n{service.logs()}"
    )


def start_service(
    module: str,
    *,
    env: dict[str, str],
    ready_path: str = "/readyz",
    timeout: float = BUSY_START_TIMEOUT_S,
    args: Sequence[str] = (),
    port_env: str | None = None,
) -> ServiceProcess:
    """Run ``python -m module`` on a free 127.0.0.1 port and wait until ``ready_path`` is 200.

    Raises :class:`ServiceStartError` (with the process output) when the process exits
    or is not ready within ``timeout`` seconds: a bound against a hang, not a speed
    claim (a model-api beside the parallel suite once took over 30 s; an exit is seen at
    once whatever the bound).
    """
    port_env = port_env or default_port_env(module)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        service = _launch(module, env=env, args=args, port_env=port_env, port=free_port())
        try:
            _wait_ready(service, ready_path=ready_path, timeout=timeout)
            return service
        except ServiceStartError:
            lost_port_race = any(s in service.logs().lower() for s in _ADDRESS_IN_USE)
            if not lost_port_race or attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def start_model_api(artifact_dir: Path, **env: str) -> ServiceProcess:
    """``python -m understudy_model_api`` serving ``artifact_dir`` (inputs not logged)."""
    return start_service(
        "understudy_model_api",
        env={
            "UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifact_dir),
            "UNDERSTUDY_MODEL_API_LOG_INPUTS": "false",
            **env,
        },
    )


class LoggedServer:
    """A server binary (Prometheus, Elasticsearch) whose output goes to ``<workdir>/<name>.log``.

    Subclasses build the command line in ``start()``, call :meth:`launch`, then
    :meth:`wait_until` their readiness; a context manager that stops the process on exit.
    """

    name = "server"
    stop_timeout = 15.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = workdir / f"{self.name}.log"

    def start(self) -> LoggedServer:
        raise NotImplementedError

    def launch(self, args: Sequence[str]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                list(args), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_until(self, predicate: Any, what: str, timeout: float) -> None:
        """Poll ``predicate()`` until true; fail early, with the log, if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.logs()[-3000:]}")
            if predicate():
                return
            time.sleep(POLL_INTERVAL_S)
        raise TimeoutError(f"{self.name} not {what} within {timeout}s:\n{self.logs()[-3000:]}")

    def logs(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=self.stop_timeout)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
