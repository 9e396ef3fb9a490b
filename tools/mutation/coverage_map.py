"""Which tests reach which line: one coverage run of the fast tests, with a context per test.

Lines that only run at import time (module constants, class bodies, default arguments) have
no test of their own; a mutant there gets every test that reaches a file of its group.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import coverage

from .config import Config


@dataclass(frozen=True)
class CoverageMap:
    lines: dict[str, dict[int, list[str]]]  # file -> line -> node ids
    files: dict[str, list[str]]  # file -> node ids that reach any of its lines
    imported: dict[str, list[int]]  # file -> lines run outside any test (at import)
    durations: dict[str, float]  # node id -> seconds in the coverage run

    def tests_for(self, file: str, line: int, *, group: tuple[str, ...] = ()) -> list[str]:
        """The node ids that reach `line` of `file`, fastest first; [] when none does.

        A line that only runs at import (a constant, a class body, a default argument) is
        data that any module of its group may read: it gets every test that reaches a file
        of `group` (default: `file` alone).
        """
        tests = self.lines.get(file, {}).get(line)
        if tests is None and line in self.imported.get(file, ()):
            tests = sorted({t for f in group or (file,) for t in self.files.get(f, [])})
        return sorted(tests or [], key=lambda t: (self.durations.get(t, 0.0), t))


def build(config: Config, work: Path) -> CoverageMap:
    """Run the fast tests under coverage, or reuse the last map if no input changed."""
    cached = work / "coverage-map.json"
    fingerprint = _fingerprint(config)
    if cached.exists():
        saved = json.loads(cached.read_text())
        if saved["fingerprint"] == fingerprint:
            print("mutation: reusing the coverage map (no target or test changed)")
            return _from_json(saved)
    saved = _run(config, work) | {"fingerprint": fingerprint}
    cached.write_text(json.dumps(saved))
    return _from_json(saved)


def _run(config: Config, work: Path) -> dict[str, object]:
    root = config.root
    rc = work / "coveragerc"
    rc.write_text("[run]\ninclude =\n" + "".join(f"    {root / f}\n" for f in config.targets))
    data = work / ".coverage"
    durations = work / "durations.json"
    env = os.environ | {
        "MUTATION_DURATIONS": str(durations),
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", f"--data-file={data}",
        "-m", "pytest", "-p", "tools.mutation.contexts", "-q", "-m", config.markers,
        *config.tests,
    ]  # fmt: skip
    print("mutation: mapping lines to tests (one coverage run of the fast tests)…", flush=True)
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit("mutation: the fast tests must pass before mutants are tried")
    covdata = coverage.CoverageData(basename=str(data))
    covdata.read()
    lines: dict[str, dict[int, list[str]]] = {}
    imported: dict[str, list[int]] = {}
    for file in config.targets:
        by_line = covdata.contexts_by_lineno(str(root / file))
        lines[file] = {
            n: sorted({_test(c) for c in ctx if c}) for n, ctx in by_line.items() if any(ctx)
        }
        imported[file] = [n for n, ctx in by_line.items() if "" in ctx]
    files = {f: sorted({t for ts in by_line.values() for t in ts}) for f, by_line in lines.items()}
    seconds: dict[str, float] = {}
    for nodeid, duration in json.loads(durations.read_text()).items():
        seconds[_test(nodeid)] = seconds.get(_test(nodeid), 0.0) + duration
    return {"lines": lines, "files": files, "imported": imported, "durations": seconds}


def _test(nodeid: str) -> str:
    """The test function of a node id, all its parameters: a parameter's id need not be the
    same in the next session (a gzip body in it carries the time it was compressed)."""
    return nodeid.partition("[")[0]


def _from_json(saved: dict[str, object]) -> CoverageMap:
    lines = {
        f: {int(n): ts for n, ts in by_line.items()}
        for f, by_line in saved["lines"].items()  # type: ignore[attr-defined]
    }
    return CoverageMap(
        lines=lines,
        files=saved["files"],  # type: ignore[arg-type]
        imported=saved["imported"],  # type: ignore[arg-type]
        durations=saved["durations"],  # type: ignore[arg-type]
    )


def _fingerprint(config: Config) -> str:
    """A hash of everything that decides which test reaches which line: code and tests."""
    digest = hashlib.sha256(f"map v2 {config.markers}".encode())
    paths = config.python_files()
    for path in paths:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
