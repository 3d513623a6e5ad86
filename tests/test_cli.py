"""Every command of the real CLI, walked from the top-level group: documented, with an example
that runs the command itself, and every option explained."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mlquiz.cli import main


def all_commands(group=main, prefix=()):
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


def test_every_command_module_lists_what_the_group_declares():
    """The top-level group loads commands lazily from the table in mlquiz/cli/__init__.py: it
    must name every command of every module, and only those."""
    import importlib

    from mlquiz.cli import COMMAND_MODULES

    for module_name, (listing, names) in COMMAND_MODULES.items():
        module = importlib.import_module(f"mlquiz.cli.{module_name}")
        assert sorted(c.name for c in getattr(module, listing)()) == sorted(names), module_name


def test_the_walk_reaches_nested_commands():
    paths = [path for path, _ in all_commands()]
    assert ("config", "set") in paths and ("export", "anki") in paths and ("grade",) in paths


@pytest.mark.parametrize("path, command", list(all_commands()),
                         ids=[" ".join(path) for path, _ in all_commands()])
def test_every_command_is_documented_with_an_example(path, command):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    text = command.help or ""
    assert text.split("\n\n")[0].strip(), f"`mlquiz {' '.join(path)}` has no description"
    assert "Example" in text, f"`mlquiz {' '.join(path)}` has no example"
    examples = text[text.index("Example"):]
    assert f"mlquiz {' '.join(path)}" in examples, f"no example runs `mlquiz {' '.join(path)}`"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, f"`mlquiz {' '.join(path)}`: option {param.name} has no help"
