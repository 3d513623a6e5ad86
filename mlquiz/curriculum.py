"""The curriculum: exercises declared once in ``curriculum.toml``, and where their files live.

Importing this module is cheap (no numpy, and ``tomllib`` only once the exercises are read):
the schedule and ``mlquiz next`` use it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import NamedTuple

PACKAGE_DIR = Path(__file__).resolve().parent


class Exercise(NamedTuple):
    """An exercise of ``curriculum.toml`` (a NamedTuple: defining a dataclass would cost every
    start of ``mlquiz next`` a millisecond)."""

    id: str
    title_en: str
    title_zh: str
    file: str
    functions: tuple[str, ...]
    hints: tuple[str, ...]
    timeout: float = 5.0
    hints_zh: tuple[str, ...] = ()  # the hints in Chinese; the loader defaults them to ``hints``

    def hints_in(self, language: str) -> tuple[str, ...]:
        """The hints in ``language`` (``en`` or ``zh``); English where no Chinese is given."""
        return (self.hints_zh or self.hints) if language == "zh" else self.hints

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    @property
    def reference_path(self) -> Path:
        return data_dir("reference") / self.file

    @property
    def stub_path(self) -> Path:
        return data_dir("exercises") / self.file


def data_dir(name: str) -> Path:
    """``reference`` or ``exercises``: inside the installed package (the wheel ships them
    under ``mlquiz/_data``), or beside the package in a source checkout."""
    installed = PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / name


@cache
def exercises() -> tuple[Exercise, ...]:
    """Every exercise, in curriculum order."""
    import tomllib

    with open(PACKAGE_DIR / "curriculum.toml", "rb") as f:
        data = tomllib.load(f)
    return tuple(
        Exercise(
            id=entry["id"],
            title_en=entry["title_en"],
            title_zh=entry["title_zh"],
            file=entry["file"],
            functions=tuple(entry["functions"]),
            hints=tuple(entry["hints"]),
            hints_zh=tuple(entry.get("hints_zh", entry["hints"])),
            timeout=float(entry.get("timeout", 5.0)),
        )
        for entry in data["exercise"]
    )


def get_exercise(name: str) -> Exercise | None:
    """Find an exercise by id or by file name (``bn_backward``, ``l2_regularization.py``)."""
    name = Path(name).name
    for exercise in exercises():
        if name in (exercise.id, exercise.file, exercise.stem):
            return exercise
    return None


class UnknownExercise(LookupError):
    """A name that is no exercise of the curriculum; the message says where the list is."""


def require_exercise(name: str, what: str = "exercise") -> Exercise:
    """``get_exercise``, or ``UnknownExercise`` ("unknown exercise 'x'; `mlquiz topics` lists
    them"); ``what`` names the thing looked up (an exercise, a topic)."""
    from mlquiz.i18n import _

    found = get_exercise(name) if name else None
    if found is None:
        message = (_("unknown topic {name}; `mlquiz topics` lists them") if what == "topic" else
                   _("unknown exercise {name}; `mlquiz topics` lists them"))
        raise UnknownExercise(message.format(name=repr(name)))
    return found


def display_path(path: Path) -> str:
    """A path as the learner would type it: relative to the current folder when inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def grade_command(path: Path, exercise_id: str) -> str:
    """The ``mlquiz grade`` command for an exercise's file, with ``--exercise`` where the
    file's name does not say which exercise it is."""
    import shlex

    shown = display_path(path)
    command = f"mlquiz grade {shlex.quote(shown)}"
    found = get_exercise(Path(path).name)
    if found is None or found.id != exercise_id:
        command += f" --exercise {exercise_id}"
    return command
