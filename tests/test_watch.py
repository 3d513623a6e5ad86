"""`mlquiz watch` through the real command line: a subprocess watching a folder while the test
writes exercise files into it, sends keys, and interrupts it. Deadlines are generous (the
machine may be loaded); nothing here depends on speed."""

import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import mutant, reference_source, sandbox_children
from mlquiz.curriculum import data_dir, exercises, get_exercise

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))
DEADLINE = 180  # seconds to wait for any one thing the watcher should print


class Watcher:
    """A running `mlquiz watch`; its output is read by a thread into a queue."""

    def __init__(self, folder, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=None):
        self.process = subprocess.Popen([MLQUIZ, "watch", str(folder), *args], stdin=stdin,
                                        stdout=stdout, stderr=subprocess.STDOUT, env=env)
        self.seen = ""
        self.lines = queue.Queue()
        if stdout == subprocess.PIPE:
            threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream):
        _drain(stream.fileno(), self)

    def wait_for(self, text, count=1):
        """Wait until ``text`` has appeared ``count`` times in the output; return the output."""
        end = time.monotonic() + DEADLINE
        while self.seen.count(text) < count:
            try:
                self.seen += self.lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                self.stop()
                pytest.fail(f"watch never printed {text!r} ({count}x); it printed:\n{self.seen}")
        return self.seen

    def key(self, keys):
        self.process.stdin.write(keys.encode())
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def write(path: Path, text: str):
    """Replace a file as an editor does: a temporary file beside it, then a rename."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    os.replace(temporary, path)


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    for exercise in exercises():
        (folder / exercise.file).write_text((data_dir("exercises") / exercise.file).read_text())
    return folder


def reviews_and_attempts(db, exercise_id):
    with sqlite3.connect(db) as conn:
        reviews = conn.execute("SELECT rating FROM reviews WHERE item_id = ? ORDER BY id",
                               (f"exercise:{exercise_id}",)).fetchall()
        attempts = conn.execute("SELECT passed, review_id IS NOT NULL FROM submissions WHERE "
                                "exercise = ? ORDER BY attempt", (exercise_id,)).fetchall()
    return [r for (r,) in reviews], attempts


def test_fix_an_exercise_until_it_passes_and_see_the_progress_move(folder, tmp_path):
    db = Path(os.environ["MLQUIZ_DB"])
    total_functions = sum(len(ex.functions) for ex in exercises())
    watcher = Watcher(folder)
    try:
        watcher.wait_for(f"0/12 exercises pass, 0/{total_functions} functions")
        exercise = get_exercise("bn_backward")
        wrong = mutant(tmp_path, exercise, "return dx,", "return -dx,").read_text()
        write(folder / exercise.file, wrong)
        watcher.wait_for("FAIL  batchnorm_backward")
        watcher.wait_for("recorded attempt 1 of bn_backward as Again")
        watcher.wait_for(f"0/12 exercises pass, 0/{total_functions} functions", count=2)
        out = watcher.wait_for("Next: bn_backward")  # the exercise at hand, while it fails
        assert out.index("Next: bn_backward") > out.index("FAIL  batchnorm_backward")

        write(folder / exercise.file, reference_source("bn_backward"))
        out = watcher.wait_for("PASS  batchnorm_backward")
        out = watcher.wait_for("1/12 exercises pass, 1/")
        assert "stored as attempt 2 of bn_backward, not a review" in out
        # One review for the session: the first failure; the pass is an attempt only.
        assert reviews_and_attempts(db, "bn_backward") == ([1], [(0, 1), (1, 0)])

        # A notebook named after an exercise is followed too.
        notebook = folder / "bn_forward.ipynb"
        write(notebook, _notebook(["%matplotlib inline", reference_source("bn_forward")]))
        out = watcher.wait_for("file " + str(notebook))
        out = watcher.wait_for("2/12 exercises pass")
        assert "note: cell 1, line 1 left out" in out

        watcher.key("h")
        out = watcher.wait_for("will be rated Hard")
        next_up = out.rsplit("Next: ", 1)[1].split()[0]
        assert f"Hint 1 of {len(get_exercise(next_up).hints)} for {next_up}" in out
        watcher.key("q")
        assert watcher.process.wait(timeout=DEADLINE) == 0
        assert "Traceback" not in watcher.wait_for("Bye.")
    finally:
        watcher.stop()
    listing = json.loads(subprocess.run([MLQUIZ, "attempts", "bn_backward", "--json"],
                                        capture_output=True, text=True, timeout=DEADLINE).stdout)
    assert [(a["passed"], a["review_id"] is not None, a["note"]) for a in listing] == [
        (0, True, None), (1, False, "not a review: one review per exercise a watch session")]
    solution = subprocess.run([MLQUIZ, "solution", "bn_backward"], capture_output=True, text=True,
                              timeout=DEADLINE)
    assert solution.returncode == 0 and "is the reference, line for line" in solution.stdout


def test_saving_the_same_text_again_is_not_graded_again_and_other_files_are_ignored(folder):
    watcher = Watcher(folder, "--no-record")
    try:
        watcher.wait_for("0/12 exercises pass")
        write(folder / "taylor.py", reference_source("taylor"))
        watcher.wait_for("file " + str(folder / "taylor.py"))
        write(folder / "taylor.py", reference_source("taylor"))  # the same text
        write(folder / "notes.txt", "not an exercise")
        write(folder / "l2_regularization.py", reference_source("l2"))
        out = watcher.wait_for("file " + str(folder / "l2_regularization.py"))
        assert out.count("file " + str(folder / "taylor.py")) == 1
        assert "notes.txt" not in out
        watcher.wait_for("2/12 exercises pass")
        watcher.key("q")
        assert watcher.process.wait(timeout=DEADLINE) == 0
    finally:
        watcher.stop()
    assert not Path(os.environ["MLQUIZ_DB"]).exists() or \
        reviews_and_attempts(os.environ["MLQUIZ_DB"], "taylor") == ([], [])


def test_a_file_already_graded_keeps_its_verdict_and_a_new_session_reviews_again(folder):
    db = os.environ["MLQUIZ_DB"]
    path = folder / "l2_regularization.py"
    path.write_text(reference_source("l2"))
    assert subprocess.run([MLQUIZ, "grade", str(path)], capture_output=True, timeout=DEADLINE).returncode == 0
    watcher = Watcher(folder)
    try:
        out = watcher.wait_for("1/12 exercises pass")
        assert "functions pass" not in out.split("1/12")[0]  # not graded again at the start
        write(path, reference_source("l2") + "\n# again\n")
        watcher.wait_for("recorded attempt 2 of l2 as Good")
        watcher.key("q")
        watcher.process.wait(timeout=DEADLINE)
    finally:
        watcher.stop()
    assert reviews_and_attempts(db, "l2")[0] == [3, 3]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_or_a_closed_session_on_a_terminal_restores_it_and_exits_cleanly(folder, sig):
    import pty
    import termios

    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    watcher = Watcher(folder, "--no-record", stdin=slave, stdout=slave)
    threading.Thread(target=_drain, args=(master, watcher), daemon=True).start()
    try:
        watcher.wait_for("keys: h hint")
        during = termios.tcgetattr(slave)
        assert not during[3] & termios.ICANON and not during[3] & termios.ECHO  # cbreak: keys at once
        watcher.process.send_signal(sig)
        assert watcher.process.wait(timeout=DEADLINE) == 130
        out = watcher.wait_for("Stopped.")
        assert "Traceback" not in out
        assert termios.tcgetattr(slave)[3] == before[3]  # echo and line editing are back
    finally:
        watcher.stop()
        os.close(slave)


def test_keys_on_a_terminal_need_no_enter(folder):
    import pty

    master, slave = pty.openpty()
    watcher = Watcher(folder, "--no-record", stdin=slave, stdout=slave)
    threading.Thread(target=_drain, args=(master, watcher), daemon=True).start()
    try:
        watcher.wait_for("keys: h hint")
        os.write(master, b"n")
        watcher.wait_for("Now: bn_forward")
        os.write(master, b"q")
        assert watcher.process.wait(timeout=DEADLINE) == 0
    finally:
        watcher.stop()
        os.close(slave)


def test_a_missing_folder_is_a_usage_error(tmp_path):
    result = subprocess.run([MLQUIZ, "watch", str(tmp_path / "nowhere")], capture_output=True,
                            text=True, timeout=DEADLINE)
    assert result.returncode == 2 and "no such folder" in result.stderr
    assert "Traceback" not in result.stderr


def _drain(master, watcher):
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            return
        if not chunk:
            return
        watcher.lines.put(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", chunk.decode("utf-8", errors="replace")))


def _notebook(cells):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    return nbformat.writes(new_notebook(cells=[new_code_cell(c) for c in cells]))


def test_a_database_that_is_not_ours_never_hides_a_verdict_and_is_left_as_it_was(folder, tmp_path):
    (folder / "l1_regularization.ipynb").write_text("{broken")  # cannot be graded: said, not fatal
    notes = tmp_path / "notes.db"
    notes.write_text("my own notes, not a database\n")
    env = {**os.environ, "MLQUIZ_DB": str(notes)}
    watcher = Watcher(folder, env=env)
    try:
        out = watcher.wait_for("keys: h hint")
        assert "l1_regularization.ipynb is not a notebook that can be read" in out
        write(folder / "taylor.py", reference_source("taylor"))
        watcher.wait_for("the verdict was not recorded")
        out = watcher.wait_for("1/12 exercises pass")
        assert "PASS" in out and "Traceback" not in out
        watcher.key("q")
        assert watcher.process.wait(timeout=DEADLINE) == 0
    finally:
        watcher.stop()
    assert notes.read_text() == "my own notes, not a database\n"


def test_ctrl_c_while_a_hanging_file_is_graded_leaves_no_process(folder):
    path = folder / "taylor.py"
    watcher = Watcher(folder, "--no-record")
    try:
        watcher.wait_for("keys: h hint")
        write(path, "import time\ntime.sleep(1000)\n")
        end = time.monotonic() + DEADLINE
        while not sandbox_children():
            assert time.monotonic() < end, "the file was never graded"
            time.sleep(0.05)
        watcher.process.send_signal(signal.SIGINT)
        assert watcher.process.wait(timeout=DEADLINE) == 130
        assert "Traceback" not in watcher.wait_for("Stopped.")
    finally:
        watcher.stop()
    end = time.monotonic() + 30
    while sandbox_children() and time.monotonic() < end:
        time.sleep(0.1)
    assert not sandbox_children()


def test_the_session_review_is_the_first_save_the_schedule_counts(folder, tmp_path):
    """Failed earlier today: the session's first failure is no review under the schedule's
    rules, so the pass after it is the session's one review (the recovery); then attempts."""
    db = os.environ["MLQUIZ_DB"]
    exercise = get_exercise("bn_backward")
    wrong = mutant(tmp_path, exercise, "return dx,", "return -dx,").read_text()
    path = folder / exercise.file
    path.write_text(wrong)
    assert subprocess.run([MLQUIZ, "grade", str(path)], capture_output=True, timeout=DEADLINE).returncode == 1
    watcher = Watcher(folder)
    try:
        watcher.wait_for("keys: h hint")
        write(path, wrong + "\n# still wrong\n")
        watcher.wait_for("failed again today, no new lapse counted")
        write(path, reference_source("bn_backward"))
        watcher.wait_for("recorded attempt 3 of bn_backward as Good")
        write(path, reference_source("bn_backward") + "\n# tidied\n")
        watcher.wait_for("stored as attempt 4 of bn_backward, not a review")
        watcher.key("q")
        assert watcher.process.wait(timeout=DEADLINE) == 0
    finally:
        watcher.stop()
    assert reviews_and_attempts(db, "bn_backward") == ([1, 3], [(0, 1), (0, 0), (1, 1), (1, 0)])
