"""scripts/images.sh keeps podman's store at one build's size: `prune` (which `build` ends
with) removes every docker.io/understudy/* tag that `list` does not name, the build
containers an interrupted build left, and the layers only those used, and keeps every
image the real node needs. Without it a warm machine's disk filled up (CI once failed
with "no space left on device" while committing a layer).

Needs podman and the built images (`make test` builds them first); no real node."""

from __future__ import annotations

import pytest

from tests.support.realnode import (
    SCRIPTS,
    build_images,
    image_exists,
    ok,
    podman,
    run_script,
    script_env,
)

pytestmark = [pytest.mark.realnode, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_prune_removes_stale_tags_and_leftover_build_containers_and_keeps_the_list() -> None:
    env = script_env()
    build_images(env)
    kept = ok(run_script(str(SCRIPTS / "images.sh"), "list", env=env, timeout=60)).split()
    model_api = next(ref for ref in kept if ref.startswith("docker.io/understudy/model-api:"))
    kept_id = podman("image", "inspect", "--format", "{{.Id}}", model_api)
    # an earlier build's tag on a kept image (skaffold's NAME:<id> tags are such), an old
    # short-name tag, and an image of its own (a layer only it uses)
    podman("tag", model_api, "docker.io/understudy/model-api:stale-probe")
    podman("tag", model_api, "localhost/understudy/model-api:stale-probe")
    work = podman("from", "--pull=never", model_api, tool="buildah")
    podman("run", "--network", "none", "--user", "0:0", work, "--", "touch", "/p", tool="buildah")
    podman("commit", "--quiet", work, "docker.io/understudy/prune-probe:stale", tool="buildah")
    # a build container as an interrupted build leaves it
    leftover = podman("from", "--pull=never", model_api, tool="buildah")
    assert leftover in podman("ps", "--all", "--external", "--format", "{{.Names}}")

    pruned = run_script(str(SCRIPTS / "images.sh"), "prune", env=env, timeout=600)
    assert pruned.returncode == 0, pruned.stderr

    for stale in (
        "docker.io/understudy/model-api:stale-probe",
        "localhost/understudy/model-api:stale-probe",
        "docker.io/understudy/prune-probe:stale",
    ):
        assert not image_exists(stale), f"{stale} survived the prune"
    containers = podman("ps", "--all", "--external", "--format", "{{.Names}}").split()
    assert leftover not in containers and work not in containers, containers
    for ref in kept:
        assert image_exists(ref), f"{ref} was removed"
    # the kept image is the same image (only its stale tag went)
    assert podman("image", "inspect", "--format", "{{.Id}}", model_api) == kept_id
