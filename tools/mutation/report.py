"""The score: a table per file and per group, the survivors, and a JSON report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import Config, Equivalent
from .runner import ERROR, NO_COVERAGE, SURVIVED, Result


@dataclass(frozen=True)
class Score:
    mutants: int = 0
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    no_coverage: int = 0
    error: int = 0
    equivalent: int = 0

    @property
    def percent(self) -> float:
        """Killed (a timeout is a kill) out of the mutants that are not equivalent."""
        counted = self.mutants - self.equivalent
        return 100.0 * (self.killed + self.timeout) / counted if counted else 100.0

    def add(self, result: Result, *, equivalent: bool) -> Score:
        field = "equivalent" if equivalent else result.status.replace("-", "_")
        counts = asdict(self) | {"mutants": self.mutants + 1}
        counts[field] += 1
        return Score(**counts)


def equivalent_of(config: Config, result: Result) -> Equivalent | None:
    m = result.mutant
    if result.status not in (SURVIVED, NO_COVERAGE):
        return None  # a killed mutant is not equivalent, whatever the list says
    return next(
        (
            e
            for e in config.equivalent
            if e.matches(file=m.file, line=m.source_line, change=m.change)
        ),
        None,
    )


def score(config: Config, results: Iterable[Result], key: str) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    for r in results:
        name = r.mutant.file if key == "file" else config.group_of(r.mutant.file)
        scores[name] = scores.get(name, Score()).add(r, equivalent=bool(equivalent_of(config, r)))
    return scores


def table(scores: dict[str, Score], title: str) -> str:
    head = f"{title:<58} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} "
    head += f"{'no cov':>6} {'equiv':>5} {'% killed':>8}"
    rows = [head, "-" * len(head)]
    for name, s in scores.items():
        rows.append(
            f"{name:<58} {s.mutants:>7} {s.killed:>6} {s.timeout:>7} {s.survived:>8} "
            f"{s.no_coverage:>6} {s.equivalent:>5} {s.percent:>7.1f}%"
        )
    return "\n".join(rows)


def survivors(config: Config, results: Iterable[Result]) -> str:
    lines = []
    for r in sorted(results, key=lambda r: (r.mutant.file, r.mutant.line, r.mutant.index)):
        if r.status in (SURVIVED, NO_COVERAGE, ERROR) and not equivalent_of(config, r):
            m = r.mutant
            lines.append(f"{m.file}:{m.line}: [{r.status}] {m.operator}: {m.change}")
            lines.append(f"    {m.source_line}")
    return "\n".join(lines)


def stale_equivalents(config: Config, results: list[Result]) -> list[Equivalent]:
    """Allow-list entries that match no surviving mutant any more (code changed, or killed)."""
    used = {id(e) for r in results if (e := equivalent_of(config, r))}
    return [e for e in config.equivalent if id(e) not in used]


def write_json(path: Path, config: Config, results: list[Result], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def scores(key: str) -> dict[str, dict[str, object]]:
        return {
            k: asdict(v) | {"percent": v.percent} for k, v in score(config, results, key).items()
        }

    document = {
        "seconds": round(seconds, 1),
        "groups": scores("group"),
        "files": scores("file"),
        "mutants": [
            asdict(r.mutant)
            | {
                "status": r.status,
                "tests": r.tests,
                "seconds": round(r.seconds, 2),
                "equivalent": (e.reason if (e := equivalent_of(config, r)) else None),
            }
            for r in sorted(results, key=lambda r: (r.mutant.file, r.mutant.index))
        ],
    }  # fmt: skip
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
