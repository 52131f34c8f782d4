"""The package's layers, read from docs/ARCHITECTURE.md: imports run downward, no cycles."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "boneturnover"


def _layers() -> list[tuple[str, list[str], list[str] | None]]:
    """(layer, module patterns, layers it may import or None for every layer below)."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/ARCHITECTURE.md has no ```layers block"
    out = []
    for line in block.group(1).strip().splitlines():
        name, _, rest = line.partition(":")
        modules, _, allowed = rest.partition("| may import")
        out.append((name.strip(), [m.strip() for m in modules.split(",") if m.strip()],
                    None if not allowed.strip() else
                    [a.strip() for a in allowed.split(",") if a.strip()]))
    return out


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``boneturnover`` module imported anywhere in the file (lazy imports too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "boneturnover")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "boneturnover":
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _layer_of(module: str, layers) -> str:
    best, best_len = None, -1
    for layer, patterns, _ in layers:
        for pat in patterns:
            if pat.startswith("*."):
                if module.rsplit(".", 1)[-1] == pat[2:]:
                    return layer
            elif (module == pat or module.startswith(pat + ".")) and len(pat) > best_len:
                best, best_len = layer, len(pat)
    assert best is not None, f"{module} belongs to no layer of docs/ARCHITECTURE.md"
    return best


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_belongs_to_a_layer():
    layers = _layers()
    for module in _graph():
        _layer_of(module, layers)


def test_imports_run_downward_between_layers():
    layers = _layers()
    order = [name for name, _, _ in layers]  # top first
    allowed = {name: (set(a) if a is not None else set(order[i:]))
               for i, (name, _, a) in enumerate(layers)}
    for name in order:
        allowed[name].add(name)
    bad = []
    for module, targets in _graph().items():
        src = _layer_of(module, layers)
        for target in targets:
            dst = _layer_of(target, layers)
            if dst not in allowed[src]:
                bad.append(f"{module} ({src}) imports {target} ({dst})")
    assert not bad, "upward or forbidden imports:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_layer_checker_sees_an_upward_import(tmp_path):
    """The checker itself: a lower layer importing a higher one is reported."""
    layers = _layers()
    assert _layer_of("boneturnover.solve.rodas", layers) == "solver"
    assert _layer_of("boneturnover.model.commands", layers) == "interface"
    order = [name for name, _, _ in layers]
    assert order.index("solver") > order.index("model")


@pytest.mark.parametrize("module", ["boneturnover"])
def test_importing_the_package_reads_no_file_and_compiles_nothing(module):
    code = (
        "import builtins, io, sys\n"
        "opened = []\n"
        "real_open, real_io_open = builtins.open, io.open\n"
        "def spy(f, *a, **k):\n"
        "    opened.append(str(f)); return real_open(f, *a, **k)\n"
        "builtins.open = spy; io.open = spy\n"
        f"import {module}\n"
        "builtins.open, io.open = real_open, real_io_open\n"
        "heavy = [m for m in ('numba', 'pandas', 'scipy', 'matplotlib', 'pint') "
        "if m in sys.modules]\n"
        "data = [f for f in opened if f.endswith(('.toml', '.json', '.csv'))]\n"
        "print(repr((heavy, data)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "([], [])", out
