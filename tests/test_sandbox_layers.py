"""Which layers of the sandbox hold, as `mlquiz doctor` and `--json` reports say, and what
happens on a kernel that lacks one: grading goes on and says so; `--require-sandbox` refuses.

A kernel without Landlock (or without seccomp) is imitated for real: the command runs under a
seccomp filter that makes ``landlock_create_ruleset`` fail with ENOSYS (or ``prctl
(PR_SET_SECCOMP)`` with EINVAL), exactly what an old kernel answers.
"""

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import reference_source
from mlquiz.curriculum import data_dir
from mlquiz.grading import isolation
from mlquiz.grading.isolation import BPF_JEQ_K, BPF_LD_W_ABS, BPF_RET_K, LAYERS

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))
ARCH = isolation.ARCHITECTURES.get(os.uname().machine)
ENOSYS, EINVAL = 38, 22
ALLOW, ERRNO = isolation.SECCOMP_RET_ALLOW, isolation.SECCOMP_RET_ERRNO
PRCTL = {"x86_64": 157, "aarch64": 167}.get(os.uname().machine)

# Filters that take one feature away from every process of the command (BPF, see isolation.py).
WITHOUT = {
    "landlock": [(BPF_LD_W_ABS, 0, 0, 0), (BPF_JEQ_K, 0, 1, 444),
                 (BPF_RET_K, 0, 0, ERRNO | ENOSYS), (BPF_RET_K, 0, 0, ALLOW)],
    "seccomp": [(BPF_LD_W_ABS, 0, 0, 0), (BPF_JEQ_K, 0, 3, PRCTL), (BPF_LD_W_ABS, 0, 0, 16),
                (BPF_JEQ_K, 0, 1, isolation.PR_SET_SECCOMP), (BPF_RET_K, 0, 0, ERRNO | EINVAL),
                (BPF_RET_K, 0, 0, ALLOW)],
}
MISSING = {"landlock": {"landlock_filesystem", "landlock_network", "landlock_scoping"}, "seccomp": {"seccomp"}}


def landlock_abi() -> int:
    """The kernel's Landlock ABI, asked directly (an oracle independent of mlquiz's module)."""
    libc = ctypes.CDLL(None, use_errno=True)
    return max(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)), 0)


def mlquiz(*args, without=None, **kwargs):
    def take_away():
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(isolation.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
        isolation.install_seccomp(WITHOUT[without])

    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, timeout=120,
                          preexec_fn=take_away if without else None, **kwargs)


def test_doctor_reports_every_layer_as_the_kernel_allows():
    result = mlquiz("doctor", "--json")
    report = json.loads(result.stdout)
    assert set(report["layers"]) == set(LAYERS)
    abi = landlock_abi()
    assert report["landlock_abi"] == abi
    assert (report["layers"]["landlock_filesystem"] is True) == (abi >= 1)
    assert (report["layers"]["landlock_network"] is True) == (abi >= 4)
    assert (report["layers"]["landlock_scoping"] is True) == (abi >= 6)
    complete = all(v is True for v in report["layers"].values())
    assert report["complete"] == complete and result.returncode == (0 if complete else 1)
    text = mlquiz("doctor")
    assert text.returncode == result.returncode
    assert all(name in text.stdout for name in LAYERS)


def test_json_report_names_the_layers(tmp_path):
    result = mlquiz("grade", data_dir("reference") / "bn_backward.py", "--json", "--no-record")
    assert result.returncode == 0
    layers = json.loads(result.stdout)["sandbox"]
    assert set(layers) == set(LAYERS)
    assert layers == json.loads(mlquiz("doctor", "--json").stdout)["layers"]


@pytest.mark.skipif(ARCH is None or PRCTL is None, reason="seccomp numbers unknown on this architecture")
@pytest.mark.parametrize("without", ["landlock", "seccomp"])
def test_a_kernel_without_a_layer_grades_and_says_so(tmp_path, without):
    if without == "landlock" and landlock_abi() < 1:
        pytest.skip("this kernel has no Landlock to take away")
    result = mlquiz("grade", data_dir("reference") / "bn_backward.py", "--json", "--no-record", without=without)
    assert result.returncode == 0, result.stderr
    layers = json.loads(result.stdout)["sandbox"]
    assert {name for name, held in layers.items() if held is not True} == MISSING[without]
    assert all(isinstance(layers[name], str) and layers[name] for name in MISSING[without])
    doctor = mlquiz("doctor", without=without)
    assert doctor.returncode == 1
    assert all(f"no   {name}" in doctor.stdout for name in MISSING[without])


@pytest.mark.skipif(ARCH is None or PRCTL is None, reason="seccomp numbers unknown on this architecture")
@pytest.mark.parametrize("grade_all", [False, True])
def test_require_sandbox_refuses_before_any_learner_code_runs(tmp_path, grade_all):
    marker = Path("/dev/shm", f"mlquiz-required-{os.getpid()}-{grade_all}")
    folder = tmp_path / "exercises"
    folder.mkdir()
    path = folder / "bn_backward.py"
    path.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + reference_source("bn_backward"))
    db = Path(os.environ["MLQUIZ_DB"])
    args = ["grade", "--all", folder] if grade_all else ["grade", path]
    try:
        refused = mlquiz(*args, "--require-sandbox", without="landlock")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "--require-sandbox" in refused.stderr and "landlock_filesystem" in refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr
        assert not marker.exists(), "the learner's code ran"
        assert not db.exists(), "something was recorded"
        graded = mlquiz(*args, "--require-sandbox")  # every layer holds on this kernel
        if graded.returncode != 2:
            assert graded.returncode == 0 and marker.exists(), graded.stdout + graded.stderr
    finally:
        marker.unlink(missing_ok=True)


def test_a_process_with_several_threads_says_which_layers_it_could_not_apply(tmp_path):
    """Landlock, seccomp and capabilities hold for the calling thread only: with a second
    thread running (a BLAS library that ignores OPENBLAS_NUM_THREADS), they are reported
    missing rather than half applied."""
    code = textwrap.dedent(f"""\
        import importlib.util, json, threading, time
        spec = importlib.util.spec_from_file_location("isolation", {str(Path(isolation.__file__))!r})
        isolation = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(isolation)
        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
        layers = isolation.confine({str(tmp_path / "x.py")!r}, "/nonexistent")
        with open({str(tmp_path / "written")!r}, "w") as f:  # nothing was confined: allowed
            f.write("yes")
        print(json.dumps(layers))
        """)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    layers = json.loads(result.stdout)
    held = {name for name, value in layers.items() if value is True}
    assert held == {"no_new_privs", "resource_limits"}, layers
    assert "2 threads" in layers["landlock_filesystem"]
    assert (tmp_path / "written").read_text() == "yes"
