"""The images: skaffold.yaml builds the three Dockerfiles, each multi-stage, slim, non-root,
installing exactly one workspace package from uv.lock. (Images cannot be built here: no
Docker engine. These checks read the files.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.layout import IMAGES, REPO, SKAFFOLD, dockerfile_stages, out_of_sync

ROOT_USERS = {"root", "0", "0:0", "root:root"}


def _skaffold_docs() -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(SKAFFOLD.read_text()) if d is not None]
    assert docs, "skaffold.yaml is empty"
    return docs


def _artifacts() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in _skaffold_docs():
        out.extend(doc.get("build", {}).get("artifacts", []))
    return out


def test_skaffold_config_is_a_v4_config() -> None:
    for doc in _skaffold_docs():
        assert re.fullmatch(r"skaffold/v4beta\d+", doc["apiVersion"]), doc["apiVersion"]
        assert doc["kind"] == "Config"


def test_skaffold_builds_the_three_dockerfiles_from_the_repository_root() -> None:
    artifacts = _artifacts()
    dockerfiles = {}
    for artifact in artifacts:
        context = REPO / artifact.get("context", ".")
        assert context.resolve() == REPO, f"{artifact['image']}: build context must be the root"
        dockerfile = artifact["docker"]["dockerfile"]
        dockerfiles[artifact["image"]] = (context / dockerfile).resolve()
    assert sorted(dockerfiles.values()) == sorted(p.resolve() for p in IMAGES.values())
    missing = [str(p.relative_to(REPO)) for p in dockerfiles.values() if not p.is_file()]
    assert not missing, f"skaffold.yaml names Dockerfiles that do not exist: {missing}"


def test_skaffold_deploys_the_chart_with_the_built_images() -> None:
    (doc,) = [d for d in _skaffold_docs() if "deploy" in d]
    (release,) = doc["deploy"]["helm"]["releases"]
    assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
    templates = " ".join(str(v) for v in release.get("setValueTemplates", {}).values())
    for artifact in _artifacts():
        key = re.sub(r"[^A-Za-z0-9]", "_", artifact["image"])
        assert f"IMAGE_REPO_{key}" in templates or f"IMAGE_FULLY_QUALIFIED_{key}" in templates, (
            f"{artifact['image']} is built but never handed to the chart"
        )
    for values_file in release.get("valuesFiles", []):
        assert (REPO / values_file).is_file(), values_file


def test_skaffold_has_a_kind_profile_for_dev() -> None:
    (doc,) = [d for d in _skaffold_docs() if "profiles" in d]
    kind = {p["name"]: p for p in doc["profiles"]}["kind"]
    assert any(re.match(a.get("kubeContext", "x"), "kind-understudy") for a in kind["activation"])


def test_skaffold_realnode_profile_builds_what_the_docker_artifacts_build() -> None:
    """The "realnode" profile swaps each Docker build for the project's own builder
    (`scripts/images.sh skaffold DOCKERFILE NAME=VALUE...`): same Dockerfile, same build
    arguments, so it tests what users with Docker build."""
    (doc,) = [d for d in _skaffold_docs() if "profiles" in d]
    realnode = {p["name"]: p for p in doc["profiles"]}["realnode"]
    removed, builders = set(), {}
    for patch in realnode["patches"]:
        m = re.fullmatch(r"/build/artifacts/(\d+)/(docker|custom)", patch["path"])
        if m and patch["op"] == "remove" and m.group(2) == "docker":
            removed.add(int(m.group(1)))
        elif m and patch["op"] == "add" and m.group(2) == "custom":
            builders[int(m.group(1))] = patch["value"]
    artifacts = doc["build"]["artifacts"]
    assert removed == set(builders) == set(range(len(artifacts)))
    for i, artifact in enumerate(artifacts):
        command = builders[i]["buildCommand"].split()
        assert command[:4] == [
            "bash",
            "scripts/images.sh",
            "skaffold",
            artifact["docker"]["dockerfile"],
        ]
        build_args = {k: str(v) for k, v in artifact["docker"].get("buildArgs", {}).items()}
        assert dict(a.split("=", 1) for a in command[4:]) == build_args, artifact["image"]
        # skaffold watches (and tags by) the files the Dockerfile copies; it parses the FROM
        # to list them, so the base is named by tag (the digest would send it to a registry)
        assert builders[i]["dependencies"] == {
            "dockerfile": {"path": command[3], "buildArgs": {"PYTHON_IMAGE": _stand_in_base()}}
        }


def _stand_in_base() -> str:
    """The pinned base of scripts/base-images.env by tag, as scripts/images.sh builds it."""
    pinned = (REPO / "scripts" / "base-images.env").read_text()
    (line,) = [x for x in pinned.splitlines() if x.startswith("PYTHON_IMAGE=")]
    return "docker.io/library/" + line.split("=", 1)[1].split("@", 1)[0]


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_dockerfile_is_multi_stage_and_non_root(package: str) -> None:
    path: Path = IMAGES[package]
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} does not exist")
    stages = dockerfile_stages(path.read_text())
    assert len(stages) >= 2, "build and runtime must be separate stages"
    final = stages[-1]
    users = [i.split(None, 1)[1].strip() for i in final if i.upper().startswith("USER ")]
    assert users, "the final stage never sets USER (it would run as root)"
    assert users[-1] not in ROOT_USERS, f"final USER is {users[-1]}"
    # The final stage copies the built environment from an earlier stage, not the sources.
    copies = [i for i in final if i.upper().startswith("COPY ")]
    assert any("--from=" in c for c in copies), "final stage copies nothing from the build"
    base = _resolve_args(path.read_text(), final[0].split()[1])
    assert "slim" in base or "distroless" in base or "alpine" in base, f"base {base}"


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_dockerfile_installs_one_package_from_the_lock(package: str) -> None:
    path = IMAGES[package]
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} does not exist")
    runs = [i for stage in dockerfile_stages(path.read_text()) for i in stage]
    syncs = [i for i in runs if re.search(r"\buv sync\b", i)]
    assert syncs, "no `uv sync`"
    for sync in syncs:
        assert "--locked" in sync, sync
        assert "--no-dev" in sync, sync
    assert any(re.search(rf"--package[= ]{re.escape(package)}(\s|$)", s) for s in syncs)


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_dockerfile_gives_uv_every_workspace_member(package: str) -> None:
    """`uv sync --locked` reads the whole workspace: a member whose pyproject.toml is not in
    the build stage fails the build ("missing pyproject.toml")."""
    path = IMAGES[package]
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} does not exist")
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    stages = dockerfile_stages(path.read_text())
    names = {}
    for stage in stages:
        m = re.match(r"(?i)FROM\s+(\S+)(?:\s+AS\s+(\S+))?", stage[0])
        assert m
        if m.group(2):
            names[m.group(2)] = stage
    for stage in stages:
        if not any(re.search(r"\buv sync\b", i) for i in stage):
            continue
        copied: list[str] = []
        current: list[str] | None = stage
        while current is not None:
            for instruction in current:
                if instruction.upper().startswith("COPY ") and "--from=" not in instruction:
                    parts = [p for p in instruction.split()[1:] if not p.startswith("--")]
                    copied.extend(p.rstrip("/") for p in parts[:-1])
            parent = current[0].split()[1]
            current = names.get(parent)
        for member in members:
            covered = any(c in (".", member, f"{member}/pyproject.toml") for c in copied)
            assert covered, f"{member}/pyproject.toml is not copied before `uv sync`"


def _resolve_args(text: str, value: str) -> str:
    """${NAME} in a FROM line, from the ARG defaults declared before the first FROM."""
    defaults = dict(re.findall(r"(?m)^ARG\s+(\w+)=(\S+)", text.split("\nFROM", 1)[0]))
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), value)


# -- bases, layers and the user -----------------------------------------------------------


def _external_bases(text: str) -> set[str]:
    """The images the FROM lines start from, ARG defaults resolved, stage names left out."""
    stages = dockerfile_stages(text)
    names = {m.group(1) for s in stages if (m := re.search(r"(?i)\sAS\s+(\S+)$", s[0]))}
    return {_resolve_args(text, s[0].split()[1]) for s in stages} - names


def test_the_three_images_share_one_python_base_pinned_by_digest() -> None:
    bases = {name: _external_bases(path.read_text()) for name, path in IMAGES.items()}
    assert all(len(b) == 1 for b in bases.values()), bases
    (base,) = set().union(*bases.values())
    assert re.fullmatch(r"python:3\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base), base


def test_the_dockerfiles_pins_are_the_ones_of_base_images_env() -> None:
    """scripts/base-images.env is the one place to bump the base (`make sync-base-images`)."""
    assert out_of_sync("base_images.py") == ""


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_dependencies_are_a_layer_of_their_own_before_the_sources(package: str) -> None:
    """A code change must not re-install every dependency: the first `uv sync` sees only
    uv.lock and the pyproject.toml files, and skips the workspace packages."""
    stages = dockerfile_stages(IMAGES[package].read_text())
    build = next(s for s in stages if any(re.search(r"\buv sync\b", ins) for ins in s))
    whole = next(i for i, ins in enumerate(build) if re.match(r"(?i)COPY\s+\.\s", ins))
    syncs = [i for i, ins in enumerate(build) if re.search(r"\buv sync\b", ins)]
    assert syncs[0] < whole < syncs[-1], build
    assert "--no-install-workspace" in build[syncs[0]]
    early = [ins for ins in build[: syncs[0]] if ins.upper().startswith("COPY ")]
    sources = {p for ins in early for p in ins.split()[1:-1] if not p.startswith("--")}
    assert sources and all(p.endswith(("pyproject.toml", "uv.lock", ".py")) for p in sources)
    assert "uv.lock" in sources


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_final_user_is_numeric_user_and_group(package: str) -> None:
    """runAsNonRoot can only be verified by the kubelet for a numeric USER; the group too,
    or the process runs with group 0 (root's) and can write what root's group may."""
    final = dockerfile_stages(IMAGES[package].read_text())[-1]
    (user,) = [i.split(None, 1)[1] for i in final if i.upper().startswith("USER ")]
    m = re.fullmatch(r"(\d+):(\d+)", user)
    assert m and m.group(1) != "0" and m.group(2) != "0", user
