"""Install a pinned uv from its PyPI wheel with nothing but the Python standard library.

Debian's ``python3`` has no pip and is marked externally managed (PEP 668), so
``python3 -m pip install uv`` fails on a stock Debian. uv's wheel is a zip holding one
static binary: this fetches the musllinux wheel (static, so it runs on any Linux libc)
for this machine's architecture from the package index, checks its sha256 against the
index, and unpacks ``uv`` and ``uvx`` into DEST (atomically; nothing else is touched).

    python3 scripts/install_uv.py VERSION DEST

The index is $UV_INDEX_URL, else $PIP_INDEX_URL, else https://pypi.org/simple (PEP 691
JSON). TLS uses the system's CA bundle ($SSL_CERT_FILE is honoured by Python's ssl).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def pick_wheel(files: list[dict], version: str, arch: str) -> dict:
    """The musllinux wheel of uv ``version`` for ``arch`` from a PEP 691 file list."""
    prefix = f"uv-{version}-"
    for f in files:
        name = f["filename"]
        if name.startswith(prefix) and name.endswith(".whl") and f"musllinux_1_1_{arch}" in name:
            return f
    raise SystemExit(f"install_uv: no musllinux wheel of uv {version} for {arch} on the index")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    version, dest = argv[1], Path(argv[2])
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ARCHES:
        raise SystemExit(
            f"install_uv: no uv wheel rule for {sys.platform}/{machine}: install uv yourself"
        )
    index = (
        os.environ.get("UV_INDEX_URL")
        or os.environ.get("PIP_INDEX_URL")
        or "https://pypi.org/simple"
    ).rstrip("/")
    request = urllib.request.Request(
        f"{index}/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        listing = json.load(response)
    wheel = pick_wheel(listing["files"], version, ARCHES[machine])
    url = urllib.parse.urljoin(f"{index}/uv/", wheel["url"])
    print(f"install_uv: fetching {wheel['filename']}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=600) as response:
        data = response.read()
    want = wheel.get("hashes", {}).get("sha256")
    got = hashlib.sha256(data).hexdigest()
    if not want or got != want:
        raise SystemExit(
            f"install_uv: sha256 of {wheel['filename']} is {got}, the index says {want}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel_zip:
        for tool in ("uv", "uvx"):
            member = f"uv-{version}.data/scripts/{tool}"
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{tool}.")
            with os.fdopen(fd, "wb") as out:
                out.write(wheel_zip.read(member))
            os.chmod(tmp, 0o755)
            os.replace(tmp, dest / tool)
    print(f"install_uv: uv {version} -> {dest / 'uv'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
