"""The decision core must import without kopf, kubernetes or HTTP clients (the local demo)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import understudy_cli
import understudy_operator.core as core

CORE = Path(core.__file__).parent
CLI = Path(understudy_cli.__file__).parent


def test_core_imports_no_kopf_kubernetes_or_http() -> None:
    code = (
        "import sys, understudy_operator.core, understudy_operator.providers.promql\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'kopf', 'kubernetes', 'httpx', 'requests', 'aiohttp', 'urllib3'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``from X import ...`` and ``import X`` in ``path``."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


def test_the_core_has_no_import_cycle() -> None:
    """Each core module imports only modules before it in one order (a DAG), so any of
    them can be read and tested alone."""
    edges: dict[str, set[str]] = {}
    for path in CORE.glob("*.py"):
        if path.name == "__init__.py":
            continue
        deps = {
            module.rsplit(".", 1)[1]
            for module, _ in _imports(path)
            if module.startswith("understudy_operator.core.")
        }
        edges[path.stem] = deps
    done: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        assert name not in stack, f"import cycle in the core: {' -> '.join((*stack, name))}"
        if name in done:
            return
        for dep in edges.get(name, ()):
            visit(dep, (*stack, name))
        done.add(name)

    for name in edges:
        visit(name, ())
    assert {"ports", "assess", "schedule", "types", "decide", "step"} <= set(edges)


def test_the_demo_drives_the_core_through_its_public_names_only() -> None:
    """The second driver of the core (understudy_cli) sees what any driver would: the names
    of ``understudy_operator.core`` (and the providers), never its modules or the kube side."""
    offenders = []
    for path in sorted(CLI.rglob("*.py")):
        for module, _ in _imports(path):
            private_core = module.startswith("understudy_operator.core.")
            operator_side = module.startswith("understudy_operator") and not (
                module == "understudy_operator.core"
                or module.startswith("understudy_operator.providers")
                # the CRD's API coordinates (GROUP, VERSION, PLURAL) for kubectl understudy
                or module == "understudy_operator.kube"
                or private_core
            )
            if private_core or operator_side:
                offenders.append(f"{path.relative_to(CLI.parent)}: {module}")
    assert offenders == []
    exported = set(core.__all__)
    used = {
        name
        for path in CLI.rglob("*.py")
        for module, names in _imports(path)
        if module == "understudy_operator.core"
        for name in names
    }
    assert used and used <= exported
