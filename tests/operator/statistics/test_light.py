"""The statistics stay light: pure Python, importable by the core without numpy or scipy."""

from __future__ import annotations

import subprocess
import sys


def test_statistics_import_no_numpy_scipy_or_io_clients() -> None:
    code = (
        "import sys, understudy_operator.core.statistics\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'numpy', 'scipy', 'kopf', 'kubernetes', 'httpx', 'requests'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
