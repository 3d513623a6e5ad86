"""The ``mlquiz`` command and ``python -m mlquiz``.

A command line that begins with a grading command (``mlquiz grade ...``, ``mlquiz watch``)
starts the fork server first (``mlquiz.grading.server``: numpy loading in a process of its
own), before click and the rest of mlquiz are imported, so that it is ready sooner. Any other
way of grading starts it when the first file is graded.

Every command then leaves through :func:`leave`: tearing the interpreter down module by module
takes about 10 ms once numpy, click and the grader are loaded, for nothing a command needs.
"""

import sys

GRADING_COMMANDS = ("grade", "watch")


def run():
    arguments = sys.argv[1:]
    if arguments[:1] and arguments[0] in GRADING_COMMANDS and not {"--help", "-h"} & set(arguments):
        from mlquiz.grading.server import fork_server

        fork_server()
    from mlquiz.cli import main

    try:
        main()
    except SystemExit as exc:  # click ends every command with one
        leave(exc.code)
    leave(0)


def leave(code):
    """Exit with ``code`` (as ``sys.exit`` reads it) after doing, in its order, what the
    interpreter's own exit does that matters: threads told to stop and joined (CPython's
    ``threading._shutdown``), atexit functions run (the fork server stopped, temporary folders
    removed), standard streams flushed; without unloading every module. Every command has
    closed its database by then."""
    import atexit
    import os
    import threading

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`mlquiz next | head -1`) or stream
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
