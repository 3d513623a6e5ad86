"""The mlquiz command line: a thin click layer over the library.

Each area keeps its commands in its own module (``grade``, ``schedule``, ``cards``), and the
options and helpers they share in ``common``; this package only builds the group (and reads the
language: ``--lang`` or ``MLQUIZ_LANG``). Heavy modules (numpy, sympy, sqlite-utils) are
imported inside the commands that need them, so start-up stays lean.
"""

from __future__ import annotations

import functools
import importlib

import click

from mlquiz import __version__
from mlquiz.cli.common import lang_option

# Where each command is defined: its module of mlquiz.cli, and the function listing that
# module's commands. A command's module is imported only when the command runs (or help
# lists them all), so that ``mlquiz next`` loads the schedule's commands alone.
COMMAND_MODULES = {
    "grade": ("grade_commands", ("grade", "topics", "init", "solution")),
    "schedule": ("schedule_commands", ("next", "start", "history", "stats", "config", "hint",
                                       "attempts", "reset", "restore", "undo", "suspend",
                                       "unsuspend", "bury", "optimize")),
    "cards": ("card_commands", ("review", "cards", "card", "check", "export")),
    "watch": ("watch_commands", ("watch",)),
    "db": ("db_commands", ("db",)),
    "doctor": ("doctor_commands", ("doctor",)),
}
COMMANDS = {name: module for module, (_, names) in COMMAND_MODULES.items() for name in names}


class LazyGroup(click.Group):
    """The top-level group: commands are loaded from their module on first use."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        module_name = COMMANDS.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(f"mlquiz.cli.{module_name}")
        listing, _ = COMMAND_MODULES[module_name]
        return {command.name: command for command in getattr(module, listing)()}.get(name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlquiz")
@functools.partial(lang_option, default="en")
def main(lang):
    """Practise the mathematics of machine learning by implementing it.

    \b
    Start here:
      mlquiz init                      copy the exercise stubs to ~/mlquiz/exercises
      mlquiz next                      what to practise now
      mlquiz grade exercises/bn_backward.py
      mlquiz watch                     re-grade each exercise file as you save it
      mlquiz review                    the flashcards due now
      mlquiz topics                    the curriculum
      mlquiz --lang zh next            in Chinese (or MLQUIZ_LANG=zh)
    """
