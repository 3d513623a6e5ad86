"""tools/make_stub.py writes every stub from its reference: run on the checkout it changes
nothing, and a reference whose interface changed makes ``--check`` fail."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_stub.py"
pytestmark = pytest.mark.skipif(not TOOL.is_file(), reason="tools/ is not beside the tests")


def load_tool():
    spec = importlib.util.spec_from_file_location("make_stub", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_stub_is_what_the_tool_writes_from_its_reference():
    result = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_changed_reference_signature_is_reported(tmp_path, monkeypatch):
    tool = load_tool()
    for folder in ("reference", "exercises"):
        shutil.copytree(tool.ROOT / folder, tmp_path / folder)
    reference = tmp_path / "reference" / "taylor.py"
    text = reference.read_text()
    first_def = text.index("\ndef ") + 1
    name_end = text.index("(", first_def)
    reference.write_text(text[:name_end] + "(extra_argument, " + text[name_end + 1:])
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.main(["--check"]) == 1
    assert tool.main(["taylor"]) == 0  # rewriting the stub from the reference
    assert "extra_argument" in (tmp_path / "exercises" / "taylor.py").read_text()
    assert tool.main(["--check"]) == 0
