"""The demo's configuration: a ModelRollout spec (file or the packaged default)
parsed by the operator's own ``parse_spec``, so both modes read one format."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from understudy_operator.core import ON_LABELS, RolloutSpec, SpecError, parse_spec

DEFAULT_CONFIG = "default-rollout.yaml"


class ConfigError(ValueError):
    pass


def load_spec_mapping(path: Path | str | None) -> dict[str, Any]:
    """The spec mapping from ``path`` (a ModelRollout document or a bare spec); a ``str``
    names a packaged config (``DEFAULT_CONFIG``, ``GROUND_TRUTH_CONFIG``), None the default."""
    if path is None or isinstance(path, str):
        name = path or DEFAULT_CONFIG
        text = files("understudy_cli.demo").joinpath(name).read_text()
        where = f"the packaged {name}"
    else:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        where = str(path)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{where} must hold a mapping (a ModelRollout spec)")
    if "spec" in document and "kind" in document:
        if document.get("kind") != "ModelRollout":
            raise ConfigError(f"{where}: kind is {document.get('kind')!r}, not ModelRollout")
        document = document["spec"]
    return dict(document)


def effective_mapping(path: Path | str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The spec as the user wrote it (camelCase), with dotted-key ``overrides`` applied."""
    mapping = load_spec_mapping(path)
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        target = mapping
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return mapping


def parse(mapping: dict[str, Any]) -> RolloutSpec:
    """The operator's own parse_spec, its errors as ConfigError."""
    try:
        return parse_spec(mapping)
    except SpecError as exc:
        raise ConfigError(str(exc)) from exc


# The checks judged on labels (the core's list): a config with any of them turns the demo's
# label feed on by default (understudy demo --labels / --no-labels decide otherwise).
GROUND_TRUTH_CHECKS = ON_LABELS
GROUND_TRUTH_CONFIG = "ground-truth-rollout.yaml"
# Canary steps after the shadow (understudy demo --canary).
CANARY_CONFIG = "canary-rollout.yaml"


def ground_truth_checks(spec: RolloutSpec) -> list[str]:
    """Names of the spec's checks that need labels, in spec order."""
    return [c.name for c in spec.analysis.checks if c.name in GROUND_TRUTH_CHECKS]
