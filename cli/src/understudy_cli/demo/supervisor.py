"""Start and stop the local processes of a demo run, and never leave one behind.

Each child runs in its own session (process group), writes its output to a log
file in the run folder, and is stopped with SIGTERM, then SIGKILL after a grace
period. ``stop_all`` runs on normal exit, on Ctrl-C and from ``atexit``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class StartError(RuntimeError):
    """A process did not start or did not become ready; the message says why."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now (the OS picks it), so a busy default never blocks a run."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    run_dir: Path
    children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop_all)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        url: str | None = None,
        ready_path: str | None = None,
        timeout: float = 60.0,
    ) -> Child:
        """Start ``argv``; when ``ready_path`` is given, poll ``url + ready_path`` until 200."""
        log_path = self.run_dir / f"{name}.log"
        handle = log_path.open("wb")
        process = subprocess.Popen(
            list(argv),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        handle.close()
        child = Child(name=name, process=process, log_path=log_path, url=url)
        self.children.append(child)
        # Every pid ever started, so a person (or a test) can check none is left.
        with (self.run_dir / "pids.txt").open("a") as pids:
            pids.write(f"{process.pid} {name}\n")
        if url and ready_path:
            self.wait_ready(child, url + ready_path, timeout=timeout)
        return child

    def wait_ready(self, child: Child, probe_url: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not child.alive():
                    raise StartError(
                        f"{child.name} exited with code {child.process.returncode} before it "
                        f"was ready; last lines of {child.log_path}:\n{child.log_tail()}"
                    )
                try:
                    if client.get(probe_url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(delay)  # polling a process we just started: nothing to wait on
                delay = min(delay * 1.5, 0.5)
        raise StartError(
            f"{child.name} was not ready at {probe_url} within {timeout:.0f}s; see {child.log_path}"
        )

    def stop(self, child: Child, *, grace: float = 10.0) -> None:
        """SIGTERM the child's process group; SIGKILL what is left after ``grace``."""
        if child.alive():
            _signal_group(child.process, signal.SIGTERM)
            try:
                child.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait(timeout=5)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def python_module(module: str) -> list[str]:
    """argv that runs ``python -m module`` with this interpreter (this environment)."""
    return [sys.executable, "-m", module]
