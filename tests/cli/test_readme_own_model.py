"""README "Use your own model": every command of its shell block, run as written (in a
fresh directory, `uv run understudy` as this environment's `understudy`), and its
ModelRollout parsed by the operator's own parse_spec. The image step is not built here
(a container build belongs to the realnode tier); only its base image's tag is checked
against the tags `make images` builds."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.processes import REPO_ROOT
from understudy_model.artifact import load_artifact
from understudy_operator.core import parse_spec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

README = REPO_ROOT / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("## Use your own model")
    return text[start : text.index("\n## ", start + 1)]


def _commands() -> list[list[str]]:
    block = re.search(r"<!-- own-model:begin -->\n```bash\n(.*?)```", _section(), re.S)
    assert block is not None
    joined = block.group(1).replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_every_command_of_the_section_runs(tmp_path: Path) -> None:
    commands = _commands()
    assert [c[:3] for c in commands] == [["uv", "run", "understudy"]] * 4
    outputs = []
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "understudy_cli", *command[3:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout[-3000:]}{done.stderr}"
        outputs.append(done.stdout)
    assert load_artifact(tmp_path / "my-model" / "v2").task.is_classification
    assert "decision: Promoted" in outputs[-1]


def test_the_rollout_parses_and_the_image_base_is_one_make_images_builds() -> None:
    section = _section()
    [manifest] = re.findall(r"```yaml\n(.*?)```", section, re.S)
    document = yaml.safe_load(manifest)
    spec = parse_spec(document["spec"])
    assert spec.model.task == "classification"
    assert "bias" not in [c.name for c in spec.analysis.checks]
    [dockerfile] = re.findall(r"```dockerfile\n(.*?)```", section, re.S)
    base = dockerfile.split()[1]
    image, tag = base.rsplit(":", 1)
    images_sh = (REPO_ROOT / "scripts" / "images.sh").read_text()
    assert f"MODEL_API={image}" in images_sh
    assert re.search(rf"MODEL_TAGS=\([^)]*\b{tag}\b", images_sh)
