"""tools/check_seeds.py grades trusted files on fresh seeds, in this process (the child's own
job runner) or in the sandbox: correct files pass every seed, a wrong one is reported."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import reference_source

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_seeds.py"
pytestmark = pytest.mark.skipif(not TOOL.is_file(), reason="tools/ is not beside the tests")


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("mode", [[], ["--sandbox"]])
def test_the_reference_and_the_other_correct_file_pass_every_seed(mode):
    result = run_tool("--seeds", "3", *mode, "taylor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("3/3 seeds pass") == 2  # reference/taylor.py and correct/taylor.py


def test_a_wrong_file_is_reported_with_its_seed(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("check_seeds", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    correct = tmp_path / "correct"
    correct.mkdir()
    wrong = reference_source("bn_backward").replace("(dout * x_hat).sum(axis=0)", "2 * (dout * x_hat).sum(axis=0)", 1)
    (correct / "bn_backward.py").write_text(wrong)
    monkeypatch.setattr(tool, "CORRECT", correct)
    monkeypatch.setattr(sys, "argv", ["check_seeds", "--seeds", "2", "bn_backward"])
    with pytest.raises(SystemExit) as exit_code:
        tool.main()
    assert exit_code.value.code == 1
    out = capsys.readouterr().out
    assert "2/2 seeds pass" in out and "0/2 seeds pass" in out and "batchnorm_backward" in out
