"""The sandbox holds against hostile submissions: none passes without an implementation, none
reaches outside its scratch folder, none outlives its grading, none crashes or fools mlquiz.

Each test grades a real hostile file in a real child process (through ``grade_file`` or the
real command line). A hostile file prints ``BREACH <what>`` when an attack gets through, so
that a test fails on the breach itself and not only on the verdict. After every test, the
database, the install and every file beside the submission are byte for byte as before, and no
process started by the submission runs any more (``sandbox_leaves_no_trace``).

Running as root, the child still has no capabilities (the ``capabilities`` layer); the tests
marked ``as_user`` also run the whole command with the grading process itself stripped of its
capabilities (what an ordinary user has: same-uid processes, no override of permissions).
"""

import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy
import pytest

from conftest import fork_servers, reference_source, sandbox_children
from mlquiz.curriculum import PACKAGE_DIR, data_dir
from mlquiz.grading import isolation
from mlquiz.grading.engine import grade_file
from mlquiz.grading.sandbox import missing_layers, probe
from mlquiz.schedule.attempts import record_reports

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))
CORRECT_BN = reference_source("bn_backward")
SITE_PACKAGES = Path(numpy.__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(missing_layers(probe()) != {}, reason="this kernel lacks sandbox layers "
                                "(see `mlquiz doctor`); the degraded case is tested in test_sandbox_layers.py")


# ---------------------------------------------------------------------------------------------
# Oracles


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _install_state() -> dict:
    """mlquiz's files, the references, and what site-packages holds (names and times)."""
    state = {"mlquiz": _tree(PACKAGE_DIR), "reference": _tree(data_dir("reference"))}
    state["site-packages"] = {p.name: p.stat().st_mtime_ns for p in SITE_PACKAGES.iterdir()}
    return state


@pytest.fixture(autouse=True)
def sandbox_leaves_no_trace(tmp_path):
    """Around every test: a database with a passed attempt in it, a classmate's folder beside
    the submission; afterwards all of it unchanged and no process of the submission left."""
    db = Path(os.environ["MLQUIZ_DB"])
    classmate = tmp_path / "classmate"
    classmate.mkdir()
    (classmate / "bn_backward.py").write_text(CORRECT_BN)
    (attempt,) = record_reports(db, [grade_file(classmate / "bn_backward.py")])
    assert attempt.review.rating_name == "Good"
    before, install, graded_before = _files(tmp_path), _install_state(), _attempts(db)
    yield
    deadline = time.monotonic() + 5
    while sandbox_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_children() == []
    time.sleep(0.3)  # a process that escaped would write now
    assert _files(tmp_path) == before, "a file beside the submission changed"
    assert _install_state() == install, "the install changed"
    graded_after = _attempts(db)  # only what mlquiz itself recorded: failed attempts
    assert graded_after[:len(graded_before)] == graded_before
    assert all(passed == 0 for _, _, passed in graded_after[len(graded_before):])


def _files(folder: Path) -> dict:
    """Every file but the submission being graded and the database with its backups (checked
    apart: mlquiz itself backs the database up at the day's first write)."""
    return {name: digest for name, digest in _tree(folder).items()
            if not name.startswith("backups/")
            and ("/" in name or not name.endswith(".py") and not name.startswith("mlquiz-test.db"))}


def _attempts(db: Path) -> list:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute("select id, sha256, passed from submissions order by id").fetchall()


def hostile(tmp_path, body: str) -> Path:
    """A bn_backward submission: the attack in ``body`` (which may define ``steal()``, returning
    a working batchnorm_backward or None), and a wrong fallback."""
    path = tmp_path / "bn_backward.py"
    path.write_text(PRELUDE + textwrap.dedent(body) + FALLBACK)
    return path


PRELUDE = '''\
import glob, os, sys
import numpy as np

REFERENCE, MLQUIZ = "refer" + "ence", "ml" + "quiz"  # past the static check

def reference_files(start):
    """Where a reference may be, seen from a path inside the install."""
    folder, found = os.path.realpath(start), []
    for _ in range(7):
        found += [os.path.join(folder, REFERENCE, "bn_backward.py"),
                  os.path.join(folder, MLQUIZ, "_data", REFERENCE, "bn_backward.py")]
        for site in glob.glob(os.path.join(folder, "lib", "python3*", "site-packages")) + [folder]:
            for pth in glob.glob(os.path.join(site, "*.pth")):
                try:
                    for line in open(pth):
                        found.append(os.path.join(line.strip(), REFERENCE, "bn_backward.py"))
                except OSError as exc:
                    print("refused", pth, exc)
        folder = os.path.dirname(folder)
    return found

def load(path):
    try:
        source = open(path).read()
    except OSError:
        return None
    namespace = {}
    exec(source, namespace)
    print("BREACH read", path)
    return namespace.get("batchnorm_backward")

def steal_from(*starts):
    for start in starts:
        for path in reference_files(start):
            function = load(path)
            if function:
                return function
    return None

'''

FALLBACK = '''

def batchnorm_backward(dout, x, gamma, eps=1e-5):
    print("ATTACKED")
    function = steal()
    if function is not None:
        return function(dout, x, gamma, eps)
    return np.zeros_like(x), np.zeros_like(gamma), np.zeros_like(gamma)
'''


def graded(path, **options):
    report = grade_file(path, **options)
    (function,) = report.functions
    assert "ATTACKED" in report.stdout, function.explanation  # the attack ran
    assert "BREACH" not in report.stdout + report.stderr, report.stdout + report.stderr
    assert function.verdict != "pass", function.explanation
    return function, report


def cli(*args, user=None, **kwargs):
    """The real command line, as root, or as an ordinary user: ``"no capabilities"`` (root's
    uid without any capability: permissions are checked as for any user) or ``"nobody"``."""
    if user == "nobody":
        kwargs.update(user=NOBODY, group=NOBODY, extra_groups=[])
    elif user:
        kwargs.update(preexec_fn=_drop_privileges)
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, timeout=120, **kwargs)


def _drop_privileges():
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(isolation.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    isolation.drop_capabilities()


NOBODY = 65534
USERS = [None, "no capabilities", "nobody"]


def _unreachable_by_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that another user cannot enter, if any."""
    for folder in [*reversed(Path(path).resolve().parents)]:
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


@pytest.fixture
def place(tmp_path, request):
    """Where the attack of a test parametrized by ``user`` happens: ``(folder, db)``. For
    ``nobody``, a folder and a database of nobody's own (with a passed attempt), which the
    grading process, running as nobody, may write and so the child too, but for the sandbox."""
    if request.node.callspec.params["user"] != "nobody":
        yield tmp_path, os.environ["MLQUIZ_DB"]
        return
    if os.geteuid() != 0:
        pytest.skip("only root can run a test as nobody")
    blocked = next(filter(None, map(_unreachable_by_others, (sys.executable, MLQUIZ, PACKAGE_DIR))), None)
    if blocked:
        pytest.skip(f"nobody cannot run this Python: {blocked} is not open to other users")
    folder = Path(tempfile.mkdtemp(prefix="mlquiz-nobody-"))
    try:
        os.chown(folder, NOBODY, NOBODY)
        db = folder / "nobody.db"
        classmate = folder / "classmate.py"
        classmate.write_text(CORRECT_BN)
        graded = cli("grade", classmate, "--exercise", "bn_backward", user="nobody", env={**os.environ, "MLQUIZ_DB": str(db)})
        assert "as Good" in graded.stderr, graded.stdout + graded.stderr
        before = _attempts(db)
        os.environ["MLQUIZ_DB"] = str(db)  # restored by the conftest's monkeypatch
        yield folder, str(db)
        after = _attempts(db)
        assert after[:len(before)] == before and all(passed == 0 for _, _, passed in after[len(before):])
        assert sandbox_children() == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def assert_no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Passing without an implementation


@pytest.mark.parametrize("where", [
    "sys.argv[0]",                                 # the child's own script, inside the install
    "os.path.realpath(np.__file__)",               # numpy's real folder: site-packages
    "sys.executable",                              # the interpreter's folder: the virtualenv
    "[l.split()[-1] for l in open('/proc/self/maps') if '/' in l][0]",
    "[l.split()[-1] for l in open(f'/proc/{os.getppid()}/maps') if '/' in l][0]",
    "open(f'/proc/{os.getppid()}/cmdline').read().split(chr(0))[1]",
    "os.readlink(f'/proc/{os.getppid()}/cwd')",
    "os.environ.get('VIRTUAL_ENV') or os.environ.get('HOME') or '/nonexistent'",
])
def test_the_reference_cannot_be_loaded_by_path(tmp_path, where):
    path = hostile(tmp_path, f"""
        def steal():
            try:
                start = {where}
            except Exception as exc:
                print("refused", exc)
                return None
            return steal_from(start)
        """)
    graded(path)


def test_rerunning_the_interpreter_is_refused(tmp_path):
    path = hostile(tmp_path, """
        import subprocess

        def steal():
            code = (f"from {MLQUIZ}.grading.references import load_reference; "
                    "print(load_reference('bn_backward').__file__)")
            for command in ([sys.executable, "-c", code], ["/bin/sh", "-c", "cat /etc/hostname"]):
                try:
                    out = subprocess.run(command, capture_output=True, text=True).stdout
                    print("BREACH ran", command[0], out)
                    return load(out.strip())
                except OSError as exc:
                    print("refused", exc)
            try:
                os.execv(sys.executable, [sys.executable, "-c", "print(1)"])
            except OSError as exc:
                print("refused", exc)
            return None
        """)
    function, report = graded(path)
    assert "Permission denied" in report.stdout or "Operation not permitted" in report.stdout


def test_importing_a_computed_name_from_a_computed_path(tmp_path):
    path = hostile(tmp_path, """
        import importlib

        def steal():
            site = os.path.dirname(os.path.dirname(os.path.realpath(np.__file__)))
            sys.path[:0] = [site] + [line.strip() for pth in glob.glob(site + "/*.pth")
                                     for line in open(pth) if not line.startswith("import")]
            try:
                module = importlib.import_module(MLQUIZ + ".grading.references")
                print("BREACH imported", module)
                return module.load_reference("bn_backward").batchnorm_backward
            except Exception as exc:
                print("refused", type(exc).__name__, exc)
                return None
        """)
    graded(path)


def test_a_classmates_file_in_a_sibling_folder_cannot_be_read(tmp_path):
    path = hostile(tmp_path, f"""
        def steal():
            for guess in ({str(tmp_path / "classmate" / "bn_backward.py")!r},
                          os.path.join(os.path.dirname(__file__), "classmate", "bn_backward.py")):
                function = load(guess)
                if function:
                    return function
            try:
                print(os.listdir(os.path.dirname(__file__)))
                print("BREACH listed the submission's folder")
            except OSError as exc:
                print("refused", exc)
            return None
        """)
    graded(path)


def test_the_database_cannot_be_read_or_found(tmp_path):
    """The database holds the source of a passed attempt (the classmate's, recorded by the
    fixture); neither $MLQUIZ_DB nor the grading process's environment leads to it."""
    db = os.environ["MLQUIZ_DB"]
    path = hostile(tmp_path, f"""
        import sqlite3

        def steal():
            assert "MLQUIZ_DB" not in os.environ and "HOME" not in os.environ, os.environ
            for guess in (os.environ.get("MLQUIZ_DB", ""), {db!r}, f"/proc/{{os.getppid()}}/environ",
                          f"/proc/{{sys.argv[-1]}}/environ"):
                try:
                    data = open(guess, "rb").read()
                    print("BREACH read", guess, len(data))
                except OSError as exc:
                    print("refused", guess, exc)
            try:
                connection = sqlite3.connect({db!r})
                rows = connection.execute("select source from submissions").fetchall()
                print("BREACH queried", len(rows))
                namespace = {{}}
                exec(rows[0][0], namespace)
                return namespace["batchnorm_backward"]
            except Exception as exc:
                print("refused", exc)
            return None
        """)
    graded(path)


# ---------------------------------------------------------------------------------------------
# Forging a recorded pass, and backdoors


WRITE_GRADER_MEMORY = """
    import ctypes

    def steal():  # the fork server (the parent), then the grading process (the server's last argument)
        for ppid in (os.getppid(), int(sys.argv[-1])):
            steal_from(ppid)

    def steal_from(ppid):
        try:
            with open(f"/proc/{ppid}/mem", "r+b") as memory:
                memory.seek(0x400000)
                memory.write(b"pass")
            print("BREACH wrote the grader's memory")
        except OSError as exc:
            print("refused mem", exc)
        libc = ctypes.CDLL(None, use_errno=True)
        for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
            if libc.ptrace(request, ppid, 0, 0) == 0:
                print("BREACH traced the grader")
            else:
                print("refused ptrace", os.strerror(ctypes.get_errno()))
        buffer = ctypes.create_string_buffer(16)
        iov = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 16)
        remote = (ctypes.c_void_p * 2)(0x400000, 16)
        if libc.process_vm_readv(ppid, iov, 1, remote, 1, 0) > 0:
            print("BREACH read the grader's memory")
        for signal_number in (19, 9):  # SIGSTOP, SIGKILL the grading process
            try:
                os.kill(ppid, signal_number)
                print("BREACH signalled the grader")
            except OSError as exc:
                print("refused kill", exc)
        return None
"""


@pytest.mark.parametrize("user", USERS)
def test_the_grading_process_cannot_be_written_traced_or_signalled(place, user):
    path = hostile(place[0], WRITE_GRADER_MEMORY)
    result = cli("grade", path, user=user)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BREACH" not in result.stdout
    assert "refused ptrace" in result.stdout and "refused kill" in result.stdout
    assert "as Again" in result.stderr
    assert_no_traceback(result)


def test_nothing_can_be_planted_in_the_install(tmp_path):
    path = hostile(tmp_path, f"""
        def steal():
            site = os.path.dirname(os.path.dirname(os.path.realpath(np.__file__)))
            targets = [os.path.join(site, "zz_backdoor.pth"), os.path.join(site, "numpy", "backdoor.py"),
                       {str(PACKAGE_DIR / "grading" / "numeric.py")!r}, os.path.realpath(np.__file__),
                       os.path.join(os.path.dirname(os.__file__), "sitecustomize.py")]
            for target in targets:
                try:
                    with open(target, "a") as f:
                        f.write("import os\\n")
                    print("BREACH wrote", target)
                except OSError as exc:
                    print("refused", target, exc)
            return None
        """)
    graded(path)


@pytest.mark.parametrize("user", USERS)
def test_the_database_cannot_be_written_truncated_or_locked(place, user):
    folder, db = place
    path = hostile(folder, f"""
        import fcntl, sqlite3

        def steal():
            try:
                connection = sqlite3.connect({db!r})
                connection.execute("update submissions set passed = 1")
                connection.commit()
                print("BREACH updated the database")
            except Exception as exc:
                print("refused", exc)
            for mode in ("r+b", "ab", "wb"):
                try:
                    handle = open({db!r}, mode)
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    print("BREACH opened the database with", mode)
                except OSError as exc:
                    print("refused", mode, exc)
            return None
        """)
    result = cli("grade", path, user=user)
    assert result.returncode == 1 and "BREACH" not in result.stdout, result.stdout + result.stderr
    assert "recorded attempt" in result.stderr  # the database is neither locked nor broken
    assert_no_traceback(result)


def test_a_setsid_daemon_does_not_outlive_the_grading(tmp_path):
    """A double-forked daemon that would rewrite the verdict after mlquiz exits: it cannot
    leave the process group, so it is killed with it."""
    db = os.environ["MLQUIZ_DB"]
    path = hostile(tmp_path, f"""
        import time

        def steal():
            if os.fork() == 0:
                try:
                    os.setsid()
                    print("BREACH setsid", flush=True)
                except OSError as exc:
                    print("refused setsid", exc, flush=True)
                try:
                    os.setpgid(0, 0)
                    print("BREACH setpgid", flush=True)
                except OSError as exc:
                    print("refused setpgid", exc, flush=True)
                if os.fork() == 0:
                    time.sleep(3)  # mlquiz has exited by now
                    for target in ({db!r}, {str(tmp_path / "classmate" / "bn_backward.py")!r}):
                        try:
                            open(target, "ab").write(b"tampered")
                        except OSError:
                            pass
                    os._exit(0)
                os._exit(0)
            time.sleep(0.3)
            return None
        """)
    result = cli("grade", path)
    assert "refused setsid" in result.stdout and "BREACH" not in result.stdout, result.stdout
    time.sleep(3.5)  # the daemon's time to act (the fixture then checks that nothing changed)


# ---------------------------------------------------------------------------------------------
# Network, disk, terminal


def test_no_network_connection(tmp_path):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    port = server.getsockname()[1]
    path = hostile(tmp_path, f"""
        import socket

        def steal():
            attempts = [(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", {port})),
                        (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", {port})),
                        (socket.AF_INET6, socket.SOCK_STREAM, ("::1", {port})),
                        (socket.AF_PACKET, socket.SOCK_RAW, None)]
            for family, kind, address in attempts:
                try:
                    s = socket.socket(family, kind)
                    if address:
                        s.connect(address)
                        s.sendall(b"stolen")
                    print("BREACH socket", family, kind)
                except OSError as exc:
                    print("refused", family, exc)
            try:
                a, b = socket.socketpair()  # AF_UNIX: allowed (multiprocessing uses it)
                a.sendall(b"ok")
                print("unix socket pair", b.recv(2))
            except OSError as exc:
                print("BREACH unix socket pair refused", exc)
            return None
        """)
    function, report = graded(path)
    assert "unix socket pair b'ok'" in report.stdout
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


def test_files_are_limited_to_64_mb(tmp_path):
    path = hostile(tmp_path, """
        def steal():
            try:
                with open("big.bin", "wb") as f:
                    for _ in range(100):
                        f.write(b"x" * 2**20)
                print("BREACH wrote 100 MB")
            except OSError as exc:
                print("refused", exc, os.path.getsize("big.bin") // 2**20, "MB")
            return None
        """)
    function, report = graded(path)
    assert "File too large" in report.stdout and " 64 MB" in report.stdout


def test_escape_sequences_reach_the_terminal_inert(tmp_path):
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent('''\
        import sys
        import numpy as np
        print("\\x1b[2J\\x1b[H  PASS  batchnorm_backward\\r\\x07\\u202e")
        sys.stderr.write("\\x1b]0;owned\\x07\\x9b31m")
        Fake = type("\\x1b[32mPASS", (), {})

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            if x.shape[0] % 2:
                raise ValueError("\\x1b[1A\\x1b[2K  PASS")
            return Fake()
        '''))
    for args in (["grade", path, "--no-record"], ["grade", path, "--no-record", "--json"]):
        result = cli(*args)
        assert result.returncode == 1
        for control in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
            assert control not in result.stdout + result.stderr
        assert_no_traceback(result)
    assert "\\x1b[2J" in cli("grade", path, "--no-record").stdout


# ---------------------------------------------------------------------------------------------
# The protocol is the grading process's


def forging(tmp_path, lines: str, then: str = "os._exit(0)") -> Path:
    """A submission that writes ``lines`` (Python expression giving bytes) to the result pipe."""
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent(f"""\
        import os, sys, time
        pipe = 3  # the result pipe

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            os.write(pipe, {lines})
            {then}
        """))
    return path


START = b'{"event": "start", "function": "batchnorm_backward"}\n'


def test_forged_starts_do_not_reset_the_deadline(tmp_path):
    path = forging(tmp_path, "b''", then=f"""
            while True:
                os.write(pipe, {START!r})
                time.sleep(0.05)""")
    started = time.monotonic()
    (function,) = grade_file(path, timeout=1).functions
    assert time.monotonic() - started < 10
    assert function.verdict == "fail" and "timed out" in function.explanation


def test_an_unknown_function_does_not_restart_the_child_forever(tmp_path):
    """Every child announces a function the grading process never asked for, then dies: at
    most one child for each of the three functions."""
    counter = Path("/dev/shm", f"mlquiz-test-{os.getpid()}-children")
    path = tmp_path / "bn_forward.py"
    path.write_text(textwrap.dedent(f"""\
        import os, sys
        open({str(counter)!r}, "a").write("x")
        os.write(3, b'{{"event": "imported", "functions": []}}\\n'
                 b'{{"event": "start", "function": "no_such_function"}}\\n')
        os._exit(3)
        """))
    try:
        started = time.monotonic()
        report = grade_file(path, timeout=1)
        assert time.monotonic() - started < 20
        assert not any(f.verdict == "pass" for f in report.functions)
        assert len(counter.read_text()) <= len(report.functions) == 3
    finally:
        counter.unlink(missing_ok=True)


@pytest.mark.parametrize("forged", [
    b'{"event": "result", "job": 0, "ok": true, "value": null, "seconds": 1' + b"0" * 400 + b'}',
    b'{"event": "result", "job": 0, "ok": true, "value": 1, "seconds": 1e400, "mutated": [], "warnings": []}',
    b'{"event": "result", "job": 0, "ok": true, "value": {"$r": 1e400}, "seconds": 0, "mutated": [], "warnings": []}',
    b'{"event": "result", "job": 0, "ok": true, "value": [1e400], "seconds": 0, "mutated": [], "warnings": []}',
    b'{"event": "result", "job": 0, "ok": true, "seconds": 0, "mutated": [], "warnings": [], '
    b'"value": {"$c": {"function": "batchnorm_backward", "args": [], "kwargs": [1, 2]}}}',
    b'{"event": "start", "function": ["batchnorm_backward"]}',
    b'{"event": ["result"], "job": 0}',
    b'{"event": "result", "job": 0, "ok": true, "seconds": 0, "mutated": [], "warnings": [], '
    b'"value": {"$a": "AAAAAAAAAAA=", "dtype": "f8", "shape": [1000000000, 1000000000]}}',
    b'{"event": "result", "job": 1e400, "ok": true}',
    b"\xff\xfe not utf-8",
])
def test_forged_numbers_and_shapes_fail_the_function_without_a_traceback(tmp_path, forged):
    path = forging(tmp_path, repr(START + forged + b"\n"))
    result = cli("grade", path, "--no-record", "--timeout", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout
    assert_no_traceback(result)
    if b"1e400" in forged or b"0000" in forged or b"kwargs" in forged or b"not utf" in forged:
        assert "sent something unreadable" in result.stdout


def test_a_line_built_to_make_the_check_slow_is_checked_in_linear_time(tmp_path):
    """Half a megabyte of escaped quotes after one quote: a backtracking scan of strings would
    take minutes."""
    path = forging(tmp_path, repr(START + b'{"event": "result", "job": 0, "x": "' + b'\\"' * 250_000 + b"\n"))
    started = time.monotonic()
    (function,) = grade_file(path, timeout=2).functions
    assert time.monotonic() - started < 15
    assert "sent something unreadable" in function.explanation


def test_brackets_inside_strings_are_text(tmp_path):
    """An honest error message with unbalanced brackets (an array's repr, cut short) is the
    learner's own error, not something unreadable."""
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent("""\
        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            raise ValueError("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ \\" {{ " + repr(x)[:20])
        """))
    (function,) = grade_file(path).functions
    assert "raised ValueError: [[[[" in function.explanation, function.explanation


def test_30_mb_of_empty_lists_keep_the_grader_small(tmp_path):
    path = forging(tmp_path, "b''", then=f"""
            os.write(pipe, {START!r})
            os.write(pipe, b'{{"event": "result", "job": 0, "ok": true, "value": [' + b'[],' * 10**7 + b'[]]}}\\n')
            os._exit(0)""")
    code = ("import resource, sys; from mlquiz.grading.engine import grade_file; "
            "r = grade_file(sys.argv[1], timeout=10); print(r.functions[0].explanation); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    explanation, peak_mb = result.stdout.rsplit("\n", 2)[-3:-1]
    assert "sent something unreadable" in explanation
    # a small multiple of the 30 MB sent (a few copies of the line at most; 922 MB once)
    assert int(peak_mb) < 320, f"the grading process peaked at {peak_mb} MB"


# ---------------------------------------------------------------------------------------------
# Signals to mlquiz


@pytest.mark.parametrize("grade_all", [False, True])
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(tmp_path, signal_number, grade_all):
    marker = Path("/dev/shm", f"mlquiz-test-{os.getpid()}-{signal_number}-{grade_all}")
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent(f"""\
        import os, time

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            if os.fork() == 0:
                while True:
                    time.sleep(1)
            with open({str(marker)!r}, "w") as f:
                f.write(os.getcwd())
            while True:
                time.sleep(1)
        """))
    db = Path(os.environ["MLQUIZ_DB"])
    before = db.read_bytes()
    what = ["--all", str(tmp_path)] if grade_all else [str(path)]
    process = subprocess.Popen([MLQUIZ, "grade", *what, "--timeout", "60"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        scratch = Path(marker.read_text())
        assert scratch.is_dir()
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        marker.unlink(missing_ok=True)
    assert process.returncode != 0
    assert "Traceback" not in out + err
    assert not scratch.parent.exists(), "the scratch folder was left behind"
    assert db.read_bytes() == before, "something was recorded"


def test_killing_mlquiz_outright_kills_its_childrens_processes(tmp_path):
    """SIGKILL leaves mlquiz no cleanup: its fork server dies with it, the child with the
    server, and the processes the child forked with the child."""
    marker = Path("/dev/shm", f"mlquiz-test-{os.getpid()}-killed")
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent(f"""\
        import os, time

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            if os.fork() == 0:
                if os.fork() == 0:
                    while True:
                        time.sleep(1)
                while True:
                    time.sleep(1)
            open({str(marker)!r}, "w").write("forked")
            while True:
                time.sleep(1)
        """))
    process = subprocess.Popen([MLQUIZ, "grade", str(path), "--timeout", "60"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or len(sandbox_children()) < 3:  # its child, a fork, its fork
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        assert fork_servers(process.pid)
        process.kill()
        process.wait()
    finally:
        process.kill()
        marker.unlink(missing_ok=True)
    deadline = time.monotonic() + 5
    while (sandbox_children() or fork_servers(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_children() == [] and fork_servers(process.pid) == []


# ---------------------------------------------------------------------------------------------
# Honest code is unaffected


def test_multiprocessing_pool_works_inside_a_function_and_its_workers_are_confined(tmp_path):
    path = tmp_path / "bn_backward.py"
    path.write_text(CORRECT_BN.replace("def batchnorm_backward(", "def _backward(") + textwrap.dedent(f"""

        def _peek(path):
            try:
                return open(path).read()
            except OSError as exc:
                return "refused " + exc.strerror

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            import multiprocessing
            with multiprocessing.Pool(2) as pool:
                print(pool.apply(_peek, ({str(tmp_path / "classmate" / "bn_backward.py")!r},))[:40])
                return pool.apply(_backward, (dout, x, gamma, eps))
        """))
    report = grade_file(path)
    assert report.passed, report.functions[0].explanation + report.stderr
    assert "refused Permission denied" in report.stdout


def test_temporary_files_go_to_the_scratch_folder(tmp_path):
    """Honest code may write temporary files: they go to the child's scratch folder (removed
    afterwards), and its own file can be read."""
    path = tmp_path / "bn_backward.py"
    path.write_text(CORRECT_BN + textwrap.dedent("""

        import os, tempfile
        with tempfile.NamedTemporaryFile("w+") as scratch:
            scratch.write(open(__file__).read())
            print("temporary file in", os.path.dirname(scratch.name), "working in", os.getcwd())
        """))
    report = grade_file(path)
    assert report.passed
    folder, cwd = report.stdout.split("temporary file in ")[1].split(" working in ")
    assert folder == cwd.split()[0] and not Path(folder).exists()


def test_an_exception_with_a_broken_str_is_the_learners_error(tmp_path):
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent("""\
        class Broken(Exception):
            def __str__(self):
                raise RuntimeError("no message")

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            raise Broken()
        """))
    result = cli("grade", path, "--no-record")
    assert result.returncode == 1
    assert "raised Broken" in result.stdout and "message cannot be shown" in result.stdout
    assert "sys.exit" not in result.stdout and "_child.py" not in result.stdout
    assert_no_traceback(result)


@pytest.mark.parametrize("closing, message", [
    ("os.close(1)", "OSError"),                           # its own stdout: its own error
    ("os.closerange(3, 1024)", "closed a file descriptor"),  # mlquiz's result pipe too
])
def test_a_closed_inherited_descriptor_is_the_learners_error(tmp_path, closing, message):
    path = tmp_path / "bn_backward.py"
    path.write_text(textwrap.dedent(f"""\
        import os

        def batchnorm_backward(dout, x, gamma, eps=1e-5):
            {closing}
            print("after closing")
            return dout, dout.sum(0), dout.sum(0)
        """))
    result = cli("grade", path, "--no-record")
    assert result.returncode == 1
    assert message in result.stdout and "sys.exit" not in result.stdout, result.stdout
    assert "_child.py" not in result.stdout
    assert_no_traceback(result)
