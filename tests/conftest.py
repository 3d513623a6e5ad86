"""Shared fixtures: the reference sources and a way to write a learner's file."""

import textwrap
from pathlib import Path

import pytest

from mlquiz.curriculum import data_dir, get_exercise


def reference_source(exercise_id: str) -> str:
    return (data_dir("reference") / get_exercise(exercise_id).file).read_text()


@pytest.fixture
def submission(tmp_path):
    """submission(exercise_id, source) writes ``source`` as the exercise's file in tmp_path."""

    def write(exercise_id: str, source: str) -> Path:
        path = tmp_path / get_exercise(exercise_id).file
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture(autouse=True)
def private_database(tmp_path, monkeypatch):
    """Every test gets its own schedule database; none touches the user's."""
    monkeypatch.setenv("MLQUIZ_DB", str(tmp_path / "mlquiz-test.db"))
    monkeypatch.delenv("MLQUIZ_NOW", raising=False)
