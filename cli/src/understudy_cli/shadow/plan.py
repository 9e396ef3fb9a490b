"""The user's two artifacts and traffic file -> the demo's :class:`Plan`."""

from __future__ import annotations

from pathlib import Path

from understudy_cli.demo.config import ConfigError
from understudy_cli.demo.run import Plan
from understudy_cli.shadow.es_traffic import is_es_address
from understudy_cli.shadow.traffic_file import read_traffic
from understudy_model.artifact import ArtifactError, LoadedModel, load_artifact

# The packaged default rollout of each task (understudy_cli/demo/).
DEFAULT_CONFIGS = {
    "regression": "shadow-regression.yaml",
    "classification": "shadow-classification.yaml",
}


def _load(role: str, path: Path) -> LoadedModel:
    try:
        return load_artifact(path)
    except ArtifactError as exc:
        raise ConfigError(f"--{role} {path}: {exc}") from None


def _name(traffic: str | Path) -> str:
    """A file's name, or an es:// address as given."""
    return traffic if isinstance(traffic, str) and is_es_address(traffic) else Path(traffic).name


def shadow_plan(
    *, live_dir: Path, candidate_dir: Path, traffic_path: str | Path, once: bool
) -> tuple[Plan, str]:
    """The plan, and the name of the packaged default config for its task.

    Raises ConfigError (artifacts that cannot be shadowed together) or TrafficError.
    """
    live, candidate = _load("live", live_dir), _load("candidate", candidate_dir)
    if live.version == candidate.version:
        raise ConfigError(
            f"live and candidate are both version {live.version}: give the candidate another "
            "version (understudy model pack --version)"
        )
    if live.task.kind != candidate.task.kind:
        raise ConfigError(
            f"live {live.version} is a {live.task.kind} model, candidate {candidate.version} "
            f"a {candidate.task.kind} one: they cannot be compared"
        )
    if live.task.is_classification and set(live.task.classes) != set(candidate.task.classes):
        raise ConfigError(
            f"live classes {list(live.task.classes)} differ from the candidate's "
            f"{list(candidate.task.classes)}"
        )
    if live.schema.names != candidate.schema.names:
        only_live = sorted(set(live.schema.names) - set(candidate.schema.names))
        only_cand = sorted(set(candidate.schema.names) - set(live.schema.names))
        raise ConfigError(
            "live and candidate take different fields (the router sends both the same "
            f"records): only live {only_live[:10]}, only candidate {only_cand[:10]}"
        )
    traffic = read_traffic(traffic_path, live.schema)
    plan = Plan(
        name="shadow",
        summary=(
            f"{candidate.name} {candidate.version} shadows {live.version} on {_name(traffic_path)}"
        ),
        live_version=live.version,
        candidate_version=candidate.version,
        artifacts={live.version: live_dir, candidate.version: candidate_dir},
        records=traffic.records,
        actuals=None,
        overrides={"model.name": live.name, "model.task": live.task.kind},
        task=live.task.kind,
        once=once,
        title="understudy shadow",
    )
    return plan, DEFAULT_CONFIGS[live.task.kind]
