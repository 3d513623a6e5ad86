"""What the database checks cost: the header check and ``PRAGMA quick_check`` /
``integrity_check`` on 200,000 reviews, and ``mlquiz next`` on a large and a small database
against ``python -c "import sqlite3"``.

Every open reads the 100-byte header; a file up to ``FULL_CHECK_MAX_BYTES`` is checked with
``integrity_check`` and one up to ``QUICK_CHECK_MAX_BYTES`` with ``quick_check``; larger ones
fully once a day, before the daily backup. This prints what each costs, so the thresholds can
be judged, and the ratio of ``mlquiz next`` to the baseline (target: at most 4x).

    python bench/bench_integrity.py [--runs 11] [--keep DIR]
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_next  # noqa: E402
from bench_history import interleaved  # noqa: E402

from mlquiz.schedule import store as store_module  # noqa: E402


def best_of(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    args, folder, env = bench_next.setup(__doc__, runs=11)
    large, small = folder / "large.db", folder / "small.db"
    try:
        if not large.exists():
            bench_next.build_large(large)
        subprocess.run([*bench_next.mlquiz_command(), "hint", "gbdt", "--db", small], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        size = large.stat().st_size
        conn = sqlite3.connect(large)
        costs = {
            "header check (read 100 bytes)": best_of(lambda: store_module._examine(large), args.runs),
            "PRAGMA quick_check": best_of(
                lambda: conn.execute("PRAGMA quick_check").fetchall(), 3),
            "PRAGMA integrity_check": best_of(
                lambda: conn.execute("PRAGMA integrity_check").fetchall(), 3),
        }
        conn.close()
        print(f"\n{large.name}: {size / 1e6:.1f} MB, 200,000 reviews")
        for name, seconds in costs.items():
            print(f"  {name:32} {seconds * 1000:8.2f} ms  ({seconds / (size / 1e6) * 1000:.3f} ms/MB)")
        print(f"  on every open: integrity_check up to {store_module.FULL_CHECK_MAX_BYTES / 1e6:.1f} MB, "
              f"quick_check up to {store_module.QUICK_CHECK_MAX_BYTES / 1e6:.1f} MB")

        mlquiz = bench_next.mlquiz_command()
        commands = {
            'python -c "import sqlite3"': [sys.executable, "-c", "import sqlite3"],
            "mlquiz next, small database (checked fully)": [*mlquiz, "next", "--db", small],
            "mlquiz next, 200,000 reviews (header only)": [*mlquiz, "next", "--db", large],
        }
        times = interleaved(commands, env, args.runs, bench_next.timed)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians['python -c "import sqlite3"']
    print(f"\nmedians of {args.runs} runs, each a new process:")
    for name, value in medians.items():
        print(f"  {name:46} {value * 1000:7.1f} ms  {value / baseline:5.2f}x")
    worst = max(list(medians.values())[1:]) / baseline
    print("\n" + (f"target met: next <= 4x baseline ({worst:.2f}x)" if worst <= 4
                  else f"MISSED: next {worst:.2f}x > 4x baseline"))
    return 0 if worst <= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
