"""`mlquiz grade`, `topics` and `init` through the real command line (a subprocess running the
installed console script) and click's runner: exit codes, JSON, reproducible seeds."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import fork_servers, reference_source
from mlquiz.curriculum import data_dir, exercises

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def run(*args, cwd=None):
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_reference_passes_with_exit_0():
    result = run("grade", data_dir("reference") / "bn_backward.py", "--no-record")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS  batchnorm_backward" in result.stdout
    assert "seed" in result.stdout


@pytest.mark.parametrize("what", ["one", "all"])
def test_grading_leaves_no_process_and_no_temporary_folder(tmp_path, what):
    """The command leaves without tearing the interpreter down, yet as a normal exit would:
    its fork server stops, the server's and the sandboxes' folders are removed, and all that
    was printed arrives (through a pipe, where it is buffered)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    folder = tmp_path / "exercises"
    folder.mkdir()
    for exercise_id in ("bn_backward", "taylor"):
        (folder / f"{exercise_id}.py").write_text(reference_source(exercise_id))
    target = ["--all", folder] if what == "all" else [folder / "bn_backward.py"]
    process = subprocess.Popen([MLQUIZ, "grade", *map(str, target), "--no-record"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temporary)})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    last = out.rstrip().splitlines()[-1]  # the last line printed: everything arrived
    assert last.startswith("2 of 2 exercise files pass" if what == "all" else "1 function: 1 passed")
    deadline = time.monotonic() + 10
    while fork_servers(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fork_servers(process.pid) == []
    assert list(temporary.iterdir()) == []


def test_stub_exits_1_and_says_not_implemented():
    result = run("grade", data_dir("exercises") / "backprop.py", "--no-record")
    assert result.returncode == 1
    assert result.stdout.count("not implemented yet") == 3


@pytest.mark.parametrize("args, message", [
    (["grade", "no/such/file.py"], "no such file"),
    (["grade", "{folder}"], "is a folder"),
    (["grade", "{ref}", "--exercise", "nonsense"], "unknown exercise 'nonsense'"),
    (["grade", "{other}"], "cannot tell which exercise"),
    (["grade"], "which file?"),
    (["grade", "--all", "no/such/folder"], "no such folder"),
])
def test_usage_errors_exit_2_without_traceback(tmp_path, args, message):
    other = tmp_path / "mine.py"
    other.write_text("x = 1\n")
    args = [a.format(ref=data_dir("reference") / "bn_backward.py", other=other, folder=tmp_path) for a in args]
    result = run(*args, "--no-record")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_broken_learner_file_is_a_failed_grade_not_a_crash(submission):
    path = submission("bn_backward", "def batchnorm_backward(:\n")
    result = run("grade", path, "--no-record")
    assert result.returncode == 1
    assert "syntax error at line 1" in result.stdout
    assert "Traceback" not in result.stderr


def test_exercise_option_overrides_the_file_name(tmp_path):
    path = tmp_path / "my_attempt.py"
    path.write_text(reference_source("bn_forward"))
    result = run("grade", path, "--exercise", "bn_forward", "--no-record")
    assert result.returncode == 0, result.stdout


def test_json_report_and_seed_reproduction(submission):
    path = submission("bn_backward", reference_source("bn_backward").replace("dout.sum(axis=0)", "dout.mean(axis=0)"))
    first = run("grade", path, "--json", "--seed", "42", "--no-record")
    assert first.returncode == 1
    report = json.loads(first.stdout)
    assert report["exercise"] == "bn_backward" and report["seed"] == 42 and report["passed"] is False
    (function,) = report["functions"]
    assert function["verdict"] == "fail" and function["failure"]["output"] == "dbeta"
    assert function["failure"]["max_abs_error"] > 0 and "dbeta differs" in function["explanation"]
    second = json.loads(run("grade", path, "--json", "--seed", "42", "--no-record").stdout)
    assert second["functions"][0]["failure"] == function["failure"]


def test_text_report_names_output_errors_and_the_reproducing_command(submission):
    path = submission("bn_backward", reference_source("bn_backward").replace("dout.sum(axis=0)", "dout.mean(axis=0)"))
    out = run("grade", path, "--seed", "3", "--no-record").stdout
    assert "dbeta differs" in out and "max abs error" in out and "max rel error" in out
    assert "first failing case" in out and "dout [" in out
    assert "--seed 3" in out


def test_learner_output_is_shown_truncated(submission):
    source = reference_source("bn_backward").replace("    mu = x.mean(axis=0)\n", "    print('hello from the learner')\n    mu = x.mean(axis=0)\n", 1)
    out = run("grade", submission("bn_backward", source), "--no-record").stdout
    assert "your code printed (stdout)" in out and "hello from the learner" in out


def test_grade_all_summarises_every_file(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    for name in ("backprop", "bn_forward", "bn_backward"):
        (folder / f"{name}.py").write_text(reference_source(name))
    (folder / "bn_backward.py").write_text(reference_source("bn_backward").replace("dout.sum(axis=0)", "0 * dout.sum(axis=0)"))
    result = run("grade", "--all", folder, "--no-record")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("backprop") and "3/3" in line for line in lines)
    assert any(line.startswith("bn_backward") and "0/1" in line for line in lines)
    data = json.loads(run("grade", "--all", folder, "--json", "--no-record").stdout)
    assert [r["exercise"] for r in data["reports"]] == ["backprop", "bn_forward", "bn_backward"]
    assert data["passed"] is False


def test_topics_lists_every_exercise_in_both_languages():
    result = run("topics", "--json")
    topics = json.loads(result.stdout)
    assert [t["id"] for t in topics] == [ex.id for ex in exercises()]
    assert topics[2]["title_zh"] == "BN层反向传播" and topics[2]["file"] == "exercises/bn_backward.py"
    assert all(t["cards"] and all(c.startswith(t["id"] + ".") for c in t["cards"]) for t in topics)
    assert "反向传播" in run("topics").stdout


def test_init_copies_stubs_and_never_overwrites(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    mine = folder / "backprop.py"
    mine.write_text("# my own work\n")
    result = run("init", folder)
    assert result.returncode == 0
    assert mine.read_text() == "# my own work\n"
    for ex in exercises():
        assert (folder / ex.file).is_file()
    assert (folder / "bn_backward.py").read_text() == (data_dir("exercises") / "bn_backward.py").read_text()
    graded = run("grade", folder / "bn_backward.py", "--no-record")
    assert graded.returncode == 1 and "not implemented yet" in graded.stdout


def test_init_into_an_unwritable_place_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("init", blocker / "sub")
    assert result.returncode == 1
    assert "cannot create" in result.stderr and "Traceback" not in result.stderr


def test_installed_package_ships_references_and_stubs(tmp_path):
    """From outside any checkout, `mlquiz init` and grading work off the installed files."""
    import mlquiz

    package = Path(mlquiz.__file__).resolve().parent
    if not (package / "_data").is_dir():
        pytest.skip("running from a source checkout (editable install): CI tests the wheel")
    assert data_dir("reference") == package / "_data" / "reference"
    result = run("init", "ex", cwd=tmp_path)
    assert result.returncode == 0
    assert run("grade", "ex/taylor.py", "--no-record", cwd=tmp_path).returncode == 1
