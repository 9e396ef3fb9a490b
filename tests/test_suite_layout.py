"""The suite's own layout: helpers live in tests/support/, and no test module imports
another test module or a conftest (fixtures reach tests through pytest, code through
tests.support)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def test_tests_import_only_support_modules() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                if module.startswith("tests") and not module.startswith("tests.support"):
                    offenders.append(f"{path.relative_to(TESTS)}: {module}")
    assert offenders == []
