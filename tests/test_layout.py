"""The package's shape: stages import one way (front ends -> stages -> core) and no module imports itself back.

Every ``import`` counts, at the top of a module, inside a function, or under ``TYPE_CHECKING``: a lazy or
type-only import still ties two modules together. docs/architecture.md draws the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "extensions" / "discord_echo"

# The order data flows; a module may import its own stage and the stages before it, never one after it.
STAGES = ["core", "ingest", "templates", "dataset", "train", "evaluate", "frontends"]
# The package's own entry points sit above every stage: the public API, `python -m`, the webui's script.py.
ENTRY_POINTS = {"discord_echo", "discord_echo.__main__", "discord_echo.script"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The package module an imported dotted name lands in (``a.b.func`` -> ``a.b``), or None if not ours."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(target for target in map(resolve, names) if target and target != module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def stage_of(module: str) -> int:
    if module in ENTRY_POINTS:
        return len(STAGES)
    return STAGES.index(module.split(".")[1])


def test_every_module_belongs_to_a_stage():
    loose = [m for m in MODULES if m not in ENTRY_POINTS and m.split(".")[1] not in STAGES]
    assert loose == [], f"modules outside the stage folders {STAGES}: {loose}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module):
    backwards = sorted(target for target in GRAPH[module] if stage_of(target) > stage_of(module))
    assert backwards == [], f"{module} ({STAGES[stage_of(module)] if stage_of(module) < len(STAGES) else 'entry'})"


def test_no_stage_module_imports_a_front_end():
    offenders = {
        module: sorted(t for t in targets if t.startswith("discord_echo.frontends"))
        for module, targets in GRAPH.items()
        if module not in ENTRY_POINTS and not module.startswith("discord_echo.frontends")
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_no_import_cycles():
    """Depth-first search over the whole module graph; a back edge is a cycle, reported as its path."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checker_sees_lazy_and_type_only_imports():
    """Guard against a checker that passes because it reads nothing: known edges must be found."""
    assert "discord_echo.core.errors" in GRAPH["discord_echo.ingest.config"]
    assert any(t.startswith("discord_echo.frontends") for t in GRAPH["discord_echo.script"])
