"""Write exercises/<file> from reference/<file>: same signatures and docstrings, bodies
replaced by ``raise NotImplementedError``. Run by hand when a reference's interface changes:

    python tools/make_stub.py bn_backward.py "Batch normalization, backward" bn_backward
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_stub(file: str, title: str, exercise_id: str) -> str:
    source = (ROOT / "reference" / file).read_text()
    lines = source.splitlines()
    out = [
        f'"""Exercise: {title}.\n\nFill in every function below, then grade your work:\n\n'
        f"    mlquiz grade exercises/{file}\n\n"
        f'Stuck? `mlquiz hint {exercise_id}` shows the next hint.\n"""',
        "",
        "import numpy as np",
        "",
    ]
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            doc = node.body[0]
            out += ["", *lines[node.lineno - 1 : doc.lineno - 1], *lines[doc.lineno - 1 : doc.end_lineno],
                    "    raise NotImplementedError", ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    file, title, exercise_id = sys.argv[1:4]
    (ROOT / "exercises" / file).write_text(make_stub(file, title, exercise_id))
