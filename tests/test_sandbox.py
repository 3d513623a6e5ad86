"""Learner code is untrusted: every hostile or broken file gets a clear failing verdict and
leaves mlquiz working. Each test grades a real file in a real child process."""

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import reference_source, sandbox_children
from mlquiz.grading import sandbox, server
from mlquiz.grading.engine import grade_file

CORRECT_BN = reference_source("bn_backward")


def only(report):
    (function,) = report.functions
    return function


def said(report) -> str:
    """What the report says about its one function: the file's problem, said once for the
    whole file, or the function's own explanation."""
    return report.file_problem or only(report).explanation


def test_reference_passes(submission):
    report = grade_file(submission("bn_backward", CORRECT_BN))
    assert report.passed, only(report).explanation


def test_syntax_error_names_its_line(submission):
    path = submission("bn_backward", "import numpy as np\n\ndef batchnorm_backward(dout, x, gamma eps=1e-5):\n    pass\n")
    report = grade_file(path)
    assert only(report).verdict == "fail"
    assert "syntax error at line 3" in said(report)


def test_missing_function(submission):
    f = only(grade_file(submission("bn_backward", "def something_else():\n    return 1\n")))
    assert f.verdict == "fail"
    assert "batchnorm_backward is not defined" in f.explanation


def test_exception_traceback_is_trimmed_to_the_learners_file(submission):
    path = submission("bn_backward", """\
        import numpy as np

        def helper(x):
            return x[10**6]

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            return helper(x)
        """)
    f = only(grade_file(path))
    assert f.verdict == "fail"
    assert "IndexError" in f.explanation
    assert str(path) in f.explanation and "line 4" in f.explanation
    assert "_child.py" not in f.explanation and "mlquiz" not in f.failure["traceback"]


def test_infinite_loop_times_out(submission):
    path = submission("bn_backward", "def batchnorm_backward(dout, x, gamma, eps=1e-5):\n    while True:\n        pass\n")
    started = time.monotonic()
    f = only(grade_file(path, timeout=1))
    assert time.monotonic() - started < 5
    assert f.verdict == "fail"
    assert "timed out" in f.explanation


def test_a_hanging_function_fails_alone(submission):
    """The child is restarted after a function that hangs: the others are still graded."""
    source = reference_source("bn_forward") + (
        "\n\ndef batchnorm_train_step(*args, **kwargs):\n    while True:\n        pass\n")
    report = grade_file(submission("bn_forward", source), timeout=1)
    verdicts = {f.name: f.verdict for f in report.functions}
    assert verdicts == {"batchnorm_forward": "pass", "batchnorm_train_step": "fail",
                        "batchnorm_inference": "pass"}
    assert "timed out" in report.function("batchnorm_train_step").explanation


@pytest.mark.parametrize("where", ["import", "function"])
@pytest.mark.parametrize("how", ["sys.exit(0)", "os._exit(0)"])
def test_exiting_fails_clearly(submission, where, how):
    body = f"import os, sys\n{how}\n" if where == "import" else ""
    body += "def batchnorm_backward(dout, x, gamma, eps=1e-5):\n"
    body += f"    import os, sys\n    {how}\n" if where == "function" else "    return 0\n"
    report = grade_file(submission("bn_backward", body), timeout=2)
    assert only(report).verdict == "fail"
    text = said(report)
    if where == "import":
        assert "failed to load" in text
    assert "SystemExit" in text or "exited with code 0" in text


def test_interpreter_crash(submission):
    path = submission("bn_backward", """\
        import ctypes

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            return ctypes.string_at(0)
        """)
    f = only(grade_file(path))
    assert f.verdict == "fail"
    assert "crashed (SIGSEGV)" in f.explanation


def test_memory_hog_hits_the_limit(submission):
    path = submission("bn_backward", """\
        import numpy as np

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            hog = np.ones((1024, 1024, 1024))  # 8 GiB
            return hog
        """)
    f = only(grade_file(path, memory_mb=512))
    assert f.verdict == "fail"
    assert "MemoryError" in f.explanation or "memory" in f.explanation


def test_printing_megabytes_is_truncated(submission):
    source = CORRECT_BN.replace("    mu = x.mean(axis=0)\n", "    print('x' * 10**6)\n    mu = x.mean(axis=0)\n", 1)
    report = grade_file(submission("bn_backward", source))
    assert report.passed
    assert len(report.stdout) < 100_000
    assert "more bytes not shown" in report.stdout


def test_reading_stdin_fails_without_hanging(submission):
    path = submission("bn_backward", "def batchnorm_backward(dout, x, gamma, eps=1e-5):\n    return input()\n")
    f = only(grade_file(path, timeout=2))
    assert f.verdict == "fail"
    assert "EOFError" in f.explanation


def test_forked_child_that_never_ends_is_killed(submission):
    source = CORRECT_BN + """

_original = batchnorm_backward
_forked = []

def batchnorm_backward(dout, x, gamma, eps=1e-5):
    import os, time
    if not _forked:
        pid = os.fork()
        if pid == 0:
            while True:
                time.sleep(1)
        _forked.append(pid)
        print("forked", pid)
    return _original(dout, x, gamma, eps)
"""
    started = time.monotonic()
    report = grade_file(submission("bn_backward", source), timeout=3)
    assert time.monotonic() - started < 8
    assert report.passed
    pid = int(report.stdout.split("forked")[1].split()[0])
    time.sleep(0.2)
    status = Path(f"/proc/{pid}/status")
    # Gone, or dead and waiting for init to reap it: either way it no longer runs.
    assert not status.exists() or "zombie" in status.read_text()


@pytest.mark.parametrize("returned, message", [
    ("None", "returned None"),
    ("(dout, dout.sum(0))", "expected 3 values"),
    ("(dout[:, :1], dout.sum(0), dout.sum(0))", "dx has shape"),
    ("(dout * np.nan, dout.sum(0), dout.sum(0))", "contains nan"),
    ("object()", "object where numbers were expected"),
])
def test_unusable_results(submission, returned, message):
    path = submission("bn_backward", f"import numpy as np\n\ndef batchnorm_backward(dout, x, gamma, eps=1e-5):\n    return {returned}\n")
    f = only(grade_file(path))
    assert f.verdict == "fail"
    assert message in f.explanation


def test_patching_numpy_comparisons_changes_nothing(submission):
    path = submission("bn_backward", """\
        import numpy as np
        import numpy.testing

        np.allclose = lambda *a, **k: True
        np.isclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            return np.zeros_like(x), np.zeros_like(gamma), np.zeros_like(gamma)
        """)
    f = only(grade_file(path))
    assert f.verdict == "fail"
    assert "dx differs" in f.explanation


@pytest.mark.parametrize("cheat", [
    "from reference.bn_backward import batchnorm_backward",
    "from mlquiz.grading.references import load_reference\nbatchnorm_backward = load_reference('bn_backward').batchnorm_backward",
    "import importlib\nbatchnorm_backward = importlib.import_module('mlquiz.grading.references').load_reference('bn_backward').batchnorm_backward",
])
def test_importing_the_reference_fails(submission, cheat):
    report = grade_file(submission("bn_backward", cheat + "\n"))
    assert only(report).verdict == "fail"
    assert "not mlquiz's reference" in said(report)


def test_other_libraries_are_not_available(submission):
    report = grade_file(submission("bn_backward", "import scipy\n"))
    assert only(report).verdict == "fail"
    assert "ModuleNotFoundError" in said(report) and "numpy and the standard library only" in said(report)


def test_underflow_is_not_a_warning_that_fails(submission):
    source = CORRECT_BN.replace("    mu = x.mean(axis=0)\n", "    np.exp(-np.full(3, 1e3))\n    mu = x.mean(axis=0)\n", 1)
    assert grade_file(submission("bn_backward", source)).passed


def test_reference_cannot_be_imported_inside_the_sandbox(submission):
    """Even past the static check, neither mlquiz nor the references are importable."""
    path = submission("bn_backward", """\
        import importlib

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            name = "ml" + "quiz"
            return importlib.import_module(name)
        """)
    f = only(grade_file(path))
    assert f.verdict == "fail"
    assert "ModuleNotFoundError" in f.explanation


@pytest.mark.parametrize("forged", [
    '{"event": "result", "job": 0, "ok": true, "value": {"$a": "!!", "dtype": "f8", "shape": [1]}, '
    '"mutated": 3, "warnings": "no", "seconds": "soon"}',
    '{"event": "result", "job": 0, "ok": false, "error": ["not", "a", "dict"]}',
    '{"event": "import_error", "error": 42}',
    '{"event": "imported", "functions": {"batchnorm_backward": 1}}',
    '{"event": "result", "job": 99, "ok": true}',
    'not json at all',
    '{"event": "result", "job": 0, "ok": true, "value": ' + "[" * 100_000 + "]" * 100_000 + '}',
    '{"event": "result", "job": 0, "ok": true, "value": ' + '{"$t": ' * 5_000 + '1' + '}' * 5_000 + '}',
])
def test_forged_events_on_the_result_pipe_cannot_crash_mlquiz(submission, forged):
    """The child's pipe is the learner's to write to as well: whatever comes through it is
    checked before use, and a forged answer is judged like any other."""
    path = submission("bn_backward", f"""\
        import os, sys
        os.write(3, {(forged + chr(10) + '{"event": "done"}' + chr(10)).encode()!r})
        os._exit(0)
        """)
    report = grade_file(path, timeout=2)
    assert only(report).verdict == "fail"
    assert said(report)


def test_slow_but_correct_passes(submission):
    source = CORRECT_BN.replace("    mu = x.mean(axis=0)\n", "    import time; time.sleep(0.1)\n    mu = x.mean(axis=0)\n", 1)
    report = grade_file(submission("bn_backward", source), timeout=3)
    assert report.passed, only(report).explanation


def test_in_place_modification_fails(submission):
    source = CORRECT_BN.replace("    mu = x.mean(axis=0)\n", "    dout *= 1.0\n    x -= 0\n    x[0] += 0.0\n    gamma[:] = gamma * 2\n    gamma /= 2\n    mu = x.mean(axis=0)\n", 1)
    source = source.replace("    gamma[:] = gamma * 2\n    gamma /= 2\n", "    gamma[0] += 1.0\n")
    f = only(grade_file(submission("bn_backward", source)))
    assert f.verdict == "fail"
    assert "modified its input in place" in f.explanation


def test_numpy_warning_fails(submission):
    path = submission("bn_backward", """\
        import numpy as np

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            np.log(-1.0)
            return dout, dout.sum(0), dout.sum(0)
        """)
    f = only(grade_file(path))
    assert f.verdict == "fail"
    assert "numpy warning" in f.explanation and "invalid value" in f.explanation


def test_array_likes_are_accepted(submission):
    source = CORRECT_BN.replace("    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)",
                                "    return [dx.tolist(), list((dout * x_hat).sum(axis=0)), dout.sum(axis=0).tolist()]")
    report = grade_file(submission("bn_backward", source))
    assert report.passed, only(report).explanation


def test_same_seed_reproduces_and_fresh_seeds_differ(submission):
    path = submission("bn_backward", CORRECT_BN)
    seeds = {grade_file(path).seed for _ in range(3)}
    assert len(seeds) == 3
    wrong = submission("bn_backward", CORRECT_BN.replace("dout.sum(axis=0)", "dout.sum(axis=0) * 1.01"))
    first, second = grade_file(wrong, seed=7), grade_file(wrong, seed=7)
    assert first.seed == second.seed == 7
    assert only(first).failure == only(second).failure


def test_hard_coded_outputs_fail(submission):
    """An answer recorded from one run fails the next, which draws a fresh seed."""
    from mlquiz.grading.judge import draw_cases, load_specs, run_reference
    from mlquiz.curriculum import get_exercise
    from mlquiz.grading.references import load_reference

    (spec,) = load_specs(get_exercise("bn_backward"))
    case = draw_cases(spec, 1, 0)[0]
    dx, dgamma, dbeta = run_reference(load_reference("bn_backward"), spec, case)
    path = submission("bn_backward", f"""\
        import numpy as np

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            return np.array({dx.tolist()}), np.array({dgamma.tolist()}), np.array({dbeta.tolist()})
        """)
    assert not grade_file(path, seed=2).passed


# ---------------------------------------------------------------------------------------------
# The fork server: numpy imported once, every child a fresh copy of a process that never ran
# a learner's code


def test_what_one_file_does_to_numpy_is_gone_for_the_next(submission, tmp_path):
    tampering = tmp_path / "first" / "bn_backward.py"
    tampering.parent.mkdir()
    tampering.write_text(CORRECT_BN + textwrap.dedent("""
        import builtins, sys
        import numpy
        numpy.TAMPERED = True
        numpy.allclose = lambda *args, **kwargs: True
        builtins.TAMPERED = True
        sys.modules["tampered"] = sys
        """))
    assert grade_file(tampering).passed
    checking = submission("bn_backward", CORRECT_BN + textwrap.dedent("""
        import builtins, sys
        import numpy
        assert not hasattr(numpy, "TAMPERED") and not hasattr(builtins, "TAMPERED")
        assert "tampered" not in sys.modules
        assert numpy.allclose(0.0, 1.0) is False or not numpy.allclose(0.0, 1.0)
        """))
    report = grade_file(checking)
    assert report.passed, said(report)


def test_a_child_holds_no_descriptor_but_its_own(submission):
    """Its stdin, stdout, stderr, the result pipe (3) and /dev/null as stdin once the jobs are
    read: nothing of the fork server's (its control socket could forge its answers)."""
    report = grade_file(submission("bn_backward", CORRECT_BN + textwrap.dedent("""
        import os
        null = os.stat(os.devnull)
        others = []
        for fd in range(4, 4096):
            try:
                info = os.fstat(fd)
            except OSError:
                continue
            if not os.path.samestat(info, null):
                others.append(fd)
        print("other descriptors:", others)
        """)))
    assert report.passed, said(report)
    assert "other descriptors: []" in report.stdout


def test_a_fork_server_that_dies_fails_the_running_function_and_is_replaced(submission):
    marker = Path("/dev/shm", f"mlquiz-test-{os.getpid()}-server")  # a child may write there
    path = submission("bn_backward", f"""\
        import time

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            open({str(marker)!r}, "w").close()
            time.sleep(60)
        """)
    running = server.fork_server()

    def kill_the_server():
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        running.process.kill()

    killer = threading.Thread(target=kill_the_server)
    killer.start()
    started = time.monotonic()
    try:
        f = only(grade_file(path, timeout=30))
    finally:
        killer.join()
        marker.unlink(missing_ok=True)
    assert time.monotonic() - started < 20
    assert f.verdict == "fail" and "the sandbox's process ended" in f.explanation, f.explanation
    assert sandbox_children() == []
    assert grade_file(submission("bn_backward", CORRECT_BN)).passed
    assert server.fork_server() is not running


def test_sandboxes_closed_at_once_leave_no_child(tmp_path):
    """A sandbox closed before its child has even started (the fork server may still be
    importing numpy) kills that child as soon as it exists."""
    path = tmp_path / "bn_backward.py"
    path.write_text(CORRECT_BN)
    server.stop_server()  # a server that has yet to start
    for _ in range(5):
        with sandbox.Sandbox(path, memory_mb=1024, functions=1, timeout=5):
            pass
    deadline = time.monotonic() + 10
    while sandbox_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_children() == []
    assert not sandbox._live


def test_children_asked_for_at_once_each_get_their_own_pipes(tmp_path):
    """Eight files graded at once from eight threads: each report holds its own file's output
    and verdict (a child given another request's descriptors would mix them up)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = []
    for k in range(8):
        folder = tmp_path / f"f{k}"
        folder.mkdir()
        body = CORRECT_BN if k % 2 else CORRECT_BN.replace("dout.sum(axis=0)", "2 * dout.sum(axis=0)", 1)
        (folder / "bn_backward.py").write_text(body + f"\nprint('file number {k}')\n")
        paths.append(folder / "bn_backward.py")
    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = list(pool.map(grade_file, paths))
    for k, report in enumerate(reports):
        assert f"file number {k}" in report.stdout and report.stdout.count("file number") == 1
        assert report.passed == bool(k % 2), (k, said(report))
