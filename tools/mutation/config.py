"""The `[tool.mutation]` section of pyproject.toml and the allow-list of equivalent mutants."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Equivalent:
    """A mutant that behaves exactly like the original, so no test can kill it."""

    file: str  # glob of the repo-relative path
    line: str  # the original source line, stripped
    change: str  # "before → after", as the report prints it
    reason: str

    def matches(self, *, file: str, line: str, change: str) -> bool:
        return fnmatch.fnmatch(file, self.file) and line == self.line and change == self.change


@dataclass(frozen=True)
class Config:
    root: Path
    groups: dict[str, tuple[str, ...]]  # group name -> repo-relative target files
    members: tuple[str, ...]  # the uv workspace's package folders
    tests: tuple[str, ...]
    markers: str
    equivalent: tuple[Equivalent, ...]
    fail_under: float
    workers: int
    timeout_factor: float
    timeout_seconds: float

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(sorted({f for files in self.groups.values() for f in files}))

    def python_files(self) -> list[Path]:
        """Every Python file of the workspace packages and the tests."""
        folders = [*self.members, *self.tests]
        return [p for folder in folders for p in sorted((self.root / folder).rglob("*.py"))]

    def group_of(self, file: str) -> str:
        return next(name for name, files in self.groups.items() if file in files)


def load(root: Path) -> Config:
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]
    section = tool["mutation"]
    groups = {name: tuple(_expand(root, patterns)) for name, patterns in section["groups"].items()}
    for name, files in groups.items():
        if not files:
            raise SystemExit(f"mutation: group {name!r} matches no file")
    return Config(
        root=root,
        groups=groups,
        members=tuple(tool["uv"]["workspace"]["members"]),
        tests=tuple(section["tests"]),
        markers=section["markers"],
        equivalent=_load_equivalent(root / section["equivalent"]),
        fail_under=float(section["fail_under"]),
        workers=int(section["workers"]),
        timeout_factor=float(section["timeout_factor"]),
        timeout_seconds=float(section["timeout_seconds"]),
    )


def _expand(root: Path, patterns: list[str]) -> list[str]:
    files = {
        p.relative_to(root).as_posix()
        for pattern in patterns
        for p in root.glob(pattern)
        if p.is_file() and p.suffix == ".py"
    }
    return sorted(files)


def _load_equivalent(path: Path) -> tuple[Equivalent, ...]:
    if not path.exists():
        return ()
    entries = tomllib.loads(path.read_text()).get("equivalent", [])
    return tuple(
        Equivalent(file=e["file"], line=e["line"], change=e["change"], reason=e["reason"])
        for e in entries
    )
