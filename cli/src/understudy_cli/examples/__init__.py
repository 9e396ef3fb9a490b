"""Worked examples beyond the Ames house prices, for ``understudy demo --example NAME``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from understudy_cli.demo.run import DemoOptions, DemoOutcome

EXAMPLES = ("breast-cancer",)
# Which packed version plays the candidate in each demo scenario the example has.
CANDIDATES = {"good": ("v2", "2.0.0"), "bad-candidate": ("bad", "2.0.0-bad")}


def pack_example(root: Path) -> dict[str, Path]:
    """The breast-cancer pipelines fitted and packed under ``root`` (kept between runs):
    folder -> artifact directory, plus "holdout" -> the traffic CSV."""
    from understudy_cli.examples import breast_cancer as bc
    from understudy_model.artifact import ArtifactError, load_artifact
    from understudy_model.pack import pack

    files = bc.write_pipelines(root / "pipelines")
    versions = {
        "v1": ("1.0.0", files.v1),
        **{f: (v, getattr(files, f)) for f, v in CANDIDATES.values()},
    }
    out: dict[str, Path] = {"holdout": files.holdout}
    for folder, (version, pipeline) in versions.items():
        target = root / folder
        try:
            if load_artifact(target).version == version:
                out[folder] = target
                continue
        except ArtifactError:
            pass
        pack(
            pipeline_path=pipeline,
            sample_path=files.holdout,
            name=bc.NAME,
            version=version,
            task_kind="classification",
            target=bc.TARGET,
            positive_class=bc.POSITIVE,
            out_dir=target,
        )
        out[folder] = target
    return out


def run_example(name: str, options: DemoOptions) -> DemoOutcome:
    from understudy_cli.demo.config import ConfigError
    from understudy_cli.demo.run import run_plan
    from understudy_cli.shadow.plan import shadow_plan

    if name not in EXAMPLES:
        raise ConfigError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    if options.scenario not in CANDIDATES:
        raise ConfigError(
            f"--example {name} has the scenarios {', '.join(CANDIDATES)}, not {options.scenario!r}"
        )
    paths = pack_example(options.artifacts_dir / name)
    folder, _ = CANDIDATES[options.scenario]
    plan, default_config = shadow_plan(
        live_dir=paths["v1"], candidate_dir=paths[folder], traffic_path=paths["holdout"], once=False
    )
    if options.config is None:
        options.config = default_config
    return run_plan(plan, options)
