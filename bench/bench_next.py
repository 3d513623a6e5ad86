"""Time ``mlquiz next`` and ``mlquiz stats`` against ``python -c "import sqlite3"``.

Builds a database with 10,000 items and 100,000 reviews (the FSRS states computed by
``fsrs``, as ``record_review`` would, but inserted in bulk), then runs every command as a
separate process, interleaved with the baseline so that all share the machine's load, and
prints medians and ratios. Targets (issue 4): ``next`` at most 5x the baseline on the large
and on a new database; ``stats`` on the large one under 1 s. Exit code 1 if one is missed.

    python bench/bench_next.py [--runs 15] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ITEMS = 10_000
REVIEWS_PER_ITEM = 10  # 100,000 reviews


def build_large(path: Path, seed: int = 1) -> None:
    from fsrs import Card, Rating, Scheduler

    from mlquiz import clock
    from mlquiz.schedule.store import open_store

    rng = random.Random(seed)
    scheduler = Scheduler(desired_retention=0.9, enable_fuzzing=False)
    now = clock.now()
    with open_store(path) as store:
        start = store.value("SELECT count(*) FROM items")
        items, reviews = [], []
        for n in range(ITEMS):
            item_id = f"card:bench-{n:05d}"
            moment = now - timedelta(days=rng.uniform(30, 400))
            card = Card(card_id=n, due=moment)
            for _ in range(REVIEWS_PER_ITEM):
                state_before = int(card.state) if card.last_review else 0
                rating = rng.choices([1, 2, 3, 4], weights=[10, 15, 65, 10])[0]
                card, _ = scheduler.review_card(card, Rating(rating), review_datetime=moment)
                reviews.append((item_id, rating, clock.format_time(moment), "flashcard",
                                rng.uniform(2, 60), 0.9, 0, state_before, int(card.state),
                                card.step, card.stability, card.difficulty,
                                clock.format_time(card.due)))
                gap = (card.due - moment) * rng.uniform(0.8, 1.6)
                moment = min(moment + max(gap, timedelta(minutes=1)), now)
            items.append((item_id, "card", f"bench-{n:05d}", None, start + n, int(card.state),
                          card.step, card.stability, card.difficulty, clock.format_time(card.due),
                          clock.format_time(card.last_review), REVIEWS_PER_ITEM,
                          reviews[-REVIEWS_PER_ITEM][2]))
        with store.write():
            store.conn.executemany(
                "INSERT INTO items (id, kind, ref, topic, position, state, step, stability, "
                "difficulty, due, last_review, reps, introduced) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
            store.conn.executemany(
                "INSERT INTO reviews (item_id, rating, reviewed_at, source, duration_seconds, "
                "retention, hints, state_before, state, step, stability, difficulty, due) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", reviews)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = [store.value(f"SELECT count(*) FROM {table}") for table in ("items", "reviews")]
    print(f"built {path}: {counts[0]:,} items, {counts[1]:,} reviews")


def mlquiz_command() -> list[str]:
    script = Path(sys.executable).with_name("mlquiz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlquiz"]


def timed(command, env) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="build the databases in DIR and keep them")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="mlquiz-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    # as installed: .pyc files cached, no clock or database from the environment
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLQUIZ_NOW", "MLQUIZ_DB", "PYTHONDONTWRITEBYTECODE")}
    large, new = folder / "large.db", folder / "new.db"
    for path in (large, new):
        for stale in folder.glob(path.name + "*"):
            stale.unlink()
    try:
        started = time.perf_counter()
        build_large(large)
        print(f"  (in {time.perf_counter() - started:.1f} s)")
        mlquiz = mlquiz_command()
        first_use = []
        for n in range(5):
            first_use.append(timed([*mlquiz, "next", "--db", folder / f"first{n}.db"], env))
        commands = {
            'python -c "import sqlite3"': [sys.executable, "-c", "import sqlite3"],
            "mlquiz next, new database": [*mlquiz, "next", "--db", new],
            f"mlquiz next, {ITEMS:,} items / {ITEMS * REVIEWS_PER_ITEM:,} reviews":
                [*mlquiz, "next", "--db", large],
            "mlquiz stats, the large database": [*mlquiz, "stats", "--db", large],
        }
        for command in commands.values():  # warm-up: caches, .pyc files, shown_at
            timed(command, env)
        times = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(timed(command, env))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians['python -c "import sqlite3"']
    print(f"\nmedians of {args.runs} runs, each a new process ({' '.join(map(str, mlquiz))}):")
    for name, value in medians.items():
        print(f"  {name:48} {value * 1000:7.1f} ms  {value / baseline:5.2f}x")
    print(f"  {'(first use: creating the database, 5 runs)':48} "
          f"{statistics.median(first_use) * 1000:7.1f} ms  "
          f"{statistics.median(first_use) / baseline:5.2f}x")
    names = list(medians)
    failures = [f"{name}: {medians[name] / baseline:.2f}x > 5x" for name in names[1:3]
                if medians[name] > 5 * baseline]
    if medians[names[3]] >= 1.0:
        failures.append(f"stats: {medians[names[3]]:.2f} s >= 1 s")
    print("\n" + ("targets met: next <= 5x baseline, stats < 1 s" if not failures
                  else "MISSED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
