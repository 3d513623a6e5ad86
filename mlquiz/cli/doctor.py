"""``mlquiz doctor``: which layers of the sandbox hold on this machine."""

from __future__ import annotations

import json
import os
import sys

import click

from mlquiz.cli.common import json_option


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
    click.echo(f"The sandbox on this machine ({machine['system']} {machine['kernel']}, "
               f"{machine['architecture']}, Landlock ABI {machine['landlock_abi']}):")
    width = max(map(len, LAYERS))
    for name, meaning in LAYERS.items():
        if name in missing:
            click.echo(f"  {click.style('no ', fg='red', bold=True)}  {name:<{width}}  {missing[name]}")
        else:
            click.echo(f"  {click.style('yes', fg='green', bold=True)}  {name:<{width}}  {meaning}")
    if missing:
        click.echo(f"\n{len(missing)} of {len(LAYERS)} layers missing: grading works, "
                   "but `mlquiz grade --require-sandbox` refuses to grade here.")
        sys.exit(1)
    click.echo(f"\nAll {len(LAYERS)} layers hold.")
