"""Write the pinned base image (scripts/base-images.env) and uv version (the Makefile's
UV_VERSION) into the ARG defaults of the three Dockerfiles.

    python3 scripts/base_images.py          # rewrite them (`make sync-base-images`)
    python3 scripts/base_images.py --check  # exit 1 if one is out of date (the tests run this)

Docker reads no include files, so each Dockerfile carries the pins as ARG defaults; this
script keeps them equal to the one place they are written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PINS = REPO / "scripts" / "base-images.env"
DOCKERFILES = [
    REPO / "operator" / "Dockerfile",
    REPO / "services" / "model-api" / "Dockerfile",
    REPO / "services" / "shadow-router" / "Dockerfile",
]


def pins() -> dict[str, str]:
    """PYTHON_IMAGE from base-images.env, UV_VERSION from the Makefile."""
    found = dict(re.findall(r"(?m)^([A-Z_]+)=(\S+)$", PINS.read_text()))
    uv = re.search(r"(?m)^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text())
    if "PYTHON_IMAGE" not in found or uv is None:
        raise SystemExit("base_images: PYTHON_IMAGE or the Makefile's UV_VERSION is missing")
    return {"PYTHON_IMAGE": found["PYTHON_IMAGE"], "UV_VERSION": uv.group(1)}


def synced(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text, count = re.subn(rf"(?m)^ARG {name}=\S*$", f"ARG {name}={value}", text)
        if count != 1:
            raise SystemExit(f"base_images: expected one `ARG {name}=` line, found {count}")
    return text


def main(argv: list[str]) -> int:
    values = pins()
    stale = []
    for path in DOCKERFILES:
        current = path.read_text()
        wanted = synced(current, values)
        if current != wanted:
            stale.append(path.relative_to(REPO))
            if "--check" not in argv:
                path.write_text(wanted)
    if stale and "--check" in argv:
        print(
            f"{', '.join(map(str, stale))}: base image pins differ from "
            "scripts/base-images.env / the Makefile's UV_VERSION; run `make sync-base-images`",
            file=sys.stderr,
        )
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
