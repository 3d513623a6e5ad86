"""The child side of the sandbox, and the wire format both sides share.

Run as a script (``python -I -S _child.py NUMPY_DIR CONTROL_FD PARENT_PID``) it is the fork
server: it imports numpy once, then forks one child per request of the grading process, so
that no child pays for the interpreter and numpy again. The server never runs a learner's code;
every child is a fresh copy of it. On the control socket (``CONTROL_FD``, a Unix stream socket:
one JSON object a line) the grading process sends, one request at a time,

    {"submission": path, "scratch": folder, "memory_mb": m, "cpu_seconds": s, "confined": true}
    with four file descriptors attached: the child's stdin, stdout, stderr and results

and the server answers ``{"pid": pid}`` once the child has its own process group (the grading
process kills the group; only then is the next request sent, so that descriptors are never
mistaken for another request's), then ``{"exited": pid, "status": wait status}`` when the
child ends. The server exits when the socket closes, or with the grading process (its parent
death signal).

The child closes the control socket, limits its memory and CPU time, confines itself
(``isolation.confine``: Landlock, seccomp, limits) in its scratch folder and says which layers
hold; then it reads ``{"source": the file's text, "jobs": [...]}`` as one JSON document on
stdin (the text the grading process read, compiled under the name of the submission) and
writes one JSON line per event to file descriptor 3:

    {"event": "sandbox", "layers": {layer: true or "why it is missing"}}   (before any learner code;
        with "memory_needed_mb": n instead when numpy alone fills the memory limit, and nothing more)
    {"event": "imported", "functions": [names defined in the file]}
    {"event": "start", "function": name}
    {"event": "result", "job": i, "ok": true, "value": ENCODED, "mutated": [arg names],
     "warnings": [...], "seconds": s}
    {"event": "result", "job": i, "ok": false, "error": {"type", "message", "traceback"}}
    {"event": "done"}

The learner's code runs in the child, so nothing it sends is trusted by the grading process:
it only ever parses the JSON lines (never pickle) and compares in its own process.

Wire format (``encode``/``decode``): JSON, where a numeric array or numpy scalar is
``{"$a": base64 of little-endian bytes, "dtype": "f8"|"f4"|"f2"|"i8"|"b1", "shape": [...]}``
(float32 and float16 keep their dtype, so that the grading process can refuse them), a Python
float or int is a JSON number and decodes as a Python float or int, a tuple is
``{"$t": [...]}``, a Result placeholder ``{"$r": index}``, a nested call
``{"$c": {"function", "args", "kwargs"}}``, anything else that is not plain JSON
``{"$o": type name}`` (an opaque object, e.g. a learner's own tree).
"""

import base64
import json
import os
import sys
import time
import traceback

RESULT_FD = 3  # the child's descriptor for its events
HEADROOM = 16 * 1024 * 1024  # bytes of address space a child needs beyond what numpy takes
_DTYPES = {"f8": "<f8", "f4": "<f4", "f2": "<f2", "i8": "<i8", "b1": "|b1"}


def encode(value, np):
    """Turn a value into JSON-able data (see the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < 2**53 else encode(float(value), np)
    if type(value) is float:  # a Python float stays one (JSON writes inf and nan as Infinity, NaN)
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind == "b":
            code = "b1"
        elif array.dtype.kind in "iu":
            code = "i8"
        elif array.dtype.kind == "f" and array.dtype.itemsize in (2, 4, 8):
            code = f"f{array.dtype.itemsize}"
        else:
            return {"$o": f"array of dtype {array.dtype}"}
        data = np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
        return {"$a": base64.b64encode(data).decode("ascii"), "dtype": code,
                "shape": list(array.shape)}
    if isinstance(value, tuple):
        return {"$t": [encode(v, np) for v in value]}
    if isinstance(value, list):
        return [encode(v, np) for v in value]
    if type(value).__name__ == "Result" and hasattr(value, "index"):
        return {"$r": int(value.index)}
    if type(value).__name__ == "Call" and hasattr(value, "function"):
        return {"$c": {"function": str(value.function), "args": [encode(a, np) for a in value.args],
                       "kwargs": {k: encode(v, np) for k, v in value.kwargs.items()}}}
    return {"$o": type(value).__name__}


class Opaque:
    """An object of the learner's that cannot cross the process boundary (a tree, a model)."""

    def __init__(self, type_name):
        self.type_name = str(type_name)

    def __repr__(self):
        return f"<{self.type_name} object>"


class NestedCall:
    """Decoded ``{"$c": ...}``: a call of the submission's own function whose result is the
    argument (e.g. ``tree_predict(fit_tree(X, r, 2), X_test)`` grades predict on the
    learner's own tree)."""

    def __init__(self, data, np, max_elements):
        self.function = str(data["function"])
        self.args = [decode(a, np, max_elements) for a in data["args"]]
        self.kwargs = {str(k): decode(v, np, max_elements) for k, v in data["kwargs"].items()}


class Ref:
    """Decoded ``{"$r": i}``: the result of call i of the same job."""

    def __init__(self, index):
        self.index = int(index)


def decode(data, np, max_elements=10**8):
    """Inverse of ``encode``; validates everything (the data may come from untrusted code)."""
    if data is None or isinstance(data, (bool, str, int, float)):
        return data
    if isinstance(data, list):
        return [decode(v, np, max_elements) for v in data]
    if not isinstance(data, dict):
        raise ValueError("malformed value")
    if "$a" in data:
        code = data.get("dtype")
        shape = data.get("shape")
        if code not in _DTYPES or not isinstance(shape, list) or not all(
            isinstance(n, int) and 0 <= n <= max_elements for n in shape
        ):
            raise ValueError("malformed array")
        raw = base64.b64decode(data["$a"], validate=True)
        array = np.frombuffer(raw, dtype=_DTYPES[code])
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError("array size does not match its shape")
        array = array.reshape(shape).copy()
        return array.astype(array.dtype.newbyteorder("="))
    if "$t" in data:
        return tuple(decode(v, np, max_elements) for v in data["$t"])
    if "$r" in data:
        return Ref(data["$r"])
    if "$c" in data and isinstance(data["$c"], dict):
        return NestedCall(data["$c"], np, max_elements)
    if "$o" in data:
        return Opaque(data["$o"])
    raise ValueError("malformed value")


# ---------------------------------------------------------------------------------------------
# The child process


def _limit_resources(memory_mb, cpu_seconds):
    """Hard limits the learner's code cannot raise; returns the MB of address space this process
    already takes when that leaves no room under ``memory_mb`` (numpy alone does not fit), else
    None. A system that refuses one limit (macOS does not enforce RLIMIT_AS) keeps the others
    and the grading process's wall-clock deadline."""
    import resource

    limits = []
    if memory_mb > 0:
        try:
            with open("/proc/self/statm") as statm:  # sizes in pages: total address space first
                taken = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # no /proc (macOS, which does not enforce RLIMIT_AS either)
            taken = 0
        if taken + HEADROOM > memory_mb * 1024 * 1024:
            return -(-(taken + HEADROOM) // (1024 * 1024))
        limits.append((resource.RLIMIT_AS, memory_mb * 1024 * 1024, memory_mb * 1024 * 1024))
    if cpu_seconds > 0:
        limits.append((resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1))
    for kind, soft, hard in limits:
        try:
            resource.setrlimit(kind, (soft, hard))
        except (ValueError, OSError):
            pass
    return None


def _error(exc, submission):
    """An exception as the grading process reads it: its traceback keeps only the frames of
    the learner's file, and ``function`` names the learner's function it was raised in. An
    exception whose ``__str__`` raises is still the learner's own error, told as such."""
    try:
        message = str(exc)
    except BaseException as broken:  # noqa: B036 (the learner's __str__ may raise anything)
        message = f"(its message cannot be shown: str() raised {type(broken).__name__})"
    if len(message) > 2000:
        message = message[:2000] + " ..."
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == submission]
    trimmed = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return {"type": type(exc).__name__, "message": message, "traceback": "".join(trimmed),
            "function": frames[-1].name if frames else None}


def _same(a, b, np):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y, np) for x, y in zip(a, b))
    return True


def _copy(value, np):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v, np) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v, np) for v in value)
    return value


def _resolve(value, results, module):
    if isinstance(value, Ref):
        return results[value.index]
    if isinstance(value, NestedCall):
        function = getattr(module, value.function)
        return function(*[_resolve(a, results, module) for a in value.args],
                        **{k: _resolve(v, results, module) for k, v in value.kwargs.items()})
    if isinstance(value, list):
        return [_resolve(v, results, module) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, results, module) for v in value)
    return value


def _run_job(module, job, np, warnings, submission):
    """Run one job's calls; the first call is the graded function, the rest chain on it."""
    results = []
    mutated = []
    caught = []
    started = time.perf_counter()
    for call_number, call in enumerate(job["calls"]):
        function = getattr(module, call["function"])
        # Overflow, divide by zero and invalid values warn; underflow to 0 is correct arithmetic.
        with warnings.catch_warnings(record=True) as recorded, np.errstate(all="warn", under="ignore"):
            warnings.simplefilter("always")
            args = [_resolve(decode(a, np), results, module) for a in call["args"]]
            kwargs = {k: _resolve(decode(v, np), results, module) for k, v in call["kwargs"].items()}
            pristine_args = [_copy(a, np) for a in args]
            pristine_kwargs = {k: _copy(v, np) for k, v in kwargs.items()}
            result = function(*args, **kwargs)
        caught += [f"{w.category.__name__}: {w.message}" for w in recorded
                   if issubclass(w.category, RuntimeWarning)]
        for i, (before, after) in enumerate(zip(pristine_args, args)):
            if not _same(before, after, np):
                mutated.append(f"{call['function']} argument {i + 1}")
        for name in kwargs:
            if not _same(pristine_kwargs[name], kwargs[name], np):
                mutated.append(f"{call['function']} argument {name}")
        results.append(result)
    return {"ok": True, "value": encode(results[-1], np), "mutated": mutated,
            "warnings": caught[:5], "seconds": time.perf_counter() - started}


# The child exits with this code when its result pipe is gone: the learner's code closed it.
PIPE_CLOSED_EXIT = 86


def _load_isolation():
    """``isolation.py`` beside this file, loaded by its path (mlquiz is not importable here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_mlquiz_isolation", os.path.join(os.path.dirname(os.path.abspath(__file__)), "isolation.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve(argv):
    """The fork server (see the module docstring); never returns."""
    numpy_dir, control_fd, parent = argv[1:4]
    isolation = _load_isolation()
    parent_death = isolation.set_parent_death_signal(int(parent))
    isolation.make_undumpable()  # nothing the children run may read or trace it
    # Only the standard library and numpy: neither mlquiz nor its references are importable.
    sys.path.insert(0, numpy_dir)
    import select
    import signal
    import socket
    import types
    import warnings

    import numpy as np

    numpy_folders = [numpy_dir] + [os.path.realpath(os.path.join(numpy_dir, name)) for name in os.listdir(numpy_dir)]
    control = socket.socket(fileno=int(control_fd))
    wake_read, wake_write = os.pipe()  # SIGCHLD wakes the loop through it
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_write)

    def tell(message):
        try:
            control.sendall((json.dumps(message) + "\n").encode())
        except OSError:  # the grading process is gone
            os._exit(0)

    buffer, received = b"", []  # what was read of the request in flight, and its descriptors

    while True:
        ready = select.select([control, wake_read], [], [])[0]
        if wake_read in ready:
            os.read(wake_read, 4096)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                tell({"exited": pid, "status": status})
        if control in ready:
            data, fds, _, _ = socket.recv_fds(control, 1 << 16, 4)
            if not data:
                os._exit(0)
            buffer += data
            received += fds
            if b"\n" not in buffer:
                continue
            line, buffer = buffer.split(b"\n", 1)
            request, fds, received = json.loads(line), received, []
            pid = os.fork()
            if pid == 0:
                control.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_read)
                os.close(wake_write)
                _child(request, fds, isolation, parent_death, numpy_folders, np, types, warnings)
            for fd in fds:
                os.close(fd)
            try:
                os.setpgid(pid, pid)  # the child does it too: whichever runs first
            except OSError:
                pass
            tell({"pid": pid})


def _child(request, fds, isolation, parent_death, numpy_folders, np, types, warnings):
    """A forked child: its own process group, descriptors and folder, then ``main``; never
    returns to the server's loop. An exception that escapes is reported as an uncaught one
    would be, and sets the exit code."""
    code = 0
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        for fd, target in zip(fds, (0, 1, 2, RESULT_FD)):  # all above 2: the server's 0-2 are open
            os.dup2(fd, target)
        _close_all_above(RESULT_FD)
        os.chdir(request["scratch"])
        os.environ["TMPDIR"] = request["scratch"]
        main(request, isolation if request["confined"] else None, parent_death, numpy_folders,
             np, types, warnings)
    except SystemExit as exc:  # as the interpreter would exit with it
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: B036 (whatever the learner's code raised)
        traceback.print_exc()
        code = 1
    finally:
        _flush_output()
        os._exit(code)


def _flush_output(tell_what_was_lost=False):
    """Flush the learner's stdout and stderr; with ``tell_what_was_lost``, say on stderr (as a
    normal exit would) that a stream could not be flushed (its descriptor closed by the code)."""
    for name in ("stdout", "stderr"):
        try:
            getattr(sys, name).flush()
        except Exception as exc:
            if tell_what_was_lost:
                try:
                    os.write(2, f"Exception ignored while flushing sys.{name}: {type(exc).__name__}: {exc}\n".encode())
                except OSError:
                    pass


def _close_all_above(highest):
    """Close every descriptor above ``highest``: the server's socket and pipes, the other
    children's descriptors received since. Those open are listed where the system can
    (/proc/self/fd), since closing every possible number takes long under a high limit."""
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(highest + 1, os.sysconf("SC_OPEN_MAX"))
        return
    for fd in open_fds:
        if fd > highest:
            try:
                os.close(fd)
            except OSError:  # the listing's own descriptor, closed already
                pass


def main(request, isolation, parent_death, numpy_folders, np, types, warnings):
    """Confine this child (unless ``isolation`` is None: only to measure what it costs), then
    run the jobs read on stdin against the source read with them."""
    submission = request["submission"]
    out = os.fdopen(RESULT_FD, "w", buffering=1)

    def emit(event):
        _flush_output()  # so that what was printed is not lost if the process is killed
        try:
            out.write(json.dumps(event) + "\n")
            out.flush()
        except OSError:  # the learner's code closed the pipe (os.close, os.closerange)
            os._exit(PIPE_CLOSED_EXIT)

    needed_mb = _limit_resources(int(request["memory_mb"]), int(request["cpu_seconds"]))
    if needed_mb:
        emit({"event": "sandbox", "layers": {}, "memory_needed_mb": needed_mb})
        return
    layers = isolation.confine(submission, os.getcwd(), numpy_folders) if isolation else {}
    layers["parent_death_signal"] = parent_death if isolation else "bare"
    leaked = sorted(k for k in os.environ if k in ("MLQUIZ_DB", "HOME") or k.startswith("XDG_"))
    layers["minimal_environment"] = f"the environment holds {', '.join(leaked)}" if leaked else True
    emit({"event": "sandbox", "layers": layers})

    work = json.loads(sys.stdin.read())
    source, jobs = work["source"], work["jobs"]
    sys.stdin = open(os.devnull)

    # The source text the grading process read (and stores), compiled under the file's name.
    module = types.ModuleType("submission")
    module.__file__ = submission
    sys.modules["submission"] = module
    try:
        exec(compile(source, submission, "exec"), module.__dict__)
    except BaseException as exc:  # the learner's import may raise anything, SystemExit included
        emit({"event": "import_error", "error": _error(exc, submission)})
        return
    emit({"event": "imported",
          "functions": sorted(n for n in vars(module) if callable(getattr(module, n, None)))})
    current = None
    for index, job in enumerate(jobs):
        if job["function"] != current:
            current = job["function"]
            emit({"event": "start", "function": current})
        try:
            outcome = _run_job(module, job, np, warnings, submission)
        except BaseException as exc:  # KeyboardInterrupt and SystemExit from learner code too
            outcome = {"ok": False, "error": _error(exc, submission)}
        outcome.update(event="result", job=index)
        try:
            emit(outcome)
        except (TypeError, ValueError) as exc:
            emit({"event": "result", "job": index, "ok": False,
                  "error": {"type": type(exc).__name__, "message": f"cannot send the result: {exc}",
                            "traceback": ""}})
    _flush_output(tell_what_was_lost=True)
    emit({"event": "done"})


if __name__ == "__main__":
    serve(sys.argv)
