"""The set-up scripts: uv's wheel choice and the one table of what the tests need."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from scripts import install_uv

SYSTEM_DEPS = Path(__file__).resolve().parents[2] / "scripts" / "system-deps.sh"

FILES = [
    {"filename": f"uv-0.13.9-py3-none-{tag}.whl", "url": tag, "hashes": {"sha256": "x"}}
    for tag in (
        "macosx_11_0_arm64",
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64",
        "musllinux_1_1_x86_64",
        "win_amd64",
    )
]


@pytest.mark.parametrize(
    ("arch", "tag"),
    [
        ("x86_64", "musllinux_1_1_x86_64"),
        ("aarch64", "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64"),
    ],
)
def test_uv_wheel_is_the_static_musllinux_one(arch: str, tag: str) -> None:
    assert install_uv.pick_wheel(FILES, "0.13.9", arch)["url"] == tag


def test_uv_wheel_of_another_version_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"no musllinux wheel of uv 0\.14\.0"):
        install_uv.pick_wheel(FILES, "0.14.0", "x86_64")


def system_deps(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SYSTEM_DEPS), *args], capture_output=True, text=True, timeout=120
    )


def test_groups_list_their_debian_packages() -> None:
    test = system_deps("--list", "test")
    node = system_deps("--list", "real-node")
    assert test.returncode == node.returncode == 0
    assert test.stdout.split() == [
        "prometheus",
        "default-jre-headless",
        "maven",
        "golang-go",
        "postgresql",
    ]
    assert {"podman", "buildah", "containerd", "runc", "containernetworking-plugins"} <= set(
        node.stdout.split()
    )
    both = system_deps("--list", "test", "real-node").stdout.split()
    assert both == test.stdout.split() + node.stdout.split()


def test_an_unknown_group_is_an_error() -> None:
    result = system_deps("--check", "tset")
    assert result.returncode == 2
    assert "unknown group tset" in result.stderr


@pytest.mark.integration
def test_go_for_the_kubernetes_tools_is_at_least_the_pinned_minor() -> None:
    # make test's system-deps step provides it (the machine's, or the fetched toolchain)
    result = system_deps("--go")
    assert result.returncode == 0, result.stderr
    (go,) = result.stdout.split()
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"go1\.(\d+)", version)
    assert m and int(m.group(1)) >= 26, version
