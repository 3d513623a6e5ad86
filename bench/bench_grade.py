"""Time `mlquiz grade` against `python -c "import numpy"`, both measured in this run.

    python bench/bench_grade.py            # every exercise with its reference, and --all
    python bench/bench_grade.py --runs 9 bn_backward

Prints the median wall time of each command over several runs and the median ratio to the
baseline, each run of the command paired with a run of the baseline just before it (so that
the load of a shared machine weighs on both alike). Targets: one exercise at most 2.5x the
baseline; `grade --all` on the 12 references at most 8x.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlquiz.curriculum import data_dir, exercises

MLQUIZ = [sys.executable, "-m", "mlquiz"]


def median_seconds(command, runs, env=None):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def paired(command, runs):
    """(median seconds of ``command``, median of its ratio to the baseline run just before)."""
    times, ratios = [], []
    for _ in range(runs):
        base = median_seconds(BASELINE, 1)
        seconds = median_seconds(command, 1)
        times.append(seconds)
        ratios.append(seconds / base)
    return statistics.median(times), statistics.median(ratios)


BASELINE = [sys.executable, "-c", "import numpy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
