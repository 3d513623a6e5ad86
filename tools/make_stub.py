"""Write exercises/<file> from reference/<file>: every public function of the reference with its
signature and docstring, its body replaced by ``raise NotImplementedError``.

The stub's opening (its module docstring, written for the learner, and its imports) is kept
when the stub exists; a new stub gets a short default one. Run it when a reference's interface
changes, or with ``--check`` to list the stubs that differ from what it would write:

    python tools/make_stub.py bn_backward          # rewrite exercises/bn_backward.py
    python tools/make_stub.py --check              # every exercise; exit 1 if one differs
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlquiz.curriculum import Exercise, exercises, require_exercise  # noqa: E402


def _opening(exercise: Exercise, stub: str | None) -> list[str]:
    """The stub's lines before its first function, or a default opening."""
    if stub is not None:
        first = next((node for node in ast.parse(stub).body if isinstance(node, ast.FunctionDef)),
                     None)
        lines = stub.splitlines()
        return lines[: first.lineno - 1] if first else lines
    return [f'"""Exercise: {exercise.title_en} ({exercise.title_zh}).', "",
            "Fill in every function below, then grade your work:", "",
            f"    mlquiz grade exercises/{exercise.file}", "",
            f'Stuck? `mlquiz hint {exercise.id}` shows the next hint.', '"""', "",
            "import numpy as np", "", ""]


def make_stub(exercise: Exercise, stub: str | None = None) -> str:
    """The stub text of ``exercise`` (``stub``: the current stub, whose opening is kept)."""
    source = (ROOT / "reference" / exercise.file).read_text(encoding="utf-8")
    lines = source.splitlines()
    out = _opening(exercise, stub)
    functions = [node for node in ast.parse(source).body
                 if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    for index, node in enumerate(functions):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        doc = node.body[0]
        out += [*lines[start - 1: doc.end_lineno], "    raise NotImplementedError"]
        if index < len(functions) - 1:
            out += ["", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if a != "--check"]
    chosen = [require_exercise(name) for name in names] or list(exercises())
    differ = []
    for exercise in chosen:
        path = ROOT / "exercises" / exercise.file
        current = path.read_text(encoding="utf-8") if path.exists() else None
        text = make_stub(exercise, current)
        if check:
            if text != current:
                differ.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
    for name in differ:
        print(f"differs from its reference: {name}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
