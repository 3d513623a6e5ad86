"""Time ``mlquiz history`` on 200,000 reviews, and measure its peak memory.

Builds a database of 200,000 reviews (``bench_next.build_large``), then runs
``mlquiz history`` (text and ``--json``) as separate processes, interleaved with
``python -c "import sqlite3"`` so that all share the machine's load, and prints the median
time to the last line, the peak resident memory (``getrusage`` of the child) and the CPU time.
Targets: under 1 s to the last line and under 50 MB. Exit code 1 if one is missed.

    python bench/bench_history.py [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_next  # noqa: E402


def measure(command, env) -> tuple[float, float, float, int]:
    """(seconds to the last byte of output, peak memory in MB, CPU seconds, bytes printed)."""
    code = ("import resource, subprocess, sys, time\n"
            "start = time.perf_counter()\n"
            "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)\n"
            "size = sum(len(chunk) for chunk in iter(lambda: p.stdout.read(1 << 16), b''))\n"
            "last = time.perf_counter() - start\n"
            "assert p.wait() == 0\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(last, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime, size)\n")
    out = subprocess.run([sys.executable, "-c", code, *map(str, command)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]), int(out[3])


def interleaved(commands: dict, env: dict, runs: int, measure) -> dict:
    """``measure(command, env)`` of every command ``runs`` times, taking turns so that all
    share the machine's load alike, after one warm-up run each (caches, .pyc files)."""
    for command in commands.values():
        measure(command, env)
    results = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            results[name].append(measure(command, env))
    return results


def main() -> int:
    args, folder, env = bench_next.setup(__doc__, runs=5)
    path = folder / "history.db"
    try:
        if not path.exists():
            bench_next.build_large(path)
        mlquiz = bench_next.mlquiz_command()
        commands = {
            'python -c "import sqlite3"': [sys.executable, "-c", "import sqlite3"],
            "mlquiz history": [*mlquiz, "history", "--db", path],
            "mlquiz history --json": [*mlquiz, "history", "--json", "--db", path],
        }
        results = interleaved(commands, env, args.runs, measure)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    baseline = statistics.median(r[0] for r in results['python -c "import sqlite3"'])
    print(f"\nmedians of {args.runs} runs on 200,000 reviews:")
    failures = []
    for name, runs in results.items():
        seconds, memory, cpu, size = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"  {name:28} {seconds * 1000:7.0f} ms to the last line ({seconds / baseline:5.1f}x)"
              f"  {memory:5.1f} MB peak  {cpu:5.2f} s CPU  {size / 1e6:5.1f} MB printed")
        if name.startswith("mlquiz"):
            if seconds >= 1.0:
                failures.append(f"{name}: {seconds:.2f} s >= 1 s")
            if memory >= 50:
                failures.append(f"{name}: {memory:.0f} MB >= 50 MB")
    return bench_next.verdict(failures, "targets met: under 1 s and 50 MB")


if __name__ == "__main__":
    sys.exit(main())
