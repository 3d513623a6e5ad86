"""Run a learner's file in a separate, confined process and collect what it returns.

The children are forked by a fork server (``server.py``, ``_child.py``), started once per
grading process with ``python -I -S``: no site-packages, no environment variables of Python's,
no current directory on ``sys.path``; only the standard library and a folder that links to
numpy alone, so neither mlquiz nor its references can be imported. The server imports numpy
once and never runs a learner's code, so every child starts as a fresh copy of it in about a
millisecond (grading a folder pays for one numpy, not one per file). A child gets a minimal
environment (no ``MLQUIZ_DB``, ``HOME`` or ``XDG_*``), a memory limit (RLIMIT_AS), a CPU limit,
its own process group (processes it forks are killed with it) and its own scratch folder (its
working directory, removed afterwards). Before running any of the learner's code it confines
itself (``mlquiz/grading/isolation.py``: Landlock, seccomp, no capabilities, file-size limit)
and reports which layers hold: :attr:`Sandbox.layers`.

The grading process owns the protocol. The child reads its jobs on stdin and answers on a
separate pipe, one JSON line per event (see ``_child.py``); since the learner's code can write
to that pipe too, every line is checked before it is parsed (:func:`parse_line`: size, nesting,
memory it would take: the grading process's memory stays within a small multiple of the
result bytes) and every event after it is (:func:`plain_value`, ...). Anything that is
not a well-formed event fails the running function with :data:`UNREADABLE`. Importing the file
gets ``timeout`` seconds, each graded function ``timeout`` seconds for all its cases, counted
from the ``start`` of the function the grading process expects next (a ``start`` for any other
function is ignored), and one run never exceeds ``timeout * (2 * functions + 1)``. A function
that hangs, kills or crashes the process fails alone: a fresh child runs the functions after
it, so there is at most one restart per function. Its stdout and stderr are captured,
truncated, and made inert (:func:`inert`: no control characters reach the terminal).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlquiz.grading._child import PIPE_CLOSED_EXIT
from mlquiz.grading.server import fork_server

OUTPUT_LIMIT = 64 * 1024  # bytes of stdout and of stderr kept for the report
RESULT_LIMIT = 64 * 1024 * 1024  # bytes of results accepted from one run (honest ones: < 100 kB)
PARSED_LIMIT = 4 * RESULT_LIMIT  # bytes the parsed results of one run may take in the grading process
LINE_LIMIT = RESULT_LIMIT  # bytes of one event line
DEPTH_LIMIT = 32  # nesting of JSON containers in one line
STARTUP_SECONDS = 60.0  # for a child to load Python and numpy, before any learner code runs
CONFINED = True  # False only to measure what the layers cost (bench/bench_grade.py)
UNREADABLE = "failed: the submission's process sent something unreadable"
_DTYPE_SIZES = {"f8": 8, "f4": 4, "f2": 2, "i8": 8, "b1": 1}  # as _child.encode writes them


class SandboxUnavailable(Exception):
    """The sandbox lacks layers that were required (``require=True``)."""


class Interrupted(Exception):
    """Grading was interrupted (Ctrl-C, SIGTERM, SIGHUP): no child may start any more."""


@dataclass
class SandboxRun:
    """What came back from running the jobs of one submission."""

    import_error: dict | None = None  # {"type", "message", "traceback"} when the file failed to load
    memory_needed_mb: int | None = None  # set when numpy alone did not fit in the memory limit
    functions_defined: list = field(default_factory=list)
    results: dict = field(default_factory=dict)  # job index -> result event (raw JSON data)
    function_errors: dict = field(default_factory=dict)  # function name -> why it was stopped
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0


# ---------------------------------------------------------------------------------------------
# What the child sends, checked


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (but newline and tab) and
    bidirectional overrides shown escaped (``\\x1b``, ``\\r``, ``\\u202e``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_STRINGS = re.compile(rb'"[^"]*"')  # a JSON string once its escapes are removed
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass
class _Budget:
    """What one run has received, and what its parsed events take, in bytes."""

    received: int = 0
    parsed: int = 0


def parse_line(line: bytes, budget: _Budget):
    """Parse one event line, or raise ValueError without parsing when it is too long, nested
    deeper than DEPTH_LIMIT, or would bring the memory the run's parsed events take past
    PARSED_LIMIT (estimated from the line's text: each list or dict about 64 bytes, each other
    element up to 32, each string its length), so that 30 MB of ``[]`` cannot take 1 GB."""
    if len(line) > LINE_LIMIT:
        raise ValueError("line too long")
    # The structure outside strings, in linear time: escaped backslashes, then escaped quotes
    # removed, what remains between quotes is a string's text.
    unescaped = line.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in line else line
    skeleton = _STRINGS.sub(b'""', unescaped)
    del unescaped  # one copy of a long line at a time
    cost = 64 * (skeleton.count(b"[") + skeleton.count(b"{")) + 32 * (skeleton.count(b",") + 1) + len(line)
    if budget.parsed + cost > PARSED_LIMIT:
        raise ValueError("too much data")
    budget.parsed += cost
    brackets = skeleton.translate(None, _NOT_BRACKETS)
    for _ in range(DEPTH_LIMIT):  # each pass removes the innermost level of nesting
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not brackets:
            break
    else:
        raise ValueError("nested too deeply")
    return json.loads(line)


def plain_value(value, depth=0):
    """A result value as the wire format allows it (``_child.encode``), checked and with its
    strings made inert; ValueError for anything else (an input-only ``$r``/``$c``, a number
    JSON should not hold, an array whose data does not match its shape)."""
    if depth > DEPTH_LIMIT:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) >= 2**63:
            raise ValueError("integer out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, list):
        return [plain_value(v, depth + 1) for v in value]
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$t"), list):
        return {"$t": plain_value(value["$t"], depth + 1)}
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$o"), str):
        return {"$o": inert(value["$o"])[:200]}
    if isinstance(value, dict) and set(value) == {"$a", "dtype", "shape"}:
        _check_array(value)
        return value
    raise ValueError("not a value of the wire format")


def _check_array(value):
    data, code, shape = value["$a"], value["dtype"], value["shape"]
    if not (isinstance(data, str) and code in _DTYPE_SIZES and isinstance(shape, list)
            and len(shape) <= DEPTH_LIMIT
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**40 for n in shape)):
        raise ValueError("malformed array")
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("malformed array data") from None
    if size != math.prod(shape) * _DTYPE_SIZES[code]:
        raise ValueError("array data does not match its shape")


def _strings(value, limit=20) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return [inert(v)[:500] for v in value[:limit]]


def _checked_error(error) -> dict:
    """An error as the child reported it: every field a short inert string."""
    if not isinstance(error, dict) or not all(isinstance(error.get(k, ""), str)
                                              for k in ("type", "message", "traceback")):
        raise ValueError("malformed error")
    checked = {key: inert(error.get(key) or "")[:limit]
               for key, limit in (("type", 200), ("message", 4000), ("traceback", 20000))}
    checked["type"] = checked["type"] or "Error"
    function = error.get("function")
    checked["function"] = inert(function)[:200] if isinstance(function, str) else None
    return checked


def _checked_result(event: dict) -> dict:
    """A result event with the types the grading process relies on; ValueError otherwise."""
    ok = event.get("ok")
    if not isinstance(ok, bool):
        raise ValueError("malformed result")
    if not ok:
        return {"ok": False, "value": None, "mutated": [], "warnings": [], "seconds": 0.0,
                "error": _checked_error(event.get("error"))}
    seconds = event.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e6:
        raise ValueError("malformed time")
    return {"ok": True, "value": plain_value(event.get("value")), "mutated": _strings(event.get("mutated")),
            "warnings": _strings(event.get("warnings")), "seconds": float(seconds), "error": None}


# ---------------------------------------------------------------------------------------------
# The child processes


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
        text = inert(self.kept.decode("utf-8", errors="replace"))
        if self.total > len(self.kept):
            text += f"\n... ({self.total - len(self.kept)} more bytes not shown)"
        return text


_live = set()  # the children not known to have ended, for interrupt()
_interrupted = threading.Event()


def interrupt():
    """Kill every child now and start no other (the signal handler of ``engine.interruptible``)."""
    _interrupted.set()
    for process in list(_live):
        process.kill_group()


def resume():
    """Allow children again once the interruption is over (a test, or a long-lived caller)."""
    _interrupted.clear()


def _kill_group(process, wait=True):
    process.kill_group()
    if not wait:
        return
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return  # still dying (a machine under load): kept in _live, dropped by a later _spawn
    _live.discard(process)


def _describe_exit(process) -> str:
    returncode = process.returncode
    if returncode is None:
        return inert(process.lost) if process.lost else "the process stopped answering"
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
    if returncode == PIPE_CLOSED_EXIT:
        return ("lost its connection to mlquiz: your code closed a file descriptor it inherited "
                "(os.close or os.closerange?)")
    return f"the process exited with code {returncode} (sys.exit or os._exit in your code?)"


class Sandbox:
    """Runs a learner's file in child processes. The first child starts at once, so that its
    interpreter and numpy load while the grading process prepares the cases; ``run`` then
    feeds it the jobs, and starts a fresh child after a function that hangs or kills one.

        with Sandbox(path, memory_mb=1024, functions=3, timeout=5) as sandbox:
            run = sandbox.run(source, jobs, timeout=5)

    With ``require=True``, ``run`` raises :class:`SandboxUnavailable` before any of the
    learner's code runs when a layer is missing.
    """

    def __init__(self, submission: Path, memory_mb: int, functions: int, timeout: float,
                 require: bool = False):
        from mlquiz.grading.isolation import make_undumpable

        self.submission = submission
        self.memory_mb = memory_mb
        self.require = require
        self._undumpable = make_undumpable()  # before any child exists
        self.layers = {}  # {layer: True or why it is missing}, as the children reported
        # A backstop for the CPU time of one child, which wall-clock deadlines stop first.
        self.cpu_seconds = int(timeout * (functions + 1)) + 2
        self._tmp = tempfile.TemporaryDirectory(prefix="mlquiz-", ignore_cleanup_errors=True)
        self._children = 0
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
        for _ in range(3):  # a killed process may still be on its way out while the folder goes
            self._tmp.cleanup()
            if not os.path.exists(self._tmp.name):
                break
            time.sleep(0.05)

    def _spawn(self):
        if _interrupted.is_set():
            raise Interrupted()
        for process in list(_live):  # forget the killed children that took long to die
            if process.poll() is not None or process.lost:
                _live.discard(process)
        self._children += 1
        scratch = Path(self._tmp.name, f"work-{self._children}")
        scratch.mkdir()
        read_fd, write_fd = os.pipe()
        process = fork_server().fork(self.submission, scratch, self.memory_mb, self.cpu_seconds,
                                     CONFINED, write_fd)
        _live.add(process)
        return process, read_fd

    def run(self, source: str, jobs: list, timeout: float, meanwhile=None) -> SandboxRun:
        """Run ``jobs`` (encoded, each ``{"function": name, "calls": [...]}``, grouped by
        function) against ``source``, the text of the learner's file. ``meanwhile()`` is called
        once the first child has its jobs, so that the grading process works while it runs (no
        function's time limit counts it)."""
        run = SandboxRun()
        functions = list(dict.fromkeys(job["function"] for job in jobs))
        deadline = time.monotonic() + timeout * (2 * len(functions) + 1)
        remaining = list(range(len(jobs)))
        budget = _Budget()
        stdout_parts, stderr_parts = [], []
        while True:  # one child at least, even with no jobs (``probe``)
            process, read_fd = self._ready or self._spawn()
            self._ready = None
            session = _Session(process, read_fd, jobs, remaining, timeout, deadline, run, budget)
            try:
                remaining = session.run(self, source, meanwhile)
                meanwhile = None
            finally:
                session.close(stdout_parts, stderr_parts)
            if not remaining:
                break
        run.stdout = "\n".join(p for p in stdout_parts if p)
        run.stderr = "\n".join(p for p in stderr_parts if p)
        return run

    def _check_layers(self, layers):
        layers = {"not_dumpable": self._undumpable, **layers}
        for name, held in layers.items():  # a layer holds if it held in every child
            if self.layers.get(name, True) is True:
                self.layers[name] = held
        missing = missing_layers(layers)
        if self.require and missing:
            by_reason = {}
            for name, reason in missing.items():
                by_reason.setdefault(reason, []).append(name)
            raise SandboxUnavailable("the sandbox lacks " + "; ".join(
                f"{', '.join(names)} ({reason})" for reason, names in by_reason.items()))


def missing_layers(layers: dict) -> dict:
    """The layers of a sandbox report that do not hold, with why: ``{layer: reason}``."""
    from mlquiz.grading.isolation import LAYERS

    return {name: layers.get(name, "not reported") for name in LAYERS if layers.get(name) is not True}


def probe(timeout: float = 10.0) -> dict:
    """The layers a child gets on this machine, ``{layer: True or why it is missing}``: a real
    child is started, confines itself and imports an empty file."""
    with tempfile.TemporaryDirectory(prefix="mlquiz-probe-") as folder:
        empty = Path(folder, "probe.py")
        empty.write_text("")
        with Sandbox(empty, memory_mb=1024, functions=0, timeout=timeout) as sandbox:
            run = sandbox.run("", [], timeout)
    if run.import_error and not sandbox.layers:
        raise SandboxUnavailable(f"the sandbox's child did not start: {run.import_error['message']}")
    return sandbox.layers


class _Stop(Exception):
    """The child must be stopped, for the reason given."""


class _Lines:
    """Reads event lines from a pipe: complete lines as bytes; None at the end of the pipe."""

    def __init__(self, read_fd, budget: _Budget):
        self.read_fd = read_fd
        self.parts = []
        self.size = 0
        self.budget = budget

    def read(self, deadline) -> list | None:
        """The lines that arrived before ``deadline`` ([] when none did); ValueError when a
        line grows past LINE_LIMIT or the run past RESULT_LIMIT."""
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([self.read_fd], [], [], wait)[0]:
            return []
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            return None
        self.budget.received += len(chunk)
        if self.budget.received > RESULT_LIMIT:
            raise OverflowError("returned more data than mlquiz accepts")
        *complete, rest = chunk.split(b"\n")
        lines = []
        for piece in complete:
            self.parts.append(piece)
            lines.append(b"".join(self.parts))
            self.parts, self.size = [], 0
        self.parts.append(rest)
        self.size += len(rest)
        if self.size > LINE_LIMIT:
            raise ValueError("line too long")
        return lines


class _Session:
    """One child process over the ``remaining`` jobs: the grading process's side of the protocol."""

    def __init__(self, process, read_fd, jobs, remaining, timeout, deadline, run, budget):
        self.process, self.read_fd, self.budget = process, read_fd, budget
        self.jobs, self.remaining, self.timeout, self.run_deadline, self.out = jobs, remaining, timeout, deadline, run
        self.expected = list(dict.fromkeys(jobs[i]["function"] for i in remaining))
        self.current = None  # the function running now
        self.started = 0  # how many of the expected functions have started
        self.answered = set()
        self.imported = False
        self.finished = False
        self.captures = [_Capture(process.stdout), _Capture(process.stderr)]
        for capture in self.captures:
            capture.start()

    def run(self, sandbox, source, meanwhile=None) -> list:
        """Returns the jobs still to run in a fresh child."""
        lines = _Lines(self.read_fd, self.budget)
        stop = self._sandbox_report(sandbox, lines)
        if stop is None:
            try:
                self.process.stdin.write(json.dumps({"source": source, "jobs": [self.jobs[i] for i in self.remaining]}).encode())
                self.process.stdin.close()
            except OSError:
                pass
            if meanwhile:
                meanwhile()
            stop = self._events(lines)
        if self.finished:
            return []
        if not self.imported and not self.out.functions_defined:  # the file never finished importing
            self.out.import_error = {"type": "ImportStopped", "message": f"while importing your file, {stop.removeprefix('failed: ')}",
                                     "traceback": "", "function": None}
            return []
        if not self.expected:
            return []
        blamed = self.current or self.expected[0]
        self.out.function_errors[blamed] = stop
        later = set(self.expected[self.expected.index(blamed) + 1:])
        return [i for i in self.remaining if self.jobs[i]["function"] in later]

    def _sandbox_report(self, sandbox, lines) -> str | None:
        """Wait for the child's first line, the layers it applied (sent before any of the
        learner's code runs, so trustworthy); a reason to stop, or None."""
        deadline = time.monotonic() + STARTUP_SECONDS
        received = []
        while not received:
            try:
                got = lines.read(deadline)
            except (ValueError, OverflowError):
                got = None
            if not got:
                if got is None or time.monotonic() >= deadline:
                    return self._exit_reason() if got is None else "the sandbox did not start in time"
                continue
            received = got
        try:
            event = json.loads(received[0])  # the only line: the child now waits for its jobs
            layers = event["layers"] if event["event"] == "sandbox" else None
        except (ValueError, KeyError, TypeError):
            layers = None
        if not isinstance(layers, dict):
            return "the sandbox did not start (its first message was unreadable)"
        needed = event.get("memory_needed_mb")
        if isinstance(needed, int) and not isinstance(needed, bool) and needed > 0:
            self.out.import_error = {"type": "MemoryLimit", "message": f"numpy alone needs {needed} MB",
                                     "traceback": "", "function": None}
            self.out.memory_needed_mb = needed  # and nothing of the learner's ran
            self.finished = True
            return ""
        sandbox._check_layers({str(k): v if v is True else inert(str(v)) for k, v in layers.items()})
        return None

    def _events(self, lines) -> str:
        """Read events until the child is done or stopped; returns why it stopped."""
        deadline = min(time.monotonic() + self.timeout, self.run_deadline)
        while True:
            try:
                got = lines.read(deadline)
            except OverflowError as exc:
                return str(exc)
            except ValueError:
                return UNREADABLE
            if got is None:
                return self._exit_reason()
            if not got and time.monotonic() >= deadline:
                return f"timed out: still running after {self.timeout:g} s"
            for line in got:
                try:
                    restart = self._event(parse_line(line, self.budget))
                except _Stop as stop:
                    return str(stop)
                except (ValueError, TypeError, KeyError, RecursionError, OverflowError):
                    return UNREADABLE
                if self.finished:
                    return ""
                if restart:
                    deadline = min(time.monotonic() + self.timeout, self.run_deadline)

    def _event(self, event) -> bool:
        """Apply one parsed event; True when it starts the next function's clock. Raises
        ValueError for anything that is not an event of the protocol."""
        kind = event["event"]
        if kind == "import_error" and not self.imported:
            error = _checked_error(event["error"])
            if self.out.functions_defined:  # a fresh child after a restart: the next function fails
                raise _Stop(f"failed: your file failed to load again: {error['type']}: {error['message']}")
            self.out.import_error = error
            self.finished = True
        elif kind == "imported" and not self.imported:
            self.imported = True
            self.out.functions_defined = _strings(event["functions"], limit=10_000)
        elif kind == "start" and isinstance(event["function"], str):
            if self.started < len(self.expected) and event["function"] == self.expected[self.started]:
                self.current = self.expected[self.started]
                self.started += 1
                return True
        elif kind == "result":
            if not isinstance(event["job"], int) or isinstance(event["job"], bool):
                raise ValueError("malformed job number")
            result = _checked_result(event)
            if 0 <= event["job"] < len(self.remaining):
                index = self.remaining[event["job"]]
                if self.jobs[index]["function"] == self.current and index not in self.answered:
                    self.out.results[index] = result
                    self.answered.add(index)
        elif kind == "done":
            self.finished = True
        elif kind not in ("import_error", "imported", "start", "result"):
            raise ValueError("not an event")
        return False

    def _exit_reason(self) -> str:
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        return _describe_exit(self.process)

    def close(self, stdout_parts, stderr_parts):
        os.close(self.read_fd)
        if self.finished:
            try:
                self.process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.process)
        for capture in self.captures:
            capture.join(timeout=1)
            capture.stream.close()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        stdout_parts.append(self.captures[0].text())
        stderr_parts.append(self.captures[1].text())
        self.out.stdout_bytes += self.captures[0].total
        self.out.stderr_bytes += self.captures[1].total
