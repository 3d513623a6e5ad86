"""Shared fixtures: the reference sources and a way to write a learner's file."""

import os
import textwrap
from pathlib import Path

import pytest

from mlquiz.curriculum import data_dir, get_exercise
from mlquiz.grading import server


def reference_source(exercise_id: str) -> str:
    return (data_dir("reference") / get_exercise(exercise_id).file).read_text()


def mutant(tmp_path, exercise, old=None, new=None, append=""):
    """The reference of ``exercise`` (an Exercise) with ``old`` (which must occur exactly once)
    replaced by ``new``, and ``append`` added at the end, written to tmp_path under the
    exercise's file name: a submission with one deliberate mistake."""
    source = exercise.reference_path.read_text(encoding="utf-8")
    if old is not None:
        assert source.count(old) == 1, f"{old!r} not found exactly once in the reference"
        source = source.replace(old, new)
    path = tmp_path / exercise.file
    path.write_text(source + append, encoding="utf-8")
    return path


CHILD_SCRIPT = str(server.CHILD_SCRIPT)


def _processes():
    """(pid, command line, state, session id, parent pid) of every process this test can see."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(entry.name), cmdline, fields[0], int(fields[3]), int(fields[1])


def sandbox_children() -> list:
    """The live processes that ran a learner's code, and whatever they forked, of this
    checkout's sandbox: processes running its ``_child.py`` but its fork servers (each the
    leader of its own session; a child may not start a session), zombies excepted."""
    return [(pid, cmdline) for pid, cmdline, state, session, _ in _processes()
            if CHILD_SCRIPT in cmdline and state != "Z" and session != pid]


def fork_servers(parent: int) -> list:
    """The live fork servers started by the process ``parent`` (it is named in their command line)."""
    return [pid for pid, cmdline, state, session, _ in _processes()
            if CHILD_SCRIPT in cmdline and session == pid and state != "Z" and cmdline.split()[-1] == str(parent)]


def failing(report) -> set:
    """The names of the functions of a report that did not pass."""
    return {f.name for f in report.functions if f.verdict != "pass"}


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
