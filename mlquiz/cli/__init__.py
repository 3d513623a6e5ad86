"""The mlquiz command line: a thin click layer over the library.

Each area keeps its commands in its own module (``grade``, ``schedule``, ``cards``), and the
options and helpers they share in ``common``; this package only builds the group (and reads the
language: ``--lang`` or ``MLQUIZ_LANG``). Heavy modules (numpy, sympy, sqlite-utils) are
imported inside the commands that need them, so start-up stays lean.
"""

from __future__ import annotations

import functools

import click

from mlquiz import __version__
from mlquiz.cli.cards import card_commands
from mlquiz.cli.common import lang_option
from mlquiz.cli.db import db_commands
from mlquiz.cli.doctor import doctor_commands
from mlquiz.cli.grade import grade_commands
from mlquiz.cli.schedule import schedule_commands
from mlquiz.cli.watch import watch_commands

COMMAND_MODULES = [grade_commands, schedule_commands, card_commands, watch_commands,
                   db_commands, doctor_commands]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def _register():
    for commands in COMMAND_MODULES:
        for command in commands():
            main.add_command(command)


_register()
