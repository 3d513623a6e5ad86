"""Time ``mlquiz next``, ``mlquiz stats`` and ``mlquiz optimize`` on a large schedule.

Builds a database with 10,000 items and 200,000 reviews (the FSRS states computed by
``fsrs``, as ``record_review`` would, but inserted in bulk), then runs ``next`` and ``stats``
as separate processes, each run paired with a run of the baseline ``python -c "import
sqlite3"`` so that both share the machine's load, and prints medians and ratios. Targets:
``next`` within 4x the baseline (median of 7 paired runs, also on a new database),
``stats`` within 10x, ``optimize`` (one run: it writes the fitted parameters) under 30 s.
Exit code 1 if one is missed. ``python -c "import click"`` is timed too, for reference: no
click command starts faster.

    python bench/bench_next.py [--runs 7] [--keep DIR]
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
REVIEWS_PER_ITEM = 20  # 200,000 reviews


def build_large(path: Path, seed: int = 1) -> None:
    from fsrs import Card, Rating, Scheduler

    from mlquiz import clock
    from mlquiz.schedule.items import open_schedule  # items synced first: they stay active

    rng = random.Random(seed)
    scheduler = Scheduler(desired_retention=0.9)
    now = clock.now()
    with open_schedule(path) as store:
        start = store.value("SELECT count(*) FROM items")
        items, reviews = [], []
        for n in range(ITEMS):
            item_id = f"card:bench-{n:05d}"
            moment = now - timedelta(days=400)
            card = Card(card_id=n, due=moment)
            history = []
            for _ in range(REVIEWS_PER_ITEM):
                state_before = int(card.state) if card.last_review else 0
                rating = rng.choices([1, 2, 3, 4], weights=[10, 15, 65, 10])[0]
                card, _ = scheduler.review_card(card, Rating(rating), review_datetime=moment)
                history.append((rating, moment, state_before, card))
                gap = (card.due - moment) * rng.uniform(0.8, 1.6)
                moment = moment + min(max(gap, timedelta(minutes=1)), timedelta(days=90))
            # shift the history (FSRS depends on time differences only) so that the item falls
            # due between 30 days ago and 60 days ahead: a backlog, as after a break
            shift = now + timedelta(days=rng.uniform(-30, 60)) - card.due
            shift = min(shift, now - history[-1][1])  # every review in the past
            if history[0][1] + shift < now - timedelta(days=5 * 365):  # a very long interval
                shift = now - timedelta(days=rng.uniform(0, 30)) - history[-1][1]
            for rating, moment, state_before, state in history:
                reviews.append((item_id, rating, clock.format_time(moment + shift), "flashcard",
                                rng.uniform(2, 60), 0.9, 0, state_before, int(state.state),
                                state.step, state.stability, state.difficulty,
                                clock.format_time(state.due + shift)))
            items.append((item_id, "card", f"bench-{n:05d}", None, start + n, int(card.state),
                          card.step, card.stability, card.difficulty,
                          clock.format_time(card.due + shift),
                          clock.format_time(card.last_review + shift), REVIEWS_PER_ITEM,
                          reviews[-REVIEWS_PER_ITEM][2]))
        with store.write():
            store.conn.execute("INSERT INTO schedulers (config) VALUES (?)",
                               (scheduler.to_json(),))
            scheduler_id = store.value("SELECT max(id) FROM schedulers")
            store.conn.executemany(
                "INSERT INTO items (id, kind, ref, topic, position, state, step, stability, "
                "difficulty, due, last_review, reps, introduced) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
            store.conn.executemany(
                "INSERT INTO reviews (item_id, rating, reviewed_at, source, duration_seconds, "
                "retention, hints, state_before, state, step, stability, difficulty, due, "
                f"scheduler_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {scheduler_id})",
                reviews)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = [store.value(f"SELECT count(*) FROM {table}") for table in ("items", "reviews")]
    print(f"built {path}: {counts[0]:,} items, {counts[1]:,} reviews")


def mlquiz_command() -> list[str]:
    script = Path(sys.executable).with_name("mlquiz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlquiz"]


def installed_environment(*unset: str) -> dict:
    """This process's environment for a command run as installed (bytecode written and
    reused: no PYTHONDONTWRITEBYTECODE), without the variables ``unset``."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", *unset)}


def verdict(failures: list[str], met: str = "targets met") -> int:
    """Print whether the targets were met (``met``) or which were missed; the exit code."""
    print("\n" + (met if not failures else "MISSED: " + "; ".join(failures)))
    return 1 if failures else 0


def timed(command, env) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - started


def setup(doc: str, runs: int):
    """The options (``--runs``, ``--keep DIR``), the folder for the databases and the
    environment of the commands (as installed: .pyc files cached, no clock or database set)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--keep", type=Path, help="build the databases in DIR and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="mlquiz-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = installed_environment("MLQUIZ_NOW", "MLQUIZ_DB")
    return args, folder, env


def main() -> int:
    args, folder, env = setup(__doc__, runs=7)
    large, new = folder / "large.db", folder / "new.db"
    for path in (large, new):
        for stale in folder.glob(path.name + "*"):
            stale.unlink()
    baseline_command = [sys.executable, "-c", "import sqlite3"]
    try:
        started = time.perf_counter()
        build_large(large)
        print(f"  (in {time.perf_counter() - started:.1f} s)")
        mlquiz = mlquiz_command()
        commands = {
            'python -c "import click" (no target: the floor)': (
                [sys.executable, "-c", "import click"], None),
            "mlquiz next, new database": ([*mlquiz, "next", "--db", new], 4),
            f"mlquiz next, {ITEMS:,} items / {ITEMS * REVIEWS_PER_ITEM:,} reviews":
                ([*mlquiz, "next", "--db", large], 4),
            "mlquiz stats, the large database": ([*mlquiz, "stats", "--db", large], 10),
        }
        for command, _ in commands.values():  # warm-up: caches, .pyc files, shown_at
            timed(command, env)
        timed(baseline_command, env)
        ratios = {name: [] for name in commands}
        times = {name: [] for name in commands}
        baselines = []
        for _ in range(args.runs):
            for name, (command, _) in commands.items():
                baseline = timed(baseline_command, env)  # paired: the same moment's load
                elapsed = timed(command, env)
                baselines.append(baseline)
                times[name].append(elapsed)
                ratios[name].append(elapsed / baseline)
        started = time.perf_counter()
        timed([*mlquiz, "optimize", "--db", large], env)
        optimize_seconds = time.perf_counter() - started
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"\nmedians of {args.runs} paired runs, each a new process ({' '.join(map(str, mlquiz))}):")
    label = 'python -c "import sqlite3" (the baseline)'
    print(f"  {label:50} {statistics.median(baselines) * 1000:7.1f} ms")
    failures = []
    for name, (_, target) in commands.items():
        ratio = statistics.median(ratios[name])
        aim = f"(target {target}x)" if target else ""
        print(f"  {name:50} {statistics.median(times[name]) * 1000:7.1f} ms  {ratio:5.2f}x {aim}")
        if target and ratio > target:
            failures.append(f"{name}: {ratio:.2f}x > {target}x")
    print(f"  {'mlquiz optimize, the large database (one run)':50} {optimize_seconds:7.1f} s "
          "(target 30 s)")
    if optimize_seconds >= 30:
        failures.append(f"optimize: {optimize_seconds:.1f} s >= 30 s")
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
