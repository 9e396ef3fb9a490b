"""A real PostgreSQL (Debian's ``postgresql`` package) on 127.0.0.1 for tests.

``initdb`` into a temporary folder, ``postgres`` on a free loopback port (its socket in the
data folder), trust authentication for one role. PostgreSQL refuses to run as root: as
root the server runs as the package's ``postgres`` system user, which owns the folder.
Readiness is a successful connection, polled; a restart keeps the data folder and port.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import LoggedServer, free_port

ROLE = "understudy"


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding ``initdb`` and ``postgres``."""
    found = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if Path(d, "initdb").exists() and Path(d, "postgres").exists()
    ]
    return max(found, key=lambda d: int(d.parent.name), default=None)


def _run_as() -> str | None:
    """The user the server runs as: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root and there is no 'postgres' user to run as") from None
    return "postgres"


class PostgresServer(LoggedServer):
    name = "postgres"

    def __init__(self, workdir: Path, *, bin_dir: Path) -> None:
        super().__init__(workdir)
        self.bin_dir = bin_dir
        self.data = workdir / "data"
        self.port = 0
        self.user = _run_as()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            shutil.chown(path, user=self.user)

    def start(self) -> PostgresServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._chown(self.workdir)
        if not self.data.exists():
            self.data.mkdir()
            self._chown(self.data)
            done = subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    ROLE,
                    "--auth=trust",
                    "--no-sync",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                capture_output=True,
                text=True,
                user=self.user,
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stderr[-3000:]}")
        if not self.port:
            self.port = free_port()
        self.workdir.joinpath(f"{self.name}.log").touch()
        self._chown(self.workdir / f"{self.name}.log")
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(self.bin_dir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.data),
                    # Tests need no durability against a power cut; fsync off makes them fast.
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self.user,
            )
        self.wait_until(self._accepts, "accepting connections", timeout=30)
        return self

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open client connections are cut, as in a real restart."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=self.stop_timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def temporary_postgres() -> Iterator[PostgresServer]:
    """A started PostgreSQL in a fresh temporary folder, removed afterwards.

    Skips the test, with the reason, only when Debian's ``postgresql`` package is not
    installed (``scripts/system-deps.sh test`` installs it).
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "run scripts/system-deps.sh test, or apt-get install postgresql"
        )
    # Not under pytest's tmp folder: that is private to root, and the server may run as
    # the postgres user, who must reach its data folder.
    workdir = Path(tempfile.mkdtemp(prefix="understudy-postgres-"))
    try:
        with PostgresServer(workdir, bin_dir=bin_dir) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session; tests take a fresh database with ``new_database``."""
    with temporary_postgres() as server:
        yield server
