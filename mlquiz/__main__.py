"""The ``mlquiz`` command and ``python -m mlquiz``.

A command line that begins with a grading command (``mlquiz grade ...``, ``mlquiz watch``)
starts the fork server first (``mlquiz.grading.server``: numpy loading in a process of its
own), before click and the rest of mlquiz are imported, so that it is ready sooner. Any other
way of grading starts it when the first file is graded.
"""

import sys

GRADING_COMMANDS = ("grade", "watch")


def run():
    arguments = sys.argv[1:]
    if arguments[:1] and arguments[0] in GRADING_COMMANDS and not {"--help", "-h"} & set(arguments):
        from mlquiz.grading.server import fork_server

        fork_server()
    from mlquiz.cli import main

    main()


if __name__ == "__main__":
    run()
