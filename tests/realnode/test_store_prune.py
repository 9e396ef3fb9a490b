"""scripts/images.sh keeps podman's store at one build's size: `prune` (which `build` ends
with) removes every docker.io/understudy/* tag that `list` does not name, the build
containers an interrupted build left, and the layers only those used, and keeps every
image the real node needs. Without it a warm machine's disk filled up (CI once failed
with "no space left on device" while committing a layer).

Needs podman and the built images (`make test` builds them first); no real node."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.realnode import SCRIPTS, build_images, ok, run_script, script_env

pytestmark = [pytest.mark.realnode, pytest.mark.slow, pytest.mark.timeout(1800)]


def _podman(*args: str, tool: str = "podman", check: bool = True) -> str:
    r = subprocess.run(
        ["bash", "-c", f'source {SCRIPTS}/podman-env.sh && {tool} "$@"', tool, *args],
        capture_output=True,
        text=True,
        env=script_env(),
        check=False,
    )
    if check:
        assert r.returncode == 0, f"{tool} {args}: {r.stderr}"
    return r.stdout.strip()


def _exists(ref: str) -> bool:
    r = subprocess.run(
        ["bash", "-c", f'source {SCRIPTS}/podman-env.sh && podman image exists "$1"', "x", ref],
        env=script_env(),
        check=False,
    )
    assert r.returncode in (0, 1), ref
    return r.returncode == 0


def test_prune_removes_stale_tags_and_leftover_build_containers_and_keeps_the_list() -> None:
    env = script_env()
    build_images(env)
    kept = ok(run_script(str(SCRIPTS / "images.sh"), "list", env=env, timeout=60)).split()
    model_api = next(ref for ref in kept if ref.startswith("docker.io/understudy/model-api:"))
    kept_id = _podman("image", "inspect", "--format", "{{.Id}}", model_api)
    # an earlier build's tag on a kept image (skaffold's NAME:<id> tags are such), an old
    # short-name tag, and an image of its own (a layer only it uses)
    _podman("tag", model_api, "docker.io/understudy/model-api:stale-probe")
    _podman("tag", model_api, "localhost/understudy/model-api:stale-probe")
    work = _podman("from", "--pull=never", model_api, tool="buildah")
    _podman("run", "--network", "none", "--user", "0:0", work, "--", "touch", "/p", tool="buildah")
    _podman("commit", "--quiet", work, "docker.io/understudy/prune-probe:stale", tool="buildah")
    # a build container as an interrupted build leaves it
    leftover = _podman("from", "--pull=never", model_api, tool="buildah")
    assert leftover in _podman("ps", "--all", "--external", "--format", "{{.Names}}")

    pruned = run_script(str(SCRIPTS / "images.sh"), "prune", env=env, timeout=600)
    assert pruned.returncode == 0, pruned.stderr

    for stale in (
        "docker.io/understudy/model-api:stale-probe",
        "localhost/understudy/model-api:stale-probe",
        "docker.io/understudy/prune-probe:stale",
    ):
        assert not _exists(stale), f"{stale} survived the prune"
    containers = _podman("ps", "--all", "--external", "--format", "{{.Names}}").split()
    assert leftover not in containers and work not in containers, containers
    for ref in kept:
        assert _exists(ref), f"{ref} was removed"
    # the kept image is the same image (only its stale tag went)
    assert _podman("image", "inspect", "--format", "{{.Id}}", model_api) == kept_id
