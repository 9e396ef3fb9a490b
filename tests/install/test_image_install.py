"""Each image's install step, run for real without Docker: the build stage's COPY lines are
replayed from a build context filtered by .dockerignore, then the Dockerfile's own
`uv sync` command runs (offline, from the uv cache) into a scratch virtualenv. The
package must import, and the router and operator images must not carry the model stack."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.layout import IMAGES, REPO, dockerfile_stages

pytestmark = pytest.mark.slow

MODULES = {
    "understudy-model-api": "understudy_model_api.app",
    "understudy-shadow-router": "understudy_router.app",
    "understudy-operator": "understudy_operator.reconcile",
}
# What only the model-api image needs (and the training stage).
MODEL_STACK = ("sklearn", "pandas", "joblib")


def _ignored(rel: str, patterns: list[tuple[bool, str]]) -> bool:
    """Docker's .dockerignore rules, for the patterns this repository uses."""
    ignored = False
    for negate, pattern in patterns:
        pattern = pattern.strip("/")
        candidates = [pattern, f"{pattern}/*"]
        if pattern.startswith("**/"):
            candidates += [
                pattern[3:],
                f"{pattern[3:]}/*",
                f"*/{pattern[3:]}",
                f"*/{pattern[3:]}/*",
            ]
        if any(fnmatch.fnmatch(rel, c) for c in candidates):
            ignored = not negate
    return ignored


def build_context(dest: Path) -> Path:
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append((line.startswith("!"), line.lstrip("!")))
    for root, dirs, files in os.walk(REPO):
        rel_root = os.path.relpath(root, REPO)
        rel_root = "" if rel_root == "." else rel_root
        # Docker still looks inside an excluded folder when an exception (!) names a path in it
        dirs[:] = [
            d
            for d in dirs
            if not _ignored(os.path.join(rel_root, d), patterns)
            or any(neg and p.startswith(os.path.join(rel_root, d) + "/") for neg, p in patterns)
        ]
        for name in files:
            rel = os.path.join(rel_root, name)
            if not _ignored(rel, patterns):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root) / name, target)
    return dest


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_context(tmp_path_factory.mktemp("context"))


def test_dockerignore_keeps_what_images_need_and_drops_the_rest(context: Path) -> None:
    assert (context / "uv.lock").is_file()
    assert (context / "services" / "shadow-router" / "src" / "understudy_router").is_dir()
    for dropped in (".git", ".venv", "tests", "helm", "k8s", "docs", "artifacts"):
        assert not (context / dropped).exists(), dropped
    assert not list(context.rglob("__pycache__"))
    # scripts/ is dropped except the uv installer the build stages run
    assert [p.name for p in (context / "scripts").iterdir()] == ["install_uv.py"]


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_image_install_step_works(package: str, context: Path, tmp_path: Path) -> None:
    dockerfile = IMAGES[package]
    if not dockerfile.is_file():
        pytest.fail(f"{dockerfile.relative_to(REPO)} does not exist")
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    stages = dockerfile_stages(dockerfile.read_text())
    # the stage that installs this package (not e.g. a training stage)
    (stage,) = [
        s
        for s in stages
        if any(re.search(rf"uv sync\b.*--package[= ]{re.escape(package)}(\s|$)", i) for i in s)
    ]
    src = tmp_path / "src"
    src.mkdir()
    # src stands for the stage's WORKDIR, where uv sync runs; copies elsewhere (the uv
    # installer in /tmp) are left out
    (root,) = {i.split()[1] for i in stage if i.upper().startswith("WORKDIR ")}
    workdir = "/"
    venv = tmp_path / "venv"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_OFFLINE": "1",
        "UV_NO_PROGRESS": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    syncs = []
    for instruction in stage[1:]:
        word, _, rest = instruction.partition(" ")
        if word.upper() == "WORKDIR":
            workdir = rest.strip()
        elif word.upper() == "COPY" and "--from=" not in rest:
            parts = [p for p in rest.split() if not p.startswith("--")]
            *sources, target = parts
            into_dir = target.endswith("/") or target in (".", "./") or len(sources) > 1
            rel = posixpath.relpath(posixpath.join(workdir, target), root)
            if rel.startswith(".."):
                continue
            for source in sources:
                origin = context / source
                where = src / rel
                if into_dir and not origin.is_dir():
                    where = where / origin.name
                if origin.is_dir():
                    shutil.copytree(origin, where, dirs_exist_ok=True)
                else:
                    where.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, where)
        elif word.upper() == "RUN":
            m = re.search(rf"(uv sync\b.*--package[= ]{re.escape(package)}\b[^&;]*)", rest)
            if m:
                # run where the Dockerfile runs it: the dependency layer sees only what
                # was copied so far (uv.lock and the pyproject.toml files)
                args = m.group(1).split()[2:]
                r = subprocess.run(
                    [uv, "sync", *args],
                    cwd=src,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert r.returncode == 0, f"uv sync {' '.join(args)}\n{r.stderr[-3000:]}"
                syncs.append(args)
    assert syncs, "no uv sync of the package in its stage"
    assert "--no-install-workspace" not in syncs[-1], "the last sync must install the package"
    python = venv / "bin" / "python"
    r = subprocess.run(
        [str(python), "-c", f"import {MODULES[package]}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    installed = {
        p.name.split("-")[0].lower() for p in (venv / "lib").glob("python*/site-packages/*")
    }
    if package != "understudy-model-api":
        assert not installed & set(MODEL_STACK), f"{package} carries {installed & set(MODEL_STACK)}"
