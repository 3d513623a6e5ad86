"""Time `mlquiz grade` against `python -c "import numpy"`, both measured in this run.

    python bench/bench_grade.py            # every exercise with its reference, and --all
    python bench/bench_grade.py --runs 9 bn_backward
    python bench/bench_grade.py --layers 30   # only the sandbox layers' cost, 30 pairs

Prints the median wall time of each command over several runs and the median ratio to the
baseline, each run of the command paired with a run of the baseline just before it (so that
the load of a shared machine weighs on both alike). Targets: one exercise at most 2.5x the
baseline; `grade --all` on the 12 references at most 8x.

The sandbox layers (Landlock, seccomp, ...: ``mlquiz/grading/isolation.py``) are measured by
paired runs in this process: ``grade_file`` on bn_backward with the child confined and bare
(``sandbox.CONFINED``), in alternating order; the median of the paired differences is their
cost per grade. Target: at most 20 ms.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlquiz.curriculum import data_dir, exercises

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_next  # noqa: E402

MLQUIZ = [sys.executable, "-m", "mlquiz"]
# As installed: .pyc files written and reused (a first run of each command warms them up).
ENV = bench_next.installed_environment()


def median_seconds(command, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def paired(command, runs):
    """(median seconds of ``command``, median of its ratio to the baseline run just before),
    after one run to warm up."""
    median_seconds(command, 1)
    times, ratios = [], []
    for _ in range(runs):
        base = median_seconds(BASELINE, 1)
        seconds = median_seconds(command, 1)
        times.append(seconds)
        ratios.append(seconds / base)
    return statistics.median(times), statistics.median(ratios)


BASELINE = [sys.executable, "-c", "import numpy"]


def layer_cost(pairs):
    """Median seconds of a confined grade, of a bare one, and of their paired difference."""
    from mlquiz.grading import sandbox
    from mlquiz.grading.engine import grade_file

    path = data_dir("reference") / "bn_backward.py"
    grade_file(path)  # this process imports numpy, the judge and the references once
    times = {True: [], False: []}
    try:
        for pair in range(pairs):
            for confined in (True, False) if pair % 2 else (False, True):
                sandbox.CONFINED = confined
                started = time.perf_counter()
                assert grade_file(path).passed
                times[confined].append(time.perf_counter() - started)
    finally:
        sandbox.CONFINED = True
    differences = [a - b for a, b in zip(times[True], times[False])]
    return statistics.median(times[True]), statistics.median(times[False]), statistics.median(differences)


def print_layer_cost(pairs, baseline):
    confined, bare, difference = layer_cost(pairs)
    print(f"grade bn_backward in-process, child confined  {confined * 1000:7.1f} ms  {confined / baseline:5.2f}x")
    print(f"grade bn_backward in-process, child bare      {bare * 1000:7.1f} ms  {bare / baseline:5.2f}x")
    print(f"sandbox layers: median paired difference {difference * 1000:+.1f} ms per grade "
          f"over {pairs} pairs  (target at most +20 ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--layers", type=int, metavar="PAIRS", help="only measure the sandbox layers' cost")
    args = parser.parse_args()
    if args.layers:
        baseline = median_seconds(BASELINE, args.runs)
        print(f"baseline  python -c 'import numpy'  {baseline * 1000:7.1f} ms")
        print_layer_cost(args.layers, baseline)
        return
    chosen = [ex for ex in exercises() if not args.exercises or ex.id in args.exercises]

    baseline = median_seconds(BASELINE, args.runs)
    print(f"baseline  python -c 'import numpy'  {baseline * 1000:7.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        # bn_backward.py filled with a correct solution: a learner's working copy
        work = Path(tmp, "bn_backward.py")
        work.write_text((data_dir("reference") / "bn_backward.py").read_text())
        seconds, ratio = paired([*MLQUIZ, "grade", str(work), "--no-record"], args.runs)
        print(f"grade exercises/bn_backward.py (correct)  {seconds * 1000:7.1f} ms  "
              f"{ratio:5.2f}x  (target 2.5x)")
        for ex in chosen:
            path = data_dir("reference") / ex.file
            seconds, ratio = paired([*MLQUIZ, "grade", str(path), "--no-record"], args.runs)
            print(f"grade {ex.id:<20} {seconds * 1000:7.1f} ms  {ratio:5.2f}x  (target 2.5x)")
        if not args.exercises:
            seconds, ratio = paired([*MLQUIZ, "grade", "--all", str(data_dir("reference")), "--no-record"],
                                    args.runs)
            print(f"grade --all references  {seconds * 1000:7.1f} ms  {ratio:5.2f}x  (target 8x)")
    print_layer_cost(max(30, args.runs * 4), baseline)


if __name__ == "__main__":
    main()
