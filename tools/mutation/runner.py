"""Try mutants: each in a forked child of this process, with the mutated file shadowing it.

This process first imports the third-party libraries the code and tests use (numpy, pandas,
scikit-learn, FastAPI, …) but none of the workspace's own modules; a forked child then
costs its tests' run time instead of a new interpreter's ~10 s of imports. The child puts
a copy of the target's top-level package, with the one file mutated, first on sys.path (and
PYTHONPATH, for subprocesses), where it shadows the editable install; the working tree is
never touched.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from .config import Config
from .coverage_map import CoverageMap
from .mutants import Mutant, apply

KILLED, TIMEOUT, SURVIVED, NO_COVERAGE, ERROR = (
    "killed",
    "timeout",
    "survived",
    "no-coverage",
    "error",
)


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    status: str
    tests: int  # how many tests reach the mutated line
    seconds: float


@dataclass
class _Running:
    mutant: Mutant
    tests: int
    started: float
    deadline: float
    folder: Path


def preload(config: Config) -> None:
    """Import, once, what every child would otherwise import again.

    Every module outside the workspace that the workspace's code or tests import, and the
    pytest plugins of installed packages; then freeze those objects out of the garbage
    collector, whose full collections at the end of a pytest session would otherwise walk
    all of them in every child (~1 s each).
    """
    own = [config.root / folder for folder in (*config.members, *config.tests)]
    names: set[str] = set()
    for path in config.python_files():
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    names.update(ep.module for ep in importlib.metadata.entry_points(group="pytest11"))
    for name in sorted(names):
        try:
            spec = importlib.util.find_spec(name.partition(".")[0])
        except (ImportError, ValueError):
            continue
        origin = Path(spec.origin) if spec and spec.origin else None
        if origin is None or any(origin.is_relative_to(folder) for folder in own):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # an optional or platform-specific module; the tests decide
            continue
    gc.collect()
    gc.freeze()


def run(
    config: Config,
    mutants: list[Mutant],
    coverage: CoverageMap,
    *,
    workers: int,
    on_result: Callable[[Result], None],
) -> list[Result]:
    results: list[Result] = []
    pending: deque[Mutant] = deque()
    for mutant in mutants:
        if _tests(config, coverage, mutant):
            pending.append(mutant)
        else:
            results.append(Result(mutant, NO_COVERAGE, 0, 0.0))
            on_result(results[-1])
    if pending:
        _check_clean_run(sorted({t for m in pending for t in _tests(config, coverage, m)}))
    running: dict[int, _Running] = {}
    while pending or running:
        while pending and len(running) < workers:
            mutant = pending.popleft()
            pid, job = _start(config, mutant, coverage)
            running[pid] = job
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for late in [p for p, job in running.items() if now > job.deadline]:
                _kill(late)
                os.waitpid(late, 0)
                results.append(_finish(running.pop(late), TIMEOUT))
                on_result(results[-1])
            time.sleep(0.02)
            continue
        _kill(pid)  # anything the tests started and left behind
        code = os.waitstatus_to_exitcode(status)
        results.append(_finish(running.pop(pid), _status(code)))
        on_result(results[-1])
    return results


def _check_clean_run(tests: list[str]) -> None:
    """The selected tests must pass, run this way, before any mutant: else a kill means nothing."""
    print(f"mutation: running the {len(tests)} selected tests on the clean code…", flush=True)
    pid = _spawn(None, tests)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0:
        raise SystemExit(f"mutation: the clean run failed (pytest exit {code}): {tests}")


def _tests(config: Config, coverage: CoverageMap, mutant: Mutant) -> list[str]:
    group = config.groups[config.group_of(mutant.file)]
    return coverage.tests_for(mutant.file, mutant.line, group=group)


def _status(code: int) -> str:
    # pytest: 0 passed, 1 a test failed, 2 interrupted (an import error), 3 internal error,
    # 4 usage error (a conftest that fails to import: the node ids passed the clean run);
    # a negative code is a signal (a crash). 5 (no tests collected) is the runner's bug.
    if code == 0:
        return SURVIVED
    return ERROR if code == 5 else KILLED


def _start(config: Config, mutant: Mutant, coverage: CoverageMap) -> tuple[int, _Running]:
    tests = _tests(config, coverage, mutant)
    budget = sum(coverage.durations.get(t, 0.0) for t in tests)
    timeout = config.timeout_factor * budget + config.timeout_seconds
    folder = Path(tempfile.mkdtemp(prefix="mutant-"))
    package_dir = _copy_package(config.root / mutant.file, folder)
    source = (config.root / mutant.file).read_text()
    mutated = package_dir / _inside_package(config.root / mutant.file)
    mutated.write_text(apply(source, mutant.index))
    for stale in mutated.parent.glob(f"__pycache__/{mutated.stem}.*.pyc"):
        stale.unlink()  # the original's bytecode; never trust a timestamp to tell them apart
    pid = _spawn(folder, tests)
    now = time.monotonic()
    return pid, _Running(mutant, len(tests), now, now + timeout, folder)


def _spawn(folder: Path | None, tests: list[str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(folder, tests)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.setpgid(pid, pid)  # also here, so a kill never races the child's own setpgid
    return pid


def _child(folder: Path | None, tests: list[str]) -> NoReturn:
    code = 3
    try:
        os.setpgid(0, 0)  # its own process group, so a timeout ends whatever it started
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        if folder is not None:
            sys.path.insert(0, str(folder))
            path = os.environ.get("PYTHONPATH", "")
            os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), path])
        import pytest

        code = int(pytest.main(["-x", "-q", *tests]))
    finally:
        os._exit(code)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _finish(job: _Running, status: str) -> Result:
    shutil.rmtree(job.folder, ignore_errors=True)
    return Result(job.mutant, status, job.tests, time.monotonic() - job.started)


def _source_root(file: Path) -> Path:
    """The sys.path entry (an editable install's src/ folder) that `file` is imported from."""
    entries = [Path(p).resolve() for p in sys.path if p]
    for parent in file.resolve().parents:
        if parent in entries:
            return parent
    raise SystemExit(f"mutation: {file} is not importable from any sys.path entry")


def _inside_package(file: Path) -> Path:
    return file.resolve().relative_to(_source_root(file))


def _copy_package(file: Path, folder: Path) -> Path:
    """Copy `file`'s top-level package into `folder`; returns the copy's sys.path root.

    With its __pycache__ and the files' times, so only the mutated file is compiled again.
    """
    top = _inside_package(file).parts[0]
    shutil.copytree(_source_root(file) / top, folder / top)
    return folder
