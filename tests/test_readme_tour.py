"""The README works as written: its first command and its tour, parsed from README.md itself,
run in a fresh shell (bash) with a temporary HOME, through the real CLI; the test fails when
any command fails.

The first command's `python3 -m venv .venv && .venv/bin/pip install .` is stood in for by this
test's own environment linked as `.venv` (an install needs the network and minutes); set
MLQUIZ_TEST_INSTALL=1 to run it as written in a copy of the checkout. Everything after it runs
verbatim. `$EDITOR` is a script that writes the reference into the file it is given (the
learner implementing the exercise); `mlquiz watch` gets `q` on its input."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mlquiz.curriculum import data_dir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
INSTALL = ("python3 -m venv .venv", ".venv/bin/pip install .")


def sh_blocks(text: str) -> list:
    """(heading, block) for every ```sh block, with the heading it sits under."""
    blocks, heading = [], ""
    for match in re.finditer(r"^(#+ [^\n]*)$|^```sh\n(.*?)^```", text, re.M | re.S):
        if match.group(1):
            heading = match.group(1)
        else:
            blocks.append((heading, match.group(2)))
    return blocks


def readme_commands():
    """(first command, tour lines) as the README prints them."""
    blocks = sh_blocks(README.read_text(encoding="utf-8"))
    first = blocks[0][1].strip()
    tour = next(block for heading, block in blocks if heading.startswith("## A tour"))
    return first, [line for line in tour.splitlines() if line.strip()]


def run_tour(tmp_path, first: str, tour: list) -> subprocess.CompletedProcess:
    """Run the first command and the tour lines in one bash (``set -e``: the first failing
    command stops it and is named on stderr) in a fresh clone folder with HOME in tmp_path."""
    parts = [part.strip() for part in first.split("&&")]
    home, clone = tmp_path / "home", tmp_path / "clone"
    home.mkdir()
    if os.environ.get("MLQUIZ_TEST_INSTALL") == "1":
        shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info"))
        setup = first
    else:
        assert parts[:2] == list(INSTALL), "the README's first command changed: update this test"
        clone.mkdir()
        _link_environment(clone / ".venv")
        setup = " && ".join(parts[2:])
    editor = tmp_path / "editor"
    editor.write_text(f'#!/bin/sh\ncp "{data_dir("reference")}/$(basename "$1")" "$1"\n')
    editor.chmod(0o755)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MLQUIZ_", "XDG_", "VIRTUAL_ENV", "PYTHON"))}
    # A fresh shell: no mlquiz on the PATH until the tour puts it there.
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not Path(p, "mlquiz").exists()]
    env.update(HOME=str(home), EDITOR=str(editor), PATH=os.pathsep.join(path))
    script = "\n".join(["set -e", "trap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR", setup,
                        *[f'echo "+ {_quoted(line)}"\n{line}' for line in tour]])
    return subprocess.run(["bash", "-c", script], cwd=clone, env=env, input="q\n",
                          capture_output=True, text=True, timeout=900)


def test_the_readme_first_command_and_tour_run_as_written(tmp_path):
    first, tour = readme_commands()
    assert len(tour) >= 8 and "mlquiz next" in first.split("&&")[-1]
    result = run_tour(tmp_path, first, tour)
    shown = result.stdout + result.stderr
    assert result.returncode == 0, shown
    assert "FAILED" not in result.stderr and "Traceback" not in shown, shown
    for line in tour:  # every command of the tour ran
        assert f"+ {line}" in result.stdout
    home, clone = tmp_path / "home", tmp_path / "clone"
    database = home / ".local" / "share" / "mlquiz" / "mlquiz.db"
    assert database.is_file(), "the default database is in the user data folder"
    assert (home / "mlquiz" / "exercises" / "bn_backward.py").is_file()
    in_clone = clone / "exercises" / "bn_backward.py"  # the checkout's tracked stub, if copied
    assert not in_clone.exists() or in_clone.read_text() == (ROOT / "exercises" / "bn_backward.py").read_text()


def test_a_tour_without_activating_the_environment_fails_and_names_the_command(tmp_path):
    """The tour as it once was (mlquiz run without activating the environment) fails."""
    first, tour = readme_commands()
    broken = [line for line in tour if "activate" not in line]
    result = run_tour(tmp_path, first, broken)
    assert result.returncode != 0
    assert f"FAILED: {broken[0].split('#')[0].strip()}" in result.stderr


def _link_environment(venv: Path) -> None:
    """`.venv` as the environment running these tests (its bin/activate and bin/mlquiz)."""
    prefix = Path(sys.prefix)
    if (prefix / "bin" / "activate").is_file():
        venv.symlink_to(prefix, target_is_directory=True)
        return
    bin_dir = venv / "bin"  # no virtual environment here: an activate script of the same effect
    bin_dir.mkdir(parents=True)
    (bin_dir / "mlquiz").symlink_to(Path(sys.executable).with_name("mlquiz"))
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')


def _quoted(line: str) -> str:
    return line.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
