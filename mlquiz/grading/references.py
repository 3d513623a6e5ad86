"""Load the reference implementations by path (they are data of the package, not importable
top-level modules, so a learner's process cannot import them)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

from mlquiz.curriculum import get_exercise


@cache
def load_reference(exercise_id: str) -> ModuleType:
    """The reference module of an exercise, e.g. ``load_reference("bn_backward")``."""
    exercise = get_exercise(exercise_id)
    if exercise is None:
        raise KeyError(f"no exercise named {exercise_id!r}")
    module_name = f"mlquiz._reference_{exercise.id}"
    spec = importlib.util.spec_from_file_location(module_name, exercise.reference_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
