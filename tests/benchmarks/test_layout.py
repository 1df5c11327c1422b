"""The layout of benchmarks/: files readable in one sitting, no import cycle, the lower packages never importing it,
and what only reads results (report/, the study's statistics and figures) importing no torch."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("benchmarks", "datamodules", "metrics", "lightning_modules")


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _top_level_imports(path: Path, name: str) -> set[str]:
    """Modules imported when ``path`` is imported (not inside functions, not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_no_file_in_benchmarks_is_over_500_lines():
    long = {str(p.relative_to(REPO)): n for p in (REPO / "benchmarks").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, long


def test_no_import_cycle_and_the_lower_packages_never_import_benchmarks():
    modules = {name: path for package in PACKAGES for name, path in _modules(package).items()}
    graph = {name: {m for m in _top_level_imports(path, name) if m in modules and m != name}
             for name, path in modules.items()}
    for name in modules:
        if not name.startswith("benchmarks"):
            assert not any(m.startswith("benchmarks") for m in graph[name]), name
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycle = trail[trail.index(other):] + [other] if other in trail else [name, other]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if other not in state:
                visit(other, trail + [other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_reading_results_imports_no_torch():
    readers = [name for name in _modules("benchmarks") if name.startswith("benchmarks.report")]
    readers += ["benchmarks.study.statistics", "benchmarks.study.figures", "benchmarks.run", "benchmarks.study",
                "benchmarks.plugins", "benchmarks.profiles", "benchmarks.cli"]
    code = (f"import importlib, json, sys\nfor name in {readers!r}:\n    importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in ('torch', 'lightning', 'torchmetrics') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
