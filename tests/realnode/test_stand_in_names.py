"""The stand-in images of scripts/images.sh carry exactly the names the Dockerfiles and the
chart use (a unit test: reads files only). If a Dockerfile or the chart moves to another
base, the stand-in must follow, or the real-node build would pull (and fail offline)."""

from __future__ import annotations

import re

import yaml

from tests.support.realnode import CHART, REPO, SCRIPTS

IMAGES_SH = (SCRIPTS / "images.sh").read_text()
DOCKERFILES = [
    REPO / "services" / "model-api" / "Dockerfile",
    REPO / "services" / "shadow-router" / "Dockerfile",
    REPO / "operator" / "Dockerfile",
]


def _var(name: str) -> str:
    m = re.search(rf"^{name}=(\S+)$", IMAGES_SH, re.M)
    assert m, name
    return m.group(1)


def _stand_ins() -> set[str]:
    # the Python base: scripts/base-images.env's PYTHON_IMAGE by its name (a stand-in cannot
    # have the pinned digest; images.sh passes the name as --build-arg PYTHON_IMAGE)
    assert _var("PYTHON_REF") == "docker.io/library/${PYTHON_IMAGE%@*}"
    pinned = re.search(r"^PYTHON_IMAGE=(\S+)$", (SCRIPTS / "base-images.env").read_text(), re.M)
    assert pinned
    refs = {pinned.group(1).split("@")[0], _var("CURL_REF"), _var("PROMETHEUS_REF")}
    return {re.sub(r"^docker\.io/(library/)?", "", r) for r in refs}


def _bases(dockerfile: str) -> set[str]:
    args = dict(re.findall(r"^ARG (\w+)=(\S*)$", dockerfile, re.M))
    bases = set()
    for ref in re.findall(r"^FROM (\S+)", dockerfile, re.M):
        ref = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), ref)
        ref = args.get(ref[2:-1], ref) if ref.startswith("${") else ref
        bases.add(ref)
    return bases


def test_every_dockerfile_base_has_a_stand_in() -> None:
    stand_ins = _stand_ins()
    stages = set()
    for path in DOCKERFILES:
        text = path.read_text()
        stages |= set(re.findall(r"^FROM \S+ AS (\S+)", text, re.M | re.I))
        for base in _bases(text) - stages:
            name = base.split("@")[0]
            assert name in stand_ins, f"{path.relative_to(REPO)}: {name} has no stand-in"


def test_the_charts_third_party_images_have_stand_ins() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    stand_ins = _stand_ins()
    prometheus = values["prometheus"]["image"]
    assert f"{prometheus['registry']}/{prometheus['repository']}:{prometheus['tag']}" in stand_ins
    curl = values["tests"]["image"]
    assert f"{curl['repository']}:{curl['tag']}" in stand_ins


def test_the_prometheus_built_for_the_node_is_the_charts_version() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    pinned = re.search(
        r"^PROMETHEUS_VERSION=(\S+)$", (SCRIPTS / "k8s-versions.env").read_text(), re.M
    )
    assert pinned and pinned.group(1) == values["prometheus"]["image"]["tag"]
