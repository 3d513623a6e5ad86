"""Grade the references and other correct implementations on many fresh seeds: all must pass.

    python tools/check_seeds.py                 # 300 seeds, every reference and tools/correct/
    python tools/check_seeds.py --seeds 50 gbdt

The correct implementations in tools/correct/ are written deliberately differently from the
references (loops, full Jacobians, FISTA, second-order SMO, recursive trees, Horner's rule,
lists returned): a case that fails one of them tests the reference's way of computing, not the
curriculum. Seeds are drawn fresh each run and printed with any failure. Run on demand.

These files are trusted, so by default their functions run in this process with the child's
own code (``_run_job``: the same warnings, in-place and JSON checks) instead of a fresh sandbox
per seed, which makes 300 seeds take minutes instead of an hour; ``--sandbox`` grades each
seed exactly as ``mlquiz grade`` does.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mlquiz.curriculum import exercises
from mlquiz.grading import _child, judge
from mlquiz.grading.engine import MAX_SEED, grade_file
from mlquiz.grading.report import Report
from mlquiz.grading.sandbox import SandboxRun

CORRECT = Path(__file__).with_name("correct")


class InProcess:
    """A stand-in for the sandbox for trusted files: each job runs in this process through the
    child's own ``_run_job`` and its result crosses JSON, as it would cross the pipe."""

    def __init__(self, path):
        self.path = str(path)
        self.module = {"__name__": "submission", "__file__": self.path}
        exec(compile(Path(path).read_text(encoding="utf-8"), self.path, "exec"), self.module)

    def run(self, source, jobs, timeout, meanwhile=None):
        if meanwhile:
            meanwhile()
        module = type(sys)("submission")
        module.__dict__.update(self.module)
        run = SandboxRun(functions_defined=[n for n, v in self.module.items() if callable(v)])
        for index, job in enumerate(jobs):
            try:
                outcome = _child._run_job(module, job, np, warnings, self.path)
            except BaseException as exc:  # noqa: BLE001 - reported like the child reports it
                outcome = {"ok": False, "error": _child._error(exc, self.path), "seconds": 0.0}
            outcome.setdefault("seconds", 0.0)
            run.results[index] = json.loads(json.dumps(outcome))
        return run


def grade_in_process(path, exercise, seed) -> Report:
    report = Report(exercise.id, exercise.title_en, str(path), seed)
    report.source = Path(path).read_text(encoding="utf-8")
    judge.grade_in_sandbox(InProcess(path), exercise, seed, exercise.timeout, report)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sandbox", action="store_true", help="grade each seed in the sandbox")
    args = parser.parse_args()
    chosen = [ex for ex in exercises() if not args.exercises or ex.id in args.exercises]
    files = [(ex, path) for ex in chosen for path in (ex.reference_path, CORRECT / ex.file) if path.is_file()]
    failures = 0
    for exercise, path in files:
        seeds = [secrets.randbelow(MAX_SEED + 1) for _ in range(args.seeds)]

        if args.sandbox:
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                reports = list(pool.map(lambda seed: grade_file(path, exercise=exercise.id, seed=seed), seeds))
        else:
            reports = [grade_in_process(path, exercise, seed) for seed in seeds]
        failed = [(seed, r) for seed, r in zip(seeds, reports) if not r.passed]
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
