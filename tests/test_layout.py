"""The package's architecture, checked from its source: no import cycle, dependencies that
point down (cli -> schedule, cards, grading -> curriculum, clock), and a lean ``mlquiz next``.

The graph is built with ``ast`` from the installed package's files: every ``import`` and
``from ... import`` of an ``mlquiz`` module, at any depth (imports inside functions count:
they are still dependencies, only deferred).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import mlquiz

PACKAGE = Path(mlquiz.__file__).resolve().parent

# The wings and what each may import besides itself. The ground floor is everyone's.
GROUND = {"mlquiz", "mlquiz.curriculum", "mlquiz.clock", "mlquiz.i18n"}
MAY_IMPORT = {
    "grading": {"grading"},
    "specs": {"grading", "specs"},
    "cards": {"cards"},
    "schedule": {"schedule", "cards"},
    "cli": {"cli", "schedule", "cards", "grading"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
            if "_data" not in path.relative_to(PACKAGE).parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The mlquiz modules that ``name`` imports (``from a import b`` counts ``a.b`` when it is a
    module, else ``a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t == "mlquiz" or t.startswith("mlquiz."))
    return {t for t in found if t in known and t != name}


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None; depth-first search."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node):
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(graph):
        if colour[node] == WHITE:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def wing(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else None


def test_the_cycle_finder_finds_a_cycle_and_names_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_deferred_and_relative_imports():
    graph = import_graph()
    # cli.schedule imports the schedule's modules inside its commands only
    assert "mlquiz.schedule.review" in graph["mlquiz.cli.schedule"]
    assert "mlquiz.grading.report" in graph["mlquiz.grading.engine"]


def test_no_import_cycle_among_mlquiz_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_dependencies_point_down():
    wrong = []
    for name, targets in import_graph().items():
        if name == "mlquiz.__main__":  # ``python -m mlquiz``: the entry point runs the cli
            continue
        here = wing(name)
        for target in targets:
            if target in GROUND:
                continue
            there = wing(target)
            if here is None:  # the ground floor imports no wing
                wrong.append(f"{name} -> {target}")
            elif there not in MAY_IMPORT[here]:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports against the layout: " + ", ".join(sorted(wrong))


def test_nothing_imports_the_cli_but_the_entry_point():
    importers = {name for name, targets in import_graph().items()
                 if any(wing(t) == "cli" for t in targets) and wing(name) != "cli"}
    assert importers == {"mlquiz.__main__"}


def test_the_store_never_imports_the_rest_of_the_schedule():
    """The store is the schedule's floor: besides the ground floor it uses only the backup
    module, which knows files and imports nothing of the schedule itself."""
    graph = import_graph()
    assert graph["mlquiz.schedule.store"] - GROUND <= {"mlquiz.schedule.backup"}
    assert not graph["mlquiz.schedule.backup"] - GROUND


def run_and_list_modules(code: str, tmp_path) -> set[str]:
    script = (f"import sys, json\nsys.argv = ['mlquiz'] + {code!r}.split()\n"
              "from mlquiz.cli import main\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env={"MLQUIZ_DB": str(tmp_path / "m.db"),
                                              "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_next_imports_neither_numpy_nor_sympy(tmp_path):
    loaded = run_and_list_modules("next", tmp_path)
    assert "mlquiz.schedule.review" in loaded  # it did run
    assert not {"numpy", "sympy", "fsrs"} & loaded


def test_grade_imports_numpy_so_the_listing_can_tell(tmp_path):
    stub = tmp_path / "backprop.py"
    stub.write_text("def dense_forward(x, W, b):\n    return x @ W + b\n")
    loaded = run_and_list_modules(f"grade {stub} --no-record", tmp_path)
    assert "numpy" in loaded


def modules_when_the_fork_server_starts(command: str, tmp_path) -> set[str] | None:
    """The modules loaded when ``mlquiz COMMAND`` (through the installed entry point) first
    asks for the fork server; None if it never does."""
    script = ("import json, sys\n"
              "from mlquiz.grading import server\n"
              "start = server.fork_server\n"
              "def watched():\n"
              "    print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
              "    server.fork_server = start\n"
              "    return start()\n"
              "server.fork_server = watched\n"
              f"sys.argv = ['mlquiz'] + {command!r}.split()\n"
              "from mlquiz.__main__ import run\n"
              "try:\n    run()\nexcept SystemExit:\n    pass\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"MLQUIZ_DB": str(tmp_path / "m.db"), "PATH": "/usr/bin:/bin",
                                 "HOME": str(tmp_path)})
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    return set(json.loads(lines[0])) if lines else None


def test_grade_starts_its_fork_server_before_loading_click_or_numpy(tmp_path):
    stub = tmp_path / "backprop.py"
    stub.write_text("def dense_forward(x, W, b):\n    return x @ W + b\n")
    loaded = modules_when_the_fork_server_starts(f"grade {stub} --no-record", tmp_path)
    assert loaded is not None and not {"click", "numpy"} & loaded
    assert modules_when_the_fork_server_starts("grade --help", tmp_path) is None
    assert modules_when_the_fork_server_starts("topics", tmp_path) is None
