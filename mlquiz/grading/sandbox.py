"""Run a learner's file in a separate, limited process and collect what it returns.

The child (``mlquiz/grading/_child.py``) is started with ``python -I -S``: no site-packages, no
environment variables of Python's, no current directory on ``sys.path``; only the standard
library and a folder that links to numpy alone, so neither mlquiz nor its references can be
imported. It runs with a memory limit (RLIMIT_AS) and a CPU limit, in its own process group
(so that processes it forks are killed with it), reads its jobs on stdin and answers on a
separate pipe, one JSON line per event. Its stdout and stderr are captured, truncated.

Importing the file gets ``timeout`` seconds, and each graded function ``timeout`` seconds for
all its cases: the clock restarts when the child announces the function. A function that hangs, kills or crashes the process fails alone: the
child is restarted for the functions after it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

CHILD_SCRIPT = Path(__file__).with_name("_child.py")
OUTPUT_LIMIT = 64 * 1024  # bytes of stdout and of stderr kept for the report
RESULT_LIMIT = 256 * 1024 * 1024  # bytes of results accepted from one run


@dataclass
class SandboxRun:
    """What came back from running the jobs of one submission."""

    import_error: dict | None = None  # {"type", "message", "traceback"} when the file failed to load
    functions_defined: list = field(default_factory=list)
    results: dict = field(default_factory=dict)  # job index -> result event (raw JSON data)
    function_errors: dict = field(default_factory=dict)  # function name -> why it was stopped
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0


class _Capture(threading.Thread):
    """Drains a pipe, keeping the first OUTPUT_LIMIT bytes and counting the rest."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.kept = bytearray()
        self.total = 0

    def run(self):
        try:
            while chunk := self.stream.read1(65536):
                self.total += len(chunk)
                room = OUTPUT_LIMIT - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
        except (OSError, ValueError):
            pass

    def text(self):
        text = self.kept.decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            text += f"\n... ({self.total - len(self.kept)} more bytes not shown)"
        return text


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


def _child_environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # One BLAS thread: less address space under the memory limit, no oversubscription.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _checked_error(error) -> dict:
    """An error as the child reported it, with every field a string (the child is untrusted)."""
    error = error if isinstance(error, dict) else {}
    checked = {key: str(error.get(key) or "") for key in ("type", "message", "traceback")}
    checked["type"] = checked["type"] or "Error"
    checked["function"] = error.get("function") if isinstance(error.get("function"), str) else None
    return checked


def _checked_result(event: dict) -> dict:
    """A result event with the types the grading process relies on, whatever the child sent."""
    def strings(key):
        value = event.get(key)
        return [str(v) for v in value] if isinstance(value, list) else []

    seconds = event.get("seconds")
    return {"ok": event.get("ok") is True, "value": event.get("value"),
            "mutated": strings("mutated"), "warnings": strings("warnings"),
            "seconds": float(seconds) if isinstance(seconds, (int, float)) else 0.0,
            "error": None if event.get("ok") is True else _checked_error(event.get("error"))}


def _describe_exit(returncode) -> str:
    if returncode is None:
        return "the process stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if name == "SIGXCPU":
            return "the process ran out of its CPU time limit"
        if name == "SIGKILL":
            return "the process was killed (SIGKILL; often the memory limit)"
        return f"the process crashed ({name})"
    return f"the process exited with code {returncode} (sys.exit or os._exit in your code?)"


class Sandbox:
    """Runs a learner's file in child processes. The first child starts at once, so that its
    interpreter and numpy load while the grading process prepares the cases; ``run`` then
    feeds it the jobs, and starts a fresh child after a function that hangs or kills one.

        with Sandbox(path, memory_mb=1024, functions=3) as sandbox:
            run = sandbox.run(source, jobs, timeout=5)
    """

    def __init__(self, submission: Path, memory_mb: int, functions: int, timeout: float):
        self.submission = submission
        self.memory_mb = memory_mb
        # A backstop for the CPU time of one child, which wall-clock deadlines stop first.
        self.cpu_seconds = int(timeout * (functions + 1)) + 2
        self._tmp = tempfile.TemporaryDirectory(prefix="mlquiz-")
        self._numpy_dir = _numpy_only_dir(self._tmp.name)
        self._ready = self._spawn()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self._ready is not None:
            process, read_fd = self._ready
            os.close(read_fd)
            _kill_group(process)
            for stream in (process.stdin, process.stdout, process.stderr):
                stream.close()
            self._ready = None
        self._tmp.cleanup()

    def _spawn(self):
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-I", "-S", str(CHILD_SCRIPT), str(self.submission), self._numpy_dir,
                   str(write_fd), str(self.memory_mb), str(self.cpu_seconds)]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(write_fd,), cwd=self._tmp.name, env=_child_environment(), start_new_session=True,
        )
        os.close(write_fd)
        return process, read_fd

    def run(self, source: str, jobs: list, timeout: float) -> SandboxRun:
        """Run ``jobs`` (encoded, each ``{"function": name, "calls": [...]}``, grouped by
        function) against ``source``, the text of the learner's file."""
        run = SandboxRun()
        remaining = list(range(len(jobs)))
        stdout_parts, stderr_parts = [], []
        while remaining:
            process, read_fd = self._ready or self._spawn()
            self._ready = None
            remaining = _run_once(process, read_fd, source, jobs, remaining, timeout, run,
                                  stdout_parts, stderr_parts)
        run.stdout = "\n".join(p for p in stdout_parts if p)
        run.stderr = "\n".join(p for p in stderr_parts if p)
        return run


def _run_once(process, read_fd, source, jobs, remaining, timeout, run, stdout_parts, stderr_parts) -> list:
    """One child process over the ``remaining`` jobs; returns the jobs still to run."""
    captures = [_Capture(process.stdout), _Capture(process.stderr)]
    for capture in captures:
        capture.start()
    try:
        process.stdin.write(json.dumps({"source": source, "jobs": [jobs[i] for i in remaining]}).encode())
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass

    current = None  # the function running now
    answered = set()
    finished = False
    deadline = time.monotonic() + timeout
    buffer = b""
    received = 0
    stop_reason = None
    try:
        while not finished:
            wait = deadline - time.monotonic()
            if wait <= 0:
                stop_reason = f"timed out: still running after {timeout:g} s"
                break
            ready, _, _ = select.select([read_fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                process.poll()
                try:
                    process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
                stop_reason = _describe_exit(process.returncode)
                break
            received += len(chunk)
            if received > RESULT_LIMIT:
                stop_reason = "returned more data than mlquiz accepts"
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                    kind = event["event"]
                except (ValueError, KeyError, TypeError, RecursionError):
                    continue  # not ours: something the learner's code wrote to our pipe
                if kind == "import_error":
                    run.import_error = _checked_error(event.get("error"))
                    finished = True
                elif kind == "imported":
                    functions = event.get("functions")
                    run.functions_defined = [f for f in functions if isinstance(f, str)] \
                        if isinstance(functions, list) else []
                elif kind == "start":
                    current = event.get("function")
                    deadline = time.monotonic() + timeout
                elif kind == "result" and isinstance(event.get("job"), int):
                    if 0 <= event["job"] < len(remaining):
                        job_index = remaining[event["job"]]
                        run.results[job_index] = _checked_result(event)
                        answered.add(job_index)
                elif kind == "done":
                    finished = True
    finally:
        os.close(read_fd)
        if finished:
            try:
                process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(process)
        for capture in captures:
            capture.join(timeout=1)
            capture.stream.close()
        stdout_parts.append(captures[0].text())
        stderr_parts.append(captures[1].text())
        run.stdout_bytes += captures[0].total
        run.stderr_bytes += captures[1].total

    if finished:
        return []
    if current is None:  # the file never finished importing
        run.import_error = {"type": "ImportStopped",
                            "message": f"while importing your file, {stop_reason}", "traceback": ""}
        return []
    run.function_errors[current] = stop_reason
    return [i for i in remaining if i not in answered and jobs[i]["function"] != current]
