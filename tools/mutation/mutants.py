"""Mutants of a Python source file: one small AST change each.

`find(path, source)` lists them in a fixed order; `apply(source, index)` returns the source
with mutant `index` applied (re-parsed and unparsed, so comments and layout are lost, which
does not change behaviour).

Operators (the `operator` field of a mutant):

- `compare`  `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`, `is` ↔ `is not`, `in` ↔ `not in`
- `arith`    `+` ↔ `-`, `*` ↔ `/`, `//` → `/`, `%` → `*`, `**` → `*` (also in `x += y`)
- `number`   `0` → `1`, `1` → `0`, any other `n` → `n + 1`
- `bool`     `True` ↔ `False`
- `string`   `"s"` → `"XXsXX"`
- `logic`    `and` ↔ `or`, `not x` → `x`
- `return`   `return x` → `return None`
- `delete`   an assignment in a function body → `pass`
- `loop`     `break` ↔ `continue`

Not mutated, as noise rather than behaviour: docstrings, type annotations, decorators,
`__all__`, `if TYPE_CHECKING:` blocks, f-strings, `raise` statements (their messages; the
raise itself is reached through the condition above it, which is mutated) and logging calls.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ARITH_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult,
    ast.Pow: ast.Mult,
}
_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


@dataclass(frozen=True)
class Mutant:
    file: str  # repo-relative path
    index: int  # position in find()'s order, the argument of apply()
    line: int
    operator: str
    change: str  # "before → after"
    source_line: str  # the original line, stripped


@dataclass
class _Site:
    parent: ast.AST
    field: str
    position: int | None  # index in a list field, None for a single child
    operator: str
    original: ast.AST
    replacement: ast.AST

    def swap(self) -> None:
        if self.position is None:
            setattr(self.parent, self.field, self.replacement)
        else:
            getattr(self.parent, self.field)[self.position] = self.replacement


def find(file: str, source: str) -> list[Mutant]:
    lines = source.splitlines()
    mutants = []
    for index, site in enumerate(_sites(ast.parse(source))):
        line = site.original.lineno  # type: ignore[attr-defined]
        before = ast.get_source_segment(source, site.original) or ast.unparse(site.original)
        change = f"{_short(before)} → {_short(ast.unparse(site.replacement))}"
        mutants.append(Mutant(file, index, line, site.operator, change, lines[line - 1].strip()))
    return mutants


def apply(source: str, index: int) -> str:
    tree = ast.parse(source)
    for i, site in enumerate(_sites(tree)):
        if i == index:
            site.swap()
            return ast.unparse(tree) + "\n"
    raise IndexError(f"no mutant {index}")


def _short(text: str) -> str:
    first = text.strip().splitlines()[0]
    return first if len(first) <= 80 and "\n" not in text.strip() else first[:77] + "…"


def _sites(tree: ast.Module) -> Iterator[_Site]:
    yield from _visit(tree, in_function=False)


def _visit(node: ast.AST, *, in_function: bool) -> Iterator[_Site]:
    inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    for field, position, child in _children(node):
        if _skipped(node, field, child):
            continue
        yield from _mutations(node, field, position, child, in_function=inside)
        yield from _visit(child, in_function=inside)


def _children(node: ast.AST) -> Iterator[tuple[str, int | None, ast.AST]]:
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield field, i, item
        elif isinstance(value, ast.AST):
            yield field, None, value


def _skipped(parent: ast.AST, field: str, child: ast.AST) -> bool:
    if field in ("annotation", "returns", "decorator_list", "type_comment"):
        return True
    if isinstance(parent, ast.arguments) and field != "defaults" and field != "kw_defaults":
        return True  # the parameters themselves: names and annotations
    if isinstance(child, ast.JoinedStr | ast.Raise | ast.Import | ast.ImportFrom):
        return True
    if _is_docstring(parent, field, child) or _is_logging(child):
        return True
    if isinstance(child, ast.Assign | ast.AnnAssign):
        targets = child.targets if isinstance(child, ast.Assign) else [child.target]
        return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)
    if isinstance(child, ast.If):
        return isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING"
    return False


def _is_docstring(parent: ast.AST, field: str, child: ast.AST) -> bool:
    body_owner = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
    return (
        isinstance(parent, body_owner)
        and field == "body"
        and parent.body[0] is child
        and isinstance(child, ast.Expr)
        and isinstance(child.value, ast.Constant)
        and isinstance(child.value.value, str)
    )


def _is_logging(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in _LOG_METHODS
    )


def _mutations(
    parent: ast.AST, field: str, position: int | None, node: ast.AST, *, in_function: bool
) -> Iterator[_Site]:
    def site(operator: str, replacement: ast.AST) -> _Site:
        return _Site(parent, field, position, operator, node, replacement)

    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swapped = copy.deepcopy(node)
            swapped.ops[i] = _COMPARE_SWAPS[type(op)]()
            yield site("compare", swapped)
    elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _ARITH_SWAPS:
        swapped_op = copy.deepcopy(node)
        swapped_op.op = _ARITH_SWAPS[type(node.op)]()
        yield site("arith", swapped_op)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield site("logic", ast.BoolOp(op=other, values=copy.deepcopy(node.values)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield site("logic", copy.deepcopy(node.operand))
    elif isinstance(node, ast.Constant):
        yield from (site(op, ast.Constant(value)) for op, value in _constant(node.value))
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield site("return", ast.Return(value=ast.Constant(None)))
    elif isinstance(node, ast.Break | ast.Continue):
        yield site("loop", ast.Continue() if isinstance(node, ast.Break) else ast.Break())
    assignment = isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
    if in_function and assignment and getattr(node, "value", None) is not None:
        yield site("delete", ast.Pass())


def _constant(value: object) -> Iterator[tuple[str, str | int | float]]:
    if isinstance(value, bool):
        yield "bool", not value
    elif isinstance(value, int | float):
        yield "number", type(value)(1 if value == 0 else 0 if value == 1 else value + 1)
    elif isinstance(value, str):
        yield "string", f"XX{value}XX"
