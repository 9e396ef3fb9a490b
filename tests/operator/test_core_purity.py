"""The decision core must import without kopf, kubernetes or HTTP clients (the local demo)."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_kopf_kubernetes_or_http() -> None:
    code = (
        "import sys, understudy_operator.core, understudy_operator.providers.promql\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'kopf', 'kubernetes', 'httpx', 'requests', 'aiohttp', 'urllib3'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
