"""No lower layer imports a higher one: every module's imports, read with ``ast``, against one table.

The layers, lowest first (a module may import its own package and the packages its row allows):

=============  ===================================================================================
ground         types, errors, masks, results, redact, config, version, run_status, progress,
               weights, formats: imports only the ground
sources        ground
models         ground
prompts        ground, models (proposers run models)
sinks          ground, sources (a run's source info), prompts (the Redis prompt inbox)
datasets       ground
evaluation     ground
devtools       ground (a redis-server and the RTSP feed for tests, demos and benches)
training       ground, models, datasets, evaluation
engine         ground, models, prompts (the model owners: one thread per model for every source)
pipeline       ground, sources, models, prompts, sinks, engine
cli            everything
=============  ===================================================================================

Besides: nothing but the CLI's entry points imports names from the package's façade
(``from vidseg import ...``): ``vidseg/__init__.py`` loads the pipeline lazily, so a module that
asks it for a name hides an upward import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vidseg"

GROUND = frozenset({"types", "errors", "masks", "results", "redact", "config", "version", "run_status", "progress",
                    "weights", "formats"})  # fmt: skip
ALLOWED: dict[str, frozenset[str]] = {
    **{name: GROUND for name in GROUND},
    "sources": GROUND,
    "models": GROUND,
    "prompts": GROUND | {"models"},
    "sinks": GROUND | {"sources", "prompts"},
    "datasets": GROUND,
    "evaluation": GROUND,
    "devtools": GROUND,
    "training": GROUND | {"models", "datasets", "evaluation"},
    "engine": GROUND | {"models", "prompts"},
    "pipeline": GROUND | {"sources", "models", "prompts", "sinks", "engine"},
}
TOP = frozenset({"cli", "__main__", "__init__"})  # may import anything
FACADE_USERS = frozenset({"cli", "__main__", "__init__"})


def _layer(path: Path) -> str:
    """A module's layer: its first part below ``vidseg/`` (``sinks`` for ``vidseg/sinks/redis/x.py``)."""
    part = path.relative_to(PACKAGE).parts[0]
    return part.removesuffix(".py")


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every vidseg import: at module level, in functions and under
    TYPE_CHECKING alike; ``from vidseg import x`` yields ``vidseg.x``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "vidseg"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "vidseg":
                found += [(node.lineno, f"vidseg.{alias.name}") for alias in node.names]
            elif node.module.startswith("vidseg."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_table_names_every_layer():
    layers = {_layer(path) for path in MODULES}
    assert layers <= set(ALLOWED) | TOP, f"layers missing from the table: {sorted(layers - set(ALLOWED) - TOP)}"


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path):
    layer = _layer(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    wrong = []
    for line, name in _imports(tree):
        if name.startswith("."):
            wrong.append(f"line {line}: relative import {name} (write vidseg.… in full)")
            continue
        parts = name.split(".")
        if len(parts) == 1 or not _is_module(parts[1]):  # ``import vidseg``, ``from vidseg import __version__``
            if layer not in FACADE_USERS:
                wrong.append(f"line {line}: {name} comes from the package façade; import it from its module")
            continue
        target = parts[1]
        if layer in TOP or target == layer:
            continue
        if target not in ALLOWED[layer]:
            wrong.append(f"line {line}: {name} ({layer} may import {sorted(ALLOWED[layer] - {layer})})")
    assert not wrong, f"{path.relative_to(PACKAGE.parent)}:\n" + "\n".join(wrong)


def test_the_architecture_notes_grep_prints_nothing():
    """``grep -rnE '^(from vidseg(\\.pipeline| import)|import vidseg\\.pipeline)' vidseg/{sinks,datasets,sources,models,evaluation}``,
    as the architecture note states it (the test above is the full rule)."""
    pattern = re.compile(r"^\s*(from vidseg(\.pipeline| import)|import vidseg\.pipeline)")
    hits = [f"{path.relative_to(PACKAGE.parent)}:{number}: {text.strip()}"
            for sub in ("sinks", "datasets", "sources", "models", "evaluation")
            for path in sorted((PACKAGE / sub).rglob("*.py"))
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.match(text)]  # fmt: skip
    assert not hits, "\n".join(hits)
