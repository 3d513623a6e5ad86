"""Grade the references and other correct implementations on many fresh seeds: all must pass.

    python tools/check_seeds.py                 # 300 seeds, every reference and tools/correct/
    python tools/check_seeds.py --seeds 50 gbdt

The correct implementations in tools/correct/ are written deliberately differently from the
references (loops, full Jacobians, FISTA, second-order SMO, recursive trees, Horner's rule,
lists returned): a case that fails one of them tests the reference's way of computing, not the
curriculum. Seeds are drawn fresh each run and printed with any failure. Run on demand.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlquiz.curriculum import exercises
from mlquiz.grading.engine import MAX_SEED, grade_file

CORRECT = Path(__file__).with_name("correct")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    chosen = [ex for ex in exercises() if not args.exercises or ex.id in args.exercises]
    files = [(ex, path) for ex in chosen for path in (ex.reference_path, CORRECT / ex.file) if path.is_file()]
    failures = 0
    for exercise, path in files:
        seeds = [secrets.randbelow(MAX_SEED + 1) for _ in range(args.seeds)]

        def grade(seed, exercise=exercise, path=path):
            return seed, grade_file(path, exercise=exercise.id, seed=seed)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            failed = [(seed, r) for seed, r in pool.map(grade, seeds) if not r.passed]
        failures += len(failed)
        print(f"{exercise.id:<20} {str(path.relative_to(path.parents[1])):<40} "
              f"{len(seeds) - len(failed)}/{len(seeds)} seeds pass", flush=True)
        for seed, report in failed[:3]:
            for f in report.functions:
                if f.verdict != "pass":
                    print(f"    seed {seed}: {f.name}: {f.explanation.splitlines()[0] if f.explanation else report.file_problem}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
