"""``mlquiz doctor``: which layers of the sandbox hold on this machine."""

from __future__ import annotations

import json
import os
import sys

import click

from mlquiz.cli.common import json_option
from mlquiz.i18n import _, columns, pad


def doctor_commands():
    return [doctor]


@click.command()
@json_option
def doctor(as_json):
    """Check the sandbox that runs your code on this machine.

    Starts a real sandboxed process and lists each protection layer with whether it holds
    and, if not, why (an older kernel lacks some). Grading works either way;
    `mlquiz grade --require-sandbox` refuses to grade unless every layer holds. Exit code 0
    when every layer holds, 1 otherwise.

    \b
    Example:
      mlquiz doctor
    """
    from mlquiz.grading.isolation import LAYERS, landlock
    from mlquiz.grading.sandbox import SandboxUnavailable, missing_layers, probe

    try:
        layers = probe()
    except SandboxUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    missing = missing_layers(layers)
    uname = os.uname()
    machine = {"system": uname.sysname, "kernel": uname.release, "architecture": uname.machine,
               "landlock_abi": landlock.abi_version()}
    if as_json:
        click.echo(json.dumps({**machine, "layers": layers, "complete": not missing}, indent=2))
        sys.exit(1 if missing else 0)
    click.echo(_("The sandbox on this machine ({system} {kernel}, {architecture}, Landlock ABI "
                 "{abi}):").format(system=machine["system"], kernel=machine["kernel"],
                                   architecture=machine["architecture"],
                                   abi=machine["landlock_abi"]))
    names = max(map(len, LAYERS))
    no, yes = _("no"), _("yes")
    answer = max(columns(no), columns(yes))
    for name, meaning in LAYERS.items():
        if name in missing:
            word, colour, why = no, "red", missing[name]
        else:
            word, colour, why = yes, "green", meaning
        click.echo(f"  {click.style(pad(word, answer), fg=colour, bold=True)}  "
                   f"{name:<{names}}  {why}")
    if missing:
        click.echo("\n" + _("{missing} of {total} layers missing: grading works, but `{command}` "
                            "refuses to grade here.").format(
            missing=len(missing), total=len(LAYERS), command="mlquiz grade --require-sandbox"))
        sys.exit(1)
    click.echo("\n" + _("All {total} layers hold.").format(total=len(LAYERS)))
