"""The fork server of the grading process: one process that imports numpy once and forks a
child for each file to grade (its side of the protocol is ``_child.py``'s ``serve``).

:func:`fork_server` starts it on first use (and again if it ended); the ``mlquiz`` command
starts it before anything else when it grades (``mlquiz/__main__.py``), so that numpy loads in
the server while the grading process imports the rest, which is why this module imports
neither numpy nor the rest of mlquiz. :meth:`ForkServer.fork` asks for a child and returns at
once, a :class:`Child` the sandbox (``sandbox.py``) runs the jobs through. The server is
started with ``python -I -S`` and a minimal environment, and never runs a learner's code: every
child is a fresh copy of it.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from importlib.util import find_spec
from pathlib import Path

CHILD_SCRIPT = Path(__file__).with_name("_child.py")


def _numpy_only_dir(tmp: str) -> str:
    """A folder holding a link to the numpy package (and its bundled libraries) and nothing else."""
    spec = find_spec("numpy")
    package = Path(spec.origin).parent
    folder = Path(tmp, "site")
    folder.mkdir()
    os.symlink(package, folder / "numpy")
    for sibling in package.parent.glob("numpy.libs"):
        os.symlink(sibling, folder / sibling.name)
    return str(folder)


KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def _child_environment(scratch: str) -> dict:
    """The environment of the server, and so of every child (which sets its own TMPDIR):
    locale and time zone only, nothing that names the user's files (MLQUIZ_DB, HOME, XDG_*)."""
    env = {k: os.environ[k] for k in KEPT_ENVIRONMENT if k in os.environ}
    # One BLAS thread: less address space under the memory limit, no oversubscription, and a
    # process with one thread when the sandbox is applied.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", BLIS_NUM_THREADS="1",
               VECLIB_MAXIMUM_THREADS="1", TMPDIR=scratch)
    return env


class Child:
    """A child of the fork server, as the grading process sees it: the pipes of its stdin,
    stdout and stderr, its pid (once the server has told it) and its exit code (once it ended:
    negative for a signal, as ``subprocess`` counts; None while it runs, or when the fork
    server ended first, ``lost`` saying why)."""

    def __init__(self, server, stdin, stdout, stderr):
        self.server = server
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.pid = None
        self.returncode = None
        self.lost = None
        self.doomed = False  # killed before its pid was known: killed as soon as it is

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        """The exit code; subprocess.TimeoutExpired if the child still runs after ``timeout``."""
        if not self.server.wait_for(self, timeout):
            raise subprocess.TimeoutExpired("mlquiz sandbox child", timeout)
        return self.returncode

    def kill_group(self):
        """SIGKILL the child's process group: the child and every process it forked."""
        with self.server.changed:
            if self.pid is None:
                self.doomed = True
                return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class ForkServer:
    """The fork server of this grading process (see ``_child.py``): started by a thread of its
    own, which lives as long as the server (a parent death signal follows the thread that
    started the process), reads the server's answers and hands them to the waiting children."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mlquiz-", ignore_cleanup_errors=True)
        self.numpy_dir = _numpy_only_dir(self._tmp.name)
        self.socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.changed = threading.Condition()
        self.ended = None  # why the server is gone, once it is
        # One request is in flight at a time, so that the descriptors the server receives are
        # always the request's it reads: the others wait, with their descriptors, in _queue.
        self._queue = collections.deque()  # (Child, request line, descriptors) not sent yet
        self._in_flight = None  # the Child whose pid the server will tell next
        self._running = {}  # pid -> Child waiting for its exit
        self.process = None
        started = threading.Event()
        self._reader = threading.Thread(target=self._serve, args=(theirs, started), daemon=True,
                                        name="mlquiz-fork-server")
        self._reader.start()
        started.wait()

    def _serve(self, theirs, started):
        log = Path(self._tmp.name, "server.log")
        try:
            with open(log, "wb") as errors:
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(CHILD_SCRIPT), self.numpy_dir, str(theirs.fileno()),
                     str(os.getpid())],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                    pass_fds=(theirs.fileno(),), cwd=self._tmp.name, start_new_session=True,
                    env=_child_environment(self._tmp.name))
        except OSError as exc:
            self._end(f"the sandbox could not start: {exc}")
            return
        finally:
            theirs.close()
            started.set()
        for message in self._messages():
            with self.changed:
                if "pid" in message:
                    child, self._in_flight = self._in_flight, None
                    child.pid = message["pid"]
                    self._running[child.pid] = child
                    if child.doomed:
                        child.kill_group()  # the condition's lock is reentrant
                    self._send_next()
                elif "exited" in message:
                    child = self._running.pop(message["exited"], None)
                    if child is not None:
                        child.returncode = os.waitstatus_to_exitcode(message["status"])
                self.changed.notify_all()
        self.process.wait()
        last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        self._end("the sandbox's process ended" + (f": {last[0][:300]}" if last else ""))

    def _messages(self):
        """The server's messages (one JSON object a line) until its socket closes."""
        buffer = b""
        while True:
            try:
                data = self.socket.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            *lines, buffer = (buffer + data).split(b"\n")
            for line in lines:
                yield json.loads(line)

    def _send_next(self):
        """Send the first waiting request if none is in flight (with ``changed`` held)."""
        while self._in_flight is None and self._queue:
            child, line, fds = self._queue.popleft()
            try:
                socket.send_fds(self.socket, [line], fds)
                self._in_flight = child
            except OSError as exc:
                child.lost = f"the sandbox's process cannot be reached: {exc}"
            finally:
                for fd in fds:
                    os.close(fd)

    def _end(self, why):
        with self.changed:
            self.ended = why
            children = [child for child, _, _ in self._queue] + list(self._running.values())
            for child in children + ([self._in_flight] if self._in_flight else []):
                child.lost = why
            for _, _, fds in self._queue:
                for fd in fds:
                    os.close(fd)
            self._queue.clear()
            self._in_flight = None
            self._running.clear()
            self.changed.notify_all()

    def fork(self, submission, scratch, memory_mb, cpu_seconds, confined, result_fd) -> Child:
        """Ask for a child running ``submission`` in ``scratch``, its events on ``result_fd``
        (the write end of a pipe, closed here once sent). Returns at once: the child starts
        as soon as the server is ready."""
        pipes = [os.pipe() for _ in range(3)]
        child = Child(self, open(pipes[0][1], "wb"), open(pipes[1][0], "rb"), open(pipes[2][0], "rb"))
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1], result_fd]
        request = {"submission": str(submission), "scratch": str(scratch), "memory_mb": memory_mb,
                   "cpu_seconds": cpu_seconds, "confined": confined}
        with self.changed:
            if self.ended:
                child.lost = self.ended
                for fd in theirs:
                    os.close(fd)
            else:
                self._queue.append((child, (json.dumps(request) + "\n").encode(), theirs))
                self._send_next()
        return child

    def wait_for(self, child, timeout) -> bool:
        """Wait until ``child`` has ended (or the server has); False after ``timeout``."""
        with self.changed:
            return self.changed.wait_for(lambda: child.returncode is not None or child.lost is not None,
                                         timeout)

    def stop(self):
        """Tell the server to exit (its socket shut: it exits when it reads the end) and remove
        its folder, without waiting: what this process does as it exits."""
        try:
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the reader thread; a bare close would not
        except OSError:
            pass
        self.socket.close()
        self._tmp.cleanup()

    def close(self):
        """Stop the server and wait until it has exited."""
        self.stop()
        self._reader.join(timeout=2)  # it reaps the server once it has exited
        if self._reader.is_alive() and self.process is not None:
            self.process.kill()
            self._reader.join()


_server = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer:
    """This process's fork server, started on first use and again if it ended."""
    global _server
    with _server_lock:
        if _server is None or _server.ended:
            if _server is not None:
                _server.close()
            else:  # at exit the server is told to go; it needs no waiting for
                atexit.register(stop_server, wait=False)
            _server = ForkServer()
        return _server


def stop_server(wait=True):
    """Stop this process's fork server, if it has one (waiting until it has exited unless
    ``wait`` is false: at exit); the next grade starts a new one."""
    with _server_lock:
        if _server is not None:
            _server.close() if wait else _server.stop()
