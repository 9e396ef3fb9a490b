"""The statistics stay light: pure Python (standard library and their own modules only),
so the core needs no numpy or scipy for them. (The core as a whole imports numpy today
through understudy_common.compare; that is not these modules' doing.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import understudy_operator.core.statistics as statistics

PACKAGE = Path(statistics.__file__).parent


def test_statistics_import_only_the_standard_library_and_themselves() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                own = module.startswith("understudy_operator.core.statistics")
                if not own and top not in sys.stdlib_module_names and top != "__future__":
                    offenders.append(f"{path.name}: {module}")
    assert offenders == []
